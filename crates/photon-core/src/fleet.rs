//! Fleets: creating one on an image the account may use, the state machine
//! (`STOPPED → STARTING → RUNNING → STOPPING → STOPPED`, driven by the engine at the configured
//! pace), updates, and the capacity a fleet reports.

use std::sync::Arc;

use photon_store::{
    FleetAttrs, FleetRecord, ImageRow, JobRecord, Key, LockKey, StoreError, WriteTx,
};
use photon_types::{
    Caller, ComputeCapacityStatus, CreateFleetRequest, DeleteFleetRequest, DescribeFleetsRequest,
    DescribeFleetsResult, DomainJoinInfo, Fleet, FleetAttribute, FleetError, FleetErrorCode,
    FleetState, FleetType, PlatformType, StartFleetRequest, StopFleetRequest, StreamView,
    Timestamp, UpdateFleetRequest, VolumeConfig, VpcConfig,
};
use photon_workflow::{or_retry, BoxFuture, JobKind, Step, Typed};

use crate::doc::{from_doc, to_doc};
use crate::pace::Stage;
use crate::{CoreError, Service};

pub const JOB_KIND: &str = "fleet";

/// What a fleet job drives its fleet to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FleetTarget {
    /// STARTING → RUNNING.
    Running,
    /// STOPPING → STOPPED.
    Stopped,
}

impl photon_workflow::Payload for FleetTarget {
    fn legacy(text: &str) -> Option<Self> {
        match FleetState::from_wire(text)? {
            FleetState::Running => Some(FleetTarget::Running),
            FleetState::Stopped => Some(FleetTarget::Stopped),
            _ => None,
        }
    }
}

pub fn fleet_arn(region: &str, owner: &str, name: &str) -> String {
    photon_store::ResourceKind::Fleet.arn(region, owner, name)
}

fn not_found(name: &str, region: &str) -> CoreError {
    CoreError::NotFound(format!(
        "fleet '{name}' does not exist in {region}; list yours with DescribeFleets"
    ))
}

pub fn to_api(f: FleetRecord, in_use: i32) -> Fleet {
    let a = f.attrs;
    let running = f.state == FleetState::Running;
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
        state: f.state,
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
        max_sessions_per_instance: a.max_sessions_per_instance,
        max_concurrent_sessions: a.max_concurrent_sessions,
        usb_device_filter_strings: a.usb_device_filter_strings,
        session_script_s3_location: a
            .session_script_s3_location
            .as_ref()
            .and_then(|d| from_doc(d, "SessionScriptS3Location").ok()),
    }
}

/// Why a fleet write was refused on its image, found inside the write's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageRefusal {
    /// The image no longer exists.
    Gone,
    /// Another account owns the image and does not share it with the fleet's account with
    /// fleet permission.
    NoFleetPermission,
}

/// Inside a fleet write: locks the fleet's image (the lock sharing changes take, so a
/// revocation and this write cannot interleave) and checks that it still exists and that the
/// fleet's account may still run it.
async fn recheck_image(tx: &mut dyn WriteTx, f: &FleetRecord) -> Result<(), CoreError> {
    tx.lock(LockKey::Image(f.image_arn.clone())).await?;
    let Some(arn) = crate::arn::Arn::parse(&f.image_arn) else {
        return Err(ImageRefusal::Gone.into_error(f));
    };
    let key = Key::new(arn.region.as_str(), arn.account.as_str(), arn.name.as_str());
    if tx.image(key).await?.is_none() {
        return Err(ImageRefusal::Gone.into_error(f));
    }
    let shared = if arn.account == f.owner {
        None
    } else {
        tx.image_share(key, &f.owner).await?
    };
    if !crate::image::may_use(
        &arn.account,
        &f.owner,
        shared,
        crate::image::ImageUse::Fleet,
    ) {
        return Err(ImageRefusal::NoFleetPermission.into_error(f));
    }
    Ok(())
}

impl ImageRefusal {
    /// The refusal of a write of fleet `f`, worded for the image it names.
    fn into_error(self, f: &FleetRecord) -> CoreError {
        let image = crate::arn::Arn::parse(&f.image_arn).map_or(f.image_arn.clone(), |a| a.name);
        let text = format!("image '{image}': {}", refusal_text(self));
        match self {
            ImageRefusal::Gone => CoreError::NotFound(text),
            ImageRefusal::NoFleetPermission => CoreError::NotPermitted(text),
        }
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

/// `ComputeCapacity` of an ALWAYS_ON or ON_DEMAND fleet: instances, never sessions.
fn desired_instances(instances: Option<i32>, sessions: Option<i32>) -> Result<i32, CoreError> {
    match (instances, sessions) {
        (Some(n), None) => Ok(n),
        (_, Some(_)) => Err(CoreError::InvalidCombination(
            "Photon does not support multi-session fleets yet: give \
             ComputeCapacity.DesiredInstances, not DesiredSessions"
                .into(),
        )),
        (None, None) => Err(CoreError::InvalidCombination(
            "ComputeCapacity needs DesiredInstances".into(),
        )),
    }
}

/// The session limits of the model: `MaxConcurrentSessions` belongs to ELASTIC fleets only, and
/// `MaxSessionsPerInstance` above 1 makes a multi-session fleet, which Photon does not run yet.
fn check_session_limits(
    fleet_type: FleetType,
    per_instance: Option<i32>,
    concurrent: Option<i32>,
) -> Result<(), CoreError> {
    if concurrent.is_some() && fleet_type != FleetType::Elastic {
        return Err(CoreError::InvalidCombination(format!(
            "MaxConcurrentSessions is for ELASTIC fleets only; an {} fleet's capacity is \
             ComputeCapacity.DesiredInstances",
            fleet_type.as_str()
        )));
    }
    if let Some(n) = per_instance {
        check_range("MaxSessionsPerInstance", n, 1, 50)?;
        if n > 1 {
            return Err(CoreError::InvalidCombination(format!(
                "MaxSessionsPerInstance {n} makes a multi-session fleet, which Photon does not \
                 support yet; leave it out or give 1"
            )));
        }
    }
    Ok(())
}

/// `Platform` of an ALWAYS_ON or ON_DEMAND fleet is its image's: another value is refused.
fn check_platform(
    platform: Option<PlatformType>,
    image: &photon_store::ImageRecord,
) -> Result<(), CoreError> {
    match platform {
        Some(p) if p.as_str() != image.platform => Err(CoreError::InvalidCombination(format!(
            "Platform {} does not match image '{}', which runs {}; leave Platform out (an \
             ALWAYS_ON or ON_DEMAND fleet runs its image's platform) or pick an image of that \
             platform",
            p.as_str(),
            image.name,
            image.platform
        ))),
        _ => Ok(()),
    }
}

/// The members of an `UpdateFleet` that a RUNNING fleet cannot change, by the model's lists of
/// what it can: display name and the two disconnect timeouts for every type; capacity and
/// image for ALWAYS_ON and ON_DEMAND; session limit, session script and USB filters for
/// ELASTIC.
fn stopped_only_members(elastic: bool, input: &UpdateFleetRequest) -> Vec<&'static str> {
    let image = input.image_name.is_some() || input.image_arn.is_some();
    let given = [
        (
            "ComputeCapacity",
            elastic && input.compute_capacity.is_some(),
        ),
        ("ImageName or ImageArn", elastic && image),
        ("InstanceType", input.instance_type.is_some()),
        ("VpcConfig", input.vpc_config.is_some()),
        ("DomainJoinInfo", input.domain_join_info.is_some()),
        ("Description", input.description.is_some()),
        (
            "MaxUserDurationInSeconds",
            input.max_user_duration_in_seconds.is_some(),
        ),
        (
            "EnableDefaultInternetAccess",
            input.enable_default_internet_access.is_some(),
        ),
        ("IamRoleArn", input.iam_role_arn.is_some()),
        ("StreamView", input.stream_view.is_some()),
        ("Platform", input.platform.is_some()),
        ("DisableIMDSV1", input.disable_imdsv1.is_some()),
        ("RootVolumeConfig", input.root_volume_config.is_some()),
        (
            "MaxSessionsPerInstance",
            input.max_sessions_per_instance.is_some(),
        ),
        (
            "MaxConcurrentSessions",
            !elastic && input.max_concurrent_sessions.is_some(),
        ),
        (
            "UsbDeviceFilterStrings",
            !elastic && input.usb_device_filter_strings.is_some(),
        ),
        (
            "SessionScriptS3Location",
            !elastic && input.session_script_s3_location.is_some(),
        ),
        (
            "AttributesToDelete",
            input
                .attributes_to_delete
                .as_ref()
                .is_some_and(|a| !a.is_empty()),
        ),
        ("DeleteVpcConfig", input.delete_vpc_config == Some(true)),
    ];
    given
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
}

/// The first agent that streams the DESKTOP view (agent-software-versions.md, 02-19-2020).
const DESKTOP_VIEW_AGENT: &str = "2020-02-19";

/// `MM-DD-YYYY` (an agent version) → `YYYY-MM-DD`, which orders as dates do.
fn agent_date(version: &str) -> Option<String> {
    let mut parts = version.split('-');
    let (m, d, y) = (parts.next()?, parts.next()?, parts.next()?);
    Some(format!("{y}-{m}-{d}"))
}

/// The DESKTOP view needs an agent from 02-19-2020 or later on the fleet's image.
fn check_stream_view(view: StreamView, image: &photon_store::ImageRecord) -> Result<(), CoreError> {
    if view != StreamView::Desktop || image.attrs.latest_appstream_agent_version {
        return Ok(());
    }
    let agent = image.attrs.appstream_agent_version.as_deref();
    if agent
        .and_then(agent_date)
        .is_some_and(|d| d.as_str() >= DESKTOP_VIEW_AGENT)
    {
        return Ok(());
    }
    Err(CoreError::Incompatible(format!(
        "image '{}' runs agent {}, and the DESKTOP stream view needs agent 02-19-2020 or \
         later; use StreamView APP, or an image with a newer agent",
        image.name,
        agent.unwrap_or("(unknown)")
    )))
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

    fn fleet_job(&self, cx: &Caller, name: &str, target: FleetTarget, stage: Stage) -> JobRecord {
        let delay = i64::try_from(self.pace.delay(stage).as_millis()).unwrap_or(i64::MAX);
        FleetJobs::job(
            &cx.account_id,
            &cx.region,
            &fleet_arn(&cx.region, &cx.account_id, name),
            &target,
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
        // Terraform leaves ComputeCapacity out for a fleet of no instances: absent is zero.
        let desired = match input.compute_capacity {
            None => 0,
            Some(c) => desired_instances(c.desired_instances, c.desired_sessions)?,
        };
        check_range("ComputeCapacity.DesiredInstances", desired, 0, 10_000)?;
        check_session_limits(
            fleet_type,
            input.max_sessions_per_instance,
            input.max_concurrent_sessions,
        )?;
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
        check_platform(input.platform, &image.image)?;
        let stream_view = input.stream_view.unwrap_or(StreamView::App);
        check_stream_view(stream_view, &image.image)?;
        let vpc = input.vpc_config.unwrap_or_default();
        let dj = input.domain_join_info.unwrap_or_default();
        let record = FleetRecord {
            region: cx.region.clone(),
            owner: cx.account_id.clone(),
            name: input.name.clone(),
            arn: fleet_arn(&cx.region, &cx.account_id, &input.name),
            state: FleetState::Stopped,
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
                stream_view: stream_view.as_str().to_owned(),
                platform: image.image.platform.clone(),
                disable_imdsv1: input.disable_imdsv1,
                root_volume_size_gb: input.root_volume_config.and_then(|v| v.volume_size_in_gb),
                errors: Vec::new(),
                max_sessions_per_instance: input.max_sessions_per_instance,
                max_concurrent_sessions: input.max_concurrent_sessions,
                usb_device_filter_strings: input.usb_device_filter_strings,
                session_script_s3_location: input.session_script_s3_location.map(to_doc),
                transition_job: None,
            },
        };
        let quota = self.quota(&cx.account_id, &cx.region, "fleets").await?;
        let mut tx = self.store.write().await?;
        // Image lock before the account's fleets: `LockKey` order.
        recheck_image(tx.as_mut(), &record).await?;
        tx.lock(LockKey::account_fleets(&cx.account_id, &cx.region))
            .await?;
        let in_use = tx.count_fleets(&cx.region, &cx.account_id).await?;
        let (account, region) = (&cx.account_id, &cx.region);
        crate::quota::check_creation(account, region, "fleets", quota, in_use, "delete a fleet")?;
        match tx.insert_fleet(&record).await {
            Err(StoreError::Conflict) => {
                return Err(crate::quota::name_taken("a fleet", &input.name, region))
            }
            other => other?,
        }
        tx.insert_tags(&record.arn, &input.tags.unwrap_or_default())
            .await?;
        tx.commit().await?;
        self.fleet_api(record).await
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
                let Some(f) = self
                    .store
                    .fleet(Key::new(&cx.region, &cx.account_id, n))
                    .await?
                else {
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
            .fleet(Key::new(&cx.region, &cx.account_id, name))
            .await?
            .ok_or_else(|| not_found(name, &cx.region))
    }

    /// Writes a changed fleet if it is still as it was read (`read`); a change made meanwhile
    /// (a job, a revoked image, another request) is answered with `wrong`, never overwritten.
    /// A write that puts capacity on the image, or changes it, is checked against the image in
    /// the same transaction.
    async fn save_fleet(
        &self,
        mut f: FleetRecord,
        read: &FleetRecord,
        job: Option<JobRecord>,
        wrong: impl FnOnce(FleetState) -> CoreError,
    ) -> Result<Fleet, CoreError> {
        let name = f.name.clone();
        let region = f.region.clone();
        if let Some(job) = &job {
            crate::transition::hand_to(&mut f, job);
        }
        // Clearing the fleet's errors claims the image is usable again: that is checked too.
        let check_image = f.image_arn != read.image_arn
            || f.attrs.desired_instances > 0
            || f.attrs.errors != read.attrs.errors;
        let mut tx = self.store.write().await?;
        if check_image {
            recheck_image(tx.as_mut(), &f).await.map_err(|e| match e {
                CoreError::NotFound(text) | CoreError::NotPermitted(text) => {
                    CoreError::NotPermitted(format!("fleet '{name}' cannot run on {text}"))
                }
                other => other,
            })?;
        }
        tx.lock(LockKey::Fleet(f.arn.clone())).await?;
        let Some(current) = tx.fleet(Key::new(&region, &f.owner, &name)).await? else {
            return Err(not_found(&name, &region));
        };
        if current != *read {
            return Err(wrong(current.state));
        }
        tx.put_fleet(&f).await?;
        if let Some(job) = &job {
            tx.enqueue(job).await?;
        }
        tx.commit().await?;
        self.fleet_api(f).await
    }

    pub async fn start_fleet(
        &self,
        cx: &Caller,
        input: StartFleetRequest,
    ) -> Result<(), CoreError> {
        let read = self.my_fleet(cx, &input.name).await?;
        if read.state == FleetState::Running || read.state == FleetState::Starting {
            return Ok(());
        }
        if read.state != FleetState::Stopped {
            return Err(CoreError::ConcurrentModification(format!(
                "fleet '{}' is {}; wait until it is STOPPED, then start it",
                input.name, read.state
            )));
        }
        let mut f = read.clone();
        f.state = FleetState::Starting;
        let job = self.fleet_job(cx, &input.name, FleetTarget::Running, Stage::FleetStart);
        let name = input.name.clone();
        self.save_fleet(f, &read, Some(job), |s| {
            CoreError::ConcurrentModification(format!(
                "fleet '{name}' is {s}; wait until it is STOPPED, then start it"
            ))
        })
        .await
        .map(drop)
    }

    pub async fn stop_fleet(&self, cx: &Caller, input: StopFleetRequest) -> Result<(), CoreError> {
        let read = self.my_fleet(cx, &input.name).await?;
        if read.state == FleetState::Stopped || read.state == FleetState::Stopping {
            return Ok(());
        }
        let mut f = read.clone();
        f.state = FleetState::Stopping;
        let job = self.fleet_job(cx, &input.name, FleetTarget::Stopped, Stage::FleetStop);
        let name = input.name.clone();
        self.save_fleet(f, &read, Some(job), |s| {
            CoreError::ConcurrentModification(format!(
                "fleet '{name}' changed meanwhile (it is {s}); try again"
            ))
        })
        .await
        .map(drop)
    }

    pub async fn delete_fleet(
        &self,
        cx: &Caller,
        input: DeleteFleetRequest,
    ) -> Result<(), CoreError> {
        let (region, account, name) = (&cx.region, &cx.account_id, &input.name);
        let key = Key::new(region, account, name);
        // Under the fleet's lock no association can be added (AssociateFleet writes under it)
        // and no start can begin, so what is checked here still holds at the delete.
        let mut tx = self.store.write().await?;
        tx.lock(LockKey::Fleet(fleet_arn(region, account, name)))
            .await?;
        let f = tx
            .fleet(key)
            .await?
            .ok_or_else(|| not_found(name, region))?;
        let stacks = tx.fleet_stacks(key).await?;
        if !stacks.is_empty() {
            return Err(CoreError::InUse(format!(
                "fleet '{name}' is associated with stack {}; disassociate it with DisassociateFleet first",
                stacks.join(", ")
            )));
        }
        if f.state != FleetState::Stopped {
            return Err(CoreError::InUse(format!(
                "fleet '{name}' is {}; stop it with StopFleet and wait for STOPPED before deleting it",
                f.state
            )));
        }
        tx.delete_fleet(key).await?;
        tx.commit().await?;
        Ok(())
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
        let running = f.state == FleetState::Running;
        if f.state == FleetState::Starting || f.state == FleetState::Stopping {
            return Err(CoreError::ConcurrentModification(format!(
                "fleet '{name}' is {}; wait until it is RUNNING or STOPPED to update it",
                f.state
            )));
        }
        if running {
            let elastic = read.fleet_type == FleetType::Elastic.as_str();
            let stopped_only = stopped_only_members(elastic, &input);
            if !stopped_only.is_empty() {
                let can = if elastic {
                    "DisplayName, IdleDisconnectTimeoutInSeconds, DisconnectTimeoutInSeconds, \
                     MaxConcurrentSessions, SessionScriptS3Location and UsbDeviceFilterStrings"
                } else {
                    "DisplayName, ComputeCapacity, ImageName or ImageArn, \
                     IdleDisconnectTimeoutInSeconds and DisconnectTimeoutInSeconds"
                };
                return Err(CoreError::InvalidCombination(format!(
                    "fleet '{name}' is RUNNING, and a running {} fleet changes only {can}; \
                     stop it with StopFleet to change {}",
                    read.fleet_type,
                    stopped_only.join(", ")
                )));
            }
        }
        check_session_limits(
            FleetType::from_wire(&read.fleet_type).unwrap_or(FleetType::OnDemand),
            input.max_sessions_per_instance,
            input.max_concurrent_sessions,
        )?;
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
            // The guide (update-fleets-new-image): an image of the same operating system in
            // RUNNING or STOPPED, of a different one (Windows Server 2022 → 2025 too) only in
            // STOPPED.
            if running && image.image.platform != f.attrs.platform {
                return Err(CoreError::InvalidCombination(format!(
                    "image '{}' runs {} but fleet '{name}' runs {}; a fleet changes to an image \
                     of another operating system only while STOPPED, so stop it with StopFleet \
                     first",
                    image.image.name, image.image.platform, f.attrs.platform
                )));
            }
            check_platform(input.platform, &image.image)?;
            f.image_arn = image.image.arn.clone();
            f.attrs.platform = image.image.platform.clone();
            // A usable image clears what kept the fleet from provisioning.
            f.attrs.errors.clear();
        } else if input.instance_type.is_some() {
            let current = f.image_arn.clone();
            self.fleet_image(cx, None, Some(&current), &instance_type)
                .await?;
        }
        if input.image_name.is_none() && input.image_arn.is_none() {
            if let Some(p) = input.platform {
                if p.as_str() != f.attrs.platform {
                    return Err(CoreError::InvalidCombination(format!(
                        "Platform {} is not the platform of the fleet's image ({}); an \
                         ALWAYS_ON or ON_DEMAND fleet runs its image's platform, so change \
                         the image instead",
                        p.as_str(),
                        f.attrs.platform
                    )));
                }
            }
        }
        f.instance_type = instance_type;
        if let Some(c) = input.compute_capacity {
            match desired_instances(c.desired_instances, c.desired_sessions) {
                Ok(n) => {
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
                Err(e) => return Err(e),
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
            if let Some(row) = self
                .store
                .image_for(&cx.region, &cx.account_id, &f.image_arn)
                .await?
            {
                check_stream_view(v, &row.image)?;
            }
            f.attrs.stream_view = v.as_str().to_owned();
        }
        if let Some(v) = input.disable_imdsv1 {
            f.attrs.disable_imdsv1 = Some(v);
        }
        if let Some(v) = input.root_volume_config {
            f.attrs.root_volume_size_gb = v.volume_size_in_gb;
        }
        if let Some(v) = input.max_sessions_per_instance {
            f.attrs.max_sessions_per_instance = Some(v);
        }
        if let Some(v) = input.max_concurrent_sessions {
            f.attrs.max_concurrent_sessions = Some(v);
        }
        if let Some(v) = input.usb_device_filter_strings {
            f.attrs.usb_device_filter_strings = Some(v);
        }
        if let Some(v) = input.session_script_s3_location {
            f.attrs.session_script_s3_location = Some(to_doc(v));
        }
        let mut to_delete = input.attributes_to_delete.unwrap_or_default();
        // The deprecated DeleteVpcConfig says what VPC_CONFIGURATION says.
        if input.delete_vpc_config == Some(true) {
            to_delete.push(FleetAttribute::VpcConfiguration);
        }
        for attr in to_delete {
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
                FleetAttribute::UsbDeviceFilterStrings => f.attrs.usb_device_filter_strings = None,
                FleetAttribute::SessionScriptS3Location => {
                    f.attrs.session_script_s3_location = None
                }
                FleetAttribute::MaxSessionsPerInstance => f.attrs.max_sessions_per_instance = None,
                FleetAttribute::VolumeConfiguration => f.attrs.root_volume_size_gb = None,
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
    pub fn new(svc: Service) -> Arc<Typed<FleetJobs>> {
        Arc::new(Typed(FleetJobs { svc }))
    }

    async fn step(&self, job: &JobRecord, target: FleetTarget) -> Result<Step, CoreError> {
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
        let (from, to) = match target {
            FleetTarget::Running => (FleetState::Starting, FleetState::Running),
            FleetTarget::Stopped => (FleetState::Stopping, FleetState::Stopped),
        };
        // One transaction: the state moves, and a stopped fleet has no instances, so no
        // sessions either. Only the state moves: whatever else changed meanwhile (a revoked
        // image's capacity) stays as it is.
        let key = Key::new(job.region.as_str(), job.account_id.as_str(), name.as_str());
        let mut tx = self.svc.store.write().await?;
        tx.lock(LockKey::Fleet(job.resource.clone())).await?;
        let Some(mut fleet) = tx.fleet(key).await? else {
            return Ok(Step::Done);
        };
        if fleet.state != from || !crate::transition::owns(&fleet, job) {
            // Already moved on (a repeated attempt, or a newer request and its job): nothing
            // is left to do.
            return Ok(Step::Done);
        }
        fleet.state = to;
        fleet.attrs.transition_job = None;
        tx.put_fleet(&fleet).await?;
        let ended = if to == FleetState::Stopped {
            tx.delete_fleet_sessions(key).await?
        } else {
            0
        };
        tx.commit().await?;
        if ended > 0 {
            tracing::info!(fleet = %name, ended, "the fleet stopped; its sessions ended");
        }
        Ok(Step::Done)
    }
}

impl JobKind for FleetJobs {
    const KIND: &'static str = JOB_KIND;
    type Payload = FleetTarget;

    fn run<'a>(&'a self, job: &'a JobRecord, target: &'a FleetTarget) -> BoxFuture<'a, Step> {
        Box::pin(async move { or_retry(self.step(job, *target).await) })
    }

    fn give_up<'a>(
        &'a self,
        job: &'a JobRecord,
        _: &'a FleetTarget,
        error: &'a str,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(name) = job
                .resource
                .rsplit_once("fleet/")
                .map(|(_, n)| n.to_owned())
            else {
                return;
            };
            let from = [FleetState::Starting, FleetState::Stopping];
            let errors = vec![(
                FleetErrorCode::InternalServiceError.as_str().to_owned(),
                format!("the fleet could not finish its change of state: {error}"),
            )];
            if let Err(e) = crate::transition::change(
                self.svc.store.as_ref(),
                Key::new(&job.region, &job.account_id, &name),
                &from,
                FleetState::Stopped,
                crate::transition::By::Job(job),
                |f: &mut FleetRecord| f.attrs.errors = errors,
            )
            .await
            {
                tracing::error!(job = %job.id, error = %e, "could not stop the fleet after a failure");
            }
        })
    }
}
