//! The pages behind streaming URLs. The URL's token is the credential (no AWS signature), as
//! with AppStream's own streaming URLs. Connecting to a builder shows it, its file system
//! (browse, upload) and, on Windows, its Windows Update and Windows Defender settings.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use photon_core::builder::BuilderSession;
use photon_core::content::{is_windows, settings_view};
use photon_core::CoreError;
use photon_types::Caller;
use serde::Deserialize;

use crate::server::App;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A JSON string literal safe inside an inline <script>: no `<`, `>` or `&` can close the
/// script or open another, and the line separators JavaScript rejects are escaped.
fn script_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned())
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// The page as a response: never cached (the URL is a credential) and never sent as a referrer.
fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            ("cache-control", "no-store"),
            ("referrer-policy", "no-referrer"),
            (
                "content-security-policy",
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
            ),
            ("content-type", "text/html; charset=utf-8"),
        ],
        body,
    )
        .into_response()
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · Photon</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem}}\
         dt{{font-weight:600}}dd{{margin:0 0 .5rem 0}}table{{border-collapse:collapse}}\
         td,th{{padding:.2rem .8rem;text-align:left;border-bottom:1px solid #ddd}}\
         section{{margin:1.5rem 0}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    )
}

fn failure(e: CoreError) -> Response {
    if let CoreError::Internal(detail) = &e {
        tracing::error!(%detail, "streaming page failed");
    }
    let status = match e {
        CoreError::NotFound(_) => StatusCode::NOT_FOUND,
        CoreError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        CoreError::Invalid(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    let msg = match &e {
        CoreError::Internal(_) => "the server hit an internal error; try again".to_owned(),
        other => other.to_string(),
    };
    html(
        status,
        page("Cannot connect", &format!("<p>{}</p>", escape(&msg))),
    )
}

/// The builder's owner, as whom the page acts.
fn caller(s: &BuilderSession) -> Caller {
    Caller {
        account_id: s.builder.owner.clone(),
        region: s.builder.region.clone(),
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}

#[derive(Deserialize, Default)]
pub struct Browse {
    path: Option<String>,
}

pub async fn builder_page(
    State(app): State<App>,
    Path(token): Path<String>,
    Query(q): Query<Browse>,
) -> Response {
    let s = match app.svc.open_builder_session(&token).await {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    let cx = caller(&s);
    let b = &s.builder;
    let windows = is_windows(&b.platform);
    let root = if windows { "C:\\" } else { "/" };
    let dir = q.path.unwrap_or_else(|| root.to_owned());
    let expires = chrono::DateTime::from_timestamp_millis(s.expires_at)
        .map_or_else(String::new, |t| t.to_rfc3339());
    let rows = [
        ("Image builder", b.name.as_str()),
        ("State", b.state.as_str()),
        ("Platform", b.platform.as_str()),
        ("Instance type", b.instance_type.as_str()),
        ("Image", b.image_arn.as_str()),
        ("Region", b.region.as_str()),
        ("Session expires", expires.as_str()),
    ];
    let dl: String = rows
        .iter()
        .map(|(k, v)| format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(v)))
        .collect();
    let mut body = format!("<dl>{dl}</dl>");

    // Files.
    let base = format!("/connect/{}", url_encode(&token));
    body.push_str(&format!("<section><h2>Files in {}</h2>", escape(&dir)));
    match app.svc.list_builder_path(&cx, &b.name, &dir).await {
        Ok(entries) => {
            body.push_str("<table><thead><tr><th>Name</th><th>Size</th></tr></thead><tbody>");
            for e in entries {
                let name = if e.is_dir {
                    format!(
                        "<a href=\"{base}?path={}\">{}{}</a>",
                        url_encode(&e.path),
                        escape(&e.name),
                        if windows { "\\" } else { "/" }
                    )
                } else {
                    escape(&e.name)
                };
                let size = if e.is_dir {
                    String::new()
                } else {
                    e.size.to_string()
                };
                body.push_str(&format!("<tr><td>{name}</td><td>{size}</td></tr>"));
            }
            body.push_str("</tbody></table>");
        }
        Err(e) => body.push_str(&format!("<p>{}</p>", escape(&e.to_string()))),
    }
    body.push_str(&format!(
        "<h3>Upload a file to this folder</h3>\
         <input type=\"file\" id=\"file\"> <button id=\"upload\">Upload</button> <span id=\"status\"></span>\
         <script>\
         document.getElementById('upload').onclick = async () => {{\
           const f = document.getElementById('file').files[0]; if (!f) return;\
           const dir = {dir_js}; const sep = {sep_js};\
           const path = dir.endsWith(sep) ? dir + f.name : dir + sep + f.name;\
           const r = await fetch('{base}/files?path=' + encodeURIComponent(path), {{method: 'PUT', body: f}});\
           document.getElementById('status').textContent = r.ok ? 'uploaded' : await r.text();\
           if (r.ok) location.reload();\
         }};\
         </script></section>",
        dir_js = script_string(&dir),
        sep_js = script_string(if windows { "\\" } else { "/" }),
    ));

    // Windows settings.
    if let Some(settings) = b.attrs.os_settings {
        body.push_str("<section><h2>Windows settings</h2><dl>");
        for (k, v) in settings_view(&settings) {
            body.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v)));
        }
        body.push_str("</dl>");
        let toggle = |field: &str, label: &str, on: bool| {
            format!(
                "<form method=\"post\" action=\"{base}/settings\" style=\"display:inline\">\
                 <input type=\"hidden\" name=\"{field}\" value=\"{}\">\
                 <button type=\"submit\">{} {label}</button></form> ",
                if on { "off" } else { "on" },
                if on { "Disable" } else { "Enable" },
            )
        };
        body.push_str(&toggle(
            "windows_update",
            "Windows Update",
            settings.windows_update,
        ));
        if let Some(d) = settings.defender {
            body.push_str(&toggle("defender", "Windows Defender", d));
        }
        body.push_str("</section>");
    }
    html(
        StatusCode::OK,
        page(&format!("Connected to {}", b.name), &body),
    )
}

#[derive(Deserialize)]
pub struct UploadQuery {
    path: String,
}

pub async fn upload(
    State(app): State<App>,
    Path(token): Path<String>,
    Query(q): Query<UploadQuery>,
    body: Bytes,
) -> Response {
    let s = match app.svc.open_builder_session(&token).await {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    match app
        .svc
        .put_builder_file(&caller(&s), &s.builder.name, &q.path, &body)
        .await
    {
        Ok((path, _)) => (StatusCode::OK, format!("uploaded {path}")).into_response(),
        Err(e) => failure(e),
    }
}

#[derive(Deserialize)]
pub struct SettingsForm {
    windows_update: Option<String>,
    defender: Option<String>,
}

pub async fn settings(
    State(app): State<App>,
    Path(token): Path<String>,
    Form(f): Form<SettingsForm>,
) -> Response {
    let s = match app.svc.open_builder_session(&token).await {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    let on = |v: Option<String>| v.map(|v| v == "on");
    let result = app
        .svc
        .builder_os_settings(
            &caller(&s),
            &s.builder.name,
            on(f.windows_update),
            on(f.defender),
        )
        .await;
    match result {
        Ok(_) => Redirect::to(&format!("/connect/{}", url_encode(&token))).into_response(),
        Err(e) => failure(e),
    }
}

/// A streaming URL: opening it starts the user's session (once) and shows where it runs.
pub async fn stream_page(State(app): State<App>, Path(token): Path<String>) -> Response {
    match app.svc.open_stream(&token).await {
        Ok(s) => {
            let agent = app
                .svc
                .instance_agent(&s)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            let started = chrono::DateTime::from_timestamp_millis(s.started_at)
                .map_or_else(String::new, |t| t.to_rfc3339());
            let rows = [
                ("User", s.user_id.as_str()),
                ("Stack", s.stack.as_str()),
                ("Fleet", s.fleet.as_str()),
                ("Instance", s.instance_id.as_str()),
                ("Image", s.image_arn.as_str()),
                ("Agent", agent.as_str()),
                ("Session", s.id.as_str()),
                ("Started", started.as_str()),
            ];
            let dl: String = rows
                .iter()
                .map(|(k, v)| format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(v)))
                .collect();
            // While this page is open it tells Photon the user is still there; when it closes,
            // the fleet's disconnect timeout runs and then ends the session.
            let beat = format!(
                "/stream/heartbeat/{}",
                url_encode(&app.svc.session_heartbeat_token(&s))
            );
            let script = format!(
                "<p id=\"conn\">Connected.</p><script>(function(){{var u={u};\
                 function beat(){{fetch(u,{{method:'POST'}}).then(function(r){{\
                 if(r.status===404){{document.getElementById('conn').textContent=\
                 'This session has ended.';clearInterval(t);}}}});}}\
                 var t=setInterval(beat,{ms});}})();</script>",
                u = script_string(&beat),
                ms = photon_core::session::HEARTBEAT_SECS * 1000
            );
            html(
                StatusCode::OK,
                page("Streaming session", &format!("<dl>{dl}</dl>{script}")),
            )
        }
        Err(CoreError::LimitExceeded(msg)) => html(
            StatusCode::SERVICE_UNAVAILABLE,
            page("No capacity", &format!("<p>{}</p>", escape(&msg))),
        ),
        Err(e) => failure(e),
    }
}

/// The streaming page's heartbeat: its token names one session and is the credential.
pub async fn heartbeat(State(app): State<App>, Path(token): Path<String>) -> Response {
    match app.svc.session_heartbeat(&token).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(CoreError::NotFound(msg)) => (StatusCode::NOT_FOUND, msg).into_response(),
        Err(CoreError::NotPermitted(msg)) => (StatusCode::FORBIDDEN, msg).into_response(),
        Err(e) => failure(e),
    }
}
