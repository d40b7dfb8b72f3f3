//! Reading a datasource's schema for the console's wizard: the tables and views its
//! connection can see ([`tables`]) and a table's columns with the Sluice type wizard mode
//! would give each ([`columns`], [`scalar_type`]).
//!
//! Each read opens one connection outside the pools, exactly as the connection test opens it
//! ([`connect`]: the access policy admits the datasource and pins what is opened, a database
//! holding a Sluice store is refused, the caller learns only a [`ConnectionProblem`]), runs
//! fixed catalogue queries and closes it, all within the caller's timeout. Where each
//! database keeps its catalogue:
//!
//! - PostgreSQL: the current schema (`current_schema()`, the first of the search path that
//!   exists), names unqualified; `information_schema` lists what the user has privileges on.
//! - MySQL / MariaDB: the connection's database (`DATABASE()`).
//! - SQLite: `sqlite_master`, without SQLite's own `sqlite_%` tables.
//!
//! A table name from a caller reaches SQL only once it is found, byte for byte, among the
//! names listed on the same connection, and then only as a bind.

use std::time::Duration;

use catalog::model::{Datasource, DatasourceKind, ScalarType};
use sqlx::{Connection, Executor, MySqlConnection, PgConnection, SqliteConnection};

use super::access::{DatasourceAccess, Refusal};
use super::execute::{ConnectOptions, ConnectionProblem, refuse_store};

/// A table or a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Table,
    View,
}

impl TableKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::Table => "table",
            TableKind::View => "view",
        }
    }
}

/// A table or view the connection can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub kind: TableKind,
}

/// A column of a table or view, in the table's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The type as the database writes it: `character varying(40)`, `int(11) unsigned`.
    pub db_type: String,
    /// What wizard mode reads it as ([`scalar_type`]).
    pub scalar: ScalarType,
    pub nullable: bool,
    /// Part of the primary key.
    pub primary_key: bool,
}

/// Why a schema read gave nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaError {
    /// The datasource could not be used, as its connection test would say (a timeout is
    /// [`ConnectionProblem::CannotConnect`]).
    Connection(ConnectionProblem),
    /// No table or view of that name is among those the connection can see.
    NoSuchTable,
    /// The database refused a catalogue query; the cause is logged.
    Database,
}

/// The tables and views of the datasource, by name.
pub async fn tables(ds: &Datasource, access: &DatasourceAccess, timeout: Duration) -> Result<Vec<Table>, SchemaError> {
    let read = async {
        let mut conn = connect(ds, access, "schema read").await.map_err(SchemaError::Connection)?;
        let tables = conn.tables().await;
        conn.close().await;
        tables.map_err(|e| catalogue_failed(ds, &e))
    };
    within(timeout, read).await
}

/// The columns of table or view `table` (its exact name, as [`tables`] lists it).
pub async fn columns(
    ds: &Datasource,
    access: &DatasourceAccess,
    timeout: Duration,
    table: &str,
) -> Result<Vec<Column>, SchemaError> {
    let read = async {
        let mut conn = connect(ds, access, "schema read").await.map_err(SchemaError::Connection)?;
        let columns = conn.columns(table).await;
        conn.close().await;
        columns.map_err(|e| catalogue_failed(ds, &e))?.ok_or(SchemaError::NoSuchTable)
    };
    within(timeout, read).await
}

/// `read`, or [`ConnectionProblem::CannotConnect`] once `timeout` has passed.
async fn within<T>(timeout: Duration, read: impl Future<Output = Result<T, SchemaError>>) -> Result<T, SchemaError> {
    tokio::time::timeout(timeout, read).await.unwrap_or(Err(SchemaError::Connection(ConnectionProblem::CannotConnect)))
}

fn catalogue_failed(ds: &Datasource, error: &sqlx::Error) -> SchemaError {
    tracing::warn!(datasource = ds.id, %error, "schema read: a catalogue query failed");
    SchemaError::Database
}

/// One connection to a datasource, outside the pools.
pub(super) enum Single {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    Mysql(MySqlConnection),
}

/// Opens one connection to `ds` as `access` admits it, refusing a database that holds a Sluice
/// store. The error is only the kind of problem; `purpose` and the detail are logged.
pub(super) async fn connect(
    ds: &Datasource,
    access: &DatasourceAccess,
    purpose: &'static str,
) -> Result<Single, ConnectionProblem> {
    // One per driver: a generic one over `Executor` yields a future that is not `Send`.
    macro_rules! open {
        ($connection:ty, $options:expr, $kind:expr, $variant:ident) => {
            async {
                let mut conn = <$connection>::connect_with(&$options).await?;
                refuse_store!(conn, $kind).await?;
                Ok::<_, sqlx::Error>(Single::$variant(conn))
            }
            .await
        };
    }
    let admitted = match access.admit(ds).await {
        Ok(admitted) => admitted,
        Err(refusal) => {
            tracing::info!(datasource = ds.id, why = refusal.why(), "{purpose} refused");
            return Err(match refusal {
                Refusal::NotAllowed { .. } => ConnectionProblem::NotAllowed,
                Refusal::Unreachable { .. } => ConnectionProblem::CannotConnect,
            });
        }
    };
    let options = ConnectOptions::of(&admitted).map_err(|_| ConnectionProblem::CannotConnect)?;
    let opened = match options {
        ConnectOptions::Sqlite(o) => open!(SqliteConnection, o, DatasourceKind::Sqlite, Sqlite),
        ConnectOptions::Postgres(o) => open!(PgConnection, o, DatasourceKind::Postgres, Postgres),
        ConnectOptions::Mysql(o) => open!(MySqlConnection, o, DatasourceKind::Mysql, Mysql),
    };
    opened.map_err(|e| problem(ds, purpose, &e))
}

/// The kind of problem a failed connection (or its first statement) was; the error is logged.
pub(super) fn problem(ds: &Datasource, purpose: &'static str, error: &sqlx::Error) -> ConnectionProblem {
    tracing::info!(datasource = ds.id, %error, "{purpose} failed");
    match error {
        sqlx::Error::Configuration(_) => ConnectionProblem::NotAllowed,
        sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("28")) => {
            ConnectionProblem::AuthenticationFailed
        }
        _ => ConnectionProblem::CannotConnect,
    }
}

const PG_TABLES: &str = "SELECT table_name::text, table_type::text FROM information_schema.tables \
                         WHERE table_schema = current_schema()";
const PG_COLUMNS: &str = "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
                          NOT a.attnotnull, COALESCE(a.attnum = ANY(i.indkey::int2[]), false) \
                          FROM pg_catalog.pg_attribute a \
                          JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
                          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                          LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary \
                          WHERE n.nspname = current_schema() AND c.relname = $1 \
                          AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
// Cast to text: MySQL 8 answers some `information_schema` columns as binary strings.
const MYSQL_TABLES: &str = "SELECT CAST(TABLE_NAME AS CHAR), CAST(TABLE_TYPE AS CHAR) \
                            FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()";
const MYSQL_COLUMNS: &str = "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), \
                             CAST(IS_NULLABLE AS CHAR), CAST(COLUMN_KEY AS CHAR) \
                             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                             AND CAST(TABLE_NAME AS BINARY) = CAST(? AS BINARY) ORDER BY ORDINAL_POSITION";
const SQLITE_TABLES: &str = "SELECT name, type FROM sqlite_master \
                             WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
const SQLITE_COLUMNS: &str = "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)";

impl Single {
    fn kind(&self) -> DatasourceKind {
        match self {
            Single::Sqlite(_) => DatasourceKind::Sqlite,
            Single::Postgres(_) => DatasourceKind::Postgres,
            Single::Mysql(_) => DatasourceKind::Mysql,
        }
    }

    /// `SELECT 1`, then closes the connection: the connection test.
    pub(super) async fn probe(self) -> Result<(), sqlx::Error> {
        match self {
            Single::Sqlite(mut c) => {
                c.execute("SELECT 1").await?;
                c.close().await
            }
            Single::Postgres(mut c) => {
                c.execute("SELECT 1").await?;
                c.close().await
            }
            Single::Mysql(mut c) => {
                c.execute("SELECT 1").await?;
                c.close().await
            }
        }
    }

    /// Closes the connection; a failure to say goodbye changes nothing for the caller.
    async fn close(self) {
        let closed = match self {
            Single::Sqlite(c) => c.close().await,
            Single::Postgres(c) => c.close().await,
            Single::Mysql(c) => c.close().await,
        };
        if let Err(e) = closed {
            tracing::debug!(error = %e, "schema read: closing the connection failed");
        }
    }

    /// `(name, type)` rows of the catalogue, sorted by name.
    async fn tables(&mut self) -> Result<Vec<Table>, sqlx::Error> {
        let rows: Vec<(String, String)> = match self {
            Single::Sqlite(c) => sqlx::query_as(SQLITE_TABLES).fetch_all(c).await?,
            Single::Postgres(c) => sqlx::query_as(PG_TABLES).fetch_all(c).await?,
            Single::Mysql(c) => sqlx::query_as(MYSQL_TABLES).fetch_all(c).await?,
        };
        let mut tables: Vec<Table> = rows
            .into_iter()
            .map(|(name, kind)| {
                // `VIEW`, `view`, MySQL's `SYSTEM VIEW`; tables, foreign and system-versioned
                // ones are tables.
                let kind = if kind.to_ascii_lowercase().ends_with("view") { TableKind::View } else { TableKind::Table };
                Table { name, kind }
            })
            .collect();
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tables)
    }

    /// The columns of `table`, once it is found among [`Single::tables`]; `None` when it is
    /// not.
    async fn columns(&mut self, table: &str) -> Result<Option<Vec<Column>>, sqlx::Error> {
        let Some(found) = self.tables().await?.into_iter().find(|t| t.name == table) else {
            return Ok(None);
        };
        let kind = self.kind();
        let column = |name: String, db_type: String, nullable: bool, primary_key: bool| Column {
            name,
            scalar: scalar_type(kind, &db_type),
            db_type,
            nullable,
            primary_key,
        };
        Ok(Some(match self {
            Single::Sqlite(c) => {
                let rows: Vec<(String, String, i64, i64)> =
                    sqlx::query_as(SQLITE_COLUMNS).bind(found.name).fetch_all(c).await?;
                // SQLite lets most primary key columns hold NULL; wizard callers cannot rely
                // on that, so a key column reads as required.
                rows.into_iter()
                    .map(|(name, ty, not_null, pk)| column(name, ty, not_null == 0 && pk == 0, pk > 0))
                    .collect()
            }
            Single::Postgres(c) => {
                let rows: Vec<(String, String, bool, bool)> =
                    sqlx::query_as(PG_COLUMNS).bind(found.name).fetch_all(c).await?;
                rows.into_iter().map(|(name, ty, nullable, pk)| column(name, ty, nullable, pk)).collect()
            }
            Single::Mysql(c) => {
                let rows: Vec<(String, String, String, String)> =
                    sqlx::query_as(MYSQL_COLUMNS).bind(found.name).fetch_all(c).await?;
                rows.into_iter()
                    .map(|(name, ty, nullable, key)| {
                        column(name, ty, nullable.eq_ignore_ascii_case("YES"), key.eq_ignore_ascii_case("PRI"))
                    })
                    .collect()
            }
        }))
    }
}

/// The Sluice type wizard mode gives a column of database type `db_type` (as the database
/// writes it); what it does not know is `string`, which every value can be read as.
pub fn scalar_type(kind: DatasourceKind, db_type: &str) -> ScalarType {
    let lower = db_type.trim().to_ascii_lowercase();
    // `numeric(10,2)` → `numeric`, `double precision` → `double`, `int(11) unsigned` → `int`.
    let base = lower.split(['(', ' ']).next().unwrap_or_default();
    match kind {
        DatasourceKind::Postgres => match base {
            _ if lower.ends_with("[]") => ScalarType::String,
            "smallint" | "integer" | "bigint" | "int" | "int2" | "int4" | "int8" | "oid" => ScalarType::Int,
            "real" | "double" | "float4" | "float8" => ScalarType::Float,
            "numeric" | "decimal" | "money" => ScalarType::Decimal,
            "boolean" | "bool" => ScalarType::Bool,
            "date" => ScalarType::Date,
            "timestamp" | "timestamptz" => ScalarType::DateTime,
            "json" | "jsonb" => ScalarType::Json,
            _ => ScalarType::String,
        },
        DatasourceKind::Mysql => match base {
            // MySQL's BOOLEAN is `tinyint(1)`.
            "tinyint" if lower.starts_with("tinyint(1)") => ScalarType::Bool,
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year" => ScalarType::Int,
            "float" | "double" | "real" => ScalarType::Float,
            "decimal" | "numeric" | "dec" | "fixed" => ScalarType::Decimal,
            "bool" | "boolean" => ScalarType::Bool,
            "date" => ScalarType::Date,
            "datetime" | "timestamp" => ScalarType::DateTime,
            "json" => ScalarType::Json,
            _ => ScalarType::String,
        },
        // Declared types name what a column means, as the encoder reads them; otherwise
        // SQLite's affinity rules, in their order.
        DatasourceKind::Sqlite => match base {
            "bool" | "boolean" => ScalarType::Bool,
            "date" => ScalarType::Date,
            "datetime" | "timestamp" => ScalarType::DateTime,
            "json" => ScalarType::Json,
            "numeric" | "decimal" => ScalarType::Decimal,
            _ if lower.contains("int") => ScalarType::Int,
            _ if ["char", "clob", "text"].iter().any(|t| lower.contains(t)) => ScalarType::String,
            _ if ["real", "floa", "doub"].iter().any(|t| lower.contains(t)) => ScalarType::Float,
            _ => ScalarType::String,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DatasourceKind::{Mysql, Postgres, Sqlite};
    use ScalarType as S;

    #[test]
    fn database_types_map_to_what_wizard_mode_reads() {
        for (kind, db_type, expected) in [
            (Postgres, "integer", S::Int),
            (Postgres, "bigint", S::Int),
            (Postgres, "numeric(10,2)", S::Decimal),
            (Postgres, "double precision", S::Float),
            (Postgres, "real", S::Float),
            (Postgres, "boolean", S::Bool),
            (Postgres, "date", S::Date),
            (Postgres, "timestamp(3) without time zone", S::DateTime),
            (Postgres, "timestamp with time zone", S::DateTime),
            (Postgres, "jsonb", S::Json),
            (Postgres, "character varying(40)", S::String),
            (Postgres, "integer[]", S::String),
            (Postgres, "uuid", S::String),
            (Postgres, "tsvector", S::String),
            (Mysql, "int(11)", S::Int),
            (Mysql, "bigint(20) unsigned", S::Int),
            (Mysql, "tinyint(1)", S::Bool),
            (Mysql, "tinyint(4)", S::Int),
            (Mysql, "decimal(10,2)", S::Decimal),
            (Mysql, "double", S::Float),
            (Mysql, "datetime(6)", S::DateTime),
            (Mysql, "timestamp", S::DateTime),
            (Mysql, "date", S::Date),
            (Mysql, "json", S::Json),
            (Mysql, "varchar(255)", S::String),
            (Mysql, "enum('a','b')", S::String),
            (Sqlite, "INTEGER", S::Int),
            (Sqlite, "BIGINT", S::Int),
            (Sqlite, "REAL", S::Float),
            (Sqlite, "DOUBLE PRECISION", S::Float),
            (Sqlite, "NUMERIC(10,2)", S::Decimal),
            (Sqlite, "BOOLEAN", S::Bool),
            (Sqlite, "DATE", S::Date),
            (Sqlite, "DATETIME", S::DateTime),
            (Sqlite, "VARCHAR(20)", S::String),
            (Sqlite, "", S::String),
            (Sqlite, "BLOB", S::String),
            (Sqlite, "whatever", S::String),
        ] {
            assert_eq!(scalar_type(kind, db_type), expected, "{kind:?} {db_type}");
        }
    }
}
