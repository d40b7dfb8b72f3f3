//! The embedded call store: a SQLite database of its own in the data dir (`calls.db`, never
//! the metadata store), with call details and per-minute rollups, written in batches and
//! pruned by retention.
//!
//! - `call_blocks`: the details, one row per written batch × workgroup (`0` for no workgroup):
//!   its records' time range, count and the records themselves, postcard-encoded and
//!   zstd-compressed (`encoding` 1, [`BlockRecord`]). A block costs the writer one B-tree insert
//!   for up to a thousand calls, where a row per call with its indexes cost 27 us of CPU per
//!   call (benchmark P4); searches decode the blocks of the window and filter in memory.
//! - `call_rollups`: one row per minute × workgroup × API × app × environment (`0` for no
//!   workgroup, API or app): counts by outcome, bytes, calls per code (`codes_json`, and
//!   `code_stats_json` with each code's outcomes and bytes, for summaries by code) and the
//!   minute's [`LatencySketch`].
//!
//! Summaries and trends read the rollups only: they include every minute whose start lies in
//! the window. Details use `at_ms` exactly. A [`Scope`] is a wall: every query starts from it
//! (a workgroup's blocks are its own rows), and every value reaches SQL as a bind.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqliteConnection};

use crate::report::{
    DetailPage, DetailQuery, Filter, GroupBy, Resolution, Scope, SummaryRow, Totals, TrendPoint, Window,
};
use crate::sketch::LatencySketch;
use crate::{CallRecord, CallsError, Outcome};

/// How long rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub details_days: u32,
    pub rollup_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { details_days: 7, rollup_days: 90 }
    }
}

const MINUTE_MS: i64 = 60_000;
/// Tries of an open that finds the new file busy (about 3 s in all).
const OPEN_ATTEMPTS: u64 = 16;
const DAY_MS: i64 = 86_400_000;

/// The schema, created in one transaction at open; every statement may run again (several
/// processes may open the file). The rollups keep their rowid: a row holds a sketch of a few
/// hundred bytes to a few KiB, too big for a `WITHOUT ROWID` table's B-tree.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS call_blocks (
        id INTEGER PRIMARY KEY,
        workgroup_id INTEGER NOT NULL,
        from_ms INTEGER NOT NULL,
        to_ms INTEGER NOT NULL,
        records INTEGER NOT NULL,
        encoding INTEGER NOT NULL,
        data BLOB NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS call_blocks_workgroup_to ON call_blocks (workgroup_id, to_ms)",
    "CREATE INDEX IF NOT EXISTS call_blocks_to ON call_blocks (to_ms)",
    "CREATE TABLE IF NOT EXISTS call_rollups (
        minute_ms INTEGER NOT NULL,
        workgroup_id INTEGER NOT NULL,
        api_id INTEGER NOT NULL,
        app_id INTEGER NOT NULL,
        env TEXT NOT NULL,
        calls INTEGER NOT NULL,
        succeeded INTEGER NOT NULL,
        throttled INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        bytes_in INTEGER NOT NULL,
        bytes_out INTEGER NOT NULL,
        codes_json TEXT NOT NULL,
        code_stats_json TEXT NOT NULL,
        sketch BLOB NOT NULL,
        PRIMARY KEY (minute_ms, workgroup_id, api_id, app_id, env)
    )",
    "CREATE INDEX IF NOT EXISTS call_rollups_workgroup_minute ON call_rollups (workgroup_id, minute_ms)",
];

/// Blocks' `encoding`: postcard of a `Vec<BlockRecord>`, zstd-compressed.
const ENCODING_POSTCARD_ZSTD: i64 = 1;
/// zstd's level for blocks: its fastest positive level; records compress about 3:1 there.
const ZSTD_LEVEL: i32 = 1;
/// Rows of the first schema's `call_details` moved into blocks per statement.
const LEGACY_ROWS_PER_BLOCK: i64 = 1000;

/// The embedded call store. Cheap to clone (a pool).
#[derive(Clone, Debug)]
pub struct CallStore {
    pool: SqlitePool,
    retention: Retention,
}

impl CallStore {
    /// Opens (creating when missing) the call database at `path`: WAL, a busy timeout, the
    /// schema. The edge's writer and the admin service open the file at the same start, and
    /// SQLite answers `SQLITE_BUSY` without waiting while another connection switches a new
    /// file to WAL: such an open is tried again, a few times.
    pub async fn open(path: &Path, retention: Retention) -> Result<CallStore, CallsError> {
        let mut attempt = 0u64;
        loop {
            attempt += 1;
            match CallStore::open_once(path, retention).await {
                Err(CallsError::Sqlx(sqlx::Error::Database(e))) if is_busy(e.as_ref()) && attempt < OPEN_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                opened => return opened,
            }
        }
    }

    async fn open_once(path: &Path, retention: Retention) -> Result<CallStore, CallsError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // Index pages of a growing file stay cached rather than spill mid-transaction, and
            // checkpoints come less often (perf on P4: page reads, spills and checkpoints were
            // a third of the writer's time; P4 went from 0.64-0.68 to 0.82).
            .pragma("cache_size", "-32768")
            .pragma("wal_autocheckpoint", "10000");
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        for statement in SCHEMA {
            sqlx::query(*statement).execute(&mut *tx).await?;
        }
        move_legacy_details(&mut tx).await?;
        tx.commit().await?;
        Ok(CallStore { pool, retention })
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// Closes the pool (tests reopen the file).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Writes `batch`'s details and merges it into the rollups, in one transaction.
    pub async fn write(&self, batch: &[CallRecord]) -> Result<(), CallsError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut rollups: HashMap<RollupKey, Acc> = HashMap::new();
        for record in batch {
            rollups.entry(RollupKey::of(record)).or_default().add(record);
        }
        let blocks = Block::encode_batch(batch)?;
        // IMMEDIATE: the rollups are read then written; take the write lock first.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for block in &blocks {
            block.insert(&mut tx).await?;
        }
        for (key, mut acc) in rollups {
            let existing = sqlx::query(
                "SELECT calls, succeeded, throttled, errors, bytes_in, bytes_out, codes_json, code_stats_json, sketch \
                 FROM call_rollups WHERE minute_ms = ? AND workgroup_id = ? AND api_id = ? AND app_id = ? AND env = ?",
            )
            .bind(key.minute_ms)
            .bind(key.workgroup_id)
            .bind(key.api_id)
            .bind(key.app_id)
            .bind(key.env.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = existing {
                acc.merge(&Acc::from_row(&row)?);
            }
            let codes_json = serde_json::to_string(&acc.codes).map_err(other)?;
            let code_stats_json = serde_json::to_string(&acc.code_stats).map_err(other)?;
            sqlx::query(
                "INSERT OR REPLACE INTO call_rollups (minute_ms, workgroup_id, api_id, app_id, env, calls, succeeded, \
                 throttled, errors, bytes_in, bytes_out, codes_json, code_stats_json, sketch) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(key.minute_ms)
            .bind(key.workgroup_id)
            .bind(key.api_id)
            .bind(key.app_id)
            .bind(key.env.as_str())
            .bind(int(acc.calls))
            .bind(int(acc.succeeded))
            .bind(int(acc.throttled))
            .bind(int(acc.errors))
            .bind(int(acc.bytes_in))
            .bind(int(acc.bytes_out))
            .bind(codes_json)
            .bind(code_stats_json)
            .bind(acc.sketch.to_bytes())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes details older than `details_days` and rollups older than `rollup_days` before
    /// `now_ms`; returns how many records and rollup rows went. Blocks wholly older go; a block
    /// the limit cuts through is written again with its newer records only.
    pub async fn prune(&self, now_ms: i64) -> Result<u64, CallsError> {
        let details_before = now_ms.saturating_sub(i64::from(self.retention.details_days) * DAY_MS);
        let rollups_before = now_ms.saturating_sub(i64::from(self.retention.rollup_days) * DAY_MS);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let expired: i64 = sqlx::query("SELECT COALESCE(SUM(records), 0) AS n FROM call_blocks WHERE to_ms < ?")
            .bind(details_before)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        sqlx::query("DELETE FROM call_blocks WHERE to_ms < ?").bind(details_before).execute(&mut *tx).await?;
        let mut removed = u64::try_from(expired).unwrap_or(0);
        let cut = sqlx::query("SELECT id, workgroup_id, encoding, data FROM call_blocks WHERE from_ms < ?")
            .bind(details_before)
            .fetch_all(&mut *tx)
            .await?;
        for row in cut {
            let id: i64 = row.try_get("id")?;
            let mut records = Block::decode(&row)?;
            let before = records.len();
            records.retain(|record| record.at_ms >= details_before);
            removed += (before - records.len()) as u64;
            sqlx::query("DELETE FROM call_blocks WHERE id = ?").bind(id).execute(&mut *tx).await?;
            if let Some(block) = Block::encode(row.try_get("workgroup_id")?, &records)? {
                block.insert(&mut tx).await?;
            }
        }
        let rollups = sqlx::query("DELETE FROM call_rollups WHERE minute_ms < ?")
            .bind(rollups_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(removed + rollups)
    }

    /// Totals over the window.
    pub async fn totals(&self, scope: &Scope, window: Window, filter: &Filter) -> Result<Totals, CallsError> {
        let mut acc = Acc::default();
        for row in self.rollup_rows(scope, window, filter).await? {
            acc.merge(&Acc::from_row(&row)?);
        }
        Ok(acc.totals(true))
    }

    /// Totals per API, app, code or environment, most calls first (then by key).
    pub async fn summary(
        &self,
        scope: &Scope,
        window: Window,
        filter: &Filter,
        group: GroupBy,
    ) -> Result<Vec<SummaryRow>, CallsError> {
        let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
        for row in self.rollup_rows(scope, window, filter).await? {
            let acc = Acc::from_row(&row)?;
            match group {
                GroupBy::Api => groups.entry(id_key(row.try_get("api_id")?)).or_default().merge(&acc),
                GroupBy::App => groups.entry(id_key(row.try_get("app_id")?)).or_default().merge(&acc),
                GroupBy::Env => groups.entry(row.try_get("env")?).or_default().merge(&acc),
                GroupBy::Code => {
                    for (code, calls) in &acc.codes {
                        let stats = acc.code_stats.get(code).copied().unwrap_or_default();
                        groups.entry(code.clone()).or_default().add_code(code, *calls, stats);
                    }
                }
            }
        }
        let with_percentiles = group != GroupBy::Code;
        let mut rows: Vec<SummaryRow> =
            groups.into_iter().map(|(key, acc)| SummaryRow { key, totals: acc.totals(with_percentiles) }).collect();
        rows.sort_by(|a, b| b.totals.calls.cmp(&a.totals.calls).then_with(|| a.key.cmp(&b.key)));
        Ok(rows)
    }

    /// Totals per minute, hour or day (UTC), oldest first; only steps with calls.
    pub async fn trend(
        &self,
        scope: &Scope,
        window: Window,
        filter: &Filter,
        resolution: Resolution,
    ) -> Result<Vec<TrendPoint>, CallsError> {
        let step = resolution.millis();
        let mut buckets: BTreeMap<i64, Acc> = BTreeMap::new();
        for row in self.rollup_rows(scope, window, filter).await? {
            let minute: i64 = row.try_get("minute_ms")?;
            let start = minute - minute.rem_euclid(step);
            buckets.entry(start).or_default().merge(&Acc::from_row(&row)?);
        }
        Ok(buckets
            .into_iter()
            .filter(|(_, acc)| acc.calls > 0)
            .map(|(at_ms, acc)| TrendPoint { at_ms, totals: acc.totals(true) })
            .collect())
    }

    /// A page of call details, newest first, and how many match in all.
    pub async fn details(&self, scope: &Scope, window: Window, query: &DetailQuery) -> Result<DetailPage, CallsError> {
        let mut sql = Conditions::default();
        if let Some(workgroup) = scope.workgroup_id {
            sql.push("workgroup_id = ?", Arg::Int(workgroup));
        }
        sql.push("to_ms >= ?", Arg::Int(window.from_ms));
        sql.push("from_ms < ?", Arg::Int(window.to_ms));
        let text = format!("SELECT encoding, data FROM call_blocks WHERE {} ORDER BY id", sql.text());
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(text)), &sql.args).fetch_all(&self.pool).await?;
        // The newest `offset + limit` matches, by time then by order of writing: a bounded
        // min-heap, so a search over many blocks keeps only the page it answers.
        let keep = usize::try_from(u64::from(query.offset) + u64::from(query.limit)).unwrap_or(usize::MAX);
        let mut newest: BinaryHeap<Reverse<Ranked>> = BinaryHeap::new();
        let mut total = 0u64;
        let mut order = 0u64;
        for row in &rows {
            for record in Block::decode(row)? {
                order += 1;
                if !matches(&record, scope, window, query) {
                    continue;
                }
                total += 1;
                let ranked = Ranked { at_ms: record.at_ms, order, record };
                if newest.len() < keep {
                    newest.push(Reverse(ranked));
                } else if newest.peek().is_some_and(|Reverse(oldest)| ranked.key() > oldest.key()) {
                    newest.pop();
                    newest.push(Reverse(ranked));
                }
            }
        }
        let mut items: Vec<Ranked> = newest.into_iter().map(|Reverse(ranked)| ranked).collect();
        items.sort_unstable_by_key(|ranked| Reverse(ranked.key()));
        let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
        let items = items.into_iter().skip(offset).map(|ranked| ranked.record).collect();
        Ok(DetailPage { total, items })
    }

    /// The rollup rows of every minute whose start lies in `window`, inside `scope`.
    async fn rollup_rows(&self, scope: &Scope, window: Window, filter: &Filter) -> Result<Vec<SqliteRow>, CallsError> {
        let mut sql = Conditions::default();
        sql.scope(scope);
        sql.filter(filter);
        sql.push("minute_ms >= ?", Arg::Int(window.from_ms));
        sql.push("minute_ms < ?", Arg::Int(window.to_ms));
        let text = format!(
            "SELECT minute_ms, api_id, app_id, env, calls, succeeded, throttled, errors, bytes_in, bytes_out, \
             codes_json, code_stats_json, sketch FROM call_rollups WHERE {}",
            sql.text()
        );
        Ok(bind_all(sqlx::query(sqlx::AssertSqlSafe(text)), &sql.args).fetch_all(&self.pool).await?)
    }
}

/// A count as SQLite's integer (counts never come near 2^63).
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn count(row: &SqliteRow, column: &str) -> Result<u64, CallsError> {
    let value: i64 = row.try_get(column)?;
    Ok(u64::try_from(value).unwrap_or(0))
}

fn other(error: serde_json::Error) -> CallsError {
    CallsError::Other(error.to_string())
}

/// A summary key for an API or app id: decimal, `""` for none (stored as 0).
fn id_key(id: i64) -> String {
    if id == 0 { String::new() } else { id.to_string() }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RollupKey {
    minute_ms: i64,
    workgroup_id: i64,
    api_id: i64,
    app_id: i64,
    env: String,
}

impl RollupKey {
    fn of(record: &CallRecord) -> RollupKey {
        RollupKey {
            minute_ms: record.at_ms - record.at_ms.rem_euclid(MINUTE_MS),
            workgroup_id: record.workgroup_id.unwrap_or(0),
            api_id: record.api_id.unwrap_or(0),
            app_id: record.app_id.unwrap_or(0),
            env: record.env.to_string(),
        }
    }
}

/// One code's outcomes and bytes within a rollup: `[succeeded, throttled, errors, bytes_in,
/// bytes_out]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct CodeStats(u64, u64, u64, u64, u64);

/// Counts and a sketch being summed up.
#[derive(Debug, Default, Clone)]
struct Acc {
    calls: u64,
    succeeded: u64,
    throttled: u64,
    errors: u64,
    bytes_in: u64,
    bytes_out: u64,
    codes: BTreeMap<String, u64>,
    code_stats: BTreeMap<String, CodeStats>,
    sketch: LatencySketch,
}

impl Acc {
    fn add(&mut self, record: &CallRecord) {
        let (succeeded, throttled, errors) = match record.outcome() {
            Outcome::Success => (1, 0, 0),
            Outcome::Throttled => (0, 1, 0),
            Outcome::Error => (0, 0, 1),
            Outcome::Refused => (0, 0, 0),
        };
        self.calls += 1;
        self.succeeded += succeeded;
        self.throttled += throttled;
        self.errors += errors;
        self.bytes_in = self.bytes_in.saturating_add(record.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(record.bytes_out);
        *self.codes.entry(record.code.to_string()).or_default() += 1;
        let stats = self.code_stats.entry(record.code.to_string()).or_default();
        stats.0 += succeeded;
        stats.1 += throttled;
        stats.2 += errors;
        stats.3 = stats.3.saturating_add(record.bytes_in);
        stats.4 = stats.4.saturating_add(record.bytes_out);
        self.sketch.add_micros(record.latency_us);
    }

    /// Adds one code's share of a rollup (a summary by code: no latencies).
    fn add_code(&mut self, code: &str, calls: u64, stats: CodeStats) {
        self.calls += calls;
        self.succeeded += stats.0;
        self.throttled += stats.1;
        self.errors += stats.2;
        self.bytes_in = self.bytes_in.saturating_add(stats.3);
        self.bytes_out = self.bytes_out.saturating_add(stats.4);
        *self.codes.entry(code.to_string()).or_default() += calls;
    }

    fn merge(&mut self, other: &Acc) {
        self.calls += other.calls;
        self.succeeded += other.succeeded;
        self.throttled += other.throttled;
        self.errors += other.errors;
        self.bytes_in = self.bytes_in.saturating_add(other.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(other.bytes_out);
        for (code, n) in &other.codes {
            *self.codes.entry(code.clone()).or_default() += n;
        }
        for (code, s) in &other.code_stats {
            let mine = self.code_stats.entry(code.clone()).or_default();
            mine.0 += s.0;
            mine.1 += s.1;
            mine.2 += s.2;
            mine.3 = mine.3.saturating_add(s.3);
            mine.4 = mine.4.saturating_add(s.4);
        }
        self.sketch.merge(&other.sketch);
    }

    fn from_row(row: &SqliteRow) -> Result<Acc, CallsError> {
        let codes_json: String = row.try_get("codes_json")?;
        let code_stats_json: String = row.try_get("code_stats_json")?;
        let sketch: Vec<u8> = row.try_get("sketch")?;
        Ok(Acc {
            calls: count(row, "calls")?,
            succeeded: count(row, "succeeded")?,
            throttled: count(row, "throttled")?,
            errors: count(row, "errors")?,
            bytes_in: count(row, "bytes_in")?,
            bytes_out: count(row, "bytes_out")?,
            codes: serde_json::from_str(&codes_json).map_err(other)?,
            code_stats: serde_json::from_str(&code_stats_json).map_err(other)?,
            sketch: LatencySketch::from_bytes(&sketch)?,
        })
    }

    fn totals(self, with_percentiles: bool) -> Totals {
        let percentile = |q| if with_percentiles { self.sketch.quantile_ms(q) } else { None };
        Totals {
            calls: self.calls,
            succeeded: self.succeeded,
            throttled: self.throttled,
            errors: self.errors,
            success_rate: if self.calls == 0 { 1.0 } else { self.succeeded as f64 / self.calls as f64 },
            p50_ms: percentile(0.5),
            p95_ms: percentile(0.95),
            p99_ms: percentile(0.99),
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            codes: self.codes,
        }
    }
}

enum Arg {
    Int(i64),
    Text(String),
}

/// A `WHERE` clause of `AND`ed terms, each with its binds.
#[derive(Default)]
struct Conditions {
    terms: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    fn push(&mut self, term: &str, arg: Arg) {
        self.terms.push(term.to_string());
        self.args.push(arg);
    }

    /// `column IN (?, …)`; nothing matches an empty list.
    fn one_of(&mut self, column: &str, ids: &[i64]) {
        // Ids are positive; 0 would name "none" in the rollups and nothing in the details.
        let ids: Vec<i64> = ids.iter().copied().filter(|id| *id > 0).collect();
        if ids.is_empty() {
            self.terms.push("0 = 1".into());
            return;
        }
        let marks = vec!["?"; ids.len()].join(", ");
        self.terms.push(format!("{column} IN ({marks})"));
        self.args.extend(ids.into_iter().map(Arg::Int));
    }

    fn scope(&mut self, scope: &Scope) {
        if let Some(workgroup) = scope.workgroup_id {
            self.push("workgroup_id = ?", Arg::Int(workgroup));
        }
        if let Some(apis) = &scope.api_ids {
            self.one_of("api_id", apis);
        }
        if let Some(apps) = &scope.app_ids {
            self.one_of("app_id", apps);
        }
    }

    /// The rollups' filter terms, where id `0` is "none".
    fn filter(&mut self, filter: &Filter) {
        for (column, id) in [("api_id", filter.api_id), ("app_id", filter.app_id)] {
            // Id 0 or below names no API or app: in the rollups that is "none".
            if let Some(id) = id {
                self.push(&format!("{column} = ?"), Arg::Int(id.max(0)));
            }
        }
        if let Some(env) = &filter.env {
            self.push("env = ?", Arg::Text(env.clone()));
        }
    }

    fn text(&self) -> String {
        if self.terms.is_empty() { "1 = 1".into() } else { self.terms.join(" AND ") }
    }
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Sqlite, SqliteArguments>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, Sqlite, SqliteArguments> {
    for arg in args {
        query = match arg {
            Arg::Int(value) => query.bind(*value),
            Arg::Text(text) => query.bind(text.as_str()),
        };
    }
    query
}

/// Whether a stored record is one a details search wants: the scope, the filter, the window
/// and the query's own terms (the same rules as the rollups' SQL, where "none" is `None`).
fn matches(record: &CallRecord, scope: &Scope, window: Window, query: &DetailQuery) -> bool {
    let one_of = |ids: &Option<Vec<i64>>, id: Option<i64>| match ids {
        None => true,
        // Ids are positive; an empty list (or one of none) lets nothing through.
        Some(ids) => id.is_some_and(|id| id > 0 && ids.contains(&id)),
    };
    let is = |wanted: Option<i64>, id: Option<i64>| match wanted {
        None => true,
        // Id 0 or below names no API or app.
        Some(wanted) if wanted <= 0 => id.is_none(),
        Some(wanted) => id == Some(wanted),
    };
    let filter = &query.filter;
    scope.workgroup_id.is_none_or(|workgroup| record.workgroup_id == Some(workgroup))
        && one_of(&scope.api_ids, record.api_id)
        && one_of(&scope.app_ids, record.app_id)
        && is(filter.api_id, record.api_id)
        && is(filter.app_id, record.app_id)
        && filter.env.as_deref().is_none_or(|env| record.env == env)
        && record.at_ms >= window.from_ms
        && record.at_ms < window.to_ms
        && query.request_id.as_deref().is_none_or(|id| record.request_id == id)
        && query.status.is_none_or(|status| record.status == status)
        && query.code.as_deref().is_none_or(|code| record.code == code)
}

/// A matching record and its place: newest by time, then by the order it was written.
struct Ranked {
    at_ms: i64,
    order: u64,
    record: CallRecord,
}

impl Ranked {
    fn key(&self) -> (i64, u64) {
        (self.at_ms, self.order)
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// One record as a block stores it (postcard: fields by position, so any change to this
/// struct needs a new block encoding). Written borrowed, read owned.
#[derive(Serialize)]
struct BlockRecordRef<'a> {
    at_ms: i64,
    request_id: &'a str,
    trace_id: &'a str,
    workgroup_id: Option<i64>,
    api_id: Option<i64>,
    version: Option<i64>,
    env: &'a str,
    app_id: Option<i64>,
    client: &'a str,
    status: u16,
    code: &'a str,
    latency_us: u64,
    backend_us: Option<u64>,
    rows: Option<u64>,
    bytes_in: u64,
    bytes_out: u64,
    cache_hit: Option<bool>,
}

/// [`BlockRecordRef`] read back.
#[derive(Deserialize)]
struct BlockRecord {
    at_ms: i64,
    request_id: String,
    trace_id: String,
    workgroup_id: Option<i64>,
    api_id: Option<i64>,
    version: Option<i64>,
    env: String,
    app_id: Option<i64>,
    client: String,
    status: u16,
    code: String,
    latency_us: u64,
    backend_us: Option<u64>,
    rows: Option<u64>,
    bytes_in: u64,
    bytes_out: u64,
    cache_hit: Option<bool>,
}

impl<'a> From<&'a CallRecord> for BlockRecordRef<'a> {
    fn from(r: &'a CallRecord) -> Self {
        BlockRecordRef {
            at_ms: r.at_ms,
            request_id: &r.request_id,
            trace_id: &r.trace_id,
            workgroup_id: r.workgroup_id,
            api_id: r.api_id,
            version: r.version,
            env: &r.env,
            app_id: r.app_id,
            client: &r.client,
            status: r.status,
            code: &r.code,
            latency_us: r.latency_us,
            backend_us: r.backend_us,
            rows: r.rows,
            bytes_in: r.bytes_in,
            bytes_out: r.bytes_out,
            cache_hit: r.cache_hit,
        }
    }
}

impl From<BlockRecord> for CallRecord {
    fn from(r: BlockRecord) -> Self {
        CallRecord {
            at_ms: r.at_ms,
            request_id: r.request_id,
            trace_id: r.trace_id,
            workgroup_id: r.workgroup_id,
            api_id: r.api_id,
            version: r.version,
            env: r.env.into(),
            app_id: r.app_id,
            client: r.client,
            status: r.status,
            code: r.code.into(),
            latency_us: r.latency_us,
            backend_us: r.backend_us,
            rows: r.rows,
            bytes_in: r.bytes_in,
            bytes_out: r.bytes_out,
            cache_hit: r.cache_hit,
        }
    }
}

/// One workgroup's records of one batch, encoded.
struct Block {
    workgroup_id: i64,
    from_ms: i64,
    to_ms: i64,
    records: i64,
    data: Vec<u8>,
}

impl Block {
    /// A batch's blocks, one per workgroup (`0` for calls no API answered).
    fn encode_batch(batch: &[CallRecord]) -> Result<Vec<Block>, CallsError> {
        let mut by_workgroup: BTreeMap<i64, Vec<&CallRecord>> = BTreeMap::new();
        for record in batch {
            by_workgroup.entry(record.workgroup_id.unwrap_or(0)).or_default().push(record);
        }
        let mut blocks = Vec::with_capacity(by_workgroup.len());
        for (workgroup_id, records) in by_workgroup {
            blocks.extend(Block::encode(workgroup_id, records)?);
        }
        Ok(blocks)
    }

    /// `records` as one block; `None` when there are none.
    fn encode<'a>(
        workgroup_id: i64,
        records: impl IntoIterator<Item = &'a CallRecord>,
    ) -> Result<Option<Block>, CallsError> {
        let stored: Vec<BlockRecordRef<'a>> = records.into_iter().map(BlockRecordRef::from).collect();
        let (Some(from_ms), Some(to_ms)) = (stored.iter().map(|r| r.at_ms).min(), stored.iter().map(|r| r.at_ms).max())
        else {
            return Ok(None);
        };
        let plain = postcard::to_allocvec(&stored).map_err(|e| CallsError::Other(format!("encoding a block: {e}")))?;
        let data = zstd::bulk::compress(&plain, ZSTD_LEVEL)
            .map_err(|e| CallsError::Other(format!("compressing a block: {e}")))?;
        let records = i64::try_from(stored.len()).unwrap_or(i64::MAX);
        Ok(Some(Block { workgroup_id, from_ms, to_ms, records, data }))
    }

    async fn insert(&self, conn: &mut SqliteConnection) -> Result<(), CallsError> {
        sqlx::query(
            "INSERT INTO call_blocks (workgroup_id, from_ms, to_ms, records, encoding, data) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(self.workgroup_id)
        .bind(self.from_ms)
        .bind(self.to_ms)
        .bind(self.records)
        .bind(ENCODING_POSTCARD_ZSTD)
        .bind(self.data.as_slice())
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The records of a row with `encoding` and `data` columns.
    fn decode(row: &SqliteRow) -> Result<Vec<CallRecord>, CallsError> {
        let encoding: i64 = row.try_get("encoding")?;
        if encoding != ENCODING_POSTCARD_ZSTD {
            return Err(CallsError::Other(format!("a call block has an unknown encoding {encoding}")));
        }
        let data: &[u8] = row.try_get("data")?;
        let plain =
            zstd::stream::decode_all(data).map_err(|e| CallsError::Other(format!("decompressing a block: {e}")))?;
        let stored: Vec<BlockRecord> =
            postcard::from_bytes(&plain).map_err(|e| CallsError::Other(format!("decoding a block: {e}")))?;
        Ok(stored.into_iter().map(CallRecord::from).collect())
    }
}

/// Moves the rows of the first schema's `call_details` (a row per call) into blocks and
/// drops that table, so a store written by an older Sluice keeps its details.
async fn move_legacy_details(conn: &mut SqliteConnection) -> Result<(), CallsError> {
    let legacy: Option<SqliteRow> =
        sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'call_details'")
            .fetch_optional(&mut *conn)
            .await?;
    if legacy.is_none() {
        return Ok(());
    }
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT id, at_ms, request_id, trace_id, workgroup_id, api_id, version, env, app_id, client, status, \
             code, latency_us, backend_us, row_count, bytes_in, bytes_out, cache_hit \
             FROM call_details WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(LEGACY_ROWS_PER_BLOCK)
        .fetch_all(&mut *conn)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("id")?;
        let records = rows.iter().map(record_from_row).collect::<Result<Vec<_>, _>>()?;
        for block in Block::encode_batch(&records)? {
            block.insert(&mut *conn).await?;
        }
    }
    sqlx::query("DROP TABLE call_details").execute(&mut *conn).await?;
    Ok(())
}

fn record_from_row(row: &SqliteRow) -> Result<CallRecord, CallsError> {
    let env: String = row.try_get("env")?;
    let code: String = row.try_get("code")?;
    let status: i64 = row.try_get("status")?;
    let unsigned = |column: &str| -> Result<Option<u64>, CallsError> {
        let value: Option<i64> = row.try_get(column)?;
        Ok(value.map(|v| u64::try_from(v).unwrap_or(0)))
    };
    Ok(CallRecord {
        at_ms: row.try_get("at_ms")?,
        request_id: row.try_get("request_id")?,
        trace_id: row.try_get("trace_id")?,
        workgroup_id: row.try_get("workgroup_id")?,
        api_id: row.try_get("api_id")?,
        version: row.try_get("version")?,
        env: env.into(),
        app_id: row.try_get("app_id")?,
        client: row.try_get("client")?,
        status: u16::try_from(status).unwrap_or(0),
        code: code.into(),
        latency_us: count(row, "latency_us")?,
        backend_us: unsigned("backend_us")?,
        rows: unsigned("row_count")?,
        bytes_in: count(row, "bytes_in")?,
        bytes_out: count(row, "bytes_out")?,
        cache_hit: row.try_get("cache_hit")?,
    })
}

/// Whether SQLite said the database is busy or locked (`SQLITE_BUSY`, `SQLITE_LOCKED`).
fn is_busy(error: &dyn sqlx::error::DatabaseError) -> bool {
    matches!(error.code().as_deref(), Some("5" | "6")) || error.message().contains("database is locked")
}
