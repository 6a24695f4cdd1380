//! `WriteTx` on SQLite and PostgreSQL: one sqlx transaction (IMMEDIATE on SQLite) with the
//! engine's locks, reading and writing records with the same SQL and row mapping as the
//! single-call methods of `SqlStore`.

use crate::{
    backend, fault_from_row, image_by_key, insert_job, one_builder, one_fleet, Engine, FAULT_COLS,
};
use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::Row;

/// One share row: image (region, owner, name) and the account it is shared with.
const SHARE_KEY: &str =
    "WHERE region = $1 AND owner = $2 AND image_name = $3 AND shared_account = $4";

use photon_store::{
    image_sort_key, BuilderFile, BuilderRecord, FaultRecord, FleetRecord, ImageRecord, ImageRow,
    ImageUsage, JobRecord, Key, LockKey, LockOrder, Millis, ResourceKind, SessionRecord,
    StackRecord, StoreResult, WriteTx,
};
use photon_types::ImageState;

pub(crate) struct SqlWriteTx {
    pub(crate) tx: sqlx::Transaction<'static, sqlx::Any>,
    pub(crate) engine: Engine,
    pub(crate) order: LockOrder,
}

#[async_trait]
impl WriteTx for SqlWriteTx {
    async fn lock(&mut self, key: LockKey) -> StoreResult<()> {
        self.order.take(&key);
        if self.engine == Engine::Postgres {
            sqlx::query("SELECT 1 AS one FROM (SELECT pg_advisory_xact_lock(hashtext($1))) l")
                .bind(key.name())
                .execute(&mut *self.tx)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    async fn image(&mut self, key: Key<'_>) -> StoreResult<Option<ImageRecord>> {
        Ok(self.image_row(key).await?.map(|r| r.image))
    }

    async fn image_row(&mut self, key: Key<'_>) -> StoreResult<Option<ImageRow>> {
        crate::one_image(
            &mut *self.tx,
            image_by_key(),
            [key.region, key.owner, key.name],
        )
        .await
    }

    async fn image_usage(&mut self, key: Key<'_>) -> StoreResult<ImageUsage> {
        crate::usage_in(&mut self.tx, key.region, key.owner, key.name).await
    }

    async fn delete_image(&mut self, key: Key<'_>) -> StoreResult<bool> {
        // Shares first: they name the image.
        sqlx::query(
            "DELETE FROM image_shares WHERE region = $1 AND owner = $2 AND image_name = $3",
        )
        .bind(key.region)
        .bind(key.owner)
        .bind(key.name)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        delete_with_tags(&mut self.tx, ResourceKind::Image, key).await
    }

    async fn count_images(&mut self, region: &str, owner: &str) -> StoreResult<i64> {
        crate::count_owned(&mut self.tx, ResourceKind::Image, region, owner).await
    }

    async fn count_images_in_state(
        &mut self,
        region: &str,
        owner: &str,
        state: ImageState,
    ) -> StoreResult<i64> {
        crate::count(
            &mut *self.tx,
            "SELECT COUNT(*) AS n FROM images WHERE region = $1 AND owner = $2 AND state = $3",
            &[region, owner, state.as_str()],
        )
        .await
    }

    async fn insert_image(&mut self, image: &ImageRecord) -> StoreResult<()> {
        crate::insert_image(&mut self.tx, image, false)
            .await
            .map(drop)
    }

    async fn put_image(&mut self, i: &ImageRecord) -> StoreResult<()> {
        let attrs = serde_json::to_string(&i.attrs).map_err(backend)?;
        sqlx::query(
            "UPDATE images SET state = $4, attrs = $5 WHERE region = $1 AND owner = $2 AND name = $3",
        )
        .bind(&i.region)
        .bind(&i.owner)
        .bind(&i.name)
        .bind(i.state.as_str())
        .bind(attrs)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn image_share(
        &mut self,
        Key {
            region,
            owner,
            name,
        }: Key<'_>,
        account: &str,
    ) -> StoreResult<Option<(bool, bool)>> {
        let row = sqlx::query(&format!(
            "SELECT allow_fleet, allow_image_builder FROM image_shares {SHARE_KEY}"
        ))
        .bind(region)
        .bind(owner)
        .bind(name)
        .bind(account)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(backend)?;
        row.map(|r| {
            let fleet: i64 = r.try_get("allow_fleet").map_err(backend)?;
            let builder: i64 = r.try_get("allow_image_builder").map_err(backend)?;
            Ok((fleet != 0, builder != 0))
        })
        .transpose()
    }

    async fn put_image_share(
        &mut self,
        key: Key<'_>,
        account: &str,
        permissions: Option<(bool, bool)>,
        now: Millis,
    ) -> StoreResult<()> {
        let Key {
            region,
            owner,
            name,
        } = key;
        let existing = self.image_share(key, account).await?.is_some();
        let sql = match (permissions, existing) {
            (None, _) => format!("DELETE FROM image_shares {SHARE_KEY}"),
            (Some(_), true) => format!(
                "UPDATE image_shares SET allow_fleet = $5, allow_image_builder = $6 {SHARE_KEY}"
            ),
            (Some(_), false) => "INSERT INTO image_shares (region, owner, image_name, \
                                 shared_account, allow_fleet, allow_image_builder, sort_key, \
                                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                .to_owned(),
        };
        let q = sqlx::query(&sql);
        let mut q = q.bind(region).bind(owner).bind(name).bind(account);
        if let Some((fleet, builder)) = permissions {
            q = q.bind(i64::from(fleet)).bind(i64::from(builder));
            if !existing {
                let arn = ResourceKind::Image.arn(region, owner, name);
                q = q.bind(image_sort_key(name, &arn)).bind(now);
            }
        }
        q.execute(&mut *self.tx).await.map_err(backend)?;
        Ok(())
    }

    async fn count_image_shares(
        &mut self,
        Key {
            region,
            owner,
            name,
        }: Key<'_>,
    ) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM image_shares \
             WHERE region = $1 AND owner = $2 AND image_name = $3",
        )
        .bind(region)
        .bind(owner)
        .bind(name)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(backend)?;
        row.try_get("n").map_err(backend)
    }

    async fn image_builder(&mut self, key: Key<'_>) -> StoreResult<Option<BuilderRecord>> {
        one_builder(&mut *self.tx, [key.region, key.owner, key.name]).await
    }

    async fn put_image_builder(&mut self, b: &BuilderRecord) -> StoreResult<()> {
        let attrs = serde_json::to_string(&b.attrs).map_err(backend)?;
        sqlx::query(
            "UPDATE image_builders SET state = $4, attrs = $5 \
             WHERE region = $1 AND owner = $2 AND name = $3",
        )
        .bind(&b.region)
        .bind(&b.owner)
        .bind(&b.name)
        .bind(b.state.as_str())
        .bind(attrs)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn put_builder_file(
        &mut self,
        key: Key<'_>,
        file: &BuilderFile,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO builder_files (region, owner, builder, path, digest, size, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (region, owner, builder, path) \
             DO UPDATE SET digest = excluded.digest, size = excluded.size, \
             updated_at = excluded.updated_at",
        )
        .bind(key.region)
        .bind(key.owner)
        .bind(key.name)
        .bind(&file.path)
        .bind(&file.digest)
        .bind(file.size)
        .bind(now)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn delete_image_builder(
        &mut self,
        Key {
            region,
            owner,
            name,
        }: Key<'_>,
    ) -> StoreResult<bool> {
        let key = Key::new(region, owner, name);
        if !delete_with_tags(&mut self.tx, ResourceKind::ImageBuilder, key).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM builder_files WHERE region = $1 AND owner = $2 AND builder = $3")
            .bind(region)
            .bind(owner)
            .bind(name)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        Ok(true)
    }

    async fn stack(&mut self, key: Key<'_>) -> StoreResult<Option<StackRecord>> {
        crate::one_stack(&mut *self.tx, [key.region, key.owner, key.name]).await
    }

    async fn put_stack(&mut self, st: &StackRecord) -> StoreResult<()> {
        let attrs = serde_json::to_string(&st.attrs).map_err(backend)?;
        sqlx::query("UPDATE stacks SET attrs = $4 WHERE region = $1 AND owner = $2 AND name = $3")
            .bind(&st.region)
            .bind(&st.owner)
            .bind(&st.name)
            .bind(attrs)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn stack_fleets(&mut self, key: Key<'_>) -> StoreResult<Vec<String>> {
        crate::stacks::associated(&mut *self.tx, crate::stacks::Of::Stack, key).await
    }

    async fn insert_stack_fleet(
        &mut self,
        Key {
            region,
            owner,
            name: stack,
        }: Key<'_>,
        fleet: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO stack_fleets (region, owner, stack, fleet) VALUES ($1, $2, $3, $4)",
        )
        .bind(region)
        .bind(owner)
        .bind(stack)
        .bind(fleet)
        .execute(&mut *self.tx)
        .await
        .map_err(crate::map_insert_error)?;
        Ok(())
    }

    async fn delete_stack_fleet(&mut self, key: Key<'_>, fleet: &str) -> StoreResult<bool> {
        let res = sqlx::query(
            "DELETE FROM stack_fleets WHERE region = $1 AND owner = $2 AND stack = $3 AND fleet = $4",
        )
        .bind(key.region)
        .bind(key.owner)
        .bind(key.name)
        .bind(fleet)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn delete_stack(
        &mut self,
        Key {
            region,
            owner,
            name,
        }: Key<'_>,
    ) -> StoreResult<bool> {
        let key = Key::new(region, owner, name);
        if !delete_with_tags(&mut self.tx, ResourceKind::Stack, key).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM stack_fleets WHERE region = $1 AND owner = $2 AND stack = $3")
            .bind(region)
            .bind(owner)
            .bind(name)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        Ok(true)
    }

    async fn fleet(&mut self, key: Key<'_>) -> StoreResult<Option<FleetRecord>> {
        one_fleet(&mut *self.tx, [key.region, key.owner, key.name]).await
    }

    async fn fleets_on_image(
        &mut self,
        region: &str,
        owner: &str,
        image_arn: &str,
    ) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT name FROM fleets WHERE region = $1 AND owner = $2 AND image_arn = $3 \
             ORDER BY name",
        )
        .bind(region)
        .bind(owner)
        .bind(image_arn)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| r.try_get("name").map_err(backend))
            .collect()
    }

    async fn put_fleet(&mut self, f: &FleetRecord) -> StoreResult<()> {
        crate::write_fleet(&mut self.tx, f).await
    }

    async fn fleet_stacks(&mut self, key: Key<'_>) -> StoreResult<Vec<String>> {
        crate::stacks::associated(&mut *self.tx, crate::stacks::Of::Fleet, key).await
    }

    async fn delete_fleet(&mut self, key: Key<'_>) -> StoreResult<bool> {
        delete_with_tags(&mut self.tx, ResourceKind::Fleet, key).await
    }

    async fn count_fleets(&mut self, region: &str, owner: &str) -> StoreResult<i64> {
        crate::count_owned(&mut self.tx, ResourceKind::Fleet, region, owner).await
    }

    async fn insert_fleet(&mut self, f: &FleetRecord) -> StoreResult<()> {
        crate::insert_fleet(&mut self.tx, f).await
    }

    async fn count_image_builders(&mut self, region: &str, owner: &str) -> StoreResult<i64> {
        crate::count_owned(&mut self.tx, ResourceKind::ImageBuilder, region, owner).await
    }

    async fn insert_image_builder(&mut self, b: &BuilderRecord) -> StoreResult<()> {
        crate::insert_builder(&mut self.tx, b).await
    }

    async fn count_stacks(&mut self, region: &str, owner: &str) -> StoreResult<i64> {
        crate::count_owned(&mut self.tx, ResourceKind::Stack, region, owner).await
    }

    async fn insert_stack(&mut self, st: &StackRecord) -> StoreResult<()> {
        crate::insert_stack(&mut self.tx, st).await
    }

    async fn insert_tags(&mut self, arn: &str, tags: &BTreeMap<String, String>) -> StoreResult<()> {
        crate::insert_tags(&mut self.tx, arn, tags).await
    }

    async fn use_streaming_url(&mut self, id: &str, at: Millis) -> StoreResult<bool> {
        // ON CONFLICT keeps the transaction usable on PostgreSQL, where a failed statement
        // would abort it.
        let res = sqlx::query(
            "INSERT INTO used_streaming_urls (id, used_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn count_fleet_sessions(
        &mut self,
        Key {
            region,
            owner,
            name: fleet,
        }: Key<'_>,
    ) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM sessions WHERE region = $1 AND owner = $2 AND fleet = $3",
        )
        .bind(region)
        .bind(owner)
        .bind(fleet)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(backend)?;
        row.try_get("n").map_err(backend)
    }

    async fn insert_session(&mut self, ss: &SessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, region, owner, stack, fleet, user_id, instance_id, image_arn, \
             started_at, expires_at, last_seen, last_input) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&ss.id)
        .bind(&ss.region)
        .bind(&ss.owner)
        .bind(&ss.stack)
        .bind(&ss.fleet)
        .bind(&ss.user_id)
        .bind(&ss.instance_id)
        .bind(&ss.image_arn)
        .bind(ss.started_at)
        .bind(ss.expires_at)
        .bind(ss.last_seen)
        .bind(ss.last_input)
        .execute(&mut *self.tx)
        .await
        .map_err(crate::map_insert_error)?;
        Ok(())
    }

    async fn delete_fleet_sessions(
        &mut self,
        Key {
            region,
            owner,
            name: fleet,
        }: Key<'_>,
    ) -> StoreResult<u64> {
        let res =
            sqlx::query("DELETE FROM sessions WHERE region = $1 AND owner = $2 AND fleet = $3")
                .bind(region)
                .bind(owner)
                .bind(fleet)
                .execute(&mut *self.tx)
                .await
                .map_err(backend)?;
        Ok(res.rows_affected())
    }

    async fn take_fault(
        &mut self,
        operation: &str,
        stage: &str,
        image: &str,
    ) -> StoreResult<Option<FaultRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {FAULT_COLS} FROM faults WHERE operation = $1 AND stage = $2 \
             AND (image = '' OR image = $3) AND remaining > 0 ORDER BY created_at, id LIMIT 1"
        ))
        .bind(operation)
        .bind(stage)
        .bind(image)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let fault = fault_from_row(&row)?;
        let sql = if fault.remaining <= 1 {
            "DELETE FROM faults WHERE id = $1"
        } else {
            "UPDATE faults SET remaining = remaining - 1 WHERE id = $1"
        };
        sqlx::query(sql)
            .bind(&fault.id)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        Ok(Some(fault))
    }

    async fn enqueue(&mut self, job: &JobRecord) -> StoreResult<()> {
        insert_job(&mut self.tx, job).await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(backend)
    }
}

/// Deletes the row of a per-account resource and its tags; `false` if there was no row.
async fn delete_with_tags(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    kind: ResourceKind,
    key: Key<'_>,
) -> StoreResult<bool> {
    let table = crate::table_of(kind)?;
    let res = sqlx::query(&format!(
        "DELETE FROM {table} WHERE region = $1 AND owner = $2 AND name = $3"
    ))
    .bind(key.region)
    .bind(key.owner)
    .bind(key.name)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    if res.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM tags WHERE resource_arn = $1")
        .bind(kind.arn(key.region, key.owner, key.name))
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(true)
}
