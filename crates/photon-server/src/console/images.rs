//! Images, Image Registry: the list with its visibility filters, an image's details and tabs
//! (Permissions, Notifications, Tags), and the Actions menu (Delete, Copy, Share, Update), step
//! for step as the seed's procedures go.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{html, Markup};
use photon_types::{
    ApiError, Caller, CopyImageRequest, CreateUpdatedImageRequest, DeleteImagePermissionsRequest,
    DeleteImageRequest, DescribeImagePermissionsRequest, DescribeImagesRequest, Image,
    ListTagsForResourceRequest, UpdateImagePermissionsRequest,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    badge, csrf_field, delete_dialog, dialog, enc, error_box, image_name_of, notice_box, page,
    redirect, rows, say, status_of, tag_editor, tags_of, time, DeleteDialog, Fields, Nav, Signed,
};
use crate::server::App;

const PAGE: usize = 20;

pub(super) fn router() -> Router<App> {
    Router::new()
        .route("/console/images", get(registry))
        .route("/console/images/delete", get(delete_page).post(delete))
        .route("/console/images/copy", get(copy_page).post(copy))
        .route("/console/images/share", get(share_page).post(share))
        .route("/console/images/permissions", get(edit_page).post(edit))
        .route("/console/images/update", get(update_page).post(update))
}

/// The four visibility categories of the seed, plus everything.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Filter {
    All,
    Public,
    Private,
    SharedWithOthers,
    SharedWithMe,
}

impl Filter {
    const ALL: [(Filter, &'static str, &'static str); 5] = [
        (Filter::All, "all", "All images"),
        (Filter::Public, "public", "Public"),
        (Filter::Private, "private", "Private"),
        (
            Filter::SharedWithOthers,
            "shared-with-others",
            "Shared with others",
        ),
        (Filter::SharedWithMe, "shared-with-me", "Shared with me"),
    ];

    fn parse(s: &str) -> Filter {
        Filter::ALL
            .iter()
            .find(|(_, k, _)| *k == s)
            .map_or(Filter::All, |(f, _, _)| *f)
    }

    fn key(self) -> &'static str {
        Filter::ALL
            .iter()
            .find(|(f, _, _)| *f == self)
            .map_or("all", |(_, k, _)| k)
    }

    fn api_type(self) -> Option<&'static str> {
        match self {
            Filter::All => None,
            Filter::Public => Some("PUBLIC"),
            Filter::Private | Filter::SharedWithOthers => Some("PRIVATE"),
            Filter::SharedWithMe => Some("SHARED"),
        }
    }

    fn keeps(self, i: &Image) -> bool {
        let shared = i
            .image_shared_with_others
            .is_some_and(|s| s.as_str() == "TRUE");
        match self {
            Filter::Private => !shared,
            Filter::SharedWithOthers => shared,
            _ => true,
        }
    }
}

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    filter: Option<String>,
    q: Option<String>,
    page: Option<usize>,
    image: Option<String>,
    tab: Option<String>,
    notice: Option<String>,
}

/// Every image of one visibility type, following the API's pages.
async fn all_images(app: &App, cx: &Caller, kind: Option<&str>) -> Result<Vec<Image>, ApiError> {
    let mut req = json!({ "MaxResults": 25 });
    if let Some(t) = kind {
        req["Type"] = json!(t);
    }
    all_pages!(app, cx, describe_images, DescribeImagesRequest, req, images)
}

async fn image_by_arn(app: &App, cx: &Caller, arn: &str) -> Result<Option<Image>, ApiError> {
    match call!(
        app,
        cx,
        describe_images,
        DescribeImagesRequest,
        json!({ "Arns": [arn] })
    ) {
        Ok(r) => Ok(r.images.unwrap_or_default().into_iter().next()),
        Err(e) if e.code == photon_types::ErrorCode::ResourceNotFoundException => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) async fn state_of(app: &App, cx: &Caller, arn: &str) -> Result<Option<String>, String> {
    image_by_arn(app, cx, arn)
        .await
        .map(|i| i.and_then(|i| i.state.map(|s| s.as_str().to_owned())))
        .map_err(|e| say(&e))
}

fn visibility(i: &Image) -> &'static str {
    match i.visibility.map(|v| v.as_str()) {
        Some("PUBLIC") => "Public",
        Some("SHARED") => "Shared with me",
        _ if i
            .image_shared_with_others
            .is_some_and(|s| s.as_str() == "TRUE") =>
        {
            "Shared with others"
        }
        _ => "Private",
    }
}

fn state(i: &Image) -> &'static str {
    i.state
        .unwrap_or(photon_types::ImageState::Pending)
        .as_str()
}

fn arn(i: &Image) -> &str {
    i.arn.as_deref().unwrap_or_default()
}

fn registry_url(
    filter: Filter,
    q: &str,
    page: usize,
    image: Option<&str>,
    tab: Option<&str>,
) -> String {
    let mut u = format!("/console/images?filter={}", filter.key());
    if !q.is_empty() {
        u.push_str(&format!("&q={}", enc(q)));
    }
    if page > 1 {
        u.push_str(&format!("&page={page}"));
    }
    if let Some(i) = image {
        u.push_str(&format!("&image={}", enc(i)));
    }
    if let Some(t) = tab {
        u.push_str(&format!("&tab={t}"));
    }
    u
}

async fn registry(State(app): State<App>, s: Signed, Query(q): Query<ListQuery>) -> Response {
    let cx = s.cx();
    let filter = Filter::parse(q.filter.as_deref().unwrap_or("all"));
    let search = q.q.clone().unwrap_or_default();
    let needle = search.trim().to_lowercase();
    let back = registry_url(filter, &search, 1, None, None);
    let listed = all_images(&app, &cx, filter.api_type()).await;
    let (images, list_error) = match listed {
        Ok(v) => (
            v.into_iter()
                .filter(|i| filter.keeps(i))
                .filter(|i| {
                    needle.is_empty()
                        || i.name.to_lowercase().contains(&needle)
                        || i.display_name
                            .as_deref()
                            .is_some_and(|d| d.to_lowercase().contains(&needle))
                })
                .collect::<Vec<_>>(),
            None,
        ),
        Err(e) => (Vec::new(), Some(say(&e))),
    };
    let pages = images.len().div_ceil(PAGE).max(1);
    let page_no = q.page.unwrap_or(1).clamp(1, pages);
    let shown = &images[(page_no - 1) * PAGE..(page_no * PAGE).min(images.len())];

    let selected = match &q.image {
        Some(a) => match images.iter().find(|i| arn(i) == a) {
            Some(i) => Some(i.clone()),
            None => image_by_arn(&app, &cx, a).await.ok().flatten(),
        },
        None => None,
    };
    let sel_arn = selected.as_ref().map(arn);
    let owned = selected
        .as_ref()
        .is_some_and(|i| i.visibility.map(|v| v.as_str()) == Some("PRIVATE"));
    let action = |path: &str, label: &str| {
        html! {
            li {
                @match (sel_arn, owned) {
                    (Some(a), true) => a href=(format!("/console/images/{path}?image={}", enc(a))) { (label) },
                    (Some(_), false) => a aria-disabled="true" title="Only the image's owner can do this" { (label) },
                    (None, _) => a aria-disabled="true" title="Select an image first" { (label) },
                }
            }
        }
    };
    let content = html! {
        h1 { "Image Registry" }
        (notice_box(q.notice.as_deref()))
        ul.tabs role="tablist" aria-label="Visibility" {
            @for (f, key, name) in Filter::ALL {
                li { a href=(format!("/console/images?filter={key}")) aria-selected=(if f == filter { "true" } else { "false" }) role="tab" { (name) } }
            }
        }
        div.toolbar {
            form.search method="get" action="/console/images" role="search" {
                input type="hidden" name="filter" value=(filter.key());
                label.inline for="image-search" { "Search by name" }
                input #image-search type="search" name="q" value=(search) placeholder="Image name";
                button type="submit" { "Search" }
            }
            span.spacer {}
            details.menu #actions {
                summary { "Actions" }
                ul {
                    (action("delete", "Delete"))
                    (action("copy", "Copy"))
                    (action("share", "Share"))
                    (action("update", "Update"))
                }
            }
        }
        (error_box(list_error.as_deref()))
        div.table-wrap {
            table #images {
                thead { tr { th { "Name" } th { "Display name" } th { "Visibility" } th { "Platform" } th { "State" } th { "Created" } } }
                tbody {
                    @for i in shown {
                        tr.selected[sel_arn == Some(arn(i))] data-name=(i.name) {
                            td { a href=(registry_url(filter, &search, page_no, Some(arn(i)), None)) { (i.name) } }
                            td { (i.display_name.as_deref().unwrap_or("")) }
                            td { (visibility(i)) }
                            td { (i.platform.map_or("", |p| p.as_str())) }
                            td { (badge("image", arn(i), state(i))) }
                            td { (time(i.created_time)) }
                        }
                    }
                    @if shown.is_empty() {
                        tr { td colspan="6" .muted { "No images match." } }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if page_no > 1 { a.button href=(registry_url(filter, &search, page_no - 1, None, None)) rel="prev" { "Previous" } }
            span { "Page " (page_no) " of " (pages) " · " (images.len()) " images" }
            @if page_no < pages { a.button href=(registry_url(filter, &search, page_no + 1, None, None)) rel="next" { "Next" } }
        }
        @if let Some(i) = &selected {
            (details(&app, &cx, i, filter, &search, page_no, q.tab.as_deref().unwrap_or("details")).await)
        }
    };
    page(&s, Nav::ImageRegistry, &back, "Image Registry", content)
}

async fn details(
    app: &App,
    cx: &Caller,
    i: &Image,
    filter: Filter,
    search: &str,
    page_no: usize,
    tab: &str,
) -> Markup {
    let a = arn(i);
    let tabs = [
        ("details", "Details"),
        ("permissions", "Permissions"),
        ("notifications", "Notifications"),
        ("tags", "Tags"),
    ];
    let body = match tab {
        "permissions" => permissions_tab(app, cx, i).await,
        "notifications" => notifications_tab(i),
        "tags" => tags_tab(app, cx, a).await,
        _ => details_tab(i),
    };
    html! {
        section.card #image-details aria-label="Image details" {
            h2 { (i.name) " " (badge("image", a, state(i))) }
            ul.tabs role="tablist" {
                @for (key, name) in tabs {
                    li { a href=(registry_url(filter, search, page_no, Some(a), Some(key))) role="tab" aria-selected=(if key == tab { "true" } else { "false" }) { (name) } }
                }
            }
            (body)
        }
    }
}

fn details_tab(i: &Image) -> Markup {
    let rows: Vec<(&str, String)> = vec![
        ("Name", i.name.clone()),
        ("ARN", arn(i).to_owned()),
        ("Display name", i.display_name.clone().unwrap_or_default()),
        ("Description", i.description.clone().unwrap_or_default()),
        ("Visibility", visibility(i).to_owned()),
        ("State", super::label(state(i))),
        ("Platform", i.platform.map_or("", |p| p.as_str()).to_owned()),
        (
            "Agent version",
            i.appstream_agent_version.clone().unwrap_or_default(),
        ),
        (
            "Image builder",
            i.image_builder_name.clone().unwrap_or_default(),
        ),
        ("Base image", i.base_image_arn.clone().unwrap_or_default()),
        ("Created", time(i.created_time)),
    ];
    html! {
        dl.details {
            @for (k, v) in rows { dt { (k) } dd { (v) } }
        }
    }
}

async fn permissions_tab(app: &App, cx: &Caller, i: &Image) -> Markup {
    let owned = i.visibility.map(|v| v.as_str()) == Some("PRIVATE");
    if !owned {
        return html! { p.muted { "Only the image's owner sees and edits its sharing permissions." } };
    }
    let shares = shares_of(app, cx, &i.name).await;
    html! {
        div.toolbar {
            span { "Accounts this image is shared with" }
            span.spacer {}
            a.button #edit-permissions href=(format!("/console/images/permissions?image={}", enc(arn(i)))) { "Edit" }
        }
        @match shares {
            Ok(list) => table #permissions {
                thead { tr { th { "AWS account" } th { "Use for image builder" } th { "Use for fleet" } } }
                tbody {
                    @for (acct, b, f) in &list {
                        tr { td { (acct) } td { (yes(*b)) } td { (yes(*f)) } }
                    }
                    @if list.is_empty() { tr { td colspan="3" .muted { "This image is not shared." } } }
                }
            },
            Err(e) => (error_box(Some(&e))),
        }
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "Yes"
    } else {
        "No"
    }
}

fn notifications_tab(i: &Image) -> Markup {
    let errors = i.image_errors.clone().unwrap_or_default();
    let reason = i.state_change_reason.as_ref();
    html! {
        @if errors.is_empty() && reason.is_none() {
            p.muted { "No notifications." }
        } @else {
            table #notifications {
                thead { tr { th { "Code" } th { "Message" } th { "Time" } } }
                tbody {
                    @if let Some(r) = reason {
                        tr { td { (r.code.map_or("", |c| c.as_str())) } td { (r.message.as_deref().unwrap_or("")) } td {} }
                    }
                    @for e in &errors {
                        tr {
                            td { (e.error_code.map_or("", |c| c.as_str())) }
                            td { (e.error_message.as_deref().unwrap_or("")) }
                            td { (time(e.error_timestamp)) }
                        }
                    }
                }
            }
        }
    }
}

async fn tags_tab(app: &App, cx: &Caller, arn: &str) -> Markup {
    let tags = call!(
        app,
        cx,
        list_tags_for_resource,
        ListTagsForResourceRequest,
        json!({ "ResourceArn": arn })
    );
    match tags {
        Ok(r) => {
            let tags = r.tags.unwrap_or_default();
            html! {
                table #tags {
                    thead { tr { th { "Key" } th { "Value" } } }
                    tbody {
                        @for (k, v) in &tags { tr { td { (k) } td { (v) } } }
                        @if tags.is_empty() { tr { td colspan="2" .muted { "No tags." } } }
                    }
                }
            }
        }
        Err(e) => error_box(Some(&say(&e))),
    }
}

/// (account, image builder, fleet) for every account the image is shared with.
async fn shares_of(
    app: &App,
    cx: &Caller,
    name: &str,
) -> Result<Vec<(String, bool, bool)>, String> {
    let all = all_pages!(
        app,
        cx,
        describe_image_permissions,
        DescribeImagePermissionsRequest,
        json!({ "Name": name, "MaxResults": 500 }),
        shared_image_permissions_list
    )
    .map_err(|e| say(&e))?;
    Ok(all
        .into_iter()
        .map(|p| {
            (
                p.shared_account_id,
                p.image_permissions.allow_image_builder.unwrap_or(false),
                p.image_permissions.allow_fleet.unwrap_or(false),
            )
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Actions.

#[derive(Deserialize)]
pub(super) struct Target {
    image: String,
}

fn image_dialog(
    s: &Signed,
    title: &str,
    image_arn: &str,
    status: StatusCode,
    body: Markup,
) -> Response {
    let back = format!("/console/images?image={}", enc(image_arn));
    dialog(s, Nav::ImageRegistry, &back, title, status, body)
}

/// Deleting, copying, sharing and updating are the owner's: a public or shared image of the
/// same name must never lead to the caller's own image being changed instead.
fn not_owned(s: &Signed, image_arn: &str) -> Option<Response> {
    let owner = photon_core::arn::Arn::parse(image_arn)
        .map(|a| a.account)
        .unwrap_or_default();
    if owner == s.session.account_id {
        return None;
    }
    let whose = if owner.is_empty() {
        "It is a public AWS base image.".to_owned()
    } else {
        format!("It belongs to account {owner} and is shared with you.")
    };
    let body = html! {
        (error_box(Some(&format!(
            "Only an image's owner can delete, copy, share or update it. {whose} To change it, \
             launch an image builder from it (where you may) and create an image of your own."
        ))))
        div.actions-row { (cancel(image_arn)) }
    };
    Some(image_dialog(
        s,
        "Not your image",
        image_arn,
        StatusCode::FORBIDDEN,
        body,
    ))
}

fn cancel(image_arn: &str) -> Markup {
    html! { a.button href=(format!("/console/images?image={}", enc(image_arn))) { "Cancel" } }
}

fn done(notice: &str, image_arn: Option<&str>) -> Response {
    redirect("/console/images", notice, "image", image_arn)
}

fn delete_form(s: &Signed, image_arn: &str, error: Option<&ApiError>) -> Response {
    let back = format!("/console/images?image={}", enc(image_arn));
    let d = DeleteDialog {
        nav: Nav::ImageRegistry,
        what: "image",
        name: image_name_of(image_arn),
        hint:
            "You can't delete an image that is used by fleets or shared with other AWS accounts: \
               remove it from those fleets and remove all its sharing permissions first.",
        action: "/console/images/delete",
        field: "image",
        value: image_arn,
        back: &back,
    };
    let status = error.map_or(StatusCode::OK, status_of);
    delete_dialog(s, &d, error.map(say).as_deref(), status)
}

async fn delete_page(s: Signed, Query(t): Query<Target>) -> Response {
    if let Some(r) = not_owned(&s, &t.image) {
        return r;
    }
    delete_form(&s, &t.image, None)
}

async fn delete(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let image_arn = f.get("image").to_owned();
    if let Some(r) = not_owned(&s, &image_arn) {
        return r;
    }
    let name = image_name_of(&image_arn).to_owned();
    let result = call!(
        app,
        &s.cx(),
        delete_image,
        DeleteImageRequest,
        json!({ "Name": name })
    );
    match result {
        Ok(_) => done(&format!("Image {name} was deleted."), None),
        Err(e) => delete_form(&s, &image_arn, Some(&e)),
    }
}

fn copy_form(s: &Signed, image_arn: &str, f: &Fields, error: Option<&ApiError>) -> Response {
    let chosen = f.get("destination_region");
    let body = html! {
        p { "Copy " strong { (image_name_of(image_arn)) } " to another AWS Region." }
        form method="post" action="/console/images/copy" {
            (csrf_field(s))
            input type="hidden" name="image" value=(image_arn);
            div.field {
                label for="destination-region" { "Destination region" }
                select #destination-region name="destination_region" {
                    @for r in &s.regions {
                        option value=(r) selected[r.as_str() == chosen] { (r) }
                    }
                }
                label for="destination-name" { "Name" }
                input #destination-name name="name" required value=(f.get("name"));
                p.hint { "A name that is unique in the destination region." }
                label for="destination-description" { "Description (optional)" }
                input #destination-description name="description" value=(f.get("description"));
            }
            (error_box(error.map(say).as_deref()))
            div.actions-row {
                (cancel(image_arn))
                button.primary type="submit" { "Copy Image" }
            }
        }
    };
    image_dialog(
        s,
        "Copy image",
        image_arn,
        error.map_or(StatusCode::OK, status_of),
        body,
    )
}

async fn copy_page(s: Signed, Query(t): Query<Target>) -> Response {
    if let Some(r) = not_owned(&s, &t.image) {
        return r;
    }
    copy_form(&s, &t.image, &Fields::default(), None)
}

async fn copy(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let image_arn = f.get("image").to_owned();
    if let Some(r) = not_owned(&s, &image_arn) {
        return r;
    }
    let mut req = json!({
        "SourceImageName": image_name_of(&image_arn),
        "DestinationImageName": f.get("name").trim(),
        "DestinationRegion": f.get("destination_region"),
    });
    if let Some(d) = f.opt("description") {
        req["DestinationImageDescription"] = json!(d);
    }
    let result = call!(app, &s.cx(), copy_image, CopyImageRequest, req);
    match result {
        Ok(r) => done(
            &format!(
                "Copying {} to {} as {}. Switch to {} to follow the copy.",
                image_name_of(&image_arn),
                f.get("destination_region"),
                r.destination_image_name.unwrap_or_default(),
                f.get("destination_region"),
            ),
            Some(&image_arn),
        ),
        Err(e) => copy_form(&s, &image_arn, &f, Some(&e)),
    }
}

// Sharing: the Share image dialog and the Edit image permissions dialog are one form with two
// titles; both list the accounts the image is shared with, add accounts, and remove them with
// the X to the right of "Use for fleet".

#[derive(Clone, Copy, PartialEq, Eq)]
enum ShareMode {
    Share,
    Edit,
}

impl ShareMode {
    fn title(self) -> &'static str {
        match self {
            ShareMode::Share => "Share image",
            ShareMode::Edit => "Edit image permissions",
        }
    }
    fn submit(self) -> &'static str {
        match self {
            ShareMode::Share => "Share Image",
            ShareMode::Edit => "Update image sharing permissions",
        }
    }
    fn action(self) -> &'static str {
        match self {
            ShareMode::Share => "/console/images/share",
            ShareMode::Edit => "/console/images/permissions",
        }
    }
}

/// One row of the dialog: an account already shared with is shown, a new one is typed.
fn share_row(
    i: &str,
    account: &str,
    fixed: bool,
    builder: bool,
    fleet: bool,
    error: Option<&str>,
) -> Markup {
    html! {
        div.row data-account=(account) {
            input type="hidden" name="share_row" value=(i);
            @if fixed {
                input type="hidden" name=(format!("account_{i}")) value=(account);
                input type="hidden" name=(format!("fixed_{i}")) value="1";
                span.account-id { (account) }
            } @else {
                input name=(format!("account_{i}")) aria-label="AWS account ID" placeholder="12-digit AWS account ID"
                    inputmode="numeric" pattern="[0-9]{12}" maxlength="12" required value=(account);
            }
            label.inline { input type="checkbox" name=(format!("builder_{i}")) value="on" checked[builder]; " Use for image builder" }
            label.inline { input type="checkbox" name=(format!("fleet_{i}")) value="on" checked[fleet]; " Use for fleet" }
            button.icon type="submit" name="remove_row" value=(format!("share:{i}")) aria-label=(format!("Remove {account}")) title="Remove account" { "✕" }
            @if let Some(e) = error { div.error role="alert" { (e) } }
        }
    }
}

struct ShareRow {
    id: String,
    account: String,
    fixed: bool,
    builder: bool,
    fleet: bool,
}

/// What the dialog shows: which image, the accounts it was shared with when the dialog opened,
/// and the rows as they stand.
struct ShareDialog<'a> {
    mode: ShareMode,
    image_arn: &'a str,
    had: &'a [String],
    list: &'a [ShareRow],
}

fn share_form(
    s: &Signed,
    d: &ShareDialog<'_>,
    row_errors: &[(String, String)],
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let ShareDialog {
        mode,
        image_arn,
        had,
        list,
    } = *d;
    let body = html! {
        p { "Image " strong { (image_name_of(image_arn)) } " · Select whether each account can use the image to launch an image builder, with a fleet, or both. If you clear both options for an account, the image is no longer shared with that account." }
        // The server's check names the row and says what to fix; the browser's own bubble
        // would not survive the row editor's re-rendering.
        form method="post" action=(mode.action()) novalidate {
            (csrf_field(s))
            input type="hidden" name="image" value=(image_arn);
            @for h in had { input type="hidden" name="had" value=(h); }
            div data-rows="share" {
                div.rows #share-rows {
                    @for r in list {
                        (share_row(&r.id, &r.account, r.fixed, r.builder, r.fleet,
                            row_errors.iter().find(|(id, _)| *id == r.id).map(|(_, e)| e.as_str())))
                    }
                }
                template { (share_row("__I__", "", false, false, false, None)) }
                button type="submit" name="add_row" value="share" { "Add account" }
            }
            (error_box(error))
            div.actions-row {
                (cancel(image_arn))
                button.primary type="submit" name="go" value="1" { (mode.submit()) }
            }
        }
    };
    image_dialog(s, mode.title(), image_arn, status, body)
}

async fn share_dialog(app: &App, s: &Signed, mode: ShareMode, image_arn: &str) -> Response {
    match shares_of(app, &s.cx(), image_name_of(image_arn)).await {
        Ok(list) => {
            let had: Vec<String> = list.iter().map(|(a, _, _)| a.clone()).collect();
            let mut rows: Vec<ShareRow> = list
                .into_iter()
                .enumerate()
                .map(|(n, (account, builder, fleet))| ShareRow {
                    id: n.to_string(),
                    account,
                    fixed: true,
                    builder,
                    fleet,
                })
                .collect();
            if mode == ShareMode::Share && rows.is_empty() {
                // The seed's step 5: the dialog opens on "Add account"; give the first row.
                rows.push(ShareRow {
                    id: "0".into(),
                    account: String::new(),
                    fixed: false,
                    builder: false,
                    fleet: false,
                });
            }
            share_form(
                s,
                &ShareDialog {
                    mode,
                    image_arn,
                    had: &had,
                    list: &rows,
                },
                &[],
                None,
                StatusCode::OK,
            )
        }
        Err(e) => share_form(
            s,
            &ShareDialog {
                mode,
                image_arn,
                had: &[],
                list: &[],
            },
            &[],
            Some(&e),
            StatusCode::BAD_REQUEST,
        ),
    }
}

async fn share_page(State(app): State<App>, s: Signed, Query(t): Query<Target>) -> Response {
    if let Some(r) = not_owned(&s, &t.image) {
        return r;
    }
    share_dialog(&app, &s, ShareMode::Share, &t.image).await
}

async fn edit_page(State(app): State<App>, s: Signed, Query(t): Query<Target>) -> Response {
    if let Some(r) = not_owned(&s, &t.image) {
        return r;
    }
    share_dialog(&app, &s, ShareMode::Edit, &t.image).await
}

async fn share(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    apply_shares(&app, &s, ShareMode::Share, &f).await
}

async fn edit(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    apply_shares(&app, &s, ShareMode::Edit, &f).await
}

/// Applies the dialog: accounts removed with the X, or with both options cleared, stop being
/// shared with; every other row is shared with its options. Rows are checked first, so a typo
/// in one row changes nothing.
async fn apply_shares(app: &App, s: &Signed, mode: ShareMode, f: &Fields) -> Response {
    if let Err(r) = s.check(f) {
        return r;
    }
    let image_arn = f.get("image").to_owned();
    if let Some(r) = not_owned(s, &image_arn) {
        return r;
    }
    let name = image_name_of(&image_arn).to_owned();
    let had: Vec<String> = f.all("had").into_iter().map(str::to_owned).collect();
    let r = rows(f, "share");
    let list: Vec<ShareRow> = r
        .ids
        .iter()
        .map(|i| ShareRow {
            id: i.clone(),
            account: f.get(&format!("account_{i}")).trim().to_owned(),
            fixed: f.has(&format!("fixed_{i}")),
            builder: f.has(&format!("builder_{i}")),
            fleet: f.has(&format!("fleet_{i}")),
        })
        .collect();
    let d = ShareDialog {
        mode,
        image_arn: &image_arn,
        had: &had,
        list: &list,
    };
    if r.edited {
        return share_form(s, &d, &[], None, StatusCode::OK);
    }
    let mut row_errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for row in &list {
        if !photon_core::account::is_account_id(&row.account) {
            row_errors.push((
                row.id.clone(),
                format!(
                    "'{}' is not an AWS account ID: type its 12 digits",
                    row.account
                ),
            ));
        } else if !seen.insert(row.account.clone()) {
            row_errors.push((
                row.id.clone(),
                format!("{} is listed twice: remove one of the rows", row.account),
            ));
        } else if !row.fixed && !row.builder && !row.fleet {
            row_errors.push((
                row.id.clone(),
                "select Use for image builder, Use for fleet, or both".to_owned(),
            ));
        }
    }
    if !row_errors.is_empty() {
        return share_form(
            s,
            &d,
            &row_errors,
            Some("Nothing was changed: correct the rows marked below."),
            StatusCode::BAD_REQUEST,
        );
    }
    let cx = s.cx();
    let mut changed = Vec::new();
    let removed = had
        .iter()
        .filter(|a| !list.iter().any(|r| &r.account == *a))
        .cloned()
        .chain(
            list.iter()
                .filter(|r| !r.builder && !r.fleet)
                .map(|r| r.account.clone()),
        );
    for account in removed.collect::<Vec<_>>() {
        let result = call!(
            app,
            &cx,
            delete_image_permissions,
            DeleteImagePermissionsRequest,
            json!({ "Name": name, "SharedAccountId": account })
        )
        .map(|_| ());
        match result {
            Ok(()) => changed.push(format!("stopped sharing with {account}")),
            // Already gone (e.g. another tab removed it): the goal is reached.
            Err(e)
                if e.code == photon_types::ErrorCode::ResourceNotFoundException
                    && had.contains(&account) => {}
            Err(e) => return partial(s, &d, &changed, &say(&e)),
        }
    }
    for row in list.iter().filter(|r| r.builder || r.fleet) {
        let req = json!({
            "Name": name,
            "SharedAccountId": row.account,
            "ImagePermissions": { "allowFleet": row.fleet, "allowImageBuilder": row.builder },
        });
        let result = call!(
            app,
            &cx,
            update_image_permissions,
            UpdateImagePermissionsRequest,
            req
        )
        .map(|_| ());
        match result {
            Ok(()) => changed.push(format!("shared with {}", row.account)),
            Err(e) => return partial(s, &d, &changed, &format!("{}: {}", row.account, say(&e))),
        }
    }
    let notice = if changed.is_empty() {
        format!("Sharing permissions of {name} are unchanged.")
    } else {
        format!("Image {name}: {}.", changed.join(", "))
    };
    Redirect::to(&format!(
        "/console/images?notice={}&image={}&tab=permissions",
        enc(&notice),
        enc(&image_arn)
    ))
    .into_response()
}

/// A failure part-way: says what was done already and what failed, keeping every row.
fn partial(s: &Signed, d: &ShareDialog<'_>, changed: &[String], error: &str) -> Response {
    let msg = if changed.is_empty() {
        error.to_owned()
    } else {
        format!("Done: {}. Not done: {error}", changed.join(", "))
    };
    share_form(s, d, &[], Some(&msg), StatusCode::BAD_REQUEST)
}

fn update_form(
    s: &Signed,
    image_arn: &str,
    f: &Fields,
    tag_ids: &[String],
    error: Option<&str>,
    info: Option<&str>,
    status: StatusCode,
) -> Response {
    let body = html! {
        p { "Update " strong { (image_name_of(image_arn)) } " with the latest operating system updates, drivers and AppStream agent software. Photon creates an image builder to install them and create the new image." }
        @if let Some(i) = info { div.notice role="status" #up-to-date { (i) } }
        form method="post" action="/console/images/update" {
            (csrf_field(s))
            input type="hidden" name="image" value=(image_arn);
            div.field {
                label for="new-image-name" { "New image name" }
                input #new-image-name name="new_name" required value=(f.get("new_name"));
                p.hint { "Unique within the account and Region; it can't begin with \"Amazon\", \"AWS\" or \"AppStream\"." }
                label for="new-image-display-name" { "New image display name (optional)" }
                input #new-image-display-name name="new_display_name" value=(f.get("new_display_name"));
                label for="new-image-description" { "New image description (optional)" }
                input #new-image-description name="new_description" value=(f.get("new_description"));
            }
            (tag_editor(f, tag_ids))
            (error_box(error))
            div.actions-row {
                (cancel(image_arn))
                button.primary type="submit" name="go" value="1" { "Update image" }
            }
        }
    };
    image_dialog(s, "Update image", image_arn, status, body)
}

async fn update_page(s: Signed, Query(t): Query<Target>) -> Response {
    if let Some(r) = not_owned(&s, &t.image) {
        return r;
    }
    update_form(
        &s,
        &t.image,
        &Fields::default(),
        &[],
        None,
        None,
        StatusCode::OK,
    )
}

async fn update(State(app): State<App>, s: Signed, Form(f): Form<Fields>) -> Response {
    if let Err(r) = s.check(&f) {
        return r;
    }
    let image_arn = f.get("image").to_owned();
    if let Some(r) = not_owned(&s, &image_arn) {
        return r;
    }
    let tag_rows = rows(&f, "tag");
    if tag_rows.edited {
        return update_form(
            &s,
            &image_arn,
            &f,
            &tag_rows.ids,
            None,
            None,
            StatusCode::OK,
        );
    }
    let mut req = json!({
        "existingImageName": image_name_of(&image_arn),
        "newImageName": f.get("new_name").trim(),
    });
    if let Some(v) = f.opt("new_display_name") {
        req["newImageDisplayName"] = json!(v);
    }
    if let Some(v) = f.opt("new_description") {
        req["newImageDescription"] = json!(v);
    }
    let tags = tags_of(&f, &tag_rows.ids);
    if !tags.is_empty() {
        req["newImageTags"] = serde_json::Value::Object(tags);
    }
    let result = call!(
        app,
        &s.cx(),
        create_updated_image,
        CreateUpdatedImageRequest,
        req
    );
    match result {
        Ok(r) if r.can_update_image == Some(false) => update_form(
            &s,
            &image_arn,
            &f,
            &tag_rows.ids,
            None,
            Some("Your image is already up to date: it has the latest operating system updates, drivers and agent. No new image was created."),
            StatusCode::OK,
        ),
        Ok(r) => {
            let new = r.image.as_ref().map(|i| i.name.clone()).unwrap_or_default();
            done(
                &format!("Updating {} as {new}: its image builder is Updating, then Pending Qualification; the new image becomes Available when qualification passes.", image_name_of(&image_arn)),
                r.image.as_ref().and_then(|i| i.arn.as_deref()),
            )
        }
        Err(e) => update_form(&s, &image_arn, &f, &tag_rows.ids, Some(&say(&e)), None, status_of(&e)),
    }
}
