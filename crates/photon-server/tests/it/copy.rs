//! Copying an image to another region (and within one) through the SDK: the copy is COPYING at
//! once in the destination and AVAILABLE after the engine replicated and verified its content
//! there; it survives a restart mid-copy; it fails visibly when its content cannot be read; the
//! quotas and every refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_appstream::types::{ImageBuilderState, ImagePermissions, ImageState, VisibilityType};
use common::{bin, failure, ia, put, wait_builder};
use photon_testkit::{Photon, Proto};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";
const TOOL: &[u8] = b"MZ the tool, as built on the builder";

async fn image_in(p: &Photon, region: &str, name: &str) -> Option<aws_sdk_appstream::types::Image> {
    let c = p.client(Proto::Json, &p.default, region);
    c.describe_images()
        .names(name)
        .send()
        .await
        .ok()
        .map(|r| r.images()[0].clone())
}

async fn wait_state(
    p: &Photon,
    region: &str,
    name: &str,
    want: ImageState,
) -> aws_sdk_appstream::types::Image {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let img = image_in(p, region, name).await;
        if let Some(img) = &img {
            if img.state() == Some(&want) {
                return img.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{name} in {region} never reached {want:?}: {img:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An image of the default account with one application and real content of its own.
async fn build_image(p: &Photon, name: &str) {
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    let builder = format!("{name}-builder");
    c.create_image_builder()
        .name(&builder)
        .image_name(BASE)
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    wait_builder(&c, &builder, ImageBuilderState::Running).await;
    put(p, &builder, "C:\\Tools\\tool.exe", TOOL);
    let app = [
        "add-application",
        "--name",
        "Tool",
        "--absolute-app-path",
        "C:\\Tools\\tool.exe",
    ];
    assert_eq!(ia(p, &builder, &app).0, 0);
    assert_eq!(ia(p, &builder, &["create-image", "--name", name]).0, 0);
    wait_state(p, "us-east-1", name, ImageState::Available).await;
}

fn blob_path(root: &Path, bytes: &[u8]) -> PathBuf {
    let digest = photon_blob::digest_of(bytes);
    root.join("sha256").join(&digest[..2]).join(digest)
}

fn blob_files(root: &Path) -> usize {
    std::fs::read_dir(root.join("sha256"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum()
}

#[tokio::test]
async fn copy_replicates_content_survives_restart_and_is_independent() {
    let mut p = Photon::start_with(
        bin(),
        &[
            "--pace",
            "fast",
            "--blob-layout",
            "per-region",
            "--regions",
            "us-east-1,eu-west-1,us-west-2",
        ],
    );
    let blobs = p.data_dir().join("blobs");
    build_image(&p, "golden").await;
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    let golden = image_in(&p, "us-east-1", "golden").await.unwrap();
    c.tag_resource()
        .resource_arn(golden.arn().unwrap())
        .tags("team", "tools")
        .send()
        .await
        .unwrap();
    assert!(!blob_path(&blobs.join("eu-west-1"), TOOL).exists());

    let r = c
        .copy_image()
        .source_image_name("golden")
        .destination_image_name("golden-eu")
        .destination_region("eu-west-1")
        .destination_image_description("Tools for Europe")
        .send()
        .await
        .unwrap();
    assert_eq!(r.destination_image_name(), Some("golden-eu"));
    // At once, in the destination region only.
    let copying = image_in(&p, "eu-west-1", "golden-eu").await.unwrap();
    assert_eq!(copying.state(), Some(&ImageState::Copying));
    assert!(image_in(&p, "us-east-1", "golden-eu").await.is_none());
    // A copy under way cannot be shared, nor copied.
    let eu = p.client(Proto::Json, &p.default, "eu-west-1");
    let other = p.create_account();
    let (code, ..) = failure(
        eu.update_image_permissions()
            .name("golden-eu")
            .shared_account_id(&other.account_id)
            .image_permissions(
                ImagePermissions::builder()
                    .allow_fleet(true)
                    .allow_image_builder(true)
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotAvailableException");
    let (code, ..) = failure(
        eu.copy_image()
            .source_image_name("golden-eu")
            .destination_image_name("golden-eu-2")
            .destination_region("us-west-2")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotAvailableException");

    // kill -9 in the middle of the copy: it completes after the restart.
    p.restart();
    let copy = wait_state(&p, "eu-west-1", "golden-eu", ImageState::Available).await;
    assert_eq!(copy.visibility(), Some(&VisibilityType::Private));
    assert_eq!(copy.platform(), golden.platform());
    assert_eq!(
        copy.appstream_agent_version(),
        golden.appstream_agent_version()
    );
    assert_eq!(copy.description(), Some("Tools for Europe"));
    assert_eq!(
        copy.image_builder_name(),
        None,
        "the model: null for copies"
    );
    assert_eq!(copy.applications().len(), 1);
    assert_eq!(copy.applications()[0].name(), Some("Tool"));
    assert_eq!(
        copy.base_image_arn(),
        Some(format!("arn:aws:appstream:eu-west-1::image/{BASE}").as_str())
    );
    assert_eq!(
        copy.arn(),
        Some(
            format!(
                "arn:aws:appstream:eu-west-1:{}:image/golden-eu",
                p.default.account_id
            )
            .as_str()
        )
    );
    // Tags are not copied.
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    let eu = p.client(Proto::Json, &p.default, "eu-west-1");
    let tags = eu
        .list_tags_for_resource()
        .resource_arn(copy.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(tags.tags().is_none_or(|t| t.is_empty()), "{tags:?}");
    // The content is really in the destination's store now.
    let there = blob_path(&blobs.join("eu-west-1"), TOOL);
    assert_eq!(std::fs::read(&there).unwrap(), TOOL);

    // A second copy to the same region finds every layer there: nothing more is stored.
    let before = blob_files(&blobs.join("eu-west-1"));
    c.copy_image()
        .source_image_name("golden")
        .destination_image_name("golden-eu-2")
        .destination_region("eu-west-1")
        .send()
        .await
        .unwrap();
    wait_state(&p, "eu-west-1", "golden-eu-2", ImageState::Available).await;
    assert_eq!(blob_files(&blobs.join("eu-west-1")), before);

    // The copy works in its region: a builder from it sees the source's files.
    eu.create_image_builder()
        .name("eu-builder")
        .image_name("golden-eu")
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    wait_builder(&eu, "eu-builder", ImageBuilderState::Running).await;
    let out = common::photon_cli(
        &p,
        &[
            "--region",
            "eu-west-1",
            "builder",
            "--image-builder",
            "eu-builder",
            "cat",
            "C:\\Tools\\tool.exe",
        ],
    );
    assert_eq!(out.stdout, TOOL, "{}", String::from_utf8_lossy(&out.stderr));

    // Within the same region too; the copy is independent of its source.
    c.copy_image()
        .source_image_name("golden")
        .destination_image_name("golden-copy")
        .destination_region("us-east-1")
        .send()
        .await
        .unwrap();
    wait_state(&p, "us-east-1", "golden-copy", ImageState::Available).await;
    c.delete_image().name("golden").send().await.unwrap();
    let still = image_in(&p, "us-east-1", "golden-copy").await.unwrap();
    assert_eq!(still.state(), Some(&ImageState::Available));
    c.create_image_builder()
        .name("from-copy")
        .image_name("golden-copy")
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn copy_refusals_and_quotas() {
    let p = Photon::start_with(
        bin(),
        &[
            "--pace",
            "fast",
            "--regions",
            "us-east-1,us-west-2,eu-west-1",
        ],
    );
    let me = p.default.account_id.clone();
    p.seed_private_images(&me, "us-east-1", &["a".into(), "b".into(), "c".into()])
        .await;
    let owner = p.create_account();
    p.seed_private_images(&owner.account_id, "us-east-1", &["theirs".into()])
        .await;
    p.client(Proto::Json, &owner, "us-east-1")
        .update_image_permissions()
        .name("theirs")
        .shared_account_id(&me)
        .image_permissions(
            ImagePermissions::builder()
                .allow_fleet(true)
                .allow_image_builder(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for proto in [Proto::Json, Proto::Cbor] {
        let c = p.client(proto, &p.default, "us-east-1");
        let copy = |src: &str, dst: &str, region: &str| {
            c.copy_image()
                .source_image_name(src)
                .destination_image_name(dst)
                .destination_region(region)
                .send()
        };
        let (code, msg, _) = failure(copy("a", "x", "mars-east-1").await);
        assert_eq!(code, "ResourceNotFoundException");
        assert!(msg.contains("us-west-2"), "{msg}");
        let (code, msg, _) = failure(copy(BASE, "x", "us-west-2").await);
        assert_eq!(code, "IncompatibleImageException");
        assert!(msg.contains("public"), "{msg}");
        let (code, msg, _) = failure(copy("theirs", "x", "us-west-2").await);
        assert_eq!(code, "IncompatibleImageException");
        assert!(msg.contains("owner"), "{msg}");
        let (code, ..) = failure(copy("nope", "x", "us-west-2").await);
        assert_eq!(code, "ResourceNotFoundException");
        let (code, ..) = failure(copy("a", "bad name!", "us-west-2").await);
        assert_eq!(code, "ValidationException");
        // The destination name is taken (here: by the source itself).
        let (code, ..) = failure(copy("a", "b", "us-east-1").await);
        assert_eq!(code, "ResourceAlreadyExistsException");
    }
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    // Two copies at once per destination region; the third waits.
    for n in ["a", "b"] {
        c.copy_image()
            .source_image_name(n)
            .destination_image_name(n)
            .destination_region("us-west-2")
            .send()
            .await
            .unwrap();
    }
    let (code, msg, _) = failure(
        c.copy_image()
            .source_image_name("c")
            .destination_image_name("c")
            .destination_region("us-west-2")
            .send()
            .await,
    );
    assert_eq!(code, "LimitExceededException");
    assert!(
        msg.contains("concurrent-copies-per-destination-region"),
        "{msg}"
    );
    // Another region has its own allowance.
    c.copy_image()
        .source_image_name("c")
        .destination_image_name("c")
        .destination_region("eu-west-1")
        .send()
        .await
        .unwrap();
    // Once they finish, the third can go.
    wait_state(&p, "us-west-2", "a", ImageState::Available).await;
    wait_state(&p, "us-west-2", "b", ImageState::Available).await;
    c.copy_image()
        .source_image_name("c")
        .destination_image_name("c")
        .destination_region("us-west-2")
        .send()
        .await
        .unwrap();
    // The destination's image quota.
    p.set_quota(&me, "eu-west-1", "images=1");
    let (code, msg, _) = failure(
        c.copy_image()
            .source_image_name("a")
            .destination_image_name("a")
            .destination_region("eu-west-1")
            .send()
            .await,
    );
    assert_eq!(code, "LimitExceededException");
    assert!(msg.contains("images=N"), "{msg}");
}

#[tokio::test]
async fn a_copy_whose_content_is_damaged_fails_visibly() {
    let p = Photon::start_with(
        bin(),
        &[
            "--pace",
            "instant",
            "--blob-layout",
            "per-region",
            "--regions",
            "us-east-1,eu-west-1",
        ],
    );
    build_image(&p, "golden").await;
    // The source's own file is lost from its region's store.
    std::fs::remove_file(blob_path(
        &p.data_dir().join("blobs").join("us-east-1"),
        TOOL,
    ))
    .unwrap();
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    c.copy_image()
        .source_image_name("golden")
        .destination_image_name("golden-eu")
        .destination_region("eu-west-1")
        .send()
        .await
        .unwrap();
    let failed = wait_state(&p, "eu-west-1", "golden-eu", ImageState::Failed).await;
    let why = failed.state_change_reason().unwrap();
    assert_eq!(why.code().unwrap().as_str(), "IMAGE_COPY_FAILURE");
    assert!(
        why.message().unwrap().contains("golden") && why.message().unwrap().contains("copy again"),
        "{why:?}"
    );
    // The failure is in the image's notifications too, as for every failed image.
    let errors = failed.image_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].error_code().unwrap().as_str(),
        "INTERNAL_SERVICE_ERROR"
    );
    assert_eq!(errors[0].error_message(), why.message());
    assert!(errors[0].error_timestamp().is_some());
    // A failed copy can be deleted, and its name used again.
    let eu = p.client(Proto::Cbor, &p.default, "eu-west-1");
    eu.delete_image().name("golden-eu").send().await.unwrap();

    // The store remembers its layout: content stored per region is not looked for elsewhere.
    let mut p = p;
    p.kill();
    let out = std::process::Command::new(bin())
        .arg("serve")
        .args(p.store_args())
        .args(["--listen", "127.0.0.1:0", "--blob-layout", "shared"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--blob-layout per-region"), "{err}");
}
