//! Opening the store from the command line's options: PostgreSQL when a URL is given, else the
//! embedded SQLite database inside the data directory.

use std::sync::Arc;

use anyhow::Context;
use photon_store::Store;
use photon_store_sql::SqlStore;

use crate::cli::StoreArgs;

pub(crate) async fn open(args: &StoreArgs) -> anyhow::Result<Arc<SqlStore>> {
    let url = match &args.database {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(&args.data_dir).with_context(|| {
                format!(
                    "cannot create the data directory {}",
                    args.data_dir.display()
                )
            })?;
            photon_store_sql::sqlite_url(&args.data_dir.join("photon.db"))
        }
    };
    let store = SqlStore::connect(&url).await.with_context(|| {
        format!(
            "cannot open the store at {}; check --database / PHOTON_DATABASE_URL or --data-dir",
            redact(&url)
        )
    })?;
    tracing::debug!(engine = store.engine(), "store open");
    Ok(Arc::new(store))
}

/// Hides a password in a database URL before it reaches a log or an error message.
pub(crate) fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((auth, host)) = rest.split_once('@') {
            if let Some((user, _)) = auth.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_owned()
}
