//! `photon bench`: a small run of every workload through the real binary, on the test engine
//! (SQLite, or PostgreSQL when `PHOTON_TEST_DATABASE_URL` is set), proving that each workload
//! sends the requests it claims and that they all succeed.

use crate::common::bin;

fn bench(store: &photon_testkit::FreshStore, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("bench")
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("PHOTON_DATABASE_URL")
        .args(extra);
    if store.url.starts_with("postgres") {
        cmd.args(["--database", &store.url]);
    }
    cmd.output().unwrap()
}

#[test]
fn every_workload_runs_against_the_same_server() {
    let store = photon_testkit::FreshStore::new();
    let out = bench(
        &store,
        &[
            "--images",
            "30",
            "--requests",
            "40",
            "--concurrency",
            "3",
            "--page-size",
            "7",
            "--output",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["images"], 30);
    let results = v["results"].as_array().unwrap();
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["workload"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["health", "lookup", "page"]);
    for r in results {
        assert_eq!(r["ok"], 40, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        assert!(r["requests_per_second"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert_eq!(results[0]["percent_of_health"], 100.0);
    // A page of 7 images is a larger answer than one image, which is larger than /health's.
    let bytes = |i: usize| results[i]["mean_response_bytes"].as_u64().unwrap();
    assert!(bytes(2) > bytes(1) && bytes(1) > bytes(0), "{results:?}");
}

#[test]
fn an_unknown_workload_is_refused_with_the_choices() {
    let store = photon_testkit::FreshStore::new();
    let out = bench(&store, &["--workloads", "health,scan"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scan") && err.contains("lookup"),
        "unexpected refusal: {err}"
    );
}
