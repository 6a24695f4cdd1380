//! `aws_appstream_image_builder` as the Terraform AWS provider drives it, replayed through the
//! SDK in both protocols: CreateImageBuilder (only configured members; `appstream_agent_version`
//! is ForceNew, so it must read back as sent), the waiter (PENDING until RUNNING), reads
//! (DescribeImageBuilders by name, then ListTagsForResource), a tags-only update, import, and
//! destroy: DeleteImageBuilder straight from RUNNING, then reads that see only DELETING until
//! the builder is gone. A second read after each step must match, or Terraform would show drift.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_appstream::types::{AccessEndpoint, AccessEndpointType, ImageBuilderState};
use aws_sdk_appstream::Client;
use common::{bin, failure};
use photon_testkit::{Photon, BOTH};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";

type State = BTreeMap<&'static str, String>;

async fn read(c: &Client, name: &str) -> State {
    let r = c
        .describe_image_builders()
        .names(name)
        .send()
        .await
        .unwrap();
    assert_eq!(r.image_builders().len(), 1);
    let b = &r.image_builders()[0];
    let tags = c
        .list_tags_for_resource()
        .resource_arn(b.arn().unwrap())
        .send()
        .await
        .unwrap();
    let mut s = State::new();
    s.insert("arn", b.arn().unwrap_or_default().into());
    s.insert("name", b.name().unwrap_or_default().into());
    s.insert(
        "instance_type",
        b.instance_type().unwrap_or_default().into(),
    );
    s.insert("image_arn", b.image_arn().unwrap_or_default().into());
    s.insert("description", b.description().unwrap_or_default().into());
    s.insert("display_name", b.display_name().unwrap_or_default().into());
    s.insert(
        "appstream_agent_version",
        b.appstream_agent_version().unwrap_or_default().into(),
    );
    s.insert(
        "enable_default_internet_access",
        b.enable_default_internet_access()
            .unwrap_or_default()
            .to_string(),
    );
    s.insert(
        "state",
        b.state().map(|x| x.to_string()).unwrap_or_default(),
    );
    let endpoints: Vec<String> = b
        .access_endpoints()
        .iter()
        .map(|e| {
            format!(
                "{}={}",
                e.endpoint_type().map(|t| t.as_str()).unwrap_or_default(),
                e.vpce_id().unwrap_or_default()
            )
        })
        .collect();
    s.insert("access_endpoint", endpoints.join(","));
    s.insert("vpc_config", format!("{:?}", b.vpc_config()));
    s.insert("domain_join_info", format!("{:?}", b.domain_join_info()));
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

/// The provider's waiters: only `pending` states on the way to `target` (`None`: gone).
async fn wait(
    c: &Client,
    name: &str,
    pending: &[ImageBuilderState],
    target: Option<ImageBuilderState>,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.describe_image_builders().names(name).send().await;
        let state = match r {
            Ok(r) => r.image_builders()[0].state().cloned(),
            Err(e) => {
                let (code, ..) = failure::<(), _>(Err(e));
                assert_eq!(code, "ResourceNotFoundException");
                None
            }
        };
        if state == target {
            return;
        }
        let state = state.unwrap_or_else(|| panic!("{name} vanished, wanted {target:?}"));
        assert!(
            pending.contains(&state),
            "unexpected state {state}, wanted {target:?}"
        );
        assert!(Instant::now() < deadline, "{name} stuck in {state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// CreateImageBuilder.Name CreateImageBuilder.ImageName CreateImageBuilder.InstanceType
/// CreateImageBuilder.Description CreateImageBuilder.DisplayName
/// CreateImageBuilder.AppstreamAgentVersion CreateImageBuilder.EnableDefaultInternetAccess
/// CreateImageBuilder.AccessEndpoints CreateImageBuilder.Tags DeleteImageBuilder.Name
/// TagResource.ResourceArn TagResource.Tags UntagResource.ResourceArn UntagResource.TagKeys
/// ListTagsForResource.ResourceArn
#[tokio::test]
async fn terraform_image_builder_create_read_update_import_destroy() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let name = format!("tf-builder-{proto:?}").to_lowercase();
        let out = c
            .create_image_builder()
            .name(&name)
            .image_name(BASE)
            .instance_type("stream.standard.medium")
            .description("Description for a test")
            .display_name("Test display name")
            .appstream_agent_version("LATEST")
            .enable_default_internet_access(true)
            .access_endpoints(
                AccessEndpoint::builder()
                    .endpoint_type(AccessEndpointType::Streaming)
                    .vpce_id("vpce-0123456789abcdef0")
                    .build(),
            )
            .tags("Name", "tf-acc")
            .send()
            .await
            .unwrap();
        assert_eq!(out.image_builder().unwrap().name(), Some(name.as_str()));
        wait(
            &c,
            &name,
            &[ImageBuilderState::Pending],
            Some(ImageBuilderState::Running),
        )
        .await;

        let state = read_without_drift(&c, &name).await;
        // ForceNew: anything but what was sent would replace the builder on every plan.
        assert_eq!(state["appstream_agent_version"], "LATEST");
        assert_eq!(state["description"], "Description for a test");
        assert_eq!(state["access_endpoint"], "STREAMING=vpce-0123456789abcdef0");
        assert_eq!(state["enable_default_internet_access"], "true");
        assert_eq!(state["domain_join_info"], "None");
        assert_eq!(state["tags"], "Name=tf-acc");
        assert_eq!(
            state["image_arn"],
            format!("arn:aws:appstream:us-east-1::image/{BASE}")
        );

        // The only update an image builder has: its tags.
        let arn = state["arn"].clone();
        c.untag_resource()
            .resource_arn(&arn)
            .tag_keys("Name")
            .send()
            .await
            .unwrap();
        c.tag_resource()
            .resource_arn(&arn)
            .tags("Env", "ci")
            .send()
            .await
            .unwrap();
        let updated = read_without_drift(&c, &name).await;
        assert_eq!(updated["tags"], "Env=ci");

        // Import by name (the provider ignores image_name, which Read never sets).
        assert_eq!(read(&c, &name).await, updated);

        // Destroy: no StopImageBuilder first.
        c.delete_image_builder().name(&name).send().await.unwrap();
        wait(
            &c,
            &name,
            &[ImageBuilderState::Pending, ImageBuilderState::Deleting],
            None,
        )
        .await;
        let (code, ..) = failure(c.delete_image_builder().name(&name).send().await);
        assert_eq!(
            code, "ResourceNotFoundException",
            "a second destroy finds it gone"
        );
    }
}

/// A builder created without `appstream_agent_version` reads back the agent it runs, and one
/// pinned to a version reads back that version.
#[tokio::test]
async fn terraform_image_builder_agent_version_reads_back_as_configured() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    let c = p.client(photon_testkit::Proto::Json, &p.default, "us-east-1");
    let image = c.describe_images().names(BASE).send().await.unwrap();
    let image_agent = image.images()[0]
        .appstream_agent_version()
        .unwrap()
        .to_owned();
    c.create_image_builder()
        .name("unset")
        .image_name(BASE)
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    c.create_image_builder()
        .name("pinned")
        .image_name(BASE)
        .instance_type("stream.standard.medium")
        .appstream_agent_version(&image_agent)
        .send()
        .await
        .unwrap();
    for (name, want) in [
        ("unset", image_agent.as_str()),
        ("pinned", image_agent.as_str()),
    ] {
        wait(
            &c,
            name,
            &[ImageBuilderState::Pending],
            Some(ImageBuilderState::Running),
        )
        .await;
        assert_eq!(
            read_without_drift(&c, name).await["appstream_agent_version"],
            want
        );
    }
}
