//! Streaming sessions through the SDK: a single-use, expiring URL starts a session on an
//! instance provisioned from the fleet's image at that moment; capacity is counted; an image
//! update affects only later instances; ExpireSession frees the instance.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::time::{Duration, Instant};

use aws_sdk_appstream::types::{AuthenticationType, ComputeCapacity, FleetState};
use common::{bin, failure};
use photon_testkit::{Photon, Proto};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";
const NEWER: &str = "AppStream-WinServer2022-04-16-2026";

async fn url(c: &aws_sdk_appstream::Client, user: &str) -> String {
    c.create_streaming_url()
        .stack_name("stack")
        .fleet_name("fleet")
        .user_id(user)
        .send()
        .await
        .unwrap()
        .streaming_url()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn sessions_capacity_and_image_updates() {
    let mut p = Photon::start_with(bin(), &["--pace", "instant"]);
    let c = p.client(Proto::Cbor, &p.default, "us-east-1");
    c.create_fleet()
        .name("fleet")
        .image_name(BASE)
        .instance_type("stream.standard.medium")
        .compute_capacity(ComputeCapacity::builder().desired_instances(2).build())
        .send()
        .await
        .unwrap();
    c.create_stack().name("stack").send().await.unwrap();
    // Not yet associated, not yet running.
    let (code, ..) = failure(
        c.create_streaming_url()
            .stack_name("stack")
            .fleet_name("fleet")
            .user_id("alice")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterCombinationException");
    c.associate_fleet()
        .stack_name("stack")
        .fleet_name("fleet")
        .send()
        .await
        .unwrap();
    let (code, ..) = failure(
        c.create_streaming_url()
            .stack_name("stack")
            .fleet_name("fleet")
            .user_id("alice")
            .send()
            .await,
    );
    assert_eq!(
        code, "OperationNotPermittedException",
        "the fleet is STOPPED"
    );
    c.start_fleet().name("fleet").send().await.unwrap();
    common::wait_fleet(&c, "fleet", FleetState::Running).await;

    let http = reqwest::Client::new();
    let alice = url(&c, "alice").await;
    let page = http.get(&alice).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    // The page reports that its user is still there.
    let beat = page
        .split("\"/stream/heartbeat/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|t| format!("{}/stream/heartbeat/{t}", p.endpoint))
        .unwrap_or_else(|| panic!("no heartbeat in {page}"));
    assert_eq!(
        http.post(&beat).send().await.unwrap().status().as_u16(),
        204
    );
    // It says when its user gave input (the idle timeout follows it), from a page that
    // listens for keys and the mouse.
    assert_eq!(
        http.post(format!("{beat}?input=1"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        204
    );
    assert!(
        page.contains("?input=1") && page.contains("'keydown'"),
        "{page}"
    );
    assert!(page.contains("alice") && page.contains(BASE), "{page}");
    // Single use.
    assert_eq!(
        http.get(&alice).send().await.unwrap().status().as_u16(),
        403
    );

    // Capacity: 2 instances, one in use.
    let f = c.describe_fleets().names("fleet").send().await.unwrap();
    let cap = f.fleets()[0].compute_capacity_status().unwrap();
    assert_eq!(
        (cap.running(), cap.in_use(), cap.available()),
        (Some(2), Some(1), Some(1))
    );

    // The image changes: alice keeps hers; the next instance gets the new one.
    c.update_fleet()
        .name("fleet")
        .image_name(NEWER)
        .send()
        .await
        .unwrap();
    let bob = http
        .get(url(&c, "bob").await)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(bob.contains(NEWER), "{bob}");
    let sessions = c
        .describe_sessions()
        .stack_name("stack")
        .fleet_name("fleet")
        .send()
        .await
        .unwrap();
    assert_eq!(sessions.sessions().len(), 2);
    let alice_session = sessions
        .sessions()
        .iter()
        .find(|s| s.user_id() == Some("alice"))
        .unwrap()
        .clone();

    // No capacity left.
    let carol = http.get(url(&c, "carol").await).send().await.unwrap();
    assert_eq!(carol.status().as_u16(), 503);

    // Ending a session frees its instance.
    c.expire_session()
        .session_id(alice_session.id().unwrap())
        .send()
        .await
        .unwrap();
    // The model gives ExpireSession no errors: expiring an ended session again succeeds.
    c.expire_session()
        .session_id(alice_session.id().unwrap())
        .send()
        .await
        .unwrap();
    // The ended session's page learns that it ended.
    assert_eq!(
        http.post(&beat).send().await.unwrap().status().as_u16(),
        404
    );
    let carol = http.get(url(&c, "carol").await).send().await.unwrap();
    assert_eq!(carol.status().as_u16(), 200);
    let only_carol = c
        .describe_sessions()
        .stack_name("stack")
        .fleet_name("fleet")
        .user_id("carol")
        .authentication_type(AuthenticationType::Api)
        .send()
        .await
        .unwrap();
    assert_eq!(only_carol.sessions().len(), 1);

    // Expired URLs open nothing: wait until the Expires the service gave has passed, then open.
    let short = c
        .create_streaming_url()
        .stack_name("stack")
        .fleet_name("fleet")
        .user_id("dave")
        .validity(1)
        .send()
        .await
        .unwrap();
    let expires = short.expires().unwrap().to_millis().unwrap();
    let short = short.streaming_url().unwrap().to_owned();
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while now_ms() <= expires + 100 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = http.get(&short).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("expired"));

    // Pages of one session each list every session once, in start order.
    let all = c
        .describe_sessions()
        .stack_name("stack")
        .fleet_name("fleet")
        .send()
        .await
        .unwrap();
    assert!(all.sessions().len() >= 2, "{all:?}");
    assert!(all.next_token().is_none());
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .describe_sessions()
            .stack_name("stack")
            .fleet_name("fleet")
            .limit(1)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert_eq!(page.sessions().len(), 1);
        paged.push(page.sessions()[0].id().unwrap().to_owned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let listed: Vec<String> = all
        .sessions()
        .iter()
        .map(|s| s.id().unwrap().to_owned())
        .collect();
    assert_eq!(paged, listed);
    let (code, msg, _) = failure(
        c.describe_sessions()
            .stack_name("stack")
            .fleet_name("fleet")
            .limit(51)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(msg.contains("50"), "{msg}");

    // A restart keeps the running fleet and the open sessions.
    let before = c
        .describe_sessions()
        .stack_name("stack")
        .fleet_name("fleet")
        .send()
        .await
        .unwrap();
    p.restart();
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    let after = c
        .describe_sessions()
        .stack_name("stack")
        .fleet_name("fleet")
        .send()
        .await
        .unwrap();
    let ids = |r: &aws_sdk_appstream::operation::describe_sessions::DescribeSessionsOutput| {
        let mut v: Vec<String> = r
            .sessions()
            .iter()
            .map(|s| s.id().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&before), ids(&after));
    assert_eq!(
        c.describe_fleets()
            .names("fleet")
            .send()
            .await
            .unwrap()
            .fleets()[0]
            .state(),
        Some(&FleetState::Running)
    );

    // Stopping the fleet ends its sessions: their instances are gone.
    c.stop_fleet().name("fleet").send().await.unwrap();
    common::wait_fleet(&c, "fleet", FleetState::Stopped).await;
    let left = c
        .describe_sessions()
        .stack_name("stack")
        .fleet_name("fleet")
        .send()
        .await
        .unwrap();
    assert!(left.sessions().is_empty(), "{left:?}");
}
