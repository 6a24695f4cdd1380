//! What an operator sees: `GET /metrics` counts requests by operation, protocol and error code,
//! times them, counts job attempts by kind and outcome and reports the queue; `GET /ready` says
//! whether the database and the blob store answer.

use aws_sdk_appstream::types::ImageBuilderState;
use photon_testkit::{Photon, Proto};

use crate::common::{bin, wait_builder};

/// The value of the sample of `metric` whose labels include every one of `labels`.
fn sample(text: &str, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            l.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
                && labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(p: &Photon) -> String {
    let r = reqwest::get(format!("{}/metrics", p.endpoint))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    r.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_errors_and_jobs() {
    // Its own server: the counts are the server's, not one account's.
    let p = Photon::start_with(bin(), &["--pace", "instant"]);
    for proto in [Proto::Json, Proto::Cbor] {
        let c = p.client(proto, &p.default, "us-east-1");
        c.describe_images().max_results(1).send().await.unwrap();
        c.describe_images().max_results(1).send().await.unwrap();
        let err = c.describe_images().names("no-such-image").send().await;
        assert!(err.is_err());
    }
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    c.create_image_builder()
        .name("metered")
        .instance_type("stream.standard.medium")
        .image_name("AppStream-WinServer2022-11-10-2025")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "metered", ImageBuilderState::Running).await;

    let text = scrape(&p).await;
    for protocol in ["awsJson1_1", "rpcv2Cbor"] {
        let ok = [
            ("operation", "DescribeImages"),
            ("protocol", protocol),
            ("code", "OK"),
        ];
        assert_eq!(
            sample(&text, "photon_requests_total", &ok),
            Some(2.0),
            "{text}"
        );
        let missing = [
            ("operation", "DescribeImages"),
            ("protocol", protocol),
            ("code", "ResourceNotFoundException"),
        ];
        assert_eq!(sample(&text, "photon_requests_total", &missing), Some(1.0));
        // Three DescribeImages per protocol, each in the latency histogram.
        let timed = [("operation", "DescribeImages"), ("protocol", protocol)];
        assert_eq!(
            sample(&text, "photon_request_duration_seconds_count", &timed),
            Some(3.0)
        );
        let all = [
            ("operation", "DescribeImages"),
            ("protocol", protocol),
            ("le", "+Inf"),
        ];
        assert_eq!(
            sample(&text, "photon_request_duration_seconds_bucket", &all),
            Some(3.0)
        );
    }
    let done = [("kind", "image-builder"), ("outcome", "done")];
    assert!(
        sample(&text, "photon_job_attempts_total", &done).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // Nothing is due once the builder runs: the queue gauges say so.
    assert_eq!(sample(&text, "photon_jobs_due", &[]), Some(0.0));
    assert_eq!(
        sample(&text, "photon_job_oldest_due_age_seconds", &[]),
        Some(0.0)
    );
    assert!(text.contains("# HELP photon_requests_total"));
}

#[tokio::test]
async fn ready_reports_the_database_and_the_blob_store() {
    let p = Photon::start(bin());
    let ready = || async {
        let r = reqwest::get(format!("{}/ready", p.endpoint)).await.unwrap();
        let status = r.status().as_u16();
        let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        (status, v)
    };
    let (status, v) = ready().await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ready"], true);
    assert_eq!(v["database"]["ready"], true);
    assert_eq!(v["blobs"]["ready"], true);

    // A blob store that cannot take a write (its directory is gone) makes the node unready,
    // and it says which part failed; liveness is not readiness.
    let blobs = p.data_dir().join("blobs");
    let moved = p.data_dir().join("blobs-away");
    std::fs::rename(&blobs, &moved).unwrap();
    let (status, v) = ready().await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["ready"], false);
    assert_eq!(v["database"]["ready"], true);
    assert_eq!(v["blobs"]["ready"], false);
    assert!(v["blobs"]["error"].as_str().is_some_and(|e| !e.is_empty()));
    let health = reqwest::get(format!("{}/health", p.endpoint))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    std::fs::rename(&moved, &blobs).unwrap();
    assert_eq!(ready().await.0, 200);
}
