//! Managed image updates (`CreateUpdatedImage`) through the SDK, as the seed's procedure goes:
//! "already up to date", the dry run, the builder Photon creates (UPDATING with a 10-digit
//! suffix, the smallest size, no VPC; then PENDING_QUALIFICATION) and deletes, the new image
//! CREATING then AVAILABLE with the release's patch files and agent, the source unchanged; a
//! failed qualification with its notifications; a restart mid-update; every refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::time::{Duration, Instant};

use aws_sdk_appstream::types::{ImageBuilderState, ImagePermissions, ImageState};
use common::{bin, failure, ia, put, wait_builder, wait_image};
use photon_testkit::{Photon, Proto};

// The newest Windows Server 2022 release of the catalogue.
const BASE: &str = "AppStream-WinServer2022-04-16-2026";
const PATCH: &[u8] = b"the December cumulative update";

/// Polls the account's builders until `name_prefix`'s builder is gone; returns the states seen.
async fn watch_update_builder(c: &aws_sdk_appstream::Client, prefix: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut seen: Vec<String> = Vec::new();
    loop {
        let r = c.describe_image_builders().send().await.unwrap();
        let b = r
            .image_builders()
            .iter()
            .find(|b| b.name().unwrap_or("").starts_with(prefix));
        match b {
            Some(b) => {
                let s = b.state().unwrap().as_str().to_owned();
                if seen.last() != Some(&s) {
                    seen.push(s);
                }
            }
            None if !seen.is_empty() => return seen,
            None => {}
        }
        assert!(Instant::now() < deadline, "update builder states {seen:?}");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

#[tokio::test]
async fn managed_update_end_to_end() {
    let mut p = Photon::start_with(bin(), &["--pace", "fast", "--regions", "us-east-1"]);
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    // An image of ours, with an application and the newest agent.
    c.create_image_builder()
        .name("build")
        .image_name(BASE)
        .instance_type("stream.standard.large")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "build", ImageBuilderState::Running).await;
    put(&p, "build", "C:\\App\\app.exe", b"MZ app");
    let add = [
        "add-application",
        "--name",
        "App",
        "--absolute-app-path",
        "C:\\App\\app.exe",
    ];
    assert_eq!(ia(&p, "build", &add).0, 0);
    let (code, v) = ia(
        &p,
        "build",
        &[
            "create-image",
            "--name",
            "app-v1",
            "--use-latest-agent-version",
        ],
    );
    assert_eq!(code, 0, "{v}");
    let v1 = wait_image(&c, "app-v1", ImageState::Available).await;

    // Already up to date: nothing to do, nothing created.
    let r = c
        .create_updated_image()
        .existing_image_name("app-v1")
        .new_image_name("app-v2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.can_update_image(), Some(false));
    assert!(r.image().is_none());
    assert!(
        failure(c.describe_images().names("app-v2").send().await).0 == "ResourceNotFoundException"
    );

    // AWS publishes a new base image release with an OS patch.
    let patch = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(patch.path().join("Windows/Photon")).unwrap();
    std::fs::write(patch.path().join("Windows/Photon/KB5050000.txt"), PATCH).unwrap();
    p.admin(&[
        "releases",
        "publish-base-image",
        "--platform",
        "WINDOWS_SERVER_2022",
        "--date",
        "2026-12-08",
        "--content",
        patch.path().to_str().unwrap(),
    ]);

    // The refusals.
    for reserved in ["Amazon-v2", "aws-v2", "APPSTREAM-v2"] {
        let (code, msg, _) = failure(
            c.create_updated_image()
                .existing_image_name("app-v1")
                .new_image_name(reserved)
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException", "{reserved}");
        assert!(msg.contains("reserved"), "{msg}");
    }
    let (code, ..) = failure(
        c.create_updated_image()
            .existing_image_name("app-v1")
            .new_image_name("app-v1")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceAlreadyExistsException");
    let (code, ..) = failure(
        c.create_updated_image()
            .existing_image_name("nope")
            .new_image_name("x")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let (code, ..) = failure(
        c.create_updated_image()
            .existing_image_name(BASE)
            .new_image_name("x")
            .send()
            .await,
    );
    assert_eq!(code, "OperationNotPermittedException");
    // A shared image is its owner's to update.
    let owner = p.create_account();
    p.seed_private_images(&owner.account_id, "us-east-1", &["theirs".into()])
        .await;
    p.client(Proto::Json, &owner, "us-east-1")
        .update_image_permissions()
        .name("theirs")
        .shared_account_id(&p.default.account_id)
        .image_permissions(ImagePermissions::builder().allow_fleet(true).build())
        .send()
        .await
        .unwrap();
    let (code, msg, _) = failure(
        c.create_updated_image()
            .existing_image_name("theirs")
            .new_image_name("x")
            .send()
            .await,
    );
    assert_eq!(code, "OperationNotPermittedException");
    assert!(msg.contains("owner"), "{msg}");
    // Images from base images older than 2017-07-24 cannot be updated.
    p.seed_private_images(&p.default.account_id, "us-east-1", &["ancient".into()])
        .await;
    let (code, msg, _) = failure(
        c.create_updated_image()
            .existing_image_name("ancient")
            .new_image_name("x")
            .send()
            .await,
    );
    assert_eq!(code, "IncompatibleImageException");
    assert!(msg.contains("2017-07-24"), "{msg}");

    // The dry run validates and creates nothing.
    let builders_before = c
        .describe_image_builders()
        .send()
        .await
        .unwrap()
        .image_builders()
        .len();
    let r = c
        .create_updated_image()
        .existing_image_name("app-v1")
        .new_image_name("app-v2")
        .dry_run(true)
        .send()
        .await
        .unwrap();
    assert_eq!(r.can_update_image(), Some(true));
    assert!(r.image().is_none());
    assert_eq!(
        c.describe_image_builders()
            .send()
            .await
            .unwrap()
            .image_builders()
            .len(),
        builders_before
    );

    // The update, step by step.
    let r = c
        .create_updated_image()
        .existing_image_name("app-v1")
        .new_image_name("app-v2")
        .new_image_display_name("App v2")
        .new_image_description("December patches")
        .new_image_tags("team", "apps")
        .send()
        .await
        .unwrap();
    assert_eq!(r.can_update_image(), Some(true));
    let img = r.image().unwrap();
    assert_eq!(img.state(), Some(&ImageState::Creating));
    // The model: ImageBuilderName is null for images made by managed updates.
    assert_eq!(img.image_builder_name(), None);
    let builders = c.describe_image_builders().send().await.unwrap();
    let builder_name = builders
        .image_builders()
        .iter()
        .filter_map(|b| b.name())
        .find(|n| n.starts_with("app-v1-"))
        .unwrap()
        .to_owned();
    let suffix = builder_name.strip_prefix("app-v1-").unwrap();
    assert!(
        suffix.len() == 10 && suffix.bytes().all(|b| b.is_ascii_digit()),
        "{builder_name}"
    );
    let b = c
        .describe_image_builders()
        .names(&builder_name)
        .send()
        .await
        .unwrap();
    let b = &b.image_builders()[0];
    assert_eq!(b.state(), Some(&ImageBuilderState::Updating));
    assert_eq!(b.instance_type(), Some("stream.standard.small"));
    assert_eq!(
        b.latest_appstream_agent_version().map(|l| l.as_str()),
        Some("TRUE"),
        "it installs the newest agent"
    );
    assert!(b.vpc_config().is_none());
    let seen = watch_update_builder(&c, "app-v1-").await;
    assert!(
        seen.contains(&"PENDING_QUALIFICATION".to_owned()),
        "{seen:?}"
    );
    let v2 = wait_image(&c, "app-v2", ImageState::Available).await;
    assert_eq!(v2.display_name(), Some("App v2"));
    assert_eq!(v2.description(), Some("December patches"));
    assert_eq!(
        v2.public_base_image_released_date().unwrap().secs(),
        1_796_688_000
    );
    assert_eq!(
        v2.base_image_arn(),
        Some("arn:aws:appstream:us-east-1::image/AppStream-WinServer2022-12-08-2026")
    );
    assert_eq!(v2.applications().len(), 1);
    // The builder is gone; the source did not change.
    let (code, ..) = failure(
        c.describe_image_builders()
            .names(&builder_name)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    let v1_after = c
        .describe_images()
        .names("app-v1")
        .send()
        .await
        .unwrap()
        .images()[0]
        .clone();
    assert_eq!(v1_after, v1);
    // Its content: the application, and the patch's files over it.
    c.create_image_builder()
        .name("check")
        .image_name("app-v2")
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "check", ImageBuilderState::Running).await;
    let cat = |path: &str| {
        common::photon_cli(&p, &["builder", "--image-builder", "check", "cat", path]).stdout
    };
    assert_eq!(cat("C:\\App\\app.exe"), b"MZ app");
    assert_eq!(cat("C:\\Windows\\Photon\\KB5050000.txt"), PATCH);
    assert_eq!(cat("C:\\Windows\\Photon\\patch-level.txt"), b"2026-12-08\n");
    assert_eq!(
        cat("C:\\Program Files\\Amazon\\Photon\\AppStream2\\agent-version.txt"),
        format!("{}\n", v2.appstream_agent_version().unwrap()).into_bytes()
    );
    // Now up to date.
    let r = c
        .create_updated_image()
        .existing_image_name("app-v2")
        .new_image_name("app-v3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.can_update_image(), Some(false));

    // Concurrent updates are limited.
    p.admin(&[
        "quotas",
        "set",
        "--account-id",
        &p.default.account_id,
        "concurrent-image-updates=1",
    ]);
    c.create_updated_image()
        .existing_image_name("app-v1")
        .new_image_name("app-v2b")
        .send()
        .await
        .unwrap();
    let (code, msg, _) = failure(
        c.create_updated_image()
            .existing_image_name("app-v1")
            .new_image_name("app-v2c")
            .send()
            .await,
    );
    assert_eq!(code, "LimitExceededException");
    assert!(msg.contains("concurrent-image-updates"), "{msg}");
    // kill -9 in the middle of that update: it completes after the restart.
    p.restart();
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    wait_image(&c, "app-v2b", ImageState::Available).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while c
        .describe_image_builders()
        .send()
        .await
        .unwrap()
        .image_builders()
        .iter()
        .any(|b| b.name().unwrap_or("").starts_with("app-v1-"))
    {
        assert!(Instant::now() < deadline, "the update's builder stayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A qualification that fails for real: the patch's content is damaged in the store.
    let digest = photon_blob::digest_of(PATCH);
    let blob = p
        .data_dir()
        .join("blobs/sha256")
        .join(&digest[..2])
        .join(&digest);
    std::fs::write(&blob, b"tampered").unwrap();
    c.create_updated_image()
        .existing_image_name("app-v1")
        .new_image_name("app-v2-broken")
        .send()
        .await
        .unwrap();
    let broken = wait_image(&c, "app-v2-broken", ImageState::Failed).await;
    let why = broken.state_change_reason().unwrap();
    assert_eq!(why.code().unwrap().as_str(), "IMAGE_UPDATE_FAILURE");
    assert!(why.message().unwrap().contains("check"), "{why:?}");
    let errors = broken.image_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].error_message().unwrap().contains("corrupt"),
        "{errors:?}"
    );
    assert!(errors[0].error_timestamp().is_some());
    // The builder is deleted in that case too.
    let r = c.describe_image_builders().send().await.unwrap();
    assert!(
        r.image_builders()
            .iter()
            .all(|b| !b.name().unwrap_or("").starts_with("app-v1-")),
        "{r:?}"
    );
}

#[tokio::test]
async fn injected_faults_fail_the_stage_they_name() {
    let p = Photon::start_with(bin(), &["--pace", "instant", "--regions", "us-east-1"]);
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    // Built from an older release: an update is pending at once.
    c.create_image_builder()
        .name("b")
        .image_name("AppStream-WinServer2022-11-10-2025")
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "b", ImageBuilderState::Running).await;
    assert_eq!(ia(&p, "b", &["create-image", "--name", "app"]).0, 0);
    wait_image(&c, "app", ImageState::Available).await;

    let f = p.admin(&[
        "faults",
        "add",
        "--operation",
        "CreateUpdatedImage",
        "--stage",
        "qualification",
        "--error-code",
        "QUALIFICATION_FAILED",
        "--message",
        "the application crashed at start",
        "--image",
        "app",
        "--output",
        "json",
    ]);
    assert_eq!(f["Remaining"], 1);
    // One for another image, at the other stage: it must not touch this one.
    p.admin(&[
        "faults",
        "add",
        "--operation",
        "CreateUpdatedImage",
        "--stage",
        "patching",
        "--error-code",
        "PATCH_FAILED",
        "--message",
        "x",
        "--image",
        "other",
    ]);
    assert_eq!(p.admin(&["faults", "list"]).as_array().unwrap().len(), 2);

    c.create_updated_image()
        .existing_image_name("app")
        .new_image_name("app-2")
        .send()
        .await
        .unwrap();
    let failed = wait_image(&c, "app-2", ImageState::Failed).await;
    let why = failed.state_change_reason().unwrap();
    assert_eq!(why.code().unwrap().as_str(), "IMAGE_UPDATE_FAILURE");
    assert!(
        why.message()
            .unwrap()
            .contains("QUALIFICATION_FAILED: the application crashed at start"),
        "{why:?}"
    );
    assert_eq!(failed.image_errors().len(), 1);
    let r = c.describe_image_builders().send().await.unwrap();
    assert!(
        r.image_builders()
            .iter()
            .all(|b| !b.name().unwrap_or("").starts_with("app-")),
        "the builder is deleted after a failed qualification too: {r:?}"
    );
    // Used up: the next update of the same image succeeds; the other fault is still armed.
    c.create_updated_image()
        .existing_image_name("app")
        .new_image_name("app-3")
        .send()
        .await
        .unwrap();
    wait_image(&c, "app-3", ImageState::Available).await;
    let left = p.admin(&["faults", "list"]);
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["Image"], "other");
    assert_eq!(p.admin(&["faults", "clear"])["Cleared"], 1);
    // Refusals say what exists.
    let out = p.admin_raw(&[
        "faults",
        "add",
        "--operation",
        "CopyImage",
        "--stage",
        "x",
        "--error-code",
        "E",
        "--message",
        "m",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("CreateUpdatedImage"));
    let out = p.admin_raw(&[
        "faults",
        "add",
        "--operation",
        "CreateUpdatedImage",
        "--stage",
        "snapshot",
        "--error-code",
        "E",
        "--message",
        "m",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("patching, qualification"));
}
