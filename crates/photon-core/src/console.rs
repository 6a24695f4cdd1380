//! Web console sign-in: account passwords and browser sessions. A session's token is the
//! credential the browser holds; only its SHA-256 is stored, and each session carries its own
//! CSRF token. Passwords are kept as Argon2 hashes.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use photon_store::{ConsoleSessionRecord, Store};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{CoreError, Service};

/// How long a console sign-in lasts, as in the AWS console.
pub const SESSION_MILLIS: i64 = 12 * 60 * 60 * 1000;
pub const MIN_PASSWORD: usize = 8;

/// What a user signs in with.
pub enum Credentials {
    AccessKey {
        access_key_id: String,
        secret_access_key: String,
    },
    Password {
        account_id: String,
        password: String,
    },
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equal without a timing difference that tells how much of a guess was right.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn refused() -> CoreError {
    CoreError::NotPermitted(
        "the sign-in details are not right: check the access key id and secret (or the account \
         id and console password) and try again"
            .into(),
    )
}

/// Sets an account's console password. Works on the store alone, so the admin CLI can run it
/// while a server uses the same store.
pub async fn set_password(
    store: &dyn Store,
    account_id: &str,
    password: &str,
    now: i64,
) -> Result<(), CoreError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(CoreError::Invalid(format!(
            "the console password is too short: use at least {MIN_PASSWORD} characters"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| CoreError::Internal(format!("cannot hash the password: {e}")))?
        .to_string();
    if store.set_console_password(account_id, &hash, now).await? {
        Ok(())
    } else {
        Err(CoreError::NotFound(format!(
            "there is no account {account_id}; list accounts with `photon accounts list`"
        )))
    }
}

/// Password checks running at once, across the process.
fn checks() -> &'static tokio::sync::Semaphore {
    static CHECKS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    CHECKS.get_or_init(|| tokio::sync::Semaphore::new(4))
}

/// A hash of a password nobody has, checked when the account has none.
fn dummy_hash() -> Result<&'static str, CoreError> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(random_token().as_bytes(), &salt)
        .map_err(|e| CoreError::Internal(format!("cannot hash the password: {e}")))?
        .to_string();
    Ok(DUMMY.get_or_init(|| hash))
}

fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

impl Service {
    /// Checks the credentials and opens a session in `region`; returns the token for the
    /// browser's cookie and the session.
    pub async fn console_sign_in(
        &self,
        creds: Credentials,
        region: &str,
    ) -> Result<(String, ConsoleSessionRecord), CoreError> {
        self.check_region(region)?;
        let account_id = match creds {
            Credentials::AccessKey {
                access_key_id,
                secret_access_key,
            } => {
                let key = self
                    .store
                    .access_key(access_key_id.trim())
                    .await?
                    .ok_or_else(refused)?;
                if !same_secret(&key.secret_access_key, &secret_access_key) {
                    return Err(refused());
                }
                key.account_id
            }
            Credentials::Password {
                account_id,
                password,
            } => {
                let account_id = account_id.trim().to_owned();
                let stored = self.store.console_password(&account_id).await?;
                // An account without a password costs the same check as one with it, so the
                // answer's timing does not tell which accounts have one.
                let (hash, known) = match stored {
                    Some(h) => (h, true),
                    None => (dummy_hash()?.to_owned(), false),
                };
                // Hashing is deliberately slow: off the request workers, and only a few at a
                // time, so a flood of sign-ins cannot take every blocking thread and its memory.
                let _permit = checks()
                    .acquire()
                    .await
                    .map_err(|e| CoreError::Internal(format!("password check failed: {e}")))?;
                let ok = tokio::task::spawn_blocking(move || password_matches(&hash, &password))
                    .await
                    .map_err(|e| CoreError::Internal(format!("password check failed: {e}")))?;
                if !(ok && known) {
                    return Err(refused());
                }
                account_id
            }
        };
        let token = random_token();
        let now = self.now();
        let session = ConsoleSessionRecord {
            id_hash: token_hash(&token),
            account_id,
            region: region.to_owned(),
            csrf: random_token(),
            created_at: now,
            expires_at: now + SESSION_MILLIS,
        };
        self.store.create_console_session(&session).await?;
        Ok((token, session))
    }

    /// The live session a cookie's token names, if any.
    pub async fn console_session(
        &self,
        token: &str,
    ) -> Result<Option<ConsoleSessionRecord>, CoreError> {
        Ok(self
            .store
            .console_session(&token_hash(token), self.now())
            .await?)
    }

    pub async fn console_set_region(&self, token: &str, region: &str) -> Result<(), CoreError> {
        self.check_region(region)?;
        self.store
            .set_console_session_region(&token_hash(token), region)
            .await?;
        Ok(())
    }

    pub async fn console_sign_out(&self, token: &str) -> Result<(), CoreError> {
        self.store
            .delete_console_session(&token_hash(token))
            .await?;
        Ok(())
    }

    fn check_region(&self, region: &str) -> Result<(), CoreError> {
        if self.regions.iter().any(|r| r == region) {
            Ok(())
        } else {
            Err(CoreError::Invalid(format!(
                "Photon does not serve region '{region}'; choose one of {}",
                self.regions.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_secrets() {
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string();
        assert!(password_matches(&hash, "correct horse"));
        assert!(!password_matches(&hash, "correct hors"));
        assert!(!password_matches("not a hash", "correct horse"));
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert_ne!(random_token(), random_token());
        assert_eq!(token_hash("x").len(), 64);
    }
}
