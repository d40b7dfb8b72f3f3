//! Call records and service reports through the real binary (docs/calls.md): a record for each
//! kind of outcome, reports that match a known sequence of calls (counts exactly, percentiles
//! within the sketch's error), CSV export, records that survive a restart, a full queue that
//! drops without holding calls up, and the ClickHouse sink receiving the records SQLite has.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use catalog::model::{App, Grant, SecurityLevel};
use serde_json::Value;
use support::{DemoApp, Response, Server, call, ok, request, sluice, with_store};

const ROOT: &str = "slc_calls_bootstrap_token_0123456789";

fn start(tag: &str, extra: &[(&str, &str)]) -> Server {
    let mut env = vec![("SLUICE_ADMIN_TOKEN", ROOT), ("SLUICE_SSRF_ALLOW", "127.0.0.1")];
    env.extend_from_slice(extra);
    Server::start(tag, &env)
}

/// The management answer's `data` for a GET as the bootstrap admin.
fn admin_get(server: &Server, path: &str) -> Value {
    ok(&call(server, "GET", path, Some(ROOT), None))
}

/// The call details of `path` (a reports route with its query) once `total` reaches `n`.
fn details_until(server: &Server, path: &str, n: u64) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let page = admin_get(server, path);
        if page["total"].as_u64().unwrap_or(0) >= n {
            return page["items"].as_array().cloned().unwrap_or_default();
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{path}: still {page}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn request_id(response: &Response) -> String {
    response.header("x-request-id").expect("X-Request-Id").to_owned()
}

fn as_app(server: &Server, app: &DemoApp, path: &str, extra: &[(&str, &str)]) -> Response {
    server.call_as(app, "GET", path, extra, b"")
}

/// The record of `request_id`, from the platform's details (every workgroup's calls).
fn record_of(server: &Server, request_id: &str) -> Value {
    let items = details_until(server, &format!("/platform/reports/calls?requestId={request_id}"), 1);
    assert_eq!(items.len(), 1, "{items:?}");
    items[0].clone()
}

#[test]
fn every_kind_of_outcome_leaves_a_record() {
    let server = start("calls-kinds", &[]);
    let app = server.demo_app();
    let (api_id, app_id, limited) = with_store(&server, async |store| {
        let demo = store.workgroup_by_name("demo").await.expect("demo");
        let apis = store.list_apis(demo.id).await.expect("apis");
        let customers = apis.into_iter().find(|a| a.name == "customer_by_id").expect("customer_by_id");
        let apps = store.apps(demo.id).await.expect("apps");
        let demo_app = apps.iter().find(|a| a.app_key == app.key).expect("demo app").id;
        // An app with one call a second, to be throttled.
        let (limited, secret) = store.create_app(demo.id, "one_a_second", "").await.expect("app");
        let limited = store.update_app(&App { clearance: SecurityLevel::L1, ..limited }).await.expect("clearance");
        let grant = Grant {
            id: 0,
            api_id: customers.id,
            app_id: limited.id,
            expires_at: None,
            qps: Some(1),
            created_at: 0,
            created_by: "test".into(),
            application_id: None,
        };
        store.grant(&grant).await.expect("grant");
        let (_, token) = store.issue_app_token(limited.id, 3600).await.expect("token");
        (customers.id, demo_app, DemoApp { key: limited.app_key, secret, token })
    });

    // A registered API whose upstream is down: a 502 of the partners workgroup.
    let closed = support::free_port();
    let yaml = format!(
        "kind: Api\nworkgroup: partners\nname: down\npath: /down\nmethod: GET\nmode: registered\n\
         upstream:\n  baseUrl: http://{closed}/v1\n  path: /x\n  timeoutMs: 2000\nauthMode: none\n"
    );
    let file = server.data_dir.join("down.yaml");
    std::fs::write(&file, yaml).expect("yaml");
    let (applied, out) = sluice(
        &server.data_dir,
        &["apply", "-f", file.to_str().expect("path")],
        &[("SLUICE_SSRF_ALLOW", "127.0.0.1"), ("SLUICE_ADMIN_TOKEN", ROOT)],
    );
    assert!(applied, "{out}");
    support::until(&server, "/down", &[], |r| r.status != 404);

    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let success = as_app(&server, &app, "/customers/42", &[("traceparent", trace)]);
    assert_eq!(success.status, 200);
    let refused = server.get("/customers/42");
    assert_eq!(refused.status, 401);
    let invalid = as_app(&server, &app, "/customers/forty-two", &[]);
    assert_eq!(invalid.status, 400);
    let unrouted = server.get("/nowhere/at/all");
    assert_eq!(unrouted.status, 404);
    let failed = server.get("/down");
    assert_eq!(failed.status, 502, "{}", String::from_utf8_lossy(&failed.body));
    let mut throttled = None;
    for _ in 0..20 {
        let response = as_app(&server, &limited, "/customers/7", &[]);
        if response.status == 429 {
            throttled = Some(response);
            break;
        }
    }
    let throttled = throttled.expect("one call a second was throttled");

    let record = record_of(&server, &request_id(&success));
    assert_eq!(record["status"], 200, "{record}");
    assert_eq!(record["code"], "OK");
    assert_eq!(record["apiId"], api_id);
    assert_eq!(record["appId"], app_id);
    assert_eq!(record["env"], "prod");
    let version = success.header("x-sluice-version").and_then(|v| v.strip_prefix('V')).expect("X-Sluice-Version");
    assert_eq!(record["version"].to_string(), version, "the version that answered");
    assert_eq!(record["rows"], 1);
    assert_eq!(record["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736", "the caller's trace is continued");
    assert_eq!(record["client"], "127.0.0.1");
    assert_eq!(record["bytesOut"].as_u64(), Some(success.body.len() as u64));
    assert!(record["latencyUs"].as_u64().unwrap() >= record["backendUs"].as_u64().unwrap(), "{record}");

    let record = record_of(&server, &request_id(&refused));
    assert_eq!(
        (record["status"].as_u64(), record["code"].as_str()),
        (Some(401), Some("Unauthorized.MissingCredentials"))
    );
    assert_eq!(record["apiId"], api_id, "a refusal still belongs to the API: {record}");
    assert_eq!(record["appId"], Value::Null);
    assert_eq!(record["traceId"].as_str().map(str::len), Some(32), "a new trace: {record}");

    let record = record_of(&server, &request_id(&invalid));
    assert_eq!((record["status"].as_u64(), record["code"].as_str()), (Some(400), Some("InvalidParameter")));
    assert_eq!(record["appId"], app_id);

    let record = record_of(&server, &request_id(&unrouted));
    assert_eq!((record["status"].as_u64(), record["code"].as_str()), (Some(404), Some("NotFound.Api")));
    assert_eq!((record["apiId"].clone(), record["workgroupId"].clone()), (Value::Null, Value::Null));

    let record = record_of(&server, &request_id(&failed));
    assert_eq!((record["status"].as_u64(), record["code"].as_str()), (Some(502), Some("Upstream.Unavailable")));

    let record = record_of(&server, &request_id(&throttled));
    assert_eq!((record["status"].as_u64(), record["code"].as_str()), (Some(429), Some("Throttling.User")));

    // The demo workgroup's details hold its APIs' calls, and nothing of partners' or unrouted.
    let items = details_until(&server, "/workgroups/demo/reports/calls?pageSize=500", 5);
    let ids: HashSet<&str> = items.iter().filter_map(|r| r["requestId"].as_str()).collect();
    assert!(ids.contains(request_id(&success).as_str()));
    assert!(!ids.contains(request_id(&failed).as_str()), "another workgroup's call");
    assert!(!ids.contains(request_id(&unrouted).as_str()), "a call no API answered");
    // Naming the other workgroup's API or call in a filter reads nothing of it.
    let partners =
        admin_get(&server, &format!("/workgroups/partners/reports/calls?requestId={}", request_id(&success)));
    assert_eq!(partners["total"], 0, "{partners}");
    let partners = admin_get(&server, &format!("/workgroups/partners/reports/summary?apiId={api_id}"));
    assert_eq!(partners, serde_json::json!([]));
    let partners = admin_get(&server, &format!("/workgroups/partners/reports/calls?apiId={api_id}"));
    assert_eq!(partners["total"], 0, "{partners}");
}

/// The latency at quantile `q` of `sorted`, with the ranks either side of `q × (n − 1)`.
fn exact_bounds(sorted: &[f64], q: f64) -> (f64, f64) {
    let rank = q * (sorted.len() - 1) as f64;
    (sorted[rank.floor() as usize], sorted[rank.ceil() as usize])
}

#[test]
fn reports_match_a_known_sequence_of_calls() {
    let server = start("calls-reports", &[("SLUICE_DEMO", "true")]);
    let app = server.demo_app();
    let api = with_store(&server, async |store| {
        let demo = store.workgroup_by_name("demo").await.expect("demo");
        let apis = store.list_apis(demo.id).await.expect("apis");
        apis.into_iter().find(|a| a.name == "customer_by_id").expect("customer_by_id").id
    });
    let from = catalog::now_ms() - 60_000;
    for id in 1..=20 {
        assert_eq!(as_app(&server, &app, &format!("/customers/{id}"), &[]).status, 200);
    }
    for _ in 0..5 {
        assert_eq!(as_app(&server, &app, "/customers/x", &[]).status, 400);
    }
    for _ in 0..3 {
        assert_eq!(server.get("/customers/1").status, 401);
    }
    let window = format!("from={from}&to={}", catalog::now_ms() + 120_000);
    let details =
        details_until(&server, &format!("/workgroups/demo/reports/calls?apiId={api}&pageSize=500&{window}"), 28);
    assert_eq!(details.len(), 28);

    // Summaries read the rollups; each is written with its batch, so all 28 are there now.
    let api_key = api.to_string();
    let by_api = admin_get(&server, &format!("/workgroups/demo/reports/summary?groupBy=api&{window}"));
    let row = by_api
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"].as_str() == Some(api_key.as_str()))
        .expect("the API's row")
        .clone();
    assert_eq!((row["calls"].as_u64(), row["succeeded"].as_u64()), (Some(28), Some(20)), "{row}");
    assert_eq!((row["throttled"].as_u64(), row["errors"].as_u64()), (Some(0), Some(0)), "{row}");
    let codes: BTreeMap<String, u64> = serde_json::from_value(row["codes"].clone()).unwrap();
    let expected: BTreeMap<String, u64> = [("OK", 20), ("InvalidParameter", 5), ("Unauthorized.MissingCredentials", 3)]
        .map(|(c, n)| (c.into(), n))
        .into();
    assert_eq!(codes, expected);
    assert!((row["successRate"].as_f64().unwrap() - 20.0 / 28.0).abs() < 1e-9, "{row}");
    let bytes_out: u64 = details.iter().map(|d| d["bytesOut"].as_u64().unwrap()).sum();
    assert_eq!(row["bytesOut"].as_u64(), Some(bytes_out));

    // Percentiles: within the sketch's 1% of the exact latencies the details hold.
    let mut latencies: Vec<f64> = details.iter().map(|d| d["latencyUs"].as_f64().unwrap() / 1000.0).collect();
    latencies.sort_by(f64::total_cmp);
    for (field, q) in [("p50Ms", 0.5), ("p95Ms", 0.95), ("p99Ms", 0.99)] {
        let (low, high) = exact_bounds(&latencies, q);
        let got = row[field].as_f64().unwrap();
        assert!(got >= low * 0.99 && got <= high * 1.01, "{field} {got} outside [{low}, {high}] ±1%");
    }

    let by_code = admin_get(&server, &format!("/workgroups/demo/reports/summary?groupBy=code&apiId={api}&{window}"));
    let counts: BTreeMap<String, u64> = by_code
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap().to_owned(), r["calls"].as_u64().unwrap()))
        .collect();
    assert_eq!(counts, expected);
    let by_app = admin_get(&server, &format!("/workgroups/demo/reports/summary?groupBy=app&apiId={api}&{window}"));
    let anonymous = by_app.as_array().unwrap().iter().find(|r| r["key"] == "").expect("anonymous calls");
    assert_eq!(anonymous["calls"], 3);

    let trend = admin_get(&server, &format!("/workgroups/demo/reports/trend?resolution=minute&apiId={api}&{window}"));
    let total: u64 = trend.as_array().unwrap().iter().map(|p| p["calls"].as_u64().unwrap()).sum();
    assert_eq!(total, 28, "{trend}");
    for point in trend.as_array().unwrap() {
        assert_eq!(point["atMs"].as_i64().unwrap() % 60_000, 0, "minutes start on the minute: {point}");
    }

    // CSV: the same rows, with a header.
    let csv = call(
        &server,
        "GET",
        &format!("/workgroups/demo/reports/calls?apiId={api}&pageSize=500&format=csv&{window}"),
        Some(ROOT),
        None,
    );
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").is_some_and(|v| v.starts_with("text/csv")), "{:?}", csv.headers);
    let text = String::from_utf8(csv.body.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 29, "a header and 28 rows:\n{text}");
    assert!(lines[0].contains("requestId") && lines[0].contains("status"), "{}", lines[0]);
    let summary_csv = call(
        &server,
        "GET",
        &format!("/workgroups/demo/reports/summary?format=csv&apiId={api}&{window}"),
        Some(ROOT),
        None,
    );
    let text = String::from_utf8(summary_csv.body).unwrap();
    assert!(text.lines().nth(1).is_some_and(|row| row.starts_with(&format!("{api},28,20,"))), "{text}");

    // A report's parameters are checked.
    let bad = call(&server, "GET", "/workgroups/demo/reports/summary?groupBy=weather", Some(ROOT), None);
    support::refused(&bad, 400, Some("groupBy"));
    let bad = call(&server, "GET", "/workgroups/demo/reports/calls?from=tomorrow", Some(ROOT), None);
    support::refused(&bad, 400, Some("from"));
}

#[test]
fn records_survive_a_restart() {
    let mut server = start("calls-restart", &[]);
    let app = server.demo_app();
    let ids: Vec<String> = (0..3).map(|_| request_id(&as_app(&server, &app, "/customers/3", &[]))).collect();
    details_until(&server, "/workgroups/demo/reports/calls?pageSize=500", 3);
    assert!(server.terminate(), "a clean stop");
    let server = Server::start_in(server.data_dir.clone(), &[("SLUICE_ADMIN_TOKEN", ROOT)]);
    for id in ids {
        assert_eq!(record_of(&server, &id)["requestId"], id.as_str());
    }
}

#[test]
fn a_full_queue_drops_records_and_never_holds_calls_up() {
    let server = start("calls-full", &[("SLUICE_CALL_QUEUE", "2")]);
    let app = server.demo_app();
    as_app(&server, &app, "/customers/1", &[]);
    details_until(&server, "/workgroups/demo/reports/calls", 1);
    // Another process holds calls.db's write lock: the writer waits, its queue fills.
    let path = server.data_dir.join("calls.db");
    let locker = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('BEGIN EXCLUSIVE')\n\
             print('locked', flush=True)\n\
             sys.stdin.read()\n",
        )
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut locker = locker;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(locker.stdout.as_mut().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "locked");
    // One call's batch goes to the writer, which then waits for the lock (its batches are
    // 200 ms apart); the queue behind it holds two.
    assert_eq!(as_app(&server, &app, "/customers/2", &[]).status, 200);
    std::thread::sleep(Duration::from_secs(1));
    // Every call is answered while nothing can be stored.
    for i in 0..50 {
        let response = as_app(&server, &app, &format!("/customers/{}", i + 1), &[]);
        assert_eq!(response.status, 200, "call {i} while the store is locked");
    }
    drop(locker.stdin.take());
    let _ = locker.wait();
    let metrics = call(&server, "GET", "/metrics", Some(ROOT), None);
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8(metrics.body).unwrap();
    let dropped = metric(&text, "sluice_call_records_dropped_total");
    assert!(dropped >= 45.0, "about the queue's two were kept of fifty: {dropped} dropped\n{text}");
    // What was kept is stored once the lock is gone: every call is either stored or counted.
    let kept = 52 - dropped as u64;
    let items = details_until(&server, "/workgroups/demo/reports/calls?pageSize=500", kept);
    assert_eq!(items.len() as u64, kept);
}

/// The value of an unlabelled metric in a text exposition.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// A query to the ClickHouse on 127.0.0.1:8123, as text.
fn clickhouse(query: &str) -> String {
    let response = request("127.0.0.1:8123".parse().unwrap(), "POST", "/", &[], query.as_bytes());
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    String::from_utf8(response.body).unwrap()
}

#[test]
fn clickhouse_receives_the_records_sqlite_has() {
    let server = start("calls-clickhouse", &[("SLUICE_CLICKHOUSE_URL", "http://127.0.0.1:8123/")]);
    let app = server.demo_app();
    let mut ids = Vec::new();
    for id in 1..=10 {
        ids.push(request_id(&as_app(&server, &app, &format!("/customers/{id}"), &[])));
    }
    ids.push(request_id(&server.get("/customers/1")));
    let items = details_until(&server, "/workgroups/demo/reports/calls?pageSize=500", 11);
    let in_sqlite: HashSet<String> = items.iter().map(|r| r["requestId"].as_str().unwrap().to_owned()).collect();
    let list = ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
    let started = Instant::now();
    let in_clickhouse: HashSet<String> = loop {
        let text =
            clickhouse(&format!("SELECT request_id, status FROM sluice_calls WHERE request_id IN ({list}) FORMAT TSV"));
        let rows: HashSet<String> = text.lines().filter_map(|l| l.split('\t').next()).map(str::to_owned).collect();
        if rows.len() >= ids.len() || started.elapsed() > Duration::from_secs(15) {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let wanted: HashSet<String> = ids.into_iter().collect();
    assert_eq!(in_clickhouse, wanted);
    assert!(wanted.is_subset(&in_sqlite));
    let statuses = clickhouse(&format!(
        "SELECT status, count() FROM sluice_calls WHERE request_id IN ({list}) GROUP BY status ORDER BY status FORMAT TSV"
    ));
    assert_eq!(statuses.trim(), "200\t10\n401\t1");
}
