//! Every member of the implemented operations is honoured or refused, never accepted and then
//! forgotten: through the SDK in both protocols, each member given is read back by the matching
//! Describe, removed by `AttributesToDelete` where the model says so, or refused with the
//! model's error and a message that says what to do.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use aws_sdk_appstream::types::{
    AgentAccessSetting, AgentAction, AuthenticationType, ComputeCapacity, ContentRedirection,
    DomainJoinInfo, FleetAttribute, FleetState, FleetType, Permission, PlatformType, S3Location,
    ScreenImageFormat, ScreenResolution, StackAttribute, StorageConnector,
    StorageConnectorAuthentication, StorageConnectorType, StreamView, UrlRedirectionConfig,
    VolumeConfig, VpcConfig,
};
use aws_sdk_appstream::Client;
use common::{bin, failure};
use photon_testkit::{Photon, BOTH};

const BASE: &str = "AppStream-WinServer2022-11-10-2025";
const LINUX: &str = "AppStream-AmazonLinux2-02-11-2025";

async fn fleet(c: &Client, name: &str) -> aws_sdk_appstream::types::Fleet {
    c.describe_fleets()
        .names(name)
        .send()
        .await
        .unwrap()
        .fleets()[0]
        .clone()
}

/// CreateFleet.MaxSessionsPerInstance CreateFleet.UsbDeviceFilterStrings
/// CreateFleet.SessionScriptS3Location CreateFleet.Platform CreateFleet.DisableIMDSV1
/// CreateFleet.RootVolumeConfig CreateFleet.IamRoleArn CreateFleet.DomainJoinInfo
/// CreateFleet.ImageArn CreateFleet.MaxConcurrentSessions UpdateFleet.MaxSessionsPerInstance
/// UpdateFleet.UsbDeviceFilterStrings UpdateFleet.SessionScriptS3Location UpdateFleet.Platform
/// UpdateFleet.DisableIMDSV1 UpdateFleet.RootVolumeConfig UpdateFleet.AttributesToDelete
/// UpdateFleet.DeleteVpcConfig UpdateFleet.VpcConfig UpdateFleet.IamRoleArn
/// UpdateFleet.DomainJoinInfo UpdateFleet.InstanceType UpdateFleet.EnableDefaultInternetAccess
/// UpdateFleet.StreamView UpdateFleet.MaxConcurrentSessions UpdateFleet.ImageName
/// UpdateFleet.ImageArn
#[tokio::test]
#[allow(deprecated)] // DeleteVpcConfig is deprecated in the model, and still honoured
async fn fleet_members_are_kept_returned_and_deleted() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let name = format!("members-{proto:?}").to_lowercase();
        let base_arn = format!("arn:aws:appstream:us-east-1::image/{BASE}");
        c.create_fleet()
            .name(&name)
            .image_arn(&base_arn)
            .instance_type("stream.standard.medium")
            .max_sessions_per_instance(1)
            .usb_device_filter_strings("Wacom Tablet,056a,*,*,*,*,0,0")
            .session_script_s3_location(
                S3Location::builder()
                    .s3_bucket("scripts")
                    .s3_key("session.zip")
                    .build(),
            )
            .platform(PlatformType::WindowsServer2022)
            .disable_imdsv1(true)
            .root_volume_config(VolumeConfig::builder().volume_size_in_gb(300).build())
            .iam_role_arn("arn:aws:iam::123456789012:role/fleet")
            .domain_join_info(
                DomainJoinInfo::builder()
                    .directory_name("corp.example.com")
                    .organizational_unit_distinguished_name("OU=AppStream,DC=corp")
                    .build(),
            )
            .vpc_config(
                VpcConfig::builder()
                    .subnet_ids("subnet-1")
                    .security_group_ids("sg-1")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let f = fleet(&c, &name).await;
        assert_eq!(f.max_sessions_per_instance(), Some(1));
        assert_eq!(
            f.usb_device_filter_strings(),
            ["Wacom Tablet,056a,*,*,*,*,0,0"]
        );
        let script = f.session_script_s3_location().unwrap();
        assert_eq!(
            (script.s3_bucket(), script.s3_key()),
            (Some("scripts"), Some("session.zip"))
        );
        assert_eq!(f.platform(), Some(&PlatformType::WindowsServer2022));
        assert_eq!(f.disable_imdsv1(), Some(true));
        assert_eq!(
            f.root_volume_config().unwrap().volume_size_in_gb(),
            Some(300)
        );
        assert_eq!(f.image_arn(), Some(base_arn.as_str()));
        assert_eq!(
            f.compute_capacity_status().unwrap().desired(),
            Some(0),
            "absent is zero"
        );

        // Stopped: everything changes.
        c.update_fleet()
            .name(&name)
            .usb_device_filter_strings("Yubikey,1050,*,*,*,*,1,0")
            .disable_imdsv1(false)
            .root_volume_config(VolumeConfig::builder().volume_size_in_gb(250).build())
            .session_script_s3_location(S3Location::builder().s3_bucket("other").build())
            .platform(PlatformType::WindowsServer2022)
            .max_sessions_per_instance(1)
            .instance_type("stream.standard.large")
            .enable_default_internet_access(true)
            .stream_view(StreamView::Desktop)
            .send()
            .await
            .unwrap();
        let f = fleet(&c, &name).await;
        assert_eq!(f.usb_device_filter_strings(), ["Yubikey,1050,*,*,*,*,1,0"]);
        assert_eq!(f.disable_imdsv1(), Some(false));
        assert_eq!(
            f.root_volume_config().unwrap().volume_size_in_gb(),
            Some(250)
        );
        assert_eq!(
            f.session_script_s3_location().unwrap().s3_bucket(),
            Some("other")
        );
        assert_eq!(f.instance_type(), Some("stream.standard.large"));
        assert_eq!(f.stream_view(), Some(&StreamView::Desktop));

        // AttributesToDelete removes what it names, and DeleteVpcConfig the VPC.
        c.update_fleet()
            .name(&name)
            .attributes_to_delete(FleetAttribute::UsbDeviceFilterStrings)
            .attributes_to_delete(FleetAttribute::SessionScriptS3Location)
            .attributes_to_delete(FleetAttribute::MaxSessionsPerInstance)
            .attributes_to_delete(FleetAttribute::VolumeConfiguration)
            .attributes_to_delete(FleetAttribute::IamRoleArn)
            .attributes_to_delete(FleetAttribute::DomainJoinInfo)
            .delete_vpc_config(true)
            .send()
            .await
            .unwrap();
        let f = fleet(&c, &name).await;
        assert!(f.usb_device_filter_strings().is_empty());
        assert!(f.session_script_s3_location().is_none());
        assert!(f.max_sessions_per_instance().is_none());
        assert!(f.root_volume_config().is_none());
        assert!(f.iam_role_arn().is_none());
        assert!(f.domain_join_info().is_none());
        assert!(f.vpc_config().is_none());

        // Refused: what Photon does not run, and what the model allows only elsewhere.
        let (code, msg, _) = failure(
            c.update_fleet()
                .name(&name)
                .max_sessions_per_instance(5)
                .send()
                .await,
        );
        assert_eq!(code, "InvalidParameterCombinationException");
        assert!(msg.contains("multi-session"), "{msg}");
        let (code, msg, _) = failure(
            c.update_fleet()
                .name(&name)
                .max_concurrent_sessions(5)
                .send()
                .await,
        );
        assert_eq!(code, "InvalidParameterCombinationException");
        assert!(msg.contains("ELASTIC"), "{msg}");
        let (code, msg, _) = failure(
            c.update_fleet()
                .name(&name)
                .platform(PlatformType::AmazonLinux2)
                .send()
                .await,
        );
        assert_eq!(code, "InvalidParameterCombinationException");
        assert!(msg.contains("platform"), "{msg}");
        let (code, msg, _) = failure(
            c.create_fleet()
                .name(format!("{name}-linux"))
                .image_name(BASE)
                .instance_type("stream.standard.medium")
                .platform(PlatformType::AmazonLinux2)
                .send()
                .await,
        );
        assert_eq!(code, "InvalidParameterCombinationException");
        assert!(msg.contains("WINDOWS_SERVER_2022"), "{msg}");
        let (code, ..) = failure(
            c.create_fleet()
                .name(format!("{name}-elastic-only"))
                .image_name(BASE)
                .instance_type("stream.standard.medium")
                .fleet_type(FleetType::AlwaysOn)
                .max_concurrent_sessions(3)
                .send()
                .await,
        );
        assert_eq!(code, "InvalidParameterCombinationException");

        // Running: only what the model lists changes; another OS needs a stopped fleet.
        c.start_fleet().name(&name).send().await.unwrap();
        common::wait_fleet(&c, &name, FleetState::Running).await;
        let (code, msg, _) = failure(
            c.update_fleet()
                .name(&name)
                .usb_device_filter_strings("Wacom Tablet,056a,*,*,*,*,0,0")
                .send()
                .await,
        );
        assert_eq!(code, "InvalidParameterCombinationException");
        assert!(
            msg.contains("UsbDeviceFilterStrings") && msg.contains("StopFleet"),
            "{msg}"
        );
        // Another operating system is another platform, Windows Server versions too.
        for other in [LINUX, "AppStream-WinServer2025-12-18-2025"] {
            let (code, msg, _) =
                failure(c.update_fleet().name(&name).image_name(other).send().await);
            assert_eq!(code, "InvalidParameterCombinationException");
            assert!(msg.contains("STOPPED"), "{msg}");
        }
        c.update_fleet()
            .name(&name)
            .image_name("AppStream-WinServer2022-04-16-2026")
            .display_name("still running")
            .send()
            .await
            .unwrap();
        let f = fleet(&c, &name).await;
        assert_eq!(f.image_name(), Some("AppStream-WinServer2022-04-16-2026"));
        assert_eq!(f.state(), Some(&FleetState::Running));
        c.stop_fleet().name(&name).send().await.unwrap();
        common::wait_fleet(&c, &name, FleetState::Stopped).await;
        c.update_fleet()
            .name(&name)
            .image_name(LINUX)
            .stream_view(StreamView::App)
            .send()
            .await
            .unwrap();
        assert_eq!(
            fleet(&c, &name).await.platform(),
            Some(&PlatformType::AmazonLinux2)
        );
    }
}

/// The DESKTOP stream view needs an agent from 02-19-2020 on: an image with an older one is
/// refused, with the way out.
#[tokio::test]
async fn desktop_view_checks_the_agent() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    let me = p.default.account_id.clone();
    let mut old = photon_testkit::private_image(&me, "us-east-1", "old-agent");
    old.attrs.appstream_agent_version = Some("01-13-2020".into());
    let store = p.store().await;
    photon_store::ImageStore::seed_images(&store, &[old])
        .await
        .unwrap();
    store.close().await;
    let c = p.client(photon_testkit::Proto::Cbor, &p.default, "us-east-1");
    let (code, msg, _) = failure(
        c.create_fleet()
            .name("desktop")
            .image_name("old-agent")
            .instance_type("stream.standard.medium")
            .stream_view(StreamView::Desktop)
            .send()
            .await,
    );
    assert_eq!(code, "IncompatibleImageException");
    assert!(
        msg.contains("02-19-2020") && msg.contains("01-13-2020"),
        "{msg}"
    );
    c.create_fleet()
        .name("desktop")
        .image_name("old-agent")
        .instance_type("stream.standard.medium")
        .stream_view(StreamView::App)
        .send()
        .await
        .unwrap();
}

/// CreateStack.ContentRedirection CreateStack.WebAuthnRedirection CreateStack.AgentAccessConfig
/// CreateStack.StorageConnectorAuthentication UpdateStack.StorageConnectors
/// UpdateStack.DeleteStorageConnectors UpdateStack.AttributesToDelete UpdateStack.AccessEndpoints
/// UpdateStack.ContentRedirection UpdateStack.WebAuthnRedirection UpdateStack.AgentAccessConfig
/// UpdateStack.StorageConnectorAuthentication UpdateStack.RedirectURL UpdateStack.FeedbackURL
/// UpdateStack.EmbedHostDomains UpdateStack.DisplayName UpdateStack.Name
#[tokio::test]
#[allow(deprecated)] // DeleteStorageConnectors is deprecated in the model, and still honoured
async fn stack_members_are_kept_returned_and_deleted() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let name = format!("stack-{proto:?}").to_lowercase();
        let access = |s| {
            AgentAccessSetting::builder()
                .agent_action(AgentAction::ComputerVision)
                .permission(s)
                .build()
        };
        c.create_stack()
            .name(&name)
            .content_redirection(
                ContentRedirection::builder()
                    .host_to_client(
                        UrlRedirectionConfig::builder()
                            .enabled(true)
                            .allowed_urls("https://*.example.com/*")
                            .build(),
                    )
                    .build(),
            )
            .agent_access_config(
                aws_sdk_appstream::types::AgentAccessConfig::builder()
                    .settings(access(Permission::Enabled))
                    .screen_resolution(ScreenResolution::W1280xH720)
                    .screen_image_format(ScreenImageFormat::Png)
                    .s3_bucket_arn("arn:aws:s3:::agent-screens")
                    .build(),
            )
            .storage_connector_authentication(StorageConnectorAuthentication::ReuseCredentials)
            .storage_connectors(
                StorageConnector::builder()
                    .connector_type(StorageConnectorType::GoogleDrive)
                    .domains("example.com")
                    .build(),
            )
            .redirect_url("https://example.com/bye")
            .send()
            .await
            .unwrap();
        let read = || async {
            c.describe_stacks()
                .names(&name)
                .send()
                .await
                .unwrap()
                .stacks()[0]
                .clone()
        };
        let s = read().await;
        let host = s.content_redirection().unwrap().host_to_client().unwrap();
        assert_eq!(host.allowed_urls(), ["https://*.example.com/*"]);
        let agent = s.agent_access_config().unwrap();
        assert_eq!(agent.screen_image_format(), Some(&ScreenImageFormat::Png));
        assert_eq!(agent.s3_bucket_arn(), Some("arn:aws:s3:::agent-screens"));
        assert_eq!(
            s.storage_connector_authentication(),
            Some(&StorageConnectorAuthentication::ReuseCredentials)
        );
        assert!(s.stack_errors().is_empty());

        // An update lays the members given over the stack's own.
        c.update_stack()
            .name(&name)
            .agent_access_config(
                aws_sdk_appstream::types::AgentAccessConfigForUpdate::builder()
                    .screen_image_format(ScreenImageFormat::Jpeg)
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
                    .build(),
            )
            .feedback_url("https://example.com/feedback")
            .embed_host_domains("example.com")
            .display_name("Stack")
            .send()
            .await
            .unwrap();
        let s = read().await;
        let agent = s.agent_access_config().unwrap();
        assert_eq!(agent.screen_image_format(), Some(&ScreenImageFormat::Jpeg));
        assert_eq!(agent.settings().len(), 1, "the settings stay");
        assert_eq!(s.storage_connectors().len(), 2);

        // AttributesToDelete, each.
        c.update_stack()
            .name(&name)
            .attributes_to_delete(StackAttribute::StorageConnectorOneDrive)
            .attributes_to_delete(StackAttribute::ContentRedirection)
            .attributes_to_delete(StackAttribute::StorageConnectorAuthentication)
            .attributes_to_delete(StackAttribute::RedirectUrl)
            .attributes_to_delete(StackAttribute::FeedbackUrl)
            .attributes_to_delete(StackAttribute::EmbedHostDomains)
            .send()
            .await
            .unwrap();
        let s = read().await;
        assert_eq!(s.storage_connectors().len(), 1);
        assert_eq!(
            s.storage_connectors()[0].connector_type(),
            Some(&StorageConnectorType::Homefolders)
        );
        assert!(s.content_redirection().is_none());
        assert!(s.storage_connector_authentication().is_none());
        assert!(s.redirect_url().is_none() && s.feedback_url().is_none());
        assert!(s.embed_host_domains().is_empty());
        c.update_stack()
            .name(&name)
            .delete_storage_connectors(true)
            .attributes_to_delete(StackAttribute::AgentAccessConfig)
            .send()
            .await
            .unwrap();
        let s = read().await;
        assert!(s.storage_connectors().is_empty());
        assert!(s.agent_access_config().is_none());

        // A whole configuration is needed where the stack has none.
        let (code, msg, _) = failure(
            c.update_stack()
                .name(&name)
                .agent_access_config(
                    aws_sdk_appstream::types::AgentAccessConfigForUpdate::builder()
                        .screen_image_format(ScreenImageFormat::Jpeg)
                        .build(),
                )
                .send()
                .await,
        );
        assert_eq!(code, "InvalidParameterCombinationException");
        assert!(msg.contains("ScreenResolution"), "{msg}");
        // One connector per type.
        let one_drive = StorageConnector::builder()
            .connector_type(StorageConnectorType::OneDrive)
            .build();
        let (code, ..) = failure(
            c.update_stack()
                .name(&name)
                .storage_connectors(one_drive.clone())
                .storage_connectors(one_drive)
                .send()
                .await,
        );
        assert_eq!(code, "InvalidParameterCombinationException");
    }
}

/// A Linux fleet streams no stack with Google Drive, OneDrive or application settings
/// persistence, whichever is set first.
#[tokio::test]
async fn linux_fleets_refuse_what_linux_sessions_lack() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    let c = p.client(photon_testkit::Proto::Json, &p.default, "us-east-1");
    c.create_fleet()
        .name("linux")
        .image_name(LINUX)
        .instance_type("stream.standard.medium")
        .send()
        .await
        .unwrap();
    c.create_stack()
        .name("drive")
        .storage_connectors(
            StorageConnector::builder()
                .connector_type(StorageConnectorType::GoogleDrive)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (code, msg, _) = failure(
        c.associate_fleet()
            .fleet_name("linux")
            .stack_name("drive")
            .send()
            .await,
    );
    assert_eq!(code, "IncompatibleImageException");
    assert!(msg.contains("GOOGLE_DRIVE"), "{msg}");
    c.create_stack().name("plain").send().await.unwrap();
    c.associate_fleet()
        .fleet_name("linux")
        .stack_name("plain")
        .send()
        .await
        .unwrap();
    let (code, msg, _) = failure(
        c.update_stack()
            .name("plain")
            .application_settings(
                aws_sdk_appstream::types::ApplicationSettings::builder()
                    .enabled(true)
                    .settings_group("g")
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!(code, "IncompatibleImageException");
    assert!(msg.contains("application settings persistence"), "{msg}");
}

/// CreateImageBuilder.AgentAccessConfig CreateImageBuilder.SoftwaresToInstall
/// CreateImageBuilder.SoftwaresToUninstall CreateImageBuilder.RootVolumeConfig
/// CreateImageBuilder.DisableIMDSV1 CreateImageBuilder.VpcConfig CreateImageBuilder.IamRoleArn
/// CreateImageBuilder.DomainJoinInfo CreateImageBuilder.ImageArn DescribeImageBuilders.MaxResults
/// DescribeImageBuilders.Names DescribeImageBuilders.NextToken
#[tokio::test]
async fn image_builder_members_are_kept_or_refused() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let name = format!("ib-{proto:?}").to_lowercase();
        c.create_image_builder()
            .name(&name)
            .image_arn(format!("arn:aws:appstream:us-east-1::image/{BASE}"))
            .instance_type("stream.standard.medium")
            .root_volume_config(VolumeConfig::builder().volume_size_in_gb(200).build())
            .disable_imdsv1(true)
            .iam_role_arn("arn:aws:iam::123456789012:role/builder")
            .vpc_config(VpcConfig::builder().subnet_ids("subnet-1").build())
            .domain_join_info(
                DomainJoinInfo::builder()
                    .directory_name("corp.example.com")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        common::wait_builder(
            &c,
            &name,
            aws_sdk_appstream::types::ImageBuilderState::Running,
        )
        .await;
        let b = c
            .describe_image_builders()
            .names(&name)
            .send()
            .await
            .unwrap();
        let b = &b.image_builders()[0];
        assert_eq!(
            b.root_volume_config().unwrap().volume_size_in_gb(),
            Some(200)
        );
        assert_eq!(b.disable_imdsv1(), Some(true));
        assert!(b.iam_role_arn().is_some() && b.domain_join_info().is_some());
        // A running builder has a network interface, the same on every read.
        let eni = b.network_access_configuration().unwrap();
        assert!(eni.eni_id().unwrap().starts_with("eni-"));
        assert!(eni.eni_private_ip_address().unwrap().starts_with("10."));
        let again = c
            .describe_image_builders()
            .names(&name)
            .send()
            .await
            .unwrap();
        assert_eq!(
            again.image_builders()[0].network_access_configuration(),
            Some(eni)
        );

        for (install, uninstall) in [(Some("Office"), None), (None, Some("Office"))] {
            let (code, msg, _) = failure(
                c.create_image_builder()
                    .name(format!("{name}-sw"))
                    .image_name(BASE)
                    .instance_type("stream.standard.medium")
                    .set_softwares_to_install(install.map(|s| vec![s.to_owned()]))
                    .set_softwares_to_uninstall(uninstall.map(|s| vec![s.to_owned()]))
                    .send()
                    .await,
            );
            assert_eq!(code, "InvalidParameterCombinationException");
            assert!(msg.contains("license-included"), "{msg}");
        }
    }
    // MaxResults is not capped at 25: 30 builders in one page.
    let c = p.client(photon_testkit::Proto::Json, &p.default, "us-east-1");
    let id = p.default.account_id.clone();
    p.set_quota(&id, "us-east-1", "image-builders=40");
    for i in 0..30 {
        c.create_image_builder()
            .name(format!("many-{i:02}"))
            .image_name(BASE)
            .instance_type("stream.standard.small")
            .send()
            .await
            .unwrap();
    }
    let page = c
        .describe_image_builders()
        .max_results(40)
        .send()
        .await
        .unwrap();
    assert_eq!(page.image_builders().len(), 32);
    assert!(page.next_token().is_none());
    let page = c.describe_image_builders().send().await.unwrap();
    assert_eq!(page.image_builders().len(), 25, "the default page");
    let rest = c
        .describe_image_builders()
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.image_builders().len(), 7);
}

/// DescribeSessions.AuthenticationType DescribeSessions.UserId DescribeSessions.InstanceId
/// DescribeSessions.Limit ExpireSession.SessionId CreateStreamingURL.ApplicationId
/// CreateStreamingURL.SessionContext CreateStreamingURL.Validity CreateStreamingURL.UserId
#[tokio::test]
async fn sessions_honour_filters_context_and_applications() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    let c = p.client(photon_testkit::Proto::Cbor, &p.default, "us-east-1");
    c.create_fleet()
        .name("f")
        .image_name(BASE)
        .instance_type("stream.standard.medium")
        .compute_capacity(ComputeCapacity::builder().desired_instances(2).build())
        .stream_view(StreamView::Desktop)
        .send()
        .await
        .unwrap();
    c.create_stack().name("s").send().await.unwrap();
    c.associate_fleet()
        .fleet_name("f")
        .stack_name("s")
        .send()
        .await
        .unwrap();
    c.start_fleet().name("f").send().await.unwrap();
    common::wait_fleet(&c, "f", FleetState::Running).await;

    // An application the image does not have is refused; Desktop is the desktop view's.
    let (code, msg, _) = failure(
        c.create_streaming_url()
            .stack_name("s")
            .fleet_name("f")
            .user_id("alice")
            .application_id("Notepad")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    assert!(msg.contains("Notepad"), "{msg}");
    let url = c
        .create_streaming_url()
        .stack_name("s")
        .fleet_name("f")
        .user_id("alice")
        .application_id("Desktop")
        .session_context("ticket=42|lang=en")
        .validity(300)
        .send()
        .await
        .unwrap();
    let page = reqwest::get(url.streaming_url().unwrap()).await.unwrap();
    assert!(page.status().is_success());
    let page = page.text().await.unwrap();
    assert!(page.contains("APPSTREAM_SESSION_CONTEXT"), "{page}");
    assert!(page.contains("ticket=42|lang=en"), "{page}");
    assert!(page.contains("Desktop (the operating system"), "{page}");

    // UserId needs AuthenticationType; API finds the URL's session, another type none.
    let (code, ..) = failure(
        c.describe_sessions()
            .stack_name("s")
            .fleet_name("f")
            .user_id("alice")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterCombinationException");
    let api = c
        .describe_sessions()
        .stack_name("s")
        .fleet_name("f")
        .user_id("alice")
        .authentication_type(AuthenticationType::Api)
        .limit(10)
        .send()
        .await
        .unwrap();
    assert_eq!(api.sessions().len(), 1);
    let session = api.sessions()[0].clone();
    assert!(session
        .network_access_configuration()
        .unwrap()
        .eni_id()
        .is_some());
    let by_instance = c
        .describe_sessions()
        .stack_name("s")
        .fleet_name("f")
        .instance_id(session.instance_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(by_instance.sessions().len(), 1);
    let saml = c
        .describe_sessions()
        .stack_name("s")
        .fleet_name("f")
        .authentication_type(AuthenticationType::Saml)
        .send()
        .await
        .unwrap();
    assert!(saml.sessions().is_empty());

    // ExpireSession is idempotent: twice, and for a session that never was.
    let id = session.id().unwrap();
    for id in [id, id, "no-such-session"] {
        c.expire_session().session_id(id).send().await.unwrap();
    }
    let none = c
        .describe_sessions()
        .stack_name("s")
        .fleet_name("f")
        .send()
        .await
        .unwrap();
    assert!(none.sessions().is_empty());

    // The desktop is only for the DESKTOP view.
    c.update_fleet()
        .name("f")
        .compute_capacity(ComputeCapacity::builder().desired_instances(1).build())
        .send()
        .await
        .unwrap();
    c.stop_fleet().name("f").send().await.unwrap();
    common::wait_fleet(&c, "f", FleetState::Stopped).await;
    c.update_fleet()
        .name("f")
        .stream_view(StreamView::App)
        .send()
        .await
        .unwrap();
    c.start_fleet().name("f").send().await.unwrap();
    common::wait_fleet(&c, "f", FleetState::Running).await;
    let (code, msg, _) = failure(
        c.create_streaming_url()
            .stack_name("s")
            .fleet_name("f")
            .user_id("bob")
            .application_id("Desktop")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterCombinationException");
    assert!(msg.contains("DESKTOP"), "{msg}");
}

/// Members the model has and the Rust SDK does not send yet (boto3 and the CLI do), sent as
/// AWS JSON 1.1 by hand: CreateStack.WebAuthnRedirection UpdateStack.WebAuthnRedirection
/// CreateImageBuilder.AgentAccessConfig, and AgentAccessConfig's KmsKeyArn with
/// AGENT_ACCESS_CONFIG_KMS_KEY_ARN and WEB_AUTHN_REDIRECTION in UpdateStack.AttributesToDelete.
#[tokio::test]
async fn members_newer_than_the_sdk_are_honoured() {
    use serde_json::json;
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    let call =
        |op: &'static str, body: serde_json::Value| common::json_call(&p, &p.default, op, body);
    let (status, _) = call(
        "CreateStack",
        json!({
            "Name": "raw",
            "WebAuthnRedirection": {"Enabled": true, "ProcessCompatibilityList": ["chrome.exe"]},
            "AgentAccessConfig": {
                "Settings": [{"AgentAction": "COMPUTER_VISION", "Permission": "ENABLED"}],
                "ScreenResolution": "W_1280xH_720",
                "ScreenImageFormat": "PNG",
                "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k",
                "ReplaySessionEnabled": true
            }
        }),
    )
    .await;
    assert_eq!(status, 200);
    let (_, out) = call("DescribeStacks", json!({"Names": ["raw"]})).await;
    let stack = &out["Stacks"][0];
    assert_eq!(
        stack["WebAuthnRedirection"]["ProcessCompatibilityList"][0],
        "chrome.exe"
    );
    assert_eq!(
        stack["AgentAccessConfig"]["KmsKeyArn"],
        "arn:aws:kms:us-east-1:123456789012:key/k"
    );
    assert_eq!(stack["AgentAccessConfig"]["ReplaySessionEnabled"], true);
    let (status, _) = call(
        "UpdateStack",
        json!({"Name": "raw", "WebAuthnRedirection": {"Enabled": false}}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, out) = call("DescribeStacks", json!({"Names": ["raw"]})).await;
    assert_eq!(
        out["Stacks"][0]["WebAuthnRedirection"],
        json!({"Enabled": false})
    );
    let (status, _) = call(
        "UpdateStack",
        json!({"Name": "raw", "AttributesToDelete": ["AGENT_ACCESS_CONFIG_KMS_KEY_ARN", "WEB_AUTHN_REDIRECTION"]}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, out) = call("DescribeStacks", json!({"Names": ["raw"]})).await;
    let stack = &out["Stacks"][0];
    assert!(stack.get("WebAuthnRedirection").is_none(), "{stack}");
    assert!(
        stack["AgentAccessConfig"].get("KmsKeyArn").is_none(),
        "{stack}"
    );
    assert_eq!(stack["AgentAccessConfig"]["ScreenImageFormat"], "PNG");

    let (status, out) = call(
        "CreateImageBuilder",
        json!({
            "Name": "raw-builder",
            "ImageName": BASE,
            "InstanceType": "stream.standard.medium",
            "AgentAccessConfig": {
                "Settings": [{"AgentAction": "COMPUTER_INPUT", "Permission": "DISABLED"}],
                "ScreenResolution": "W_1280xH_720",
                "ScreenImageFormat": "JPEG"
            }
        }),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let (_, out) = call("DescribeImageBuilders", json!({"Names": ["raw-builder"]})).await;
    let agent = &out["ImageBuilders"][0]["AgentAccessConfig"];
    assert_eq!(agent["ScreenImageFormat"], "JPEG");
    assert_eq!(agent["Settings"][0]["Permission"], "DISABLED");
}

/// DescribeStacks.NextToken ListAssociatedFleets.NextToken ListAssociatedStacks.NextToken
#[tokio::test]
async fn stack_listings_page_and_refuse_tokens_they_did_not_issue() {
    let p = Photon::shared(bin(), &["--pace", "instant"]);
    let id = p.default.account_id.clone();
    p.set_quota(&id, "us-east-1", "stacks=30");
    let c = p.client(photon_testkit::Proto::Json, &p.default, "us-east-1");
    for i in 0..27 {
        c.create_stack()
            .name(format!("s-{i:02}"))
            .send()
            .await
            .unwrap();
    }
    for proto in BOTH {
        let c = p.client(proto, &p.default, "us-east-1");
        let first = c.describe_stacks().send().await.unwrap();
        assert_eq!(first.stacks().len(), 25);
        let rest = c
            .describe_stacks()
            .next_token(first.next_token().expect("a second page"))
            .send()
            .await
            .unwrap();
        assert_eq!(rest.stacks().len(), 2);
        assert!(rest.next_token().is_none());
        let names: Vec<_> = first
            .stacks()
            .iter()
            .chain(rest.stacks())
            .map(|s| s.name().unwrap().to_owned())
            .collect();
        let want: Vec<_> = (0..27).map(|i| format!("s-{i:02}")).collect();
        assert_eq!(names, want, "every stack once, in order");

        // The association listings answer in one page; a token is refused, not ignored.
        let bogus = first.next_token().unwrap();
        let (code, msg, _) = failure(
            c.list_associated_fleets()
                .stack_name("s-00")
                .next_token(bogus)
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
        assert!(msg.contains("NextToken"), "{msg}");
        let (code, _, _) = failure(
            c.list_associated_stacks()
                .fleet_name("f")
                .next_token("not-a-token")
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
        let empty = c
            .list_associated_fleets()
            .stack_name("s-00")
            .send()
            .await
            .unwrap();
        assert!(empty.names().is_empty() && empty.next_token().is_none());
    }
}
