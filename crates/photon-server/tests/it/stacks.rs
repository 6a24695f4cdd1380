//! Stacks through the SDK in both protocols: settings (application settings persistence
//! included), one fleet per stack, and what association prevents.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use aws_sdk_appstream::types::{ApplicationSettings, ComputeCapacity};
use common::{bin, failure};
use photon_testkit::{Photon, BOTH};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";

#[tokio::test]
async fn stacks_and_fleet_association() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let (stack, fleet, other) = (
            format!("s-{proto:?}"),
            format!("f-{proto:?}"),
            format!("g-{proto:?}"),
        );
        for f in [&fleet, &other] {
            c.create_fleet()
                .name(f)
                .image_name(BASE)
                .instance_type("stream.standard.small")
                .compute_capacity(ComputeCapacity::builder().desired_instances(1).build())
                .send()
                .await
                .unwrap();
        }
        let r = c
            .create_stack()
            .name(&stack)
            .display_name("Sales")
            .application_settings(
                ApplicationSettings::builder()
                    .enabled(true)
                    .settings_group("sales")
                    .build(),
            )
            .tags("team", "sales")
            .send()
            .await
            .unwrap();
        let st = r.stack().unwrap();
        assert_eq!(st.display_name(), Some("Sales"));
        let settings = st.application_settings().unwrap();
        assert_eq!(
            (settings.enabled(), settings.settings_group()),
            (Some(true), Some("sales"))
        );
        let (code, ..) = failure(c.create_stack().name(&stack).send().await);
        assert_eq!(code, "ResourceAlreadyExistsException");

        c.associate_fleet()
            .stack_name(&stack)
            .fleet_name(&fleet)
            .send()
            .await
            .unwrap();
        let (code, ..) = failure(
            c.associate_fleet()
                .stack_name(&stack)
                .fleet_name(&other)
                .send()
                .await,
        );
        assert_eq!(code, "LimitExceededException", "one fleet per stack");
        let (code, ..) = failure(
            c.associate_fleet()
                .stack_name(&stack)
                .fleet_name("nope")
                .send()
                .await,
        );
        assert_eq!(code, "ResourceNotFoundException");
        let names = c
            .list_associated_fleets()
            .stack_name(&stack)
            .send()
            .await
            .unwrap();
        assert_eq!(names.names(), std::slice::from_ref(&fleet));
        let names = c
            .list_associated_stacks()
            .fleet_name(&fleet)
            .send()
            .await
            .unwrap();
        assert_eq!(names.names(), std::slice::from_ref(&stack));

        // Association keeps both alive.
        let (code, msg, _) = failure(c.delete_stack().name(&stack).send().await);
        assert_eq!(code, "ResourceInUseException");
        assert!(msg.contains(&fleet), "{msg}");
        let (code, ..) = failure(c.delete_fleet().name(&fleet).send().await);
        assert_eq!(code, "ResourceInUseException");

        let r = c
            .update_stack()
            .name(&stack)
            .description("updated")
            .send()
            .await
            .unwrap();
        assert_eq!(r.stack().unwrap().description(), Some("updated"));
        let d = c.describe_stacks().names(&stack).send().await.unwrap();
        assert_eq!(d.stacks()[0].description(), Some("updated"));

        c.disassociate_fleet()
            .stack_name(&stack)
            .fleet_name(&fleet)
            .send()
            .await
            .unwrap();
        let (code, ..) = failure(
            c.disassociate_fleet()
                .stack_name(&stack)
                .fleet_name(&fleet)
                .send()
                .await,
        );
        assert_eq!(code, "ResourceNotFoundException");
        c.delete_stack().name(&stack).send().await.unwrap();
        c.delete_fleet().name(&fleet).send().await.unwrap();
        let (code, _, status) = failure(c.describe_stacks().names(&stack).send().await);
        assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    }
    let c = p.client(photon_testkit::Proto::Json, &p.default, "us-east-1");
    let all = c.describe_stacks().send().await.unwrap();
    assert!(all.stacks().is_empty());
}

/// A stack past the account's quota, or of a name the account uses, is refused with AWS's
/// error and a message that says what to do; another account is not affected.
#[tokio::test]
async fn stacks_count_against_their_quota_and_names_are_unique() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    let id = p.default.account_id.clone();
    p.set_quota(&id, "us-east-1", "stacks=2");
    // Under the quota, a name in use is the refusal.
    let c = p.client(BOTH[0], &p.default, "us-east-1");
    c.create_stack().name("one").send().await.unwrap();
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let (code, msg, _) = failure(c.create_stack().name("one").send().await);
        assert_eq!(code, "ResourceAlreadyExistsException", "{msg}");
        assert!(msg.contains("pick another name"), "{msg}");
    }
    c.create_stack().name("two").send().await.unwrap();
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let (code, msg, _) = failure(c.create_stack().name("three").send().await);
        assert_eq!(code, "LimitExceededException", "{msg}");
        assert!(
            msg.contains("quota of 2 stacks") && msg.contains("photon quotas set"),
            "{msg}"
        );
    }
    // The refused creations left nothing behind.
    let c = p.client(BOTH[0], &p.default, "us-east-1");
    let names: Vec<String> = c
        .describe_stacks()
        .send()
        .await
        .unwrap()
        .stacks()
        .iter()
        .filter_map(|s| s.name().map(str::to_owned))
        .collect();
    assert_eq!(names, ["one", "two"]);
    // Another region has its own count.
    let west = p.client(BOTH[1], &p.default, "us-west-2");
    west.create_stack().name("three").send().await.unwrap();
}
