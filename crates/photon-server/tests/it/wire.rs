//! Authentication and protocol framing, end to end: what the SDK sees for each auth failure,
//! and what hand-signed requests the SDK would never send get back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::time::{Duration, SystemTime};

use common::{bin, failure};
use photon_testkit::{sign, Creds, Photon, BOTH};

const JSON_CT: &str = "application/x-amz-json-1.1";
const CBOR_PATH: &str = "/service/PhotonAdminProxyService/operation/DescribeImages";

async fn send(url: String, headers: Vec<(String, String)>, body: Vec<u8>) -> reqwest::Response {
    let client = reqwest::Client::new();
    let mut req = client.post(url).body(body);
    for (k, v) in headers {
        if k != "host" {
            req = req.header(k, v);
        }
    }
    req.send().await.expect("send")
}

async fn json_error(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    assert!(r.headers().contains_key("x-amzn-requestid"));
    assert_eq!(r.headers()["content-type"], JSON_CT);
    let v: serde_json::Value =
        serde_json::from_slice(&r.bytes().await.unwrap()).expect("json error body");
    (
        status,
        v["__type"].as_str().unwrap().to_owned(),
        v["Message"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn sdk_sees_aws_auth_errors() {
    let p = Photon::shared(bin(), &[]);
    for proto in BOTH {
        let unknown = Creds {
            access_key_id: "AKIAUNKNOWNKEY000000".into(),
            ..p.default.clone()
        };
        let c = p.client(proto, &unknown, "us-east-1");
        let (code, msg, status) = failure(c.describe_images().send().await);
        assert_eq!(
            (code.as_str(), status),
            ("UnrecognizedClientException", 400)
        );
        assert!(msg.contains("security token"), "{msg}");

        let bad_secret = Creds {
            secret_access_key: "x".repeat(40),
            ..p.default.clone()
        };
        let c = p.client(proto, &bad_secret, "us-east-1");
        let (code, msg, _) = failure(c.describe_images().send().await);
        assert_eq!(code, "InvalidSignatureException");
        assert!(
            msg.contains("signature we calculated does not match"),
            "{msg}"
        );

        let c = p.client(proto, &p.default, "mars-north-1");
        let (code, msg, _) = failure(c.describe_images().send().await);
        assert_eq!(code, "InvalidSignatureException");
        assert!(
            msg.contains("valid region") && msg.contains("us-east-1"),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn hand_signed_requests() {
    let p = Photon::shared(bin(), &[]);
    let url = format!("{}/", p.endpoint);
    let target = ("x-amz-target", "PhotonAdminProxyService.DescribeImages");

    // No Authorization at all.
    let r = send(
        url.clone(),
        vec![
            ("x-amz-target".into(), target.1.into()),
            ("content-type".into(), JSON_CT.into()),
        ],
        b"{}".to_vec(),
    )
    .await;
    let (status, ty, msg) = json_error(r).await;
    assert_eq!(
        (status, ty.as_str()),
        (400, "MissingAuthenticationTokenException")
    );
    assert!(msg.contains("Authentication Token"));

    // A correct signature from a clock 10 minutes behind.
    let old = SystemTime::now() - Duration::from_secs(600);
    let h = sign(
        "POST",
        &url,
        &[target, ("content-type", JSON_CT)],
        b"{}",
        &p.default,
        "us-east-1",
        old,
    );
    let (status, ty, msg) = json_error(send(url.clone(), h, b"{}".to_vec()).await).await;
    assert_eq!((status, ty.as_str()), (400, "InvalidSignatureException"));
    assert!(msg.contains("Signature expired"), "{msg}");
    let ahead = SystemTime::now() + Duration::from_secs(600);
    let h = sign(
        "POST",
        &url,
        &[target, ("content-type", JSON_CT)],
        b"{}",
        &p.default,
        "us-east-1",
        ahead,
    );
    let (_, ty, msg) = json_error(send(url.clone(), h, b"{}".to_vec()).await).await;
    assert_eq!(ty, "InvalidSignatureException");
    assert!(msg.contains("not yet current"), "{msg}");

    let now = SystemTime::now();
    // A body changed after signing.
    let h = sign(
        "POST",
        &url,
        &[target, ("content-type", JSON_CT)],
        b"{}",
        &p.default,
        "us-east-1",
        now,
    );
    let (_, ty, _) =
        json_error(send(url.clone(), h, br#"{"Type":"PRIVATE"}"#.to_vec()).await).await;
    assert_eq!(ty, "InvalidSignatureException");

    // Malformed JSON, correctly signed.
    let h = sign(
        "POST",
        &url,
        &[target, ("content-type", JSON_CT)],
        b"{oops",
        &p.default,
        "us-east-1",
        now,
    );
    let (status, ty, msg) = json_error(send(url.clone(), h, b"{oops".to_vec()).await).await;
    assert_eq!((status, ty.as_str()), (400, "SerializationException"));
    assert!(msg.contains("not valid JSON"), "{msg}");

    // A member of the wrong kind.
    let body = br#"{"MaxResults":"ten"}"#;
    let h = sign(
        "POST",
        &url,
        &[target, ("content-type", JSON_CT)],
        body,
        &p.default,
        "us-east-1",
        now,
    );
    let (_, ty, msg) = json_error(send(url.clone(), h, body.to_vec()).await).await;
    assert_eq!(ty, "SerializationException");
    assert!(msg.contains("'MaxResults'"), "{msg}");

    // Wrong content type, unknown operation, unknown target prefix.
    let h = sign(
        "POST",
        &url,
        &[target, ("content-type", "text/plain")],
        b"{}",
        &p.default,
        "us-east-1",
        now,
    );
    let (status, ty, _) = json_error(send(url.clone(), h, b"{}".to_vec()).await).await;
    assert_eq!(
        (status, ty.as_str()),
        (415, "UnsupportedMediaTypeException")
    );
    let h = sign(
        "POST",
        &url,
        &[
            ("x-amz-target", "PhotonAdminProxyService.LaunchRocket"),
            ("content-type", JSON_CT),
        ],
        b"{}",
        &p.default,
        "us-east-1",
        now,
    );
    let (_, ty, msg) = json_error(send(url.clone(), h, b"{}".to_vec()).await).await;
    assert_eq!(ty, "UnknownOperationException");
    assert!(msg.contains("LaunchRocket"));

    // Success: timestamps are epoch seconds, the request id is echoed.
    let h = sign(
        "POST",
        &url,
        &[target, ("content-type", JSON_CT)],
        br#"{"MaxResults":1}"#,
        &p.default,
        "us-east-1",
        now,
    );
    let r = send(url.clone(), h, br#"{"MaxResults":1}"#.to_vec()).await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().contains_key("x-amzn-requestid"));
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert!(v["Images"][0]["CreatedTime"].is_number());
}

#[tokio::test]
async fn cbor_framing() {
    let p = Photon::shared(bin(), &[]);
    let url = format!("{}{CBOR_PATH}", p.endpoint);
    let now = SystemTime::now();
    let hdrs = [
        ("smithy-protocol", "rpc-v2-cbor"),
        ("content-type", "application/cbor"),
        ("accept", "application/cbor"),
    ];
    // {"MaxResults": 1}
    let mut body = vec![0xa1, 0x6a];
    body.extend(b"MaxResults");
    body.push(0x01);
    let h = sign("POST", &url, &hdrs, &body, &p.default, "us-east-1", now);
    let r = send(url.clone(), h, body.clone()).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["smithy-protocol"], "rpc-v2-cbor");
    assert_eq!(r.headers()["content-type"], "application/cbor");
    let bytes = r.bytes().await.unwrap();
    // CreatedTime is tag 1 (0xc1) around epoch seconds.
    let pos = bytes
        .windows(11)
        .position(|w| w == b"CreatedTime")
        .expect("CreatedTime");
    assert_eq!(bytes[pos + 11], 0xc1);

    // Garbage CBOR, correctly signed: a CBOR-framed SerializationException.
    let junk = vec![0xff, 0x00, 0x13];
    let h = sign("POST", &url, &hdrs, &junk, &p.default, "us-east-1", now);
    let r = send(url.clone(), h, junk).await;
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.headers()["smithy-protocol"], "rpc-v2-cbor");
    let bytes = r.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("com.amazon.coral.service#SerializationException"),
        "{text}"
    );

    // X-Amz-Target on a CBOR request is refused.
    let mixed = [
        hdrs[0],
        hdrs[1],
        ("x-amz-target", "PhotonAdminProxyService.DescribeImages"),
    ];
    let h = sign("POST", &url, &mixed, &body, &p.default, "us-east-1", now);
    let r = send(url.clone(), h, body.clone()).await;
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.headers()["smithy-protocol"], "rpc-v2-cbor");

    // Modeled errors carry the absolute shape id.
    let c = p.client(photon_testkit::Proto::Cbor, &p.default, "us-east-1");
    let (code, _, status) = failure(c.describe_images().names("nope").send().await);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
}

#[tokio::test]
async fn health_needs_no_auth() {
    let p = Photon::shared(bin(), &[]);
    let r = reqwest::get(format!("{}/health", p.endpoint))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["store"]["reachable"], true);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn oversized_bodies_are_refused_in_protocol() {
    let p = Photon::shared(bin(), &[]);
    let body = vec![b' '; 2 * 1024 * 1024];
    let headers = vec![
        (
            "x-amz-target".to_owned(),
            "PhotonAdminProxyService.DescribeImages".to_owned(),
        ),
        ("content-type".to_owned(), JSON_CT.to_owned()),
    ];
    let (status, ty, msg) = json_error(send(format!("{}/", p.endpoint), headers, body).await).await;
    assert_eq!(
        (status, ty.as_str()),
        (413, "RequestEntityTooLargeException")
    );
    assert!(msg.contains("limit of"), "{msg}");
}

#[tokio::test]
async fn each_sdk_mode_speaks_its_protocol() {
    // Its own server: it reads the server's request log, which shared servers interleave.
    let p = Photon::start(bin());
    for (proto, want_protocol, want_path) in [
        (photon_testkit::Proto::Cbor, "rpcv2Cbor", CBOR_PATH),
        (photon_testkit::Proto::Json, "awsJson1_1", "/"),
    ] {
        let before = p.logged_requests().len();
        p.client(proto, &p.default, "us-east-1")
            .describe_images()
            .max_results(1)
            .send()
            .await
            .unwrap();
        // The log line is written after the response; give it a moment to reach the file.
        let mut logged = Vec::new();
        for _ in 0..50 {
            logged = p.logged_requests();
            if logged.len() > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let last = logged.last().expect("the request was logged");
        assert_eq!(last["protocol"], want_protocol);
        assert_eq!(last["path"], want_path);
        assert_eq!(last["operation"], "DescribeImages");
        assert_eq!(last["account"], p.default.account_id.as_str());
        assert_eq!(last["status"], 200);
    }
}

#[tokio::test]
async fn the_target_header_must_be_signed() {
    let p = Photon::shared(bin(), &[]);
    let url = format!("{}/", p.endpoint);
    let now = SystemTime::now();
    // Signed without X-Amz-Target, which is then added: the operation would be unprotected.
    let mut h = sign(
        "POST",
        &url,
        &[("content-type", JSON_CT)],
        b"{}",
        &p.default,
        "us-east-1",
        now,
    );
    h.push((
        "x-amz-target".into(),
        "PhotonAdminProxyService.DescribeImages".into(),
    ));
    let (status, ty, msg) = json_error(send(url, h, b"{}".to_vec()).await).await;
    assert_eq!((status, ty.as_str()), (400, "IncompleteSignatureException"));
    assert!(msg.contains("x-amz-target"), "{msg}");
}
