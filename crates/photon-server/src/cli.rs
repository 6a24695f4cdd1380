//! Command-line surface. Every command takes `--output json|text`; store options are shared
//! by `serve` and the administrative commands so they always agree on where state lives.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "photon",
    version,
    about = "A self-hostable AppStream 2.0 image service"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Where client commands send requests and as whom (global: before or after the subcommand).
    #[command(flatten)]
    pub aws: crate::client::AwsArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Output {
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
pub enum BlobLayout {
    /// One store for every region (`DATA_DIR/blobs`): a copy between regions moves nothing.
    Shared,
    /// A store per region (`DATA_DIR/blobs/REGION`), as regions on separate object stores
    /// would be: a copy replicates the content it needs.
    PerRegion,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Directory for the embedded SQLite database and the generated AWS config files.
    #[arg(long, default_value = "./photon-data", global = true)]
    pub data_dir: PathBuf,
    /// Use this database instead of the embedded one, e.g. postgres://user@host/db.
    #[arg(long, env = "PHOTON_DATABASE_URL", global = true)]
    pub database: Option<String>,
}

/// Administrative commands print JSON by default (like the AWS CLI), so scripts can read them.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// How to print results.
    #[arg(long, value_enum, default_value = "json", global = true)]
    pub output: Output,
}

#[derive(Subcommand, Debug)]
pub enum Command {
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
    ImageAssistant(crate::assistant_cmd::AssistantArgs),
    /// Work with a running image builder's files (put, ls, cat, rm).
    Builder(crate::builder_cmd::BuilderArgs),
    /// Load private images and measure DescribeImages over signed HTTP.
    Bench(crate::bench::BenchArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
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
pub enum AccountsCommand {
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
pub enum QuotasCommand {
    /// Set quotas: NAME=VALUE pairs, e.g. images=20 fleets=5.
    Set {
        #[arg(long)]
        account_id: String,
        /// Region the values apply to (all regions when left out).
        #[arg(long)]
        region: Option<String>,
        #[arg(required = true)]
        values: Vec<String>,
    },
    /// List quotas in force (defaults and adjustments).
    List {
        #[arg(long)]
        account_id: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum FaultsCommand {
    /// Make a stage fail, in its real code path, with this code and message.
    Add {
        /// The operation, e.g. CreateUpdatedImage.
        #[arg(long)]
        operation: String,
        /// The stage: patching or qualification for CreateUpdatedImage.
        #[arg(long)]
        stage: String,
        #[arg(long)]
        error_code: String,
        #[arg(long)]
        message: String,
        /// Only for this source image (default: every image).
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
pub enum ReleasesCommand {
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

pub async fn run(cli: Cli) -> anyhow::Result<()> {
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
        Command::Builder(args) => crate::builder_cmd::run(args, &cli.aws).await,
        Command::ImageAssistant(args) => {
            let status = crate::assistant_cmd::run(args, &cli.aws).await?;
            // The tool's contract: the JSON status is the exit code.
            if status != 0 {
                std::process::exit(status);
            }
            Ok(())
        }
        Command::Bench(args) => crate::bench::run(args).await,
    }
}
