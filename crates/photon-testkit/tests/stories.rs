//! Domain stories, in process, on a clock the test moves by hand, on the engine the environment
//! selects (SQLite, or PostgreSQL with `PHOTON_TEST_DATABASE_URL`). Sessions end by themselves
//! at the fleet's `MaxUserDurationInSeconds`, or when their user has been gone for its
//! `DisconnectTimeoutInSeconds`: a durable job ends the session and frees its instance. A
//! builder job that gives up leaves every transitional state it drives.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use photon_core::pace::Pace;
use photon_core::{Clock, Service};
use photon_store::Key;
use photon_store::Store;
use photon_store_sql::SqlStore;
use photon_testkit::FreshStore;
use photon_types::{
    AssociateFleetRequest, Caller, ComputeCapacity, CreateFleetRequest, CreateStackRequest,
    CreateStreamingURLRequest, DescribeFleetsRequest, FleetState, ImageBuilderState, ImageState,
    StartFleetRequest,
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
    let w = World::new().await;
    let (store, clock, svc, engine) = (&w.store, &w.clock, &w.svc, &w.engine);
    let cx = w.cx.clone();
    svc.create_fleet(
        &cx,
        CreateFleetRequest {
            max_user_duration_in_seconds: Some(600),
            ..small_fleet("fleet")
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

/// A start that updates the agent (UPDATING_AGENT) and then fails for good leaves the builder
/// FAILED with the reason, never UPDATING_AGENT for ever.
#[tokio::test]
async fn a_builder_whose_agent_update_gives_up_is_failed() {
    use photon_types::{
        CreateImageBuilderRequest, StartImageBuilderRequest, StopImageBuilderRequest,
    };
    use photon_workflow::Handler;

    let w = World::new().await;
    let (store, svc, engine) = (&w.store, &w.svc, &w.engine);
    let cx = w.cx.clone();
    // The handler itself, to give up a job as the engine does when one runs out of attempts.
    let jobs = photon_core::builder::BuilderJobs::new(svc.clone());
    svc.create_image_builder(
        &cx,
        CreateImageBuilderRequest {
            appstream_agent_version: Some("05-21-2018".into()),
            ..small_builder("b")
        },
    )
    .await
    .unwrap();
    engine.tick().await.unwrap();
    svc.stop_image_builder(&cx, StopImageBuilderRequest { name: "b".into() })
        .await
        .unwrap();
    engine.tick().await.unwrap();
    let b = svc
        .start_image_builder(
            &cx,
            StartImageBuilderRequest {
                name: "b".into(),
                appstream_agent_version: Some("LATEST".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(b.state, Some(ImageBuilderState::UpdatingAgent));
    let builder = store
        .image_builder(Key::new("us-east-1", "111111111111", "b"))
        .await
        .unwrap()
        .unwrap();
    // The job the start queued, which owns the builder's transition.
    let job = store
        .job(builder.attrs.transition_job.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    jobs.give_up(&job, "the agent download failed").await;
    let b = store
        .image_builder(Key::new("us-east-1", "111111111111", "b"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.state, ImageBuilderState::Failed);
    let (_, message) = b.attrs.state_change_reason.unwrap();
    assert!(message.contains("the agent download failed"), "{message}");
}

/// A fleet's first start (job A) is cut short by a stop, and a second start (job C) begins: A,
/// run again late (a retry after its lease ran out), neither finishes nor fails C's start.
#[tokio::test]
async fn a_stale_fleet_job_leaves_a_newer_start_alone() {
    use photon_core::fleet::FleetJobs;
    use photon_types::StopFleetRequest;
    use photon_workflow::Handler;

    let w = World::new().await;
    let (store, svc, cx) = (&w.store, &w.svc, &w.cx);
    let jobs = FleetJobs::new(svc.clone());
    svc.create_fleet(cx, small_fleet("fleet")).await.unwrap();
    let start = StartFleetRequest {
        name: "fleet".into(),
    };
    svc.start_fleet(cx, start.clone()).await.unwrap();
    let fleet = || async {
        store
            .fleet(Key::new("us-east-1", &cx.account_id, "fleet"))
            .await
            .unwrap()
            .unwrap()
    };
    let first = fleet().await.attrs.transition_job.unwrap();
    let first = store.job(&first).await.unwrap().unwrap();
    svc.stop_fleet(
        cx,
        StopFleetRequest {
            name: "fleet".into(),
        },
    )
    .await
    .unwrap();
    w.settle().await;
    assert_eq!(fleet().await.state, FleetState::Stopped);
    svc.start_fleet(cx, start).await.unwrap();
    let second = fleet().await.attrs.transition_job.unwrap();
    assert_ne!(second, first.id, "the new start is owned by its own job");

    jobs.run(&first).await;
    jobs.give_up(&first, "the stale attempt failed").await;
    let f = fleet().await;
    assert_eq!(
        f.state,
        FleetState::Starting,
        "the stale job moved the newer start"
    );
    assert!(
        f.attrs.errors.is_empty(),
        "the stale job failed the newer start: {:?}",
        f.attrs.errors
    );
    assert_eq!(f.attrs.transition_job.as_deref(), Some(second.as_str()));
    w.settle().await;
    let f = fleet().await;
    assert_eq!(f.state, FleetState::Running);
    assert_eq!(
        f.attrs.transition_job, None,
        "a fleet at rest is owned by no job"
    );
}

/// A builder deleted while PENDING and created again under its name: the first builder's start
/// job, run late, neither starts nor fails the new builder.
#[tokio::test]
async fn a_stale_builder_job_leaves_a_newer_builder_of_its_name_alone() {
    use photon_core::builder::BuilderJobs;
    use photon_types::DeleteImageBuilderRequest;
    use photon_workflow::Handler;

    let w = World::new().await;
    let (store, svc, cx) = (&w.store, &w.svc, &w.cx);
    let jobs = BuilderJobs::new(svc.clone());
    let create = small_builder("b");
    let builder = || async {
        store
            .image_builder(Key::new("us-east-1", &cx.account_id, "b"))
            .await
            .unwrap()
    };
    svc.create_image_builder(cx, create.clone()).await.unwrap();
    let first = builder().await.unwrap().attrs.transition_job.unwrap();
    let first = store.job(&first).await.unwrap().unwrap();
    svc.delete_image_builder(cx, DeleteImageBuilderRequest { name: "b".into() })
        .await
        .unwrap();
    w.settle().await;
    assert!(builder().await.is_none());
    svc.create_image_builder(cx, create).await.unwrap();

    jobs.run(&first).await;
    jobs.give_up(&first, "the stale attempt failed").await;
    let b = builder().await.unwrap();
    assert_eq!(
        b.state,
        ImageBuilderState::Pending,
        "the stale job moved the new builder"
    );
    assert_eq!(b.attrs.state_change_reason, None);
    w.settle().await;
    assert_eq!(builder().await.unwrap().state, ImageBuilderState::Running);
}

/// A copy whose job gave up is deleted and copied again under its name: the first copy's job,
/// run late (a retry after its lease ran out), neither completes nor fails the new copy.
#[tokio::test]
async fn a_stale_copy_job_leaves_a_newer_copy_of_its_name_alone() {
    use photon_core::copy::CopyJobs;
    use photon_types::{CopyImageRequest, DeleteImageRequest};
    use photon_workflow::Handler;

    let w = World::with_regions(&["us-east-1", "eu-west-1"]).await;
    let (store, svc, cx) = (&w.store, &w.svc, &w.cx);
    let jobs = CopyJobs::new(svc.clone());
    w.running_builder("b").await;
    w.create_image("b", "v1").await;
    w.settle().await;
    let copy = CopyImageRequest {
        source_image_name: "v1".into(),
        destination_image_name: "c".into(),
        destination_region: "eu-west-1".into(),
        destination_image_description: None,
    };
    let image = || async {
        store
            .image(Key::new("eu-west-1", &cx.account_id, "c"))
            .await
            .unwrap()
            .map(|r| r.image)
    };
    svc.copy_image(cx, copy.clone()).await.unwrap();
    let first = image().await.unwrap().attrs.transition_job.unwrap();
    let first = store.job(&first).await.unwrap().unwrap();
    jobs.give_up(&first, "the first attempt failed").await;
    assert_eq!(image().await.unwrap().state, ImageState::Failed);
    let in_eu = Caller {
        region: "eu-west-1".into(),
        ..cx.clone()
    };
    svc.delete_image(&in_eu, DeleteImageRequest { name: "c".into() })
        .await
        .unwrap();
    svc.copy_image(cx, copy).await.unwrap();
    let second = image().await.unwrap().attrs.transition_job.unwrap();
    assert_ne!(second, first.id, "the new copy is owned by its own job");

    jobs.run(&first).await;
    jobs.give_up(&first, "the stale attempt failed").await;
    let c = image().await.unwrap();
    assert_eq!(
        c.state,
        ImageState::Copying,
        "the stale job moved the new copy"
    );
    assert_eq!(c.attrs.state_change_reason, None);
    assert_eq!(c.attrs.transition_job.as_deref(), Some(second.as_str()));
    w.settle().await;
    let c = image().await.unwrap();
    assert_eq!(c.state, ImageState::Available);
    assert_eq!(
        c.attrs.transition_job, None,
        "an image at rest is owned by no job"
    );
}

/// A domain with every job handler, on a store whose writes a test can halt (a simulated
/// kill -9 after the Nth commit), and a clock moved by hand.
/// A one-instance Windows fleet of the seeded base image.
fn small_fleet(name: &str) -> CreateFleetRequest {
    CreateFleetRequest {
        name: name.into(),
        image_name: Some("AppStream-WinServer2022-11-10-2025".into()),
        instance_type: "stream.standard.medium".into(),
        compute_capacity: Some(ComputeCapacity {
            desired_instances: Some(1),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A Windows image builder of the seeded base image.
fn small_builder(name: &str) -> photon_types::CreateImageBuilderRequest {
    photon_types::CreateImageBuilderRequest {
        name: name.into(),
        image_name: Some("AppStream-WinServer2022-11-10-2025".into()),
        instance_type: "stream.standard.medium".into(),
        ..Default::default()
    }
}

struct World {
    _fresh: FreshStore,
    _blobs: tempfile::TempDir,
    sql: Arc<SqlStore>,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    svc: Service,
    engine: Engine,
    cx: Caller,
}

impl World {
    async fn new() -> World {
        World::with_regions(&["us-east-1"]).await
    }

    async fn with_regions(regions: &[&str]) -> World {
        let fresh = FreshStore::new();
        let sql = Arc::new(SqlStore::connect(&fresh.url).await.unwrap());
        let store: Arc<dyn Store> = sql.clone();
        let dir = tempfile::tempdir().unwrap();
        let blobs = photon_blob::RegionalBlobs::shared(Arc::new(
            photon_blob::FsBlobStore::open(dir.path()).unwrap(),
        ));
        let clock = Arc::new(ManualClock(AtomicI64::new(1_800_000_000_000)));
        let svc = Service::start(
            store.clone(),
            blobs,
            clock.clone(),
            regions.iter().map(|r| r.to_string()).collect(),
        )
        .await
        .unwrap()
        .with_pace(Pace::Instant);
        let engine = Engine::new(store.clone(), clock.clone())
            .with_handler(photon_core::builder::BuilderJobs::new(svc.clone()))
            .with_handler(photon_core::image_assistant::ImageJobs::new(svc.clone()))
            .with_handler(photon_core::update::UpdateJobs::new(svc.clone()))
            .with_handler(photon_core::copy::CopyJobs::new(svc.clone()))
            .with_handler(photon_core::fleet::FleetJobs::new(svc.clone()))
            .with_handler(photon_core::session::SessionJobs::new(svc.clone()));
        World {
            _fresh: fresh,
            _blobs: dir,
            sql,
            store,
            clock,
            svc,
            engine,
            cx: Caller {
                account_id: "111111111111".into(),
                region: "us-east-1".into(),
                request_id: "test".into(),
            },
        }
    }

    /// Runs due jobs until none is left, moving the clock past every lease and backoff.
    async fn settle(&self) {
        for _ in 0..30 {
            self.clock.0.fetch_add(61_000, Ordering::SeqCst);
            if self.engine.tick().await.unwrap() == 0 {
                return;
            }
        }
        panic!("jobs never settled");
    }

    /// One engine tick that dies after `n` writes (the claim is the first), then a restart.
    async fn crash_after(&self, n: u32) {
        self.sql.halt_writes_after(Some(n));
        let _ = self.engine.tick().await;
        self.sql.halt_writes_after(None);
    }

    async fn image(&self, name: &str) -> Option<photon_store::ImageRecord> {
        self.store
            .image(Key::new("us-east-1", &self.cx.account_id, name))
            .await
            .unwrap()
            .map(|r| r.image)
    }

    async fn builder_state(&self, name: &str) -> Option<ImageBuilderState> {
        self.store
            .image_builder(Key::new("us-east-1", &self.cx.account_id, name))
            .await
            .unwrap()
            .map(|b| b.state)
    }

    async fn running_builder(&self, name: &str) {
        self.svc
            .create_image_builder(&self.cx, small_builder(name))
            .await
            .unwrap();
        self.settle().await;
    }

    /// Starts an image from `builder` (the Image Assistant's create-image); its job is queued.
    async fn create_image(&self, builder: &str, name: &str) {
        let r = self
            .svc
            .image_assistant(
                &self.cx,
                builder,
                photon_core::image_assistant::Operation::CreateImage {
                    name: name.into(),
                    description: None,
                    display_name: None,
                    enable_dynamic_app_catalog: false,
                    use_latest_agent_version: false,
                    tags: Vec::new(),
                    dry_run: false,
                },
            )
            .await;
        assert_eq!(r.status, 0, "{}", r.message);
    }

    async fn fault(&self, operation: &str, stage: &str) {
        self.svc
            .add_fault(photon_core::faults::NewFault {
                operation: operation.into(),
                stage: stage.into(),
                error_code: "RehearsedFailure".into(),
                message: "the operator's rehearsal".into(),
                image: None,
                count: 1,
            })
            .await
            .unwrap();
    }
}

/// How many writes the crash tests cut after: every commit boundary of the steps they drive.
const CUTS: u32 = 6;

/// A managed update whose patching fails (a `photon faults` fault) ends FAILED with the
/// fault's message and without its builder, wherever a kill -9 cuts the step: the fault, the
/// builder's removal and the failure are one transaction.
#[tokio::test]
async fn a_failed_update_keeps_its_reason_across_a_kill_at_any_write() {
    for n in 0..CUTS {
        let w = World::new().await;
        w.running_builder("b").await;
        w.create_image("b", "v1").await;
        w.settle().await;
        assert_eq!(w.image("v1").await.unwrap().state, ImageState::Available);
        w.svc
            .publish_base_image(photon_core::releases::Publish {
                platform: "WINDOWS_SERVER_2022".into(),
                date: "2026-12-08".into(),
                agent_version: None,
                content: Vec::new(),
            })
            .await
            .unwrap();
        w.fault("CreateUpdatedImage", "patching").await;
        w.svc
            .create_updated_image(
                &w.cx,
                photon_types::CreateUpdatedImageRequest {
                    existing_image_name: "v1".into(),
                    new_image_name: "v2".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        w.crash_after(n).await;
        w.settle().await;
        let v2 = w.image("v2").await.unwrap();
        assert_eq!(v2.state, ImageState::Failed, "cut after {n} writes");
        let (code, message) = v2.attrs.state_change_reason.clone().unwrap();
        assert_eq!(code, "IMAGE_UPDATE_FAILURE");
        assert!(
            message.contains("the operator's rehearsal"),
            "cut after {n} writes: {message}"
        );
        assert!(
            w.svc.faults().await.unwrap().is_empty(),
            "the fault was used"
        );
        let builders = w
            .store
            .list_image_builders("us-east-1", &w.cx.account_id, None, 100)
            .await;
        let names: Vec<String> = builders.unwrap().into_iter().map(|(_, b)| b.name).collect();
        assert_eq!(
            names,
            ["b"],
            "cut after {n} writes: the update's builder is left"
        );
    }
}

/// A create-image cut by a kill -9 anywhere, then a DeleteImage before the job runs again:
/// the builder never stays SNAPSHOTTING. And a rehearsed snapshot failure is never lost.
#[tokio::test]
async fn a_snapshot_never_strands_its_builder_across_a_kill_at_any_write() {
    for n in 0..CUTS {
        let w = World::new().await;
        w.running_builder("b").await;
        w.create_image("b", "img").await;
        w.crash_after(n).await;
        // The image may be AVAILABLE already; deleting it must not strand the builder.
        let _ = w
            .svc
            .delete_image(
                &w.cx,
                photon_types::DeleteImageRequest { name: "img".into() },
            )
            .await;
        w.settle().await;
        assert_eq!(
            w.builder_state("b").await,
            Some(ImageBuilderState::Stopped),
            "cut after {n} writes"
        );
        if let Some(i) = w.image("img").await {
            assert_eq!(i.state, ImageState::Available, "cut after {n} writes");
        }

        w.svc
            .start_image_builder(
                &w.cx,
                photon_types::StartImageBuilderRequest {
                    name: "b".into(),
                    appstream_agent_version: None,
                },
            )
            .await
            .unwrap();
        w.settle().await;
        w.fault("CreateImage", "snapshot").await;
        w.create_image("b", "faulted").await;
        w.crash_after(n).await;
        w.settle().await;
        let i = w.image("faulted").await.unwrap();
        assert_eq!(i.state, ImageState::Failed, "cut after {n} writes");
        assert!(
            i.attrs.state_change_reason.unwrap().1.contains("rehearsal"),
            "cut after {n} writes"
        );
        assert_eq!(w.builder_state("b").await, Some(ImageBuilderState::Stopped));
    }
}

/// A fleet that stops has no sessions, wherever a kill -9 cuts the stop.
#[tokio::test]
async fn a_stopped_fleet_keeps_no_sessions_across_a_kill_at_any_write() {
    for n in 0..CUTS {
        let w = World::new().await;
        let cx = &w.cx;
        w.svc.create_fleet(cx, small_fleet("fleet")).await.unwrap();
        w.svc
            .start_fleet(
                cx,
                StartFleetRequest {
                    name: "fleet".into(),
                },
            )
            .await
            .unwrap();
        w.settle().await;
        w.svc
            .create_stack(
                cx,
                CreateStackRequest {
                    name: "stack".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        w.svc
            .associate_fleet(
                cx,
                AssociateFleetRequest {
                    stack_name: "stack".into(),
                    fleet_name: "fleet".into(),
                },
            )
            .await
            .unwrap();
        let url = w
            .svc
            .create_streaming_url(
                cx,
                CreateStreamingURLRequest {
                    stack_name: "stack".into(),
                    fleet_name: "fleet".into(),
                    user_id: "alice".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .streaming_url
            .unwrap();
        let token = url.rsplit('/').next().unwrap().to_owned();
        w.svc.open_stream(&token).await.unwrap();
        assert_eq!(
            w.store
                .sessions("us-east-1", &cx.account_id, "fleet")
                .await
                .unwrap()
                .len(),
            1
        );
        w.svc
            .stop_fleet(
                cx,
                photon_types::StopFleetRequest {
                    name: "fleet".into(),
                },
            )
            .await
            .unwrap();
        w.crash_after(n).await;
        w.settle().await;
        let f = w
            .store
            .fleet(Key::new("us-east-1", &cx.account_id, "fleet"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.state, FleetState::Stopped, "cut after {n} writes");
        let left = w
            .store
            .sessions("us-east-1", &cx.account_id, "fleet")
            .await
            .unwrap();
        assert!(left.is_empty(), "cut after {n} writes: {left:?}");
    }
}
