//! Accounts and their access keys: ids, key formats, and creation.

use photon_store::{AccessKeyRecord, AccountRecord, StoreError};
use rand::Rng;

use crate::{CoreError, Service};

/// A new account's credentials, shown once at creation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewAccount {
    #[serde(rename = "AccountId")]
    pub account_id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "AccessKeyId")]
    pub access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    pub secret_access_key: String,
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn random_account_id() -> String {
    let mut rng = rand::thread_rng();
    // AWS account ids do not start with 0 in practice; keeping that avoids lost leading zeros
    // in tools that treat the id as a number.
    let first = rng.gen_range(1..=9);
    let rest: String = (0..11)
        .map(|_| char::from(b'0' + rng.gen_range(0..10)))
        .collect();
    format!("{first}{rest}")
}

fn random_from(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

fn random_access_key_id() -> String {
    format!(
        "AKIA{}",
        random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    )
}

fn random_secret() -> String {
    random_from(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        40,
    )
}

/// Creates an account with one access key. Works on the store alone, so the admin CLI can run
/// it while a server uses the same store.
pub async fn create_account(
    store: &dyn photon_store::Store,
    account_id: Option<&str>,
    name: Option<&str>,
    now: i64,
) -> Result<NewAccount, CoreError> {
    if let Some(id) = account_id {
        if !is_account_id(id) {
            return Err(CoreError::Invalid(format!(
                "'{id}' is not an account id: use exactly 12 digits, or leave --account-id out for a random one"
            )));
        }
    }
    // A random id can collide with an existing one; try a few before giving up.
    for _ in 0..5 {
        let id = account_id.map_or_else(random_account_id, str::to_owned);
        let account = AccountRecord {
            account_id: id.clone(),
            name: name.map_or_else(|| format!("account-{id}"), str::to_owned),
            created_at: now,
        };
        let key = AccessKeyRecord {
            access_key_id: random_access_key_id(),
            account_id: id.clone(),
            secret_access_key: random_secret(),
            created_at: now,
        };
        match store.create_account(&account, &key).await {
            Ok(()) => {
                return Ok(NewAccount {
                    account_id: id,
                    name: account.name,
                    access_key_id: key.access_key_id,
                    secret_access_key: key.secret_access_key,
                })
            }
            Err(StoreError::Conflict) if account_id.is_some() => {
                return Err(CoreError::AlreadyExists(format!(
                    "account {id} already exists; list accounts with `photon accounts list`"
                )))
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(CoreError::Internal(
        "could not find a free account id".into(),
    ))
}

impl Service {
    pub async fn create_account(
        &self,
        account_id: Option<&str>,
        name: Option<&str>,
    ) -> Result<NewAccount, CoreError> {
        create_account(self.store.as_ref(), account_id, name, self.now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_account_id(&random_account_id()));
        assert!(!is_account_id("12345678901"));
        assert!(!is_account_id("12345678901a"));
        let k = random_access_key_id();
        assert_eq!(k.len(), 20);
        assert!(k.starts_with("AKIA"));
        assert_eq!(random_secret().len(), 40);
    }
}
