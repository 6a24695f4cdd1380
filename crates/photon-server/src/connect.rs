//! The pages behind streaming URLs. The URL's token is the credential (no AWS signature), as
//! with AppStream's own streaming URLs. Today the builder page shows the builder; the file
//! system and OS settings join it with builder content.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use photon_core::CoreError;

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

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · Photon</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}}\
         dt{{font-weight:600}}dd{{margin:0 0 .5rem 0}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    )
}

pub async fn builder_page(State(app): State<App>, Path(token): Path<String>) -> Response {
    match app.svc.open_builder_session(&token).await {
        Ok(s) => {
            let b = &s.builder;
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
            Html(page(
                &format!("Connected to {}", b.name),
                &format!("<dl>{dl}</dl>"),
            ))
            .into_response()
        }
        Err(e) => {
            if let CoreError::Internal(detail) = &e {
                tracing::error!(%detail, "streaming page failed");
            }
            let status = match e {
                CoreError::NotFound(_) => StatusCode::NOT_FOUND,
                CoreError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::FORBIDDEN,
            };
            let msg = match &e {
                CoreError::Internal(_) => "the server hit an internal error; try again".to_owned(),
                other => other.to_string(),
            };
            (
                status,
                Html(page("Cannot connect", &format!("<p>{}</p>", escape(&msg)))),
            )
                .into_response()
        }
    }
}
