//! `JobStore` on SQLite and PostgreSQL: the durable engine's job queue: leases, heartbeats and
//! outcomes.

use super::*;

#[async_trait]
impl JobStore for SqlStore {
    async fn enqueue_job(&self, job: &JobRecord) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_job(&mut tx, job).await?;
        tx.commit().await.map_err(backend)
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        now: Millis,
        lease_ms: Millis,
        limit: u32,
    ) -> StoreResult<Vec<JobRecord>> {
        // PostgreSQL: SKIP LOCKED lets several engines claim side by side without waiting on
        // each other's rows. SQLite: the IMMEDIATE transaction already makes claims one at a
        // time.
        let lock = match self.engine {
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $3) \
             OR (state = 'running' AND lease_until < $3) ORDER BY run_at LIMIT $4{lock}) \
             RETURNING {JOB_COLS}"
        );
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(&sql)
            .bind(worker)
            .bind(now.saturating_add(lease_ms))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let mut jobs = rows
            .iter()
            .map(job_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        jobs.sort_by_key(|j| j.run_at);
        Ok(jobs)
    }

    async fn heartbeat_job(
        &self,
        id: &str,
        worker: &str,
        lease_until: Millis,
    ) -> StoreResult<bool> {
        let res = sqlx::query(
            "UPDATE jobs SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(lease_until)
        .execute(self.w()?)
        .await
        .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn finish_job(
        &self,
        id: &str,
        worker: &str,
        outcome: &JobOutcome,
        now: Millis,
    ) -> StoreResult<bool> {
        let (state, run_at, error, reset) = match outcome {
            JobOutcome::Done => (JobState::Done, None, None, 0i64),
            JobOutcome::Continue { run_at } => (JobState::Queued, Some(*run_at), None, 1),
            JobOutcome::Retry { run_at, error } => {
                (JobState::Queued, Some(*run_at), Some(error), 0)
            }
            JobOutcome::Failed { error } => (JobState::Failed, None, Some(error), 0),
        };
        let res = sqlx::query(
            "UPDATE jobs SET state = $3, run_at = COALESCE($4, run_at), \
             last_error = COALESCE($5, last_error), lease_owner = NULL, lease_until = NULL, \
             updated_at = $6, attempts = CASE WHEN $7 = 1 THEN 0 ELSE attempts END \
             WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(state.as_str())
        .bind(run_at)
        .bind(error)
        .bind(now)
        .bind(reset)
        .execute(self.w()?)
        .await
        .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn job(&self, id: &str) -> StoreResult<Option<JobRecord>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn job_queue(&self, now: Millis) -> StoreResult<QueueStats> {
        let due = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(run_at) AS oldest FROM jobs \
             WHERE state = 'queued' AND run_at <= $1",
        )
        .bind(now)
        .fetch_one(&self.read)
        .await
        .map_err(backend)?;
        let running = count(
            &self.read,
            "SELECT COUNT(*) AS n FROM jobs WHERE state = 'running'",
            &[],
        )
        .await?;
        Ok(QueueStats {
            due: due.try_get("n").map_err(backend)?,
            oldest_due_at: due.try_get("oldest").map_err(backend)?,
            running,
        })
    }
}
