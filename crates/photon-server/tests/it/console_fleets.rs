//! The console's Fleets, Stacks and Sessions pages in a real headless Chromium: create a fleet
//! from a public image, start it and watch its badge settle in place, edit its capacity, create
//! a stack and associate the fleet, expire a user's session, stop the fleet; and a refused form
//! keeps what was typed and says why. Every result is checked through the AWS API.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::browser;
use crate::common;

use std::time::{Duration, Instant};

use aws_sdk_appstream::types::{FleetState, FleetType};
use photon_testkit::{Photon, Proto};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";

async fn wait_fleet(c: &aws_sdk_appstream::Client, name: &str, want: FleetState) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.describe_fleets().names(name).send().await.unwrap();
        if r.fleets()[0].state() == Some(&want) {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never reached {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn fleets_stacks_and_sessions_in_the_console() {
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

    let b = browser::Browser::start(&p.endpoint).await;
    browser::sign_in(&b, &creds, "us-east-1").await;

    // Create a fleet from a public image.
    b.goto("/console/fleets").await;
    b.choose("Create fleet").await;
    b.fill("Name", "web").await;
    b.fill("Display name (optional)", "Web apps").await;
    b.select("Image", &base_arn).await;
    b.select("Instance type", "stream.standard.medium").await;
    b.select("Fleet type", "ALWAYS_ON").await;
    b.fill("Desired capacity", "1").await;
    b.screenshot("console-fleet-create").await;
    b.choose("Create fleet").await;
    b.wait_text(".notice", "Fleet web was created").await;
    let f = c
        .describe_fleets()
        .names("web")
        .send()
        .await
        .unwrap()
        .fleets()[0]
        .clone();
    assert_eq!(f.image_name(), Some(BASE));
    assert_eq!(f.instance_type(), Some("stream.standard.medium"));
    assert_eq!(f.fleet_type(), Some(&FleetType::AlwaysOn));
    assert_eq!(f.display_name(), Some("Web apps"));
    assert_eq!(f.compute_capacity_status().unwrap().desired(), Some(1));
    assert_eq!(f.state(), Some(&FleetState::Stopped));

    // A name that exists: the domain's words beside the button, and the typed values kept.
    b.goto("/console/fleets").await;
    b.choose("Create fleet").await;
    b.fill("Name", "web").await;
    b.fill("Display name (optional)", "Second try").await;
    b.select("Image", &base_arn).await;
    b.fill("Desired capacity", "4").await;
    b.choose("Create fleet").await;
    b.wait_text("form .error", "already exists").await;
    b.screenshot("console-fleet-create-error").await;
    let said = b.text("form .error").await;
    assert!(
        said.contains("'web'") && said.contains("pick another name"),
        "{said}"
    );
    let kept = |css: &'static str| {
        let b = &b;
        async move {
            b.find(css)
                .await
                .prop("value")
                .await
                .unwrap()
                .unwrap_or_default()
        }
    };
    assert_eq!(kept("#fleet-name").await, "web");
    assert_eq!(kept("#fleet-display-name").await, "Second try");
    assert_eq!(kept("#fleet-desired").await, "4");
    assert_eq!(kept("#fleet-image").await, base_arn);
    assert_eq!(
        c.describe_fleets().send().await.unwrap().fleets().len(),
        1,
        "nothing was created"
    );

    // Start: the badge reaches Running in place, without a reload.
    b.goto("/console/fleets").await;
    b.choose("web").await;
    b.find("#fleet-details").await;
    b.choose("Start").await;
    b.wait_text(".notice", "Starting fleet web").await;
    b.c.execute("window.__stayed = true;", vec![])
        .await
        .unwrap();
    b.wait_text("#fleets tr[data-name='web'] .badge", "Running")
        .await;
    let stayed =
        b.c.execute("return window.__stayed === true;", vec![])
            .await
            .unwrap();
    assert_eq!(stayed, serde_json::json!(true), "the page was reloaded");
    b.screenshot("console-fleets").await;
    wait_fleet(&c, "web", FleetState::Running).await;

    // Edit the desired capacity.
    b.choose("Edit").await;
    assert_eq!(kept("#fleet-desired").await, "1");
    b.fill("Desired capacity", "2").await;
    b.choose("Save changes").await;
    b.wait_text(".notice", "Fleet web was updated").await;
    let f = c
        .describe_fleets()
        .names("web")
        .send()
        .await
        .unwrap()
        .fleets()[0]
        .clone();
    assert_eq!(f.compute_capacity_status().unwrap().desired(), Some(2));
    assert_eq!(f.image_name(), Some(BASE), "the image is unchanged");
    b.wait_text("#fleets tr[data-name='web'] td.capacity", "2 /")
        .await;

    // A stack, with the fleet associated.
    b.choose("Stacks").await;
    b.choose("Create stack").await;
    b.fill("Name", "apps").await;
    b.fill("Description (optional)", "Line-of-business apps")
        .await;
    b.choose("Create stack").await;
    b.wait_text(".notice", "Stack apps was created").await;
    let st = c
        .describe_stacks()
        .names("apps")
        .send()
        .await
        .unwrap()
        .stacks()[0]
        .clone();
    assert_eq!(st.description(), Some("Line-of-business apps"));
    b.choose("Associate fleet").await;
    b.select("Fleet", "web").await;
    b.choose("Associate fleet").await;
    b.wait_text(".notice", "Fleet web is associated with stack apps")
        .await;
    b.wait_text("#stacks tr[data-name='apps'] td.fleets", "web")
        .await;
    let assoc = c
        .list_associated_fleets()
        .stack_name("apps")
        .send()
        .await
        .unwrap();
    assert_eq!(assoc.names(), ["web".to_owned()]);
    b.screenshot("console-stacks").await;

    // A user streams: the URL opened in the browser starts the session.
    let url = c
        .create_streaming_url()
        .stack_name("apps")
        .fleet_name("web")
        .user_id("alice")
        .send()
        .await
        .unwrap()
        .streaming_url()
        .unwrap()
        .to_owned();
    b.c.goto(&url).await.unwrap();
    b.wait_text("body", "alice").await;
    let sessions = c
        .describe_sessions()
        .stack_name("apps")
        .fleet_name("web")
        .send()
        .await
        .unwrap();
    assert_eq!(sessions.sessions().len(), 1);
    let id = sessions.sessions()[0].id().unwrap().to_owned();

    // Sessions: choose the stack and fleet, expire alice's session.
    b.goto("/console/sessions").await;
    b.select("Stack and fleet", "apps/web").await;
    b.choose("Show sessions").await;
    b.wait_text("#sessions tr[data-user='alice']", "Active")
        .await;
    assert!(b
        .text("#sessions tr[data-user='alice']")
        .await
        .contains(&id));
    b.screenshot("console-sessions").await;
    b.choose_in("#sessions tr[data-user='alice']", "Expire")
        .await;
    b.wait_text(".notice", "The session of alice was ended")
        .await;
    assert!(!b.exists("#sessions tr[data-user='alice']").await);
    let sessions = c
        .describe_sessions()
        .stack_name("apps")
        .fleet_name("web")
        .send()
        .await
        .unwrap();
    assert!(sessions.sessions().is_empty(), "{sessions:?}");

    // Stop the fleet.
    b.choose("Fleets").await;
    b.choose("web").await;
    b.find("#fleet-details").await;
    b.choose("Stop").await;
    b.wait_text(".notice", "Stopping fleet web").await;
    b.wait_text("#fleets tr[data-name='web'] .badge", "Stopped")
        .await;
    wait_fleet(&c, "web", FleetState::Stopped).await;

    b.close().await;
}
