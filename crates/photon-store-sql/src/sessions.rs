//! `SessionStore` on SQLite and PostgreSQL: streaming sessions.

use super::*;

#[async_trait]
impl SessionStore for SqlStore {
    async fn sessions(
        &self,
        region: &str,
        owner: &str,
        fleet: &str,
    ) -> StoreResult<Vec<SessionRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE region = $1 AND owner = $2 AND fleet = $3 \
             ORDER BY started_at, id"
        ))
        .bind(region)
        .bind(owner)
        .bind(fleet)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn session(
        &self,
        region: &str,
        owner: &str,
        id: &str,
    ) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE region = $1 AND owner = $2 AND id = $3"
        ))
        .bind(region)
        .bind(owner)
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch_session(
        &self,
        region: &str,
        owner: &str,
        id: &str,
        now: Millis,
        input: bool,
    ) -> StoreResult<bool> {
        let res = sqlx::query(
            "UPDATE sessions SET last_seen = $4, \
             last_input = CASE WHEN $5 = 1 THEN $4 ELSE last_input END \
             WHERE region = $1 AND owner = $2 AND id = $3",
        )
        .bind(region)
        .bind(owner)
        .bind(id)
        .bind(now)
        .bind(i64::from(input))
        .execute(self.w()?)
        .await
        .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn end_session(&self, region: &str, owner: &str, id: &str) -> StoreResult<bool> {
        let res = sqlx::query("DELETE FROM sessions WHERE region = $1 AND owner = $2 AND id = $3")
            .bind(region)
            .bind(owner)
            .bind(id)
            .execute(self.w()?)
            .await
            .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }
}
