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
