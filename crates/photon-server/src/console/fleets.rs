//! Fleets: the fleet list with its details and actions (Create, Edit, Start, Stop, Delete),
//! and the fleet badges' state polls (`state_of`). It also holds the listings the Stacks and
//! Sessions pages read (fleets, stacks, a stack's fleets, forms' number fields).
//!
//! Every action calls the same domain operation as the API, through the model's decoder, so a
//! refusal reads exactly as the API's message; a failed form comes back with what was typed.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use photon_types::{
    ApiError, Caller, CreateFleetRequest, DeleteFleetRequest, DescribeFleetsRequest,
    DescribeImagesRequest, DescribeStacksRequest, ErrorCode, Fleet, FleetError, Image,
    ListAssociatedFleetsRequest, Stack, StartFleetRequest, StopFleetRequest, UpdateFleetRequest,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    badge, csrf_field, delete_dialog, dialog, enc, error_box, image_name_of, label, notice_box,
    page_status, redirect, say, status_of, time, DeleteDialog, Fields, Nav, Signed,
};
use crate::server::App;

/// Builds the request through the model's decoder and calls the domain operation, so a bad
/// value is refused with the API's own message.
pub(super) fn router() -> Router<App> {
    Router::new()
        .route("/console/fleets", get(fleets_page))
        .route("/console/fleets/create", get(create_page).post(create))
        .route("/console/fleets/edit", get(edit_page).post(edit))
        .route("/console/fleets/start", post(start))
        .route("/console/fleets/stop", post(stop))
        .route("/console/fleets/delete", get(delete_page).post(delete))
}

// ---------------------------------------------------------------------------------------------
// Reading.

pub(super) async fn all_fleets(app: &App, cx: &Caller) -> Result<Vec<Fleet>, ApiError> {
    all_pages!(
        app,
        cx,
        describe_fleets,
        DescribeFleetsRequest,
        json!({}),
        fleets
    )
}

pub(super) async fn fleet_named(
    app: &App,
    cx: &Caller,
    name: &str,
) -> Result<Option<Fleet>, ApiError> {
    match call!(
        app,
        cx,
        describe_fleets,
        DescribeFleetsRequest,
        json!({ "Names": [name] })
    ) {
        Ok(r) => Ok(r.fleets.unwrap_or_default().into_iter().next()),
        Err(e) if e.code == ErrorCode::ResourceNotFoundException => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) async fn state_of(app: &App, cx: &Caller, id: &str) -> Result<Option<String>, String> {
    fleet_named(app, cx, id)
        .await
        .map(|f| f.map(|f| f.state.as_str().to_owned()))
        .map_err(|e| say(&e))
}

pub(super) async fn all_stacks(app: &App, cx: &Caller) -> Result<Vec<Stack>, ApiError> {
    all_pages!(
        app,
        cx,
        describe_stacks,
        DescribeStacksRequest,
        json!({}),
        stacks
    )
}

pub(super) async fn fleets_of(
    app: &App,
    cx: &Caller,
    stack: &str,
) -> Result<Vec<String>, ApiError> {
    all_pages!(
        app,
        cx,
        list_associated_fleets,
        ListAssociatedFleetsRequest,
        json!({ "StackName": stack }),
        names
    )
}

/// The images a fleet may be created from: available, and public, the account's own, or
/// shared with it for fleets.
pub(super) async fn usable_images(app: &App, cx: &Caller) -> Result<Vec<Image>, ApiError> {
    let all = all_pages!(
        app,
        cx,
        describe_images,
        DescribeImagesRequest,
        json!({ "MaxResults": 25 }),
        images
    )?;
    Ok(all
        .into_iter()
        .filter(|i| {
            i.state == Some(photon_types::ImageState::Available)
                && i.image_permissions
                    .as_ref()
                    .and_then(|p| p.allow_fleet)
                    .unwrap_or(true)
        })
        .collect())
}

/// A whole number typed into a form: None when left empty.
fn whole(f: &Fields, key: &str, what: &str) -> Result<Option<i64>, String> {
    match f.opt(key) {
        None => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
            format!("{what} must be a whole number, such as 2; correct it and try again.")
        }),
    }
}

/// A form field's value, or `default` when the form is shown for the first time.
fn value_or<'a>(f: &'a Fields, key: &str, default: &'a str) -> &'a str {
    if f.has("csrf") {
        f.get(key)
    } else {
        default
    }
}

// ---------------------------------------------------------------------------------------------
// Fleets.

#[derive(Deserialize, Default)]
pub(super) struct FleetQuery {
    fleet: Option<String>,
    notice: Option<String>,
}

pub(super) fn fleets_url(fleet: Option<&str>) -> String {
    match fleet {
        Some(f) => format!("/console/fleets?fleet={}", enc(f)),
        None => "/console/fleets".to_owned(),
    }
}

fn fleet_type_label(f: &Fleet) -> &'static str {
    match f.fleet_type.map(|t| t.as_str()) {
        Some("ALWAYS_ON") => "Always-On",
        Some("ELASTIC") => "Elastic",
        _ => "On-Demand",
    }
}

fn fleet_image(f: &Fleet) -> &str {
    f.image_name
        .as_deref()
        .or_else(|| f.image_arn.as_deref().map(image_name_of))
        .unwrap_or("")
}

fn capacity(f: &Fleet) -> String {
    let c = &f.compute_capacity_status;
    format!(
        "{} / {} / {}",
        c.desired,
        c.running.unwrap_or(0),
        c.in_use.unwrap_or(0)
    )
}

/// A fleet error in plain words: what went wrong, the domain's explanation, and what to do here.
fn fleet_problem(e: &FleetError) -> String {
    let code = e.error_code.map_or("", |c| c.as_str());
    let (what, next) = match code {
        "IMAGE_NOT_FOUND" => (
            "The fleet's image can no longer be used".to_owned(),
            " In the console, choose Edit and pick another image.",
        ),
        "INTERNAL_SERVICE_ERROR" => (
            "The fleet could not finish changing state".to_owned(),
            " Choose Start to try again; if it fails again, see the server log.",
        ),
        "" => ("The fleet has a problem".to_owned(), ""),
        other => (label(other), ""),
    };
    let msg = e.error_message.as_deref().unwrap_or("");
    if msg.is_empty() {
        format!("{what}.{next}")
    } else {
        format!("{what}: {msg}.{next}")
    }
}

async fn fleets_page(State(app): State<App>, s: Signed, Query(q): Query<FleetQuery>) -> Response {
    render_fleets(
        &app,
        &s,
        q.fleet.as_deref(),
        q.notice.as_deref(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn render_fleets(
    app: &App,
    s: &Signed,
    selected: Option<&str>,
    notice: Option<&str>,
    action_error: Option<&str>,
    status: StatusCode,
) -> Response {
    let cx = s.cx();
    let (fleets, list_error) = match all_fleets(app, &cx).await {
        Ok(v) => (v, None),
        Err(e) => (Vec::new(), Some(say(&e))),
    };
    let chosen = selected.and_then(|n| fleets.iter().find(|f| f.name == n));
    let missing = selected.is_some() && chosen.is_none() && list_error.is_none();
    let content = html! {
        h1 { "Fleets" }
        (notice_box(notice))
        div.toolbar {
            span { "A fleet is the streaming instances your users' sessions run on." }
            span.spacer {}
            a.button.primary href="/console/fleets/create" { "Create fleet" }
        }
        (error_box(list_error.as_deref()))
        @if missing {
            (error_box(Some("That fleet no longer exists in this Region; choose another fleet from the list.")))
        }
        div.table-wrap {
            table #fleets {
                thead { tr {
                    th { "Name" } th { "State" } th { "Image" } th { "Instance type" } th { "Fleet type" }
                    th title="Desired / running / in use" { "Capacity (desired / running / in use)" } th { "Problems" }
                } }
                tbody {
                    @for f in &fleets {
                        tr.selected[Some(f.name.as_str()) == selected] data-name=(f.name) {
                            td { a href=(fleets_url(Some(&f.name))) { (f.name) } }
                            td { (badge("fleet", &f.name, f.state.as_str())) }
                            td { (fleet_image(f)) }
                            td { (f.instance_type) }
                            td { (fleet_type_label(f)) }
                            td.capacity { (capacity(f)) }
                            td.problems {
                                @for e in f.fleet_errors.iter().flatten() { div { (fleet_problem(e)) } }
                            }
                        }
                    }
                    @if fleets.is_empty() && list_error.is_none() {
                        tr { td colspan="7" .muted { "No fleets in this Region yet. Choose Create fleet to make one." } }
                    }
                }
            }
        }
        @if let Some(f) = chosen { (fleet_details(s, f, action_error)) }
        @else { (error_box(action_error)) }
    };
    page_status(s, Nav::Fleets, "/console/fleets", "Fleets", status, content)
}

fn fleet_details(s: &Signed, f: &Fleet, action_error: Option<&str>) -> Markup {
    let c = &f.compute_capacity_status;
    let opt = |v: Option<i32>| v.map_or_else(String::new, |v| v.to_string());
    let rows: Vec<(&str, String)> = vec![
        ("Name", f.name.clone()),
        ("ARN", f.arn.clone()),
        ("Display name", f.display_name.clone().unwrap_or_default()),
        ("Description", f.description.clone().unwrap_or_default()),
        ("Image", fleet_image(f).to_owned()),
        ("Instance type", f.instance_type.clone()),
        ("Fleet type", fleet_type_label(f).to_owned()),
        ("Desired capacity", c.desired.to_string()),
        ("Running", opt(c.running)),
        ("In use", opt(c.in_use)),
        ("Available", opt(c.available)),
        (
            "Maximum user duration (seconds)",
            opt(f.max_user_duration_in_seconds),
        ),
        (
            "Disconnect timeout (seconds)",
            opt(f.disconnect_timeout_in_seconds),
        ),
        (
            "Default internet access",
            if f.enable_default_internet_access == Some(true) {
                "Enabled"
            } else {
                "Disabled"
            }
            .to_owned(),
        ),
        ("Created", time(f.created_time)),
    ];
    let errors = f.fleet_errors.clone().unwrap_or_default();
    let action = |path: &str, words: &str| {
        html! {
            form.inline method="post" action=(format!("/console/fleets/{path}")) {
                (csrf_field(s))
                input type="hidden" name="fleet" value=(f.name);
                button type="submit" { (words) }
            }
        }
    };
    html! {
        section.card #fleet-details aria-label="Fleet details" {
            h2 { (f.name) " " (badge("fleet", &f.name, f.state.as_str())) }
            div.toolbar {
                a.button href=(format!("/console/fleets/edit?fleet={}", enc(&f.name))) { "Edit" }
                (action("start", "Start"))
                (action("stop", "Stop"))
                span.spacer {}
                a.button.danger href=(format!("/console/fleets/delete?fleet={}", enc(&f.name))) { "Delete" }
            }
            (error_box(action_error))
            @if !errors.is_empty() {
                div.error #fleet-errors role="status" {
                    @for e in &errors { p { (fleet_problem(e)) } }
                }
            }
            dl.details {
                @for (k, v) in rows { dt { (k) } dd { (v) } }
            }
        }
    }
}

/// The image select: the account's own images, those shared with it, then public ones.
fn image_select(images: &[Image], chosen: &str, current: Option<&str>) -> Markup {
    let group = |vis: &str| -> Vec<&Image> {
        images
            .iter()
            .filter(|i| i.visibility.map_or("PRIVATE", |v| v.as_str()) == vis)
            .collect()
    };
    let groups = [
        ("Private", group("PRIVATE")),
        ("Shared with me", group("SHARED")),
        ("Public", group("PUBLIC")),
    ];
    let listed = |a: &str| images.iter().any(|i| i.arn.as_deref() == Some(a));
    html! {
        label for="fleet-image" { "Image" }
        select #fleet-image name="image" required {
            option value="" { "Choose an image" }
            @if let Some(cur) = current.filter(|c| !c.is_empty() && !listed(c)) {
                option value=(cur) selected[cur == chosen] { (image_name_of(cur)) " (current; no longer usable)" }
            }
            @for (title, list) in &groups {
                @if !list.is_empty() {
                    optgroup label=(title) {
                        @for i in list {
                            @let a = i.arn.as_deref().unwrap_or_default();
                            option value=(a) selected[a == chosen] { (i.name) }
                        }
                    }
                }
            }
        }
    }
}

fn instance_type_select(chosen: &str) -> Markup {
    html! {
        label for="fleet-instance-type" { "Instance type" }
        select #fleet-instance-type name="instance_type" {
            @for fam in photon_core::catalog::INSTANCE_FAMILIES {
                optgroup label=(label(fam.family)) {
                    @for t in fam.instance_types {
                        option value=(t) selected[*t == chosen] { (t) }
                    }
                }
            }
        }
    }
}

fn create_form(
    s: &Signed,
    images: &Result<Vec<Image>, String>,
    f: &Fields,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let fleet_type = value_or(f, "fleet_type", "ON_DEMAND");
    let body = html! {
        p { "The fleet starts Stopped; start it to provision its instances." }
        @if let Err(e) = images { (error_box(Some(e))) }
        form method="post" action="/console/fleets/create" {
            (csrf_field(s))
            div.field {
                label for="fleet-name" { "Name" }
                input #fleet-name name="name" required value=(f.get("name"));
                p.hint { "Unique in this Region: letters, digits, _ . and -, starting with a letter or digit." }
                label for="fleet-display-name" { "Display name (optional)" }
                input #fleet-display-name name="display_name" maxlength="100" value=(f.get("display_name"));
                label for="fleet-description" { "Description (optional)" }
                input #fleet-description name="description" maxlength="256" value=(f.get("description"));
                (image_select(images.as_deref().unwrap_or_default(), f.get("image"), None))
                (instance_type_select(value_or(f, "instance_type", "stream.standard.medium")))
                label for="fleet-type" { "Fleet type" }
                select #fleet-type name="fleet_type" {
                    option value="ON_DEMAND" selected[fleet_type == "ON_DEMAND"] { "On-Demand" }
                    option value="ALWAYS_ON" selected[fleet_type == "ALWAYS_ON"] { "Always-On" }
                }
                p.hint { "On-Demand instances start when a user connects; Always-On instances are running all the time." }
                label for="fleet-desired" { "Desired capacity" }
                input #fleet-desired name="desired" type="number" min="0" required value=(value_or(f, "desired", "1"));
                p.hint { "How many instances the fleet keeps; each streams one user's session." }
                label for="fleet-max-duration" { "Maximum user duration (seconds)" }
                input #fleet-max-duration name="max_user_duration" type="number" min="600" max="432000" value=(value_or(f, "max_user_duration", "57600"));
                p.hint { "600 to 432000; a session ends when it reaches this length." }
                label for="fleet-disconnect" { "Disconnect timeout (seconds)" }
                input #fleet-disconnect name="disconnect_timeout" type="number" min="60" max="36000" value=(value_or(f, "disconnect_timeout", "900"));
                p.hint { "60 to 36000; how long a session waits for its user to reconnect." }
                label.inline for="fleet-internet" {
                    input #fleet-internet type="checkbox" name="internet" value="on" checked[f.has("internet")];
                    " Enable default internet access"
                }
            }
            (error_box(error))
            div.actions-row {
                a.button href="/console/fleets" { "Cancel" }
                button.primary type="submit" { "Create fleet" }
            }
        }
    };
    dialog(
        s,
        Nav::Fleets,
        "/console/fleets",
        "Create fleet",
        status,
        body,
    )
}

async fn images_for_form(app: &App, cx: &Caller) -> Result<Vec<Image>, String> {
    usable_images(app, cx).await.map_err(|e| {
        format!(
            "The image list could not be loaded: {}. Reload the page to try again.",
            say(&e)
        )
    })
}

async fn create_page(State(app): State<App>, s: Signed) -> Response {
    let images = images_for_form(&app, &s.cx()).await;
    create_form(&s, &images, &Fields::default(), None, StatusCode::OK)
}

fn create_request(f: &Fields) -> Result<serde_json::Value, String> {
    let Some(image) = f.opt("image") else {
        return Err("Choose the image the fleet's instances start from.".into());
    };
    let Some(desired) = whole(f, "desired", "Desired capacity")? else {
        return Err(
            "Enter a desired capacity: how many instances the fleet keeps (0 or more).".into(),
        );
    };
    let mut req = json!({
        "Name": f.get("name").trim(),
        "ImageArn": image,
        "InstanceType": f.get("instance_type"),
        "FleetType": f.get("fleet_type"),
        "ComputeCapacity": { "DesiredInstances": desired },
        "EnableDefaultInternetAccess": f.has("internet"),
    });
    if let Some(v) = f.opt("display_name") {
        req["DisplayName"] = json!(v);
    }
    if let Some(v) = f.opt("description") {
        req["Description"] = json!(v);
    }
    if let Some(v) = whole(f, "max_user_duration", "Maximum user duration")? {
        req["MaxUserDurationInSeconds"] = json!(v);
    }
    if let Some(v) = whole(f, "disconnect_timeout", "Disconnect timeout")? {
        req["DisconnectTimeoutInSeconds"] = json!(v);
    }
    Ok(req)
}

async fn create(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let cx = s.cx();
    let req = match create_request(&f) {
        Ok(r) => r,
        Err(msg) => {
            let images = images_for_form(&app, &cx).await;
            return create_form(&s, &images, &f, Some(&msg), StatusCode::BAD_REQUEST);
        }
    };
    match call!(app, &cx, create_fleet, CreateFleetRequest, req) {
        Ok(r) => {
            let name = r
                .fleet
                .map_or_else(|| f.get("name").trim().to_owned(), |x| x.name);
            redirect(
                "/console/fleets",
                &format!("Fleet {name} was created. It is Stopped: choose Start to provision its instances."),
                "fleet",
                Some(&name),
            )
        }
        Err(e) => {
            let images = images_for_form(&app, &cx).await;
            create_form(&s, &images, &f, Some(&say(&e)), status_of(&e))
        }
    }
}

#[derive(Deserialize)]
pub(super) struct FleetTarget {
    fleet: String,
}

fn edit_form(
    s: &Signed,
    name: &str,
    images: &Result<Vec<Image>, String>,
    f: &Fields,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let was_image = f.get("was_image");
    let body = html! {
        p { "Change fleet " strong { (name) } ". A new image applies to instances provisioned from now on; sessions already running keep theirs." }
        @if let Err(e) = images { (error_box(Some(e))) }
        form method="post" action="/console/fleets/edit" {
            (csrf_field(s))
            input type="hidden" name="fleet" value=(name);
            @for k in ["was_image", "was_desired", "was_display_name", "was_description"] {
                input type="hidden" name=(k) value=(f.get(k));
            }
            div.field {
                (image_select(images.as_deref().unwrap_or_default(), f.get("image"), Some(was_image)))
                label for="fleet-desired" { "Desired capacity" }
                input #fleet-desired name="desired" type="number" min="0" required value=(f.get("desired"));
                label for="fleet-display-name" { "Display name" }
                input #fleet-display-name name="display_name" maxlength="100" value=(f.get("display_name"));
                label for="fleet-description" { "Description" }
                input #fleet-description name="description" maxlength="256" value=(f.get("description"));
            }
            (error_box(error))
            div.actions-row {
                a.button href=(fleets_url(Some(name))) { "Cancel" }
                button.primary type="submit" { "Save changes" }
            }
        }
    };
    dialog(
        s,
        Nav::Fleets,
        &fleets_url(Some(name)),
        "Edit fleet",
        status,
        body,
    )
}

async fn edit_page(State(app): State<App>, s: Signed, Query(t): Query<FleetTarget>) -> Response {
    let cx = s.cx();
    let fleet = match fleet_named(&app, &cx, &t.fleet).await {
        Ok(Some(f)) => f,
        Ok(None) => {
            return render_fleets(
                &app,
                &s,
                None,
                None,
                Some(&format!(
                    "Fleet {} no longer exists in this Region; choose another fleet.",
                    t.fleet
                )),
                StatusCode::NOT_FOUND,
            )
            .await
        }
        Err(e) => {
            return render_fleets(
                &app,
                &s,
                Some(&t.fleet),
                None,
                Some(&say(&e)),
                status_of(&e),
            )
            .await
        }
    };
    let image = fleet.image_arn.clone().unwrap_or_default();
    let desired = fleet.compute_capacity_status.desired.to_string();
    let display = fleet.display_name.clone().unwrap_or_default();
    let description = fleet.description.clone().unwrap_or_default();
    let f = Fields(vec![
        ("image".into(), image.clone()),
        ("was_image".into(), image),
        ("desired".into(), desired.clone()),
        ("was_desired".into(), desired),
        ("display_name".into(), display.clone()),
        ("was_display_name".into(), display),
        ("description".into(), description.clone()),
        ("was_description".into(), description),
    ]);
    let images = images_for_form(&app, &cx).await;
    edit_form(&s, &fleet.name, &images, &f, None, StatusCode::OK)
}

/// Only what the user changed is sent, so an untouched field cannot fail the update (e.g. a
/// capacity check on an image whose share was revoked, when only the name changed).
fn edit_request(f: &Fields) -> Result<Option<serde_json::Value>, String> {
    let mut req = json!({ "Name": f.get("fleet") });
    let mut changed = false;
    if let Some(image) = f.opt("image").filter(|i| *i != f.get("was_image")) {
        req["ImageArn"] = json!(image);
        changed = true;
    }
    let Some(desired) = whole(f, "desired", "Desired capacity")? else {
        return Err(
            "Enter a desired capacity: how many instances the fleet keeps (0 or more).".into(),
        );
    };
    if f.get("was_desired").trim().parse::<i64>().ok() != Some(desired) {
        req["ComputeCapacity"] = json!({ "DesiredInstances": desired });
        changed = true;
    }
    for (key, member) in [
        ("display_name", "DisplayName"),
        ("description", "Description"),
    ] {
        let now = f.get(key).trim();
        if now != f.get(&format!("was_{key}")).trim() {
            req[member] = json!(now);
            changed = true;
        }
    }
    Ok(changed.then_some(req))
}

async fn edit(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let cx = s.cx();
    let name = f.get("fleet").to_owned();
    let result = match edit_request(&f) {
        Ok(Some(req)) => call!(app, &cx, update_fleet, UpdateFleetRequest, req)
            .map_err(|e| (say(&e), status_of(&e))),
        Ok(None) => {
            return redirect(
                "/console/fleets",
                &format!("Fleet {name} is unchanged."),
                "fleet",
                Some(&name),
            );
        }
        Err(msg) => Err((msg, StatusCode::BAD_REQUEST)),
    };
    match result {
        Ok(_) => redirect(
            "/console/fleets",
            &format!("Fleet {name} was updated."),
            "fleet",
            Some(&name),
        ),
        Err((msg, status)) => {
            let images = images_for_form(&app, &cx).await;
            edit_form(&s, &name, &images, &f, Some(&msg), status)
        }
    }
}

async fn start(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let name = f.get("fleet").to_owned();
    match call!(
        app,
        &s.cx(),
        start_fleet,
        StartFleetRequest,
        json!({ "Name": name })
    ) {
        Ok(_) => redirect(
            "/console/fleets",
            &format!("Starting fleet {name}: it is Running once its instances are provisioned."),
            "fleet",
            Some(&name),
        ),
        Err(e) => render_fleets(&app, &s, Some(&name), None, Some(&say(&e)), status_of(&e)).await,
    }
}

async fn stop(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let name = f.get("fleet").to_owned();
    match call!(
        app,
        &s.cx(),
        stop_fleet,
        StopFleetRequest,
        json!({ "Name": name })
    ) {
        Ok(_) => redirect(
            "/console/fleets",
            &format!("Stopping fleet {name}: its sessions end and its instances are released."),
            "fleet",
            Some(&name),
        ),
        Err(e) => render_fleets(&app, &s, Some(&name), None, Some(&say(&e)), status_of(&e)).await,
    }
}

fn delete_form(s: &Signed, name: &str, error: Option<&ApiError>) -> Response {
    let back = fleets_url(Some(name));
    let d = DeleteDialog {
        nav: Nav::Fleets,
        what: "fleet",
        name,
        hint: "Stop the fleet and disassociate it from its stacks first.",
        action: "/console/fleets/delete",
        field: "fleet",
        value: name,
        back: &back,
    };
    let status = error.map_or(StatusCode::OK, status_of);
    delete_dialog(s, &d, error.map(say).as_deref(), status)
}

async fn delete_page(s: Signed, Query(t): Query<FleetTarget>) -> Response {
    delete_form(&s, &t.fleet, None)
}

async fn delete(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let name = f.get("fleet").to_owned();
    match call!(
        app,
        &s.cx(),
        delete_fleet,
        DeleteFleetRequest,
        json!({ "Name": name })
    ) {
        Ok(_) => redirect(
            "/console/fleets",
            &format!("Fleet {name} was deleted."),
            "fleet",
            None,
        ),
        Err(e) => delete_form(&s, &name, Some(&e)),
    }
}
