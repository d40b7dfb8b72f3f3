//! SQLite datasources: read-only rusqlite connections, each owned by a worker thread of its
//! own, taking statements from one queue the datasource's workers share.
//!
//! sqlx also runs each SQLite connection on a thread, but hands every row back through a
//! channel message of its own and wakes the caller per row. Here a worker runs the whole
//! statement (its count first, when asked), reads the rows into owned values and hands them
//! back once: a point lookup crosses threads twice. Rows are encoded by the caller, like
//! every database's. A statement still running at its deadline is interrupted by SQLite's
//! progress handler, so a slow query frees its worker when its caller gives up.
//!
//! Workers start on demand, up to the datasource's pool size, and end when the pool is let go.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use rusqlite::types::{Value as LiteValue, ValueRef};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use super::access;
use super::render::RenderedSql;
use super::value::Value;
use catalog::model::DatasourceKind;

/// How long a worker waits for a database another process holds locked (sqlx's default).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many SQLite VM instructions pass between two deadline checks (tens of microseconds).
const PROGRESS_STEPS: i32 = 1_000;

/// How soon a worker tries again to open a file it could not open.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

/// Statements each connection keeps prepared.
const STATEMENT_CACHE: usize = 64;

/// One SQLite file's workers and the queue they take statements from.
#[derive(Debug)]
pub struct LitePool {
    path: PathBuf,
    size: u32,
    jobs: Sender<Job>,
    queue: Receiver<Job>,
    workers: Arc<Workers>,
}

/// Counts the pool and its workers share; workers never hold the pool itself, so that
/// letting the pool go closes the queue and ends them.
#[derive(Debug, Default)]
struct Workers {
    /// Workers started and not ended (each holds one connection, or is about to).
    running: AtomicU32,
    /// Workers waiting for a statement.
    idle: AtomicU32,
}

/// A statement (and its count) to run, and where its rows go.
struct Job {
    statement: Statement,
    count: Option<Statement>,
    row_cap: usize,
    deadline: Instant,
    reply: oneshot::Sender<Result<LiteRows, LiteError>>,
}

struct Statement {
    sql: String,
    binds: Vec<LiteValue>,
}

/// A result's column names and declared types, shared by its rows.
#[derive(Debug)]
pub struct LiteColumns {
    pub names: Vec<String>,
    /// The column's declared type, lower case (`None` for an expression).
    pub declared: Vec<Option<String>>,
}

/// One result row, read out of SQLite.
#[derive(Debug)]
pub struct LiteRow {
    pub columns: Arc<LiteColumns>,
    pub values: Vec<LiteValue>,
}

/// What a statement returned: its rows (at most the cap) and, when asked, its count.
#[derive(Debug)]
pub struct LiteRows {
    pub rows: Vec<LiteRow>,
    pub total: Option<u64>,
}

/// Why a statement produced no rows.
#[derive(Debug)]
pub enum LiteError {
    /// Its deadline passed (waiting for a worker, or running).
    Timeout,
    /// No connection could be opened, or the file is not a datasource.
    Unavailable(String),
    /// SQLite refused or failed the statement.
    Statement(rusqlite::Error),
}

impl LitePool {
    /// A pool of at most `size` connections to the file at `path`; none is opened yet.
    pub fn new(path: PathBuf, size: u32) -> LitePool {
        let (jobs, queue) = crossbeam_channel::unbounded();
        LitePool { path, size: size.max(1), jobs, queue, workers: Arc::default() }
    }

    /// Connections open, and those waiting for a statement (for `/metrics`).
    pub fn usage(&self) -> (u32, u32) {
        (self.workers.running.load(Ordering::Relaxed), self.workers.idle.load(Ordering::Relaxed))
    }

    /// Runs `statement` (after `count`, on the same connection) on a worker, reading at most
    /// `row_cap` rows, by `deadline`.
    pub async fn run(
        &self,
        statement: &RenderedSql,
        count: Option<&RenderedSql>,
        row_cap: usize,
        deadline: Instant,
    ) -> Result<LiteRows, LiteError> {
        let (reply, answer) = oneshot::channel();
        let job =
            Job { statement: Statement::of(statement), count: count.map(Statement::of), row_cap, deadline, reply };
        if self.workers.idle.load(Ordering::Acquire) == 0 {
            self.start_worker();
        }
        if self.jobs.send(job).is_err() {
            return Err(LiteError::Unavailable("the SQLite workers' queue is closed".into()));
        }
        match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(LiteError::Unavailable("a SQLite worker ended before answering".into())),
            Err(_) => Err(LiteError::Timeout),
        }
    }

    /// Starts one more worker unless `size` are running.
    fn start_worker(&self) {
        let running = &self.workers.running;
        if running.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.size).then_some(n + 1)).is_err() {
            return;
        }
        let (path, queue, workers) = (self.path.clone(), self.queue.clone(), Arc::clone(&self.workers));
        let started =
            std::thread::Builder::new().name("sluice-sqlite".into()).spawn(move || work(&path, &queue, &workers));
        if let Err(e) = started {
            self.workers.running.fetch_sub(1, Ordering::AcqRel);
            tracing::error!(error = %e, "cannot start a SQLite worker thread");
        }
    }
}

impl Statement {
    fn of(rendered: &RenderedSql) -> Statement {
        Statement { sql: rendered.sql.clone(), binds: rendered.binds.iter().map(lite_value).collect() }
    }
}

/// A worker's life: take statements until the queue closes, opening the connection for the
/// first. A file that cannot be opened (missing, refused) fails each statement with why, and
/// is tried again at most every [`REOPEN_AFTER`]: no statement waits on a worker that has none.
fn work(path: &Path, queue: &Receiver<Job>, workers: &Workers) {
    let deadline = Arc::new(AtomicU64::new(u64::MAX));
    let epoch = Instant::now();
    let mut conn: Option<Connection> = None;
    let mut failed: Option<(Instant, String)> = None;
    loop {
        workers.idle.fetch_add(1, Ordering::AcqRel);
        let next = queue.recv();
        workers.idle.fetch_sub(1, Ordering::AcqRel);
        let Ok(job) = next else { break };
        if job.reply.is_closed() || Instant::now() >= job.deadline {
            continue; // its caller gave up
        }
        if conn.is_none() && failed.as_ref().is_none_or(|(at, _)| at.elapsed() >= REOPEN_AFTER) {
            match open(path, Arc::clone(&deadline), epoch) {
                Ok(opened) => (conn, failed) = (Some(opened), None),
                Err(why) => {
                    tracing::warn!(path = %path.display(), %why, "cannot open a SQLite datasource");
                    failed = Some((Instant::now(), why));
                }
            }
        }
        let result = match &conn {
            Some(conn) => {
                let until = job.deadline.saturating_duration_since(epoch).as_micros();
                deadline.store(u64::try_from(until).unwrap_or(u64::MAX), Ordering::Release);
                let result = run_job(conn, &job);
                deadline.store(u64::MAX, Ordering::Release);
                result
            }
            // Not open means the last attempt failed, and says why.
            None => Err(LiteError::Unavailable(failed.as_ref().map(|(_, why)| why.clone()).unwrap_or_default())),
        };
        let _ = job.reply.send(result);
    }
    workers.running.fetch_sub(1, Ordering::AcqRel);
}

/// A read-only connection that interrupts any statement past `deadline` (microseconds since
/// `epoch`), after checking that the file holds no Sluice store.
fn open(path: &Path, deadline: Arc<AtomicU64>, epoch: Instant) -> Result<Connection, String> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| e.to_string())?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| e.to_string())?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    if let Some(marker) = access::marker_query(DatasourceKind::Sqlite) {
        let mut check = conn.prepare(marker).map_err(|e| e.to_string())?;
        if check.exists([]).map_err(|e| e.to_string())? {
            return Err("the database holds a Sluice metadata store".into());
        }
    }
    conn.progress_handler(
        PROGRESS_STEPS,
        Some(move || {
            let until = deadline.load(Ordering::Acquire);
            until != u64::MAX && epoch.elapsed().as_micros() >= u128::from(until)
        }),
    )
    .map_err(|e| e.to_string())?;
    Ok(conn)
}

fn run_job(conn: &Connection, job: &Job) -> Result<LiteRows, LiteError> {
    let refused = |e: rusqlite::Error| {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) {
            LiteError::Timeout
        } else {
            LiteError::Statement(e)
        }
    };
    let total = match &job.count {
        Some(count) => {
            let mut statement = conn.prepare_cached(&count.sql).map_err(refused)?;
            let total: i64 =
                statement.query_row(rusqlite::params_from_iter(&count.binds), |row| row.get(0)).map_err(refused)?;
            Some(total.max(0) as u64)
        }
        None => None,
    };
    let mut statement = conn.prepare_cached(&job.statement.sql).map_err(refused)?;
    let columns = Arc::new(LiteColumns {
        names: statement.column_names().into_iter().map(str::to_owned).collect(),
        declared: statement.columns().iter().map(|c| c.decl_type().map(str::to_ascii_lowercase)).collect(),
    });
    let width = columns.names.len();
    let mut rows = Vec::new();
    let mut results = statement.query(rusqlite::params_from_iter(&job.statement.binds)).map_err(refused)?;
    // One row past the cap is not read: unlike a network connection, nothing is left to drain.
    while rows.len() < job.row_cap {
        let Some(row) = results.next().map_err(refused)? else { break };
        let values = (0..width).map(|i| row.get_ref(i).map(owned)).collect::<Result<Vec<_>, _>>().map_err(refused)?;
        rows.push(LiteRow { columns: Arc::clone(&columns), values });
    }
    Ok(LiteRows { rows, total })
}

/// A cell read out of its row; text that is not UTF-8 is read as NULL.
fn owned(value: ValueRef<'_>) -> LiteValue {
    match value {
        ValueRef::Null => LiteValue::Null,
        ValueRef::Integer(i) => LiteValue::Integer(i),
        ValueRef::Real(f) => LiteValue::Real(f),
        ValueRef::Text(t) => std::str::from_utf8(t).map_or(LiteValue::Null, |t| LiteValue::Text(t.to_owned())),
        ValueRef::Blob(b) => LiteValue::Blob(b.to_vec()),
    }
}

/// A bound value as SQLite stores it: what sqlx bound for SQLite before (dates and
/// timestamps as ISO text, decimals as text that numeric affinity compares as numbers).
fn lite_value(value: &Value) -> LiteValue {
    match value {
        Value::Null | Value::TypedNull(_) => LiteValue::Null,
        Value::Bool(b) => LiteValue::Integer(i64::from(*b)),
        Value::Int(i) => LiteValue::Integer(*i),
        Value::Float(f) => LiteValue::Real(*f),
        Value::Decimal(d) => LiteValue::Text(d.to_string()),
        Value::Text(s) => LiteValue::Text(s.clone()),
        Value::Date(d) => LiteValue::Text(d.format("%Y-%m-%d").to_string()),
        Value::DateTime(t) => LiteValue::Text(t.format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        Value::Json(j) => LiteValue::Text(j.to_string()),
        Value::Array(_) => LiteValue::Text(value.to_json().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDb(PathBuf);

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn db(name: &str, setup: &str) -> TempDb {
        let path = std::env::temp_dir().join(format!("sluice-lite-{}-{name}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Connection::open(&path).unwrap().execute_batch(setup).unwrap();
        TempDb(path)
    }

    fn sql(text: &str, binds: Vec<Value>) -> RenderedSql {
        RenderedSql { sql: text.into(), binds }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn a_lookup_returns_owned_rows_with_declared_types() {
        let file = db(
            "lookup",
            "CREATE TABLE t(id INTEGER PRIMARY KEY, d DATE, n); INSERT INTO t VALUES (1, '2024-01-02', 2.5), (2, NULL, 'x');",
        );
        let pool = LitePool::new(file.0.clone(), 2);
        let out =
            pool.run(&sql("SELECT id, d, n FROM t WHERE id = ?", vec![Value::Int(1)]), None, 10, soon()).await.unwrap();
        assert_eq!(out.rows.len(), 1);
        let row = &out.rows[0];
        assert_eq!(row.columns.names, ["id", "d", "n"]);
        assert_eq!(row.columns.declared, [Some("integer".to_string()), Some("date".to_string()), None]);
        assert_eq!(row.values, [LiteValue::Integer(1), LiteValue::Text("2024-01-02".into()), LiteValue::Real(2.5)]);
        assert_eq!(pool.usage().0, 1, "one worker for one call at a time");
    }

    #[tokio::test]
    async fn the_count_runs_first_and_rows_stop_at_the_cap() {
        let file = db("cap", "CREATE TABLE t(id INTEGER); INSERT INTO t VALUES (1),(2),(3),(4),(5);");
        let pool = LitePool::new(file.0.clone(), 1);
        let count = sql("SELECT count(*) FROM t WHERE id > ?", vec![Value::Int(1)]);
        let out = pool
            .run(&sql("SELECT id FROM t WHERE id > ? ORDER BY id", vec![Value::Int(1)]), Some(&count), 2, soon())
            .await
            .unwrap();
        assert_eq!(out.total, Some(4));
        let ids: Vec<_> = out.rows.iter().map(|r| r.values[0].clone()).collect();
        assert_eq!(ids, [LiteValue::Integer(2), LiteValue::Integer(3)]);
    }

    #[tokio::test]
    async fn connections_are_read_only() {
        let file = db("ro", "CREATE TABLE t(id INTEGER);");
        let pool = LitePool::new(file.0.clone(), 1);
        let err = pool.run(&sql("INSERT INTO t VALUES (1)", vec![]), None, 1, soon()).await.unwrap_err();
        assert!(
            matches!(&err, LiteError::Statement(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_statement_past_its_deadline_is_interrupted_and_the_worker_serves_on() {
        let file = db("slow", "CREATE TABLE t(id INTEGER);");
        let pool = LitePool::new(file.0.clone(), 1);
        let forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
        let started = Instant::now();
        let err =
            pool.run(&sql(forever, vec![]), None, 1, Instant::now() + Duration::from_millis(100)).await.unwrap_err();
        assert!(matches!(err, LiteError::Timeout), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // The only worker was interrupted, not lost: it answers the next call.
        let out = pool.run(&sql("SELECT 42", vec![]), None, 1, soon()).await.unwrap();
        assert_eq!(out.rows[0].values, [LiteValue::Integer(42)]);
        assert_eq!(pool.usage().0, 1);
    }

    #[tokio::test]
    async fn a_file_holding_a_sluice_store_is_refused() {
        let file = db("store", "CREATE TABLE sluice_store(k TEXT);");
        let pool = LitePool::new(file.0.clone(), 1);
        let err = pool.run(&sql("SELECT 1", vec![]), None, 1, soon()).await.unwrap_err();
        assert!(matches!(&err, LiteError::Unavailable(why) if why.contains("metadata store")), "{err:?}");
    }

    #[tokio::test]
    async fn a_missing_file_is_unavailable_and_is_tried_again() {
        let path = std::env::temp_dir().join(format!("sluice-lite-{}-missing.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let pool = LitePool::new(path.clone(), 1);
        let err = pool.run(&sql("SELECT 1", vec![]), None, 1, soon()).await.unwrap_err();
        assert!(matches!(err, LiteError::Unavailable(_)), "{err:?}");
        let _file = db("missing", "CREATE TABLE t(id INTEGER);");
        std::thread::sleep(REOPEN_AFTER);
        let out = pool.run(&sql("SELECT 7", vec![]), None, 1, soon()).await.unwrap();
        assert_eq!(out.rows[0].values, [LiteValue::Integer(7)]);
    }

    #[tokio::test]
    async fn letting_the_pool_go_ends_its_workers() {
        let file = db("drop", "CREATE TABLE t(id INTEGER);");
        let pool = LitePool::new(file.0.clone(), 2);
        pool.run(&sql("SELECT 1", vec![]), None, 1, soon()).await.unwrap();
        let workers = Arc::clone(&pool.workers);
        drop(pool);
        for _ in 0..500 {
            if workers.running.load(Ordering::Acquire) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the worker still runs after its pool was let go");
    }
}
