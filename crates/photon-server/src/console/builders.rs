//! Images, Image Builder: the list of the account's image builders in the session's region,
//! a builder's details, the launch wizard (one page), and the Actions menu (Start, with the
//! offer to update an old agent; Stop; Delete, after a confirmation; Connect, which hands the
//! browser to the builder's streaming page).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use photon_types::{
    ApiError, Caller, CreateImageBuilderRequest, CreateImageBuilderStreamingURLRequest,
    DeleteImageBuilderRequest, DescribeImageBuildersRequest, DescribeImagesRequest, Image,
    ImageBuilder, StartImageBuilderRequest, StopImageBuilderRequest,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    badge, csrf_field, delete_dialog, dialog, enc, error_box, label, notice_box, page_status, rows,
    say, status_of, tag_editor, tags_of, time, DeleteDialog, Fields, Nav, Signed,
};
use crate::server::App;

const LIST: &str = "/console/builders";

pub(super) fn router() -> Router<App> {
    Router::new()
        .route(LIST, get(list))
        .route("/console/builders/create", get(create_page).post(create))
        .route("/console/builders/start", get(start_page).post(start))
        .route("/console/builders/stop", post(stop))
        .route("/console/builders/delete", get(delete_page).post(delete))
        .route("/console/builders/connect", post(connect))
}

// ---------------------------------------------------------------------------------------------
// Reading builders.

/// Every builder of the caller in the session's region, following the API's pages.
async fn all_builders(app: &App, cx: &Caller) -> Result<Vec<ImageBuilder>, ApiError> {
    all_pages!(
        app,
        cx,
        describe_image_builders,
        DescribeImageBuildersRequest,
        json!({ "MaxResults": 25 }),
        image_builders
    )
}

async fn builder_by_name(
    app: &App,
    cx: &Caller,
    name: &str,
) -> Result<Option<ImageBuilder>, ApiError> {
    let req = json!({ "Names": [name] });
    match call!(
        app,
        cx,
        describe_image_builders,
        DescribeImageBuildersRequest,
        req
    ) {
        Ok(r) => Ok(r.image_builders.unwrap_or_default().into_iter().next()),
        Err(e) if e.code == photon_types::ErrorCode::ResourceNotFoundException => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) async fn state_of(app: &App, cx: &Caller, id: &str) -> Result<Option<String>, String> {
    builder_by_name(app, cx, id)
        .await
        .map(|b| b.map(|b| state(&b).to_owned()))
        .map_err(|e| say(&e))
}

fn state(b: &ImageBuilder) -> &'static str {
    b.state
        .unwrap_or(photon_types::ImageBuilderState::Pending)
        .as_str()
}

/// An image ARN's last part: the image's name.
fn image_name(arn: &str) -> &str {
    arn.rsplit_once("image/").map_or(arn, |(_, n)| n)
}

/// The agent feed, oldest first; its last entry is the newest agent.
async fn agents(app: &App) -> Vec<String> {
    match app.svc.releases().await {
        Ok((_, agents)) => agents.into_iter().map(|a| a.version).collect(),
        Err(e) => {
            // Without the feed the console only stops offering agent choices; say why in the log.
            tracing::warn!(error = %e, "console cannot read the agent feed");
            Vec::new()
        }
    }
}

/// The newest agent, when the builder runs an older one (or one the feed does not know).
fn newer_agent(b: &ImageBuilder, known: &[String]) -> Option<String> {
    let newest = known.last()?;
    let current = b.appstream_agent_version.as_deref();
    let at = |v: &str| known.iter().position(|k| k == v);
    match current.and_then(at) {
        Some(i) if Some(i) >= at(newest) => None,
        _ => Some(newest.clone()),
    }
}

fn list_url(name: Option<&str>, notice: Option<&str>) -> String {
    let mut q = Vec::new();
    if let Some(n) = name {
        q.push(format!("builder={}", enc(n)));
    }
    if let Some(n) = notice {
        q.push(format!("notice={}", enc(n)));
    }
    if q.is_empty() {
        LIST.to_owned()
    } else {
        format!("{LIST}?{}", q.join("&"))
    }
}

fn done(name: Option<&str>, notice: &str) -> Response {
    Redirect::to(&list_url(name, Some(notice))).into_response()
}

// ---------------------------------------------------------------------------------------------
// The list and a builder's details.

#[derive(Deserialize, Default)]
struct ListQuery {
    builder: Option<String>,
    notice: Option<String>,
}

async fn list(State(app): State<App>, s: Signed, Query(q): Query<ListQuery>) -> Response {
    list_view(
        &app,
        &s,
        q.builder.as_deref(),
        q.notice.as_deref(),
        None,
        StatusCode::OK,
    )
    .await
}

/// The list page; `error` is a refused action, shown above the list.
async fn list_view(
    app: &App,
    s: &Signed,
    selected: Option<&str>,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let cx = s.cx();
    let (builders, list_error) = match all_builders(app, &cx).await {
        Ok(v) => (v, None),
        Err(e) => (
            Vec::new(),
            Some(format!(
                "Cannot list your image builders: {} Reload the page to try again.",
                say(&e)
            )),
        ),
    };
    let chosen = selected.and_then(|n| builders.iter().find(|b| b.name == n));
    let known = agents(app).await;
    let sel = chosen.map(|b| b.name.as_str());
    let post_action = |path: &str, words: &str| {
        html! {
            li {
                @match sel {
                    Some(n) => form method="post" action=(format!("/console/builders/{path}")) {
                        (csrf_field(s))
                        input type="hidden" name="name" value=(n);
                        button type="submit" { (words) }
                    },
                    None => a aria-disabled="true" title="Select an image builder first" { (words) },
                }
            }
        }
    };
    let link_action = |path: &str, words: &str| {
        html! {
            li {
                @match sel {
                    Some(n) => a href=(format!("/console/builders/{path}?name={}", enc(n))) { (words) },
                    None => a aria-disabled="true" title="Select an image builder first" { (words) },
                }
            }
        }
    };
    // An old agent makes Start a dialog that offers the update; otherwise Start just starts.
    let start_item = match chosen {
        Some(b) if newer_agent(b, &known).is_some() => link_action("start", "Start"),
        _ => post_action("start", "Start"),
    };
    let content = html! {
        h1 { "Image Builder" }
        (notice_box(notice))
        (error_box(error))
        div.toolbar {
            span { "Image builders in " strong { (cx.region) } }
            span.spacer {}
            a.button.primary href="/console/builders/create" { "Create image builder" }
            details.menu #actions {
                summary { "Actions" }
                ul {
                    (start_item)
                    (post_action("stop", "Stop"))
                    (link_action("delete", "Delete"))
                    (post_action("connect", "Connect"))
                }
            }
        }
        (error_box(list_error.as_deref()))
        div.table-wrap {
            table #builders {
                thead { tr {
                    th { "Name" } th { "State" } th { "Instance type" } th { "Platform" }
                    th { "Agent version" } th { "Image" }
                } }
                tbody {
                    @for b in &builders {
                        tr.selected[sel == Some(b.name.as_str())] data-name=(b.name) {
                            td { a href=(list_url(Some(&b.name), None)) { (b.name) } }
                            td { (badge("builder", &b.name, state(b))) }
                            td { (b.instance_type.as_deref().unwrap_or("")) }
                            td { (b.platform.map_or("", |p| p.as_str())) }
                            td { (b.appstream_agent_version.as_deref().unwrap_or("")) }
                            td { (image_name(b.image_arn.as_deref().unwrap_or(""))) }
                        }
                    }
                    @if builders.is_empty() {
                        tr { td colspan="6" .muted { "No image builders in this region. Choose Create image builder to launch one." } }
                    }
                }
            }
        }
        @if let Some(b) = chosen {
            (details(b, &known))
        } @else if let Some(n) = selected {
            p.muted { "Image builder " (n) " is not in this region any more; choose another from the list." }
        }
    };
    page_status(s, Nav::ImageBuilder, LIST, "Image Builder", status, content)
}

fn details(b: &ImageBuilder, known: &[String]) -> Markup {
    let vpc = b.vpc_config.as_ref();
    let joined = |v: Option<&Vec<String>>| v.map(|v| v.join(", ")).unwrap_or_default();
    let latest = b
        .latest_appstream_agent_version
        .is_some_and(|l| l.as_str() == "TRUE");
    let agent = match (&b.appstream_agent_version, latest) {
        (Some(v), true) => format!("{v} (always the latest)"),
        (Some(v), false) => v.clone(),
        (None, _) => String::new(),
    };
    let rows: Vec<(&str, String)> = vec![
        ("Name", b.name.clone()),
        ("ARN", b.arn.clone().unwrap_or_default()),
        ("Display name", b.display_name.clone().unwrap_or_default()),
        ("Description", b.description.clone().unwrap_or_default()),
        ("Instance type", b.instance_type.clone().unwrap_or_default()),
        ("Platform", b.platform.map_or("", |p| p.as_str()).to_owned()),
        ("Image", b.image_arn.clone().unwrap_or_default()),
        ("Agent version", agent),
        (
            "Default internet access",
            if b.enable_default_internet_access == Some(true) {
                "Enabled"
            } else {
                "Disabled"
            }
            .to_owned(),
        ),
        ("Subnet", joined(vpc.and_then(|v| v.subnet_ids.as_ref()))),
        (
            "Security groups",
            joined(vpc.and_then(|v| v.security_group_ids.as_ref())),
        ),
        ("Created", time(b.created_time)),
    ];
    let reason = b.state_change_reason.as_ref();
    let errors = b.image_builder_errors.clone().unwrap_or_default();
    html! {
        section.card #builder-details aria-label="Image builder details" {
            h2 { (b.name) " " (badge("builder", &b.name, state(b))) }
            @if let Some(v) = newer_agent(b, known) {
                p.hint { "A newer AppStream agent (" (v) ") is available: choose Actions, Start on a stopped builder to update to it." }
            }
            dl.details {
                @for (k, v) in rows { dt { (k) } dd { (v) } }
            }
            @if reason.is_some() || !errors.is_empty() {
                h3 { "Notifications" }
                ul {
                    @if let Some(r) = reason {
                        li { (r.code.map_or("", |c| c.as_str())) " " (r.message.as_deref().unwrap_or("")) }
                    }
                    @for e in &errors {
                        li { (e.error_code.map_or("", |c| c.as_str())) " " (e.error_message.as_deref().unwrap_or("")) " " (time(e.error_timestamp)) }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dialogs.

fn builder_dialog(s: &Signed, title: &str, status: StatusCode, body: Markup) -> Response {
    dialog(s, Nav::ImageBuilder, LIST, title, status, body)
}

fn cancel(name: Option<&str>) -> Markup {
    html! { a.button href=(list_url(name, None)) { "Cancel" } }
}

#[derive(Deserialize)]
struct Target {
    name: String,
}

// Create: the launch wizard's choices on one page.

/// An image a builder can be launched from: (ARN, shown name, group).
struct Choice {
    arn: String,
    shown: String,
    group: &'static str,
}

async fn launchable_images(app: &App, cx: &Caller) -> Result<Vec<Choice>, ApiError> {
    let mut out = Vec::new();
    for (kind, group) in [
        ("PRIVATE", "My images"),
        ("SHARED", "Shared with me"),
        ("PUBLIC", "Public"),
    ] {
        let images = all_pages!(
            app,
            cx,
            describe_images,
            DescribeImagesRequest,
            json!({ "Type": kind, "MaxResults": 25 }),
            images
        )?;
        let usable = |i: &Image| {
            i.state == Some(photon_types::ImageState::Available)
                && i.image_builder_supported != Some(false)
                && i.image_permissions
                    .as_ref()
                    .is_none_or(|p| p.allow_image_builder != Some(false))
        };
        for i in images.into_iter().filter(usable) {
            let platform = i.platform.map_or("", |p| p.as_str());
            out.push(Choice {
                arn: i.arn.clone().unwrap_or_default(),
                shown: format!("{} ({platform})", i.name),
                group,
            });
        }
    }
    Ok(out)
}

fn create_form(
    s: &Signed,
    f: &Fields,
    tag_ids: &[String],
    images: &[Choice],
    agents: &[String],
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let chosen_image = f.get("image");
    let chosen_type = f.opt("instance_type").unwrap_or("stream.standard.medium");
    let chosen_agent = f.get("agent");
    let groups = ["My images", "Shared with me", "Public"];
    let body = html! {
        form method="post" action="/console/builders/create" {
            (csrf_field(s))
            fieldset {
            legend { "Step 1: Choose image" }
            div.field {
                label for="builder-image" { "Image" }
                select #builder-image name="image" required {
                    option value="" { "Choose an image" }
                    @for g in groups {
                        @if images.iter().any(|i| i.group == g) {
                            optgroup label=(g) {
                                @for i in images.iter().filter(|i| i.group == g) {
                                    option value=(i.arn) selected[i.arn == chosen_image] { (i.shown) }
                                }
                            }
                        }
                    }
                }
                p.hint { "Choose an image that supports the instance family you need: graphics images run only on their own graphics family." }
            }
            }
            fieldset {
            legend { "Step 2: Configure image builder" }
            div.field {
                label for="builder-name" { "Name" }
                input #builder-name name="name" required maxlength="100" value=(f.get("name"));
                p.hint { "Unique in this account and region: letters, digits, _ . and -." }
                label for="builder-display-name" { "Display name (optional)" }
                input #builder-display-name name="display_name" maxlength="100" value=(f.get("display_name"));
                label for="builder-description" { "Description (optional)" }
                input #builder-description name="description" maxlength="256" value=(f.get("description"));
                label for="builder-instance-type" { "Instance type" }
                select #builder-instance-type name="instance_type" {
                    @for fam in photon_core::catalog::INSTANCE_FAMILIES {
                        optgroup label=(label(fam.family)) {
                            @for t in fam.instance_types {
                                option value=(t) selected[*t == chosen_type] { (t) }
                            }
                        }
                    }
                }
                label for="builder-agent" { "AppStream agent version" }
                select #builder-agent name="agent" {
                    option value="" selected[chosen_agent.is_empty()] { "The image's agent version" }
                    option value="LATEST" selected[chosen_agent == "LATEST"] {
                        "Use latest" @if let Some(v) = agents.last() { " (" (v) ")" }
                    }
                    @for v in agents.iter().rev() {
                        option value=(v) selected[v == chosen_agent] { (v) }
                    }
                }
                p.hint { "With Use latest, the builder runs the newest agent and images created from it always use the latest agent." }
            }
            }
            fieldset {
                legend { "Step 3: Configure network" }
                label.inline for="builder-internet" {
                    input #builder-internet type="checkbox" name="internet" value="on" checked[f.has("internet")];
                    " Enable default internet access"
                }
                div.field {
                    label for="builder-subnet" { "VPC subnet ID (optional)" }
                    input #builder-subnet name="subnet" placeholder="subnet-0123456789abcdef0" value=(f.get("subnet"));
                    label for="builder-security-group" { "Security group ID (optional)" }
                    input #builder-security-group name="security_group" placeholder="sg-0123456789abcdef0" value=(f.get("security_group"));
                }
            }
            (tag_editor(f, tag_ids))
            (error_box(error))
            div.actions-row {
                (cancel(None))
                button.primary type="submit" name="go" value="1" { "Launch" }
            }
        }
    };
    builder_dialog(s, "Create image builder", status, body)
}

async fn create_form_with_choices(
    app: &App,
    s: &Signed,
    f: &Fields,
    tag_ids: &[String],
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (images, list_error) = match launchable_images(app, &s.cx()).await {
        Ok(v) => (v, None),
        Err(e) => (
            Vec::new(),
            Some(format!(
                "Cannot list the images you can launch from: {} Reload the page to try again.",
                say(&e)
            )),
        ),
    };
    let known = agents(app).await;
    let error = match (error, list_error.as_deref()) {
        (Some(e), _) => Some(e),
        (None, l) => l,
    };
    create_form(s, f, tag_ids, &images, &known, error, status)
}

async fn create_page(State(app): State<App>, s: Signed) -> Response {
    create_form_with_choices(&app, &s, &Fields::default(), &[], None, StatusCode::OK).await
}

async fn create(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let tag_rows = rows(&f, "tag");
    if tag_rows.edited {
        return create_form_with_choices(&app, &s, &f, &tag_rows.ids, None, StatusCode::OK).await;
    }
    let name = f.get("name").trim().to_owned();
    let Some(image) = f.opt("image") else {
        return create_form_with_choices(
            &app,
            &s,
            &f,
            &tag_rows.ids,
            Some("Choose the image to launch the image builder from."),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let mut req = json!({
        "Name": name,
        "ImageArn": image,
        "InstanceType": f.get("instance_type"),
        "EnableDefaultInternetAccess": f.has("internet"),
    });
    for (field, key) in [
        ("display_name", "DisplayName"),
        ("description", "Description"),
        ("agent", "AppstreamAgentVersion"),
    ] {
        if let Some(v) = f.opt(field) {
            req[key] = json!(v);
        }
    }
    let mut vpc = serde_json::Map::new();
    if let Some(v) = f.opt("subnet") {
        vpc.insert("SubnetIds".into(), json!([v]));
    }
    if let Some(v) = f.opt("security_group") {
        vpc.insert("SecurityGroupIds".into(), json!([v]));
    }
    if !vpc.is_empty() {
        req["VpcConfig"] = serde_json::Value::Object(vpc);
    }
    let tags = tags_of(&f, &tag_rows.ids);
    if !tags.is_empty() {
        req["Tags"] = serde_json::Value::Object(tags);
    }
    let result = call!(
        app,
        &s.cx(),
        create_image_builder,
        CreateImageBuilderRequest,
        req
    );
    match result {
        Ok(_) => done(
            Some(&name),
            &format!("Image builder {name} is being launched. It is Pending until it is Running; then choose Actions, Connect to install applications."),
        ),
        Err(e) => {
            let msg = format!("The image builder was not created: {}", say(&e));
            create_form_with_choices(&app, &s, &f, &tag_rows.ids, Some(&msg), status_of(&e)).await
        }
    }
}

// Start, with the offer to update an old agent.

fn start_form(
    s: &Signed,
    name: &str,
    newer: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let body = html! {
        p { "Start image builder " strong { (name) } "?" }
        form method="post" action="/console/builders/start" {
            (csrf_field(s))
            input type="hidden" name="name" value=(name);
            @if let Some(v) = newer {
                label.inline for="update-agent" {
                    input #update-agent type="checkbox" name="update_agent" value="on" checked;
                    " Update to the latest agent version (" (v) ")"
                }
                p.hint { "The builder's agent is updated before it starts (state Updating Agent), and images you create from it always use the latest agent." }
            }
            (error_box(error))
            div.actions-row {
                (cancel(Some(name)))
                button.primary type="submit" { "Start" }
            }
        }
    };
    builder_dialog(s, "Start image builder", status, body)
}

async fn start_page(State(app): State<App>, s: Signed, Query(t): Query<Target>) -> Response {
    match builder_by_name(&app, &s.cx(), &t.name).await {
        Ok(Some(b)) => {
            let newer = newer_agent(&b, &agents(&app).await);
            start_form(&s, &t.name, newer.as_deref(), None, StatusCode::OK)
        }
        Ok(None) => {
            list_view(
                &app,
                &s,
                None,
                None,
                Some(&format!(
                    "Image builder {} does not exist in {}; choose one from the list.",
                    t.name, s.session.region
                )),
                StatusCode::NOT_FOUND,
            )
            .await
        }
        Err(e) => list_view(&app, &s, Some(&t.name), None, Some(&say(&e)), status_of(&e)).await,
    }
}

async fn start(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let name = f.get("name").to_owned();
    let mut req = json!({ "Name": name });
    if f.has("update_agent") {
        req["AppstreamAgentVersion"] = json!("LATEST");
    }
    let result = call!(
        app,
        &s.cx(),
        start_image_builder,
        StartImageBuilderRequest,
        req
    );
    match result {
        Ok(_) => done(
            Some(&name),
            &format!("Image builder {name} is starting. Connect to it when it is Running."),
        ),
        Err(e) => {
            let msg = format!("Cannot start {name}: {}", say(&e));
            list_view(&app, &s, Some(&name), None, Some(&msg), status_of(&e)).await
        }
    }
}

async fn stop(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let name = f.get("name").to_owned();
    let result = call!(
        app,
        &s.cx(),
        stop_image_builder,
        StopImageBuilderRequest,
        json!({ "Name": name })
    );
    match result {
        Ok(_) => done(
            Some(&name),
            &format!(
                "Image builder {name} is stopping. Start it again from Actions when you need it."
            ),
        ),
        Err(e) => {
            let msg = format!("Cannot stop {name}: {}", say(&e));
            list_view(&app, &s, Some(&name), None, Some(&msg), status_of(&e)).await
        }
    }
}

// Delete, after a confirmation.

fn delete_form(s: &Signed, name: &str, error: Option<&str>, status: StatusCode) -> Response {
    let back = list_url(Some(name), None);
    let d = DeleteDialog {
        nav: Nav::ImageBuilder,
        what: "image builder",
        name,
        hint: "Only a Stopped (or Failed) image builder can be deleted: stop it first. Images you \
               created from it are kept.",
        action: "/console/builders/delete",
        field: "name",
        value: name,
        back: &back,
    };
    delete_dialog(s, &d, error, status)
}

async fn delete_page(s: Signed, Query(t): Query<Target>) -> Response {
    delete_form(&s, &t.name, None, StatusCode::OK)
}

async fn delete(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let name = f.get("name").to_owned();
    let result = call!(
        app,
        &s.cx(),
        delete_image_builder,
        DeleteImageBuilderRequest,
        json!({ "Name": name })
    );
    match result {
        Ok(_) => done(None, &format!("Image builder {name} is being deleted.")),
        Err(e) => delete_form(
            &s,
            &name,
            Some(&format!("Cannot delete {name}: {}", say(&e))),
            status_of(&e),
        ),
    }
}

// Connect: the builder's streaming page, in this browser.

async fn connect(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let name = f.get("name").to_owned();
    let result = call!(
        app,
        &s.cx(),
        create_image_builder_streaming_url,
        CreateImageBuilderStreamingURLRequest,
        json!({ "Name": name })
    );
    let refused = |e: &ApiError| {
        let next = if e.code == photon_types::ErrorCode::OperationNotPermittedException {
            " Start it if it is stopped, wait until its state is Running, then choose Connect again."
        } else {
            ""
        };
        format!("Cannot connect to {name}: {}{next}", say(e))
    };
    match result {
        // The streaming page lives on this server; going by its path keeps the browser on the
        // origin it signed in at, whatever public URL the operator configured.
        Ok(r) => match r.streaming_url.as_deref().and_then(|u| u.find("/connect/").map(|i| u[i..].to_owned())) {
            Some(path) => Redirect::to(&path).into_response(),
            None => {
                list_view(&app, &s, Some(&name), None, Some(&format!("Cannot connect to {name}: Photon returned no streaming URL. Try Connect again; if it persists see the server log.")), StatusCode::INTERNAL_SERVER_ERROR).await
            }
        },
        Err(e) => list_view(&app, &s, Some(&name), None, Some(&refused(&e)), status_of(&e)).await,
    }
}
