//! Configuration: `conf/sluice.toml` (every key documented there with its default), then the
//! `SLUICE_*` environment overrides, validated into one [`Config`].
//!
//! Precedence, lowest first: built-in defaults, the TOML file, environment variables.
//! [`outbound`] turns its network and dataset settings, with the platform settings kept in
//! the store, into the policies every outbound connection goes through.

pub mod outbound;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The validated configuration of one Sluice process.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where callers reach the edge (`SLUICE_EDGE_ADDR`).
    pub edge_addr: SocketAddr,
    /// Where callers reach the edge over TLS, HTTP/1.1 or HTTP/2 by ALPN
    /// (`SLUICE_EDGE_TLS_ADDR`); no TLS listener when absent.
    pub edge_tls_addr: Option<SocketAddr>,
    /// The TLS listener's certificate chain and private key, PEM (`SLUICE_TLS_CERT_FILE`,
    /// `SLUICE_TLS_KEY_FILE`); read again when they change.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Where the management API listens (`SLUICE_ADMIN_ADDR`).
    pub admin_addr: SocketAddr,
    /// Metadata store URL (`SLUICE_STORE_URL`); default a SQLite file in the data dir.
    pub store_url: String,
    /// Where Sluice keeps its files (`SLUICE_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Base64 of 32 bytes that seals stored secrets (`SLUICE_SECRET_KEY`); when absent it is
    /// read from, or generated into, `<data_dir>/secret.key`.
    pub secret_key: Option<String>,
    /// The bootstrap admin token (`SLUICE_ADMIN_TOKEN`); when absent one is generated and
    /// printed once.
    pub admin_token: Option<String>,
    /// Largest request body the edge accepts, in bytes.
    pub max_body_bytes: usize,
    /// A client must send its request headers within this many milliseconds.
    pub header_timeout_ms: u64,
    /// A request body must arrive within this many milliseconds of its head, however it is
    /// framed (`SLUICE_BODY_TIMEOUT_MS`).
    pub body_timeout_ms: u64,
    /// How often the process looks for catalog changes made elsewhere (`sluice apply`).
    pub reload_interval_ms: u64,
    /// Worker threads of the edge (`SLUICE_THREADS`); 0 means one per core.
    pub threads: usize,
    /// Seconds in-flight requests get to finish after SIGTERM (`SLUICE_SHUTDOWN_TIMEOUT_SECS`);
    /// the process exits when they are over.
    pub shutdown_timeout_secs: u64,
    /// Hosts, addresses or CIDRs that registered upstreams and datasources may reach although
    /// the network policy refuses their range; platform admins may add more.
    pub ssrf_allow: Vec<String>,
    /// SQLite dataset roots besides `<data_dir>/datasets` (`SLUICE_DATASET_ROOTS`): `/path`
    /// (one directory per workgroup inside) or `workgroup=/path` (that workgroup's alone).
    pub dataset_roots: Vec<String>,
    /// Proxies (CIDRs) whose `X-Forwarded-For` names the real client; from anyone else the
    /// header is ignored and the socket's address is the client's.
    pub trusted_proxies: Vec<String>,
    /// Create the demo workgroup, dataset and APIs when the store is empty.
    pub demo: bool,
    /// Webhook deliveries: the first retry's delay in milliseconds; later ones are multiples
    /// of it (`[notify] retry_base_ms`, `SLUICE_NOTIFY_RETRY_BASE_MS`).
    pub notify_retry_base_ms: u64,
    /// Call records (`[calls]`, docs/calls.md).
    pub calls: CallsConfig,
    /// How often alarm rules are evaluated, in milliseconds (`[alarms] interval_ms`,
    /// `SLUICE_ALARM_INTERVAL_MS`; docs/alarms.md).
    pub alarm_interval_ms: u64,
    /// Besides platform administrators' tokens, this bearer token may read `GET /metrics` on
    /// the management address (`[metrics] token`, `SLUICE_METRICS_TOKEN`).
    pub metrics_token: Option<String>,
    /// A listener of its own serving `GET /metrics` without a token, for an internal
    /// interface (`[metrics] addr`, `SLUICE_METRICS_ADDR`); none when absent.
    pub metrics_addr: Option<SocketAddr>,
    /// The result cache (`[cache]`, docs/cache.md).
    pub cache: CacheConfig,
    /// Shared state for several nodes (`[redis]`, docs/cluster.md).
    pub redis: RedisConfig,
    /// Platform-wide call rates (`[limits]`).
    pub limits: LimitsConfig,
}

/// Redis, where several nodes keep their shared state (`[redis]`, docs/cluster.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://host:port/db` (`[redis] url`, `SLUICE_REDIS_URL`); absent: the node runs
    /// alone, with limits, nonces and the result cache in process.
    pub url: Option<String>,
    /// Every key Sluice writes starts with this (`[redis] key_prefix`,
    /// `SLUICE_REDIS_KEY_PREFIX`), so clusters can share one Redis.
    pub key_prefix: String,
}

/// Platform-wide call rates (`[limits]`): all APIs of one environment together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Calls per second to every API in production together (`[limits] system_qps_prod`,
    /// `SLUICE_SYSTEM_QPS_PROD`); 0: no limit. Refusals are 429 `Throttling.System`.
    pub system_qps_prod: u32,
    /// The same for the test environment (`SLUICE_SYSTEM_QPS_TEST`).
    pub system_qps_test: u32,
}

/// The in-process result cache (`[cache]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// At most this many bytes of answers are kept (`[cache] max_bytes`,
    /// `SLUICE_CACHE_MAX_BYTES`); 0 turns the cache off for every API.
    pub max_bytes: u64,
    /// Seconds an answer is kept under the `system` policy (`[cache] default_ttl_secs`,
    /// `SLUICE_CACHE_TTL_SECS`).
    pub default_ttl_secs: u64,
}

/// What the edge records of each call, and how long it is kept (`[calls]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CallsConfig {
    /// Record every answered call (`SLUICE_CALL_RECORDS`, default on); off, the edge records
    /// nothing and reports stay as they were.
    pub records: bool,
    /// Records waiting for the writer at most; more are dropped and counted
    /// (`SLUICE_CALL_QUEUE`).
    pub queue: usize,
    /// Days call details are kept (`SLUICE_CALL_DETAILS_DAYS`).
    pub details_days: u32,
    /// Days per-minute rollups are kept (`SLUICE_CALL_ROLLUP_DAYS`).
    pub rollup_days: u32,
    /// ClickHouse's HTTP interface, written besides the embedded store
    /// (`SLUICE_CLICKHOUSE_URL`, e.g. `http://127.0.0.1:8123/?database=default`).
    pub clickhouse_url: Option<String>,
}

/// The file's shape: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FileConfig {
    edge_addr: Option<String>,
    edge_tls_addr: Option<String>,
    tls_cert_file: Option<String>,
    tls_key_file: Option<String>,
    admin_addr: Option<String>,
    store_url: Option<String>,
    data_dir: Option<String>,
    secret_key: Option<String>,
    admin_token: Option<String>,
    max_body_bytes: Option<usize>,
    header_timeout_ms: Option<u64>,
    body_timeout_ms: Option<u64>,
    reload_interval_ms: Option<u64>,
    threads: Option<usize>,
    shutdown_timeout_secs: Option<u64>,
    ssrf_allow: Option<Vec<String>>,
    dataset_roots: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
    demo: Option<bool>,
    notify: NotifyFile,
    calls: CallsFile,
    alarms: AlarmsFile,
    metrics: MetricsFile,
    cache: CacheFile,
    redis: RedisFile,
    limits: LimitsFile,
}

/// The file's `[redis]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RedisFile {
    url: Option<String>,
    key_prefix: Option<String>,
}

/// The file's `[limits]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LimitsFile {
    system_qps_prod: Option<u32>,
    system_qps_test: Option<u32>,
}

/// The file's `[cache]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CacheFile {
    max_bytes: Option<u64>,
    default_ttl_secs: Option<u64>,
}

/// The file's `[alarms]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct AlarmsFile {
    interval_ms: Option<u64>,
}

/// The file's `[calls]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CallsFile {
    records: Option<bool>,
    queue: Option<usize>,
    details_days: Option<u32>,
    rollup_days: Option<u32>,
    clickhouse_url: Option<String>,
}

/// The file's `[notify]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct NotifyFile {
    retry_base_ms: Option<u64>,
}

/// The file's `[metrics]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MetricsFile {
    token: Option<String>,
    addr: Option<String>,
}

/// The default configuration file, read when it exists and no other is named.
pub const DEFAULT_FILE: &str = "conf/sluice.toml";

impl Config {
    /// Reads `file` (or [`DEFAULT_FILE`] when present) and applies the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        let text = match file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read configuration {}: {e}", path.display()))?,
            ),
            None => std::fs::read_to_string(DEFAULT_FILE).ok(),
        };
        let name = file.map_or_else(|| DEFAULT_FILE.to_owned(), |p| p.display().to_string());
        Config::from_sources(text.as_deref(), &name, |key| std::env::var(key).ok())
    }

    /// Builds a configuration from file text and an environment lookup (tests pass their own).
    pub fn from_sources(
        text: Option<&str>,
        name: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let file: FileConfig = match text {
            Some(text) => toml::from_str(text).map_err(|e| format!("{name}: {e}"))?,
            None => FileConfig::default(),
        };
        let pick = |key: &str, from_file: Option<String>| env(key).or(from_file);
        let addr = |key: &str, value: Option<String>, default: &str| -> Result<SocketAddr, String> {
            let text = pick(key, value).unwrap_or_else(|| default.to_owned());
            text.parse().map_err(|_| format!("{key}: `{text}` is not an address such as 127.0.0.1:8080"))
        };
        let number = |key: &str, value: Option<String>| -> Result<Option<u64>, String> {
            pick(key, value).map(|t| t.parse().map_err(|_| format!("{key}: `{t}` is not a whole number"))).transpose()
        };
        let data_dir = PathBuf::from(pick("SLUICE_DATA_DIR", file.data_dir).unwrap_or_else(|| "./data".to_owned()));
        let store_url = pick("SLUICE_STORE_URL", file.store_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("sluice.db").display()));
        let edge_tls_addr = match pick("SLUICE_EDGE_TLS_ADDR", file.edge_tls_addr).filter(|a| !a.trim().is_empty()) {
            Some(text) => Some(
                text.trim()
                    .parse()
                    .map_err(|_| format!("SLUICE_EDGE_TLS_ADDR: `{text}` is not an address such as 127.0.0.1:8443"))?,
            ),
            None => None,
        };
        let days = |key: &str, value: Option<u32>, default: u32| -> Result<u32, String> {
            match number(key, value.map(|n| n.to_string()))? {
                None => Ok(default),
                Some(n @ 1..=3650) => Ok(n as u32),
                Some(n) => Err(format!("{key}: {n} days is out of range; give 1 to 3650")),
            }
        };
        let metrics_addr = match pick("SLUICE_METRICS_ADDR", file.metrics.addr).filter(|a| !a.trim().is_empty()) {
            Some(text) => Some(
                text.trim()
                    .parse()
                    .map_err(|_| format!("SLUICE_METRICS_ADDR: `{text}` is not an address such as 127.0.0.1:9464"))?,
            ),
            None => None,
        };
        let qps = |key: &str, value: Option<u32>| -> Result<u32, String> {
            match number(key, value.map(|n| n.to_string()))? {
                None => Ok(0),
                Some(n) => u32::try_from(n).map_err(|_| format!("{key}: {n} is too large; give 0 to 4294967295")),
            }
        };
        let path =
            |key: &str, value: Option<String>| pick(key, value).filter(|p| !p.trim().is_empty()).map(PathBuf::from);
        let config = Config {
            edge_addr: addr("SLUICE_EDGE_ADDR", file.edge_addr, "127.0.0.1:8080")?,
            edge_tls_addr,
            tls_cert_file: path("SLUICE_TLS_CERT_FILE", file.tls_cert_file),
            tls_key_file: path("SLUICE_TLS_KEY_FILE", file.tls_key_file),
            admin_addr: addr("SLUICE_ADMIN_ADDR", file.admin_addr, "127.0.0.1:8090")?,
            store_url,
            data_dir,
            secret_key: pick("SLUICE_SECRET_KEY", file.secret_key).filter(|k| !k.is_empty()),
            admin_token: pick("SLUICE_ADMIN_TOKEN", file.admin_token).filter(|t| !t.is_empty()),
            max_body_bytes: number("SLUICE_MAX_BODY_BYTES", file.max_body_bytes.map(|n| n.to_string()))?
                .unwrap_or(1024 * 1024) as usize,
            header_timeout_ms: number("SLUICE_HEADER_TIMEOUT_MS", file.header_timeout_ms.map(|n| n.to_string()))?
                .unwrap_or(10_000),
            body_timeout_ms: number("SLUICE_BODY_TIMEOUT_MS", file.body_timeout_ms.map(|n| n.to_string()))?
                .unwrap_or(10_000),
            reload_interval_ms: number("SLUICE_RELOAD_INTERVAL_MS", file.reload_interval_ms.map(|n| n.to_string()))?
                .unwrap_or(100),
            threads: number("SLUICE_THREADS", file.threads.map(|n| n.to_string()))?.unwrap_or(0) as usize,
            shutdown_timeout_secs: number(
                "SLUICE_SHUTDOWN_TIMEOUT_SECS",
                file.shutdown_timeout_secs.map(|n| n.to_string()),
            )?
            .unwrap_or(10),
            ssrf_allow: match env("SLUICE_SSRF_ALLOW") {
                Some(list) => list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                None => file.ssrf_allow.unwrap_or_default(),
            },
            dataset_roots: match env("SLUICE_DATASET_ROOTS") {
                Some(list) => list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                None => file.dataset_roots.unwrap_or_default(),
            },
            trusted_proxies: match env("SLUICE_TRUSTED_PROXIES") {
                Some(list) => list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                None => file.trusted_proxies.unwrap_or_default(),
            },
            demo: match pick("SLUICE_DEMO", file.demo.map(|d| d.to_string())) {
                None => true,
                Some(v) => !matches!(v.as_str(), "0" | "false" | "off" | "no"),
            },
            notify_retry_base_ms: number(
                "SLUICE_NOTIFY_RETRY_BASE_MS",
                file.notify.retry_base_ms.map(|n| n.to_string()),
            )?
            .unwrap_or(5_000),
            calls: CallsConfig {
                records: match pick("SLUICE_CALL_RECORDS", file.calls.records.map(|d| d.to_string())) {
                    None => true,
                    Some(v) => switch("SLUICE_CALL_RECORDS", &v)?,
                },
                queue: number("SLUICE_CALL_QUEUE", file.calls.queue.map(|n| n.to_string()))?.unwrap_or(65_536) as usize,
                details_days: days("SLUICE_CALL_DETAILS_DAYS", file.calls.details_days, 7)?,
                rollup_days: days("SLUICE_CALL_ROLLUP_DAYS", file.calls.rollup_days, 90)?,
                clickhouse_url: pick("SLUICE_CLICKHOUSE_URL", file.calls.clickhouse_url)
                    .filter(|u| !u.trim().is_empty()),
            },
            alarm_interval_ms: number("SLUICE_ALARM_INTERVAL_MS", file.alarms.interval_ms.map(|n| n.to_string()))?
                .unwrap_or(15_000),
            metrics_token: pick("SLUICE_METRICS_TOKEN", file.metrics.token).filter(|t| !t.trim().is_empty()),
            metrics_addr,
            cache: CacheConfig {
                max_bytes: number("SLUICE_CACHE_MAX_BYTES", file.cache.max_bytes.map(|n| n.to_string()))?
                    .unwrap_or(64 * 1024 * 1024),
                default_ttl_secs: number("SLUICE_CACHE_TTL_SECS", file.cache.default_ttl_secs.map(|n| n.to_string()))?
                    .unwrap_or(600),
            },
            redis: RedisConfig {
                url: pick("SLUICE_REDIS_URL", file.redis.url).map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()),
                key_prefix: pick("SLUICE_REDIS_KEY_PREFIX", file.redis.key_prefix)
                    .unwrap_or_else(|| "sluice:".to_owned()),
            },
            limits: LimitsConfig {
                system_qps_prod: qps("SLUICE_SYSTEM_QPS_PROD", file.limits.system_qps_prod)?,
                system_qps_test: qps("SLUICE_SYSTEM_QPS_TEST", file.limits.system_qps_test)?,
            },
        };
        if let Some(url) = &config.redis.url
            && !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://"))
        {
            return Err(format!("SLUICE_REDIS_URL: `{url}` is not a URL such as redis://127.0.0.1:6379/0"));
        }
        if config.cache.default_ttl_secs == 0 || config.cache.default_ttl_secs > 86_400 {
            return Err("cache.default_ttl_secs must be from 1 to 86400".into());
        }
        if config.alarm_interval_ms == 0 {
            return Err("alarms.interval_ms must be at least 1".into());
        }
        if config.calls.queue == 0 {
            return Err("calls.queue must be at least 1".into());
        }
        if config.notify_retry_base_ms == 0 {
            return Err("notify.retry_base_ms must be at least 1".into());
        }
        if config.max_body_bytes == 0 {
            return Err("max_body_bytes must be at least 1".into());
        }
        if config.edge_tls_addr.is_some() && (config.tls_cert_file.is_none() || config.tls_key_file.is_none()) {
            return Err("SLUICE_EDGE_TLS_ADDR needs SLUICE_TLS_CERT_FILE and SLUICE_TLS_KEY_FILE (PEM files)".into());
        }
        Ok(config)
    }

    /// The edge's worker threads, resolving 0 to the number of cores.
    pub fn edge_threads(&self) -> usize {
        if self.threads > 0 { self.threads } else { std::thread::available_parallelism().map_or(2, |n| n.get()) }
    }
}

/// An on/off setting: `on`/`off`, `true`/`false`, `1`/`0`, `yes`/`no`.
fn switch(key: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(format!("{key}: `{value}` is not on or off")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = Config::from_sources(None, "none", no_env).unwrap();
        assert_eq!(c.edge_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.admin_addr.to_string(), "127.0.0.1:8090");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.store_url, "sqlite://./data/sluice.db");
        assert!(c.demo && c.secret_key.is_none() && c.admin_token.is_none());
    }

    #[test]
    fn the_shipped_file_parses_and_matches_the_defaults() {
        let shipped = include_str!("../../conf/sluice.toml");
        let from_file = Config::from_sources(Some(shipped), "conf/sluice.toml", no_env).unwrap();
        assert_eq!(from_file, Config::from_sources(None, "none", no_env).unwrap());
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = "edge_addr = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/x\"\nthreads = 4";
        let env = |k: &str| match k {
            "SLUICE_EDGE_ADDR" => Some("127.0.0.1:9100".to_owned()),
            "SLUICE_ADMIN_TOKEN" => Some("t0k".to_owned()),
            "SLUICE_THREADS" => Some("1".to_owned()),
            _ => None,
        };
        let c = Config::from_sources(Some(file), "f", env).unwrap();
        assert_eq!(c.edge_addr.to_string(), "127.0.0.1:9100");
        assert_eq!((c.threads, c.edge_threads()), (1, 1));
        assert_eq!(c.store_url, "sqlite:///tmp/x/sluice.db");
        assert_eq!(c.admin_token.as_deref(), Some("t0k"));
    }

    #[test]
    fn the_notify_table_and_its_override() {
        assert_eq!(Config::from_sources(None, "f", no_env).unwrap().notify_retry_base_ms, 5_000);
        let file = "[notify]\nretry_base_ms = 50";
        assert_eq!(Config::from_sources(Some(file), "f", no_env).unwrap().notify_retry_base_ms, 50);
        let env = |k: &str| (k == "SLUICE_NOTIFY_RETRY_BASE_MS").then(|| "20".to_owned());
        assert_eq!(Config::from_sources(Some(file), "f", env).unwrap().notify_retry_base_ms, 20);
        let zero = |k: &str| (k == "SLUICE_NOTIFY_RETRY_BASE_MS").then(|| "0".to_owned());
        assert!(Config::from_sources(None, "f", zero).unwrap_err().contains("retry_base_ms"));
        assert!(Config::from_sources(Some("[notify]\nretry = 1"), "f", no_env).unwrap_err().contains("retry"));
    }

    #[test]
    fn the_calls_table_and_its_overrides() {
        let c = Config::from_sources(None, "f", no_env).unwrap().calls;
        assert_eq!((c.records, c.queue, c.details_days, c.rollup_days), (true, 65_536, 7, 90));
        assert_eq!(c.clickhouse_url, None);
        let file =
            "[calls]\nrecords = false\nqueue = 10\ndetails_days = 3\nclickhouse_url = \"http://127.0.0.1:8123/\"";
        let c = Config::from_sources(Some(file), "f", no_env).unwrap().calls;
        assert_eq!((c.records, c.queue, c.details_days), (false, 10, 3));
        assert_eq!(c.clickhouse_url.as_deref(), Some("http://127.0.0.1:8123/"));
        let env = |k: &str| (k == "SLUICE_CALL_RECORDS").then(|| "on".to_owned());
        assert!(Config::from_sources(Some(file), "f", env).unwrap().calls.records);
        let bad = |k: &str| (k == "SLUICE_CALL_RECORDS").then(|| "maybe".to_owned());
        assert!(Config::from_sources(None, "f", bad).unwrap_err().contains("SLUICE_CALL_RECORDS"));
        let bad = |k: &str| (k == "SLUICE_CALL_ROLLUP_DAYS").then(|| "0".to_owned());
        assert!(Config::from_sources(None, "f", bad).unwrap_err().contains("1 to 3650"));
        let bad = |k: &str| (k == "SLUICE_CALL_QUEUE").then(|| "0".to_owned());
        assert!(Config::from_sources(None, "f", bad).unwrap_err().contains("calls.queue"));
    }

    #[test]
    fn the_alarms_interval_and_its_override() {
        assert_eq!(Config::from_sources(None, "f", no_env).unwrap().alarm_interval_ms, 15_000);
        let file = "[alarms]\ninterval_ms = 500";
        assert_eq!(Config::from_sources(Some(file), "f", no_env).unwrap().alarm_interval_ms, 500);
        let env = |k: &str| (k == "SLUICE_ALARM_INTERVAL_MS").then(|| "250".to_owned());
        assert_eq!(Config::from_sources(Some(file), "f", env).unwrap().alarm_interval_ms, 250);
        let zero = |k: &str| (k == "SLUICE_ALARM_INTERVAL_MS").then(|| "0".to_owned());
        assert!(Config::from_sources(None, "f", zero).unwrap_err().contains("alarms.interval_ms"));
    }

    #[test]
    fn the_cache_table_and_its_overrides() {
        let c = Config::from_sources(None, "f", no_env).unwrap().cache;
        assert_eq!((c.max_bytes, c.default_ttl_secs), (64 * 1024 * 1024, 600));
        let file = "[cache]\nmax_bytes = 1000\ndefault_ttl_secs = 30";
        let c = Config::from_sources(Some(file), "f", no_env).unwrap().cache;
        assert_eq!((c.max_bytes, c.default_ttl_secs), (1000, 30));
        let env = |k: &str| match k {
            "SLUICE_CACHE_MAX_BYTES" => Some("0".to_owned()),
            "SLUICE_CACHE_TTL_SECS" => Some("5".to_owned()),
            _ => None,
        };
        let c = Config::from_sources(Some(file), "f", env).unwrap().cache;
        assert_eq!((c.max_bytes, c.default_ttl_secs), (0, 5));
        let zero = |k: &str| (k == "SLUICE_CACHE_TTL_SECS").then(|| "0".to_owned());
        assert!(Config::from_sources(None, "f", zero).unwrap_err().contains("cache.default_ttl_secs"));
    }

    #[test]
    fn the_metrics_table_and_its_overrides() {
        let c = Config::from_sources(None, "f", no_env).unwrap();
        assert_eq!((c.metrics_token, c.metrics_addr), (None, None));
        let file = "[metrics]\ntoken = \"scrape-me\"\naddr = \"127.0.0.1:9464\"";
        let c = Config::from_sources(Some(file), "f", no_env).unwrap();
        assert_eq!(c.metrics_token.as_deref(), Some("scrape-me"));
        assert_eq!(c.metrics_addr.map(|a| a.port()), Some(9464));
        let env = |k: &str| match k {
            "SLUICE_METRICS_TOKEN" => Some("from-env".to_owned()),
            "SLUICE_METRICS_ADDR" => Some("10.0.0.5:9100".to_owned()),
            _ => None,
        };
        let c = Config::from_sources(Some(file), "f", env).unwrap();
        assert_eq!(c.metrics_token.as_deref(), Some("from-env"));
        assert_eq!(c.metrics_addr.map(|a| a.to_string()).as_deref(), Some("10.0.0.5:9100"));
        // Empty means unset, as for the other tokens.
        let empty = |k: &str| (k == "SLUICE_METRICS_TOKEN").then(String::new);
        assert_eq!(Config::from_sources(None, "f", empty).unwrap().metrics_token, None);
        let bad = |k: &str| (k == "SLUICE_METRICS_ADDR").then(|| "localhost".to_owned());
        assert!(Config::from_sources(None, "f", bad).unwrap_err().contains("SLUICE_METRICS_ADDR"));
        assert!(Config::from_sources(Some("[metrics]\npath = \"/m\""), "f", no_env).unwrap_err().contains("path"));
    }

    #[test]
    fn the_redis_and_limits_tables_and_their_overrides() {
        let c = Config::from_sources(None, "f", no_env).unwrap();
        assert_eq!((c.redis.url.as_deref(), c.redis.key_prefix.as_str()), (None, "sluice:"));
        assert_eq!((c.limits.system_qps_prod, c.limits.system_qps_test), (0, 0));
        let file = "[redis]\nurl = \"redis://127.0.0.1:6379/2\"\nkey_prefix = \"a:\"\n[limits]\nsystem_qps_prod = 500";
        let c = Config::from_sources(Some(file), "f", no_env).unwrap();
        assert_eq!((c.redis.url.as_deref(), c.redis.key_prefix.as_str()), (Some("redis://127.0.0.1:6379/2"), "a:"));
        assert_eq!((c.limits.system_qps_prod, c.limits.system_qps_test), (500, 0));
        let env = |k: &str| match k {
            "SLUICE_REDIS_URL" => Some("redis://10.0.0.9/0".to_owned()),
            "SLUICE_SYSTEM_QPS_TEST" => Some("20".to_owned()),
            _ => None,
        };
        let c = Config::from_sources(Some(file), "f", env).unwrap();
        assert_eq!((c.redis.url.as_deref(), c.limits.system_qps_test), (Some("redis://10.0.0.9/0"), 20));
        let bad = |k: &str| (k == "SLUICE_REDIS_URL").then(|| "127.0.0.1:6379".to_owned());
        assert!(Config::from_sources(None, "f", bad).unwrap_err().contains("redis://"));
        let bad = |k: &str| (k == "SLUICE_SYSTEM_QPS_PROD").then(|| "-1".to_owned());
        assert!(Config::from_sources(None, "f", bad).unwrap_err().contains("SLUICE_SYSTEM_QPS_PROD"));
    }

    #[test]
    fn a_tls_listener_needs_its_certificate_and_key() {
        let env = |k: &str| (k == "SLUICE_EDGE_TLS_ADDR").then(|| "127.0.0.1:8443".to_owned());
        assert!(Config::from_sources(None, "f", env).unwrap_err().contains("SLUICE_TLS_CERT_FILE"));
        let env = |k: &str| match k {
            "SLUICE_EDGE_TLS_ADDR" => Some("127.0.0.1:8443".to_owned()),
            "SLUICE_TLS_CERT_FILE" => Some("/c.pem".to_owned()),
            "SLUICE_TLS_KEY_FILE" => Some("/k.pem".to_owned()),
            _ => None,
        };
        let c = Config::from_sources(None, "f", env).unwrap();
        assert_eq!(c.edge_tls_addr.map(|a| a.port()), Some(8443));
        assert_eq!(c.tls_key_file, Some(PathBuf::from("/k.pem")));
        let bad = |k: &str| (k == "SLUICE_EDGE_TLS_ADDR").then(|| "localhost".to_owned());
        assert!(Config::from_sources(None, "f", bad).unwrap_err().contains("127.0.0.1:8443"));
    }

    #[test]
    fn bad_values_say_what_to_fix() {
        let env = |k: &str| (k == "SLUICE_ADMIN_ADDR").then(|| "localhost".to_owned());
        let err = Config::from_sources(None, "f", env).unwrap_err();
        assert!(err.contains("SLUICE_ADMIN_ADDR") && err.contains("127.0.0.1:8080"), "{err}");
        assert!(Config::from_sources(Some("edge_adr = \"x\""), "f", no_env).unwrap_err().contains("edge_adr"));
    }
}
