//! `photon builder put|ls|cat|rm`: work with a running image builder's files over Photon's
//! SigV4-signed files API, finding credentials, region and endpoint like the AWS CLI does.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use crate::cli::Output;
use crate::client::{AwsArgs, Target};

#[derive(Args, Debug)]
pub(crate) struct BuilderArgs {
    #[command(subcommand)]
    pub command: BuilderCommand,
    /// The image builder to work on.
    #[arg(long, global = true)]
    pub image_builder: Option<String>,
    /// How to print results (cat always writes the raw bytes).
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub output: Output,
}

#[derive(Subcommand, Debug)]
pub(crate) enum BuilderCommand {
    /// Copy a file, a directory, or a .zip/.tar archive (unpacked) to REMOTE on the builder.
    Put { local: PathBuf, remote: String },
    /// List a directory (one entry per line; directories end with a separator).
    Ls {
        path: String,
        /// Add size and digest.
        #[arg(long)]
        long: bool,
    },
    /// Write a file's bytes to standard output.
    Cat { path: String },
    /// Delete a file, or a directory and everything below it.
    Rm { path: String },
    /// Show (and change) a Windows builder's Windows Update and Windows Defender settings.
    Settings {
        #[arg(long, value_parser = ["on", "off"])]
        windows_update: Option<String>,
        #[arg(long, value_parser = ["on", "off"])]
        defender: Option<String>,
    },
}

fn query(path: &str) -> String {
    percent_encode(path)
}

pub(crate) use crate::pct::component as percent_encode;

fn join_remote(base: &str, rel: &str) -> String {
    let trimmed = base.trim_end_matches(['/', '\\']);
    let sep = if base.contains('\\') { '\\' } else { '/' };
    format!(
        "{trimmed}{sep}{}",
        rel.replace(['/', '\\'], &sep.to_string())
    )
}

/// The files `put` sends: (remote path, bytes).
pub(crate) fn collect(local: &Path, remote: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let meta =
        std::fs::metadata(local).with_context(|| format!("cannot read {}", local.display()))?;
    let mut out = Vec::new();
    if meta.is_dir() {
        walk(local, local, remote, &mut out)?;
        return Ok(out);
    }
    let name = local
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".zip") {
        let file = std::fs::File::open(local)?;
        let mut zip = zip::ZipArchive::new(file)
            .with_context(|| format!("{} is not a zip archive", local.display()))?;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i)?;
            if entry.is_dir() {
                continue;
            }
            let Some(rel) = entry.enclosed_name() else {
                bail!(
                    "the archive entry '{}' escapes its folder; refusing it",
                    entry.name()
                );
            };
            let rel = rel.to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            out.push((join_remote(remote, &rel), bytes));
        }
    } else if lower.ends_with(".tar") {
        let mut ar = tar::Archive::new(std::fs::File::open(local)?);
        for entry in ar.entries()? {
            let mut entry = entry?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let rel = entry.path()?.into_owned();
            if rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                bail!(
                    "the archive entry '{}' escapes its folder; refusing it",
                    rel.display()
                );
            }
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            out.push((join_remote(remote, &rel.to_string_lossy()), bytes));
        }
    } else {
        let dest = if remote.ends_with(['/', '\\']) {
            join_remote(remote, &name)
        } else {
            remote.to_owned()
        };
        out.push((dest, std::fs::read(local)?));
    }
    Ok(out)
}

fn walk(
    root: &Path,
    dir: &Path,
    remote: &str,
    out: &mut Vec<(String, Vec<u8>)>,
) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if e.file_type()?.is_dir() {
            walk(root, &p, remote, out)?;
        } else {
            let rel = p.strip_prefix(root)?.to_string_lossy().into_owned();
            out.push((join_remote(remote, &rel), std::fs::read(&p)?));
        }
    }
    Ok(())
}

async fn check(resp: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) => bail!(
            "{}: {}",
            v["__type"].as_str().unwrap_or("Error"),
            v["Message"].as_str().unwrap_or("the request failed")
        ),
        Err(_) => bail!("HTTP {status}: {}", String::from_utf8_lossy(&body)),
    }
}

pub(crate) async fn run(args: BuilderArgs, aws: &AwsArgs) -> anyhow::Result<()> {
    let name = args
        .image_builder
        .clone()
        .context("name the builder with --image-builder NAME")?;
    let target: Target = aws.resolve()?;
    let http = reqwest::Client::new();
    let base = format!("/photon/v1/image-builders/{}", percent_encode(&name));
    match args.command {
        BuilderCommand::Put { local, remote } => {
            let files = collect(&local, &remote)?;
            let mut done = Vec::new();
            for (path, bytes) in files {
                let url = format!("{base}/files?path={}", query(&path));
                let resp = check(
                    target
                        .send(&http, reqwest::Method::PUT, &url, bytes)
                        .await?,
                )
                .await?;
                let v: serde_json::Value = resp.json().await.context("unexpected answer")?;
                if args.output == Output::Text {
                    println!(
                        "{}\t{}\t{}",
                        v["Path"].as_str().unwrap_or(""),
                        v["Size"],
                        v["Digest"].as_str().unwrap_or("")
                    );
                }
                done.push(v);
            }
            if args.output == Output::Json {
                println!("{}", serde_json::json!({ "Files": done }));
            }
        }
        BuilderCommand::Ls { path, long } => {
            let url = format!("{base}/entries?path={}", query(&path));
            let resp = check(
                target
                    .send(&http, reqwest::Method::GET, &url, Vec::new())
                    .await?,
            )
            .await?;
            let v: serde_json::Value = resp.json().await.context("unexpected answer")?;
            if args.output == Output::Json {
                println!("{v}");
                return Ok(());
            }
            let sep = if path.contains('\\') || path.contains(':') {
                '\\'
            } else {
                '/'
            };
            for e in v["Entries"].as_array().into_iter().flatten() {
                let mut line = e["Name"].as_str().unwrap_or("").to_owned();
                if e["Type"] == "directory" {
                    line.push(sep);
                }
                if long {
                    line = format!(
                        "{line}\t{}\t{}",
                        e["Size"],
                        e["Digest"].as_str().unwrap_or("-")
                    );
                }
                println!("{line}");
            }
        }
        BuilderCommand::Cat { path } => {
            let url = format!("{base}/files?path={}", query(&path));
            let resp = check(
                target
                    .send(&http, reqwest::Method::GET, &url, Vec::new())
                    .await?,
            )
            .await?;
            let bytes = resp.bytes().await?;
            std::io::stdout().write_all(&bytes)?;
        }
        BuilderCommand::Settings {
            windows_update,
            defender,
        } => {
            let on = |v: Option<String>| v.map(|v| v == "on");
            let mut change = serde_json::Map::new();
            if let Some(w) = on(windows_update) {
                change.insert("WindowsUpdate".into(), w.into());
            }
            if let Some(d) = on(defender) {
                change.insert("WindowsDefender".into(), d.into());
            }
            let url = format!("{base}/settings");
            let resp = if change.is_empty() {
                target
                    .send(&http, reqwest::Method::GET, &url, Vec::new())
                    .await?
            } else {
                let body = serde_json::Value::Object(change).to_string().into_bytes();
                target
                    .send(&http, reqwest::Method::POST, &url, body)
                    .await?
            };
            let v: serde_json::Value = check(resp)
                .await?
                .json()
                .await
                .context("unexpected answer")?;
            // The settings are a JSON document in both output modes; text is pretty-printed.
            match args.output {
                Output::Json => println!("{v}"),
                Output::Text => println!("{}", serde_json::to_string_pretty(&v)?),
            }
        }
        BuilderCommand::Rm { path } => {
            let url = format!("{base}/files?path={}", query(&path));
            let resp = check(
                target
                    .send(&http, reqwest::Method::DELETE, &url, Vec::new())
                    .await?,
            )
            .await?;
            let v: serde_json::Value = resp.json().await.context("unexpected answer")?;
            match args.output {
                Output::Json => println!("{v}"),
                Output::Text => println!("removed {}", v["Removed"]),
            }
        }
    }
    Ok(())
}
