//! The pages behind streaming URLs. The URL's token is the credential (no AWS signature), as
//! with AppStream's own streaming URLs. Connecting to a builder shows it, the Image Assistant
//! (add apps, default app and Windows settings, configure, review and create the image, by the
//! same domain operations as `photon image-assistant`), its file system (browse, upload) and,
//! on Windows, its Windows Update and Windows Defender settings.
//!
//! The Image Assistant's forms post to `/connect/{token}/assistant` ([`routes`]); they carry no
//! CSRF token because the credential is the URL itself, never something a browser adds to a
//! request on its own.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use maud::{html, Markup, PreEscaped};
use photon_core::builder::BuilderSession;
use photon_core::content::{is_windows, settings_view};
use photon_core::image_assistant::{Operation, Reply};
use photon_core::session::Connection;
use photon_core::CoreError;
use photon_store::AppRecord;
use photon_types::Caller;
use serde::Deserialize;

use crate::console::{rows, tag_editor, tags_of, Fields};
use crate::server::App;

/// The routes of the Image Assistant's forms (the page itself and its file and settings
/// routes are in `server.rs`).
pub(crate) fn routes() -> Router<App> {
    Router::new().route("/connect/{token}/assistant", post(assistant))
}

use crate::pct::component as url_encode;

/// A JSON string literal safe inside an inline `<script>`: no `<`, `>` or `&` can close the
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
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
            ("content-type", "text/html; charset=utf-8"),
        ],
        body,
    )
        .into_response()
}

/// A connect or streaming page, in the console's document (`console::document`).
fn page(title: &str, body: Markup) -> String {
    crate::console::document(
        title,
        crate::console::Sheet::Connect,
        html! { h1 { (title) } (body) },
    )
}

use crate::console::refusal_status as page_status;

fn failure(e: CoreError) -> Response {
    let msg = e.public_message("streaming page");
    html(
        page_status(&e),
        page("Cannot connect", html! { p { (msg) } }),
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

// ---------------------------------------------------------------------------------------------
// The Image Assistant.

/// The Image Assistant's steps, as its tabs are numbered in the tutorial.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Apps,
    Settings,
    Image,
    Review,
    Create,
}

impl Step {
    const ALL: [(Step, &'static str, &'static str); 5] = [
        (Step::Apps, "apps", "1. Add Apps"),
        (Step::Settings, "settings", "2. Configure Apps"),
        (Step::Image, "image", "3. Configure Image"),
        (Step::Review, "review", "4. Review"),
        (Step::Create, "create", "5. Create"),
    ];

    fn parse(s: &str) -> Step {
        match s {
            "settings" => Step::Settings,
            "image" => Step::Image,
            _ => Step::Apps,
        }
    }

    fn key(self) -> &'static str {
        Step::ALL
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or("apps", |(_, k, _)| k)
    }
}

/// Where the page is, for its links and forms.
struct Here<'a> {
    token: &'a str,
    session: &'a BuilderSession,
}

impl Here<'_> {
    fn base(&self) -> String {
        format!("/connect/{}", url_encode(self.token))
    }
    fn step_url(&self, step: Step) -> String {
        format!("{}?step={}", self.base(), step.key())
    }
    fn action(&self) -> String {
        format!("{}/assistant", self.base())
    }
    fn windows(&self) -> bool {
        is_windows(&self.session.builder.platform)
    }
}

fn steps(here: &Here<'_>, current: Step) -> Markup {
    html! {
        ol.steps aria-label="Image Assistant steps" {
            @for (step, _, words) in Step::ALL {
                li aria-current=[(step == current).then_some("step")] {
                    // Review and Create are reached through the forms, which carry the image's
                    // settings; the other tabs can be revisited at any time.
                    @if matches!(step, Step::Apps | Step::Settings | Step::Image) && step != current {
                        a href=(here.step_url(step)) { (words) }
                    } @else {
                        (words)
                    }
                }
            }
        }
    }
}

use crate::console::{error_box, notice_box};

fn refusal(r: &Reply, next: &str) -> String {
    if r.status == 255 {
        r.message.clone()
    } else {
        let m = r.message.trim_end_matches('.');
        format!("{m}. {next}")
    }
}

/// The builder's files and folders to pick from (bounded, so a huge tree still renders).
async fn walk(app: &App, cx: &Caller, here: &Here<'_>) -> (Vec<String>, Vec<String>) {
    const MAX_DIRS: usize = 400;
    const MAX_FILES: usize = 3000;
    app.svc
        .builder_tree(cx, &here.session.builder.name, MAX_DIRS, MAX_FILES)
        .await
        .unwrap_or_default()
}

fn lower_ends(p: &str, exts: &[&str]) -> bool {
    let l = p.to_ascii_lowercase();
    exts.iter().any(|e| l.ends_with(e))
}

async fn apps_panel(
    app: &App,
    cx: &Caller,
    here: &Here<'_>,
    f: &Fields,
    error: Option<&str>,
    notice: Option<&str>,
) -> Markup {
    let listed = app
        .svc
        .image_assistant(cx, &here.session.builder.name, Operation::ListApplications)
        .await;
    let (apps, list_error) = if listed.status == 0 {
        (listed.applications.unwrap_or_default(), None)
    } else {
        (
            Vec::new(),
            Some(refusal(&listed, "Reload the page to try again.")),
        )
    };
    let (files, dirs) = walk(app, cx, here).await;
    let windows = here.windows();
    let programs: Vec<&String> = files
        .iter()
        .filter(|p| !windows || lower_ends(p, &[".exe", ".bat"]))
        .collect();
    let icons: Vec<&String> = files
        .iter()
        .filter(|p| lower_ends(p, &[".png", ".jpg", ".jpeg", ".bmp"]))
        .collect();
    let picked = f.get("app_pick");
    let icon = f.get("icon");
    let wd = f.get("working_directory");
    html! {
        (notice_box(notice))
        (error_box(list_error.as_deref()))
        h3 { "Applications in the catalog" }
        table #catalog {
            thead { tr { th { "Name" } th { "Display name" } th { "Path" } th { "Launch parameters" } th {} } }
            tbody {
                @for a in &apps {
                    tr data-app=(a.name) {
                        td { (a.name) }
                        td { (a.display_name.as_deref().unwrap_or("")) }
                        td { (a.launch_path) }
                        td { (a.launch_parameters.as_deref().unwrap_or("")) }
                        td {
                            form method="post" action=(here.action()) {
                                input type="hidden" name="op" value="remove";
                                input type="hidden" name="app" value=(a.name);
                                button type="submit" aria-label=(format!("Remove {}", a.name)) { "Remove" }
                            }
                        }
                    }
                }
                @if apps.is_empty() {
                    tr { td colspan="5" { "No applications yet: add the applications your users stream." } }
                }
            }
        }
        h3 { "Add App" }
        p.hint { "Install the application on the builder first (upload its files below), then choose its executable here." }
        form method="post" action=(here.action()) {
            input type="hidden" name="op" value="add";
            div.field {
                label for="app-pick" { "Executable" }
                select #app-pick name="app_pick" {
                    option value="" { "Choose a file" }
                    @for p in &programs {
                        option value=(p) selected[p.as_str() == picked] { (p) }
                    }
                }
                label for="app-path" { "Or type the executable's path" }
                input #app-path name="app_path" placeholder=(if windows { "C:\\Program Files\\App\\app.exe" } else { "/opt/app/bin/app" }) value=(f.get("app_path"));
                label for="app-name" { "Name" }
                input #app-name name="name" maxlength="256" value=(f.get("name"));
                p.hint { "Leave empty to use the file's name. No spaces." }
                label for="app-display-name" { "Display name (optional)" }
                input #app-display-name name="display_name" maxlength="256" value=(f.get("display_name"));
                label for="app-icon" { "Icon path (optional)" }
                select #app-icon name="icon" {
                    option value="" { "The application's own icon" }
                    @for p in &icons {
                        option value=(p) selected[p.as_str() == icon] { (p) }
                    }
                }
                label for="app-working-directory" { "Working directory (optional)" }
                select #app-working-directory name="working_directory" {
                    option value="" { "None" }
                    @for d in &dirs {
                        option value=(d) selected[d.as_str() == wd] { (d) }
                    }
                }
                label for="app-launch-parameters" { "Launch parameters (optional)" }
                input #app-launch-parameters name="launch_parameters" value=(f.get("launch_parameters"));
            }
            (error_box(error))
            div.actions {
                button type="submit" { "Add App" }
                a href=(here.step_url(Step::Settings)) { "Next" }
            }
        }
    }
}

async fn settings_panel(
    app: &App,
    cx: &Caller,
    here: &Here<'_>,
    f: &Fields,
    error: Option<&str>,
    notice: Option<&str>,
) -> Markup {
    let b = &here.session.builder;
    if !here.windows() {
        return html! {
            (notice_box(notice))
            p { "Open each application on the builder and set it up the way your users should find it. The Linux Image Assistant has no default profile to save: its settings stay in the image as they are." }
            div.actions {
                a href=(here.step_url(Step::Apps)) { "Previous" }
                a href=(here.step_url(Step::Image)) { "Next" }
            }
        };
    }
    // The users with a profile folder on the builder, whose settings can become the default.
    let users: Vec<String> = app
        .svc
        .list_builder_path(cx, &b.name, "C:\\Users")
        .await
        .map(|v| {
            v.into_iter()
                .filter(|e| {
                    e.is_dir && !["Public", "Default", "Template User"].contains(&e.name.as_str())
                })
                .map(|e| format!(".\\{}", e.name))
                .collect()
        })
        .unwrap_or_default();
    let chosen = f.get("profile");
    html! {
        (notice_box(notice))
        p { "Sign in as Template User, open each application and create the default settings your users should start with (and any default Windows settings), then save them: Image Assistant copies that user's profile to the default profile of the image." }
        p { "Default profile now: " strong #default-profile { (b.attrs.default_profile.as_deref().unwrap_or("not saved yet")) } }
        form method="post" action=(here.action()) {
            input type="hidden" name="op" value="profile";
            div.field {
                label for="profile" { "Choose which user settings to copy" }
                select #profile name="profile" {
                    option value="" { "Template User" }
                    @for u in &users {
                        option value=(u) selected[u.as_str() == chosen] { (u) }
                    }
                }
            }
            (error_box(error))
            div.actions {
                a href=(here.step_url(Step::Apps)) { "Previous" }
                button type="submit" { "Save settings" }
                a href=(here.step_url(Step::Image)) { "Next" }
            }
        }
        p.hint { "Windows Update and Windows Defender are set under Windows settings below." }
    }
}

/// The image settings of step 3, as the forms carry them.
struct ImageForm {
    name: String,
    display_name: Option<String>,
    description: Option<String>,
    latest_agent: bool,
    tags: Vec<(String, String)>,
}

fn image_form(f: &Fields, tag_ids: &[String]) -> ImageForm {
    ImageForm {
        name: f.get("image_name").trim().to_owned(),
        display_name: f.opt("image_display_name").map(str::to_owned),
        description: f.opt("image_description").map(str::to_owned),
        // The tutorial's default is on; once the form was sent, the box says.
        latest_agent: !f.has("image_form") || f.has("latest_agent"),
        tags: tags_of(f, tag_ids)
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect(),
    }
}

fn create_op(i: &ImageForm, dry_run: bool) -> Operation {
    Operation::CreateImage {
        name: i.name.clone(),
        description: i.description.clone(),
        display_name: i.display_name.clone(),
        enable_dynamic_app_catalog: false,
        use_latest_agent_version: i.latest_agent,
        tags: i
            .tags
            .iter()
            .flat_map(|(k, v)| [k.clone(), v.clone()])
            .collect(),
        dry_run,
    }
}

fn image_panel(here: &Here<'_>, f: &Fields, tag_ids: &[String], error: Option<&str>) -> Markup {
    let i = image_form(f, tag_ids);
    html! {
        form method="post" action=(here.action()) {
            input type="hidden" name="op" value="review";
            input type="hidden" name="image_form" value="1";
            div.field {
                label for="image-name" { "Name" }
                input #image-name name="image_name" maxlength="100" value=(i.name);
                p.hint { "Unique in the account and region; it can't begin with \"Amazon\", \"AWS\" or \"AppStream\"." }
                label for="image-display-name" { "Display name (optional)" }
                input #image-display-name name="image_display_name" maxlength="256" value=(i.display_name.as_deref().unwrap_or(""));
                label for="image-description" { "Description (optional)" }
                input #image-description name="image_description" maxlength="256" value=(i.description.as_deref().unwrap_or(""));
            }
            p {
                label for="latest-agent" {
                    input #latest-agent type="checkbox" name="latest_agent" value="on" checked[i.latest_agent];
                    " Always use latest agent version"
                }
            }
            p.hint { "Streaming instances launched from the image then always run the newest AppStream agent. If you clear it, you can't turn it on again for this image." }
            (tag_editor(f, tag_ids))
            (error_box(error))
            div.actions {
                a href=(here.step_url(Step::Settings)) { "Previous" }
                button type="submit" { "Next" }
            }
        }
    }
}

fn review_panel(
    here: &Here<'_>,
    f: &Fields,
    tag_ids: &[String],
    apps: &[AppRecord],
    warnings: &[String],
    error: Option<&str>,
) -> Markup {
    let i = image_form(f, tag_ids);
    let b = &here.session.builder;
    let yes = |on: bool| if on { "Yes" } else { "No" };
    html! {
        h3 { "Applications" }
        table #review-apps {
            thead { tr { th { "Name" } th { "Display name" } th { "Path" } } }
            tbody {
                @for a in apps {
                    tr { td { (a.name) } td { (a.display_name.as_deref().unwrap_or("")) } td { (a.launch_path) } }
                }
                @if apps.is_empty() { tr { td colspan="3" { "No applications: users can only get the apps a dynamic app provider gives them." } } }
            }
        }
        @if here.windows() {
            h3 { "Default application and Windows settings" }
            dl {
                dt { "Default profile" } dd { (b.attrs.default_profile.as_deref().unwrap_or("Not saved (the base image's default)")) }
                @if let Some(settings) = &b.attrs.os_settings {
                    @for (k, v) in settings_view(settings) { dt { (k) } dd { (v) } }
                }
            }
        }
        h3 { "Image" }
        dl #review-image {
            dt { "Name" } dd { (i.name) }
            dt { "Display name" } dd { (i.display_name.as_deref().unwrap_or("")) }
            dt { "Description" } dd { (i.description.as_deref().unwrap_or("")) }
            dt { "Always use latest agent version" } dd { (yes(i.latest_agent)) }
            dt { "Tags" } dd {
                @if i.tags.is_empty() { "None" }
                @for (k, v) in &i.tags { (k) " = " (v) br; }
            }
        }
        @for w in warnings { div.notice role="status" { (w) } }
        form method="post" action=(here.action()) {
            input type="hidden" name="image_form" value="1";
            input type="hidden" name="image_name" value=(i.name);
            input type="hidden" name="image_display_name" value=(i.display_name.as_deref().unwrap_or(""));
            input type="hidden" name="image_description" value=(i.description.as_deref().unwrap_or(""));
            @if i.latest_agent { input type="hidden" name="latest_agent" value="on"; }
            @for id in tag_ids {
                input type="hidden" name="tag_row" value=(id);
                input type="hidden" name=(format!("tag_key_{id}")) value=(f.get(&format!("tag_key_{id}")));
                input type="hidden" name=(format!("tag_value_{id}")) value=(f.get(&format!("tag_value_{id}")));
            }
            (error_box(error))
            div.actions {
                button type="submit" name="op" value="edit" { "Previous" }
                button type="submit" name="op" value="create" { "Disconnect and Create Image" }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct Browse {
    path: Option<String>,
    step: Option<String>,
    notice: Option<String>,
}

/// The whole page: the builder, the Image Assistant at `step` showing `panel`, the files of
/// `dir` and the Windows settings.
async fn desktop(
    app: &App,
    cx: &Caller,
    here: &Here<'_>,
    step: Step,
    panel: Markup,
    dir: Option<String>,
    status: StatusCode,
) -> Response {
    let b = &here.session.builder;
    let windows = here.windows();
    let sep = if windows { "\\" } else { "/" };
    let dir = dir.unwrap_or_else(|| if windows { "C:\\" } else { "/" }.to_owned());
    let expires = chrono::DateTime::from_timestamp_millis(here.session.expires_at)
        .map_or_else(String::new, |t| t.to_rfc3339());
    let info = [
        ("Image builder", b.name.as_str()),
        ("State", b.state.as_str()),
        ("Platform", b.platform.as_str()),
        ("Instance type", b.instance_type.as_str()),
        ("Image", b.image_arn.as_str()),
        ("Region", b.region.as_str()),
        ("Session expires", expires.as_str()),
    ];
    let base = here.base();
    let listing = app.svc.list_builder_path(cx, &b.name, &dir).await;
    let upload = format!(
        "document.getElementById('upload').onclick = async () => {{\
           const f = document.getElementById('file').files[0]; if (!f) return;\
           const dir = {dir_js}; const sep = {sep_js};\
           const path = dir.endsWith(sep) ? dir + f.name : dir + sep + f.name;\
           const r = await fetch({files_js} + encodeURIComponent(path), {{method: 'PUT', body: f}});\
           document.getElementById('status').textContent = r.ok ? 'uploaded' : await r.text();\
           if (r.ok) location.reload();\
         }};",
        dir_js = script_string(&dir),
        sep_js = script_string(sep),
        files_js = script_string(&format!("{base}/files?path=")),
    );
    let body = html! {
        dl {
            @for (k, v) in info { dt { (k) } dd { (v) } }
        }
        section #assistant aria-label="Image Assistant" {
            h2 { "Image Assistant" }
            (steps(here, step))
            (panel)
        }
        section #files {
            h2 { "Files in " (dir) }
            @match listing {
                Ok(entries) => table {
                    thead { tr { th { "Name" } th { "Size" } } }
                    tbody {
                        @for e in entries {
                            tr {
                                @if e.is_dir {
                                    td { a href=(format!("{base}?step={}&path={}", step.key(), url_encode(&e.path))) { (e.name) (sep) } }
                                    td {}
                                } @else {
                                    td { (e.name) }
                                    td { (e.size) }
                                }
                            }
                        }
                    }
                },
                Err(e) => p { (e.to_string()) },
            }
            h3 { "Upload a file to this folder" }
            input type="file" #file aria-label="File to upload";
            " "
            button #upload { "Upload" }
            " "
            span #status {}
            script { (PreEscaped(upload)) }
        }
        @if let Some(settings) = b.attrs.os_settings {
            section #windows-settings {
                h2 { "Windows settings" }
                dl {
                    @for (k, v) in settings_view(&settings) { dt { (k) } dd { (v) } }
                }
                (toggle(&base, step, "windows_update", "Windows Update", settings.windows_update))
                @if let Some(d) = settings.defender {
                    (toggle(&base, step, "defender", "Windows Defender", d))
                }
            }
        }
    };
    html(status, page(&format!("Connected to {}", b.name), body))
}

fn toggle(base: &str, step: Step, field: &str, words: &str, on: bool) -> Markup {
    html! {
        form.inline method="post" action=(format!("{base}/settings")) {
            input type="hidden" name=(field) value=(if on { "off" } else { "on" });
            input type="hidden" name="step" value=(step.key());
            button type="submit" { (if on { "Disable" } else { "Enable" }) " " (words) }
        }
        " "
    }
}

pub(crate) async fn builder_page(
    State(app): State<App>,
    Path(token): Path<String>,
    Query(q): Query<Browse>,
) -> Response {
    let s = match app.svc.open_builder_session(&token).await {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    let cx = caller(&s);
    let here = Here {
        token: &token,
        session: &s,
    };
    let step = Step::parse(q.step.as_deref().unwrap_or(""));
    let f = Fields::default();
    let notice = q.notice.as_deref();
    let panel = match step {
        Step::Settings => settings_panel(&app, &cx, &here, &f, None, notice).await,
        Step::Image => image_panel(&here, &f, &[], None),
        _ => apps_panel(&app, &cx, &here, &f, None, notice).await,
    };
    desktop(&app, &cx, &here, step, panel, q.path, StatusCode::OK).await
}

/// The Image Assistant's forms. Success moves on (a redirect, so reloading repeats nothing);
/// a refusal shows the same form again with what was typed and the assistant's message.
async fn assistant(
    State(app): State<App>,
    Path(token): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let s = match app.svc.open_builder_session(&token).await {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    let cx = caller(&s);
    let here = Here {
        token: &token,
        session: &s,
    };
    let name = s.builder.name.clone();
    let moved_on = |step: Step, notice: &str| {
        Redirect::to(&format!(
            "{}&notice={}",
            here.step_url(step),
            url_encode(notice)
        ))
        .into_response()
    };
    let tag_rows = rows(&f, "tag");
    match f.get("op") {
        "add" => {
            let Some(path) = f.opt("app_path").or(f.opt("app_pick")).map(str::to_owned) else {
                let panel = apps_panel(
                    &app,
                    &cx,
                    &here,
                    &f,
                    Some("Choose the application's executable, or type its path."),
                    None,
                )
                .await;
                return desktop(
                    &app,
                    &cx,
                    &here,
                    Step::Apps,
                    panel,
                    None,
                    StatusCode::BAD_REQUEST,
                )
                .await;
            };
            // The tool's GUI offers the file's name as the app's name; so does this form.
            let app_name = f.opt("name").map_or_else(
                || {
                    let file = path.rsplit(['\\', '/']).next().unwrap_or(&path);
                    file.rsplit_once('.')
                        .map_or(file, |(s, _)| s)
                        .replace(' ', "_")
                },
                str::to_owned,
            );
            let op = Operation::AddApplication {
                name: app_name.clone(),
                absolute_app_path: path,
                display_name: f.opt("display_name").map(str::to_owned),
                absolute_icon_path: f.opt("icon").map(str::to_owned),
                working_directory: f.opt("working_directory").map(str::to_owned),
                launch_parameters: f.opt("launch_parameters").map(str::to_owned),
                absolute_manifest_path: None,
            };
            let r = app.svc.image_assistant(&cx, &name, op).await;
            if r.status == 0 {
                return moved_on(Step::Apps, &format!("Added {app_name} to the catalog."));
            }
            let msg = refusal(
                &r,
                "Correct the app's launch settings and choose Add App again.",
            );
            let panel = apps_panel(&app, &cx, &here, &f, Some(&msg), None).await;
            desktop(
                &app,
                &cx,
                &here,
                Step::Apps,
                panel,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        "remove" => {
            let gone = f.get("app").to_owned();
            let r = app
                .svc
                .image_assistant(
                    &cx,
                    &name,
                    Operation::RemoveApplication { name: gone.clone() },
                )
                .await;
            if r.status == 0 {
                return moved_on(Step::Apps, &format!("Removed {gone} from the catalog."));
            }
            let msg = refusal(&r, "Reload the page to see the catalog as it is now.");
            let panel = apps_panel(&app, &cx, &here, &Fields::default(), None, None).await;
            let panel = html! { (error_box(Some(&msg))) (panel) };
            desktop(
                &app,
                &cx,
                &here,
                Step::Apps,
                panel,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        "profile" => {
            let profile = f.opt("profile").map(str::to_owned);
            let who = profile.clone().unwrap_or_else(|| "Template User".into());
            let r = app
                .svc
                .image_assistant(&cx, &name, Operation::UpdateDefaultProfile { profile })
                .await;
            if r.status == 0 {
                return moved_on(
                    Step::Settings,
                    &format!("Saved the settings of {who} as the default profile."),
                );
            }
            let msg = refusal(
                &r,
                "Choose another user, or sign in as that user to create the profile first.",
            );
            let panel = settings_panel(&app, &cx, &here, &f, Some(&msg), None).await;
            desktop(
                &app,
                &cx,
                &here,
                Step::Settings,
                panel,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        "review" if tag_rows.edited => {
            let panel = image_panel(&here, &f, &tag_rows.ids, None);
            desktop(&app, &cx, &here, Step::Image, panel, None, StatusCode::OK).await
        }
        "edit" => {
            let panel = image_panel(&here, &f, &tag_rows.ids, None);
            desktop(&app, &cx, &here, Step::Image, panel, None, StatusCode::OK).await
        }
        "review" => {
            let i = image_form(&f, &tag_rows.ids);
            let r = app
                .svc
                .image_assistant(&cx, &name, create_op(&i, true))
                .await;
            if r.status != 0 {
                let msg = refusal(&r, "Correct the image settings and choose Next again.");
                let panel = image_panel(&here, &f, &tag_rows.ids, Some(&msg));
                return desktop(
                    &app,
                    &cx,
                    &here,
                    Step::Image,
                    panel,
                    None,
                    StatusCode::BAD_REQUEST,
                )
                .await;
            }
            let apps = catalog(&app, &cx, &name).await;
            let panel = review_panel(&here, &f, &tag_rows.ids, &apps, &r.warnings, None);
            desktop(&app, &cx, &here, Step::Review, panel, None, StatusCode::OK).await
        }
        "create" => {
            let i = image_form(&f, &tag_rows.ids);
            let r = app
                .svc
                .image_assistant(&cx, &name, create_op(&i, false))
                .await;
            if r.status == 0 {
                return created(&here, &i.name, &r.warnings);
            }
            let msg = refusal(
                &r,
                "Choose Previous to change the image settings, then create it again.",
            );
            let apps = catalog(&app, &cx, &name).await;
            let panel = review_panel(&here, &f, &tag_rows.ids, &apps, &[], Some(&msg));
            desktop(
                &app,
                &cx,
                &here,
                Step::Review,
                panel,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        other => {
            let msg =
                format!("This page does not know the action '{other}'. Reload it and try again.");
            let panel = html! { (error_box(Some(&msg))) };
            desktop(
                &app,
                &cx,
                &here,
                Step::Apps,
                panel,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

async fn catalog(app: &App, cx: &Caller, builder: &str) -> Vec<AppRecord> {
    app.svc
        .image_assistant(cx, builder, Operation::ListApplications)
        .await
        .applications
        .unwrap_or_default()
}

/// After "Disconnect and Create Image": the session is over (the builder is snapshotting, so
/// this URL opens nothing until it runs again); say where to follow the image.
fn created(here: &Here<'_>, image: &str, warnings: &[String]) -> Response {
    let b = &here.session.builder;
    let body = html! {
        p role="status" #created {
            "Lost connectivity: image builder " strong { (b.name) } " is "
            strong #builder-state { "Snapshotting" } " while image " strong { (image) }
            " is created (its state is Pending). When the image is Available, the image builder stops."
        }
        @for w in warnings { p.notice { (w) } }
        p {
            "Close this tab and follow the image in the console: "
            a href=(format!("/console/images?q={}", url_encode(image))) { "Images, Image Registry" } "."
        }
    };
    html(
        StatusCode::OK,
        page(&format!("Creating image {image}"), body),
    )
}

#[derive(Deserialize)]
pub(crate) struct UploadQuery {
    path: String,
}

pub(crate) async fn upload(
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
pub(crate) struct SettingsForm {
    windows_update: Option<String>,
    defender: Option<String>,
    /// The Image Assistant step the page was at, so the toggle does not lose the user's place.
    step: Option<String>,
}

pub(crate) async fn settings(
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
            on(f.windows_update.clone()),
            on(f.defender.clone()),
        )
        .await;
    match result {
        Ok(_) => Redirect::to(&format!(
            "/connect/{}?step={}",
            url_encode(&token),
            Step::parse(f.step.as_deref().unwrap_or("")).key()
        ))
        .into_response(),
        Err(e) => failure(e),
    }
}

/// A streaming URL: opening it starts the user's session (once) and shows where it runs.
pub(crate) async fn stream_page(State(app): State<App>, Path(token): Path<String>) -> Response {
    match app.svc.open_stream(&token).await {
        Ok((s, asked)) => {
            let agent = app
                .svc
                .instance_agent(&s)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            let started = chrono::DateTime::from_timestamp_millis(s.started_at)
                .map_or_else(String::new, |t| t.to_rfc3339());
            let desktop = asked.stream_view == "DESKTOP";
            let view = if desktop {
                "Desktop (the operating system's desktop)"
            } else {
                "Application (only the windows of the applications opened)"
            };
            let opened = match (&asked.application, &asked.launch_path) {
                (Some(app), Some(path)) => format!("{app} ({path})"),
                (Some(app), None) => app.clone(),
                (None, _) if desktop => "Desktop".to_owned(),
                (None, _) => "the application catalog".to_owned(),
            };
            let context = asked.session_context.clone().unwrap_or_default();
            let mut rows = vec![
                ("User", s.user_id.as_str()),
                ("Stack", s.stack.as_str()),
                ("Fleet", s.fleet.as_str()),
                ("Instance", s.instance_id.as_str()),
                ("Image", s.image_arn.as_str()),
                ("Agent", agent.as_str()),
                ("Session", s.id.as_str()),
                ("Started", started.as_str()),
                ("Stream view", view),
                ("Opens", opened.as_str()),
            ];
            if asked.session_context.is_some() {
                rows.push(("APPSTREAM_SESSION_CONTEXT", context.as_str()));
            }
            // While this page is open it tells Photon the user is still there, and whether
            // they typed or moved the mouse since the last beat (the fleet's idle timeout);
            // when it closes, the fleet's disconnect timeout runs and then ends the session.
            let beat = format!(
                "/stream/heartbeat/{}",
                url_encode(&app.svc.session_heartbeat_token(&s))
            );
            let script = format!(
                "<p id=\"conn\">Connected.</p><script>(function(){{var u={u},input=false,\
                 c=document.getElementById('conn');\
                 ['keydown','mousedown','mousemove','wheel','touchstart'].forEach(function(e){{\
                 addEventListener(e,function(){{input=true;}},{{passive:true}});}});\
                 function beat(){{var q=input?'?input=1':'';input=false;\
                 fetch(u+q,{{method:'POST'}}).then(function(r){{\
                 if(r.status===404){{c.textContent='This session has ended.';clearInterval(t);}}\
                 else if(r.status===409){{r.text().then(function(m){{c.textContent=m;}});}}\
                 else if(r.ok){{c.textContent='Connected.';}}}});}}\
                 var t=setInterval(beat,{ms});}})();</script>",
                u = script_string(&beat),
                ms = photon_core::session::HEARTBEAT_SECS * 1000
            );
            html(
                StatusCode::OK,
                page(
                    "Streaming session",
                    html! {
                        dl { @for (k, v) in &rows { dt { (k) } dd { (v) } } }
                        (PreEscaped(script))
                    },
                ),
            )
        }
        Err(CoreError::LimitExceeded(msg)) => html(
            StatusCode::SERVICE_UNAVAILABLE,
            page("No capacity", html! { p { (msg) } }),
        ),
        Err(e) => failure(e),
    }
}

/// What the streaming page's heartbeat says besides its token.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Beat {
    /// `1` when the user typed or moved the mouse since the last beat.
    #[serde(default)]
    input: Option<u8>,
}

/// The streaming page's heartbeat: its token names one session and is the credential. 204
/// while connected; 409 with what to do when the fleet's idle timeout disconnected the user.
pub(crate) async fn heartbeat(
    State(app): State<App>,
    Path(token): Path<String>,
    Query(beat): Query<Beat>,
) -> Response {
    match app
        .svc
        .session_heartbeat(&token, beat.input == Some(1))
        .await
    {
        Ok(Connection::Connected) => StatusCode::NO_CONTENT.into_response(),
        Ok(Connection::Idle) => (
            StatusCode::CONFLICT,
            "You were disconnected for inactivity (the fleet's idle disconnect timeout). \
             Press a key or move the mouse to reconnect before the disconnect timeout ends \
             the session.",
        )
            .into_response(),
        // The page's script reads the status; the text is for whoever looks.
        Err(e) => (page_status(&e), e.public_message("streaming heartbeat")).into_response(),
    }
}
