//! `aws_appstream_stack` as the Terraform AWS provider drives it, replayed through the SDK in
//! both protocols: create, read (DescribeStacks by name, then ListTagsForResource on the ARN it
//! returned), update (tags through Untag/TagResource, the changed members through UpdateStack),
//! import (a read by name alone), destroy (DeleteStack, then reads until not found). After each
//! step a second read must give the same state, or Terraform would show drift on every plan.
//!
//! The provider's calls, as read from `internal/service/appstream/stack.go`: CreateStack sends
//! only configured members (an access endpoint always with its VpceId), reads flatten
//! `ApplicationSettings` to `enabled`/`settings_group` and expect one even when none was sent,
//! and `user_settings` is Optional+Computed, so a stack without it reads every action back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::collections::BTreeMap;

use aws_sdk_appstream::types::{
    AccessEndpoint, AccessEndpointType, Action, ApplicationSettings, Permission, PreferredProtocol,
    StorageConnector, StorageConnectorType, StreamingExperienceSettings, UserSetting,
};
use aws_sdk_appstream::Client;
use common::{bin, failure, text};
use photon_testkit::{Photon, BOTH};

/// The state Terraform keeps for a stack, flattened as the provider's Read does.
type State = BTreeMap<&'static str, String>;

async fn read(c: &Client, name: &str) -> State {
    let r = c.describe_stacks().names(name).send().await.unwrap();
    assert_eq!(r.stacks().len(), 1, "one stack per name");
    let s = &r.stacks()[0];
    let tags = c
        .list_tags_for_resource()
        .resource_arn(s.arn().unwrap())
        .send()
        .await
        .unwrap();
    let mut state = State::new();
    state.insert("arn", s.arn().unwrap_or_default().to_owned());
    state.insert("name", text(s.name()));
    state.insert("description", s.description().unwrap_or_default().into());
    state.insert("display_name", s.display_name().unwrap_or_default().into());
    state.insert("feedback_url", s.feedback_url().unwrap_or_default().into());
    state.insert("redirect_url", s.redirect_url().unwrap_or_default().into());
    let mut domains = s.embed_host_domains().to_vec();
    domains.sort();
    state.insert("embed_host_domains", domains.join(","));
    let endpoints: Vec<String> = s
        .access_endpoints()
        .iter()
        .map(|e| format!("{}={}", text(e.endpoint_type()), text(e.vpce_id())))
        .collect();
    state.insert("access_endpoints", endpoints.join(","));
    let app = s
        .application_settings()
        .expect("ApplicationSettings is always returned");
    state.insert(
        "application_settings",
        format!(
            "enabled={} settings_group={}",
            app.enabled().unwrap_or_default(),
            app.settings_group().unwrap_or_default()
        ),
    );
    let mut connectors: Vec<String> = s
        .storage_connectors()
        .iter()
        .map(|c| {
            format!(
                "{}:{}:{}",
                text(c.connector_type()),
                c.resource_identifier().unwrap_or_default(),
                c.domains().join("+")
            )
        })
        .collect();
    connectors.sort();
    state.insert("storage_connectors", connectors.join(","));
    state.insert(
        "streaming_experience_settings",
        s.streaming_experience_settings()
            .and_then(|x| x.preferred_protocol())
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
    );
    let mut settings: Vec<String> = s
        .user_settings()
        .iter()
        .map(|u| format!("{}={}", text(u.action()), text(u.permission())))
        .collect();
    settings.sort();
    state.insert("user_settings", settings.join(","));
    let tags: Vec<String> = tags
        .tags()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    state.insert("tags", tags.join(","));
    state
}

/// Reads twice: the plan after an apply must be empty.
async fn read_without_drift(c: &Client, name: &str) -> State {
    let first = read(c, name).await;
    assert_eq!(read(c, name).await, first, "a second read drifted");
    first
}

fn setting(action: Action, permission: Permission) -> UserSetting {
    UserSetting::builder()
        .action(action)
        .permission(permission)
        .build()
}

/// CreateStack.Name CreateStack.Description CreateStack.DisplayName CreateStack.FeedbackURL
/// CreateStack.RedirectURL CreateStack.EmbedHostDomains CreateStack.AccessEndpoints
/// CreateStack.ApplicationSettings CreateStack.StorageConnectors CreateStack.UserSettings
/// CreateStack.StreamingExperienceSettings CreateStack.Tags UpdateStack.Description
/// UpdateStack.UserSettings UpdateStack.ApplicationSettings UpdateStack.StreamingExperienceSettings
#[tokio::test]
async fn terraform_stack_create_read_update_import_destroy() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let name = format!("tf-stack-{proto:?}").to_lowercase();

        // resource "aws_appstream_stack" with the provider test's "complete" configuration.
        let all = [
            (Action::ClipboardCopyFromLocalDevice, Permission::Enabled),
            (Action::ClipboardCopyToLocalDevice, Permission::Enabled),
            (Action::FileUpload, Permission::Enabled),
            (Action::FileDownload, Permission::Enabled),
            (Action::PrintingToLocalDevice, Permission::Enabled),
            (Action::DomainPasswordSignin, Permission::Enabled),
            (Action::DomainSmartCardSignin, Permission::Disabled),
            (Action::AutoTimeZoneRedirection, Permission::Disabled),
        ];
        let mut create = c
            .create_stack()
            .name(&name)
            .description("Description for a test")
            .display_name("Test display name")
            .feedback_url("https://www.example.com/feedback")
            .redirect_url("https://www.example.com/redirect")
            .embed_host_domains("example.com")
            .embed_host_domains("subdomain.example.com")
            .access_endpoints(
                AccessEndpoint::builder()
                    .endpoint_type(AccessEndpointType::Streaming)
                    .vpce_id("vpce-0123456789abcdef0")
                    .build(),
            )
            .application_settings(
                ApplicationSettings::builder()
                    .enabled(true)
                    .settings_group("SettingsGroup")
                    .build(),
            )
            .storage_connectors(
                StorageConnector::builder()
                    .connector_type(StorageConnectorType::Homefolders)
                    .build(),
            )
            .storage_connectors(
                StorageConnector::builder()
                    .connector_type(StorageConnectorType::OneDrive)
                    .domains("example.com")
                    .build(),
            )
            .streaming_experience_settings(
                StreamingExperienceSettings::builder()
                    .preferred_protocol(PreferredProtocol::Udp)
                    .build(),
            )
            .tags("Name", "tf-acc");
        for (a, perm) in all.clone() {
            create = create.user_settings(setting(a, perm));
        }
        let out = create.send().await.unwrap();
        assert_eq!(
            out.stack().unwrap().name(),
            Some(name.as_str()),
            "the ID is Stack.Name"
        );

        let state = read_without_drift(&c, &name).await;
        assert_eq!(state["description"], "Description for a test");
        assert_eq!(state["display_name"], "Test display name");
        assert_eq!(state["feedback_url"], "https://www.example.com/feedback");
        assert_eq!(state["redirect_url"], "https://www.example.com/redirect");
        assert_eq!(
            state["embed_host_domains"],
            "example.com,subdomain.example.com"
        );
        assert_eq!(
            state["access_endpoints"],
            "STREAMING=vpce-0123456789abcdef0"
        );
        assert_eq!(
            state["application_settings"],
            "enabled=true settings_group=SettingsGroup"
        );
        assert_eq!(
            state["storage_connectors"],
            "HOMEFOLDERS::,ONE_DRIVE::example.com"
        );
        assert_eq!(state["streaming_experience_settings"], "UDP");
        // The eight configured, as configured; the one action the provider's SDK does not know
        // yet is reported with its default.
        for (a, perm) in &all {
            assert!(
                state["user_settings"].contains(&format!("{a}={perm}")),
                "{a}: {}",
                state["user_settings"]
            );
        }
        assert!(state["user_settings"].contains("SMART_CARD_REDIRECTION=ENABLED"));
        assert_eq!(state["tags"], "Name=tf-acc");

        // Update: tags first (the tags interceptor), then only the changed members.
        let arn = state["arn"].clone();
        c.untag_resource()
            .resource_arn(&arn)
            .tag_keys("Name")
            .send()
            .await
            .unwrap();
        c.tag_resource()
            .resource_arn(&arn)
            .tags("Env", "ci")
            .send()
            .await
            .unwrap();
        c.update_stack()
            .name(&name)
            .description("")
            .user_settings(setting(Action::FileUpload, Permission::Disabled))
            .application_settings(
                ApplicationSettings::builder()
                    .enabled(false)
                    .settings_group("")
                    .build(),
            )
            .streaming_experience_settings(
                StreamingExperienceSettings::builder()
                    .preferred_protocol(PreferredProtocol::Tcp)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let updated = read_without_drift(&c, &name).await;
        assert_eq!(updated["description"], "");
        assert_eq!(updated["tags"], "Env=ci");
        assert!(updated["user_settings"].contains("FILE_UPLOAD=DISABLED"));
        assert!(updated["user_settings"].contains("FILE_DOWNLOAD=ENABLED"));
        assert_eq!(
            updated["application_settings"],
            "enabled=false settings_group="
        );
        assert_eq!(updated["streaming_experience_settings"], "TCP");
        assert_eq!(updated["storage_connectors"], state["storage_connectors"]);

        // Import: the ID is the name; the imported state is the applied one.
        assert_eq!(read(&c, &name).await, updated);

        // Destroy: DeleteStack, then reads until ResourceNotFoundException.
        c.delete_stack().name(&name).send().await.unwrap();
        let (code, _, status) = failure(c.describe_stacks().names(&name).send().await);
        assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
        let (code, ..) = failure(c.list_tags_for_resource().resource_arn(&arn).send().await);
        assert_eq!(code, "ResourceNotFoundException", "tags go with the stack");
    }
}

/// The provider test's "basic" configuration, a stack with only a name: what it reads back.
#[tokio::test]
async fn terraform_stack_basic_reads_aws_defaults() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let name = format!("tf-basic-{proto:?}").to_lowercase();
        c.create_stack().name(&name).send().await.unwrap();
        let state = read_without_drift(&c, &name).await;
        assert_eq!(
            state["application_settings"],
            "enabled=false settings_group="
        );
        assert_eq!(state["access_endpoints"], "");
        assert_eq!(state["embed_host_domains"], "");
        assert_eq!(state["storage_connectors"], "");
        assert_eq!(state["description"], "");
        assert_eq!(state["tags"], "");
        // Every action of the model (one more than this SDK knows), enabled: AWS's defaults.
        let settings: Vec<&str> = state["user_settings"].split(',').collect();
        assert_eq!(
            settings.len(),
            photon_types::Action::VALUES.len(),
            "{settings:?}"
        );
        assert!(
            settings.iter().all(|s| s.ends_with("=ENABLED")),
            "{settings:?}"
        );
        c.delete_stack().name(&name).send().await.unwrap();
    }
}
