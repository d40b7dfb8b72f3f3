//! The writer: from the recorder's queue into SQLite (and ClickHouse on 127.0.0.1:8123, which
//! `./scripts/test` starts), in batches, draining on stop, never holding the edge.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use calls::clickhouse::ClickHouse;
use calls::report::{DetailQuery, Scope, Window};
use calls::store::{CallStore, Retention};
use calls::writer::{self, WriterCounts, WriterSettings};
use calls::{CallRecord, Recorder};
use support::*;

const ALL_TIME: Window = Window { from_ms: 0, to_ms: i64::MAX };
const CLICKHOUSE_URL: &str = "http://127.0.0.1:8123/?database=default";

fn settings(batch_max: usize) -> WriterSettings {
    WriterSettings { batch_max, ..WriterSettings::default() }
}

async fn stored_ids(store: &CallStore) -> Vec<String> {
    let query = DetailQuery { limit: 100_000, ..DetailQuery::default() };
    let mut ids: Vec<String> = store
        .details(&Scope::default(), ALL_TIME, &query)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.request_id)
        .collect();
    ids.sort();
    ids
}

/// Waits until `done` holds; the timeout only turns a hang into a failure.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(120), async {
        while !done().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{what} did not happen");
}

/// `n` calls of the last minutes (the writer prunes by the wall clock: records of `T0` would
/// go at its first pruning).
fn calls_of(prefix: &str, n: usize) -> Vec<CallRecord> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    (0..n)
        .map(|i| {
            let mut record =
                call(now - 600_000 + i as i64 * 1000, Some(1), Some(10), Some(100), 200, "OK", 1000 + i as u64);
            record.request_id = format!("{prefix}-{i:04}");
            record
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_arrive_in_batches_while_the_writer_runs() {
    let dir = TempDir::new("writer-batches");
    let store = CallStore::open(&dir.db(), Retention::default()).await.unwrap();
    let (recorder, rx) = Recorder::bounded(1000);
    let counts = Arc::new(WriterCounts::default());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let writer = tokio::spawn(writer::run(rx, store.clone(), None, settings(7), counts.clone(), async {
        let _ = stop_rx.await;
    }));

    let records = calls_of("batches", 50);
    for record in &records {
        recorder.record(record.clone());
    }
    // Written while running, before any stop: batches of at most 7 (or whatever the
    // flush time closed).
    eventually("50 records written", async || counts.written.load(Ordering::Relaxed) == 50).await;
    let mut want: Vec<String> = records.iter().map(|r| r.request_id.clone()).collect();
    want.sort();
    assert_eq!(stored_ids(&store).await, want);

    // More after a pause: the writer waits for them.
    recorder.record(calls_of("later", 1).remove(0));
    eventually("the 51st record written", async || counts.written.load(Ordering::Relaxed) == 51).await;
    let _ = stop_tx.send(());
    writer.await.unwrap();
    assert_eq!(counts.failed_batches.load(Ordering::Relaxed), 0);
    assert_eq!(recorder.counts().dropped.load(Ordering::Relaxed), 0);
    // The writer is gone: the edge's records are dropped, never waited on.
    recorder.record(calls_of("after", 1).remove(0));
    assert_eq!(recorder.counts().dropped.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn stop_drains_what_is_queued() {
    let dir = TempDir::new("writer-drain");
    let store = CallStore::open(&dir.db(), Retention::default()).await.unwrap();
    let (recorder, rx) = Recorder::bounded(500);
    let records = calls_of("drain", 333);
    for record in &records {
        recorder.record(record.clone());
    }
    let counts = Arc::new(WriterCounts::default());
    // Stopped before it starts: everything queued is still written, in batches of 100.
    writer::run(rx, store.clone(), None, settings(100), counts.clone(), std::future::ready(())).await;
    assert_eq!(counts.written.load(Ordering::Relaxed), 333);
    assert_eq!(stored_ids(&store).await.len(), 333);
    let totals = store.totals(&Scope::default(), ALL_TIME, &Default::default()).await.unwrap();
    assert_eq!(totals.calls, 333);
}

#[tokio::test]
async fn a_full_queue_never_blocks_the_edge() {
    let dir = TempDir::new("writer-full");
    let store = CallStore::open(&dir.db(), Retention::default()).await.unwrap();
    let (recorder, rx) = Recorder::bounded(4);
    // No writer runs yet: the queue fills, and every further record is dropped at once.
    for record in calls_of("full", 100) {
        recorder.record(record);
    }
    assert_eq!(recorder.counts().recorded.load(Ordering::Relaxed), 4);
    assert_eq!(recorder.counts().dropped.load(Ordering::Relaxed), 96);
    assert_eq!(recorder.depth(), 4);
    let counts = Arc::new(WriterCounts::default());
    writer::run(rx, store.clone(), None, settings(1000), counts.clone(), std::future::ready(())).await;
    assert_eq!(counts.written.load(Ordering::Relaxed), 4);
    assert_eq!(stored_ids(&store).await, ["full-0000", "full-0001", "full-0002", "full-0003"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_prunes_by_retention() {
    let dir = TempDir::new("writer-prune");
    let store = CallStore::open(&dir.db(), Retention { details_days: 1, rollup_days: 1 }).await.unwrap();
    // A call from long ago (T0 is in 2025).
    store.write(&[call(T0, Some(1), Some(10), None, 200, "OK", 1000)]).await.unwrap();
    let (_recorder, rx) = Recorder::bounded(10);
    let counts = Arc::new(WriterCounts::default());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let settings = WriterSettings { prune_every: Duration::from_millis(50), ..settings(10) };
    let writer = tokio::spawn(writer::run(rx, store.clone(), None, settings, counts, async {
        let _ = stop_rx.await;
    }));
    // Details and rollups go in two statements: wait for both.
    eventually("the old call pruned", async || {
        let totals = store.totals(&Scope::default(), ALL_TIME, &Default::default()).await.unwrap();
        stored_ids(&store).await.is_empty() && totals.calls == 0
    })
    .await;
    let _ = stop_tx.send(());
    writer.await.unwrap();
}

/// A prefix no other run used: the ClickHouse table is shared.
fn unique_prefix(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_gets_the_same_records_as_sqlite() {
    let clickhouse = ClickHouse::new(CLICKHOUSE_URL).unwrap();
    if let Err(error) = clickhouse.ensure_tables().await {
        panic!("ClickHouse must run on 127.0.0.1:8123 (./scripts/test --setup starts it): {error}");
    }
    let dir = TempDir::new("writer-clickhouse");
    let store = CallStore::open(&dir.db(), Retention::default()).await.unwrap();
    let (recorder, rx) = Recorder::bounded(1000);
    let counts = Arc::new(WriterCounts::default());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let writer =
        tokio::spawn(writer::run(rx, store.clone(), Some(clickhouse.clone()), settings(10), counts.clone(), async {
            let _ = stop_rx.await;
        }));
    let prefix = unique_prefix("ch");
    let mut records = calls_of(&prefix, 45);
    // Every optional field both ways, and text that needs escaping.
    records[0].cache_hit = Some(true);
    records[1].cache_hit = Some(false);
    records[2].api_id = None;
    records[2].workgroup_id = None;
    records[3].client = "2001:db8::1 \"quoted\"\ttab".into();
    for record in &records {
        recorder.record(record.clone());
    }
    eventually("45 records in SQLite", async || counts.written.load(Ordering::Relaxed) == 45).await;
    // Stop: ClickHouse's pending batches are finished before run returns.
    let _ = stop_tx.send(());
    writer.await.unwrap();
    assert_eq!(counts.clickhouse_written.load(Ordering::Relaxed), 45);
    assert_eq!(counts.clickhouse_failed.load(Ordering::Relaxed), 0);

    let sqlite = stored_ids(&store).await;
    let mut in_clickhouse: Vec<String> =
        clickhouse.request_ids().await.unwrap().into_iter().filter(|id| id.starts_with(&prefix)).collect();
    in_clickhouse.sort();
    assert_eq!(sqlite.len(), 45);
    assert_eq!(in_clickhouse, sqlite);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clickhouse_that_is_down_never_holds_sqlite_back() {
    // Nothing listens on port 1: every try fails at once.
    let clickhouse = ClickHouse::new("http://127.0.0.1:1/?database=default").unwrap();
    let dir = TempDir::new("writer-clickhouse-down");
    let store = CallStore::open(&dir.db(), Retention::default()).await.unwrap();
    let (recorder, rx) = Recorder::bounded(100);
    for record in calls_of("down", 12) {
        recorder.record(record);
    }
    let counts = Arc::new(WriterCounts::default());
    writer::run(rx, store.clone(), Some(clickhouse), settings(100), counts.clone(), std::future::ready(())).await;
    assert_eq!(counts.written.load(Ordering::Relaxed), 12);
    assert_eq!(stored_ids(&store).await.len(), 12);
    // Tried, then dropped and counted (by record).
    assert_eq!(counts.clickhouse_written.load(Ordering::Relaxed), 0);
    assert_eq!(counts.clickhouse_failed.load(Ordering::Relaxed), 12);
}

#[tokio::test]
async fn clickhouse_errors_never_show_the_password() {
    // ClickHouse refuses an unknown user; the error says so without the password.
    let clickhouse = ClickHouse::new("http://nobody-here:s3cret-pw@127.0.0.1:8123/?database=default").unwrap();
    let error = clickhouse.request_ids().await.unwrap_err().to_string();
    assert!(!error.contains("s3cret-pw"), "{error}");
    assert!(error.contains("HTTP"), "{error}");
}
