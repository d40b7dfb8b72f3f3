//! What happened at the edge. The edge hands one [`CallRecord`] per answered call to a
//! [`Recorder`] (a bounded queue it never waits on: a full queue drops and counts); the
//! [`writer`] drains the queue in batches into the stores — the embedded SQLite database in
//! the data dir ([`store`]), and ClickHouse when configured ([`clickhouse`]) — with per-minute
//! rollups whose latency sketches ([`sketch`]) make percentiles over any window. [`report`]
//! reads summaries, trends and details back; [`metrics`] is the Prometheus exposition.
//!
//! ```text
//! edge ─ try_send ─► queue (bounded) ─► writer ─► SQLite calls.db (details, rollups)
//!                         │ full: dropped += 1        └─► ClickHouse (same records)
//!                         ▼
//!                    metrics (/metrics)
//! ```

pub mod clickhouse;
pub mod metrics;
pub mod report;
pub mod sketch;
pub mod store;
pub mod writer;

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio::sync::mpsc;

/// One answered call, as the edge saw it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// When the call's head was read, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The `X-Request-Id` the caller got.
    pub request_id: String,
    /// The W3C trace id (32 lower-case hex digits): the caller's `traceparent`'s, or new.
    pub trace_id: String,
    /// The API's workgroup; `None` for calls no API answered (no route).
    pub workgroup_id: Option<i64>,
    pub api_id: Option<i64>,
    /// The number of the version that answered.
    pub version: Option<i64>,
    /// `prod` or `test`.
    #[schema(value_type = String)]
    pub env: Cow<'static, str>,
    /// The calling app; `None` for anonymous calls.
    pub app_id: Option<i64>,
    /// The client's address (after trusted proxies), as text.
    pub client: String,
    /// The HTTP status the caller got.
    pub status: u16,
    /// The error catalogue's code without a name (`InvalidParameter`), `OK`, or for a
    /// registered API's own answer `OK` below 400 and `Upstream.Answer` from 400 on.
    #[schema(value_type = String)]
    pub code: Cow<'static, str>,
    /// From the head read to the answer written, in microseconds.
    pub latency_us: u64,
    /// Time spent in the database or the upstream, in microseconds, when any.
    pub backend_us: Option<u64>,
    /// Rows a data API returned.
    pub rows: Option<u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Whether a result cache answered; `None` where no cache exists.
    pub cache_hit: Option<bool>,
}

/// How a call ended, from its status: what reports and alarms count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Below 400.
    Success,
    /// 429: a rate limit refused it.
    Throttled,
    /// Any other 4xx: the caller's mistake or a refusal.
    Refused,
    /// 5xx.
    Error,
}

impl Outcome {
    pub fn of(status: u16) -> Outcome {
        match status {
            0..400 => Outcome::Success,
            429 => Outcome::Throttled,
            400..500 => Outcome::Refused,
            _ => Outcome::Error,
        }
    }
}

impl CallRecord {
    pub fn outcome(&self) -> Outcome {
        Outcome::of(self.status)
    }
}

/// The edge's end of the queue: cheap to clone, never waits.
#[derive(Clone)]
pub struct Recorder {
    queue: Option<mpsc::Sender<CallRecord>>,
    counts: Arc<QueueCounts>,
}

/// What went through the queue, for `/metrics`.
#[derive(Debug, Default)]
pub struct QueueCounts {
    pub recorded: AtomicU64,
    pub dropped: AtomicU64,
}

impl Recorder {
    /// A recorder with room for `capacity` records, and the receiving end for the [`writer`].
    pub fn bounded(capacity: usize) -> (Recorder, mpsc::Receiver<CallRecord>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Recorder { queue: Some(tx), counts: Arc::default() }, rx)
    }

    /// A recorder that keeps nothing (call records turned off).
    pub fn off() -> Recorder {
        Recorder { queue: None, counts: Arc::default() }
    }

    /// Whether records are kept: when not, the edge need not build them.
    pub fn is_on(&self) -> bool {
        self.queue.is_some()
    }

    /// Hands `record` to the queue, or counts it dropped when the queue is full (or the
    /// writer is gone). Never waits.
    pub fn record(&self, record: CallRecord) {
        let Some(queue) = &self.queue else { return };
        match queue.try_send(record) {
            Ok(()) => self.counts.recorded.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.counts.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }

    pub fn counts(&self) -> &Arc<QueueCounts> {
        &self.counts
    }

    /// Records waiting in the queue.
    pub fn depth(&self) -> usize {
        self.queue.as_ref().map_or(0, |q| q.max_capacity() - q.capacity())
    }
}

/// A failure of a call store: the cause is logged, never shown to a caller.
#[derive(Debug, thiserror::Error)]
pub enum CallsError {
    #[error("call store: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("ClickHouse: {0}")]
    ClickHouse(String),
    #[error("call store: {0}")]
    Other(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: u16) -> CallRecord {
        CallRecord {
            at_ms: 0,
            request_id: "r".into(),
            trace_id: "t".into(),
            workgroup_id: None,
            api_id: None,
            version: None,
            env: "prod".into(),
            app_id: None,
            client: String::new(),
            status,
            code: "OK".into(),
            latency_us: 1,
            backend_us: None,
            rows: None,
            bytes_in: 0,
            bytes_out: 0,
            cache_hit: None,
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let (recorder, mut rx) = Recorder::bounded(2);
        for _ in 0..5 {
            recorder.record(record(200));
        }
        assert_eq!(recorder.counts().recorded.load(Ordering::Relaxed), 2);
        assert_eq!(recorder.counts().dropped.load(Ordering::Relaxed), 3);
        assert_eq!(recorder.depth(), 2);
        assert!(rx.try_recv().is_ok());
        assert_eq!(recorder.depth(), 1);
    }

    #[test]
    fn outcomes_follow_the_status() {
        assert_eq!(record(200).outcome(), Outcome::Success);
        assert_eq!(record(304).outcome(), Outcome::Success);
        assert_eq!(record(429).outcome(), Outcome::Throttled);
        assert_eq!(record(403).outcome(), Outcome::Refused);
        assert_eq!(record(502).outcome(), Outcome::Error);
    }

    #[test]
    fn an_off_recorder_keeps_nothing() {
        let recorder = Recorder::off();
        recorder.record(record(200));
        assert!(!recorder.is_on());
        assert_eq!(recorder.counts().dropped.load(Ordering::Relaxed), 0);
    }
}
