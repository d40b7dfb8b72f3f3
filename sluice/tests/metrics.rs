//! `GET /metrics` through the real binary with the demo (docs/metrics.md): who may read it,
//! what it holds once calls, a QPS refusal and a catalog change went through the process, and
//! that Prometheus's own linter, `promtool check metrics`, accepts the text (`./scripts/test
//! --setup` installs promtool; this test fails without it, as database tests fail without
//! their servers).

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use support::{Response, Server, call, ok, request};

const ROOT: &str = "slc_metrics_bootstrap_token_0123456789";

/// `GET path` on the admin address with an optional bearer token.
fn get(server: &Server, path: &str, token: Option<&str>) -> Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    request(server.admin, "GET", path, &headers, b"")
}

/// The exposition as the platform admin reads it.
fn scrape(server: &Server) -> String {
    let response = get(server, "/admin/v1/metrics", Some(ROOT));
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    String::from_utf8(response.body).expect("UTF-8")
}

/// The value of the sample `series` (name and labels exactly as written), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Scrapes until `done` holds for the text (at most 10 s, then fails).
fn scrape_until(server: &Server, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(server);
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what}, still:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `promtool check metrics` on `text`; (exit status, what it printed).
fn promtool_check(text: &str) -> (Option<i32>, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run promtool ({e}): run ./scripts/test --setup to install it"));
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to promtool");
    let output = child.wait_with_output().expect("promtool");
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code(), printed)
}

#[test]
fn the_metrics_answer_platform_admins_with_text_promtool_accepts() {
    let server = Server::start("metrics", &[("SLUICE_ADMIN_TOKEN", ROOT)]);

    // Who may read it: a token, of a platform administrator.
    ok(&call(&server, "POST", "/users", Some(ROOT), Some(json!({"name": "watcher"}))));
    let issued = ok(&call(&server, "POST", "/users/watcher/tokens", Some(ROOT), Some(json!({"name": "m"}))));
    let user = issued["token"].as_str().expect("token").to_owned();
    for path in ["/admin/v1/metrics", "/metrics"] {
        let none = get(&server, path, None);
        assert_eq!((none.status, none.json()["code"].as_str()), (401, Some("Unauthorized")), "{path}");
        let other = get(&server, path, Some(&user));
        assert_eq!((other.status, other.json()["code"].as_str()), (403, Some("Forbidden")), "{path}");
        let admin = get(&server, path, Some(ROOT));
        assert_eq!(admin.status, 200, "{path}: {}", String::from_utf8_lossy(&admin.body));
        assert_eq!(admin.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"), "{path}");
    }

    // A few calls at the edge: one answered, one no route has, one with a bad parameter.
    let app = server.demo_app();
    let answered = server.call_as(&app, "GET", "/customers/42", &[], b"");
    assert_eq!(answered.status, 200, "{}", String::from_utf8_lossy(&answered.body));
    assert_eq!(server.get("/no/such/route").status, 404);
    assert_eq!(server.call_as(&app, "GET", "/customers/abc", &[], b"").status, 400);
    // They are counted by API, status and code, with their latency, and their records go
    // through the queue (each is counted once its answer is written).
    let apis = ok(&call(&server, "GET", "/workgroups/demo/apis?pageSize=100", Some(ROOT), None));
    let customers = apis["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|api| api["path"] == "/customers/{id}")
        .and_then(|api| api["id"].as_i64())
        .expect("the demo's customer API");
    let counted = [
        format!(r#"sluice_calls_total{{api="{customers}",status="200",code="OK"}}"#),
        format!(r#"sluice_calls_total{{api="{customers}",status="400",code="InvalidParameter"}}"#),
    ];
    // The start-up probe's `GET /` is a call no route has, like ours.
    let unrouted = r#"sluice_calls_total{api="none",status="404",code="NotFound.Api"}"#;
    let text = scrape_until(&server, "the three calls are not counted", |text| {
        counted.iter().all(|series| sample(text, series) == Some(1.0))
            && sample(text, unrouted).is_some_and(|n| n >= 1.0)
    });
    let durations = format!(r#"sluice_call_duration_seconds_count{{api="{customers}"}}"#);
    assert_eq!(sample(&text, &durations), Some(2.0), "{text}");
    assert!(sample(&text, "sluice_call_records_total").is_some_and(|n| n >= 3.0), "{text}");
    assert_eq!(sample(&text, "sluice_call_records_dropped_total"), Some(0.0), "{text}");

    // A catalog change: the demo's customer lookup gets a limit of 1 call a second. The
    // watcher rebuilds the route table, and the limiter refuses the second call of a second.
    let rebuilds_before = sample(&text, "sluice_route_rebuilds_total").expect("sluice_route_rebuilds_total");
    ok(&call(&server, "PUT", &format!("/workgroups/demo/apis/{customers}"), Some(ROOT), Some(json!({"maxQps": 1}))));
    let text = scrape_until(&server, "no route rebuild counted", |text| {
        sample(text, "sluice_route_rebuilds_total").is_some_and(|n| n > rebuilds_before)
    });
    let routes = sample(&text, "sluice_routes").expect("sluice_routes");
    assert!(routes >= 4.0, "the demo serves at least four routes: {routes}");
    let headers = app.token_headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    support::until(&server, "/customers/42", &headers, |r| r.status == 429);
    let refusals = format!(r#"sluice_limiter_refusals_total{{api="{customers}"}}"#);
    let text = scrape(&server);
    assert!(sample(&text, &refusals).is_some_and(|n| n >= 1.0), "{refusals} missing:\n{text}");

    // The process, read at scrape time.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs_f64();
    let started = sample(&text, "process_start_time_seconds").expect("process_start_time_seconds");
    assert!(started > now - 600.0 && started <= now + 1.0, "started at {started}, now {now}");
    for (name, least) in [
        ("process_resident_memory_bytes", 1_000_000.0),
        ("process_virtual_memory_bytes", 1_000_000.0),
        ("process_open_fds", 3.0),
        ("process_max_fds", 3.0),
        ("process_threads", 2.0),
        ("process_cpu_seconds_total", 0.0),
    ] {
        let value = sample(&text, name).unwrap_or_else(|| panic!("{name} missing:\n{text}"));
        assert!(value >= least, "{name} = {value}");
    }
    // The call-record queue's gauges are there (at zero until the edge records calls).
    for name in ["sluice_call_records_queued", "sluice_call_records_total", "sluice_call_records_dropped_total"] {
        assert!(sample(&text, name).is_some(), "{name} missing:\n{text}");
    }
    // after the serve.rs wiring (`watch_pools`): the demo's SQLite pool, opened by the calls
    // above, e.g.
    //   assert!(text.contains("# TYPE sluice_datasource_pool_connections gauge"), "{text}");
    // No label names an app.
    assert!(!text.lines().filter(|l| !l.starts_with('#')).any(|l| l.contains("app")), "{text}");

    // Prometheus's linter accepts it.
    let (status, printed) = promtool_check(&text);
    assert_eq!(status, Some(0), "promtool check metrics:\n{printed}\n{text}");
}

/// `[metrics] token` and `[metrics] addr`, the demo's pool and the first route table.
#[test]
fn the_metrics_token_and_the_open_listener_after_the_serve_wiring() {
    const SCRAPER: &str = "scraper-token-0123456789";
    let open = support::free_port();
    let open_text = open.to_string();
    let server = Server::start(
        "metrics-token",
        &[("SLUICE_ADMIN_TOKEN", ROOT), ("SLUICE_METRICS_TOKEN", SCRAPER), ("SLUICE_METRICS_ADDR", &open_text)],
    );
    // The first route table is there before any rebuild.
    let text = scrape(&server);
    assert!(sample(&text, "sluice_routes").is_some_and(|n| n >= 4.0), "{text}");

    // The metrics token reads /metrics, and nothing else.
    for path in ["/admin/v1/metrics", "/metrics"] {
        assert_eq!(get(&server, path, Some(SCRAPER)).status, 200, "{path}");
        assert_eq!(get(&server, path, Some("scraper-token-0123456788")).status, 401, "{path}");
    }
    assert_eq!(get(&server, "/admin/v1/users", Some(SCRAPER)).status, 401);

    // The demo's SQLite pool, once a call opened it.
    assert_eq!(server.get_as_demo_app("/customers/42").status, 200);
    let text = scrape_until(&server, "no pool gauge", |t| t.contains("sluice_datasource_pool_connections{"));
    let idle = text
        .lines()
        .find(|l| l.starts_with("sluice_datasource_pool_connections{") && l.contains(r#"state="idle""#))
        .unwrap_or_else(|| panic!("no idle connections:\n{text}"));
    let idle: f64 = idle.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or_default();
    assert!(idle >= 1.0, "the call's connection is idle again: {idle}\n{text}");

    // The listener of its own answers without a token, and only /metrics.
    let answer = request(open, "GET", "/metrics", &[], b"");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert_eq!(request(open, "GET", "/admin/v1/users", &[], b"").status, 404);
    let text = String::from_utf8(answer.body).expect("UTF-8");
    let (status, printed) = promtool_check(&text);
    assert_eq!(status, Some(0), "promtool check metrics:\n{printed}\n{text}");
}
