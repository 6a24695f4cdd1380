//! Image builders through the SDK in both protocols: launch, the state machine of the reference
//! (what each state allows), each refusal, quotas, tags, and a builder that still starts after
//! the server is killed while it is PENDING.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::time::{Duration, Instant};

use aws_sdk_appstream::types::{ImageBuilderState, VisibilityType};
use common::{bin, failure};
use photon_testkit::{Photon, Proto, BOTH};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";

/// Polls until the builder is in `want` (or gone, for `None`); tests never sleep blindly.
async fn wait_for(c: &aws_sdk_appstream::Client, name: &str, want: Option<ImageBuilderState>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = c.describe_image_builders().names(name).send().await;
        let state = match &got {
            Ok(r) => r.image_builders()[0].state().cloned(),
            Err(_) => None,
        };
        if state == want && (want.is_some() || got.is_err()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} stuck in {state:?}, waiting for {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create(c: &aws_sdk_appstream::Client, name: &str) {
    let r = c
        .create_image_builder()
        .name(name)
        .image_name(BASE)
        .instance_type("stream.standard.medium")
        .description("a builder")
        .display_name("Builder")
        .enable_default_internet_access(true)
        .tags("team", "blue")
        .send()
        .await
        .unwrap();
    let b = r.image_builder().unwrap();
    assert_eq!(b.state(), Some(&ImageBuilderState::Pending));
}

#[tokio::test]
async fn lifecycle_and_what_each_state_allows() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let name = format!("builder-{proto:?}").to_lowercase();
        create(&c, &name).await;
        wait_for(&c, &name, Some(ImageBuilderState::Running)).await;
        let b = c
            .describe_image_builders()
            .names(&name)
            .send()
            .await
            .unwrap();
        let b = &b.image_builders()[0];
        assert_eq!(b.instance_type(), Some("stream.standard.medium"));
        assert_eq!(
            b.platform().map(|p| p.as_str()),
            Some("WINDOWS_SERVER_2022")
        );
        assert_eq!(
            b.image_arn(),
            Some(format!("arn:aws:appstream:us-east-1::image/{BASE}").as_str())
        );
        assert_eq!(b.enable_default_internet_access(), Some(true));
        assert_eq!(b.description(), Some("a builder"));
        let arn = b.arn().unwrap().to_owned();
        assert_eq!(
            arn,
            format!(
                "arn:aws:appstream:us-east-1:{}:image-builder/{name}",
                p.default.account_id
            )
        );
        let tags = c
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap();
        assert_eq!(
            tags.tags().unwrap().get("team").map(String::as_str),
            Some("blue")
        );

        // RUNNING: no start.
        let (code, msg, _) = failure(c.start_image_builder().name(&name).send().await);
        assert_eq!(code, "ResourceNotAvailableException");
        assert!(msg.contains("only when STOPPED"), "{msg}");

        let r = c.stop_image_builder().name(&name).send().await.unwrap();
        assert_eq!(
            r.image_builder().unwrap().state(),
            Some(&ImageBuilderState::Stopping)
        );
        wait_for(&c, &name, Some(ImageBuilderState::Stopped)).await;
        let (code, msg, _) = failure(c.stop_image_builder().name(&name).send().await);
        assert_eq!(code, "OperationNotPermittedException");
        assert!(msg.contains("only when RUNNING"), "{msg}");

        let r = c.start_image_builder().name(&name).send().await.unwrap();
        assert_eq!(
            r.image_builder().unwrap().state(),
            Some(&ImageBuilderState::Pending)
        );
        wait_for(&c, &name, Some(ImageBuilderState::Running)).await;
        c.stop_image_builder().name(&name).send().await.unwrap();
        wait_for(&c, &name, Some(ImageBuilderState::Stopped)).await;
        let r = c.delete_image_builder().name(&name).send().await.unwrap();
        assert_eq!(
            r.image_builder().unwrap().state(),
            Some(&ImageBuilderState::Deleting)
        );
        wait_for(&c, &name, None).await;
        let (code, _, status) = failure(c.describe_image_builders().names(&name).send().await);
        assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
        let (code, ..) = failure(c.list_tags_for_resource().resource_arn(&arn).send().await);
        assert_eq!(
            code, "ResourceNotFoundException",
            "a deleted builder's tags are gone"
        );
        // The name is free again, and a builder is deleted straight from PENDING or RUNNING,
        // as Terraform's destroy expects.
        create(&c, &name).await;
        let r = c.delete_image_builder().name(&name).send().await.unwrap();
        assert_eq!(
            r.image_builder().unwrap().state(),
            Some(&ImageBuilderState::Deleting)
        );
        wait_for(&c, &name, None).await;
        create(&c, &name).await;
        wait_for(&c, &name, Some(ImageBuilderState::Running)).await;
        let r = c.delete_image_builder().name(&name).send().await.unwrap();
        assert_eq!(
            r.image_builder().unwrap().state(),
            Some(&ImageBuilderState::Deleting)
        );
        wait_for(&c, &name, None).await;
    }
}

#[tokio::test]
async fn launch_refusals() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    let other = p.create_account();
    p.seed_private_images(
        &other.account_id,
        "us-east-1",
        &["no-build".into(), "may-build".into()],
    )
    .await;
    let owner = p.client(Proto::Json, &other, "us-east-1");
    for (name, fleet, builder) in [("no-build", true, false), ("may-build", false, true)] {
        owner
            .update_image_permissions()
            .name(name)
            .shared_account_id(&p.default.account_id)
            .image_permissions(
                aws_sdk_appstream::types::ImagePermissions::builder()
                    .allow_fleet(fleet)
                    .allow_image_builder(builder)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let shared_arn =
        |n: &str| format!("arn:aws:appstream:us-east-1:{}:image/{n}", other.account_id);
    for (i, proto) in BOTH.into_iter().enumerate() {
        let c = p.client(proto, &p.default, "us-east-1");
        let req = |n: &str| {
            c.create_image_builder()
                .name(format!("{n}-{i}"))
                .instance_type("stream.standard.small")
        };
        let (code, ..) = failure(
            req("both")
                .image_name(BASE)
                .image_arn(shared_arn("x"))
                .send()
                .await,
        );
        assert_eq!(code, "InvalidParameterCombinationException");
        let (code, ..) = failure(req("none").send().await);
        assert_eq!(code, "InvalidParameterCombinationException");
        let (code, _, status) = failure(req("missing").image_name("no-such-image").send().await);
        assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
        let (code, msg, _) = failure(
            c.create_image_builder()
                .name(format!("t-{i}"))
                .image_name(BASE)
                .instance_type("stream.bogus.large")
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
        assert!(msg.contains("InstanceType"), "{msg}");
        let (code, msg, _) = failure(
            c.create_image_builder()
                .name(format!("g-{i}"))
                .image_name(BASE)
                .instance_type("stream.graphics.g4dn.xlarge")
                .send()
                .await,
        );
        assert_eq!(code, "IncompatibleImageException");
        assert!(msg.contains("GENERAL_PURPOSE"), "{msg}");
        let (code, ..) = failure(
            req("agent")
                .image_name(BASE)
                .appstream_agent_version("01-01-1999")
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
        // Shared images: only with image-builder permission.
        let (code, msg, _) = failure(req("shared").image_arn(shared_arn("no-build")).send().await);
        assert_eq!(code, "OperationNotPermittedException");
        assert!(msg.contains("image builder permission"), "{msg}");
        let ok = req("shared-ok")
            .image_arn(shared_arn("may-build"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            ok.image_builder().unwrap().image_arn(),
            Some(shared_arn("may-build").as_str())
        );
        // LATEST agent.
        let latest = req("latest")
            .image_name(BASE)
            .appstream_agent_version("LATEST")
            .send()
            .await
            .unwrap();
        let b = latest.image_builder().unwrap();
        assert_eq!(
            b.latest_appstream_agent_version().map(|v| v.as_str()),
            Some("TRUE")
        );
        assert!(b.appstream_agent_version().is_some());
        // Names are unique in the account and region.
        let (code, ..) = failure(req("latest").image_name(BASE).send().await);
        assert_eq!(code, "ResourceAlreadyExistsException");
    }
    // Another account cannot see or touch them.
    let co = p.client(Proto::Json, &other, "us-east-1");
    let listed = co.describe_image_builders().send().await.unwrap();
    assert!(listed.image_builders().is_empty());
    let (code, ..) = failure(co.stop_image_builder().name("latest-0").send().await);
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn quota_and_paging() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    let id = p.default.account_id.clone();
    p.set_quota(&id, "us-east-1", "image-builders=3");
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    for n in ["a", "b", "c"] {
        create(&c, n).await;
    }
    let (code, msg, _) = failure(
        c.create_image_builder()
            .name("d")
            .image_name(BASE)
            .instance_type("stream.standard.small")
            .send()
            .await,
    );
    assert_eq!(code, "LimitExceededException");
    assert!(msg.contains("photon quotas set"), "{msg}");
    // Another region has its own count.
    let west = p.client(Proto::Json, &p.default, "us-west-2");
    create(&west, "d").await;
    let first = c
        .describe_image_builders()
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.image_builders().len(), 2);
    let rest = c
        .describe_image_builders()
        .max_results(2)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.image_builders().len(), 1);
    assert!(rest.next_token().is_none());
    let names: Vec<&str> = first
        .image_builders()
        .iter()
        .chain(rest.image_builders())
        .map(|b| b.name().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[tokio::test]
async fn a_pending_builder_survives_kill_and_restart() {
    // The fast pace keeps the builder PENDING for seconds: long enough to kill the server.
    let mut p = Photon::start_with(bin(), &["--pace", "fast"]);
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    create(&c, "survivor").await;
    // The kill must land while the start is still in progress, or the test proves nothing.
    let before = c
        .describe_image_builders()
        .names("survivor")
        .send()
        .await
        .unwrap();
    assert_eq!(
        before.image_builders()[0].state(),
        Some(&ImageBuilderState::Pending),
        "the builder finished starting before the kill"
    );
    p.restart();
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    let r = c
        .describe_image_builders()
        .names("survivor")
        .send()
        .await
        .unwrap();
    let state = r.image_builders()[0].state().cloned();
    assert!(
        matches!(
            state,
            Some(ImageBuilderState::Pending | ImageBuilderState::Running)
        ),
        "{state:?}"
    );
    wait_for(&c, "survivor", Some(ImageBuilderState::Running)).await;
    // Builders do not disturb the image registry.
    let imgs = c
        .describe_images()
        .r#type(VisibilityType::Public)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(imgs.images().len(), 1);
}

#[tokio::test]
async fn streaming_urls_open_the_builder_page_while_valid() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let name = format!("connect-{proto:?}").to_lowercase();
        create(&c, &name).await;
        wait_for(&c, &name, Some(ImageBuilderState::Running)).await;
        let r = c
            .create_image_builder_streaming_url()
            .name(&name)
            .send()
            .await
            .unwrap();
        let url = r.streaming_url().unwrap().to_owned();
        assert!(
            url.starts_with(&format!("{}/connect/", p.endpoint)),
            "{url}"
        );
        let expires = r.expires().unwrap().secs();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(
            (expires - now - 3600).abs() < 60,
            "the default validity is an hour"
        );
        let page = reqwest::get(&url).await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        // The console's document, with the connect stylesheet its policy allows: no inline style.
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("style-src 'self'") && !csp.contains("style-src 'unsafe-inline'"));
        let html = page.text().await.unwrap();
        assert!(html.contains(&name) && html.contains("RUNNING"), "{html}");
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(!html.contains("style="), "{html}");
        assert!(
            html.contains(r#"href="/console/assets/connect.css""#),
            "{html}"
        );
        let css = reqwest::get(format!("{}/console/assets/connect.css", p.endpoint))
            .await
            .unwrap();
        assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
        assert!(css.text().await.unwrap().contains("#assistant"));

        // A forged token opens nothing.
        let forged = format!("{}x", url);
        assert_eq!(reqwest::get(&forged).await.unwrap().status().as_u16(), 403);
        // Validity is checked, and expiry is real.
        let (code, ..) = failure(
            c.create_image_builder_streaming_url()
                .name(&name)
                .validity(0)
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
        let short = c
            .create_image_builder_streaming_url()
            .name(&name)
            .validity(1)
            .send()
            .await
            .unwrap();
        let short = short.streaming_url().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = reqwest::get(&short).await.unwrap();
            if r.status().as_u16() == 403 {
                assert!(r.text().await.unwrap().contains("expired"));
                break;
            }
            assert!(Instant::now() < deadline, "a 1-second URL never expired");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Only a running builder can be connected to.
        c.stop_image_builder().name(&name).send().await.unwrap();
        let (code, msg, _) = failure(
            c.create_image_builder_streaming_url()
                .name(&name)
                .send()
                .await,
        );
        assert_eq!(code, "OperationNotPermittedException");
        assert!(msg.contains("RUNNING"), "{msg}");
        assert_eq!(reqwest::get(&url).await.unwrap().status().as_u16(), 403);
        let (code, ..) = failure(
            c.create_image_builder_streaming_url()
                .name("nope")
                .send()
                .await,
        );
        assert_eq!(code, "ResourceNotFoundException");
    }
}
