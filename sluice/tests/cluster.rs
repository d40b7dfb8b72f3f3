//! Three `sluice serve` nodes sharing one PostgreSQL store and one Redis (docs/cluster.md),
//! through the real binary: an API's QPS limit holds for the cluster, a nonce used on one
//! node is refused on another, a publication through one node's management API reaches all
//! three, a purge through one node empties the cache on all, and the nodes keep answering
//! (never 5xx) while Redis is down, then share their limits again once it is back.
//!
//! Each run has a database of its own and a Redis of its own (a `redis-server` this test starts
//! on a free port), so runs in parallel cannot meet.

mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use catalog::model::Api;
use catalog::secret::SecretBox;
use catalog::store::Store;
use support::{DemoApp, Response, Server, code, free_port, ok, request, unique_dir};

const ADMIN: &str = "slc_cluster_bootstrap_token_0123456789";
const PG: &str = "postgres://postgres@127.0.0.1:5432";

/// A `redis-server` of the test's own, without persistence; killed when dropped.
struct Redis {
    child: Option<Child>,
}

impl Redis {
    fn start(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (./scripts/test installs it)");
        let redis = Redis { child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A fresh database for this run; dropped again at the end.
struct Database {
    name: String,
}

impl Database {
    fn create() -> Database {
        let name = format!("sluice_cluster_{}_{:x}", std::process::id(), rand::random::<u32>());
        admin_sql(&format!("CREATE DATABASE {name}"));
        Database { name }
    }

    fn url(&self) -> String {
        format!("{PG}/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        admin_sql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

fn admin_sql(statement: &str) {
    use sqlx::{Connection, Executor};
    let statement = statement.to_owned();
    support::runtime().block_on(async move {
        let mut conn = sqlx::PgConnection::connect(&format!("{PG}/test")).await.expect("PostgreSQL at 5432");
        conn.execute(sqlx::AssertSqlSafe(statement)).await.expect("admin statement");
        conn.close().await.ok();
    });
}

struct Cluster {
    nodes: Vec<Server>,
    store_url: String,
    key: String,
}

impl Cluster {
    fn with_store<T>(&self, work: impl AsyncFnOnce(&Store) -> T) -> T {
        support::runtime().block_on(async {
            let secrets = SecretBox::from_key_text(&self.key).expect("key");
            let store = Store::open(&self.store_url, secrets).await.expect("store");
            let out = work(&store).await;
            store.close().await;
            out
        })
    }

    fn admin(&self, node: usize, method: &str, path: &str, body: Option<serde_json::Value>) -> Response {
        support::call(&self.nodes[node], method, path, Some(ADMIN), body)
    }

    /// `sluice_redis_degraded` of every node.
    fn degraded(&self) -> Vec<String> {
        (0..self.nodes.len())
            .map(|n| {
                let text = String::from_utf8_lossy(&self.admin(n, "GET", "/metrics", None).body).into_owned();
                text.lines().find(|l| l.starts_with("sluice_redis_degraded ")).unwrap_or("absent").to_owned()
            })
            .collect()
    }
}

fn start_cluster(redis_port: u16, db: &Database) -> Cluster {
    let key = SecretBox::generate_key_text();
    let redis_url = format!("redis://127.0.0.1:{redis_port}/0");
    let prefix = format!("sluice-test-{:x}:", rand::random::<u64>());
    let store_url = db.url();
    let first_dir = unique_dir("cluster-a");
    let roots = first_dir.join("datasets").display().to_string();
    let common = |demo: &'static str| {
        vec![
            ("SLUICE_STORE_URL", store_url.clone()),
            ("SLUICE_SECRET_KEY", key.clone()),
            ("SLUICE_ADMIN_TOKEN", ADMIN.to_owned()),
            ("SLUICE_REDIS_URL", redis_url.clone()),
            ("SLUICE_REDIS_KEY_PREFIX", prefix.clone()),
            ("SLUICE_CACHE_MAX_BYTES", "16000000".to_owned()),
            ("SLUICE_THREADS", "2".to_owned()),
            ("SLUICE_DEMO", demo.to_owned()),
            // The demo's SQLite dataset lives in the first node's data dir; the others link to
            // it and may read there (in production: a shared or replicated dataset directory).
            ("SLUICE_DATASET_ROOTS", roots.clone()),
        ]
    };
    let start = |dir: std::path::PathBuf, env: Vec<(&'static str, String)>| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Server::start_in(dir, &env)
    };
    // The first node creates the schema and the demo; the others find them.
    let a = start(first_dir, common("true"));
    let others: Vec<std::path::PathBuf> = ["cluster-b", "cluster-c"]
        .iter()
        .map(|tag| {
            let dir = unique_dir(tag);
            std::fs::create_dir_all(dir.join("datasets")).expect("datasets");
            std::os::unix::fs::symlink(a.data_dir.join("datasets").join("demo"), dir.join("datasets").join("demo"))
                .expect("link the demo dataset");
            dir
        })
        .collect();
    let b = start(others[0].clone(), common("false"));
    let c = start(others[1].clone(), common("false"));
    let cluster = Cluster { nodes: vec![a, b, c], store_url, key };
    // Every node has its Redis connection before the test measures anything.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.degraded().iter().any(|line| line != "sluice_redis_degraded 0") {
        assert!(Instant::now() < deadline, "nodes not ready: {:?}", cluster.degraded());
        std::thread::sleep(Duration::from_millis(50));
    }
    cluster
}

/// Changes a customer's name in the demo's SQLite dataset (the first node's data dir).
fn rename_customer(first: &Server, id: i64, name: &str) {
    use sqlx::Connection;
    let file = first.data_dir.join("datasets").join("demo").join("shop.sqlite");
    let name = name.to_owned();
    support::runtime().block_on(async move {
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display())).await.expect("shop");
        sqlx::query("UPDATE customers SET name = ? WHERE id = ?")
            .bind(name)
            .bind(id)
            .execute(&mut db)
            .await
            .expect("rename");
        db.close().await.ok();
    });
}

async fn demo_api(store: &Store, name: &str) -> Api {
    let demo = store.workgroup_by_name("demo").await.expect("demo");
    store.list_apis(demo.id).await.expect("apis").into_iter().find(|a| a.name == name).expect("demo API")
}

fn as_app<'a>(owned: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    owned.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Calls `path` open-loop at `rate` per second for `seconds`, round-robin over `edges`, from
/// four threads; returns (admitted, refused with 429, anything else as status → count).
fn spread_load(
    edges: &[SocketAddr],
    path: &str,
    headers: &[(&'static str, String)],
    rate: f64,
    seconds: f64,
) -> (usize, usize, Vec<(u16, String)>) {
    let total = (rate * seconds) as usize;
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (next, edges, headers, path) = (next.clone(), edges.to_vec(), headers.to_vec(), path.to_owned());
            std::thread::spawn(move || {
                let headers = as_app(&headers);
                let (mut admitted, mut throttled, mut other) = (0, 0, Vec::new());
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let due = Duration::from_secs_f64(i as f64 / rate);
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    let response = request(edges[i % edges.len()], "GET", &path, &headers, b"");
                    match response.status {
                        200 => admitted += 1,
                        429 => throttled += 1,
                        status => other.push((status, code(&response))),
                    }
                }
                (admitted, throttled, other)
            })
        })
        .collect();
    let mut sums = (0, 0, Vec::new());
    for worker in workers {
        let (a, t, o) = worker.join().expect("load worker");
        sums.0 += a;
        sums.1 += t;
        sums.2.extend(o);
    }
    sums
}

fn signed(app: &DemoApp, path: &str) -> Vec<(String, String)> {
    let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let nonce = format!("n{:016x}", rand::random::<u64>());
    let text = proxy::signature::string_to_sign("GET", path, "", b"", &timestamp.to_string(), &nonce);
    vec![
        ("X-Sluice-App-Key".into(), app.key.clone()),
        ("X-Sluice-Timestamp".into(), timestamp.to_string()),
        ("X-Sluice-Nonce".into(), nonce),
        ("X-Sluice-Signature".into(), proxy::signature::sign(app.secret.as_bytes(), &text)),
    ]
}

fn send(node: &Server, path: &str, headers: &[(String, String)]) -> Response {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    request(node.edge, "GET", path, &headers, b"")
}

/// Polls until `done` holds on every node; returns how long that took (at most 10 s).
fn until_all(cluster: &Cluster, path: &str, headers: &[(&str, &str)], done: impl Fn(&Response) -> bool) -> Duration {
    let start = Instant::now();
    let mut pending: Vec<usize> = (0..cluster.nodes.len()).collect();
    while !pending.is_empty() {
        pending.retain(|&n| !done(&cluster.nodes[n].call("GET", path, headers, b"")));
        assert!(start.elapsed() < Duration::from_secs(10), "{path}: nodes {pending:?} never got there");
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    start.elapsed()
}

#[test]
fn three_nodes_share_limits_nonces_publications_and_purges() {
    let db = Database::create();
    let redis_port = free_port().port();
    let mut redis = Redis::start(redis_port);
    let cluster = start_cluster(redis_port, &db);
    let app = cluster.nodes[0].demo_app();
    let token = app.token_headers();
    let edges: Vec<SocketAddr> = cluster.nodes.iter().map(|n| n.edge).collect();
    let customers = cluster.with_store(async |store| {
        let mut api = demo_api(store, "customer_by_id").await;
        api.settings.max_qps = Some(100);
        store.update_api(&api).await.expect("max qps");
        api
    });
    for n in 0..3 {
        support::until(&cluster.nodes[n], "/customers/1", &as_app(&token), |r| r.status == 200);
    }
    std::thread::sleep(Duration::from_secs(1)); // the probes' budget refills

    // (a) 100 QPS for the API, 200 offered over three nodes for 5 s.
    let (admitted, throttled, other) = spread_load(&edges, "/customers/1", &token, 200.0, 5.0);
    let ratio = admitted as f64 / (100.0 * 5.0);
    eprintln!("cluster limit: {admitted} admitted, {throttled} throttled in 5 s: {ratio:.3} of the limit");
    assert!(other.is_empty(), "only 200 and 429: {other:?}");
    assert!(throttled > admitted / 2, "not overloaded: {throttled} throttled");
    assert!((0.95..=1.05).contains(&ratio), "admitted {admitted} of 100 QPS × 5 s: {ratio:.3}");

    // (b) A signed call's nonce, used on node A, is refused on node B (and C).
    let headers = signed(&app, "/customers/2");
    std::thread::sleep(Duration::from_secs(1));
    let first = send(&cluster.nodes[0], "/customers/2", &headers);
    assert_eq!(first.status, 200, "{}", String::from_utf8_lossy(&first.body));
    for node in &cluster.nodes[1..] {
        let replay = send(node, "/customers/2", &headers);
        assert_eq!((replay.status, code(&replay).as_str()), (401, "Unauthorized.ReplayedNonce"));
    }

    // (c) A version published through node A's management API is served by all three.
    let base = format!("/workgroups/demo/apis/{}", customers.id);
    let version = ok(&cluster.admin(0, "POST", &format!("{base}/versions"), None))["number"].as_i64().expect("n");
    let published = Instant::now();
    ok(&cluster.admin(
        0,
        "POST",
        &format!("{base}/publish"),
        Some(serde_json::json!({"version": version, "environment": "prod"})),
    ));
    let answer = format!("V{version}");
    until_all(&cluster, "/customers/3", &as_app(&token), |r| r.header("x-sluice-version") == Some(answer.as_str()));
    // From before the publish request to the last node's answer.
    let took = published.elapsed();
    eprintln!("publication through node A served by all three nodes after {} ms", took.as_millis());
    assert!(took <= Duration::from_secs(1), "publication took {took:?} to reach every node");

    // (d) An answer cached through one node is a hit on the others (the shared tier); after a
    // change of the data, a purge through node B makes every node answer the new data.
    std::thread::sleep(Duration::from_secs(1));
    let answer_of = |n: usize| {
        let response = cluster.nodes[n].call("GET", "/customers/42", &as_app(&token), b"");
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
        let name = response.json()["data"]["rows"][0]["name"].as_str().unwrap_or_default().to_owned();
        (response.header("x-sluice-cache").unwrap_or_default().to_owned(), name)
    };
    let (status, before) = answer_of(0);
    assert_eq!(status, "MISS");
    for n in [1, 2, 0] {
        assert_eq!(answer_of(n), ("HIT".to_owned(), before.clone()), "node {n}");
    }
    rename_customer(&cluster.nodes[0], 42, "Renamed In Cluster");
    assert_eq!(answer_of(1), ("HIT".to_owned(), before.clone()), "still cached");
    ok(&cluster.admin(1, "POST", &format!("{base}/cache/purge"), None));
    // Node B purged itself before answering; the others hear of it through Redis within
    // moments. From then on every node answers the new data (the first to call runs the query
    // and fills the shared tier; the others may find it there).
    let gone = until_all(&cluster, "/customers/42", &as_app(&token), |r| {
        r.json()["data"]["rows"][0]["name"].as_str() == Some("Renamed In Cluster")
    });
    eprintln!("purge through node B reached every node after {} ms", gone.as_millis());
    std::thread::sleep(Duration::from_millis(200)); // the polls' use of the API's budget
    for n in [0, 1, 2] {
        assert_eq!(answer_of(n), ("HIT".to_owned(), "Renamed In Cluster".to_owned()), "node {n}");
    }

    // (e) Redis goes away: every node keeps answering, 200 or 429 and never 5xx, on its own
    // limits and nonces; it comes back, and the limit is the cluster's again.
    redis.stop();
    std::thread::sleep(Duration::from_secs(1));
    let (admitted, throttled, other) = spread_load(&edges, "/customers/1", &token, 200.0, 2.0);
    eprintln!("Redis down: {admitted} admitted, {throttled} throttled in 2 s");
    assert!(other.is_empty(), "only 200 and 429 while Redis is down: {other:?}");
    assert!(admitted > 0);
    let headers = signed(&app, "/customers/5");
    assert_eq!(send(&cluster.nodes[0], "/customers/5", &headers).status, 200, "signed calls go on");
    assert_eq!(send(&cluster.nodes[0], "/customers/5", &headers).status, 401, "the node's own nonces still hold");
    assert!(cluster.degraded().iter().all(|l| l == "sluice_redis_degraded 1"), "{:?}", cluster.degraded());

    let _redis = Redis::start(redis_port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.degraded().iter().any(|l| l != "sluice_redis_degraded 0") {
        assert!(Instant::now() < deadline, "nodes did not go back to Redis: {:?}", cluster.degraded());
        // Calls are what notice a connection lost; the node reconnects on its own.
        for edge in &edges {
            request(*edge, "GET", "/customers/1", &as_app(&token), b"");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    let (admitted, _, other) = spread_load(&edges, "/customers/1", &token, 200.0, 3.0);
    let ratio = admitted as f64 / (100.0 * 3.0);
    eprintln!("Redis back: {admitted} admitted in 3 s: {ratio:.3} of the limit");
    assert!(other.is_empty(), "{other:?}");
    assert!((0.95..=1.05).contains(&ratio), "cluster limit after Redis came back: {ratio:.3}");
    std::thread::sleep(Duration::from_secs(1)); // the load's debt is paid
    let headers = signed(&app, "/customers/6");
    assert_eq!(send(&cluster.nodes[2], "/customers/6", &headers).status, 200);
    assert_eq!(code(&send(&cluster.nodes[0], "/customers/6", &headers)), "Unauthorized.ReplayedNonce");
    drop(cluster);
}
