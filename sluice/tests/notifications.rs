//! Webhook notifications through the real binary: a receiver on loopback (allowed with
//! `SLUICE_SSRF_ALLOW=127.0.0.1`) answers 500, then 200. The delivery is retried after the
//! (shortened) backoff, both attempts carry the same body, delivery id and a signature that
//! verifies with the channel's secret, and the delivery log says `sent` after two attempts.
//! A channel whose host the network policy refuses is never dialled: its delivery log says
//! why.

mod support;

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use support::{Server, call, free_listener, ok, receiver, refused};

const ROOT: &str = "slc_notify_bootstrap_token_0123456789";
const SECRET: &str = "whsec-3f9a-never-shown";

fn start(tag: &str) -> Server {
    Server::start(
        tag,
        &[
            ("SLUICE_ADMIN_TOKEN", ROOT),
            ("SLUICE_DEMO", "false"),
            ("SLUICE_SSRF_ALLOW", "127.0.0.1"),
            ("SLUICE_NOTIFY_RETRY_BASE_MS", "200"),
        ],
    )
}

/// Polls the channel's delivery log (at most about 30 s) until `done` holds for its newest
/// delivery; returns that delivery.
fn newest_delivery_until(server: &Server, hook: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let page = ok(&call(server, "GET", &format!("{hook}/deliveries"), Some(ROOT), None));
        last = page["items"][0].clone();
        if done(&last) {
            return last;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the delivery never got there: {last}\n{}", server.output())
}

#[test]
fn a_failed_delivery_is_retried_signed_and_recorded_sent() {
    let listener = free_listener();
    let port = listener.local_addr().expect("address").port();
    let seen = receiver(listener, &[500, 200]);
    let server = start("notify-retry");
    ok(&call(&server, "POST", "/workgroups", Some(ROOT), Some(json!({"name": "team"}))));
    let created = call(
        &server,
        "POST",
        "/workgroups/team/webhooks",
        Some(ROOT),
        Some(json!({"name": "ops", "url": format!("http://127.0.0.1:{port}/hook?token=abc"), "secret": SECRET})),
    );
    assert_eq!(created.status, 201);
    assert!(!String::from_utf8_lossy(&created.body).contains(SECRET));
    let channel = created.json()["data"].clone();
    assert_eq!((channel["hasSecret"].as_bool(), channel["template"].as_str()), (Some(true), Some("json")));
    let hook = format!("/workgroups/team/webhooks/{}", channel["id"]);

    let queued = call(&server, "POST", &format!("{hook}/test"), Some(ROOT), None);
    assert_eq!(queued.status, 202, "{}", String::from_utf8_lossy(&queued.body));
    let delivery_id = queued.json()["data"]["id"].as_i64().expect("delivery id");

    let sent = newest_delivery_until(&server, &hook, |d| d["status"] == "sent");
    assert_eq!(sent["id"], delivery_id);
    assert_eq!(sent["attempts"], 2, "{sent}");
    assert!(sent["sentAt"].as_i64().is_some(), "{sent}");

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for request in &seen {
        assert_eq!(request.target, "/hook?token=abc");
        assert_eq!(request.header("X-Sluice-Event"), Some("webhook.test"));
        assert_eq!(request.header("X-Sluice-Delivery"), Some(delivery_id.to_string().as_str()));
        assert_eq!(request.header("Content-Type"), Some("application/json"));
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
        mac.update(&request.body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(request.header("X-Sluice-Signature"), Some(expected.as_str()), "the signature verifies");
        let body: Value = serde_json::from_slice(&request.body).expect("JSON body");
        assert_eq!((body["event"].as_str(), body["workgroup"].as_str()), (Some("webhook.test"), Some("team")));
        assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    }
    assert_eq!(seen[0].body, seen[1].body, "every attempt sends the same bytes");
    assert_eq!(sent["body"].as_str().map(str::as_bytes), Some(seen[0].body.as_slice()));

    // The secret never comes back, and the channel can be read, changed and removed.
    let read = call(&server, "GET", &hook, Some(ROOT), None);
    assert!(!String::from_utf8_lossy(&read.body).contains(SECRET));
    let listed = call(&server, "GET", "/workgroups/team/webhooks", Some(ROOT), None);
    assert!(!String::from_utf8_lossy(&listed.body).contains(SECRET));
    let audit = call(&server, "GET", "/workgroups/team/audit", Some(ROOT), None);
    let audit_text = String::from_utf8_lossy(&audit.body);
    assert!(audit_text.contains("webhook.create") && !audit_text.contains(SECRET) && !audit_text.contains("token=abc"));
    refused(&call(&server, "PUT", &hook, Some(ROOT), Some(json!({"url": "http://u:p@127.0.0.1/"}))), 400, Some("url"));
    let changed = ok(&call(&server, "PUT", &hook, Some(ROOT), Some(json!({"secret": "", "template": "slack"}))));
    assert_eq!((changed["hasSecret"].as_bool(), changed["template"].as_str()), (Some(false), Some("slack")));
    ok(&call(&server, "DELETE", &hook, Some(ROOT), None));
    refused(&call(&server, "GET", &hook, Some(ROOT), None), 404, None);
}

#[test]
fn a_host_the_network_policy_refuses_is_recorded_not_dialled() {
    let server = start("notify-refused");
    ok(&call(&server, "POST", "/workgroups", Some(ROOT), Some(json!({"name": "team"}))));
    // Saved: whether a host may be reached is decided at every send.
    let channel = ok(&call(
        &server,
        "POST",
        "/workgroups/team/webhooks",
        Some(ROOT),
        Some(json!({"name": "inside", "url": "http://10.1.2.3:9000/hook", "template": "lark"})),
    ));
    let hook = format!("/workgroups/team/webhooks/{}", channel["id"]);
    let queued = call(&server, "POST", &format!("{hook}/test"), Some(ROOT), None);
    assert_eq!(queued.status, 202);
    let failed =
        newest_delivery_until(&server, &hook, |d| d["attempts"].as_i64().unwrap_or(0) >= 1 && d["lastError"] != "");
    let reason = failed["lastError"].as_str().unwrap_or_default();
    assert!(reason.starts_with("the network policy refuses 10.1.2.3"), "{failed}");
    assert_eq!(failed["status"], "pending", "retried later: {failed}");
}
