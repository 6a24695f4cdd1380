//! Guarded state changes of the resources jobs drive (images, image builders, fleets), and
//! which job owns each transition.
//!
//! A request that starts a transition queues the job that finishes it and records that job's
//! id on the resource (`transition_job`), in the same transaction. The job's steps and its
//! give-up change the resource only while it still names them, and leave it at rest with no
//! owner. So a stale job (one retried after its lease ran out, or one queued before a newer
//! request restarted the transition) can never finish or fail a transition a newer job owns.
//! A resource written before owners were recorded names none, and any job of the right kind
//! may move it, as before.

use std::future::Future;

use photon_store::{
    BuilderRecord, FleetRecord, ImageRecord, JobRecord, Key, LockKey, Stateful, Store, StoreResult,
    Transition, WriteTx,
};

use crate::arn::Arn;
use crate::CoreError;

/// A resource kind whose state a job drives: how a transaction locks, reads and writes it.
pub(crate) trait Driven: Stateful + Sized + Send + Sync {
    fn lock(key: Key<'_>) -> LockKey;
    fn read<'a>(
        tx: &'a mut dyn WriteTx,
        key: Key<'a>,
    ) -> impl Future<Output = StoreResult<Option<Self>>> + Send + 'a;
    fn write<'a>(
        tx: &'a mut dyn WriteTx,
        record: &'a Self,
    ) -> impl Future<Output = StoreResult<()>> + Send + 'a;
}

/// Each kind's lock, read and write, as the unit of work spells them.
macro_rules! driven {
    ($($record:ty => $lock:expr, $read:ident, $write:ident;)*) => {$(
        impl Driven for $record {
            fn lock(key: Key<'_>) -> LockKey {
                $lock(key)
            }
            fn read<'a>(
                tx: &'a mut dyn WriteTx,
                key: Key<'a>,
            ) -> impl Future<Output = StoreResult<Option<Self>>> + Send + 'a {
                tx.$read(key)
            }
            fn write<'a>(
                tx: &'a mut dyn WriteTx,
                record: &'a Self,
            ) -> impl Future<Output = StoreResult<()>> + Send + 'a {
                tx.$write(record)
            }
        }
    )*};
}

driven! {
    BuilderRecord => |k: Key<'_>| LockKey::ImageBuilder(crate::builder::builder_arn(k.region, k.owner, k.name)),
        image_builder, put_image_builder;
    FleetRecord => |k: Key<'_>| LockKey::Fleet(crate::fleet::fleet_arn(k.region, k.owner, k.name)),
        fleet, put_fleet;
    ImageRecord => |k: Key<'_>| LockKey::Image(Arn::image(k.region, k.owner, k.name)),
        image, put_image;
}

/// Who makes a change.
#[derive(Clone, Copy)]
pub(crate) enum By<'a> {
    /// A request. It may start a transition, queueing the job that finishes it, which then
    /// owns it; `None` for a change that ends at rest.
    Request(Option<&'a JobRecord>),
    /// A job finishing (or giving up) its transition: refused unless the job owns it, and the
    /// resource is left at rest, owned by no job.
    Job(&'a JobRecord),
}

/// Whether `job` may still change `record`: it owns the record's transition, or the record
/// names no owner (at rest, or written before owners were recorded).
pub(crate) fn owns<R: Stateful>(record: &R, job: &JobRecord) -> bool {
    record.transition_job().is_none_or(|id| id == job.id)
}

/// Starts a transition for `job` (the job that finishes it, queued by the caller's transaction).
pub(crate) fn hand_to<R: Stateful>(record: &mut R, job: &JobRecord) {
    record.set_transition_job(Some(job.id.clone()));
}

/// In one transaction: moves the resource at `key` from one of `from` to `to` (after `edit`,
/// which sets what else the change records), as `by` allows, and queues the request's job.
/// A job that no longer owns the transition finds the resource in the wrong state, so its
/// caller does what it does for any change that already moved on: nothing.
pub(crate) async fn change<R: Driven>(
    store: &dyn Store,
    key: Key<'_>,
    from: &[R::State],
    to: R::State,
    by: By<'_>,
    edit: impl FnOnce(&mut R) + Send,
) -> Result<Transition<R>, CoreError> {
    let mut tx = store.write().await?;
    tx.lock(R::lock(key)).await?;
    let Some(mut record) = R::read(tx.as_mut(), key).await? else {
        return Ok(Transition::NotFound);
    };
    let state = record.state();
    if !from.contains(&state) {
        return Ok(Transition::WrongState(state));
    }
    let next = match by {
        By::Job(job) if !owns(&record, job) => {
            tracing::debug!(
                job = %job.id,
                owner = ?record.transition_job(),
                "a newer job owns this transition; the stale job leaves it alone"
            );
            return Ok(Transition::WrongState(state));
        }
        By::Job(_) | By::Request(None) => None,
        By::Request(Some(job)) => Some(job),
    };
    record.set_state(to);
    record.set_transition_job(next.map(|j| j.id.clone()));
    edit(&mut record);
    R::write(tx.as_mut(), &record).await?;
    if let Some(job) = next {
        tx.enqueue(job).await?;
    }
    tx.commit().await?;
    Ok(Transition::Done(Box::new(record)))
}
