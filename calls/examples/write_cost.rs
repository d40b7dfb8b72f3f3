//! CPU and disk per call record written through `CallStore::write` (batches of 1000, as the
//! writer does), and the time of one details search over them: `cargo run --release -p
//! sluice-calls --example write_cost -- 300000`. The figures behind `call_blocks` (P4).
use calls::CallRecord;
use calls::store::{CallStore, Retention};

fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args().nth(1).map_or(300_000, |a| a.parse().unwrap());
    let dir = std::env::temp_dir().join(format!("write-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = CallStore::open(&dir.join("calls.db"), Retention::default()).await.unwrap();
    let t0 = 1_765_000_000_000i64;
    let records: Vec<CallRecord> = (0..n)
        .map(|i| CallRecord {
            at_ms: t0 + (i as i64) / 10,
            request_id: format!("{:032x}", (i as u128).wrapping_mul(0x9E3779B97F4A7C15F39CC0605CEDC835)),
            trace_id: format!("{:032x}", (i as u128).wrapping_mul(0xC2B2AE3D27D4EB4F165667B19E3779F9)),
            workgroup_id: Some(1),
            api_id: Some(3),
            version: Some(1),
            env: "prod".into(),
            app_id: Some(2),
            client: "127.0.0.1".into(),
            status: 200,
            code: "OK".into(),
            latency_us: 900 + (i as u64 % 700),
            backend_us: Some(300),
            rows: Some(1),
            bytes_in: 0,
            bytes_out: 283,
            cache_hit: None,
        })
        .collect();
    let cpu0 = cpu_secs();
    let wall = std::time::Instant::now();
    for chunk in records.chunks(1000) {
        store.write(chunk).await.unwrap();
    }
    let cpu = cpu_secs() - cpu0;
    let size = std::fs::metadata(dir.join("calls.db")).unwrap().len()
        + std::fs::metadata(dir.join("calls.db-wal")).map_or(0, |m| m.len());
    println!(
        "{n} records: {:.2} us CPU/record, {:.2} us wall/record, {:.0} bytes/record on disk",
        cpu * 1e6 / n as f64,
        wall.elapsed().as_secs_f64() * 1e6 / n as f64,
        size as f64 / n as f64
    );
    let q = calls::report::DetailQuery { limit: 20, ..Default::default() };
    let scope = calls::report::Scope { workgroup_id: Some(1), ..Default::default() };
    let window = calls::report::Window { from_ms: t0, to_ms: t0 + (n as i64) / 10 + 1 };
    let w = std::time::Instant::now();
    let page = store.details(&scope, window, &q).await.unwrap();
    println!("details over all {}: {:.1} ms", page.total, w.elapsed().as_secs_f64() * 1e3);
    let _ = std::fs::remove_dir_all(&dir);
}
