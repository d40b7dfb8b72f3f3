//! The Prometheus exposition served at `GET /metrics` (docs/metrics.md): one process-wide
//! [`Metrics`] ([`metrics`]) that the edge, the SQL plugin and the catalog watcher count
//! into, and that the management API encodes on every scrape.
//!
//! Counting is cheap enough for every call: a label set is a small `Copy` struct (the API by
//! id, never by name; no app, so the number of series is bounded by APIs × statuses ×
//! codes), looked up under a read lock; nothing is allocated once a series exists. What
//! other parts own — the call-record queue, the datasource pools, the process — is read at
//! scrape time instead ([`Metrics::watch_queue`], [`Metrics::watch_pools`], `/proc/self`).
//!
//! The registry is prometheus-client's, whose text encoder writes OpenMetrics. The answer is
//! the Prometheus text format 0.0.4 instead ([`CONTENT_TYPE`]): `promtool check metrics`
//! (2.42) reads a counter's OpenMetrics family name (`sluice_calls`, samples
//! `sluice_calls_total`) as a family without samples and its samples as one without help,
//! and fails. [`Metrics::encode`] renames counter families to their samples' `_total` name
//! and leaves out what 0.0.4 lacks (`# UNIT`, `# EOF`); the samples are the same in both.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

use crate::{CallRecord, QueueCounts, Recorder};

/// The media type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the call latency buckets, in seconds: 0.5 ms to 10 s.
pub const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Distinct `code` label values kept; later new codes count as [`OTHER_CODE`]. The error
/// catalogue has far fewer: this only bounds what a mistake could add.
pub const MAX_CODES: usize = 256;
/// The `code` of a call whose code is not a catalogue-like word, or one past [`MAX_CODES`].
pub const OTHER_CODE: &str = "other";

/// Kinds of [`Metrics::upstream_error`].
pub const UPSTREAM_TIMEOUT: &str = "timeout";
pub const UPSTREAM_UNAVAILABLE: &str = "unavailable";
pub const UPSTREAM_FORBIDDEN: &str = "forbidden";

/// Kinds of [`Metrics::database_error`]: the API's timeout passed (`Timeout`), no
/// connection could be had, or the database failed the statement (both
/// `InternalError.Database`).
pub const DATABASE_TIMEOUT: &str = "timeout";
pub const DATABASE_UNAVAILABLE: &str = "unavailable";
pub const DATABASE_FAILED: &str = "failed";

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// An API by id as a label value: its id, or `none` for calls no API answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiLabel(pub Option<i64>);

impl EncodeLabelValue for ApiLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        match self.0 {
            Some(id) => write!(encoder, "{id}"),
            None => encoder.write_str("none"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CallLabels {
    api: ApiLabel,
    status: u16,
    code: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ApiLabels {
    api: ApiLabel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
struct UpstreamLabels {
    api: ApiLabel,
    kind: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DatabaseLabels {
    datasource: i64,
    kind: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PoolLabels {
    datasource: i64,
    state: &'static str,
}

/// One datasource pool's connections, as [`Metrics::watch_pools`] reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub datasource_id: i64,
    /// Connections open, idle or in use.
    pub size: u32,
    /// Connections open and not in use.
    pub idle: u32,
}

/// Reads every pool's use at scrape time.
pub type PoolReader = Box<dyn Fn() -> Vec<PoolUse> + Send + Sync>;

/// Who may read the exposition besides platform administrators, and where else it is
/// served: set once at start-up from the configuration (`[metrics]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Accepted as `Authorization: Bearer <token>` on the management API's `/metrics`.
    pub token: Option<String>,
    /// A listener of its own that serves `GET /metrics` without a token.
    pub addr: Option<SocketAddr>,
}

/// Every metric of the process. [`metrics`] is the one the process counts into; tests make
/// their own with [`Metrics::new`].
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    durations: Family<ApiLabels, Histogram, fn() -> Histogram>,
    refusals: Family<ApiLabels, Counter>,
    upstream_errors: Family<UpstreamLabels, Counter>,
    database_errors: Family<DatabaseLabels, Counter>,
    route_rebuilds: Counter,
    routes: Gauge,
    redis_errors: Counter,
    redis_degraded: Gauge,
    codes: RwLock<HashSet<&'static str>>,
    watched: Arc<Watched>,
    exposure: OnceLock<Exposure>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Metrics {
    /// A registry with every metric at zero, apart from the process's own.
    pub fn new() -> Metrics {
        let metrics = Metrics {
            registry: Registry::default(),
            calls: Family::default(),
            durations: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            refusals: Family::default(),
            upstream_errors: Family::default(),
            database_errors: Family::default(),
            route_rebuilds: Counter::default(),
            routes: Gauge::default(),
            redis_errors: Counter::default(),
            redis_degraded: Gauge::default(),
            codes: RwLock::new(HashSet::new()),
            watched: Arc::new(Watched::default()),
            exposure: OnceLock::new(),
        };
        let mut registry = Registry::default();
        // Counter names go without `_total`: the encoder adds it to the samples. Help texts go
        // without a final full stop: the registry adds one.
        registry.register(
            "sluice_calls",
            "Calls the edge answered, by API id (none: no API answered), HTTP status and error code",
            metrics.calls.clone(),
        );
        registry.register(
            "sluice_call_duration_seconds",
            "Time from a call's head read to its answer written, by API id",
            metrics.durations.clone(),
        );
        registry.register(
            "sluice_limiter_refusals",
            "Calls a QPS limit refused (429), by API id",
            metrics.refusals.clone(),
        );
        registry.register(
            "sluice_upstream_errors",
            "Registered API calls whose upstream failed, by API id and kind (timeout, unavailable, forbidden)",
            metrics.upstream_errors.clone(),
        );
        registry.register(
            "sluice_database_errors",
            "Data API statements that failed, by datasource id and kind (timeout, unavailable, failed)",
            metrics.database_errors.clone(),
        );
        registry.register(
            "sluice_route_rebuilds",
            "Times the edge rebuilt its route table after a catalog change",
            metrics.route_rebuilds.clone(),
        );
        registry.register("sluice_routes", "Routes the edge serves, prod and test together", metrics.routes.clone());
        registry.register(
            "sluice_redis_errors",
            "Redis operations that failed or timed out (the call went on with this node's own state)",
            metrics.redis_errors.clone(),
        );
        registry.register(
            "sluice_redis_degraded",
            "1 while the shared state in Redis is unreachable and this node limits and checks nonces alone",
            metrics.redis_degraded.clone(),
        );
        registry.register_collector(Box::new(Scraped { watched: Arc::clone(&metrics.watched) }));
        Metrics { registry, ..metrics }
    }

    /// One answered call: `code` is the error catalogue's code without a name
    /// (`InvalidParameter`), or `OK`.
    pub fn call_answered(&self, api_id: Option<i64>, status: u16, code: &str, latency: Duration) {
        let api = ApiLabel(api_id);
        let code = self.intern(code);
        self.calls.get_or_create(&CallLabels { api, status, code }).inc();
        self.durations.get_or_create(&ApiLabels { api }).observe(latency.as_secs_f64());
    }

    /// A call a QPS limit refused.
    pub fn limiter_refused(&self, api_id: Option<i64>) {
        self.refusals.get_or_create(&ApiLabels { api: ApiLabel(api_id) }).inc();
    }

    /// A registered API's upstream failed: `kind` is [`UPSTREAM_TIMEOUT`],
    /// [`UPSTREAM_UNAVAILABLE`] or [`UPSTREAM_FORBIDDEN`].
    pub fn upstream_error(&self, api_id: Option<i64>, kind: &'static str) {
        self.upstream_errors.get_or_create(&UpstreamLabels { api: ApiLabel(api_id), kind }).inc();
    }

    /// A data API's statement failed on datasource `datasource_id`: `kind` is
    /// [`DATABASE_TIMEOUT`], [`DATABASE_UNAVAILABLE`] or [`DATABASE_FAILED`]. By datasource:
    /// compiled versions are shared between APIs with the same definition, so the SQL plugin
    /// knows its datasource but not which API called; per API, the same failures are
    /// `sluice_calls_total{code="InternalError.Database"|"Timeout"}`.
    pub fn database_error(&self, datasource_id: i64, kind: &'static str) {
        self.database_errors.get_or_create(&DatabaseLabels { datasource: datasource_id, kind }).inc();
    }

    /// The edge swapped in a rebuilt route table of `routes` routes.
    pub fn route_rebuild(&self, routes: usize) {
        self.route_rebuilds.inc();
        self.set_routes(routes);
    }

    /// A Redis operation failed or timed out.
    pub fn redis_error(&self) {
        self.redis_errors.inc();
    }

    /// Whether the node is working without Redis although one is configured.
    pub fn set_redis_degraded(&self, degraded: bool) {
        self.redis_degraded.set(i64::from(degraded));
    }

    /// The route table's size without a rebuild (the first table, loaded at start-up).
    pub fn set_routes(&self, routes: usize) {
        self.routes.set(i64::try_from(routes).unwrap_or(i64::MAX));
    }

    /// Reads `recorder`'s queue at scrape time: its depth, and the records it took and
    /// dropped. Holds no sender: the queue still closes when the edge lets go of it.
    pub fn watch_queue(&self, recorder: &Recorder) {
        let queue =
            QueueWatch { counts: Arc::clone(recorder.counts()), queue: recorder.queue.as_ref().map(|q| q.downgrade()) };
        *self.watched.queue.write().unwrap_or_else(PoisonError::into_inner) = Some(queue);
    }

    /// Reads the datasource pools at scrape time with `read`.
    pub fn watch_pools(&self, read: PoolReader) {
        *self.watched.pools.write().unwrap_or_else(PoisonError::into_inner) = Some(read);
    }

    /// Sets who may read the exposition and where else it is served; the first setting stays.
    pub fn expose(&self, exposure: Exposure) {
        let _ = self.exposure.set(exposure);
    }

    /// How the exposition is offered: nothing beyond platform administrators until
    /// [`Metrics::expose`].
    pub fn exposure(&self) -> &Exposure {
        static NONE: Exposure = Exposure { token: None, addr: None };
        self.exposure.get().unwrap_or(&NONE)
    }

    /// Every metric in the Prometheus text format 0.0.4 ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut open_metrics = String::with_capacity(16 * 1024);
        if let Err(e) = prometheus_client::encoding::text::encode_registry(&mut open_metrics, &self.registry) {
            // Writing into a String fails only if a metric's own encoding does; the metrics
            // written before it are still worth serving.
            tracing::error!("cannot encode every metric: {e}");
        }
        to_text_format(&open_metrics)
    }

    /// `code` as a `'static` label value: each distinct code is kept once, at most
    /// [`MAX_CODES`] of them; anything else is [`OTHER_CODE`].
    fn intern(&self, code: &str) -> &'static str {
        if let Some(known) = self.codes.read().unwrap_or_else(PoisonError::into_inner).get(code).copied() {
            return known;
        }
        let word = !code.is_empty()
            && code.len() <= 64
            && code.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !word {
            return OTHER_CODE;
        }
        let mut codes = self.codes.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = codes.get(code).copied() {
            return known;
        }
        if codes.len() >= MAX_CODES {
            return OTHER_CODE;
        }
        let kept: &'static str = Box::leak(code.to_owned().into_boxed_str());
        codes.insert(kept);
        kept
    }
}

/// OpenMetrics text as prometheus-client writes it → the Prometheus text format 0.0.4: a
/// counter's `# HELP` and `# TYPE` name its samples' `_total` name, and `# UNIT` and
/// `# EOF` are left out. Samples are the same in both.
fn to_text_format(open_metrics: &str) -> String {
    let mut out = String::with_capacity(open_metrics.len() + 512);
    let mut help: Option<&str> = None;
    let flush = |out: &mut String, help: &mut Option<&str>| {
        if let Some(line) = help.take() {
            out.push_str(line);
            out.push('\n');
        }
    };
    for line in open_metrics.lines() {
        if line.starts_with("# HELP ") {
            flush(&mut out, &mut help);
            help = Some(line);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.rsplit_once(' ').unwrap_or((rest, "untyped"));
            let (suffix, kind) = match kind {
                "counter" if !name.ends_with("_total") => ("_total", kind),
                "unknown" => ("", "untyped"),
                _ => ("", kind),
            };
            if let Some(line) = help.take() {
                let text = line.strip_prefix("# HELP ").and_then(|r| r.strip_prefix(name)).unwrap_or("");
                let _ = writeln!(out, "# HELP {name}{suffix}{text}");
            }
            let _ = writeln!(out, "# TYPE {name}{suffix} {kind}");
        } else if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        } else {
            flush(&mut out, &mut help);
            out.push_str(line);
            out.push('\n');
        }
    }
    flush(&mut out, &mut help);
    out
}

/// What is read at scrape time.
#[derive(Default)]
struct Watched {
    queue: RwLock<Option<QueueWatch>>,
    pools: RwLock<Option<PoolReader>>,
}

struct QueueWatch {
    counts: Arc<QueueCounts>,
    queue: Option<mpsc::WeakSender<CallRecord>>,
}

impl QueueWatch {
    fn depth(&self) -> usize {
        self.queue.as_ref().and_then(|q| q.upgrade()).map_or(0, |q| q.max_capacity() - q.capacity())
    }
}

/// The collector of what is read at scrape time: the call-record queue, the pools and the
/// process.
struct Scraped {
    watched: Arc<Watched>,
}

impl fmt::Debug for Scraped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scraped").finish_non_exhaustive()
    }
}

impl Collector for Scraped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let (depth, recorded, dropped) = match &*self.watched.queue.read().unwrap_or_else(PoisonError::into_inner) {
            Some(queue) => (
                queue.depth(),
                queue.counts.recorded.load(Ordering::Relaxed),
                queue.counts.dropped.load(Ordering::Relaxed),
            ),
            None => (0, 0, 0),
        };
        gauge(
            &mut encoder,
            "sluice_call_records_queued",
            "Call records waiting in the queue for the writer.",
            depth as i64,
        )?;
        counter(&mut encoder, "sluice_call_records", "Call records the edge handed to the queue.", recorded)?;
        counter(
            &mut encoder,
            "sluice_call_records_dropped",
            "Call records dropped because the queue was full or the writer was gone.",
            dropped,
        )?;

        let pools = self.watched.pools.read().unwrap_or_else(PoisonError::into_inner).as_ref().map(|read| read());
        let pools = pools.unwrap_or_default();
        // As the registry does for its families: none without a series.
        if pools.is_empty() {
            return process::encode(&mut encoder);
        }
        let mut metric = encoder.encode_descriptor(
            "sluice_datasource_pool_connections",
            "Open connections of each datasource's pool of the edge, idle or busy.",
            None,
            MetricType::Gauge,
        )?;
        for pool in pools {
            let busy = pool.size.saturating_sub(pool.idle);
            for (state, value) in [("idle", pool.idle), ("busy", busy)] {
                let labels = PoolLabels { datasource: pool.datasource_id, state };
                ConstGauge::new(i64::from(value)).encode(metric.encode_family(&labels)?)?;
            }
        }
        process::encode(&mut encoder)
    }
}

fn gauge<N: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: N,
) -> fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// `name` without `_total`, as for the registry.
fn counter<N: prometheus_client::encoding::EncodeCounterValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: N,
) -> fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// The process's own metrics, the names every Prometheus client library uses, read from
/// `/proc/self` (Linux). One that cannot be read is left out.
mod process {
    use std::fmt;

    use prometheus_client::encoding::DescriptorEncoder;

    use super::{counter, gauge};

    /// `/proc` reports CPU times and start times in clock ticks of `USER_HZ`, which Linux
    /// fixes at 100 on every architecture Sluice builds for.
    const USER_HZ: f64 = 100.0;

    pub(super) fn encode(encoder: &mut DescriptorEncoder) -> fmt::Result {
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let stat = stat.as_deref().and_then(StatFields::parse);
        let status = std::fs::read_to_string("/proc/self/status").ok();
        if let Some(stat) = &stat
            && let (Some(user), Some(system)) = (stat.field(14), stat.field(15))
        {
            let seconds = (user.saturating_add(system)) as f64 / USER_HZ;
            counter(encoder, "process_cpu_seconds", "Total user and system CPU time spent in seconds.", seconds)?;
        }
        if let Some(status) = &status {
            if let Some(kib) = status_value(status, "VmRSS:") {
                gauge(encoder, "process_resident_memory_bytes", "Resident memory size in bytes.", kib_to_bytes(kib))?;
            }
            if let Some(kib) = status_value(status, "VmSize:") {
                gauge(encoder, "process_virtual_memory_bytes", "Virtual memory size in bytes.", kib_to_bytes(kib))?;
            }
            if let Some(threads) = status_value(status, "Threads:") {
                gauge(encoder, "process_threads", "Number of OS threads in the process.", clamp(threads))?;
            }
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            // Counts the directory being read too, as the other client libraries do.
            let open = entries.filter(Result::is_ok).count();
            gauge(encoder, "process_open_fds", "Number of open file descriptors.", clamp(open as u64))?;
        }
        if let Some(max) = std::fs::read_to_string("/proc/self/limits").ok().as_deref().and_then(max_open_files) {
            gauge(encoder, "process_max_fds", "Maximum number of open file descriptors.", clamp(max))?;
        }
        let boot = std::fs::read_to_string("/proc/stat").ok().as_deref().and_then(boot_time);
        if let (Some(stat), Some(boot)) = (&stat, boot)
            && let Some(ticks) = stat.field(22)
        {
            let start = boot as f64 + ticks as f64 / USER_HZ;
            gauge(
                encoder,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                start,
            )?;
        }
        Ok(())
    }

    /// The numeric fields of `/proc/self/stat` from the third on (the command name, in
    /// parentheses, may hold spaces and parentheses: the fields start after its last `)`).
    pub(super) struct StatFields<'a>(Vec<&'a str>);

    impl<'a> StatFields<'a> {
        pub(super) fn parse(text: &'a str) -> Option<StatFields<'a>> {
            let (_, rest) = text.rsplit_once(')')?;
            Some(StatFields(rest.split_ascii_whitespace().collect()))
        }

        /// Field `n`, numbered from 1 as in proc(5).
        pub(super) fn field(&self, n: usize) -> Option<u64> {
            self.0.get(n.checked_sub(3)?)?.parse().ok()
        }
    }

    /// The number after `key` on its line of `/proc/self/status`.
    pub(super) fn status_value(status: &str, key: &str) -> Option<u64> {
        status.lines().find_map(|line| line.strip_prefix(key))?.split_ascii_whitespace().next()?.parse().ok()
    }

    /// The soft limit of `Max open files` in `/proc/self/limits`.
    pub(super) fn max_open_files(limits: &str) -> Option<u64> {
        limits
            .lines()
            .find_map(|line| line.strip_prefix("Max open files"))?
            .split_ascii_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// `btime` of `/proc/stat`: when the system booted, in seconds since the Unix epoch.
    pub(super) fn boot_time(stat: &str) -> Option<u64> {
        stat.lines().find_map(|line| line.strip_prefix("btime "))?.trim().parse().ok()
    }

    fn kib_to_bytes(kib: u64) -> i64 {
        clamp(kib.saturating_mul(1024))
    }

    fn clamp(n: u64) -> i64 {
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn calls_are_counted_by_api_status_and_code_with_their_latency() {
        let m = Metrics::new();
        m.call_answered(Some(7), 200, "OK", Duration::from_micros(800));
        m.call_answered(Some(7), 200, "OK", Duration::from_millis(30));
        m.call_answered(None, 404, "NotFound", Duration::from_micros(100));
        m.call_answered(Some(7), 400, "InvalidParameter", Duration::from_secs(20));
        let text = m.encode();
        assert_eq!(sample(&text, r#"sluice_calls_total{api="7",status="200",code="OK"}"#), Some(2.0), "{text}");
        assert_eq!(sample(&text, r#"sluice_calls_total{api="none",status="404",code="NotFound"}"#), Some(1.0));
        assert_eq!(sample(&text, r#"sluice_calls_total{api="7",status="400",code="InvalidParameter"}"#), Some(1.0));
        assert_eq!(sample(&text, r#"sluice_call_duration_seconds_count{api="7"}"#), Some(3.0));
        assert_eq!(sample(&text, r#"sluice_call_duration_seconds_bucket{le="0.001",api="7"}"#), Some(1.0), "{text}");
        assert_eq!(sample(&text, r#"sluice_call_duration_seconds_bucket{le="0.05",api="7"}"#), Some(2.0));
        assert_eq!(sample(&text, r#"sluice_call_duration_seconds_bucket{le="10.0",api="7"}"#), Some(2.0));
        assert_eq!(sample(&text, r#"sluice_call_duration_seconds_bucket{le="+Inf",api="7"}"#), Some(3.0));
        assert_eq!(sample(&text, r#"sluice_call_duration_seconds_count{api="none"}"#), Some(1.0));
    }

    #[test]
    fn refusals_errors_and_rebuilds_are_counted() {
        let m = Metrics::new();
        m.limiter_refused(Some(3));
        m.limiter_refused(Some(3));
        m.upstream_error(Some(4), UPSTREAM_TIMEOUT);
        m.database_error(9, DATABASE_FAILED);
        m.database_error(9, DATABASE_TIMEOUT);
        m.set_routes(2);
        m.route_rebuild(5);
        let text = m.encode();
        assert_eq!(sample(&text, r#"sluice_limiter_refusals_total{api="3"}"#), Some(2.0), "{text}");
        assert_eq!(sample(&text, r#"sluice_upstream_errors_total{api="4",kind="timeout"}"#), Some(1.0));
        assert_eq!(sample(&text, r#"sluice_database_errors_total{datasource="9",kind="failed"}"#), Some(1.0));
        assert_eq!(sample(&text, r#"sluice_database_errors_total{datasource="9",kind="timeout"}"#), Some(1.0));
        assert_eq!(sample(&text, "sluice_route_rebuilds_total"), Some(1.0));
        assert_eq!(sample(&text, "sluice_routes"), Some(5.0));
    }

    #[test]
    fn call_labels_are_only_api_status_and_code() {
        let m = Metrics::new();
        m.call_answered(Some(1), 200, "OK", Duration::from_millis(1));
        let text = m.encode();
        let mut seen = 0;
        for line in text.lines().filter(|l| l.starts_with("sluice_call")) {
            let Some((_, labels)) = line.split_once('{') else { continue };
            let labels = labels.split_once('}').map_or("", |(l, _)| l);
            let names: Vec<&str> = labels.split(',').filter_map(|kv| kv.split_once('=').map(|(k, _)| k)).collect();
            let allowed: &[&str] = if line.starts_with("sluice_calls_total") {
                &["api", "status", "code"]
            } else if line.starts_with("sluice_call_duration_seconds_bucket") {
                &["le", "api"]
            } else if line.starts_with("sluice_call_duration_seconds") {
                &["api"]
            } else {
                &[]
            };
            assert_eq!(names, allowed, "{line}");
            seen += 1;
        }
        assert!(seen > 10, "{text}");
        assert!(!text.contains("app"), "no per-app label: {text}");
    }

    #[test]
    fn codes_are_bounded_and_safe_as_label_values() {
        let m = Metrics::new();
        m.call_answered(None, 500, "bad \"code\"\n", Duration::ZERO);
        for n in 0..MAX_CODES + 10 {
            m.call_answered(None, 400, &format!("Code{n}"), Duration::ZERO);
        }
        let text = m.encode();
        assert_eq!(sample(&text, r#"sluice_calls_total{api="none",status="500",code="other"}"#), Some(1.0));
        assert_eq!(sample(&text, r#"sluice_calls_total{api="none",status="400",code="other"}"#), Some(10.0));
        assert_eq!(m.codes.read().unwrap_or_else(PoisonError::into_inner).len(), MAX_CODES);
        // The same code is the same kept text.
        assert!(std::ptr::eq(m.intern("Code1"), m.intern("Code1")));
    }

    #[test]
    fn the_queue_is_read_at_scrape_time_without_holding_it_open() {
        let m = Metrics::new();
        let text = m.encode();
        assert_eq!(sample(&text, "sluice_call_records_queued"), Some(0.0), "{text}");
        let (recorder, mut rx) = Recorder::bounded(2);
        m.watch_queue(&recorder);
        let record = CallRecord {
            at_ms: 0,
            request_id: String::new(),
            trace_id: String::new(),
            workgroup_id: None,
            api_id: None,
            version: None,
            env: "prod".into(),
            app_id: None,
            client: String::new(),
            status: 200,
            code: "OK".into(),
            latency_us: 0,
            backend_us: None,
            rows: None,
            bytes_in: 0,
            bytes_out: 0,
            cache_hit: None,
        };
        for _ in 0..3 {
            recorder.record(record.clone());
        }
        let text = m.encode();
        assert_eq!(sample(&text, "sluice_call_records_queued"), Some(2.0), "{text}");
        assert_eq!(sample(&text, "sluice_call_records_total"), Some(2.0));
        assert_eq!(sample(&text, "sluice_call_records_dropped_total"), Some(1.0));
        drop(recorder);
        // The metrics keep no sender: the writer sees the queue end once it is drained.
        assert!(rx.try_recv().is_ok() && rx.try_recv().is_ok());
        assert!(matches!(rx.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
    }

    #[test]
    fn pools_are_read_at_scrape_time() {
        let m = Metrics::new();
        m.watch_pools(Box::new(|| vec![PoolUse { datasource_id: 2, size: 5, idle: 3 }]));
        let text = m.encode();
        assert_eq!(sample(&text, r#"sluice_datasource_pool_connections{datasource="2",state="idle"}"#), Some(3.0));
        assert_eq!(sample(&text, r#"sluice_datasource_pool_connections{datasource="2",state="busy"}"#), Some(2.0));
    }

    #[test]
    fn process_stats_come_from_proc() {
        let text = Metrics::new().encode();
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
            "process_threads",
        ] {
            let value = sample(&text, name).unwrap_or_else(|| panic!("{name} missing: {text}"));
            assert!(value >= 0.0, "{name} {value}");
        }
        let start = sample(&text, "process_start_time_seconds").unwrap_or_default();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        assert!(start > now - 86_400.0 * 365.0 && start <= now + 1.0, "{start} vs {now}");
    }

    #[test]
    fn proc_files_are_read_with_care() {
        let stat = "42 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 7 0 12345 1000 99";
        let fields = process::StatFields::parse(stat).expect("fields");
        assert_eq!((fields.field(14), fields.field(15)), (Some(250), Some(150)));
        assert_eq!((fields.field(20), fields.field(22), fields.field(23)), (Some(7), Some(12345), Some(1000)));
        assert_eq!(fields.field(40), None);
        assert_eq!(fields.field(1), None);
        assert!(process::StatFields::parse("no parenthesis").is_none());
        assert_eq!(process::status_value("Name:\tx\nVmRSS:\t  1234 kB\n", "VmRSS:"), Some(1234));
        assert_eq!(process::status_value("VmRSS:\n", "VmRSS:"), None);
        let limits = "Limit  Soft Limit  Hard Limit  Units\nMax open files            1024                 524288               files\n";
        assert_eq!(process::max_open_files(limits), Some(1024));
        assert_eq!(process::boot_time("cpu 1 2\nbtime 1700000000\n"), Some(1_700_000_000));
    }

    #[test]
    fn the_text_is_prometheus_0_0_4() {
        let m = Metrics::new();
        m.call_answered(Some(1), 200, "OK", Duration::from_millis(1));
        let text = m.encode();
        assert!(text.contains("# HELP sluice_calls_total Calls"), "{text}");
        assert!(text.contains("# TYPE sluice_calls_total counter\n"), "{text}");
        assert!(text.contains("# TYPE sluice_call_duration_seconds histogram\n"));
        assert!(text.contains("# TYPE process_cpu_seconds_total counter\n") || !std::path::Path::new("/proc").exists());
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{text}");
        // Every sample belongs to the family its `# TYPE` line announced last.
        let mut family = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap_or_default().to_owned();
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
                assert!(name == family || base == family, "{line} after # TYPE {family}");
            }
        }
    }

    #[test]
    fn promtool_accepts_the_exposition_when_installed() {
        let m = Metrics::new();
        m.call_answered(Some(1), 200, "OK", Duration::from_millis(1));
        m.limiter_refused(Some(1));
        m.watch_pools(Box::new(|| vec![PoolUse { datasource_id: 1, size: 1, idle: 1 }]));
        let Ok(mut child) = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        else {
            // sluice/tests/metrics.rs runs it through the binary, and fails without it.
            eprintln!("promtool is not installed (./scripts/test --setup installs it)");
            return;
        };
        use std::io::Write as _;
        child.stdin.take().expect("stdin").write_all(m.encode().as_bytes()).expect("write");
        let output = child.wait_with_output().expect("promtool");
        assert!(
            output.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
