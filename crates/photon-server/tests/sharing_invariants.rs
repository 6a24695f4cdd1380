//! Randomised (property-style) sharing test: three accounts share, unshare, create and update
//! fleets, delete and copy images in random order (partly concurrently), plus deliberate races
//! each round, and after every round the invariants below must hold.
//!
//! 1. No orphaned permission: what a recipient sees as SHARED is the owner's PRIVATE image and
//!    in the owner's DescribeImagePermissions with the same permissions, and vice versa.
//! 2. No deletable image in use: a shared image (or one a fleet uses) refuses DeleteImage with
//!    ResourceInUseException; once unshared and unused it can be deleted.
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

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
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

fn image_perms(img: &Image) -> Option<(bool, bool)> {
    img.image_permissions().map(|p| {
        (
            p.allow_fleet().unwrap_or(false),
            p.allow_image_builder().unwrap_or(false),
        )
    })
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
    fn ok<T, E: ProvideErrorMetadata + Debug>(
        &self,
        what: &str,
        r: Result<T, SdkError<E, HttpResponse>>,
    ) -> T {
        match r {
            Ok(v) => v,
            Err(e) => panic!(
                "{}: {what} failed: code {:?}, status {:?}, message {:?}: {e:?}",
                self.ctx(),
                e.code(),
                e.raw_response().map(|r| r.status().as_u16()),
                e.message()
            ),
        }
    }

    /// The result of a call, or the code of one of the `allowed` errors; any other failure
    /// (an InternalFailure, a 5xx, a timeout) fails the test.
    fn allow<T, E: ProvideErrorMetadata + Debug>(
        &self,
        what: &str,
        r: Result<T, SdkError<E, HttpResponse>>,
        allowed: &[&str],
    ) -> Result<T, String> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                match e.code() {
                    Some(code) if allowed.contains(&code) && status.is_some_and(|s| s < 500) => {
                        Err(code.to_owned())
                    }
                    code => panic!(
                        "{}: {what} failed unexpectedly: code {code:?}, status {status:?}, \
                         message {:?}: {e:?}",
                        self.ctx(),
                        e.message()
                    ),
                }
            }
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

/// What a successful operation changed, for the model.
enum Effect {
    None,
    ImageGone(usize, String),
    ImageAdded(usize, &'static str, String),
    FleetAdded(usize, String),
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

async fn run_op(env: &Env, op: &Op, proto: Proto) -> (String, Effect) {
    let what = format!("{op:?} [{proto:?}]");
    let res = |r: Result<(), String>| r.err().unwrap_or_else(|| "ok".to_owned());
    match op {
        Op::Share {
            owner,
            name,
            with,
            fleet,
            builder,
        } => {
            let r = env
                .cp(*owner, proto, HOME)
                .update_image_permissions()
                .name(name)
                .shared_account_id(&env.ids[*with])
                .image_permissions(perms(*fleet, *builder))
                .send()
                .await;
            (
                res(env.allow(&what, r, RANDOM_OK).map(|_| ())),
                Effect::None,
            )
        }
        Op::Unshare { owner, name, with } => {
            let r = env
                .cp(*owner, proto, HOME)
                .delete_image_permissions()
                .name(name)
                .shared_account_id(&env.ids[*with])
                .send()
                .await;
            (
                res(env.allow(&what, r, RANDOM_OK).map(|_| ())),
                Effect::None,
            )
        }
        Op::CreateFleet {
            acct,
            fleet,
            image,
            desired,
        } => {
            let b = env
                .cp(*acct, proto, HOME)
                .create_fleet()
                .name(fleet)
                .instance_type(INSTANCE)
                .fleet_type(FleetType::OnDemand)
                .compute_capacity(capacity(*desired));
            let b = match image {
                ImageRef::Name(n) => b.image_name(n),
                ImageRef::Arn(a) => b.image_arn(a),
            };
            match env.allow(&what, b.send().await, RANDOM_OK) {
                Ok(_) => ("ok".into(), Effect::FleetAdded(*acct, fleet.clone())),
                Err(code) => (code, Effect::None),
            }
        }
        Op::UpdateFleet {
            acct,
            fleet,
            image,
            desired,
        } => {
            let mut b = env.cp(*acct, proto, HOME).update_fleet().name(fleet);
            b = match image {
                Some(ImageRef::Name(n)) => b.image_name(n),
                Some(ImageRef::Arn(a)) => b.image_arn(a),
                None => b,
            };
            if let Some(n) = desired {
                b = b.compute_capacity(capacity(*n));
            }
            (
                res(env.allow(&what, b.send().await, RANDOM_OK).map(|_| ())),
                Effect::None,
            )
        }
        Op::DeleteImage { owner, name } => {
            let r = env
                .cp(*owner, proto, HOME)
                .delete_image()
                .name(name)
                .send()
                .await;
            match env.allow(&what, r, RANDOM_OK) {
                Ok(_) => ("ok".into(), Effect::ImageGone(*owner, name.clone())),
                Err(code) => (code, Effect::None),
            }
        }
        Op::CopyImage {
            owner,
            source,
            dest,
            region,
        } => {
            let r = env
                .cp(*owner, proto, HOME)
                .copy_image()
                .source_image_name(source)
                .destination_image_name(dest)
                .destination_region(*region)
                .send()
                .await;
            match env.allow(&what, r, RANDOM_OK) {
                Ok(out) => {
                    assert_eq!(
                        out.destination_image_name(),
                        Some(dest.as_str()),
                        "{}: {what}",
                        env.ctx()
                    );
                    check_fresh_copy(env, *owner, region, dest).await;
                    (
                        "ok".into(),
                        Effect::ImageAdded(*owner, region, dest.clone()),
                    )
                }
                Err(code) => (code, Effect::None),
            }
        }
    }
}

/// Invariant 4 at once: the copy is the copier's own private image in the destination region,
/// COPYING or already AVAILABLE, and shared with nobody.
async fn check_fresh_copy(env: &Env, owner: usize, region: &str, name: &str) {
    let c = env.c(owner, region);
    let r = env.ok(
        "DescribeImages (fresh copy)",
        c.describe_images().names(name).send().await,
    );
    let img = &r.images()[0];
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

async fn list_images(env: &Env, acct: usize, region: &str, t: VisibilityType) -> Vec<Image> {
    let c = env.c(acct, region);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let r = env.ok(
            "DescribeImages",
            c.describe_images()
                .r#type(t.clone())
                .max_results(25)
                .set_next_token(token)
                .send()
                .await,
        );
        out.extend(r.images().iter().cloned());
        token = r.next_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

async fn list_fleets(env: &Env, acct: usize) -> Vec<Fleet> {
    let c = env.c(acct, HOME);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let r = env.ok(
            "DescribeFleets",
            c.describe_fleets().set_next_token(token).send().await,
        );
        out.extend(r.fleets().iter().cloned());
        token = r.next_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

/// The owner's DescribeImagePermissions: account id → (allowFleet, allowImageBuilder).
async fn describe_perms(
    env: &Env,
    owner: usize,
    region: &str,
    name: &str,
) -> BTreeMap<String, (bool, bool)> {
    let c = env.c(owner, region);
    let mut out = BTreeMap::new();
    let mut token = None;
    loop {
        let r = env.ok(
            "DescribeImagePermissions",
            c.describe_image_permissions()
                .name(name)
                .set_next_token(token)
                .send()
                .await,
        );
        for s in r.shared_image_permissions_list() {
            let p = s.image_permissions();
            let prev = out.insert(
                s.shared_account_id().unwrap_or_default().to_owned(),
                (
                    p.and_then(|p| p.allow_fleet()).unwrap_or(false),
                    p.and_then(|p| p.allow_image_builder()).unwrap_or(false),
                ),
            );
            assert!(
                prev.is_none(),
                "{}: DescribeImagePermissions of {name} lists an account twice",
                env.ctx()
            );
        }
        token = r.next_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

async fn fleet(env: &Env, acct: usize, name: &str) -> Result<Fleet, String> {
    let r = env.c(acct, HOME).describe_fleets().names(name).send().await;
    env.allow("DescribeFleets", r, &["ResourceNotFoundException"])
        .map(|r| r.fleets()[0].clone())
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
            assert!(
                s.private[o].contains_key(arn),
                "{ctx}: fleet {name} of account {a} uses {arn}, which no longer exists: an \
                 image in use was deleted"
            );
            if o == a {
                continue;
            }
            let p = s.perms.get(arn).and_then(|p| p.get(&env.ids[a])).copied();
            let may_use = p.is_some_and(|(fleet, _)| fleet);
            let zeroed = desired(f) == Some(0) && image_not_found(f);
            assert!(
                may_use || zeroed,
                "{ctx}: fleet {name} of account {a} is on {arn} of account {o}, shared with it \
                 as {p:?}, yet has desired capacity {:?} and errors {:?}",
                desired(f),
                f.fleet_errors()
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
        loop {
            let r = env
                .c(owner, region)
                .describe_images()
                .names(&name)
                .send()
                .await;
            let r = env.ok(&format!("DescribeImages of copy {name} in {region}"), r);
            let state = r.images()[0].state().cloned();
            match state {
                Some(ImageState::Available) => break,
                Some(ImageState::Copying) => {}
                other => panic!(
                    "{}: copy {name} of account {owner} in {region} is {other:?}: {:?}",
                    env.ctx(),
                    r.images()[0].state_change_reason()
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
        let name = f.name().unwrap_or_default();
        env.ok(
            &format!("DeleteFleet {name} of account {acct}"),
            env.c(acct, HOME).delete_fleet().name(name).send().await,
        );
        m.fleets[acct].remove(name);
    }
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
        let run = |i: usize| {
            let b = &batch;
            async move {
                match b.get(i) {
                    Some((op, proto)) => Some(run_op(env, op, *proto).await),
                    None => None,
                }
            }
        };
        let (r0, r1, r2) = tokio::join!(run(0), run(1), run(2));
        for (i, r) in [r0, r1, r2].into_iter().enumerate() {
            let Some((outcome, effect)) = r else { continue };
            let (op, proto) = &batch[i];
            match op {
                Op::Share {
                    owner,
                    name,
                    with,
                    fleet,
                    builder,
                } if outcome == "ok" => {
                    if *fleet || *builder {
                        m.shares.insert((*owner, name.clone(), *with));
                    } else {
                        m.shares.remove(&(*owner, name.clone(), *with));
                    }
                }
                Op::Unshare { owner, name, with } => {
                    m.shares.remove(&(*owner, name.clone(), *with));
                }
                _ => {}
            }
            println!(
                "[round {round} op {}{}] {op:?} [{proto:?}] -> {outcome}",
                done + i,
                if batch.len() > 1 { " (concurrent)" } else { "" }
            );
            m.count(op.kind(), &outcome);
            match effect {
                Effect::None => {}
                Effect::ImageGone(o, name) => {
                    m.images[o].remove(&name);
                    m.copies.remove(&(o, HOME, name));
                }
                Effect::ImageAdded(o, region, name) => {
                    if region == HOME {
                        m.images[o].insert(name.clone());
                    }
                    m.copies.insert((o, region, name));
                }
                Effect::FleetAdded(a, name) => {
                    m.fleets[a].insert(name);
                }
            }
        }
        done += batch.len().max(1);
    }
}

/// Head starts for the two sides of a race: none, or up to 1.5 ms for one side, so either
/// side wins now and then.
fn delays(rng: &mut Rng) -> (u64, u64) {
    let d = rng.below(1500) as u64;
    match rng.below(3) {
        0 => (0, 0),
        1 => (d, 0),
        _ => (0, d),
    }
}

async fn maybe_sleep(rng_micros: u64) {
    if rng_micros > 0 {
        tokio::time::sleep(Duration::from_micros(rng_micros)).await;
    }
}

/// Shares `name` of `owner` with `with`; the set-up of a race, so it must succeed.
async fn share(env: &Env, owner: usize, name: &str, with: usize, fleet: bool, builder: bool) {
    env.ok(
        &format!("share {name} of account {owner} with account {with}"),
        env.c(owner, HOME)
            .update_image_permissions()
            .name(name)
            .shared_account_id(&env.ids[with])
            .image_permissions(perms(fleet, builder))
            .send()
            .await,
    );
}

/// The deliberate races of one round.
async fn races(env: &Env, p: &Photon, rng: &mut Rng, m: &mut Model, round: usize) {
    let ctx = env.ctx();
    // Fresh images for the races, so the random operations cannot have spoiled their set-up.
    let (oa, ob, od) = (
        rng.below(ACCOUNTS),
        rng.below(ACCOUNTS),
        rng.below(ACCOUNTS),
    );
    let xa = format!("race-{round}-a");
    let xb = format!("race-{round}-b");
    let (xd1, xd2) = (format!("race-{round}-d1"), format!("race-{round}-d2"));
    p.seed_private_images(&env.ids[oa], HOME, std::slice::from_ref(&xa))
        .await;
    p.seed_private_images(&env.ids[ob], HOME, std::slice::from_ref(&xb))
        .await;
    p.seed_private_images(&env.ids[od], HOME, &[xd1.clone(), xd2.clone()])
        .await;
    m.images[oa].insert(xa.clone());
    m.images[ob].insert(xb.clone());
    m.images[od].extend([xd1.clone(), xd2.clone()]);

    // A: the owner revokes fleet permission while the recipient creates a fleet on the image.
    let arn_a = env.image_arn(oa, HOME, &xa);
    for i in 0..3 {
        let r = rng.other_than(oa);
        fleet_room(env, m, r, 1).await;
        share(env, oa, &xa, r, true, rng.coin()).await;
        let name = format!("ra-{round}-{i}");
        let (d1, d2) = delays(rng);
        let (revoke, create) = tokio::join!(
            async {
                maybe_sleep(d1).await;
                env.cp(oa, BOTH[i % 2], HOME)
                    .delete_image_permissions()
                    .name(&xa)
                    .shared_account_id(&env.ids[r])
                    .send()
                    .await
            },
            async {
                maybe_sleep(d2).await;
                env.cp(r, BOTH[(i + 1) % 2], HOME)
                    .create_fleet()
                    .name(&name)
                    .image_arn(&arn_a)
                    .instance_type(INSTANCE)
                    .fleet_type(FleetType::OnDemand)
                    .compute_capacity(capacity(1))
                    .send()
                    .await
            }
        );
        env.ok("race A: DeleteImagePermissions", revoke);
        let create = env.allow(
            "race A: CreateFleet",
            create,
            &[
                "OperationNotPermittedException",
                "ResourceNotFoundException",
            ],
        );
        let now = fleet(env, r, &name).await;
        let outcome = match (&create, now) {
            (Ok(_), Ok(f)) => {
                assert_eq!(f.image_arn(), Some(arn_a.as_str()), "{ctx}: race A {name}");
                assert!(
                    desired(&f) == Some(0) && image_not_found(&f),
                    "{ctx}: race A: fleet {name} of account {r} was created on {arn_a}, whose \
                     fleet permission was then revoked, yet has desired {:?} and errors {:?}",
                    desired(&f),
                    f.fleet_errors()
                );
                m.fleets[r].insert(name.clone());
                "fleet created, then zeroed".to_owned()
            }
            (Err(code), Err(_)) => format!("CreateFleet refused: {code}"),
            (c, f) => panic!(
                "{ctx}: race A: CreateFleet answered {:?} but DescribeFleets of {name} says {f:?}",
                c.as_ref().map(|_| ())
            ),
        };
        println!("[round {round} race A{i}] revoke {xa} from account {r} vs its CreateFleet {name} (delays {d1}/{d2} us): {outcome}");
        m.count("race A revoke vs CreateFleet", &outcome);
    }

    // C: the owner revokes while the recipient moves a fleet onto the image.
    let r = rng.other_than(oa);
    fleet_room(env, m, r, 1).await;
    let fc = format!("rc-{round}");
    env.ok(
        "race C: CreateFleet on the public image",
        env.c(r, HOME)
            .create_fleet()
            .name(&fc)
            .image_name(BASE)
            .instance_type(INSTANCE)
            .fleet_type(FleetType::OnDemand)
            .compute_capacity(capacity(1))
            .send()
            .await,
    );
    m.fleets[r].insert(fc.clone());
    share(env, oa, &xa, r, true, false).await;
    let (d1, d2) = delays(rng);
    let (revoke, update) = tokio::join!(
        async {
            maybe_sleep(d1).await;
            env.cp(oa, Proto::Json, HOME)
                .delete_image_permissions()
                .name(&xa)
                .shared_account_id(&env.ids[r])
                .send()
                .await
        },
        async {
            maybe_sleep(d2).await;
            env.cp(r, Proto::Cbor, HOME)
                .update_fleet()
                .name(&fc)
                .image_arn(&arn_a)
                .compute_capacity(capacity(1))
                .send()
                .await
        }
    );
    env.ok("race C: DeleteImagePermissions", revoke);
    let update = env.allow(
        "race C: UpdateFleet",
        update,
        // Once the share is gone the recipient cannot see the image at all.
        &[
            "OperationNotPermittedException",
            "ResourceNotFoundException",
        ],
    );
    let f = fleet(env, r, &fc).await.expect("race C fleet");
    let outcome = if update.is_ok() {
        assert!(
            f.image_arn() == Some(arn_a.as_str()) && desired(&f) == Some(0) && image_not_found(&f),
            "{ctx}: race C: fleet {fc} of account {r} moved onto {arn_a} before its fleet \
             permission was revoked, but is now {:?} with desired {:?} and errors {:?}",
            f.image_arn(),
            desired(&f),
            f.fleet_errors()
        );
        "moved, then zeroed".to_owned()
    } else {
        assert!(
            arn_account(f.image_arn().unwrap_or_default()).is_empty() && desired(&f) == Some(1),
            "{ctx}: race C: UpdateFleet of {fc} was refused ({update:?}) but the fleet changed: \
             {:?} desired {:?}",
            f.image_arn(),
            desired(&f)
        );
        format!("UpdateFleet refused: {}", update.as_ref().err().unwrap())
    };
    println!("[round {round} race C] revoke {xa} from account {r} vs UpdateFleet {fc} onto it (delays {d1}/{d2} us): {outcome}");
    m.count("race C revoke vs UpdateFleet image", &outcome);

    // B: UpdateImagePermissions taking fleet permission away (then giving it back) races the
    // recipient's UpdateFleet(ComputeCapacity) on the image.
    let rb = rng.other_than(ob);
    let arn_b = env.image_arn(ob, HOME, &xb);
    share(env, ob, &xb, rb, true, rng.coin()).await;
    fleet_room(env, m, rb, 1).await;
    let fb = format!("rb-{round}");
    env.ok(
        "race B: CreateFleet",
        env.c(rb, HOME)
            .create_fleet()
            .name(&fb)
            .image_arn(&arn_b)
            .instance_type(INSTANCE)
            .fleet_type(FleetType::OnDemand)
            .compute_capacity(capacity(1))
            .send()
            .await,
    );
    m.fleets[rb].insert(fb.clone());
    for (i, (grant, want)) in [(false, 2), (true, 1), (false, 3), (true, 2)]
        .into_iter()
        .enumerate()
    {
        let (d1, d2) = delays(rng);
        let (perm, update) = tokio::join!(
            async {
                maybe_sleep(d1).await;
                env.cp(ob, BOTH[i % 2], HOME)
                    .update_image_permissions()
                    .name(&xb)
                    .shared_account_id(&env.ids[rb])
                    .image_permissions(perms(grant, !grant))
                    .send()
                    .await
            },
            async {
                maybe_sleep(d2).await;
                env.cp(rb, BOTH[(i + 1) % 2], HOME)
                    .update_fleet()
                    .name(&fb)
                    .compute_capacity(capacity(want))
                    .send()
                    .await
            }
        );
        env.ok("race B: UpdateImagePermissions", perm);
        let update = env.allow(
            "race B: UpdateFleet",
            update,
            &[
                "OperationNotPermittedException",
                "ConcurrentModificationException",
            ],
        );
        let f = fleet(env, rb, &fb).await.expect("race B fleet");
        let shared = list_images(env, rb, HOME, VisibilityType::Shared).await;
        let seen = shared
            .iter()
            .find(|img| img.arn() == Some(arn_b.as_str()))
            .and_then(image_perms);
        assert_eq!(
            seen,
            Some((grant, !grant)),
            "{ctx}: race B: account {rb} sees {arn_b} with other permissions than just set"
        );
        let owner_view = describe_perms(env, ob, HOME, &xb).await;
        assert_eq!(
            owner_view.get(&env.ids[rb]).copied(),
            Some((grant, !grant)),
            "{ctx}: race B: the owner lists other permissions than just set"
        );
        let outcome = if grant {
            // Fleet permission is back: a capacity update that won is in force and cleared the
            // error; one that lost leaves the fleet zeroed.
            match &update {
                Ok(_) => {
                    assert!(
                        desired(&f) == Some(want) && !image_not_found(&f),
                        "{ctx}: race B{i}: UpdateFleet {fb} to {want} succeeded after the \
                         grant, but the fleet has desired {:?} and errors {:?}",
                        desired(&f),
                        f.fleet_errors()
                    );
                    "grant, then capacity".to_owned()
                }
                Err(code) => {
                    assert!(
                        desired(&f) == Some(0) && image_not_found(&f),
                        "{ctx}: race B{i}: UpdateFleet {fb} was refused ({code}) but the fleet \
                         has desired {:?} and errors {:?}",
                        desired(&f),
                        f.fleet_errors()
                    );
                    format!("grant, capacity refused: {code}")
                }
            }
        } else {
            // Fleet permission is gone whatever the order: the fleet must be zeroed.
            assert!(
                desired(&f) == Some(0) && image_not_found(&f),
                "{ctx}: race B{i}: fleet permission on {arn_b} was revoked from account {rb} \
                 (UpdateFleet to {want}: {:?}), yet fleet {fb} has desired {:?} and errors {:?}",
                update.as_ref().map(|_| ()),
                desired(&f),
                f.fleet_errors()
            );
            match &update {
                Ok(_) => "capacity, then revoked".to_owned(),
                Err(code) => format!("revoked, capacity refused: {code}"),
            }
        };
        println!("[round {round} race B{i}] UpdateImagePermissions {xb} fleet={grant} for account {rb} vs UpdateFleet {fb} to {want} (delays {d1}/{d2} us): {outcome}");
        m.count("race B perms vs UpdateFleet capacity", &outcome);
    }

    // E: a fleet zeroed by an earlier revocation, on an image shared for fleets again, is
    // pointed at that same image (which clears its IMAGE_NOT_FOUND error) while the owner
    // revokes again: whatever the order, the fleet must end zeroed with the error.
    let (oe, re) = {
        let o = rng.below(ACCOUNTS);
        (o, rng.other_than(o))
    };
    let xe = format!("race-{round}-e");
    p.seed_private_images(&env.ids[oe], HOME, std::slice::from_ref(&xe))
        .await;
    m.images[oe].insert(xe.clone());
    let arn_e = env.image_arn(oe, HOME, &xe);
    share(env, oe, &xe, re, true, false).await;
    fleet_room(env, m, re, 1).await;
    let fe = format!("re-{round}");
    env.ok(
        "race E: CreateFleet",
        env.c(re, HOME)
            .create_fleet()
            .name(&fe)
            .image_arn(&arn_e)
            .instance_type(INSTANCE)
            .fleet_type(FleetType::OnDemand)
            .compute_capacity(capacity(1))
            .send()
            .await,
    );
    m.fleets[re].insert(fe.clone());
    share(env, oe, &xe, re, false, true).await;
    for i in 0..4 {
        share(env, oe, &xe, re, true, false).await;
        let before = fleet(env, re, &fe).await.expect("race E fleet");
        assert!(
            desired(&before) == Some(0) && image_not_found(&before),
            "{ctx}: race E{i}: {fe} should still be zeroed from the earlier revocation: {:?} {:?}",
            desired(&before),
            before.fleet_errors()
        );
        let by_delete = rng.coin();
        let (d1, d2) = delays(rng);
        let ((), update) = tokio::join!(
            async {
                maybe_sleep(d1).await;
                let c = env.cp(oe, BOTH[i % 2], HOME);
                if by_delete {
                    let r = c
                        .delete_image_permissions()
                        .name(&xe)
                        .shared_account_id(&env.ids[re])
                        .send()
                        .await;
                    env.ok("race E: DeleteImagePermissions", r);
                } else {
                    let r = c
                        .update_image_permissions()
                        .name(&xe)
                        .shared_account_id(&env.ids[re])
                        .image_permissions(perms(false, true))
                        .send()
                        .await;
                    env.ok("race E: UpdateImagePermissions", r);
                }
            },
            async {
                maybe_sleep(d2).await;
                env.cp(re, BOTH[(i + 1) % 2], HOME)
                    .update_fleet()
                    .name(&fe)
                    .image_arn(&arn_e)
                    .send()
                    .await
            }
        );
        let update = env.allow(
            "race E: UpdateFleet",
            update,
            &[
                "OperationNotPermittedException",
                "ResourceNotFoundException",
                "ConcurrentModificationException",
            ],
        );
        let f = fleet(env, re, &fe).await.expect("race E fleet");
        assert!(
            desired(&f) == Some(0) && image_not_found(&f),
            "{ctx}: race E{i}: fleet permission on {arn_e} was revoked from account {re} ({}) \
             while UpdateFleet {fe} ImageArn={arn_e} ran ({:?}), yet the fleet now has desired \
             {:?} and errors {:?}",
            if by_delete {
                "DeleteImagePermissions"
            } else {
                "UpdateImagePermissions allowFleet=false"
            },
            update.as_ref().map(|_| ()),
            desired(&f),
            f.fleet_errors()
        );
        let outcome = match &update {
            Ok(_) => "update, then revoked".to_owned(),
            Err(code) => format!("revoked, update refused: {code}"),
        };
        println!("[round {round} race E{i}] revoke {xe} from account {re} vs UpdateFleet {fe} onto the same image (delays {d1}/{d2} us): {outcome}");
        m.count("race E revoke vs UpdateFleet same image", &outcome);
    }

    // D: the owner deletes an unused, unshared image while using it (a fleet) or sharing it:
    // exactly one of the two wins.
    fleet_room(env, m, od, 1).await;
    let fd = format!("rd-{round}");
    let (d1, d2) = delays(rng);
    let (del, create) = tokio::join!(
        async {
            maybe_sleep(d1).await;
            env.cp(od, Proto::Cbor, HOME)
                .delete_image()
                .name(&xd1)
                .send()
                .await
        },
        async {
            maybe_sleep(d2).await;
            env.cp(od, Proto::Json, HOME)
                .create_fleet()
                .name(&fd)
                .image_name(&xd1)
                .instance_type(INSTANCE)
                .fleet_type(FleetType::OnDemand)
                .compute_capacity(capacity(1))
                .send()
                .await
        }
    );
    let del = env.allow("race D: DeleteImage", del, &["ResourceInUseException"]);
    let create = env.allow(
        "race D: CreateFleet",
        create,
        &["ResourceNotFoundException"],
    );
    assert!(
        del.is_ok() != create.is_ok(),
        "{ctx}: race D: DeleteImage {xd1} -> {:?}, CreateFleet {fd} on it -> {:?}: exactly one \
         must succeed",
        del.as_ref().map(|_| ()),
        create.as_ref().map(|_| ())
    );
    let now = fleet(env, od, &fd).await;
    if del.is_ok() {
        assert!(now.is_err(), "{ctx}: race D: {fd} exists on deleted {xd1}");
        m.images[od].remove(&xd1);
    } else {
        m.fleets[od].insert(fd.clone());
    }
    let outcome = if del.is_ok() {
        "deleted first"
    } else {
        "fleet first"
    };
    println!("[round {round} race D1] DeleteImage {xd1} vs CreateFleet {fd} on it (delays {d1}/{d2} us): {outcome}");
    m.count("race D DeleteImage vs CreateFleet", outcome);

    let rd = rng.other_than(od);
    let (d1, d2) = delays(rng);
    let (del, grant) = tokio::join!(
        async {
            maybe_sleep(d1).await;
            env.cp(od, Proto::Json, HOME)
                .delete_image()
                .name(&xd2)
                .send()
                .await
        },
        async {
            maybe_sleep(d2).await;
            env.cp(od, Proto::Cbor, HOME)
                .update_image_permissions()
                .name(&xd2)
                .shared_account_id(&env.ids[rd])
                .image_permissions(perms(true, true))
                .send()
                .await
        }
    );
    let del = env.allow("race D: DeleteImage", del, &["ResourceInUseException"]);
    let grant = env.allow(
        "race D: UpdateImagePermissions",
        grant,
        &["ResourceNotFoundException"],
    );
    assert!(
        del.is_ok() != grant.is_ok(),
        "{ctx}: race D: DeleteImage {xd2} -> {:?}, sharing it -> {:?}: exactly one must succeed",
        del.as_ref().map(|_| ()),
        grant.as_ref().map(|_| ())
    );
    let arn_d2 = env.image_arn(od, HOME, &xd2);
    let seen = list_images(env, rd, HOME, VisibilityType::Shared)
        .await
        .iter()
        .any(|i| i.arn() == Some(arn_d2.as_str()));
    assert_eq!(
        seen,
        grant.is_ok(),
        "{ctx}: race D: account {rd} sees deleted-or-shared {arn_d2}: {seen}"
    );
    if del.is_ok() {
        m.images[od].remove(&xd2);
    }
    let outcome = if del.is_ok() {
        "deleted first"
    } else {
        "shared first"
    };
    println!(
        "[round {round} race D2] DeleteImage {xd2} vs sharing it (delays {d1}/{d2} us): {outcome}"
    );
    m.count("race D DeleteImage vs share", outcome);
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
    for _ in 0..2 {
        let arn = &shared[rng.below(shared.len())];
        let (o, name) = owner_name(arn);
        let r = env.c(o, HOME).delete_image().name(&name).send().await;
        let code = env.allow(
            "DeleteImage of a shared image",
            r,
            &["ResourceInUseException"],
        );
        assert_eq!(
            code.as_ref().err().map(String::as_str),
            Some("ResourceInUseException"),
            "{ctx}: DeleteImage of {arn}, shared with {:?}, did not fail with \
             ResourceInUseException",
            s.perms.get(arn)
        );
    }
    // An image only a fleet holds (shared with nobody) refuses deletion too.
    let used: BTreeSet<&str> = s
        .fleets
        .iter()
        .flatten()
        .filter_map(|f| f.image_arn())
        .filter(|a| !arn_account(a).is_empty())
        .collect();
    let held: Vec<&&str> = used
        .iter()
        .filter(|a| s.perms.get(**a).is_some_and(BTreeMap::is_empty))
        .collect();
    if !held.is_empty() {
        let arn = *held[rng.below(held.len())];
        let (o, name) = owner_name(arn);
        let r = env.c(o, HOME).delete_image().name(&name).send().await;
        let code = env.allow(
            "DeleteImage of an image in use",
            r,
            &["ResourceInUseException"],
        );
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
        env.ok(
            &format!("DeleteImagePermissions {name} for {acct}"),
            env.c(o, HOME)
                .delete_image_permissions()
                .name(&name)
                .shared_account_id(acct)
                .send()
                .await,
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
            let fname = f.name().unwrap_or_default();
            env.ok(
                &format!("DeleteFleet {fname} of account {a}"),
                env.c(a, HOME).delete_fleet().name(fname).send().await,
            );
            m.fleets[a].remove(fname);
        }
    }
    env.ok(
        &format!("DeleteImage of {arn}, unshared and unused"),
        env.c(o, HOME).delete_image().name(&name).send().await,
    );
    m.images[o].remove(&name);
    let r = env.c(o, HOME).describe_images().names(&name).send().await;
    let gone = env.allow("DescribeImages", r, &["ResourceNotFoundException"]);
    assert!(gone.is_err(), "{ctx}: deleted {arn} is still listed");
    for acct in before.keys() {
        let r = env.account_of(acct);
        let res = env.c(r, HOME).describe_images().arns(&arn).send().await;
        let gone = env.allow("DescribeImages", res, &["ResourceNotFoundException"]);
        assert!(
            gone.is_err(),
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
        p.seed_private_images(&env.ids[a], HOME, &names).await;
        m.images[a].extend(names);
    }
    println!(
        "server and accounts ready ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
    for round in 0..ROUNDS {
        // A fresh image per account and round, while the account has few (10 per region is
        // the quota copies run into).
        for a in 0..ACCOUNTS {
            if m.images[a].len() >= 8 {
                continue;
            }
            let name = format!("a{a}-r{round}");
            p.seed_private_images(&env.ids[a], HOME, std::slice::from_ref(&name))
                .await;
            m.images[a].insert(name);
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
