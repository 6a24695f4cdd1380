//! The programmatic image creation of `programmatically-create-image.md`, through the real
//! `photon image-assistant` and `photon builder` commands and the SDK: the catalog operations
//! with their messages and exit codes, create-image and its rules, the image it makes, and a
//! creation interrupted by kill -9.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;
use photon_store::Key;

use std::process::Output;

use aws_sdk_appstream::types::{ImageBuilderState, ImageState};
use common::{bin, failure};
use photon_testkit::{Photon, Proto};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";

fn cli(p: &Photon, args: &[&str]) -> Output {
    common::photon_cli(p, args)
}
use common::{ia, put, wait_builder, wait_image};

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend(w.to_be_bytes());
    v.extend(h.to_be_bytes());
    v.extend([8, 6, 0, 0, 0]);
    v
}

#[tokio::test]
async fn programmatic_image_creation() {
    let p = Photon::start_with(bin(), &["--pace", "instant"]);
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    c.create_image_builder()
        .name("ia")
        .image_name(BASE)
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "ia", ImageBuilderState::Running).await;

    // The application's files, its icon and its optimisation manifest.
    put(
        &p,
        "ia",
        "C:\\Program Files\\Notepad++\\notepad++.exe",
        b"MZ notepad++",
    );
    put(
        &p,
        "ia",
        "C:\\Program Files\\Notepad++\\config.xml",
        b"<config/>",
    );
    put(&p, "ia", "C:\\Icons\\np.png", &png(64, 64));
    put(&p, "ia", "C:\\Icons\\huge.png", &png(512, 512));
    put(&p, "ia", "C:\\manifest.txt", b"C:\\Program Files\\Notepad++\\config.xml\r\nC:\\Program Files\\Notepad++\\notepad++.exe\r\n");
    put(&p, "ia", "C:\\bad-manifest.txt", b"C:\\missing.dll\n");

    let app = [
        "add-application",
        "--name",
        "Notepad",
        "--absolute-app-path",
        "C:\\Program Files\\Notepad++\\notepad++.exe",
    ];
    let (code, v) = ia(
        &p,
        "ia",
        &[
            &app[..],
            &[
                "--absolute-icon-path",
                "C:\\Icons\\np.png",
                "--working-directory",
                "C:\\Program Files\\Notepad++",
                "--absolute-manifest-path",
                "C:\\manifest.txt",
                "--launch-parameters",
                "-multiInst",
            ],
        ]
        .concat(),
    );
    assert_eq!((code, v["message"].as_str()), (0, Some("Success")));

    // Every refusal of the add-application table.
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (app.to_vec(), "Name is not unique"),
        (
            vec![
                "add-application",
                "--name",
                "X",
                "--absolute-app-path",
                "C:\\nope.exe",
            ],
            "File not found (absolute-app-path)",
        ),
        (
            vec![
                "add-application",
                "--name",
                "X",
                "--absolute-app-path",
                "C:\\Program Files\\Notepad++\\config.xml",
            ],
            "Unsupported file extension",
        ),
        (
            vec![
                "add-application",
                "--name",
                "X",
                "--absolute-app-path",
                "C:\\Program Files\\Notepad++\\notepad++.exe",
                "--working-directory",
                "C:\\Nowhere",
            ],
            "Directory not found (working-directory)",
        ),
        (
            vec![
                "add-application",
                "--name",
                "X",
                "--absolute-app-path",
                "C:\\Program Files\\Notepad++\\notepad++.exe",
                "--absolute-manifest-path",
                "C:\\nope.txt",
            ],
            "Optimization-manifest not found: C:\\nope.txt",
        ),
        (
            vec![
                "add-application",
                "--name",
                "X",
                "--absolute-app-path",
                "C:\\Program Files\\Notepad++\\notepad++.exe",
                "--absolute-manifest-path",
                "C:\\bad-manifest.txt",
            ],
            "File not found: C:\\missing.dll",
        ),
        (
            vec!["remove-application", "--name", "Nope"],
            "App not found",
        ),
        (
            vec!["update-default-profile", "--profile", "corp\\alice"],
            "Cannot copy a domain user when not joined to a domain",
        ),
    ];
    for (args, want) in cases {
        let (code, v) = ia(&p, "ia", &args);
        assert_eq!(
            (code, v["message"].as_str().unwrap()),
            (1, want),
            "{args:?}"
        );
    }
    let (code, v) = ia(
        &p,
        "ia",
        &[
            "add-application",
            "--name",
            "Y",
            "--absolute-app-path",
            "C:\\Program Files\\Notepad++\\notepad++.exe",
            "--absolute-icon-path",
            "C:\\Icons\\huge.png",
        ],
    );
    assert_eq!(code, 1);
    assert!(v["message"].as_str().unwrap().contains("512 x 512"));

    let (code, v) = ia(&p, "ia", &["list-applications"]);
    assert_eq!(code, 0);
    let apps = v["applications"].as_array().unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["DisplayName"], "notepad++");
    assert_eq!(apps[0]["OptimizationManifest"].as_array().unwrap().len(), 2);
    assert_eq!(ia(&p, "ia", &["update-default-profile"]).0, 0);

    // create-image: the name rules, tags, dry run.
    let (code, v) = ia(&p, "ia", &["create-image", "--name", "AppStream-mine"]);
    assert_eq!(code, 1);
    assert!(
        v["message"].as_str().unwrap().contains("'appstream'"),
        "{v}"
    );
    let long = "a".repeat(101);
    assert_eq!(ia(&p, "ia", &["create-image", "--name", &long]).0, 1);
    let (_, v) = ia(&p, "ia", &["create-image", "--name", "ok", "--tags", "odd"]);
    assert_eq!(v["message"], "Invalid value (tags)");
    assert_eq!(
        ia(
            &p,
            "ia",
            &["create-image", "--name", "notepad-image", "--dry-run"]
        )
        .0,
        0
    );
    let (code, ..) = failure(c.describe_images().names("notepad-image").send().await);
    assert_eq!(
        code, "ResourceNotFoundException",
        "a dry run creates nothing"
    );

    // Windows Update enabled on the builder: a warning, and off in the image.
    let s = cli(
        &p,
        &[
            "builder",
            "settings",
            "--image-builder",
            "ia",
            "--windows-update",
            "on",
            "--defender",
            "on",
        ],
    );
    assert!(s.status.success());
    let (code, v) = ia(
        &p,
        "ia",
        &[
            "create-image",
            "--name",
            "notepad-image",
            "--display-name",
            "Notepad",
            "--description",
            "with notepad",
            "--tags",
            "team",
            "blue",
            "--use-latest-agent-version",
            "--enable-dynamic-app-catalog",
        ],
    );
    assert_eq!(code, 0, "{v}");
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("Windows Update"),
        "{v}"
    );
    let img = wait_image(&c, "notepad-image", ImageState::Available).await;
    wait_builder(&c, "ia", ImageBuilderState::Stopped).await;
    assert_eq!(img.image_builder_name(), Some("ia"));
    assert_eq!(
        img.base_image_arn(),
        Some(format!("arn:aws:appstream:us-east-1::image/{BASE}").as_str())
    );
    assert_eq!(
        img.platform().map(|p| p.as_str()),
        Some("WINDOWS_SERVER_2022")
    );
    assert_eq!(
        img.latest_appstream_agent_version().map(|v| v.as_str()),
        Some("TRUE")
    );
    assert_eq!(
        img.dynamic_app_providers_enabled().map(|v| v.as_str()),
        Some("ENABLED")
    );
    assert_eq!(img.display_name(), Some("Notepad"));
    assert!(img.created_time().is_some());
    let apps = img.applications();
    assert_eq!(apps[0].name(), Some("Notepad"));
    assert_eq!(
        apps[0].launch_path(),
        Some("C:\\Program Files\\Notepad++\\notepad++.exe")
    );
    assert_eq!(apps[0].launch_parameters(), Some("-multiInst"));
    assert_eq!(
        apps[0].working_directory(),
        Some("C:\\Program Files\\Notepad++")
    );
    assert_eq!(
        apps[0]
            .metadata()
            .and_then(|m| m.get("WORKING_DIRECTORY"))
            .map(String::as_str),
        Some("C:\\Program Files\\Notepad++")
    );
    let tags = c
        .list_tags_for_resource()
        .resource_arn(img.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().unwrap().get("team").map(String::as_str),
        Some("blue")
    );
    // The builder is stopped once the image is made; the assistant needs a running one.
    let (code, v) = ia(&p, "ia", &["list-applications"]);
    assert_eq!(code, 1);
    assert!(v["message"].as_str().unwrap().contains("STOPPED"), "{v}");

    // A builder from the new image has its files and settings (Windows Update off, Defender on).
    c.create_image_builder()
        .name("from-image")
        .image_name("notepad-image")
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "from-image", ImageBuilderState::Running).await;
    let cat = cli(
        &p,
        &[
            "builder",
            "cat",
            "--image-builder",
            "from-image",
            "C:\\Program Files\\Notepad++\\notepad++.exe",
        ],
    );
    assert_eq!(String::from_utf8(cat.stdout).unwrap(), "MZ notepad++");
    let s = cli(
        &p,
        &[
            "builder",
            "settings",
            "--image-builder",
            "from-image",
            "--output",
            "json",
        ],
    );
    let s: serde_json::Value = serde_json::from_slice(&s.stdout).unwrap();
    assert_eq!(
        (s["WindowsUpdate"].as_str(), s["WindowsDefender"].as_str()),
        (Some("disabled"), Some("enabled"))
    );
    // Names are unique in the account and region.
    let (_, v) = ia(
        &p,
        "from-image",
        &["create-image", "--name", "notepad-image"],
    );
    assert_eq!(v["message"], "An image with the given name already exists");
}

#[tokio::test]
async fn an_image_being_created_survives_kill_and_restart() {
    let mut p = Photon::start_with(bin(), &["--pace", "fast"]);
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    c.create_image_builder()
        .name("snap")
        .image_name(BASE)
        .instance_type("stream.standard.small")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "snap", ImageBuilderState::Running).await;
    let (code, _) = ia(&p, "snap", &["create-image", "--name", "survivor"]);
    assert_eq!(code, 0);
    let b = c
        .describe_image_builders()
        .names("snap")
        .send()
        .await
        .unwrap();
    assert_eq!(
        b.image_builders()[0].state(),
        Some(&ImageBuilderState::Snapshotting)
    );
    p.restart();
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    wait_image(&c, "survivor", ImageState::Available).await;
    wait_builder(&c, "snap", ImageBuilderState::Stopped).await;
}

/// A snapshot that fails (rehearsed with `photon faults`) leaves the image FAILED with its
/// reason and an ImageErrors entry, as every failed image has, and the builder STOPPED.
#[tokio::test]
async fn a_failed_snapshot_is_in_the_images_notifications() {
    let p = Photon::start_with(bin(), &["--pace", "instant"]);
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    c.create_image_builder()
        .name("snap")
        .image_name(BASE)
        .instance_type("stream.standard.small")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "snap", ImageBuilderState::Running).await;
    p.admin(&[
        "faults",
        "add",
        "--operation",
        "CreateImage",
        "--stage",
        "snapshot",
        "--error-code",
        "SNAPSHOT_FAILED",
        "--message",
        "the disk could not be read",
        "--image",
        "broken",
    ]);
    assert_eq!(ia(&p, "snap", &["create-image", "--name", "broken"]).0, 0);
    let img = wait_image(&c, "broken", ImageState::Failed).await;
    let why = img.state_change_reason().unwrap();
    assert_eq!(why.code().unwrap().as_str(), "INTERNAL_ERROR");
    assert!(
        why.message()
            .unwrap()
            .contains("the disk could not be read"),
        "{why:?}"
    );
    let errors = img.image_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].error_code().unwrap().as_str(),
        "INTERNAL_SERVICE_ERROR"
    );
    assert_eq!(errors[0].error_message(), why.message());
    wait_builder(&c, "snap", ImageBuilderState::Stopped).await;
    // The fault was used up: the next image from the builder works.
    c.start_image_builder().name("snap").send().await.unwrap();
    wait_builder(&c, "snap", ImageBuilderState::Running).await;
    assert_eq!(ia(&p, "snap", &["create-image", "--name", "fixed"]).0, 0);
    wait_image(&c, "fixed", ImageState::Available).await;
}

#[tokio::test]
async fn catalog_limits_profiles_and_layers() {
    let p = Photon::start_with(bin(), &["--pace", "instant"]);
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    for b in ["win", "lin"] {
        let image = if b == "win" {
            BASE
        } else {
            "AppStream-AmazonLinux2-02-11-2025"
        };
        c.create_image_builder()
            .name(b)
            .image_name(image)
            .instance_type("stream.standard.small")
            .send()
            .await
            .unwrap();
    }
    wait_builder(&c, "win", ImageBuilderState::Running).await;
    wait_builder(&c, "lin", ImageBuilderState::Running).await;

    let help = cli(&p, &["image-assistant", "help"]);
    assert!(
        help.status.success() && String::from_utf8_lossy(&help.stdout).contains("create-image")
    );

    // At most 50 applications.
    put(&p, "win", "C:\\Apps\\a.exe", b"MZ");
    for i in 0..50 {
        let n = format!("app{i}");
        assert_eq!(
            ia(
                &p,
                "win",
                &[
                    "add-application",
                    "--name",
                    &n,
                    "--absolute-app-path",
                    "C:\\Apps\\a.exe"
                ]
            )
            .0,
            0
        );
    }
    let (code, v) = ia(
        &p,
        "win",
        &[
            "add-application",
            "--name",
            "app50",
            "--absolute-app-path",
            "C:\\Apps\\a.exe",
        ],
    );
    assert_eq!(
        (code, v["message"].as_str()),
        (1, Some("Unable to add more than 50 apps to the catalog."))
    );
    assert_eq!(
        ia(&p, "win", &["remove-application", "--name", "app7"]).0,
        0
    );
    assert_eq!(
        ia(&p, "win", &["list-applications"]).1["applications"]
            .as_array()
            .unwrap()
            .len(),
        49
    );

    // Profiles: a local user's folder must exist; reset deletes it.
    let (code, v) = ia(
        &p,
        "win",
        &["update-default-profile", "--profile", ".\\ghost"],
    );
    assert_eq!(code, 1);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("Unable to copy file or folder: C:\\Users\\ghost"),
        "{v}"
    );
    put(&p, "win", "C:\\Users\\bob\\NTUSER.DAT", b"hive");
    assert_eq!(
        ia(
            &p,
            "win",
            &["update-default-profile", "--profile", ".\\bob"]
        )
        .0,
        0
    );
    // A profile is one user, never a path that would reach other users' folders.
    for bad in [".\\.", ".\\", ".\\bob\\..", ".\\bob\\Docs"] {
        let (code, v) = ia(&p, "win", &["reset-user-profile", "--profile", bad]);
        assert_eq!(code, 1, "{bad}: {v}");
    }
    assert_eq!(
        ia(&p, "win", &["reset-user-profile", "--profile", ".\\bob"]).0,
        0
    );
    let gone = cli(
        &p,
        &[
            "builder",
            "cat",
            "--image-builder",
            "win",
            "C:\\Users\\bob\\NTUSER.DAT",
        ],
    );
    assert!(!gone.status.success());
    // Linux builders have no Windows profiles.
    assert_eq!(ia(&p, "lin", &["update-default-profile"]).0, 1);
    // Linux paths work for the catalog.
    put(&p, "lin", "/opt/app/run.sh", b"#!/bin/sh");
    assert_eq!(
        ia(
            &p,
            "lin",
            &[
                "add-application",
                "--name",
                "run",
                "--absolute-app-path",
                "/opt/app/run.sh"
            ]
        )
        .0,
        0
    );

    // Two images from builders of one base share the base's layers; each image's own layer
    // holds only what its builder added.
    assert_eq!(ia(&p, "win", &["create-image", "--name", "img-a"]).0, 0);
    c.create_image_builder()
        .name("win2")
        .image_name(BASE)
        .instance_type("stream.standard.small")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "win2", ImageBuilderState::Running).await;
    put(&p, "win2", "C:\\Other\\b.exe", b"MZ other");
    assert_eq!(ia(&p, "win2", &["create-image", "--name", "img-b"]).0, 0);
    wait_image(&c, "img-a", ImageState::Available).await;
    wait_image(&c, "img-b", ImageState::Available).await;
    let store = p.store().await;
    use photon_store::prelude::*;
    let a = store
        .image(Key::new("us-east-1", &p.default.account_id, "img-a"))
        .await
        .unwrap()
        .unwrap();
    let b = store
        .image(Key::new("us-east-1", &p.default.account_id, "img-b"))
        .await
        .unwrap()
        .unwrap();
    let base = store
        .image(Key::new("us-east-1", "", BASE))
        .await
        .unwrap()
        .unwrap();
    let (la, lb, lbase) = (
        &a.image.attrs.layers,
        &b.image.attrs.layers,
        &base.image.attrs.layers,
    );
    assert_eq!(&la[..lbase.len()], &lbase[..]);
    assert_eq!(&lb[..lbase.len()], &lbase[..]);
    let blobs = photon_blob::FsBlobStore::open(&p.data_dir().join("blobs")).unwrap();
    let own_b = photon_blob::get_layer(&blobs, lb.last().unwrap()).unwrap();
    assert_eq!(own_b.keys().collect::<Vec<_>>(), ["C:\\Other\\b.exe"]);
    store.close().await;
}
