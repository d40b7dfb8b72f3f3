//! Log lines as collectors read them: with `SLUICE_LOG_FORMAT=json` every line the server
//! logs is one JSON object, an edge event carries the request id the caller got in
//! `X-Request-Id` and the W3C trace id of its `traceparent`, and an unknown format stops the start with a clear error.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, call, ok};

const ROOT: &str = "slc_logs_bootstrap_token_0123456789";

#[test]
fn json_log_lines_carry_the_request_id_of_the_call_they_describe() {
    let server = Server::start(
        "logs-json",
        &[("SLUICE_ADMIN_TOKEN", ROOT), ("SLUICE_LOG_FORMAT", "json"), ("SLUICE_SSRF_ALLOW", "127.0.0.1")],
    );
    // A registered API whose upstream does not listen: its call fails and is logged.
    let closed = support::free_port();
    let api = ok(&call(
        &server,
        "POST",
        "/workgroups/demo/apis",
        Some(ROOT),
        Some(json!({"name": "gone", "path": "/gone", "authMode": "none",
                    "draft": {"mode": "registered", "baseUrl": format!("http://{closed}"), "path": "/x"}})),
    ));
    let path = format!("/workgroups/demo/apis/{}", api["id"]);
    ok(&call(&server, "POST", &format!("{path}/versions"), Some(ROOT), None));
    ok(&call(
        &server,
        "POST",
        &format!("{path}/publish"),
        Some(ROOT),
        Some(json!({"version": 0, "environment": "prod"})),
    ));
    let failed = support::until(&server, "/gone", &[], |r| r.status == 502);
    let trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let answer = server.call("GET", "/gone", &[("traceparent", trace)], b"");
    assert_eq!(answer.status, 502, "after {failed:?}");
    let request_id = answer.header("x-request-id").expect("X-Request-Id").to_owned();

    let deadline = Instant::now() + Duration::from_secs(10);
    let logged = loop {
        let output = server.output();
        let lines: Vec<Value> = output
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        if let Some(line) = lines.iter().find(|l| l["request_id"] == request_id.as_str()) {
            break line.clone();
        }
        assert!(Instant::now() < deadline, "no log line names {request_id}:\n{output}");
        std::thread::sleep(Duration::from_millis(50));
    };
    for key in ["timestamp", "level", "target", "message"] {
        assert!(logged.get(key).is_some_and(|v| v.is_string()), "{key} missing: {logged}");
    }
    assert_eq!(logged["api"], "gone", "{logged}");
    assert_eq!(logged["trace_id"], "0af7651916cd43dd8448eb211c80319c", "the caller's trace: {logged}");
    // Every line the server logged is JSON; only the start-up banner (stdout) is text.
    let output = server.output();
    assert!(output.lines().filter(|l| l.starts_with('{')).count() >= 2, "{output}");
    assert!(!output.lines().any(|l| l.contains(" INFO ") || l.contains(" WARN ")), "a text log line: {output}");
}

#[test]
fn an_unknown_log_format_stops_the_start_with_a_clear_error() {
    let dir = support::unique_dir("logs-bad");
    let (started, output) = support::sluice(&dir, &["serve"], &[("SLUICE_LOG_FORMAT", "xml")]);
    assert!(!started, "{output}");
    assert!(output.contains("SLUICE_LOG_FORMAT is `text` (the default) or `json`, not `xml`"), "{output}");
}
