//! A builder's files through the real `photon builder` CLI, which finds its credentials,
//! region and endpoint in the profile Photon wrote at first start: put (file, directory, zip,
//! tar), ls, cat, rm; files surviving stop/start and a restart; content stored once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::io::Write;
use std::process::Output;
use std::time::{Duration, Instant};

use aws_sdk_appstream::types::ImageBuilderState;
use common::bin;
use photon_testkit::{Photon, Proto};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";

fn cli(p: &Photon, args: &[&str]) -> Output {
    common::photon_cli(p, args)
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "photon failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn running(p: &Photon, name: &str) {
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    if c.describe_image_builders()
        .names(name)
        .send()
        .await
        .is_err()
    {
        c.create_image_builder()
            .name(name)
            .image_name(BASE)
            .instance_type("stream.standard.medium")
            .send()
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = c
            .describe_image_builders()
            .names(name)
            .send()
            .await
            .unwrap();
        if r.image_builders()[0].state() == Some(&ImageBuilderState::Running) {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn blob_count(p: &Photon) -> usize {
    let root = p.data_dir().join("blobs").join("sha256");
    std::fs::read_dir(root)
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum()
}

#[tokio::test]
async fn put_ls_cat_rm_and_persistence() {
    let mut p = Photon::start_with(bin(), &["--pace", "instant"]);
    running(&p, "dev").await;
    let b = ["builder", "--image-builder", "dev"];
    let with =
        |rest: &[&str]| -> Vec<String> { b.iter().chain(rest).map(|s| s.to_string()).collect() };
    let run = |p: &Photon, rest: &[&str]| {
        let args = with(rest);
        cli(p, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // The base image's files are there.
    let ls = ok(run(&p, &["ls", "C:\\Windows\\System32"]));
    assert!(
        ls.lines().any(|l| l == "cmd.exe") && ls.lines().any(|l| l == "drivers\\"),
        "{ls}"
    );

    // One file.
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.exe");
    std::fs::write(&app, b"MZ fake app").unwrap();
    ok(run(
        &p,
        &[
            "put",
            app.to_str().unwrap(),
            "C:\\Program Files\\App\\app.exe",
        ],
    ));
    // Windows paths ignore case and take either slash.
    assert_eq!(
        ok(run(&p, &["cat", "C:/program files/App/app.exe"])),
        "MZ fake app"
    );
    let long = ok(run(&p, &["ls", "--long", "C:\\Program Files\\App"]));
    assert!(long.starts_with("app.exe\t11\t"), "{long}");

    // A directory, a zip and a tar, unpacked under REMOTE.
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub").join("lib.dll"), b"lib").unwrap();
    ok(run(&p, &["put", tree.to_str().unwrap(), "C:\\Tree"]));
    let zip_path = dir.path().join("bundle.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        z.start_file("bin/tool.exe", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"tool").unwrap();
        z.finish().unwrap();
    }
    ok(run(&p, &["put", zip_path.to_str().unwrap(), "C:\\Zipped"]));
    let tar_path = dir.path().join("bundle.tar");
    {
        let mut t = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, "etc/conf.ini", b"x=1".as_slice())
            .unwrap();
        t.finish().unwrap();
    }
    ok(run(&p, &["put", tar_path.to_str().unwrap(), "C:\\Tarred"]));
    assert_eq!(ok(run(&p, &["cat", "C:\\Tree\\sub\\lib.dll"])), "lib");
    assert_eq!(ok(run(&p, &["cat", "C:\\Zipped\\bin\\tool.exe"])), "tool");
    assert_eq!(ok(run(&p, &["cat", "C:\\Tarred\\etc\\conf.ini"])), "x=1");

    // rm; a missing file makes cat fail.
    assert_eq!(ok(run(&p, &["rm", "C:\\Tree"])).trim(), "removed 1");
    let missing = run(&p, &["cat", "C:\\Tree\\sub\\lib.dll"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("ResourceNotFoundException"));
    // Base files can be removed from the builder too (the image is not changed).
    ok(run(&p, &["rm", "C:\\Windows\\System32\\notepad.exe"]));
    assert!(!run(&p, &["cat", "C:\\Windows\\System32\\notepad.exe"])
        .status
        .success());

    // Files survive stop/start and a kill -9 of the server.
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    c.stop_image_builder().name("dev").send().await.unwrap();
    common::wait_builder(&c, "dev", ImageBuilderState::Stopped).await;
    let refused = run(&p, &["put", app.to_str().unwrap(), "C:\\x.exe"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("RUNNING"));
    p.restart();
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    c.start_image_builder().name("dev").send().await.unwrap();
    running(&p, "dev").await;
    assert_eq!(
        ok(run(&p, &["cat", "C:\\Program Files\\App\\app.exe"])),
        "MZ fake app"
    );
    assert_eq!(ok(run(&p, &["cat", "C:\\Zipped\\bin\\tool.exe"])), "tool");
}

#[tokio::test]
async fn identical_content_is_stored_once_and_flags_work() {
    let p = Photon::start_with(bin(), &["--pace", "instant"]);
    running(&p, "one").await;
    let before = blob_count(&p);
    // A second builder from the same base adds no copy of the base's bytes.
    running(&p, "two").await;
    assert_eq!(blob_count(&p), before);
    // The same file put into both builders is stored once.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("same.bin");
    std::fs::write(&f, vec![7u8; 100_000]).unwrap();
    for name in ["one", "two"] {
        ok(cli(
            &p,
            &[
                "builder",
                "put",
                "--image-builder",
                name,
                f.to_str().unwrap(),
                "C:\\same.bin",
            ],
        ));
    }
    assert_eq!(blob_count(&p), before + 1);
    // --region and --endpoint-url, before or after the subcommand.
    let out = cli(
        &p,
        &[
            "--region",
            "us-east-1",
            "builder",
            "--endpoint-url",
            &p.endpoint,
            "ls",
            "--image-builder",
            "one",
            "C:\\",
        ],
    );
    assert!(ok(out).lines().any(|l| l == "same.bin"));
    let elsewhere = cli(
        &p,
        &[
            "builder",
            "ls",
            "--image-builder",
            "one",
            "--region",
            "eu-west-1",
            "C:\\",
        ],
    );
    assert!(!elsewhere.status.success(), "builders are regional");
    let json = ok(cli(
        &p,
        &[
            "builder",
            "ls",
            "--image-builder",
            "one",
            "--output",
            "json",
            "C:\\",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["Entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["Name"] == "same.bin" && e["Size"] == 100_000));
    // Bad paths are refused with the platform's rule.
    let bad = cli(&p, &["builder", "ls", "--image-builder", "one", "/usr/bin"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Windows path"));
}

/// Creates a builder from `image` and waits until it runs.
async fn running_from(p: &Photon, name: &str, image: &str) {
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    c.create_image_builder()
        .name(name)
        .image_name(image)
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    running(p, name).await;
}

fn settings(p: &Photon, name: &str, extra: &[&str]) -> Result<serde_json::Value, String> {
    let mut args = vec![
        "builder",
        "settings",
        "--image-builder",
        name,
        "--output",
        "json",
    ];
    args.extend(extra);
    let out = cli(p, &args);
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test]
async fn windows_settings_follow_the_base_image_rules() {
    let p = Photon::start_with(bin(), &["--pace", "instant"]);
    running_from(&p, "ws2022", BASE).await;
    // The 2012 R2 and June 2019 images of the seed's Defender rules are deprecated, so no builder
    // runs them any more: their settings are checked in photon-core (content.rs), and their
    // refusal here.
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    for old in [
        "AppStream-WinServer2019-06-24-2019",
        "AppStream-WinServer2012R2-12-12-2019",
    ] {
        let (code, msg, _) = common::failure(
            c.create_image_builder()
                .name("old")
                .image_name(old)
                .instance_type("stream.standard.medium")
                .send()
                .await,
        );
        assert_eq!(code, "ResourceNotAvailableException");
        assert_eq!(
            msg,
            format!(
                "The image {old} is DEPRECATED. The image must be in an AVAILABLE state for \
                 this action to succeed."
            )
        );
    }
    running_from(&p, "linux", "AppStream-AmazonLinux2-02-11-2025").await;

    // Windows Update is off on every base image; Defender by the image's date.
    let s = settings(&p, "ws2022", &[]).unwrap();
    assert_eq!(s["WindowsUpdate"], "disabled");
    assert_eq!(s["WindowsDefender"], "disabled");
    assert_eq!(
        s["HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware"],
        "1"
    );
    assert_eq!(s["WindowsDefenderAntivirusService"], "stopped");
    assert!(settings(&p, "linux", &[])
        .unwrap_err()
        .contains("only on Windows builders"));

    // Enabling Defender: the registry value goes 1 -> 0 and the service runs.
    let s = settings(
        &p,
        "ws2022",
        &["--defender", "on", "--windows-update", "on"],
    )
    .unwrap();
    assert_eq!(s["WindowsDefender"], "enabled");
    assert_eq!(
        s["HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware"],
        "0"
    );
    assert_eq!(s["WindowsDefenderAntivirusService"], "running");
    assert_eq!(s["WindowsUpdate"], "enabled");
    // Settings persist; they change only while the builder runs.
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    c.stop_image_builder().name("ws2022").send().await.unwrap();
    common::wait_builder(&c, "ws2022", ImageBuilderState::Stopped).await;
    assert_eq!(
        settings(&p, "ws2022", &[]).unwrap()["WindowsDefender"],
        "enabled"
    );
    assert!(settings(&p, "ws2022", &["--windows-update", "off"])
        .unwrap_err()
        .contains("RUNNING"));
}

#[tokio::test]
async fn the_connect_page_browses_uploads_and_changes_settings() {
    let p = Photon::start_with(bin(), &["--pace", "instant"]);
    running_from(&p, "gui", BASE).await;
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    let url = c
        .create_image_builder_streaming_url()
        .name("gui")
        .send()
        .await
        .unwrap();
    let url = url.streaming_url().unwrap().to_owned();
    let http = reqwest::Client::new();

    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("Files in C:\\") && page.contains("Windows\\"),
        "{page}"
    );
    assert!(page.contains("Windows settings") && page.contains("Enable Windows Defender"));
    let sub = http
        .get(format!("{url}?path=C%3A%5CWindows%5CSystem32"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sub.contains("cmd.exe"), "{sub}");

    // Whatever the query says, it cannot close the page's script and open another.
    let evil = http
        .get(format!(
            "{url}?path=%3C%2Fscript%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(evil.headers()["cache-control"], "no-store");
    let evil = evil.text().await.unwrap();
    assert!(!evil.contains("<script>alert(1)"), "{evil}");

    // Upload as the page's script does, then read it back with the CLI.
    let r = http
        .put(format!("{url}/files?path=C%3A%5CUsers%5CPublic%5Cnote.txt"))
        .body("from the browser")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let cat = cli(
        &p,
        &[
            "builder",
            "cat",
            "--image-builder",
            "gui",
            "C:\\Users\\Public\\note.txt",
        ],
    );
    assert_eq!(ok(cat), "from the browser");

    // The settings form, as submitted by the button.
    let r = http
        .post(format!("{url}/settings"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("defender=on")
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    assert_eq!(
        settings(&p, "gui", &[]).unwrap()["WindowsDefender"],
        "enabled"
    );

    // A forged token can do none of it.
    let forged = format!("{url}x");
    assert_eq!(
        http.put(format!("{forged}/files?path=C%3A%5Cx"))
            .body("x")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        http.post(format!("{forged}/settings"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("defender=off")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
}

/// What a builder or an image reports as its AppStream agent is what its file system says: a
/// builder pinned to an old agent, the same builder started with `LATEST` (UPDATING_AGENT),
/// and an image created with `--use-latest-agent-version` from a builder on the old agent.
#[tokio::test]
async fn the_agent_file_names_the_agent_reported() {
    const OLD_AGENT: &str = "05-21-2018";
    const AGENT_FILE: &str = "C:\\Program Files\\Amazon\\Photon\\AppStream2\\agent-version.txt";
    let p = Photon::start_with(bin(), &["--pace", "instant"]);
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    let agent_file = |builder: &str| -> String {
        let out = cli(
            &p,
            &["builder", "--image-builder", builder, "cat", AGENT_FILE],
        );
        ok(out).trim().to_owned()
    };
    let reported = |b: &aws_sdk_appstream::types::ImageBuilder| {
        b.appstream_agent_version().unwrap().to_owned()
    };
    for name in ["old", "snap"] {
        c.create_image_builder()
            .name(name)
            .image_name(BASE)
            .instance_type("stream.standard.medium")
            .appstream_agent_version(OLD_AGENT)
            .send()
            .await
            .unwrap();
        common::wait_builder(&c, name, ImageBuilderState::Running).await;
        assert_eq!(agent_file(name), OLD_AGENT, "{name}: a pinned agent");
    }

    c.stop_image_builder().name("old").send().await.unwrap();
    common::wait_builder(&c, "old", ImageBuilderState::Stopped).await;
    c.start_image_builder()
        .name("old")
        .appstream_agent_version("LATEST")
        .send()
        .await
        .unwrap();
    common::wait_builder(&c, "old", ImageBuilderState::Running).await;
    let b = c
        .describe_image_builders()
        .names("old")
        .send()
        .await
        .unwrap();
    let newest = reported(&b.image_builders()[0]);
    assert_ne!(newest, OLD_AGENT);
    assert_eq!(agent_file("old"), newest, "after the agent update");

    let (code, v) = common::ia(
        &p,
        "snap",
        &[
            "create-image",
            "--name",
            "latest-agent",
            "--use-latest-agent-version",
        ],
    );
    assert_eq!(code, 0, "{v}");
    let image = common::wait_image(
        &c,
        "latest-agent",
        aws_sdk_appstream::types::ImageState::Available,
    )
    .await;
    assert_eq!(image.appstream_agent_version(), Some(newest.as_str()));
    c.create_image_builder()
        .name("from-latest")
        .image_name("latest-agent")
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    common::wait_builder(&c, "from-latest", ImageBuilderState::Running).await;
    assert_eq!(agent_file("from-latest"), newest, "the image's own files");
}
