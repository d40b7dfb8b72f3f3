//! The *execute* stage: one bounded pool per datasource, binding values, the per-API timeout,
//! and handing rows to the encoder. SQLite files run on workers of their own ([`super::lite`]).
//!
//! Pools are created lazily, on first use, inside the runtime that calls them (a pool belongs
//! to the runtime that made it). Every data-API session is read-only: PostgreSQL and MySQL
//! sessions are switched to read-only transactions when they connect, SQLite files are opened
//! read-only, so no template or native query can write, at no cost per call.
//!
//! In front of each sqlx pool sits a [`WarmPool`]: sqlx tests every connection handed back to
//! its pool with a round trip to the database, so a connection whose call finished cleanly is
//! kept and handed to the next call instead.
//!
//! Past 600 lines only with its unit tests.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use catalog::model::{Datasource, DatasourceKind, ResultFormat, ScalarType};
use dashmap::DashMap;
use futures_util::TryStreamExt;
use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, Postgres};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, Executor, Row};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::access::DatasourceAccess;
use super::encode::{CellRow, PageInfo, encode_data};
use super::lite::{LiteError, LitePool};
use super::mask::Masking;
use super::reject::StatementError;
use super::render::RenderedSql;
use super::schema;
use super::value::Value;
use crate::error::ApiError;

/// How long a call waits for a free connection before giving up (within its own timeout).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a kept connection may wait for its next call before it goes back to sqlx's pool,
/// which tests it and applies its idle timeout and lifetime.
const KEPT_IDLE: Duration = Duration::from_secs(30);

/// How long a connection may go from call to call without passing through sqlx's pool (whose
/// test and `max_lifetime` only apply to connections handed back to it).
const KEPT_LIFETIME: Duration = Duration::from_secs(600);

/// A pool for one datasource, typed per database (sqlx's `Any` loses the types we encode).
#[derive(Debug, Clone)]
pub enum DbPool {
    Sqlite(Arc<LitePool>),
    Postgres(Arc<WarmPool<Postgres>>),
    Mysql(Arc<WarmPool<MySql>>),
}

/// sqlx's pool with the connections of cleanly finished calls kept in front of it.
///
/// sqlx tests each connection handed back to its pool with a round trip (PostgreSQL `Sync`,
/// MySQL `COM_PING`) in a task of its own: for a point lookup, a second round trip per call.
/// A connection whose statement ran to its last row without error is kept here and taken by
/// the next call (newest first); anything else (an error, a timeout, a capped result, a call
/// dropped mid-way) drops it, and sqlx tests or closes it as usual. A permit per connection
/// the pool may open makes waiting calls take kept connections in turn rather than wait on
/// sqlx's pool for connections that sit here.
pub struct WarmPool<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
    permits: Semaphore,
    /// Oldest first.
    kept: Mutex<Vec<Kept<DB>>>,
    idle: Duration,
    lifetime: Duration,
}

/// A connection between calls.
struct Kept<DB: sqlx::Database> {
    conn: WarmConnection<DB>,
    since: Instant,
}

/// A connection and when it last came from sqlx's pool.
struct WarmConnection<DB: sqlx::Database> {
    conn: PoolConnection<DB>,
    from_pool: Instant,
}

impl<DB: sqlx::Database> fmt::Debug for WarmPool<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WarmPool")
            .field("size", &self.pool.size())
            .field("free", &self.permits.available_permits())
            .finish()
    }
}

impl<DB: sqlx::Database> Drop for WarmPool<DB> {
    fn drop(&mut self) {
        let kept = std::mem::take(self.kept.get_mut().unwrap_or_else(PoisonError::into_inner));
        if tokio::runtime::Handle::try_current().is_err() {
            // sqlx takes a connection back in a task of its own, which needs a runtime; without
            // one (a runtime already shut down), close the connections here instead.
            for kept in kept {
                drop(kept.conn.conn.leak());
            }
        }
    }
}

impl<DB: sqlx::Database> WarmPool<DB> {
    fn new(pool: sqlx::Pool<DB>) -> Arc<WarmPool<DB>> {
        Arc::new(WarmPool::with_limits(pool, KEPT_IDLE, KEPT_LIFETIME))
    }

    /// One permit per connection the sqlx pool may open.
    fn with_limits(pool: sqlx::Pool<DB>, idle: Duration, lifetime: Duration) -> WarmPool<DB> {
        let permits = Semaphore::new(pool.options().get_max_connections() as usize);
        WarmPool { pool, permits, kept: Mutex::new(Vec::new()), idle, lifetime }
    }

    /// A connection, and the permit to hold while using it.
    async fn acquire(&self) -> Result<(SemaphorePermit<'_>, WarmConnection<DB>), sqlx::Error> {
        let permit = self.permits.acquire().await.map_err(|_| sqlx::Error::PoolClosed)?;
        let conn = match self.take_kept() {
            Some(conn) => conn,
            // Boxed: sqlx's acquire future is kilobytes (it can connect), and held inline it
            // would make every call's future that big, to be allocated and copied per call.
            None => WarmConnection { conn: Box::pin(self.pool.acquire()).await?, from_pool: Instant::now() },
        };
        Ok((permit, conn))
    }

    /// The newest kept connection; those idle too long go back to sqlx's pool.
    fn take_kept(&self) -> Option<WarmConnection<DB>> {
        let now = Instant::now();
        let (conn, stale) = {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            let fresh_from = kept.iter().position(|k| now - k.since <= self.idle).unwrap_or(kept.len());
            let stale: Vec<_> = kept.drain(..fresh_from).collect();
            (kept.pop().map(|k| k.conn), stale)
        };
        drop(stale); // outside the lock: sqlx spawns a task per connection handed back
        conn
    }

    /// Keeps a connection whose call finished cleanly, before its permit is let go; one that
    /// has gone `lifetime` without sqlx's pool goes back to it instead.
    fn keep(&self, conn: WarmConnection<DB>) {
        if conn.from_pool.elapsed() < self.lifetime {
            let kept = Kept { conn, since: Instant::now() };
            self.kept.lock().unwrap_or_else(PoisonError::into_inner).push(kept);
        }
    }

    /// Connections open, and those not in use: idle in sqlx's pool or kept here.
    fn usage(&self) -> (u32, u32) {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner).len();
        let size = self.pool.size();
        let idle = (self.pool.num_idle() as u64).saturating_add(kept as u64).min(u64::from(size)) as u32;
        (size, idle)
    }

    #[cfg(test)]
    fn kept_count(&self) -> usize {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// The default pool size: about two connections per core.
pub fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(2, 64) as u32
}

/// How to reach one datasource, typed per database.
pub(super) enum ConnectOptions {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
    Mysql(MySqlConnectOptions),
}

impl ConnectOptions {
    pub(super) fn of(ds: &Datasource) -> Result<ConnectOptions, String> {
        let c = &ds.connection;
        Ok(match ds.kind {
            DatasourceKind::Sqlite => {
                if c.database.is_empty() {
                    return Err("a SQLite datasource needs `database`: the path of its file".into());
                }
                ConnectOptions::Sqlite(SqliteConnectOptions::new().filename(&c.database).read_only(true))
            }
            DatasourceKind::Postgres => {
                let mut options = PgConnectOptions::new()
                    .host(&c.host)
                    .port(if c.port == 0 { 5432 } else { c.port })
                    .username(&c.username)
                    .database(&c.database)
                    .application_name("sluice")
                    .options([("default_transaction_read_only", "on")]);
                if let Some(password) = &c.password {
                    options = options.password(password);
                }
                ConnectOptions::Postgres(options)
            }
            DatasourceKind::Mysql => {
                let mut options = MySqlConnectOptions::new()
                    .host(&c.host)
                    .port(if c.port == 0 { 3306 } else { c.port })
                    .username(&c.username)
                    .database(&c.database);
                if let Some(password) = &c.password {
                    options = options.password(password);
                }
                ConnectOptions::Mysql(options)
            }
        })
    }
}

/// Refuses a new connection (`Err`) that can see a Sluice metadata store
/// ([`super::access::STORE_MARKER`]): whatever its address, such a database is never a datasource.
/// A macro, as one generic function over `Executor` makes futures that are not `Send`.
macro_rules! refuse_store {
    ($conn:expr, $kind:expr) => {
        async {
            if let Some(query) = $crate::sql::access::marker_query($kind)
                && $conn.fetch_optional(query).await?.is_some()
            {
                return Err(sqlx::Error::Configuration("the database holds a Sluice metadata store".into()));
            }
            Ok::<(), sqlx::Error>(())
        }
    };
}
pub(super) use refuse_store;

impl DbPool {
    /// Builds a pool that connects on first use.
    pub fn connect_lazy(ds: &Datasource) -> Result<DbPool, String> {
        let size = ds.connection.pool_size.unwrap_or_else(default_pool_size).max(1);
        Ok(match ConnectOptions::of(ds)? {
            ConnectOptions::Sqlite(_) => {
                DbPool::Sqlite(Arc::new(LitePool::new(PathBuf::from(&ds.connection.database), size)))
            }
            ConnectOptions::Postgres(options) => DbPool::Postgres(WarmPool::new(
                PgPoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // PostgreSQL 14+: notice a caller gone (timed out) mid-query and
                            // stop it. Older servers lack the setting; that is fine.
                            let _ = conn.execute("SET client_connection_check_interval = 1000").await;
                            refuse_store!(conn, DatasourceKind::Postgres).await
                        })
                    })
                    .connect_lazy_with(options),
            )),
            ConnectOptions::Mysql(options) => DbPool::Mysql(WarmPool::new(
                MySqlPoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                            Ok(())
                        })
                    })
                    .connect_lazy_with(options),
            )),
        })
    }
}

/// Why a connection test failed, as its caller may learn it: nothing of the driver's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionProblem {
    /// The access policy refuses the datasource (its file, host or database).
    NotAllowed,
    /// Nothing answered as a database there: a missing file, a host or port that does not
    /// answer, a database that does not exist, a timeout.
    CannotConnect,
    /// The server refused the user name or password.
    AuthenticationFailed,
}

impl ConnectionProblem {
    pub fn message(self) -> &'static str {
        match self {
            ConnectionProblem::NotAllowed => "not allowed",
            ConnectionProblem::CannotConnect => "cannot connect",
            ConnectionProblem::AuthenticationFailed => "authentication failed",
        }
    }
}

/// Checks that a datasource answers, as the access policy admits it: one connection
/// ([`schema::connect`], which the schema reads open the same way), `SELECT 1`, closed again.
/// The error says only which [`ConnectionProblem`] it was; the detail is logged.
pub async fn test_connection(
    ds: &Datasource,
    access: &DatasourceAccess,
    timeout: Duration,
) -> Result<(), ConnectionProblem> {
    let attempt = async {
        let conn = schema::connect(ds, access, "connection test").await?;
        conn.probe().await.map_err(|e| schema::problem(ds, "connection test", &e))
    };
    tokio::time::timeout(timeout, attempt).await.unwrap_or(Err(ConnectionProblem::CannotConnect))
}

/// The pools of every datasource in use, keyed by datasource id, each opened only once the
/// access policy admitted its datasource. A datasource whose settings changed gets a fresh
/// pool; the old one closes when its last user lets go. A refusal is remembered like a pool,
/// so refused calls do not ask DNS or the file system again.
#[derive(Debug, Default)]
pub struct PoolRegistry {
    pools: DashMap<i64, (u64, Result<DbPool, ApiError>)>,
    /// Deny-all until set: a registry nobody configured reaches no database.
    access: RwLock<Arc<DatasourceAccess>>,
}

impl PoolRegistry {
    /// A registry that opens what `access` admits.
    pub fn new(access: DatasourceAccess) -> Self {
        PoolRegistry { pools: DashMap::new(), access: RwLock::new(Arc::new(access)) }
    }

    /// Replaces the policy. Unless it is the same, every pool is let go: each datasource is
    /// admitted again, under the new policy, on its next call.
    pub fn set_access(&self, access: DatasourceAccess) {
        let mut current = self.access.write().unwrap_or_else(PoisonError::into_inner);
        if **current != access {
            *current = Arc::new(access);
            self.pools.clear();
        }
    }

    /// The policy pools are opened under.
    pub fn access(&self) -> Arc<DatasourceAccess> {
        Arc::clone(&self.access.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Each open pool's connections, by datasource, for `/metrics`.
    pub fn pool_use(&self) -> Vec<calls::metrics::PoolUse> {
        self.pools
            .iter()
            .filter_map(|entry| {
                let (size, idle) = entry.value().1.as_ref().ok()?.usage();
                Some(calls::metrics::PoolUse { datasource_id: *entry.key(), size, idle })
            })
            .collect()
    }

    pub async fn pool_for(&self, source: &PoolSource) -> Result<DbPool, ApiError> {
        let ds = &source.datasource;
        if let Some(entry) = self.pools.get(&ds.id)
            && entry.0 == source.fingerprint
        {
            return entry.1.clone();
        }
        let access = self.access();
        let pool = match access.admit(ds).await {
            Ok(admitted) => DbPool::connect_lazy(&admitted).map_err(|why| {
                tracing::error!(datasource = ds.id, %why, "datasource settings cannot make a pool");
                ApiError::database()
            }),
            Err(refusal) => {
                tracing::warn!(datasource = ds.id, why = refusal.why(), "datasource refused by the access policy");
                Err(ApiError::datasource_unavailable())
            }
        };
        self.pools.insert(ds.id, (source.fingerprint, pool.clone()));
        pool
    }
}

/// A datasource with the fingerprint of its connection settings, taken once when an API is
/// compiled rather than on every call: it picks (or replaces) the datasource's pool.
#[derive(Debug, Clone)]
pub struct PoolSource {
    datasource: Datasource,
    fingerprint: u64,
}

impl PoolSource {
    pub fn new(datasource: &Datasource) -> PoolSource {
        PoolSource { fingerprint: fingerprint(datasource), datasource: datasource.clone() }
    }

    pub fn datasource_id(&self) -> i64 {
        self.datasource.id
    }
}

fn fingerprint(ds: &Datasource) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    ds.kind.hash(&mut hasher);
    ds.connection.host.hash(&mut hasher);
    ds.connection.port.hash(&mut hasher);
    ds.connection.database.hash(&mut hasher);
    ds.connection.username.hash(&mut hasher);
    ds.connection.password.hash(&mut hasher);
    ds.connection.pool_size.hash(&mut hasher);
    hasher.finish()
}

/// What one statement run needs besides its SQL.
pub struct RunSpec<'a> {
    pub statement: &'a RenderedSql,
    /// Run first, on the same connection, when the caller asked for a total.
    pub count: Option<&'a RenderedSql>,
    /// Rows beyond this are not returned (one more is read, to learn that the results ended).
    pub row_cap: usize,
    pub timeout: Duration,
    pub format: ResultFormat,
    pub hints: &'a (dyn Fn(&str) -> Option<ScalarType> + Sync),
    pub page: Option<PageInfo>,
    /// The columns the caller may not see (`None`: every column is shown).
    pub hidden: Option<&'a Masking>,
}

/// Why a statement run produced no rows; the caller's answer is decided by who runs it.
#[derive(Debug)]
pub enum RunError {
    /// The API's timeout passed (waiting for a connection or for the statement).
    Timeout { timeout_ms: u64 },
    /// No connection could be had: never the statement's fault. Says why, for the log.
    Unavailable(String),
    /// The database answered the statement (or its count) with an error.
    Statement(StatementError),
}

/// The encoded `data` object and what it cost.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub data: Vec<u8>,
    pub row_count: usize,
    pub total: Option<u64>,
    pub execute: Duration,
    pub encode: Duration,
}

impl DbPool {
    /// Connections open, and those not in use (for `/metrics`).
    pub fn usage(&self) -> (u32, u32) {
        match self {
            DbPool::Sqlite(p) => p.usage(),
            DbPool::Postgres(p) => p.usage(),
            DbPool::Mysql(p) => p.usage(),
        }
    }

    /// Runs a statement (and its count) under the timeout and encodes the rows.
    pub async fn run(&self, spec: &RunSpec<'_>) -> Result<RunOutcome, RunError> {
        match self {
            DbPool::Sqlite(p) => run_lite(p, spec).await,
            DbPool::Postgres(p) => run_on::<Postgres>(p, spec, bind_postgres).await,
            DbPool::Mysql(p) => run_on::<MySql>(p, spec, bind_mysql).await,
        }
    }
}

type Query<DB> = sqlx::query::Query<'static, DB, <DB as sqlx::Database>::Arguments>;

async fn run_on<DB>(
    pool: &WarmPool<DB>,
    spec: &RunSpec<'_>,
    bind: fn(Query<DB>, &Value) -> Query<DB>,
) -> Result<RunOutcome, RunError>
where
    DB: sqlx::Database,
    DB::Row: CellRow,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + spec.timeout);
    let timeout_ms = spec.timeout.as_millis() as u64;
    let (permit, mut warm) = match tokio::time::timeout_at(deadline, pool.acquire()).await {
        Ok(Ok(acquired)) => acquired,
        Ok(Err(e)) => return Err(RunError::Unavailable(e.to_string())),
        Err(_) => return Err(RunError::Timeout { timeout_ms }),
    };
    let conn = &mut warm.conn;
    let work = async {
        let total = match spec.count {
            Some(count) => {
                let query = count.binds.iter().fold(sqlx::query(AssertSqlSafe(count.sql.clone())), bind);
                let row = query.fetch_one(&mut **conn).await?;
                Some(row.try_get::<i64, _>(0usize)?.max(0) as u64)
            }
            None => None,
        };
        let query = spec.statement.binds.iter().fold(sqlx::query(AssertSqlSafe(spec.statement.sql.clone())), bind);
        let mut stream = query.fetch(&mut **conn);
        let mut rows = Vec::new();
        // Whether the statement's results were read to their end: one row past the cap is
        // read (and dropped) to learn it, since a point lookup's cap is its only row.
        let drained = loop {
            match stream.try_next().await? {
                Some(_) if rows.len() == spec.row_cap => break false,
                Some(row) => rows.push(row),
                None => break true,
            }
        };
        Ok::<_, sqlx::Error>((rows, total, drained))
    };
    let (rows, total, drained) = match tokio::time::timeout_at(deadline, work).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => return Err(RunError::Statement(StatementError::Sqlx(e))),
        Err(_) => {
            // The connection is mid-query: never hand it to another caller.
            conn.close_on_drop();
            return Err(RunError::Timeout { timeout_ms });
        }
    };
    // Only a connection with nothing left to read is kept (a count's leftovers, or rows past
    // the cap, are for sqlx's own test to clear).
    if drained && spec.count.is_none() {
        pool.keep(warm);
    } else {
        drop(warm);
    }
    drop(permit);
    let execute = started.elapsed();
    let encode_started = Instant::now();
    let mut data = Vec::with_capacity(64 + rows.len() * 64);
    let page = spec.page.map(|p| PageInfo { total, ..p });
    encode_data(&rows, spec.format, spec.hints, page, spec.hidden, &mut data);
    Ok(RunOutcome { data, row_count: rows.len(), total, execute, encode: encode_started.elapsed() })
}

fn bind_postgres(query: Query<Postgres>, value: &Value) -> Query<Postgres> {
    match value {
        Value::Null => query.bind(None::<String>),
        // The placeholder takes the bound type: a text NULL compared with a number fails.
        Value::TypedNull(scalar) => match scalar {
            ScalarType::Bool => query.bind(None::<bool>),
            ScalarType::Int => query.bind(None::<i64>),
            ScalarType::Float => query.bind(None::<f64>),
            ScalarType::Decimal => query.bind(None::<rust_decimal::Decimal>),
            ScalarType::String => query.bind(None::<String>),
            ScalarType::Date => query.bind(None::<chrono::NaiveDate>),
            ScalarType::DateTime => query.bind(None::<chrono::NaiveDateTime>),
            ScalarType::Json => query.bind(None::<sqlx::types::Json<serde_json::Value>>),
        },
        Value::Bool(b) => query.bind(*b),
        Value::Int(i) => query.bind(*i),
        Value::Float(f) => query.bind(*f),
        Value::Decimal(d) => query.bind(*d),
        Value::Text(s) => query.bind(s.clone()),
        Value::Date(d) => query.bind(*d),
        Value::DateTime(t) => query.bind(*t),
        Value::Json(j) => query.bind(sqlx::types::Json(j.clone())),
        Value::Array(_) => query.bind(value.to_json().to_string()),
    }
}

fn bind_mysql(query: Query<MySql>, value: &Value) -> Query<MySql> {
    match value {
        // MySQL and SQLite compare a NULL of any type with anything.
        Value::Null | Value::TypedNull(_) => query.bind(None::<String>),
        Value::Bool(b) => query.bind(*b),
        Value::Int(i) => query.bind(*i),
        Value::Float(f) => query.bind(*f),
        Value::Decimal(d) => query.bind(*d),
        Value::Text(s) => query.bind(s.clone()),
        Value::Date(d) => query.bind(*d),
        Value::DateTime(t) => query.bind(*t),
        Value::Json(j) => query.bind(j.to_string()),
        Value::Array(_) => query.bind(value.to_json().to_string()),
    }
}

/// [`run_on`] for SQLite: the statement runs on one of the file's workers, which hands the
/// rows back; they are encoded here like any database's.
async fn run_lite(pool: &LitePool, spec: &RunSpec<'_>) -> Result<RunOutcome, RunError> {
    let started = Instant::now();
    let timeout_ms = spec.timeout.as_millis() as u64;
    let read = pool.run(spec.statement, spec.count, spec.row_cap, started + spec.timeout).await;
    let read = read.map_err(|e| match e {
        LiteError::Timeout => RunError::Timeout { timeout_ms },
        LiteError::Unavailable(why) => RunError::Unavailable(why),
        LiteError::Statement(e) => RunError::Statement(StatementError::Sqlite(e)),
    })?;
    let execute = started.elapsed();
    let encode_started = Instant::now();
    let mut data = Vec::with_capacity(64 + read.rows.len() * 64);
    let page = spec.page.map(|p| PageInfo { total: read.total, ..p });
    encode_data(&read.rows, spec.format, spec.hints, page, spec.hidden, &mut data);
    Ok(RunOutcome { data, row_count: read.rows.len(), total: read.total, execute, encode: encode_started.elapsed() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{Sqlite, SqlitePoolOptions};

    fn one_connection(lifetime: Duration) -> WarmPool<Sqlite> {
        let options = SqliteConnectOptions::new().in_memory(true);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_lazy_with(options);
        WarmPool::with_limits(pool, KEPT_IDLE, lifetime)
    }

    #[tokio::test]
    async fn a_connection_is_kept_until_its_lifetime_without_the_pool_is_up() {
        let warm = one_connection(Duration::from_secs(600));
        assert_eq!(warm.permits.available_permits(), 1, "one permit per connection of the pool");
        let (permit, conn) = warm.acquire().await.unwrap();
        warm.keep(conn);
        drop(permit);
        assert_eq!(warm.kept_count(), 1);
        // Taken again from the kept ones (sqlx's only connection is the kept one).
        let (_permit, conn) = warm.acquire().await.unwrap();
        assert_eq!(warm.kept_count(), 0);
        drop(conn);

        let expired = one_connection(Duration::ZERO);
        let (permit, conn) = expired.acquire().await.unwrap();
        expired.keep(conn);
        drop(permit);
        assert_eq!(expired.kept_count(), 0, "past its lifetime it goes back to sqlx's pool");
    }

    /// Every call's future holds this one: kept small, it is cheap to allocate and move.
    #[tokio::test]
    async fn a_statement_run_future_stays_small() {
        let pool = PgPoolOptions::new().max_connections(1).connect_lazy_with(PgConnectOptions::new());
        let warm = WarmPool::with_limits(pool, KEPT_IDLE, KEPT_LIFETIME);
        let lite = LitePool::new(PathBuf::from("unused.db"), 1);
        let statement = RenderedSql { sql: "SELECT 1".into(), binds: Vec::new() };
        let hints = |_: &str| None;
        let spec = RunSpec {
            statement: &statement,
            count: None,
            row_cap: 1,
            timeout: Duration::from_secs(1),
            format: ResultFormat::Json,
            hints: &hints,
            page: None,
            hidden: None,
        };
        let acquire = std::mem::size_of_val(&warm.acquire());
        let run = std::mem::size_of_val(&run_on::<Postgres>(&warm, &spec, bind_postgres));
        let run_lite = std::mem::size_of_val(&run_lite(&lite, &spec));
        assert!(acquire <= 512, "WarmPool::acquire's future is {acquire} bytes");
        assert!(run <= 1024, "run_on's future is {run} bytes");
        assert!(run_lite <= 1024, "run_lite's future is {run_lite} bytes");
    }
}
