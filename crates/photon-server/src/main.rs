//! The `photon` binary: `serve` runs the API server; `accounts` and `quotas` administer the
//! store directly (safe while a server runs on the same store); `bench` measures the server.

mod admin;
mod assistant_cmd;
mod bench;
mod builder_cmd;
mod cli;
mod client;
mod connect;
mod console;
mod files;
mod log_writer;
mod pct;
mod server;
mod store;

use clap::Parser;

// The request path allocates many small strings (rows, response trees); mimalloc handles that
// load markedly better than the system allocator (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
