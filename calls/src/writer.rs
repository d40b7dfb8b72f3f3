//! The writer: drains the recorder's queue in batches into the stores, and prunes by
//! retention; it runs beside the edge on a runtime of its own and never slows a call.
//!
//! Every `flush_every` the writer takes what is queued, in batches of at most `batch_max`
//! records, and never waits on the queue in between (so the edge wakes nobody). A batch goes to
//! SQLite first (a failed write is retried once, then counted in `failed_batches` and
//! dropped), then, when configured, to ClickHouse — through a small queue of batches to a
//! task of its own, so a slow or down ClickHouse never holds SQLite back: a batch is tried
//! [`CLICKHOUSE_ATTEMPTS`] times, then dropped and its records counted in
//! `clickhouse_failed` (as are the records of batches that find that queue full). On `stop`
//! the writer closes the queue (the edge's later records count as dropped), writes what was
//! queued, waits for ClickHouse's pending batches and returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::CallRecord;
use crate::clickhouse::ClickHouse;
use crate::store::CallStore;

/// Tries of one batch into ClickHouse before it is dropped.
pub const CLICKHOUSE_ATTEMPTS: u32 = 3;
/// Batches waiting for ClickHouse; more are dropped (and counted).
const CLICKHOUSE_QUEUE: usize = 16;
/// The pause before the second try of a ClickHouse batch; it doubles per try.
const CLICKHOUSE_BACKOFF: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub struct WriterSettings {
    pub batch_max: usize,
    pub flush_every: Duration,
    pub prune_every: Duration,
}

impl Default for WriterSettings {
    fn default() -> Self {
        WriterSettings {
            batch_max: 1000,
            flush_every: Duration::from_millis(200),
            prune_every: Duration::from_secs(600),
        }
    }
}

/// What the writer did, for `/metrics`.
#[derive(Debug, Default)]
pub struct WriterCounts {
    /// Records written to SQLite.
    pub written: AtomicU64,
    /// Batches SQLite refused twice (their records are lost).
    pub failed_batches: AtomicU64,
    /// Records written to ClickHouse.
    pub clickhouse_written: AtomicU64,
    /// Records ClickHouse did not take after every try, or that found its queue full.
    pub clickhouse_failed: AtomicU64,
}

/// Runs until `stop` completes (or every [`crate::Recorder`] is gone), then drains the queue
/// and returns.
pub async fn run(
    mut rx: mpsc::Receiver<CallRecord>,
    store: CallStore,
    clickhouse: Option<ClickHouse>,
    settings: WriterSettings,
    counts: Arc<WriterCounts>,
    stop: impl std::future::Future<Output = ()>,
) {
    let batch_max = settings.batch_max.max(1);
    let sink = clickhouse.map(|client| ClickHouseSink::start(client, counts.clone()));
    let mut prune = tokio::time::interval(settings.prune_every.max(Duration::from_millis(1)));
    prune.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(stop);
    let mut stopping = false;
    let mut batch: Vec<CallRecord> = Vec::with_capacity(batch_max.min(4096));

    // Every `flush_every` the writer takes what is queued, without waiting for more: it never
    // waits on the queue itself, so a record costs the edge no wake-up of this thread (one
    // per record measured 24 us of CPU per call in the benchmark's P4).
    let mut tick = tokio::time::interval(settings.flush_every.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    while !stopping {
        tokio::select! {
            biased;
            () = &mut stop => break,
            _ = prune.tick() => {
                prune_now(&store).await;
                continue;
            }
            _ = tick.tick() => {}
        }
        loop {
            while batch.len() < batch_max {
                match rx.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        stopping = true;
                        break;
                    }
                }
            }
            let full = batch.len() >= batch_max;
            flush(&mut batch, &store, sink.as_ref(), &counts).await;
            if !full || stopping {
                break;
            }
        }
    }

    // Drain: no new records, then whatever is queued.
    rx.close();
    while let Some(record) = rx.recv().await {
        batch.push(record);
        if batch.len() >= batch_max {
            flush(&mut batch, &store, sink.as_ref(), &counts).await;
        }
    }
    flush(&mut batch, &store, sink.as_ref(), &counts).await;
    if let Some(sink) = sink {
        sink.finish().await;
    }
}

async fn prune_now(store: &CallStore) {
    let now_ms =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    match store.prune(now_ms).await {
        Ok(0) => {}
        Ok(removed) => tracing::debug!(removed, "call records pruned"),
        Err(error) => tracing::warn!(%error, "pruning call records failed"),
    }
}

/// Writes `batch` (then empties it): SQLite, then ClickHouse's queue.
async fn flush(batch: &mut Vec<CallRecord>, store: &CallStore, sink: Option<&ClickHouseSink>, counts: &WriterCounts) {
    if batch.is_empty() {
        return;
    }
    let records = std::mem::take(batch);
    let n = records.len() as u64;
    let written = match store.write(&records).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, records = n, "writing call records failed; trying again");
            match store.write(&records).await {
                Ok(()) => true,
                Err(error) => {
                    tracing::error!(%error, records = n, "writing call records failed twice; the batch is lost");
                    false
                }
            }
        }
    };
    if written {
        counts.written.fetch_add(n, Ordering::Relaxed);
    } else {
        counts.failed_batches.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(sink) = sink {
        sink.send(records);
    }
    batch.reserve(n.try_into().unwrap_or(0));
}

/// ClickHouse's side: a task inserting batches from a small queue.
struct ClickHouseSink {
    queue: mpsc::Sender<Arc<Vec<CallRecord>>>,
    task: tokio::task::JoinHandle<()>,
    counts: Arc<WriterCounts>,
}

impl ClickHouseSink {
    fn start(client: ClickHouse, counts: Arc<WriterCounts>) -> ClickHouseSink {
        let (queue, mut rx) = mpsc::channel::<Arc<Vec<CallRecord>>>(CLICKHOUSE_QUEUE);
        let task_counts = counts.clone();
        let task = tokio::spawn(async move {
            // Until the table is known to exist (ClickHouse may be down at start), each batch
            // first tries to create it.
            let mut table_ready = false;
            while let Some(batch) = rx.recv().await {
                if !table_ready {
                    match client.ensure_tables().await {
                        Ok(()) => table_ready = true,
                        Err(error) => tracing::warn!(%error, "creating ClickHouse's call table failed"),
                    }
                }
                insert(&client, &batch, &task_counts).await;
            }
        });
        ClickHouseSink { queue, task, counts }
    }

    fn send(&self, records: Vec<CallRecord>) {
        let n = records.len() as u64;
        if self.queue.try_send(Arc::new(records)).is_err() {
            tracing::warn!(records = n, "ClickHouse is behind; a batch of call records is dropped");
            self.counts.clickhouse_failed.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Waits until every queued batch is inserted or given up.
    async fn finish(self) {
        drop(self.queue);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the ClickHouse writer task failed");
        }
    }
}

async fn insert(client: &ClickHouse, batch: &[CallRecord], counts: &WriterCounts) {
    let n = batch.len() as u64;
    let mut pause = CLICKHOUSE_BACKOFF;
    for attempt in 1..=CLICKHOUSE_ATTEMPTS {
        match client.insert(batch).await {
            Ok(()) => {
                counts.clickhouse_written.fetch_add(n, Ordering::Relaxed);
                return;
            }
            Err(error) if attempt < CLICKHOUSE_ATTEMPTS => {
                tracing::warn!(%error, attempt, records = n, "inserting call records into ClickHouse failed; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(error) => {
                tracing::error!(%error, records = n, "inserting call records into ClickHouse failed; the batch is dropped");
            }
        }
    }
    counts.clickhouse_failed.fetch_add(n, Ordering::Relaxed);
}
