//! One story of the `Store` contract, run against whichever engine the environment selects:
//! SQLite by default, PostgreSQL when `PHOTON_TEST_DATABASE_URL` is set (CI runs both).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::collections::BTreeMap;

use photon_store::{
    AccessKeyRecord, AccountRecord, DeleteOutcome, ImageQuery, ImageScope, QuotaRecord,
    ResourceKey, Store, StoreError,
};
use photon_store_sql::SqlStore;
use photon_testkit::{private_image, FreshStore};

#[tokio::test]
async fn store_contract() {
    let fresh = FreshStore::new();
    let s = SqlStore::connect(&fresh.url).await.unwrap();
    s.ping().await.unwrap();

    // Settings: the first value wins, later inits read it back.
    assert_eq!(s.init_setting("k", "one").await.unwrap(), "one");
    assert_eq!(s.init_setting("k", "two").await.unwrap(), "one");
    assert_eq!(s.setting("k").await.unwrap().as_deref(), Some("one"));

    // Accounts: unique ids and keys.
    let acct = |id: &str| AccountRecord {
        account_id: id.into(),
        name: "n".into(),
        created_at: 1,
    };
    let key = |k: &str, id: &str| AccessKeyRecord {
        access_key_id: k.into(),
        account_id: id.into(),
        secret_access_key: "s".into(),
        created_at: 1,
    };
    s.create_account(&acct("111111111111"), &key("AKIA1", "111111111111"))
        .await
        .unwrap();
    assert!(matches!(
        s.create_account(&acct("111111111111"), &key("AKIA2", "111111111111"))
            .await,
        Err(StoreError::Conflict)
    ));
    // The failed create left nothing behind (one transaction).
    assert!(s.access_key("AKIA2").await.unwrap().is_none());
    assert_eq!(
        s.access_key("AKIA1").await.unwrap().unwrap().account_id,
        "111111111111"
    );
    assert!(s.account_exists("111111111111").await.unwrap());
    assert!(!s.account_exists("222222222222").await.unwrap());

    // Images: keyset order is the same on every engine (mixed case, digits, dashes, dots).
    let names = ["b", "B", "a-1", "a.1", "a_1", "a1", "Z9", "z", "0"];
    let recs: Vec<_> = names
        .iter()
        .map(|n| private_image("111111111111", "us-east-1", n))
        .collect();
    assert_eq!(s.seed_images(&recs).await.unwrap(), names.len() as u64);
    assert_eq!(
        s.seed_images(&recs).await.unwrap(),
        0,
        "seeding is idempotent"
    );
    assert!(matches!(
        s.insert_image(&recs[0]).await,
        Err(StoreError::Conflict)
    ));
    let mut want: Vec<&str> = names.to_vec();
    want.sort_unstable(); // byte order
    let mut got = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .list_images(&ImageQuery {
                region: "us-east-1".into(),
                account_id: "111111111111".into(),
                scope: ImageScope::Owned,
                after: after.clone(),
                limit: 2,
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|r| r.sort_key.clone());
        got.extend(page.into_iter().map(|r| r.image.name));
    }
    assert_eq!(got, want);
    assert_eq!(
        s.count_images("us-east-1", "111111111111").await.unwrap(),
        names.len() as i64
    );
    // Another account or region sees none of them.
    for (region, account) in [("us-east-1", "222222222222"), ("us-west-2", "111111111111")] {
        let page = s
            .list_images(&ImageQuery {
                region: region.into(),
                account_id: account.into(),
                scope: ImageScope::Visible,
                after: None,
                limit: 100,
            })
            .await
            .unwrap();
        assert!(
            page.is_empty(),
            "{region}/{account} saw another tenant's images"
        );
    }

    // Tags: limit checked atomically, overwrite is free, deleting the image removes them.
    let arn = recs[0].arn.clone();
    let res = ResourceKey::Image {
        region: "us-east-1".into(),
        owner: "111111111111".into(),
        name: "b".into(),
    };
    let one = |k: &str| BTreeMap::from([(k.to_owned(), "w".to_owned())]);
    let tags: BTreeMap<String, String> =
        (0..3).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    s.put_tags(&res, &arn, &tags, 3).await.unwrap();
    s.put_tags(&res, &arn, &one("k0"), 3).await.unwrap();
    assert!(matches!(
        s.put_tags(&res, &arn, &one("k9"), 3).await,
        Err(StoreError::LimitReached(3))
    ));
    assert_eq!(
        s.tags(&arn).await.unwrap().get("k0").map(String::as_str),
        Some("w")
    );
    s.remove_tags(&res, &arn, &["k1".to_owned()]).await.unwrap();
    assert_eq!(s.tags(&arn).await.unwrap().len(), 2);
    let ok = ["AVAILABLE"];
    assert!(matches!(
        s.delete_unused_image("us-east-1", "111111111111", "b", &["FAILED"]).await.unwrap(),
        DeleteOutcome::WrongState(st) if st == "AVAILABLE"
    ));
    assert!(matches!(
        s.delete_unused_image("us-east-1", "111111111111", "b", &ok)
            .await
            .unwrap(),
        DeleteOutcome::Deleted(_)
    ));
    assert!(matches!(
        s.delete_unused_image("us-east-1", "111111111111", "b", &ok)
            .await
            .unwrap(),
        DeleteOutcome::NotFound
    ));
    assert!(s.tags(&arn).await.unwrap().is_empty());
    assert!(s
        .image("us-east-1", "111111111111", "b")
        .await
        .unwrap()
        .is_none());
    // A deleted resource cannot be tagged again.
    assert!(matches!(
        s.put_tags(&res, &arn, &one("k"), 50).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.remove_tags(&res, &arn, &["k".to_owned()]).await,
        Err(StoreError::NotFound)
    ));

    // Quotas: region value over account-wide value.
    let q = |region: &str, v| QuotaRecord {
        account_id: "111111111111".into(),
        region: region.into(),
        name: "images".into(),
        value: v,
    };
    assert_eq!(
        s.quota("111111111111", "us-east-1", "images")
            .await
            .unwrap(),
        None
    );
    s.set_quotas(&[q("", 5), q("us-east-1", 7)]).await.unwrap();
    s.set_quotas(&[q("us-east-1", 8)]).await.unwrap();
    assert_eq!(
        s.quota("111111111111", "us-east-1", "images")
            .await
            .unwrap(),
        Some(8)
    );
    assert_eq!(
        s.quota("111111111111", "eu-west-1", "images")
            .await
            .unwrap(),
        Some(5)
    );
    assert_eq!(s.list_quotas(Some("111111111111")).await.unwrap().len(), 2);
    assert!(s
        .list_quotas(Some("222222222222"))
        .await
        .unwrap()
        .is_empty());
    s.close().await;
}
