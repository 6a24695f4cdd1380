//! Administrative commands that work on the store directly (`accounts`, `quotas`,
//! `releases`, `faults`). Each is one
//! store transaction, so they are safe while a server runs on the same store.

use anyhow::{bail, Context};
use photon_core::quota;
use photon_store::prelude::*;
use photon_store::QuotaRecord;

use crate::cli::{
    AccountsCommand, FaultsCommand, Output, QuotasCommand, ReleasesCommand, StoreArgs,
};

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) async fn accounts(
    cmd: AccountsCommand,
    args: &StoreArgs,
    out: Output,
) -> anyhow::Result<()> {
    let store = crate::store::open(args).await?;
    match cmd {
        AccountsCommand::Create { account_id, name } => {
            let acct = photon_core::account::create_account(
                store.as_ref(),
                account_id.as_deref(),
                name.as_deref(),
                now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            match out {
                Output::Json => println!("{}", serde_json::to_string_pretty(&acct)?),
                Output::Text => {
                    println!("AccountId        {}", acct.account_id);
                    println!("Name             {}", acct.name);
                    println!("AccessKeyId      {}", acct.access_key_id);
                    println!("SecretAccessKey  {}", acct.secret_access_key);
                    println!("(the secret is shown only now; store it safely)");
                }
            }
        }
        AccountsCommand::List => {
            let accounts = store
                .list_accounts()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            match out {
                Output::Json => {
                    let rows: Vec<_> = accounts
                        .iter()
                        .map(|a| {
                            serde_json::json!({"AccountId": a.account_id, "Name": a.name, "CreatedTime": a.created_at / 1000})
                        })
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&rows)?);
                }
                Output::Text => {
                    for a in accounts {
                        println!("{}\t{}", a.account_id, a.name);
                    }
                }
            }
        }
        AccountsCommand::SetPassword { account_id } => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            let password = line.trim_end_matches(['\r', '\n']);
            photon_core::console::set_password(store.as_ref(), &account_id, password, now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            match out {
                Output::Json => println!(
                    "{}",
                    serde_json::json!({"AccountId": account_id, "ConsolePassword": "set"})
                ),
                Output::Text => println!(
                    "console password set for {account_id}; sign in at /console with the \
                     account id and this password"
                ),
            }
        }
    }
    store.close().await;
    Ok(())
}

fn parse_assignment(s: &str) -> anyhow::Result<(String, i64)> {
    let (name, value) = s
        .split_once('=')
        .with_context(|| format!("'{s}' is not NAME=VALUE, e.g. images=20"))?;
    if quota::default_of(name).is_none() {
        bail!(
            "unknown quota '{name}'; known quotas: {}",
            quota::names().join(", ")
        );
    }
    let value: i64 = value.parse().ok().filter(|v| *v >= 0).with_context(|| {
        format!("the value of {name} must be a whole number ≥ 0, not '{value}'")
    })?;
    Ok((name.to_owned(), value))
}

pub(crate) async fn quotas(
    cmd: QuotasCommand,
    args: &StoreArgs,
    out: Output,
) -> anyhow::Result<()> {
    let store = crate::store::open(args).await?;
    match cmd {
        QuotasCommand::Set {
            account_id,
            region,
            values,
        } => {
            if !photon_core::account::is_account_id(&account_id) {
                bail!("'{account_id}' is not a 12-digit account id");
            }
            if !store
                .account_exists(&account_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                bail!("account {account_id} does not exist; see `photon accounts list`");
            }
            if let Some(r) = &region {
                if !photon_core::region::is_region_name(r) {
                    bail!("'{r}' is not a region name like us-east-1");
                }
            }
            let parsed = values
                .iter()
                .map(|v| parse_assignment(v))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let set: Vec<QuotaRecord> = parsed
                .into_iter()
                .map(|(name, value)| QuotaRecord {
                    account_id: account_id.clone(),
                    region: region.clone().unwrap_or_default(),
                    name,
                    value,
                })
                .collect();
            store
                .set_quotas(&set)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print_quotas(&set, out)?;
        }
        QuotasCommand::List { account_id } => {
            let mut rows = store
                .list_quotas(account_id.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            // Show the defaults too, so the list answers "what is in force".
            for (name, default, _) in quota::QUOTAS {
                rows.push(QuotaRecord {
                    account_id: "*".into(),
                    region: "*".into(),
                    name: (*name).into(),
                    value: *default,
                });
            }
            print_quotas(&rows, out)?;
        }
    }
    store.close().await;
    Ok(())
}

fn print_quotas(rows: &[QuotaRecord], out: Output) -> anyhow::Result<()> {
    let region = |r: &str| {
        if r.is_empty() {
            "*".to_owned()
        } else {
            r.to_owned()
        }
    };
    match out {
        Output::Json => {
            let v: Vec<_> = rows
                .iter()
                .map(|q| serde_json::json!({"AccountId": q.account_id, "Region": region(&q.region), "Name": q.name, "Value": q.value}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Output::Text => {
            for q in rows {
                println!(
                    "{}\t{}\t{}\t{}",
                    q.account_id,
                    region(&q.region),
                    q.name,
                    q.value
                );
            }
        }
    }
    Ok(())
}

/// The service over the store of `args`, for commands that publish content: the blob layout the
/// store recorded, and the regions it serves.
async fn service(
    args: &StoreArgs,
) -> anyhow::Result<(
    photon_core::Service,
    std::sync::Arc<photon_store_sql::SqlStore>,
)> {
    let sql = crate::store::open(args).await?;
    let store: std::sync::Arc<dyn Store> = sql.clone();
    let layout = match store
        .setting("blob_layout")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .as_deref()
    {
        Some("per-region") => crate::cli::BlobLayout::PerRegion,
        _ => crate::cli::BlobLayout::Shared,
    };
    let mut regions = store
        .public_regions()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if regions.is_empty() {
        regions = photon_core::region::default_regions();
    }
    let blobs = crate::server::open_blobs(&args.data_dir, layout, &regions)?;
    let svc = photon_core::Service::start(
        store,
        blobs,
        std::sync::Arc::new(photon_core::SystemClock),
        regions,
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot prepare the store: {e}"))?;
    Ok((svc, sql))
}

fn release_json(r: &photon_store::BaseRelease) -> serde_json::Value {
    serde_json::json!({
        "Platform": r.platform,
        "ImageName": r.image_name,
        "Released": r.released,
        "AgentVersion": r.agent_version,
        "OsPatchLevel": r.os_patch_level,
        "DriverVersions": r.driver_versions,
        "ContentLayer": r.content_layer,
    })
}

fn agent_json(a: &photon_store::AgentRelease) -> serde_json::Value {
    serde_json::json!({"Version": a.version, "Released": a.released, "Notes": a.notes})
}

pub(crate) async fn releases(
    cmd: ReleasesCommand,
    args: &StoreArgs,
    out: Output,
) -> anyhow::Result<()> {
    let (svc, sql) = service(args).await?;
    let fail = |e: photon_core::CoreError| anyhow::anyhow!("{e}");
    match cmd {
        ReleasesCommand::List { platform } => {
            let (base, agents) = svc.releases().await.map_err(fail)?;
            let base: Vec<_> = base
                .into_iter()
                .filter(|r| platform.as_ref().is_none_or(|p| *p == r.platform))
                .collect();
            match out {
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "BaseImageReleases": base.iter().map(release_json).collect::<Vec<_>>(),
                        "AgentVersions": agents.iter().map(agent_json).collect::<Vec<_>>(),
                    }))?
                ),
                Output::Text => {
                    for r in &base {
                        println!(
                            "base-image\t{}\t{}\t{}\tagent {}",
                            r.released, r.platform, r.image_name, r.agent_version
                        );
                    }
                    for a in &agents {
                        println!("agent\t{}\t{}\t{}", a.released, a.version, a.notes);
                    }
                }
            }
        }
        ReleasesCommand::PublishAgent {
            version,
            date,
            notes,
        } => {
            let a = svc
                .publish_agent(&version, &date, &notes)
                .await
                .map_err(fail)?;
            match out {
                Output::Json => println!("{}", serde_json::to_string_pretty(&agent_json(&a))?),
                Output::Text => println!("published agent {} ({})", a.version, a.released),
            }
        }
        ReleasesCommand::PublishBaseImage {
            platform,
            date,
            agent_version,
            content,
        } => {
            let root = if platform.starts_with("WINDOWS") {
                "C:\\"
            } else {
                "/"
            };
            let content = match content {
                Some(path) => crate::builder_cmd::collect(&path, root)?,
                None => Vec::new(),
            };
            let r = svc
                .publish_base_image(photon_core::releases::Publish {
                    platform,
                    date,
                    agent_version,
                    content,
                })
                .await
                .map_err(fail)?;
            match out {
                Output::Json => println!("{}", serde_json::to_string_pretty(&release_json(&r))?),
                Output::Text => println!(
                    "published {} ({}, agent {}) in every region",
                    r.image_name, r.platform, r.agent_version
                ),
            }
        }
    }
    sql.close().await;
    Ok(())
}

fn fault_json(f: &photon_store::FaultRecord) -> serde_json::Value {
    serde_json::json!({
        "Id": f.id,
        "Operation": f.operation,
        "Stage": f.stage,
        "ErrorCode": f.error_code,
        "Message": f.message,
        "Image": (!f.image.is_empty()).then_some(&f.image),
        "Remaining": f.remaining,
    })
}

pub(crate) async fn faults(
    cmd: FaultsCommand,
    args: &StoreArgs,
    out: Output,
) -> anyhow::Result<()> {
    let (svc, sql) = service(args).await?;
    let fail = |e: photon_core::CoreError| anyhow::anyhow!("{e}");
    match cmd {
        FaultsCommand::Add {
            operation,
            stage,
            error_code,
            message,
            image,
            count,
        } => {
            let f = svc
                .add_fault(photon_core::faults::NewFault {
                    operation,
                    stage,
                    error_code,
                    message,
                    image,
                    count,
                })
                .await
                .map_err(fail)?;
            match out {
                Output::Json => println!("{}", serde_json::to_string_pretty(&fault_json(&f))?),
                Output::Text => println!(
                    "armed {}: {} {} fails {} time(s) with {}",
                    f.id, f.operation, f.stage, f.remaining, f.error_code
                ),
            }
        }
        FaultsCommand::List => {
            let all = svc.faults().await.map_err(fail)?;
            match out {
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&all.iter().map(fault_json).collect::<Vec<_>>())?
                ),
                Output::Text => {
                    for f in &all {
                        println!(
                            "{}\t{}\t{}\t{}\t{}\t{}",
                            f.id,
                            f.operation,
                            f.stage,
                            f.error_code,
                            f.remaining,
                            if f.image.is_empty() { "*" } else { &f.image }
                        );
                    }
                }
            }
        }
        FaultsCommand::Clear => {
            let n = svc.clear_faults().await.map_err(fail)?;
            match out {
                Output::Json => println!("{}", serde_json::json!({ "Cleared": n })),
                Output::Text => println!("cleared {n} fault(s)"),
            }
        }
    }
    sql.close().await;
    Ok(())
}
