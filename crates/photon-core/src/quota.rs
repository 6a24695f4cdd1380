//! Quotas per account and region (the Service Quotas equivalent), with the defaults of
//! `limits.md`. The operator adjusts them with `photon quotas set`.

use crate::{CoreError, Service};

/// (name, default, what it limits)
pub const QUOTAS: &[(&str, i64, &str)] = &[
    ("images", 10, "images"),
    ("image-builders", 10, "image builders"),
    ("fleets", 10, "fleets"),
    ("stacks", 10, "stacks"),
    (
        "accounts-per-shared-image",
        100,
        "accounts an image can be shared with",
    ),
    (
        "concurrent-copies-per-destination-region",
        2,
        "concurrent image copies per destination region",
    ),
    (
        "concurrent-image-updates",
        5,
        "concurrent managed image updates",
    ),
];

pub fn default_of(name: &str) -> Option<i64> {
    QUOTAS.iter().find(|(n, ..)| *n == name).map(|(_, d, _)| *d)
}

pub fn names() -> Vec<&'static str> {
    QUOTAS.iter().map(|(n, ..)| *n).collect()
}

fn what(name: &str) -> &str {
    QUOTAS
        .iter()
        .find(|(n, ..)| *n == name)
        .map_or(name, |(_, _, w)| *w)
}

/// Refuses a creation when the account's `in_use` resources (counted under the lock of their
/// set, in the creating transaction) already fill quota `name`; `free_one` says what the user
/// can do themselves ("delete a fleet").
pub(crate) fn check_creation(
    account_id: &str,
    region: &str,
    name: &str,
    limit: i64,
    in_use: i64,
    free_one: &str,
) -> Result<(), CoreError> {
    if in_use < limit {
        return Ok(());
    }
    Err(CoreError::LimitExceeded(format!(
        "the quota of {limit} {} for account {account_id} in {region} is reached; {free_one}, \
         or have the operator raise it with `photon quotas set --account-id {account_id} \
         --region {region} {name}=N`",
        what(name)
    )))
}

/// The refusal of a creation whose name the account already uses in the region.
pub(crate) fn name_taken(kind: &str, name: &str, region: &str) -> CoreError {
    CoreError::AlreadyExists(format!(
        "{kind} named '{name}' already exists in {region}; pick another name"
    ))
}

impl Service {
    /// The quota in force for an account in a region.
    pub async fn quota(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<i64, CoreError> {
        let default =
            default_of(name).ok_or_else(|| CoreError::Internal(format!("unknown quota {name}")))?;
        Ok(self
            .store
            .quota(account_id, region, name)
            .await?
            .unwrap_or(default))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use photon_store::{QuotaRecord, Store};

    use super::check_creation;
    use crate::{CoreError, Service, SystemClock};

    #[tokio::test]
    async fn defaults_overrides_and_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let url = photon_store_sql::sqlite_url(&dir.path().join("q.db"));
        let store: Arc<dyn Store> =
            Arc::new(photon_store_sql::SqlStore::connect(&url).await.unwrap());
        let blobs = photon_blob::RegionalBlobs::shared(Arc::new(
            photon_blob::FsBlobStore::open(&dir.path().join("blobs")).unwrap(),
        ));
        let svc = Service::start(
            store.clone(),
            blobs,
            Arc::new(SystemClock),
            vec!["us-east-1".into()],
        )
        .await
        .unwrap();
        assert_eq!(
            svc.quota("111111111111", "us-east-1", "images")
                .await
                .unwrap(),
            10
        );
        let limit = svc
            .quota("111111111111", "us-east-1", "images")
            .await
            .unwrap();
        check_creation(
            "111111111111",
            "us-east-1",
            "images",
            limit,
            9,
            "delete one",
        )
        .unwrap();
        let err = check_creation(
            "111111111111",
            "us-east-1",
            "images",
            limit,
            10,
            "delete one",
        )
        .unwrap_err();
        let CoreError::LimitExceeded(msg) = err else {
            panic!("wrong error")
        };
        assert!(msg.contains("photon quotas set"), "{msg}");
        // An account-wide value, then a region's own value, which wins.
        let q = |region: &str, value| QuotaRecord {
            account_id: "111111111111".into(),
            region: region.into(),
            name: "images".into(),
            value,
        };
        store.set_quotas(&[q("", 20)]).await.unwrap();
        assert_eq!(
            svc.quota("111111111111", "us-west-2", "images")
                .await
                .unwrap(),
            20
        );
        store.set_quotas(&[q("us-east-1", 3)]).await.unwrap();
        assert_eq!(
            svc.quota("111111111111", "us-east-1", "images")
                .await
                .unwrap(),
            3
        );
        let limit = svc
            .quota("111111111111", "us-east-1", "images")
            .await
            .unwrap();
        assert!(check_creation(
            "111111111111",
            "us-east-1",
            "images",
            limit,
            3,
            "delete one"
        )
        .is_err());
        assert_eq!(
            svc.quota("222222222222", "us-east-1", "images")
                .await
                .unwrap(),
            10
        );
    }
}
