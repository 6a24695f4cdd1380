//! `photon bench`: measures the read path end to end. It owns everything a run needs: a store
//! (a throw-away SQLite database, or the PostgreSQL database it is given), a bench account with
//! N private images loaded through the storage layer, a real `photon serve` child process, and a
//! concurrent client that sends requests over HTTP and records each request's latency. Each
//! workload (`GET /health`, a SigV4-signed `DescribeImages` point lookup by name, a page of the
//! private listing) is measured in turn against the same server, so the read path is reported
//! as a share of the stack's own ceiling. It prints throughput and latency percentiles and fails
//! when any request did not answer 200, so a fast run that returned errors is never mistaken for
//! a good one.
//!
//! The client runs in this process and the server in another on the same machine, so both share
//! the CPU: the numbers are what one host can do serving itself, a conservative figure.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use aws_credential_types::Credentials;
use axum::body::Bytes;
use hdrhistogram::Histogram;
use photon_store::{ImageAttrs, ImageRecord, Store};
use serde::Deserialize;
use tokio::io::AsyncBufReadExt;

use crate::cli::{Output, StoreArgs};

/// The region the bench account's images live in and the server is started for.
const REGION: &str = "us-east-1";
/// Images per `seed_images` call: one transaction each, large enough that commits do not
/// dominate the load, small enough that one batch never holds the SQLite writer for long.
const LOAD_BATCH: usize = 1000;
/// How long the child server gets to print its address and answer `/health`.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const TARGET: &str = "PhotonAdminProxyService.DescribeImages";
/// Error messages kept for the report; the rest are only counted.
const KEEP_ERRORS: usize = 5;

#[derive(clap::Args, Debug)]
pub(crate) struct BenchArgs {
    /// Benchmark on this PostgreSQL database (used as is; the run adds a new account and its
    /// images) instead of a fresh embedded SQLite database.
    #[arg(long, env = "PHOTON_DATABASE_URL")]
    pub database: Option<String>,
    /// Keep the SQLite database, the server log and the server's files here. Without it a
    /// temporary directory is used and removed afterwards.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Private images to load into the bench account.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub images: u32,
    /// Requests to measure per workload (after one unmeasured warm-up walk of all pages).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: u64,
    /// Requests in flight at once (client tasks sharing one connection pool).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// What to measure, one after another against the same server: `health` (`GET /health`,
    /// the ceiling of the HTTP stack), `lookup` (DescribeImages of one image by name) and
    /// `page` (a page of the private listing).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Workload::Health, Workload::Lookup, Workload::Page])]
    pub workloads: Vec<Workload>,
    /// MaxResults of each page request (AppStream allows at most 25).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=25))]
    pub page_size: u32,
    /// How to print results.
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

/// A kind of request to measure.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Workload {
    Health,
    Lookup,
    Page,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Health => "health",
            Workload::Lookup => "lookup",
            Workload::Page => "page",
        }
    }
}

/// A directory this run created; removed when the run ends, however it ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let (data_dir, _temp) = match &args.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let d = std::env::temp_dir().join(format!(
                "photon-bench-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&d).with_context(|| {
                format!(
                    "cannot create {}; set TMPDIR or pass --data-dir",
                    d.display()
                )
            })?;
            (d.clone(), Some(TempDir(d)))
        }
    };
    let store_args = StoreArgs {
        data_dir: data_dir.clone(),
        database: args.database.clone(),
    };
    let progress = |msg: &str| {
        // Progress goes to stderr so `--output json` keeps stdout machine-readable.
        if args.output == Output::Text {
            eprintln!("{msg}");
        }
    };

    // 1. The data: a new account each run, so a database used before (PostgreSQL is used as
    //    is) never mixes old images into the listing.
    progress(&format!("loading {} private images…", args.images));
    let store = crate::store::open(&store_args).await?;
    let engine = store.engine();
    let load_started = Instant::now();
    let account =
        photon_core::account::create_account(store.as_ref(), None, Some("bench"), now_millis())
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the bench account: {e}"))?;
    load_images(store.as_ref(), &account.account_id, args.images).await?;
    let load_time = load_started.elapsed();
    // Release the SQLite file before the server opens it: one writer at a time.
    store.close().await;

    // 2. The server, as users run it.
    progress("starting the server…");
    let log_path = data_dir.join("bench-server.log");
    let mut server = Server::start(&data_dir, args.database.as_deref(), &log_path).await?;
    let result = measure_all(&args, &server.base_url, &account, &progress).await;
    server.stop().await;
    let results = result?;

    // 3. The report: each workload beside `/health`, the ceiling of the same HTTP stack.
    let ceiling = results
        .iter()
        .find(|m| m.workload == Workload::Health)
        .map(Measured::per_second);
    let percent = |m: &Measured| ceiling.map(|c| round2(100.0 * m.per_second() / c));
    match args.output {
        Output::Json => {
            let list: Vec<_> = results
                .iter()
                .map(|m| {
                    let t = &m.tally;
                    let q = |p: f64| ms(t.hist.value_at_quantile(p));
                    serde_json::json!({
                        "workload": m.workload.name(),
                        "ok": t.ok,
                        "errors": t.errors,
                        "error_samples": t.samples,
                        "mean_response_bytes": t.bytes.checked_div(t.ok).unwrap_or(0),
                        "wall_seconds": secs(m.wall),
                        "requests_per_second": round2(m.per_second()),
                        "percent_of_health": percent(m),
                        "latency_ms": {
                            "p50": q(0.50), "p90": q(0.90), "p99": q(0.99),
                            "max": ms(t.hist.max()), "mean": round2(t.hist.mean() / 1000.0),
                        },
                    })
                })
                .collect();
            let v = serde_json::json!({
                "engine": engine,
                "images": args.images,
                "load_seconds": secs(load_time),
                "requests": args.requests,
                "concurrency": args.concurrency,
                "page_size": args.page_size,
                "results": list,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Output::Text => {
            println!(
                "{} private images on {engine} (loaded in {:.2} s); {} requests per workload at concurrency {}",
                args.images,
                load_time.as_secs_f64(),
                args.requests,
                args.concurrency
            );
            println!(
                "  {:<8} {:>10} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8}",
                "workload",
                "req/s",
                "of health",
                "errors",
                "bytes",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms"
            );
            for m in &results {
                let t = &m.tally;
                let q = |p: f64| ms(t.hist.value_at_quantile(p));
                println!(
                    "  {:<8} {:>10.0} {:>9} {:>7} {:>9} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                    m.workload.name(),
                    m.per_second(),
                    percent(m).map_or("-".to_owned(), |p| format!("{p:.0} %")),
                    t.errors,
                    t.bytes.checked_div(t.ok).unwrap_or(0),
                    q(0.50),
                    q(0.90),
                    q(0.99),
                    ms(t.hist.max())
                );
            }
            for m in &results {
                for s in &m.tally.samples {
                    println!("  error ({}): {s}", m.workload.name());
                }
            }
        }
    }
    let errors: u64 = results.iter().map(|m| m.tally.errors).sum();
    if errors > 0 {
        let first = results
            .iter()
            .flat_map(|m| m.tally.samples.first())
            .next()
            .map_or("-", String::as_str);
        bail!(
            "{errors} requests failed (first: {first}); the numbers above are not valid. \
             The server log is {}{}",
            log_path.display(),
            if args.data_dir.is_none() {
                " (removed; rerun with --data-dir to keep it)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// The name of the bench account's `i`-th image.
fn image_name(i: u32) -> String {
    format!("bench-image-{i:06}")
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ms(micros: u64) -> f64 {
    round2(micros as f64 / 1000.0)
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Inserts `n` private images owned by `account_id`, shaped like images a user would build
/// (native Windows Server 2022 images for the general-purpose families).
async fn load_images(store: &dyn Store, account_id: &str, n: u32) -> anyhow::Result<()> {
    let now = now_millis();
    let families: Vec<String> = ["GENERAL_PURPOSE", "COMPUTE_OPTIMIZED", "MEMORY_OPTIMIZED"]
        .map(String::from)
        .to_vec();
    let mut batch = Vec::with_capacity(LOAD_BATCH);
    for i in 0..n {
        let name = image_name(i);
        batch.push(ImageRecord {
            region: REGION.to_owned(),
            owner: account_id.to_owned(),
            arn: photon_core::arn::Arn::image(REGION, account_id, &name),
            state: photon_types::ImageState::Available,
            platform: "WINDOWS_SERVER_2022".to_owned(),
            created_at: now,
            attrs: ImageAttrs {
                v: 1,
                display_name: Some(format!("Bench image {i}")),
                description: Some("Loaded by photon bench".to_owned()),
                base_image_arn: Some(photon_core::arn::Arn::image(
                    REGION,
                    "",
                    "AppStream-WinServer2022-06-17-2024",
                )),
                image_builder_supported: true,
                appstream_agent_version: Some("06-17-2024".to_owned()),
                supported_instance_families: families.clone(),
                image_type: Some("NATIVE".to_owned()),
                ..ImageAttrs::default()
            },
            name,
        });
        if batch.len() == LOAD_BATCH || i + 1 == n {
            let added = store
                .seed_images(&batch)
                .await
                .map_err(|e| anyhow::anyhow!("cannot load the bench images: {e}"))?;
            if added != batch.len() as u64 {
                bail!(
                    "loaded {added} of {} images in a batch; the bench account was not empty",
                    batch.len()
                );
            }
            batch.clear();
        }
    }
    Ok(())
}

/// The `photon serve` child process. Killed when dropped, so an early error never leaves a
/// server running.
struct Server {
    child: tokio::process::Child,
    base_url: String,
}

impl Server {
    async fn start(
        data_dir: &Path,
        database: Option<&str>,
        log_path: &Path,
    ) -> anyhow::Result<Server> {
        let exe = std::env::current_exe()
            .context("cannot find the photon executable to start the server")?;
        let log = std::fs::File::create(log_path)
            .with_context(|| format!("cannot create the server log {}", log_path.display()))?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.arg("serve")
            .args([
                "--listen",
                "127.0.0.1:0",
                "--regions",
                REGION,
                "--output",
                "text",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            // The child gets exactly the store this process loaded, never one from the
            // environment.
            .env_remove("PHOTON_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        if let Some(url) = database {
            cmd.args(["--database", url]);
        }
        let mut child = cmd.spawn().context("cannot start `photon serve`")?;
        let stdout = child
            .stdout
            .take()
            .context("the server's stdout was not captured")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = tokio::time::timeout(START_TIMEOUT, lines.next_line())
            .await
            .ok()
            .and_then(|r| r.ok())
            .flatten();
        let Some(first) = first else {
            bail!(
                "the server did not start within {}s; see its log {} (rerun with --data-dir to keep it)",
                START_TIMEOUT.as_secs(),
                log_path.display()
            );
        };
        // Keep reading what else it prints: a closed pipe would make its next print fail.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let base_url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .with_context(|| {
                format!("cannot find the address in the server's first line '{first}'")
            })?
            .to_owned();

        let client = reqwest::Client::builder().no_proxy().build()?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match client.get(format!("{base_url}/health")).send().await {
                Ok(r) if r.status() == reqwest::StatusCode::OK => break,
                _ if Instant::now() > deadline => bail!(
                    "the server at {base_url} did not answer /health with 200 within {}s; see {}",
                    START_TIMEOUT.as_secs(),
                    log_path.display()
                ),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        Ok(Server { child, base_url })
    }

    /// Kills the server. Nothing of it is needed afterwards, and both engines survive a kill
    /// (SQLite in WAL mode, PostgreSQL), so there is no need for a graceful stop.
    async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// What the client tasks share.
struct Client {
    http: reqwest::Client,
    base_url: String,
    /// The API endpoint (`{base_url}/`).
    url: String,
    credentials: Credentials,
    page_size: u32,
    /// How many images the bench account holds, so lookups can name any of them.
    images: u32,
}

/// One task's (or the merged) tally.
struct Tally {
    /// Latency of each successful request, in microseconds.
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
    bytes: u64,
    samples: Vec<String>,
}

impl Tally {
    fn new() -> anyhow::Result<Tally> {
        Ok(Tally {
            // 1 µs to 60 s at 3 significant digits.
            hist: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            ok: 0,
            errors: 0,
            bytes: 0,
            samples: Vec::new(),
        })
    }

    fn ok(&mut self, elapsed: Duration, bytes: usize) {
        self.hist
            .saturating_record((elapsed.as_micros() as u64).max(1));
        self.ok += 1;
        self.bytes += bytes as u64;
    }

    fn error(&mut self, msg: String) {
        self.errors += 1;
        if self.samples.len() < KEEP_ERRORS && !self.samples.contains(&msg) {
            self.samples.push(msg);
        }
    }

    fn merge(&mut self, other: Tally) {
        let _ = self.hist.add(&other.hist);
        self.ok += other.ok;
        self.errors += other.errors;
        self.bytes += other.bytes;
        for s in other.samples {
            if self.samples.len() < KEEP_ERRORS && !self.samples.contains(&s) {
                self.samples.push(s);
            }
        }
    }
}

/// One workload's result.
struct Measured {
    workload: Workload,
    tally: Tally,
    wall: Duration,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.tally.ok as f64 / self.wall.as_secs_f64()
    }
}

/// The part of a DescribeImages answer the client needs: how many images, and where to go next.
#[derive(Deserialize)]
struct Page {
    #[serde(rename = "Images", default)]
    images: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "NextToken")]
    next_token: Option<String>,
}

/// Warms up, then measures each workload in turn against the same server, so the figures of
/// one run are comparable with each other whatever else the machine does between runs.
async fn measure_all(
    args: &BenchArgs,
    base_url: &str,
    account: &photon_core::account::NewAccount,
    progress: &dyn Fn(&str),
) -> anyhow::Result<Vec<Measured>> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(args.concurrency as usize)
        .build()
        .context("cannot build the HTTP client")?;
    let client = Arc::new(Client {
        http,
        base_url: base_url.to_owned(),
        url: format!("{base_url}/"),
        credentials: Credentials::new(
            account.access_key_id.clone(),
            account.secret_access_key.clone(),
            None,
            None,
            "photon-bench",
        ),
        page_size: args.page_size,
        images: args.images,
    });

    // Warm-up, unmeasured: one walk of every page, which also proves the server sees exactly the
    // images loaded — a listing that returned fewer would make every number below meaningless.
    progress("warming up: one walk of every page…");
    let mut warm = Tally::new()?;
    let seen = walk_once(&client, &mut warm).await;
    if warm.errors > 0 {
        bail!(
            "the warm-up walk failed: {}; see the server log (rerun with --data-dir to keep it)",
            warm.samples.join("; ")
        );
    }
    if seen != u64::from(args.images) {
        bail!("the listing returned {seen} images, but {} were loaded; the server reads another store", args.images);
    }

    let mut results = Vec::new();
    for &workload in &args.workloads {
        progress(&format!(
            "measuring {}: {} requests at concurrency {}…",
            workload.name(),
            args.requests,
            args.concurrency
        ));
        results.push(measure(&client, workload, args.requests, args.concurrency).await?);
    }
    Ok(results)
}

async fn measure(
    client: &Arc<Client>,
    workload: Workload,
    requests: u64,
    concurrency: u32,
) -> anyhow::Result<Measured> {
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency as usize);
    for _ in 0..concurrency {
        let client = client.clone();
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            worker(&client, workload, &issued, requests).await
        }));
    }
    let mut tally = Tally::new()?;
    for t in tasks {
        tally.merge(t.await.context("a client task panicked")??);
    }
    Ok(Measured {
        workload,
        tally,
        wall: started.elapsed(),
    })
}

/// Reads the listing from its first page to its last; returns how many images it saw.
async fn walk_once(client: &Client, tally: &mut Tally) -> u64 {
    let mut token = None;
    let mut seen = 0;
    loop {
        match describe_page(client, token.as_deref(), tally).await {
            Some((n, next)) => {
                seen += n;
                match next {
                    Some(t) => token = Some(t),
                    None => return seen,
                }
            }
            None => return seen,
        }
    }
}

/// One client task: takes request numbers from the shared counter until `total` are issued.
/// Lookups name a different image each time; pages are walked to the last and started again
/// from the first, so requests read different rows rather than the same ones over and over.
async fn worker(
    client: &Client,
    workload: Workload,
    issued: &AtomicU64,
    total: u64,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new()?;
    let mut token: Option<String> = None;
    loop {
        let n = issued.fetch_add(1, Ordering::Relaxed);
        if n >= total {
            return Ok(tally);
        }
        match workload {
            Workload::Health => health(client, &mut tally).await,
            Workload::Lookup => {
                // A multiplicative step spreads consecutive requests over the whole name range.
                let i = (n.wrapping_mul(7919) % u64::from(client.images)) as u32;
                lookup(client, &image_name(i), &mut tally).await;
            }
            Workload::Page => {
                token = describe_page(client, token.as_deref(), &mut tally)
                    .await
                    .and_then(|(_, next)| next);
            }
        }
    }
}

/// `GET /health`: the same HTTP stack and a store ping, without signing or a query.
async fn health(client: &Client, tally: &mut Tally) {
    let req = client.http.get(format!("{}/health", client.base_url));
    if let Some((elapsed, bytes)) = exchange(req, tally).await {
        tally.ok(elapsed, bytes.len());
    }
}

/// DescribeImages of one image by name: a point lookup.
async fn lookup(client: &Client, name: &str, tally: &mut Tally) {
    let body = serde_json::json!({ "Names": [name] }).to_string();
    let Some(req) = signed(client, body, tally) else {
        return;
    };
    if let Some((elapsed, bytes)) = exchange(req, tally).await {
        match serde_json::from_slice::<Page>(&bytes) {
            Ok(page) if page.images.len() == 1 => tally.ok(elapsed, bytes.len()),
            Ok(page) => tally.error(format!(
                "a lookup of {name} returned {} images",
                page.images.len()
            )),
            Err(e) => tally.error(format!("the answer is not a DescribeImages result: {e}")),
        }
    }
}

/// One page of the private listing. Returns the page's image count and next token, or `None`
/// when the call failed.
async fn describe_page(
    client: &Client,
    token: Option<&str>,
    tally: &mut Tally,
) -> Option<(u64, Option<String>)> {
    let body = match token {
        None => serde_json::json!({"Type": "PRIVATE", "MaxResults": client.page_size}),
        Some(t) => {
            serde_json::json!({"Type": "PRIVATE", "MaxResults": client.page_size, "NextToken": t})
        }
    }
    .to_string();
    let req = signed(client, body, tally)?;
    let (elapsed, bytes) = exchange(req, tally).await?;
    match serde_json::from_slice::<Page>(&bytes) {
        Ok(page) if page.images.is_empty() => {
            tally.error("a page came back empty".to_owned());
            None
        }
        Ok(page) => {
            tally.ok(elapsed, bytes.len());
            Some((page.images.len() as u64, page.next_token))
        }
        Err(e) => {
            tally.error(format!("the answer is not a DescribeImages result: {e}"));
            None
        }
    }
}

/// A DescribeImages POST of `body`, signed on its own like every SDK request, so signature
/// verification and the credential lookup are part of what is measured.
fn signed(client: &Client, body: String, tally: &mut Tally) -> Option<reqwest::RequestBuilder> {
    let headers = match sign_headers(&client.url, &client.credentials, body.as_bytes()) {
        Ok(h) => h,
        Err(e) => {
            tally.error(format!("cannot sign the request: {e}"));
            return None;
        }
    };
    let mut req = client
        .http
        .post(&client.url)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", TARGET);
    for (name, value) in headers {
        req = req.header(name, value);
    }
    Some(req.body(body))
}

/// Sends a request and reads its whole answer. Latency is the exchange as a client sees it:
/// from sending to the last body byte. Anything but HTTP 200 is recorded as an error.
async fn exchange(req: reqwest::RequestBuilder, tally: &mut Tally) -> Option<(Duration, Bytes)> {
    let started = Instant::now();
    let result = async {
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        Ok::<_, reqwest::Error>((status, bytes))
    }
    .await;
    let elapsed = started.elapsed();
    match result {
        Ok((status, bytes)) if status == reqwest::StatusCode::OK => Some((elapsed, bytes)),
        Ok((status, bytes)) => {
            let text = String::from_utf8_lossy(&bytes);
            tally.error(format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            ));
            None
        }
        Err(e) => {
            tally.error(format!("request failed: {}", error_chain(&e)));
            None
        }
    }
}

/// An error and its causes on one line: reqwest's own message ("error sending request") says
/// little without the cause under it ("connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The SigV4 headers for a DescribeImages POST of `body`, signed like the AWS SDKs do.
fn sign_headers(
    url: &str,
    credentials: &Credentials,
    body: &[u8],
) -> anyhow::Result<Vec<(String, String)>> {
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", TARGET),
    ];
    crate::client::sign_headers("POST", url, &headers, body, credentials, REGION)
}
