//! Alarms through the real binary (docs/alarms.md): a rule on the demo's `customer_by_id`
//! fires once under an injected burst of failing calls and resolves once after it, and a
//! webhook receiver on 127.0.0.1 gets both notifications. Rules read whole minutes of the
//! call rollups, so the test waits for minute boundaries (about two minutes in all).

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Received, Server, call, ok, receiver};

const ROOT: &str = "slc_alarms_bootstrap_token_0123456789";

/// The events the receiver got, in order.
fn events(seen: &std::sync::Mutex<Vec<Received>>) -> Vec<Value> {
    seen.lock().expect("lock").iter().map(|r| serde_json::from_slice::<Value>(&r.body).expect("a JSON body")).collect()
}

/// Waits (at most three minutes) until the receiver has got `n` notifications.
fn until_received(seen: &std::sync::Mutex<Vec<Received>>, n: usize, server: &Server) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let got = events(seen);
        if got.len() >= n {
            return got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "{} of {n} notifications: {got:?}\n{}",
            got.len(),
            server.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_error_burst_fires_an_alarm_once_and_it_resolves_once_after() {
    let listener = support::free_listener();
    let hook = format!("http://{}/alarms", listener.local_addr().expect("address"));
    let seen = receiver(listener, &[200]);
    let server = Server::start(
        "alarms-burst",
        &[
            ("SLUICE_ADMIN_TOKEN", ROOT),
            ("SLUICE_SSRF_ALLOW", "127.0.0.1"),
            ("SLUICE_NOTIFY_RETRY_BASE_MS", "200"),
            ("SLUICE_ALARM_INTERVAL_MS", "250"),
        ],
    );
    let app = server.demo_app();
    ok(&call(
        &server,
        "POST",
        "/workgroups/demo/webhooks",
        Some(ROOT),
        Some(json!({"name": "oncall", "url": hook, "events": ["alarm.fired", "alarm.resolved"]})),
    ));
    let apis = ok(&call(&server, "GET", "/workgroups/demo/apis?pageSize=100", Some(ROOT), None));
    let api = apis["items"].as_array().unwrap().iter().find(|a| a["name"] == "customer_by_id").unwrap()["id"].clone();
    let rule = ok(&call(
        &server,
        "POST",
        &format!("/workgroups/demo/apis/{api}/alarms"),
        Some(ROOT),
        Some(json!({"metric": "errorRate", "env": "prod", "windowSecs": 60, "threshold": 0.5, "forSecs": 0})),
    ));

    // The burst fits in one minute: start it early in one.
    let into_minute = catalog::now_ms() % 60_000;
    if into_minute > 50_000 {
        std::thread::sleep(Duration::from_millis((60_000 - into_minute + 200) as u64));
    }
    for _ in 0..20 {
        assert_eq!(server.call_as(&app, "GET", "/customers/not-a-number", &[], b"").status, 400);
    }
    let fired = until_received(&seen, 1, &server);
    assert_eq!(fired[0]["event"], "alarm.fired", "{fired:?}");
    let detail = &fired[0]["detail"];
    assert_eq!((detail["ruleId"].clone(), detail["apiId"].clone()), (rule["id"].clone(), api.clone()), "{detail}");
    assert_eq!(detail["value"], 1.0, "every call of the burst failed: {detail}");

    // After the burst the API answers again; the next whole minute clears the rule.
    for id in 1..=10 {
        assert_eq!(server.call_as(&app, "GET", &format!("/customers/{id}"), &[], b"").status, 200);
    }
    let both = until_received(&seen, 2, &server);
    assert_eq!(both[1]["event"], "alarm.resolved", "{both:?}");
    assert_eq!(both[1]["detail"]["ruleId"], rule["id"]);

    // Once each: more evaluations send nothing more, and the history holds the two events.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(events(&seen).len(), 2, "{:?}", events(&seen));
    let history = ok(&call(&server, "GET", &format!("/workgroups/demo/alarm-events?apiId={api}"), Some(ROOT), None));
    let kinds: Vec<&str> = history["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["resolved", "fired"], "newest first: {history}");
    let state =
        ok(&call(&server, "GET", &format!("/workgroups/demo/apis/{api}/alarms/{}", rule["id"]), Some(ROOT), None));
    assert_eq!(state["state"], "ok", "{state}");
}
