//! Sharing images between accounts through the SDK, step by step as the seed's procedures go:
//! share, edit permissions, stop sharing; what the owner, the recipient and a third account
//! see; every refusal; and the two consequences of revoking (fleets drop to zero capacity while
//! running sessions go on; builders and images made from the image are untouched).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::time::{Duration, Instant};

use aws_sdk_appstream::types::{
    ComputeCapacity, FleetState, ImageBuilderState, ImagePermissions, ImageState, VisibilityType,
};
use common::{bin, failure, ia, put, wait_builder, wait_image};
use photon_testkit::{Creds, Photon, Proto, BOTH};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";

fn perms(fleet: bool, builder: bool) -> ImagePermissions {
    ImagePermissions::builder()
        .allow_fleet(fleet)
        .allow_image_builder(builder)
        .build()
}

async fn shared_with_me(c: &aws_sdk_appstream::Client) -> Vec<aws_sdk_appstream::types::Image> {
    c.describe_images()
        .r#type(VisibilityType::Shared)
        .send()
        .await
        .unwrap()
        .images()
        .to_vec()
}

async fn fleet(c: &aws_sdk_appstream::Client, name: &str) -> aws_sdk_appstream::types::Fleet {
    c.describe_fleets()
        .names(name)
        .send()
        .await
        .unwrap()
        .fleets()[0]
        .clone()
}

async fn wait_running(c: &aws_sdk_appstream::Client, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while fleet(c, name).await.state() != Some(&FleetState::Running) {
        assert!(Instant::now() < deadline, "{name} never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn share_edit_stop_sharing_and_every_refusal() {
    let mut p = Photon::start_with(bin(), &["--pace", "instant"]);
    let owner = p.create_account();
    let recipient = p.create_account();
    let third = p.create_account();
    p.seed_private_images(
        &owner.account_id,
        "us-east-1",
        &["golden".into(), "silver".into()],
    )
    .await;
    let arn = format!(
        "arn:aws:appstream:us-east-1:{}:image/golden",
        owner.account_id
    );
    for proto in BOTH {
        let o = p.client(proto, &owner, "us-east-1");
        let r = p.client(proto, &recipient, "us-east-1");
        let share = |with: &str, fleet: bool, builder: bool| {
            o.update_image_permissions()
                .name("golden")
                .shared_account_id(with)
                .image_permissions(perms(fleet, builder))
                .send()
        };

        // Refusals, each naming what to fix.
        let (code, msg, _) = failure(share(&owner.account_id, true, true).await);
        assert_eq!(code, "ValidationException");
        assert!(msg.contains("owns the image"), "{msg}");
        let (code, msg, _) = failure(share("12345", true, true).await);
        assert_eq!(code, "ValidationException");
        assert!(msg.contains("12-digit"), "{msg}");
        let (code, ..) = failure(share("not-digits", true, true).await);
        assert_eq!(code, "ValidationException", "the model's pattern");
        let (code, msg, _) = failure(
            o.update_image_permissions()
                .name(BASE)
                .shared_account_id(&recipient.account_id)
                .image_permissions(perms(true, true))
                .send()
                .await,
        );
        assert_eq!(code, "ResourceNotFoundException");
        assert!(msg.contains("public"), "{msg}");
        let (code, ..) = failure(
            o.update_image_permissions()
                .name("nope")
                .shared_account_id(&recipient.account_id)
                .image_permissions(perms(true, true))
                .send()
                .await,
        );
        assert_eq!(code, "ResourceNotFoundException");
        let (code, ..) = failure(
            o.delete_image_permissions()
                .name("golden")
                .shared_account_id(&recipient.account_id)
                .send()
                .await,
        );
        assert_eq!(code, "ResourceNotFoundException", "not shared yet");

        // Share: fleets only.
        share(&recipient.account_id, true, false).await.unwrap();
        let mine = o.describe_images().names("golden").send().await.unwrap();
        let img = &mine.images()[0];
        assert_eq!(img.visibility(), Some(&VisibilityType::Private));
        assert_eq!(
            img.image_shared_with_others().map(|s| s.as_str()),
            Some("TRUE")
        );
        let listed = o
            .describe_image_permissions()
            .name("golden")
            .send()
            .await
            .unwrap();
        assert_eq!(listed.name(), Some("golden"));
        let l = listed.shared_image_permissions_list();
        assert_eq!(l.len(), 1);
        assert_eq!(
            l[0].shared_account_id(),
            Some(recipient.account_id.as_str())
        );
        let ip = l[0].image_permissions().unwrap();
        assert_eq!(
            (ip.allow_fleet(), ip.allow_image_builder()),
            (Some(true), Some(false))
        );

        // The recipient: "Shared with me", with its permissions, by ARN only; it cannot
        // delete, share or copy the image.
        let seen = shared_with_me(&r).await;
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].arn(), Some(arn.as_str()));
        assert_eq!(seen[0].image_builder_name(), None);
        let ip = seen[0].image_permissions().unwrap();
        assert_eq!(
            (ip.allow_fleet(), ip.allow_image_builder()),
            (Some(true), Some(false))
        );
        let (code, ..) = failure(r.delete_image().name("golden").send().await);
        assert_eq!(code, "OperationNotPermittedException");
        let (code, msg, _) = failure(
            r.update_image_permissions()
                .name("golden")
                .shared_account_id(&third.account_id)
                .image_permissions(perms(true, true))
                .send()
                .await,
        );
        assert_eq!(code, "ResourceNotFoundException");
        assert!(msg.contains("only its owner"), "{msg}");
        let (code, ..) = failure(r.describe_image_permissions().name("golden").send().await);
        assert_eq!(code, "ResourceNotFoundException");
        let (code, ..) = failure(
            r.copy_image()
                .source_image_name("golden")
                .destination_image_name("mine")
                .destination_region("us-east-1")
                .send()
                .await,
        );
        assert_eq!(code, "IncompatibleImageException");
        // Without image builder permission, no builder.
        let (code, msg, _) = failure(
            r.create_image_builder()
                .name("from-golden")
                .image_arn(&arn)
                .instance_type("stream.standard.medium")
                .send()
                .await,
        );
        assert_eq!(code, "OperationNotPermittedException");
        assert!(msg.contains("image builder permission"), "{msg}");
        // Others and other regions see nothing.
        assert!(shared_with_me(&p.client(proto, &third, "us-east-1"))
            .await
            .is_empty());
        assert!(shared_with_me(&p.client(proto, &recipient, "us-west-2"))
            .await
            .is_empty());
        // The owner cannot delete a shared image.
        let (code, msg, _) = failure(o.delete_image().name("golden").send().await);
        assert_eq!(code, "ResourceInUseException");
        assert!(msg.contains("DeleteImagePermissions"), "{msg}");

        // Edit: add image builder permission; the recipient sees it at once.
        share(&recipient.account_id, true, true).await.unwrap();
        let ip = shared_with_me(&r).await[0]
            .image_permissions()
            .unwrap()
            .clone();
        assert_eq!(
            (ip.allow_fleet(), ip.allow_image_builder()),
            (Some(true), Some(true))
        );
        // Filter and pages.
        share(&third.account_id, false, true).await.unwrap();
        let only = o
            .describe_image_permissions()
            .name("golden")
            .shared_aws_account_ids(&third.account_id)
            .send()
            .await
            .unwrap();
        assert_eq!(only.shared_image_permissions_list().len(), 1);
        assert_eq!(
            only.shared_image_permissions_list()[0].shared_account_id(),
            Some(third.account_id.as_str())
        );
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let page = o
                .describe_image_permissions()
                .name("golden")
                .max_results(1)
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            assert!(page.shared_image_permissions_list().len() <= 1);
            seen.extend(
                page.shared_image_permissions_list()
                    .iter()
                    .map(|s| s.shared_account_id().unwrap().to_owned()),
            );
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let mut want = vec![recipient.account_id.clone(), third.account_id.clone()];
        want.sort();
        assert_eq!(seen, want);

        // Clearing both permissions is stopping sharing.
        share(&third.account_id, false, false).await.unwrap();
        assert!(shared_with_me(&p.client(proto, &third, "us-east-1"))
            .await
            .is_empty());

        // Stop sharing with the recipient.
        o.delete_image_permissions()
            .name("golden")
            .shared_account_id(&recipient.account_id)
            .send()
            .await
            .unwrap();
        assert!(shared_with_me(&r).await.is_empty());
        let (code, ..) = failure(r.describe_images().arns(&arn).send().await);
        assert_eq!(code, "ResourceNotFoundException");
        let mine = o.describe_images().names("golden").send().await.unwrap();
        assert_eq!(
            mine.images()[0]
                .image_shared_with_others()
                .map(|s| s.as_str()),
            Some("FALSE")
        );
    }

    // The quota of accounts per image.
    p.set_quota(
        &owner.account_id,
        "us-east-1",
        "accounts-per-shared-image=1",
    );
    let o = p.client(Proto::Json, &owner, "us-east-1");
    for (with, ok) in [(&recipient, true), (&third, false)] {
        let r = o
            .update_image_permissions()
            .name("silver")
            .shared_account_id(&with.account_id)
            .image_permissions(perms(true, false))
            .send()
            .await;
        if ok {
            r.unwrap();
        } else {
            let (code, msg, _) = failure(r);
            assert_eq!(code, "LimitExceededException");
            assert!(msg.contains("accounts-per-shared-image"), "{msg}");
        }
    }
    // Changing an existing account's permissions is not one more account.
    o.update_image_permissions()
        .name("silver")
        .shared_account_id(&recipient.account_id)
        .image_permissions(perms(true, true))
        .send()
        .await
        .unwrap();

    // Sharing survives a restart.
    p.restart();
    let r = p.client(Proto::Cbor, &recipient, "us-east-1");
    let seen = shared_with_me(&r).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].name(), Some("silver"));
    let ip = seen[0].image_permissions().unwrap();
    assert_eq!(
        (ip.allow_fleet(), ip.allow_image_builder()),
        (Some(true), Some(true))
    );
}

/// Streams one session on `fleet` through `stack`; returns the session page.
async fn open_session(c: &aws_sdk_appstream::Client, stack: &str, fleet: &str, user: &str) -> u16 {
    let url = c
        .create_streaming_url()
        .stack_name(stack)
        .fleet_name(fleet)
        .user_id(user)
        .send()
        .await
        .unwrap()
        .streaming_url()
        .unwrap()
        .to_owned();
    reqwest::get(url).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn revoking_fleet_permission_zeroes_fleets_but_sessions_go_on() {
    let p = Photon::start_with(bin(), &["--pace", "instant"]);
    let owner = p.create_account();
    let recipient = p.create_account();
    p.seed_private_images(&owner.account_id, "us-east-1", &["golden".into()])
        .await;
    let arn = format!(
        "arn:aws:appstream:us-east-1:{}:image/golden",
        owner.account_id
    );
    let o = p.client(Proto::Json, &owner, "us-east-1");
    let r = p.client(Proto::Cbor, &recipient, "us-east-1");
    // Without fleet permission, no fleet.
    o.update_image_permissions()
        .name("golden")
        .shared_account_id(&recipient.account_id)
        .image_permissions(perms(false, true))
        .send()
        .await
        .unwrap();
    let create = |name: &'static str| {
        r.create_fleet()
            .name(name)
            .image_arn(&arn)
            .instance_type("stream.standard.medium")
            .compute_capacity(ComputeCapacity::builder().desired_instances(2).build())
            .send()
    };
    let (code, msg, _) = failure(create("prod").await);
    assert_eq!(code, "OperationNotPermittedException");
    assert!(msg.contains("fleet permission"), "{msg}");
    o.update_image_permissions()
        .name("golden")
        .shared_account_id(&recipient.account_id)
        .image_permissions(perms(true, true))
        .send()
        .await
        .unwrap();
    create("prod").await.unwrap();
    create("spare").await.unwrap();
    r.create_stack().name("desk").send().await.unwrap();
    r.associate_fleet()
        .stack_name("desk")
        .fleet_name("prod")
        .send()
        .await
        .unwrap();
    r.start_fleet().name("prod").send().await.unwrap();
    wait_running(&r, "prod").await;
    assert_eq!(open_session(&r, "desk", "prod", "alice").await, 200);
    // The owner cannot delete the image while it is shared; the recipient's fleet names stay
    // the recipient's.
    let (code, msg, _) = failure(o.delete_image().name("golden").send().await);
    assert_eq!(code, "ResourceInUseException");
    assert!(!msg.contains("prod") && !msg.contains("spare"), "{msg}");

    // The owner removes fleet permission (keeping image builder permission).
    o.update_image_permissions()
        .name("golden")
        .shared_account_id(&recipient.account_id)
        .image_permissions(perms(false, true))
        .send()
        .await
        .unwrap();
    for name in ["prod", "spare"] {
        let f = fleet(&r, name).await;
        let cap = f.compute_capacity_status().unwrap();
        assert_eq!(cap.desired(), Some(0), "{name}");
        let errors = f.fleet_errors();
        assert_eq!(errors.len(), 1, "{name}: {errors:?}");
        assert_eq!(errors[0].error_code().unwrap().as_str(), "IMAGE_NOT_FOUND");
        assert!(
            errors[0].error_message().unwrap().contains("UpdateFleet"),
            "{errors:?}"
        );
    }
    // Alice's session goes on, on its instance; no new one starts.
    let f = fleet(&r, "prod").await;
    assert_eq!(f.state(), Some(&FleetState::Running));
    let cap = f.compute_capacity_status().unwrap();
    assert_eq!(
        (cap.running(), cap.in_use(), cap.available()),
        (Some(1), Some(1), Some(0))
    );
    let sessions = r
        .describe_sessions()
        .stack_name("desk")
        .fleet_name("prod")
        .send()
        .await
        .unwrap();
    assert_eq!(sessions.sessions().len(), 1);
    assert_eq!(sessions.sessions()[0].user_id(), Some("alice"));
    assert_ne!(open_session(&r, "desk", "prod", "bob").await, 200);
    // Capacity does not come back without a usable image.
    let (code, msg, _) = failure(
        r.update_fleet()
            .name("prod")
            .compute_capacity(ComputeCapacity::builder().desired_instances(2).build())
            .send()
            .await,
    );
    assert_eq!(code, "OperationNotPermittedException");
    assert!(msg.contains("fleet"), "{msg}");
    // Other fields still change.
    r.update_fleet()
        .name("spare")
        .description("waiting for an image")
        .send()
        .await
        .unwrap();
    assert_eq!(
        fleet(&r, "spare")
            .await
            .compute_capacity_status()
            .unwrap()
            .desired(),
        Some(0)
    );
    // Updated to an image it may use, the fleet works again.
    let f = r
        .update_fleet()
        .name("prod")
        .image_name(BASE)
        .compute_capacity(ComputeCapacity::builder().desired_instances(2).build())
        .send()
        .await
        .unwrap();
    let f = f.fleet().unwrap();
    assert!(f.fleet_errors().is_empty(), "{:?}", f.fleet_errors());
    assert_eq!(f.compute_capacity_status().unwrap().desired(), Some(2));
    assert_eq!(open_session(&r, "desk", "prod", "bob").await, 200);
    // Fleet permission granted again: the other fleet may take capacity again.
    o.update_image_permissions()
        .name("golden")
        .shared_account_id(&recipient.account_id)
        .image_permissions(perms(true, true))
        .send()
        .await
        .unwrap();
    let f = r
        .update_fleet()
        .name("spare")
        .compute_capacity(ComputeCapacity::builder().desired_instances(1).build())
        .send()
        .await
        .unwrap();
    assert!(f.fleet().unwrap().fleet_errors().is_empty());

    // Sharing stops for good and the owner deletes the image: the recipient's fleet on it stays
    // at zero and says why; only another image brings it back.
    o.delete_image_permissions()
        .name("golden")
        .shared_account_id(&recipient.account_id)
        .send()
        .await
        .unwrap();
    o.delete_image().name("golden").send().await.unwrap();
    let spare = fleet(&r, "spare").await;
    assert_eq!(spare.compute_capacity_status().unwrap().desired(), Some(0));
    assert_eq!(
        spare.fleet_errors()[0].error_code().unwrap().as_str(),
        "IMAGE_NOT_FOUND"
    );
    let (code, msg, _) = failure(
        r.update_fleet()
            .name("spare")
            .compute_capacity(ComputeCapacity::builder().desired_instances(1).build())
            .send()
            .await,
    );
    assert_eq!(code, "OperationNotPermittedException");
    assert!(msg.contains("ImageName or ImageArn"), "{msg}");
    r.update_fleet()
        .name("spare")
        .image_name(BASE)
        .compute_capacity(ComputeCapacity::builder().desired_instances(1).build())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn revoking_builder_permission_leaves_builders_and_their_images_alone() {
    let p = Photon::start_with(bin(), &["--pace", "instant"]);
    // The recipient is the default account: `photon image-assistant` runs as it.
    let owner = p.create_account();
    let recipient: Creds = p.default.clone();
    let o = p.client(Proto::Json, &owner, "us-east-1");
    let r = p.client(Proto::Cbor, &recipient, "us-east-1");
    p.seed_private_images(&owner.account_id, "us-east-1", &["golden".into()])
        .await;
    let arn = format!(
        "arn:aws:appstream:us-east-1:{}:image/golden",
        owner.account_id
    );
    o.update_image_permissions()
        .name("golden")
        .shared_account_id(&recipient.account_id)
        .image_permissions(perms(false, true))
        .send()
        .await
        .unwrap();
    // The recipient builds its own image from the shared one.
    r.create_image_builder()
        .name("from-golden")
        .image_arn(&arn)
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    wait_builder(&r, "from-golden", ImageBuilderState::Running).await;
    put(&p, "from-golden", "C:\\Tools\\tool.exe", b"MZ tool");
    let (code, v) = ia(
        &p,
        "from-golden",
        &[
            "add-application",
            "--name",
            "Tool",
            "--absolute-app-path",
            "C:\\Tools\\tool.exe",
        ],
    );
    assert_eq!(code, 0, "{v}");
    let (code, v) = ia(&p, "from-golden", &["create-image", "--name", "my-tools"]);
    assert_eq!(code, 0, "{v}");
    wait_image(&r, "my-tools", ImageState::Available).await;
    wait_builder(&r, "from-golden", ImageBuilderState::Stopped).await;

    // The owner stops sharing altogether.
    o.delete_image_permissions()
        .name("golden")
        .shared_account_id(&recipient.account_id)
        .send()
        .await
        .unwrap();
    assert!(shared_with_me(&r).await.is_empty());
    // The builder is untouched: it starts, its files are there.
    r.start_image_builder()
        .name("from-golden")
        .send()
        .await
        .unwrap();
    wait_builder(&r, "from-golden", ImageBuilderState::Running).await;
    let out = common::photon_cli(
        &p,
        &[
            "builder",
            "--image-builder",
            "from-golden",
            "cat",
            "C:\\Tools\\tool.exe",
        ],
    );
    assert_eq!(out.stdout, b"MZ tool");
    // The image made from it is the recipient's own: private, usable for builders and fleets.
    let img = r.describe_images().names("my-tools").send().await.unwrap();
    let img = &img.images()[0];
    assert_eq!(img.visibility(), Some(&VisibilityType::Private));
    assert_eq!(img.state(), Some(&ImageState::Available));
    r.create_fleet()
        .name("tools")
        .image_name("my-tools")
        .instance_type("stream.standard.medium")
        .compute_capacity(ComputeCapacity::builder().desired_instances(1).build())
        .send()
        .await
        .unwrap();
    r.create_image_builder()
        .name("next")
        .image_name("my-tools")
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    // But no new builder from the image that is no longer shared.
    let (code, ..) = failure(
        r.create_image_builder()
            .name("again")
            .image_arn(&arn)
            .instance_type("stream.standard.medium")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    // And with sharing gone, the owner may delete the image.
    o.delete_image().name("golden").send().await.unwrap();
}
