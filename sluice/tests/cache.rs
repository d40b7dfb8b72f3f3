//! The result cache through the real binary (docs/cache.md): a repeat call (of a data API or
//! a workflow) is a `HIT` with its `Age`, two clearances never share an entry, 100 concurrent
//! misses of one key run the query once, errors are not kept, a purge and a new publication
//! make old entries unreachable, and the test console bypasses the cache.

mod support;

use std::time::{Duration, Instant};

use catalog::model::{App, Grant, SecurityLevel};
use serde_json::{Value, json};
use support::{DemoApp, Response, Server, call, ok, sluice, with_store};

const ROOT: &str = "slc_cache_bootstrap_token_0123456789";

fn start(tag: &str) -> Server {
    Server::start(
        tag,
        &[("SLUICE_ADMIN_TOKEN", ROOT), ("SLUICE_CACHE_MAX_BYTES", "16777216"), ("SLUICE_CACHE_TTL_SECS", "600")],
    )
}

fn cache_of(response: &Response) -> &str {
    response.header("x-sluice-cache").unwrap_or("none")
}

/// The `data` of an answer (the envelope's `requestId` differs between calls).
fn data(response: &Response) -> Value {
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    response.json()["data"].clone()
}

/// The id of `customer_by_id` and a new app of clearance L3 granted it without a QPS limit.
fn l3_app(server: &Server) -> (i64, DemoApp) {
    let (api_id, app) = with_store(server, async |store| {
        let demo = store.workgroup_by_name("demo").await.expect("demo");
        let apis = store.list_apis(demo.id).await.expect("apis");
        let customers = apis.into_iter().find(|a| a.name == "customer_by_id").expect("customer_by_id");
        let (app, secret) = store.create_app(demo.id, "clear_l3", "").await.expect("app");
        let app = store.update_app(&App { clearance: SecurityLevel::L3, ..app }).await.expect("clearance");
        let grant = Grant {
            id: 0,
            api_id: customers.id,
            app_id: app.id,
            expires_at: None,
            qps: None,
            created_at: 0,
            created_by: "test".into(),
            application_id: None,
        };
        store.grant(&grant).await.expect("grant");
        let (_, token) = store.issue_app_token(app.id, 3600).await.expect("token");
        (customers.id, DemoApp { key: app.app_key, secret, token })
    });
    // The edge knows the app from its next snapshot.
    let headers = app.token_headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    support::until(server, "/customers/500", &headers, |r| r.status == 200);
    (api_id, app)
}

/// The answered (200) call records of API `api_id` once there are `n`; the first is the call
/// that waited for the new app ([`l3_app`], a miss of `/customers/500`).
fn answered(server: &Server, api_id: i64, n: usize) -> Vec<Value> {
    let path = format!("/workgroups/demo/reports/calls?apiId={api_id}&status=200&pageSize=500");
    let started = Instant::now();
    loop {
        let page = ok(&call(server, "GET", &path, Some(ROOT), None));
        let items: Vec<Value> = page["items"].as_array().cloned().unwrap_or_default();
        let items: Vec<Value> = items.into_iter().filter(|r| r["status"] == 200).collect();
        if items.len() >= n {
            return items;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{path}: still {page}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (hits, misses) among records.
fn hits_and_misses(records: &[Value]) -> (usize, usize) {
    let count = |hit: bool| records.iter().filter(|r| r["cacheHit"] == json!(hit)).count();
    (count(true), count(false))
}

#[test]
fn a_repeat_call_is_a_hit_and_clearances_never_share() {
    let server = start("cache-hit");
    let demo = server.demo_app();
    let (api_id, l3) = l3_app(&server);

    let first = server.call_as(&demo, "GET", "/customers/42", &[], b"");
    assert_eq!((cache_of(&first), first.header("age")), ("MISS", Some("0")));
    let second = server.call_as(&demo, "GET", "/customers/42", &[], b"");
    assert_eq!(cache_of(&second), "HIT");
    assert!(second.header("age").and_then(|a| a.parse::<u64>().ok()).is_some(), "Age on a hit");
    assert_eq!(second.header("x-sluice-version"), first.header("x-sluice-version"));
    assert_eq!(data(&second), data(&first), "a hit answers as the miss did");
    assert_ne!(second.json()["requestId"], first.json()["requestId"], "each answer has its own request id");

    // L2 sees the email masked; L3 must not get that entry, nor L2 the L3 one.
    let clear = server.call_as(&l3, "GET", "/customers/42", &[], b"");
    assert_eq!(cache_of(&clear), "MISS");
    assert_ne!(data(&clear), data(&first), "L3 sees the email L2 sees masked");
    assert_eq!(cache_of(&server.call_as(&l3, "GET", "/customers/42", &[], b"")), "HIT");
    let again = server.call_as(&demo, "GET", "/customers/42", &[], b"");
    assert_eq!((cache_of(&again), data(&again)), ("HIT", data(&first)));

    // Another parameter is another entry.
    assert_eq!(cache_of(&server.call_as(&demo, "GET", "/customers/43", &[], b"")), "MISS");

    // Three hits, three misses, and the miss of the wait for the new app.
    let recorded = answered(&server, api_id, 7);
    assert_eq!(hits_and_misses(&recorded), (3, 4), "{recorded:?}");
}

#[test]
fn a_workflow_is_cached_too() {
    let server = start("cache-workflow");
    let demo = server.demo_app();
    let first = server.call_as(&demo, "GET", "/wf/customer-check?id=1", &[], b"");
    assert_eq!(cache_of(&first), "MISS");
    let second = server.call_as(&demo, "GET", "/wf/customer-check?id=1", &[], b"");
    assert_eq!(cache_of(&second), "HIT");
    assert_eq!(data(&second), data(&first));
    assert_eq!(cache_of(&server.call_as(&demo, "GET", "/wf/customer-check?id=2", &[], b"")), "MISS");
}

#[test]
fn concurrent_misses_of_one_key_run_the_query_once() {
    let server = start("cache-stampede");
    let (api_id, l3) = l3_app(&server);
    let statuses: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|_| {
                scope.spawn(|| {
                    let response = server.call_as(&l3, "GET", "/customers/7", &[], b"");
                    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
                    cache_of(&response).to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("caller")).collect()
    });
    assert_eq!(statuses.iter().filter(|s| *s == "MISS").count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| *s == "HIT").count(), 99);
    // 99 hits, one miss, and the miss of the wait for the new app.
    let recorded = answered(&server, api_id, 101);
    assert_eq!(hits_and_misses(&recorded), (99, 2), "one query ran for the 100 calls");
}

#[test]
fn errors_are_not_kept_and_the_console_bypasses_the_cache() {
    let server = start("cache-errors");
    let demo = server.demo_app();
    let (api_id, _) = l3_app(&server);
    for _ in 0..2 {
        let refused = server.call_as(&demo, "GET", "/customers/forty-two", &[], b"");
        assert_eq!(refused.status, 400);
        assert_eq!(cache_of(&refused), "none", "an error is never a hit");
    }
    // The console runs the version itself: it neither reads nor fills the edge's cache.
    let path = format!("/workgroups/demo/apis/{api_id}/test");
    let tested = ok(&call(&server, "POST", &path, Some(ROOT), Some(json!({"params": {"id": 5}}))));
    assert!(tested.to_string().contains("rows"), "{tested}");
    let dry = call(&server, "POST", &path, Some(ROOT), Some(json!({"params": {"id": 5}, "dryRun": true})));
    assert!(dry.status < 300, "{}", String::from_utf8_lossy(&dry.body));
    assert_eq!(cache_of(&server.call_as(&demo, "GET", "/customers/5", &[], b"")), "MISS");
}

#[test]
fn a_purge_and_a_new_publication_make_old_entries_unreachable() {
    let server = start("cache-purge");
    let demo = server.demo_app();
    let (api_id, _) = l3_app(&server);
    let get = || server.call_as(&demo, "GET", "/customers/9", &[], b"");
    assert_eq!(cache_of(&get()), "MISS");
    assert_eq!(cache_of(&get()), "HIT");

    let purge = format!("/workgroups/demo/apis/{api_id}/cache/purge");
    ok(&call(&server, "POST", &purge, Some(ROOT), None));
    assert_eq!(cache_of(&get()), "MISS", "a purge is seen at once");
    assert_eq!(cache_of(&get()), "HIT");
    // Without a token, no purge.
    assert_eq!(call(&server, "POST", &purge, None, None).status, 401);

    // Publish a changed version (a custom policy of 60 s) by applying the example file.
    let before = get().header("x-sluice-version").map(str::to_owned);
    let text = std::fs::read_to_string(support::workspace_root().join("conf/examples/10-customer-by-id.yaml"))
        .expect("example");
    let changed = text.replace("cache: {policy: system}", "cache: {policy: custom, ttlSecs: 60}");
    assert_ne!(changed, text, "the example names its cache policy");
    let file = server.data_dir.join("changed.yaml");
    std::fs::write(&file, changed).expect("write");
    let (applied, out) =
        sluice(&server.data_dir, &["apply", "-f", file.to_str().expect("path")], &[("SLUICE_ADMIN_TOKEN", ROOT)]);
    assert!(applied, "{out}");
    let headers = demo.token_headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    support::until(&server, "/customers/9", &headers, |r| r.header("x-sluice-version").map(str::to_owned) != before);
    // The poll above may have filled the new version's entry; a purge then a call proves
    // the new version answers from its own entries, never the old version's.
    let after = get();
    assert_ne!(after.header("x-sluice-version").map(str::to_owned), before);
    ok(&call(&server, "POST", &purge, Some(ROOT), None));
    let fresh = get();
    assert_eq!(cache_of(&fresh), "MISS");
    assert_eq!(cache_of(&get()), "HIT");
}

#[test]
fn the_policy_is_checked_where_definitions_are_saved() {
    let server = start("cache-policy");
    let dir = server.data_dir.join("bad");
    std::fs::create_dir_all(&dir).expect("dir");
    let text = std::fs::read_to_string(support::workspace_root().join("conf/examples/10-customer-by-id.yaml"))
        .expect("example");
    std::fs::copy(server.data_dir.join("demo/00-datasource.yaml"), dir.join("00-datasource.yaml")).expect("copy");
    std::fs::write(
        dir.join("10-customer-by-id.yaml"),
        text.replace("cache: {policy: system}", "cache: {policy: custom}"),
    )
    .expect("write");
    let (checked, out) = sluice(&server.data_dir, &["check", "-f", dir.to_str().expect("path")], &[]);
    assert!(!checked, "{out}");
    assert!(out.contains("options.cache.ttlSecs"), "{out}");
}
