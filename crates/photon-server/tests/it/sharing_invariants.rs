//! Randomised (property-style) sharing test: three accounts share, unshare, create and update
//! fleets, delete and copy images in random order (partly concurrently), plus deliberate races
//! each round, and after every round the invariants below must hold.
//!
//! 1. No orphaned permission: what a recipient sees as SHARED is the owner's PRIVATE image and
//!    in the owner's DescribeImagePermissions with the same permissions, and vice versa.
//! 2. No deletable image in use: a shared image (or one its owner's fleet uses) refuses
//!    DeleteImage with ResourceInUseException; once unshared and unused it can be deleted (a
//!    recipient's fleets hold it only through the share, and are zeroed when that goes).
//! 3. No fleet on an image it may not use: a fleet on another account's image either has fleet
//!    permission on it now, or has desired capacity 0 and an IMAGE_NOT_FOUND fleet error.
//! 4. Copies are independent private images of the copier: COPYING or AVAILABLE at once,
//!    AVAILABLE eventually, shared with nobody.
//!
//! The deliberate races of every round, each checked for both orders:
//! A. the owner's DeleteImagePermissions against the recipient's CreateFleet on the image;
//! B. UpdateImagePermissions taking fleet permission away (and giving it back) against the
//!    recipient's UpdateFleet(ComputeCapacity);
//! C. a revocation against the recipient's UpdateFleet moving a fleet onto the image;
//! D. the owner's DeleteImage against its own CreateFleet on, or sharing of, the image;
//! E. a revocation against UpdateFleet(ImageArn) naming the image a zeroed fleet already has.
//!
//! The seed comes from `PHOTON_PROPTEST_SEED` (else the clock) and is printed and named in every
//! assertion; concurrent outcomes can still differ between runs, so every operation and its
//! outcome is printed too (`-- --nocapture`, or the captured output of a failure).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Debug, Display};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_appstream::config::http::HttpResponse;
use aws_sdk_appstream::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_appstream::types::{
    ComputeCapacity, Fleet, FleetErrorCode, FleetType, Image, ImagePermissions,
    ImageSharedWithOthers, ImageState, VisibilityType,
};
use aws_sdk_appstream::Client;
use common::bin;
use photon_testkit::{Photon, Proto, BOTH};

const HOME: &str = "us-east-1";
const WEST: &str = "us-west-2";
const REGIONS: [&str; 2] = [HOME, WEST];
const ACCOUNTS: usize = 3;
const ROUNDS: usize = 5;
/// Random operations per round: this many before the deliberate races and as many after.
const OPS_HALF: usize = 15;
const INSTANCE: &str = "stream.standard.medium";
const BASE: &str = "AppStream-WinServer2022-11-10-2025";

/// Errors that random operations legitimately provoke; anything else fails the test.
const RANDOM_OK: &[&str] = &[
    "ResourceInUseException",
    "ResourceNotFoundException",
    "OperationNotPermittedException",
    "LimitExceededException",
    "ResourceAlreadyExistsException",
    "ConcurrentModificationException",
    "ResourceNotAvailableException",
];
/// Errors the sides of the races may answer.
const REFUSED: &[&str] = &[
    "OperationNotPermittedException",
    "ResourceNotFoundException",
];
const BUSY_OR_REFUSED: &[&str] = &[
    "OperationNotPermittedException",
    "ResourceNotFoundException",
    "ConcurrentModificationException",
];
const NOT_PERMITTED_OR_BUSY: &[&str] = &[
    "OperationNotPermittedException",
    "ConcurrentModificationException",
];
const IN_USE: &[&str] = &["ResourceInUseException"];
const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];
/// A call that must succeed.
const NONE: &[&str] = &[];

/// splitmix64: a tiny seeded generator, enough to pick operations reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    fn other_than(&mut self, a: usize) -> usize {
        (a + 1 + self.below(ACCOUNTS - 1)) % ACCOUNTS
    }

    fn pick(&mut self, set: &BTreeSet<String>, fallback: &str) -> String {
        if set.is_empty() {
            return fallback.to_owned();
        }
        let i = self.below(set.len());
        set.iter()
            .nth(i)
            .cloned()
            .unwrap_or_else(|| fallback.to_owned())
    }
}

fn seed() -> u64 {
    match std::env::var("PHOTON_PROPTEST_SEED") {
        Ok(s) if !s.trim().is_empty() => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("PHOTON_PROPTEST_SEED={s:?} is not a u64")),
        _ => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(42),
    }
}

fn perms(fleet: bool, builder: bool) -> ImagePermissions {
    ImagePermissions::builder()
        .allow_fleet(fleet)
        .allow_image_builder(builder)
        .build()
}

fn capacity(n: i32) -> ComputeCapacity {
    ComputeCapacity::builder().desired_instances(n).build()
}

/// The account field of an ARN (the 5th `:`-separated field; empty for public images).
fn arn_account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or("")
}

fn desired(f: &Fleet) -> Option<i32> {
    f.compute_capacity_status().and_then(|c| c.desired())
}

fn image_not_found(f: &Fleet) -> bool {
    f.fleet_errors()
        .iter()
        .any(|e| e.error_code() == Some(&FleetErrorCode::ImageNotFound))
}

/// Zeroed for want of its image: desired capacity 0 and an IMAGE_NOT_FOUND error.
fn zeroed(f: &Fleet) -> bool {
    desired(f) == Some(0) && image_not_found(f)
}

/// A fleet's desired capacity and errors, for messages.
fn state(f: &Fleet) -> String {
    format!("desired {:?} and errors {:?}", desired(f), f.fleet_errors())
}

fn image_perms(img: &Image) -> Option<(bool, bool)> {
    img.image_permissions().map(|p| {
        (
            p.allow_fleet().unwrap_or(false),
            p.allow_image_builder().unwrap_or(false),
        )
    })
}

/// A failed call of any operation: what `Env::ok` and `Env::allow` judge.
struct Failure {
    code: Option<String>,
    status: Option<u16>,
    message: Option<String>,
    debug: String,
}

impl<E: ProvideErrorMetadata + Debug> From<SdkError<E, HttpResponse>> for Failure {
    fn from(e: SdkError<E, HttpResponse>) -> Self {
        Failure {
            code: e.code().map(str::to_owned),
            status: e.raw_response().map(|r| r.status().as_u16()),
            message: e.message().map(str::to_owned),
            debug: format!("{e:?}"),
        }
    }
}

/// The outcome of `Env::send`: the destination name of a copy, nothing for the others.
type Sent = Result<Option<String>, Failure>;

fn sent<T, E: Into<Failure>>(r: Result<T, E>) -> Sent {
    r.map(|_| None).map_err(Into::into)
}

/// The clients of the three accounts, in both protocols and both regions.
struct Env {
    seed: u64,
    ids: Vec<String>,
    /// `clients[account][proto * 2 + region]`
    clients: Vec<Vec<Client>>,
    tick: AtomicUsize,
}

impl Env {
    fn ctx(&self) -> String {
        format!(
            "seed {} (replay: PHOTON_PROPTEST_SEED={})",
            self.seed, self.seed
        )
    }

    /// A client of `acct` in `proto` for `region`.
    fn cp(&self, acct: usize, proto: Proto, region: &str) -> Client {
        let p = usize::from(proto == Proto::Json);
        let r = REGIONS.iter().position(|x| *x == region).expect("region");
        self.clients[acct][p * 2 + r].clone()
    }

    /// A client of `acct` for `region`, alternating the protocols call by call.
    fn c(&self, acct: usize, region: &str) -> Client {
        let proto = BOTH[self.tick.fetch_add(1, Ordering::Relaxed) % 2];
        self.cp(acct, proto, region)
    }

    fn image_arn(&self, owner: usize, region: &str, name: &str) -> String {
        format!(
            "arn:aws:appstream:{region}:{}:image/{name}",
            self.ids[owner]
        )
    }

    fn account_of(&self, id: &str) -> usize {
        self.ids
            .iter()
            .position(|x| x == id)
            .unwrap_or_else(|| panic!("{}: account {id:?} is none of the test's", self.ctx()))
    }

    /// The result of a call that must succeed.
    fn ok<T, E: Into<Failure>>(&self, what: &str, r: Result<T, E>) -> T {
        match self.allow(what, r, NONE) {
            Ok(v) => v,
            Err(code) => unreachable!("{what}: no error is allowed, yet {code} was"),
        }
    }

    /// The result of a call, or the code of one of the `allowed` errors; any other failure
    /// (an InternalFailure, a 5xx, a timeout) fails the test.
    fn allow<T, E: Into<Failure>>(
        &self,
        what: &str,
        r: Result<T, E>,
        allowed: &[&str],
    ) -> Result<T, String> {
        r.map_err(|e| {
            let e = e.into();
            match e.code {
                Some(code)
                    if allowed.contains(&code.as_str()) && e.status.is_some_and(|s| s < 500) =>
                {
                    code
                }
                code => panic!(
                    "{}: {what} failed: code {code:?}, status {:?}, message {:?}: {}",
                    self.ctx(),
                    e.status,
                    e.message,
                    e.debug
                ),
            }
        })
    }

    /// Performs `op` in HOME, in `proto` (or alternating the protocols).
    async fn send(&self, op: &Op, proto: Option<Proto>) -> Sent {
        let c = match proto {
            Some(proto) => self.cp(op.actor(), proto, HOME),
            None => self.c(op.actor(), HOME),
        };
        match op {
            Op::Share {
                name,
                with,
                fleet,
                builder,
                ..
            } => sent(
                c.update_image_permissions()
                    .name(name)
                    .shared_account_id(&self.ids[*with])
                    .image_permissions(perms(*fleet, *builder))
                    .send()
                    .await,
            ),
            Op::Unshare { name, with, .. } => sent(
                c.delete_image_permissions()
                    .name(name)
                    .shared_account_id(&self.ids[*with])
                    .send()
                    .await,
            ),
            Op::CreateFleet {
                fleet,
                image,
                desired,
                ..
            } => {
                let b = c
                    .create_fleet()
                    .name(fleet)
                    .instance_type(INSTANCE)
                    .fleet_type(FleetType::OnDemand)
                    .compute_capacity(capacity(*desired));
                let b = match image {
                    ImageRef::Name(n) => b.image_name(n),
                    ImageRef::Arn(a) => b.image_arn(a),
                };
                sent(b.send().await)
            }
            Op::UpdateFleet {
                fleet,
                image,
                desired,
                ..
            } => {
                let mut b = c.update_fleet().name(fleet);
                b = match image {
                    Some(ImageRef::Name(n)) => b.image_name(n),
                    Some(ImageRef::Arn(a)) => b.image_arn(a),
                    None => b,
                };
                if let Some(n) = desired {
                    b = b.compute_capacity(capacity(*n));
                }
                sent(b.send().await)
            }
            Op::DeleteImage { name, .. } => sent(c.delete_image().name(name).send().await),
            Op::CopyImage {
                source,
                dest,
                region,
                ..
            } => c
                .copy_image()
                .source_image_name(source)
                .destination_image_name(dest)
                .destination_region(*region)
                .send()
                .await
                .map(|out| out.destination_image_name().map(str::to_owned))
                .map_err(Into::into),
        }
    }
}

/// What the test believes exists: only a source of plausible targets (stale entries are fine,
/// they provoke NotFound), resynchronised from the API after every round's checks.
#[derive(Default)]
struct Model {
    /// Image names per account in HOME.
    images: Vec<BTreeSet<String>>,
    /// Fleet names per account (HOME).
    fleets: Vec<BTreeSet<String>>,
    /// Shares made by the random operations (owner, image, recipient): most unshares pick one.
    shares: BTreeSet<(usize, String, usize)>,
    /// Copies that must become AVAILABLE: (account, region, name).
    copies: BTreeSet<(usize, &'static str, String)>,
    /// Outcome counts, printed at the end: (operation, outcome).
    tally: BTreeMap<(String, String), usize>,
}

impl Model {
    fn count(&mut self, op: &str, outcome: &str) {
        *self
            .tally
            .entry((op.to_owned(), outcome.to_owned()))
            .or_default() += 1;
    }

    /// What an operation changed (an unshare forgets the share whatever its outcome).
    fn apply(&mut self, op: &Op, ok: bool) {
        match op {
            Op::Unshare { owner, name, with } => {
                self.shares.remove(&(*owner, name.clone(), *with));
            }
            _ if !ok => {}
            Op::Share {
                owner,
                name,
                with,
                fleet,
                builder,
            } => {
                let share = (*owner, name.clone(), *with);
                if *fleet || *builder {
                    self.shares.insert(share);
                } else {
                    self.shares.remove(&share);
                }
            }
            Op::CreateFleet { acct, fleet, .. } => {
                self.fleets[*acct].insert(fleet.clone());
            }
            Op::UpdateFleet { .. } => {}
            Op::DeleteImage { owner, name } => {
                self.images[*owner].remove(name);
                self.copies.remove(&(*owner, HOME, name.clone()));
            }
            Op::CopyImage {
                owner,
                dest,
                region,
                ..
            } => {
                if *region == HOME {
                    self.images[*owner].insert(dest.clone());
                }
                self.copies.insert((*owner, *region, dest.clone()));
            }
        }
    }

    /// Prints and counts the outcome of a deliberate race.
    fn report(&mut self, label: &str, what: &str, outcome: &str) {
        println!("{what}: {outcome}");
        self.count(label, outcome);
    }
}

#[derive(Debug, Clone)]
enum ImageRef {
    Name(String),
    Arn(String),
}

#[derive(Debug, Clone)]
enum Op {
    Share {
        owner: usize,
        name: String,
        with: usize,
        fleet: bool,
        builder: bool,
    },
    Unshare {
        owner: usize,
        name: String,
        with: usize,
    },
    CreateFleet {
        acct: usize,
        fleet: String,
        image: ImageRef,
        desired: i32,
    },
    UpdateFleet {
        acct: usize,
        fleet: String,
        image: Option<ImageRef>,
        desired: Option<i32>,
    },
    DeleteImage {
        owner: usize,
        name: String,
    },
    CopyImage {
        owner: usize,
        source: String,
        dest: String,
        region: &'static str,
    },
}

impl Op {
    fn share(owner: usize, name: &str, with: usize, fleet: bool, builder: bool) -> Op {
        let name = name.to_owned();
        Op::Share {
            owner,
            name,
            with,
            fleet,
            builder,
        }
    }

    fn unshare(owner: usize, name: &str, with: usize) -> Op {
        let name = name.to_owned();
        Op::Unshare { owner, name, with }
    }

    fn create(acct: usize, fleet: &str, image: ImageRef, desired: i32) -> Op {
        let fleet = fleet.to_owned();
        Op::CreateFleet {
            acct,
            fleet,
            image,
            desired,
        }
    }

    fn update(acct: usize, fleet: &str, image: Option<ImageRef>, desired: Option<i32>) -> Op {
        let fleet = fleet.to_owned();
        Op::UpdateFleet {
            acct,
            fleet,
            image,
            desired,
        }
    }

    fn delete(owner: usize, name: &str) -> Op {
        let name = name.to_owned();
        Op::DeleteImage { owner, name }
    }

    /// The account that performs the operation.
    fn actor(&self) -> usize {
        match self {
            Op::Share { owner, .. }
            | Op::Unshare { owner, .. }
            | Op::DeleteImage { owner, .. }
            | Op::CopyImage { owner, .. } => *owner,
            Op::CreateFleet { acct, .. } | Op::UpdateFleet { acct, .. } => *acct,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Op::Share { .. } => "UpdateImagePermissions",
            Op::Unshare { .. } => "DeleteImagePermissions",
            Op::CreateFleet { .. } => "CreateFleet",
            Op::UpdateFleet { .. } => "UpdateFleet",
            Op::DeleteImage { .. } => "DeleteImage",
            Op::CopyImage { .. } => "CopyImage",
        }
    }

    /// The images (account, region, name) the operation names, and whether it creates one
    /// (a copy's destination, which no other operation of its batch may touch: the copy checks
    /// its fresh image right after creating it).
    fn images(&self, env: &Env) -> Vec<((usize, &'static str, String), bool)> {
        let by_ref = |acct: usize, r: &ImageRef| match r {
            ImageRef::Name(n) => (acct, HOME, n.clone()),
            ImageRef::Arn(a) => {
                let owner = arn_account(a);
                let o = if owner.is_empty() {
                    usize::MAX
                } else {
                    env.account_of(owner)
                };
                (o, HOME, a.rsplit('/').next().unwrap_or("").to_owned())
            }
        };
        match self {
            Op::Share { owner, name, .. }
            | Op::Unshare { owner, name, .. }
            | Op::DeleteImage { owner, name } => vec![((*owner, HOME, name.clone()), false)],
            Op::CreateFleet { acct, image, .. } => vec![(by_ref(*acct, image), false)],
            Op::UpdateFleet { acct, image, .. } => {
                image.iter().map(|i| (by_ref(*acct, i), false)).collect()
            }
            Op::CopyImage {
                owner,
                source,
                dest,
                region,
            } => vec![
                ((*owner, HOME, source.clone()), false),
                ((*owner, *region, dest.clone()), true),
            ],
        }
    }
}

fn plan_image(rng: &mut Rng, env: &Env, m: &Model, acct: usize) -> ImageRef {
    let mine: Vec<&(usize, String, usize)> = m.shares.iter().filter(|s| s.2 == acct).collect();
    match rng.below(10) {
        // Mostly an image shared with the account (perhaps without fleet permission)...
        0..=3 if !mine.is_empty() => {
            let (o, name, _) = mine[rng.below(mine.len())];
            ImageRef::Arn(env.image_arn(*o, HOME, name))
        }
        // ... or any image of another account, shared or not.
        0..=5 => {
            let o = rng.other_than(acct);
            let name = rng.pick(&m.images[o], "no-such-image");
            ImageRef::Arn(env.image_arn(o, HOME, &name))
        }
        6..=8 => ImageRef::Name(rng.pick(&m.images[acct], "no-such-image")),
        _ => ImageRef::Name(BASE.to_owned()),
    }
}

fn plan(rng: &mut Rng, env: &Env, m: &Model) -> Op {
    let a = rng.below(ACCOUNTS);
    match rng.below(18) {
        0..=3 => {
            let (fleet, builder) = match rng.below(4) {
                0 => (true, true),
                1 => (true, false),
                2 => (false, true),
                // Clearing both permissions is how the console stops sharing.
                _ => (false, false),
            };
            Op::Share {
                owner: a,
                name: rng.pick(&m.images[a], "no-such-image"),
                with: rng.other_than(a),
                fleet,
                builder,
            }
        }
        4..=6 if !m.shares.is_empty() && rng.below(4) > 0 => {
            let i = rng.below(m.shares.len());
            let (owner, name, with) = m.shares.iter().nth(i).cloned().expect("share");
            Op::Unshare { owner, name, with }
        }
        4..=6 => Op::Unshare {
            owner: a,
            name: rng.pick(&m.images[a], "no-such-image"),
            with: rng.other_than(a),
        },
        7..=9 => Op::CreateFleet {
            acct: a,
            fleet: format!("f{}", rng.below(6)),
            image: plan_image(rng, env, m, a),
            desired: rng.below(3) as i32,
        },
        10..=13 => {
            let fleet = rng.pick(&m.fleets[a], "f0");
            let (image, desired) = match rng.below(3) {
                0 => (None, Some(rng.below(3) as i32)),
                1 => (Some(plan_image(rng, env, m, a)), None),
                _ => (Some(plan_image(rng, env, m, a)), Some(rng.below(3) as i32)),
            };
            Op::UpdateFleet {
                acct: a,
                fleet,
                image,
                desired,
            }
        }
        14..=15 => Op::DeleteImage {
            owner: a,
            name: rng.pick(&m.images[a], "no-such-image"),
        },
        _ => Op::CopyImage {
            owner: a,
            source: rng.pick(&m.images[a], "no-such-image"),
            // Account-prefixed, so one account's copy never shares a name with an image another
            // account shares with it; a small pool, so names collide now and then.
            dest: format!("a{a}-cp{}", rng.below(8)),
            region: REGIONS[rng.below(2)],
        },
    }
}

/// Performs a random operation: its outcome is "ok" or the code of an error it may provoke.
async fn run_op(env: &Env, op: &Op, proto: Proto) -> String {
    let what = format!("{op:?} [{proto:?}]");
    match env.allow(&what, env.send(op, Some(proto)).await, RANDOM_OK) {
        Ok(out) => {
            if let Op::CopyImage {
                owner,
                dest,
                region,
                ..
            } = op
            {
                assert_eq!(out.as_deref(), Some(dest.as_str()), "{}: {what}", env.ctx());
                check_fresh_copy(env, *owner, region, dest).await;
            }
            "ok".to_owned()
        }
        Err(code) => code,
    }
}

/// The image `name` of `acct` in `region`, which must exist.
async fn describe_image(env: &Env, acct: usize, region: &str, name: &str, what: &str) -> Image {
    let r = env
        .c(acct, region)
        .describe_images()
        .names(name)
        .send()
        .await;
    env.ok(what, r).images()[0].clone()
}

/// Invariant 4 at once: the copy is the copier's own private image in the destination region,
/// COPYING or already AVAILABLE, and shared with nobody.
async fn check_fresh_copy(env: &Env, owner: usize, region: &str, name: &str) {
    let img = describe_image(env, owner, region, name, "DescribeImages (fresh copy)").await;
    let ctx = format!("{}: copy {name} to {region} by account {owner}", env.ctx());
    assert_eq!(
        img.arn(),
        Some(env.image_arn(owner, region, name).as_str()),
        "{ctx}"
    );
    assert_eq!(img.visibility(), Some(&VisibilityType::Private), "{ctx}");
    assert!(
        matches!(
            img.state(),
            Some(ImageState::Copying | ImageState::Available)
        ),
        "{ctx}: state {:?}",
        img.state()
    );
    assert_eq!(
        img.image_shared_with_others(),
        Some(&ImageSharedWithOthers::False),
        "{ctx}"
    );
    let shared = describe_perms(env, owner, region, name).await;
    assert!(
        shared.is_empty(),
        "{ctx}: a fresh copy is shared: {shared:?}"
    );
}

/// Every page of a listing: `page` fetches the page after a token and returns its items and
/// the next token.
async fn pages<T, F, Fut>(mut page: F) -> Vec<T>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = (Vec<T>, Option<String>)>,
{
    let (mut out, mut token) = (Vec::new(), None);
    loop {
        let (items, next) = page(token).await;
        out.extend(items);
        token = next;
        if token.is_none() {
            return out;
        }
    }
}

async fn list_images(env: &Env, acct: usize, region: &str, t: VisibilityType) -> Vec<Image> {
    let (c, t) = (&env.c(acct, region), &t);
    pages(|token| async move {
        let b = c.describe_images().r#type(t.clone()).max_results(25);
        let r = env.ok("DescribeImages", b.set_next_token(token).send().await);
        (r.images().to_vec(), r.next_token().map(str::to_owned))
    })
    .await
}

async fn list_fleets(env: &Env, acct: usize) -> Vec<Fleet> {
    let c = &env.c(acct, HOME);
    pages(|token| async move {
        let r = c.describe_fleets().set_next_token(token).send().await;
        let r = env.ok("DescribeFleets", r);
        (r.fleets().to_vec(), r.next_token().map(str::to_owned))
    })
    .await
}

/// The owner's DescribeImagePermissions: account id → (allowFleet, allowImageBuilder).
async fn describe_perms(
    env: &Env,
    owner: usize,
    region: &str,
    name: &str,
) -> BTreeMap<String, (bool, bool)> {
    let c = &env.c(owner, region);
    let listed = pages(|token| async move {
        let b = c.describe_image_permissions().name(name);
        let r = env.ok(
            "DescribeImagePermissions",
            b.set_next_token(token).send().await,
        );
        let page = r.shared_image_permissions_list().iter().map(|s| {
            let p = s.image_permissions();
            (
                s.shared_account_id().unwrap_or_default().to_owned(),
                (
                    p.and_then(|p| p.allow_fleet()).unwrap_or(false),
                    p.and_then(|p| p.allow_image_builder()).unwrap_or(false),
                ),
            )
        });
        (page.collect(), r.next_token().map(str::to_owned))
    })
    .await;
    let mut out = BTreeMap::new();
    for (acct, p) in listed {
        assert!(
            out.insert(acct, p).is_none(),
            "{}: DescribeImagePermissions of {name} lists an account twice",
            env.ctx()
        );
    }
    out
}

async fn fleet(env: &Env, acct: usize, name: &str) -> Result<Fleet, String> {
    let r = env.c(acct, HOME).describe_fleets().names(name).send().await;
    env.allow("DescribeFleets", r, NOT_FOUND)
        .map(|r| r.fleets()[0].clone())
}

/// The fleet `name` of `acct`, which must exist and be zeroed (invariant 3 for a fleet whose
/// fleet permission is gone); `why` says why it must be.
async fn assert_zeroed(env: &Env, acct: usize, name: &str, why: &str) {
    check_zeroed(env, &fleet(env, acct, name).await.expect("race fleet"), why);
}

fn check_zeroed(env: &Env, f: &Fleet, why: &str) {
    assert!(
        zeroed(f),
        "{}: {why}, yet fleet {} has {}",
        env.ctx(),
        f.name().unwrap_or_default(),
        state(f)
    );
}

/// The image `arn` as `acct` sees it among the images shared with it, if it does.
async fn seen_shared(env: &Env, acct: usize, arn: &str) -> Option<Image> {
    let shared = list_images(env, acct, HOME, VisibilityType::Shared).await;
    shared.into_iter().find(|img| img.arn() == Some(arn))
}

/// Everything the invariants speak about, read through the API while nothing changes.
struct Snapshot {
    /// Per account: its images in HOME by ARN.
    private: Vec<BTreeMap<String, Image>>,
    /// Image ARN → account id → permissions, from the owners' DescribeImagePermissions.
    perms: BTreeMap<String, BTreeMap<String, (bool, bool)>>,
    /// Per account: the images shared with it in HOME, by ARN.
    shared: Vec<BTreeMap<String, Image>>,
    fleets: Vec<Vec<Fleet>>,
}

async fn snapshot(env: &Env) -> Snapshot {
    let mut s = Snapshot {
        private: Vec::new(),
        perms: BTreeMap::new(),
        shared: Vec::new(),
        fleets: Vec::new(),
    };
    for a in 0..ACCOUNTS {
        let mine = list_images(env, a, HOME, VisibilityType::Private).await;
        let mut by_arn = BTreeMap::new();
        for img in mine {
            let arn = img.arn().unwrap_or_default().to_owned();
            let name = img.name().unwrap_or_default().to_owned();
            s.perms
                .insert(arn.clone(), describe_perms(env, a, HOME, &name).await);
            by_arn.insert(arn, img);
        }
        s.private.push(by_arn);
        let shared = list_images(env, a, HOME, VisibilityType::Shared).await;
        s.shared.push(
            shared
                .into_iter()
                .map(|i| (i.arn().unwrap_or_default().to_owned(), i))
                .collect(),
        );
        s.fleets.push(list_fleets(env, a).await);
    }
    s
}

/// Invariants 1 and 3 (and the part of 2 that a snapshot shows: no fleet on a deleted image).
fn verify(env: &Env, s: &Snapshot, when: &str) {
    let ctx = format!("{} [{when}]", env.ctx());
    // 1: every SHARED image is the owner's, listed in its permissions with the same ones.
    for (r, shared) in s.shared.iter().enumerate() {
        for (arn, img) in shared {
            assert_eq!(
                img.visibility(),
                Some(&VisibilityType::Shared),
                "{ctx}: {arn}"
            );
            let o = env.account_of(arn_account(arn));
            assert_ne!(o, r, "{ctx}: account {r} sees its own {arn} as SHARED");
            assert!(
                s.private[o].contains_key(arn),
                "{ctx}: orphaned permission: account {r} sees {arn} as SHARED but its owner \
                 (account {o}) has no such PRIVATE image"
            );
            let owner_view = s.perms.get(arn).and_then(|p| p.get(&env.ids[r]));
            assert!(
                owner_view.is_some(),
                "{ctx}: orphaned permission: account {r} sees {arn} as SHARED with {:?} but \
                 the owner's DescribeImagePermissions does not list it ({:?})",
                image_perms(img),
                s.perms.get(arn)
            );
            assert_eq!(
                image_perms(img),
                owner_view.copied(),
                "{ctx}: account {r} and the owner disagree on the permissions of {arn}"
            );
        }
    }
    // 1, the other way: every permission the owner lists is seen by the recipient.
    for (o, mine) in s.private.iter().enumerate() {
        for (arn, img) in mine {
            assert_eq!(
                img.visibility(),
                Some(&VisibilityType::Private),
                "{ctx}: {arn}"
            );
            assert_eq!(arn_account(arn), env.ids[o], "{ctx}: {arn}");
            assert_eq!(
                img.state(),
                Some(&ImageState::Available),
                "{ctx}: {arn} is not AVAILABLE after the copies finished"
            );
            let p = &s.perms[arn];
            let flag = if p.is_empty() {
                ImageSharedWithOthers::False
            } else {
                ImageSharedWithOthers::True
            };
            assert_eq!(
                img.image_shared_with_others(),
                Some(&flag),
                "{ctx}: ImageSharedWithOthers of {arn} disagrees with its permissions {p:?}"
            );
            for (acct, want) in p {
                let r = env.account_of(acct);
                let seen = s.shared[r].get(arn);
                assert!(
                    seen.is_some(),
                    "{ctx}: orphaned permission: the owner (account {o}) lists account {r} \
                     for {arn} with {want:?}, but it does not see the image as SHARED"
                );
                assert_eq!(
                    seen.and_then(image_perms),
                    Some(*want),
                    "{ctx}: account {r} sees other permissions on {arn} than the owner lists"
                );
            }
        }
    }
    // 3: fleets use only images they may use, or are zeroed with IMAGE_NOT_FOUND.
    for (a, fleets) in s.fleets.iter().enumerate() {
        for f in fleets {
            let name = f.name().unwrap_or_default();
            let arn = f.image_arn().unwrap_or_default();
            let owner = arn_account(arn);
            if owner.is_empty() {
                continue;
            }
            let o = env.account_of(owner);
            if o == a {
                assert!(
                    s.private[o].contains_key(arn),
                    "{ctx}: fleet {name} of account {a} uses {arn}, which no longer exists: an \
                     image in use was deleted"
                );
                continue;
            }
            // Another account's image may be gone (unshared, then deleted): the fleet must then
            // be zeroed like any fleet on an image it may not use.
            let p = s.perms.get(arn).and_then(|p| p.get(&env.ids[a])).copied();
            let may_use = p.is_some_and(|(fleet, _)| fleet);
            assert!(
                may_use || zeroed(f),
                "{ctx}: fleet {name} of account {a} is on {arn} of account {o}, shared with it \
                 as {p:?}, yet has {}",
                state(f)
            );
        }
    }
}

/// Invariant 4 once the copies are done: every image in the other region is an AVAILABLE
/// private image shared with nobody, and nobody sees anything shared there.
async fn verify_west(env: &Env) {
    for a in 0..ACCOUNTS {
        for img in list_images(env, a, WEST, VisibilityType::Private).await {
            let name = img.name().unwrap_or_default();
            let ctx = format!("{}: {WEST} image {name} of account {a}", env.ctx());
            assert_eq!(img.state(), Some(&ImageState::Available), "{ctx}");
            assert_eq!(
                img.image_shared_with_others(),
                Some(&ImageSharedWithOthers::False),
                "{ctx}"
            );
            assert!(
                describe_perms(env, a, WEST, name).await.is_empty(),
                "{ctx}: shared"
            );
        }
        let shared = list_images(env, a, WEST, VisibilityType::Shared).await;
        assert!(
            shared.is_empty(),
            "{}: account {a} sees images shared in {WEST}, where nobody shared any: {:?}",
            env.ctx(),
            shared.iter().map(|i| i.arn()).collect::<Vec<_>>()
        );
    }
}

/// Invariant 4, eventually: every copy made becomes AVAILABLE (passing only through COPYING).
async fn wait_copies(env: &Env, m: &mut Model) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for (owner, region, name) in std::mem::take(&mut m.copies) {
        let what = format!("DescribeImages of copy {name} in {region}");
        loop {
            let img = describe_image(env, owner, region, &name, &what).await;
            match img.state() {
                Some(ImageState::Available) => break,
                Some(ImageState::Copying) => {}
                other => panic!(
                    "{}: copy {name} of account {owner} in {region} is {other:?}: {:?}",
                    env.ctx(),
                    img.state_change_reason()
                ),
            }
            assert!(
                Instant::now() < deadline,
                "{}: copy {name} of account {owner} in {region} never became AVAILABLE",
                env.ctx()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn resync(env: &Env, m: &mut Model, s: &Snapshot) {
    m.shares.clear();
    for (arn, p) in &s.perms {
        let owner = env.account_of(arn_account(arn));
        let name = arn.rsplit('/').next().unwrap_or_default();
        for acct in p.keys() {
            m.shares
                .insert((owner, name.to_owned(), env.account_of(acct)));
        }
    }
    for a in 0..ACCOUNTS {
        m.images[a] = s.private[a]
            .values()
            .map(|i| i.name().unwrap_or_default().to_owned())
            .collect();
        m.fleets[a] = s.fleets[a]
            .iter()
            .map(|f| f.name().unwrap_or_default().to_owned())
            .collect();
    }
}

/// Makes room for `need` more fleets in `acct` (10 per account and region) by deleting some of
/// its fleets, all STOPPED (nothing here starts a fleet).
async fn fleet_room(env: &Env, m: &mut Model, acct: usize, need: usize) {
    let fleets = list_fleets(env, acct).await;
    let extra = (fleets.len() + need).saturating_sub(10);
    for f in fleets.iter().take(extra) {
        delete_fleet(env, m, acct, f.name().unwrap_or_default()).await;
    }
}

async fn delete_fleet(env: &Env, m: &mut Model, acct: usize, name: &str) {
    env.ok(
        &format!("DeleteFleet {name} of account {acct}"),
        env.c(acct, HOME).delete_fleet().name(name).send().await,
    );
    m.fleets[acct].remove(name);
}

async fn random_ops(env: &Env, rng: &mut Rng, m: &mut Model, round: usize, n: usize) {
    let mut done = 0;
    while done < n {
        // A batch of 1 to 3 operations run concurrently; a copy's new image is its alone.
        let size = (1 + rng.below(3)).min(n - done);
        let mut batch: Vec<(Op, Proto)> = Vec::new();
        let mut keys: Vec<((usize, &str, String), bool)> = Vec::new();
        for _ in 0..size {
            for _attempt in 0..5 {
                let op = plan(rng, env, m);
                let mine = op.images(env);
                let clash = mine
                    .iter()
                    .any(|(k, excl)| keys.iter().any(|(k2, excl2)| k == k2 && (*excl || *excl2)));
                if !clash {
                    keys.extend(mine);
                    let proto = BOTH[(done + batch.len()) % 2];
                    batch.push((op, proto));
                    break;
                }
            }
        }
        let batch = &batch;
        let run = |i: usize| async move {
            match batch.get(i) {
                Some((op, proto)) => Some(run_op(env, op, *proto).await),
                None => None,
            }
        };
        let (r0, r1, r2) = tokio::join!(run(0), run(1), run(2));
        for (i, outcome) in [r0, r1, r2].into_iter().enumerate() {
            let Some(outcome) = outcome else { continue };
            let (op, proto) = &batch[i];
            println!(
                "[round {round} op {}{}] {op:?} [{proto:?}] -> {outcome}",
                done + i,
                if batch.len() > 1 { " (concurrent)" } else { "" }
            );
            m.count(op.kind(), &outcome);
            m.apply(op, outcome == "ok");
        }
        done += batch.len().max(1);
    }
}

/// Head starts for the two sides of a race, in microseconds: none, or up to 1.5 ms for one
/// side, so either side wins now and then.
struct Delays(u64, u64);

impl Delays {
    fn draw(rng: &mut Rng) -> Delays {
        let d = rng.below(1500) as u64;
        match rng.below(3) {
            0 => Delays(0, 0),
            1 => Delays(d, 0),
            _ => Delays(0, d),
        }
    }
}

impl Display for Delays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "delays {}/{} us", self.0, self.1)
    }
}

async fn after<F: Future>(micros: u64, f: F) -> F::Output {
    if micros > 0 {
        tokio::time::sleep(Duration::from_micros(micros)).await;
    }
    f.await
}

/// One side of a race: the operation and the errors it may answer (`NONE`: it must succeed).
type Side = (Op, &'static [&'static str]);

/// The two sides' outcomes (`Err` with the code of an allowed error) and their head starts.
type Raced = (Result<(), String>, Result<(), String>, Delays);

/// Runs the two sides of race `tag` at once, each after its head start: the first in protocol
/// `BOTH[i % 2]`, the second in the other.
async fn race(env: &Env, rng: &mut Rng, tag: &str, i: usize, a: Side, b: Side) -> Raced {
    let d = Delays::draw(rng);
    let (ra, rb) = tokio::join!(
        after(d.0, env.send(&a.0, Some(BOTH[i % 2]))),
        after(d.1, env.send(&b.0, Some(BOTH[(i + 1) % 2])))
    );
    let judge = |(op, allowed): Side, r: Sent| {
        let what = format!("race {tag}: {}", op.kind());
        env.allow(&what, r, allowed).map(|_| ())
    };
    (judge(a, ra), judge(b, rb), d)
}

/// `ok` for a side that succeeded, else `refused` and its error code.
fn either(r: &Result<(), String>, ok: &str, refused: &str) -> String {
    match r {
        Ok(()) => ok.to_owned(),
        Err(code) => format!("{refused}: {code}"),
    }
}

/// Shares `name` of `owner` with `with`; the set-up of a race, so it must succeed.
async fn share(env: &Env, owner: usize, name: &str, with: usize, fleet: bool, builder: bool) {
    let op = Op::share(owner, name, with, fleet, builder);
    let what = format!("share {name} of account {owner} with account {with}");
    env.ok(&what, env.send(&op, None).await);
}

/// Makes room for and creates fleet `name` of `acct` on `image` at capacity 1; the set-up of a
/// race, so it must succeed.
async fn race_fleet(env: &Env, m: &mut Model, acct: usize, name: &str, image: ImageRef) {
    fleet_room(env, m, acct, 1).await;
    let what = format!("race set-up: CreateFleet {name} on {image:?}");
    env.ok(
        &what,
        env.send(&Op::create(acct, name, image, 1), None).await,
    );
    m.fleets[acct].insert(name.to_owned());
}

/// Private images for `acct` in HOME, straight into the store (and the model).
async fn seed_images(env: &Env, p: &Photon, m: &mut Model, acct: usize, names: Vec<String>) {
    p.seed_private_images(&env.ids[acct], HOME, &names).await;
    m.images[acct].extend(names);
}

/// The deliberate races of one round.
async fn races(env: &Env, p: &Photon, rng: &mut Rng, m: &mut Model, round: usize) {
    let ctx = env.ctx();
    // Fresh images for the races, so the random operations cannot have spoiled their set-up.
    let [oa, ob, od] = [(); 3].map(|()| rng.below(ACCOUNTS));
    let [xa, xb, xd1, xd2] = ["a", "b", "d1", "d2"].map(|x| format!("race-{round}-{x}"));
    seed_images(env, p, m, oa, vec![xa.clone()]).await;
    seed_images(env, p, m, ob, vec![xb.clone()]).await;
    seed_images(env, p, m, od, vec![xd1.clone(), xd2.clone()]).await;

    // A: the owner revokes fleet permission while the recipient creates a fleet on the image.
    let arn_a = env.image_arn(oa, HOME, &xa);
    for i in 0..3 {
        let r = rng.other_than(oa);
        fleet_room(env, m, r, 1).await;
        share(env, oa, &xa, r, true, rng.coin()).await;
        let name = format!("ra-{round}-{i}");
        let revoke = (Op::unshare(oa, &xa, r), NONE);
        let create = Op::create(r, &name, ImageRef::Arn(arn_a.clone()), 1);
        let (_, create, d) = race(env, rng, "A", i, revoke, (create, REFUSED)).await;
        let outcome = match (&create, fleet(env, r, &name).await) {
            (Ok(()), Ok(f)) => {
                assert_eq!(f.image_arn(), Some(arn_a.as_str()), "{ctx}: race A {name}");
                let why = format!(
                    "race A: fleet {name} of account {r} was created on {arn_a}, whose fleet \
                     permission was then revoked"
                );
                check_zeroed(env, &f, &why);
                m.fleets[r].insert(name.clone());
                "fleet created, then zeroed".to_owned()
            }
            (Err(code), Err(_)) => format!("CreateFleet refused: {code}"),
            (c, f) => panic!(
                "{ctx}: race A: CreateFleet answered {c:?} but DescribeFleets of {name} says {f:?}"
            ),
        };
        let what = format!(
            "[round {round} race A{i}] revoke {xa} from account {r} vs its CreateFleet {name} ({d})"
        );
        m.report("race A revoke vs CreateFleet", &what, &outcome);
    }

    // C: the owner revokes while the recipient moves a fleet onto the image.
    let r = rng.other_than(oa);
    let fc = format!("rc-{round}");
    race_fleet(env, m, r, &fc, ImageRef::Name(BASE.to_owned())).await;
    share(env, oa, &xa, r, true, false).await;
    let revoke = (Op::unshare(oa, &xa, r), NONE);
    // Once the share is gone the recipient cannot see the image at all.
    let update = Op::update(r, &fc, Some(ImageRef::Arn(arn_a.clone())), Some(1));
    let (_, update, d) = race(env, rng, "C", 1, revoke, (update, REFUSED)).await;
    let f = fleet(env, r, &fc).await.expect("race C fleet");
    let outcome = match &update {
        Ok(()) => {
            assert_eq!(f.image_arn(), Some(arn_a.as_str()), "{ctx}: race C {fc}");
            let why = format!(
                "race C: fleet {fc} of account {r} moved onto {arn_a} before its fleet permission \
                 was revoked"
            );
            check_zeroed(env, &f, &why);
            "moved, then zeroed".to_owned()
        }
        Err(code) => {
            assert!(
                arn_account(f.image_arn().unwrap_or_default()).is_empty() && desired(&f) == Some(1),
                "{ctx}: race C: UpdateFleet of {fc} was refused ({code}) but the fleet changed: \
                 {:?} desired {:?}",
                f.image_arn(),
                desired(&f)
            );
            format!("UpdateFleet refused: {code}")
        }
    };
    let what = format!(
        "[round {round} race C] revoke {xa} from account {r} vs UpdateFleet {fc} onto it ({d})"
    );
    m.report("race C revoke vs UpdateFleet image", &what, &outcome);

    // B: UpdateImagePermissions taking fleet permission away (then giving it back) races the
    // recipient's UpdateFleet(ComputeCapacity) on the image.
    let rb = rng.other_than(ob);
    let arn_b = env.image_arn(ob, HOME, &xb);
    share(env, ob, &xb, rb, true, rng.coin()).await;
    let fb = format!("rb-{round}");
    race_fleet(env, m, rb, &fb, ImageRef::Arn(arn_b.clone())).await;
    let grants = [(false, 2), (true, 1), (false, 3), (true, 2)];
    for (i, (grant, want)) in grants.into_iter().enumerate() {
        let perm = (Op::share(ob, &xb, rb, grant, !grant), NONE);
        let capacity = (Op::update(rb, &fb, None, Some(want)), NOT_PERMITTED_OR_BUSY);
        let (_, update, d) = race(env, rng, "B", i, perm, capacity).await;
        let f = fleet(env, rb, &fb).await.expect("race B fleet");
        let seen = seen_shared(env, rb, &arn_b).await;
        assert_eq!(
            seen.as_ref().and_then(image_perms),
            Some((grant, !grant)),
            "{ctx}: race B: account {rb} sees {arn_b} with other permissions than just set"
        );
        let owner_view = describe_perms(env, ob, HOME, &xb).await;
        assert_eq!(
            owner_view.get(&env.ids[rb]).copied(),
            Some((grant, !grant)),
            "{ctx}: race B: the owner lists other permissions than just set"
        );
        let outcome = match (grant, &update) {
            // Fleet permission is back: a capacity update that won is in force and cleared the
            // error; one that lost leaves the fleet zeroed.
            (true, Ok(())) => {
                assert!(
                    desired(&f) == Some(want) && !image_not_found(&f),
                    "{ctx}: race B{i}: UpdateFleet {fb} to {want} succeeded after the grant, \
                     but the fleet has {}",
                    state(&f)
                );
                "grant, then capacity".to_owned()
            }
            (true, Err(code)) => {
                let why = format!("race B{i}: UpdateFleet {fb} was refused ({code})");
                check_zeroed(env, &f, &why);
                format!("grant, capacity refused: {code}")
            }
            // Fleet permission is gone whatever the order: the fleet must be zeroed.
            (false, _) => {
                let why = format!(
                    "race B{i}: fleet permission on {arn_b} was revoked from account {rb} \
                     (UpdateFleet to {want}: {update:?})"
                );
                check_zeroed(env, &f, &why);
                let (then, refused) = ("capacity, then revoked", "revoked, capacity refused");
                either(&update, then, refused)
            }
        };
        let what = format!(
            "[round {round} race B{i}] UpdateImagePermissions {xb} fleet={grant} for account {rb} \
             vs UpdateFleet {fb} to {want} ({d})"
        );
        m.report("race B perms vs UpdateFleet capacity", &what, &outcome);
    }

    // E: a fleet zeroed by an earlier revocation, on an image shared for fleets again, is
    // pointed at that same image (which clears its IMAGE_NOT_FOUND error) while the owner
    // revokes again: whatever the order, the fleet must end zeroed with the error.
    let oe = rng.below(ACCOUNTS);
    let re = rng.other_than(oe);
    let xe = format!("race-{round}-e");
    seed_images(env, p, m, oe, vec![xe.clone()]).await;
    let arn_e = env.image_arn(oe, HOME, &xe);
    share(env, oe, &xe, re, true, false).await;
    let fe = format!("re-{round}");
    race_fleet(env, m, re, &fe, ImageRef::Arn(arn_e.clone())).await;
    share(env, oe, &xe, re, false, true).await;
    for i in 0..4 {
        share(env, oe, &xe, re, true, false).await;
        let why = format!("race E{i}: {fe} should still be zeroed from the earlier revocation");
        assert_zeroed(env, re, &fe, &why).await;
        let (revoke, how) = if rng.coin() {
            (Op::unshare(oe, &xe, re), "DeleteImagePermissions")
        } else {
            let op = Op::share(oe, &xe, re, false, true);
            (op, "UpdateImagePermissions allowFleet=false")
        };
        let onto = Some(ImageRef::Arn(arn_e.clone()));
        let update = (Op::update(re, &fe, onto, None), BUSY_OR_REFUSED);
        let (_, update, d) = race(env, rng, "E", i, (revoke, NONE), update).await;
        let why = format!(
            "race E{i}: fleet permission on {arn_e} was revoked from account {re} ({how}) while \
             UpdateFleet {fe} ImageArn={arn_e} ran ({update:?})"
        );
        assert_zeroed(env, re, &fe, &why).await;
        let outcome = either(&update, "update, then revoked", "revoked, update refused");
        let what = format!(
            "[round {round} race E{i}] revoke {xe} from account {re} vs UpdateFleet {fe} onto \
             the same image ({d})"
        );
        m.report("race E revoke vs UpdateFleet same image", &what, &outcome);
    }

    // D: the owner deletes an unused, unshared image while using it (a fleet) or sharing it:
    // exactly one of the two wins.
    fleet_room(env, m, od, 1).await;
    let fd = format!("rd-{round}");
    let del = (Op::delete(od, &xd1), IN_USE);
    let create = Op::create(od, &fd, ImageRef::Name(xd1.clone()), 1);
    let (del, create, d) = race(env, rng, "D", 0, del, (create, NOT_FOUND)).await;
    assert!(
        del.is_ok() != create.is_ok(),
        "{ctx}: race D: DeleteImage {xd1} -> {del:?}, CreateFleet {fd} on it -> {create:?}: \
         exactly one must succeed"
    );
    let now = fleet(env, od, &fd).await;
    let outcome = if del.is_ok() {
        assert!(now.is_err(), "{ctx}: race D: {fd} exists on deleted {xd1}");
        m.images[od].remove(&xd1);
        "deleted first"
    } else {
        m.fleets[od].insert(fd.clone());
        "fleet first"
    };
    let what = format!("[round {round} race D1] DeleteImage {xd1} vs CreateFleet {fd} on it ({d})");
    m.report("race D DeleteImage vs CreateFleet", &what, outcome);

    let rd = rng.other_than(od);
    let del = (Op::delete(od, &xd2), IN_USE);
    let grant = (Op::share(od, &xd2, rd, true, true), NOT_FOUND);
    let (del, grant, d) = race(env, rng, "D", 1, del, grant).await;
    assert!(
        del.is_ok() != grant.is_ok(),
        "{ctx}: race D: DeleteImage {xd2} -> {del:?}, sharing it -> {grant:?}: exactly one must \
         succeed"
    );
    let arn_d2 = env.image_arn(od, HOME, &xd2);
    let seen = seen_shared(env, rd, &arn_d2).await.is_some();
    assert_eq!(
        seen,
        grant.is_ok(),
        "{ctx}: race D: account {rd} sees deleted-or-shared {arn_d2}: {seen}"
    );
    let outcome = if del.is_ok() {
        m.images[od].remove(&xd2);
        "deleted first"
    } else {
        "shared first"
    };
    let what = format!("[round {round} race D2] DeleteImage {xd2} vs sharing it ({d})");
    m.report("race D DeleteImage vs share", &what, outcome);
}

/// Invariant 2 explicitly: shared (or used) images refuse DeleteImage with
/// ResourceInUseException; one whose sharing is fully removed and whose fleets are gone can be
/// deleted, and disappears for everyone.
async fn deletion_rules(env: &Env, rng: &mut Rng, m: &mut Model, s: &Snapshot, round: usize) {
    let ctx = env.ctx();
    let owner_name = |arn: &str| {
        (
            env.account_of(arn_account(arn)),
            arn.rsplit('/').next().unwrap_or_default().to_owned(),
        )
    };
    let mut shared: Vec<String> = s
        .perms
        .iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(arn, _)| arn.clone())
        .collect();
    if shared.is_empty() {
        // Nothing is shared at the moment: share one image so the rule is exercised anyway.
        let mut all: Vec<&String> = s.perms.keys().collect();
        all.sort();
        let arn = all[rng.below(all.len())].clone();
        let (o, name) = owner_name(&arn);
        share(env, o, &name, rng.other_than(o), true, false).await;
        println!("[round {round} checks] nothing was shared; shared {arn}");
        shared.push(arn);
    }
    // The owner's DeleteImage of `arn`, which may only be refused as in use.
    let delete = |arn: &str, what: &'static str| {
        let (o, name) = owner_name(arn);
        async move { env.allow(what, env.send(&Op::delete(o, &name), None).await, IN_USE) }
    };
    for _ in 0..2 {
        let arn = &shared[rng.below(shared.len())];
        let code = delete(arn, "DeleteImage of a shared image").await;
        assert_eq!(
            code.as_ref().err().map(String::as_str),
            Some("ResourceInUseException"),
            "{ctx}: DeleteImage of {arn}, shared with {:?}, did not fail with \
             ResourceInUseException",
            s.perms.get(arn)
        );
    }
    // An image its owner's fleets hold (shared with nobody) refuses deletion too; a recipient's
    // fleets hold an image only through the share (docs/compatibility.md, DeleteImage).
    let held: BTreeSet<&str> = (s.fleets.iter().zip(&env.ids))
        .flat_map(|(fleets, id)| {
            let own = move |arn: &&str| arn_account(arn) == id;
            fleets.iter().filter_map(|f| f.image_arn()).filter(own)
        })
        .filter(|arn| s.perms.get(*arn).is_some_and(BTreeMap::is_empty))
        .collect();
    if !held.is_empty() {
        let arn = *held.iter().nth(rng.below(held.len())).expect("held");
        let code = delete(arn, "DeleteImage of an image in use").await;
        assert!(
            code.is_err(),
            "{ctx}: DeleteImage of {arn}, used by a fleet, succeeded"
        );
    }

    // Remove every permission of one shared image, see the recipients' fleets zeroed, remove
    // the fleets using it, and delete it.
    let arn = shared[rng.below(shared.len())].clone();
    let (o, name) = owner_name(&arn);
    let before = describe_perms(env, o, HOME, &name).await;
    for acct in before.keys() {
        let unshare = Op::unshare(o, &name, env.account_of(acct));
        env.ok(
            &format!("DeleteImagePermissions {name} for {acct}"),
            env.send(&unshare, None).await,
        );
    }
    let after = snapshot(env).await;
    verify(env, &after, &format!("round {round}: {arn} unshared"));
    assert!(
        after.perms.get(&arn).is_some_and(BTreeMap::is_empty),
        "{ctx}: {arn} is still shared after DeleteImagePermissions for every account: {:?}",
        after.perms.get(&arn)
    );
    for (a, fleets) in after.fleets.iter().enumerate() {
        for f in fleets
            .iter()
            .filter(|f| f.image_arn() == Some(arn.as_str()))
        {
            delete_fleet(env, m, a, f.name().unwrap_or_default()).await;
        }
    }
    env.ok(
        &format!("DeleteImage of {arn}, unshared and unused"),
        env.send(&Op::delete(o, &name), None).await,
    );
    m.images[o].remove(&name);
    // Whether `acct`, asking by name (the owner) or by ARN, no longer finds the image.
    let gone = |acct: usize, by_name: bool| {
        let b = env.c(acct, HOME).describe_images();
        let b = if by_name {
            b.names(&name)
        } else {
            b.arns(&arn)
        };
        async move {
            env.allow("DescribeImages", b.send().await, NOT_FOUND)
                .is_err()
        }
    };
    assert!(gone(o, true).await, "{ctx}: deleted {arn} is still listed");
    for acct in before.keys() {
        let r = env.account_of(acct);
        assert!(
            gone(r, false).await,
            "{ctx}: former recipient {r} still reaches deleted {arn}"
        );
    }
    println!(
        "[round {round} checks] {arn}: shared with {} account(s), unshared, its fleets removed, deleted",
        before.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sharing_never_breaks_the_invariants() {
    let started = Instant::now();
    let seed = seed();
    println!("sharing_invariants: PHOTON_PROPTEST_SEED={seed}");
    let mut rng = Rng(seed);
    let p = Photon::start_with(bin(), &["--pace", "instant"]);
    let creds = [p.default.clone(), p.create_account(), p.create_account()];
    let env = Env {
        seed,
        ids: creds.iter().map(|c| c.account_id.clone()).collect(),
        clients: creds
            .iter()
            .map(|c| {
                BOTH.iter()
                    .flat_map(|proto| REGIONS.iter().map(|r| p.client(*proto, c, r)))
                    .collect()
            })
            .collect(),
        tick: AtomicUsize::new(0),
    };
    let mut m = Model {
        images: vec![BTreeSet::new(); ACCOUNTS],
        fleets: vec![BTreeSet::new(); ACCOUNTS],
        ..Model::default()
    };
    for a in 0..ACCOUNTS {
        let names: Vec<String> = (0..3).map(|k| format!("a{a}-base-{k}")).collect();
        seed_images(&env, &p, &mut m, a, names).await;
    }
    println!(
        "server and accounts ready ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
    for round in 0..ROUNDS {
        // A fresh image per account and round, while the account has few (10 per region is
        // the quota copies run into).
        for a in 0..ACCOUNTS {
            if m.images[a].len() < 8 {
                seed_images(&env, &p, &mut m, a, vec![format!("a{a}-r{round}")]).await;
            }
        }
        random_ops(&env, &mut rng, &mut m, round, OPS_HALF).await;
        races(&env, &p, &mut rng, &mut m, round).await;
        random_ops(&env, &mut rng, &mut m, round, OPS_HALF).await;

        wait_copies(&env, &mut m).await;
        let s = snapshot(&env).await;
        verify(&env, &s, &format!("after round {round}"));
        verify_west(&env).await;
        deletion_rules(&env, &mut rng, &mut m, &s, round).await;
        let s = snapshot(&env).await;
        verify(&env, &s, &format!("after round {round}'s deletion checks"));
        resync(&env, &mut m, &s);
        let shares: usize = s.perms.values().map(BTreeMap::len).sum();
        let fleets: usize = s.fleets.iter().map(Vec::len).sum();
        println!(
            "[round {round}] invariants hold: {} images, {shares} permissions, {fleets} fleets ({:.1}s)",
            s.private.iter().map(BTreeMap::len).sum::<usize>(),
            started.elapsed().as_secs_f64()
        );
    }
    println!("outcomes (seed {seed}):");
    for ((op, outcome), n) in &m.tally {
        println!("  {op:<40} {outcome:<45} {n}");
    }
}
