//! Datasources: which SQL engine a database speaks, how to reach it, and the datasource a
//! data API reads from.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Which SQL engine a datasource speaks. MariaDB is served by `Mysql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatasourceKind {
    Sqlite,
    Postgres,
    Mysql,
}

impl DatasourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DatasourceKind::Sqlite => "sqlite",
            DatasourceKind::Postgres => "postgres",
            DatasourceKind::Mysql => "mysql",
        }
    }
}

impl FromStr for DatasourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sqlite" => Ok(DatasourceKind::Sqlite),
            "postgres" | "postgresql" => Ok(DatasourceKind::Postgres),
            "mysql" | "mariadb" => Ok(DatasourceKind::Mysql),
            other => Err(format!("unknown datasource kind `{other}`: expected sqlite, postgres or mysql")),
        }
    }
}

/// How to reach a database. For SQLite only `database` (a file path) is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ConnectionSettings {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    /// Plain text only in memory, on the way in or to the driver; encrypted at rest and never
    /// serialized back to readers (see `Datasource::redacted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Connections kept at most; `None` means about two per core.
    pub pool_size: Option<u32>,
}

/// A database that data APIs read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Datasource {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub workgroup_id: i64,
    pub name: String,
    pub kind: DatasourceKind,
    #[serde(default)]
    pub description: String,
    pub connection: ConnectionSettings,
}

impl Datasource {
    /// The same datasource with the password removed, for anything a reader sees.
    pub fn redacted(&self) -> Datasource {
        let mut copy = self.clone();
        copy.connection.password = None;
        copy
    }
}
