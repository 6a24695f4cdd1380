//! `ImageStore` on SQLite and PostgreSQL: images: the registry's rows, lookups as an account sees
//! them, sharing and copies.

use super::*;
use crate::inline::Arg;

#[async_trait]
impl ImageStore for SqlStore {
    async fn insert_image(&self, image: &ImageRecord) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_image(&mut tx, image, false).await?;
        tx.commit().await.map_err(backend)
    }

    async fn seed_images(&self, images: &[ImageRecord]) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let mut n = 0;
        for image in images {
            n += insert_image(&mut tx, image, true).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(n)
    }

    async fn image(&self, key: Key<'_>) -> StoreResult<Option<ImageRow>> {
        self.image_lookup(image_by_key(), [key.region, key.owner, key.name])
            .await
    }

    async fn image_for(
        &self,
        region: &str,
        account_id: &str,
        arn: &str,
    ) -> StoreResult<Option<ImageRow>> {
        let sql = format!(
            "{} FROM images i LEFT JOIN image_shares s ON s.region = i.region AND s.owner = i.owner \
             AND s.image_name = i.name AND s.shared_account = $2 \
             WHERE i.arn = $3 AND i.region = $1 \
             AND (i.owner = '' OR i.owner = $2 OR s.shared_account IS NOT NULL)",
            image_select(SHARE)
        );
        self.image_lookup(&sql, [region, account_id, arn]).await
    }

    async fn shared_image_by_name(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
    ) -> StoreResult<Option<ImageRow>> {
        let sql = format!(
            "{} FROM image_shares s JOIN images i ON i.region = s.region AND i.owner = s.owner \
             AND i.name = s.image_name WHERE s.region = $1 AND s.shared_account = $2 AND s.image_name = $3 \
             ORDER BY s.sort_key LIMIT 1",
            image_select(SHARE)
        );
        self.image_lookup(&sql, [region, account_id, name]).await
    }

    async fn list_images(&self, q: &ImageQuery) -> StoreResult<Vec<ImageRow>> {
        let page = page_sql(q.scope);
        let after = q.after.as_deref().unwrap_or("");
        let limit = i64::from(q.limit);
        let mut out = match &self.inline {
            Some(inline) => inline.rows(
                page,
                &[
                    Arg::Text(&q.region),
                    Arg::Text(&q.account_id),
                    Arg::Text(after),
                    Arg::Int(limit),
                ],
                |r| image_from_row(r),
            )?,
            None => {
                let rows = sqlx::query(page)
                    .bind(&q.region)
                    .bind(&q.account_id)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.read)
                    .await
                    .map_err(backend)?;
                rows.iter()
                    .map(image_from_row)
                    .collect::<StoreResult<Vec<_>>>()?
            }
        };
        // The outer ORDER BY already sorts; sorting again keeps the guarantee whatever plan
        // the engine picks for the union.
        out.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));
        Ok(out)
    }

    async fn count_images(&self, region: &str, owner: &str) -> StoreResult<i64> {
        let mut conn = self.read.acquire().await.map_err(backend)?;
        count_owned(&mut conn, ResourceKind::Image, region, owner).await
    }

    async fn image_shares(
        &self,
        Key {
            region,
            owner,
            name,
        }: Key<'_>,
        accounts: &[String],
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ImageShare>> {
        let only = if accounts.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (0..accounts.len()).map(|i| format!("${}", i + 6)).collect();
            format!(" AND shared_account IN ({})", marks.join(", "))
        };
        let sql = format!(
            "SELECT shared_account, allow_fleet, allow_image_builder FROM image_shares \
             WHERE region = $1 AND owner = $2 AND image_name = $3 AND shared_account > $4{only} \
             ORDER BY shared_account LIMIT $5"
        );
        let mut q = sqlx::query(&sql)
            .bind(region)
            .bind(owner)
            .bind(name)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit));
        for a in accounts {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.read).await.map_err(backend)?;
        rows.iter()
            .map(|r| {
                let fleet: i64 = r.try_get("allow_fleet").map_err(backend)?;
                let builder: i64 = r.try_get("allow_image_builder").map_err(backend)?;
                Ok(ImageShare {
                    shared_account: r.try_get("shared_account").map_err(backend)?,
                    allow_fleet: fleet != 0,
                    allow_image_builder: builder != 0,
                })
            })
            .collect()
    }
}

impl SqlStore {
    /// An image query that binds three text values and finds at most one row, on the
    /// inline SQLite reader where there is one.
    async fn image_lookup(&self, sql: &str, binds: [&str; 3]) -> StoreResult<Option<ImageRow>> {
        match &self.inline {
            Some(inline) => {
                let [a, b, c] = binds;
                inline.first(sql, &[Arg::Text(a), Arg::Text(b), Arg::Text(c)], |r| {
                    image_from_row(r)
                })
            }
            None => one_image(&self.read, sql, binds).await,
        }
    }
}

/// The SQL of a listing page of `scope`, built once: the request path formats no SQL.
fn page_sql(scope: ImageScope) -> &'static str {
    static PAGES: std::sync::LazyLock<[String; 4]> = std::sync::LazyLock::new(|| {
        // Each slice is one range scan of an index, limited to the page; a union is sorted and
        // cut again. The cost follows the page size, not the registry size.
        let public = format!(
            "SELECT * FROM ({} FROM images i WHERE i.region = $1 AND i.owner = '' AND i.sort_key > $3 \
             ORDER BY i.sort_key LIMIT $4) p",
            image_select(NO_SHARE)
        );
        let owned = format!(
            "SELECT * FROM ({} FROM images i WHERE i.region = $1 AND i.owner = $2 AND i.sort_key > $3 \
             ORDER BY i.sort_key LIMIT $4) o",
            image_select(NO_SHARE)
        );
        let shared = format!(
            "SELECT * FROM ({} FROM image_shares s JOIN images i ON i.region = s.region \
             AND i.owner = s.owner AND i.name = s.image_name \
             WHERE s.region = $1 AND s.shared_account = $2 AND s.sort_key > $3 \
             ORDER BY s.sort_key LIMIT $4) s",
            image_select(SHARE)
        );
        let visible = format!(
            "SELECT * FROM ({public} UNION ALL {owned} UNION ALL {shared}) u \
             ORDER BY sort_key LIMIT $4"
        );
        [public, owned, shared, visible]
    });
    let i = match scope {
        ImageScope::Public => 0,
        ImageScope::Owned => 1,
        ImageScope::SharedWithMe => 2,
        ImageScope::Visible => 3,
    };
    &PAGES[i]
}
