//! Fleets: creating one on an image the account may use, the state machine
//! (`STOPPED → STARTING → RUNNING → STOPPING → STOPPED`, driven by the engine at the configured
//! pace), updates, and the capacity a fleet reports.

use std::sync::Arc;

use photon_store::{
    FleetAttrs, FleetRecord, ImageRefusal, ImageRow, JobRecord, StoreError, Transition,
};
use photon_types::{
    Caller, ComputeCapacityStatus, CreateFleetRequest, DeleteFleetRequest, DescribeFleetsRequest,
    DescribeFleetsResult, DomainJoinInfo, Fleet, FleetAttribute, FleetError, FleetErrorCode,
    FleetState, FleetType, PlatformType, StartFleetRequest, StopFleetRequest, StreamView,
    Timestamp, UpdateFleetRequest, VolumeConfig, VpcConfig,
};
use photon_workflow::{new_job, or_retry, BoxFuture, Handler, Step};

use crate::pace::Stage;
use crate::{CoreError, Service};

pub const JOB_KIND: &str = "fleet";

fn st(s: FleetState) -> &'static str {
    s.as_str()
}

pub fn fleet_arn(region: &str, owner: &str, name: &str) -> String {
    format!("arn:aws:appstream:{region}:{owner}:fleet/{name}")
}

fn not_found(name: &str, region: &str) -> CoreError {
    CoreError::NotFound(format!(
        "fleet '{name}' does not exist in {region}; list yours with DescribeFleets"
    ))
}

pub fn to_api(f: FleetRecord, in_use: i32) -> Fleet {
    let a = f.attrs;
    let running = f.state == st(FleetState::Running);
    let desired = a.desired_instances;
    let vpc = (a.subnet_ids.is_some() || a.security_group_ids.is_some()).then_some(VpcConfig {
        subnet_ids: a.subnet_ids,
        security_group_ids: a.security_group_ids,
    });
    let image_name = f.image_arn.rsplit_once("image/").map(|(_, n)| n.to_owned());
    Fleet {
        arn: f.arn,
        name: f.name,
        display_name: a.display_name,
        description: a.description,
        image_name,
        image_arn: Some(f.image_arn),
        instance_type: f.instance_type,
        fleet_type: FleetType::from_wire(&f.fleet_type),
        compute_capacity_status: ComputeCapacityStatus {
            desired,
            // Instances still streaming stay up after the desired capacity drops below them
            // (a revoked image): they run until their sessions end.
            running: Some(if running { desired.max(in_use) } else { 0 }),
            in_use: Some(in_use),
            available: Some(if running {
                (desired - in_use).max(0)
            } else {
                0
            }),
            ..Default::default()
        },
        max_user_duration_in_seconds: Some(a.max_user_duration_in_seconds),
        disconnect_timeout_in_seconds: Some(a.disconnect_timeout_in_seconds),
        idle_disconnect_timeout_in_seconds: Some(a.idle_disconnect_timeout_in_seconds),
        state: FleetState::from_wire(&f.state).unwrap_or_default(),
        vpc_config: vpc,
        created_time: Some(Timestamp(f.created_at)),
        fleet_errors: (!a.errors.is_empty()).then(|| {
            a.errors
                .into_iter()
                .map(|(code, message)| FleetError {
                    error_code: FleetErrorCode::from_wire(&code),
                    error_message: Some(message),
                })
                .collect()
        }),
        enable_default_internet_access: a.enable_default_internet_access,
        domain_join_info: (a.directory_name.is_some() || a.organizational_unit.is_some())
            .then_some(DomainJoinInfo {
                directory_name: a.directory_name,
                organizational_unit_distinguished_name: a.organizational_unit,
            }),
        iam_role_arn: a.iam_role_arn,
        stream_view: StreamView::from_wire(&a.stream_view),
        platform: PlatformType::from_wire(&a.platform),
        disable_imdsv1: a.disable_imdsv1,
        root_volume_config: a.root_volume_size_gb.map(|gb| VolumeConfig {
            volume_size_in_gb: Some(gb),
        }),
        ..Default::default()
    }
}

fn refusal_text(why: ImageRefusal) -> &'static str {
    match why {
        ImageRefusal::Gone => "the image no longer exists; pick another image",
        ImageRefusal::NoFleetPermission => {
            "its owner does not share it with your account for fleets (any more); ask them to \
             allow fleets, or pick another image"
        }
    }
}

/// A fleet write refused on its image, worded for the image the caller named.
fn image_refused(why: ImageRefusal, image: &photon_store::ImageRecord) -> CoreError {
    let text = format!("image '{}': {}", image.name, refusal_text(why));
    match why {
        ImageRefusal::Gone => CoreError::NotFound(text),
        ImageRefusal::NoFleetPermission => CoreError::NotPermitted(text),
    }
}

fn check_range(name: &str, v: i32, lo: i32, hi: i32) -> Result<(), CoreError> {
    if v < lo || v > hi {
        return Err(CoreError::Invalid(format!(
            "{name} must be between {lo} and {hi}, not {v}"
        )));
    }
    Ok(())
}

impl Service {
    /// The API view of a fleet, with its instances in use counted from its sessions.
    async fn fleet_api(&self, f: FleetRecord) -> Result<Fleet, CoreError> {
        let in_use = self.sessions_in_use(&f.region, &f.owner, &f.name).await?;
        Ok(to_api(f, in_use))
    }
}

impl Service {
    async fn fleet_image(
        &self,
        cx: &Caller,
        name: Option<&str>,
        arn: Option<&str>,
        instance_type: &str,
    ) -> Result<ImageRow, CoreError> {
        self.usable_image(
            cx,
            (name, arn),
            instance_type,
            crate::image::ImageUse::Fleet,
        )
        .await
    }

    fn fleet_job(&self, cx: &Caller, name: &str, target: &str, stage: Stage) -> JobRecord {
        let delay = i64::try_from(self.pace.delay(stage).as_millis()).unwrap_or(i64::MAX);
        new_job(
            JOB_KIND,
            &cx.account_id,
            &cx.region,
            &fleet_arn(&cx.region, &cx.account_id, name),
            target,
            self.now().saturating_add(delay),
            5,
        )
    }

    pub async fn create_fleet(
        &self,
        cx: &Caller,
        input: CreateFleetRequest,
    ) -> Result<Fleet, CoreError> {
        let fleet_type = input.fleet_type.unwrap_or(FleetType::OnDemand);
        if fleet_type == FleetType::Elastic {
            return Err(CoreError::InvalidCombination(
                "Photon does not support ELASTIC fleets yet; use ALWAYS_ON or ON_DEMAND".into(),
            ));
        }
        let Some(capacity) = input.compute_capacity else {
            return Err(CoreError::InvalidCombination(format!(
                "an {} fleet needs ComputeCapacity with DesiredInstances",
                fleet_type.as_str()
            )));
        };
        let desired = match (capacity.desired_instances, capacity.desired_sessions) {
            (Some(n), None) => n,
            (None, Some(_)) | (Some(_), Some(_)) => {
                return Err(CoreError::InvalidCombination(
                    "Photon does not support multi-session fleets yet: give ComputeCapacity.DesiredInstances only".into(),
                ))
            }
            (None, None) => {
                return Err(CoreError::InvalidCombination("ComputeCapacity needs DesiredInstances".into()))
            }
        };
        check_range("ComputeCapacity.DesiredInstances", desired, 0, 10_000)?;
        let max_user = input.max_user_duration_in_seconds.unwrap_or(57_600);
        check_range("MaxUserDurationInSeconds", max_user, 600, 432_000)?;
        let disconnect = input.disconnect_timeout_in_seconds.unwrap_or(900);
        check_range("DisconnectTimeoutInSeconds", disconnect, 60, 36_000)?;
        let idle = input.idle_disconnect_timeout_in_seconds.unwrap_or(0);
        if idle != 0 {
            check_range("IdleDisconnectTimeoutInSeconds", idle, 60, 36_000)?;
        }
        let image = self
            .fleet_image(
                cx,
                input.image_name.as_deref(),
                input.image_arn.as_deref(),
                &input.instance_type,
            )
            .await?;
        let vpc = input.vpc_config.unwrap_or_default();
        let dj = input.domain_join_info.unwrap_or_default();
        let record = FleetRecord {
            region: cx.region.clone(),
            owner: cx.account_id.clone(),
            name: input.name.clone(),
            arn: fleet_arn(&cx.region, &cx.account_id, &input.name),
            state: st(FleetState::Stopped).to_owned(),
            image_arn: image.image.arn.clone(),
            instance_type: input.instance_type.clone(),
            fleet_type: fleet_type.as_str().to_owned(),
            created_at: self.now(),
            attrs: FleetAttrs {
                v: 1,
                description: input.description,
                display_name: input.display_name,
                desired_instances: desired,
                max_user_duration_in_seconds: max_user,
                disconnect_timeout_in_seconds: disconnect,
                idle_disconnect_timeout_in_seconds: idle,
                iam_role_arn: input.iam_role_arn,
                enable_default_internet_access: input.enable_default_internet_access,
                subnet_ids: vpc.subnet_ids,
                security_group_ids: vpc.security_group_ids,
                directory_name: dj.directory_name,
                organizational_unit: dj.organizational_unit_distinguished_name,
                stream_view: input
                    .stream_view
                    .unwrap_or(StreamView::App)
                    .as_str()
                    .to_owned(),
                platform: image.image.platform.clone(),
                disable_imdsv1: input.disable_imdsv1,
                root_volume_size_gb: input.root_volume_config.and_then(|v| v.volume_size_in_gb),
                errors: Vec::new(),
            },
        };
        let quota = self.quota(&cx.account_id, &cx.region, "fleets").await?;
        match self.store.create_fleet(&record, &input.tags.unwrap_or_default(), quota).await {
            Ok(()) => self.fleet_api(record).await,
            Err(StoreError::ImageRefused(why)) => Err(image_refused(why, &image.image)),
            Err(StoreError::Conflict) => Err(CoreError::AlreadyExists(format!(
                "a fleet named '{}' already exists in {}; pick another name",
                input.name, cx.region
            ))),
            Err(StoreError::LimitReached(max)) => Err(CoreError::LimitExceeded(format!(
                "the quota of {max} fleets for account {} in {} is reached; delete a fleet, or have the operator raise it with `photon quotas set --account-id {} --region {} fleets=N`",
                cx.account_id, cx.region, cx.account_id, cx.region
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn describe_fleets(
        &self,
        cx: &Caller,
        input: DescribeFleetsRequest,
    ) -> Result<DescribeFleetsResult, CoreError> {
        const PAGE: u32 = 25;
        let names = input.names.unwrap_or_default();
        if !names.is_empty() {
            let mut out = Vec::new();
            for n in &names {
                let Some(f) = self.store.fleet(&cx.region, &cx.account_id, n).await? else {
                    return Err(not_found(n, &cx.region));
                };
                out.push(self.fleet_api(f).await?);
            }
            return Ok(DescribeFleetsResult {
                fleets: Some(out),
                next_token: None,
            });
        }
        let (rows, next_token) = self
            .owned_page(
                cx,
                "fleets",
                input.next_token.as_deref(),
                PAGE,
                |after, limit| async move {
                    self.store
                        .list_fleets(&cx.region, &cx.account_id, after.as_deref(), limit)
                        .await
                },
            )
            .await?;
        let mut listed = Vec::with_capacity(rows.len());
        for f in rows {
            listed.push(self.fleet_api(f).await?);
        }
        Ok(DescribeFleetsResult {
            fleets: Some(listed),
            next_token,
        })
    }

    async fn my_fleet(&self, cx: &Caller, name: &str) -> Result<FleetRecord, CoreError> {
        self.store
            .fleet(&cx.region, &cx.account_id, name)
            .await?
            .ok_or_else(|| not_found(name, &cx.region))
    }

    /// Writes a changed fleet if it is still as it was read (`read`); a change made meanwhile
    /// (a job, a revoked image, another request) is answered with `wrong`, never overwritten.
    /// A write that puts capacity on the image, or changes it, is checked against the image in
    /// the same transaction.
    async fn save_fleet(
        &self,
        f: FleetRecord,
        read: &FleetRecord,
        job: Option<JobRecord>,
        wrong: impl FnOnce(String) -> CoreError,
    ) -> Result<Fleet, CoreError> {
        let name = f.name.clone();
        let region = f.region.clone();
        // Clearing the fleet's errors claims the image is usable again: that is checked too.
        let check_image = f.image_arn != read.image_arn
            || f.attrs.desired_instances > 0
            || f.attrs.errors != read.attrs.errors;
        match self
            .store
            .update_fleet(&f, read, job.as_ref(), check_image)
            .await
        {
            Ok(Transition::Done(f)) => self.fleet_api(*f).await,
            Ok(Transition::NotFound) => Err(not_found(&name, &region)),
            Ok(Transition::WrongState(s)) => Err(wrong(s)),
            Err(StoreError::ImageRefused(why)) => Err(CoreError::NotPermitted(format!(
                "fleet '{name}' cannot run on image {}: {}",
                f.image_arn,
                refusal_text(why)
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn start_fleet(
        &self,
        cx: &Caller,
        input: StartFleetRequest,
    ) -> Result<Fleet, CoreError> {
        let read = self.my_fleet(cx, &input.name).await?;
        if read.state == st(FleetState::Running) || read.state == st(FleetState::Starting) {
            return self.fleet_api(read).await;
        }
        if read.state != st(FleetState::Stopped) {
            return Err(CoreError::ConcurrentModification(format!(
                "fleet '{}' is {}; wait until it is STOPPED, then start it",
                input.name, read.state
            )));
        }
        let mut f = read.clone();
        f.state = st(FleetState::Starting).to_owned();
        let job = self.fleet_job(cx, &input.name, "RUNNING", Stage::FleetStart);
        let name = input.name.clone();
        self.save_fleet(f, &read, Some(job), |s| {
            CoreError::ConcurrentModification(format!(
                "fleet '{name}' is {s}; wait until it is STOPPED, then start it"
            ))
        })
        .await
    }

    pub async fn stop_fleet(
        &self,
        cx: &Caller,
        input: StopFleetRequest,
    ) -> Result<Fleet, CoreError> {
        let read = self.my_fleet(cx, &input.name).await?;
        if read.state == st(FleetState::Stopped) || read.state == st(FleetState::Stopping) {
            return self.fleet_api(read).await;
        }
        let mut f = read.clone();
        f.state = st(FleetState::Stopping).to_owned();
        let job = self.fleet_job(cx, &input.name, "STOPPED", Stage::FleetStop);
        let name = input.name.clone();
        self.save_fleet(f, &read, Some(job), |s| {
            CoreError::ConcurrentModification(format!(
                "fleet '{name}' changed meanwhile (it is {s}); try again"
            ))
        })
        .await
    }

    pub async fn delete_fleet(
        &self,
        cx: &Caller,
        input: DeleteFleetRequest,
    ) -> Result<(), CoreError> {
        let stacks = self
            .store
            .stacks_of_fleet(&cx.region, &cx.account_id, &input.name)
            .await?;
        if !stacks.is_empty() {
            return Err(CoreError::InUse(format!(
                "fleet '{}' is associated with stack {}; disassociate it with DisassociateFleet first",
                input.name,
                stacks.join(", ")
            )));
        }
        let key = (
            cx.region.as_str(),
            cx.account_id.as_str(),
            input.name.as_str(),
        );
        if self
            .store
            .remove_fleet(key, st(FleetState::Stopped))
            .await?
        {
            return Ok(());
        }
        let f = self.my_fleet(cx, &input.name).await?;
        Err(CoreError::InUse(format!(
            "fleet '{}' is {}; stop it with StopFleet and wait for STOPPED before deleting it",
            input.name, f.state
        )))
    }

    pub async fn update_fleet(
        &self,
        cx: &Caller,
        input: UpdateFleetRequest,
    ) -> Result<Fleet, CoreError> {
        let Some(name) = input.name.clone() else {
            return Err(CoreError::InvalidCombination(
                "UpdateFleet needs the Name of the fleet".into(),
            ));
        };
        let read = self.my_fleet(cx, &name).await?;
        let mut f = read.clone();
        let running = f.state == st(FleetState::Running);
        if f.state == st(FleetState::Starting) || f.state == st(FleetState::Stopping) {
            return Err(CoreError::ConcurrentModification(format!(
                "fleet '{name}' is {}; wait until it is RUNNING or STOPPED to update it",
                f.state
            )));
        }
        if running
            && (input.instance_type.is_some()
                || input.vpc_config.is_some()
                || input.domain_join_info.is_some())
        {
            return Err(CoreError::InvalidCombination(format!(
                "fleet '{name}' is RUNNING; InstanceType, VpcConfig and DomainJoinInfo can change only while it is STOPPED"
            )));
        }
        let instance_type = input
            .instance_type
            .clone()
            .unwrap_or_else(|| f.instance_type.clone());
        if input.image_name.is_some() || input.image_arn.is_some() {
            let image = self
                .fleet_image(
                    cx,
                    input.image_name.as_deref(),
                    input.image_arn.as_deref(),
                    &instance_type,
                )
                .await?;
            f.image_arn = image.image.arn.clone();
            f.attrs.platform = image.image.platform.clone();
            // A usable image clears what kept the fleet from provisioning.
            f.attrs.errors.clear();
        } else if input.instance_type.is_some() {
            let current = f.image_arn.clone();
            self.fleet_image(cx, None, Some(&current), &instance_type)
                .await?;
        }
        f.instance_type = instance_type;
        if let Some(c) = input.compute_capacity {
            match (c.desired_instances, c.desired_sessions) {
                (Some(n), None) => {
                    check_range("ComputeCapacity.DesiredInstances", n, 0, 10_000)?;
                    if n > 0 && f.image_arn == read.image_arn {
                        // Capacity on the image it has: the image must still be one the fleet
                        // may use (a revoked share keeps it at 0 until the image changes).
                        let current = f.image_arn.clone();
                        self.fleet_image(cx, None, Some(&current), &f.instance_type)
                            .await
                            .map_err(|e| match e {
                                // The image was there when the fleet took it: it is gone or no
                                // longer shared, and only another image helps.
                                CoreError::NotFound(_) => CoreError::NotPermitted(format!(
                                    "fleet '{name}' cannot take capacity on image {current}: \
                                     it no longer exists or is no longer shared with your \
                                     account for fleets; update the fleet with an image it \
                                     may use (ImageName or ImageArn)"
                                )),
                                other => other,
                            })?;
                        f.attrs
                            .errors
                            .retain(|(code, _)| code != FleetErrorCode::ImageNotFound.as_str());
                    }
                    f.attrs.desired_instances = n;
                }
                _ => {
                    return Err(CoreError::InvalidCombination(
                        "give ComputeCapacity.DesiredInstances only (multi-session fleets are not supported)".into(),
                    ))
                }
            }
        }
        if let Some(v) = input.max_user_duration_in_seconds {
            check_range("MaxUserDurationInSeconds", v, 600, 432_000)?;
            f.attrs.max_user_duration_in_seconds = v;
        }
        if let Some(v) = input.disconnect_timeout_in_seconds {
            check_range("DisconnectTimeoutInSeconds", v, 60, 36_000)?;
            f.attrs.disconnect_timeout_in_seconds = v;
        }
        if let Some(v) = input.idle_disconnect_timeout_in_seconds {
            if v != 0 {
                check_range("IdleDisconnectTimeoutInSeconds", v, 60, 36_000)?;
            }
            f.attrs.idle_disconnect_timeout_in_seconds = v;
        }
        if let Some(v) = input.display_name {
            f.attrs.display_name = Some(v);
        }
        if let Some(v) = input.description {
            f.attrs.description = Some(v);
        }
        if let Some(v) = input.vpc_config {
            f.attrs.subnet_ids = v.subnet_ids;
            f.attrs.security_group_ids = v.security_group_ids;
        }
        if let Some(v) = input.enable_default_internet_access {
            f.attrs.enable_default_internet_access = Some(v);
        }
        if let Some(v) = input.iam_role_arn {
            f.attrs.iam_role_arn = Some(v);
        }
        if let Some(v) = input.stream_view {
            f.attrs.stream_view = v.as_str().to_owned();
        }
        for attr in input.attributes_to_delete.unwrap_or_default() {
            match attr {
                FleetAttribute::VpcConfiguration
                | FleetAttribute::VpcConfigurationSecurityGroupIds => {
                    f.attrs.security_group_ids = None;
                    if attr == FleetAttribute::VpcConfiguration {
                        f.attrs.subnet_ids = None;
                    }
                }
                FleetAttribute::DomainJoinInfo => {
                    f.attrs.directory_name = None;
                    f.attrs.organizational_unit = None;
                }
                FleetAttribute::IamRoleArn => f.attrs.iam_role_arn = None,
                _ => {}
            }
        }
        self.save_fleet(f, &read, None, |s| {
            CoreError::ConcurrentModification(format!(
                "fleet '{name}' changed meanwhile (it is {s}); try again"
            ))
        })
        .await
    }
}

/// Finishes fleet transitions: STARTING → RUNNING, STOPPING → STOPPED. Guarded by the state it
/// expects, so a repeated attempt changes nothing.
pub struct FleetJobs {
    svc: Service,
}

impl FleetJobs {
    pub fn new(svc: Service) -> Arc<FleetJobs> {
        Arc::new(FleetJobs { svc })
    }

    async fn step(&self, job: &JobRecord) -> Result<Step, CoreError> {
        let Some(name) = job
            .resource
            .rsplit_once("fleet/")
            .map(|(_, n)| n.to_owned())
        else {
            return Ok(Step::Fatal(format!(
                "job resource '{}' is not a fleet ARN",
                job.resource
            )));
        };
        let (from, to) = match job.payload.as_str() {
            "RUNNING" => (FleetState::Starting, FleetState::Running),
            "STOPPED" => (FleetState::Stopping, FleetState::Stopped),
            other => return Ok(Step::Fatal(format!("unknown fleet target '{other}'"))),
        };
        // Only the state moves: whatever else changed meanwhile (a revoked image's capacity)
        // stays as it is.
        let moved = self
            .svc
            .store
            .transition_fleet(
                (&job.region, &job.account_id, &name),
                &[st(from)],
                st(to),
                None,
            )
            .await?;
        if to == FleetState::Stopped && matches!(moved, Transition::Done(_)) {
            // A stopped fleet has no instances, so no sessions either.
            let ended = self
                .svc
                .store
                .end_fleet_sessions(&job.region, &job.account_id, &name)
                .await?;
            if ended > 0 {
                tracing::info!(fleet = %name, ended, "the fleet stopped; its sessions ended");
            }
        }
        Ok(Step::Done)
    }
}

impl Handler for FleetJobs {
    fn kind(&self) -> &'static str {
        JOB_KIND
    }

    fn run<'a>(&'a self, job: &'a JobRecord) -> BoxFuture<'a, Step> {
        Box::pin(async move { or_retry(self.step(job).await) })
    }

    fn give_up<'a>(&'a self, job: &'a JobRecord, error: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(name) = job
                .resource
                .rsplit_once("fleet/")
                .map(|(_, n)| n.to_owned())
            else {
                return;
            };
            let from = [st(FleetState::Starting), st(FleetState::Stopping)];
            let errors = vec![(
                FleetErrorCode::InternalServiceError.as_str().to_owned(),
                format!("the fleet could not finish its change of state: {error}"),
            )];
            if let Err(e) = self
                .svc
                .store
                .transition_fleet(
                    (&job.region, &job.account_id, &name),
                    &from,
                    st(FleetState::Stopped),
                    Some(errors),
                )
                .await
            {
                tracing::error!(job = %job.id, error = %e, "could not stop the fleet after a failure");
            }
        })
    }
}
