//! Tags through the SDK, durability across a kill -9, and the administrative commands
//! (`accounts`, `quotas`) run beside a live server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::collections::HashMap;

use common::{bin, failure};
use photon_testkit::{Photon, Proto, BOTH};

#[tokio::test]
async fn tags_on_images() {
    let p = Photon::shared(bin(), &[]);
    let me = p.default.account_id.clone();
    p.seed_private_images(&me, "us-east-1", &["tagged".into()])
        .await;
    let arn = format!("arn:aws:appstream:us-east-1:{me}:image/tagged");
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        c.tag_resource()
            .resource_arn(&arn)
            .tags("team", "blue")
            .tags("env", "")
            .send()
            .await
            .unwrap();
        let t = c
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap();
        let tags: HashMap<String, String> =
            t.tags().cloned().unwrap_or_default().into_iter().collect();
        assert_eq!(tags.get("team").map(String::as_str), Some("blue"));
        assert_eq!(tags.get("env").map(String::as_str), Some(""));
        c.untag_resource()
            .resource_arn(&arn)
            .tag_keys("team")
            .tag_keys("env")
            .send()
            .await
            .unwrap();
        let t = c
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap();
        assert!(t.tags().is_none_or(|m| m.is_empty()));

        // 50 fit, the 51st does not.
        let mut req = c.tag_resource().resource_arn(&arn);
        for i in 0..50 {
            req = req.tags(format!("k{i}"), "v");
        }
        req.send().await.unwrap();
        let (code, msg, _) = failure(
            c.tag_resource()
                .resource_arn(&arn)
                .tags("one-more", "v")
                .send()
                .await,
        );
        assert_eq!(code, "LimitExceededException");
        assert!(msg.contains("50"), "{msg}");
        // Overwriting an existing key is not a new tag.
        c.tag_resource()
            .resource_arn(&arn)
            .tags("k0", "w")
            .send()
            .await
            .unwrap();
        let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
        c.untag_resource()
            .resource_arn(&arn)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .unwrap();

        // The reserved aws: prefix and the character rules.
        let (code, msg, _) = failure(
            c.tag_resource()
                .resource_arn(&arn)
                .tags("aws:owner", "x")
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
        assert!(msg.contains("Tags.key"), "{msg}");
        let (code, ..) = failure(
            c.tag_resource()
                .resource_arn(&arn)
                .tags("ok", "bad\u{0}")
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");

        // Public images, other regions, other types: not the caller's to tag.
        let public = "arn:aws:appstream:us-east-1::image/AppStream-WinServer2022-11-10-2025";
        let (code, ..) = failure(
            c.tag_resource()
                .resource_arn(public)
                .tags("a", "b")
                .send()
                .await,
        );
        assert_eq!(code, "ResourceNotFoundException");
        let west = format!("arn:aws:appstream:us-west-2:{me}:image/tagged");
        let (code, msg, _) = failure(c.list_tags_for_resource().resource_arn(west).send().await);
        assert_eq!(code, "ResourceNotFoundException");
        assert!(msg.contains("us-west-2"), "{msg}");
        let fleet = format!("arn:aws:appstream:us-east-1:{me}:fleet/none");
        let (code, ..) = failure(c.list_tags_for_resource().resource_arn(fleet).send().await);
        assert_eq!(code, "ResourceNotFoundException");
    }
    // Deleting an image deletes its tags: a new image of the same name starts bare.
    let c = p.client(Proto::Json, &p.default, "us-east-1");
    c.tag_resource()
        .resource_arn(&arn)
        .tags("stale", "yes")
        .send()
        .await
        .unwrap();
    c.delete_image().name("tagged").send().await.unwrap();
    p.seed_private_images(&me, "us-east-1", &["tagged".into()])
        .await;
    let t = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(t.tags().is_none_or(|m| m.is_empty()));
}

#[tokio::test]
async fn state_survives_kill_and_restart() {
    let mut p = Photon::start(bin());
    let me = p.default.account_id.clone();
    let other = p.create_account();
    p.seed_private_images(&me, "eu-west-1", &["keep-me".into()])
        .await;
    let arn = format!("arn:aws:appstream:eu-west-1:{me}:image/keep-me");
    let c = p.client(Proto::Cbor, &p.default, "eu-west-1");
    c.tag_resource()
        .resource_arn(&arn)
        .tags("k", "v")
        .send()
        .await
        .unwrap();
    let token = c
        .describe_images()
        .max_results(2)
        .send()
        .await
        .unwrap()
        .next_token()
        .unwrap()
        .to_owned();
    p.restart();
    let c = p.client(Proto::Cbor, &p.default, "eu-west-1");
    assert_eq!(
        c.describe_images()
            .names("keep-me")
            .send()
            .await
            .unwrap()
            .images()
            .len(),
        1
    );
    let t = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(t.tags().unwrap().get("k").map(String::as_str), Some("v"));
    // Tokens outlive the process that issued them; keys outlive it too.
    c.describe_images()
        .max_results(2)
        .next_token(token)
        .send()
        .await
        .unwrap();
    let co = p.client(Proto::Json, &other, "eu-west-1");
    co.describe_images().max_results(1).send().await.unwrap();
}

#[tokio::test]
async fn accounts_and_quotas_commands() {
    let p = Photon::shared(bin(), &[]);
    // Created while the server runs, usable at once.
    let fixed = p.admin(&[
        "accounts",
        "create",
        "--account-id",
        "111122223333",
        "--name",
        "ci",
        "--output",
        "json",
    ]);
    assert_eq!(fixed["AccountId"], "111122223333");
    let creds = photon_testkit::Creds {
        account_id: "111122223333".into(),
        access_key_id: fixed["AccessKeyId"].as_str().unwrap().into(),
        secret_access_key: fixed["SecretAccessKey"].as_str().unwrap().into(),
    };
    p.client(Proto::Json, &creds, "us-east-1")
        .describe_images()
        .max_results(1)
        .send()
        .await
        .unwrap();
    let dup = p.admin_raw(&["accounts", "create", "--account-id", "111122223333"]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let bad = p.admin_raw(&["accounts", "create", "--account-id", "12ab"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("12 digits"));

    let list = p.admin(&["accounts", "list", "--output", "json"]);
    let text = list.to_string();
    assert!(text.contains("111122223333"));
    assert!(
        !text.contains(fixed["SecretAccessKey"].as_str().unwrap()),
        "secrets must never be listed"
    );

    let set = p.admin(&[
        "quotas",
        "set",
        "--account-id",
        "111122223333",
        "--region",
        "us-east-1",
        "images=25",
        "fleets=3",
        "--output",
        "json",
    ]);
    assert_eq!(set.as_array().unwrap().len(), 2);
    let listed = p
        .admin(&[
            "quotas",
            "list",
            "--account-id",
            "111122223333",
            "--output",
            "json",
        ])
        .to_string();
    assert!(listed.contains("\"Value\":25") && listed.contains("concurrent-image-updates"));
    let unknown = p.admin_raw(&["quotas", "set", "--account-id", "111122223333", "widgets=3"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("known quotas"));
    let text = p.admin_raw(&["quotas", "list", "--output", "text"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("images\t25"));
}

#[tokio::test]
async fn first_start_files_and_graceful_shutdown() {
    use std::os::unix::fs::PermissionsExt;
    let mut p = Photon::start(bin());
    for f in ["aws-config", "aws-credentials"] {
        let mode = std::fs::metadata(p.data_dir().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f} must be private");
    }
    let config = std::fs::read_to_string(p.data_dir().join("aws-config")).unwrap();
    assert!(config.contains("[profile photon]") && config.contains("region = us-east-1"));
    assert!(
        config.contains(&format!("endpoint_url = {}", p.endpoint)),
        "{config}"
    );
    let status = p.terminate();
    assert!(
        status.success(),
        "SIGTERM should stop photon cleanly, got {status:?}"
    );
    let log = std::fs::read_to_string(p.log_path()).unwrap();
    assert!(
        log.contains("photon stopped"),
        "no shutdown line in the log"
    );
}
