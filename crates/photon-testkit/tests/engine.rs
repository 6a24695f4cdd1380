//! The durable engine at the unit level, with a clock the test moves by hand, on the engine the
//! environment selects (SQLite, or PostgreSQL with `PHOTON_TEST_DATABASE_URL`): no lost job, no
//! double effect, backoff, giving up, stages, and a lease that runs out handing the work over.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use photon_store::{JobOutcome, JobRecord, JobState, Store};
use photon_store_sql::SqlStore;
use photon_testkit::FreshStore;
use photon_workflow::{new_job, BoxFuture, Clock, Engine, Handler, RetryPolicy, Step};

struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl ManualClock {
    fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

/// Behaves as its job's payload says: `done`, `fail:N` (N retryable failures, then done),
/// `fatal`, `stages:N` (N further stages, then done), `hold` (waits until `release` is
/// notified, then done). Counts runs, finished holds and give-ups per job.
#[derive(Default)]
struct Scripted {
    runs: Mutex<HashMap<String, u32>>,
    gave_up: Mutex<HashMap<String, String>>,
    release: tokio::sync::Notify,
    held: AtomicI64,
}

impl Scripted {
    fn runs(&self, id: &str) -> u32 {
        self.runs.lock().unwrap().get(id).copied().unwrap_or(0)
    }
}

impl Handler for Scripted {
    fn kind(&self) -> &'static str {
        "scripted"
    }

    fn run<'a>(&'a self, job: &'a JobRecord) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let n = {
                let mut runs = self.runs.lock().unwrap();
                let n = runs.entry(job.id.clone()).or_default();
                *n += 1;
                *n
            };
            let (what, arg) = job.payload.split_once(':').unwrap_or((&job.payload, "0"));
            let arg: u32 = arg.parse().unwrap();
            match what {
                "done" => Step::Done,
                "hold" => {
                    self.release.notified().await;
                    self.held.fetch_add(1, Ordering::SeqCst);
                    Step::Done
                }
                "fatal" => Step::Fatal("broken for good".into()),
                "fail" if n <= arg => Step::Retryable(format!("failure {n}")),
                "stages" if n <= arg => Step::Continue {
                    after: Duration::from_secs(5),
                },
                _ => Step::Done,
            }
        })
    }

    fn give_up<'a>(&'a self, job: &'a JobRecord, error: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let prev = self
                .gave_up
                .lock()
                .unwrap()
                .insert(job.id.clone(), error.to_owned());
            assert!(prev.is_none(), "give_up ran twice for {}", job.id);
        })
    }
}

struct Rig {
    _fresh: FreshStore,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    handler: Arc<Scripted>,
}

impl Rig {
    async fn new() -> Rig {
        let fresh = FreshStore::new();
        let store: Arc<dyn Store> = Arc::new(SqlStore::connect(&fresh.url).await.unwrap());
        Rig {
            _fresh: fresh,
            store,
            clock: Arc::new(ManualClock(AtomicI64::new(1_000_000))),
            handler: Arc::new(Scripted::default()),
        }
    }

    fn engine(&self) -> Engine {
        Engine::new(self.store.clone(), self.clock.clone())
            .with_handler(self.handler.clone())
            .with_lease(Duration::from_secs(30))
            .with_retry(RetryPolicy {
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(60),
            })
    }

    async fn enqueue(&self, payload: &str, max_attempts: i64) -> String {
        let job = new_job(
            "scripted",
            "111111111111",
            "us-east-1",
            "arn:aws:appstream:us-east-1:111111111111:image-builder/b",
            payload,
            self.clock.now_millis(),
            max_attempts,
        );
        self.store.enqueue_job(&job).await.unwrap();
        job.id
    }

    async fn job(&self, id: &str) -> JobRecord {
        self.store.job(id).await.unwrap().unwrap()
    }
}

#[tokio::test]
async fn a_job_runs_once_and_is_done() {
    let r = Rig::new().await;
    let e = r.engine();
    let id = r.enqueue("done", 3).await;
    assert_eq!(e.tick().await.unwrap(), 1);
    assert_eq!(r.job(&id).await.state, JobState::Done);
    assert_eq!(e.tick().await.unwrap(), 0);
    r.clock.advance(3_600_000);
    assert_eq!(e.tick().await.unwrap(), 0, "a done job never runs again");
    assert_eq!(r.handler.runs(&id), 1);
}

#[tokio::test]
async fn retries_back_off_then_succeed() {
    let r = Rig::new().await;
    let e = r.engine();
    let id = r.enqueue("fail:2", 5).await;
    assert_eq!(e.tick().await.unwrap(), 1);
    let j = r.job(&id).await;
    assert_eq!((j.state, j.attempts), (JobState::Queued, 1));
    assert_eq!(j.last_error.as_deref(), Some("failure 1"));
    assert_eq!(e.tick().await.unwrap(), 0, "not due before its backoff");
    r.clock.advance(1_000);
    assert_eq!(e.tick().await.unwrap(), 1);
    r.clock.advance(1_000);
    assert_eq!(e.tick().await.unwrap(), 0, "the second backoff is 2 s");
    r.clock.advance(1_000);
    assert_eq!(e.tick().await.unwrap(), 1);
    assert_eq!(r.job(&id).await.state, JobState::Done);
    assert_eq!(r.handler.runs(&id), 3);
}

#[tokio::test]
async fn exhausted_and_fatal_jobs_fail_visibly_once() {
    let r = Rig::new().await;
    let e = r.engine();
    let flaky = r.enqueue("fail:10", 3).await;
    let fatal = r.enqueue("fatal", 3).await;
    for _ in 0..10 {
        e.tick().await.unwrap();
        r.clock.advance(60_000);
    }
    let j = r.job(&flaky).await;
    assert_eq!((j.state, j.attempts), (JobState::Failed, 3));
    assert_eq!(r.handler.runs(&flaky), 3);
    assert_eq!(r.job(&fatal).await.state, JobState::Failed);
    assert_eq!(r.handler.runs(&fatal), 1);
    let gave_up = r.handler.gave_up.lock().unwrap().clone();
    assert_eq!(gave_up.get(&flaky).map(String::as_str), Some("failure 3"));
    assert_eq!(
        gave_up.get(&fatal).map(String::as_str),
        Some("broken for good")
    );
}

#[tokio::test]
async fn stages_do_not_use_up_attempts() {
    let r = Rig::new().await;
    let e = r.engine();
    let id = r.enqueue("stages:3", 1).await;
    for _ in 0..4 {
        assert_eq!(e.tick().await.unwrap(), 1);
        assert_eq!(
            e.tick().await.unwrap(),
            0,
            "the next stage waits for its time"
        );
        r.clock.advance(5_000);
    }
    assert_eq!(r.job(&id).await.state, JobState::Done);
    assert_eq!(r.handler.runs(&id), 4);
}

#[tokio::test]
async fn an_expired_lease_hands_the_job_over_and_fences_the_old_owner() {
    let r = Rig::new().await;
    let e = r.engine();
    let id = r.enqueue("done", 3).await;
    // A worker claims the job and dies (kill -9) before finishing.
    let now = r.clock.now_millis();
    let claimed = r
        .store
        .claim_jobs("dead-worker", now, 30_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        e.tick().await.unwrap(),
        0,
        "a leased job is not claimed twice"
    );
    r.clock.advance(30_001);
    assert_eq!(
        e.tick().await.unwrap(),
        1,
        "the expired lease hands it over"
    );
    let j = r.job(&id).await;
    assert_eq!((j.state, j.attempts), (JobState::Done, 2));
    // The dead worker's late answer changes nothing.
    let late = JobOutcome::Failed {
        error: "late".into(),
    };
    assert!(!r
        .store
        .finish_job(&id, "dead-worker", &late, r.clock.now_millis())
        .await
        .unwrap());
    assert!(!r
        .store
        .heartbeat_job(&id, "dead-worker", i64::MAX)
        .await
        .unwrap());
    assert_eq!(r.job(&id).await.state, JobState::Done);
}

#[tokio::test]
async fn a_job_interrupted_on_its_last_attempt_gives_up() {
    let r = Rig::new().await;
    let e = r.engine();
    let id = r.enqueue("done", 1).await;
    let now = r.clock.now_millis();
    r.store
        .claim_jobs("dead-worker", now, 30_000, 10)
        .await
        .unwrap();
    r.clock.advance(30_001);
    assert_eq!(e.tick().await.unwrap(), 1);
    assert_eq!(r.job(&id).await.state, JobState::Failed);
    assert_eq!(r.handler.runs(&id), 0, "no attempt beyond the last one");
    assert!(r.handler.gave_up.lock().unwrap().contains_key(&id));
}

#[tokio::test]
async fn concurrent_engines_never_run_a_job_twice() {
    let r = Rig::new().await;
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(r.enqueue("done", 3).await);
    }
    let (a, b) = (r.engine(), r.engine());
    let run = |e: Engine| async move {
        let mut total = 0;
        for _ in 0..10 {
            total += e.tick().await.unwrap();
        }
        total
    };
    let (na, nb) = tokio::join!(run(a), run(b));
    assert_eq!(na + nb, 40);
    for id in &ids {
        assert_eq!(
            r.handler.runs(id),
            1,
            "job {id} ran {} times",
            r.handler.runs(id)
        );
        assert_eq!(r.job(id).await.state, JobState::Done);
    }
}

#[tokio::test]
async fn unknown_kinds_fail_instead_of_looping() {
    let r = Rig::new().await;
    let e = r.engine();
    let mut job = new_job(
        "from-the-future",
        "1",
        "us-east-1",
        "x",
        "{}",
        r.clock.now_millis(),
        3,
    );
    job.kind = "from-the-future".into();
    r.store.enqueue_job(&job).await.unwrap();
    assert_eq!(e.tick().await.unwrap(), 1);
    let j = r.job(&job.id).await;
    assert_eq!(j.state, JobState::Failed);
    assert!(j.last_error.unwrap().contains("no handler"));
}

/// The lease of a job that runs longer than the lease is renewed while it runs, so a second
/// engine never takes it over; and only the job that starts is charged an attempt (a claim is
/// never held by jobs waiting behind it).
#[tokio::test]
async fn a_long_job_keeps_its_lease_and_waiting_jobs_are_not_charged() {
    let r = Rig::new().await;
    let a = Arc::new(r.engine().with_heartbeat(Duration::from_millis(10)));
    let b = r.engine();
    let long = r.enqueue("hold", 3).await;
    r.clock.advance(1); // claims go in run_at order: the long job first
    let waiting = r.enqueue("done", 3).await;
    let ticking = tokio::spawn({
        let a = a.clone();
        async move { a.tick().await.unwrap() }
    });
    let claimed = r.job(&long).await;
    let mut lease = claimed.lease_until;
    for _ in 0..200 {
        if lease.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        lease = r.job(&long).await.lease_until;
    }
    assert_eq!(
        r.job(&waiting).await.attempts,
        0,
        "only the started job is charged"
    );
    // Twice the lease goes by, a little at a time, with heartbeats between.
    for _ in 0..6 {
        let before = r.job(&long).await.lease_until.unwrap();
        r.clock.advance(10_000);
        let mut renewed = false;
        for _ in 0..400 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if r.job(&long).await.lease_until.unwrap() > before {
                renewed = true;
                break;
            }
        }
        assert!(renewed, "the running job's lease was not renewed");
    }
    // B may run the waiting job, but never the one A still runs.
    assert_eq!(b.tick().await.unwrap(), 1);
    assert_eq!(r.handler.runs(&waiting), 1);
    assert_eq!(
        r.handler.runs(&long),
        1,
        "a second engine took over a held job"
    );
    r.handler.release.notify_one();
    assert_eq!(ticking.await.unwrap(), 1);
    let j = r.job(&long).await;
    assert_eq!((j.state, j.attempts), (JobState::Done, 1));
}

/// An engine whose renewal fails (another engine holds the job now) abandons the attempt
/// instead of finishing it on top of the new holder's work.
#[tokio::test]
async fn an_engine_that_lost_the_lease_abandons_the_attempt() {
    let r = Rig::new().await;
    let a = Arc::new(r.engine().with_heartbeat(Duration::from_millis(10)));
    let id = r.enqueue("hold", 3).await;
    let ticking = tokio::spawn({
        let a = a.clone();
        async move { a.tick().await.unwrap() }
    });
    for _ in 0..200 {
        if r.job(&id).await.lease_owner.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Another engine takes the job at a time past any lease A can have set.
    let far = r.clock.now_millis() + 86_400_000;
    let stolen = r.store.claim_jobs("thief", far, 30_000, 1).await.unwrap();
    assert_eq!(stolen.len(), 1);
    assert_eq!(
        ticking.await.unwrap(),
        1,
        "A's attempt returned without the handler"
    );
    assert_eq!(
        r.handler.held.load(Ordering::SeqCst),
        0,
        "the abandoned attempt ran on"
    );
    let j = r.job(&id).await;
    assert_eq!(j.lease_owner.as_deref(), Some("thief"));
    assert_eq!(
        j.state,
        JobState::Running,
        "A wrote an outcome over the thief's lease"
    );
}
