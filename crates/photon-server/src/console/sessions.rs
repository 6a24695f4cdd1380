//! Sessions: the streaming sessions of one stack and fleet, with Expire.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::html;
use photon_types::{ApiError, Caller, DescribeSessionsRequest, ExpireSessionRequest, Session};
use serde::Deserialize;
use serde_json::json;

use super::fleets::{all_stacks, fleets_of};
use super::{
    csrf_field, enc, error_box, label, notice_box, page_status, say, status_of, time, Fields, Nav,
    Signed,
};
use crate::server::App;

pub(super) fn router() -> Router<App> {
    Router::new()
        .route("/console/sessions", get(sessions_page))
        .route("/console/sessions/expire", post(expire))
}

// ---------------------------------------------------------------------------------------------
// Sessions.

#[derive(Deserialize, Default)]
pub(super) struct SessionQuery {
    /// `stack/fleet` (names cannot hold a `/`).
    at: Option<String>,
    notice: Option<String>,
}

/// Every (stack, fleet) pair sessions can run on: each stack with each associated fleet.
async fn pairs(app: &App, cx: &Caller) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for st in all_stacks(app, cx).await? {
        for fl in fleets_of(app, cx, &st.name).await? {
            out.push((st.name.clone(), fl));
        }
    }
    Ok(out)
}

async fn sessions_of(
    app: &App,
    cx: &Caller,
    stack: &str,
    fleet: &str,
) -> Result<Vec<Session>, ApiError> {
    all_pages!(
        app,
        cx,
        describe_sessions,
        DescribeSessionsRequest,
        json!({ "StackName": stack, "FleetName": fleet }),
        sessions
    )
}

fn sessions_url(at: &str) -> String {
    format!("/console/sessions?at={}", enc(at))
}

async fn sessions_page(
    State(app): State<App>,
    s: Signed,
    Query(q): Query<SessionQuery>,
) -> Response {
    render_sessions(
        &app,
        &s,
        q.at.as_deref(),
        q.notice.as_deref(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn render_sessions(
    app: &App,
    s: &Signed,
    at: Option<&str>,
    notice: Option<&str>,
    action_error: Option<&str>,
    status: StatusCode,
) -> Response {
    let cx = s.cx();
    let (pairs, pairs_error) = match pairs(app, &cx).await {
        Ok(p) => (p, None),
        Err(e) => (Vec::new(), Some(say(&e))),
    };
    let key = |(st, fl): &(String, String)| format!("{st}/{fl}");
    // With no choice made yet, the first stack and fleet are shown.
    let chosen: Option<(String, String)> = match at.filter(|a| !a.is_empty()) {
        Some(a) => a
            .split_once('/')
            .map(|(st, fl)| (st.to_owned(), fl.to_owned())),
        None => pairs.first().cloned(),
    };
    let chosen_key = chosen.as_ref().map(key).unwrap_or_default();
    let (sessions, list_error) = match &chosen {
        Some((st, fl)) => match sessions_of(app, &cx, st, fl).await {
            Ok(v) => (v, None),
            Err(e) => (Vec::new(), Some(say(&e))),
        },
        None => (Vec::new(), None),
    };
    let mut stacks: Vec<&str> = pairs.iter().map(|(st, _)| st.as_str()).collect();
    stacks.dedup();
    let content = html! {
        h1 { "Sessions" }
        (notice_box(notice))
        (error_box(pairs_error.as_deref()))
        form.toolbar method="get" action="/console/sessions" {
            label.inline for="session-at" { "Stack and fleet" }
            select #session-at name="at" {
                @if chosen.is_some() && !pairs.iter().any(|p| key(p) == chosen_key) {
                    option value=(chosen_key) selected { (chosen_key.replace('/', " · ")) " (not associated)" }
                }
                @for st in &stacks {
                    optgroup label=(format!("Stack {st}")) {
                        @for p in pairs.iter().filter(|(x, _)| x == st) {
                            option value=(key(p)) selected[key(p) == chosen_key] { (p.0) " · " (p.1) }
                        }
                    }
                }
            }
            button type="submit" { "Show sessions" }
        }
        @if pairs.is_empty() && pairs_error.is_none() {
            p.muted { "No stack has a fleet yet: create a stack and associate a fleet with it under " a href="/console/stacks" { "Stacks" } "." }
        }
        (error_box(action_error))
        (error_box(list_error.as_deref()))
        @if chosen.is_some() {
            div.table-wrap {
                table #sessions {
                    thead { tr { th { "User" } th { "State" } th { "Connection" } th { "Started" } th { "Instance" } th { "Session ID" } th {} } }
                    tbody {
                        @for x in &sessions {
                            tr data-user=(x.user_id) data-id=(x.id) {
                                td { (x.user_id) }
                                td { (label(x.state.as_str())) }
                                td { (x.connection_state.map_or_else(String::new, |c| label(c.as_str()))) }
                                td { (time(x.start_time)) }
                                td { (x.instance_id.as_deref().unwrap_or("")) }
                                td { code { (x.id) } }
                                td {
                                    @if x.state != photon_types::SessionState::Expired {
                                        form.inline method="post" action="/console/sessions/expire" {
                                            (csrf_field(s))
                                            input type="hidden" name="session" value=(x.id);
                                            input type="hidden" name="user" value=(x.user_id);
                                            input type="hidden" name="at" value=(chosen_key);
                                            button.danger type="submit" { "Expire" }
                                        }
                                    }
                                }
                            }
                        }
                        @if sessions.is_empty() && list_error.is_none() {
                            tr { td colspan="7" .muted { "No sessions on this stack and fleet." } }
                        }
                    }
                }
            }
        }
    };
    let back = if chosen_key.is_empty() {
        "/console/sessions".to_owned()
    } else {
        sessions_url(&chosen_key)
    };
    page_status(s, Nav::Sessions, &back, "Sessions", status, content)
}

async fn expire(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let at = f.get("at").to_owned();
    let user = f.get("user");
    match call!(
        app,
        &s.cx(),
        expire_session,
        ExpireSessionRequest,
        json!({ "SessionId": f.get("session") })
    ) {
        Ok(_) => Redirect::to(&format!(
            "{}&notice={}",
            sessions_url(&at),
            enc(&format!(
                "The session of {user} was ended; its instance is released."
            ))
        ))
        .into_response(),
        Err(e) => render_sessions(&app, &s, Some(&at), None, Some(&say(&e)), status_of(&e)).await,
    }
}
