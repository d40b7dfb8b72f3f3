//! The edge's phases in process, without sockets: a snapshot of routes answered by small
//! plugins written here, heads built from header maps, answers read back as envelopes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use catalog::model::{AuthMode, Environment, ParamType, RequestParam, ScalarType, SecurityLevel};
use http::{HeaderMap, HeaderValue, Method};
use plugins::{ApiError, ApiPlugin, Call, CallOutput, PluginContext};

use super::{CallHead, Edge, EdgeSettings, Outcome};
use crate::drain::Drain;
use crate::limiter::Limiters;
use crate::request_headers::RequestHeaders;
use crate::routes::{Route, RouteAccess, RouteTable, Snapshot, Variant};

/// Answers its parameters back as JSON; with `calls`, calls that API in process and wraps
/// its answer.
#[derive(Debug)]
struct Echo {
    params: Vec<RequestParam>,
    calls: Option<i64>,
}

#[async_trait]
impl ApiPlugin for Echo {
    fn mode(&self) -> &'static str {
        "echo"
    }

    fn request_params(&self) -> &[RequestParam] {
        &self.params
    }

    async fn invoke(&self, ctx: &PluginContext, call: &Call) -> Result<CallOutput, ApiError> {
        let mut params: Vec<(String, String)> =
            call.params.iter().map(|(k, v)| (k.clone(), format!("{v:?}"))).collect();
        params.sort();
        let mut answer = serde_json::json!({
            "params": params,
            "env": call.env.as_str(),
            "clearance": call.clearance.map(SecurityLevel::as_str),
        });
        if let Some(api_id) = self.calls {
            let inner = match ctx.dispatch(api_id, call).await? {
                CallOutput::Json(value) => value,
                other => serde_json::json!(format!("{other:?}")),
            };
            answer["inner"] = inner;
        }
        Ok(CallOutput::Json(answer))
    }
}

/// A decorator: counts the calls of the plugin it wraps, which does not know it is wrapped.
#[derive(Debug)]
struct Counted {
    inner: Arc<dyn ApiPlugin>,
    calls: Arc<AtomicUsize>,
}

#[async_trait]
impl ApiPlugin for Counted {
    fn mode(&self) -> &'static str {
        self.inner.mode()
    }

    fn request_params(&self) -> &[RequestParam] {
        self.inner.request_params()
    }

    async fn invoke(&self, ctx: &PluginContext, call: &Call) -> Result<CallOutput, ApiError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.invoke(ctx, call).await
    }
}

fn route(api_id: i64, method: Method, path: &str, auth_mode: AuthMode, plugin: Arc<dyn ApiPlugin>) -> Route {
    Route {
        api_id,
        workgroup_id: 1,
        api_name: format!("api{api_id}"),
        method,
        path: path.to_owned(),
        access: RouteAccess { auth_mode, security_level: SecurityLevel::L1, max_qps: None },
        served: Variant { version: 2, version_header: HeaderValue::from_static("V2"), plugin },
        gray: None,
    }
}

fn edge(routes: Vec<Route>) -> Arc<Edge> {
    let (prod, rejected) = RouteTable::build(routes, None);
    assert!(rejected.is_empty());
    let snapshot = Snapshot { prod, ..Snapshot::default() };
    let settings = EdgeSettings {
        max_body_bytes: 1024,
        body_timeout: std::time::Duration::from_secs(1),
        trusted_proxies: Default::default(),
        system_qps: [None, None],
        shared: None,
    };
    Edge::new(
        Arc::new(ArcSwap::from_pointee(snapshot)),
        settings,
        Arc::new(Limiters::new()),
        Arc::new(PluginContext::default()),
        Drain::new(),
        calls::Recorder::off(),
    )
}

fn echo(params: &[&str], calls: Option<i64>) -> Arc<dyn ApiPlugin> {
    let params = params
        .iter()
        .map(|name| {
            let mut param = RequestParam::new(*name, ParamType::Scalar(ScalarType::String));
            if *name == "id" {
                param.position = catalog::model::ParamPosition::Path;
            }
            param
        })
        .collect();
    Arc::new(Echo { params, calls })
}

/// A call through the phases as the in-place lane makes it: status, JSON body, headers.
fn call(edge: &Edge, method: Method, target: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, serde_json::Value) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    let head = CallHead { method: &method, path, query, headers: RequestHeaders::Map(&map), peer: None };
    let env = map.get(super::ENV_HEADER).map(HeaderValue::as_bytes);
    let answer = match edge.route(&method, path, env) {
        Err(refused) => refused.answer("rid"),
        Ok(routed) => match edge.body_limit(&head, &routed, "rid") {
            Err(answer) => answer,
            Ok(limit) => {
                let body = limit.map(|_| Bytes::copy_from_slice(body));
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let mut facts = super::CallFacts::begin(None, None);
                match runtime.block_on(edge.serve_in_place(&head, "rid", routed, body, &mut facts)) {
                    Outcome::Answer(answer) => answer,
                    Outcome::Proxy(_) => panic!("no registered APIs here"),
                }
            }
        },
    };
    (answer.status, serde_json::from_slice(&answer.body).unwrap())
}

/// Method, target, headers; the status and code expected.
type Case = (Method, &'static str, &'static [(&'static str, &'static str)], u16, &'static str);

#[test]
fn route_refusals_name_what_was_asked() {
    let edge = edge(vec![route(1, Method::GET, "/items/{id}", AuthMode::None, echo(&["id"], None))]);
    let cases: [Case; 4] = [
        (Method::GET, "/nothing", &[], 404, "NotFound.Api"),
        (Method::POST, "/items/7", &[], 405, "MethodNotAllowed"),
        (Method::GET, "/items/7", &[("x-sluice-env", "staging")], 400, "InvalidParameter.X-Sluice-Env"),
        // The test environment has no routes here.
        (Method::GET, "/items/7", &[("x-sluice-env", "test")], 404, "NotFound.Api"),
    ];
    for (method, target, headers, status, code) in cases {
        let (got, body) = call(&edge, method.clone(), target, headers, b"");
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{method} {target} {headers:?}: {body}");
        assert_eq!(body["requestId"], "rid");
    }
}

#[test]
fn an_app_api_refuses_a_caller_without_credentials_before_its_plugin_runs() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::new(Counted { inner: echo(&["id"], None), calls: Arc::clone(&calls) });
    let edge = edge(vec![route(1, Method::GET, "/items/{id}", AuthMode::App, counted)]);
    let (status, body) = call(&edge, Method::GET, "/items/7", &[], b"");
    assert_eq!((status, body["code"].as_str()), (401, Some("Unauthorized.MissingCredentials")), "{body}");
    let (status, body) = call(&edge, Method::GET, "/items/7", &[("x-sluice-app-key", "nobody")], b"");
    assert_eq!(status, 401, "{body}");
    assert_eq!(calls.load(Ordering::Relaxed), 0, "refused callers never reach the plugin");
}

#[test]
fn a_public_api_gets_a_mode_neutral_call_with_parameters_from_their_positions() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::new(Counted { inner: echo(&["id", "q", "b"], None), calls: Arc::clone(&calls) });
    let edge = edge(vec![route(1, Method::POST, "/items/{id}", AuthMode::None, counted)]);
    let (status, body) = call(&edge, Method::POST, "/items/a%20b?q=x", &[], br#"{"b":"from body","other":1}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], "OK");
    let data = &body["data"];
    assert_eq!(data["env"], "prod");
    // Anonymous callers of a public API see L1.
    assert_eq!(data["clearance"], "L1");
    let params: Vec<(String, String)> = serde_json::from_value(data["params"].clone()).unwrap();
    let names: Vec<&str> = params.iter().map(|(name, _)| name.as_str()).collect();
    // Undeclared body fields stay out; the path segment is percent-decoded.
    assert_eq!(names, ["b", "id", "q"], "{params:?}");
    assert!(params[1].1.contains("a b"), "{params:?}");
    assert_eq!(calls.load(Ordering::Relaxed), 1, "the decorator saw the one call");
    let (status, body) = call(&edge, Method::POST, "/items/1", &[], b"[1]");
    assert_eq!((status, body["code"].as_str()), (400, Some("InvalidRequest.Body")), "{body}");
}

#[test]
fn one_api_calls_another_in_process_through_the_dispatcher() {
    let edge = edge(vec![
        route(1, Method::GET, "/outer", AuthMode::None, echo(&["q"], Some(2))),
        route(2, Method::GET, "/inner", AuthMode::None, echo(&["q"], None)),
        route(3, Method::GET, "/dangling", AuthMode::None, echo(&[], Some(99))),
    ]);
    let (status, body) = call(&edge, Method::GET, "/outer?q=hello", &[], b"");
    assert_eq!(status, 200, "{body}");
    // The inner API got the same call: its parameters, environment and clearance.
    assert_eq!(body["data"]["inner"]["params"], body["data"]["params"]);
    assert_eq!(body["data"]["inner"]["env"], "prod");
    let (status, body) = call(&edge, Method::GET, "/dangling", &[], b"");
    assert_eq!((status, body["code"].as_str()), (404, Some("NotFound.Api")), "{body}");
}

#[test]
fn without_an_edge_a_plugin_context_cannot_dispatch() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let ctx = PluginContext::default();
    let call = Call { env: Environment::Prod, ..Call::default() };
    let error = runtime.block_on(ctx.dispatch(1, &call)).unwrap_err();
    assert_eq!(error.status(), 500);
}
