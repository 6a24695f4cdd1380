//! `photon image-assistant --image-builder NAME <operation> …`: the Image Assistant CLI of
//! `programmatically-create-image.md`, run against a builder over Photon's signed API. It prints
//! the tool's JSON message on standard out and exits with its status (0, 1, or 255).

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::client::AwsArgs;

#[derive(Args, Debug)]
#[command(disable_help_subcommand = true)]
pub(crate) struct AssistantArgs {
    #[command(subcommand)]
    pub operation: AssistantOp,
    /// The image builder to work on.
    #[arg(long, global = true)]
    pub image_builder: Option<String>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum AssistantOp {
    /// List the operations.
    Help,
    /// Add an application to the catalog.
    AddApplication {
        #[arg(long)]
        name: String,
        #[arg(long)]
        absolute_app_path: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        absolute_icon_path: Option<String>,
        #[arg(long)]
        working_directory: Option<String>,
        #[arg(long, allow_hyphen_values = true)]
        launch_parameters: Option<String>,
        #[arg(long)]
        absolute_manifest_path: Option<String>,
    },
    /// Remove an application from the catalog.
    RemoveApplication {
        #[arg(long)]
        name: String,
    },
    /// List the catalog.
    ListApplications,
    /// Copy a Windows user's profile to the default profile (`<domain>\<user>`, `.` for local).
    UpdateDefaultProfile {
        #[arg(long)]
        profile: Option<String>,
    },
    /// Delete a Windows user's profile.
    ResetUserProfile {
        #[arg(long)]
        profile: Option<String>,
    },
    /// Create an image from the builder.
    CreateImage {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long, overrides_with = "no_enable_dynamic_app_catalog")]
        enable_dynamic_app_catalog: bool,
        #[arg(long)]
        no_enable_dynamic_app_catalog: bool,
        #[arg(long, overrides_with = "no_use_latest_agent_version")]
        use_latest_agent_version: bool,
        #[arg(long)]
        no_use_latest_agent_version: bool,
        /// Key value pairs: --tags "k1" "v1" "k2" "v2".
        #[arg(long, num_args = 1..)]
        tags: Vec<String>,
        #[arg(long)]
        dry_run: bool,
    },
}

const HELP: &str = "\
help                    list the operations
add-application         --name --absolute-app-path [--display-name] [--absolute-icon-path]
                        [--working-directory] [--launch-parameters] [--absolute-manifest-path]
remove-application      --name
list-applications
update-default-profile  [--profile <domain>\\<user>]
reset-user-profile      [--profile <domain>\\<user>]
create-image            --name [--description] [--display-name]
                        [--enable-dynamic-app-catalog | --no-enable-dynamic-app-catalog]
                        [--use-latest-agent-version | --no-use-latest-agent-version]
                        [--tags k v …] [--dry-run]";

fn request(op: AssistantOp) -> Option<serde_json::Value> {
    use serde_json::json;
    Some(match op {
        AssistantOp::Help => return None,
        AssistantOp::AddApplication {
            name,
            absolute_app_path,
            display_name,
            absolute_icon_path,
            working_directory,
            launch_parameters,
            absolute_manifest_path,
        } => json!({
            "operation": "add-application", "name": name, "absolute-app-path": absolute_app_path,
            "display-name": display_name, "absolute-icon-path": absolute_icon_path,
            "working-directory": working_directory, "launch-parameters": launch_parameters,
            "absolute-manifest-path": absolute_manifest_path,
        }),
        AssistantOp::RemoveApplication { name } => {
            json!({"operation": "remove-application", "name": name})
        }
        AssistantOp::ListApplications => json!({"operation": "list-applications"}),
        AssistantOp::UpdateDefaultProfile { profile } => {
            json!({"operation": "update-default-profile", "profile": profile})
        }
        AssistantOp::ResetUserProfile { profile } => {
            json!({"operation": "reset-user-profile", "profile": profile})
        }
        AssistantOp::CreateImage {
            name,
            description,
            display_name,
            enable_dynamic_app_catalog,
            use_latest_agent_version,
            tags,
            dry_run,
            ..
        } => json!({
            "operation": "create-image", "name": name, "description": description,
            "display-name": display_name,
            "enable-dynamic-app-catalog": enable_dynamic_app_catalog,
            "use-latest-agent-version": use_latest_agent_version,
            "tags": tags, "dry-run": dry_run,
        }),
    })
}

/// Runs the operation; returns the exit status the tool would.
pub(crate) async fn run(args: AssistantArgs, aws: &AwsArgs) -> anyhow::Result<i32> {
    // In the profile operations `--profile` is the Image Assistant's own option (a Windows
    // user), as its contract says; it also lands in the global AWS --profile, so it is taken
    // back out of there (choose the AWS profile with AWS_PROFILE for these two).
    let windows_user = match &args.operation {
        AssistantOp::UpdateDefaultProfile { profile }
        | AssistantOp::ResetUserProfile { profile } => profile.clone(),
        _ => None,
    };
    let mut aws = aws.clone();
    if windows_user.is_some() && aws.profile == windows_user {
        aws.profile = None;
    }
    let Some(body) = request(args.operation) else {
        println!("{HELP}");
        return Ok(0);
    };
    let name = args
        .image_builder
        .context("name the builder with --image-builder NAME")?;
    let reply = async {
        let target = aws.resolve()?;
        let http = reqwest::Client::new();
        let path = format!(
            "/photon/v1/image-builders/{}/image-assistant",
            crate::builder_cmd::percent_encode(&name)
        );
        let resp = target
            .send(
                &http,
                reqwest::Method::POST,
                &path,
                body.to_string().into_bytes(),
            )
            .await?;
        let status = resp.status();
        let v: serde_json::Value = resp.json().await.context("unexpected answer from Photon")?;
        if !status.is_success() {
            anyhow::bail!(
                "{}: {}",
                v["__type"].as_str().unwrap_or("Error"),
                v["Message"].as_str().unwrap_or("")
            );
        }
        Ok::<_, anyhow::Error>(v)
    }
    .await;
    // Whatever fails outside the tool's own answers is its "unexpected error" (255).
    let v =
        reply.unwrap_or_else(|e| serde_json::json!({"status": 255, "message": format!("{e:#}")}));
    println!("{v}");
    Ok(i32::try_from(v["status"].as_i64().unwrap_or(255)).unwrap_or(255))
}
