//! The unit of work: one write transaction that a domain rule reads through, decides in, and
//! commits as a whole, so that everything one step decides (every resource it changes, the
//! fault it consumes, the job it queues) lands together or not at all.
//!
//! Rules stay in the domain: a `WriteTx` reads and writes records and takes locks; it never
//! decides whether a change is allowed. Two rules hold for every transaction:
//! - Locks are taken in `LockKey` order (images, then image builders, then stacks, then fleets,
//!   then an account's set of images, then its set of fleets, then the fault list; keys of one
//!   kind in their own order), so two transactions never wait on each other in a cycle. Debug
//!   builds check the order on every `lock`.
//! - Nothing else is awaited inside one: no blob I/O, no network, no other store call. SQLite
//!   has one writer, so a transaction held open across slow work stops every other write.
//!   Compute first, then open the transaction, write, commit.

use std::collections::BTreeMap;

use photon_types::ImageState;

use crate::{
    BuilderFile, BuilderRecord, FaultRecord, FleetRecord, ImageRecord, ImageRow, ImageUsage,
    JobRecord, Millis, SessionRecord, StackRecord, StoreResult,
};

/// The identity of every per-account resource (image, image builder, stack, fleet): its
/// region, its owning account (`""` for the public catalogue) and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key<'a> {
    pub region: &'a str,
    pub owner: &'a str,
    pub name: &'a str,
}

impl<'a> Key<'a> {
    pub fn new(region: &'a str, owner: &'a str, name: &'a str) -> Self {
        Key {
            region,
            owner,
            name,
        }
    }
}

/// What a write transaction can lock, in lock order (the derived `Ord`: variant first, then
/// the key). Holding a resource's lock serialises its writers across processes (PostgreSQL's
/// advisory locks; SQLite's one writer needs none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockKey {
    /// An image, by ARN: its own writes, its sharing, and fleet writes that check it.
    Image(String),
    /// An image builder, by ARN.
    ImageBuilder(String),
    /// A stack, by ARN: its settings and its fleet association. Taken before the fleets the
    /// stack's rules read.
    Stack(String),
    /// A fleet, by ARN.
    Fleet(String),
    /// The set of one account's image builders in one region (`image-builders:{owner}:{region}`):
    /// creations that count them against the quota.
    AccountBuilders(String),
    /// The set of one account's images in one region (`images:{owner}:{region}`): creations
    /// that count them against the quota.
    AccountImages(String),
    /// The set of one account's fleets in one region (`fleets:{owner}:{region}`): creations
    /// that count them against the quota.
    AccountFleets(String),
    /// The set of one account's stacks in one region (`stacks:{owner}:{region}`).
    AccountStacks(String),
    /// The operator's fault list (`photon faults`).
    Faults,
}

impl LockKey {
    /// The name the engines lock on; the same names the single-call store methods lock, so
    /// both kinds of write serialise against each other.
    pub fn name(&self) -> &str {
        match self {
            LockKey::Image(arn)
            | LockKey::ImageBuilder(arn)
            | LockKey::Stack(arn)
            | LockKey::Fleet(arn)
            | LockKey::AccountBuilders(arn)
            | LockKey::AccountImages(arn)
            | LockKey::AccountFleets(arn)
            | LockKey::AccountStacks(arn) => arn,
            LockKey::Faults => "faults",
        }
    }
}

impl LockKey {
    /// The lock on `owner`'s image builders in `region`.
    pub fn account_builders(owner: &str, region: &str) -> LockKey {
        LockKey::AccountBuilders(format!("image-builders:{owner}:{region}"))
    }

    /// The lock on `owner`'s stacks in `region`.
    pub fn account_stacks(owner: &str, region: &str) -> LockKey {
        LockKey::AccountStacks(format!("stacks:{owner}:{region}"))
    }

    /// The lock on `owner`'s images in `region`.
    pub fn account_images(owner: &str, region: &str) -> LockKey {
        LockKey::AccountImages(format!("images:{owner}:{region}"))
    }

    /// The lock on `owner`'s fleets in `region`.
    pub fn account_fleets(owner: &str, region: &str) -> LockKey {
        LockKey::AccountFleets(format!("fleets:{owner}:{region}"))
    }
}

/// Checks the lock order of one transaction (debug builds panic on a violation, which is a
/// bug in the calling rule, never in input).
#[derive(Debug, Default)]
pub struct LockOrder {
    last: Option<LockKey>,
}

impl LockOrder {
    /// Records `key`; `false` when it was taken out of order.
    pub fn take(&mut self, key: &LockKey) -> bool {
        let ok = self.last.as_ref().is_none_or(|last| last <= key);
        debug_assert!(
            ok,
            "lock {key:?} taken after {:?}: take locks in LockKey order",
            self.last
        );
        if ok {
            self.last = Some(key.clone());
        }
        ok
    }
}

/// One open write transaction. Dropping it without `commit` rolls everything back.
#[async_trait::async_trait]
pub trait WriteTx: Send {
    /// Takes `key`'s lock for the rest of the transaction (in `LockKey` order).
    async fn lock(&mut self, key: LockKey) -> StoreResult<()>;

    async fn image(&mut self, key: Key<'_>) -> StoreResult<Option<ImageRecord>>;
    /// An image as its owner sees it, with whether it is shared.
    async fn image_row(&mut self, key: Key<'_>) -> StoreResult<Option<ImageRow>>;
    /// What keeps an image alive: its shares and the owner's fleets on it. Stable under the
    /// image's lock, which sharers and fleet writers take.
    async fn image_usage(&mut self, key: Key<'_>) -> StoreResult<ImageUsage>;
    /// Deletes an image with its shares and tags; `false` if there is none.
    async fn delete_image(&mut self, key: Key<'_>) -> StoreResult<bool>;
    /// How many images `owner` has in `region`. Lock `LockKey::account_images` first.
    async fn count_images(&mut self, region: &str, owner: &str) -> StoreResult<i64>;
    /// How many of `owner`'s images in `region` are in `state` (copies or updates under way).
    /// Lock `LockKey::account_images` first.
    async fn count_images_in_state(
        &mut self,
        region: &str,
        owner: &str,
        state: ImageState,
    ) -> StoreResult<i64>;
    /// Inserts a new image; `Conflict` when the name is taken.
    async fn insert_image(&mut self, image: &ImageRecord) -> StoreResult<()>;
    /// Writes an existing image's state and attributes.
    async fn put_image(&mut self, image: &ImageRecord) -> StoreResult<()>;

    /// `account`'s permissions on an image, as (allowFleet, allowImageBuilder), if shared.
    async fn image_share(
        &mut self,
        key: Key<'_>,
        account: &str,
    ) -> StoreResult<Option<(bool, bool)>>;
    /// Shares an image with `account` with these permissions (`Some`), or stops (`None`).
    async fn put_image_share(
        &mut self,
        key: Key<'_>,
        account: &str,
        permissions: Option<(bool, bool)>,
        now: Millis,
    ) -> StoreResult<()>;
    /// How many accounts an image is shared with.
    async fn count_image_shares(&mut self, key: Key<'_>) -> StoreResult<i64>;

    async fn image_builder(&mut self, key: Key<'_>) -> StoreResult<Option<BuilderRecord>>;
    /// Writes an existing builder's state and attributes.
    async fn put_image_builder(&mut self, builder: &BuilderRecord) -> StoreResult<()>;
    /// Records a file (or, with `digest` `None`, a deletion) in a builder's own layer.
    async fn put_builder_file(
        &mut self,
        key: Key<'_>,
        file: &BuilderFile,
        now: Millis,
    ) -> StoreResult<()>;
    /// Deletes a builder with its tags and files; `false` if it was not there.
    async fn delete_image_builder(&mut self, key: Key<'_>) -> StoreResult<bool>;

    async fn stack(&mut self, key: Key<'_>) -> StoreResult<Option<StackRecord>>;
    /// Writes an existing stack's attributes.
    async fn put_stack(&mut self, stack: &StackRecord) -> StoreResult<()>;
    /// The names of the fleets associated with a stack, in name order.
    async fn stack_fleets(&mut self, key: Key<'_>) -> StoreResult<Vec<String>>;
    /// Associates `fleet` with a stack.
    async fn insert_stack_fleet(&mut self, key: Key<'_>, fleet: &str) -> StoreResult<()>;
    /// Ends a stack's association with `fleet`; `false` if they were not associated.
    async fn delete_stack_fleet(&mut self, key: Key<'_>, fleet: &str) -> StoreResult<bool>;
    /// Deletes a stack with its tags and fleet associations; `false` if it was not there.
    async fn delete_stack(&mut self, key: Key<'_>) -> StoreResult<bool>;

    async fn fleet(&mut self, key: Key<'_>) -> StoreResult<Option<FleetRecord>>;
    /// The names of `owner`'s fleets in `region` that run the image `image_arn`, in name order.
    async fn fleets_on_image(
        &mut self,
        region: &str,
        owner: &str,
        image_arn: &str,
    ) -> StoreResult<Vec<String>>;
    /// Writes an existing fleet's state, image, instance type and attributes.
    async fn put_fleet(&mut self, fleet: &FleetRecord) -> StoreResult<()>;
    /// The stacks a fleet is associated with. Stable under the fleet's lock: an association
    /// is written under it.
    async fn fleet_stacks(&mut self, key: Key<'_>) -> StoreResult<Vec<String>>;
    /// Deletes a fleet and its tags; `false` if there is none.
    async fn delete_fleet(&mut self, key: Key<'_>) -> StoreResult<bool>;
    /// How many fleets `owner` has in `region`. Lock `LockKey::account_fleets` first.
    async fn count_fleets(&mut self, region: &str, owner: &str) -> StoreResult<i64>;
    /// Inserts a new fleet; `Conflict` when the name is taken.
    async fn insert_fleet(&mut self, fleet: &FleetRecord) -> StoreResult<()>;
    /// How many image builders `owner` has in `region`. Lock `LockKey::account_builders` first.
    async fn count_image_builders(&mut self, region: &str, owner: &str) -> StoreResult<i64>;
    /// Inserts a new image builder; `Conflict` when the name is taken.
    async fn insert_image_builder(&mut self, builder: &BuilderRecord) -> StoreResult<()>;
    /// How many stacks `owner` has in `region`. Lock `LockKey::account_stacks` first.
    async fn count_stacks(&mut self, region: &str, owner: &str) -> StoreResult<i64>;
    /// Inserts a new stack; `Conflict` when the name is taken.
    async fn insert_stack(&mut self, stack: &StackRecord) -> StoreResult<()>;
    /// Adds tags to a resource that has none yet (a resource being created).
    async fn insert_tags(&mut self, arn: &str, tags: &BTreeMap<String, String>) -> StoreResult<()>;
    /// Records that a streaming URL was used; `false` if it was used before.
    async fn use_streaming_url(&mut self, id: &str, at: Millis) -> StoreResult<bool>;
    /// How many sessions a fleet has.
    async fn count_fleet_sessions(&mut self, key: Key<'_>) -> StoreResult<i64>;
    async fn insert_session(&mut self, session: &SessionRecord) -> StoreResult<()>;
    /// Ends every session on a fleet; returns how many there were.
    async fn delete_fleet_sessions(&mut self, key: Key<'_>) -> StoreResult<u64>;

    /// Consumes one failure of the first armed fault for `operation`'s `stage` and `image`.
    /// Lock `LockKey::Faults` first.
    async fn take_fault(
        &mut self,
        operation: &str,
        stage: &str,
        image: &str,
    ) -> StoreResult<Option<FaultRecord>>;

    async fn enqueue(&mut self, job: &JobRecord) -> StoreResult<()>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_order_is_images_builders_stacks_fleets_account_sets_faults() {
        let mut o = LockOrder::default();
        assert!(o.take(&LockKey::Image("arn:a".into())));
        assert!(o.take(&LockKey::Image("arn:b".into())));
        assert!(o.take(&LockKey::ImageBuilder("arn:a".into())));
        assert!(o.take(&LockKey::Stack("arn:a".into())));
        assert!(o.take(&LockKey::Fleet("arn:a".into())));
        assert!(o.take(&LockKey::account_builders("111122223333", "us-east-1")));
        assert!(o.take(&LockKey::account_images("111122223333", "us-east-1")));
        assert!(o.take(&LockKey::account_fleets("111122223333", "us-east-1")));
        assert!(o.take(&LockKey::account_stacks("111122223333", "us-east-1")));
        assert!(o.take(&LockKey::Faults));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "LockKey order")]
    fn a_lock_out_of_order_is_caught_in_debug_builds() {
        let mut o = LockOrder::default();
        o.take(&LockKey::Fleet("arn:f".into()));
        o.take(&LockKey::Image("arn:i".into()));
    }
}
