//! Stacks: the stack list with its associated fleets, and Create, Associate fleet,
//! Disassociate and Delete. Every action calls the same domain operation as the API.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use photon_types::{
    ApiError, AssociateFleetRequest, Caller, CreateStackRequest, DeleteStackRequest,
    DisassociateFleetRequest, Fleet, Stack,
};
use serde::Deserialize;
use serde_json::json;

use super::fleets::{all_fleets, all_stacks, fleets_of, fleets_url};
use super::{
    csrf_field, delete_dialog, dialog, enc, error_box, notice_box, page_status, redirect, say,
    status_of, time, DeleteDialog, Fields, Nav, Signed,
};
use crate::server::App;

pub(super) fn router() -> Router<App> {
    Router::new()
        .route("/console/stacks", get(stacks_page))
        .route(
            "/console/stacks/create",
            get(create_stack_page).post(create_stack),
        )
        .route(
            "/console/stacks/associate",
            get(associate_page).post(associate),
        )
        .route("/console/stacks/disassociate", post(disassociate))
        .route(
            "/console/stacks/delete",
            get(delete_stack_page).post(delete_stack),
        )
}

// ---------------------------------------------------------------------------------------------
// Stacks.

#[derive(Deserialize, Default)]
pub(super) struct StackQuery {
    stack: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct StackTarget {
    stack: String,
}

fn stacks_url(stack: Option<&str>) -> String {
    match stack {
        Some(s) => format!("/console/stacks?stack={}", enc(s)),
        None => "/console/stacks".to_owned(),
    }
}

async fn stacks_page(State(app): State<App>, s: Signed, Query(q): Query<StackQuery>) -> Response {
    render_stacks(
        &app,
        &s,
        q.stack.as_deref(),
        q.notice.as_deref(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn render_stacks(
    app: &App,
    s: &Signed,
    selected: Option<&str>,
    notice: Option<&str>,
    action_error: Option<&str>,
    status: StatusCode,
) -> Response {
    let cx = s.cx();
    let mut list_error = None;
    let mut stacks: Vec<(Stack, Vec<String>)> = Vec::new();
    match all_stacks(app, &cx).await {
        Ok(v) => {
            for st in v {
                match fleets_of(app, &cx, &st.name).await {
                    Ok(fl) => stacks.push((st, fl)),
                    Err(e) => {
                        list_error = Some(say(&e));
                        stacks.push((st, Vec::new()));
                    }
                }
            }
        }
        Err(e) => list_error = Some(say(&e)),
    }
    let chosen = selected.and_then(|n| stacks.iter().find(|(st, _)| st.name == n));
    let content = html! {
        h1 { "Stacks" }
        (notice_box(notice))
        div.toolbar {
            span { "A stack is what users stream: associate a fleet with it to give it instances." }
            span.spacer {}
            a.button.primary href="/console/stacks/create" { "Create stack" }
        }
        (error_box(list_error.as_deref()))
        @if selected.is_some() && chosen.is_none() && list_error.is_none() {
            (error_box(Some("That stack no longer exists in this Region; choose another stack from the list.")))
        }
        div.table-wrap {
            table #stacks {
                thead { tr { th { "Name" } th { "Display name" } th { "Description" } th { "Associated fleets" } th { "Created" } } }
                tbody {
                    @for (st, fl) in &stacks {
                        tr.selected[Some(st.name.as_str()) == selected] data-name=(st.name) {
                            td { a href=(stacks_url(Some(&st.name))) { (st.name) } }
                            td { (st.display_name.as_deref().unwrap_or("")) }
                            td { (st.description.as_deref().unwrap_or("")) }
                            td.fleets { (fl.join(", ")) }
                            td { (time(st.created_time)) }
                        }
                    }
                    @if stacks.is_empty() && list_error.is_none() {
                        tr { td colspan="5" .muted { "No stacks in this Region yet. Choose Create stack to make one." } }
                    }
                }
            }
        }
        @if let Some((st, fl)) = chosen { (stack_details(s, st, fl, action_error)) }
    };
    page_status(s, Nav::Stacks, "/console/stacks", "Stacks", status, content)
}

fn stack_details(s: &Signed, st: &Stack, fleets: &[String], action_error: Option<&str>) -> Markup {
    let errors = st.stack_errors.clone().unwrap_or_default();
    html! {
        section.card #stack-details aria-label="Stack details" {
            h2 { (st.name) }
            div.toolbar {
                a.button href=(format!("/console/stacks/associate?stack={}", enc(&st.name))) { "Associate fleet" }
                span.spacer {}
                a.button.danger href=(format!("/console/stacks/delete?stack={}", enc(&st.name))) { "Delete" }
            }
            (error_box(action_error))
            @for e in &errors {
                div.error role="status" { (e.error_message.as_deref().unwrap_or("")) }
            }
            dl.details {
                dt { "Name" } dd { (st.name) }
                dt { "ARN" } dd { (st.arn.as_deref().unwrap_or("")) }
                dt { "Display name" } dd { (st.display_name.as_deref().unwrap_or("")) }
                dt { "Description" } dd { (st.description.as_deref().unwrap_or("")) }
                dt { "Created" } dd { (time(st.created_time)) }
            }
            h3 { "Associated fleets" }
            table #stack-fleets {
                thead { tr { th { "Fleet" } th {} } }
                tbody {
                    @for fl in fleets {
                        tr data-name=(fl) {
                            td { a href=(fleets_url(Some(fl))) { (fl) } }
                            td {
                                form.inline method="post" action="/console/stacks/disassociate" {
                                    (csrf_field(s))
                                    input type="hidden" name="stack" value=(st.name);
                                    input type="hidden" name="fleet" value=(fl);
                                    button type="submit" { "Disassociate" }
                                }
                            }
                        }
                    }
                    @if fleets.is_empty() {
                        tr { td colspan="2" .muted { "No fleet is associated: choose Associate fleet so users of this stack can stream." } }
                    }
                }
            }
        }
    }
}

fn create_stack_form(s: &Signed, f: &Fields, error: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        form method="post" action="/console/stacks/create" {
            (csrf_field(s))
            div.field {
                label for="stack-name" { "Name" }
                input #stack-name name="name" required value=(f.get("name"));
                p.hint { "Unique in this Region: letters, digits, _ . and -, starting with a letter or digit." }
                label for="stack-display-name" { "Display name (optional)" }
                input #stack-display-name name="display_name" maxlength="100" value=(f.get("display_name"));
                label for="stack-description" { "Description (optional)" }
                input #stack-description name="description" maxlength="256" value=(f.get("description"));
            }
            (error_box(error))
            div.actions-row {
                a.button href="/console/stacks" { "Cancel" }
                button.primary type="submit" { "Create stack" }
            }
        }
    };
    dialog(
        s,
        Nav::Stacks,
        "/console/stacks",
        "Create stack",
        status,
        body,
    )
}

async fn create_stack_page(s: Signed) -> Response {
    create_stack_form(&s, &Fields::default(), None, StatusCode::OK)
}

async fn create_stack(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let name = f.get("name").trim().to_owned();
    let mut req = json!({ "Name": name });
    if let Some(v) = f.opt("display_name") {
        req["DisplayName"] = json!(v);
    }
    if let Some(v) = f.opt("description") {
        req["Description"] = json!(v);
    }
    match call!(app, &s.cx(), create_stack, CreateStackRequest, req) {
        Ok(_) => redirect(
            "/console/stacks",
            &format!(
                "Stack {name} was created. Choose Associate fleet to give it streaming instances."
            ),
            "stack",
            Some(&name),
        ),
        Err(e) => create_stack_form(&s, &f, Some(&say(&e)), status_of(&e)),
    }
}

fn associate_form(
    s: &Signed,
    stack: &str,
    fleets: &Result<Vec<Fleet>, String>,
    f: &Fields,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let chosen = f.get("fleet");
    let body = html! {
        p { "Choose the fleet whose instances users of stack " strong { (stack) } " stream from." }
        @if let Err(e) = fleets { (error_box(Some(e))) }
        form method="post" action="/console/stacks/associate" {
            (csrf_field(s))
            input type="hidden" name="stack" value=(stack);
            div.field {
                label for="associate-fleet" { "Fleet" }
                select #associate-fleet name="fleet" required {
                    option value="" { "Choose a fleet" }
                    @for fl in fleets.as_deref().unwrap_or_default() {
                        option value=(fl.name) selected[fl.name == chosen] { (fl.name) }
                    }
                }
                @if fleets.as_ref().is_ok_and(Vec::is_empty) {
                    p.hint { "There are no fleets in this Region yet: " a href="/console/fleets/create" { "create a fleet" } " first." }
                }
            }
            (error_box(error))
            div.actions-row {
                a.button href=(stacks_url(Some(stack))) { "Cancel" }
                button.primary type="submit" { "Associate fleet" }
            }
        }
    };
    dialog(
        s,
        Nav::Stacks,
        &stacks_url(Some(stack)),
        "Associate fleet",
        status,
        body,
    )
}

async fn fleets_for_form(app: &App, cx: &Caller) -> Result<Vec<Fleet>, String> {
    all_fleets(app, cx).await.map_err(|e| {
        format!(
            "The fleet list could not be loaded: {}. Reload the page to try again.",
            say(&e)
        )
    })
}

async fn associate_page(
    State(app): State<App>,
    s: Signed,
    Query(t): Query<StackTarget>,
) -> Response {
    let fleets = fleets_for_form(&app, &s.cx()).await;
    associate_form(
        &s,
        &t.stack,
        &fleets,
        &Fields::default(),
        None,
        StatusCode::OK,
    )
}

async fn associate(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let cx = s.cx();
    let stack = f.get("stack").to_owned();
    let result = match f.opt("fleet") {
        None => Err((
            "Choose the fleet to associate with the stack.".to_owned(),
            StatusCode::BAD_REQUEST,
        )),
        Some(fleet) => call!(
            app,
            &cx,
            associate_fleet,
            AssociateFleetRequest,
            json!({ "StackName": stack, "FleetName": fleet })
        )
        .map_err(|e| (say(&e), status_of(&e))),
    };
    match result {
        Ok(_) => redirect(
            "/console/stacks",
            &format!("Fleet {} is associated with stack {stack}.", f.get("fleet")),
            "stack",
            Some(&stack),
        ),
        Err((msg, status)) => {
            let fleets = fleets_for_form(&app, &cx).await;
            associate_form(&s, &stack, &fleets, &f, Some(&msg), status)
        }
    }
}

async fn disassociate(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let stack = f.get("stack").to_owned();
    let fleet = f.get("fleet").to_owned();
    match call!(
        app,
        &s.cx(),
        disassociate_fleet,
        DisassociateFleetRequest,
        json!({ "StackName": stack, "FleetName": fleet })
    ) {
        Ok(_) => redirect(
            "/console/stacks",
            &format!("Fleet {fleet} is no longer associated with stack {stack}."),
            "stack",
            Some(&stack),
        ),
        Err(e) => render_stacks(&app, &s, Some(&stack), None, Some(&say(&e)), status_of(&e)).await,
    }
}

fn delete_stack_form(s: &Signed, name: &str, error: Option<&ApiError>) -> Response {
    let back = stacks_url(Some(name));
    let d = DeleteDialog {
        nav: Nav::Stacks,
        what: "stack",
        name,
        hint: "Disassociate its fleets first.",
        action: "/console/stacks/delete",
        field: "stack",
        value: name,
        back: &back,
    };
    let status = error.map_or(StatusCode::OK, status_of);
    delete_dialog(s, &d, error.map(say).as_deref(), status)
}

async fn delete_stack_page(s: Signed, Query(t): Query<StackTarget>) -> Response {
    delete_stack_form(&s, &t.stack, None)
}

async fn delete_stack(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let name = f.get("stack").to_owned();
    match call!(
        app,
        &s.cx(),
        delete_stack,
        DeleteStackRequest,
        json!({ "Name": name })
    ) {
        Ok(_) => redirect(
            "/console/stacks",
            &format!("Stack {name} was deleted."),
            "stack",
            None,
        ),
        Err(e) => delete_stack_form(&s, &name, Some(&e)),
    }
}
