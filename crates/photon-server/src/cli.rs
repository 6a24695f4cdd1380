//! Command-line surface. Every command takes `--output json|text`; store options are shared
//! by `serve` and the administrative commands so they always agree on where state lives.
//! The client options (`--profile`, `--region`, `--endpoint-url`) belong to the client commands
//! (`builder`, `image-assistant`) only: the administrative commands work on the store, where
//! they mean nothing, so their help does not show them and `photon --region … serve` is refused.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "photon",
    version,
    about = "A self-hostable AppStream 2.0 image service"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Where client commands send requests and as whom, given before the command; after it, the
    /// client commands take the same options themselves.
    #[command(
        flatten,
        next_help_heading = "Client options (for builder and image-assistant)"
    )]
    pub aws: ClientArgsBefore,
}

/// `--profile`, `--region` and `--endpoint-url` before the command (`photon --region eu-west-1
/// builder ls …`). Their ids differ from the client commands' own options, so clap never mixes
/// them with an administrative command's `--region` (`quotas set --region`).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ClientArgsBefore {
    /// The profile of the AWS config and credentials files to use.
    #[arg(long = "profile", id = "before_profile", value_name = "PROFILE")]
    pub profile: Option<String>,
    /// The region to send requests to.
    #[arg(long = "region", id = "before_region", value_name = "REGION")]
    pub region: Option<String>,
    /// Photon's URL (else the profile's endpoint_url).
    #[arg(
        long = "endpoint-url",
        id = "before_endpoint_url",
        value_name = "ENDPOINT_URL"
    )]
    pub endpoint_url: Option<String>,
}

impl ClientArgsBefore {
    /// The options of a client command, filled in from those given before it.
    fn under(&self, after: crate::client::AwsArgs) -> crate::client::AwsArgs {
        crate::client::AwsArgs {
            profile: after.profile.or_else(|| self.profile.clone()),
            region: after.region.or_else(|| self.region.clone()),
            endpoint_url: after.endpoint_url.or_else(|| self.endpoint_url.clone()),
        }
    }

    /// Refuses client options before a command that does not send requests.
    fn refuse_for(&self, command: &str) -> anyhow::Result<()> {
        let given: Vec<&str> = [
            ("--profile", &self.profile),
            ("--region", &self.region),
            ("--endpoint-url", &self.endpoint_url),
        ]
        .into_iter()
        .filter_map(|(flag, v)| v.as_ref().map(|_| flag))
        .collect();
        if given.is_empty() {
            return Ok(());
        }
        anyhow::bail!(
            "{} {} of the client commands (builder, image-assistant); `photon {command}` does \
             not take {}",
            given.join(", "),
            if given.len() == 1 {
                "is an option"
            } else {
                "are options"
            },
            if given.len() == 1 { "it" } else { "them" }
        )
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum Output {
    Json,
    Text,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PaceArg {
    Instant,
    Fast,
    Realistic,
}

impl From<PaceArg> for photon_core::pace::Pace {
    fn from(p: PaceArg) -> Self {
        match p {
            PaceArg::Instant => photon_core::pace::Pace::Instant,
            PaceArg::Fast => photon_core::pace::Pace::Fast,
            PaceArg::Realistic => photon_core::pace::Pace::Realistic,
        }
    }
}

/// Where image content lives.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum BlobLayout {
    /// One store for every region (`DATA_DIR/blobs`): a copy between regions moves nothing.
    Shared,
    /// A store per region (`DATA_DIR/blobs/REGION`), as regions on separate object stores
    /// would be: a copy replicates the content it needs.
    PerRegion,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct StoreArgs {
    /// Directory for the embedded SQLite database and the generated AWS config files.
    #[arg(long, default_value = "./photon-data", global = true)]
    pub data_dir: PathBuf,
    /// Use this database instead of the embedded one, e.g. postgres://user@host/db.
    #[arg(long, env = "PHOTON_DATABASE_URL", global = true)]
    pub database: Option<String>,
}

/// Administrative commands print JSON by default (like the AWS CLI), so scripts can read them.
#[derive(Args, Debug, Clone)]
pub(crate) struct OutputArgs {
    /// How to print results.
    #[arg(long, value_enum, default_value = "json", global = true)]
    pub output: Output,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run the API server.
    Serve(ServeArgs),
    /// Create and list accounts.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Set and list per-account quotas (the Service Quotas equivalent).
    Quotas {
        #[command(subcommand)]
        command: QuotasCommand,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// The release feed: AWS base image releases and AppStream agent versions.
    Releases {
        #[command(subcommand)]
        command: ReleasesCommand,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Inject faults into stages of long operations (chaos testing), list and clear them.
    Faults {
        #[command(subcommand)]
        command: FaultsCommand,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// The Image Assistant CLI on an image builder (add-application, create-image, …).
    ImageAssistant {
        #[command(flatten)]
        args: crate::assistant_cmd::AssistantArgs,
        /// Where requests go and as whom (before or after the operation).
        #[command(flatten, next_help_heading = "Client options")]
        aws: crate::client::AwsArgs,
    },
    /// Work with a running image builder's files (put, ls, cat, rm).
    Builder {
        #[command(flatten)]
        args: crate::builder_cmd::BuilderArgs,
        /// Where requests go and as whom (before or after the subcommand).
        #[command(flatten, next_help_heading = "Client options")]
        aws: crate::client::AwsArgs,
    },
    /// Load private images and measure DescribeImages over signed HTTP.
    Bench(crate::bench::BenchArgs),
}

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7400")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Comma-separated regions to serve (default: every commercial AppStream region).
    #[arg(long, value_delimiter = ',')]
    pub regions: Option<Vec<String>>,
    /// The base URL clients reach Photon at, for the URLs it hands out (default: the listener).
    #[arg(long)]
    pub public_url: Option<String>,
    /// How long transitions take: instant (tests), fast (seconds), realistic (minutes, like AWS).
    #[arg(long, value_enum, default_value = "fast")]
    pub pace: PaceArg,
    /// Where image content is stored: one store for all regions, or one per region.
    #[arg(long, value_enum, default_value = "shared")]
    pub blob_layout: BlobLayout,
    /// How to print the start-up lines (text for people, json for scripts).
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Subcommand, Debug)]
pub(crate) enum AccountsCommand {
    /// Create an account with an access key; prints the secret once.
    Create {
        /// A 12-digit account id (random when left out).
        #[arg(long)]
        account_id: Option<String>,
        /// A name to recognise the account by.
        #[arg(long)]
        name: Option<String>,
    },
    /// List accounts (never their secrets).
    List,
    /// Set the password the account signs in to the web console (/console) with. The
    /// password is read from standard input (its first line), so it stays out of the shell's
    /// history: `echo "$PW" | photon accounts set-password --account-id 123456789012`.
    SetPassword {
        #[arg(long)]
        account_id: String,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum QuotasCommand {
    /// Set quotas: NAME=VALUE pairs, e.g. images=20 fleets=5.
    #[command(after_help = quota_names_help())]
    Set {
        /// The account (12 digits; see `photon accounts list`).
        #[arg(long)]
        account_id: String,
        /// Region the values apply to (all regions when left out).
        #[arg(long)]
        region: Option<String>,
        /// Quota values, e.g. images=20 (the quotas are listed below).
        #[arg(required = true, value_name = "NAME=VALUE")]
        values: Vec<String>,
    },
    /// List quotas in force (defaults and adjustments).
    List {
        #[arg(long)]
        account_id: Option<String>,
    },
}

/// The quotas `quotas set` knows, with their defaults (those of `limits.md`).
fn quota_names_help() -> String {
    let width = photon_core::quota::QUOTAS
        .iter()
        .map(|(name, ..)| name.len())
        .max()
        .unwrap_or(0);
    let mut help = String::from("Quotas (NAME, default, what it limits):\n");
    for (name, default, what) in photon_core::quota::QUOTAS {
        help.push_str(&format!("  {name:<width$}  {default:>4}  {what}\n"));
    }
    help
}

#[derive(Subcommand, Debug)]
pub(crate) enum FaultsCommand {
    /// Make a stage fail, in its real code path, with this code and message.
    Add {
        /// The operation: CreateUpdatedImage, or CreateImage (the Image Assistant's create-image).
        #[arg(long)]
        operation: String,
        /// The stage: patching or qualification for CreateUpdatedImage, snapshot for CreateImage.
        #[arg(long)]
        stage: String,
        #[arg(long)]
        error_code: String,
        #[arg(long)]
        message: String,
        /// Only for this image: an update's source, or the image create-image makes (default: every image).
        #[arg(long)]
        image: Option<String>,
        /// How many times the stage fails before the fault is used up.
        #[arg(long, default_value_t = 1)]
        count: i64,
    },
    /// List the faults still armed.
    List,
    /// Remove every fault.
    Clear,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ReleasesCommand {
    /// List base image releases and agent versions, oldest first.
    List {
        /// Only this platform's base image releases (e.g. WINDOWS_SERVER_2022).
        #[arg(long)]
        platform: Option<String>,
    },
    /// Publish a base image release: its public image appears at once in every region.
    PublishBaseImage {
        /// The platform, e.g. WINDOWS_SERVER_2022 or AMAZON_LINUX2.
        #[arg(long)]
        platform: String,
        /// Release date, YYYY-MM-DD (future dates too); the image is named with it.
        #[arg(long)]
        date: String,
        /// The agent version it ships (default: the newest in the feed).
        #[arg(long)]
        agent_version: Option<String>,
        /// The OS patch's files: a directory, .zip or .tar laid out from the image's root.
        #[arg(long)]
        content: Option<std::path::PathBuf>,
    },
    /// Publish an AppStream agent version.
    PublishAgent {
        /// The version, named like AWS's: MM-DD-YYYY.
        #[arg(long)]
        version: String,
        /// Release date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        #[arg(long, default_value = "")]
        notes: String,
    },
}

pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    let before = cli.aws;
    let admin = match &cli.command {
        Command::Serve(_) => Some("serve"),
        Command::Accounts { .. } => Some("accounts"),
        Command::Quotas { .. } => Some("quotas"),
        Command::Releases { .. } => Some("releases"),
        Command::Faults { .. } => Some("faults"),
        Command::Bench(_) => Some("bench"),
        Command::ImageAssistant { .. } | Command::Builder { .. } => None,
    };
    if let Some(command) = admin {
        before.refuse_for(command)?;
    }
    match cli.command {
        Command::Serve(args) => crate::server::serve(args).await,
        Command::Accounts {
            command,
            store,
            out,
        } => crate::admin::accounts(command, &store, out.output).await,
        Command::Quotas {
            command,
            store,
            out,
        } => crate::admin::quotas(command, &store, out.output).await,
        Command::Faults {
            command,
            store,
            out,
        } => crate::admin::faults(command, &store, out.output).await,
        Command::Releases {
            command,
            store,
            out,
        } => crate::admin::releases(command, &store, out.output).await,
        Command::Builder { args, aws } => crate::builder_cmd::run(args, &before.under(aws)).await,
        Command::ImageAssistant { args, aws } => {
            let status = crate::assistant_cmd::run(args, &before.under(aws)).await?;
            // The tool's contract: the JSON status is the exit code.
            if status != 0 {
                std::process::exit(status);
            }
            Ok(())
        }
        Command::Bench(args) => crate::bench::run(args).await,
    }
}
