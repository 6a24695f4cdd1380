//! The seed's Image Registry procedures, click for click in headless Chromium, each result
//! checked through the AWS API: the visibility filters and search, delete (and its refusal
//! while shared), share, edit permissions, stop sharing, copy to another region, and update
//! ("already up to date", then a real update whose badge settles without a reload, and a
//! failed one whose reason is on the Notifications tab).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::browser;
use crate::common;

use aws_sdk_appstream::types::{ImageBuilderState, ImageState, VisibilityType};
use browser::{sign_in, Browser};
use common::{bin, ia, put, wait_builder, wait_image};
use photon_testkit::{Photon, Proto};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";

async fn select_image(b: &Browser, filter: &str, name: &str) {
    b.choose("Image Registry").await;
    b.choose(filter).await;
    b.choose_in(&format!("tr[data-name='{name}']"), name).await;
    b.find("#image-details").await;
}

async fn action(b: &Browser, words: &str) {
    b.choose("Actions").await;
    b.choose(words).await;
}

async fn shares(c: &aws_sdk_appstream::Client, name: &str) -> Vec<(String, bool, bool)> {
    let r = c
        .describe_image_permissions()
        .name(name)
        .send()
        .await
        .unwrap();
    let mut v: Vec<_> = r
        .shared_image_permissions_list()
        .iter()
        .map(|s| {
            let p = s.image_permissions().unwrap();
            (
                s.shared_account_id().unwrap_or_default().to_owned(),
                p.allow_image_builder().unwrap_or(false),
                p.allow_fleet().unwrap_or(false),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn image_registry_procedures() {
    let p = Photon::start_with(
        bin(),
        &["--pace", "fast", "--regions", "us-east-1,eu-west-1"],
    );
    let me = p.default.clone();
    let prod = p.create_account();
    let partner = p.create_account();
    let c = p.client(Proto::Cbor, &me, "us-east-1");

    // An image of ours with an application, and an old one to delete.
    c.create_image_builder()
        .name("build")
        .image_name(BASE)
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    wait_builder(&c, "build", ImageBuilderState::Running).await;
    put(&p, "build", "C:\\App\\app.exe", b"MZ console app");
    let add = [
        "add-application",
        "--name",
        "App",
        "--absolute-app-path",
        "C:\\App\\app.exe",
    ];
    assert_eq!(ia(&p, "build", &add).0, 0);
    let create = [
        "create-image",
        "--name",
        "app-v1",
        "--use-latest-agent-version",
    ];
    assert_eq!(ia(&p, "build", &create).0, 0);
    wait_image(&c, "app-v1", ImageState::Available).await;
    p.seed_private_images(&me.account_id, "us-east-1", &["old-image".into()])
        .await;

    let b = Browser::start(&p.endpoint).await;
    sign_in(&b, &me, "us-east-1").await;

    // The four visibility categories and search.
    b.choose("Image Registry").await;
    b.choose("Private").await;
    assert!(b.shows("tr[data-name='app-v1']").await);
    assert!(b.shows("tr[data-name='old-image']").await);
    assert!(!b.exists(&format!("tr[data-name='{BASE}']")).await);
    b.choose("Public").await;
    b.fill("Search by name", "WinServer2022-11-10").await;
    b.choose("Search").await;
    assert!(b.shows(&format!("tr[data-name='{BASE}']")).await);
    assert!(!b.exists("tr[data-name='app-v1']").await);

    // Delete a private image: select it, Actions, Delete, then Delete again.
    select_image(&b, "Private", "old-image").await;
    action(&b, "Delete").await;
    b.choose("Delete").await;
    b.wait_text(".notice", "old-image was deleted").await;
    assert!(c.describe_images().names("old-image").send().await.is_err());

    // Share: Actions, Share, Add account, type the 12-digit id, choose the options.
    select_image(&b, "Private", "app-v1").await;
    action(&b, "Share").await;
    // A mistyped id is refused in plain words and nothing typed is lost.
    b.fill_css("input[name='account_0']", "12345").await;
    b.find("input[name='fleet_0']").await.click().await.unwrap();
    b.choose("Share Image").await;
    b.wait_text(".row .error", "not an AWS account ID").await;
    assert_eq!(
        b.find("input[name='account_0']")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("12345")
    );
    assert!(shares(&c, "app-v1").await.is_empty());
    b.fill_css("input[name='account_0']", &prod.account_id)
        .await;
    b.choose("Add account").await;
    b.fill_css("input[name='account_1']", &partner.account_id)
        .await;
    b.find("input[name='builder_1']")
        .await
        .click()
        .await
        .unwrap();
    b.choose("Share Image").await;
    b.wait_text(".notice", "shared with").await;
    let mut want = vec![
        (prod.account_id.clone(), false, true),
        (partner.account_id.clone(), true, false),
    ];
    want.sort();
    assert_eq!(shares(&c, "app-v1").await, want);
    let seen_by_prod = p.client(Proto::Json, &prod, "us-east-1");
    let shared = seen_by_prod
        .describe_images()
        .r#type(VisibilityType::Shared)
        .send()
        .await
        .unwrap();
    assert!(shared.images().iter().any(|i| i.name() == Some("app-v1")));

    // Shared images can't be deleted: the reason is shown beside the button.
    action(&b, "Delete").await;
    b.choose("Delete").await;
    b.wait_text(".error", "shared").await;
    assert_eq!(
        c.describe_images()
            .names("app-v1")
            .send()
            .await
            .unwrap()
            .images()
            .len(),
        1
    );

    // Edit permissions: Permissions tab, Edit, toggle, Update image sharing permissions.
    select_image(&b, "Shared with others", "app-v1").await;
    b.choose("Permissions").await;
    b.wait_text("#permissions", &prod.account_id).await;
    b.choose("Edit").await;
    let prod_row = format!(".row[data-account='{}']", prod.account_id);
    b.find(&format!("{prod_row} input[name^='builder_']"))
        .await
        .click()
        .await
        .unwrap();
    b.screenshot("permissions").await;
    b.choose("Update image sharing permissions").await;
    b.wait_text(".notice", "app-v1").await;
    want = vec![
        (prod.account_id.clone(), true, true),
        (partner.account_id.clone(), true, false),
    ];
    want.sort();
    assert_eq!(shares(&c, "app-v1").await, want);

    // Stop sharing: Edit, the X of every account, Update image sharing permissions.
    b.choose("Edit").await;
    for acct in [&prod.account_id, &partner.account_id] {
        b.find(&format!(
            ".row[data-account='{acct}'] button[name='remove_row']"
        ))
        .await
        .click()
        .await
        .unwrap();
    }
    b.choose("Update image sharing permissions").await;
    b.wait_text(".notice", "stopped sharing").await;
    assert!(shares(&c, "app-v1").await.is_empty());
    let shared = seen_by_prod
        .describe_images()
        .r#type(VisibilityType::Shared)
        .send()
        .await
        .unwrap();
    assert!(shared.images().is_empty());

    // Copy to another Region: destination region, a unique name, a description, Copy Image.
    select_image(&b, "Private", "app-v1").await;
    action(&b, "Copy").await;
    b.select("Destination region", "eu-west-1").await;
    b.fill("Name", "app-v1-eu").await;
    b.fill("Description (optional)", "for European users").await;
    b.choose("Copy Image").await;
    b.wait_text(".notice", "Copying app-v1 to eu-west-1").await;
    let eu = p.client(Proto::Cbor, &me, "eu-west-1");
    let copied = wait_image(&eu, "app-v1-eu", ImageState::Available).await;
    assert_eq!(copied.description(), Some("for European users"));

    // Update: AWS publishes a new base image release, so app-v1 has updates to take.
    let patch = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(patch.path().join("Windows/Photon")).unwrap();
    std::fs::write(patch.path().join("Windows/Photon/KB5050000.txt"), b"patch").unwrap();
    p.admin(&[
        "releases",
        "publish-base-image",
        "--platform",
        "WINDOWS_SERVER_2022",
        "--date",
        "2026-12-08",
        "--content",
        patch.path().to_str().unwrap(),
    ]);
    select_image(&b, "Private", "app-v1").await;
    action(&b, "Update").await;
    b.fill("New image name", "app-v2").await;
    b.fill("New image display name (optional)", "App v2").await;
    b.fill("New image description (optional)", "December patches")
        .await;
    b.choose("Add Tag").await;
    b.fill_css("input[name='tag_key_0']", "stage").await;
    b.fill_css("input[name='tag_value_0']", "pre-prod").await;
    b.choose("Update image").await;
    b.wait_text(".notice", "Updating app-v1 as app-v2").await;
    // Its badge goes from Creating to Available without a reload.
    b.wait_text("#image-details .badge", "Available").await;
    let v2 = wait_image(&c, "app-v2", ImageState::Available).await;
    assert_eq!(v2.display_name(), Some("App v2"));
    assert_eq!(v2.description(), Some("December patches"));
    let tags = c
        .list_tags_for_resource()
        .resource_arn(v2.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().unwrap().get("stage").map(String::as_str),
        Some("pre-prod")
    );
    select_image(&b, "Private", "app-v2").await;
    b.screenshot("registry").await;

    // app-v2 has everything: the dialog says so, keeps what was typed, and creates nothing.
    select_image(&b, "Private", "app-v2").await;
    action(&b, "Update").await;
    b.fill("New image name", "app-v3").await;
    b.choose("Update image").await;
    b.wait_text("#up-to-date", "already up to date").await;
    assert_eq!(
        b.find("#new-image-name")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("app-v3")
    );
    assert!(c.describe_images().names("app-v3").send().await.is_err());

    // A failed update: the red icon, Failed, and the reason on the Notifications tab.
    p.admin(&[
        "faults",
        "add",
        "--operation",
        "CreateUpdatedImage",
        "--stage",
        "qualification",
        "--error-code",
        "QUALIFICATION_FAILED",
        "--message",
        "the application crashed at start",
        "--image",
        "app-v1",
    ]);
    select_image(&b, "Private", "app-v1").await;
    action(&b, "Update").await;
    b.fill("New image name", "app-v3").await;
    b.choose("Update image").await;
    b.wait_text("#image-details .badge", "Failed").await;
    assert!(b.shows("#image-details .badge .alert-icon").await);
    wait_image(&c, "app-v3", ImageState::Failed).await;
    b.choose("Notifications").await;
    b.wait_text("#notifications", "the application crashed at start")
        .await;

    b.close().await;
}
