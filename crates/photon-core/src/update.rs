//! Managed image updates (`CreateUpdatedImage`): a new image from one the caller owns, with the
//! OS patch and agent of the newest base image release of its family. An image builder Photon
//! creates (`UPDATING`, then `PENDING_QUALIFICATION`) applies the release's layers to a copy of
//! the image's content; qualification checks the result for real; the new image becomes
//! `AVAILABLE` or `FAILED` (`IMAGE_UPDATE_FAILURE`, with its errors), and the builder is deleted
//! either way. The source image never changes.

use std::sync::Arc;

use photon_blob::{flatten, get_layer};
use photon_store::{
    BaseRelease, BuilderAttrs, BuilderRecord, ImageRecord, ImageRow, JobRecord, Key, LockKey,
    StoreError, PUBLIC_OWNER,
};
use photon_types::{
    Caller, CreateUpdatedImageRequest, CreateUpdatedImageResult, ImageBuilderState, ImageState,
    ImageStateChangeReasonCode,
};
use photon_workflow::{or_retry, BoxFuture, JobKind, Step, Typed};

use crate::arn::Arn;
use crate::image::NotOwned;
use crate::pace::Stage;
use crate::releases::name_prefix;
use crate::transition::owns;
use crate::{CoreError, Service};

pub const JOB_KIND: &str = "image-update";

/// What an update job needs beyond the new image it completes: the builder Photon created for
/// it, and the base image release it applies (empty when only the agent changes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpdatePlan {
    pub builder: String,
    pub release: String,
}

impl photon_workflow::Payload for UpdatePlan {
    fn legacy(text: &str) -> Option<Self> {
        // Before documents: `BUILDER\nRELEASE`.
        let (builder, release) = text.split_once('\n')?;
        Some(UpdatePlan {
            builder: builder.to_owned(),
            release: release.to_owned(),
        })
    }
}

/// Base images released before this cannot be updated (`administer-images.md`).
pub const OLDEST_UPDATABLE: &str = "2017-07-24";

/// An agent version `MM-DD-YYYY` as a sortable `YYYY-MM-DD`.
fn agent_day(v: &str) -> String {
    match (v.get(0..2), v.get(3..5), v.get(6..10)) {
        (Some(m), Some(d), Some(y)) => format!("{y}-{m}-{d}"),
        _ => String::new(),
    }
}

fn day_of(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string())
}

/// What an update would bring to an image: the newer release of its family, if any, and the
/// newest agent, if newer than the image's.
#[derive(Debug)]
struct Pending {
    release: Option<BaseRelease>,
    agent: Option<String>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.release.is_none() && self.agent.is_none()
    }
}

impl Service {
    async fn pending_updates(&self, image: &ImageRecord) -> Result<Pending, CoreError> {
        let (releases, agents) = self.releases().await?;
        let base_day = image
            .attrs
            .public_base_image_released_date
            .map(day_of)
            .unwrap_or_default();
        // The image's family is its base image's (e.g. a Graphics G4dn line has its own
        // releases); the platform's standard line when the base is not known.
        let base_prefix = image
            .attrs
            .base_image_arn
            .as_deref()
            .and_then(Arn::parse)
            .filter(|a| a.account.is_empty())
            .and_then(|a| a.name.rsplitn(4, '-').nth(3).map(str::to_owned));
        let prefix = base_prefix.or_else(|| name_prefix(&image.platform).map(str::to_owned));
        let release = releases
            .into_iter()
            .filter(|r| r.platform == image.platform)
            .filter(|r| {
                prefix.as_deref().is_some_and(|p| {
                    r.image_name
                        .strip_prefix(p)
                        .is_some_and(|rest| rest.len() == 11 && rest.starts_with('-'))
                })
            })
            .filter(|r| r.released > base_day)
            .max_by(|a, b| a.released.cmp(&b.released));
        let have = image
            .attrs
            .appstream_agent_version
            .as_deref()
            .map(agent_day)
            .unwrap_or_default();
        let agent = agents
            .into_iter()
            .max_by(|a, b| a.released.cmp(&b.released))
            .filter(|a| a.released > have)
            .map(|a| a.version);
        Ok(Pending { release, agent })
    }

    /// The image to update, or why it cannot be: the caller's own, `AVAILABLE`, from a base
    /// image released on or after 2017-07-24.
    async fn image_to_update(&self, cx: &Caller, name: &str) -> Result<ImageRow, CoreError> {
        let row = match self.own_image(cx, name).await? {
            Ok(row) => row,
            Err(NotOwned::Public) => {
                return Err(CoreError::NotPermitted(format!(
                    "image '{name}' is a public AWS base image; AWS publishes its updates as \
                     new base images. Update an image your account owns"
                )))
            }
            Err(NotOwned::SharedBy(owner)) => {
                return Err(CoreError::NotPermitted(format!(
                    "image '{name}' is shared with your account by account {owner}; only its \
                     owner can update it"
                )))
            }
            Err(NotOwned::Missing) => return Err(NotOwned::missing(name, &cx.region)),
        };
        if row.image.state != ImageState::Available {
            return Err(CoreError::ConcurrentModification(format!(
                "image '{name}' is {}; only an AVAILABLE image can be updated, so wait until it \
                 is AVAILABLE",
                row.image.state
            )));
        }
        let base_day = row
            .image
            .attrs
            .public_base_image_released_date
            .map(day_of)
            .unwrap_or_default();
        if base_day.as_str() < OLDEST_UPDATABLE {
            return Err(CoreError::Incompatible(format!(
                "image '{name}' was built from a base image released on {base_day}; managed \
                 updates need a base image released on or after {OLDEST_UPDATABLE}. Build a \
                 new image from a recent base image instead"
            )));
        }
        Ok(row)
    }

    pub async fn create_updated_image(
        &self,
        cx: &Caller,
        input: CreateUpdatedImageRequest,
    ) -> Result<CreateUpdatedImageResult, CoreError> {
        let new_name = &input.new_image_name;
        let lower = new_name.to_ascii_lowercase();
        if let Some(p) = ["amazon", "aws", "appstream"]
            .iter()
            .find(|p| lower.starts_with(*p))
        {
            return Err(CoreError::Invalid(format!(
                "newImageName '{new_name}' begins with the reserved '{p}' (any case); pick a \
                 name that does not begin with Amazon, AWS or AppStream"
            )));
        }
        let source = self.image_to_update(cx, &input.existing_image_name).await?;
        if self
            .store
            .image(Key::new(&cx.region, &cx.account_id, new_name))
            .await?
            .is_some()
        {
            return Err(CoreError::AlreadyExists(format!(
                "an image named '{new_name}' already exists in {}; pick another newImageName",
                cx.region
            )));
        }
        let pending = self.pending_updates(&source.image).await?;
        if pending.is_empty() {
            // The console's "already up to date": nothing is created.
            return Ok(CreateUpdatedImageResult {
                image: None,
                can_update_image: Some(false),
            });
        }
        let (image, builder, job) = self.update_records(cx, &source.image, &pending, &input)?;
        if input.dry_run == Some(true) {
            return Ok(CreateUpdatedImageResult {
                image: None,
                can_update_image: Some(true),
            });
        }
        let (account, region) = (&cx.account_id, &cx.region);
        let max_builders = self.quota(account, region, "image-builders").await?;
        let max_images = self.quota(account, region, "images").await?;
        let max_updates = self
            .quota(account, region, "concurrent-image-updates")
            .await?;
        let set =
            |q: &str| format!("`photon quotas set --account-id {account} --region {region} {q}=N`");
        let tags = input.new_image_tags.unwrap_or_default();
        let mut tx = self.store.write().await?;
        // The locks of builder and image creators of this account and region, in that order.
        tx.lock(LockKey::account_builders(account, region)).await?;
        tx.lock(LockKey::account_images(account, region)).await?;
        if tx.count_image_builders(region, account).await? >= max_builders {
            return Err(CoreError::LimitExceeded(format!(
                "an update needs one more image builder and the account has its {max_builders}; delete \
                 one, or have the operator raise it with {}",
                set("image-builders")
            )));
        }
        if tx.count_images(region, account).await? >= max_images {
            return Err(CoreError::LimitExceeded(format!(
                "an update needs one more image and the account has its {max_images}; delete one, or \
                 have the operator raise it with {}",
                set("images")
            )));
        }
        // An update under way is an image of this account in the new image's state.
        if tx
            .count_images_in_state(region, account, image.state)
            .await?
            >= max_updates
        {
            return Err(CoreError::LimitExceeded(format!(
                "{max_updates} image updates are already under way, the quota; wait for one to finish, \
                 or have the operator raise it with {}",
                set("concurrent-image-updates")
            )));
        }
        let inserted = match tx.insert_image(&image).await {
            Ok(()) => tx.insert_image_builder(&builder).await,
            other => other,
        };
        match inserted {
            Err(StoreError::Conflict) => {
                return Err(CoreError::AlreadyExists(format!(
                    "an image named '{new_name}' already exists in {region}; pick another \
                     newImageName"
                )))
            }
            other => other?,
        }
        tx.insert_tags(&image.arn, &tags).await?;
        tx.enqueue(&job).await?;
        tx.commit().await?;
        let row = ImageRow {
            sort_key: String::new(),
            image,
            shared_with_caller: None,
            shared_with_others: false,
        };
        Ok(CreateUpdatedImageResult {
            image: Some(crate::image::to_api(row, &cx.account_id)),
            can_update_image: Some(true),
        })
    }

    /// The new image (`CREATING`), the builder that makes it (`UPDATING`: a 10-digit suffix,
    /// the smallest size of the image's family, no VPC) and the job.
    fn update_records(
        &self,
        cx: &Caller,
        src: &ImageRecord,
        pending: &Pending,
        input: &CreateUpdatedImageRequest,
    ) -> Result<(ImageRecord, BuilderRecord, JobRecord), CoreError> {
        let now = self.now();
        let suffix: u64 = rand::random::<u64>() % 9_000_000_000 + 1_000_000_000;
        let stem: String = src.name.chars().take(90).collect();
        let builder_name = format!("{stem}-{suffix}");
        let family = src
            .attrs
            .supported_instance_families
            .first()
            .cloned()
            .unwrap_or_else(|| "GENERAL_PURPOSE".to_owned());
        let instance_type = crate::catalog::INSTANCE_FAMILIES
            .iter()
            .find(|f| f.family == family)
            .and_then(|f| f.instance_types.first())
            .ok_or_else(|| {
                CoreError::Incompatible(format!(
                    "image '{}' supports no instance family Photon knows ({family})",
                    src.name
                ))
            })?;
        let agent = pending
            .agent
            .clone()
            .or_else(|| src.attrs.appstream_agent_version.clone());
        let mut attrs = src.attrs.clone();
        attrs.display_name = input.new_image_display_name.clone();
        attrs.description = input.new_image_description.clone();
        // The model: ImageBuilderName is null for images made by managed updates.
        attrs.image_builder_name = None;
        attrs.appstream_agent_version = agent.clone();
        attrs.state_change_reason = None;
        attrs.errors = Vec::new();
        if let Some(r) = &pending.release {
            attrs.public_base_image_released_date = Some(crate::image::date_millis(&r.released));
            attrs.base_image_arn = Some(Arn::image(&cx.region, PUBLIC_OWNER, &r.image_name));
        }
        let mut image = ImageRecord {
            region: cx.region.clone(),
            owner: cx.account_id.clone(),
            name: input.new_image_name.clone(),
            arn: Arn::image(&cx.region, &cx.account_id, &input.new_image_name),
            state: ImageState::Creating,
            platform: src.platform.clone(),
            created_at: now,
            attrs,
        };
        let mut builder = BuilderRecord {
            region: cx.region.clone(),
            owner: cx.account_id.clone(),
            name: builder_name.clone(),
            arn: crate::builder::builder_arn(&cx.region, &cx.account_id, &builder_name),
            state: ImageBuilderState::Updating,
            platform: src.platform.clone(),
            instance_type: (*instance_type).to_owned(),
            image_arn: src.arn.clone(),
            created_at: now,
            attrs: BuilderAttrs {
                v: 1,
                description: Some(format!("Managed update of image {}", src.name)),
                appstream_agent_version: agent,
                // It runs the newest agent of the feed (the image's own when that is the newest).
                latest_appstream_agent_version: true,
                base_layers: src.attrs.layers.clone(),
                os_settings: src.attrs.os_settings,
                applications: src.attrs.applications.clone(),
                ..BuilderAttrs::default()
            },
        };
        let payload = UpdatePlan {
            builder: builder_name.clone(),
            release: pending
                .release
                .as_ref()
                .map_or_else(String::new, |r| r.image_name.clone()),
        };
        let job = UpdateJobs::job(
            &cx.account_id,
            &cx.region,
            &image.arn,
            &payload,
            now.saturating_add(self.stage_delay(Stage::ImageUpdate)),
            5,
        );
        crate::transition::hand_to(&mut image, &job);
        crate::transition::hand_to(&mut builder, &job);
        Ok((image, builder, job))
    }

    fn stage_delay(&self, stage: Stage) -> i64 {
        i64::try_from(self.pace.delay(stage).as_millis()).unwrap_or(0)
    }
}

/// Runs managed updates, one stage per attempt, by the builder's state: `UPDATING` applies the
/// release's layers and the agent (patching), `PENDING_QUALIFICATION` checks the result
/// (qualification). Each stage is guarded by the state it expects, so an attempt repeated after
/// a restart does the stage again or finds it done.
pub struct UpdateJobs {
    svc: Service,
}

/// Why an update failed, for the image's notifications.
struct Failure(String);

impl UpdateJobs {
    pub fn new(svc: Service) -> Arc<Typed<UpdateJobs>> {
        Arc::new(Typed(UpdateJobs { svc }))
    }

    fn keys(job: &JobRecord, plan: &UpdatePlan) -> Option<(String, String, String)> {
        let image = Arn::parse(&job.resource)?.name;
        Some((image, plan.builder.clone(), plan.release.clone()))
    }

    async fn step(&self, job: &JobRecord, plan: &UpdatePlan) -> Result<Step, CoreError> {
        let Some((image, builder, release)) = Self::keys(job, plan) else {
            return Ok(Step::Fatal(format!(
                "unreadable update job '{}'",
                job.payload
            )));
        };
        let store = &self.svc.store;
        let key = Key::new(job.region.as_str(), job.account_id.as_str(), image.as_str());
        let Some(row) = store.image(key).await? else {
            return Ok(Step::Done);
        };
        let bkey = Key::new(
            job.region.as_str(),
            job.account_id.as_str(),
            builder.as_str(),
        );
        if row.image.state != ImageState::Creating || !owns(&row.image, job) {
            // Finished before a restart cut the attempt short: only the builder may be left.
            self.fail_or_clean(job, &image, &builder, None).await?;
            return Ok(Step::Done);
        }
        let Some(b) = store.image_builder(bkey).await? else {
            return Ok(Step::Fatal(format!(
                "the update's image builder '{builder}' is gone"
            )));
        };
        let source = Arn::parse(&b.image_arn).map(|a| a.name).unwrap_or_default();
        let stage = if b.state == ImageBuilderState::Updating {
            ImageBuilderState::Updating
        } else if b.state == ImageBuilderState::PendingQualification {
            ImageBuilderState::PendingQualification
        } else {
            return Ok(Step::Fatal(format!(
                "the update's image builder '{builder}' is {}",
                b.state
            )));
        };
        // The stage's work (blob reads and writes, content-addressed, so a repeat is harmless)
        // comes first; then one transaction records everything it decided: the fault it
        // consumes, the image, the builder.
        let (fault_stage, outcome) = match stage {
            ImageBuilderState::Updating => ("patching", self.patch(&row.image, &release).await?),
            _ => (
                "qualification",
                self.qualify(&row.image)
                    .await?
                    .map(|()| row.image.attrs.clone()),
            ),
        };
        let mut tx = store.write().await?;
        tx.lock(LockKey::Image(row.image.arn.clone())).await?;
        tx.lock(LockKey::ImageBuilder(b.arn.clone())).await?;
        tx.lock(LockKey::Faults).await?;
        let (Some(mut now_image), Some(mut now_builder)) =
            (tx.image(key).await?, tx.image_builder(bkey).await?)
        else {
            return Ok(Step::Retryable("the update changed while it ran".into()));
        };
        if now_image.state != ImageState::Creating || now_builder.state != b.state {
            return Ok(Step::Retryable("the update changed while it ran".into()));
        }
        if !owns(&now_image, job) || !owns(&now_builder, job) {
            return Ok(Step::Done);
        }
        let injected = tx
            .take_fault("CreateUpdatedImage", fault_stage, &source)
            .await?
            .map(|f| Failure(format!("{}: {}", f.error_code, f.message)));
        let outcome = match injected {
            Some(fault) => Err(fault),
            None => outcome,
        };
        let next = match (stage, outcome) {
            (_, Err(Failure(why))) => {
                tx.delete_image_builder(bkey).await?;
                now_image.attrs.transition_job = None;
                self.mark_update_failed(&mut now_image, &why);
                tx.put_image(&now_image).await?;
                tracing::warn!(image = %now_image.name, %why, "managed update failed");
                Step::Done
            }
            (ImageBuilderState::Updating, Ok(attrs)) => {
                now_image.attrs = attrs;
                tx.put_image(&now_image).await?;
                now_builder.state = ImageBuilderState::PendingQualification;
                tx.put_image_builder(&now_builder).await?;
                Step::Continue {
                    after: self.svc.pace.delay(Stage::ImageUpdate),
                }
            }
            (_, Ok(_)) => {
                now_image.state = ImageState::Available;
                now_image.attrs.state_change_reason = None;
                now_image.attrs.transition_job = None;
                tx.put_image(&now_image).await?;
                tx.delete_image_builder(bkey).await?;
                tracing::info!(image = %now_image.arn, "managed update qualified; image AVAILABLE");
                Step::Done
            }
        };
        tx.commit().await?;
        Ok(next)
    }

    fn mark_update_failed(&self, image: &mut ImageRecord, why: &str) {
        crate::image::mark_failed(
            image,
            ImageStateChangeReasonCode::ImageUpdateFailure,
            format!("the managed update failed: {why}"),
            self.svc.now(),
        );
    }

    /// In one transaction: the builder Photon created goes and, when the image is still being
    /// created and `why` says why it failed, the image becomes `FAILED` with the reason and an
    /// error in its notifications (so a FAILED image never has its builder left over, and no
    /// kill between the two can lose the reason).
    async fn fail_or_clean(
        &self,
        job: &JobRecord,
        image: &str,
        builder: &str,
        why: Option<&str>,
    ) -> Result<(), CoreError> {
        let key = Key::new(job.region.as_str(), job.account_id.as_str(), image);
        let bkey = Key::new(key.region, key.owner, builder);
        let mut tx = self.svc.store.write().await?;
        tx.lock(LockKey::Image(Arn::image(key.region, key.owner, key.name)))
            .await?;
        tx.lock(LockKey::ImageBuilder(crate::builder::builder_arn(
            key.region, key.owner, builder,
        )))
        .await?;
        if let Some(b) = tx.image_builder(bkey).await? {
            if owns(&b, job) {
                tx.delete_image_builder(bkey).await?;
            }
        }
        if let (Some(why), Some(mut img)) = (why, tx.image(key).await?) {
            if img.state == ImageState::Creating && owns(&img, job) {
                img.attrs.transition_job = None;
                self.mark_update_failed(&mut img, why);
                tx.put_image(&img).await?;
                tracing::warn!(image, %why, "managed update failed");
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Patching: the image's layers plus the release's own layers (agent and patch level, and
    /// the patch's files): the new image's attributes, for the step to write.
    async fn patch(
        &self,
        image: &ImageRecord,
        release: &str,
    ) -> Result<Result<photon_store::ImageAttrs, Failure>, CoreError> {
        let mut attrs = image.attrs.clone();
        if !release.is_empty() {
            let Some(public) = self
                .svc
                .store
                .image(Key::new(&image.region, PUBLIC_OWNER, release))
                .await?
            else {
                return Ok(Err(Failure(format!(
                    "the base image release {release} is not in {}",
                    image.region
                ))));
            };
            // The OS layer is the platform's and already below; the release's layers above it
            // bring the patch level, the agent and the patch's files.
            attrs
                .layers
                .extend(public.image.attrs.layers.iter().skip(1).cloned());
        }
        // The agent last: the newest, whatever the release shipped.
        if let Some(agent) = attrs.appstream_agent_version.clone() {
            let layers = std::mem::take(&mut attrs.layers);
            attrs.layers = self
                .svc
                .with_agent(&image.region, &image.platform, layers, &agent)
                .await?;
        }
        Ok(Ok(attrs))
    }

    /// Qualification, for real: every layer reads back against its digest, every application
    /// still resolves to its launch path, the agent version is in the feed, and the platform
    /// supports the image's instance families.
    async fn qualify(&self, image: &ImageRecord) -> Result<Result<(), Failure>, CoreError> {
        let layers = image.attrs.layers.clone();
        let blobs = self.svc.blobs.clone();
        let region = image.region.clone();
        let read = tokio::task::spawn_blocking(move || {
            let store = blobs.region(&region);
            photon_blob::verify_layers(store, &layers)?;
            layers
                .iter()
                .map(|d| get_layer(store, d))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| CoreError::Internal(format!("qualification task: {e}")))?;
        let view = match read {
            Ok(layers) => flatten(&layers),
            Err(e) => {
                return Ok(Err(Failure(format!(
                    "the image content failed its check: {e}"
                ))))
            }
        };
        for app in &image.attrs.applications {
            if !view.contains_key(&app.launch_path) {
                return Ok(Err(Failure(format!(
                    "application '{}' no longer resolves: {} is missing",
                    app.name, app.launch_path
                ))));
            }
        }
        if let Some(agent) = &image.attrs.appstream_agent_version {
            let (_, agents) = self.svc.releases().await?;
            if !agents.iter().any(|a| a.version == *agent) {
                return Ok(Err(Failure(format!(
                    "agent version {agent} is not a known release"
                ))));
            }
        }
        for family in &image.attrs.supported_instance_families {
            if !crate::catalog::INSTANCE_FAMILIES
                .iter()
                .any(|f| f.family == *family)
            {
                return Ok(Err(Failure(format!(
                    "instance family {family} is not supported on {}",
                    image.platform
                ))));
            }
        }
        Ok(Ok(()))
    }
}

impl JobKind for UpdateJobs {
    const KIND: &'static str = JOB_KIND;
    type Payload = UpdatePlan;

    fn run<'a>(&'a self, job: &'a JobRecord, plan: &'a UpdatePlan) -> BoxFuture<'a, Step> {
        Box::pin(async move { or_retry(self.step(job, plan).await) })
    }

    fn give_up<'a>(
        &'a self,
        job: &'a JobRecord,
        plan: &'a UpdatePlan,
        error: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some((image, builder, _)) = Self::keys(job, plan) else {
                return;
            };
            if let Err(e) = self.fail_or_clean(job, &image, &builder, Some(error)).await {
                tracing::error!(job = %job.id, error = %e, "could not mark a failed update FAILED");
            }
        })
    }
}
