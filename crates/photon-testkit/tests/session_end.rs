//! Sessions end by themselves at the fleet's `MaxUserDurationInSeconds`, or when their user has
//! been gone for its `DisconnectTimeoutInSeconds`: a durable job ends the session and frees its
//! instance. The domain runs on a clock the test moves by
//! hand, on the engine the environment selects (SQLite, or PostgreSQL with
//! `PHOTON_TEST_DATABASE_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use photon_core::pace::Pace;
use photon_core::{Clock, Service};
use photon_store::Store;
use photon_store_sql::SqlStore;
use photon_testkit::FreshStore;
use photon_types::{
    AssociateFleetRequest, Caller, ComputeCapacity, CreateFleetRequest, CreateStackRequest,
    CreateStreamingURLRequest, DescribeFleetsRequest, StartFleetRequest,
};
use photon_workflow::Engine;

struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_duration_and_frees_its_instance() {
    let fresh = FreshStore::new();
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(&fresh.url).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let blobs = photon_blob::RegionalBlobs::shared(Arc::new(
        photon_blob::FsBlobStore::open(dir.path()).unwrap(),
    ));
    let clock = Arc::new(ManualClock(AtomicI64::new(1_800_000_000_000)));
    let svc = Service::start(
        store.clone(),
        blobs,
        clock.clone(),
        vec!["us-east-1".into()],
    )
    .await
    .unwrap()
    .with_pace(Pace::Instant);
    let engine = Engine::new(store.clone(), clock.clone())
        .with_handler(photon_core::fleet::FleetJobs::new(svc.clone()))
        .with_handler(photon_core::session::SessionJobs::new(svc.clone()));
    let cx = Caller {
        account_id: "111111111111".into(),
        region: "us-east-1".into(),
        request_id: "test".into(),
    };
    svc.create_fleet(
        &cx,
        CreateFleetRequest {
            name: "fleet".into(),
            image_name: Some("AppStream-WinServer2022-11-10-2025".into()),
            instance_type: "stream.standard.medium".into(),
            compute_capacity: Some(ComputeCapacity {
                desired_instances: Some(1),
                ..Default::default()
            }),
            max_user_duration_in_seconds: Some(600),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    svc.start_fleet(
        &cx,
        StartFleetRequest {
            name: "fleet".into(),
        },
    )
    .await
    .unwrap();
    engine.tick().await.unwrap();
    svc.create_stack(
        &cx,
        CreateStackRequest {
            name: "stack".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    svc.associate_fleet(
        &cx,
        AssociateFleetRequest {
            stack_name: "stack".into(),
            fleet_name: "fleet".into(),
        },
    )
    .await
    .unwrap();
    let open = |user: &str| {
        let svc = svc.clone();
        let cx = cx.clone();
        let user = user.to_owned();
        async move {
            let url = svc
                .create_streaming_url(
                    &cx,
                    CreateStreamingURLRequest {
                        stack_name: "stack".into(),
                        fleet_name: "fleet".into(),
                        user_id: user,
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .streaming_url
                .unwrap();
            let token = url.rsplit('/').next().unwrap().to_owned();
            svc.open_stream(&token).await.map(|(s, _)| s)
        }
    };
    let in_use = || async {
        let f = svc
            .describe_fleets(
                &cx,
                DescribeFleetsRequest {
                    names: Some(vec!["fleet".into()]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        f.fleets.unwrap()[0].compute_capacity_status.in_use
    };
    let alice = open("alice").await.unwrap();
    assert_eq!(in_use().await, Some(1));
    // The one instance is taken.
    assert!(open("bob").await.is_err());

    // Just before the end, nothing happens.
    clock.0.fetch_add(599_000, Ordering::SeqCst);
    engine.tick().await.unwrap();
    let rows = store
        .sessions("us-east-1", &cx.account_id, "fleet")
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    // At the end the job ends the session itself (the row goes, not just a filter on time),
    // and the instance is free for the next user.
    clock.0.fetch_add(1_001, Ordering::SeqCst);
    engine.tick().await.unwrap();
    let rows = store
        .sessions("us-east-1", &cx.account_id, "fleet")
        .await
        .unwrap();
    assert!(rows.is_empty(), "{rows:?} (alice was {})", alice.id);
    assert_eq!(in_use().await, Some(0));
    let carol = open("carol").await.unwrap();
    assert_ne!(carol.instance_id, alice.instance_id);
    svc.expire_session(
        &cx,
        photon_types::ExpireSessionRequest {
            session_id: carol.id.clone(),
        },
    )
    .await
    .unwrap();

    // The disconnect timeout: the streaming page's heartbeats keep a session; without them it
    // shows NOT_CONNECTED, then ends.
    svc.update_fleet(
        &cx,
        photon_types::UpdateFleetRequest {
            name: Some("fleet".into()),
            disconnect_timeout_in_seconds: Some(120),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let dave = open("dave").await.unwrap();
    let beat = svc.session_heartbeat_token(&dave);
    let state = || async {
        let r = svc
            .describe_sessions(
                &cx,
                photon_types::DescribeSessionsRequest {
                    stack_name: "stack".into(),
                    fleet_name: "fleet".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        r.sessions
            .unwrap()
            .first()
            .map(|s| s.connection_state.unwrap().as_str().to_owned())
    };
    assert_eq!(state().await.as_deref(), Some("CONNECTED"));
    clock.0.fetch_add(100_000, Ordering::SeqCst);
    svc.session_heartbeat(&beat, true).await.unwrap();
    // 121 s after the start, but only 21 s after the last heartbeat: still there.
    clock.0.fetch_add(21_000, Ordering::SeqCst);
    engine.tick().await.unwrap();
    assert_eq!(state().await.as_deref(), Some("CONNECTED"));
    // The page closed: no more heartbeats.
    clock.0.fetch_add(60_000, Ordering::SeqCst);
    engine.tick().await.unwrap();
    assert_eq!(state().await.as_deref(), Some("NOT_CONNECTED"));
    clock.0.fetch_add(40_000, Ordering::SeqCst);
    engine.tick().await.unwrap();
    assert_eq!(
        state().await,
        None,
        "the session ended at the disconnect timeout"
    );
    assert!(matches!(
        svc.session_heartbeat(&beat, false).await,
        Err(photon_core::CoreError::NotFound(_))
    ));
    // A forged heartbeat is refused.
    assert!(svc.session_heartbeat("forged", false).await.is_err());

    // The idle timeout: 90 s acts as 2 minutes (the model rounds to the nearest minute, a
    // midpoint up). Heartbeats without input keep the page heard from, but once 2 minutes
    // pass without input the user is disconnected; input reconnects to the same session; an
    // idle user's session ends at the disconnect timeout after the idle disconnect, however
    // long the page stays open.
    svc.update_fleet(
        &cx,
        photon_types::UpdateFleetRequest {
            name: Some("fleet".into()),
            idle_disconnect_timeout_in_seconds: Some(90),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let erin = open("erin").await.unwrap();
    let beat = svc.session_heartbeat_token(&erin);
    let quiet = |secs: i64| {
        let svc = svc.clone();
        let beat = beat.clone();
        let clock = clock.clone();
        async move {
            clock.0.fetch_add(secs * 1000, Ordering::SeqCst);
            svc.session_heartbeat(&beat, false).await
        }
    };
    use photon_core::session::Connection;
    for _ in 0..5 {
        assert_eq!(quiet(20).await.unwrap(), Connection::Connected);
    }
    // 119 s without input: still connected; 121 s: disconnected for inactivity.
    assert_eq!(quiet(19).await.unwrap(), Connection::Connected);
    assert_eq!(state().await.as_deref(), Some("CONNECTED"));
    assert_eq!(quiet(2).await.unwrap(), Connection::Idle);
    assert_eq!(state().await.as_deref(), Some("NOT_CONNECTED"));
    engine.tick().await.unwrap();
    // Input within the disconnect timeout: the same session, connected again.
    clock.0.fetch_add(19_000, Ordering::SeqCst);
    assert_eq!(
        svc.session_heartbeat(&beat, true).await.unwrap(),
        Connection::Connected
    );
    assert_eq!(state().await.as_deref(), Some("CONNECTED"));
    // Now idle for good, the page still open: disconnected 120 s after the input, ended 120 s
    // (the disconnect timeout) after that.
    for _ in 0..11 {
        quiet(20).await.unwrap();
    }
    engine.tick().await.unwrap();
    assert_eq!(state().await.as_deref(), Some("NOT_CONNECTED"));
    assert_eq!(quiet(10).await.unwrap(), Connection::Idle);
    engine.tick().await.unwrap();
    assert_eq!(
        state().await.as_deref(),
        Some("NOT_CONNECTED"),
        "230 s after the input"
    );
    clock.0.fetch_add(11_000, Ordering::SeqCst);
    engine.tick().await.unwrap();
    assert_eq!(
        state().await,
        None,
        "the idle session ended at the disconnect timeout after its idle disconnect"
    );
}
