//! The web console at `/console`: server-rendered pages for the seed's console procedures,
//! calling the same domain operations as the API. It owns sign-in cookies, CSRF checks, the
//! page layout and the console's static assets; each area (images, builders, fleets, stacks,
//! sessions) is its own module of small handlers.
//!
//! Requests from the console go through the model's own decoder (`call`), so a form is
//! validated exactly as the same request over the wire would be.

/// Runs an operation as the API would: the input through the model's decoder (`input`), then
/// the same `AppStream` handler, so errors are the API's own.
macro_rules! call {
    ($app:expr, $cx:expr, $op:ident, $req:ty, $json:expr) => {
        match $crate::console::input::<$req>($json) {
            Ok(req) => photon_types::AppStream::$op(&$app.svc, $cx, req).await,
            Err(e) => Err(e),
        }
    };
}

/// Every item of a listing, following the API's `NextToken` pages: `$field` of each page's
/// result, collected in order.
macro_rules! all_pages {
    ($app:expr, $cx:expr, $op:ident, $req:ty, $json:expr, $field:ident) => {{
        let first: serde_json::Value = $json;
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut req = first.clone();
            if let Some(n) = &next {
                req["NextToken"] = serde_json::json!(n);
            }
            match call!($app, $cx, $op, $req, req) {
                Ok(r) => {
                    out.extend(r.$field.unwrap_or_default());
                    next = r.next_token;
                    if next.is_none() {
                        break Ok::<_, photon_types::ApiError>(out);
                    }
                }
                Err(e) => break Err(e),
            }
        }
    }};
}

mod builders;
mod fleets;
mod images;
mod sessions;
mod stacks;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use maud::{html, Markup, DOCTYPE};
use photon_core::console::Credentials;
use photon_core::CoreError;
use photon_store::ConsoleSessionRecord;
use photon_types::{ApiError, Caller, Decode};
use serde::Deserialize;

use crate::server::App;

const COOKIE: &str = "photon_console";
/// The double-submit token that protects the sign-in form itself (there is no session yet).
const LOGIN_COOKIE: &str = "photon_console_login";

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");
const CONNECT_CSS: &str = include_str!("assets/connect.css");

pub(crate) fn router() -> Router<App> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/images") }),
        )
        .route(
            "/console/",
            get(|| async { Redirect::to("/console/images") }),
        )
        .route("/console/signin", get(signin_page).post(signin))
        .route("/console/signout", post(signout))
        .route("/console/region", post(region))
        .route("/console/state", get(state))
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
        .route("/console/assets/connect.css", get(connect_css))
        .merge(images::router())
        .merge(builders::router())
        .merge(fleets::router())
        .merge(stacks::router())
        .merge(sessions::router())
}

// ---------------------------------------------------------------------------------------------
// Requests into the domain.

/// Builds an operation's input from JSON through the model's decoder, so every constraint the
/// API checks is checked here too, with the same message.
pub(crate) fn input<T: Decode>(json: serde_json::Value) -> Result<T, ApiError> {
    let bytes = serde_json::to_vec(&json).map_err(|e| {
        ApiError::new(
            photon_types::ErrorCode::SerializationException,
            e.to_string(),
        )
    })?;
    let value = photon_protocol::decode_body(photon_protocol::Protocol::AwsJson11, &bytes)?;
    photon_types::decode::decode_input(value)
}

/// An error as the console shows it: the domain's own words.
/// An operation's refusal as the console shows it (an internal error was logged where it
/// became an `ApiError`).
pub(crate) fn say(e: &ApiError) -> String {
    if e.code == photon_types::ErrorCode::InternalFailure {
        return photon_core::INTERNAL_MESSAGE.into();
    }
    e.message.clone()
}

pub(crate) fn say_core(e: &CoreError) -> String {
    e.public_message("console")
}

/// The status of a page that shows a domain refusal.
pub(crate) fn refusal_status(e: &CoreError) -> StatusCode {
    StatusCode::from_u16(e.page_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The HTTP status the API gives the same error, so a refused form answers like the API.
pub(crate) fn status_of(e: &ApiError) -> StatusCode {
    StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
}

/// An image's name from its ARN.
pub(crate) fn image_name_of(arn: &str) -> &str {
    arn.rsplit_once("image/").map_or(arn, |(_, n)| n)
}

/// Back to a list after an action, with a notice and the resource still selected.
pub(crate) fn redirect(base: &str, notice: &str, key: &str, selected: Option<&str>) -> Response {
    let mut u = format!("{base}?notice={}", enc(notice));
    if let Some(v) = selected {
        u.push_str(&format!("&{key}={}", enc(v)));
    }
    Redirect::to(&u).into_response()
}

/// A dialog: the seed's "dialog box", as a page of its own so it works without script.
pub(crate) fn dialog(
    s: &Signed,
    nav: Nav,
    back: &str,
    title: &str,
    status: StatusCode,
    body: Markup,
) -> Response {
    let content = html! {
        section.card.dialog role="dialog" aria-labelledby="dialog-title" {
            h1 #dialog-title { (title) }
            (body)
        }
    };
    page_status(s, nav, back, title, status, content)
}

/// What a delete confirmation is about.
pub(crate) struct DeleteDialog<'a> {
    pub nav: Nav,
    /// "image", "image builder", "fleet", "stack".
    pub what: &'a str,
    pub name: &'a str,
    /// What must be true first, in the seed's words where it has them.
    pub hint: &'a str,
    pub action: &'a str,
    /// The hidden field that names the resource, and its value.
    pub field: &'a str,
    pub value: &'a str,
    /// Where Cancel goes.
    pub back: &'a str,
}

/// The seed's "choose Delete, then choose Delete again", for every kind of resource.
pub(crate) fn delete_dialog(
    s: &Signed,
    d: &DeleteDialog<'_>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let article = if d.what.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    let body = html! {
        p { "Delete " (d.what) " " strong { (d.name) } "? After you delete " (article) " " (d.what) ", you can't recover it." }
        p.hint { (d.hint) }
        form method="post" action=(d.action) {
            (csrf_field(s))
            input type="hidden" name=(d.field) value=(d.value);
            (error_box(error))
            div.actions-row {
                a.button href=(d.back) { "Cancel" }
                button.danger type="submit" { "Delete" }
            }
        }
    };
    dialog(
        s,
        d.nav,
        d.back,
        &format!("Delete {}", d.what),
        status,
        body,
    )
}

// ---------------------------------------------------------------------------------------------
// Sessions.

/// A signed-in browser: the extractor redirects to the sign-in page when there is none.
pub(crate) struct Signed {
    pub session: ConsoleSessionRecord,
    pub token: String,
    pub regions: Vec<String>,
}

impl Signed {
    pub(crate) fn cx(&self) -> Caller {
        Caller {
            account_id: self.session.account_id.clone(),
            region: self.session.region.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Refuses a form that does not carry this session's CSRF token.
    // The refusal is the page itself, returned once per request: boxing it buys nothing.
    #[allow(clippy::result_large_err)]
    pub(crate) fn check(&self, f: &Fields) -> Result<(), Response> {
        if !same(f.get("csrf"), &self.session.csrf) {
            return Err(message_page(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was not sent from this console session. Reload the page and try again.",
            ));
        }
        // A page opened before the region was switched (in another tab, say) must not act on
        // a resource of the same name in the new region.
        let region = f.get("region");
        if !region.is_empty() && region != self.session.region {
            return Err(message_page(
                StatusCode::CONFLICT,
                "The region has changed",
                &format!(
                    "This form was for {region}, but your console now works in {}. Nothing was \
                     changed: switch back to {region} with the region selector, or reload the \
                     page and try again.",
                    self.session.region
                ),
            ));
        }
        Ok(())
    }
}

/// Equal without a timing difference that tells how much of a guess was right.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Only console paths are followed after sign-in, so a link cannot send a user elsewhere.
fn safe_next(next: &str) -> &str {
    if next.starts_with("/console/")
        && !next.starts_with("//")
        && !next.contains("://")
        && next.bytes().all(|b| b.is_ascii_graphic())
    {
        next
    } else {
        "/console/images"
    }
}

impl FromRequestParts<App> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let back = parts
            .uri
            .path_and_query()
            .map_or("/console/images", |p| p.as_str());
        let to_signin = || {
            if parts.method == axum::http::Method::GET {
                Redirect::to(&format!("/console/signin?next={}", enc(safe_next(back))))
                    .into_response()
            } else {
                Redirect::to("/console/signin").into_response()
            }
        };
        let Some(token) = jar.get(COOKIE).map(|c| c.value().to_owned()) else {
            return Err(to_signin());
        };
        match app.svc.console_session(&token).await {
            Ok(Some(session)) => Ok(Signed {
                session,
                token,
                regions: app.svc.regions().to_vec(),
            }),
            Ok(None) => Err(to_signin()),
            Err(e) => Err(message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Cannot check your sign-in",
                &say_core(&e),
            )),
        }
    }
}

/// A form's fields in order (repeated names keep every value).
#[derive(Deserialize, Default)]
#[serde(transparent)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(crate) fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.as_str())
    }
    pub(crate) fn opt(&self, k: &str) -> Option<&str> {
        Some(self.get(k).trim()).filter(|v| !v.is_empty())
    }
    pub(crate) fn has(&self, k: &str) -> bool {
        self.0.iter().any(|(n, _)| n == k)
    }
    pub(crate) fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering.

pub(crate) use crate::pct::path as enc;

fn headers(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            ("cache-control", "no-store"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
            (
                "content-security-policy",
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
            ("content-type", "text/html; charset=utf-8"),
        ],
        body,
    )
        .into_response()
}

/// Which surface a document belongs to: its stylesheet, script and title suffix.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sheet {
    /// The signed-in console and its sign-in page.
    Console,
    /// The image builder's connect page and the streaming page (`connect.rs`), which carry
    /// their own inline scripts.
    Connect,
}

/// The one HTML document every page of the console, the connect pages and the streaming page
/// is written into.
pub(crate) fn document(title: &str, sheet: Sheet, body: Markup) -> String {
    let (suffix, css) = match sheet {
        Sheet::Console => (" · Photon console", "/console/assets/console.css"),
        Sheet::Connect => (" · Photon", "/console/assets/connect.css"),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) (suffix) }
                link rel="stylesheet" href=(css);
                @if sheet == Sheet::Console {
                    script src="/console/assets/console.js" defer {}
                }
            }
            body { (body) }
        }
    }
    .into_string()
}

/// Where a page sits in the navigation pane.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    ImageRegistry,
    ImageBuilder,
    Fleets,
    Stacks,
    Sessions,
}

pub(crate) fn region_name(code: &str) -> &str {
    code
}

/// A signed-in page: header (account, region selector, sign out), navigation pane, content.
pub(crate) fn page(s: &Signed, nav: Nav, back: &str, title: &str, content: Markup) -> Response {
    page_status(s, nav, back, title, StatusCode::OK, content)
}

pub(crate) fn page_status(
    s: &Signed,
    nav: Nav,
    back: &str,
    title: &str,
    status: StatusCode,
    content: Markup,
) -> Response {
    let item = |n: Nav, href: &str, label: &str| {
        html! {
            li { a href=(href) aria-current=[(n == nav).then_some("page")] { (label) } }
        }
    };
    let body = html! {
        header.top {
            a.brand href="/console/images" { "Photon" }
            span.account { "Account " strong #account { (s.session.account_id) } }
            form.region method="post" action="/console/region" {
                input type="hidden" name="csrf" value=(s.session.csrf);
                input type="hidden" name="back" value=(back);
                label for="region-select" { "Region" }
                select #region-select name="switch_to" data-autosubmit {
                    @for r in &s.regions {
                        option value=(r) selected[*r == s.session.region] { (region_name(r)) }
                    }
                }
                button.js-hide type="submit" { "Switch" }
            }
            form.signout method="post" action="/console/signout" {
                input type="hidden" name="csrf" value=(s.session.csrf);
                button type="submit" { "Sign out" }
            }
        }
        div.shell {
            nav.side aria-label="Navigation pane" {
                ul {
                    li {
                        span.group { "Images" }
                        ul {
                            (item(Nav::ImageRegistry, "/console/images", "Image Registry"))
                            (item(Nav::ImageBuilder, "/console/builders", "Image Builder"))
                        }
                    }
                    (item(Nav::Fleets, "/console/fleets", "Fleets"))
                    (item(Nav::Stacks, "/console/stacks", "Stacks"))
                    (item(Nav::Sessions, "/console/sessions", "Sessions"))
                }
            }
            main #main { (content) }
        }
    };
    headers(status, document(title, Sheet::Console, body))
}

/// A page for a refusal outside any form (expired form, broken session store).
pub(crate) fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = html! {
        main.narrow {
            h1 { (title) }
            p role="alert" { (text) }
            p { a href="/console/images" { "Back to the console" } }
        }
    };
    headers(status, document(title, Sheet::Console, body))
}

/// The error box shown beside the action that failed.
pub(crate) fn error_box(error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error {
            div.error role="alert" { (e) }
        }
    }
}

/// A short success message at the top of a page, carried across a redirect in the query.
pub(crate) fn notice_box(notice: Option<&str>) -> Markup {
    html! {
        @if let Some(n) = notice.filter(|n| !n.is_empty()) {
            div.notice role="status" { (n) }
        }
    }
}

/// The hidden fields of every console form: the session's CSRF token and the region the page
/// was shown in (see `Signed::check`).
pub(crate) fn csrf_field(s: &Signed) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(s.session.csrf);
        input type="hidden" name="region" value=(s.session.region);
    }
}

/// A state badge; while `busy` the console's script polls `/console/state` and updates it in
/// place until the resource settles.
pub(crate) fn badge(kind: &str, id: &str, state: &str) -> Markup {
    let busy = is_busy(kind, state);
    let failed = photon_core::states::Kind::parse(kind).is_some_and(|k| k.failed(state));
    html! {
        span.badge.(format!("s-{}", state.to_ascii_lowercase()))
            data-kind=(kind) data-id=(id) data-state=(state) data-busy[busy] {
            @if failed { span.alert-icon aria-hidden="true" { "!" } " " }
            (label(state))
        }
    }
}

/// `PENDING_QUALIFICATION` → `Pending Qualification`.
pub(crate) fn label(state: &str) -> String {
    state
        .split('_')
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut c = lower.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the badge of a `kind` in `state` keeps polling: the domain's state machine decides.
fn is_busy(kind: &str, state: &str) -> bool {
    photon_core::states::Kind::parse(kind).is_some_and(|k| !k.settled(state))
}

pub(crate) fn time(ms: Option<photon_types::Timestamp>) -> String {
    ms.and_then(|t| chrono::DateTime::from_timestamp_millis(t.millis()))
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

// ---------------------------------------------------------------------------------------------
// Handlers of the shell.

#[derive(Deserialize, Default)]
struct SigninQuery {
    next: Option<String>,
}

fn random_login_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A browser-session cookie (gone when the browser closes; the server ends the session at its
/// expiry either way).
fn cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/console")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .build()
}

fn signin_form(
    app: &App,
    login: &str,
    next: &str,
    f: &Fields,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let regions = app.svc.regions();
    let chosen = f
        .opt("region")
        .unwrap_or(regions.first().map_or("", String::as_str));
    let method = f.opt("method").unwrap_or("key");
    let region_select = html! {
        label for="signin-region" { "Region" }
        select #signin-region name="region" {
            @for r in regions {
                option value=(r) selected[r == chosen] { (region_name(r)) }
            }
        }
    };
    let body = html! {
        main.narrow {
            h1 { "Sign in to the Photon console" }
            p { "Sign in with an access key of your account, or with the console password an operator set with "
                code { "photon accounts set-password" } "." }
            (error_box(error))
            form.card method="post" action="/console/signin" {
                input type="hidden" name="login" value=(login);
                input type="hidden" name="next" value=(next);
                fieldset {
                    legend { "Sign in with" }
                    label.inline { input type="radio" name="method" value="key" checked[method == "key"]; " Access key" }
                    label.inline { input type="radio" name="method" value="password" checked[method == "password"]; " Account ID and console password" }
                }
                div.field data-method="key" {
                    label for="access-key-id" { "Access key ID" }
                    input #access-key-id name="access_key_id" autocomplete="username" value=(f.get("access_key_id"));
                    label for="secret-access-key" { "Secret access key" }
                    input #secret-access-key name="secret_access_key" type="password" autocomplete="current-password";
                }
                div.field data-method="password" {
                    label for="account-id" { "Account ID" }
                    input #account-id name="account_id" inputmode="numeric" pattern="[0-9]{12}" value=(f.get("account_id"));
                    label for="password" { "Console password" }
                    input #password name="password" type="password" autocomplete="current-password";
                }
                div.field { (region_select) }
                button.primary type="submit" { "Sign in" }
            }
        }
    };
    let jar = CookieJar::new().add(cookie(LOGIN_COOKIE, login.to_owned()));
    (
        jar,
        headers(status, document("Sign in", Sheet::Console, body)),
    )
        .into_response()
}

async fn signin_page(State(app): State<App>, Query(q): Query<SigninQuery>) -> Response {
    let next = safe_next(q.next.as_deref().unwrap_or("")).to_owned();
    signin_form(
        &app,
        &random_login_token(),
        &next,
        &Fields::default(),
        None,
        StatusCode::OK,
    )
}

async fn signin(State(app): State<App>, jar: CookieJar, Form(f): Form<Fields>) -> Response {
    let next = safe_next(f.get("next")).to_owned();
    let login = f.get("login").to_owned();
    let fresh = random_login_token();
    if login.is_empty() || jar.get(LOGIN_COOKIE).map(|c| c.value()) != Some(login.as_str()) {
        return signin_form(
            &app,
            &fresh,
            &next,
            &f,
            Some("The sign-in form expired (or cookies are off for this site). Enable cookies and sign in again."),
            StatusCode::FORBIDDEN,
        );
    }
    let creds = if f.get("method") == "password" {
        Credentials::Password {
            account_id: f.get("account_id").to_owned(),
            password: f.get("password").to_owned(),
        }
    } else {
        Credentials::AccessKey {
            access_key_id: f.get("access_key_id").to_owned(),
            secret_access_key: f.get("secret_access_key").to_owned(),
        }
    };
    match app.svc.console_sign_in(creds, f.get("region")).await {
        Ok((token, s)) => {
            tracing::info!(account = %s.account_id, "console sign-in");
            let jar = jar
                .add(cookie(COOKIE, token))
                .remove(Cookie::build(LOGIN_COOKIE).path("/console"));
            (jar, Redirect::to(&next)).into_response()
        }
        Err(e) => {
            // A refused sign-in is a failed authentication, not a forbidden action.
            let status = if matches!(e, CoreError::NotPermitted(_)) {
                StatusCode::UNAUTHORIZED
            } else {
                refusal_status(&e)
            };
            signin_form(&app, &fresh, &next, &f, Some(&say_core(&e)), status)
        }
    }
}

async fn signout(
    State(app): State<App>,
    s: Signed,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    if let Err(e) = app.svc.console_sign_out(&s.token).await {
        return message_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Cannot sign out",
            &say_core(&e),
        );
    }
    let jar = jar.remove(Cookie::build(COOKIE).path("/console"));
    (jar, Redirect::to("/console/signin")).into_response()
}

async fn region(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    match app
        .svc
        .console_set_region(&s.token, f.get("switch_to"))
        .await
    {
        // The page's selection belongs to the old region: go back to the list.
        Ok(()) => {
            Redirect::to(safe_next(f.get("back").split('?').next().unwrap_or(""))).into_response()
        }
        Err(e) => message_page(
            StatusCode::BAD_REQUEST,
            "Cannot switch region",
            &say_core(&e),
        ),
    }
}

#[derive(Deserialize)]
struct StateQuery {
    kind: String,
    id: String,
}

/// A resource's state, for the badges that update while work is in progress.
async fn state(State(app): State<App>, s: Signed, Query(q): Query<StateQuery>) -> Response {
    let cx = s.cx();
    let found = match q.kind.as_str() {
        "image" => images::state_of(&app, &cx, &q.id).await,
        "builder" => builders::state_of(&app, &cx, &q.id).await,
        "fleet" => fleets::state_of(&app, &cx, &q.id).await,
        _ => Err("unknown kind".to_owned()),
    };
    let json = match found {
        Ok(Some(state)) => serde_json::json!({
            "state": state,
            "label": label(&state),
            "busy": is_busy(&q.kind, &state),
        }),
        // Gone (deleted): the badge says so and stops asking.
        Ok(None) => serde_json::json!({"state": "DELETED", "label": "Deleted", "busy": false}),
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    (
        [
            ("cache-control", "no-store"),
            ("content-type", "application/json"),
        ],
        json.to_string(),
    )
        .into_response()
}

async fn css() -> Response {
    stylesheet(CSS)
}

async fn connect_css() -> Response {
    stylesheet(CONNECT_CSS)
}

fn stylesheet(text: &'static str) -> Response {
    (
        [
            ("content-type", "text/css; charset=utf-8"),
            ("cache-control", "no-cache"),
        ],
        text,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            ("content-type", "text/javascript; charset=utf-8"),
            ("cache-control", "no-cache"),
        ],
        JS,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Row editors (accounts of a share, tags).

/// The rows of a row editor named `kind`, in order: each row has a hidden `{kind}_row` field
/// with its index. Without script, `add_row` and `remove_row` buttons come back to the server,
/// which applies them here and shows the form again instead of acting on it.
pub(crate) struct Rows {
    pub ids: Vec<String>,
    /// True when the submission was an add or remove, not the form's own button.
    pub edited: bool,
}

pub(crate) fn rows(f: &Fields, kind: &str) -> Rows {
    let mut ids: Vec<String> = f
        .all(&format!("{kind}_row"))
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut edited = false;
    if f.get("add_row") == kind {
        let next = ids
            .iter()
            .filter_map(|i| i.parse::<u32>().ok())
            .max()
            .map_or(0, |m| m + 1);
        ids.push(next.to_string());
        edited = true;
    }
    if let Some(gone) = f
        .get("remove_row")
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix(':'))
    {
        ids.retain(|i| i != gone);
        edited = true;
    }
    Rows { ids, edited }
}

/// The tag editor: key and value per row, "Add Tag", and an X per row.
pub(crate) fn tag_editor(f: &Fields, ids: &[String]) -> Markup {
    let row = |i: &str, k: &str, v: &str| {
        html! {
            div.row {
                input type="hidden" name="tag_row" value=(i);
                input name=(format!("tag_key_{i}")) aria-label="Tag key" placeholder="Key" value=(k);
                input name=(format!("tag_value_{i}")) aria-label="Tag value" placeholder="Value" value=(v);
                button.icon type="submit" name="remove_row" value=(format!("tag:{i}")) aria-label="Remove tag" title="Remove tag" { "✕" }
            }
        }
    };
    html! {
        div data-rows="tag" {
            h3 { "Tags" }
            div.rows {
                @for i in ids {
                    (row(i, f.get(&format!("tag_key_{i}")), f.get(&format!("tag_value_{i}"))))
                }
            }
            template { (row("__I__", "", "")) }
            button type="submit" name="add_row" value="tag" { "Add Tag" }
        }
    }
}

/// The tags a tag editor holds, as a JSON map (rows with an empty key are ignored).
pub(crate) fn tags_of(f: &Fields, ids: &[String]) -> serde_json::Map<String, serde_json::Value> {
    ids.iter()
        .filter_map(|i| {
            let k = f.get(&format!("tag_key_{i}")).trim();
            (!k.is_empty()).then(|| {
                (
                    k.to_owned(),
                    serde_json::Value::String(f.get(&format!("tag_value_{i}")).to_owned()),
                )
            })
        })
        .collect()
}
