//! The Image Assistant operations (`programmatically-create-image.md`): the application catalog
//! of a builder, the default Windows profile, and `create-image`, which snapshots the builder's
//! file system into a new image. Every answer is the tool's own: a status (0, 1, or 255 for
//! the unexpected) and a message, as its tables give them.

use std::collections::BTreeMap;
use std::sync::Arc;

use photon_blob::{put_layer, Entry, Layer};
use photon_store::{
    AppRecord, BuilderRecord, ImageAttrs, ImageRecord, JobRecord, Key, LockKey, StoreError,
    PUBLIC_OWNER,
};
use photon_types::{Caller, ImageBuilderState, ImageState, ImageStateChangeReasonCode, ImageType};
use photon_workflow::{BoxFuture, JobKind, Step, Typed};

use crate::arn::Arn;
use crate::content::is_windows;
use crate::pace::Stage;
use crate::transition::owns;
use crate::{CoreError, Service};

pub const MAX_APPS: usize = 50;
/// The Image Assistant's own limit; the API's pattern admits 101 (docs/compatibility.md).
pub const MAX_IMAGE_NAME: usize = 100;
pub const RESERVED_PREFIXES: [&str; 3] = ["aws", "appstream", "amazon"];
pub const JOB_KIND: &str = "image-create";

/// The builder whose snapshot an image-create job takes into the job's image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub builder: String,
}

impl photon_workflow::Payload for Snapshot {
    fn legacy(text: &str) -> Option<Self> {
        // Before documents the payload was the builder's name.
        (!text.is_empty() && !text.starts_with('{')).then(|| Snapshot {
            builder: text.to_owned(),
        })
    }
}

/// What an operation answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// 0 success, 1 refused (the tool's tables), 255 unexpected.
    pub status: i32,
    pub message: String,
    pub applications: Option<Vec<AppRecord>>,
    pub warnings: Vec<String>,
}

impl Reply {
    fn ok() -> Reply {
        Reply {
            status: 0,
            message: "Success".into(),
            applications: None,
            warnings: Vec::new(),
        }
    }
    fn refused(message: impl Into<String>) -> Reply {
        Reply {
            status: 1,
            message: message.into(),
            applications: None,
            warnings: Vec::new(),
        }
    }
}

/// The operations, with the tool's options.
#[derive(Debug, Clone)]
pub enum Operation {
    AddApplication {
        name: String,
        absolute_app_path: String,
        display_name: Option<String>,
        absolute_icon_path: Option<String>,
        working_directory: Option<String>,
        launch_parameters: Option<String>,
        absolute_manifest_path: Option<String>,
    },
    RemoveApplication {
        name: String,
    },
    ListApplications,
    UpdateDefaultProfile {
        profile: Option<String>,
    },
    ResetUserProfile {
        profile: Option<String>,
    },
    CreateImage {
        name: String,
        description: Option<String>,
        display_name: Option<String>,
        enable_dynamic_app_catalog: bool,
        use_latest_agent_version: bool,
        tags: Vec<String>,
        dry_run: bool,
    },
}

/// Width and height of a PNG, BMP or JPEG, read from its header.
fn image_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let be32 = |i: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(i..i + 4)?.try_into().ok()?))
    };
    let le32 = |i: usize| -> Option<u32> {
        Some(i32::from_le_bytes(bytes.get(i..i + 4)?.try_into().ok()?).unsigned_abs())
    };
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some((be32(16)?, be32(20)?));
    }
    if bytes.starts_with(b"BM") {
        return Some((le32(18)?, le32(22)?));
    }
    if bytes.starts_with(&[0xff, 0xd8]) {
        let mut i = 2;
        while i + 9 < bytes.len() {
            if bytes[i] != 0xff {
                return None;
            }
            let marker = bytes[i + 1];
            let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
            if (0xc0..=0xc3).contains(&marker) {
                let h = u32::from(u16::from_be_bytes([bytes[i + 5], bytes[i + 6]]));
                let w = u32::from(u16::from_be_bytes([bytes[i + 7], bytes[i + 8]]));
                return Some((w, h));
            }
            i += 2 + len;
        }
    }
    None
}

fn check_image_name(name: &str) -> Option<String> {
    if name.is_empty() || name.chars().count() > MAX_IMAGE_NAME {
        return Some(format!(
            "Invalid value (name): use 1 to {MAX_IMAGE_NAME} characters"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Some(
            "Invalid value (name): use only a-z, A-Z, 0-9, underscores (_), hyphens (-) and periods (.), starting with a letter or digit"
                .into(),
        );
    }
    let lower = name.to_ascii_lowercase();
    RESERVED_PREFIXES
        .iter()
        .find(|p| lower.starts_with(*p))
        .map(|p| {
            format!("Invalid value (name): image names cannot start with the reserved prefix '{p}'")
        })
}

fn parse_tags(tags: &[String]) -> Option<BTreeMap<String, String>> {
    if tags.len() % 2 != 0 {
        return None;
    }
    let ok_chars = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
    };
    let mut out = BTreeMap::new();
    for pair in tags.chunks(2) {
        let (k, v) = (&pair[0], &pair[1]);
        let key_ok =
            !k.is_empty() && k.chars().count() <= 128 && !k.starts_with("aws:") && ok_chars(k);
        if !key_ok || v.chars().count() > 256 || !ok_chars(v) {
            return None;
        }
        out.insert(k.clone(), v.clone());
    }
    (out.len() <= 50).then_some(out)
}

impl Service {
    /// Runs one Image Assistant operation on a builder.
    pub async fn image_assistant(&self, cx: &Caller, builder: &str, op: Operation) -> Reply {
        match self.assistant(cx, builder, op).await {
            Ok(r) => r,
            Err(CoreError::Internal(detail)) => {
                tracing::error!(request_id = %cx.request_id, %detail, "image assistant failed");
                Reply {
                    status: 255,
                    message: format!(
                        "an unexpected error occurred; try again (request {})",
                        cx.request_id
                    ),
                    applications: None,
                    warnings: Vec::new(),
                }
            }
            Err(other) => Reply::refused(other.to_string()),
        }
    }

    async fn assistant(&self, cx: &Caller, name: &str, op: Operation) -> Result<Reply, CoreError> {
        let b = self.running_builder(cx, name).await?;
        let windows = is_windows(&b.platform);
        let view = self.builder_view(&b).await?;
        let exists = |p: &str| -> Option<String> {
            let p = crate::content::normalize(&b.platform, p, false).ok()?;
            view.keys()
                .find(|k| {
                    if windows {
                        k.eq_ignore_ascii_case(&p)
                    } else {
                        **k == p
                    }
                })
                .cloned()
        };
        let is_dir = |p: &str| -> bool {
            let Ok(p) = crate::content::normalize(&b.platform, p, true) else {
                return false;
            };
            let sep = if windows { '\\' } else { '/' };
            let prefix = if p.ends_with(sep) {
                p
            } else {
                format!("{p}{sep}")
            };
            view.keys().any(|k| {
                k.len() > prefix.len()
                    && k.is_char_boundary(prefix.len())
                    && if windows {
                        k[..prefix.len()].eq_ignore_ascii_case(&prefix)
                    } else {
                        k.starts_with(&prefix)
                    }
            })
        };
        match op {
            Operation::ListApplications => {
                let mut r = Reply::ok();
                r.applications = Some(b.attrs.applications.clone());
                Ok(r)
            }
            Operation::RemoveApplication { name: app } => {
                let mut apps = b.attrs.applications.clone();
                let before = apps.len();
                apps.retain(|a| a.name != app);
                if apps.len() == before {
                    return Ok(Reply::refused("App not found"));
                }
                self.save_catalog(&b, &apps, b.attrs.default_profile.as_deref())
                    .await
            }
            Operation::AddApplication {
                name: app,
                absolute_app_path,
                display_name,
                absolute_icon_path,
                working_directory,
                launch_parameters,
                absolute_manifest_path,
            } => {
                if app.is_empty()
                    || app.chars().count() > 256
                    || app.chars().any(char::is_whitespace)
                {
                    return Ok(Reply::refused(
                        "Invalid value (name): use 1 to 256 characters and no whitespace",
                    ));
                }
                if b.attrs.applications.len() >= MAX_APPS {
                    return Ok(Reply::refused(
                        "Unable to add more than 50 apps to the catalog.",
                    ));
                }
                if b.attrs.applications.iter().any(|a| a.name == app) {
                    return Ok(Reply::refused("Name is not unique"));
                }
                let Some(launch_path) = exists(&absolute_app_path) else {
                    return Ok(Reply::refused("File not found (absolute-app-path)"));
                };
                let lower = launch_path.to_ascii_lowercase();
                if windows && !(lower.ends_with(".exe") || lower.ends_with(".bat")) {
                    return Ok(Reply::refused("Unsupported file extension"));
                }
                if let Some(wd) = &working_directory {
                    if !is_dir(wd) {
                        return Ok(Reply::refused("Directory not found (working-directory)"));
                    }
                }
                let icon_path = match &absolute_icon_path {
                    None => None,
                    Some(icon) => {
                        let Some(path) = exists(icon) else {
                            return Ok(Reply::refused("File not found (absolute-icon-path)"));
                        };
                        let l = path.to_ascii_lowercase();
                        if !(l.ends_with(".png")
                            || l.ends_with(".jpg")
                            || l.ends_with(".jpeg")
                            || l.ends_with(".bmp"))
                        {
                            return Ok(Reply::refused(
                                "Unsupported icon file type: use .jpg, .png or .bmp",
                            ));
                        }
                        let bytes = self.file_bytes(&b.region, &view, &path)?;
                        match image_size(&bytes) {
                            Some((w, h)) if w <= 256 && h <= 256 => Some(path),
                            Some((w, h)) => {
                                return Ok(Reply::refused(format!(
                                    "Icon dimensions {w} x {h} exceed the maximum of 256 x 256"
                                )))
                            }
                            None => {
                                return Ok(Reply::refused(
                                    "The icon is not a valid .jpg, .png or .bmp image",
                                ))
                            }
                        }
                    }
                };
                let mut manifest = Vec::new();
                if let Some(m) = &absolute_manifest_path {
                    let Some(path) = exists(m) else {
                        return Ok(Reply::refused(format!(
                            "Optimization-manifest not found: {m}"
                        )));
                    };
                    let text = String::from_utf8_lossy(&self.file_bytes(&b.region, &view, &path)?)
                        .into_owned();
                    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                        match exists(line) {
                            Some(p) => manifest.push(p),
                            None if is_dir(line) => manifest.push(line.to_owned()),
                            None => return Ok(Reply::refused(format!("File not found: {line}"))),
                        }
                    }
                }
                let display_name = display_name.unwrap_or_else(|| {
                    let file = launch_path
                        .rsplit(['\\', '/'])
                        .next()
                        .unwrap_or(&launch_path);
                    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
                    stem.replace(' ', "_")
                });
                if display_name.chars().count() > 256 {
                    return Ok(Reply::refused(
                        "Invalid value (display-name): use at most 256 characters",
                    ));
                }
                let mut apps = b.attrs.applications.clone();
                apps.push(AppRecord {
                    name: app,
                    display_name: Some(display_name),
                    launch_path,
                    icon_path,
                    working_directory,
                    launch_parameters,
                    manifest,
                });
                self.save_catalog(&b, &apps, b.attrs.default_profile.as_deref())
                    .await
            }
            Operation::UpdateDefaultProfile { profile }
            | Operation::ResetUserProfile { profile }
                if !windows =>
            {
                let _ = profile;
                Ok(Reply::refused(
                    "This operation is not supported by the Linux image assistant",
                ))
            }
            Operation::UpdateDefaultProfile { profile } => {
                let user = match self.profile_user(&b, profile.as_deref(), &exists, &is_dir)? {
                    Ok(u) => u,
                    Err(refusal) => return Ok(refusal),
                };
                self.save_catalog(&b, &b.attrs.applications, Some(&user))
                    .await
            }
            Operation::ResetUserProfile { profile } => {
                let user = match self.profile_user(&b, profile.as_deref(), &exists, &is_dir)? {
                    Ok(u) => u,
                    Err(refusal) => return Ok(refusal),
                };
                let folder = format!("C:\\Users\\{}", user.rsplit('\\').next().unwrap_or(&user));
                if is_dir(&folder) {
                    self.remove_builder_path(cx, &b.name, &folder).await?;
                }
                Ok(Reply::ok())
            }
            Operation::CreateImage {
                name: image_name,
                description,
                display_name,
                enable_dynamic_app_catalog,
                use_latest_agent_version,
                tags,
                dry_run,
            } => {
                if let Some(why) = check_image_name(&image_name) {
                    return Ok(Reply::refused(why));
                }
                if description
                    .as_ref()
                    .is_some_and(|d| d.chars().count() > 256)
                {
                    return Ok(Reply::refused(
                        "Invalid value (description): use at most 256 characters",
                    ));
                }
                if display_name
                    .as_ref()
                    .is_some_and(|d| d.chars().count() > 256)
                {
                    return Ok(Reply::refused(
                        "Invalid value (display-name): use at most 256 characters",
                    ));
                }
                let Some(tags) = parse_tags(&tags) else {
                    return Ok(Reply::refused("Invalid value (tags)"));
                };
                let taken = self
                    .store
                    .image(Key::new(&cx.region, &cx.account_id, &image_name))
                    .await?
                    .is_some()
                    || self
                        .store
                        .image(Key::new(&cx.region, PUBLIC_OWNER, &image_name))
                        .await?
                        .is_some();
                if taken {
                    return Ok(Reply::refused(
                        "An image with the given name already exists",
                    ));
                }
                let mut warnings = Vec::new();
                let mut os_settings = b.attrs.os_settings;
                if let Some(s) = os_settings.as_mut() {
                    if s.windows_update {
                        warnings.push(
                            "Windows Update is enabled on this image builder; it is disabled in the image, because streaming instances are non-persistent and updates would not last beyond a session"
                                .to_owned(),
                        );
                        s.windows_update = false;
                    }
                }
                if dry_run {
                    let mut r = Reply::ok();
                    r.warnings = warnings;
                    return Ok(r);
                }
                let mut image = self
                    .snapshot(
                        cx,
                        &b,
                        &image_name,
                        description,
                        display_name,
                        enable_dynamic_app_catalog,
                        use_latest_agent_version,
                        os_settings,
                    )
                    .await?;
                let quota = self.quota(&cx.account_id, &cx.region, "images").await?;
                let job = ImageJobs::job(
                    &cx.account_id,
                    &cx.region,
                    &image.arn,
                    &Snapshot {
                        builder: b.name.clone(),
                    },
                    self.now().saturating_add(
                        i64::try_from(self.pace.delay(Stage::ImageCreate).as_millis())
                            .unwrap_or(i64::MAX),
                    ),
                    5,
                );
                crate::transition::hand_to(&mut image, &job);
                match self
                    .start_snapshot(cx, &b.name, &image, &tags, &job, quota)
                    .await?
                {
                    Ok(()) => {
                        let mut r = Reply::ok();
                        r.warnings = warnings;
                        Ok(r)
                    }
                    Err(refusal) => Ok(Reply::refused(refusal)),
                }
            }
        }
    }

    /// In one transaction: the new image is inserted within its owner's image quota, with its
    /// tags; the RUNNING builder becomes SNAPSHOTTING, owned by `job`, which finishes both; and
    /// `job` is queued. The refusal (the tool's text) when the builder is not RUNNING, the name
    /// is taken or the quota is reached.
    async fn start_snapshot(
        &self,
        cx: &Caller,
        builder: &str,
        image: &ImageRecord,
        tags: &std::collections::BTreeMap<String, String>,
        job: &JobRecord,
        quota: i64,
    ) -> Result<Result<(), String>, CoreError> {
        let key = Key::new(cx.region.as_str(), cx.account_id.as_str(), builder);
        let mut tx = self.store.write().await?;
        tx.lock(LockKey::Image(image.arn.clone())).await?;
        tx.lock(LockKey::ImageBuilder(crate::builder::builder_arn(
            key.region, key.owner, key.name,
        )))
        .await?;
        tx.lock(LockKey::account_images(&cx.account_id, &cx.region))
            .await?;
        let not_running = |state: &str| {
            format!("the image builder is {state}; create the image from a RUNNING builder")
        };
        let Some(mut b) = tx.image_builder(key).await? else {
            return Ok(Err(not_running("gone")));
        };
        if b.state != ImageBuilderState::Running {
            return Ok(Err(not_running(b.state.as_str())));
        }
        if tx.count_images(&cx.region, &cx.account_id).await? >= quota {
            return Ok(Err(format!(
                "Unable to create the image: the quota of {quota} images for account {} in {} is reached; delete an image or have the operator raise it with `photon quotas set --account-id {} --region {} images=N`",
                cx.account_id, cx.region, cx.account_id, cx.region
            )));
        }
        match tx.insert_image(image).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Ok(Err("An image with the given name already exists".into()))
            }
            Err(e) => return Err(e.into()),
        }
        tx.insert_tags(&image.arn, tags).await?;
        b.state = ImageBuilderState::Snapshotting;
        crate::transition::hand_to(&mut b, job);
        tx.put_image_builder(&b).await?;
        tx.enqueue(job).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Which Windows user a profile operation names (`domain\user`, `.` for local users; the
    /// Template User when left out), or the tool's refusal.
    fn profile_user(
        &self,
        b: &BuilderRecord,
        profile: Option<&str>,
        _exists: &dyn Fn(&str) -> Option<String>,
        is_dir: &dyn Fn(&str) -> bool,
    ) -> Result<Result<String, Reply>, CoreError> {
        let Some(profile) = profile else {
            return Ok(Ok(".\\Template User".to_owned()));
        };
        let Some((domain, user)) = profile.split_once('\\') else {
            return Ok(Err(Reply::refused(format!(
                "Invalid value (profile): use \"<domain>\\<username>\", with . as the domain for a local user, not '{profile}'"
            ))));
        };
        // The user is one folder name under C:\Users: never empty, '.', '..' or a path.
        if user.is_empty() || user == "." || user == ".." || user.contains(['\\', '/', ':']) {
            return Ok(Err(Reply::refused(format!(
                "Invalid value (profile): '{user}' is not a Windows user name"
            ))));
        }
        if domain != "." && b.attrs.directory_name.is_none() {
            return Ok(Err(Reply::refused(
                "Cannot copy a domain user when not joined to a domain",
            )));
        }
        let folder = format!("C:\\Users\\{user}");
        if !is_dir(&folder) {
            return Ok(Err(Reply::refused(format!(
                "Unable to copy file or folder: {folder}. The user's profile folder does not exist"
            ))));
        }
        Ok(Ok(profile.to_owned()))
    }

    async fn save_catalog(
        &self,
        b: &BuilderRecord,
        apps: &[AppRecord],
        profile: Option<&str>,
    ) -> Result<Reply, CoreError> {
        let (mut tx, mut now) = match self.lock_running(b.key()).await? {
            Ok(locked) => locked,
            Err(found) => {
                return Ok(Reply::refused(format!(
                    "the image builder is {}; the Image Assistant works on a RUNNING builder",
                    found.state()
                )))
            }
        };
        // Compare-and-swap against what this operation read: concurrent edits never lose one
        // another.
        if now.attrs.applications != b.attrs.applications
            || now.attrs.default_profile != b.attrs.default_profile
        {
            return Ok(Reply::refused(
                "the application catalog changed while this operation ran; run it again",
            ));
        }
        now.attrs.applications = apps.to_vec();
        now.attrs.default_profile = profile.map(str::to_owned);
        tx.put_image_builder(&now).await?;
        tx.commit().await?;
        Ok(Reply::ok())
    }

    /// The new image's record: the builder's image layers plus a snapshot of its own layer.
    #[allow(clippy::too_many_arguments)]
    async fn snapshot(
        &self,
        cx: &Caller,
        b: &BuilderRecord,
        name: &str,
        description: Option<String>,
        display_name: Option<String>,
        dynamic: bool,
        latest_agent: bool,
        os_settings: Option<photon_store::OsSettings>,
    ) -> Result<ImageRecord, CoreError> {
        // Lineage: the base image of the builder's image, or the image itself when public.
        let source = match crate::arn::Arn::parse(&b.image_arn) {
            Some(a) if a.account.is_empty() => None,
            Some(a) => {
                self.store
                    .image(Key::new(&a.region, &a.account, &a.name))
                    .await?
            }
            None => None,
        };
        let base_image_arn = source
            .as_ref()
            .and_then(|s| s.image.attrs.base_image_arn.clone())
            .or_else(|| Some(b.image_arn.clone()));
        let released = match &source {
            Some(s) => s.image.attrs.public_base_image_released_date,
            None => match crate::arn::Arn::parse(&b.image_arn) {
                Some(a) => self
                    .store
                    .image(Key::new(&a.region, PUBLIC_OWNER, &a.name))
                    .await?
                    .and_then(|r| r.image.attrs.public_base_image_released_date),
                None => None,
            },
        };
        let families = match crate::catalog::instance_family_of(&b.instance_type) {
            Some(f) => vec![f.family.to_owned()],
            None => Vec::new(),
        };
        let families = source.as_ref().map_or(families.clone(), |s| {
            if s.image.attrs.supported_instance_families.is_empty() {
                families
            } else {
                s.image.attrs.supported_instance_families.clone()
            }
        });
        Ok(ImageRecord {
            region: cx.region.clone(),
            owner: cx.account_id.clone(),
            name: name.to_owned(),
            arn: Arn::image(&cx.region, &cx.account_id, name),
            state: ImageState::Pending,
            platform: b.platform.clone(),
            created_at: self.now(),
            attrs: ImageAttrs {
                v: photon_store::IMAGE_ATTRS_VERSION,
                display_name,
                description,
                base_image_arn,
                image_builder_name: Some(b.name.clone()),
                image_builder_supported: true,
                public_base_image_released_date: released,
                appstream_agent_version: if latest_agent {
                    Some(self.agent_versions().await?.0)
                } else {
                    b.attrs.appstream_agent_version.clone()
                },
                latest_appstream_agent_version: latest_agent,
                supported_instance_families: families,
                image_type: Some(ImageType::Native.as_str().to_owned()),
                dynamic_app_providers_enabled: dynamic,
                state_change_reason: None,
                // The content, catalog and settings are taken by the job once the builder is
                // SNAPSHOTTING, when nothing can change them any more (`snapshot_content`).
                applications: Vec::new(),
                layers: Vec::new(),
                os_settings,
                errors: Vec::new(),
                transition_job: None,
            },
        })
    }
}

impl Service {
    /// What a snapshotting builder puts into its image: its image's layers plus its own layer,
    /// its application catalog, and its settings with Windows Update off. Content-addressed, so
    /// taking it again gives the same digests.
    pub(crate) async fn snapshot_content(
        &self,
        b: &BuilderRecord,
    ) -> Result<
        (
            Vec<String>,
            Vec<AppRecord>,
            Option<photon_store::OsSettings>,
        ),
        CoreError,
    > {
        let own: Layer = self
            .store
            .builder_files(b.key())
            .await?
            .into_iter()
            .map(|f| {
                (
                    f.path,
                    Entry {
                        digest: f.digest,
                        size: u64::try_from(f.size).unwrap_or(0),
                    },
                )
            })
            .collect();
        let mut layers = b.attrs.base_layers.clone();
        if !own.is_empty() {
            layers.push(
                put_layer(self.blobs.region(&b.region), &own)
                    .map_err(|e| CoreError::Internal(e.to_string()))?,
            );
        }
        let settings = b.attrs.os_settings.map(|mut s| {
            s.windows_update = false;
            s
        });
        Ok((layers, b.attrs.applications.clone(), settings))
    }
}

/// Finishes images created from builders: the image becomes AVAILABLE and the builder, done
/// snapshotting, STOPPED (as the tutorial describes). Each step is guarded by the state it
/// expects, so a repeated attempt changes nothing.
pub struct ImageJobs {
    svc: Service,
}

impl ImageJobs {
    pub fn new(svc: Service) -> Arc<Typed<ImageJobs>> {
        Arc::new(Typed(ImageJobs { svc }))
    }

    fn keys(job: &JobRecord, p: &Snapshot) -> Option<(String, String)> {
        let image = job.resource.rsplit_once("image/")?.1.to_owned();
        Some((image, p.builder.clone()))
    }

    /// Takes the snapshot of the (frozen) SNAPSHOTTING builder into its PENDING image and
    /// finishes both. The content is written to the blob store first (content-addressed, so a
    /// repeat gives the same digests); then one transaction records everything: the fault an
    /// operator armed (`photon faults`) or the image's content and `AVAILABLE`, and the builder
    /// `STOPPED`. No kill can leave the one changed without the other.
    async fn step(&self, job: &JobRecord, p: &Snapshot) -> Result<Step, CoreError> {
        let Some((image, builder)) = Self::keys(job, p) else {
            return Ok(Step::Fatal(format!(
                "job resource '{}' is not an image ARN",
                job.resource
            )));
        };
        let store = &self.svc.store;
        let key = Key::new(job.region.as_str(), job.account_id.as_str(), image.as_str());
        let bkey = Key::new(key.region, key.owner, builder.as_str());
        let Some(row) = store.image(key).await? else {
            // The image is gone: only the builder may be left SNAPSHOTTING.
            self.finish(job, p, None).await?;
            return Ok(Step::Done);
        };
        if row.image.state != ImageState::Pending || !owns(&row.image, job) {
            self.finish(job, p, None).await?;
            return Ok(Step::Done);
        }
        let Some(b) = store.image_builder(bkey).await? else {
            return Ok(Step::Fatal(format!("image builder '{builder}' is gone")));
        };
        if b.state != ImageBuilderState::Snapshotting {
            return Ok(Step::Fatal(format!(
                "image builder '{builder}' is {} instead of SNAPSHOTTING",
                b.state
            )));
        }
        let (mut layers, applications, os_settings) = self.svc.snapshot_content(&b).await?;
        if let Some(agent) = row
            .image
            .attrs
            .appstream_agent_version
            .as_deref()
            .filter(|a| Some(*a) != b.attrs.appstream_agent_version.as_deref())
        {
            layers = self
                .svc
                .with_agent(&job.region, &b.platform, layers, agent)
                .await?;
        }
        let mut tx = store.write().await?;
        tx.lock(LockKey::Image(row.image.arn.clone())).await?;
        tx.lock(LockKey::ImageBuilder(b.arn.clone())).await?;
        tx.lock(LockKey::Faults).await?;
        let (Some(mut img), Some(mut now_builder)) =
            (tx.image(key).await?, tx.image_builder(bkey).await?)
        else {
            return Ok(Step::Retryable("the snapshot changed while it ran".into()));
        };
        if img.state != ImageState::Pending || now_builder.state != ImageBuilderState::Snapshotting
        {
            return Ok(Step::Retryable("the snapshot changed while it ran".into()));
        }
        if !owns(&img, job) || !owns(&now_builder, job) {
            return Ok(Step::Done);
        }
        img.attrs.transition_job = None;
        now_builder.attrs.transition_job = None;
        match tx.take_fault("CreateImage", "snapshot", &image).await? {
            Some(f) => crate::image::mark_failed(
                &mut img,
                ImageStateChangeReasonCode::InternalError,
                format!(
                    "the image could not be created: {}: {}",
                    f.error_code, f.message
                ),
                self.svc.now(),
            ),
            None => {
                img.attrs.layers = layers;
                img.attrs.applications = applications;
                img.attrs.os_settings = os_settings;
                img.attrs.state_change_reason = None;
                img.state = ImageState::Available;
            }
        }
        tx.put_image(&img).await?;
        now_builder.state = ImageBuilderState::Stopped;
        now_builder.attrs.state_change_reason = None;
        tx.put_image_builder(&now_builder).await?;
        tx.commit().await?;
        Ok(Step::Done)
    }

    /// In one transaction: a PENDING image becomes `FAILED` with `failure` (when given), and
    /// its builder leaves `SNAPSHOTTING` for `STOPPED`.
    async fn finish(
        &self,
        job: &JobRecord,
        p: &Snapshot,
        failure: Option<String>,
    ) -> Result<(), CoreError> {
        let Some((image, builder)) = Self::keys(job, p) else {
            return Ok(());
        };
        let key = Key::new(job.region.as_str(), job.account_id.as_str(), image.as_str());
        let bkey = Key::new(key.region, key.owner, builder.as_str());
        let mut tx = self.svc.store.write().await?;
        tx.lock(LockKey::Image(Arn::image(key.region, key.owner, key.name)))
            .await?;
        tx.lock(LockKey::ImageBuilder(crate::builder::builder_arn(
            bkey.region,
            bkey.owner,
            bkey.name,
        )))
        .await?;
        if let (Some(message), Some(mut img)) = (failure, tx.image(key).await?) {
            if img.state == ImageState::Pending && owns(&img, job) {
                img.attrs.transition_job = None;
                crate::image::mark_failed(
                    &mut img,
                    ImageStateChangeReasonCode::InternalError,
                    message,
                    self.svc.now(),
                );
                tx.put_image(&img).await?;
            }
        }
        if let Some(mut b) = tx.image_builder(bkey).await? {
            if b.state == ImageBuilderState::Snapshotting && owns(&b, job) {
                b.attrs.transition_job = None;
                b.state = ImageBuilderState::Stopped;
                b.attrs.state_change_reason = None;
                tx.put_image_builder(&b).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

impl JobKind for ImageJobs {
    const KIND: &'static str = JOB_KIND;
    type Payload = Snapshot;

    fn run<'a>(&'a self, job: &'a JobRecord, p: &'a Snapshot) -> BoxFuture<'a, Step> {
        Box::pin(async move { photon_workflow::or_retry(self.step(job, p).await) })
    }

    fn give_up<'a>(
        &'a self,
        job: &'a JobRecord,
        p: &'a Snapshot,
        error: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let why = format!("the image could not be created: {error}");
            if let Err(e) = self.finish(job, p, Some(why)).await {
                tracing::error!(job = %job.id, error = %e, "could not mark the image FAILED");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags() {
        assert!(check_image_name("good-name_1.0").is_none());
        assert!(check_image_name(&"a".repeat(101)).unwrap().contains("100"));
        assert!(check_image_name("AWS-thing").unwrap().contains("'aws'"));
        assert!(check_image_name("AppStreamX")
            .unwrap()
            .contains("'appstream'"));
        assert!(check_image_name("amazonian").unwrap().contains("'amazon'"));
        assert!(check_image_name("bad name").is_some());
        assert!(parse_tags(&["k".into()]).is_none());
        assert!(parse_tags(&["aws:k".into(), "v".into()]).is_none());
        assert_eq!(parse_tags(&["k".into(), "v".into()]).unwrap()["k"], "v");
    }

    #[test]
    fn icon_sizes() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend(300u32.to_be_bytes());
        png.extend(32u32.to_be_bytes());
        assert_eq!(image_size(&png), Some((300, 32)));
        let mut bmp = vec![0u8; 26];
        bmp[..2].copy_from_slice(b"BM");
        bmp[18..22].copy_from_slice(&64i32.to_le_bytes());
        bmp[22..26].copy_from_slice(&(-64i32).to_le_bytes());
        assert_eq!(image_size(&bmp), Some((64, 64)));
        assert_eq!(image_size(b"not an image"), None);
    }
}
