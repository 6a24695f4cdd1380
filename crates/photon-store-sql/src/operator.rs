//! `OperatorStore` on SQLite and PostgreSQL: what the operator manages: base-image and agent
//! releases, rehearsed faults and quotas.

use super::*;

#[async_trait]
impl OperatorStore for SqlStore {
    async fn add_fault(&self, f: &FaultRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO faults (id, operation, stage, error_code, message, image, remaining, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&f.id)
        .bind(&f.operation)
        .bind(&f.stage)
        .bind(&f.error_code)
        .bind(&f.message)
        .bind(&f.image)
        .bind(f.remaining)
        .bind(f.created_at)
        .execute(self.w()?)
        .await
        .map_err(map_insert_error)?;
        Ok(())
    }

    async fn faults(&self) -> StoreResult<Vec<FaultRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {FAULT_COLS} FROM faults ORDER BY created_at, id"
        ))
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter().map(fault_from_row).collect()
    }

    async fn clear_faults(&self) -> StoreResult<u64> {
        let res = sqlx::query("DELETE FROM faults")
            .execute(self.w()?)
            .await
            .map_err(backend)?;
        Ok(res.rows_affected())
    }

    async fn seed_releases(
        &self,
        base: &[BaseRelease],
        agents: &[AgentRelease],
    ) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let mut added = 0;
        for r in base {
            added += insert_release(&mut tx, r, " ON CONFLICT DO NOTHING").await?;
        }
        for a in agents {
            added += insert_agent(&mut tx, a, " ON CONFLICT DO NOTHING").await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(added)
    }

    async fn publish_base_release(
        &self,
        release: &BaseRelease,
        images: &[ImageRecord],
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_release(&mut tx, release, "").await?;
        for image in images {
            insert_image(&mut tx, image, false).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn publish_agent(&self, agent: &AgentRelease) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_agent(&mut tx, agent, "").await?;
        tx.commit().await.map_err(backend)
    }

    async fn base_releases(&self) -> StoreResult<Vec<BaseRelease>> {
        let rows = sqlx::query(
            "SELECT platform, image_name, released, agent_version, os_patch_level, \
             driver_versions, content_layer, created_at FROM base_image_releases \
             ORDER BY released, platform, image_name",
        )
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let drivers: String = r.try_get("driver_versions").map_err(backend)?;
                Ok(BaseRelease {
                    platform: r.try_get("platform").map_err(backend)?,
                    image_name: r.try_get("image_name").map_err(backend)?,
                    released: r.try_get("released").map_err(backend)?,
                    agent_version: r.try_get("agent_version").map_err(backend)?,
                    os_patch_level: r.try_get("os_patch_level").map_err(backend)?,
                    driver_versions: serde_json::from_str(&drivers).map_err(backend)?,
                    content_layer: r.try_get("content_layer").map_err(backend)?,
                    created_at: r.try_get("created_at").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn agent_releases(&self) -> StoreResult<Vec<AgentRelease>> {
        let rows = sqlx::query(
            "SELECT version, released, notes, created_at FROM agent_versions \
             ORDER BY released, version",
        )
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(AgentRelease {
                    version: r.try_get("version").map_err(backend)?,
                    released: r.try_get("released").map_err(backend)?,
                    notes: r.try_get("notes").map_err(backend)?,
                    created_at: r.try_get("created_at").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn public_regions(&self) -> StoreResult<Vec<String>> {
        let rows =
            sqlx::query("SELECT DISTINCT region FROM images WHERE owner = '' ORDER BY region")
                .fetch_all(&self.read)
                .await
                .map_err(backend)?;
        rows.iter()
            .map(|r| r.try_get("region").map_err(backend))
            .collect()
    }

    async fn quota(&self, account_id: &str, region: &str, name: &str) -> StoreResult<Option<i64>> {
        // A value for the region wins over the account-wide one (region '').
        let row = sqlx::query(
            "SELECT value FROM quotas WHERE account_id = $1 AND name = $3 AND (region = $2 OR region = '') \
             ORDER BY region DESC LIMIT 1",
        )
        .bind(account_id)
        .bind(region)
        .bind(name)
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        row.map(|r| r.try_get("value").map_err(backend)).transpose()
    }

    async fn set_quotas(&self, quotas: &[QuotaRecord]) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for q in quotas {
            sqlx::query(
                "INSERT INTO quotas (account_id, region, name, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (account_id, region, name) DO UPDATE SET value = excluded.value",
            )
            .bind(&q.account_id)
            .bind(&q.region)
            .bind(&q.name)
            .bind(q.value)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn list_quotas(&self, account_id: Option<&str>) -> StoreResult<Vec<QuotaRecord>> {
        let rows = sqlx::query(
            "SELECT account_id, region, name, value FROM quotas \
             WHERE ($1 = '' OR account_id = $1) ORDER BY account_id, region, name",
        )
        .bind(account_id.unwrap_or(""))
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(QuotaRecord {
                    account_id: r.try_get("account_id").map_err(backend)?,
                    region: r.try_get("region").map_err(backend)?,
                    name: r.try_get("name").map_err(backend)?,
                    value: r.try_get("value").map_err(backend)?,
                })
            })
            .collect()
    }
}
