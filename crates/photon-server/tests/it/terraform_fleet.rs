//! `aws_appstream_fleet` as the Terraform AWS provider drives it, replayed through the SDK in
//! both protocols: CreateFleet (ComputeCapacity left out for zero instances, only configured
//! members sent), StartFleet and the waiter (STARTING until RUNNING), reads (DescribeFleets by
//! name, then ListTagsForResource on the fleet's ARN), an update that changes only what a running
//! fleet may change, one that stops the fleet first (StopFleet, wait STOPPED, UpdateFleet,
//! StartFleet, wait RUNNING), import, and destroy (StopFleet even when stopped, wait STOPPED,
//! DeleteFleet). A second read after each step must match, or Terraform would show drift.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_appstream::types::{ComputeCapacity, FleetState, FleetType, StreamView, VpcConfig};
use aws_sdk_appstream::Client;
use common::{bin, failure, text};
use photon_testkit::{Photon, BOTH};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";

type State = BTreeMap<&'static str, String>;

async fn read(c: &Client, name: &str) -> State {
    let r = c.describe_fleets().names(name).send().await.unwrap();
    assert_eq!(r.fleets().len(), 1);
    let f = &r.fleets()[0];
    let tags = c
        .list_tags_for_resource()
        .resource_arn(f.arn().unwrap())
        .send()
        .await
        .unwrap();
    let cap = f.compute_capacity_status().expect("ComputeCapacityStatus");
    let opt = |v: Option<i32>| v.map(|n| n.to_string()).unwrap_or_default();
    let mut s = State::new();
    s.insert("arn", text(f.arn()));
    s.insert("name", text(f.name()));
    s.insert("instance_type", text(f.instance_type()));
    s.insert(
        "fleet_type",
        f.fleet_type().map(|t| t.to_string()).unwrap_or_default(),
    );
    s.insert(
        "state",
        f.state().map(|t| t.to_string()).unwrap_or_default(),
    );
    s.insert("desired_instances", opt(cap.desired()));
    s.insert("description", f.description().unwrap_or_default().into());
    s.insert("display_name", f.display_name().unwrap_or_default().into());
    s.insert("image_name", f.image_name().unwrap_or_default().into());
    s.insert("image_arn", f.image_arn().unwrap_or_default().into());
    s.insert("max_user_duration", opt(f.max_user_duration_in_seconds()));
    s.insert("disconnect_timeout", opt(f.disconnect_timeout_in_seconds()));
    s.insert(
        "idle_disconnect_timeout",
        opt(f.idle_disconnect_timeout_in_seconds()),
    );
    s.insert(
        "max_sessions_per_instance",
        opt(f.max_sessions_per_instance()),
    );
    s.insert(
        "enable_default_internet_access",
        f.enable_default_internet_access()
            .unwrap_or_default()
            .to_string(),
    );
    s.insert(
        "stream_view",
        f.stream_view().map(|v| v.to_string()).unwrap_or_default(),
    );
    s.insert(
        "vpc_config",
        f.vpc_config()
            .map(|v| format!("{:?} {:?}", v.subnet_ids(), v.security_group_ids()))
            .unwrap_or_default(),
    );
    s.insert("domain_join_info", format!("{:?}", f.domain_join_info()));
    let tags: Vec<String> = tags
        .tags()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    s.insert("tags", tags.join(","));
    s
}

async fn read_without_drift(c: &Client, name: &str) -> State {
    let first = read(c, name).await;
    assert_eq!(read(c, name).await, first, "a second read drifted");
    first
}

/// The provider's waiter: only `pending` states may be seen on the way to `target`.
async fn wait(c: &Client, name: &str, pending: FleetState, target: FleetState) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.describe_fleets().names(name).send().await.unwrap();
        let state = r.fleets()[0].state().cloned().unwrap();
        if state == target {
            return;
        }
        assert_eq!(state, pending, "unexpected state, wanted target {target}");
        assert!(Instant::now() < deadline, "{name} stuck in {state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// CreateFleet.Name CreateFleet.ImageName CreateFleet.InstanceType CreateFleet.FleetType
/// CreateFleet.ComputeCapacity CreateFleet.Description CreateFleet.DisplayName
/// CreateFleet.MaxUserDurationInSeconds CreateFleet.DisconnectTimeoutInSeconds
/// CreateFleet.IdleDisconnectTimeoutInSeconds CreateFleet.EnableDefaultInternetAccess
/// CreateFleet.StreamView CreateFleet.VpcConfig CreateFleet.Tags StartFleet.Name StopFleet.Name
/// UpdateFleet.Name UpdateFleet.ComputeCapacity UpdateFleet.DisplayName
/// UpdateFleet.IdleDisconnectTimeoutInSeconds UpdateFleet.DisconnectTimeoutInSeconds
/// UpdateFleet.MaxUserDurationInSeconds UpdateFleet.Description DeleteFleet.Name
#[tokio::test]
async fn terraform_fleet_create_read_update_import_destroy() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let name = format!("tf-fleet-{proto:?}").to_lowercase();

        // desired_instances = 0: the provider leaves ComputeCapacity out.
        let out = c
            .create_fleet()
            .name(&name)
            .image_name(BASE)
            .instance_type("stream.standard.small")
            .fleet_type(FleetType::OnDemand)
            .description("Description for a test")
            .display_name("Test display name")
            .max_user_duration_in_seconds(1000)
            .disconnect_timeout_in_seconds(900)
            .idle_disconnect_timeout_in_seconds(70)
            .enable_default_internet_access(true)
            .stream_view(StreamView::Desktop)
            .vpc_config(VpcConfig::builder().subnet_ids("subnet-0a1b2c3d").build())
            .tags("Name", "tf-acc")
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.fleet().unwrap().name(),
            Some(name.as_str()),
            "the ID is Fleet.Name"
        );
        c.start_fleet().name(&name).send().await.unwrap();
        wait(&c, &name, FleetState::Starting, FleetState::Running).await;

        let state = read_without_drift(&c, &name).await;
        assert_eq!(state["desired_instances"], "0");
        assert_eq!(state["state"], "RUNNING");
        assert_eq!(state["image_name"], BASE);
        assert_eq!(state["description"], "Description for a test");
        assert_eq!(state["max_user_duration"], "1000");
        assert_eq!(
            state["idle_disconnect_timeout"], "70",
            "kept as given, not rounded"
        );
        assert_eq!(state["max_sessions_per_instance"], "", "never configured");
        assert_eq!(state["stream_view"], "DESKTOP");
        assert_eq!(state["enable_default_internet_access"], "true");
        assert_eq!(state["domain_join_info"], "None");
        assert_eq!(state["tags"], "Name=tf-acc");

        // A change a running fleet takes: no stop.
        c.update_fleet()
            .name(&name)
            .compute_capacity(ComputeCapacity::builder().desired_instances(2).build())
            .display_name("Renamed")
            .idle_disconnect_timeout_in_seconds(0)
            .disconnect_timeout_in_seconds(60)
            .send()
            .await
            .unwrap();
        let running = read_without_drift(&c, &name).await;
        assert_eq!(running["desired_instances"], "2");
        assert_eq!(running["display_name"], "Renamed");
        assert_eq!(running["idle_disconnect_timeout"], "0");
        assert_eq!(running["state"], "RUNNING");

        // A change that needs a stopped fleet is refused while running, with what to do…
        let (code, msg, _) = failure(
            c.update_fleet()
                .name(&name)
                .max_user_duration_in_seconds(2000)
                .send()
                .await,
        );
        assert_eq!(code, "InvalidParameterCombinationException");
        assert!(
            msg.contains("MaxUserDurationInSeconds") && msg.contains("StopFleet"),
            "{msg}"
        );
        // …and taken the provider's way: stop, update, start.
        c.stop_fleet().name(&name).send().await.unwrap();
        wait(&c, &name, FleetState::Stopping, FleetState::Stopped).await;
        c.update_fleet()
            .name(&name)
            .max_user_duration_in_seconds(2000)
            .description("")
            .send()
            .await
            .unwrap();
        c.start_fleet().name(&name).send().await.unwrap();
        wait(&c, &name, FleetState::Starting, FleetState::Running).await;
        let updated = read_without_drift(&c, &name).await;
        assert_eq!(updated["max_user_duration"], "2000");
        assert_eq!(updated["description"], "");
        assert_eq!(updated["desired_instances"], "2");

        // Import by name reads the same state.
        assert_eq!(read(&c, &name).await, updated);

        // Destroy: StopFleet (also accepted when already stopped), wait, DeleteFleet.
        c.stop_fleet().name(&name).send().await.unwrap();
        wait(&c, &name, FleetState::Stopping, FleetState::Stopped).await;
        c.stop_fleet().name(&name).send().await.unwrap();
        c.delete_fleet().name(&name).send().await.unwrap();
        let (code, ..) = failure(c.describe_fleets().names(&name).send().await);
        assert_eq!(code, "ResourceNotFoundException");
    }
}
