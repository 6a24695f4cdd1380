//! `BuilderStore` on SQLite and PostgreSQL: image builders, their files and settings, and the
//! images made from them.

use super::*;

#[async_trait]
impl BuilderStore for SqlStore {
    async fn image_builder(&self, key: Key<'_>) -> StoreResult<Option<BuilderRecord>> {
        one_builder(&self.read, [key.region, key.owner, key.name]).await
    }

    async fn list_image_builders(
        &self,
        region: &str,
        owner: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, BuilderRecord)>> {
        list_page(
            &self.read,
            ("image_builders", BUILDER_COLS),
            (region, owner),
            after,
            limit,
            builder_from_row,
        )
        .await
    }

    async fn builder_files(
        &self,
        Key {
            region,
            owner,
            name,
        }: Key<'_>,
    ) -> StoreResult<Vec<BuilderFile>> {
        let rows = sqlx::query(
            "SELECT path, digest, size FROM builder_files \
             WHERE region = $1 AND owner = $2 AND builder = $3",
        )
        .bind(region)
        .bind(owner)
        .bind(name)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(BuilderFile {
                    path: r.try_get("path").map_err(backend)?,
                    digest: r.try_get("digest").map_err(backend)?,
                    size: r.try_get("size").map_err(backend)?,
                })
            })
            .collect()
    }
}
