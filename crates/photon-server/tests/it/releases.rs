//! The release feed through `photon releases` beside a live server: the history seeded from the
//! reference pages, publishing an agent and a base image release (with real patch files), the
//! new public image in every region through the SDK, and the refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use aws_sdk_appstream::types::{ImageBuilderState, VisibilityType};
use common::{bin, wait_builder};
use photon_testkit::{Photon, Proto};

fn refused(p: &Photon, args: &[&str]) -> String {
    let out = p.admin_raw(args);
    assert!(!out.status.success(), "photon {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn history_publishing_and_refusals() {
    let p = Photon::start_with(
        bin(),
        &["--pace", "instant", "--regions", "us-east-1,eu-west-1"],
    );
    // The history from the reference pages.
    let feed = p.admin(&["releases", "list", "--output", "json"]);
    let base = feed["BaseImageReleases"].as_array().unwrap();
    assert!(base
        .iter()
        .any(|r| r["ImageName"] == "AppStream-WinServer2022-11-10-2025"
            && r["AgentVersion"] == "10-02-2025"
            && r["Released"] == "2025-11-10"));
    let agents = feed["AgentVersions"].as_array().unwrap();
    assert!(agents.iter().any(|a| a["Version"] == "12-07-2017"));
    assert!(agents.len() >= 47, "{}", agents.len());
    let only = p.admin(&[
        "releases",
        "list",
        "--platform",
        "RHEL8",
        "--output",
        "json",
    ]);
    assert!(only["BaseImageReleases"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["Platform"] == "RHEL8"));

    // A new agent, then a base image release that ships it by default.
    let a = p.admin(&[
        "releases",
        "publish-agent",
        "--version",
        "12-01-2026",
        "--date",
        "2026-12-01",
        "--notes",
        "Faster session start",
        "--output",
        "json",
    ]);
    assert_eq!(a["Version"], "12-01-2026");
    let err = refused(
        &p,
        &[
            "releases",
            "publish-agent",
            "--version",
            "12-01-2026",
            "--date",
            "2026-12-01",
        ],
    );
    assert!(err.contains("already"), "{err}");

    let patch = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(patch.path().join("Windows/Photon")).unwrap();
    std::fs::write(
        patch.path().join("Windows/Photon/KB5049999.txt"),
        b"cumulative update",
    )
    .unwrap();
    let r = p.admin(&[
        "releases",
        "publish-base-image",
        "--platform",
        "WINDOWS_SERVER_2022",
        "--date",
        "2026-12-08",
        "--content",
        patch.path().to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(r["ImageName"], "AppStream-WinServer2022-12-08-2026");
    assert_eq!(r["AgentVersion"], "12-01-2026");
    assert_eq!(r["OsPatchLevel"], "2026-12");
    assert!(r["ContentLayer"].is_string());

    // The public image is there at once, in every region.
    for region in ["us-east-1", "eu-west-1"] {
        let c = p.client(Proto::Cbor, &p.default, region);
        let img = c
            .describe_images()
            .names("AppStream-WinServer2022-12-08-2026")
            .send()
            .await
            .unwrap();
        let img = &img.images()[0];
        assert_eq!(img.visibility(), Some(&VisibilityType::Public));
        assert_eq!(img.appstream_agent_version(), Some("12-01-2026"));
        assert_eq!(
            img.public_base_image_released_date().unwrap().secs(),
            1_796_688_000
        );
        assert_eq!(
            img.arn(),
            Some(
                format!("arn:aws:appstream:{region}::image/AppStream-WinServer2022-12-08-2026")
                    .as_str()
            )
        );
    }
    // Its content is real: a builder from it holds the patch's file and the release's agent.
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    c.create_image_builder()
        .name("patched")
        .image_name("AppStream-WinServer2022-12-08-2026")
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "patched", ImageBuilderState::Running).await;
    let cat = |path: &str| {
        common::photon_cli(&p, &["builder", "--image-builder", "patched", "cat", path]).stdout
    };
    assert_eq!(
        cat("C:\\Windows\\Photon\\KB5049999.txt"),
        b"cumulative update"
    );
    assert_eq!(
        cat("C:\\Program Files\\Amazon\\Photon\\AppStream2\\agent-version.txt"),
        b"12-01-2026\n"
    );

    // A future date and a pinned agent; the refusals.
    let r = p.admin(&[
        "releases",
        "publish-base-image",
        "--platform",
        "AMAZON_LINUX2",
        "--date",
        "2027-01-15",
        "--agent-version",
        "10-02-2025",
        "--output",
        "json",
    ]);
    assert_eq!(r["ImageName"], "AppStream-AmazonLinux2-01-15-2027");
    assert_eq!(r["AgentVersion"], "10-02-2025");
    let err = refused(
        &p,
        &[
            "releases",
            "publish-base-image",
            "--platform",
            "WINDOWS_SERVER_2022",
            "--date",
            "2026-12-08",
        ],
    );
    assert!(err.contains("already published"), "{err}");
    let err = refused(
        &p,
        &[
            "releases",
            "publish-base-image",
            "--platform",
            "BEOS",
            "--date",
            "2026-12-09",
        ],
    );
    assert!(err.contains("WINDOWS_SERVER_2022"), "{err}");
    let err = refused(
        &p,
        &[
            "releases",
            "publish-base-image",
            "--platform",
            "RHEL8",
            "--date",
            "12/09/2026",
        ],
    );
    assert!(err.contains("YYYY-MM-DD"), "{err}");
    let err = refused(
        &p,
        &[
            "releases",
            "publish-base-image",
            "--platform",
            "RHEL8",
            "--date",
            "2026-12-09",
            "--agent-version",
            "01-01-1999",
        ],
    );
    assert!(err.contains("publish-agent"), "{err}");
    // Text output for people.
    let out = p.admin_raw(&[
        "releases",
        "list",
        "--platform",
        "AMAZON_LINUX2",
        "--output",
        "text",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("AppStream-AmazonLinux2-01-15-2027"), "{text}");
}

#[tokio::test]
async fn latest_agent_images_follow_the_feed_and_pinned_ones_do_not() {
    let p = Photon::start_with(bin(), &["--pace", "instant", "--regions", "us-east-1"]);
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    c.create_image_builder()
        .name("b")
        .image_name("AppStream-WinServer2022-04-16-2026")
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "b", ImageBuilderState::Running).await;
    let pinned_agent = c
        .describe_image_builders()
        .names("b")
        .send()
        .await
        .unwrap()
        .image_builders()[0]
        .appstream_agent_version()
        .unwrap()
        .to_owned();
    let (code, v) = common::ia(&p, "b", &["create-image", "--name", "pinned"]);
    assert_eq!(code, 0, "{v}");
    common::wait_image(
        &c,
        "pinned",
        aws_sdk_appstream::types::ImageState::Available,
    )
    .await;
    c.start_image_builder().name("b").send().await.unwrap();
    wait_builder(&c, "b", ImageBuilderState::Running).await;
    let (code, v) = common::ia(
        &p,
        "b",
        &[
            "create-image",
            "--name",
            "latest",
            "--use-latest-agent-version",
        ],
    );
    assert_eq!(code, 0, "{v}");
    let latest = common::wait_image(
        &c,
        "latest",
        aws_sdk_appstream::types::ImageState::Available,
    )
    .await;
    assert_eq!(
        latest.latest_appstream_agent_version().map(|l| l.as_str()),
        Some("TRUE")
    );

    // A new agent is released.
    p.admin(&[
        "releases",
        "publish-agent",
        "--version",
        "12-15-2026",
        "--date",
        "2026-12-15",
    ]);
    let launch = |name: &'static str, image: &'static str| {
        let c = c.clone();
        async move {
            c.create_image_builder()
                .name(name)
                .image_name(image)
                .instance_type("stream.standard.medium")
                .send()
                .await
                .unwrap()
                .image_builder()
                .unwrap()
                .clone()
        }
    };
    // Instances of the "latest" image get the newest agent at launch…
    let from_latest = launch("from-latest", "latest").await;
    assert_eq!(from_latest.appstream_agent_version(), Some("12-15-2026"));
    assert_eq!(
        from_latest
            .latest_appstream_agent_version()
            .map(|l| l.as_str()),
        Some("TRUE")
    );
    // So does a fleet instance: a session on the latest image runs the new agent.
    c.create_fleet()
        .name("fleet")
        .image_name("latest")
        .instance_type("stream.standard.medium")
        .compute_capacity(
            aws_sdk_appstream::types::ComputeCapacity::builder()
                .desired_instances(1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.create_stack().name("stack").send().await.unwrap();
    c.associate_fleet()
        .stack_name("stack")
        .fleet_name("fleet")
        .send()
        .await
        .unwrap();
    c.start_fleet().name("fleet").send().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let url = loop {
        let r = c
            .create_streaming_url()
            .stack_name("stack")
            .fleet_name("fleet")
            .user_id("alice")
            .send()
            .await;
        if let Ok(r) = r {
            break r.streaming_url().unwrap().to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "the fleet never ran");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let page = reqwest::get(url).await.unwrap().text().await.unwrap();
    assert!(page.contains("<dt>Agent</dt><dd>12-15-2026</dd>"), "{page}");
    // …and the pinned image keeps its version.
    let from_pinned = launch("from-pinned", "pinned").await;
    assert_eq!(
        from_pinned.appstream_agent_version(),
        Some(pinned_agent.as_str())
    );
    // A builder may ask for the new version by name too; an unknown one is refused.
    c.create_image_builder()
        .name("named")
        .image_name("pinned")
        .instance_type("stream.standard.medium")
        .appstream_agent_version("12-15-2026")
        .send()
        .await
        .unwrap();
    let (code, msg, _) = common::failure(
        c.create_image_builder()
            .name("unknown")
            .image_name("pinned")
            .instance_type("stream.standard.medium")
            .appstream_agent_version("01-01-2031")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(msg.contains("12-15-2026"), "{msg}");

    // Starting a builder with the newer agent updates it first (UPDATING_AGENT).
    wait_builder(&c, "b", ImageBuilderState::Stopped).await;
    let started = c
        .start_image_builder()
        .name("b")
        .appstream_agent_version("LATEST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        started.image_builder().unwrap().state(),
        Some(&ImageBuilderState::UpdatingAgent)
    );
    wait_builder(&c, "b", ImageBuilderState::Running).await;
    let b = c.describe_image_builders().names("b").send().await.unwrap();
    assert_eq!(
        b.image_builders()[0].appstream_agent_version(),
        Some("12-15-2026")
    );
    assert_eq!(
        b.image_builders()[0]
            .latest_appstream_agent_version()
            .map(|l| l.as_str()),
        Some("TRUE")
    );
    // Starting without a newer agent is a plain start.
    wait_builder(&c, "from-pinned", ImageBuilderState::Running).await;
    c.stop_image_builder()
        .name("from-pinned")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "from-pinned", ImageBuilderState::Stopped).await;
    let plain = c
        .start_image_builder()
        .name("from-pinned")
        .appstream_agent_version(&pinned_agent)
        .send()
        .await
        .unwrap();
    assert_eq!(
        plain.image_builder().unwrap().state(),
        Some(&ImageBuilderState::Pending)
    );
}
