//! Test support: start a real `photon serve` on a free port (SQLite in a temp dir, or a fresh
//! PostgreSQL database when `PHOTON_TEST_DATABASE_URL` is set), drive it with the official
//! `aws-sdk-appstream` in either protocol, and reach its store for set-ups the API cannot make
//! yet. Every server gets its own data, so tests never see each other's state.

// Test support: a failed set-up should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_appstream::config::{BehaviorVersion, Credentials, Region};
use photon_store::prelude::*;
use photon_store::{ImageAttrs, ImageRecord};
use photon_store_sql::SqlStore;
use rand::Rng;

/// The two wire protocols a client can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Cbor,
    Json,
}

pub const BOTH: [Proto; 2] = [Proto::Cbor, Proto::Json];

#[derive(Debug, Clone)]
pub struct Creds {
    pub account_id: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

pub struct Photon {
    bin: PathBuf,
    /// The server's own flags, given again on every restart.
    args: Vec<String>,
    child: Option<Child>,
    dir: tempfile::TempDir,
    database: Option<TestDatabase>,
    pub endpoint: String,
    pub default: Creds,
}

/// A server shared by the tests of one area that run at the same time, each with an account of
/// its own as `default` (everything else derefs to the server). The server starts with the
/// first test that asks for it and stops when the last one holding it ends, so nothing outlives
/// the test binary (its data directory and PostgreSQL database go with it). Only for tests that
/// neither restart nor kill the server and that see nothing but their own account's state.
/// A helper that takes `&Photon` sees the server's own `default`, not the test's: pass the
/// test's `&p.default` to it explicitly.
pub struct SharedPhoton {
    server: std::sync::Arc<Photon>,
    /// A fresh account of this test's own.
    pub default: Creds,
}

impl std::ops::Deref for SharedPhoton {
    type Target = Photon;

    fn deref(&self) -> &Photon {
        &self.server
    }
}

type SharedServers = Vec<(Vec<String>, std::sync::Weak<Photon>)>;

static SHARED: std::sync::Mutex<SharedServers> = std::sync::Mutex::new(Vec::new());

impl Photon {
    /// The running server started with `extra` that other tests share now, or a new one; with
    /// a fresh account for the caller.
    pub fn shared(bin: &str, extra: &[&str]) -> SharedPhoton {
        let key: Vec<String> = std::iter::once(bin)
            .chain(extra.iter().copied())
            .map(str::to_owned)
            .collect();
        let server = {
            // A poisoned lock only means another test panicked while holding it; the list
            // itself is still whole.
            let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
            let running = shared
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, w)| w.upgrade());
            match running {
                Some(server) => server,
                None => {
                    let server = std::sync::Arc::new(Photon::start_with(bin, extra));
                    shared.retain(|(k, w)| *k != key && w.strong_count() > 0);
                    shared.push((key, std::sync::Arc::downgrade(&server)));
                    server
                }
            }
        };
        let default = server.create_account();
        SharedPhoton { server, default }
    }
}

/// A database for one test: a fresh PostgreSQL database (dropped with this guard) when
/// `PHOTON_TEST_DATABASE_URL` is set, else a SQLite file in a temp dir.
pub struct FreshStore {
    pub url: String,
    _db: Option<TestDatabase>,
    _dir: tempfile::TempDir,
}

impl FreshStore {
    pub fn new() -> FreshStore {
        let dir = tempfile::tempdir().expect("tempdir");
        match std::env::var("PHOTON_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin) => {
                let db = TestDatabase::create(&admin);
                FreshStore {
                    url: db.url.clone(),
                    _db: Some(db),
                    _dir: dir,
                }
            }
            None => FreshStore {
                url: photon_store_sql::sqlite_url(&dir.path().join("store.db")),
                _db: None,
                _dir: dir,
            },
        }
    }
}

impl Default for FreshStore {
    fn default() -> Self {
        Self::new()
    }
}

struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

fn with_db_name(url: &str, name: &str) -> String {
    // postgres://user@host:port/db?params -> replace db
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let prefix = match base.rfind('/') {
        Some(i) if i > base.find("://").map_or(0, |j| j + 2) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

fn block_on<F>(f: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    // The testkit may be called from inside a tokio test; run blocking work on its own thread
    // with its own runtime so it never nests runtimes.
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test runtime")
                .block_on(f)
        })
        .join()
        .expect("testkit thread")
    })
}

impl TestDatabase {
    fn create(admin_url: &str) -> TestDatabase {
        let name = format!("photon_test_{}", rand::thread_rng().gen::<u64>());
        block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(admin_url)
                .await
                .expect("PHOTON_TEST_DATABASE_URL is set but PostgreSQL is not reachable");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .await
                .expect("create db");
        });
        TestDatabase {
            admin_url: admin_url.to_owned(),
            url: with_db_name(admin_url, &name),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        block_on(async move {
            use sqlx::Connection;
            if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        });
    }
}

fn parse_ini_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// The regions a test server serves unless the test passes `--regions` itself.
pub const TEST_REGIONS: &str = "us-east-1,us-west-2,eu-west-1";

impl Photon {
    /// Starts `bin serve` on a free port with fresh state.
    pub fn start(bin: &str) -> Photon {
        Self::start_with(bin, &[])
    }

    pub fn start_with(bin: &str, extra: &[&str]) -> Photon {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = std::env::var("PHOTON_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(|u| TestDatabase::create(&u));
        let mut p = Photon {
            bin: PathBuf::from(bin),
            args: extra.iter().map(|a| (*a).to_owned()).collect(),
            child: None,
            dir,
            database,
            endpoint: String::new(),
            default: Creds {
                account_id: String::new(),
                access_key_id: String::new(),
                secret_access_key: String::new(),
            },
        };
        p.spawn(extra);
        let creds = std::fs::read_to_string(p.dir.path().join("aws-credentials"))
            .expect("credentials file");
        p.default = Creds {
            account_id: String::new(),
            access_key_id: parse_ini_value(&creds, "aws_access_key_id").expect("key id"),
            secret_access_key: parse_ini_value(&creds, "aws_secret_access_key").expect("secret"),
        };
        let accounts = p.admin(&["accounts", "list", "--output", "json"]);
        p.default.account_id = accounts[0]["AccountId"]
            .as_str()
            .expect("account id")
            .to_owned();
        p
    }

    /// The server's log (JSON lines, one per event).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("serve.log")
    }

    /// Every request the server logged, as JSON objects.
    pub fn logged_requests(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["fields"]["message"] == "request")
            .map(|v| v["fields"].clone())
            .collect()
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The store options every `photon` command of this server takes.
    pub fn store_args(&self) -> Vec<String> {
        let mut v = vec![
            "--data-dir".to_owned(),
            self.dir.path().display().to_string(),
        ];
        if let Some(db) = &self.database {
            v.push("--database".into());
            v.push(db.url.clone());
        }
        v
    }

    pub fn database_url(&self) -> String {
        match &self.database {
            Some(db) => db.url.clone(),
            None => photon_store_sql::sqlite_url(&self.dir.path().join("photon.db")),
        }
    }

    fn spawn(&mut self, extra: &[&str]) {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(self.store_args())
            .args(extra);
        // Seeding every region's catalogue is most of a server's start: a test server serves
        // the regions the tests use, unless a test names its own.
        if !extra.contains(&"--regions") {
            cmd.args(["--regions", TEST_REGIONS]);
        }
        // The server's log goes to a file in its data dir: tests read it, and it is there to
        // look at when a test fails.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open server log");
        cmd.env_remove("PHOTON_DATABASE_URL")
            .env("PHOTON_LOG", "info,sqlx=warn");
        cmd.args(["--log-format", "json"]);
        cmd.stdout(Stdio::piped()).stderr(log);
        let mut child = cmd.spawn().expect("spawn photon");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("photon exited before listening")
            .expect("read stdout");
        let url = first
            .strip_prefix("photon listening on ")
            .expect("readiness line")
            .to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.endpoint = url;
        self.child = Some(child);
    }

    /// Stops the server (SIGKILL: nothing may depend on a clean shutdown) and starts it again
    /// on the same state.
    pub fn restart(&mut self) {
        self.kill();
        let args = self.args.clone();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.spawn(&args);
    }

    /// Asks the server to stop with SIGTERM and returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("server running");
        let status = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM failed");
        c.wait().expect("wait for photon")
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs an administrative `photon` command on this server's store; returns its JSON output.
    pub fn admin(&self, args: &[&str]) -> serde_json::Value {
        let out = self.admin_raw(args);
        assert!(
            out.status.success(),
            "photon {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json output")
    }

    /// Sets one quota (`"stacks=2"`) of an account in a region, as the operator does.
    pub fn set_quota(&self, account_id: &str, region: &str, setting: &str) {
        self.admin(&[
            "quotas",
            "set",
            "--account-id",
            account_id,
            "--region",
            region,
            setting,
        ]);
    }

    pub fn admin_raw(&self, args: &[&str]) -> std::process::Output {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.extend(self.store_args());
        Command::new(&self.bin)
            .args(&all)
            .env_remove("PHOTON_DATABASE_URL")
            .output()
            .expect("run photon")
    }

    pub fn create_account(&self) -> Creds {
        let v = self.admin(&["accounts", "create", "--output", "json"]);
        Creds {
            account_id: v["AccountId"].as_str().expect("id").to_owned(),
            access_key_id: v["AccessKeyId"].as_str().expect("key").to_owned(),
            secret_access_key: v["SecretAccessKey"].as_str().expect("secret").to_owned(),
        }
    }

    pub fn client(&self, proto: Proto, creds: &Creds, region: &str) -> aws_sdk_appstream::Client {
        client(&self.endpoint, proto, creds, region)
    }

    /// The store of this server, opened from the test process.
    pub async fn store(&self) -> SqlStore {
        SqlStore::connect(&self.database_url())
            .await
            .expect("open store")
    }

    /// Puts private images into an account through the storage layer: quicker than building
    /// each one, for tests about what happens to images rather than how they are made.
    pub async fn seed_private_images(&self, account: &str, region: &str, names: &[String]) {
        let store = self.store().await;
        let recs: Vec<ImageRecord> = names
            .iter()
            .map(|n| private_image(account, region, n))
            .collect();
        store.seed_images(&recs).await.expect("seed images");
        store.close().await;
    }
}

impl Drop for Photon {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn private_image(account: &str, region: &str, name: &str) -> ImageRecord {
    ImageRecord {
        region: region.to_owned(),
        owner: account.to_owned(),
        name: name.to_owned(),
        arn: photon_core::arn::Arn::image(region, account, name),
        state: photon_types::ImageState::Available,
        platform: "WINDOWS_SERVER_2022".into(),
        created_at: 1_700_000_000_000,
        attrs: ImageAttrs {
            v: 1,
            description: Some("seeded by the test kit".into()),
            image_builder_supported: true,
            supported_instance_families: vec!["GENERAL_PURPOSE".into()],
            image_type: Some("NATIVE".into()),
            appstream_agent_version: Some("06-29-2026".into()),
            ..ImageAttrs::default()
        },
    }
}

pub fn client(
    endpoint: &str,
    proto: Proto,
    creds: &Creds,
    region: &str,
) -> aws_sdk_appstream::Client {
    let mut b = aws_sdk_appstream::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.clone(),
            None,
            None,
            "photon-testkit",
        ))
        .retry_config(aws_sdk_appstream::config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_sdk_appstream::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        );
    if proto == Proto::Json {
        b = b.protocol(aws_smithy_json::protocol::aws_json_rpc::AwsJsonRpcProtocol::aws_json_1_1());
    }
    aws_sdk_appstream::Client::from_conf(b.build())
}

/// Signs a raw request the way SDKs do, for requests no SDK will send (malformed bodies etc.).
pub fn sign(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    creds: &Creds,
    region: &str,
    time: std::time::SystemTime,
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let identity = Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        None,
        None,
        "photon-testkit",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("appstream")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or("")
        .to_owned();
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    all.push(("host".into(), host));
    let signable = SignableRequest::new(
        method,
        url,
        all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    for (k, v) in instructions.headers() {
        all.push((k.to_owned(), v.to_owned()));
    }
    all
}
