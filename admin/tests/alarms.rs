//! Alarms through the management router in process (`support/`) — rules refused with the
//! field at fault, the template applied to new APIs with the owner as receiver, another
//! workgroup's rules hidden — and the evaluator end to end without the binary: a scripted
//! error burst (a test double of the call store's window totals) fires an alarm and its end
//! resolves it, and the webhook worker delivers both, retrying, to a receiver on 127.0.0.1.

mod support;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use admin::alarms::{CallTotals, evaluate_once};
use async_trait::async_trait;
use calls::CallsError;
use calls::report::{Filter, Scope, Totals, Window};
use catalog::model::{AlarmMetric, AlarmRule, AlarmRuleSpec, Environment, NotificationEvent, WebhookChannel};
use catalog::secret::SecretBox;
use catalog::store::Store;
use config::Config;
use config::outbound::OutboundBase;
use serde_json::{Value, json};
use support::{Response, Server, call, ok};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROOT: &str = "slc_alarms_bootstrap_token_0123456789ab";

fn refused(response: &Response, field: &str) -> String {
    let body = response.json();
    assert_eq!(response.status, 400, "{body}");
    assert_eq!(body["code"].as_str(), Some(format!("InvalidParameter.{field}").as_str()), "{body}");
    assert_eq!(body["field"].as_str(), Some(field), "{body}");
    body["message"].as_str().unwrap_or_default().to_owned()
}

/// `team` (developer alice, viewer vic) and `other` (developer carol); their tokens.
fn start(tag: &str) -> (Server, String, String, String) {
    let server = Server::start(tag, ROOT);
    for name in ["team", "other"] {
        ok(&call(&server, "POST", "/workgroups", Some(ROOT), Some(json!({"name": name}))));
    }
    let mut tokens = Vec::new();
    for (user, workgroup, role) in
        [("alice", "team", "developer"), ("vic", "team", "viewer"), ("carol", "other", "developer")]
    {
        ok(&call(&server, "POST", "/users", Some(ROOT), Some(json!({"name": user}))));
        ok(&call(
            &server,
            "PUT",
            &format!("/workgroups/{workgroup}/members/{user}"),
            Some(ROOT),
            Some(json!({"role": role})),
        ));
        let issued =
            ok(&call(&server, "POST", &format!("/users/{user}/tokens"), Some(ROOT), Some(json!({"name": "t"}))));
        tokens.push(issued["token"].as_str().expect("token").to_owned());
    }
    (server, tokens[0].clone(), tokens[1].clone(), tokens[2].clone())
}

/// A registered API (no datasource needed) named `name`, created by `token`.
fn new_api(server: &Server, token: &str, name: &str, extra: Value) -> Value {
    let mut body = json!({
        "name": name,
        "path": format!("/{name}"),
        "draft": {"mode": "registered", "baseUrl": "https://backend.example.com/v1", "path": "/x"},
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    ok(&call(server, "POST", "/workgroups/team/apis", Some(token), Some(body)))
}

#[test]
fn rules_are_checked_templated_and_kept_to_their_workgroup() {
    let (server, alice, vic, carol) = start("alarms-routes");
    let template = json!({"enabled": true, "rules": [
        {"metric": "errorRate", "windowSecs": 300, "threshold": 0.05, "forSecs": 120},
        {"metric": "noCalls", "env": "prod", "windowSecs": 3600, "threshold": 0}
    ]});
    // Only admins write the template; viewers read it.
    assert_eq!(
        call(&server, "PUT", "/workgroups/team/alarm-template", Some(&alice), Some(template.clone())).status,
        403
    );
    let bad = json!({"enabled": true, "rules": [{"metric": "p99Ms", "windowSecs": 60, "threshold": 1}, {"metric": "p99Ms", "windowSecs": 60, "threshold": 1, "forSecs": 90000}]});
    refused(&call(&server, "PUT", "/workgroups/team/alarm-template", Some(ROOT), Some(bad)), "rules[1].forSecs");
    ok(&call(&server, "PUT", "/workgroups/team/alarm-template", Some(ROOT), Some(template)));
    let read = ok(&call(&server, "GET", "/workgroups/team/alarm-template", Some(&vic), None));
    assert_eq!((read["enabled"].as_bool(), read["rules"].as_array().map(Vec::len)), (Some(true), Some(2)), "{read}");

    // A new API gets the template's rules, its owner (the creator) as receiver.
    let api = new_api(&server, &alice, "templated", json!({}));
    let rules_path = format!("/workgroups/team/apis/{}/alarms", api["id"]);
    let rules = ok(&call(&server, "GET", &rules_path, Some(&vic), None));
    let rules = rules.as_array().expect("rules");
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert!(rules.iter().all(|r| r["receivers"] == json!(["alice"]) && r["state"] == "ok"), "{rules:?}");
    assert_eq!(rules[0]["metric"], "errorRate");
    // Unless the creator says no.
    let plain = new_api(&server, &alice, "plain", json!({"alarmTemplate": false}));
    let plain_rules = format!("/workgroups/team/apis/{}/alarms", plain["id"]);
    assert_eq!(ok(&call(&server, "GET", &plain_rules, Some(&alice), None)), json!([]));

    // Refusals name the field and say what to fix.
    for (body, field) in [
        (json!({"metric": "latency", "windowSecs": 300}), "metric"),
        (json!({"metric": "p99Ms", "windowSecs": 90, "threshold": 500}), "windowSecs"),
        (json!({"metric": "p99Ms", "windowSecs": 172800, "threshold": 500}), "windowSecs"),
        (json!({"metric": "p99Ms", "windowSecs": 300, "threshold": -1}), "threshold"),
        (json!({"metric": "errorRate", "windowSecs": 300, "threshold": 5}), "threshold"),
        (json!({"metric": "throttled", "windowSecs": 300, "threshold": 1, "forSecs": -5}), "forSecs"),
        (json!({"metric": "throttled", "windowSecs": 300, "threshold": 1, "receivers": ["carol"]}), "receivers"),
        (json!({"metric": "throttled", "windowSecs": 300, "threshold": 1, "sms": true}), "sms"),
    ] {
        let message = refused(&call(&server, "POST", &plain_rules, Some(&alice), Some(body.clone())), field);
        assert!(!message.is_empty(), "{body}");
    }
    // Viewers read rules but do not change them.
    let body = json!({"metric": "throttled", "windowSecs": 300, "threshold": 10, "receivers": ["vic"]});
    assert_eq!(call(&server, "POST", &plain_rules, Some(&vic), Some(body.clone())).status, 403);
    let created = ok(&call(&server, "POST", &plain_rules, Some(&alice), Some(body)));
    assert_eq!((created["receivers"].clone(), created["env"].clone()), (json!(["vic"]), json!("prod")));
    let rule_path = format!("{plain_rules}/{}", created["id"]);
    let patched = ok(&call(&server, "PATCH", &rule_path, Some(&alice), Some(json!({"threshold": 20, "forSecs": 60}))));
    assert_eq!((patched["threshold"].as_f64(), patched["forSecs"].as_i64()), (Some(20.0), Some(60)));
    refused(&call(&server, "PATCH", &rule_path, Some(&alice), Some(json!({"metric": "errorRate"}))), "threshold");

    // A rule under another API of the workgroup, or another workgroup's, is not there.
    let elsewhere = format!("{rules_path}/{}", created["id"]);
    assert_eq!(call(&server, "GET", &elsewhere, Some(&alice), None).status, 404);
    assert_eq!(call(&server, "GET", &rule_path, Some(&carol), None).status, 404);
    let theirs = rule_path.replace("/workgroups/team/", "/workgroups/other/");
    assert_eq!(call(&server, "GET", &theirs, Some(&carol), None).status, 404);
    assert_eq!(
        call(&server, "GET", "/workgroups/other/alarm-template", Some(&carol), None).json()["data"]["enabled"],
        false
    );

    // The history: bounds on the page.
    refused(&call(&server, "GET", "/workgroups/team/alarm-events?limit=0", Some(&vic), None), "limit");
    refused(&call(&server, "GET", "/workgroups/team/alarm-events?apiId=x", Some(&vic), None), "apiId");
    let page =
        ok(&call(&server, "GET", &format!("/workgroups/team/alarm-events?apiId={}", plain["id"]), Some(&vic), None));
    assert_eq!((page["total"].as_u64(), page["limit"].as_u64()), (Some(0), Some(50)), "{page}");

    // At most 50 rules an API.
    let have = ok(&call(&server, "GET", &plain_rules, Some(&alice), None)).as_array().map_or(0, Vec::len);
    let more = json!({"metric": "noCalls", "windowSecs": 3600});
    for _ in have..50 {
        ok(&call(&server, "POST", &plain_rules, Some(&alice), Some(more.clone())));
    }
    let full = call(&server, "POST", &plain_rules, Some(&alice), Some(more));
    assert_eq!((full.status, full.json()["code"].as_str()), (409, Some("Conflict")), "{}", full.json());

    ok(&call(&server, "DELETE", &rule_path, Some(&alice), None));
    assert_eq!(call(&server, "GET", &rule_path, Some(&alice), None).status, 404);
}

/// Window totals scripted per evaluation: an error burst, then calm.
struct Scripted(Mutex<VecDeque<Totals>>);

#[async_trait]
impl CallTotals for Scripted {
    async fn totals(&self, _scope: &Scope, window: Window, filter: &Filter) -> Result<Totals, CallsError> {
        assert_eq!(window.to_ms % 60_000, 0, "windows are whole minutes");
        assert_eq!(filter.env.as_deref(), Some("prod"));
        self.0
            .lock()
            .map_err(|_| CallsError::Other("poisoned".into()))?
            .pop_front()
            .ok_or_else(|| CallsError::Other("script ended".into()))
    }
}

fn calls(calls: u64, succeeded: u64) -> Totals {
    Totals { calls, succeeded, errors: calls - succeeded, ..Totals::default() }
}

/// A webhook receiver on 127.0.0.1: refuses the first request (500), takes the others; the
/// bodies taken.
async fn receiver() -> (u16, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let taken = Arc::new(Mutex::new(Vec::new()));
    let bodies = Arc::clone(&taken);
    tokio::spawn(async move {
        let mut seen = 0;
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            let body = loop {
                let Ok(n) = socket.read(&mut buf).await else { break None };
                if n == 0 {
                    break None;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                let Some(end) = text.find("\r\n\r\n") else { continue };
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break Some(request[end + 4..end + 4 + length].to_vec());
                }
            };
            seen += 1;
            let status = if seen == 1 { "500 Internal Server Error" } else { "200 OK" };
            if seen > 1
                && let Some(body) = body
            {
                bodies.lock().expect("bodies").push(serde_json::from_slice(&body).expect("JSON body"));
            }
            let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(answer.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (port, taken)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_burst_fires_once_and_resolves_once_and_the_webhook_hears_both() {
    let dir =
        std::env::temp_dir().join(format!("sluice-alarms-e2e-{}-{:x}", std::process::id(), rand::random::<u64>()));
    let url = format!("sqlite://{}?mode=rwc", dir.join("catalog.db").display());
    let store = Store::open(&url, SecretBox::from_key_text(&SecretBox::generate_key_text()).expect("key"))
        .await
        .expect("store");
    let team = store.create_workgroup("team", "").await.expect("workgroup");
    let mut api = catalog::model::Api {
        id: 0,
        workgroup_id: team.id,
        name: "orders".into(),
        path: "/orders".into(),
        method: "GET".into(),
        description: String::new(),
        folder_id: None,
        settings: Default::default(),
        draft: serde_json::from_value(
            json!({"mode": "registered", "baseUrl": "https://backend.example.com/v1", "path": "/x"}),
        )
        .expect("draft"),
        details: Default::default(),
    };
    api.settings.owner = "olga".into();
    let api = store.create_api(&api).await.expect("api");
    let (port, bodies) = receiver().await;
    store
        .create_webhook(&WebhookChannel {
            id: 0,
            workgroup_id: team.id,
            name: "oncall".into(),
            url: format!("http://127.0.0.1:{port}/hook"),
            secret: Some("s3cret".into()),
            has_secret: false,
            template: Default::default(),
            events: vec![NotificationEvent::AlarmFired, NotificationEvent::AlarmResolved],
            enabled: true,
            created_at: 0,
            updated_at: 0,
        })
        .await
        .expect("channel");
    let spec = AlarmRuleSpec {
        metric: AlarmMetric::ErrorRate,
        env: Environment::Prod,
        window_secs: 300,
        threshold: 0.1,
        for_secs: 120,
    };
    let rule = store
        .create_alarm_rule(&AlarmRule::new(team.id, api.id, &spec, vec!["olga".into()]), "olga")
        .await
        .expect("rule");

    // One evaluation a minute: calm, a burst of 5xx for five minutes, calm again; in the
    // hysteresis band (between 8% and 10%) for a minute on the way down.
    let script = [
        calls(100, 99),
        calls(100, 40),
        calls(100, 30),
        calls(100, 35),
        calls(100, 60),
        calls(100, 50),
        calls(100, 91),
        calls(100, 99),
        calls(100, 100),
        calls(100, 100),
        calls(100, 100),
    ];
    let totals = Scripted(Mutex::new(script.iter().cloned().collect()));
    let start = 1_800_000_000_000_i64;
    let mut events = Vec::new();
    for (minute, totals_then) in script.iter().enumerate() {
        let now = start + minute as i64 * 60_000 + 5_000;
        let moved = evaluate_once(&store, &totals, now).await.expect("evaluate");
        // A second admin node evaluating the same minute from the same rows changes nothing.
        let again = Scripted(Mutex::new(VecDeque::from([totals_then.clone()])));
        assert_eq!(evaluate_once(&store, &again, now).await.expect("evaluate again"), 0, "minute {minute}");
        if moved > 0 {
            events.push((minute, store.alarm_rule(rule.id).await.expect("rule").state));
        }
    }
    use catalog::model::AlarmState::{Firing, Ok};
    // Pending at 1, held two minutes by 3; clear from 7 (91% success is in the band), held by 9.
    assert_eq!(events, vec![(3, Firing), (9, Ok)]);

    let config =
        Config::from_sources(None, "tests", |name| (name == "SLUICE_SSRF_ALLOW").then(|| "127.0.0.1".to_owned()))
            .expect("configuration");
    let settings = notify::WorkerSettings { retry_base: Duration::from_millis(50), ..Default::default() };
    let worker = notify::Worker::new(store.clone(), OutboundBase::from_config(&config).expect("policies"), settings);
    for _ in 0..200 {
        worker.poll().await;
        if bodies.lock().expect("bodies").len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let bodies = bodies.lock().expect("bodies").clone();
    let mut kinds: Vec<&str> = bodies.iter().filter_map(|b| b["event"].as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, vec!["alarm.fired", "alarm.resolved"], "{bodies:?}");
    let fired = bodies.iter().find(|b| b["event"] == "alarm.fired").expect("fired");
    assert_eq!(fired["detail"]["apiName"], "orders");
    assert_eq!(fired["detail"]["receivers"], json!(["olga"]));
    assert_eq!(fired["detail"]["threshold"], 0.1);
    assert!((fired["detail"]["value"].as_f64().unwrap_or_default() - 0.65).abs() < 1e-9, "{fired}");
    let _ = std::fs::remove_dir_all(&dir);
}
