//! The console's Image Builder pages in a real headless Chromium: launch a builder through the
//! wizard and watch its badge reach Running in place; a refused launch keeps what was typed;
//! stop, start (updating an old agent), refuse a connection and delete a builder from the
//! Actions menu; then connect to a builder and go through the Image Assistant (upload a file,
//! add the app, save the default settings, configure, review, create) until the image is
//! Available with the app. Every result is checked through the AWS API.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::browser;
use crate::common;

use std::time::{Duration, Instant};

use aws_sdk_appstream::types::{ImageBuilderState, ImageState, LatestAppstreamAgentVersion};
use browser::Browser;
use photon_testkit::{Photon, Proto};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";
const OLD_AGENT: &str = "05-21-2018";
const EXE_OPTION: &str = "C:\\photon-demo.exe";

fn badge(name: &str) -> String {
    format!("#builders tr[data-name=\"{name}\"] .badge")
}

/// Fills the launch wizard and chooses Launch.
async fn launch(b: &Browser, image_arn: &str, name: &str, agent: &str) {
    b.goto("/console/images").await;
    b.choose("Image Builder").await;
    b.choose("Create image builder").await;
    b.select("Image", image_arn).await;
    b.fill("Name", name).await;
    b.fill("Display name (optional)", &format!("{name} display"))
        .await;
    b.select("Instance type", "stream.standard.medium").await;
    b.select("AppStream agent version", agent).await;
    b.find("#builder-internet").await.click().await.unwrap();
    b.choose("Add Tag").await;
    b.fill_css("input[name=\"tag_key_0\"]", "team").await;
    b.fill_css("input[name=\"tag_value_0\"]", "console").await;
    b.screenshot("builder-create").await;
    b.choose("Launch").await;
}

/// Selects a builder in the list and chooses an entry of its Actions menu.
async fn action(b: &Browser, name: &str, words: &str) {
    b.goto(&format!("/console/builders?builder={name}")).await;
    b.choose("Actions").await;
    b.choose(words).await;
}

#[tokio::test]
async fn image_builders_and_the_image_assistant_in_the_console() {
    let p = Photon::start_with(common::bin(), &["--pace", "instant"]);
    let creds = p.create_account();
    let c = p.client(Proto::Cbor, &creds, "us-east-1");
    let base_arn = c
        .describe_images()
        .names(BASE)
        .send()
        .await
        .unwrap()
        .images()[0]
        .arn()
        .unwrap()
        .to_owned();
    let b = Browser::start(&p.endpoint).await;
    browser::sign_in(&b, &creds, "us-east-1").await;

    // Launch: the badge settles on Running while the page stays put.
    launch(&b, &base_arn, "console-ib", "LATEST").await;
    b.find("#builders").await;
    assert!(b.page_text().await.contains("is being launched"));
    b.wait_text(&badge("console-ib"), "Running").await;
    b.screenshot("builder-list").await;
    let ib = c
        .describe_image_builders()
        .names("console-ib")
        .send()
        .await
        .unwrap()
        .image_builders()[0]
        .clone();
    assert_eq!(ib.state(), Some(&ImageBuilderState::Running));
    assert_eq!(ib.display_name(), Some("console-ib display"));
    assert_eq!(ib.instance_type(), Some("stream.standard.medium"));
    assert_eq!(ib.enable_default_internet_access(), Some(true));
    assert_eq!(ib.image_arn(), Some(base_arn.as_str()));
    assert_eq!(
        ib.latest_appstream_agent_version(),
        Some(&LatestAppstreamAgentVersion::True)
    );
    let tags = c
        .list_tags_for_resource()
        .resource_arn(ib.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().unwrap()["team"], "console");

    // A refused launch says why beside the button and keeps what was typed.
    launch(&b, &base_arn, "console-ib", "LATEST").await;
    b.wait_text(".dialog .error", "already exists").await;
    assert_eq!(
        b.find("#builder-name")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("console-ib")
    );
    assert_eq!(
        b.find("#builder-image")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(base_arn.as_str())
    );

    // A second builder with an old agent: stop it, start it with the agent update, refuse a
    // connection while it is stopped, and delete it.
    launch(&b, &base_arn, "console-old", OLD_AGENT).await;
    b.wait_text(&badge("console-old"), "Running").await;
    action(&b, "console-old", "Stop").await;
    b.wait_text(&badge("console-old"), "Stopped").await;
    common::wait_builder(&c, "console-old", ImageBuilderState::Stopped).await;

    action(&b, "console-old", "Start").await;
    let update = b.find("#update-agent").await;
    assert!(update.is_selected().await.unwrap());
    assert!(b
        .page_text()
        .await
        .contains("Update to the latest agent version"));
    b.choose("Start").await;
    b.wait_text(&badge("console-old"), "Running").await;
    common::wait_builder(&c, "console-old", ImageBuilderState::Running).await;
    let old = c
        .describe_image_builders()
        .names("console-old")
        .send()
        .await
        .unwrap()
        .image_builders()[0]
        .clone();
    assert_ne!(old.appstream_agent_version(), Some(OLD_AGENT));
    assert_eq!(
        old.latest_appstream_agent_version(),
        Some(&LatestAppstreamAgentVersion::True)
    );

    action(&b, "console-old", "Stop").await;
    b.wait_text(&badge("console-old"), "Stopped").await;
    action(&b, "console-old", "Connect").await;
    b.wait_text(".error", "Cannot connect to console-old").await;
    b.screenshot("builder-connect-refused").await;
    assert!(b.path().await.starts_with("/console/builders"));

    action(&b, "console-old", "Delete").await;
    b.wait_text(".dialog", "Delete image builder console-old?")
        .await;
    b.choose("Delete").await;
    b.wait_text(".notice", "console-old is being deleted").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while c
        .describe_image_builders()
        .names("console-old")
        .send()
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "console-old was never deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Connect to the running builder: its streaming page, with the Image Assistant.
    action(&b, "console-ib", "Connect").await;
    b.wait_text("h1", "Connected to console-ib").await;
    assert!(b.path().await.starts_with("/connect/"));
    b.wait_text("#assistant", "1. Add Apps").await;

    // Install the application: upload its executable through the page.
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("photon-demo.exe");
    std::fs::write(&exe, b"MZ photon demo").unwrap();
    b.find("#file")
        .await
        .send_keys(exe.to_str().unwrap())
        .await
        .unwrap();
    b.choose("Upload").await;
    b.wait_text("#files", "photon-demo.exe").await;

    // 1. Add Apps.
    b.select("Executable", EXE_OPTION).await;
    b.fill("Name", "Demo").await;
    b.fill("Display name (optional)", "Demo App").await;
    b.fill("Launch parameters (optional)", "--fast").await;
    b.choose("Add App").await;
    b.wait_text("#catalog", "Demo App").await;
    b.screenshot("assistant-apps").await;
    // The tool's refusal, with what was typed kept.
    b.select("Executable", EXE_OPTION).await;
    b.fill("Name", "Demo").await;
    b.choose("Add App").await;
    b.wait_text("#assistant .error", "Name is not unique").await;
    assert_eq!(
        b.find("#app-name")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("Demo")
    );
    b.choose("Next").await;

    // 2. Configure Apps: save Template User's settings as the default profile.
    b.wait_text("#assistant", "Choose which user settings to copy")
        .await;
    b.choose("Save settings").await;
    b.wait_text("#default-profile", "Template User").await;
    b.choose("Next").await;

    // 3. Configure Image, then 4. Review.
    b.fill("Name", "console-image").await;
    b.fill("Display name (optional)", "Console image").await;
    b.fill("Description (optional)", "Made in the console")
        .await;
    assert!(b.find("#latest-agent").await.is_selected().await.unwrap());
    b.choose("Add Tag").await;
    b.fill_css("input[name=\"tag_key_0\"]", "made-by").await;
    b.fill_css("input[name=\"tag_value_0\"]", "assistant").await;
    b.choose("Next").await;
    b.wait_text("#review-image", "console-image").await;
    b.screenshot("assistant-review").await;
    let review = b.text("#assistant").await;
    assert!(
        review.contains("Demo App") && review.contains("made-by = assistant"),
        "{review}"
    );

    // 5. Create.
    b.choose("Disconnect and Create Image").await;
    b.wait_text("#created", "Snapshotting").await;
    let image = common::wait_image(&c, "console-image", ImageState::Available).await;
    assert_eq!(image.display_name(), Some("Console image"));
    assert_eq!(image.description(), Some("Made in the console"));
    let apps: Vec<&str> = image
        .applications()
        .iter()
        .filter_map(|a| a.name())
        .collect();
    assert_eq!(apps, ["Demo"]);
    assert_eq!(
        image.latest_appstream_agent_version(),
        Some(&LatestAppstreamAgentVersion::True)
    );
    let tags = c
        .list_tags_for_resource()
        .resource_arn(image.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().unwrap()["made-by"], "assistant");
    // The builder stops once the image is made; the console's list shows it.
    common::wait_builder(&c, "console-ib", ImageBuilderState::Stopped).await;
    b.choose("Images, Image Registry").await;
    b.wait_text("#images", "console-image").await;
    b.goto("/console/builders").await;
    b.wait_text(&badge("console-ib"), "Stopped").await;

    b.close().await;
}
