//! What the call store tests share: temp dirs, records, exact percentiles.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use calls::CallRecord;

/// 2025-12-06 00:00:00 UTC: a day start, so minute, hour and day steps are easy to name.
pub const T0: i64 = 1_764_979_200_000;
pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 86_400_000;

/// A fresh directory under the system's temp dir (removed when dropped).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "sluice-calls-{name}-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn db(&self) -> PathBuf {
        self.0.join("calls.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A call of workgroup `wg` to `api` by `app`, answered `status`/`code` in `latency_ms`.
pub fn call(
    at_ms: i64,
    wg: Option<i64>,
    api: Option<i64>,
    app: Option<i64>,
    status: u16,
    code: &str,
    latency_us: u64,
) -> CallRecord {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    CallRecord {
        at_ms,
        request_id: format!("req-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        workgroup_id: wg,
        api_id: api,
        version: api.map(|_| 1),
        env: "prod".into(),
        app_id: app,
        client: "127.0.0.1".into(),
        status,
        code: code.to_string().into(),
        latency_us,
        backend_us: Some(latency_us / 2),
        rows: Some(3),
        bytes_in: 10,
        bytes_out: 100,
        cache_hit: None,
    }
}

/// The exact `q` quantile of `micros` in milliseconds (rank ⌊q·(n−1)⌋, the sketch's).
pub fn exact_ms(micros: &[u64], q: f64) -> f64 {
    let mut sorted = micros.to_vec();
    sorted.sort_unstable();
    sorted[(q * (sorted.len() as f64 - 1.0)) as usize] as f64 / 1000.0
}

pub fn within_one_percent(got: Option<f64>, want: f64) {
    let got = got.expect("a percentile");
    assert!((got - want).abs() <= want * 0.01 + 1e-9, "got {got} ms, want {want} ms ± 1%");
}
