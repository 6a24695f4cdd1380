//! The storage port: the `Store` trait every engine implements (the engine's own methods, over
//! one sub-trait per aggregate), the records it keeps, and its error type. No SQL and no
//! business rules live here. A rule that reads before it writes, or changes several records,
//! runs in the domain against a `WriteTx` (the unit of work, `tx`); the remaining single-call
//! methods are one transaction each, and their conditional writes take their limits as
//! arguments so the check and the write are atomic.
//!
//! Records are persisted types, not API types: they carry what the domain needs to rebuild an
//! API answer, and the JSON attribute documents carry a version (`v`) so they can be migrated on
//! read.

use std::collections::BTreeMap;

use photon_types::{FleetState, ImageBuilderState, ImageState};
use serde::{Deserialize, Serialize};

mod tx;

pub use tx::{Key, LockKey, LockOrder, WriteTx};

pub type Millis = i64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same key exists.
    #[error("already exists")]
    Conflict,
    /// A conditional write found its limit reached.
    #[error("limit of {0} reached")]
    LimitReached(i64),
    /// A write addressed a resource that does not exist (any more).
    #[error("no such resource")]
    NotFound,
    /// The engine failed; the text is for logs only.
    #[error("store failure: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub account_id: String,
    pub name: String,
    pub created_at: Millis,
}

#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub account_id: String,
    pub secret_access_key: String,
    pub created_at: Millis,
}

impl std::fmt::Debug for AccessKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// A setting kept exactly as the API gave it: the model shape's own tree (members by their wire
/// names), for settings Photon stores and returns but whose fields it does not query. The domain
/// writes it from a model shape and reads it back through the model's decoder, so a document
/// that no longer decodes is noticed, never served. AWS only adds members to its shapes, so a
/// stored document stays readable as the pinned model grows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Doc {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Doc>),
    Map(BTreeMap<String, Doc>),
}

/// The owner column of AWS-owned public images.
pub const PUBLIC_OWNER: &str = "";

/// An image as stored. `owner` is [`PUBLIC_OWNER`] for public base images.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRecord {
    pub region: String,
    pub owner: String,
    pub name: String,
    pub arn: String,
    pub state: ImageState,
    pub platform: String,
    pub created_at: Millis,
    pub attrs: ImageAttrs,
}

/// The image fields that no query filters on, stored as one versioned JSON document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageAttrs {
    #[serde(default = "attrs_version")]
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_image_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_builder_name: Option<String>,
    #[serde(default)]
    pub image_builder_supported: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_base_image_released_date: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appstream_agent_version: Option<String>,
    #[serde(default)]
    pub latest_appstream_agent_version: bool,
    #[serde(default)]
    pub supported_instance_families: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_type: Option<String>,
    #[serde(default)]
    pub dynamic_app_providers_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_change_reason: Option<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<AppRecord>,
    /// The image's content: layer manifest digests in the blob store, lowest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
    /// Windows images: the OS settings instances launched from it start with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_settings: Option<OsSettings>,
    /// (code, message, when) of what went wrong making the image (its notifications).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<(String, String, Millis)>,
    /// The id of the job that finishes the resource's current transition (`None` at rest):
    /// the only job whose steps may still change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_job: Option<String>,
}

/// An application of an image's catalog (the Image Assistant's `add-application`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub launch_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_parameters: Option<String>,
    /// Files to optimise for launch (from the optimisation manifest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifest: Vec<String>,
}

/// The Windows settings the seed's rules are about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsSettings {
    /// Windows Update service enabled.
    pub windows_update: bool,
    /// Windows Defender Antivirus: `None` when the image has no antivirus at all (2012 R2);
    /// else whether it is enabled (registry `DisableAntiSpyware` 0 and the service running).
    pub defender: Option<bool>,
}

fn attrs_version() -> u32 {
    1
}

/// Which slice of the registry a listing reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageScope {
    /// AWS-owned base images.
    Public,
    /// Images the caller owns.
    Owned,
    /// Images other accounts share with the caller.
    SharedWithMe,
    /// All three.
    Visible,
}

#[derive(Debug, Clone)]
pub struct ImageQuery {
    pub region: String,
    pub account_id: String,
    pub scope: ImageScope,
    /// Exclusive lower bound on the sort key (keyset pagination).
    pub after: Option<String>,
    pub limit: u32,
}

/// An image plus the caller's view of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRow {
    pub image: ImageRecord,
    /// The sort key this row was listed under; the next page starts after it.
    pub sort_key: String,
    /// Set when the image reached the caller through sharing: (allowFleet, allowImageBuilder).
    pub shared_with_caller: Option<(bool, bool)>,
    /// Whether the owner shares this image with at least one account.
    pub shared_with_others: bool,
}

/// The sort key of an image: hex so that every engine and collation orders it the same way,
/// name first so listings read alphabetically, ARN last so the key is unique.
pub fn image_sort_key(name: &str, arn: &str) -> String {
    format!("{}00{}", hex_key(name), hex_key(arn))
}

/// Hex of a text: a sort key that orders the same under every engine and collation (listings
/// of resources unique by name sort by `hex_key(name)`).
pub fn hex_key(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(2 * s.len());
    for b in s.bytes() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// What still uses an image; counted inside the transaction that would delete it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageUsage {
    /// Accounts the image is shared with.
    pub shared_with: i64,
    /// The owner's fleets whose image it is; up to a few of their names, for messages. (A
    /// recipient's fleets count through the share that lets them use it.)
    pub fleets: i64,
    pub fleet_names: Vec<String>,
}

impl ImageUsage {
    pub fn in_use(&self) -> bool {
        self.shared_with > 0 || self.fleets > 0
    }
}

/// The kinds of resource Photon keys by (region, owner, name), each with its ARN resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Image,
    ImageBuilder,
    Fleet,
    Stack,
    Session,
}

impl ResourceKind {
    pub fn arn_type(self) -> &'static str {
        match self {
            ResourceKind::Image => "image",
            ResourceKind::ImageBuilder => "image-builder",
            ResourceKind::Fleet => "fleet",
            ResourceKind::Stack => "stack",
            ResourceKind::Session => "session",
        }
    }

    /// The one place ARNs are made: `arn:aws:appstream:REGION:OWNER:TYPE/NAME` (public images
    /// have the empty owner, as AWS's do).
    pub fn arn(self, region: &str, owner: &str, name: &str) -> String {
        format!(
            "arn:aws:appstream:{region}:{owner}:{}/{name}",
            self.arn_type()
        )
    }
}

/// A taggable resource, as the store finds it (tags are keyed by ARN, existence by this key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceKey {
    Image {
        region: String,
        owner: String,
        name: String,
    },
    ImageBuilder {
        region: String,
        owner: String,
        name: String,
    },
    Fleet {
        region: String,
        owner: String,
        name: String,
    },
    Stack {
        region: String,
        owner: String,
        name: String,
    },
}

/// An image builder as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BuilderRecord {
    pub region: String,
    pub owner: String,
    pub name: String,
    pub arn: String,
    pub state: ImageBuilderState,
    pub platform: String,
    pub instance_type: String,
    /// The image it was launched from.
    pub image_arn: String,
    pub created_at: Millis,
    pub attrs: BuilderAttrs,
}

/// The builder fields no query filters on, as one versioned JSON document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuilderAttrs {
    #[serde(default = "attrs_version")]
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_default_internet_access: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizational_unit: Option<String>,
    /// (endpoint type, VPC endpoint id)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_endpoints: Vec<(String, Option<String>)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_volume_size_gb: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_imdsv1: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appstream_agent_version: Option<String>,
    #[serde(default)]
    pub latest_appstream_agent_version: bool,
    /// (code, message) of the last state change that needs explaining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_change_reason: Option<(String, String)>,
    /// The layers of the image it was launched from; its own files lie over them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_layers: Vec<String>,
    /// Windows builders: the current OS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_settings: Option<OsSettings>,
    /// The application catalog the Image Assistant is building.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<AppRecord>,
    /// The Windows user whose profile became the default profile (`update-default-profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_profile: Option<String>,
    /// `ImageBuilderAgentAccessConfig` as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_access_config: Option<Doc>,
    /// `AppstreamAgentVersion` as `CreateImageBuilder` was given it when it named no version
    /// (`LATEST`): what the builder reports while it follows the latest agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_agent_version: Option<String>,
    /// The id of the job that finishes the resource's current transition (`None` at rest):
    /// the only job whose steps may still change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_job: Option<String>,
}

/// One file of a builder's own layer; `digest` `None` hides the path of the image below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuilderFile {
    pub path: String,
    pub digest: Option<String>,
    pub size: i64,
}

/// A fleet as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRecord {
    pub region: String,
    pub owner: String,
    pub name: String,
    pub arn: String,
    pub state: FleetState,
    pub image_arn: String,
    pub instance_type: String,
    pub fleet_type: String,
    pub created_at: Millis,
    pub attrs: FleetAttrs,
}

/// The fleet fields no query filters on, as one versioned JSON document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetAttrs {
    #[serde(default = "attrs_version")]
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub desired_instances: i32,
    pub max_user_duration_in_seconds: i32,
    pub disconnect_timeout_in_seconds: i32,
    pub idle_disconnect_timeout_in_seconds: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_default_internet_access: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizational_unit: Option<String>,
    pub stream_view: String,
    pub platform: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_imdsv1: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_volume_size_gb: Option<i32>,
    /// (code, message) of what keeps the fleet from working as asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sessions_per_instance: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_sessions: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usb_device_filter_strings: Option<Vec<String>>,
    /// `S3Location` as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_script_s3_location: Option<Doc>,
    /// The id of the job that finishes the resource's current transition (`None` at rest):
    /// the only job whose steps may still change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_job: Option<String>,
}

/// A stack as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StackRecord {
    pub region: String,
    pub owner: String,
    pub name: String,
    pub arn: String,
    pub created_at: Millis,
    pub attrs: StackAttrs,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StackAttrs {
    #[serde(default = "attrs_version")]
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_url: Option<String>,
    /// Application settings persistence: (enabled, settings group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_settings: Option<(bool, Option<String>)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub embed_host_domains: Vec<String>,
    /// The model shapes of the stack's other settings, as given (`StorageConnectors`,
    /// `UserSettings`, `AccessEndpoints`, `StreamingExperienceSettings`, `ContentRedirection`,
    /// `WebAuthnRedirection`, `AgentAccessConfig`), keyed by member name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, Doc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_connector_authentication: Option<String>,
}

/// One release of an AWS base image: the public image it published and what it shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseRelease {
    /// `PlatformType` wire value.
    pub platform: String,
    pub image_name: String,
    /// `YYYY-MM-DD`.
    pub released: String,
    pub agent_version: String,
    /// The Windows or Linux patch level the release carries (`YYYY-MM`).
    pub os_patch_level: String,
    /// Driver name to version.
    pub driver_versions: BTreeMap<String, String>,
    /// The digest of a layer of extra content the operator published with the release.
    pub content_layer: Option<String>,
    pub created_at: Millis,
}

/// One AppStream agent version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRelease {
    /// `MM-DD-YYYY`, as AWS names agent versions.
    pub version: String,
    /// `YYYY-MM-DD`.
    pub released: String,
    pub notes: String,
    pub created_at: Millis,
}

/// A fault an operator injected into a stage of a long operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRecord {
    pub id: String,
    pub operation: String,
    pub stage: String,
    pub error_code: String,
    pub message: String,
    /// The source image it applies to; empty for every image.
    pub image: String,
    /// Failures still to cause.
    pub remaining: i64,
    pub created_at: Millis,
}

/// One account an image is shared with, and what it may do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageShare {
    pub shared_account: String,
    pub allow_fleet: bool,
    pub allow_image_builder: bool,
}

/// A streaming session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub region: String,
    pub owner: String,
    pub stack: String,
    pub fleet: String,
    pub user_id: String,
    pub instance_id: String,
    /// The image the session's instance was provisioned from.
    pub image_arn: String,
    pub started_at: Millis,
    pub expires_at: Millis,
    /// When the user's streaming page was last heard from.
    pub last_seen: Millis,
    /// When the user last gave keyboard or mouse input (the idle disconnect timeout).
    pub last_input: Millis,
}

/// A stored resource with a lifecycle: its state is the model's enum for the kind, and a
/// transitional state is owned by the job that finishes it.
pub trait Stateful {
    type State: Copy + std::fmt::Debug + PartialEq + std::fmt::Display + Send + Sync;
    fn state(&self) -> Self::State;
    fn set_state(&mut self, state: Self::State);
    /// The job that owns the current transition (see the attributes' `transition_job`).
    fn transition_job(&self) -> Option<&str>;
    fn set_transition_job(&mut self, job: Option<String>);
}

macro_rules! stateful {
    ($($record:ty => $state:ty),*) => {$(
        impl Stateful for $record {
            type State = $state;
            fn state(&self) -> $state {
                self.state
            }
            fn set_state(&mut self, state: $state) {
                self.state = state;
            }
            fn transition_job(&self) -> Option<&str> {
                self.attrs.transition_job.as_deref()
            }
            fn set_transition_job(&mut self, job: Option<String>) {
                self.attrs.transition_job = job;
            }
        }
    )*};
}

/// Each per-account record names its own `Key`.
macro_rules! keyed {
    ($($record:ty),*) => {$(
        impl $record {
            pub fn key(&self) -> Key<'_> {
                Key::new(&self.region, &self.owner, &self.name)
            }
        }
    )*};
}

keyed!(ImageRecord, BuilderRecord, FleetRecord, StackRecord);

stateful!(
    ImageRecord => ImageState,
    BuilderRecord => ImageBuilderState,
    FleetRecord => FleetState
);

/// What a guarded state change found.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition<T: Stateful = BuilderRecord> {
    Done(Box<T>),
    NotFound,
    /// The resource is in another state than the change requires.
    WrongState(T::State),
}

/// The newest `ImageAttrs` version this build reads and writes.
pub const IMAGE_ATTRS_VERSION: u32 = 1;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for `run_at`.
    Queued,
    /// Claimed by `lease_owner` until `lease_until`.
    Running,
    Done,
    /// Gave up: out of attempts, or a fatal error.
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        match s {
            "queued" => Some(JobState::Queued),
            "running" => Some(JobState::Running),
            "done" => Some(JobState::Done),
            "failed" => Some(JobState::Failed),
            _ => None,
        }
    }
}

/// A durable unit of background work. `payload` is the job kind's own versioned document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    pub account_id: String,
    pub region: String,
    /// The resource the job moves along (e.g. an image builder's ARN), for inspection.
    pub resource: String,
    pub payload: String,
    pub state: JobState,
    pub run_at: Millis,
    pub attempts: i64,
    pub max_attempts: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Millis>,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// How a claimed job ended this attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Done,
    /// The attempt succeeded and the job has a further stage at `run_at`; its attempt count
    /// starts again, since attempts limit failures, not stages.
    Continue {
        run_at: Millis,
    },
    /// Try again at `run_at`.
    Retry {
        run_at: Millis,
        error: String,
    },
    /// Give up for good.
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaRecord {
    pub account_id: String,
    pub region: String,
    pub name: String,
    pub value: i64,
}

/// A signed-in browser of the web console. `id_hash` is the SHA-256 (hex) of the cookie's
/// token; `csrf` is the token every form of the session must echo.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsoleSessionRecord {
    pub id_hash: String,
    pub account_id: String,
    pub region: String,
    pub csrf: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

impl std::fmt::Debug for ConsoleSessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSessionRecord")
            .field("account_id", &self.account_id)
            .field("region", &self.region)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The storage port. Its methods are grouped by aggregate into the sub-traits below (one
/// module per aggregate in the engines); `Store` itself holds what is the engine's own. Callers
/// bring the sub-traits into scope with `use photon_store::prelude::*`.
#[async_trait::async_trait]
pub trait Store:
    AccountStore
    + ImageStore
    + TagStore
    + BuilderStore
    + FleetStore
    + StackStore
    + SessionStore
    + JobStore
    + OperatorStore
    + Send
    + Sync
    + 'static
{
    /// Opens a unit of work (see `WriteTx`): the way a rule that changes several records, or
    /// reads before it writes, makes its change atomic.
    async fn write(&self) -> StoreResult<Box<dyn WriteTx>>;

    /// Which engine this is, for `/health` and logs.
    fn engine(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;

    // Settings the server keeps for itself (e.g. the pagination-token key).
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores `value` unless the key exists; returns the value in force afterwards.
    async fn init_setting(&self, key: &str, value: &str) -> StoreResult<String>;
}

/// Accounts, access keys and the web console's sign-in.
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    // Accounts and keys.
    async fn create_account(
        &self,
        account: &AccountRecord,
        key: &AccessKeyRecord,
    ) -> StoreResult<()>;
    async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>>;
    async fn account_exists(&self, account_id: &str) -> StoreResult<bool>;
    async fn access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRecord>>;

    // The web console's sign-in.
    /// Sets (or replaces) an account's console password hash and ends the account's console
    /// sessions, in one transaction; `false` if there is no such account.
    async fn set_console_password(
        &self,
        account_id: &str,
        hash: &str,
        now: Millis,
    ) -> StoreResult<bool>;
    async fn console_password(&self, account_id: &str) -> StoreResult<Option<String>>;
    /// Records a session, dropping sessions that expired before `s.created_at` in the same
    /// transaction.
    async fn create_console_session(&self, s: &ConsoleSessionRecord) -> StoreResult<()>;
    /// The session, if it has not expired by `now`.
    async fn console_session(
        &self,
        id_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<ConsoleSessionRecord>>;
    async fn set_console_session_region(&self, id_hash: &str, region: &str) -> StoreResult<bool>;
    async fn delete_console_session(&self, id_hash: &str) -> StoreResult<bool>;
}

/// Images: the registry's rows, lookups as an account sees them, sharing and copies.
#[async_trait::async_trait]
pub trait ImageStore: Send + Sync {
    // Images.
    /// Inserts an image; `Conflict` if (region, owner, name) is taken.
    async fn insert_image(&self, image: &ImageRecord) -> StoreResult<()>;
    /// Inserts the images that are not there yet, in one transaction; returns how many were new.
    async fn seed_images(&self, images: &[ImageRecord]) -> StoreResult<u64>;
    async fn image(&self, key: Key<'_>) -> StoreResult<Option<ImageRow>>;
    /// Looks an image up as `account_id` sees it (public, owned, or shared with it).
    async fn image_for(
        &self,
        region: &str,
        account_id: &str,
        arn: &str,
    ) -> StoreResult<Option<ImageRow>>;
    /// An image another account shares with `account_id`, by name.
    async fn shared_image_by_name(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
    ) -> StoreResult<Option<ImageRow>>;
    async fn list_images(&self, q: &ImageQuery) -> StoreResult<Vec<ImageRow>>;
    async fn count_images(&self, region: &str, owner: &str) -> StoreResult<i64>;

    // Sharing.
    /// The accounts an image is shared with, by account id after `after`; only those in
    /// `accounts` when it is not empty.
    async fn image_shares(
        &self,
        key: Key<'_>,
        accounts: &[String],
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ImageShare>>;
}

/// Tags, keyed by resource ARN.
#[async_trait::async_trait]
pub trait TagStore: Send + Sync {
    // Tags, keyed by resource ARN.
    async fn tags(&self, arn: &str) -> StoreResult<BTreeMap<String, String>>;
    /// Sets tags on an existing resource; `NotFound` if it is gone, `LimitReached` if it would
    /// carry more than `max_tags`.
    async fn put_tags(
        &self,
        resource: &ResourceKey,
        arn: &str,
        tags: &BTreeMap<String, String>,
        max_tags: i64,
    ) -> StoreResult<()>;
    /// Removes tags from an existing resource; `NotFound` if it is gone.
    async fn remove_tags(
        &self,
        resource: &ResourceKey,
        arn: &str,
        keys: &[String],
    ) -> StoreResult<()>;
}

/// Image builders, their files and settings, and the images made from them.
#[async_trait::async_trait]
pub trait BuilderStore: Send + Sync {
    // Image builders.
    async fn image_builder(&self, key: Key<'_>) -> StoreResult<Option<BuilderRecord>>;
    /// Builders of an account in a region, by name, after the sort key `after`; each with its
    /// sort key.
    async fn list_image_builders(
        &self,
        region: &str,
        owner: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, BuilderRecord)>>;
    /// A builder's own layer.
    async fn builder_files(&self, key: Key<'_>) -> StoreResult<Vec<BuilderFile>>;
}

/// Fleets (created and changed through `WriteTx`; these are the reads and single-row moves).
#[async_trait::async_trait]
pub trait FleetStore: Send + Sync {
    // Fleets.
    async fn fleet(&self, key: Key<'_>) -> StoreResult<Option<FleetRecord>>;
    async fn list_fleets(
        &self,
        region: &str,
        owner: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, FleetRecord)>>;
}

/// Stacks and their fleet associations.
#[async_trait::async_trait]
pub trait StackStore: Send + Sync {
    // Stacks.
    async fn stack(&self, key: Key<'_>) -> StoreResult<Option<StackRecord>>;
    async fn list_stacks(
        &self,
        region: &str,
        owner: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, StackRecord)>>;
    async fn fleets_of_stack(
        &self,
        region: &str,
        owner: &str,
        stack: &str,
    ) -> StoreResult<Vec<String>>;
    async fn stacks_of_fleet(
        &self,
        region: &str,
        owner: &str,
        fleet: &str,
    ) -> StoreResult<Vec<String>>;
}

/// Streaming sessions.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync {
    // Streaming sessions.
    async fn sessions(
        &self,
        region: &str,
        owner: &str,
        fleet: &str,
    ) -> StoreResult<Vec<SessionRecord>>;
    /// Ends a session; `false` if there is none with that id in the account.
    async fn end_session(&self, region: &str, owner: &str, id: &str) -> StoreResult<bool>;
    async fn session(
        &self,
        region: &str,
        owner: &str,
        id: &str,
    ) -> StoreResult<Option<SessionRecord>>;
    /// Records that the session's user is still connected at `now`, and gave input since the
    /// last call when `input`; `false` if the session ended.
    async fn touch_session(
        &self,
        region: &str,
        owner: &str,
        id: &str,
        now: Millis,
        input: bool,
    ) -> StoreResult<bool>;
}

/// The durable engine's job queue: leases, heartbeats and outcomes.
#[async_trait::async_trait]
pub trait JobStore: Send + Sync {
    // Durable jobs (the lifecycle engine's queue).
    /// Records a job; callers that change a resource's state enqueue in the same call.
    async fn enqueue_job(&self, job: &JobRecord) -> StoreResult<()>;
    /// Claims up to `limit` jobs that are due (queued with `run_at <= now`, or running with an
    /// expired lease), leasing them to `worker` until `now + lease_ms` and counting an attempt.
    /// No two workers ever hold the same job at once.
    async fn claim_jobs(
        &self,
        worker: &str,
        now: Millis,
        lease_ms: Millis,
        limit: u32,
    ) -> StoreResult<Vec<JobRecord>>;
    /// Extends a lease; `false` if `worker` no longer holds the job.
    async fn heartbeat_job(&self, id: &str, worker: &str, lease_until: Millis)
        -> StoreResult<bool>;
    /// Ends an attempt; `false` (and nothing written) if `worker` no longer holds the job, so a
    /// worker whose lease ran out cannot overwrite the outcome of the one that took over.
    async fn finish_job(
        &self,
        id: &str,
        worker: &str,
        outcome: &JobOutcome,
        now: Millis,
    ) -> StoreResult<bool>;
    async fn job(&self, id: &str) -> StoreResult<Option<JobRecord>>;
    /// What the queue holds at `now`, for the operator's metrics.
    async fn job_queue(&self, now: Millis) -> StoreResult<QueueStats>;
}

/// The job queue at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Jobs due to run (queued with `run_at` passed) that no engine has claimed yet.
    pub due: i64,
    /// When the longest-waiting due job became due.
    pub oldest_due_at: Option<Millis>,
    /// Jobs an engine holds a lease on (or held, until the lease runs out).
    pub running: i64,
}

/// What the operator manages: base-image and agent releases, rehearsed faults and quotas.
#[async_trait::async_trait]
pub trait OperatorStore: Send + Sync {
    // The release feed.
    /// Records the releases that are not there yet, in one transaction; returns how many were
    /// new.
    async fn seed_releases(
        &self,
        base: &[BaseRelease],
        agents: &[AgentRelease],
    ) -> StoreResult<u64>;
    /// Publishes a base image release with its public images (one per region), in one
    /// transaction; `Conflict` if the release or an image name exists.
    async fn publish_base_release(
        &self,
        release: &BaseRelease,
        images: &[ImageRecord],
    ) -> StoreResult<()>;
    /// `Conflict` if the version exists.
    async fn publish_agent(&self, agent: &AgentRelease) -> StoreResult<()>;
    /// Every base image release, oldest first.
    async fn base_releases(&self) -> StoreResult<Vec<BaseRelease>>;
    /// Every agent version, oldest first.
    async fn agent_releases(&self) -> StoreResult<Vec<AgentRelease>>;
    /// The regions that hold the public catalogue (the regions served).
    async fn public_regions(&self) -> StoreResult<Vec<String>>;

    // Injected faults.
    async fn add_fault(&self, fault: &FaultRecord) -> StoreResult<()>;
    async fn faults(&self) -> StoreResult<Vec<FaultRecord>>;
    /// Removes every fault; returns how many there were.
    async fn clear_faults(&self) -> StoreResult<u64>;

    // Quotas (the Service Quotas equivalent).
    async fn quota(&self, account_id: &str, region: &str, name: &str) -> StoreResult<Option<i64>>;
    /// Sets several quota values in one transaction.
    async fn set_quotas(&self, q: &[QuotaRecord]) -> StoreResult<()>;
    async fn list_quotas(&self, account_id: Option<&str>) -> StoreResult<Vec<QuotaRecord>>;
}

/// Every store trait, for callers: `use photon_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AccountStore, BuilderStore, FleetStore, ImageStore, JobStore, OperatorStore, SessionStore,
        StackStore, Store, TagStore,
    };
}
