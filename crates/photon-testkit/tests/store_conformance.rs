//! One story of the `Store` contract, run against whichever engine the environment selects:
//! SQLite by default, PostgreSQL when `PHOTON_TEST_DATABASE_URL` is set (CI runs both).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::collections::BTreeMap;

use photon_store::prelude::*;
use photon_store::{
    AccessKeyRecord, AccountRecord, ImageQuery, ImageScope, Key, QuotaRecord, ResourceKey,
    StoreError,
};
use photon_store_sql::SqlStore;
use photon_testkit::{private_image, FreshStore};
use photon_types::{FleetState, ImageState};

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
    // Deleting, in the unit of work: the row as its owner sees it, what uses it, then the
    // delete, which takes the tags; a second delete finds nothing.
    let key = Key::new("us-east-1", "111111111111", "b");
    let mut tx = s.write().await.unwrap();
    let row = tx.image_row(key).await.unwrap().unwrap();
    assert_eq!(row.image.state, ImageState::Available);
    assert!(!row.shared_with_others);
    assert!(!tx.image_usage(key).await.unwrap().in_use());
    assert!(tx.delete_image(key).await.unwrap());
    assert!(!tx.delete_image(key).await.unwrap());
    assert!(tx.image_row(key).await.unwrap().is_none());
    tx.commit().await.unwrap();
    assert!(s.tags(&arn).await.unwrap().is_empty());
    assert!(s
        .image(Key::new("us-east-1", "111111111111", "b"))
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

fn fleet_on(owner: &str, name: &str, image_arn: &str, desired: i32) -> photon_store::FleetRecord {
    photon_store::FleetRecord {
        region: "us-east-1".into(),
        owner: owner.into(),
        name: name.into(),
        arn: format!("arn:aws:appstream:us-east-1:{owner}:fleet/{name}"),
        state: FleetState::Stopped,
        image_arn: image_arn.into(),
        instance_type: "stream.standard.medium".into(),
        fleet_type: "ON_DEMAND".into(),
        created_at: 1,
        attrs: photon_store::FleetAttrs {
            v: 1,
            desired_instances: desired,
            max_user_duration_in_seconds: 600,
            disconnect_timeout_in_seconds: 60,
            stream_view: "APP".into(),
            platform: "WINDOWS_SERVER_2022".into(),
            ..Default::default()
        },
    }
}

#[tokio::test]
async fn sharing_fleet_guard_and_copy_contract() {
    use photon_store::LockKey;
    let golden_arn = |owner: &str| format!("arn:aws:appstream:us-east-1:{owner}:image/golden");
    let fresh = FreshStore::new();
    let s = SqlStore::connect(&fresh.url).await.unwrap();
    let (owner, other, third) = ("111111111111", "222222222222", "333333333333");
    s.seed_images(&[
        private_image(owner, "us-east-1", "golden"),
        private_image(owner, "us-east-1", "other"),
    ])
    .await
    .unwrap();
    let golden = private_image(owner, "us-east-1", "golden").arn;
    let key = Key::new("us-east-1", owner, "golden");
    let revoked = ("IMAGE_NOT_FOUND".to_owned(), "revoked".to_owned());
    // Shares are written through the unit of work; the rules about them are the domain's.
    let share = |acct: &'static str, perms: Option<(bool, bool)>| {
        let s = &s;
        async move {
            let mut tx = s.write().await.unwrap();
            tx.lock(LockKey::Image(golden_arn(owner))).await.unwrap();
            tx.put_image_share(key, acct, perms, 5).await.unwrap();
            tx.commit().await.unwrap();
        }
    };
    let count = || {
        let s = &s;
        async move {
            let mut tx = s.write().await.unwrap();
            tx.count_image_shares(key).await.unwrap()
        }
    };

    // The share the domain's fleet rule reads inside its write, then the fleet it inserts:
    // counted under the account's fleets lock, with its tags, and a taken name is `Conflict`.
    let f = fleet_on(other, "prod", &golden, 2);
    share(other, Some((true, false))).await;
    {
        let mut tx = s.write().await.unwrap();
        tx.lock(LockKey::Image(golden_arn(owner))).await.unwrap();
        assert_eq!(
            tx.image_share(key, other).await.unwrap(),
            Some((true, false))
        );
        assert_eq!(tx.image_share(key, third).await.unwrap(), None);
        tx.lock(LockKey::account_fleets(other, "us-east-1"))
            .await
            .unwrap();
        assert_eq!(tx.count_fleets("us-east-1", other).await.unwrap(), 0);
        tx.insert_fleet(&f).await.unwrap();
        let tags = BTreeMap::from([("Env".to_owned(), "ci".to_owned())]);
        tx.insert_tags(&f.arn, &tags).await.unwrap();
        assert_eq!(tx.count_fleets("us-east-1", other).await.unwrap(), 1);
        tx.commit().await.unwrap();
    }
    assert_eq!(s.tags(&f.arn).await.unwrap().get("Env").unwrap(), "ci");
    {
        let mut tx = s.write().await.unwrap();
        assert!(matches!(
            tx.insert_fleet(&f).await,
            Err(StoreError::Conflict)
        ));
    }
    // A transaction dropped without commit leaves nothing behind.
    {
        let mut tx = s.write().await.unwrap();
        tx.insert_fleet(&fleet_on(other, "dropped", &golden, 0))
            .await
            .unwrap();
    }
    assert!(s
        .fleet(Key::new("us-east-1", other, "dropped"))
        .await
        .unwrap()
        .is_none());

    // A share row per account: changing one keeps the count.
    share(other, Some((true, true))).await;
    assert_eq!(count().await, 1);
    share(third, Some((false, true))).await;
    assert_eq!(count().await, 2);
    let all = s.image_shares(key, &[], None, 10).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|x| x.shared_account.as_str())
            .collect::<Vec<_>>(),
        [other, third]
    );
    let page = s.image_shares(key, &[], Some(other), 10).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].shared_account, third);
    let only = s
        .image_shares(key, &[third.to_owned()], None, 10)
        .await
        .unwrap();
    assert_eq!(
        (only.len(), only[0].allow_fleet, only[0].allow_image_builder),
        (1, false, true)
    );

    // A read taken before a revocation (which zeroes the fleet in its own transaction) cannot
    // write over it.
    let read = s
        .fleet(Key::new("us-east-1", other, "prod"))
        .await
        .unwrap()
        .unwrap();
    {
        let mut tx = s.write().await.unwrap();
        tx.lock(LockKey::Image(golden_arn(owner))).await.unwrap();
        tx.put_image_share(key, other, Some((false, true)), 6)
            .await
            .unwrap();
        assert_eq!(
            tx.fleets_on_image("us-east-1", other, &golden)
                .await
                .unwrap(),
            ["prod"]
        );
        tx.lock(LockKey::Fleet(f.arn.clone())).await.unwrap();
        let mut zeroed = tx
            .fleet(Key::new("us-east-1", other, "prod"))
            .await
            .unwrap()
            .unwrap();
        zeroed.attrs.desired_instances = 0;
        zeroed.attrs.errors = vec![revoked.clone()];
        tx.put_fleet(&zeroed).await.unwrap();
        tx.commit().await.unwrap();
    }
    let now = s
        .fleet(Key::new("us-east-1", other, "prod"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.attrs.desired_instances, 0);
    assert_eq!(now.attrs.errors, vec![revoked.clone()]);
    assert_ne!(
        read, now,
        "the revocation's write is visible to the next read"
    );
    // A state change and the job that owns it are kept with everything else.
    {
        let mut tx = s.write().await.unwrap();
        tx.lock(LockKey::Fleet(f.arn.clone())).await.unwrap();
        let mut moving = now.clone();
        moving.state = FleetState::Starting;
        moving.attrs.transition_job = Some("job-1".into());
        tx.put_fleet(&moving).await.unwrap();
        tx.commit().await.unwrap();
    }
    let moved = s
        .fleet(Key::new("us-east-1", other, "prod"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.state, FleetState::Starting);
    assert_eq!(moved.attrs.transition_job.as_deref(), Some("job-1"));
    assert_eq!(moved.attrs.description, now.attrs.description);
    assert_eq!(moved.attrs.desired_instances, 0);
    assert_eq!(moved.attrs.errors, vec![revoked.clone()]);
    // Stopping sharing removes the permission.
    share(other, None).await;
    assert_eq!(
        s.image_shares(key, &[other.to_owned()], None, 10)
            .await
            .unwrap(),
        vec![]
    );

    // Copies: the destination's image quota, then the concurrent-copy quota, then names.
    let copy = |name: &str| {
        let mut img = private_image(owner, "eu-west-1", name);
        img.state = ImageState::Copying;
        img
    };
    let job = |n: u32| photon_store::JobRecord {
        id: format!("copy-{n}"),
        ..photon_workflow::new_job("image-copy", owner, "eu-west-1", "r", "{}", 0, 5)
    };
    // Copies through the unit of work: the counts the domain's quotas read, a name taken in
    // the destination, and a refused copy that leaves nothing behind.
    let start = |name: &'static str, n: u32| {
        let s = &s;
        async move {
            let mut tx = s.write().await.unwrap();
            tx.lock(LockKey::account_images(owner, "eu-west-1"))
                .await
                .unwrap();
            let counts = (
                tx.count_images("eu-west-1", owner).await.unwrap(),
                tx.count_images_in_state("eu-west-1", owner, ImageState::Copying)
                    .await
                    .unwrap(),
            );
            let inserted = tx.insert_image(&copy(name)).await;
            if inserted.is_ok() {
                tx.enqueue(&job(n)).await.unwrap();
                tx.commit().await.unwrap();
            }
            (counts, inserted)
        }
    };
    let before = {
        let mut tx = s.write().await.unwrap();
        tx.count_images("eu-west-1", owner).await.unwrap() as usize
    };
    let ((images, copying), inserted) = start("c1", 1).await;
    assert_eq!((images, copying), (before as i64, 0));
    inserted.unwrap();
    assert!(s.job("copy-1").await.unwrap().is_some());
    let (counts, inserted) = start("c1", 2).await;
    assert_eq!(counts, (before as i64 + 1, 1));
    assert!(matches!(inserted, Err(StoreError::Conflict)));
    // The refused copy enqueued nothing.
    assert!(s.job("copy-2").await.unwrap().is_none());
    start("c2", 3).await.1.unwrap();
    assert_eq!(start("c3", 4).await.0, (before as i64 + 2, 2));
    assert_eq!(
        s.image(Key::new("eu-west-1", owner, "c1"))
            .await
            .unwrap()
            .unwrap()
            .image
            .state,
        ImageState::Copying
    );
}

#[tokio::test]
async fn stacks_and_their_fleet_through_the_unit_of_work() {
    use photon_store::{LockKey, StackAttrs, StackRecord};
    let fresh = FreshStore::new();
    let s = SqlStore::connect(&fresh.url).await.unwrap();
    let owner = "111111111111";
    let key = Key::new("us-east-1", owner, "testers");
    let stack = StackRecord {
        region: key.region.into(),
        owner: owner.into(),
        name: key.name.into(),
        arn: format!("arn:aws:appstream:us-east-1:{owner}:stack/testers"),
        created_at: 1,
        attrs: StackAttrs::default(),
    };
    let mut tx = s.write().await.unwrap();
    tx.lock(LockKey::account_stacks(owner, "us-east-1"))
        .await
        .unwrap();
    assert_eq!(tx.count_stacks("us-east-1", owner).await.unwrap(), 0);
    tx.insert_stack(&stack).await.unwrap();
    assert_eq!(tx.count_stacks("us-east-1", owner).await.unwrap(), 1);
    tx.commit().await.unwrap();
    // A second stack of the name is a conflict, and the account still has one.
    let mut tx = s.write().await.unwrap();
    assert!(matches!(
        tx.insert_stack(&stack).await,
        Err(StoreError::Conflict)
    ));
    drop(tx);
    let mut tx = s.write().await.unwrap();
    assert_eq!(tx.count_stacks("us-east-1", owner).await.unwrap(), 1);
    assert_eq!(
        tx.count_image_builders("us-east-1", owner).await.unwrap(),
        0
    );
    drop(tx);
    let image = private_image(owner, "us-east-1", "golden").arn;
    let fleet = fleet_on(owner, "prod", &image, 0);
    let mut tx = s.write().await.unwrap();
    tx.lock(LockKey::Stack(stack.arn.clone())).await.unwrap();
    tx.lock(LockKey::Fleet(fleet.arn.clone())).await.unwrap();
    tx.insert_fleet(&fleet).await.unwrap();
    let mut read = tx.stack(key).await.unwrap().unwrap();
    assert_eq!(read, stack);
    assert!(tx.stack_fleets(key).await.unwrap().is_empty());
    tx.insert_stack_fleet(key, "prod").await.unwrap();
    read.attrs.description = Some("for the testers".into());
    tx.put_stack(&read).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        s.fleets_of_stack("us-east-1", owner, "testers")
            .await
            .unwrap(),
        ["prod"]
    );
    let back = s
        .stack(Key::new("us-east-1", owner, "testers"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.attrs.description.as_deref(), Some("for the testers"));
    let mut tx = s.write().await.unwrap();
    assert_eq!(tx.stack_fleets(key).await.unwrap(), ["prod"]);
    let fleet_key = fleet.key();
    assert_eq!(tx.fleet_stacks(fleet_key).await.unwrap(), ["testers"]);
    assert!(tx
        .stack(Key::new("us-east-1", owner, "nobody"))
        .await
        .unwrap()
        .is_none());
    // An association ends on its own, and only the one named.
    assert!(!tx.delete_stack_fleet(key, "nobody").await.unwrap());
    assert!(tx.delete_stack_fleet(key, "prod").await.unwrap());
    assert!(tx.stack_fleets(key).await.unwrap().is_empty());
    assert!(!tx.delete_stack_fleet(key, "prod").await.unwrap());
    tx.insert_stack_fleet(key, "prod").await.unwrap();
    // Deleting takes the stack's association and tags with it.
    assert!(tx.delete_stack(key).await.unwrap());
    assert!(!tx.delete_stack(key).await.unwrap());
    tx.commit().await.unwrap();
    assert!(s
        .stack(Key::new("us-east-1", owner, "testers"))
        .await
        .unwrap()
        .is_none());
    assert!(s
        .stacks_of_fleet("us-east-1", owner, "prod")
        .await
        .unwrap()
        .is_empty());
    // A fleet goes with its tags; a second delete finds nothing.
    let mut tx = s.write().await.unwrap();
    let tags = BTreeMap::from([("Env".to_owned(), "ci".to_owned())]);
    tx.insert_tags(&fleet.arn, &tags).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.tags(&fleet.arn).await.unwrap(), tags);
    let mut tx = s.write().await.unwrap();
    assert!(tx.fleet_stacks(fleet.key()).await.unwrap().is_empty());
    assert!(tx.delete_fleet(fleet.key()).await.unwrap());
    assert!(!tx.delete_fleet(fleet.key()).await.unwrap());
    tx.commit().await.unwrap();
    assert!(s
        .fleet(Key::new("us-east-1", owner, "prod"))
        .await
        .unwrap()
        .is_none());
    assert!(s.tags(&fleet.arn).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_job_queue_as_metrics_see_it() {
    use photon_store::{JobRecord, QueueStats};
    let fresh = FreshStore::new();
    let s = SqlStore::connect(&fresh.url).await.unwrap();
    assert_eq!(s.job_queue(1_000).await.unwrap(), QueueStats::default());
    let job = |id: &str, run_at: i64| JobRecord {
        id: id.into(),
        ..photon_workflow::new_job("fleet", "111111111111", "us-east-1", "r", "{}", run_at, 5)
    };
    for (id, at) in [("a", 100), ("b", 200), ("later", 10_000)] {
        s.enqueue_job(&job(id, at)).await.unwrap();
    }
    // Due means queued with its time passed; a job not yet due is not counted.
    let q = s.job_queue(500).await.unwrap();
    assert_eq!(
        q,
        QueueStats {
            due: 2,
            oldest_due_at: Some(100),
            running: 0
        }
    );
    // A claimed job is running, no longer due.
    let claimed = s.claim_jobs("w", 500, 30_000, 1).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, "a");
    let q = s.job_queue(500).await.unwrap();
    assert_eq!(
        q,
        QueueStats {
            due: 1,
            oldest_due_at: Some(200),
            running: 1
        }
    );
}
