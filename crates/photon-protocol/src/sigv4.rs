//! Server-side verification of AWS Signature Version 4 (`AWS4-HMAC-SHA256`)
//! on HTTP requests.
//!
//! This module owns:
//! - parsing the `Authorization` header;
//! - reading the request time from `X-Amz-Date` or `Date`;
//! - building the canonical request and the string to sign;
//! - the clock-skew check;
//! - the constant-time signature comparison.
//!
//! Everything here is a pure function over data the HTTP layer has already
//! read. The module must not know where secret keys come from, how a
//! request is routed, or how a [`SigV4Error`] becomes an HTTP response. The
//! caller looks up the secret for [`Authorization::access_key_id`] and picks
//! the AWS error code for each variant.
//!
//! The `Display` texts of [`SigV4Error`] are sent to clients. They copy what
//! AWS services send, capital letters and full stops included, so they do not
//! follow the crate's lowercase rule for error messages.
//!
//! Spec: <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>
//!
//! Presigned query-string authentication (`X-Amz-Algorithm=...` in the
//! query) is not supported. A request without an `Authorization` header is
//! treated as unauthenticated.

use std::time::SystemTime;

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use http::HeaderMap;
use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The only signing algorithm this verifier accepts.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The last element of every SigV4 credential scope.
const SCOPE_TERMINATOR: &str = "aws4_request";

const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

/// SigV4 `UriEncode` escapes every byte except the RFC 3986 unreserved
/// characters `A-Z a-z 0-9 - _ . ~`, using uppercase hex.
const URI_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// What the verifier needs from an HTTP request; the HTTP layer fills it.
///
/// `headers` must contain `host`. Under HTTP/2 the host arrives as the
/// `:authority` pseudo-header, and `http::HeaderMap` does not hold it. The
/// HTTP layer must then copy the URI authority into a `host` entry before
/// calling [`verify`]. Every SigV4 client signs `host`.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The raw path as sent, still percent-encoded, e.g. `/` or
    /// `/service/PhotonAdminProxyService/operation/DescribeImages`.
    pub path: &'a str,
    /// The raw query string without the leading `?`, if the target had one.
    pub query: Option<&'a str>,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The complete request body.
    pub body: &'a [u8],
}

/// A parsed `Authorization` header, for example
/// `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/appstream/aws4_request, SignedHeaders=host;x-amz-date, Signature=<hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id, the first element of `Credential`.
    pub access_key_id: String,
    /// The scope date, `YYYYMMDD`.
    pub date: String,
    /// The scope region, e.g. `us-east-1`.
    pub region: String,
    /// The scope service, e.g. `appstream`.
    pub service: String,
    /// The `SignedHeaders` names, lowercased, in the order the client sent
    /// them.
    pub signed_headers: Vec<String>,
    /// The hex signature the client sent.
    pub signature: String,
}

/// Why a request failed SigV4 verification.
///
/// `Display` gives the message AWS services send for the same failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// The request has no `Authorization` header.
    #[error("Request is missing Authentication Token")]
    MissingAuthentication,
    /// The `Authorization` header, or a header it relies on, is malformed or
    /// incomplete. The message says what is wrong.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The signature we computed differs from the one the client sent.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. \
         Consult the service documentation for details."
    )]
    SignatureMismatch,
    /// The request time is more than the allowed skew before `now`.
    ///
    /// Both fields use the format `20150830T123600Z`. Like AWS, the message
    /// always shows a five-minute window, whatever skew the caller allowed:
    /// the variant does not carry the skew.
    #[error("{}", expired_message(.request_time, .now))]
    RequestExpired {
        /// The time the request claims.
        request_time: String,
        /// The server time at verification.
        now: String,
    },
    /// The request time is more than the allowed skew after `now`.
    ///
    /// The fields and message work as for [`SigV4Error::RequestExpired`].
    #[error("{}", not_yet_valid_message(.request_time, .now))]
    RequestNotYetValid {
        /// The time the request claims.
        request_time: String,
        /// The server time at verification.
        now: String,
    },
    /// The request has neither an `X-Amz-Date` nor a `Date` header.
    #[error(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )]
    MissingDate,
}

fn incomplete(message: impl Into<String>) -> SigV4Error {
    SigV4Error::IncompleteSignature(message.into())
}

/// Parses the request's `Authorization` header.
///
/// The access key id is not checked against anything here; that needs a
/// credential store. Unknown `key=value` components are ignored.
///
/// # Errors
///
/// - [`SigV4Error::MissingAuthentication`] if there is no `Authorization`
///   header.
/// - [`SigV4Error::IncompleteSignature`] if the header is repeated, is not
///   `AWS4-HMAC-SHA256`, lacks `Credential`, `SignedHeaders` or `Signature`,
///   or has a malformed credential scope.
pub fn parse_authorization(headers: &HeaderMap) -> Result<Authorization, SigV4Error> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(SigV4Error::MissingAuthentication);
    };
    if values.next().is_some() {
        return Err(incomplete(
            "Only one Authorization header may be sent with a request.",
        ));
    }
    let raw = value.to_str().map_err(|_| {
        incomplete("Authorization header contains characters that are not visible ASCII.")
    })?;
    parse_authorization_value(raw)
}

fn parse_authorization_value(raw: &str) -> Result<Authorization, SigV4Error> {
    let trimmed = raw.trim();
    let (algorithm, params) = trimmed.split_once([' ', '\t']).unwrap_or((trimmed, ""));
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'. Only '{ALGORITHM}' is supported. \
             Authorization={raw}"
        )));
    }

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in params.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((key, value)) = part.split_once('=') else {
            return Err(incomplete(format!(
                "'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{raw}'"
            )));
        };
        let key = key.trim();
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            // AWS may add parameters later. Ignoring unknown ones costs
            // nothing, because only the three above reach the signature.
            _ => continue,
        };
        if slot.replace(value.trim()).is_some() {
            return Err(incomplete(format!(
                "Authorization header has a duplicate '{key}' parameter. Authorization={raw}"
            )));
        }
    }

    // An empty value counts as missing. Like AWS, name every missing
    // parameter at once, so the client can fix them all in one go.
    let credential = credential.filter(|v| !v.is_empty());
    let signed_headers = signed_headers.filter(|v| !v.is_empty());
    let signature = signature.filter(|v| !v.is_empty());
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        let mut message = String::new();
        for (name, value) in [
            ("Credential", credential),
            ("SignedHeaders", signed_headers),
            ("Signature", signature),
        ] {
            if value.is_none() {
                message.push_str("Authorization header requires '");
                message.push_str(name);
                message.push_str("' parameter. ");
            }
        }
        return Err(incomplete(format!("{message}Authorization={raw}")));
    };

    let scope = parse_credential(credential)?;
    let signed_headers = parse_signed_headers(signed_headers, raw)?;
    Ok(Authorization {
        access_key_id: scope.access_key_id,
        date: scope.date,
        region: scope.region,
        service: scope.service,
        signed_headers,
        signature: signature.to_owned(),
    })
}

struct CredentialScope {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
}

fn parse_credential(credential: &str) -> Result<CredentialScope, SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(incomplete(format!(
            "Credential '{credential}' is malformed; expected \
             '<access key id>/<YYYYMMDD>/<region>/<service>/{SCOPE_TERMINATOR}'."
        )));
    };
    if access_key_id.is_empty() {
        return Err(incomplete(format!(
            "Credential '{credential}' has an empty access key id."
        )));
    }
    if parse_scope_date(date).is_none() {
        return Err(incomplete(format!(
            "Credential date '{date}' is not a valid date in the form YYYYMMDD."
        )));
    }
    if region.is_empty() {
        return Err(incomplete(
            "Credential should be scoped to a valid region, not ''.",
        ));
    }
    if service.is_empty() {
        return Err(incomplete(
            "Credential should be scoped to a valid service, not ''.",
        ));
    }
    if *terminator != SCOPE_TERMINATOR {
        return Err(incomplete(format!(
            "Credential should be scoped with a valid terminator: '{SCOPE_TERMINATOR}', \
             not '{terminator}'."
        )));
    }
    Ok(CredentialScope {
        access_key_id: (*access_key_id).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
    })
}

fn parse_signed_headers(value: &str, raw: &str) -> Result<Vec<String>, SigV4Error> {
    value
        .split(';')
        .map(|name| {
            if name.is_empty() {
                Err(incomplete(format!(
                    "SignedHeaders '{value}' contains an empty header name. Authorization={raw}"
                )))
            } else {
                // Canonical header names are lowercase by definition. Lowercasing
                // here also lets clients that send `Host;X-Amz-Date` verify,
                // because they hashed the lowercase names.
                Ok(name.to_ascii_lowercase())
            }
        })
        .collect()
}

/// Checks that the credential scope names the service this server is, and
/// optionally an accepted region.
///
/// [`verify`] derives the signing key from the scope the client sent, so
/// callers that serve a single service should call this as well. Pass
/// `None` as `expected_region` to accept any region.
///
/// # Errors
///
/// [`SigV4Error::IncompleteSignature`] with AWS's text when the service or
/// region differs. AWS reports these under its signature-mismatch code, but
/// [`SigV4Error::SignatureMismatch`] has a fixed message that would hide
/// the cause.
pub fn check_scope(
    auth: &Authorization,
    expected_region: Option<&str>,
    expected_service: &str,
) -> Result<(), SigV4Error> {
    if auth.service != expected_service {
        return Err(incomplete(format!(
            "Credential should be scoped to correct service: '{expected_service}'."
        )));
    }
    if let Some(region) = expected_region {
        if auth.region != region {
            return Err(incomplete(format!(
                "Credential should be scoped to a valid region, not '{}'.",
                auth.region
            )));
        }
    }
    Ok(())
}

/// Reads the request time from `X-Amz-Date`, or from `Date` when
/// `X-Amz-Date` is absent.
///
/// `X-Amz-Date` must be in ISO 8601 basic format (`20150830T123600Z`).
/// `Date` may use that format or an RFC 1123 HTTP date
/// (`Sun, 30 Aug 2015 12:36:00 GMT`).
///
/// # Errors
///
/// - [`SigV4Error::MissingDate`] if neither header is present.
/// - [`SigV4Error::IncompleteSignature`] if the header is repeated or
///   cannot be parsed.
pub fn request_time(headers: &HeaderMap) -> Result<DateTime<Utc>, SigV4Error> {
    if let Some(value) = single_header(headers, X_AMZ_DATE, "X-Amz-Date")? {
        return parse_amz_date(value).ok_or_else(|| {
            incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{value}'. \
                 See http://en.wikipedia.org/wiki/ISO_8601"
            ))
        });
    }
    if let Some(value) = single_header(headers, http::header::DATE.as_str(), "Date")? {
        return parse_amz_date(value)
            .or_else(|| {
                DateTime::parse_from_rfc2822(value)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            })
            .ok_or_else(|| {
                incomplete(format!(
                    "Date header '{value}' is neither in ISO-8601 'basic format' \
                     (20150830T123600Z) nor an HTTP date (Sun, 30 Aug 2015 12:36:00 GMT)."
                ))
            });
    }
    Err(SigV4Error::MissingDate)
}

/// Returns the header's only value, `None` if it is absent, or an error if
/// it is repeated or not visible ASCII. A repeated date header is rejected
/// rather than resolved, because the time it gives must be unambiguous.
fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &str,
    display_name: &str,
) -> Result<Option<&'h str>, SigV4Error> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(incomplete(format!(
            "Only one '{display_name}' header may be sent with a request."
        )));
    }
    value.to_str().map(Some).map_err(|_| {
        incomplete(format!(
            "The '{display_name}' header contains characters that are not visible ASCII."
        ))
    })
}

/// Parses `20150830T123600Z` strictly, field by field. A `chrono` format
/// string would also accept years of other widths.
fn parse_amz_date(value: &str) -> Option<DateTime<Utc>> {
    let bytes = value.as_bytes();
    if bytes.len() != 16 || bytes.get(8) != Some(&b'T') || bytes.get(15) != Some(&b'Z') {
        return None;
    }
    let date = parse_scope_date(value.get(..8)?)?;
    let hour = digits(bytes.get(9..11)?)?;
    let minute = digits(bytes.get(11..13)?)?;
    let second = digits(bytes.get(13..15)?)?;
    Some(date.and_hms_opt(hour, minute, second)?.and_utc())
}

/// Parses a `YYYYMMDD` date with exactly eight digits.
fn parse_scope_date(value: &str) -> Option<NaiveDate> {
    let bytes = value.as_bytes();
    if bytes.len() != 8 {
        return None;
    }
    let year = i32::try_from(digits(bytes.get(..4)?)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(bytes.get(4..6)?)?, digits(bytes.get(6..8)?)?)
}

/// Reads a run of ASCII digits as a number. Callers pass at most four
/// digits, so it cannot overflow.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// A SigV4 timestamp (ISO 8601 basic), e.g. `20150830T123600Z`.
fn format_amz_date(time: DateTime<Utc>) -> String {
    // Every signed request formats its time; chrono's `format` parses its pattern each time.
    use chrono::Timelike;
    format!(
        "{}T{:02}{:02}{:02}Z",
        scope_date(time),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// `YYYYMMDD`, the date of a credential scope.
fn scope_date(time: DateTime<Utc>) -> String {
    use chrono::Datelike;
    format!("{:04}{:02}{:02}", time.year(), time.month(), time.day())
}

/// Builds the canonical request, signing exactly the headers in
/// `signed_headers`, in the order given.
///
/// The order is used as given because the client hashed the list in the
/// order it sent. SigV4 clients sort it; re-sorting here would accept a
/// signature the client never made.
///
/// # Errors
///
/// [`SigV4Error::IncompleteSignature`] if a header in `signed_headers` is
/// not in the request.
pub fn canonical_request(
    req: &RequestParts<'_>,
    signed_headers: &[String],
) -> Result<String, SigV4Error> {
    let mut out = String::with_capacity(256 + req.path.len());
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query.unwrap_or("")));
    out.push('\n');

    let names: Vec<String> = signed_headers
        .iter()
        .map(|name| name.to_ascii_lowercase())
        .collect();
    for name in &names {
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|value| canonical_header_value(value.as_bytes()))
            .collect();
        if values.is_empty() {
            return Err(incomplete(format!(
                "Header '{name}' is listed in SignedHeaders but is not present in the request."
            )));
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&names.join(";"));
    out.push('\n');
    out.push_str(&payload_hash(req));
    Ok(out)
}

/// Encodes each segment of the raw path once more with SigV4 `UriEncode`.
///
/// Clients of non-S3 services sign `UriEncode(path)` of the path they put
/// on the wire, which is already percent-encoded. That is the "double
/// encoding" in the SigV4 docs. Encoding the raw wire path once gives the
/// same bytes: `%3A` becomes `%253A`.
///
/// Dot segments and repeated slashes are *not* normalised, although the
/// SigV4 docs ask for that outside S3:
/// - The signature must cover the exact path the router dispatches on.
///   Normalising would accept a signature made for `/a` on a request
///   routed as `/a/./`.
/// - Photon's operations live at `/` and
///   `/service/<service>/operation/<operation>`, which have no dot segments.
/// - SDKs normalise before they send, so the wire path equals the path
///   they signed.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    path.split('/')
        .map(|segment| percent_encode(segment.as_bytes(), URI_ENCODE_SET).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// Decodes each query name and value, then encodes it again with SigV4
/// `UriEncode`. Pairs are sorted by encoded name, then by encoded value.
///
/// A `+` is a literal plus (`%2B`), not a space. That is what the SigV4
/// spec and AWS servers do. Some clients decode `+` as a space when they
/// sign (the Rust `aws-sigv4` crate uses `form_urlencoded`), but SDKs
/// percent-encode the query values they build, so a raw `+` does not occur
/// in practice.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (reencode(name), reencode(value))
        })
        .collect();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn reencode(component: &str) -> String {
    let decoded: Vec<u8> = percent_decode_str(component).collect();
    percent_encode(&decoded, URI_ENCODE_SET).to_string()
}

/// Trims spaces at both ends of a header value and collapses runs of
/// spaces to one, as AWS SDKs do. Only spaces count, not tabs, to match
/// what the clients hashed.
fn canonical_header_value(value: &[u8]) -> String {
    // Values that are not UTF-8 are replaced lossily. The client's UTF-8
    // view of the bytes can only differ from ours, so the request fails
    // with a mismatch. It does not panic.
    let text = String::from_utf8_lossy(value);
    let mut out = String::with_capacity(text.len());
    let mut previous_space = false;
    for c in text.trim_matches(' ').chars() {
        if c == ' ' && previous_space {
            continue;
        }
        previous_space = c == ' ';
        out.push(c);
    }
    out
}

/// The last line of the canonical request: the value of
/// `x-amz-content-sha256` if present (as AWS does), else the hex SHA-256 of
/// the body. [`verify`] then checks that such a header matches the body.
fn payload_hash(req: &RequestParts<'_>) -> String {
    match req.headers.get(X_AMZ_CONTENT_SHA256) {
        Some(value) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
        None => body_sha256(req.body),
    }
}

fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Builds the SigV4 string to sign.
///
/// `scope` is e.g. `20150830/us-east-1/appstream/aws4_request`.
#[must_use]
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let hash = hex::encode(Sha256::digest(canonical_request.as_bytes()));
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{hash}")
}

/// Verifies `auth` against the request.
///
/// The steps run in AWS's order:
/// 1. `host` must be signed.
/// 2. Read the request time.
/// 3. The scope date must be the request's date.
/// 4. The request time must be within `max_skew` of `now`.
/// 5. Rebuild the canonical request from exactly the SignedHeaders.
/// 6. Compare signatures in constant time.
///
/// The signing key comes from the region and service in the credential
/// scope. Use [`check_scope`] to require a particular service, such as
/// `appstream`.
///
/// # Errors
///
/// - [`SigV4Error::IncompleteSignature`] if `host` is not signed, a date
///   header is malformed, the scope date differs from the request date, or
///   a signed header is missing.
/// - [`SigV4Error::MissingDate`] if there is no `X-Amz-Date` or `Date`
///   header.
/// - [`SigV4Error::RequestExpired`] or [`SigV4Error::RequestNotYetValid`] if
///   the request time is outside `now ± max_skew`.
/// - [`SigV4Error::SignatureMismatch`] if the signature differs, or if an
///   `x-amz-content-sha256` header does not match the body.
pub fn verify(
    req: &RequestParts<'_>,
    auth: &Authorization,
    secret_access_key: &str,
    now: DateTime<Utc>,
    max_skew: TimeDelta,
) -> Result<(), SigV4Error> {
    // Without a signed host, a signature made for one endpoint could be
    // replayed against another that shares the credentials.
    if !auth.signed_headers.iter().any(|name| name == "host") {
        return Err(incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }

    let time = request_time(req.headers)?;
    let amz_date = format_amz_date(time);
    let request_day = scope_date(time);
    if auth.date != request_day {
        return Err(incomplete(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{}' != '{request_day}', from '{amz_date}'.",
            auth.date
        )));
    }

    // A negative skew is a caller bug. Treating it as its absolute value
    // is the only reading that does not reject every request.
    let max_skew = max_skew.abs();
    // If a bound overflows chrono's range, that side has no limit. Both
    // times are real clocks here, so this does not happen in practice.
    let too_old = now
        .checked_sub_signed(max_skew)
        .is_some_and(|earliest| time < earliest);
    let too_new = now
        .checked_add_signed(max_skew)
        .is_some_and(|latest| time > latest);
    if too_old {
        return Err(SigV4Error::RequestExpired {
            request_time: amz_date,
            now: format_amz_date(now),
        });
    }
    if too_new {
        return Err(SigV4Error::RequestNotYetValid {
            request_time: amz_date,
            now: format_amz_date(now),
        });
    }

    let canonical = canonical_request(req, &auth.signed_headers)?;
    let scope = format!(
        "{}/{}/{}/{SCOPE_TERMINATOR}",
        auth.date, auth.region, auth.service
    );
    let to_sign = string_to_sign(&amz_date, &scope, &canonical);

    // The key is derived from the scope date, not the request time. It is
    // the same day (checked above), and it has exactly four year digits,
    // which keeps it within the range aws-sigv4's date formatting accepts.
    let Some(scope_midnight) = parse_scope_date(&auth.date)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|t| SystemTime::from(t.and_utc()))
    else {
        return Err(incomplete(format!(
            "Credential date '{}' is not a valid date in the form YYYYMMDD.",
            auth.date
        )));
    };
    let signing_key = generate_signing_key(
        secret_access_key,
        scope_midnight,
        &auth.region,
        &auth.service,
    );
    let expected = calculate_signature(signing_key, to_sign.as_bytes());
    // Constant time, so response timing reveals nothing about how many
    // leading characters of a forged signature are right.
    if !bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        return Err(SigV4Error::SignatureMismatch);
    }

    // The canonical request used `x-amz-content-sha256` as given, so the
    // signature covers the header but not the body. Without this check a
    // captured request could be replayed with a different body. Values
    // such as UNSIGNED-PAYLOAD fail it too. Photon always has the whole
    // body, so it never needs to accept an unsigned one.
    if let Some(claimed) = req.headers.get(X_AMZ_CONTENT_SHA256) {
        let actual = body_sha256(req.body);
        if !claimed.as_bytes().eq_ignore_ascii_case(actual.as_bytes()) {
            return Err(SigV4Error::SignatureMismatch);
        }
    }
    Ok(())
}

/// AWS's fixed clock-skew window, which is the one its messages quote.
fn aws_window() -> Option<TimeDelta> {
    TimeDelta::try_minutes(5)
}

fn expired_message(request_time: &str, now: &str) -> String {
    match parse_amz_date(now).and_then(|n| n.checked_sub_signed(aws_window()?)) {
        Some(earliest) => format!(
            "Signature expired: {request_time} is now earlier than {} ({now} - 5 min.)",
            format_amz_date(earliest)
        ),
        None => format!("Signature expired: {request_time} is now earlier than {now} - 5 min."),
    }
}

fn not_yet_valid_message(request_time: &str, now: &str) -> String {
    match parse_amz_date(now).and_then(|n| n.checked_add_signed(aws_window()?)) {
        Some(latest) => format!(
            "Signature not yet current: {request_time} is still later than {} ({now} + 5 min.)",
            format_amz_date(latest)
        ),
        None => {
            format!("Signature not yet current: {request_time} is still later than {now} + 5 min.")
        }
    }
}

#[cfg(test)]
mod tests {
    //! The AWS test-suite vectors live in `tests/data/sigv4/`. Their README
    //! says which vectors are included, which are left out and why, and the
    //! quirks the harness allows for.
    //!
    //! The brief asked for a round trip through `aws_sigv4::http_request::sign`.
    //! That is left out: `SigningParams::builder().identity(..)` needs an
    //! `aws_smithy_runtime_api::client::identity::Identity` built from
    //! `aws_credential_types::Credentials`. aws-sigv4 re-exports neither
    //! type, and neither crate is a dependency of photon-protocol. Requests
    //! signed by a real client, botocore, stand in for it: see
    //! `botocore_signed_requests_verify`.

    use super::*;
    use http::{HeaderName, HeaderValue};

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const SESSION_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

    fn five_minutes() -> TimeDelta {
        TimeDelta::try_minutes(5).expect("constant")
    }

    fn at(amz_date: &str) -> DateTime<Utc> {
        parse_amz_date(amz_date).expect("test timestamp")
    }

    /// A request parsed from a test-suite `.req` file, owning its data.
    struct OwnedRequest {
        method: String,
        path: String,
        query: Option<String>,
        headers: HeaderMap,
        body: Vec<u8>,
    }

    impl OwnedRequest {
        fn parts(&self) -> RequestParts<'_> {
            RequestParts {
                method: &self.method,
                path: &self.path,
                query: self.query.as_deref(),
                headers: &self.headers,
                body: &self.body,
            }
        }

        fn add(&mut self, name: &str, value: &str) {
            self.headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }

        fn set(&mut self, name: &str, value: &str) {
            self.headers.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
    }

    /// Parses the test suite's raw HTTP/1.1 text. The request target is
    /// kept byte for byte, because the suite writes paths and queries as
    /// they go on the wire (even with a raw space or UTF-8). A folded
    /// continuation line becomes another value of the previous header.
    fn parse_req(text: &str) -> OwnedRequest {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let request_line = lines.next().expect("request line");
        let (method, rest) = request_line.split_once(' ').expect("method");
        let (target, _version) = rest.rsplit_once(' ').expect("http version");
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (target, None),
        };
        let mut req = OwnedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        };
        let mut last_name = String::new();
        for line in lines {
            if line.is_empty() {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                let name = last_name.clone();
                req.add(&name, line.trim());
                continue;
            }
            let (name, value) = line.split_once(':').expect("header line");
            req.add(name, value);
            last_name = name.to_owned();
        }
        req
    }

    struct Vector {
        name: &'static str,
        req: &'static str,
        creq: &'static str,
        sts: &'static str,
        authz: &'static str,
        /// Headers the harness adds before verifying; see the data README.
        extra_headers: &'static [(&'static str, &'static str)],
    }

    macro_rules! vector {
        ($name:literal) => {
            vector!($name, &[])
        };
        ($name:literal, $extra:expr) => {
            Vector {
                name: $name,
                req: include_str!(concat!("../tests/data/sigv4/", $name, "/", $name, ".req")),
                creq: include_str!(concat!("../tests/data/sigv4/", $name, "/", $name, ".creq")),
                sts: include_str!(concat!("../tests/data/sigv4/", $name, "/", $name, ".sts")),
                authz: include_str!(concat!("../tests/data/sigv4/", $name, "/", $name, ".authz")),
                extra_headers: $extra,
            }
        };
    }

    fn vectors() -> Vec<Vector> {
        vec![
            vector!("get-vanilla"),
            vector!("get-vanilla-query"),
            vector!("get-vanilla-empty-query-key"),
            vector!("get-vanilla-query-order-key"),
            vector!(
                "get-vanilla-query-order-key-case",
                &[("X-Amz-Date", "20150830T123600Z")]
            ),
            vector!("get-vanilla-query-order-value"),
            vector!("get-vanilla-query-unreserved"),
            vector!("get-vanilla-utf8-query"),
            vector!("get-unreserved"),
            vector!("get-utf8"),
            vector!("get-space"),
            vector!("get-header-key-duplicate"),
            vector!("get-header-value-order"),
            vector!("get-header-value-trim"),
            vector!("get-header-value-multiline"),
            vector!("post-vanilla"),
            vector!("post-vanilla-query"),
            vector!("post-vanilla-empty-query-value"),
            vector!("post-header-key-case"),
            vector!("post-header-key-sort"),
            vector!("post-header-value-case"),
            vector!("post-sts-header-before"),
            vector!(
                "post-sts-header-after",
                &[("X-Amz-Security-Token", SESSION_TOKEN)]
            ),
            vector!("double-url-encode"),
        ]
    }

    /// Changes the last character of a hex signature to another hex digit.
    fn tamper(signature: &str) -> String {
        let mut out = signature.to_owned();
        let last = out.pop().expect("non-empty signature");
        out.push(if last == '0' { '1' } else { '0' });
        out
    }

    #[test]
    fn aws_test_suite_vectors() {
        for v in vectors() {
            let mut req = parse_req(v.req);
            for (name, value) in v.extra_headers {
                req.add(name, value);
            }
            req.set("authorization", v.authz);
            let parts = req.parts();

            let auth = parse_authorization(&req.headers)
                .unwrap_or_else(|e| panic!("{}: parse_authorization: {e}", v.name));
            assert_eq!(auth.access_key_id, "AKIDEXAMPLE", "{}", v.name);

            let creq = canonical_request(&parts, &auth.signed_headers)
                .unwrap_or_else(|e| panic!("{}: canonical_request: {e}", v.name));
            assert_eq!(creq, v.creq, "{}: canonical request", v.name);

            let time = request_time(&req.headers)
                .unwrap_or_else(|e| panic!("{}: request_time: {e}", v.name));
            let scope = format!(
                "{}/{}/{}/aws4_request",
                auth.date, auth.region, auth.service
            );
            // The double-url-encode `.sts` ends in a newline; the others do not.
            assert_eq!(
                string_to_sign(&format_amz_date(time), &scope, &creq),
                v.sts.trim_end_matches('\n'),
                "{}: string to sign",
                v.name
            );

            assert_eq!(
                verify(&parts, &auth, SECRET, time, five_minutes()),
                Ok(()),
                "{}: genuine signature",
                v.name
            );
            let forged = Authorization {
                signature: tamper(&auth.signature),
                ..auth.clone()
            };
            assert_eq!(
                verify(&parts, &forged, SECRET, time, five_minutes()),
                Err(SigV4Error::SignatureMismatch),
                "{}: tampered signature",
                v.name
            );
            assert_eq!(
                verify(&parts, &auth, "not-the-secret", time, five_minutes()),
                Err(SigV4Error::SignatureMismatch),
                "{}: wrong secret",
                v.name
            );
        }
    }

    #[test]
    fn aws_test_suite_double_encode_path() {
        // This vector has only a `.creq`, whose date differs from its `.req`.
        // Only the canonical URI line is compared.
        let req = parse_req(include_str!(
            "../tests/data/sigv4/double-encode-path/double-encode-path.req"
        ));
        let creq = include_str!("../tests/data/sigv4/double-encode-path/double-encode-path.creq");
        let expected_uri = creq.lines().nth(1).expect("uri line");
        assert_eq!(canonical_uri(&req.path), expected_uri);
        assert_eq!(expected_uri, "/test/%40connections/JBDvjfGEIAMCERw%253D");
    }

    /// Requests signed by botocore 1.43.11 (`botocore.auth.SigV4Auth`, clock
    /// fixed at 2024-03-01T09:15:30Z, scope us-west-2/appstream). Unlike the
    /// AWS suite, they carry non-empty bodies and an AppStream-shaped request.
    struct BotocoreVector {
        method: &'static str,
        path: &'static str,
        query: Option<&'static str>,
        headers: &'static [(&'static str, &'static str)],
        body: &'static [u8],
        authz: &'static str,
        creq: &'static str,
    }

    const BOTOCORE_VECTORS: &[BotocoreVector] = &[
        BotocoreVector {
            method: "POST",
            path: "/",
            query: None,
            headers: &[
                ("host", "appstream2.us-west-2.amazonaws.com"),
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", "PhotonAdminProxyService.DescribeFleets"),
                ("x-amz-date", "20240301T091530Z"),
                // Added after signing and not signed, as user agents are.
                ("user-agent", "Botocore/1.43.11"),
            ],
            body: br#"{"Names":["fleet-1"]}"#,
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240301/us-west-2/appstream/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=584a63648906794263d6b6279364b69b3993a444c715f6b437795e31028502a5",
            creq: "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:appstream2.us-west-2.amazonaws.com\nx-amz-date:20240301T091530Z\nx-amz-target:PhotonAdminProxyService.DescribeFleets\n\ncontent-type;host;x-amz-date;x-amz-target\n2a964094a9f5e6891f9ca20901de99b58933cf2727a9f2d187732deb39f92996",
        },
        BotocoreVector {
            method: "POST",
            path: "/service/PhotonAdminProxyService/operation/DescribeImages",
            query: None,
            headers: &[
                ("host", "appstream2.us-west-2.amazonaws.com"),
                ("content-type", "application/cbor"),
                ("smithy-protocol", "rpc-v2-cbor"),
                ("accept", "application/cbor"),
                ("x-amz-date", "20240301T091530Z"),
            ],
            body: &[
                0xbf, 0x65, 0x4e, 0x61, 0x6d, 0x65, 0x73, 0x9f, 0x63, 0x69, 0x6d, 0x67, 0xff, 0xff,
            ],
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240301/us-west-2/appstream/aws4_request, SignedHeaders=accept;content-type;host;smithy-protocol;x-amz-date, Signature=af1fef42001806bf3e26a0b7ff15b69ee2b1a6f198be42148e5f64a614ff3984",
            creq: "POST\n/service/PhotonAdminProxyService/operation/DescribeImages\n\naccept:application/cbor\ncontent-type:application/cbor\nhost:appstream2.us-west-2.amazonaws.com\nsmithy-protocol:rpc-v2-cbor\nx-amz-date:20240301T091530Z\n\naccept;content-type;host;smithy-protocol;x-amz-date\n7533a5fbb57a7b90da56dade45035212e79e078104f9db1b78b44c7fb39097c5",
        },
        BotocoreVector {
            method: "GET",
            path: "/images/arn%3Aaws%3Aappstream%3A%3Aimage%2Fmy%20img",
            query: Some("b=2&a=x%2By&a=a%20b&c"),
            headers: &[
                ("host", "appstream2.us-west-2.amazonaws.com"),
                ("x-amz-date", "20240301T091530Z"),
            ],
            body: b"",
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240301/us-west-2/appstream/aws4_request, SignedHeaders=host;x-amz-date, Signature=fc7c98be69ee5d4abfc71b49e1dfd080551d9cbcd125effbf1e1c36635e148db",
            creq: "GET\n/images/arn%253Aaws%253Aappstream%253A%253Aimage%252Fmy%2520img\na=a%20b&a=x%2By&b=2&c=\nhost:appstream2.us-west-2.amazonaws.com\nx-amz-date:20240301T091530Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        },
    ];

    #[test]
    fn botocore_signed_requests_verify() {
        for v in BOTOCORE_VECTORS {
            let mut req = OwnedRequest {
                method: v.method.to_owned(),
                path: v.path.to_owned(),
                query: v.query.map(str::to_owned),
                headers: HeaderMap::new(),
                body: v.body.to_vec(),
            };
            for (name, value) in v.headers {
                req.add(name, value);
            }
            req.set("authorization", v.authz);
            let auth = parse_authorization(&req.headers).expect("parse");
            assert_eq!(check_scope(&auth, Some("us-west-2"), "appstream"), Ok(()));
            assert_eq!(
                canonical_request(&req.parts(), &auth.signed_headers).expect("creq"),
                v.creq,
                "{} {}",
                v.method,
                v.path
            );
            let now = at("20240301T091800Z");
            assert_eq!(
                verify(&req.parts(), &auth, SECRET, now, five_minutes()),
                Ok(()),
                "{} {}",
                v.method,
                v.path
            );

            let mut altered = req.body.clone();
            altered.push(b' ');
            let tampered = RequestParts {
                body: &altered,
                ..req.parts()
            };
            assert_eq!(
                verify(&tampered, &auth, SECRET, now, five_minutes()),
                Err(SigV4Error::SignatureMismatch),
                "{} {}: body changed",
                v.method,
                v.path
            );
        }
    }

    // ---- Requests signed in the tests -------------------------------------

    const NOW: &str = "20150830T123600Z";

    /// An AppStream-style JSON request, without authorization.
    fn appstream_request(amz_date: &str) -> OwnedRequest {
        let mut req = OwnedRequest {
            method: "POST".to_owned(),
            path: "/".to_owned(),
            query: None,
            headers: HeaderMap::new(),
            body: br#"{"Names":["fleet-1"]}"#.to_vec(),
        };
        req.add("host", "appstream2.us-east-1.amazonaws.com");
        req.add("content-type", "application/x-amz-json-1.1");
        req.add("x-amz-target", "PhotonAdminProxyService.DescribeFleets");
        req.add("x-amz-date", amz_date);
        req.add("user-agent", "test-client/1.0");
        req
    }

    /// Signs `req` with this module's own canonicalisation and aws-sigv4's
    /// primitives, then sets the Authorization header. This is circular, so
    /// it is only used to test behaviour. The vectors above establish
    /// correctness.
    fn sign(req: &mut OwnedRequest, signed_headers: &[&str], scope_date: &str) -> Authorization {
        let signed: Vec<String> = signed_headers.iter().map(|s| (*s).to_owned()).collect();
        let creq = canonical_request(&req.parts(), &signed).expect("creq");
        let time = request_time(&req.headers).expect("time");
        let scope = format!("{scope_date}/us-east-1/appstream/aws4_request");
        let sts = string_to_sign(&format_amz_date(time), &scope, &creq);
        let date = parse_scope_date(scope_date).expect("scope date");
        let key = generate_signing_key(
            SECRET,
            SystemTime::from(date.and_hms_opt(0, 0, 0).expect("midnight").and_utc()),
            "us-east-1",
            "appstream",
        );
        let signature = calculate_signature(key, sts.as_bytes());
        let header = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{scope}, SignedHeaders={}, Signature={signature}",
            signed_headers.join(";")
        );
        req.set("authorization", &header);
        parse_authorization(&req.headers).expect("parse own header")
    }

    const SIGNED: &[&str] = &["content-type", "host", "x-amz-date", "x-amz-target"];

    #[test]
    fn accepts_requests_within_the_skew() {
        for offset in [-4, 0, 4] {
            let now = at(NOW);
            let time = now + TimeDelta::try_minutes(offset).expect("minutes");
            let mut req = appstream_request(&format_amz_date(time));
            let auth = sign(&mut req, SIGNED, &time.format("%Y%m%d").to_string());
            assert_eq!(
                verify(&req.parts(), &auth, SECRET, now, five_minutes()),
                Ok(()),
                "offset {offset} minutes"
            );
        }
    }

    #[test]
    fn request_six_minutes_old_is_expired() {
        let mut req = appstream_request("20150830T123000Z");
        let auth = sign(&mut req, SIGNED, "20150830");
        let err = verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes());
        assert_eq!(
            err,
            Err(SigV4Error::RequestExpired {
                request_time: "20150830T123000Z".to_owned(),
                now: NOW.to_owned(),
            })
        );
        assert_eq!(
            err.expect_err("expired").to_string(),
            "Signature expired: 20150830T123000Z is now earlier than 20150830T123100Z \
             (20150830T123600Z - 5 min.)"
        );
    }

    #[test]
    fn request_six_minutes_ahead_is_not_yet_valid() {
        let mut req = appstream_request("20150830T124200Z");
        let auth = sign(&mut req, SIGNED, "20150830");
        let err = verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes());
        assert_eq!(
            err,
            Err(SigV4Error::RequestNotYetValid {
                request_time: "20150830T124200Z".to_owned(),
                now: NOW.to_owned(),
            })
        );
        assert_eq!(
            err.expect_err("not yet valid").to_string(),
            "Signature not yet current: 20150830T124200Z is still later than 20150830T124100Z \
             (20150830T123600Z + 5 min.)"
        );
    }

    #[test]
    fn skew_boundary_is_inclusive() {
        let mut req = appstream_request("20150830T123100Z");
        let auth = sign(&mut req, SIGNED, "20150830");
        assert_eq!(
            verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes()),
            Ok(())
        );
    }

    #[test]
    fn missing_authorization_header() {
        let req = appstream_request(NOW);
        let err = parse_authorization(&req.headers);
        assert_eq!(err, Err(SigV4Error::MissingAuthentication));
        assert_eq!(
            err.expect_err("missing").to_string(),
            "Request is missing Authentication Token"
        );
    }

    fn parse_header_value(value: &str) -> Result<Authorization, SigV4Error> {
        let mut req = appstream_request(NOW);
        req.set("authorization", value);
        parse_authorization(&req.headers)
    }

    fn expect_incomplete(value: &str, needle: &str) {
        match parse_header_value(value) {
            Err(SigV4Error::IncompleteSignature(message)) => assert!(
                message.contains(needle),
                "{value:?}: message {message:?} lacks {needle:?}"
            ),
            other => panic!("{value:?}: expected IncompleteSignature, got {other:?}"),
        }
    }

    const GOOD_CREDENTIAL: &str =
        "Credential=AKIDEXAMPLE/20150830/us-east-1/appstream/aws4_request";

    #[test]
    fn malformed_authorization_headers_are_incomplete() {
        let sig = "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "Unsupported AWS 'algorithm'"),
            ("AWS4-HMAC-SHA256".to_owned(), "requires 'Credential' parameter"),
            (
                format!("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, {sig}"),
                "requires 'Credential' parameter",
            ),
            (
                format!("AWS4-HMAC-SHA256 {GOOD_CREDENTIAL}, {sig}"),
                "requires 'SignedHeaders' parameter",
            ),
            (
                format!("AWS4-HMAC-SHA256 {GOOD_CREDENTIAL}, SignedHeaders=host;x-amz-date"),
                "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256",
            ),
            (
                format!("AWS4-HMAC-SHA256 {GOOD_CREDENTIAL}, SignedHeaders=host, Signature="),
                "requires 'Signature' parameter",
            ),
            (
                format!("AWS4-HMAC-SHA1 {GOOD_CREDENTIAL}, SignedHeaders=host, {sig}"),
                "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'",
            ),
            ("Basic dXNlcjpwYXNz".to_owned(), "Unsupported AWS 'algorithm'"),
            (
                format!("AWS4-HMAC-SHA256 Credential, SignedHeaders=host, {sig}"),
                "not a valid key=value pair",
            ),
            (
                format!("AWS4-HMAC-SHA256 {GOOD_CREDENTIAL}, SignedHeaders=host, {sig}, {sig}"),
                "duplicate 'Signature'",
            ),
            (
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/aws4_request, \
                     SignedHeaders=host, {sig}"
                ),
                "is malformed",
            ),
            (
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/appstream/aws5_request, \
                     SignedHeaders=host, {sig}"
                ),
                "valid terminator",
            ),
            (
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/appstream/aws4_request, \
                     SignedHeaders=host, {sig}"
                ),
                "YYYYMMDD",
            ),
            (
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20151330/us-east-1/appstream/aws4_request, \
                     SignedHeaders=host, {sig}"
                ),
                "YYYYMMDD",
            ),
            (
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830//appstream/aws4_request, \
                     SignedHeaders=host, {sig}"
                ),
                "valid region",
            ),
            (
                format!(
                    "AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/appstream/aws4_request, \
                     SignedHeaders=host, {sig}"
                ),
                "empty access key id",
            ),
            (
                format!("AWS4-HMAC-SHA256 {GOOD_CREDENTIAL}, SignedHeaders=host;;x-amz-date, {sig}"),
                "empty header name",
            ),
        ];
        for (value, needle) in &cases {
            expect_incomplete(value, needle);
        }
    }

    #[test]
    fn header_parsing_tolerates_spacing_and_unknown_parameters() {
        let auth = parse_header_value(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/appstream/aws4_request,\
             SignedHeaders=Host;X-Amz-Date,Extra=1 ,  Signature=abcd",
        )
        .expect("parse");
        assert_eq!(
            auth,
            Authorization {
                access_key_id: "AKID".to_owned(),
                date: "20150830".to_owned(),
                region: "us-east-1".to_owned(),
                service: "appstream".to_owned(),
                signed_headers: vec!["host".to_owned(), "x-amz-date".to_owned()],
                signature: "abcd".to_owned(),
            }
        );
    }

    #[test]
    fn repeated_authorization_header_is_incomplete() {
        let mut req = appstream_request(NOW);
        let auth = sign(&mut req, SIGNED, "20150830");
        let value = req.headers.get("authorization").expect("header").clone();
        req.headers.append(http::header::AUTHORIZATION, value);
        assert!(matches!(
            parse_authorization(&req.headers),
            Err(SigV4Error::IncompleteSignature(_))
        ));
        drop(auth);
    }

    #[test]
    fn parser_never_panics_on_odd_input() {
        // A small deterministic fuzz: glue together fragments that stress
        // the splitting on ' ', ',', '=', '/' and ';'.
        const FRAGMENTS: &[&str] = &[
            "AWS4-HMAC-SHA256",
            " ",
            ",",
            "=",
            "/",
            ";",
            "Credential",
            "SignedHeaders",
            "Signature",
            "aws4_request",
            "20150830",
            "\t",
            "é",
            "%",
            "host",
            "",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5_000 {
            let mut value = String::new();
            for _ in 0..(state % 12) {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let index = usize::try_from(state >> 33).expect("fits") % FRAGMENTS.len();
                value.push_str(FRAGMENTS[index]);
            }
            state = state.wrapping_add(1);
            let _ = parse_authorization_value(&value);
            let _ = canonical_query(&value);
            let _ = canonical_uri(&value);
            let _ = parse_amz_date(&value);
        }
    }

    #[test]
    fn host_must_be_signed() {
        let mut req = appstream_request(NOW);
        let auth = sign(&mut req, &["content-type", "x-amz-date"], "20150830");
        assert_eq!(
            verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes()),
            Err(SigV4Error::IncompleteSignature(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
                    .to_owned()
            ))
        );
    }

    #[test]
    fn signed_header_missing_from_request_is_incomplete() {
        let mut req = appstream_request(NOW);
        let auth = sign(&mut req, SIGNED, "20150830");
        req.headers.remove("x-amz-target");
        match verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes()) {
            Err(SigV4Error::IncompleteSignature(message)) => {
                assert!(message.contains("'x-amz-target'"), "{message}");
            }
            other => panic!("expected IncompleteSignature, got {other:?}"),
        }
    }

    #[test]
    fn only_signed_headers_count() {
        let mut req = appstream_request(NOW);
        let auth = sign(&mut req, SIGNED, "20150830");

        req.set("user-agent", "something-else/2.0");
        req.add("x-forwarded-for", "203.0.113.7");
        assert_eq!(
            verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes()),
            Ok(()),
            "unsigned header changed"
        );

        req.set("x-amz-target", "PhotonAdminProxyService.DeleteFleet");
        assert_eq!(
            verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes()),
            Err(SigV4Error::SignatureMismatch),
            "signed header changed"
        );
    }

    #[test]
    fn extra_value_for_signed_header_is_a_mismatch() {
        let mut req = appstream_request(NOW);
        let auth = sign(&mut req, SIGNED, "20150830");
        req.add("x-amz-target", "PhotonAdminProxyService.DeleteFleet");
        assert_eq!(
            verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes()),
            Err(SigV4Error::SignatureMismatch)
        );
    }

    #[test]
    fn changed_body_is_a_mismatch() {
        let mut req = appstream_request(NOW);
        let auth = sign(&mut req, SIGNED, "20150830");
        req.body = br#"{"Names":["fleet-2"]}"#.to_vec();
        let err = verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes());
        assert_eq!(err, Err(SigV4Error::SignatureMismatch));
        assert_eq!(
            err.expect_err("mismatch").to_string(),
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. \
             Consult the service documentation for details."
        );
    }

    #[test]
    fn changed_path_or_query_is_a_mismatch() {
        let mut req = appstream_request(NOW);
        let auth = sign(&mut req, SIGNED, "20150830");
        let other_path = RequestParts {
            path: "/other",
            ..req.parts()
        };
        assert_eq!(
            verify(&other_path, &auth, SECRET, at(NOW), five_minutes()),
            Err(SigV4Error::SignatureMismatch)
        );
        let with_query = RequestParts {
            query: Some("a=1"),
            ..req.parts()
        };
        assert_eq!(
            verify(&with_query, &auth, SECRET, at(NOW), five_minutes()),
            Err(SigV4Error::SignatureMismatch)
        );
    }

    #[test]
    fn scope_date_must_match_request_date() {
        let mut req = appstream_request(NOW);
        let auth = sign(&mut req, SIGNED, "20150831");
        match verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes()) {
            Err(SigV4Error::IncompleteSignature(message)) => assert_eq!(
                message,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of \
                 date from HTTP: '20150831' != '20150830', from '20150830T123600Z'."
            ),
            other => panic!("expected IncompleteSignature, got {other:?}"),
        }
    }

    #[test]
    fn missing_or_malformed_date() {
        let mut req = appstream_request(NOW);
        let auth = sign(&mut req, &["content-type", "host"], "20150830");
        req.headers.remove("x-amz-date");
        let err = verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes());
        assert_eq!(err, Err(SigV4Error::MissingDate));
        assert_eq!(
            err.expect_err("missing date").to_string(),
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        );

        for bad in [
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20150830T246000Z",
            "+0150830T123600Z",
        ] {
            req.set("x-amz-date", bad);
            match request_time(&req.headers) {
                Err(SigV4Error::IncompleteSignature(message)) => {
                    assert!(
                        message.starts_with("Date must be in ISO-8601 'basic format'"),
                        "{message}"
                    );
                }
                other => panic!("{bad}: expected IncompleteSignature, got {other:?}"),
            }
        }

        req.set("x-amz-date", NOW);
        req.add("x-amz-date", NOW);
        assert!(matches!(
            request_time(&req.headers),
            Err(SigV4Error::IncompleteSignature(_))
        ));
    }

    #[test]
    fn date_header_is_the_fallback() {
        let mut req = appstream_request(NOW);
        req.headers.remove("x-amz-date");
        req.add("date", "Sun, 30 Aug 2015 12:36:00 GMT");
        assert_eq!(request_time(&req.headers), Ok(at(NOW)));
        let auth = sign(&mut req, &["content-type", "date", "host"], "20150830");
        assert_eq!(
            verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes()),
            Ok(())
        );

        // X-Amz-Date wins when both are present.
        req.add("x-amz-date", "20150830T123500Z");
        assert_eq!(request_time(&req.headers), Ok(at("20150830T123500Z")));
    }

    #[test]
    fn content_sha256_header_is_used_and_checked() {
        let mut req = appstream_request(NOW);
        let body_hash = body_sha256(&req.body);
        req.add("x-amz-content-sha256", &body_hash);
        let auth = sign(
            &mut req,
            &["content-type", "host", "x-amz-content-sha256", "x-amz-date"],
            "20150830",
        );
        assert_eq!(
            verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes()),
            Ok(())
        );

        // The header's value goes into the canonical request literally.
        req.set("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
        let creq = canonical_request(&req.parts(), &auth.signed_headers).expect("creq");
        assert!(creq.ends_with("\nUNSIGNED-PAYLOAD"), "{creq}");

        // A client that really signed UNSIGNED-PAYLOAD is still refused,
        // because the body would then be unauthenticated.
        let auth = sign(
            &mut req,
            &["content-type", "host", "x-amz-content-sha256", "x-amz-date"],
            "20150830",
        );
        assert_eq!(
            verify(&req.parts(), &auth, SECRET, at(NOW), five_minutes()),
            Err(SigV4Error::SignatureMismatch)
        );
    }

    #[test]
    fn check_scope_enforces_service_and_region() {
        let mut req = appstream_request(NOW);
        let auth = sign(&mut req, SIGNED, "20150830");
        assert_eq!(check_scope(&auth, None, "appstream"), Ok(()));
        assert_eq!(check_scope(&auth, Some("us-east-1"), "appstream"), Ok(()));
        assert_eq!(
            check_scope(&auth, None, "s3"),
            Err(SigV4Error::IncompleteSignature(
                "Credential should be scoped to correct service: 's3'.".to_owned()
            ))
        );
        assert_eq!(
            check_scope(&auth, Some("eu-west-1"), "appstream"),
            Err(SigV4Error::IncompleteSignature(
                "Credential should be scoped to a valid region, not 'us-east-1'.".to_owned()
            ))
        );
    }

    #[test]
    fn canonical_uri_rules() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/a b/%2F/~x"), "/a%20b/%252F/~x");
        // No dot-segment or slash normalisation.
        assert_eq!(canonical_uri("/a/./b/../c//"), "/a/./b/../c//");
    }

    #[test]
    fn canonical_query_rules() {
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("a+b=c+d"), "a%2Bb=c%2Bd");
        assert_eq!(canonical_query("x=%2b&x=%7e"), "x=%2B&x=~");
        assert_eq!(canonical_query("b&a=&&c=1"), "a=&b=&c=1");
        assert_eq!(canonical_query("B=1&a=2&a=1"), "B=1&a=1&a=2");
        assert_eq!(canonical_query("k=a=b"), "k=a%3Db");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        assert_eq!(canonical_header_value(b"  a   b  c  "), "a b c");
        assert_eq!(canonical_header_value(b"a\tb"), "a\tb");
        assert_eq!(canonical_header_value(b""), "");
    }
}
