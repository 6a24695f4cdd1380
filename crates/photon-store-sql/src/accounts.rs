//! `AccountStore` on SQLite and PostgreSQL: accounts, access keys and the web console's sign-in.

use super::*;
use crate::inline::Arg;

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_account(&self, a: &AccountRecord, k: &AccessKeyRecord) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO accounts (account_id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&a.account_id)
            .bind(&a.name)
            .bind(a.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map_insert_error)?;
        sqlx::query(
            "INSERT INTO access_keys (access_key_id, account_id, secret_access_key, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&k.access_key_id)
        .bind(&k.account_id)
        .bind(&k.secret_access_key)
        .bind(k.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_insert_error)?;
        tx.commit().await.map_err(backend)
    }

    async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>> {
        let rows = sqlx::query(
            "SELECT account_id, name, created_at FROM accounts ORDER BY created_at, account_id",
        )
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(AccountRecord {
                    account_id: r.try_get("account_id").map_err(backend)?,
                    name: r.try_get("name").map_err(backend)?,
                    created_at: r.try_get("created_at").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn account_exists(&self, account_id: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM accounts WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
        Ok(row.is_some())
    }

    async fn access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRecord>> {
        const SQL: &str = "SELECT access_key_id, account_id, secret_access_key, created_at \
                           FROM access_keys WHERE access_key_id = $1";
        if let Some(inline) = &self.inline {
            return inline.first(SQL, &[Arg::Text(access_key_id)], |r| access_key_from_row(r));
        }
        let row = sqlx::query(SQL)
            .bind(access_key_id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
        row.as_ref().map(access_key_from_row).transpose()
    }

    async fn set_console_password(
        &self,
        account_id: &str,
        hash: &str,
        now: Millis,
    ) -> StoreResult<bool> {
        if !self.account_exists(account_id).await? {
            return Ok(false);
        }
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO console_passwords (account_id, hash, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET hash = excluded.hash, \
             updated_at = excluded.updated_at",
        )
        .bind(account_id)
        .bind(hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        // A new password is often a response to a leaked one: no browser keeps the old access.
        sqlx::query("DELETE FROM console_sessions WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn console_password(&self, account_id: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT hash FROM console_passwords WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
        row.map(|r| r.try_get("hash").map_err(backend)).transpose()
    }

    async fn create_console_session(&self, s: &ConsoleSessionRecord) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1")
            .bind(s.created_at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO console_sessions (id_hash, account_id, region, csrf, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id_hash)
        .bind(&s.account_id)
        .bind(&s.region)
        .bind(&s.csrf)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(map_insert_error)?;
        tx.commit().await.map_err(backend)
    }

    async fn console_session(
        &self,
        id_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<ConsoleSessionRecord>> {
        let row = sqlx::query(
            "SELECT id_hash, account_id, region, csrf, created_at, expires_at \
             FROM console_sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        row.map(|r| {
            Ok(ConsoleSessionRecord {
                id_hash: r.try_get("id_hash").map_err(backend)?,
                account_id: r.try_get("account_id").map_err(backend)?,
                region: r.try_get("region").map_err(backend)?,
                csrf: r.try_get("csrf").map_err(backend)?,
                created_at: r.try_get("created_at").map_err(backend)?,
                expires_at: r.try_get("expires_at").map_err(backend)?,
            })
        })
        .transpose()
    }

    async fn set_console_session_region(&self, id_hash: &str, region: &str) -> StoreResult<bool> {
        let res = sqlx::query("UPDATE console_sessions SET region = $1 WHERE id_hash = $2")
            .bind(region)
            .bind(id_hash)
            .execute(self.w()?)
            .await
            .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn delete_console_session(&self, id_hash: &str) -> StoreResult<bool> {
        let res = sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.w()?)
            .await
            .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }
}

fn access_key_from_row(row: &impl Cols) -> StoreResult<AccessKeyRecord> {
    Ok(AccessKeyRecord {
        access_key_id: row.text("access_key_id")?,
        account_id: row.text("account_id")?,
        secret_access_key: row.text("secret_access_key")?,
        created_at: row.int("created_at")?,
    })
}
