//! `GET /metrics` on the management API, in process (`support/`): who may read it (platform
//! administrators, and the operator's metrics token when one is set, which opens nothing
//! else), the same route at the root where Prometheus looks, and the listener of
//! `[metrics] addr` without a token. The exposition itself is checked with promtool through
//! the binary (`sluice/tests/metrics.rs`).

mod support;

use axum::body::Body;
use serde_json::json;
use support::{Response, Server, call, ok};
use tower::ServiceExt;

const BOOTSTRAP: &str = "slc_metrics_bootstrap_token_0123456789";
const SCRAPER: &str = "scraper-token-0123456789";

/// `GET uri` (the whole path: the route is served at the root too).
fn get(server: &Server, uri: &str, token: Option<&str>) -> Response {
    let mut request = http::Request::builder().method("GET").uri(uri);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    server.send(request.body(Body::empty()).expect("request"))
}

fn text(response: &Response) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// A user who is not a platform administrator, with a token.
fn user_token(server: &Server, name: &str) -> String {
    ok(&call(server, "POST", "/users", Some(BOOTSTRAP), Some(json!({"name": name}))));
    let issued =
        ok(&call(server, "POST", &format!("/users/{name}/tokens"), Some(BOOTSTRAP), Some(json!({"name": "t"}))));
    issued["token"].as_str().expect("token").to_owned()
}

#[test]
fn platform_admins_read_the_metrics_and_nobody_else_without_a_metrics_token() {
    let server = Server::start("metrics-admin", BOOTSTRAP);
    let user = user_token(&server, "someone");
    for uri in ["/admin/v1/metrics", "/metrics"] {
        let none = get(&server, uri, None);
        assert_eq!(none.status, 401, "{uri}: {}", text(&none));
        assert_eq!(none.json()["code"], "Unauthorized");
        let other = get(&server, uri, Some(&user));
        assert_eq!(other.status, 403, "{uri}: {}", text(&other));
        let scraper = get(&server, uri, Some(SCRAPER));
        assert_eq!(scraper.status, 401, "no metrics token is set: {uri}");
        let admin = get(&server, uri, Some(BOOTSTRAP));
        assert_eq!(admin.status, 200, "{uri}: {}", text(&admin));
        let body = text(&admin);
        // (Families without a series yet, such as `sluice_calls_total` before any call, are
        // left out.)
        for family in
            ["# TYPE sluice_route_rebuilds_total counter", "# TYPE sluice_routes gauge", "sluice_call_records_queued "]
        {
            assert!(body.contains(family), "{uri} lacks {family}:\n{body}");
        }
    }
}

#[test]
fn the_metrics_token_reads_the_metrics_and_nothing_else() {
    let server = Server::start_with("metrics-token", BOOTSTRAP, Some(SCRAPER));
    let user = user_token(&server, "someone");
    let response = get(&server, "/admin/v1/metrics", Some(SCRAPER));
    assert_eq!(response.status, 200, "{}", text(&response));
    assert!(text(&response).contains("# TYPE sluice_routes gauge"));
    for uri in ["/admin/v1/metrics", "/metrics"] {
        assert_eq!(get(&server, uri, Some(SCRAPER)).status, 200, "{uri}");
        assert_eq!(get(&server, uri, Some(BOOTSTRAP)).status, 200, "{uri}");
        assert_eq!(get(&server, uri, Some(&user)).status, 403, "{uri}");
        assert_eq!(get(&server, uri, Some("scraper-token-0123456788")).status, 401, "{uri}");
        assert_eq!(get(&server, uri, None).status, 401, "{uri}");
    }
    // The token is no user: every other route refuses it.
    for path in ["/me", "/users", "/platform/settings", "/workgroups"] {
        assert_eq!(call(&server, "GET", path, Some(SCRAPER), None).status, 401, "{path}");
    }
}

#[test]
fn the_answer_is_prometheus_text_that_is_not_cached() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let response = admin::metrics::exposition().await;
        let headers = response.headers();
        assert_eq!(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
        assert_eq!(headers["cache-control"], "no-store");
        // `[metrics] addr`: the same text without a token.
        let request = http::Request::builder().uri("/metrics").body(Body::empty()).expect("request");
        let open = admin::metrics::open_router().oneshot(request).await.expect("answer");
        assert_eq!(open.status(), 200);
        assert_eq!(open.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
        let body = axum::body::to_bytes(open.into_body(), usize::MAX).await.expect("body");
        assert!(String::from_utf8_lossy(&body).contains("# TYPE sluice_route_rebuilds_total counter"));
        let request = http::Request::builder().uri("/admin/v1/users").body(Body::empty()).expect("request");
        let other = admin::metrics::open_router().oneshot(request).await.expect("answer");
        assert_eq!(other.status(), 404, "the open listener serves /metrics alone");
    });
}
