//! `TagStore` on SQLite and PostgreSQL: tags, keyed by resource ARN.

use super::*;

#[async_trait]
impl TagStore for SqlStore {
    async fn tags(&self, arn: &str) -> StoreResult<BTreeMap<String, String>> {
        let rows = sqlx::query("SELECT tag_key, tag_value FROM tags WHERE resource_arn = $1")
            .bind(arn)
            .fetch_all(&self.read)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("tag_key").map_err(backend)?,
                    r.try_get("tag_value").map_err(backend)?,
                ))
            })
            .collect()
    }

    async fn put_tags(
        &self,
        resource: &ResourceKey,
        arn: &str,
        tags: &BTreeMap<String, String>,
        max_tags: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        // Serialises taggers and deleters of one resource so the checks below hold.
        self.lock(&mut tx, arn).await?;
        if !resource_exists(&mut tx, resource).await? {
            return Err(StoreError::NotFound);
        }
        let existing: Vec<String> = sqlx::query("SELECT tag_key FROM tags WHERE resource_arn = $1")
            .bind(arn)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| r.try_get("tag_key"))
            .collect::<Result<_, _>>()
            .map_err(backend)?;
        let new_keys = tags.keys().filter(|k| !existing.contains(k)).count() as i64;
        // Tags whose keys start with aws: are the system's and do not count (tagging-basic.md).
        let counted = existing.iter().filter(|k| !k.starts_with("aws:")).count() as i64;
        if counted + new_keys > max_tags {
            return Err(StoreError::LimitReached(max_tags));
        }
        for (k, v) in tags {
            sqlx::query(
                "INSERT INTO tags (resource_arn, tag_key, tag_value) VALUES ($1, $2, $3) \
                 ON CONFLICT (resource_arn, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            )
            .bind(arn)
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn remove_tags(
        &self,
        resource: &ResourceKey,
        arn: &str,
        keys: &[String],
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        self.lock(&mut tx, arn).await?;
        if !resource_exists(&mut tx, resource).await? {
            return Err(StoreError::NotFound);
        }
        for k in keys {
            sqlx::query("DELETE FROM tags WHERE resource_arn = $1 AND tag_key = $2")
                .bind(arn)
                .bind(k)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}
