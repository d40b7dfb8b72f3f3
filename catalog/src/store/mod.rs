//! The metadata store: where workgroups, datasources, APIs, their saved versions, their
//! publications to environments and callers' apps live, and who manages them: users and their
//! tokens, workgroup members, the folder tree APIs sit in, the audit log, each workgroup's
//! library of workflow functions, marketplace listings and the requests that wait for approval,
//! and its webhook channels with the outbox of their notifications.
//!
//! One code path serves two backends through `sqlx::Any`: a SQLite file (the default, opened
//! in WAL mode with foreign keys on) and PostgreSQL. Only the DDL differs per backend
//! (`migrations/{sqlite,postgres}`); every query is written once in the common dialect, with
//! `$n` placeholders (SQLite reads `$1` as positional parameter 1), `RETURNING`, integer ids,
//! text and JSON kept as text. Timestamps are milliseconds since the Unix epoch.
//!
//! Datasource passwords are sealed with the [`SecretBox`] before they reach the database and
//! are only opened by [`Store::datasource_with_secret`]; every other read is redacted.
//!
//! Every write that can change what is served or configured also bumps a one-row counter, the
//! [revision](Store::revision), in the same transaction; a serving process polls it to learn
//! that another process (an admin node, `sluice apply`) changed the store. Writes that fail
//! change nothing, the revision included. Some writes are bookkeeping and leave it alone: a
//! token's `last_used_at` (written by [`Store::authenticate`]), audit entries, and webhook
//! deliveries and grant expiry notices.
//!
//! Writes that touch several rows run in one transaction. A transaction that must read before
//! it writes starts with a write ("touching" the row it depends on), which takes SQLite's write
//! lock up front and PostgreSQL's row lock, so concurrent writers queue instead of racing.

mod alarms;
mod apis;
mod apps;
mod audit;
mod callers;
mod datasources;
mod digests;
mod folders;
mod functions;
mod market;
mod members;
mod publications;
mod tokens;
mod users;
mod webhooks;
mod workgroups;

pub use alarms::{AlarmEventQuery, AlarmTransition, MAX_ALARM_EVENT_PAGE};
pub use apis::{ApiQuery, ApiStatus, SamplesEdit};
pub use apps::{APP_TOKEN_MAX_TTL_SECS, MAX_IP_ALLOW};
pub use audit::MAX_AUDIT_PAGE;
pub use callers::{AppCredentials, AppTokenEntry, CallerDirectory, GrayRelease};
pub use digests::{ApiDigest, ApiWrite, ApiWritten, PublishedDigest};
pub use folders::MAX_FOLDER_DEPTH;
pub use functions::MAX_FUNCTION_SOURCE;
pub use market::{ApprovalQuery, ApprovalScope, Asking, Decision, MarketQuery, MarketSort};
pub use publications::PublishedApi;
pub use tokens::{hash_token, token_prefix};
pub use webhooks::{ClaimedDelivery, DeliveryOutcome, MAX_DELIVERY_PAGE};

use std::borrow::Cow;
use std::str::FromStr;

use sqlx::any::AnyPoolOptions;
use sqlx::error::ErrorKind;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyConnection, AnyPool};
use sqlx::{ConnectOptions, Connection, Row, SqlSafeStr};

use crate::model::Environment;
// Children read the clock as `super::now_millis`.
use crate::now_ms as now_millis;
use crate::route_space::{RouteClaim, conflict};
use crate::secret::{SecretBox, SecretError};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for (or one it must refer to) does not exist.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// The write would break a uniqueness or reference rule (duplicate name, datasource in use).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input is unacceptable as given.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The API's path would take or shadow requests of another published API (see
    /// [`route_space`](crate::route_space)).
    #[error("path conflict with API {} ({})", .0.api_id, .0.why)]
    PathConflict(Box<PathConflict>),
    /// A stored row cannot be read back (bad JSON, unknown kind).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// A sealed password cannot be opened, usually because the store key changed.
    #[error("stored secret: {0}")]
    Secret(#[from] SecretError),
    #[error("migrating the store failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The published API a path collides with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathConflict {
    pub api_id: i64,
    pub api_name: String,
    pub workgroup_id: i64,
    pub method: String,
    pub path: String,
    pub environment: Environment,
    /// Which rule of the route space it breaks.
    pub why: &'static str,
}

impl StoreError {
    fn not_found(what: &'static str, id: impl ToString) -> StoreError {
        StoreError::NotFound { what, id: id.to_string() }
    }
}

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Reads the backend from a connection URL's scheme.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StoreError::Invalid(format!(
                "unsupported store URL `{}`: expected sqlite://path or postgres://…",
                url_for_messages(url)
            ))),
        }
    }

    fn migrations(self) -> Vec<Migration> {
        let (init, publish, access, callers, platform, scale, functions, marketplace, notifications, details, alarms) =
            match self {
                Backend::Sqlite => (
                    include_str!("../../migrations/sqlite/0001_init.sql"),
                    include_str!("../../migrations/sqlite/0002_publish.sql"),
                    include_str!("../../migrations/sqlite/0003_access.sql"),
                    include_str!("../../migrations/sqlite/0004_callers.sql"),
                    include_str!("../../migrations/sqlite/0005_platform.sql"),
                    include_str!("../../migrations/sqlite/0006_scale.sql"),
                    include_str!("../../migrations/sqlite/0007_functions.sql"),
                    include_str!("../../migrations/sqlite/0008_marketplace.sql"),
                    include_str!("../../migrations/sqlite/0009_notifications.sql"),
                    include_str!("../../migrations/sqlite/0010_api_details.sql"),
                    include_str!("../../migrations/sqlite/0011_alarms.sql"),
                ),
                Backend::Postgres => (
                    include_str!("../../migrations/postgres/0001_init.sql"),
                    include_str!("../../migrations/postgres/0002_publish.sql"),
                    include_str!("../../migrations/postgres/0003_access.sql"),
                    include_str!("../../migrations/postgres/0004_callers.sql"),
                    include_str!("../../migrations/postgres/0005_platform.sql"),
                    include_str!("../../migrations/postgres/0006_scale.sql"),
                    include_str!("../../migrations/postgres/0007_functions.sql"),
                    include_str!("../../migrations/postgres/0008_marketplace.sql"),
                    include_str!("../../migrations/postgres/0009_notifications.sql"),
                    include_str!("../../migrations/postgres/0010_api_details.sql"),
                    include_str!("../../migrations/postgres/0011_alarms.sql"),
                ),
            };
        vec![
            migration(1, "init", init),
            migration(2, "publish", publish),
            migration(3, "access", access),
            migration(4, "callers", callers),
            migration(5, "platform", platform),
            migration(6, "scale", scale),
            migration(7, "functions", functions),
            migration(8, "marketplace", marketplace),
            migration(9, "notifications", notifications),
            migration(10, "api_details", details),
            migration(11, "alarms", alarms),
        ]
    }
}

fn migration(version: i64, description: &'static str, sql: &'static str) -> Migration {
    Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, sql.into_sql_str(), false)
}

/// A URL without its password, fit for an error message.
fn url_for_messages(url: &str) -> Cow<'_, str> {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => match url[start + 3..at].find(':') {
            Some(colon) => Cow::Owned(format!("{}:***{}", &url[..start + 3 + colon], &url[at..])),
            None => Cow::Borrowed(url),
        },
        _ => Cow::Borrowed(url),
    }
}

/// The metadata store. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    secrets: SecretBox,
    backend: Backend,
}

impl Store {
    /// Connects to `url` and brings the schema up to date. For SQLite the file (and its
    /// directory) is created when missing and switched to WAL; `sqlite::memory:` gives a
    /// private in-memory store held on a single connection.
    pub async fn open(url: &str, secrets: SecretBox) -> Result<Store, StoreError> {
        let backend = Backend::from_url(url)?;
        sqlx::any::install_default_drivers();
        let mut pool_options = AnyPoolOptions::new();
        if backend == Backend::Sqlite && prepare_sqlite(url).await? == SqliteStorage::Memory {
            // Each `Any` connection re-reads the URL and would get its own empty in-memory
            // database, so keep exactly one connection alive for the store's lifetime.
            pool_options = pool_options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
        }
        let pool = pool_options.connect(url).await?;
        Migrator::with_migrations(backend.migrations()).run(&pool).await?;
        let store = Store { pool, secrets, backend };
        store.fill_digests().await?;
        Ok(store)
    }

    /// Gives drafts and versions written before digests were kept (migration `0006_scale`)
    /// theirs, in one transaction; nothing when every row has one. The revision stays: what is
    /// served does not change.
    async fn fill_digests(&self) -> Result<(), StoreError> {
        let drafts = sqlx::query("SELECT id, draft_json FROM apis WHERE draft_hash = ''").fetch_all(&self.pool).await?;
        let versions =
            sqlx::query("SELECT api_id, number, definition_json FROM api_versions WHERE definition_hash = ''")
                .fetch_all(&self.pool)
                .await?;
        if drafts.is_empty() && versions.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for row in &drafts {
            let id: i64 = row.try_get("id")?;
            // An unreadable draft keeps no digest: it reads as changed until it is written again.
            let Ok(definition) = apis::read_definition("draft", &row.try_get::<String, _>("draft_json")?) else {
                continue;
            };
            sqlx::query("UPDATE apis SET draft_hash = $2 WHERE id = $1")
                .bind(id)
                .bind(definition.digest())
                .execute(&mut *tx)
                .await?;
        }
        for row in &versions {
            let (api_id, number): (i64, i64) = (row.try_get("api_id")?, row.try_get("number")?);
            let Ok(definition) = apis::read_definition("version", &row.try_get::<String, _>("definition_json")?) else {
                continue;
            };
            sqlx::query("UPDATE api_versions SET definition_hash = $3 WHERE api_id = $1 AND number = $2")
                .bind(api_id)
                .bind(number)
                .bind(definition.digest())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A number that grows with every committed write that can change what is served or
    /// configured (datasources, APIs, drafts, versions, publications, apps, workgroups, users,
    /// tokens, members, folders, library functions) and never with a read, a refused write, a token's
    /// `last_used_at` or an audit entry. Cheap: one row by primary key.
    ///
    /// A reader that rebuilds from the store reads the revision first and the data after, so a
    /// write landing in between shows up as a newer revision on its next poll.
    pub async fn revision(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT value FROM store_revision WHERE id = 1").fetch_one(&self.pool).await?;
        Ok(row.try_get("value")?)
    }
}

/// Bumps the revision inside the caller's transaction. Called last in each write transaction,
/// so the revision row is locked only for the instant before commit and writers that lock
/// other rows first cannot deadlock on it.
async fn bump_revision(connection: &mut AnyConnection) -> Result<(), StoreError> {
    sqlx::query("UPDATE store_revision SET value = value + 1 WHERE id = 1").execute(connection).await?;
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum SqliteStorage {
    File,
    Memory,
}

/// Creates the SQLite file and its directory when missing and sets WAL, which the file
/// remembers, so the pool's connections (configured only by the URL) open it as intended.
async fn prepare_sqlite(url: &str) -> Result<SqliteStorage, StoreError> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(SqliteStorage::Memory);
    }
    let options = SqliteConnectOptions::from_str(url)?;
    if let Some(dir) = options.get_filename().parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
    }
    let connection = options.create_if_missing(true).journal_mode(SqliteJournalMode::Wal).connect().await?;
    connection.close().await?;
    Ok(SqliteStorage::File)
}

/// The constraint kind a failed statement broke, if that is why it failed.
fn violated(err: &sqlx::Error) -> Option<ErrorKind> {
    match err {
        sqlx::Error::Database(db) => Some(db.kind()),
        _ => None,
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    violated(err) == Some(ErrorKind::UniqueViolation)
}

fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    violated(err) == Some(ErrorKind::ForeignKeyViolation)
}

/// Reads a 0/1 flag column.
fn flag(row: &sqlx::any::AnyRow, column: &str) -> Result<bool, StoreError> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

/// Takes the workgroup's row lock (SQLite: the write lock) for the rest of the transaction, so
/// writes that check the workgroup's folder tree before changing it queue instead of racing.
/// `NotFound` when the workgroup does not exist.
async fn lock_workgroup(connection: &mut AnyConnection, workgroup_id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE workgroups SET name = name WHERE id = $1 RETURNING id")
        .bind(workgroup_id)
        .fetch_optional(connection)
        .await?
        .ok_or_else(|| StoreError::not_found("workgroup", workgroup_id))?;
    Ok(())
}

/// Takes the route space's lock for the rest of the transaction (SQLite's write lock, a row
/// lock on PostgreSQL), then refuses `claim` for API `api_id` when it conflicts with another
/// API published in `env` (every environment when `None`).
async fn claim_route(
    connection: &mut AnyConnection,
    api_id: i64,
    claim: RouteClaim<'_>,
    env: Option<Environment>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE route_space SET touched = touched + 1 WHERE id = 1").execute(&mut *connection).await?;
    let rows = sqlx::query(
        "SELECT DISTINCT a.id, a.name, a.workgroup_id, a.method, a.path, p.environment \
         FROM publications p JOIN apis a ON a.id = p.api_id \
         WHERE a.id <> $1 AND ($2 = '' OR p.environment = $2) ORDER BY a.id",
    )
    .bind(api_id)
    .bind(env.map_or("", Environment::as_str))
    .fetch_all(&mut *connection)
    .await?;
    for row in &rows {
        let (method, path): (String, String) = (row.try_get("method")?, row.try_get("path")?);
        let theirs = RouteClaim { workgroup_id: row.try_get("workgroup_id")?, method: &method, path: &path };
        if let Some(why) = conflict(&claim, &theirs) {
            let environment: String = row.try_get("environment")?;
            return Err(StoreError::PathConflict(Box::new(PathConflict {
                api_id: row.try_get("id")?,
                api_name: row.try_get("name")?,
                workgroup_id: theirs.workgroup_id,
                method,
                path,
                environment: environment.parse().map_err(StoreError::Corrupt)?,
                why,
            })));
        }
    }
    Ok(())
}

/// Rejects names that are empty or only whitespace.
fn require_text(field: &str, value: &str) -> Result<(), StoreError> {
    if value.trim().is_empty() {
        return Err(StoreError::Invalid(format!("{field} must not be empty")));
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid(format!("{what} cannot be written as JSON: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_follows_the_url_scheme() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("postgresql://h/db").unwrap(), Backend::Postgres);
        let err = Backend::from_url("mysql://root:pw@h/db").unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)));
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn messages_hide_url_passwords() {
        assert_eq!(url_for_messages("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(url_for_messages("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(url_for_messages("sqlite://a@b.db"), "sqlite://a@b.db");
    }
}
