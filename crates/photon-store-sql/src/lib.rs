//! The [`Store`] implementation over SQL, for SQLite (embedded, the default) and PostgreSQL.
//!
//! Both engines run the same migrations and the same queries through sqlx's `Any` driver; the
//! few places where they must differ (SQLite's single writer and IMMEDIATE transactions,
//! PostgreSQL's advisory locks, SQLite's hot reads run on the calling thread by `inline`) are
//! chosen by [`Engine`] and nowhere else. This crate holds no business rules: limits arrive as
//! arguments, and every method is one transaction.
//!
//! Each aggregate's store methods live in a module of their own (`accounts`, `images`, `tags`,
//! `builders`, `fleets`, `stacks`, `sessions`, `jobs`, `operator`); this file keeps the
//! connection set-up, what differs between the engines, and the row mapping they share.

mod accounts;
mod builders;
mod fleets;
mod images;
mod inline;
mod jobs;
mod operator;
mod sessions;
mod stacks;
use stacks::insert_stack;
mod tags;
mod tx;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use photon_store::prelude::*;
use photon_store::{
    AccessKeyRecord, AccountRecord, AgentRelease, BaseRelease, BuilderAttrs, BuilderFile,
    BuilderRecord, ConsoleSessionRecord, FaultRecord, FleetAttrs, FleetRecord, ImageAttrs,
    ImageQuery, ImageRecord, ImageRow, ImageScope, ImageShare, ImageUsage, JobOutcome, JobRecord,
    JobState, Key, Millis, QueueStats, QuotaRecord, ResourceKey, ResourceKind, SessionRecord,
    StackAttrs, StackRecord, Store, StoreError, StoreResult, IMAGE_ATTRS_VERSION,
};
use photon_types::{FleetState, ImageBuilderState, ImageState};
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
    /// On SQLite, the hot reads run on the calling thread (`inline`); `None` on PostgreSQL.
    inline: Option<inline::InlineReader>,
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
                    AnyPoolOptions::new()
                        // A SQLite connection is a file handle that does not go stale; the
                        // default ping before every acquire would cost each statement a
                        // second round trip to the connection's thread.
                        .test_before_acquire(false)
                        .after_connect(|conn, _| {
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
                let file = sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(backend)?;
                SqlStore {
                    engine,
                    halt: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(-1)),
                    read,
                    write,
                    inline: Some(inline::InlineReader::new(file.get_filename())?),
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
                    inline: None,
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

/// A state name read back as the model's enum; a name this build does not know was written by
/// a newer (or a broken) Photon, and reading on would misreport the resource.
fn parse_state<S>(name: &str, from_wire: fn(&str) -> Option<S>, kind: &str) -> StoreResult<S> {
    from_wire(name).ok_or_else(|| {
        StoreError::Backend(format!(
            "an {kind} is stored in state '{name}', which this build does not know; \
             upgrade this binary"
        ))
    })
}

fn state_column<S>(
    row: &impl Cols,
    from_wire: fn(&str) -> Option<S>,
    kind: &str,
) -> StoreResult<S> {
    parse_state(&row.text("state")?, from_wire, kind)
}

/// A result row, whichever driver read it (sqlx, or the inline SQLite reader), so each row
/// mapping is written once.
trait Cols {
    fn text(&self, col: &str) -> StoreResult<String>;
    fn int(&self, col: &str) -> StoreResult<i64>;
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>>;
}

impl Cols for AnyRow {
    fn text(&self, col: &str) -> StoreResult<String> {
        self.try_get(col).map_err(backend)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.try_get(col).map_err(backend)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.try_get(col).map_err(backend)
    }
}

impl Cols for inline::InlineRow<'_> {
    fn text(&self, col: &str) -> StoreResult<String> {
        self.get(col)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.get(col)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.get(col)
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
        state: state_column(row, ImageBuilderState::from_wire, "image builder")?,
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
        state: state_column(row, FleetState::from_wire, "fleet")?,
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
fn image_by_key() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "{} FROM images i WHERE i.region = $1 AND i.owner = $2 AND i.name = $3",
            image_select(NO_SHARE)
        )
    });
    &SQL
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

fn image_from_row(row: &impl Cols) -> StoreResult<ImageRow> {
    let attrs: ImageAttrs = serde_json::from_str(&row.text("attrs")?).map_err(backend)?;
    check_attrs_version(&attrs)?;
    let fleet = row.opt_int("allow_fleet")?;
    let builder = row.opt_int("allow_image_builder")?;
    Ok(ImageRow {
        image: ImageRecord {
            region: row.text("region")?,
            owner: row.text("owner")?,
            name: row.text("name")?,
            arn: row.text("arn")?,
            state: state_column(row, ImageState::from_wire, "image")?,
            platform: row.text("platform")?,
            created_at: row.int("created_at")?,
            attrs,
        },
        sort_key: row.text("sort_key")?,
        shared_with_caller: match (fleet, builder) {
            (Some(f), Some(b)) => Some((f != 0, b != 0)),
            _ => None,
        },
        shared_with_others: row.int("share_count")? > 0,
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
        // The ping goes the way the read path goes, so `/health` stays its ceiling.
        if let Some(inline) = &self.inline {
            return inline.first("SELECT 1", &[], |_| Ok(())).map(|_| ());
        }
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
    .bind(f.state.as_str())
    .bind(&f.image_arn)
    .bind(&f.instance_type)
    .bind(attrs)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

/// The `n` of a `SELECT COUNT(*) AS n …` that binds text values, in a transaction or on a pool.
async fn count<'e, 'q: 'e, E>(exec: E, sql: &'q str, binds: &[&'q str]) -> StoreResult<i64>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    let row = q.fetch_one(exec).await.map_err(backend)?;
    row.try_get("n").map_err(backend)
}

/// The table of a per-account resource kind (the rows keyed by region, owner, name).
fn table_of(kind: ResourceKind) -> StoreResult<&'static str> {
    match kind {
        ResourceKind::Image => Ok("images"),
        ResourceKind::ImageBuilder => Ok("image_builders"),
        ResourceKind::Fleet => Ok("fleets"),
        ResourceKind::Stack => Ok("stacks"),
        // Sessions are keyed by id under their fleet, not by name.
        ResourceKind::Session => Err(StoreError::Backend(
            "sessions are not a per-account table keyed by name".into(),
        )),
    }
}

/// How many resources of `kind` one account has in a region.
async fn count_owned(
    conn: &mut sqlx::AnyConnection,
    kind: ResourceKind,
    region: &str,
    owner: &str,
) -> StoreResult<i64> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM {} WHERE region = $1 AND owner = $2",
        table_of(kind)?
    );
    count(&mut *conn, &sql, &[region, owner]).await
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
    .bind(b.state.as_str())
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
    .bind(f.state.as_str())
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
        .bind(image.state.as_str())
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
