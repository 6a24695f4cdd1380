//! `FleetStore` on SQLite and PostgreSQL: the reads and single-row moves of fleets (they are
//! created and changed through `WriteTx`).

use super::*;

#[async_trait]
impl FleetStore for SqlStore {
    async fn fleet(
        &self,
        region: &str,
        owner: &str,
        name: &str,
    ) -> StoreResult<Option<FleetRecord>> {
        one_fleet(&self.read, [region, owner, name]).await
    }

    async fn list_fleets(
        &self,
        region: &str,
        owner: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, FleetRecord)>> {
        list_page(
            &self.read,
            ("fleets", FLEET_COLS),
            (region, owner),
            after,
            limit,
            fleet_from_row,
        )
        .await
    }

    async fn remove_fleet(
        &self,
        Key {
            region,
            owner,
            name,
        }: Key<'_>,
        state: FleetState,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let arn = ResourceKind::Fleet.arn(region, owner, name);
        self.lock(&mut tx, &arn).await?;
        let res = sqlx::query(
            "DELETE FROM fleets WHERE region = $1 AND owner = $2 AND name = $3 AND state = $4",
        )
        .bind(region)
        .bind(owner)
        .bind(name)
        .bind(state.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if res.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM tags WHERE resource_arn = $1")
            .bind(&arn)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }
}
