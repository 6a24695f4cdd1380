//! Who sent a request: SigV4 verification against the stored secret of the access key, plus the
//! checks of the credential scope (service and region). Key lookup is behind
//! [`CredentialStore`], so this module never touches storage.

use std::future::Future;

use chrono::{DateTime, Utc};
use photon_types::{ApiError, ErrorCode};

use crate::sigv4::{self, RequestParts, SigV4Error};

pub const SIGNING_SERVICE: &str = "appstream";

/// What a stored access key resolves to.
#[derive(Clone)]
pub struct Credential {
    pub account_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("account_id", &self.account_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// The port through which authentication finds secrets.
pub trait CredentialStore: Send + Sync {
    /// `Ok(None)` for an unknown key; `Err` for a failure of the store itself.
    fn credential(
        &self,
        access_key_id: &str,
    ) -> impl Future<Output = Result<Option<Credential>, String>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub account_id: String,
    pub access_key_id: String,
    pub region: String,
}

fn sig_error(e: SigV4Error) -> ApiError {
    let code = match e {
        SigV4Error::MissingAuthentication => ErrorCode::MissingAuthenticationTokenException,
        SigV4Error::IncompleteSignature(_) | SigV4Error::MissingDate => {
            ErrorCode::IncompleteSignatureException
        }
        SigV4Error::SignatureMismatch
        | SigV4Error::RequestExpired { .. }
        | SigV4Error::RequestNotYetValid { .. } => ErrorCode::InvalidSignatureException,
    };
    ApiError::new(code, e.to_string())
}

/// Verifies the request and names its account and region.
///
/// `regions` is the list of regions this server serves; a scope outside it is refused with the
/// list, so the user knows what to configure.
pub async fn authenticate<C: CredentialStore>(
    store: &C,
    req: &RequestParts<'_>,
    regions: &[String],
    now: DateTime<Utc>,
) -> Result<Authenticated, ApiError> {
    let auth = sigv4::parse_authorization(req.headers).map_err(sig_error)?;
    if auth.service != SIGNING_SERVICE {
        return Err(ApiError::new(
            ErrorCode::InvalidSignatureException,
            format!(
                "Credential should be scoped to correct service: '{SIGNING_SERVICE}'. (the request was signed for '{}')",
                auth.service
            ),
        ));
    }
    if !regions.contains(&auth.region) {
        return Err(ApiError::new(
            ErrorCode::InvalidSignatureException,
            format!(
                "Credential should be scoped to a valid region, not '{}'. This server serves: {}",
                auth.region,
                regions.join(", ")
            ),
        ));
    }
    // The operation of an AWS JSON request is named only by X-Amz-Target, and the request
    // time only by X-Amz-Date: unsigned, a captured request could be replayed as another
    // operation or at another time. Every SDK signs both.
    for must in ["x-amz-target", "x-amz-date"] {
        if req.headers.contains_key(must) && !auth.signed_headers.iter().any(|h| h == must) {
            return Err(ApiError::new(
                ErrorCode::IncompleteSignatureException,
                format!("the header {must} is present but not signed; add it to SignedHeaders"),
            ));
        }
    }
    let cred = store
        .credential(&auth.access_key_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "credential store failure");
            ApiError::new(
                ErrorCode::InternalFailure,
                "the credential store is unavailable; retry shortly",
            )
        })?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnrecognizedClientException,
                "The security token included in the request is invalid. (unknown access key; \
                 create one with `photon accounts create`)",
            )
        })?;
    sigv4::verify(
        req,
        &auth,
        &cred.secret_access_key,
        now,
        chrono::Duration::minutes(5),
    )
    .map_err(sig_error)?;
    Ok(Authenticated {
        account_id: cred.account_id,
        access_key_id: auth.access_key_id,
        region: auth.region,
    })
}
