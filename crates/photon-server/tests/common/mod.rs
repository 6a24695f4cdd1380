//! Helpers shared by the integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly
#![allow(dead_code)]

use aws_sdk_appstream::error::{ProvideErrorMetadata, SdkError};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_photon")
}

/// The error code, message and HTTP status of a failed SDK call.
pub fn failure<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
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
pub fn photon_cli(p: &photon_testkit::Photon, args: &[&str]) -> std::process::Output {
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
pub async fn wait_builder(
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
