//! Pagination tokens: opaque to clients, signed so that a forged or altered token is refused,
//! bound to the caller and the filters of the request that produced it, and valid for a day.
//!
//! A token names the last sort key returned (keyset pagination), so pages stay stable while
//! other requests insert or delete images: nothing is skipped or repeated except what changed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::CoreError;
use photon_store::Store;

const KEY_SETTING: &str = "pagination_token_key";
pub const TOKEN_TTL_MILLIS: i64 = 24 * 60 * 60 * 1000;

type HmacSha256 = Hmac<Sha256>;

pub(crate) async fn load_or_create_key(store: &dyn Store) -> Result<Vec<u8>, CoreError> {
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    let stored = store.init_setting(KEY_SETTING, &hex_encode(&fresh)).await?;
    hex_decode(&stored).ok_or_else(|| CoreError::Internal("stored token key is not hex".into()))
}

fn hex_encode(b: &[u8]) -> String {
    hex::encode(b)
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The signed payload: `1|fingerprint|last sort key|issued-at millis`. Every field is hex or
/// digits, so `|` never occurs inside one.
struct Payload {
    /// Account, region and filters the token belongs to, hashed.
    f: String,
    /// Last sort key returned.
    k: String,
    /// Issued at, epoch millis.
    t: i64,
}

impl Payload {
    fn encode(&self) -> String {
        format!("1|{}|{}|{}", self.f, self.k, self.t)
    }

    fn decode(s: &str) -> Option<Payload> {
        let mut parts = s.split('|');
        let (v, f, k, t) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if v != "1" || parts.next().is_some() {
            return None;
        }
        Some(Payload {
            f: f.to_owned(),
            k: k.to_owned(),
            t: t.parse().ok()?,
        })
    }
}

/// A fingerprint of everything that shapes a listing: a token only continues the same listing.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex_encode(&h.finalize()[..16])
}

/// Signs `text` into an opaque, URL-safe token (`base64(text).base64(hmac)`).
pub fn seal(key: &[u8], text: &str) -> String {
    let body = URL_SAFE_NO_PAD.encode(text);
    format!(
        "{body}.{}",
        URL_SAFE_NO_PAD.encode(sign(key, body.as_bytes()))
    )
}

/// The text of a token `seal` made with `key`; `None` if it was altered or made elsewhere.
pub fn unseal(key: &[u8], token: &str) -> Option<String> {
    let (body, sig) = token.split_once('.')?;
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(body.as_bytes());
    // verify_slice compares in constant time.
    mac.verify_slice(&sig).ok()?;
    String::from_utf8(URL_SAFE_NO_PAD.decode(body).ok()?).ok()
}

pub fn issue(key: &[u8], fingerprint: &str, last_sort_key: &str, now: i64) -> String {
    let payload = Payload {
        f: fingerprint.to_owned(),
        k: last_sort_key.to_owned(),
        t: now,
    };
    seal(key, &payload.encode())
}

fn sign(key: &[u8], body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Checks a token and returns the sort key to resume after.
pub fn open(key: &[u8], token: &str, fingerprint: &str, now: i64) -> Result<String, CoreError> {
    let invalid = || {
        CoreError::Invalid(
            "the NextToken is not valid: it was altered or not issued by this service; \
             start again without NextToken"
                .into(),
        )
    };
    let p = unseal(key, token)
        .as_deref()
        .and_then(Payload::decode)
        .ok_or_else(invalid)?;
    if p.f != fingerprint {
        return Err(CoreError::Invalid(
            "the NextToken belongs to a different request (other filters, account or region); \
             repeat the request that returned it, or start again without NextToken"
                .into(),
        ));
    }
    if now - p.t > TOKEN_TTL_MILLIS {
        return Err(CoreError::Invalid(
            "the NextToken has expired (tokens are valid for 24 hours); start again without NextToken"
                .into(),
        ));
    }
    Ok(p.k)
}

/// Where a listing resumes (from `NextToken`, checked against `fingerprint`).
pub(crate) fn resume(
    key: &[u8],
    next_token: Option<&str>,
    fingerprint: &str,
    now: i64,
) -> Result<Option<String>, CoreError> {
    next_token
        .map(|t| open(key, t, fingerprint, now))
        .transpose()
}

/// Cuts a listing fetched with one row more than `page` down to the page, and issues the
/// token for the next one when that extra row shows there is more.
pub(crate) fn cut_page<T>(
    rows: &mut Vec<(String, T)>,
    page: usize,
    key: &[u8],
    fingerprint: &str,
    now: i64,
) -> Option<String> {
    if rows.len() <= page {
        return None;
    }
    rows.truncate(page);
    rows.last().map(|(k, _)| issue(key, fingerprint, k, now))
}

impl crate::Service {
    /// One page of an account's resources of `kind`, from a listing that `fetch` reads after a
    /// sort key, with the token for the next page.
    pub(crate) async fn owned_page<T, F, Fut>(
        &self,
        cx: &photon_types::Caller,
        kind: &str,
        next_token: Option<&str>,
        page: u32,
        fetch: F,
    ) -> Result<(Vec<T>, Option<String>), CoreError>
    where
        F: FnOnce(Option<String>, u32) -> Fut,
        Fut: std::future::Future<Output = photon_store::StoreResult<Vec<(String, T)>>>,
    {
        let fp = fingerprint(&[&cx.account_id, &cx.region, kind]);
        let now = self.now();
        let after = resume(&self.token_key, next_token, &fp, now)?;
        let mut rows = fetch(after, page + 1).await?;
        let next = cut_page(&mut rows, page as usize, &self.token_key, &fp, now);
        Ok((rows.into_iter().map(|(_, t)| t).collect(), next))
    }

    /// Checks the `NextToken` of a listing that always answers in one page.
    pub(crate) fn resume_unpaged(
        &self,
        cx: &photon_types::Caller,
        kind: &str,
        next_token: Option<&str>,
    ) -> Result<(), CoreError> {
        let fp = fingerprint(&[&cx.account_id, &cx.region, kind]);
        resume(&self.token_key, next_token, &fp, self.now()).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let key = b"k".repeat(32);
        let f = fingerprint(&["acct", "us-east-1", "PRIVATE"]);
        let t = issue(&key, &f, "6162", 1_000);
        assert_eq!(open(&key, &t, &f, 2_000).unwrap(), "6162");
        // Altered payload.
        let mut bad = t.clone();
        bad.replace_range(0..1, if t.starts_with('e') { "f" } else { "e" });
        assert!(matches!(
            open(&key, &bad, &f, 2_000),
            Err(CoreError::Invalid(_))
        ));
        // Other key, other filters, expired, garbage.
        assert!(open(&b"x".repeat(32), &t, &f, 2_000).is_err());
        assert!(open(&key, &t, &fingerprint(&["other"]), 2_000).is_err());
        assert!(open(&key, &t, &f, 1_000 + TOKEN_TTL_MILLIS + 1).is_err());
        assert!(open(&key, "garbage", &f, 2_000).is_err());
    }
}
