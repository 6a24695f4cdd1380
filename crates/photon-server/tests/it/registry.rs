//! The Image Registry through the real SDK, in both protocols: public catalogue in several
//! regions, paging, filters, named lookups, deletion, and every refusal on the way.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use aws_sdk_appstream::types::{ImageState, VisibilityType};
use common::{bin, failure};
use photon_testkit::{Photon, Proto, BOTH};

async fn all_pages(
    c: &aws_sdk_appstream::Client,
    t: Option<VisibilityType>,
    page: i32,
) -> Vec<aws_sdk_appstream::types::Image> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let r = c
            .describe_images()
            .set_type(t.clone())
            .max_results(page)
            .set_next_token(token)
            .send()
            .await
            .expect("describe images");
        let imgs = r.images().to_vec();
        assert!(imgs.len() <= page as usize);
        out.extend(imgs);
        token = r.next_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

#[tokio::test]
async fn public_catalogue_in_every_region_and_paging() {
    let p = Photon::shared(bin(), &[]);
    for proto in BOTH {
        for region in ["us-east-1", "eu-west-1"] {
            let c = p.client(proto, &p.default, region);
            let imgs = all_pages(&c, Some(VisibilityType::Public), 25).await;
            assert!(
                imgs.len() >= 40,
                "{proto:?} {region}: only {} public images",
                imgs.len()
            );
            // Pages come in name order (bytewise, as the keyset's hex sort key orders them),
            // and no image appears twice across page boundaries.
            let names: Vec<&str> = imgs.iter().map(|i| i.name().unwrap()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted, "{proto:?} {region}: pages out of name order");
            sorted.dedup();
            assert_eq!(sorted.len(), imgs.len(), "a page repeated an image");
            for i in &imgs {
                assert_eq!(i.visibility(), Some(&VisibilityType::Public));
                assert_eq!(i.state(), Some(&ImageState::Available));
                let arn = i.arn().unwrap();
                assert_eq!(
                    arn,
                    format!("arn:aws:appstream:{region}::image/{}", i.name().unwrap())
                );
                assert!(i.platform().is_some());
                assert!(i.public_base_image_released_date().is_some());
                assert!(i.appstream_agent_version().is_some());
                assert!(!i.supported_instance_families().is_empty());
            }
            // The catalogue has history: several releases of one platform.
            let ws2022 = imgs
                .iter()
                .filter(|i| i.platform().map(|p| p.as_str()) == Some("WINDOWS_SERVER_2022"))
                .count();
            assert!(ws2022 >= 3);
            // Without a filter the caller sees the same public images (no private ones yet).
            let all = all_pages(&c, None, 7).await;
            assert_eq!(all.len(), imgs.len());
        }
    }
}

#[tokio::test]
async fn filters_names_and_arns() {
    let p = Photon::shared(bin(), &[]);
    let me = p.default.account_id.clone();
    let names: Vec<String> = (0..30).map(|i| format!("app-{i:03}")).collect();
    p.seed_private_images(&me, "us-east-1", &names).await;
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let private = all_pages(&c, Some(VisibilityType::Private), 25).await;
        assert_eq!(private.len(), 30);
        for i in &private {
            assert_eq!(i.visibility(), Some(&VisibilityType::Private));
            assert_eq!(
                i.arn().unwrap(),
                format!(
                    "arn:aws:appstream:us-east-1:{me}:image/{}",
                    i.name().unwrap()
                )
            );
            assert_eq!(
                i.image_shared_with_others().map(|s| s.as_str()),
                Some("FALSE")
            );
        }
        assert!(all_pages(&c, Some(VisibilityType::Shared), 25)
            .await
            .is_empty());
        let public = all_pages(&c, Some(VisibilityType::Public), 25).await;
        let all = all_pages(&c, None, 25).await;
        assert_eq!(all.len(), public.len() + 30);

        // Named lookups reach private and public images.
        let r = c
            .describe_images()
            .names("app-007")
            .names(public[0].name().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.images().len(), 2);
        let arn = private[3].arn().unwrap().to_owned();
        let r = c.describe_images().arns(&arn).send().await.unwrap();
        assert_eq!(r.images()[0].name().unwrap(), private[3].name().unwrap());

        let (code, msg, status) =
            failure(c.describe_images().names("app-001").arns(&arn).send().await);
        assert_eq!(code, "InvalidParameterCombinationException");
        assert_eq!(status, 400);
        assert!(msg.contains("Names and Arns"), "{msg}");

        let (code, msg, status) = failure(c.describe_images().names("no-such-image").send().await);
        assert_eq!(code, "ResourceNotFoundException");
        assert_eq!(status, 404);
        assert!(msg.contains("no-such-image"), "{msg}");
        let (code, ..) = failure(
            c.describe_images()
                .arns("arn:aws:appstream:us-east-1:123456789012:image/x")
                .send()
                .await,
        );
        assert_eq!(code, "ResourceNotFoundException");
    }
}

#[tokio::test]
async fn validation_errors_name_the_field_and_rule() {
    let p = Photon::shared(bin(), &[]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let (code, msg, status) = failure(c.describe_images().max_results(26).send().await);
        assert_eq!((code.as_str(), status), ("ValidationException", 400));
        assert!(
            msg.contains("'MaxResults'") && msg.contains("less than or equal to 25"),
            "{msg}"
        );
        let (code, msg, _) = failure(c.delete_image().name("bad name!").send().await);
        assert_eq!(code, "ValidationException");
        assert!(
            msg.contains("'Name'") && msg.contains("regular expression pattern"),
            "{msg}"
        );
        let (code, msg, _) = failure(c.describe_images().arns("not-an-arn").send().await);
        assert_eq!(code, "ValidationException");
        assert!(msg.contains("Arns.1"), "{msg}");
        let (code, msg, _) = failure(
            c.describe_images()
                .set_type(Some(VisibilityType::from("SECRET")))
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
        assert!(
            msg.contains("enum value set: [PUBLIC, PRIVATE, SHARED]"),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn tokens_are_stable_under_inserts_and_refused_when_forged() {
    let p = Photon::shared(bin(), &[]);
    let me = p.default.account_id.clone();
    let names: Vec<String> = (0..20).map(|i| format!("img-{:02}", i * 2)).collect();
    p.seed_private_images(&me, "us-east-1", &names).await;
    for (inserted, proto) in BOTH.into_iter().enumerate() {
        let c = p.client(proto, &p.default, "us-east-1");
        let first = c
            .describe_images()
            .r#type(VisibilityType::Private)
            .max_results(10)
            .send()
            .await
            .unwrap();
        let seen: Vec<String> = first
            .images()
            .iter()
            .map(|i| i.name().unwrap().to_owned())
            .collect();
        let token = first.next_token().unwrap().to_owned();
        // Images inserted before and after the cursor while the client pages.
        let before = format!("img-00a{inserted}");
        let after = format!("img-99-{inserted}");
        p.seed_private_images(&me, "us-east-1", &[before.clone(), after.clone()])
            .await;
        let mut rest = Vec::new();
        let mut t = Some(token.clone());
        while let Some(tok) = t {
            let r = c
                .describe_images()
                .r#type(VisibilityType::Private)
                .max_results(10)
                .next_token(tok)
                .send()
                .await
                .unwrap();
            rest.extend(r.images().iter().map(|i| i.name().unwrap().to_owned()));
            t = r.next_token().map(str::to_owned);
        }
        assert!(
            rest.iter().all(|n| !seen.contains(n)),
            "a page repeated an image"
        );
        assert!(
            !rest.contains(&before),
            "an image inserted behind the cursor appeared"
        );
        assert!(
            rest.contains(&after),
            "an image inserted ahead of the cursor was skipped"
        );

        // Forged and foreign tokens.
        let mut forged = token.clone();
        forged.insert(3, 'x');
        let (code, msg, _) = failure(
            c.describe_images()
                .r#type(VisibilityType::Private)
                .next_token(forged)
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
        assert!(msg.contains("NextToken"), "{msg}");
        let (code, msg, _) = failure(
            c.describe_images()
                .r#type(VisibilityType::Public)
                .next_token(&token)
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
        assert!(msg.contains("different request"), "{msg}");
    }
}

/// Shares an image through the API, as its owner.
async fn share(
    p: &Photon,
    owner: &photon_testkit::Creds,
    name: &str,
    with: &str,
    (fleet, builder): (bool, bool),
) {
    p.client(Proto::Json, owner, "us-east-1")
        .update_image_permissions()
        .name(name)
        .shared_account_id(with)
        .image_permissions(
            aws_sdk_appstream::types::ImagePermissions::builder()
                .allow_fleet(fleet)
                .allow_image_builder(builder)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn delete_image_rules() {
    let p = Photon::shared(bin(), &[]);
    let me = p.default.account_id.clone();
    let other = p.create_account();
    p.seed_private_images(
        &me,
        "us-east-1",
        &["mine-1".into(), "mine-2".into(), "shared".into()],
    )
    .await;
    p.seed_private_images(&other.account_id, "us-east-1", &["theirs".into()])
        .await;
    share(&p, &p.default, "shared", &other.account_id, (true, false)).await;
    share(&p, &other, "theirs", &me, (true, true)).await;
    for (n, proto) in BOTH.into_iter().enumerate() {
        let c = p.client(proto, &p.default, "us-east-1");
        let name = format!("mine-{}", n + 1);
        let r = c.delete_image().name(&name).send().await.unwrap();
        let img = r.image().unwrap();
        assert_eq!(img.name().unwrap(), name);
        assert_eq!(img.state(), Some(&ImageState::Deleting));
        let (code, ..) = failure(c.describe_images().names(&name).send().await);
        assert_eq!(code, "ResourceNotFoundException");
        let (code, ..) = failure(c.delete_image().name(&name).send().await);
        assert_eq!(code, "ResourceNotFoundException");

        // Public images are AWS's.
        let public = c
            .describe_images()
            .r#type(VisibilityType::Public)
            .max_results(1)
            .send()
            .await
            .unwrap();
        let (code, msg, _) = failure(
            c.delete_image()
                .name(public.images()[0].name().unwrap())
                .send()
                .await,
        );
        assert_eq!(code, "OperationNotPermittedException");
        assert!(msg.contains("public"), "{msg}");
        // Shared with me: only the owner deletes.
        let (code, msg, _) = failure(c.delete_image().name("theirs").send().await);
        assert_eq!(code, "OperationNotPermittedException");
        assert!(msg.contains("owner"), "{msg}");
        // Shared with others: in use until unshared.
        let (code, msg, _) = failure(c.delete_image().name("shared").send().await);
        assert_eq!(code, "ResourceInUseException");
        assert!(msg.contains("shared with 1 account"), "{msg}");
    }
    // A deleted name can be used again.
    p.seed_private_images(&me, "us-east-1", &["mine-1".into()])
        .await;
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    assert_eq!(
        c.describe_images()
            .names("mine-1")
            .send()
            .await
            .unwrap()
            .images()
            .len(),
        1
    );
}

#[tokio::test]
async fn shared_images_show_to_the_recipient_with_permissions() {
    let p = Photon::shared(bin(), &[]);
    let owner = p.default.clone();
    let other = p.create_account();
    p.seed_private_images(&owner.account_id, "us-east-1", &["golden".into()])
        .await;
    share(&p, &owner, "golden", &other.account_id, (true, false)).await;
    for proto in BOTH {
        let mine = p.client(proto, &owner, "us-east-1");
        let r = mine.describe_images().names("golden").send().await.unwrap();
        assert_eq!(
            r.images()[0].image_shared_with_others().map(|s| s.as_str()),
            Some("TRUE")
        );
        assert_eq!(r.images()[0].visibility(), Some(&VisibilityType::Private));

        let theirs = p.client(proto, &other, "us-east-1");
        let shared = all_pages(&theirs, Some(VisibilityType::Shared), 25).await;
        assert_eq!(shared.len(), 1);
        let img = &shared[0];
        assert_eq!(img.visibility(), Some(&VisibilityType::Shared));
        let perms = img.image_permissions().unwrap();
        assert_eq!(
            (perms.allow_fleet(), perms.allow_image_builder()),
            (Some(true), Some(false))
        );
        // Names reach public and private images only; shared ones are addressed by ARN.
        let (code, ..) = failure(theirs.describe_images().names("golden").send().await);
        assert_eq!(code, "ResourceNotFoundException");
        let by_arn = theirs
            .describe_images()
            .arns(img.arn().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(by_arn.images()[0].name().unwrap(), "golden");
        // Sharing is regional.
        let west = p.client(proto, &other, "us-west-2");
        assert!(all_pages(&west, Some(VisibilityType::Shared), 25)
            .await
            .is_empty());
    }
}

#[tokio::test]
async fn accounts_are_isolated() {
    let p = Photon::shared(bin(), &[]);
    let a = p.default.clone();
    let b = p.create_account();
    p.seed_private_images(&a.account_id, "us-east-1", &["secret-app".into()])
        .await;
    let arn = format!(
        "arn:aws:appstream:us-east-1:{}:image/secret-app",
        a.account_id
    );
    for proto in BOTH {
        let cb = p.client(proto, &b, "us-east-1");
        assert!(all_pages(&cb, Some(VisibilityType::Private), 25)
            .await
            .is_empty());
        assert!(all_pages(&cb, None, 25)
            .await
            .iter()
            .all(|i| i.name().unwrap() != "secret-app"));
        let (code, ..) = failure(cb.describe_images().names("secret-app").send().await);
        assert_eq!(code, "ResourceNotFoundException");
        let (code, ..) = failure(cb.describe_images().arns(&arn).send().await);
        assert_eq!(code, "ResourceNotFoundException");
        let (code, ..) = failure(cb.delete_image().name("secret-app").send().await);
        assert_eq!(code, "ResourceNotFoundException");
        let (code, ..) = failure(
            cb.tag_resource()
                .resource_arn(&arn)
                .tags("k", "v")
                .send()
                .await,
        );
        assert_eq!(code, "ResourceNotFoundException");
        let (code, ..) = failure(cb.list_tags_for_resource().resource_arn(&arn).send().await);
        assert_eq!(code, "ResourceNotFoundException");
        // A's token is useless to B.
        let ca = p.client(proto, &a, "us-east-1");
        let t = ca
            .describe_images()
            .max_results(1)
            .send()
            .await
            .unwrap()
            .next_token()
            .unwrap()
            .to_owned();
        let (code, ..) = failure(
            cb.describe_images()
                .max_results(1)
                .next_token(t)
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
    }
    // A still has it.
    let ca = p.client(Proto::Cbor, &a, "us-east-1");
    assert_eq!(
        ca.describe_images()
            .names("secret-app")
            .send()
            .await
            .unwrap()
            .images()
            .len(),
        1
    );
}

#[tokio::test]
async fn unimplemented_operations_fail_cleanly() {
    let p = Photon::shared(bin(), &[]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let (code, msg, status) = failure(c.describe_directory_configs().send().await);
        assert_eq!((code.as_str(), status), ("NotImplemented", 501));
        assert!(msg.contains("DescribeDirectoryConfigs"), "{msg}");
    }
}
