//! Image builders: launching one from an image the caller may use, the state machine of the
//! reference (what each state allows), and the engine handler that carries each transition to
//! its end at the configured pace.

use std::sync::Arc;

use photon_store::{BuilderAttrs, BuilderRecord, JobRecord, Key, LockKey, StoreError, Transition};
use photon_types::{
    AccessEndpoint, AccessEndpointType, Caller, CreateImageBuilderRequest,
    CreateImageBuilderStreamingURLRequest, CreateImageBuilderStreamingURLResult,
    DeleteImageBuilderRequest, DescribeImageBuildersRequest, DescribeImageBuildersResult,
    DomainJoinInfo, FleetErrorCode, ImageBuilder, ImageBuilderState, ImageBuilderStateChangeReason,
    ImageBuilderStateChangeReasonCode, LatestAppstreamAgentVersion, PlatformType, ResourceError,
    StartImageBuilderRequest, StopImageBuilderRequest, Timestamp, VolumeConfig, VpcConfig,
};
use photon_workflow::{or_retry, BoxFuture, JobKind, Step, Typed};

use crate::doc::{from_doc, to_doc};
use crate::pace::Stage;
use crate::transition::{change, owns, By};
use crate::{token, CoreError, Service};

/// The job kind that moves builders along.
pub const JOB_KIND: &str = "image-builder";
const MAX_ATTEMPTS: i64 = 5;

/// `DescribeImageBuilders` pages: the size when `MaxResults` is absent, and the most one page
/// carries.
const DEFAULT_BUILDER_PAGE: u32 = 25;
const MAX_BUILDER_PAGE: u32 = 500;

/// What a builder job drives its builder to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BuilderTarget {
    /// PENDING → RUNNING.
    Running,
    /// UPDATING_AGENT → RUNNING, with agent `agent` (following the newest when `latest`).
    RunningWithAgent { agent: String, latest: bool },
    /// STOPPING → STOPPED.
    Stopped,
    /// DELETING → gone.
    Deleted,
}

impl photon_workflow::Payload for BuilderTarget {
    fn legacy(text: &str) -> Option<Self> {
        // Before documents: `RUNNING`, `STOPPED`, `DELETED` or `RUNNING|AGENT|LATEST`.
        let parts: Vec<&str> = text.split('|').collect();
        if parts == ["DELETED"] {
            return Some(BuilderTarget::Deleted);
        }
        let (first, rest) = parts.split_first()?;
        match (ImageBuilderState::from_wire(first)?, rest) {
            (ImageBuilderState::Running, []) => Some(BuilderTarget::Running),
            (ImageBuilderState::Stopped, []) => Some(BuilderTarget::Stopped),
            (ImageBuilderState::Running, [agent, latest]) => {
                Some(BuilderTarget::RunningWithAgent {
                    agent: (*agent).to_owned(),
                    latest: *latest == "true",
                })
            }
            _ => None,
        }
    }
}

pub fn builder_arn(region: &str, owner: &str, name: &str) -> String {
    photon_store::ResourceKind::ImageBuilder.arn(region, owner, name)
}

impl Service {
    /// The newest agent version in the release feed (what "latest" means right now), and
    /// whether `v` is a version the feed knows.
    pub(crate) async fn agent_versions(&self) -> Result<(String, Vec<String>), CoreError> {
        let agents = self.store.agent_releases().await?;
        let newest = agents
            .last()
            .map(|a| a.version.clone())
            .ok_or_else(|| CoreError::Internal("the release feed has no agent".into()))?;
        Ok((newest, agents.into_iter().map(|a| a.version).collect()))
    }
}

fn not_found(name: &str, region: &str) -> CoreError {
    CoreError::NotFound(format!(
        "image builder '{name}' does not exist in {region}; list yours with DescribeImageBuilders"
    ))
}

/// The API view of a builder.
pub fn to_api(b: BuilderRecord) -> ImageBuilder {
    let a = b.attrs;
    let vpc = (a.subnet_ids.is_some() || a.security_group_ids.is_some()).then_some(VpcConfig {
        subnet_ids: a.subnet_ids,
        security_group_ids: a.security_group_ids,
    });
    let network_access_configuration =
        (b.state == ImageBuilderState::Running).then(|| crate::session::network_access(&b.arn));
    // A failed builder says why in its errors too, where Terraform's waiter reads them.
    let image_builder_errors = match &a.state_change_reason {
        Some((_, message)) if b.state == ImageBuilderState::Failed => Some(vec![ResourceError {
            error_code: Some(FleetErrorCode::InternalServiceError),
            error_message: Some(message.clone()),
            error_timestamp: None,
        }]),
        _ => None,
    };
    ImageBuilder {
        name: b.name,
        arn: Some(b.arn),
        image_arn: Some(b.image_arn),
        description: a.description,
        display_name: a.display_name,
        vpc_config: vpc,
        instance_type: Some(b.instance_type),
        platform: PlatformType::from_wire(&b.platform),
        iam_role_arn: a.iam_role_arn,
        state: Some(b.state),
        state_change_reason: a.state_change_reason.map(|(code, message)| {
            ImageBuilderStateChangeReason {
                code: ImageBuilderStateChangeReasonCode::from_wire(&code),
                message: Some(message),
            }
        }),
        created_time: Some(Timestamp(b.created_at)),
        enable_default_internet_access: a.enable_default_internet_access,
        domain_join_info: (a.directory_name.is_some() || a.organizational_unit.is_some())
            .then_some(DomainJoinInfo {
                directory_name: a.directory_name,
                organizational_unit_distinguished_name: a.organizational_unit,
            }),
        network_access_configuration,
        image_builder_errors,
        // A builder created with LATEST reports LATEST while it follows the newest agent:
        // Terraform's `appstream_agent_version` is ForceNew, so another value would replace
        // the builder on every plan (docs/compatibility.md).
        appstream_agent_version: match a.requested_agent_version {
            Some(v) if a.latest_appstream_agent_version => Some(v),
            _ => a.appstream_agent_version,
        },
        access_endpoints: (!a.access_endpoints.is_empty()).then(|| {
            a.access_endpoints
                .into_iter()
                .map(|(t, vpce_id)| AccessEndpoint {
                    endpoint_type: AccessEndpointType::from_wire(&t).unwrap_or_default(),
                    vpce_id,
                })
                .collect()
        }),
        root_volume_config: a.root_volume_size_gb.map(|gb| VolumeConfig {
            volume_size_in_gb: Some(gb),
        }),
        latest_appstream_agent_version: Some(if a.latest_appstream_agent_version {
            LatestAppstreamAgentVersion::True
        } else {
            LatestAppstreamAgentVersion::False
        }),
        disable_imdsv1: a.disable_imdsv1,
        agent_access_config: a
            .agent_access_config
            .as_ref()
            .and_then(|d| from_doc(d, "AgentAccessConfig").ok()),
    }
}

impl Service {
    fn builder_job(
        &self,
        cx: &Caller,
        name: &str,
        target: &BuilderTarget,
        stage: Stage,
    ) -> JobRecord {
        let delay = i64::try_from(self.pace.delay(stage).as_millis()).unwrap_or(i64::MAX);
        BuilderJobs::job(
            &cx.account_id,
            &cx.region,
            &builder_arn(&cx.region, &cx.account_id, name),
            target,
            self.now().saturating_add(delay),
            MAX_ATTEMPTS,
        )
    }

    pub async fn create_image_builder(
        &self,
        cx: &Caller,
        input: CreateImageBuilderRequest,
    ) -> Result<ImageBuilder, CoreError> {
        let image = self
            .usable_image(
                cx,
                (input.image_name.as_deref(), input.image_arn.as_deref()),
                &input.instance_type,
                crate::image::ImageUse::Builder,
            )
            .await?;
        if let Some(vpc) = &input.vpc_config {
            if vpc.subnet_ids.as_ref().is_some_and(|s| s.len() > 1) {
                return Err(CoreError::InvalidCombination(
                    "an image builder takes one subnet in VpcConfig.SubnetIds".into(),
                ));
            }
        }
        // An image that uses the latest agent gives each instance launched from it the newest
        // agent of the feed at launch; a pinned image keeps its version.
        let (newest, known) = self.agent_versions().await?;
        let image_agent = if image.image.attrs.latest_appstream_agent_version {
            Some(newest.clone())
        } else {
            image.image.attrs.appstream_agent_version.clone()
        };
        if input
            .softwares_to_install
            .as_ref()
            .is_some_and(|l| !l.is_empty())
            || input
                .softwares_to_uninstall
                .as_ref()
                .is_some_and(|l| !l.is_empty())
        {
            return Err(CoreError::InvalidCombination(
                "SoftwaresToInstall and SoftwaresToUninstall manage license-included software, \
                 which Photon does not offer yet; leave them out and put software on the \
                 builder with `photon builder put`"
                    .into(),
            ));
        }
        let requested_agent_version = input
            .appstream_agent_version
            .clone()
            .filter(|v| v == "LATEST" || v == "[LATEST]");
        let (agent, latest) = match input.appstream_agent_version.as_deref() {
            None => (
                image_agent.clone(),
                image.image.attrs.latest_appstream_agent_version,
            ),
            Some("LATEST" | "[LATEST]") => (Some(newest), true),
            Some(v) if known.iter().any(|k| k == v) => (Some(v.to_owned()), false),
            Some(v) => {
                return Err(CoreError::Invalid(format!(
                    "AppstreamAgentVersion '{v}' is not a released agent version; use LATEST or \
                     a version such as {newest}"
                )))
            }
        };
        let mut base_layers = image.image.attrs.layers.clone();
        if let Some(a) = agent
            .as_deref()
            .filter(|a| Some(*a) != image_agent.as_deref())
        {
            base_layers = self
                .with_agent(&cx.region, &image.image.platform, base_layers, a)
                .await?;
        }
        let vpc = input.vpc_config.unwrap_or_default();
        let dj = input.domain_join_info.unwrap_or_default();
        let mut record = BuilderRecord {
            region: cx.region.clone(),
            owner: cx.account_id.clone(),
            name: input.name.clone(),
            arn: builder_arn(&cx.region, &cx.account_id, &input.name),
            state: ImageBuilderState::Pending,
            platform: image.image.platform.clone(),
            instance_type: input.instance_type.clone(),
            image_arn: image.image.arn.clone(),
            created_at: self.now(),
            attrs: BuilderAttrs {
                v: 1,
                description: input.description,
                display_name: input.display_name,
                subnet_ids: vpc.subnet_ids,
                security_group_ids: vpc.security_group_ids,
                iam_role_arn: input.iam_role_arn,
                enable_default_internet_access: input.enable_default_internet_access,
                directory_name: dj.directory_name,
                organizational_unit: dj.organizational_unit_distinguished_name,
                access_endpoints: input
                    .access_endpoints
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| (e.endpoint_type.as_str().to_owned(), e.vpce_id))
                    .collect(),
                root_volume_size_gb: input.root_volume_config.and_then(|v| v.volume_size_in_gb),
                disable_imdsv1: input.disable_imdsv1,
                appstream_agent_version: agent,
                latest_appstream_agent_version: latest,
                state_change_reason: None,
                base_layers,
                os_settings: image.image.attrs.os_settings,
                applications: Vec::new(),
                default_profile: None,
                agent_access_config: input.agent_access_config.map(to_doc),
                requested_agent_version,
                transition_job: None,
            },
        };
        let quota = self
            .quota(&cx.account_id, &cx.region, "image-builders")
            .await?;
        let job = self.builder_job(
            cx,
            &input.name,
            &BuilderTarget::Running,
            Stage::BuilderStart,
        );
        crate::transition::hand_to(&mut record, &job);
        let (account, region) = (&cx.account_id, &cx.region);
        let mut tx = self.store.write().await?;
        tx.lock(LockKey::account_builders(account, region)).await?;
        let in_use = tx.count_image_builders(region, account).await?;
        crate::quota::check_creation(
            account,
            region,
            "image-builders",
            quota,
            in_use,
            "delete a builder",
        )?;
        match tx.insert_image_builder(&record).await {
            Err(StoreError::Conflict) => {
                return Err(crate::quota::name_taken(
                    "an image builder",
                    &input.name,
                    region,
                ))
            }
            other => other?,
        }
        tx.insert_tags(&record.arn, &input.tags.unwrap_or_default())
            .await?;
        tx.enqueue(&job).await?;
        tx.commit().await?;
        Ok(to_api(record))
    }

    pub async fn describe_image_builders(
        &self,
        cx: &Caller,
        input: DescribeImageBuildersRequest,
    ) -> Result<DescribeImageBuildersResult, CoreError> {
        // The model leaves MaxResults unbounded: a larger page is honoured up to
        // MAX_BUILDER_PAGE, past which the page ends early with a NextToken, as any AWS listing
        // may (docs/compatibility.md).
        let limit = match input.max_results {
            Some(n) if n > 0 => u32::try_from(n)
                .unwrap_or(MAX_BUILDER_PAGE)
                .min(MAX_BUILDER_PAGE),
            _ => DEFAULT_BUILDER_PAGE,
        };
        let names = input.names.unwrap_or_default();
        if names.len() > crate::image::MAX_LOOKUPS {
            return Err(CoreError::Invalid(format!(
                "name at most {} image builders per request; list the rest with NextToken",
                crate::image::MAX_LOOKUPS
            )));
        }
        let mut fp: Vec<&str> = vec![&cx.account_id, &cx.region, "builders"];
        fp.extend(names.iter().map(String::as_str));
        let fingerprint = token::fingerprint(&fp);
        let after = token::resume(
            &self.token_key,
            input.next_token.as_deref(),
            &fingerprint,
            self.now(),
        )?;
        let mut rows: Vec<(String, BuilderRecord)> = if names.is_empty() {
            self.store
                .list_image_builders(&cx.region, &cx.account_id, after.as_deref(), limit + 1)
                .await?
        } else {
            let mut found = Vec::new();
            for n in &names {
                let Some(b) = self
                    .store
                    .image_builder(Key::new(&cx.region, &cx.account_id, n))
                    .await?
                else {
                    return Err(not_found(n, &cx.region));
                };
                let key = photon_store::hex_key(n);
                found.push((key, b));
            }
            found.sort_by(|a, b| a.0.cmp(&b.0));
            found.dedup_by(|a, b| a.0 == b.0);
            found
                .into_iter()
                .filter(|(k, _)| after.as_deref().is_none_or(|a| k.as_str() > a))
                .take(limit as usize + 1)
                .collect()
        };
        let next_token = token::cut_page(
            &mut rows,
            limit as usize,
            &self.token_key,
            &fingerprint,
            self.now(),
        );
        Ok(DescribeImageBuildersResult {
            image_builders: Some(rows.into_iter().map(|(_, b)| to_api(b)).collect()),
            next_token,
        })
    }

    /// A guarded transition of the caller's builder, with the job that finishes it.
    async fn move_builder(
        &self,
        cx: &Caller,
        name: &str,
        from: &[ImageBuilderState],
        to: ImageBuilderState,
        job: Option<(BuilderTarget, Stage)>,
        wrong_state: impl FnOnce(ImageBuilderState) -> CoreError,
    ) -> Result<ImageBuilder, CoreError> {
        let job = job.map(|(target, stage)| self.builder_job(cx, name, &target, stage));
        let key = Key::new(cx.region.as_str(), cx.account_id.as_str(), name);
        let by = By::Request(job.as_ref());
        match change(
            self.store.as_ref(),
            key,
            from,
            to,
            by,
            |b: &mut BuilderRecord| {
                b.attrs.state_change_reason = None;
            },
        )
        .await?
        {
            Transition::Done(b) => Ok(to_api(*b)),
            Transition::NotFound => Err(not_found(name, &cx.region)),
            Transition::WrongState(s) => Err(wrong_state(s)),
        }
    }

    pub async fn start_image_builder(
        &self,
        cx: &Caller,
        input: StartImageBuilderRequest,
    ) -> Result<ImageBuilder, CoreError> {
        let name = input.name.clone();
        // Starting with a newer agent updates the builder's agent first (UPDATING_AGENT).
        let mut target = BuilderTarget::Running;
        let mut to = ImageBuilderState::Pending;
        if let Some(v) = input.appstream_agent_version.as_deref() {
            let (newest, known) = self.agent_versions().await?;
            let (agent, latest) = match v {
                "LATEST" | "[LATEST]" => (newest, true),
                v if known.iter().any(|k| k == v) => (v.to_owned(), false),
                v => {
                    return Err(CoreError::Invalid(format!(
                        "AppstreamAgentVersion '{v}' is not a released agent version; use \
                         LATEST or a version such as {newest}"
                    )))
                }
            };
            let b = self
                .store
                .image_builder(Key::new(&cx.region, &cx.account_id, &name))
                .await?
                .ok_or_else(|| not_found(&name, &cx.region))?;
            let position = |a: &str| known.iter().position(|k| k == a);
            let current = b
                .attrs
                .appstream_agent_version
                .as_deref()
                .and_then(position);
            if position(&agent) > current || latest != b.attrs.latest_appstream_agent_version {
                to = ImageBuilderState::UpdatingAgent;
                target = BuilderTarget::RunningWithAgent { agent, latest };
            }
        }
        self.move_builder(
            cx,
            &name,
            &[ImageBuilderState::Stopped],
            to,
            Some((target, Stage::BuilderStart)),
            |s| {
                CoreError::NotAvailable(format!(
                    "image builder '{name}' is {s}; it can be started only when STOPPED"
                ))
            },
        )
        .await
    }

    pub async fn stop_image_builder(
        &self,
        cx: &Caller,
        input: StopImageBuilderRequest,
    ) -> Result<ImageBuilder, CoreError> {
        let name = input.name.clone();
        self.move_builder(
            cx,
            &name,
            &[ImageBuilderState::Running],
            ImageBuilderState::Stopping,
            Some((BuilderTarget::Stopped, Stage::BuilderStop)),
            |s| {
                CoreError::NotPermitted(format!(
                    "image builder '{name}' is {s}; it can be stopped only when RUNNING"
                ))
            },
        )
        .await
    }

    pub async fn delete_image_builder(
        &self,
        cx: &Caller,
        input: DeleteImageBuilderRequest,
    ) -> Result<ImageBuilder, CoreError> {
        let name = input.name.clone();
        // AWS deletes a builder that is running or on its way there (Terraform's destroy relies
        // on it). A job still due for the old state finds DELETING and leaves it alone. A builder
        // making an image, or one of a managed update, is AppStream's until that work ends.
        self.move_builder(
            cx,
            &name,
            &[
                ImageBuilderState::Pending,
                ImageBuilderState::Running,
                ImageBuilderState::Stopping,
                ImageBuilderState::Stopped,
                ImageBuilderState::Failed,
            ],
            ImageBuilderState::Deleting,
            Some((BuilderTarget::Deleted, Stage::BuilderDelete)),
            |s| {
                CoreError::NotPermitted(format!(
                    "image builder '{name}' is {s}; wait until that work ends (RUNNING, STOPPED \
                     or FAILED), then delete it"
                ))
            },
        )
        .await
    }
}

/// Builder streaming URLs last an hour unless asked otherwise, and a week at most (the model).
pub const DEFAULT_VALIDITY_SECS: i64 = 3_600;
pub const MAX_VALIDITY_SECS: i64 = 604_800;

/// Where a builder's streaming URL leads once its token is checked.
#[derive(Debug, Clone)]
pub struct BuilderSession {
    pub builder: BuilderRecord,
    pub expires_at: i64,
}

impl Service {
    pub async fn create_image_builder_streaming_url(
        &self,
        cx: &Caller,
        input: CreateImageBuilderStreamingURLRequest,
    ) -> Result<CreateImageBuilderStreamingURLResult, CoreError> {
        let validity = input.validity.unwrap_or(DEFAULT_VALIDITY_SECS);
        if !(1..=MAX_VALIDITY_SECS).contains(&validity) {
            return Err(CoreError::Invalid(format!(
                "Validity must be between 1 and {MAX_VALIDITY_SECS} seconds, not {validity}"
            )));
        }
        let Some(b) = self
            .store
            .image_builder(Key::new(&cx.region, &cx.account_id, &input.name))
            .await?
        else {
            return Err(not_found(&input.name, &cx.region));
        };
        if b.state != ImageBuilderState::Running {
            return Err(CoreError::NotPermitted(format!(
                "image builder '{}' is {}; you can connect only to a RUNNING builder",
                input.name, b.state
            )));
        }
        let expires = self.now().saturating_add(validity.saturating_mul(1000));
        // The builder's creation time ties the URL to this builder, not to a later one of the
        // same name.
        let text = format!(
            "builder|{}|{}|{}|{expires}|{}",
            cx.account_id, cx.region, input.name, b.created_at
        );
        let token = token::seal(&self.token_key, &text);
        Ok(CreateImageBuilderStreamingURLResult {
            streaming_url: Some(format!("{}/connect/{token}", self.public_url)),
            expires: Some(Timestamp(expires)),
        })
    }

    /// Checks a streaming URL's token: made here, not expired, and for a builder that is still
    /// running. The token is the credential: the page needs no AWS signature.
    pub async fn open_builder_session(
        &self,
        token_text: &str,
    ) -> Result<BuilderSession, CoreError> {
        let forged = || CoreError::NotPermitted("this streaming URL is not valid".into());
        let text = token::unseal(&self.token_key, token_text).ok_or_else(forged)?;
        let parts: Vec<&str> = text.split('|').collect();
        let [kind, account, region, name, expires, created] = parts.as_slice() else {
            return Err(forged());
        };
        if *kind != "builder" {
            return Err(forged());
        }
        let expires: i64 = expires.parse().map_err(|_| forged())?;
        if self.now() > expires {
            return Err(CoreError::NotPermitted(
                "this streaming URL has expired; create a new one with CreateImageBuilderStreamingURL"
                    .into(),
            ));
        }
        let Some(builder) = self
            .store
            .image_builder(Key::new(region, account, name))
            .await?
        else {
            return Err(not_found(name, region));
        };
        if builder.created_at.to_string() != *created {
            return Err(not_found(name, region));
        }
        if builder.state != ImageBuilderState::Running {
            return Err(CoreError::NotPermitted(format!(
                "image builder '{name}' is {}; start it, then create a new streaming URL",
                builder.state
            )));
        }
        Ok(BuilderSession {
            builder,
            expires_at: expires,
        })
    }
}

/// The engine handler for builder jobs. Each attempt looks at the builder's current state and
/// takes the step that is still due, so running it again after a crash changes nothing.
pub struct BuilderJobs {
    svc: Service,
}

impl BuilderJobs {
    pub fn new(svc: Service) -> Arc<Typed<BuilderJobs>> {
        Arc::new(Typed(BuilderJobs { svc }))
    }

    fn key(job: &JobRecord) -> Option<(String, String, String)> {
        let name = job.resource.rsplit_once("image-builder/")?.1.to_owned();
        Some((job.region.clone(), job.account_id.clone(), name))
    }

    async fn step(&self, job: &JobRecord, target: &BuilderTarget) -> Result<Step, CoreError> {
        let Some((region, owner, name)) = Self::key(job) else {
            return Ok(Step::Fatal(format!(
                "job resource '{}' is not a builder ARN",
                job.resource
            )));
        };
        let store = &self.svc.store;
        let key = Key::new(region.as_str(), owner.as_str(), name.as_str());
        if let BuilderTarget::RunningWithAgent { agent, latest } = target {
            // The agent's files are written first (content-addressed); then one transaction
            // sets the agent, the layers that carry it, and RUNNING.
            let Some(b) = store
                .image_builder(Key::new(&region, &owner, &name))
                .await?
            else {
                return Ok(Step::Done);
            };
            let layers = self
                .svc
                .with_agent(&region, &b.platform, b.attrs.base_layers, agent)
                .await?;
            let mut tx = store.write().await?;
            tx.lock(photon_store::LockKey::ImageBuilder(job.resource.clone()))
                .await?;
            if let Some(mut now) = tx.image_builder(key).await? {
                if now.state == ImageBuilderState::UpdatingAgent && owns(&now, job) {
                    now.attrs.transition_job = None;
                    now.attrs.appstream_agent_version = Some(agent.clone());
                    now.attrs.latest_appstream_agent_version = *latest;
                    now.attrs.base_layers = layers;
                    now.attrs.state_change_reason = None;
                    now.state = ImageBuilderState::Running;
                    tx.put_image_builder(&now).await?;
                    tx.commit().await?;
                }
            }
            return Ok(Step::Done);
        }
        let (from, to) = match target {
            BuilderTarget::RunningWithAgent { .. } => return Ok(Step::Done),
            BuilderTarget::Running => (ImageBuilderState::Pending, ImageBuilderState::Running),
            BuilderTarget::Stopped => (ImageBuilderState::Stopping, ImageBuilderState::Stopped),
            BuilderTarget::Deleted => {
                let mut tx = store.write().await?;
                tx.lock(photon_store::LockKey::ImageBuilder(job.resource.clone()))
                    .await?;
                if let Some(b) = tx.image_builder(key).await? {
                    if b.state == ImageBuilderState::Deleting && owns(&b, job) {
                        tx.delete_image_builder(key).await?;
                        tx.commit().await?;
                    }
                }
                return Ok(Step::Done);
            }
        };
        let outcome = change(
            store.as_ref(),
            key,
            &[from],
            to,
            By::Job(job),
            |b: &mut BuilderRecord| {
                b.attrs.state_change_reason = None;
            },
        )
        .await?;
        // Done, or already moved on (a repeated attempt, or the builder was deleted): either
        // way nothing is left to do.
        if let Transition::WrongState(s) = &outcome {
            tracing::debug!(job = %job.id, state = %s, "builder already left the state this job drives");
        }
        Ok(Step::Done)
    }
}

impl JobKind for BuilderJobs {
    const KIND: &'static str = JOB_KIND;
    type Payload = BuilderTarget;

    fn run<'a>(&'a self, job: &'a JobRecord, target: &'a BuilderTarget) -> BoxFuture<'a, Step> {
        Box::pin(async move { or_retry(self.step(job, target).await) })
    }

    fn give_up<'a>(
        &'a self,
        job: &'a JobRecord,
        _: &'a BuilderTarget,
        error: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some((region, owner, name)) = Self::key(job) else {
                return;
            };
            // Every state a builder job drives it out of: none may outlive the job.
            let transitional = [
                ImageBuilderState::Pending,
                ImageBuilderState::UpdatingAgent,
                ImageBuilderState::Stopping,
                ImageBuilderState::Deleting,
            ];
            let reason = Some((
                ImageBuilderStateChangeReasonCode::InternalError
                    .as_str()
                    .to_owned(),
                format!("the builder could not finish its change of state: {error}"),
            ));
            let key = Key::new(region.as_str(), owner.as_str(), name.as_str());
            let fail = |b: &mut BuilderRecord| b.attrs.state_change_reason = reason;
            if let Err(e) = change(
                self.svc.store.as_ref(),
                key,
                &transitional,
                ImageBuilderState::Failed,
                By::Job(job),
                fail,
            )
            .await
            {
                tracing::error!(job = %job.id, error = %e, "could not mark the builder FAILED");
            }
        })
    }
}

/// Tags of a builder: the resource key for the tag operations.
pub(crate) fn tag_key(cx: &Caller, name: &str) -> photon_store::ResourceKey {
    photon_store::ResourceKey::ImageBuilder {
        region: cx.region.clone(),
        owner: cx.account_id.clone(),
        name: name.to_owned(),
    }
}
