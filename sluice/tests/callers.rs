//! Callers at the edge, through the real `sluice serve`: authentication by app token and by
//! signature, grants, IP allow lists, clearance, QPS limits, gray releases and masking. Setup
//! goes straight to the server's store (its SQLite file and key), as an admin would through
//! the management API; every call goes through the edge on loopback.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use catalog::model::{Api, App, Environment, Grant, GrayStrategy, SecurityLevel};
use catalog::store::Store;
use support::{DemoApp, Response, Server, code, request, until, with_store};

async fn demo_api(store: &Store, name: &str) -> Api {
    let demo = store.workgroup_by_name("demo").await.expect("demo");
    store.list_apis(demo.id).await.expect("apis").into_iter().find(|a| a.name == name).expect("demo API")
}

/// A new app of the demo workgroup with a token (and its secret), granted `apis` if any.
async fn new_app(store: &Store, name: &str, clearance: SecurityLevel, grants: &[(i64, Option<u32>)]) -> DemoApp {
    let demo = store.workgroup_by_name("demo").await.expect("demo");
    let (app, secret) = store.create_app(demo.id, name, "").await.expect("app");
    let app = store.update_app(&App { clearance, ..app }).await.expect("clearance");
    for (api_id, qps) in grants {
        store.grant(&grant(*api_id, app.id, *qps)).await.expect("grant");
    }
    let (_, token) = store.issue_app_token(app.id, 3600).await.expect("token");
    DemoApp { key: app.app_key, secret, token }
}

fn grant(api_id: i64, app_id: i64, qps: Option<u32>) -> Grant {
    Grant {
        id: 0,
        api_id,
        app_id,
        expires_at: None,
        qps,
        created_at: 0,
        created_by: "test".into(),
        application_id: None,
    }
}

async fn app_id(store: &Store, key: &str) -> i64 {
    store.app_by_key(key).await.expect("app").id
}

fn headers(app: &DemoApp) -> Vec<(&'static str, String)> {
    app.token_headers()
}

fn borrowed<'a>(owned: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    owned.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn tokens_grants_and_refusals_through_the_edge() {
    let server = Server::start("callers-auth", &[]);
    let demo = server.demo_app();
    let path = "/customers/42";
    let ok = server.get_as_demo_app(path);
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(ok.header("x-sluice-version"), Some("V0"));

    // Missing parts of the credentials.
    let none = server.get(path);
    assert_eq!((none.status, code(&none).as_str()), (401, "Unauthorized.MissingCredentials"));
    let key_only = server.call("GET", path, &[("X-Sluice-App-Key", &demo.key)], b"");
    assert_eq!((key_only.status, code(&key_only).as_str()), (401, "Unauthorized.MissingCredentials"));

    // Whatever part is wrong, the answer is the same.
    let bearer = format!("Bearer {}", demo.token);
    let wrong = [
        vec![("X-Sluice-App-Key", "no-such-key"), ("Authorization", bearer.as_str())],
        vec![("X-Sluice-App-Key", demo.key.as_str()), ("Authorization", "Bearer sat_wrong")],
        vec![("X-Sluice-App-Key", demo.key.as_str()), ("Authorization", "Bearer ")],
    ];
    let mut bodies = Vec::new();
    for headers in &wrong {
        let response = server.call("GET", path, headers, b"");
        assert_eq!((response.status, code(&response).as_str()), (401, "Unauthorized.InvalidCredentials"));
        bodies.push(response.json()["message"].clone());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "messages must not differ by cause: {bodies:?}");

    // A second app: its token with the demo app's key is refused; without a grant, 403.
    let customers = with_store(&server, async |store| demo_api(store, "customer_by_id").await);
    let other = with_store(&server, async |store| new_app(store, "other", SecurityLevel::L1, &[]).await);
    let mixed_bearer = format!("Bearer {}", other.token);
    let mixed = server.call("GET", path, &[("X-Sluice-App-Key", &demo.key), ("Authorization", &mixed_bearer)], b"");
    assert_eq!((mixed.status, code(&mixed).as_str()), (401, "Unauthorized.InvalidCredentials"));
    let other_headers = headers(&other);
    let other_headers = borrowed(&other_headers);
    until(&server, path, &other_headers, |r| r.status != 401);
    let no_grant = server.call("GET", path, &other_headers, b"");
    assert_eq!((no_grant.status, code(&no_grant).as_str()), (403, "Forbidden.NoGrant"));

    // Granting and revoking take effect within a second.
    let other_id = with_store(&server, async |store| {
        let id = app_id(store, &other.key).await;
        store.grant(&grant(customers.id, id, None)).await.expect("grant");
        id
    });
    let granted_after = until(&server, path, &other_headers, |r| r.status == 200);
    with_store(&server, async |store| store.revoke_grant(customers.id, other_id).await.expect("revoke"));
    let revoked_after = until(&server, path, &other_headers, |r| code(r) == "Forbidden.NoGrant");
    assert!(granted_after < Duration::from_secs(1), "grant took {granted_after:?}");
    assert!(revoked_after < Duration::from_secs(1), "revocation took {revoked_after:?}");

    // An expired grant is no grant.
    with_store(&server, async |store| {
        let past = Grant { expires_at: Some(1), ..grant(customers.id, other_id, None) };
        store.grant(&past).await.expect("grant");
    });
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(code(&server.call("GET", path, &other_headers, b"")), "Forbidden.NoGrant");

    // The API's level above the app's clearance: refused even with a grant.
    with_store(&server, async |store| {
        store.grant(&grant(customers.id, other_id, None)).await.expect("grant");
    });
    until(&server, path, &other_headers, |r| r.status == 200);
    with_store(&server, async |store| {
        let mut api = store.api(customers.id).await.expect("api");
        api.settings.security_level = SecurityLevel::L3;
        store.update_api(&api).await.expect("level");
    });
    until(&server, path, &other_headers, |r| code(r) == "Forbidden.SecurityLevel");

    // A revoked token, then a disabled app, stop within a second.
    let demo_headers = demo.token_headers();
    let demo_headers = borrowed(&demo_headers);
    with_store(&server, async |store| {
        let id = app_id(store, &demo.key).await;
        for token in store.app_tokens(id).await.expect("tokens") {
            store.revoke_app_token(id, token.id).await.expect("revoke");
        }
    });
    let token_revoked_after = until(&server, path, &demo_headers, |r| r.status == 401);
    assert!(token_revoked_after < Duration::from_secs(1), "token revocation took {token_revoked_after:?}");
    let fresh = with_store(&server, async |store| {
        let id = app_id(store, &demo.key).await;
        store.issue_app_token(id, 3600).await.expect("token").1
    });
    let fresh_app = DemoApp { token: fresh, ..demo.clone() };
    let fresh_headers = fresh_app.token_headers();
    let fresh_headers = borrowed(&fresh_headers);
    until(&server, "/orders/search?pageSize=1", &fresh_headers, |r| r.status == 200);
    with_store(&server, async |store| {
        let app = store.app_by_key(&demo.key).await.expect("app");
        store.update_app(&App { disabled: true, ..app }).await.expect("disable");
    });
    let disabled_after = until(&server, "/orders/search?pageSize=1", &fresh_headers, |r| r.status == 401);
    assert!(disabled_after < Duration::from_secs(1), "disabling took {disabled_after:?}");

    // Public APIs need nothing.
    let public = server.get("/analytics/query?sql=SELECT%20count(*)%20AS%20n%20FROM%20products");
    assert_eq!(public.status, 200, "{}", String::from_utf8_lossy(&public.body));
}

/// Signed-call headers for `method path?query` with `body`, at `timestamp`.
fn signed(app: &DemoApp, method: &str, path: &str, query: &str, body: &[u8], timestamp: i64) -> Vec<(String, String)> {
    let nonce = format!("n{:016x}", rand::random::<u64>());
    let text = proxy::signature::string_to_sign(method, path, query, body, &timestamp.to_string(), &nonce);
    let signature = proxy::signature::sign(app.secret.as_bytes(), &text);
    vec![
        ("X-Sluice-App-Key".into(), app.key.clone()),
        ("X-Sluice-Timestamp".into(), timestamp.to_string()),
        ("X-Sluice-Nonce".into(), nonce),
        ("X-Sluice-Signature".into(), signature),
    ]
}

fn send(server: &Server, method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> Response {
    let mut all: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if !body.is_empty() {
        all.push(("Content-Type", "application/json"));
    }
    request(server.edge, method, target, &all, body)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

#[test]
fn signed_calls_replays_stale_timestamps_and_rotation() {
    let server = Server::start("callers-signed", &[]);
    let app = server.demo_app();
    let query = "status=pending,shipped&pageSize=2";
    let target = format!("/orders/search?{query}");

    let headers = signed(&app, "GET", "/orders/search", query, b"", now_secs());
    let first = send(&server, "GET", &target, &headers, b"");
    assert_eq!(first.status, 200, "{}", String::from_utf8_lossy(&first.body));
    let replay = send(&server, "GET", &target, &headers, b"");
    assert_eq!((replay.status, code(&replay).as_str()), (401, "Unauthorized.ReplayedNonce"));

    // The query order does not matter; its content does.
    let reordered = send(
        &server,
        "GET",
        "/orders/search?pageSize=2&status=pending,shipped",
        &signed(&app, "GET", "/orders/search", query, b"", now_secs()),
        b"",
    );
    assert_eq!(reordered.status, 200, "{}", String::from_utf8_lossy(&reordered.body));
    let tampered = send(
        &server,
        "GET",
        "/orders/search?status=cancelled&pageSize=2",
        &signed(&app, "GET", "/orders/search", query, b"", now_secs()),
        b"",
    );
    assert_eq!((tampered.status, code(&tampered).as_str()), (401, "Unauthorized.InvalidCredentials"));

    // A body is covered by its digest.
    let body = br#"{"status": ["pending"], "customerId": 499}"#;
    let post =
        send(&server, "POST", "/orders/search", &signed(&app, "POST", "/orders/search", "", body, now_secs()), body);
    assert_eq!(post.status, 200, "{}", String::from_utf8_lossy(&post.body));
    let other_body = br#"{"status": ["shipped"], "customerId": 499}"#;
    let swapped = send(
        &server,
        "POST",
        "/orders/search",
        &signed(&app, "POST", "/orders/search", "", body, now_secs()),
        other_body,
    );
    assert_eq!((swapped.status, code(&swapped).as_str()), (401, "Unauthorized.InvalidCredentials"));

    // Stale or future timestamps, whatever the signature.
    for skew in [-400, 400] {
        let stale =
            send(&server, "GET", &target, &signed(&app, "GET", "/orders/search", query, b"", now_secs() + skew), b"");
        assert_eq!((stale.status, code(&stale).as_str()), (401, "Unauthorized.StaleTimestamp"), "skew {skew}");
    }
    // A wrong secret.
    let forged = DemoApp { secret: "not-the-secret".into(), ..app.clone() };
    let bad = send(&server, "GET", &target, &signed(&forged, "GET", "/orders/search", query, b"", now_secs()), b"");
    assert_eq!((bad.status, code(&bad).as_str()), (401, "Unauthorized.InvalidCredentials"));

    // Rotation with an overlap: both secrets work; without one, only the new.
    let rotated = with_store(&server, async |store| {
        let id = app_id(store, &app.key).await;
        store.rotate_app_secret(id, 3600).await.expect("rotate").1
    });
    let new_app = DemoApp { secret: rotated, ..app.clone() };
    let new_ok =
        |s: &Server| send(s, "GET", &target, &signed(&new_app, "GET", "/orders/search", query, b"", now_secs()), b"");
    let start = Instant::now();
    while new_ok(&server).status != 200 {
        assert!(start.elapsed() < Duration::from_secs(10), "the new secret was never accepted");
        std::thread::sleep(Duration::from_millis(20));
    }
    let old = send(&server, "GET", &target, &signed(&app, "GET", "/orders/search", query, b"", now_secs()), b"");
    assert_eq!(old.status, 200, "the previous secret works during the overlap");
    with_store(&server, async |store| {
        let id = app_id(store, &app.key).await;
        store.rotate_app_secret(id, 0).await.expect("rotate");
    });
    let start = Instant::now();
    loop {
        let old = send(&server, "GET", &target, &signed(&app, "GET", "/orders/search", query, b"", now_secs()), b"");
        if old.status == 401 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the old secret kept working");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ip_allow_lists_use_the_socket_unless_a_proxy_is_trusted() {
    for (trusted, expect_forwarded) in [(None, 403), (Some("127.0.0.1"), 200)] {
        let env: Vec<(&str, &str)> = trusted.map(|t| ("SLUICE_TRUSTED_PROXIES", t)).into_iter().collect();
        let server = Server::start("callers-ip", &env);
        let app = server.demo_app();
        with_store(&server, async |store| {
            let stored = store.app_by_key(&app.key).await.expect("app");
            store.update_app(&App { ip_allow: vec!["10.0.0.0/8".into()], ..stored }).await.expect("allow list");
        });
        let owned = app.token_headers();
        let plain = borrowed(&owned);
        until(&server, "/customers/1", &plain, |r| r.status == 403);
        let refused = server.call("GET", "/customers/1", &plain, b"");
        assert_eq!(code(&refused), "Forbidden.IpNotAllowed");
        let mut forwarded = plain.clone();
        forwarded.push(("X-Forwarded-For", "10.1.2.3"));
        let answer = server.call("GET", "/customers/1", &forwarded, b"");
        assert_eq!(answer.status, expect_forwarded, "trusted {trusted:?}: {}", String::from_utf8_lossy(&answer.body));
        // A spoofed left-most entry never counts.
        let mut spoofed = plain.clone();
        spoofed.push(("X-Forwarded-For", "10.1.2.3, 192.0.2.7"));
        assert_eq!(server.call("GET", "/customers/1", &spoofed, b"").status, 403, "trusted {trusted:?}");
    }
}

/// Calls `path` as `headers` from `threads` threads in a closed loop for `seconds`; returns
/// (admitted, refusals by code, elapsed).
fn hammer(
    server: &Server,
    path: &str,
    headers: &[(&'static str, String)],
    threads: usize,
    seconds: f64,
) -> (usize, std::collections::HashMap<String, usize>, Duration) {
    let admitted = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<String, usize>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (admitted, refused, stop, edge) = (admitted.clone(), refused.clone(), stop.clone(), server.edge);
            let owned = headers.to_vec();
            let path = path.to_owned();
            std::thread::spawn(move || {
                let headers: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
                while !stop.load(Ordering::Relaxed) {
                    let response = request(edge, "GET", &path, &headers, b"");
                    if response.status == 200 {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    } else {
                        assert_eq!(response.status, 429, "{}", String::from_utf8_lossy(&response.body));
                        assert!(response.header("retry-after").is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1)));
                        *refused.lock().expect("lock").entry(code(&response)).or_default() += 1;
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().expect("worker");
    }
    let elapsed = start.elapsed();
    let refused = refused.lock().expect("lock").clone();
    (admitted.load(Ordering::Relaxed), refused, elapsed)
}

#[test]
fn qps_limits_admit_the_limit_per_api_and_app() {
    let server = Server::start("callers-qps", &[]);
    let (a, b) = with_store(&server, async |store| {
        let customers = demo_api(store, "customer_by_id").await;
        let a = new_app(store, "limited_a", SecurityLevel::L1, &[(customers.id, Some(100))]).await;
        let b = new_app(store, "limited_b", SecurityLevel::L1, &[(customers.id, Some(100))]).await;
        (a, b)
    });
    let (a_headers, b_headers) = (headers(&a), headers(&b));
    until(&server, "/customers/1", &borrowed(&a_headers), |r| r.status == 200);
    until(&server, "/customers/1", &borrowed(&b_headers), |r| r.status == 200);
    std::thread::sleep(Duration::from_secs(1)); // the probes' budget refills

    // App A overloads its grant; app B, on the same API, calls at a steady half of its own.
    let b_refused = Arc::new(AtomicUsize::new(0));
    let b_thread = {
        let (edge, owned, refused) = (server.edge, b_headers.clone(), b_refused.clone());
        std::thread::spawn(move || {
            let headers: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut next = Instant::now();
            for _ in 0..150u32 {
                // At most 50 calls a second, each 20 ms after the one before: a stall of this
                // thread (a loaded machine) is not made up with a burst, which could pass B's
                // limit of 100 a second for a moment and be throttled rightly.
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                next = Instant::now() + Duration::from_millis(20);
                if request(edge, "GET", "/customers/2", &headers, b"").status != 200 {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let (admitted, refused, elapsed) = hammer(&server, "/customers/1", &a_headers, 4, 3.0);
    b_thread.join().expect("b");
    let ratio = admitted as f64 / (100.0 * elapsed.as_secs_f64());
    let offered = admitted + refused.values().sum::<usize>();
    assert!(offered as f64 > 2.0 * admitted as f64, "not overloaded: {offered} offered, {admitted} admitted");
    assert!((0.95..=1.05).contains(&ratio), "admitted {admitted} in {elapsed:?}: {ratio:.3} of the limit");
    assert_eq!(refused.keys().collect::<Vec<_>>(), vec!["Throttling.User"], "{refused:?}");
    assert_eq!(b_refused.load(Ordering::Relaxed), 0, "app B at half its limit was throttled");

    // The API's own limit, below the sum of the grants, binds both apps together.
    with_store(&server, async |store| {
        let mut api = demo_api(store, "customer_by_id").await;
        api.settings.max_qps = Some(120);
        store.update_api(&api).await.expect("max qps");
    });
    std::thread::sleep(Duration::from_millis(1500));
    let b_load = {
        let server_edge = server.edge;
        let owned = b_headers.clone();
        std::thread::spawn(move || {
            let headers: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let stop = Instant::now() + Duration::from_secs(3);
            let mut admitted = 0usize;
            while Instant::now() < stop {
                if request(server_edge, "GET", "/customers/3", &headers, b"").status == 200 {
                    admitted += 1;
                }
            }
            admitted
        })
    };
    let (a_admitted, refused, elapsed) = hammer(&server, "/customers/1", &a_headers, 3, 3.0);
    let b_admitted = b_load.join().expect("b load");
    let ratio = (a_admitted + b_admitted) as f64 / (120.0 * elapsed.as_secs_f64());
    assert!((0.90..=1.06).contains(&ratio), "API limit: {a_admitted} + {b_admitted} in {elapsed:?}: {ratio:.3}");
    assert!(refused.contains_key("Throttling.Api"), "{refused:?}");
}

#[test]
fn gray_versions_split_callers_stickily_and_switch_live() {
    let server = Server::start("callers-gray", &[]);
    const APPS: usize = 200;
    let apps = with_store(&server, async |store| {
        let mut customers = demo_api(store, "customer_by_id").await;
        // V1 drops the city from the answer.
        customers.draft.response_fields.retain(|f| f.name != "city");
        store.update_api(&customers).await.expect("draft");
        let v1 = store.save_version(customers.id, "without city").await.expect("V1");
        assert_eq!(v1.number, 1);
        let mut apps = Vec::new();
        for i in 0..APPS {
            apps.push(new_app(store, &format!("gray_{i}"), SecurityLevel::L1, &[(customers.id, None)]).await);
        }
        let strategy = GrayStrategy {
            api_id: customers.id,
            environment: Environment::Prod,
            version: 1,
            percent: 30,
            enabled: true,
            updated_at: 0,
        };
        store.set_gray_strategy(&strategy).await.expect("gray");
        apps
    });
    let first = headers(&apps[0]);
    until(&server, "/customers/5", &borrowed(&first), |r| r.status == 200);
    std::thread::sleep(Duration::from_millis(700));

    let mut gray = 0;
    for app in &apps {
        let owned = headers(app);
        let h = borrowed(&owned);
        let one = server.call("GET", "/customers/5", &h, b"");
        let two = server.call("GET", "/customers/6", &h, b"");
        assert_eq!(one.status, 200, "{}", String::from_utf8_lossy(&one.body));
        let version = one.header("x-sluice-version").expect("version header").to_owned();
        assert_eq!(two.header("x-sluice-version"), Some(version.as_str()), "one caller, one version");
        let has_city = one.json()["data"]["rows"][0].get("city").is_some();
        assert_eq!(has_city, version == "V0", "{version}: {}", String::from_utf8_lossy(&one.body));
        if version == "V1" {
            gray += 1;
        }
    }
    // 30 % of 200: the binomial spread is ±6.5; allow four of them.
    assert!((34..=86).contains(&gray), "{gray} of {APPS} callers got the gray version");

    // Switched off: everyone is back on V0 within a second.
    with_store(&server, async |store| {
        let customers = demo_api(store, "customer_by_id").await;
        let mut strategy = store.gray_strategies(customers.id).await.expect("gray")[0];
        strategy.enabled = false;
        store.set_gray_strategy(&strategy).await.expect("off");
    });
    std::thread::sleep(Duration::from_millis(1000));
    for app in apps.iter().take(50) {
        let owned = headers(app);
        assert_eq!(server.call("GET", "/customers/5", &borrowed(&owned), b"").header("x-sluice-version"), Some("V0"));
    }
}

#[test]
fn fields_above_the_clearance_are_masked_in_every_mode() {
    let server = Server::start("callers-mask", &[]);
    let demo = server.demo_app(); // clearance L2
    // Wizard: the customer's email is L3.
    let masked = server.get_as_demo_app("/customers/42").json();
    assert_eq!(masked["data"]["rows"][0]["email"], "******", "{masked}");
    assert!(masked["data"]["rows"][0]["name"].as_str().is_some_and(|n| n != "******"));

    // Script: make the customer's name L3 in a new version of orders_search.
    with_store(&server, async |store| {
        let mut orders = demo_api(store, "orders_search").await;
        for field in &mut orders.draft.response_fields {
            if field.name == "customerName" {
                field.security_level = SecurityLevel::L3;
            }
        }
        store.update_api(&orders).await.expect("draft");
        let version = store.save_version(orders.id, "name is L3").await.expect("version");
        store.publish(orders.id, Environment::Prod, version.number).await.expect("publish");
    });
    let owned = demo.token_headers();
    let h = borrowed(&owned);
    until(&server, "/orders/search?pageSize=1", &h, |r| r.header("x-sluice-version") == Some("V1"));
    let rows = server.call("GET", "/orders/search?pageSize=3", &h, b"").json();
    for row in rows["data"]["rows"].as_array().expect("rows") {
        assert_eq!(row["customerName"], "******", "{row}");
        assert!(row["product"].as_str().is_some_and(|p| p != "******"), "{row}");
    }

    // Raising the app's clearance shows the fields.
    with_store(&server, async |store| {
        let app = store.app_by_key(&demo.key).await.expect("app");
        store.update_app(&App { clearance: SecurityLevel::L3, ..app }).await.expect("clearance");
    });
    until(&server, "/customers/42", &h, |r| r.json()["data"]["rows"][0]["email"] != "******");

    // Native, public: anonymous callers are L1.
    let native = server.get("/analytics/query?sql=SELECT%20id%2C%20email%20FROM%20customers%20WHERE%20id%20%3D%207");
    assert_eq!(native.status, 200, "{}", String::from_utf8_lossy(&native.body));
    assert_eq!(native.json()["data"]["rows"][0]["email"], "******");
    let filtered =
        server.get("/analytics/query?sql=SELECT%20id%20FROM%20customers%20WHERE%20email%20LIKE%20%27a%25%27");
    assert_eq!((filtered.status, code(&filtered).as_str()), (403, "Forbidden.Field"));
}
