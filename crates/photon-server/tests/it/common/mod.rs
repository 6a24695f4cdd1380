//! Helpers shared by the integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
#![allow(dead_code)]

use aws_sdk_appstream::error::{ProvideErrorMetadata, SdkError};

pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_photon")
}

/// The error code, message and HTTP status of a failed SDK call.
pub(crate) fn failure<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, SdkError<E, aws_sdk_appstream::config::http::HttpResponse>>,
) -> (String, String, u16) {
    let e = r.expect_err("the call should have failed");
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let code = e
        .code()
        .unwrap_or_else(|| panic!("no error code in {e:?}"))
        .to_owned();
    let msg = e.message().unwrap_or("").to_owned();
    (code, msg, status)
}

/// Runs the real `photon` binary as a user would, with only the AWS config and credentials files
/// Photon wrote at first start and `AWS_PROFILE=photon`: no other flags or variables.
pub(crate) fn photon_cli(p: &photon_testkit::Photon, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_CONFIG_FILE", p.data_dir().join("aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            p.data_dir().join("aws-credentials"),
        )
        .env("AWS_PROFILE", "photon")
        .output()
        .unwrap()
}

/// Polls until the builder is in `want`; tests never sleep blindly.
pub(crate) async fn wait_builder(
    c: &aws_sdk_appstream::Client,
    name: &str,
    want: aws_sdk_appstream::types::ImageBuilderState,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = c
            .describe_image_builders()
            .names(name)
            .send()
            .await
            .unwrap();
        if r.image_builders()[0].state() == Some(&want) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never reached {want:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Runs an Image Assistant operation; returns (exit code, the JSON it printed).
pub(crate) fn ia(
    p: &photon_testkit::Photon,
    builder: &str,
    args: &[&str],
) -> (i32, serde_json::Value) {
    let mut all = vec!["image-assistant", "--image-builder", builder];
    all.extend(args);
    let out = photon_cli(p, &all);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let code = out.status.code().unwrap();
    assert_eq!(
        i64::from(code),
        v["status"].as_i64().unwrap(),
        "the JSON status is the exit code"
    );
    (code, v)
}

pub(crate) fn put(p: &photon_testkit::Photon, builder: &str, remote: &str, bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, bytes).unwrap();
    let out = photon_cli(
        p,
        &[
            "builder",
            "put",
            "--image-builder",
            builder,
            f.to_str().unwrap(),
            remote,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) async fn wait_image(
    c: &aws_sdk_appstream::Client,
    name: &str,
    want: aws_sdk_appstream::types::ImageState,
) -> aws_sdk_appstream::types::Image {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(r) = c.describe_images().names(name).send().await {
            if r.images()[0].state() == Some(&want) {
                return r.images()[0].clone();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never reached {want:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Polls until the fleet is in `want`.
pub(crate) async fn wait_fleet(
    c: &aws_sdk_appstream::Client,
    name: &str,
    want: aws_sdk_appstream::types::FleetState,
) -> aws_sdk_appstream::types::Fleet {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = c.describe_fleets().names(name).send().await.unwrap();
        let f = r.fleets()[0].clone();
        if f.state() == Some(&want) {
            return f;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} stuck in {:?}, waiting for {want:?}",
            f.state()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// One AWS JSON 1.1 call signed by hand, for members the Rust SDK does not send yet: the
/// HTTP status and the decoded body.
pub(crate) async fn json_call(
    p: &photon_testkit::Photon,
    creds: &photon_testkit::Creds,
    op: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let url = format!("{}/", p.endpoint);
    let body = serde_json::to_vec(&body).unwrap();
    let target = format!("PhotonAdminProxyService.{op}");
    let headers = photon_testkit::sign(
        "POST",
        &url,
        &[
            ("x-amz-target", target.as_str()),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        &body,
        creds,
        "us-east-1",
        std::time::SystemTime::now(),
    );
    let mut req = reqwest::Client::new().post(&url).body(body);
    for (k, v) in headers {
        if k != "host" {
            req = req.header(k, v);
        }
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    let v = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, v)
}

/// An optional SDK field as Terraform's flatteners keep it: absent reads as "".
pub(crate) fn text<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}
