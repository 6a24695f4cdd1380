//! The [`Store`] implementation over SQL, for SQLite (embedded, the default) and PostgreSQL.
//!
//! Both engines run the same migrations and the same queries through sqlx's `Any` driver; the
//! few places where they must differ (SQLite's single writer and IMMEDIATE transactions,
//! PostgreSQL's advisory locks, a listing page fetched as one JSON row on SQLite) are chosen by
//! [`Engine`] and nowhere else. This crate holds no business rules: limits arrive as
//! arguments, and every method is one transaction.

mod tx;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use photon_store::{
    AccessKeyRecord, AccountRecord, AgentRelease, AppRecord, Association, BaseRelease,
    BuilderAttrs, BuilderFile, BuilderRecord, ConsoleSessionRecord, CopyStart, DeleteOutcome,
    FaultRecord, FleetAttrs, FleetRecord, ImageAttrs, ImageQuery, ImageRecord, ImageRow,
    ImageScope, ImageShare, ImageUsage, JobOutcome, JobRecord, JobState, Millis, OsSettings,
    QuotaRecord, ResourceKey, ResourceKind, SessionRecord, StackAttrs, StackRecord, Store,
    StoreError, StoreResult, Transition, UpdateStart, IMAGE_ATTRS_VERSION,
};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct SqlStore {
    engine: Engine,
    /// Write transactions still allowed before every write fails (`halt_writes_after`);
    /// negative for no limit.
    halt: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// Reads go here: several connections.
    read: AnyPool,
    /// Writes go here. On SQLite it is a single connection, because SQLite has one writer and a
    /// deferred transaction that upgrades to a write lock fails instead of waiting; queuing the
    /// writers in-process avoids that. On PostgreSQL it is the same pool as `read`.
    write: AnyPool,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn map_insert_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => backend(e),
    }
}

impl SqlStore {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies the migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            // The URL may carry a password: name only its scheme.
            let scheme = url.split(':').next().unwrap_or("");
            return Err(StoreError::Backend(format!(
                "unsupported database URL scheme '{scheme}:': use sqlite://PATH or postgres://…"
            )));
        };
        let store = match engine {
            Engine::Sqlite => {
                let opts = || {
                    AnyPoolOptions::new().after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers run beside the writer; busy_timeout makes a
                            // second process (e.g. `photon accounts create`) wait, not fail.
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            // FULL: a commit survives an OS crash or power loss, not just a killed process.
                            conn.execute("PRAGMA synchronous = FULL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            Ok(())
                        })
                    })
                };
                let write = opts()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await
                    .map_err(backend)?;
                MIGRATOR.run(&write).await.map_err(backend)?;
                let read = opts()
                    .max_connections(read_connections())
                    .connect(url)
                    .await
                    .map_err(backend)?;
                SqlStore {
                    engine,
                    halt: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(-1)),
                    read,
                    write,
                }
            }
            Engine::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await
                    .map_err(backend)?;
                MIGRATOR.run(&pool).await.map_err(backend)?;
                SqlStore {
                    engine,
                    halt: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(-1)),
                    read: pool.clone(),
                    write: pool,
                }
            }
        };
        Ok(store)
    }

    /// Starts a write transaction. SQLite's is IMMEDIATE: it takes the write lock up front, so
    /// a transaction that reads and then writes waits for another process's writer (bounded by
    /// busy_timeout) instead of failing with SQLITE_BUSY_SNAPSHOT when it upgrades.
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        self.writing()?;
        match self.engine {
            Engine::Sqlite => self
                .write
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(backend),
            Engine::Postgres => self.write.begin().await.map_err(backend),
        }
    }

    /// A crash, simulated for crash-consistency tests: after `n` more writes (transactions or
    /// single statements) every write fails, as if the process had died there; `None` lifts
    /// it (the restart). What those tests prove is that no sequence of commits a job step makes
    /// can leave a state that a re-run does not repair.
    pub fn halt_writes_after(&self, n: Option<u32>) {
        self.halt
            .store(n.map_or(-1, i64::from), std::sync::atomic::Ordering::SeqCst);
    }

    fn writing(&self) -> StoreResult<()> {
        use std::sync::atomic::Ordering;
        let allowed = self
            .halt
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n != 0).then(|| if n > 0 { n - 1 } else { n })
            });
        allowed
            .map(|_| ())
            .map_err(|_| StoreError::Backend("writes halted (a simulated crash)".into()))
    }

    /// The write pool, for single-statement writes (counted like transactions).
    fn w(&self) -> StoreResult<&AnyPool> {
        self.writing()?;
        Ok(&self.write)
    }

    /// Serialises transactions that touch one resource. SQLite needs nothing: it has one
    /// writer. PostgreSQL takes a transaction-scoped advisory lock on the key.
    async fn lock(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        key: &str,
    ) -> StoreResult<()> {
        if self.engine == Engine::Postgres {
            sqlx::query("SELECT 1 AS one FROM (SELECT pg_advisory_xact_lock(hashtext($1))) l")
                .bind(key)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    pub fn engine_kind(&self) -> Engine {
        self.engine
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Opens (creating if needed) the SQLite database file `path`.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

const IMAGE_COLS: &str =
    "i.region, i.owner, i.name, i.arn, i.sort_key, i.state, i.platform, i.created_at, i.attrs";

/// The select list of an image row: its columns, the caller's share (if any) and whether the
/// owner shares it at all.
fn image_select(share_cols: &str) -> String {
    format!(
        "SELECT {IMAGE_COLS}, {share_cols}, \
         (SELECT COUNT(*) FROM image_shares o WHERE o.region = i.region AND o.owner = i.owner \
          AND o.image_name = i.name) AS share_count"
    )
}

const NO_SHARE: &str =
    "CAST(NULL AS BIGINT) AS allow_fleet, CAST(NULL AS BIGINT) AS allow_image_builder";
const SHARE: &str = "s.allow_fleet AS allow_fleet, s.allow_image_builder AS allow_image_builder";

/// One image of a page as the JSON aggregate carries it, in the column order of `list_images`.
type PageRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    ImageAttrs,
    Option<i64>,
    Option<i64>,
    i64,
);

trait IntoImageRow {
    fn into_row(self) -> StoreResult<ImageRow>;
}

impl IntoImageRow for PageRow {
    fn into_row(self) -> StoreResult<ImageRow> {
        let (region, owner, name, arn, sort_key, state, platform, created_at, attrs, f, b, n) =
            self;
        check_attrs_version(&attrs)?;
        Ok(ImageRow {
            image: ImageRecord {
                region,
                owner,
                name,
                arn,
                state,
                platform,
                created_at,
                attrs,
            },
            sort_key,
            shared_with_caller: match (f, b) {
                (Some(f), Some(b)) => Some((f != 0, b != 0)),
                _ => None,
            },
            shared_with_others: n > 0,
        })
    }
}

fn check_attrs_version(attrs: &ImageAttrs) -> StoreResult<()> {
    if attrs.v > IMAGE_ATTRS_VERSION {
        return Err(StoreError::Backend(format!(
            "an image was written by a newer Photon (attributes v{}); upgrade this binary",
            attrs.v
        )));
    }
    Ok(())
}

const BUILDER_COLS: &str = "region, owner, name, arn, state, platform, instance_type, image_arn, \
    created_at, attrs";

fn builder_from_row(row: &AnyRow) -> StoreResult<BuilderRecord> {
    let attrs: String = row.try_get("attrs").map_err(backend)?;
    let attrs: BuilderAttrs = serde_json::from_str(&attrs).map_err(backend)?;
    if attrs.v > IMAGE_ATTRS_VERSION {
        return Err(StoreError::Backend(format!(
            "an image builder was written by a newer Photon (attributes v{}); upgrade this binary",
            attrs.v
        )));
    }
    Ok(BuilderRecord {
        region: row.try_get("region").map_err(backend)?,
        owner: row.try_get("owner").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        arn: row.try_get("arn").map_err(backend)?,
        state: row.try_get("state").map_err(backend)?,
        platform: row.try_get("platform").map_err(backend)?,
        instance_type: row.try_get("instance_type").map_err(backend)?,
        image_arn: row.try_get("image_arn").map_err(backend)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        attrs,
    })
}

const FLEET_COLS: &str = "region, owner, name, arn, state, image_arn, instance_type, fleet_type, \
    created_at, attrs";

fn fleet_from_row(row: &AnyRow) -> StoreResult<FleetRecord> {
    let attrs: String = row.try_get("attrs").map_err(backend)?;
    let attrs: FleetAttrs = serde_json::from_str(&attrs).map_err(backend)?;
    Ok(FleetRecord {
        region: row.try_get("region").map_err(backend)?,
        owner: row.try_get("owner").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        arn: row.try_get("arn").map_err(backend)?,
        state: row.try_get("state").map_err(backend)?,
        image_arn: row.try_get("image_arn").map_err(backend)?,
        instance_type: row.try_get("instance_type").map_err(backend)?,
        fleet_type: row.try_get("fleet_type").map_err(backend)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        attrs,
    })
}

/// One fleet by its key (region, owner, name).
async fn one_fleet<'e, E>(exec: E, key: [&str; 3]) -> StoreResult<Option<FleetRecord>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let [region, owner, name] = key;
    let row = sqlx::query(&format!(
        "SELECT {FLEET_COLS} FROM fleets WHERE region = $1 AND owner = $2 AND name = $3"
    ))
    .bind(region)
    .bind(owner)
    .bind(name)
    .fetch_optional(exec)
    .await
    .map_err(backend)?;
    row.as_ref().map(fleet_from_row).transpose()
}

fn stack_from_row(row: &AnyRow) -> StoreResult<StackRecord> {
    let attrs: String = row.try_get("attrs").map_err(backend)?;
    Ok(StackRecord {
        region: row.try_get("region").map_err(backend)?,
        owner: row.try_get("owner").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        arn: row.try_get("arn").map_err(backend)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        attrs: serde_json::from_str::<StackAttrs>(&attrs).map_err(backend)?,
    })
}

async fn one_stack<'e, E>(exec: E, key: [&str; 3]) -> StoreResult<Option<StackRecord>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let [region, owner, name] = key;
    let row = sqlx::query(
        "SELECT region, owner, name, arn, created_at, attrs FROM stacks \
         WHERE region = $1 AND owner = $2 AND name = $3",
    )
    .bind(region)
    .bind(owner)
    .bind(name)
    .fetch_optional(exec)
    .await
    .map_err(backend)?;
    row.as_ref().map(stack_from_row).transpose()
}

/// One page of an account's resources of one table, by sort key, each with its sort key.
async fn list_page<T>(
    pool: &AnyPool,
    table_and_cols: (&str, &str),
    (region, owner): (&str, &str),
    after: Option<&str>,
    limit: u32,
    from_row: fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Vec<(String, T)>> {
    let (table, cols) = table_and_cols;
    let rows = sqlx::query(&format!(
        "SELECT {cols}, sort_key FROM {table} WHERE region = $1 AND owner = $2 \
         AND sort_key > $3 ORDER BY sort_key LIMIT $4"
    ))
    .bind(region)
    .bind(owner)
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|r| Ok((r.try_get("sort_key").map_err(backend)?, from_row(r)?)))
        .collect()
}

const JOB_COLS: &str = "id, kind, account_id, region, resource, payload, state, run_at, attempts, \
    max_attempts, lease_owner, lease_until, last_error, created_at, updated_at";

fn job_from_row(row: &AnyRow) -> StoreResult<JobRecord> {
    let state: String = row.try_get("state").map_err(backend)?;
    Ok(JobRecord {
        id: row.try_get("id").map_err(backend)?,
        kind: row.try_get("kind").map_err(backend)?,
        account_id: row.try_get("account_id").map_err(backend)?,
        region: row.try_get("region").map_err(backend)?,
        resource: row.try_get("resource").map_err(backend)?,
        payload: row.try_get("payload").map_err(backend)?,
        state: JobState::parse(&state)
            .ok_or_else(|| StoreError::Backend(format!("unknown job state '{state}'")))?,
        run_at: row.try_get("run_at").map_err(backend)?,
        attempts: row.try_get("attempts").map_err(backend)?,
        max_attempts: row.try_get("max_attempts").map_err(backend)?,
        lease_owner: row.try_get("lease_owner").map_err(backend)?,
        lease_until: row.try_get("lease_until").map_err(backend)?,
        last_error: row.try_get("last_error").map_err(backend)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

/// Inserts a job inside a caller's transaction, so a state change and the job that carries it
/// on commit together.
async fn insert_job(conn: &mut sqlx::AnyConnection, job: &JobRecord) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO jobs ({JOB_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(&job.id)
    .bind(&job.kind)
    .bind(&job.account_id)
    .bind(&job.region)
    .bind(&job.resource)
    .bind(&job.payload)
    .bind(job.state.as_str())
    .bind(job.run_at)
    .bind(job.attempts)
    .bind(job.max_attempts)
    .bind(&job.lease_owner)
    .bind(job.lease_until)
    .bind(&job.last_error)
    .bind(job.created_at)
    .bind(job.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(map_insert_error)?;
    Ok(())
}

/// The query for one image by its key (region, owner, name).
fn image_by_key() -> String {
    format!(
        "{} FROM images i WHERE i.region = $1 AND i.owner = $2 AND i.name = $3",
        image_select(NO_SHARE)
    )
}

/// Runs an image query that binds three text values and finds at most one row.
async fn one_image<'e, E>(exec: E, sql: &str, binds: [&str; 3]) -> StoreResult<Option<ImageRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let [a, b, c] = binds;
    let row = sqlx::query(sql)
        .bind(a)
        .bind(b)
        .bind(c)
        .fetch_optional(exec)
        .await
        .map_err(backend)?;
    row.as_ref().map(image_from_row).transpose()
}

fn image_from_row(row: &AnyRow) -> StoreResult<ImageRow> {
    let attrs: String = row.try_get("attrs").map_err(backend)?;
    let attrs: ImageAttrs = serde_json::from_str(&attrs).map_err(backend)?;
    check_attrs_version(&attrs)?;
    let fleet: Option<i64> = row.try_get("allow_fleet").map_err(backend)?;
    let builder: Option<i64> = row.try_get("allow_image_builder").map_err(backend)?;
    let share_count: i64 = row.try_get("share_count").map_err(backend)?;
    Ok(ImageRow {
        image: ImageRecord {
            region: row.try_get("region").map_err(backend)?,
            owner: row.try_get("owner").map_err(backend)?,
            name: row.try_get("name").map_err(backend)?,
            arn: row.try_get("arn").map_err(backend)?,
            state: row.try_get("state").map_err(backend)?,
            platform: row.try_get("platform").map_err(backend)?,
            created_at: row.try_get("created_at").map_err(backend)?,
            attrs,
        },
        sort_key: row.try_get("sort_key").map_err(backend)?,
        shared_with_caller: match (fleet, builder) {
            (Some(f), Some(b)) => Some((f != 0, b != 0)),
            _ => None,
        },
        shared_with_others: share_count > 0,
    })
}

#[async_trait]
impl Store for SqlStore {
    async fn write(&self) -> StoreResult<Box<dyn photon_store::WriteTx>> {
        Ok(Box::new(tx::SqlWriteTx {
            tx: self.begin_write().await?,
            engine: self.engine,
            order: photon_store::LockOrder::default(),
        }))
    }

    fn engine(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
        row.map(|r| r.try_get("value").map_err(backend)).transpose()
    }

    async fn init_setting(&self, key: &str, value: &str) -> StoreResult<String> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let v: String = row.try_get("value").map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(v)
    }

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
        let row = sqlx::query(
            "SELECT access_key_id, account_id, secret_access_key, created_at FROM access_keys \
             WHERE access_key_id = $1",
        )
        .bind(access_key_id)
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        row.map(|r| {
            Ok(AccessKeyRecord {
                access_key_id: r.try_get("access_key_id").map_err(backend)?,
                account_id: r.try_get("account_id").map_err(backend)?,
                secret_access_key: r.try_get("secret_access_key").map_err(backend)?,
                created_at: r.try_get("created_at").map_err(backend)?,
            })
        })
        .transpose()
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

    async fn insert_image(&self, image: &ImageRecord) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_image(&mut tx, image, false).await?;
        tx.commit().await.map_err(backend)
    }

    async fn seed_images(&self, images: &[ImageRecord]) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let mut n = 0;
        for image in images {
            n += insert_image(&mut tx, image, true).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(n)
    }

    async fn image(&self, region: &str, owner: &str, name: &str) -> StoreResult<Option<ImageRow>> {
        one_image(&self.read, &image_by_key(), [region, owner, name]).await
    }

    async fn image_for(
        &self,
        region: &str,
        account_id: &str,
        arn: &str,
    ) -> StoreResult<Option<ImageRow>> {
        let sql = format!(
            "{} FROM images i LEFT JOIN image_shares s ON s.region = i.region AND s.owner = i.owner \
             AND s.image_name = i.name AND s.shared_account = $2 \
             WHERE i.arn = $3 AND i.region = $1 \
             AND (i.owner = '' OR i.owner = $2 OR s.shared_account IS NOT NULL)",
            image_select(SHARE)
        );
        one_image(&self.read, &sql, [region, account_id, arn]).await
    }

    async fn shared_image_by_name(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
    ) -> StoreResult<Option<ImageRow>> {
        let sql = format!(
            "{} FROM image_shares s JOIN images i ON i.region = s.region AND i.owner = s.owner \
             AND i.name = s.image_name WHERE s.region = $1 AND s.shared_account = $2 AND s.image_name = $3 \
             ORDER BY s.sort_key LIMIT 1",
            image_select(SHARE)
        );
        one_image(&self.read, &sql, [region, account_id, name]).await
    }

    async fn list_images(&self, q: &ImageQuery) -> StoreResult<Vec<ImageRow>> {
        // Each slice is one range scan of an index, limited to the page; the union is sorted
        // and cut again. The cost follows the page size, not the registry size.
        let public = format!(
            "SELECT * FROM ({} FROM images i WHERE i.region = $1 AND i.owner = '' AND i.sort_key > $3 \
             ORDER BY i.sort_key LIMIT $4) p",
            image_select(NO_SHARE)
        );
        let owned = format!(
            "SELECT * FROM ({} FROM images i WHERE i.region = $1 AND i.owner = $2 AND i.sort_key > $3 \
             ORDER BY i.sort_key LIMIT $4) o",
            image_select(NO_SHARE)
        );
        let shared = format!(
            "SELECT * FROM ({} FROM image_shares s JOIN images i ON i.region = s.region \
             AND i.owner = s.owner AND i.name = s.image_name \
             WHERE s.region = $1 AND s.shared_account = $2 AND s.sort_key > $3 \
             ORDER BY s.sort_key LIMIT $4) s",
            image_select(SHARE)
        );
        let parts: Vec<&str> = match q.scope {
            ImageScope::Public => vec![&public],
            ImageScope::Owned => vec![&owned],
            ImageScope::SharedWithMe => vec![&shared],
            ImageScope::Visible => vec![&public, &owned, &shared],
        };
        let page = format!(
            "SELECT * FROM ({}) u ORDER BY sort_key LIMIT $4",
            parts.join(" UNION ALL ")
        );
        if self.engine == Engine::Postgres {
            // PostgreSQL streams rows on one connection; building JSON there costs more than it
            // saves (docs/benchmarks.md).
            let rows = sqlx::query(&page)
                .bind(&q.region)
                .bind(&q.account_id)
                .bind(q.after.as_deref().unwrap_or(""))
                .bind(i64::from(q.limit))
                .fetch_all(&self.read)
                .await
                .map_err(backend)?;
            return rows.iter().map(image_from_row).collect();
        }
        // On SQLite every row is a hand-off from sqlx's connection thread and a copy of each
        // column, which was most of what a page cost; so the page comes back as one row
        // holding a JSON array of rows.
        let sql = format!(
            "SELECT json_group_array(json_array(region, owner, name, arn, sort_key, state, \
             platform, created_at, json(attrs), allow_fleet, allow_image_builder, share_count)) \
             AS page FROM ({page}) t"
        );
        let row = sqlx::query(&sql)
            .bind(&q.region)
            .bind(&q.account_id)
            .bind(q.after.as_deref().unwrap_or(""))
            .bind(i64::from(q.limit))
            .fetch_one(&self.read)
            .await
            .map_err(backend)?;
        let page: Option<String> = row.try_get("page").map_err(backend)?;
        let Some(page) = page else {
            return Ok(Vec::new());
        };
        let rows: Vec<PageRow> = serde_json::from_str(&page).map_err(backend)?;
        let mut out = rows
            .into_iter()
            .map(PageRow::into_row)
            .collect::<StoreResult<Vec<_>>>()?;
        // Aggregates keep the subquery's order in practice; sorting again makes it a guarantee.
        out.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));
        Ok(out)
    }

    async fn count_images(&self, region: &str, owner: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM images WHERE region = $1 AND owner = $2")
            .bind(region)
            .bind(owner)
            .fetch_one(&self.read)
            .await
            .map_err(backend)?;
        row.try_get("n").map_err(backend)
    }

    async fn delete_unused_image(
        &self,
        region: &str,
        owner: &str,
        name: &str,
        deletable_states: &[&str],
    ) -> StoreResult<DeleteOutcome> {
        let mut tx = self.begin_write().await?;
        let arn = ResourceKind::Image.arn(region, owner, name);
        // Taggers and sharers of this image take the same lock, so nothing is added to it
        // between the checks below and the delete.
        self.lock(&mut tx, &arn).await?;
        let Some(row) = one_image(&mut *tx, &image_by_key(), [region, owner, name]).await? else {
            return Ok(DeleteOutcome::NotFound);
        };
        if !deletable_states.contains(&row.image.state.as_str()) {
            return Ok(DeleteOutcome::WrongState(row.image.state));
        }
        let usage = usage_in(&mut tx, region, owner, name).await?;
        if usage.in_use() {
            return Ok(DeleteOutcome::InUse(usage));
        }
        sqlx::query("DELETE FROM tags WHERE resource_arn = $1")
            .bind(&row.image.arn)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        for sql in [
            "DELETE FROM image_shares WHERE region = $1 AND owner = $2 AND image_name = $3",
            "DELETE FROM images WHERE region = $1 AND owner = $2 AND name = $3",
        ] {
            sqlx::query(sql)
                .bind(region)
                .bind(owner)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(DeleteOutcome::Deleted(Box::new(row)))
    }

    async fn image_shares(
        &self,
        (region, owner, name): (&str, &str, &str),
        accounts: &[String],
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ImageShare>> {
        let only = if accounts.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (0..accounts.len()).map(|i| format!("${}", i + 6)).collect();
            format!(" AND shared_account IN ({})", marks.join(", "))
        };
        let sql = format!(
            "SELECT shared_account, allow_fleet, allow_image_builder FROM image_shares \
             WHERE region = $1 AND owner = $2 AND image_name = $3 AND shared_account > $4{only} \
             ORDER BY shared_account LIMIT $5"
        );
        let mut q = sqlx::query(&sql)
            .bind(region)
            .bind(owner)
            .bind(name)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit));
        for a in accounts {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.read).await.map_err(backend)?;
        rows.iter()
            .map(|r| {
                let fleet: i64 = r.try_get("allow_fleet").map_err(backend)?;
                let builder: i64 = r.try_get("allow_image_builder").map_err(backend)?;
                Ok(ImageShare {
                    shared_account: r.try_get("shared_account").map_err(backend)?,
                    allow_fleet: fleet != 0,
                    allow_image_builder: builder != 0,
                })
            })
            .collect()
    }

    async fn create_image_copy(
        &self,
        image: &ImageRecord,
        job: &JobRecord,
        max_images: i64,
        max_copies: i64,
    ) -> StoreResult<CopyStart> {
        let mut tx = self.begin_write().await?;
        // The lock every image creator of this account and region takes: the counts hold.
        self.lock(&mut tx, &format!("images:{}:{}", image.owner, image.region))
            .await?;
        let (region, owner) = (image.region.as_str(), image.owner.as_str());
        let images = count(
            &mut tx,
            "SELECT COUNT(*) AS n FROM images WHERE region = $1 AND owner = $2",
            &[region, owner],
        )
        .await?;
        if images >= max_images {
            return Ok(CopyStart::ImageQuota(max_images));
        }
        // A copy under way is an image of this account in the new copy's state.
        let copying = count(
            &mut tx,
            "SELECT COUNT(*) AS n FROM images WHERE region = $1 AND owner = $2 AND state = $3",
            &[region, owner, &image.state],
        )
        .await?;
        if copying >= max_copies {
            return Ok(CopyStart::CopyQuota(max_copies));
        }
        insert_image(&mut tx, image, false).await?;
        insert_job(&mut tx, job).await?;
        tx.commit().await.map_err(backend)?;
        Ok(CopyStart::Started)
    }

    async fn tags(&self, arn: &str) -> StoreResult<BTreeMap<String, String>> {
        let rows = sqlx::query("SELECT tag_key, tag_value FROM tags WHERE resource_arn = $1")
            .bind(arn)
            .fetch_all(&self.read)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("tag_key").map_err(backend)?,
                    r.try_get("tag_value").map_err(backend)?,
                ))
            })
            .collect()
    }

    async fn put_tags(
        &self,
        resource: &ResourceKey,
        arn: &str,
        tags: &BTreeMap<String, String>,
        max_tags: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        // Serialises taggers and deleters of one resource so the checks below hold.
        self.lock(&mut tx, arn).await?;
        if !resource_exists(&mut tx, resource).await? {
            return Err(StoreError::NotFound);
        }
        let existing: Vec<String> = sqlx::query("SELECT tag_key FROM tags WHERE resource_arn = $1")
            .bind(arn)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| r.try_get("tag_key"))
            .collect::<Result<_, _>>()
            .map_err(backend)?;
        let new_keys = tags.keys().filter(|k| !existing.contains(k)).count() as i64;
        // Tags whose keys start with aws: are the system's and do not count (tagging-basic.md).
        let counted = existing.iter().filter(|k| !k.starts_with("aws:")).count() as i64;
        if counted + new_keys > max_tags {
            return Err(StoreError::LimitReached(max_tags));
        }
        for (k, v) in tags {
            sqlx::query(
                "INSERT INTO tags (resource_arn, tag_key, tag_value) VALUES ($1, $2, $3) \
                 ON CONFLICT (resource_arn, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            )
            .bind(arn)
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn remove_tags(
        &self,
        resource: &ResourceKey,
        arn: &str,
        keys: &[String],
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        self.lock(&mut tx, arn).await?;
        if !resource_exists(&mut tx, resource).await? {
            return Err(StoreError::NotFound);
        }
        for k in keys {
            sqlx::query("DELETE FROM tags WHERE resource_arn = $1 AND tag_key = $2")
                .bind(arn)
                .bind(k)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn create_image_builder(
        &self,
        b: &BuilderRecord,
        tags: &BTreeMap<String, String>,
        job: &JobRecord,
        max_builders: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        // Creators in one account and region queue here, so the count below holds.
        self.lock(&mut tx, &format!("image-builders:{}:{}", b.owner, b.region))
            .await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM image_builders WHERE region = $1 AND owner = $2",
        )
        .bind(&b.region)
        .bind(&b.owner)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        let n: i64 = row.try_get("n").map_err(backend)?;
        if n >= max_builders {
            return Err(StoreError::LimitReached(max_builders));
        }
        insert_builder(&mut tx, b).await?;
        insert_tags(&mut tx, &b.arn, tags).await?;
        insert_job(&mut tx, job).await?;
        tx.commit().await.map_err(backend)
    }

    async fn create_updated_image(
        &self,
        builder: &BuilderRecord,
        image: &ImageRecord,
        tags: &BTreeMap<String, String>,
        job: &JobRecord,
        (max_builders, max_images, max_updates): (i64, i64, i64),
    ) -> StoreResult<UpdateStart> {
        let mut tx = self.begin_write().await?;
        // The locks of builder and image creators of this account and region, in that order.
        self.lock(
            &mut tx,
            &format!("image-builders:{}:{}", builder.owner, builder.region),
        )
        .await?;
        self.lock(&mut tx, &format!("images:{}:{}", image.owner, image.region))
            .await?;
        let key = [image.region.as_str(), image.owner.as_str()];
        let builders = count(
            &mut tx,
            "SELECT COUNT(*) AS n FROM image_builders WHERE region = $1 AND owner = $2",
            &key,
        )
        .await?;
        if builders >= max_builders {
            return Ok(UpdateStart::BuilderQuota(max_builders));
        }
        let images = count(
            &mut tx,
            "SELECT COUNT(*) AS n FROM images WHERE region = $1 AND owner = $2",
            &key,
        )
        .await?;
        if images >= max_images {
            return Ok(UpdateStart::ImageQuota(max_images));
        }
        // An update under way is an image of this account in the new image's state.
        let updates = count(
            &mut tx,
            "SELECT COUNT(*) AS n FROM images WHERE region = $1 AND owner = $2 AND state = $3",
            &[key[0], key[1], &image.state],
        )
        .await?;
        if updates >= max_updates {
            return Ok(UpdateStart::UpdateQuota(max_updates));
        }
        insert_image(&mut tx, image, false).await?;
        insert_builder(&mut tx, builder).await?;
        insert_tags(&mut tx, &image.arn, tags).await?;
        insert_job(&mut tx, job).await?;
        tx.commit().await.map_err(backend)?;
        Ok(UpdateStart::Started)
    }

    async fn image_builder(
        &self,
        region: &str,
        owner: &str,
        name: &str,
    ) -> StoreResult<Option<BuilderRecord>> {
        one_builder(&self.read, [region, owner, name]).await
    }

    async fn list_image_builders(
        &self,
        region: &str,
        owner: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, BuilderRecord)>> {
        list_page(
            &self.read,
            ("image_builders", BUILDER_COLS),
            (region, owner),
            after,
            limit,
            builder_from_row,
        )
        .await
    }

    async fn transition_image_builder(
        &self,
        (region, owner, name): (&str, &str, &str),
        from: &[&str],
        to: &str,
        reason: Option<(String, String)>,
        job: Option<&JobRecord>,
    ) -> StoreResult<Transition> {
        let mut tx = self.begin_write().await?;
        let arn = ResourceKind::ImageBuilder.arn(region, owner, name);
        self.lock(&mut tx, &arn).await?;
        let Some(mut b) = one_builder(&mut *tx, [region, owner, name]).await? else {
            return Ok(Transition::NotFound);
        };
        if !from.contains(&b.state.as_str()) {
            return Ok(Transition::WrongState(b.state));
        }
        b.state = to.to_owned();
        b.attrs.state_change_reason = reason;
        let attrs = serde_json::to_string(&b.attrs).map_err(backend)?;
        sqlx::query(
            "UPDATE image_builders SET state = $4, attrs = $5 \
             WHERE region = $1 AND owner = $2 AND name = $3",
        )
        .bind(region)
        .bind(owner)
        .bind(name)
        .bind(to)
        .bind(attrs)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if let Some(job) = job {
            insert_job(&mut tx, job).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(Transition::Done(Box::new(b)))
    }

    async fn put_builder_file(
        &self,
        (region, owner, name): (&str, &str, &str),
        state: &str,
        file: &BuilderFile,
        now: Millis,
    ) -> StoreResult<Result<(), Option<String>>> {
        let mut tx = self.begin_write().await?;
        self.lock(
            &mut tx,
            &ResourceKind::ImageBuilder.arn(region, owner, name),
        )
        .await?;
        let Some(b) = one_builder(&mut *tx, [region, owner, name]).await? else {
            return Ok(Err(None));
        };
        if b.state != state {
            return Ok(Err(Some(b.state)));
        }
        sqlx::query(
            "INSERT INTO builder_files (region, owner, builder, path, digest, size, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (region, owner, builder, path) \
             DO UPDATE SET digest = excluded.digest, size = excluded.size, \
             updated_at = excluded.updated_at",
        )
        .bind(region)
        .bind(owner)
        .bind(name)
        .bind(&file.path)
        .bind(&file.digest)
        .bind(file.size)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Ok(()))
    }

    async fn set_builder_os_settings(
        &self,
        (region, owner, name): (&str, &str, &str),
        state: &str,
        windows_update: Option<bool>,
        defender: Option<bool>,
    ) -> StoreResult<Result<OsSettings, Option<String>>> {
        let mut tx = self.begin_write().await?;
        self.lock(
            &mut tx,
            &ResourceKind::ImageBuilder.arn(region, owner, name),
        )
        .await?;
        let Some(mut b) = one_builder(&mut *tx, [region, owner, name]).await? else {
            return Ok(Err(None));
        };
        if b.state != state {
            return Ok(Err(Some(b.state)));
        }
        let mut settings = b.attrs.os_settings.unwrap_or_default();
        if let Some(w) = windows_update {
            settings.windows_update = w;
        }
        if let Some(d) = defender {
            settings.defender = Some(d);
        }
        b.attrs.os_settings = Some(settings);
        write_builder_attrs(&mut tx, (region, owner, name), &b.attrs).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Ok(settings))
    }

    async fn set_builder_catalog(
        &self,
        (region, owner, name): (&str, &str, &str),
        state: &str,
        (expected_apps, expected_profile): (&[AppRecord], Option<&str>),
        applications: &[AppRecord],
        default_profile: Option<&str>,
    ) -> StoreResult<Result<(), Option<String>>> {
        let mut tx = self.begin_write().await?;
        self.lock(
            &mut tx,
            &ResourceKind::ImageBuilder.arn(region, owner, name),
        )
        .await?;
        let Some(mut b) = one_builder(&mut *tx, [region, owner, name]).await? else {
            return Ok(Err(None));
        };
        if b.state != state {
            return Ok(Err(Some(b.state)));
        }
        if b.attrs.applications != expected_apps
            || b.attrs.default_profile.as_deref() != expected_profile
        {
            return Ok(Err(Some(photon_store::CATALOG_CHANGED.to_owned())));
        }
        b.attrs.applications = applications.to_vec();
        b.attrs.default_profile = default_profile.map(str::to_owned);
        write_builder_attrs(&mut tx, (region, owner, name), &b.attrs).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Ok(()))
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_image_from_builder(
        &self,
        image: &ImageRecord,
        tags: &BTreeMap<String, String>,
        (region, owner, name): (&str, &str, &str),
        builder_from: &str,
        builder_to: &str,
        job: &JobRecord,
        max_images: i64,
    ) -> StoreResult<Result<(), Option<String>>> {
        let mut tx = self.begin_write().await?;
        self.lock(
            &mut tx,
            &ResourceKind::ImageBuilder.arn(region, owner, name),
        )
        .await?;
        // Image creators of one account and region queue here, so the count below holds.
        self.lock(&mut tx, &format!("images:{}:{}", image.owner, image.region))
            .await?;
        let Some(b) = one_builder(&mut *tx, [region, owner, name]).await? else {
            return Ok(Err(None));
        };
        if b.state != builder_from {
            return Ok(Err(Some(b.state)));
        }
        let row = sqlx::query("SELECT COUNT(*) AS n FROM images WHERE region = $1 AND owner = $2")
            .bind(&image.region)
            .bind(&image.owner)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let n: i64 = row.try_get("n").map_err(backend)?;
        if n >= max_images {
            return Err(StoreError::LimitReached(max_images));
        }
        insert_image(&mut tx, image, false).await?;
        for (k, v) in tags {
            sqlx::query("INSERT INTO tags (resource_arn, tag_key, tag_value) VALUES ($1, $2, $3)")
                .bind(&image.arn)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        sqlx::query(
            "UPDATE image_builders SET state = $4 WHERE region = $1 AND owner = $2 AND name = $3",
        )
        .bind(region)
        .bind(owner)
        .bind(name)
        .bind(builder_to)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        insert_job(&mut tx, job).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Ok(()))
    }

    async fn transition_image(
        &self,
        (region, owner, name): (&str, &str, &str),
        from: &[&str],
        to: &str,
        reason: Option<(String, String)>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let arn = ResourceKind::Image.arn(region, owner, name);
        self.lock(&mut tx, &arn).await?;
        let Some(mut row) = one_image(&mut *tx, &image_by_key(), [region, owner, name]).await?
        else {
            return Ok(false);
        };
        if !from.contains(&row.image.state.as_str()) {
            return Ok(false);
        }
        row.image.attrs.state_change_reason = reason;
        let attrs = serde_json::to_string(&row.image.attrs).map_err(backend)?;
        sqlx::query(
            "UPDATE images SET state = $4, attrs = $5 WHERE region = $1 AND owner = $2 AND name = $3",
        )
        .bind(region)
        .bind(owner)
        .bind(name)
        .bind(to)
        .bind(attrs)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn builder_files(
        &self,
        (region, owner, name): (&str, &str, &str),
    ) -> StoreResult<Vec<BuilderFile>> {
        let rows = sqlx::query(
            "SELECT path, digest, size FROM builder_files \
             WHERE region = $1 AND owner = $2 AND builder = $3",
        )
        .bind(region)
        .bind(owner)
        .bind(name)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(BuilderFile {
                    path: r.try_get("path").map_err(backend)?,
                    digest: r.try_get("digest").map_err(backend)?,
                    size: r.try_get("size").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn remove_image_builder(
        &self,
        (region, owner, name): (&str, &str, &str),
        state: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let arn = ResourceKind::ImageBuilder.arn(region, owner, name);
        self.lock(&mut tx, &arn).await?;
        let res = sqlx::query(
            "DELETE FROM image_builders WHERE region = $1 AND owner = $2 AND name = $3 AND state = $4",
        )
        .bind(region)
        .bind(owner)
        .bind(name)
        .bind(state)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if res.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM tags WHERE resource_arn = $1")
            .bind(&arn)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("DELETE FROM builder_files WHERE region = $1 AND owner = $2 AND builder = $3")
            .bind(region)
            .bind(owner)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn fleet(
        &self,
        region: &str,
        owner: &str,
        name: &str,
    ) -> StoreResult<Option<FleetRecord>> {
        one_fleet(&self.read, [region, owner, name]).await
    }

    async fn list_fleets(
        &self,
        region: &str,
        owner: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, FleetRecord)>> {
        list_page(
            &self.read,
            ("fleets", FLEET_COLS),
            (region, owner),
            after,
            limit,
            fleet_from_row,
        )
        .await
    }

    async fn transition_fleet(
        &self,
        (region, owner, name): (&str, &str, &str),
        from: &[&str],
        to: &str,
        errors: Option<Vec<(String, String)>>,
    ) -> StoreResult<Transition<FleetRecord>> {
        let mut tx = self.begin_write().await?;
        self.lock(&mut tx, &ResourceKind::Fleet.arn(region, owner, name))
            .await?;
        let Some(mut f) = one_fleet(&mut *tx, [region, owner, name]).await? else {
            return Ok(Transition::NotFound);
        };
        if !from.contains(&f.state.as_str()) {
            return Ok(Transition::WrongState(f.state));
        }
        f.state = to.to_owned();
        if let Some(errors) = errors {
            f.attrs.errors = errors;
        }
        write_fleet(&mut tx, &f).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Transition::Done(Box::new(f)))
    }

    async fn remove_fleet(
        &self,
        (region, owner, name): (&str, &str, &str),
        state: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let arn = ResourceKind::Fleet.arn(region, owner, name);
        self.lock(&mut tx, &arn).await?;
        let res = sqlx::query(
            "DELETE FROM fleets WHERE region = $1 AND owner = $2 AND name = $3 AND state = $4",
        )
        .bind(region)
        .bind(owner)
        .bind(name)
        .bind(state)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if res.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM tags WHERE resource_arn = $1")
            .bind(&arn)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn create_stack(
        &self,
        st: &StackRecord,
        tags: &BTreeMap<String, String>,
        max_stacks: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        self.lock(&mut tx, &format!("stacks:{}:{}", st.owner, st.region))
            .await?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM stacks WHERE region = $1 AND owner = $2")
            .bind(&st.region)
            .bind(&st.owner)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let n: i64 = row.try_get("n").map_err(backend)?;
        if n >= max_stacks {
            return Err(StoreError::LimitReached(max_stacks));
        }
        let attrs = serde_json::to_string(&st.attrs).map_err(backend)?;
        sqlx::query(
            "INSERT INTO stacks (region, owner, name, arn, sort_key, created_at, attrs) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&st.region)
        .bind(&st.owner)
        .bind(&st.name)
        .bind(&st.arn)
        .bind(photon_store::hex_key(&st.name))
        .bind(st.created_at)
        .bind(attrs)
        .execute(&mut *tx)
        .await
        .map_err(map_insert_error)?;
        for (k, v) in tags {
            sqlx::query("INSERT INTO tags (resource_arn, tag_key, tag_value) VALUES ($1, $2, $3)")
                .bind(&st.arn)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn stack(
        &self,
        region: &str,
        owner: &str,
        name: &str,
    ) -> StoreResult<Option<StackRecord>> {
        one_stack(&self.read, [region, owner, name]).await
    }

    async fn list_stacks(
        &self,
        region: &str,
        owner: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, StackRecord)>> {
        list_page(
            &self.read,
            ("stacks", "region, owner, name, arn, created_at, attrs"),
            (region, owner),
            after,
            limit,
            stack_from_row,
        )
        .await
    }

    async fn put_stack(&self, st: &StackRecord) -> StoreResult<bool> {
        let attrs = serde_json::to_string(&st.attrs).map_err(backend)?;
        let res = sqlx::query(
            "UPDATE stacks SET attrs = $4 WHERE region = $1 AND owner = $2 AND name = $3",
        )
        .bind(&st.region)
        .bind(&st.owner)
        .bind(&st.name)
        .bind(attrs)
        .execute(self.w()?)
        .await
        .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn delete_stack(&self, (region, owner, name): (&str, &str, &str)) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let arn = ResourceKind::Stack.arn(region, owner, name);
        self.lock(&mut tx, &arn).await?;
        let res = sqlx::query("DELETE FROM stacks WHERE region = $1 AND owner = $2 AND name = $3")
            .bind(region)
            .bind(owner)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if res.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM stack_fleets WHERE region = $1 AND owner = $2 AND stack = $3")
            .bind(region)
            .bind(owner)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("DELETE FROM tags WHERE resource_arn = $1")
            .bind(&arn)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn associate_fleet(
        &self,
        region: &str,
        owner: &str,
        stack: &str,
        fleet: &str,
    ) -> StoreResult<Association> {
        let mut tx = self.begin_write().await?;
        self.lock(&mut tx, &ResourceKind::Stack.arn(region, owner, stack))
            .await?;
        if one_stack(&mut *tx, [region, owner, stack]).await?.is_none() {
            return Ok(Association::NoStack);
        }
        if one_fleet(&mut *tx, [region, owner, fleet]).await?.is_none() {
            return Ok(Association::NoFleet);
        }
        let rows = sqlx::query(
            "SELECT fleet FROM stack_fleets WHERE region = $1 AND owner = $2 AND stack = $3",
        )
        .bind(region)
        .bind(owner)
        .bind(stack)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let current: Vec<String> = rows
            .iter()
            .map(|r| r.try_get("fleet"))
            .collect::<Result<_, _>>()
            .map_err(backend)?;
        if current.iter().any(|f| f == fleet) {
            return Ok(Association::Done);
        }
        if !current.is_empty() {
            return Ok(Association::StackTaken);
        }
        sqlx::query(
            "INSERT INTO stack_fleets (region, owner, stack, fleet) VALUES ($1, $2, $3, $4)",
        )
        .bind(region)
        .bind(owner)
        .bind(stack)
        .bind(fleet)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Association::Done)
    }

    async fn disassociate_fleet(
        &self,
        region: &str,
        owner: &str,
        stack: &str,
        fleet: &str,
    ) -> StoreResult<bool> {
        let res = sqlx::query(
            "DELETE FROM stack_fleets WHERE region = $1 AND owner = $2 AND stack = $3 AND fleet = $4",
        )
        .bind(region)
        .bind(owner)
        .bind(stack)
        .bind(fleet)
        .execute(self.w()?)
        .await
        .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn fleets_of_stack(
        &self,
        region: &str,
        owner: &str,
        stack: &str,
    ) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT fleet FROM stack_fleets WHERE region = $1 AND owner = $2 AND stack = $3 ORDER BY fleet",
        )
        .bind(region)
        .bind(owner)
        .bind(stack)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| r.try_get("fleet").map_err(backend))
            .collect()
    }

    async fn stacks_of_fleet(
        &self,
        region: &str,
        owner: &str,
        fleet: &str,
    ) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT stack FROM stack_fleets WHERE region = $1 AND owner = $2 AND fleet = $3 ORDER BY stack",
        )
        .bind(region)
        .bind(owner)
        .bind(fleet)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| r.try_get("stack").map_err(backend))
            .collect()
    }

    async fn sessions(
        &self,
        region: &str,
        owner: &str,
        fleet: &str,
    ) -> StoreResult<Vec<SessionRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE region = $1 AND owner = $2 AND fleet = $3 \
             ORDER BY started_at, id"
        ))
        .bind(region)
        .bind(owner)
        .bind(fleet)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn session(
        &self,
        region: &str,
        owner: &str,
        id: &str,
    ) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE region = $1 AND owner = $2 AND id = $3"
        ))
        .bind(region)
        .bind(owner)
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch_session(
        &self,
        region: &str,
        owner: &str,
        id: &str,
        now: Millis,
        input: bool,
    ) -> StoreResult<bool> {
        let res = sqlx::query(
            "UPDATE sessions SET last_seen = $4, \
             last_input = CASE WHEN $5 = 1 THEN $4 ELSE last_input END \
             WHERE region = $1 AND owner = $2 AND id = $3",
        )
        .bind(region)
        .bind(owner)
        .bind(id)
        .bind(now)
        .bind(i64::from(input))
        .execute(self.w()?)
        .await
        .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn end_session(&self, region: &str, owner: &str, id: &str) -> StoreResult<bool> {
        let res = sqlx::query("DELETE FROM sessions WHERE region = $1 AND owner = $2 AND id = $3")
            .bind(region)
            .bind(owner)
            .bind(id)
            .execute(self.w()?)
            .await
            .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn enqueue_job(&self, job: &JobRecord) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_job(&mut tx, job).await?;
        tx.commit().await.map_err(backend)
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        now: Millis,
        lease_ms: Millis,
        limit: u32,
    ) -> StoreResult<Vec<JobRecord>> {
        // PostgreSQL: SKIP LOCKED lets several engines claim side by side without waiting on
        // each other's rows. SQLite: the IMMEDIATE transaction already makes claims one at a
        // time.
        let lock = match self.engine {
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $3) \
             OR (state = 'running' AND lease_until < $3) ORDER BY run_at LIMIT $4{lock}) \
             RETURNING {JOB_COLS}"
        );
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(&sql)
            .bind(worker)
            .bind(now.saturating_add(lease_ms))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let mut jobs = rows
            .iter()
            .map(job_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        jobs.sort_by_key(|j| j.run_at);
        Ok(jobs)
    }

    async fn heartbeat_job(
        &self,
        id: &str,
        worker: &str,
        lease_until: Millis,
    ) -> StoreResult<bool> {
        let res = sqlx::query(
            "UPDATE jobs SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(lease_until)
        .execute(self.w()?)
        .await
        .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn finish_job(
        &self,
        id: &str,
        worker: &str,
        outcome: &JobOutcome,
        now: Millis,
    ) -> StoreResult<bool> {
        let (state, run_at, error, reset) = match outcome {
            JobOutcome::Done => (JobState::Done, None, None, 0i64),
            JobOutcome::Continue { run_at } => (JobState::Queued, Some(*run_at), None, 1),
            JobOutcome::Retry { run_at, error } => {
                (JobState::Queued, Some(*run_at), Some(error), 0)
            }
            JobOutcome::Failed { error } => (JobState::Failed, None, Some(error), 0),
        };
        let res = sqlx::query(
            "UPDATE jobs SET state = $3, run_at = COALESCE($4, run_at), \
             last_error = COALESCE($5, last_error), lease_owner = NULL, lease_until = NULL, \
             updated_at = $6, attempts = CASE WHEN $7 = 1 THEN 0 ELSE attempts END \
             WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(worker)
        .bind(state.as_str())
        .bind(run_at)
        .bind(error)
        .bind(now)
        .bind(reset)
        .execute(self.w()?)
        .await
        .map_err(backend)?;
        Ok(res.rows_affected() == 1)
    }

    async fn job(&self, id: &str) -> StoreResult<Option<JobRecord>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn add_fault(&self, f: &FaultRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO faults (id, operation, stage, error_code, message, image, remaining, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&f.id)
        .bind(&f.operation)
        .bind(&f.stage)
        .bind(&f.error_code)
        .bind(&f.message)
        .bind(&f.image)
        .bind(f.remaining)
        .bind(f.created_at)
        .execute(self.w()?)
        .await
        .map_err(map_insert_error)?;
        Ok(())
    }

    async fn faults(&self) -> StoreResult<Vec<FaultRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {FAULT_COLS} FROM faults ORDER BY created_at, id"
        ))
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter().map(fault_from_row).collect()
    }

    async fn clear_faults(&self) -> StoreResult<u64> {
        let res = sqlx::query("DELETE FROM faults")
            .execute(self.w()?)
            .await
            .map_err(backend)?;
        Ok(res.rows_affected())
    }

    async fn seed_releases(
        &self,
        base: &[BaseRelease],
        agents: &[AgentRelease],
    ) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let mut added = 0;
        for r in base {
            added += insert_release(&mut tx, r, " ON CONFLICT DO NOTHING").await?;
        }
        for a in agents {
            added += insert_agent(&mut tx, a, " ON CONFLICT DO NOTHING").await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(added)
    }

    async fn publish_base_release(
        &self,
        release: &BaseRelease,
        images: &[ImageRecord],
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_release(&mut tx, release, "").await?;
        for image in images {
            insert_image(&mut tx, image, false).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn publish_agent(&self, agent: &AgentRelease) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_agent(&mut tx, agent, "").await?;
        tx.commit().await.map_err(backend)
    }

    async fn base_releases(&self) -> StoreResult<Vec<BaseRelease>> {
        let rows = sqlx::query(
            "SELECT platform, image_name, released, agent_version, os_patch_level, \
             driver_versions, content_layer, created_at FROM base_image_releases \
             ORDER BY released, platform, image_name",
        )
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let drivers: String = r.try_get("driver_versions").map_err(backend)?;
                Ok(BaseRelease {
                    platform: r.try_get("platform").map_err(backend)?,
                    image_name: r.try_get("image_name").map_err(backend)?,
                    released: r.try_get("released").map_err(backend)?,
                    agent_version: r.try_get("agent_version").map_err(backend)?,
                    os_patch_level: r.try_get("os_patch_level").map_err(backend)?,
                    driver_versions: serde_json::from_str(&drivers).map_err(backend)?,
                    content_layer: r.try_get("content_layer").map_err(backend)?,
                    created_at: r.try_get("created_at").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn agent_releases(&self) -> StoreResult<Vec<AgentRelease>> {
        let rows = sqlx::query(
            "SELECT version, released, notes, created_at FROM agent_versions \
             ORDER BY released, version",
        )
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(AgentRelease {
                    version: r.try_get("version").map_err(backend)?,
                    released: r.try_get("released").map_err(backend)?,
                    notes: r.try_get("notes").map_err(backend)?,
                    created_at: r.try_get("created_at").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn public_regions(&self) -> StoreResult<Vec<String>> {
        let rows =
            sqlx::query("SELECT DISTINCT region FROM images WHERE owner = '' ORDER BY region")
                .fetch_all(&self.read)
                .await
                .map_err(backend)?;
        rows.iter()
            .map(|r| r.try_get("region").map_err(backend))
            .collect()
    }

    async fn quota(&self, account_id: &str, region: &str, name: &str) -> StoreResult<Option<i64>> {
        // A value for the region wins over the account-wide one (region '').
        let row = sqlx::query(
            "SELECT value FROM quotas WHERE account_id = $1 AND name = $3 AND (region = $2 OR region = '') \
             ORDER BY region DESC LIMIT 1",
        )
        .bind(account_id)
        .bind(region)
        .bind(name)
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        row.map(|r| r.try_get("value").map_err(backend)).transpose()
    }

    async fn set_quotas(&self, quotas: &[QuotaRecord]) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for q in quotas {
            sqlx::query(
                "INSERT INTO quotas (account_id, region, name, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (account_id, region, name) DO UPDATE SET value = excluded.value",
            )
            .bind(&q.account_id)
            .bind(&q.region)
            .bind(&q.name)
            .bind(q.value)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn list_quotas(&self, account_id: Option<&str>) -> StoreResult<Vec<QuotaRecord>> {
        let rows = sqlx::query(
            "SELECT account_id, region, name, value FROM quotas \
             WHERE ($1 = '' OR account_id = $1) ORDER BY account_id, region, name",
        )
        .bind(account_id.unwrap_or(""))
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(QuotaRecord {
                    account_id: r.try_get("account_id").map_err(backend)?,
                    region: r.try_get("region").map_err(backend)?,
                    name: r.try_get("name").map_err(backend)?,
                    value: r.try_get("value").map_err(backend)?,
                })
            })
            .collect()
    }
}

/// A resource's ARN, as the domain forms it; the store needs it to find the resource's tags and
/// to name its lock.
const FAULT_COLS: &str = "id, operation, stage, error_code, message, image, remaining, created_at";

fn fault_from_row(r: &AnyRow) -> StoreResult<FaultRecord> {
    Ok(FaultRecord {
        id: r.try_get("id").map_err(backend)?,
        operation: r.try_get("operation").map_err(backend)?,
        stage: r.try_get("stage").map_err(backend)?,
        error_code: r.try_get("error_code").map_err(backend)?,
        message: r.try_get("message").map_err(backend)?,
        image: r.try_get("image").map_err(backend)?,
        remaining: r.try_get("remaining").map_err(backend)?,
        created_at: r.try_get("created_at").map_err(backend)?,
    })
}

const SESSION_COLS: &str = "id, region, owner, stack, fleet, user_id, instance_id, image_arn, \
    started_at, expires_at, last_seen, last_input";

fn session_from_row(r: &AnyRow) -> StoreResult<SessionRecord> {
    let started_at: i64 = r.try_get("started_at").map_err(backend)?;
    let last_seen: i64 = r.try_get("last_seen").map_err(backend)?;
    let last_input: i64 = r.try_get("last_input").map_err(backend)?;
    Ok(SessionRecord {
        id: r.try_get("id").map_err(backend)?,
        region: r.try_get("region").map_err(backend)?,
        owner: r.try_get("owner").map_err(backend)?,
        stack: r.try_get("stack").map_err(backend)?,
        fleet: r.try_get("fleet").map_err(backend)?,
        user_id: r.try_get("user_id").map_err(backend)?,
        instance_id: r.try_get("instance_id").map_err(backend)?,
        image_arn: r.try_get("image_arn").map_err(backend)?,
        started_at,
        expires_at: r.try_get("expires_at").map_err(backend)?,
        last_seen: last_seen.max(started_at),
        last_input: if last_input == 0 {
            last_seen.max(started_at)
        } else {
            last_input
        },
    })
}

/// Rewrites a fleet's mutable columns inside a caller's transaction.
async fn write_fleet(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    f: &FleetRecord,
) -> StoreResult<()> {
    let attrs = serde_json::to_string(&f.attrs).map_err(backend)?;
    sqlx::query(
        "UPDATE fleets SET state = $4, image_arn = $5, instance_type = $6, attrs = $7 \
         WHERE region = $1 AND owner = $2 AND name = $3",
    )
    .bind(&f.region)
    .bind(&f.owner)
    .bind(&f.name)
    .bind(&f.state)
    .bind(&f.image_arn)
    .bind(&f.instance_type)
    .bind(attrs)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

async fn count(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    sql: &str,
    binds: &[&str],
) -> StoreResult<i64> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    let row = q.fetch_one(&mut **tx).await.map_err(backend)?;
    row.try_get("n").map_err(backend)
}

/// Rewrites a builder's attribute document inside a caller's transaction.
async fn write_builder_attrs(
    conn: &mut sqlx::AnyConnection,
    (region, owner, name): (&str, &str, &str),
    attrs: &BuilderAttrs,
) -> StoreResult<()> {
    let attrs = serde_json::to_string(attrs).map_err(backend)?;
    sqlx::query(
        "UPDATE image_builders SET attrs = $4 WHERE region = $1 AND owner = $2 AND name = $3",
    )
    .bind(region)
    .bind(owner)
    .bind(name)
    .bind(attrs)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// One builder by its key (region, owner, name).
async fn one_builder<'e, E>(exec: E, key: [&str; 3]) -> StoreResult<Option<BuilderRecord>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let [region, owner, name] = key;
    let row = sqlx::query(&format!(
        "SELECT {BUILDER_COLS} FROM image_builders WHERE region = $1 AND owner = $2 AND name = $3"
    ))
    .bind(region)
    .bind(owner)
    .bind(name)
    .fetch_optional(exec)
    .await
    .map_err(backend)?;
    row.as_ref().map(builder_from_row).transpose()
}

async fn usage_in(
    conn: &mut sqlx::AnyConnection,
    region: &str,
    owner: &str,
    name: &str,
) -> StoreResult<ImageUsage> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM image_shares WHERE region = $1 AND owner = $2 AND image_name = $3",
    )
    .bind(region)
    .bind(owner)
    .bind(name)
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)?;
    let shared_with: i64 = row.try_get("n").map_err(backend)?;
    // The owner's own fleets: a recipient's fleet cannot keep an image alive once sharing is
    // gone (removing it zeroed that fleet), and its name is not the owner's to see.
    let rows = sqlx::query(
        "SELECT name FROM fleets WHERE image_arn = $1 AND owner = $2 ORDER BY name LIMIT 6",
    )
    .bind(ResourceKind::Image.arn(region, owner, name))
    .bind(owner)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    let fleet_names: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("name"))
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    let fleets = if fleet_names.len() < 6 {
        fleet_names.len() as i64
    } else {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM fleets WHERE image_arn = $1 AND owner = $2")
                .bind(ResourceKind::Image.arn(region, owner, name))
                .bind(owner)
                .fetch_one(&mut *conn)
                .await
                .map_err(backend)?;
        row.try_get("n").map_err(backend)?
    };
    Ok(ImageUsage {
        shared_with,
        fleets,
        fleet_names: fleet_names.into_iter().take(5).collect(),
    })
}

async fn resource_exists(
    conn: &mut sqlx::AnyConnection,
    resource: &ResourceKey,
) -> StoreResult<bool> {
    match resource {
        ResourceKey::Stack {
            region,
            owner,
            name,
        } => Ok(one_stack(&mut *conn, [region, owner, name])
            .await?
            .is_some()),
        ResourceKey::Fleet {
            region,
            owner,
            name,
        } => Ok(one_fleet(&mut *conn, [region, owner, name])
            .await?
            .is_some()),
        ResourceKey::ImageBuilder {
            region,
            owner,
            name,
        } => {
            let row = sqlx::query(
                "SELECT 1 AS one FROM image_builders WHERE region = $1 AND owner = $2 AND name = $3",
            )
            .bind(region)
            .bind(owner)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
            Ok(row.is_some())
        }
        ResourceKey::Image {
            region,
            owner,
            name,
        } => {
            let row = sqlx::query(
                "SELECT 1 AS one FROM images WHERE region = $1 AND owner = $2 AND name = $3",
            )
            .bind(region)
            .bind(owner)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
            Ok(row.is_some())
        }
    }
}

async fn insert_builder(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    b: &BuilderRecord,
) -> StoreResult<()> {
    let attrs = serde_json::to_string(&b.attrs).map_err(backend)?;
    sqlx::query(
        "INSERT INTO image_builders (region, owner, name, arn, sort_key, state, platform, \
         instance_type, image_arn, created_at, attrs) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&b.region)
    .bind(&b.owner)
    .bind(&b.name)
    .bind(&b.arn)
    .bind(photon_store::hex_key(&b.name))
    .bind(&b.state)
    .bind(&b.platform)
    .bind(&b.instance_type)
    .bind(&b.image_arn)
    .bind(b.created_at)
    .bind(attrs)
    .execute(&mut **tx)
    .await
    .map_err(map_insert_error)?;
    Ok(())
}

/// Inserts a new fleet row; `Conflict` when the name is taken.
pub(crate) async fn insert_fleet(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    f: &FleetRecord,
) -> StoreResult<()> {
    let attrs = serde_json::to_string(&f.attrs).map_err(backend)?;
    sqlx::query(
        "INSERT INTO fleets (region, owner, name, arn, sort_key, state, image_arn, instance_type, \
         fleet_type, created_at, attrs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&f.region)
    .bind(&f.owner)
    .bind(&f.name)
    .bind(&f.arn)
    .bind(photon_store::hex_key(&f.name))
    .bind(&f.state)
    .bind(&f.image_arn)
    .bind(&f.instance_type)
    .bind(&f.fleet_type)
    .bind(f.created_at)
    .bind(attrs)
    .execute(&mut **tx)
    .await
    .map_err(map_insert_error)?;
    Ok(())
}

pub(crate) async fn insert_tags(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> StoreResult<()> {
    for (k, v) in tags {
        sqlx::query("INSERT INTO tags (resource_arn, tag_key, tag_value) VALUES ($1, $2, $3)")
            .bind(arn)
            .bind(k)
            .bind(v)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

async fn insert_release(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    r: &BaseRelease,
    conflict: &str,
) -> StoreResult<u64> {
    let drivers = serde_json::to_string(&r.driver_versions).map_err(backend)?;
    let res = sqlx::query(&format!(
        "INSERT INTO base_image_releases (platform, image_name, released, agent_version, \
         os_patch_level, driver_versions, content_layer, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8){conflict}"
    ))
    .bind(&r.platform)
    .bind(&r.image_name)
    .bind(&r.released)
    .bind(&r.agent_version)
    .bind(&r.os_patch_level)
    .bind(drivers)
    .bind(&r.content_layer)
    .bind(r.created_at)
    .execute(&mut **tx)
    .await
    .map_err(map_insert_error)?;
    Ok(res.rows_affected())
}

async fn insert_agent(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    a: &AgentRelease,
    conflict: &str,
) -> StoreResult<u64> {
    let res = sqlx::query(&format!(
        "INSERT INTO agent_versions (version, released, notes, created_at) \
         VALUES ($1, $2, $3, $4){conflict}"
    ))
    .bind(&a.version)
    .bind(&a.released)
    .bind(&a.notes)
    .bind(a.created_at)
    .execute(&mut **tx)
    .await
    .map_err(map_insert_error)?;
    Ok(res.rows_affected())
}

async fn insert_image(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    image: &ImageRecord,
    ignore_existing: bool,
) -> StoreResult<u64> {
    let attrs = serde_json::to_string(&image.attrs).map_err(backend)?;
    let conflict = if ignore_existing {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    let sql = format!(
        "INSERT INTO images (region, owner, name, arn, sort_key, state, platform, created_at, attrs) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9){conflict}"
    );
    let res = sqlx::query(&sql)
        .bind(&image.region)
        .bind(&image.owner)
        .bind(&image.name)
        .bind(&image.arn)
        .bind(photon_store::image_sort_key(&image.name, &image.arn))
        .bind(&image.state)
        .bind(&image.platform)
        .bind(image.created_at)
        .bind(attrs)
        .execute(&mut **tx)
        .await
        .map_err(map_insert_error)?;
    Ok(res.rows_affected())
}

impl FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sqlite" => Ok(Engine::Sqlite),
            "postgres" => Ok(Engine::Postgres),
            _ => Err(format!("unknown engine '{s}'")),
        }
    }
}

/// SQLite readers: two per core. Each sqlx SQLite connection runs on a thread of its own, and
/// more of them than cores only adds thread switches (docs/benchmarks.md).
fn read_connections() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores * 2).unwrap_or(4).clamp(2, 16)
}
