//! The client side of Photon's own commands (`photon builder …`): finding credentials, region
//! and endpoint the way AWS tools do, and sending SigV4-signed requests.
//!
//! Resolution order, as the AWS CLI's: credentials from `AWS_ACCESS_KEY_ID`/
//! `AWS_SECRET_ACCESS_KEY`, else the profile (`--profile`, else `AWS_PROFILE`, else `default`)
//! in the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`) or
//! the config file (`AWS_CONFIG_FILE`, else `~/.aws/config`); region from `--region`,
//! `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile; endpoint from `--endpoint-url`,
//! `AWS_ENDPOINT_URL_APPSTREAM`, `AWS_ENDPOINT_URL`, then the profile's `endpoint_url`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{bail, Context};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4::SigningParams;
use clap::Args;

/// The global options every client command takes, before or after its subcommand.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct AwsArgs {
    /// The profile of the AWS config and credentials files to use.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The region to send requests to.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Photon's URL (else the profile's endpoint_url).
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
}

/// Sections of an AWS INI file: `[name]` or `[profile name]` → key → value.
fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            section = name
                .strip_prefix("profile ")
                .unwrap_or(name)
                .trim()
                .to_owned();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    out
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn aws_file(var: &str, default: &str) -> Option<PathBuf> {
    env(var)
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws").join(default)))
}

fn read_ini(var: &str, default: &str) -> HashMap<String, HashMap<String, String>> {
    aws_file(var, default)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| parse_ini(&t))
        .unwrap_or_default()
}

/// Where and as whom requests go.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub endpoint: String,
    pub region: String,
    pub credentials: Credentials,
}

impl AwsArgs {
    pub(crate) fn resolve(&self) -> anyhow::Result<Target> {
        let profile = self
            .profile
            .clone()
            .or_else(|| env("AWS_PROFILE"))
            .unwrap_or_else(|| "default".into());
        let config = read_ini("AWS_CONFIG_FILE", "config");
        let creds_file = read_ini("AWS_SHARED_CREDENTIALS_FILE", "credentials");
        let from = |key: &str| {
            creds_file
                .get(&profile)
                .and_then(|s| s.get(key))
                .or_else(|| config.get(&profile).and_then(|s| s.get(key)))
                .cloned()
        };
        let (key_id, secret) = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(k), Some(s)) if self.profile.is_none() => (k, s),
            _ => match (from("aws_access_key_id"), from("aws_secret_access_key")) {
                (Some(k), Some(s)) => (k, s),
                _ => bail!(
                    "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give a \
                     profile (--profile or AWS_PROFILE) found in the AWS credentials or config \
                     file (profile '{profile}' has none)"
                ),
            },
        };
        let profile_cfg = |key: &str| config.get(&profile).and_then(|s| s.get(key)).cloned();
        let region = self
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| profile_cfg("region"))
            .context("no region: give --region, set AWS_REGION, or set region in the profile")?;
        let endpoint = self
            .endpoint_url
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL_APPSTREAM"))
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .or_else(|| profile_cfg("endpoint_url"))
            .context(
                "no endpoint: give --endpoint-url, set AWS_ENDPOINT_URL, or set endpoint_url in \
                 the profile (Photon writes one at first start)",
            )?;
        Ok(Target {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region,
            credentials: Credentials::new(key_id, secret, None, None, "photon-cli"),
        })
    }
}

/// The SigV4 headers (`authorization`, `x-amz-date`, …) for a request, signed for `appstream`
/// in `region`, covering `host` and the given headers like the AWS SDKs do.
pub(crate) fn sign_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    credentials: &Credentials,
    region: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let identity = credentials.clone().into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("appstream")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    Ok(instructions
        .headers()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect())
}

impl Target {
    /// Sends a signed request to a path of Photon's own API; the query is already encoded.
    pub(crate) async fn send(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}{path_and_query}", self.endpoint);
        let signed = sign_headers(
            method.as_str(),
            &url,
            &[],
            &body,
            &self.credentials,
            &self.region,
        )?;
        let mut req = http.request(method, &url);
        for (k, v) in signed {
            req = req.header(k, v);
        }
        req.body(body)
            .send()
            .await
            .with_context(|| format!("cannot reach Photon at {}", self.endpoint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_profiles() {
        let ini = parse_ini(
            "[default]\nregion = us-east-1\n[profile photon]\nendpoint_url=http://x\n# c\n",
        );
        assert_eq!(ini["default"]["region"], "us-east-1");
        assert_eq!(ini["photon"]["endpoint_url"], "http://x");
    }
}
