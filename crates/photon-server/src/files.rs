//! Photon's own API for a running image builder's files (how software is "installed" on a
//! builder): SigV4-signed like the AppStream API, under `/photon/v1/image-builders/{name}/`.
//!
//! - `PUT    …/files?path=P` (body: the bytes) → `{"Path","Digest","Size"}`
//! - `GET    …/files?path=P` → the bytes
//! - `DELETE …/files?path=P` → `{"Removed": n}` (a directory removes everything below it)
//! - `GET    …/entries?path=P` → `{"Entries":[{"Name","Path","Type","Size","Digest"}]}`
//! - `GET    …/settings` → the Windows settings; `POST …/settings` with
//!   `{"WindowsUpdate": bool, "WindowsDefender": bool}` (either) changes them first
//!
//! Errors are framed like the AppStream API's AWS JSON 1.1 errors.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use photon_protocol::{frame, Protocol};
use photon_types::ApiError;
use serde::Deserialize;

use crate::server::{authenticate, App};

/// Largest file one request can carry.
pub(crate) const MAX_FILE: usize = 64 * 1024 * 1024;

#[derive(Deserialize)]
pub(crate) struct PathQuery {
    path: String,
}

fn json(v: serde_json::Value, request_id: &str) -> Response {
    let mut r = ([("content-type", "application/json")], v.to_string()).into_response();
    if let Ok(h) = request_id.parse() {
        r.headers_mut().insert(frame::REQUEST_ID_HEADER, h);
    }
    r
}

fn error(e: &ApiError, request_id: &str) -> Response {
    frame::error(Protocol::AwsJson11, e, request_id)
        .map(axum::body::Body::from)
        .into_response()
}

/// Authenticates a request of this API: the caller and a new request id, or the framed error.
async fn signed(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(photon_types::Caller, String), Response> {
    let request_id = uuid::Uuid::new_v4().to_string();
    match authenticate(app, method, uri, headers, body, &request_id).await {
        Ok(cx) => Ok((cx, request_id)),
        Err(e) => Err(error(&e, &request_id)),
    }
}

pub(crate) async fn files(
    State(app): State<App>,
    Path(name): Path<String>,
    Query(q): Query<PathQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (cx, request_id) = match signed(&app, &method, &uri, &headers, &body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let svc = &app.svc;
    let result = match method {
        Method::PUT => {
            svc.put_builder_file(&cx, &name, &q.path, &body)
                .await
                .map(|(path, digest)| {
                    json(
                        serde_json::json!({"Path": path, "Digest": digest, "Size": body.len()}),
                        &request_id,
                    )
                })
        }
        Method::GET => svc
            .read_builder_file(&cx, &name, &q.path)
            .await
            .map(|bytes| ([("content-type", "application/octet-stream")], bytes).into_response()),
        Method::DELETE => svc
            .remove_builder_path(&cx, &name, &q.path)
            .await
            .map(|n| json(serde_json::json!({"Removed": n}), &request_id)),
        _ => {
            let e = ApiError::new(
                photon_types::ErrorCode::UnknownOperationException,
                "builder files take PUT, GET or DELETE",
            );
            return error(&e, &request_id);
        }
    };
    tracing::info!(request_id, %method, builder = %name, account = %cx.account_id, ok = result.is_ok(), "builder files");
    result.unwrap_or_else(|e| error(&e.into_api(&request_id), &request_id))
}

pub(crate) async fn entries(
    State(app): State<App>,
    Path(name): Path<String>,
    Query(q): Query<PathQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (cx, request_id) = match signed(&app, &method, &uri, &headers, &body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    match app.svc.list_builder_path(&cx, &name, &q.path).await {
        Ok(list) => {
            let entries: Vec<_> = list
                .into_iter()
                .map(|e| {
                    serde_json::json!({
                        "Name": e.name,
                        "Path": e.path,
                        "Type": if e.is_dir { "directory" } else { "file" },
                        "Size": e.size,
                        "Digest": e.digest,
                    })
                })
                .collect();
            json(serde_json::json!({ "Entries": entries }), &request_id)
        }
        Err(e) => error(&e.into_api(&request_id), &request_id),
    }
}

/// A builder's OS settings as JSON.
pub(crate) fn settings_json(s: &photon_store::OsSettings) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = photon_core::content::settings_view(s)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
        .collect();
    serde_json::Value::Object(map)
}

#[derive(Deserialize, Default)]
pub(crate) struct SettingsChange {
    #[serde(rename = "WindowsUpdate")]
    windows_update: Option<bool>,
    #[serde(rename = "WindowsDefender")]
    defender: Option<bool>,
}

pub(crate) async fn settings(
    State(app): State<App>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (cx, request_id) = match signed(&app, &method, &uri, &headers, &body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let change: SettingsChange = if body.is_empty() {
        SettingsChange::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(c) => c,
            Err(e) => {
                let e = ApiError::new(
                    photon_types::ErrorCode::SerializationException,
                    format!("the settings body is not {{\"WindowsUpdate\": bool, \"WindowsDefender\": bool}}: {e}"),
                );
                return error(&e, &request_id);
            }
        }
    };
    match app
        .svc
        .builder_os_settings(&cx, &name, change.windows_update, change.defender)
        .await
    {
        Ok(s) => json(settings_json(&s), &request_id),
        Err(e) => error(&e.into_api(&request_id), &request_id),
    }
}

/// An Image Assistant request: the operation and the tool's options, by their option names.
#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct AssistantRequest {
    operation: String,
    name: Option<String>,
    absolute_app_path: Option<String>,
    display_name: Option<String>,
    absolute_icon_path: Option<String>,
    working_directory: Option<String>,
    launch_parameters: Option<String>,
    absolute_manifest_path: Option<String>,
    profile: Option<String>,
    description: Option<String>,
    #[serde(default)]
    enable_dynamic_app_catalog: bool,
    #[serde(default)]
    use_latest_agent_version: bool,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    dry_run: bool,
}

fn assistant_op(r: AssistantRequest) -> Result<photon_core::image_assistant::Operation, String> {
    use photon_core::image_assistant::Operation as Op;
    let need =
        |v: Option<String>, opt: &str| v.ok_or_else(|| format!("the option --{opt} is required"));
    Ok(match r.operation.as_str() {
        "add-application" => Op::AddApplication {
            name: need(r.name, "name")?,
            absolute_app_path: need(r.absolute_app_path, "absolute-app-path")?,
            display_name: r.display_name,
            absolute_icon_path: r.absolute_icon_path,
            working_directory: r.working_directory,
            launch_parameters: r.launch_parameters,
            absolute_manifest_path: r.absolute_manifest_path,
        },
        "remove-application" => Op::RemoveApplication {
            name: need(r.name, "name")?,
        },
        "list-applications" => Op::ListApplications,
        "update-default-profile" => Op::UpdateDefaultProfile { profile: r.profile },
        "reset-user-profile" => Op::ResetUserProfile { profile: r.profile },
        "create-image" => Op::CreateImage {
            name: need(r.name, "name")?,
            description: r.description,
            display_name: r.display_name,
            enable_dynamic_app_catalog: r.enable_dynamic_app_catalog,
            use_latest_agent_version: r.use_latest_agent_version,
            tags: r.tags,
            dry_run: r.dry_run,
        },
        other => {
            return Err(format!(
                "'{other}' is not an Image Assistant operation; see help"
            ))
        }
    })
}

pub(crate) async fn image_assistant(
    State(app): State<App>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (cx, request_id) = match signed(&app, &method, &uri, &headers, &body).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let req: AssistantRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let v = serde_json::json!({"status": 1, "message": format!("malformed request: {e}")});
            return json(v, &request_id);
        }
    };
    let reply = match assistant_op(req) {
        Ok(op) => app.svc.image_assistant(&cx, &name, op).await,
        Err(message) => photon_core::image_assistant::Reply {
            status: 1,
            message,
            applications: None,
            warnings: Vec::new(),
        },
    };
    let mut v = serde_json::json!({"status": reply.status, "message": reply.message});
    if let Some(apps) = reply.applications {
        v["applications"] = apps
            .into_iter()
            .map(|a| {
                serde_json::json!({
                    "Name": a.name,
                    "DisplayName": a.display_name,
                    "AbsoluteAppPath": a.launch_path,
                    "AbsoluteIconPath": a.icon_path,
                    "WorkingDirectory": a.working_directory,
                    "LaunchParameters": a.launch_parameters,
                    "OptimizationManifest": a.manifest,
                })
            })
            .collect();
    }
    if !reply.warnings.is_empty() {
        v["warnings"] = reply.warnings.into();
    }
    tracing::info!(request_id, builder = %name, status = reply.status, "image assistant");
    json(v, &request_id)
}
