//! The durable lifecycle engine: runs the jobs that carry long transitions (a builder starting,
//! an image being created, copied or updated) to their end, across restarts and crashes.
//!
//! It owns scheduling only: claiming due jobs from the store with a lease, running the handler
//! for the job's kind, and recording the outcome (done, retry with backoff, or failed for good
//! and handed to the handler's `give_up`). It knows nothing of images or builders; handlers do.
//! There is no SQL here: the queue is the `Store`'s job methods.
//!
//! Lease rules: a job is claimed only when its handler is about to start (one claim per job,
//! so a claim, and the attempt it charges, is never held by a job that waits behind another);
//! while the handler runs, the engine renews the lease every `heartbeat` (a third of the lease
//! by default); when a renewal fails (another engine took the job over after the lease ran
//! out, or the store cannot be reached) the attempt is abandoned at once, so two engines never
//! act for one job beyond one heartbeat.
//!
//! Contract for handlers: an attempt can be cut short at any point (a killed process) and then
//! runs again, possibly on another process once the lease runs out. So each attempt must be
//! idempotent: read the resource's current state, do the next step only if it is still due,
//! and write state changes guarded by the state they expect.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use photon_store::{JobOutcome, JobRecord, JobState, Millis, Store, StoreResult};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Where the engine (and the domain) read time from, so tests can control it.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// How one attempt of a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The job reached its end.
    Done,
    /// Not finished: run again after `after` (e.g. the next stage of a paced transition).
    Continue { after: Duration },
    /// Failed in a way that may pass: retry with backoff while attempts remain.
    Retryable(String),
    /// Failed for good.
    Fatal(String),
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An attempt that ended in an error below the handler (a store call, say): retry it, since
/// such errors may pass.
pub fn or_retry<E: std::fmt::Display>(attempt: Result<Step, E>) -> Step {
    attempt.unwrap_or_else(|e| Step::Retryable(e.to_string()))
}

/// Runs the jobs of one kind.
pub trait Handler: Send + Sync + 'static {
    /// The `kind` of the jobs this handler runs.
    fn kind(&self) -> &'static str;
    /// One attempt. Must be idempotent (see the module docs).
    fn run<'a>(&'a self, job: &'a JobRecord) -> BoxFuture<'a, Step>;
    /// Called once when the job fails for good, so the resource leaves its transitional state
    /// (e.g. becomes FAILED with a reason) instead of staying in it forever.
    fn give_up<'a>(&'a self, job: &'a JobRecord, error: &'a str) -> BoxFuture<'a, ()>;
}

/// A job's payload: a typed document, stored as versioned JSON (`{"v":1,"doc":…}`), so a
/// newer Photon can still read what an older one queued.
pub trait Payload: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The version this build writes.
    const VERSION: u32 = 1;

    /// Reads a payload that is not a document of this version: the plain-text payloads Photon
    /// queued before payloads were documents (jobs still queued across an upgrade).
    fn legacy(_text: &str) -> Option<Self> {
        None
    }
}

#[derive(Serialize, Deserialize)]
struct Versioned<P> {
    v: u32,
    doc: P,
}

/// The stored text of a payload.
pub fn encode_payload<P: Payload>(p: &P) -> String {
    serde_json::to_string(&Versioned {
        v: P::VERSION,
        doc: p,
    })
    .unwrap_or_default()
}

/// A stored payload, or `None` when it is neither a document of this version nor a legacy one.
pub fn decode_payload<P: Payload>(text: &str) -> Option<P> {
    match serde_json::from_str::<Versioned<P>>(text) {
        Ok(d) if d.v == P::VERSION => Some(d.doc),
        _ => P::legacy(text),
    }
}

/// One kind of job with a typed payload; `Typed` adapts it to the engine's `Handler`.
pub trait JobKind: Send + Sync + 'static {
    /// The `kind` its jobs are stored under.
    const KIND: &'static str;
    type Payload: Payload;

    /// One attempt. Must be idempotent (see the module docs).
    fn run<'a>(&'a self, job: &'a JobRecord, payload: &'a Self::Payload) -> BoxFuture<'a, Step>;

    /// Called once when the job fails for good (see `Handler::give_up`).
    fn give_up<'a>(
        &'a self,
        job: &'a JobRecord,
        payload: &'a Self::Payload,
        error: &'a str,
    ) -> BoxFuture<'a, ()>;

    /// A new job of this kind, queued to run at `run_at`.
    fn job(
        account_id: &str,
        region: &str,
        resource: &str,
        payload: &Self::Payload,
        run_at: Millis,
        max_attempts: i64,
    ) -> JobRecord {
        new_job(
            Self::KIND,
            account_id,
            region,
            resource,
            &encode_payload(payload),
            run_at,
            max_attempts,
        )
    }
}

/// The one adapter from a typed `JobKind` to the engine: decodes the payload, and fails a job
/// whose payload it cannot read instead of guessing.
pub struct Typed<K>(pub K);

impl<K: JobKind> Handler for Typed<K> {
    fn kind(&self) -> &'static str {
        K::KIND
    }

    fn run<'a>(&'a self, job: &'a JobRecord) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            match decode_payload::<K::Payload>(&job.payload) {
                Some(p) => self.0.run(job, &p).await,
                None => Step::Fatal(format!(
                    "unreadable {} job payload '{}'",
                    K::KIND,
                    job.payload
                )),
            }
        })
    }

    fn give_up<'a>(&'a self, job: &'a JobRecord, error: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            match decode_payload::<K::Payload>(&job.payload) {
                Some(p) => self.0.give_up(job, &p, error).await,
                None => tracing::error!(job = %job.id, kind = K::KIND,
                    "cannot give up a job whose payload is unreadable"),
            }
        })
    }
}

/// When failed attempts are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff: first_delay × 2^(attempt−1), capped.
    pub fn delay(&self, attempt: i64) -> Duration {
        let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        self.first_delay
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.max_delay)
    }
}

fn millis(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub struct Engine {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    handlers: HashMap<&'static str, Arc<dyn Handler>>,
    worker: String,
    lease: Duration,
    heartbeat: Duration,
    batch: u32,
    retry: RetryPolicy,
}

impl Engine {
    /// An engine with a unique worker id; register handlers before running it.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Engine {
        Engine {
            store,
            clock,
            handlers: HashMap::new(),
            worker: format!("worker-{}", uuid::Uuid::new_v4()),
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            batch: 16,
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_handler(mut self, h: Arc<dyn Handler>) -> Engine {
        self.handlers.insert(h.kind(), h);
        self
    }

    /// Sets the lease, and the heartbeat to a third of it.
    pub fn with_lease(mut self, lease: Duration) -> Engine {
        self.lease = lease;
        self.heartbeat = lease / 3;
        self
    }

    /// How often a running job's lease is renewed (must be well under the lease).
    pub fn with_heartbeat(mut self, heartbeat: Duration) -> Engine {
        self.heartbeat = heartbeat;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Engine {
        self.retry = retry;
        self
    }

    pub fn worker_id(&self) -> &str {
        &self.worker
    }

    /// Runs one attempt of each job that is due, up to a batch, claiming each just before its
    /// handler starts. Returns how many ran.
    ///
    /// # Errors
    /// A store failure while claiming. A failure recording one job's outcome is logged and the
    /// job is claimed again when its lease runs out.
    pub async fn tick(&self) -> StoreResult<usize> {
        let mut n = 0;
        while n < self.batch {
            let now = self.clock.now_millis();
            let Some(job) = self
                .store
                .claim_jobs(&self.worker, now, millis(self.lease), 1)
                .await?
                .pop()
            else {
                break;
            };
            n += 1;
            let id = job.id.clone();
            // One job's store failure must not stop the rest: a job whose outcome could not
            // be written runs again when its lease runs out.
            if let Err(e) = self.run_one(job).await {
                tracing::error!(job = %id, error = %e, "could not record a job's outcome");
            }
        }
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Runs `work` while renewing `job`'s lease; `None` when a renewal failed and the work was
    /// abandoned (dropped at its next await point: handlers survive being cut short).
    async fn leased<T>(&self, job: &JobRecord, work: impl Future<Output = T>) -> Option<T> {
        let renew = async {
            let mut every = tokio::time::interval(self.heartbeat);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await; // the first tick is immediate: the claim just set the lease
            loop {
                every.tick().await;
                let until = self.clock.now_millis().saturating_add(millis(self.lease));
                match self.store.heartbeat_job(&job.id, &self.worker, until).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %job.id, kind = %job.kind,
                            "lost the lease while running; abandoning the attempt");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(job = %job.id, kind = %job.kind, error = %e,
                            "could not renew the lease; abandoning the attempt");
                        return;
                    }
                }
            }
        };
        tokio::select! {
            out = work => Some(out),
            () = renew => None,
        }
    }

    async fn run_one(&self, job: JobRecord) -> StoreResult<()> {
        let Some(handler) = self.handlers.get(job.kind.as_str()).cloned() else {
            // A job of a kind this build does not know (e.g. written by a newer Photon): fail
            // it visibly rather than claiming it forever.
            let error = format!("no handler for job kind '{}'", job.kind);
            self.finish(&job, JobOutcome::Failed { error }).await?;
            return Ok(());
        };
        // A job reclaimed after its last allowed attempt was cut short has no attempts left.
        if job.attempts > job.max_attempts {
            let error = job
                .last_error
                .clone()
                .unwrap_or_else(|| "the job was interrupted too many times".to_owned());
            if self
                .leased(&job, handler.give_up(&job, &error))
                .await
                .is_some()
            {
                self.finish(&job, JobOutcome::Failed { error }).await?;
            }
            return Ok(());
        }
        let Some(step) = self.leased(&job, handler.run(&job)).await else {
            count_attempt(&job, "abandoned");
            return Ok(());
        };
        let now = self.clock.now_millis();
        let outcome = match step {
            Step::Done => JobOutcome::Done,
            Step::Continue { after } => JobOutcome::Continue {
                run_at: now.saturating_add(millis(after)),
            },
            Step::Retryable(error) if job.attempts < job.max_attempts => JobOutcome::Retry {
                run_at: now.saturating_add(millis(self.retry.delay(job.attempts))),
                error,
            },
            Step::Retryable(error) | Step::Fatal(error) => {
                if self
                    .leased(&job, handler.give_up(&job, &error))
                    .await
                    .is_none()
                {
                    return Ok(());
                }
                JobOutcome::Failed { error }
            }
        };
        self.finish(&job, outcome).await
    }

    async fn finish(&self, job: &JobRecord, outcome: JobOutcome) -> StoreResult<()> {
        let now = self.clock.now_millis();
        let label = match outcome {
            JobOutcome::Done => "done",
            JobOutcome::Continue { .. } => "continue",
            JobOutcome::Retry { .. } => "retry",
            JobOutcome::Failed { .. } => "failed",
        };
        if self
            .store
            .finish_job(&job.id, &self.worker, &outcome, now)
            .await?
        {
            count_attempt(job, label);
        } else {
            // The lease ran out and another worker took the job over; its outcome stands.
            tracing::warn!(job = %job.id, kind = %job.kind, "lost the lease before finishing");
            count_attempt(job, "lost_lease");
        }
        Ok(())
    }

    /// Runs until `shutdown` resolves: ticks, and sleeps `idle` when there was nothing to do.
    pub async fn run(self, idle: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let ran = match self.tick().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "engine tick failed; retrying");
                    0
                }
            };
            if ran == 0 {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(idle) => {}
                }
            }
        }
    }
}

/// A new job record, queued to run at `run_at`.
pub fn new_job(
    kind: &str,
    account_id: &str,
    region: &str,
    resource: &str,
    payload: &str,
    run_at: Millis,
    max_attempts: i64,
) -> JobRecord {
    JobRecord {
        id: uuid::Uuid::new_v4().to_string(),
        kind: kind.to_owned(),
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        resource: resource.to_owned(),
        payload: payload.to_owned(),
        state: JobState::Queued,
        run_at,
        attempts: 0,
        max_attempts,
        lease_owner: None,
        lease_until: None,
        last_error: None,
        created_at: run_at,
        updated_at: run_at,
    }
}

/// One attempt's end in the operator's metrics: `photon_job_attempts_total{kind, outcome}`.
fn count_attempt(job: &JobRecord, outcome: &'static str) {
    metrics::counter!("photon_job_attempts_total", "kind" => job.kind.clone(), "outcome" => outcome)
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Target {
        Up { agent: Option<String> },
        Down,
    }

    impl Payload for Target {
        fn legacy(text: &str) -> Option<Self> {
            (text == "DOWN").then_some(Target::Down)
        }
    }

    #[test]
    fn payloads_are_versioned_documents_and_legacy_text_still_reads() {
        let up = Target::Up {
            agent: Some("1.0".into()),
        };
        let text = encode_payload(&up);
        assert_eq!(text, r#"{"v":1,"doc":{"Up":{"agent":"1.0"}}}"#);
        assert_eq!(decode_payload::<Target>(&text), Some(up));
        assert_eq!(decode_payload::<Target>("DOWN"), Some(Target::Down));
        assert_eq!(decode_payload::<Target>(r#"{"v":9,"doc":"Down"}"#), None);
        assert_eq!(decode_payload::<Target>("garbage"), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1), Duration::from_secs(1));
        assert_eq!(p.delay(2), Duration::from_secs(2));
        assert_eq!(p.delay(4), Duration::from_secs(8));
        assert_eq!(p.delay(50), Duration::from_secs(60));
        assert_eq!(p.delay(0), Duration::from_secs(1));
    }
}
