//! The HTTP listener: `GET /health`, and every other request goes through the API pipeline
//! route → authenticate → decode → dispatch → frame. Metrics-free for now; each request is
//! logged once with its id, operation, account and outcome.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use photon_core::builder::BuilderJobs;
use photon_core::{Service, SystemClock};
use photon_protocol::auth::{self, Credential, CredentialStore};
use photon_protocol::sigv4::RequestParts;
use photon_protocol::{frame, route};
use photon_store::Store;
use photon_types::{dispatch, Caller};
use photon_workflow::Engine;

use crate::cli::{LogFormat, Output, ServeArgs};

/// How long the engine sleeps when no job is due.
const ENGINE_IDLE: Duration = Duration::from_millis(100);

/// Requests larger than this are refused before they are read whole.
const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone)]
pub(crate) struct App {
    pub(crate) svc: Service,
    creds: StoreCredentials,
    /// Renders this process's metrics (`GET /metrics`).
    metrics: metrics_exporter_prometheus::PrometheusHandle,
}

/// The credential port over the store, with a short-lived cache of keys that exist: every
/// request needs its key, and keys change rarely. Unknown keys are not cached, so a key created
/// by `photon accounts create` in another process works at once.
#[derive(Clone)]
struct StoreCredentials {
    store: Arc<dyn Store>,
    cache: Arc<std::sync::Mutex<HashMap<String, (Instant, Credential)>>>,
}

/// How long a looked-up key is trusted before the store is asked again.
const CREDENTIAL_TTL: Duration = Duration::from_secs(10);

impl StoreCredentials {
    fn new(store: Arc<dyn Store>) -> Self {
        StoreCredentials {
            store,
            cache: Arc::default(),
        }
    }
}

impl CredentialStore for StoreCredentials {
    async fn credential(&self, access_key_id: &str) -> Result<Option<Credential>, String> {
        if let Ok(cache) = self.cache.lock() {
            if let Some((at, cred)) = cache.get(access_key_id) {
                if at.elapsed() < CREDENTIAL_TTL {
                    return Ok(Some(cred.clone()));
                }
            }
        }
        let key = self
            .store
            .access_key(access_key_id)
            .await
            .map_err(|e| e.to_string())?;
        let cred = key.map(|k| Credential {
            account_id: k.account_id,
            secret_access_key: k.secret_access_key,
        });
        if let (Some(c), Ok(mut cache)) = (&cred, self.cache.lock()) {
            // Bounded: a flood of distinct valid keys cannot grow it without limit.
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(access_key_id.to_owned(), (Instant::now(), c.clone()));
        }
        Ok(cred)
    }
}

/// Logs go to stderr through a batching background writer (`log_writer`), so a request never
/// waits on the terminal or a log file and does not wake a thread per line. It is not lossy:
/// when the writer falls behind, logging slows down rather than dropping lines. The returned
/// guard writes what is left on drop; keep it until shutdown.
fn init_logging(format: LogFormat) -> crate::log_writer::LogGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PHOTON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let (writer, guard) = crate::log_writer::batch_writer();
    // Colour codes only for a terminal: in a log file they are noise, and cost every line.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    // A second init (tests in one process) is harmless; ignore it.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    guard
}

pub(crate) fn open_blobs(
    data_dir: &std::path::Path,
    layout: crate::cli::BlobLayout,
    regions: &[String],
) -> anyhow::Result<photon_blob::RegionalBlobs> {
    let open = |dir: std::path::PathBuf| -> anyhow::Result<Arc<dyn photon_blob::BlobStore>> {
        let store = photon_blob::FsBlobStore::open(&dir).with_context(|| {
            format!(
                "cannot open the blob store in {}; check that the directory is writable",
                dir.display()
            )
        })?;
        Ok(Arc::new(store))
    };
    let root = data_dir.join("blobs");
    let shared = open(root.clone())?;
    Ok(match layout {
        crate::cli::BlobLayout::Shared => photon_blob::RegionalBlobs::shared(shared),
        crate::cli::BlobLayout::PerRegion => {
            let mut stores = std::collections::HashMap::new();
            for r in regions {
                stores.insert(r.clone(), open(root.join(r))?);
            }
            photon_blob::RegionalBlobs::per_region(shared, stores)
        }
    })
}

pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let _log_guard = init_logging(args.log_format);
    let regions = match args.regions {
        Some(r) if !r.is_empty() => {
            for name in &r {
                anyhow::ensure!(
                    photon_core::region::is_region_name(name),
                    "'{name}' is not a region name (like us-east-1); fix --regions"
                );
            }
            r
        }
        _ => photon_core::region::default_regions(),
    };
    let store = crate::store::open(&args.store).await?;
    let store: Arc<dyn Store> = store;
    // Content written under one layout is not where the other looks: the layout is fixed when
    // the store is first used.
    let layout = match args.blob_layout {
        crate::cli::BlobLayout::Shared => "shared",
        crate::cli::BlobLayout::PerRegion => "per-region",
    };
    let recorded = store
        .init_setting("blob_layout", layout)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the store's settings: {e}"))?;
    anyhow::ensure!(
        recorded == layout,
        "this store was set up with --blob-layout {recorded}; start Photon with \
         --blob-layout {recorded} (its image content is stored that way)"
    );
    let blobs = open_blobs(&args.store.data_dir, args.blob_layout, &regions)?;
    let svc = Service::start(store.clone(), blobs, Arc::new(SystemClock), regions.clone())
        .await
        .map_err(|e| anyhow::anyhow!("cannot prepare the store: {e}"))?
        .with_pace(args.pace.into());

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; pick another with --listen",
                args.listen
            )
        })?;
    let addr = listener.local_addr()?;

    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| local_endpoint(addr));
    let svc = svc.with_public_url(&public_url);
    let first = first_start(&svc, &args.store.data_dir, addr, &regions[0]).await?;
    let app_svc = svc.clone();
    let app = App {
        svc,
        creds: StoreCredentials::new(store.clone()),
        metrics: install_metrics()?,
    };
    let router = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/connect/{token}", get(crate::connect::builder_page))
        .route("/stream/{token}", get(crate::connect::stream_page))
        .route(
            "/stream/heartbeat/{token}",
            axum::routing::post(crate::connect::heartbeat),
        )
        .route(
            "/connect/{token}/files",
            axum::routing::put(crate::connect::upload)
                .layer(DefaultBodyLimit::max(crate::files::MAX_FILE)),
        )
        .route(
            "/connect/{token}/settings",
            axum::routing::post(crate::connect::settings),
        )
        .route(
            "/photon/v1/image-builders/{name}/files",
            get(crate::files::files)
                .put(crate::files::files)
                .delete(crate::files::files)
                .layer(DefaultBodyLimit::max(crate::files::MAX_FILE)),
        )
        .route(
            "/photon/v1/image-builders/{name}/entries",
            get(crate::files::entries),
        )
        .route(
            "/photon/v1/image-builders/{name}/image-assistant",
            axum::routing::post(crate::files::image_assistant),
        )
        .route(
            "/photon/v1/image-builders/{name}/settings",
            get(crate::files::settings).post(crate::files::settings),
        )
        .merge(crate::console::router())
        .merge(crate::connect::routes())
        .fallback(api)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app);

    tracing::info!(%addr, engine = store.engine(), regions = regions.len(), "photon listening");
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::json!({"listening": format!("http://{addr}"), "engine": store.engine(), "try": first})
        ),
        Output::Text => {
            println!("photon listening on http://{addr}");
            println!("{first}");
        }
    }
    // One signal stops both the listener and the engine; the engine finishes the attempt it is
    // in (its lease would hand it over anyway).
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let engine = Engine::new(store.clone(), Arc::new(SystemClock))
        .with_handler(BuilderJobs::new(app_svc.clone()))
        .with_handler(photon_core::image_assistant::ImageJobs::new(
            app_svc.clone(),
        ))
        .with_handler(photon_core::copy::CopyJobs::new(app_svc.clone()))
        .with_handler(photon_core::update::UpdateJobs::new(app_svc.clone()))
        .with_handler(photon_core::session::SessionJobs::new(app_svc.clone()))
        .with_handler(photon_core::fleet::FleetJobs::new(app_svc));
    let mut engine_stop = stop_rx.clone();
    let engine_task = tokio::spawn(engine.run(ENGINE_IDLE, async move {
        let _ = engine_stop.wait_for(|stop| *stop).await;
    }));
    let mut server_stop = stop_rx;
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = server_stop.wait_for(|stop| *stop).await;
        })
        .await?;
    let _ = engine_task.await;
    tracing::info!("photon stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

/// An INI text with the section `header` replaced by (or, if missing, given) `body`; every
/// other section is kept as it was.
fn with_section(text: &str, header: &str, body: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.trim_start().starts_with('[') {
            skipping = line.trim() == header;
        }
        if !skipping {
            kept.push(line);
        }
    }
    let rest = kept.join("\n");
    let rest = rest.trim();
    let mut out = format!("{header}\n{body}");
    if !rest.is_empty() {
        out.push('\n');
        out.push_str(rest);
        out.push('\n');
    }
    out
}

/// On an empty store, creates the default account and writes an AWS config and credentials
/// file for it; on every start, points the config's endpoint at this listener. Returns the
/// line a user pastes to start using Photon.
async fn first_start(
    svc: &Service,
    data_dir: &Path,
    addr: SocketAddr,
    region: &str,
) -> anyhow::Result<String> {
    std::fs::create_dir_all(data_dir)?;
    let data_dir = std::fs::canonicalize(data_dir)?;
    let config = data_dir.join("aws-config");
    let credentials = data_dir.join("aws-credentials");
    // A wildcard listener is reached on loopback; SocketAddr's Display brackets IPv6.
    let endpoint = local_endpoint(addr);
    if svc
        .store()
        .list_accounts()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .is_empty()
    {
        let acct = svc
            .create_account(None, Some("default"))
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the default account: {e}"))?;
        write_private(
            &credentials,
            &format!(
                "[photon]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                acct.access_key_id, acct.secret_access_key
            ),
        )?;
        tracing::info!(account_id = %acct.account_id, "created the default account");
    }
    // Only the photon profile is Photon's: profiles a user added to the file stay.
    let existing = std::fs::read_to_string(&config).unwrap_or_default();
    write_private(
        &config,
        &with_section(
            &existing,
            "[profile photon]",
            &format!("region = {region}\nendpoint_url = {endpoint}\noutput = json\n"),
        ),
    )?;
    if !credentials.exists() {
        // Accounts existed before this data dir was used (e.g. a shared PostgreSQL store): the
        // secrets cannot be shown again, so say how to get a key instead.
        return Ok(format!(
            "no credentials file in {}: create a key with `photon accounts create` and put it in a profile named photon (config: {})",
            data_dir.display(),
            config.display()
        ));
    }
    Ok(format!(
        "export AWS_CONFIG_FILE={} AWS_SHARED_CREDENTIALS_FILE={}; aws --profile photon appstream describe-images",
        config.display(),
        credentials.display()
    ))
}

/// The URL a client on this machine reaches the listener at: a wildcard listener is reached on
/// loopback, and SocketAddr's Display brackets IPv6.
fn local_endpoint(addr: SocketAddr) -> String {
    let reachable = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv6() => {
            SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        ip if ip.is_unspecified() => {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    };
    format!("http://{reachable}")
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    // Write a new file that is private from its creation, then move it into place, so the
    // secret is never readable by others, not even for a moment.
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The process's metrics recorder, with the request-latency buckets of an API whose calls take
/// from under a millisecond (a lookup) to seconds (a large listing on a busy database).
fn install_metrics() -> anyhow::Result<metrics_exporter_prometheus::PrometheusHandle> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(REQUEST_SECONDS.to_owned()),
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ],
        )
        .context("cannot set up the metrics recorder")?
        .build_recorder();
    let handle = recorder.handle();
    // Histogram samples collect in buckets until upkeep folds them in: without it, a node
    // nobody scrapes would grow by every request it answers.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    // One recorder per process; `serve` runs once.
    metrics::set_global_recorder(recorder)
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    metrics::describe_counter!(
        REQUESTS,
        "API requests answered, by operation, protocol and error code (OK when none)"
    );
    metrics::describe_histogram!(
        REQUEST_SECONDS,
        metrics::Unit::Seconds,
        "Time from a request's arrival to its response, by operation and protocol"
    );
    metrics::describe_counter!(
        "photon_job_attempts_total",
        "Job attempts this node ended, by job kind and outcome"
    );
    metrics::describe_gauge!(
        "photon_jobs_due",
        "Jobs due to run that no node has claimed yet (the whole queue, not this node's)"
    );
    metrics::describe_gauge!(
        "photon_jobs_running",
        "Jobs a node holds a lease on (the whole queue)"
    );
    metrics::describe_gauge!(
        "photon_job_oldest_due_age_seconds",
        metrics::Unit::Seconds,
        "How long the longest-waiting due job has waited (0 when none is due)"
    );
    Ok(handle)
}

const REQUESTS: &str = "photon_requests_total";
const REQUEST_SECONDS: &str = "photon_request_duration_seconds";

/// `GET /metrics`: Prometheus text format. The queue gauges are read from the store at each
/// scrape, so every node reports the same queue.
async fn metrics(State(app): State<App>) -> Response {
    let now = chrono::Utc::now().timestamp_millis();
    match app.svc.store().job_queue(now).await {
        Ok(q) => {
            metrics::gauge!("photon_jobs_due").set(q.due as f64);
            metrics::gauge!("photon_jobs_running").set(q.running as f64);
            let waited = q
                .oldest_due_at
                .map_or(0, |at| now.saturating_sub(at).max(0));
            metrics::gauge!("photon_job_oldest_due_age_seconds").set(waited as f64 / 1000.0);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the job queue"),
    }
    (
        [("content-type", "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

/// `GET /ready`: whether this node can serve: the database answers and every blob store takes
/// a write. 503 with what failed otherwise, for a load balancer's health check.
async fn ready(State(app): State<App>) -> Response {
    let store = app.svc.store();
    let database = store.ping().await.err().map(|e| e.to_string());
    let blobs = app.svc.blobs().clone();
    let blob_error = tokio::task::spawn_blocking(move || {
        blobs
            .stores()
            .iter()
            .find_map(|s| s.check().err())
            .map(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Some(format!("the blob check did not finish: {e}")));
    let ok = database.is_none() && blob_error.is_none();
    let part = |error: Option<String>| match error {
        None => serde_json::json!({ "ready": true }),
        Some(e) => serde_json::json!({ "ready": false, "error": e }),
    };
    let body = serde_json::json!({
        "ready": ok,
        "database": part(database),
        "blobs": part(blob_error),
    });
    probe_response(ok, &body)
}

/// A probe's answer: 200 when it passed, 503 when not, with its JSON body.
fn probe_response(ok: bool, body: &serde_json::Value) -> Response {
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn health(State(app): State<App>) -> Response {
    let store = app.svc.store();
    let reachable = store.ping().await.is_ok();
    let body = serde_json::json!({
        "service": "photon",
        "version": env!("CARGO_PKG_VERSION"),
        "store": { "engine": store.engine(), "reachable": reachable },
    });
    probe_response(reachable, &body)
}

async fn api(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let path = uri.path();
    let protocol = route::detect(path, &headers);
    let (resp, op, account, code) = match body {
        Ok(body) => handle(&app, &method, &uri, &headers, &body, &request_id).await,
        Err(rejection) => {
            // Refused before it is read whole; framed like every other error.
            let e = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                photon_types::ApiError::new(
                    photon_types::ErrorCode::RequestEntityTooLargeException,
                    format!(
                        "the request body is over the limit of {MAX_BODY} bytes; AppStream \
                         requests are small, so check what the client is sending"
                    ),
                )
            } else {
                photon_types::ApiError::new(
                    photon_types::ErrorCode::SerializationException,
                    format!("the request body could not be read ({rejection}); send it again"),
                )
            };
            (
                frame::error(protocol, &e, &request_id),
                None,
                None,
                Some(e.code.name()),
            )
        }
    };
    let elapsed = started.elapsed();
    let operation = op.unwrap_or("-");
    metrics::counter!(REQUESTS, "operation" => operation, "protocol" => protocol.name(),
        "code" => code.unwrap_or("OK"))
    .increment(1);
    metrics::histogram!(REQUEST_SECONDS, "operation" => operation, "protocol" => protocol.name())
        .record(elapsed.as_secs_f64());
    tracing::info!(
        request_id,
        method = method.as_str(),
        path,
        protocol = protocol.name(),
        operation,
        account = account.as_deref().unwrap_or("-"),
        status = resp.status().as_u16(),
        micros = elapsed.as_micros() as u64,
        "request"
    );
    resp.map(axum::body::Body::from).into_response()
}

/// Verifies a request's signature and names its caller.
pub(crate) async fn authenticate(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    request_id: &str,
) -> Result<Caller, photon_types::ApiError> {
    let parts = RequestParts {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query(),
        headers,
        body,
    };
    let who = auth::authenticate(&app.creds, &parts, app.svc.regions(), chrono::Utc::now()).await?;
    Ok(Caller {
        account_id: who.account_id,
        region: who.region,
        request_id: request_id.to_owned(),
    })
}

async fn handle(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    request_id: &str,
) -> (
    http::Response<Vec<u8>>,
    Option<&'static str>,
    Option<String>,
    Option<&'static str>,
) {
    let path = uri.path();
    let (protocol, op) = match route::route(method, path, headers, body.len()) {
        Ok(x) => x,
        Err((p, e)) => {
            return (
                frame::error(p, &e, request_id),
                None,
                None,
                Some(e.code.name()),
            )
        }
    };
    let cx = match authenticate(app, method, uri, headers, body, request_id).await {
        Ok(cx) => cx,
        Err(e) => {
            return (
                frame::error(protocol, &e, request_id),
                Some(op.name()),
                None,
                Some(e.code.name()),
            )
        }
    };
    let result = match photon_protocol::decode_body(protocol, body) {
        Ok(input) => dispatch(&app.svc, &cx, op, input).await,
        Err(e) => Err(e),
    };
    let (resp, code) = match result {
        Ok(out) => (frame::success(protocol, &out, request_id), None),
        Err(e) => (frame::error(protocol, &e, request_id), Some(e.code.name())),
    };
    (resp, Some(op.name()), Some(cx.account_id), code)
}

#[cfg(test)]
mod section_tests {
    use super::with_section;

    #[test]
    fn only_the_named_section_is_replaced() {
        let body = "region = us-east-1\nendpoint_url = http://127.0.0.1:2\n";
        assert_eq!(
            with_section("", "[profile photon]", body),
            format!("[profile photon]\n{body}")
        );
        let before = "[profile photon]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:1\n\n\
                      [profile prod]\nregion = us-east-1\n";
        let after = with_section(before, "[profile photon]", body);
        assert_eq!(
            after,
            format!("[profile photon]\n{body}\n[profile prod]\nregion = us-east-1\n")
        );
        // Again: stable.
        assert_eq!(with_section(&after, "[profile photon]", body), after);
    }
}
