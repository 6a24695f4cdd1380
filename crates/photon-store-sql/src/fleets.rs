//! `FleetStore` on SQLite and PostgreSQL: the reads and single-row moves of fleets (they are
//! created and changed through `WriteTx`).

use super::*;

#[async_trait]
impl FleetStore for SqlStore {
    async fn fleet(&self, key: Key<'_>) -> StoreResult<Option<FleetRecord>> {
        one_fleet(&self.read, [key.region, key.owner, key.name]).await
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
}
