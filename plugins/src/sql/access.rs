//! Which databases a workgroup's datasources may reach, decided before any pool, connection
//! test or console run opens one ([`DatasourceAccess::admit`]).
//!
//! - **SQLite files** live in dataset directories. Every dataset root (the default
//!   `<data dir>/datasets`, and those the operator or a platform admin adds) holds one directory
//!   per workgroup, `<root>/<workgroup>/`; a root may instead be bound to one workgroup, which
//!   then owns it whole. A relative path is read against `<data dir>/datasets/<workgroup>/`. The
//!   file is resolved (symlinks followed) and must still lie in one of the workgroup's
//!   directories and in no other workgroup's; never in the data dir outside the workgroup's own
//!   dataset directory (the store, `secret.key`, logs), never the store's file. SQLite URIs
//!   (`file:…?…`) and `:memory:` are refused: SQLite is handed the resolved path only.
//! - **PostgreSQL and MySQL hosts** go through the same network policy as registered
//!   upstreams ([`net::SsrfPolicy`]): loopback and private ranges are refused unless allowed,
//!   and the pool connects to the one checked address. The metadata store's own database is
//!   refused by address, port and name here, and by content whenever a connection opens
//!   ([`STORE_MARKER`]): a database holding a Sluice store is never a datasource, wherever it is.
//!
//! Refusals carry what to fix for the datasource's owner ([`Refusal::why`]); what callers and
//! connection tests see is only "not allowed".

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Component, Path, PathBuf};

use catalog::model::{Datasource, DatasourceKind};
use net::SsrfPolicy;

/// The table every Sluice metadata store holds (migration `0005`). A datasource connection that
/// can see a table of this name is connected to a Sluice store and is closed.
pub const STORE_MARKER: &str = "sluice_store";

/// A dataset root: a directory of SQLite files. Shared roots hold one directory per workgroup;
/// a root bound to a workgroup is that workgroup's alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetRoot {
    pub path: PathBuf,
    /// The workgroup (by name) that owns the whole root; `None` for a shared root.
    pub workgroup: Option<String>,
}

/// What decides datasource access, before workgroups are known: from the configuration and
/// the platform settings.
#[derive(Debug, Clone)]
pub struct AccessSettings {
    pub net: SsrfPolicy,
    pub data_dir: PathBuf,
    /// Roots besides `<data dir>/datasets`.
    pub roots: Vec<DatasetRoot>,
    /// The metadata store's URL (`sqlite://…` or `postgres://…`).
    pub store_url: String,
}

/// Why a datasource may not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The policy forbids it; `field` is the connection setting at fault.
    NotAllowed { field: &'static str, why: String },
    /// Allowed, but not there (a missing file, a host that does not resolve).
    Unreachable { why: String },
}

impl Refusal {
    /// What to fix, for the datasource's owner (never for callers of its APIs).
    pub fn why(&self) -> &str {
        match self {
            Refusal::NotAllowed { why, .. } | Refusal::Unreachable { why } => why,
        }
    }

    fn not_allowed(field: &'static str, why: impl Into<String>) -> Refusal {
        Refusal::NotAllowed { field, why: why.into() }
    }
}

/// Where the metadata store lives, to keep datasources away from it.
#[derive(Debug, Clone, Default, PartialEq)]
struct StoreLocation {
    /// The store's file, resolved, when it is SQLite.
    file: Option<PathBuf>,
    /// PostgreSQL: the port and database name, and the addresses its host had at start.
    postgres: Option<(Vec<IpAddr>, u16, String)>,
}

/// The access policy for every workgroup known when it was built.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasourceAccess {
    net: SsrfPolicy,
    /// The data dir, resolved.
    data_dir: PathBuf,
    /// `<data dir>/datasets`, resolved: relative paths are read against `<this>/<workgroup>/`.
    default_root: PathBuf,
    /// Shared roots, resolved (the default root among them).
    shared: Vec<PathBuf>,
    /// Roots bound to a workgroup, resolved, with the workgroup's name.
    bound: Vec<(PathBuf, String)>,
    /// Workgroup names by id: dataset directories are named after workgroups.
    workgroups: HashMap<i64, String>,
    store: StoreLocation,
}

impl DatasourceAccess {
    /// The policy for `workgroups` (id, name). Creates `<data dir>/datasets` when missing;
    /// roots that do not exist are left out (and logged), since nothing can be read from them.
    pub async fn new(settings: &AccessSettings, workgroups: &[(i64, String)]) -> DatasourceAccess {
        let data_dir = resolved_dir(&settings.data_dir);
        let default_root = settings.data_dir.join("datasets");
        if let Err(e) = std::fs::create_dir_all(&default_root) {
            tracing::warn!(dir = %default_root.display(), "cannot create the default dataset root: {e}");
        }
        let default_root = resolved_dir(&default_root);
        let mut shared = vec![default_root.clone()];
        let mut bound = Vec::new();
        for root in &settings.roots {
            match std::fs::canonicalize(&root.path) {
                Ok(path) => match &root.workgroup {
                    Some(workgroup) => bound.push((path, workgroup.clone())),
                    None => shared.push(path),
                },
                Err(e) => tracing::warn!(root = %root.path.display(), "dataset root left out: {e}"),
            }
        }
        DatasourceAccess {
            net: settings.net.clone(),
            data_dir,
            default_root,
            shared,
            bound,
            workgroups: workgroups.iter().cloned().collect(),
            store: StoreLocation::of(&settings.store_url).await,
        }
    }

    /// The network policy datasource hosts go through.
    pub fn net(&self) -> &SsrfPolicy {
        &self.net
    }

    /// Checks what can be checked without touching the file system or DNS: fit to tell a
    /// developer at once, when a datasource is saved.
    pub fn check_settings(&self, ds: &Datasource) -> Result<(), Refusal> {
        match ds.kind {
            DatasourceKind::Sqlite => self.sqlite_path(ds).map(drop),
            DatasourceKind::Postgres | DatasourceKind::Mysql => {
                match self.net.check_host_literal(&ds.connection.host) {
                    Ok(()) => Ok(()),
                    Err(net::SsrfError::Forbidden { reason }) => Err(Refusal::not_allowed(
                        "connection.host",
                        format!("the host is a {reason} address; a platform admin must allow it first"),
                    )),
                    Err(e) => Err(Refusal::not_allowed("connection.host", host_problem(&e))),
                }
            }
        }
    }

    /// Decides whether `ds` may be reached, and returns it as the pool must open it: a SQLite
    /// datasource with its file resolved, a database server with its host replaced by the one
    /// checked address (so DNS is not asked again between the check and the connection).
    pub async fn admit(&self, ds: &Datasource) -> Result<Datasource, Refusal> {
        let mut admitted = ds.clone();
        match ds.kind {
            DatasourceKind::Sqlite => {
                let file = self.sqlite_file(ds)?;
                admitted.connection.database = file.to_string_lossy().into_owned();
            }
            DatasourceKind::Postgres | DatasourceKind::Mysql => {
                let c = &ds.connection;
                let port = match (c.port, ds.kind) {
                    (0, DatasourceKind::Postgres) => 5432,
                    (0, _) => 3306,
                    (port, _) => port,
                };
                let addr = match self.net.resolve_host_checked(&c.host, port).await {
                    Ok(addr) => addr,
                    Err(net::SsrfError::Forbidden { reason }) => {
                        return Err(Refusal::not_allowed(
                            "connection.host",
                            format!("the host is a {reason} address; a platform admin must allow it first"),
                        ));
                    }
                    Err(net::SsrfError::Resolve(_)) => {
                        return Err(Refusal::Unreachable { why: "the host name does not resolve".into() });
                    }
                    Err(e) => return Err(Refusal::not_allowed("connection.host", host_problem(&e))),
                };
                if ds.kind == DatasourceKind::Postgres && self.store.is_postgres_store(addr, &c.database) {
                    return Err(Refusal::not_allowed("connection.database", "this is Sluice's own metadata store"));
                }
                admitted.connection.host = addr.ip().to_string();
                admitted.connection.port = addr.port();
            }
        }
        Ok(admitted)
    }

    /// The SQLite file as SQLite must open it: resolved, and still where the workgroup may read.
    fn sqlite_file(&self, ds: &Datasource) -> Result<PathBuf, Refusal> {
        let written = self.sqlite_path(ds)?;
        let file = std::fs::canonicalize(&written)
            .map_err(|_| Refusal::Unreachable { why: "there is no such file in the dataset directory".into() })?;
        let workgroup = self.workgroup(ds)?;
        if !self.may_read(workgroup, &file) || self.store.file.as_deref() == Some(file.as_path()) {
            return Err(Refusal::not_allowed(
                "connection.database",
                "the file leads outside the workgroup's dataset directories (a symbolic link?)",
            ));
        }
        match std::fs::metadata(&file) {
            Ok(meta) if meta.is_file() => Ok(file),
            _ => Err(Refusal::not_allowed("connection.database", "the path is not a regular file")),
        }
    }

    /// The path a SQLite datasource names, read without the file system: relative paths
    /// against the workgroup's default dataset directory, `.` and `..` resolved by text.
    fn sqlite_path(&self, ds: &Datasource) -> Result<PathBuf, Refusal> {
        const FIELD: &str = "connection.database";
        let workgroup = self.workgroup(ds)?;
        let text = ds.connection.database.trim();
        if text.is_empty() {
            return Err(Refusal::not_allowed(FIELD, "give the path of the SQLite file"));
        }
        if text.len() >= 5 && text[..5].eq_ignore_ascii_case("file:") || text.starts_with(':') {
            return Err(Refusal::not_allowed(FIELD, "give a file path, not a SQLite URI or `:memory:`"));
        }
        if text.chars().any(|c| c.is_control() || matches!(c, '?' | '#')) {
            return Err(Refusal::not_allowed(FIELD, "the path must not contain `?`, `#` or control characters"));
        }
        let path = Path::new(text);
        let joined = if path.is_absolute() { path.to_path_buf() } else { self.default_root.join(workgroup).join(path) };
        let normal = lexically_normal(&joined)
            .ok_or_else(|| Refusal::not_allowed(FIELD, "the path climbs above the file system's root"))?;
        if !self.may_read(workgroup, &normal) {
            return Err(Refusal::not_allowed(
                FIELD,
                format!(
                    "a SQLite file must lie in the workgroup's dataset directory (`<dataset root>/{workgroup}/`); \
                     give a path relative to it, such as `shop.db`"
                ),
            ));
        }
        Ok(normal)
    }

    fn workgroup(&self, ds: &Datasource) -> Result<&str, Refusal> {
        match self.workgroups.get(&ds.workgroup_id) {
            // Names become directory names: only the characters workgroup names are made of.
            Some(name) if is_directory_name(name) => Ok(name),
            _ => Err(Refusal::not_allowed("connection.database", "the workgroup has no dataset directory")),
        }
    }

    /// Whether `workgroup` may read `path` (absolute, normalised): the innermost root holding
    /// it decides — a shared root's `<root>/<workgroup>/`, or a root bound to the workgroup —
    /// and nothing in the data dir but the workgroup's own dataset directory.
    fn may_read(&self, workgroup: &str, path: &Path) -> bool {
        if path.starts_with(&self.data_dir) && !path.starts_with(self.default_root.join(workgroup)) {
            return false;
        }
        let shared = self.shared.iter().map(|root| (root, None));
        let bound = self.bound.iter().map(|(root, owner)| (root, Some(owner.as_str())));
        let innermost = shared
            .chain(bound)
            .filter(|(root, _)| path.starts_with(root))
            .max_by_key(|(root, _)| root.components().count());
        match innermost {
            None => false,
            Some((root, None)) => path.starts_with(root.join(workgroup)),
            Some((_, Some(owner))) => owner == workgroup,
        }
    }
}

impl StoreLocation {
    async fn of(url: &str) -> StoreLocation {
        let lower = url.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("sqlite:") {
            if rest.contains(":memory:") {
                return StoreLocation::default();
            }
            let path = url["sqlite:".len()..].trim_start_matches("//");
            let path = path.split('?').next().unwrap_or(path);
            return StoreLocation { file: std::fs::canonicalize(path).ok(), postgres: None };
        }
        let Ok(parsed) = url::Url::parse(url) else { return StoreLocation::default() };
        let host = parsed.host_str().unwrap_or("localhost").trim_matches(['[', ']']).to_owned();
        let port = parsed.port().unwrap_or(5432);
        let database = parsed.path().trim_start_matches('/').to_owned();
        let database = if database.is_empty() { parsed.username().to_owned() } else { database };
        let addrs = match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(found) => found.map(|a| a.ip()).collect(),
            Err(_) => Vec::new(),
        };
        StoreLocation { file: None, postgres: Some((addrs, port, database)) }
    }

    /// Whether `addr` and `database` name the store's PostgreSQL database. Loopback addresses
    /// all reach this machine's server, so any two are the same.
    fn is_postgres_store(&self, addr: SocketAddr, database: &str) -> bool {
        let Some((addrs, port, name)) = &self.postgres else { return false };
        let same_host = addrs
            .iter()
            .any(|a| a.to_canonical() == addr.ip().to_canonical() || (a.is_loopback() && addr.ip().is_loopback()));
        same_host && *port == addr.port() && name == database
    }
}

/// `path` with `.` dropped and `..` taking the previous part off, by text alone; `None` when
/// `..` climbs above the root.
fn lexically_normal(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() || out.as_os_str().is_empty() {
                    return None;
                }
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// `dir` resolved when it exists, as written otherwise.
fn resolved_dir(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| lexically_normal(dir).unwrap_or_else(|| dir.to_path_buf()))
}

/// What is wrong with a host that is not refused by range, in a datasource's words.
fn host_problem(error: &net::SsrfError) -> String {
    match error {
        net::SsrfError::InvalidUrl(why) => format!("the host is not valid: {why}"),
        other => other.to_string(),
    }
}

fn is_directory_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The query that finds [`STORE_MARKER`] on a new connection, per database (MySQL cannot hold
/// a Sluice store).
pub(crate) fn marker_query(kind: DatasourceKind) -> Option<&'static str> {
    match kind {
        DatasourceKind::Sqlite => Some("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sluice_store'"),
        // pg_class lists every relation whatever the connecting user may read.
        DatasourceKind::Postgres => {
            Some("SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'sluice_store' AND relkind = 'r'")
        }
        DatasourceKind::Mysql => None,
    }
}

#[cfg(test)]
mod tests;
