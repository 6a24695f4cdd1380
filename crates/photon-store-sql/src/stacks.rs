//! `StackStore` on SQLite and PostgreSQL: stacks and their fleet associations.

use super::*;

#[async_trait]
impl StackStore for SqlStore {
    async fn stack(&self, key: Key<'_>) -> StoreResult<Option<StackRecord>> {
        one_stack(&self.read, [key.region, key.owner, key.name]).await
    }

    async fn list_stacks(
        &self,
        region: &str,
        owner: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, StackRecord)>> {
        list_page(
            &self.read,
            ("stacks", "region, owner, name, arn, created_at, attrs"),
            (region, owner),
            after,
            limit,
            stack_from_row,
        )
        .await
    }

    async fn fleets_of_stack(
        &self,
        region: &str,
        owner: &str,
        stack: &str,
    ) -> StoreResult<Vec<String>> {
        associated(&self.read, Of::Stack, Key::new(region, owner, stack)).await
    }

    async fn stacks_of_fleet(
        &self,
        region: &str,
        owner: &str,
        fleet: &str,
    ) -> StoreResult<Vec<String>> {
        associated(&self.read, Of::Fleet, Key::new(region, owner, fleet)).await
    }
}

/// Inserts a new stack row; `Conflict` when the name is taken.
pub(crate) async fn insert_stack(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    st: &StackRecord,
) -> StoreResult<()> {
    let attrs = serde_json::to_string(&st.attrs).map_err(backend)?;
    sqlx::query(
        "INSERT INTO stacks (region, owner, name, arn, sort_key, created_at, attrs) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&st.region)
    .bind(&st.owner)
    .bind(&st.name)
    .bind(&st.arn)
    .bind(photon_store::hex_key(&st.name))
    .bind(st.created_at)
    .bind(attrs)
    .execute(&mut **tx)
    .await
    .map_err(map_insert_error)?;
    Ok(())
}

/// Which side of the stack–fleet associations a lookup starts from.
#[derive(Clone, Copy)]
pub(crate) enum Of {
    /// The fleets of a stack.
    Stack,
    /// The stacks of a fleet.
    Fleet,
}

/// The names on the other side of `key`'s associations, in order, on a pool or in a
/// transaction.
pub(crate) async fn associated<'e, 'q: 'e, E>(
    exec: E,
    of: Of,
    key: Key<'q>,
) -> StoreResult<Vec<String>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let (sql, column) = match of {
        Of::Stack => (
            "SELECT fleet FROM stack_fleets WHERE region = $1 AND owner = $2 AND stack = $3 \
             ORDER BY fleet",
            "fleet",
        ),
        Of::Fleet => (
            "SELECT stack FROM stack_fleets WHERE region = $1 AND owner = $2 AND fleet = $3 \
             ORDER BY stack",
            "stack",
        ),
    };
    let rows = sqlx::query(sql)
        .bind(key.region)
        .bind(key.owner)
        .bind(key.name)
        .fetch_all(exec)
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|r| r.try_get(column).map_err(backend))
        .collect()
}
