//! The edge's request path: what every API call goes through, in whichever lane read it
//! (`edge_app.rs` in place, `session_lane.rs` through pingora's session).
//!
//! ```text
//! Edge::route      environment ► route (method + path), from either lane's raw head
//! Edge::body_limit app key present? ► how much body the lane reads first (a data API's, or a
//!                  registered API's when its parameters or a signature need it)
//! Edge::serve      caller (callers.rs: app token or signature, IP allow list, clearance, grant,
//!                  QPS limits) ► version (gray strategy, sticky per app key) ► then by target:
//!   data API        gather params (path (percent-decoded), query, header, JSON body)
//!                   ► plugin.invoke ► the answer to write
//!   registered API  gather params (the body only when parameters are read from or built
//!                   into it) ► map to the upstream request (registered.rs) ► an UpstreamCall
//!                   for the session lane to forward (forward.rs)
//! Edge::upstream_target  network policy check of the base URL's host at call time: the
//!                  address the forwarder dials
//! Edge::answer     route ► body ► serve, on a head pingora's session read
//! ```
//!
//! Data APIs are answered from the current [`Snapshot`]; nothing here reads the metadata
//! store. Every response carries `X-Request-Id`; answers of an API add `X-Sluice-Version`,
//! data APIs `Server-Timing`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::{Bytes, BytesMut};
use catalog::model::{AuthMode, Environment, ParamPosition, SecurityLevel};
use http::{HeaderName, HeaderValue, Method, header};
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::protocols::http::ServerSession;
use plugins::sql::value::RawParam;
use plugins::sql::{CallInput, CallOutput, NATIVE_SQL, PAGE_NUM, PAGE_SIZE, StageTimings, WITH_TOTAL};
use plugins::{ApiError, PluginContext};

use crate::callers::{APP_KEY_HEADER, AppEntry, Credentials, SIGNATURE_HEADER, SignedParts, missing_credentials};
use crate::client_addr::{TrustedProxies, client_addr};
use crate::drain::Drain;
use crate::limiter::{Limiters, ThrottleScope};
use crate::registered::{UpstreamRequest, UpstreamRoute, percent_decode};
use crate::replay::NonceCache;
use crate::request_headers::{RequestHeaders, text as header_text};
use crate::routes::{Lookup, Route, Snapshot, Target, Variant};
use net::ssrf::{CheckedTarget, SsrfError};

/// Selects the environment of a call; production when absent.
pub const ENV_HEADER: HeaderName = HeaderName::from_static("x-sluice-env");
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The version of the API that answered: `V{n}`.
pub const VERSION_HEADER: HeaderName = HeaderName::from_static("x-sluice-version");
const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Headers every answer written by the edge carries (besides its own extra ones): three of its
/// own, and the `Date` and `Connection` pingora adds.
const ANSWER_HEADERS: usize = 5;

/// The largest caller body read for a registered API's parameters (or a signature's digest):
/// read before the upstream request is built, then replaced by the built body or sent as it
/// came. Bodies that stream through (no body parameters, no signature) have no limit.
pub const PARAM_BODY_LIMIT: usize = 64 * 1024;

/// The edge service's shared state.
pub struct Edge {
    snapshot: Arc<ArcSwap<Snapshot>>,
    plugins: Arc<PluginContext>,
    pub(crate) settings: EdgeSettings,
    limiters: Arc<Limiters>,
    nonces: NonceCache,
    /// Requests in flight, and whether the server is stopping.
    pub(crate) drain: Arc<Drain>,
}

/// How the edge treats requests, from the configuration.
pub struct EdgeSettings {
    pub max_body_bytes: usize,
    /// A request body must have arrived this long after its head, whatever its framing.
    pub body_timeout: Duration,
    /// Whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
}

impl Edge {
    /// `limiters` are shared with whoever sweeps their idle state, `plugins` with whoever sets
    /// their datasource policy.
    pub fn new(
        snapshot: Arc<ArcSwap<Snapshot>>,
        settings: EdgeSettings,
        limiters: Arc<Limiters>,
        plugins: Arc<PluginContext>,
        drain: Arc<Drain>,
    ) -> Edge {
        Edge { snapshot, plugins, settings, limiters, nonces: NonceCache::new(), drain }
    }
}

/// A call on its way to a registered API's upstream.
pub(crate) struct UpstreamCall {
    route: Arc<Route>,
    /// Whether the gray version answers.
    gray: bool,
    pub(crate) request: UpstreamRequest,
}

impl UpstreamCall {
    fn variant(&self) -> &Variant {
        self.route.variant(self.gray)
    }

    fn upstream(&self) -> Option<&UpstreamRoute> {
        match &self.variant().target {
            Target::Upstream(upstream) => Some(upstream),
            Target::Sql(_) => None,
        }
    }

    /// The API's upstream timeout (for connecting, and for each read and write).
    pub(crate) fn timeout(&self) -> Duration {
        self.upstream().map_or(Duration::from_secs(10), |u| u.timeout)
    }

    /// Caller headers the API maps to other names: never forwarded as they came.
    pub(crate) fn consumed_headers(&self) -> &[HeaderName] {
        self.upstream().map_or(&[], UpstreamRoute::consumed_headers)
    }

    /// `X-Sluice-Version` of the version that answers.
    pub(crate) fn version_header(&self) -> &HeaderValue {
        &self.variant().version_header
    }

    pub(crate) fn route_name(&self) -> &str {
        &self.route.api_name
    }
}

/// What serving a request decided.
pub(crate) enum Outcome {
    /// Write this answer.
    Answer(Answer),
    /// Proxy to the upstream.
    Proxy(UpstreamCall),
}

/// A request matched to its route, with the snapshot it was found in.
pub(crate) struct Routed {
    snapshot: Arc<Snapshot>,
    route: Arc<Route>,
    path_params: Vec<(String, String)>,
}

impl Routed {
    /// Whether any version of the route is a registered API.
    pub(crate) fn reaches_upstream(&self) -> bool {
        self.route.reaches_upstream()
    }
}

/// What the edge reads of a request head, from whichever lane read it: pingora's parsed
/// head (session lane) or the edge's own (`edge_app.rs`).
pub(crate) struct CallHead<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    /// Empty when there is none.
    pub query: &'a str,
    pub headers: RequestHeaders<'a>,
    /// The socket's peer.
    pub peer: Option<std::net::IpAddr>,
}

impl<'a> CallHead<'a> {
    fn of(session: &'a ServerSession) -> CallHead<'a> {
        let header = session.req_header();
        CallHead {
            method: &header.method,
            path: header.uri.path(),
            query: header.uri.query().unwrap_or(""),
            headers: RequestHeaders::Map(&header.headers),
            peer: session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip()),
        }
    }
}

/// A complete answer, written in one go.
pub(crate) struct Answer {
    status: u16,
    body: Bytes,
    /// `Allow`, `Retry-After`, `X-Sluice-Version`, `Server-Timing`.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The connection must close: its request body was not read to the end.
    close: bool,
}

impl Answer {
    fn error(err: &ApiError, request_id: &str) -> Answer {
        let body = serde_json::json!({"code": err.code, "message": err.message, "requestId": request_id});
        Answer { status: err.status, body: Bytes::from(body.to_string()), headers: Vec::new(), close: false }
    }

    /// A refusal after which the connection closes.
    pub(crate) fn refused(err: ApiError, request_id: &str) -> Answer {
        let mut answer = Answer::error(&err, request_id);
        answer.close = true;
        answer
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Answer {
        self.headers.push((name, value));
        self
    }

    /// Whether the connection must close after this answer.
    pub(crate) fn closes(&self) -> bool {
        self.close
    }
}

pub(crate) fn unavailable() -> ApiError {
    ApiError::new("Upstream.Unavailable", 502, "the upstream service could not be reached")
}

pub(crate) fn upstream_timeout(timeout: Duration) -> ApiError {
    ApiError::new(
        "Upstream.Timeout",
        504,
        format!("the upstream service did not answer within {} ms", timeout.as_millis()),
    )
}

impl Edge {
    /// Resolves the call's upstream host through the network policy, now (DNS answers
    /// change): the one address pingora dials.
    pub(crate) async fn upstream_target(&self, call: &UpstreamCall) -> std::result::Result<CheckedTarget, ApiError> {
        let Some(upstream) = call.upstream() else {
            return Err(ApiError::new("InternalError", 500, "an internal error occurred"));
        };
        let timeout = upstream.timeout;
        let net = &self.snapshot.load().outbound.net;
        match tokio::time::timeout(timeout, net.resolve_checked(&upstream.url)).await {
            Ok(Ok(target)) => Ok(target),
            Ok(Err(SsrfError::Forbidden { reason })) => {
                Err(ApiError::new("Upstream.Forbidden", 502, format!("the upstream address is not allowed ({reason})")))
            }
            Ok(Err(e)) => {
                tracing::warn!(api = call.route_name(), "upstream not reachable: {e}");
                Err(unavailable())
            }
            Err(_) => Err(upstream_timeout(timeout)),
        }
    }

    /// The whole of a call on a head pingora read: framing, route, body, then serve.
    pub(crate) async fn answer(
        &self,
        session: &mut ServerSession,
        request_id: &str,
    ) -> std::result::Result<Outcome, Answer> {
        // HTTP/1 heads were accepted by http1::parse before pingora read them again; HTTP/2
        // has no framing headers to disagree (the h2 library refuses them).
        let header = session.req_header();
        let env = header.headers.get(&ENV_HEADER).map(HeaderValue::as_bytes);
        let routed = self.route(&header.method, header.uri.path(), env).map_err(|r| r.answer(request_id))?;
        let body = match self.body_limit(&CallHead::of(session), &routed, request_id)? {
            Some(limit) => {
                continue_if_expected(session).await;
                Some(read_body(session, request_id, limit, self.settings.body_timeout).await?)
            }
            None => None,
        };
        self.serve(&CallHead::of(session), request_id, routed, body).await
    }

    /// Picks the environment (`env` is the raw `X-Sluice-Env`) and finds the route, once per
    /// request, in whichever lane reads it; a refusal is answered once the request has an id.
    pub(crate) fn route(
        &self,
        method: &Method,
        path: &str,
        env: Option<&[u8]>,
    ) -> std::result::Result<Routed, Refused> {
        let env = environment(env)?;
        let snapshot = self.snapshot.load_full();
        let (route, path_params) = match snapshot.table(env).lookup(method, path) {
            Lookup::Found { route, path_params } => (Arc::clone(route), path_params),
            Lookup::MethodNotAllowed { allowed } => {
                let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
                let error = ApiError::new(
                    "MethodNotAllowed",
                    405,
                    format!("{path} does not accept {method}; it accepts {allow}"),
                );
                let header = HeaderValue::from_str(&allow).ok().map(|value| Box::new((header::ALLOW, value)));
                return Err(Refused { error, header });
            }
            Lookup::NotFound => {
                return Err(ApiError::new(
                    "NotFound.Api",
                    404,
                    format!("no API is published at {method} {path} in the {} environment", env.as_str()),
                )
                .into());
            }
        };
        Ok(Routed { snapshot, route, path_params })
    }

    /// Serves a request the in-place lane read, with the body [`Edge::body_limit`] asked for:
    /// the answer to write, or the call to forward upstream.
    pub(crate) async fn serve_in_place(
        &self,
        head: &CallHead<'_>,
        request_id: &str,
        routed: Routed,
        body: Option<Bytes>,
    ) -> Outcome {
        match self.serve(head, request_id, routed, body).await {
            Ok(outcome) => outcome,
            Err(answer) => Outcome::Answer(answer),
        }
    }

    /// Whether the lane must read the body before [`Edge::serve`], and up to how many bytes:
    /// a data API's parameters, a registered API's body parameters, or a signature's digest
    /// (otherwise the body streams to the upstream unread). A caller without an app is refused
    /// here, before any body is read.
    pub(crate) fn body_limit(
        &self,
        head: &CallHead<'_>,
        routed: &Routed,
        request_id: &str,
    ) -> std::result::Result<Option<usize>, Answer> {
        let route = &routed.route;
        let app_auth = route.access.auth_mode == AuthMode::App;
        if app_auth && !head.headers.contains(&APP_KEY_HEADER) {
            return Err(Answer::error(&missing_credentials(), request_id));
        }
        let signed = app_auth && head.headers.contains(&SIGNATURE_HEADER);
        Ok(match &route.served.target {
            Target::Sql(_) => Some(self.settings.max_body_bytes),
            Target::Upstream(_) if route.reads_upstream_body() || signed => {
                Some(self.settings.max_body_bytes.min(PARAM_BODY_LIMIT))
            }
            Target::Upstream(_) => None,
        })
    }

    /// Serves a routed request with the body [`Edge::body_limit`] asked for: admits the
    /// caller, picks the version, then answers a data API or prepares the upstream request.
    async fn serve(
        &self,
        head: &CallHead<'_>,
        request_id: &str,
        routed: Routed,
        body: Option<Bytes>,
    ) -> std::result::Result<Outcome, Answer> {
        let Routed { snapshot, route, path_params } = routed;
        let fail = |err: ApiError| Answer::error(&err, request_id);
        let client = self.client_ip(head);
        let caller = self
            .admit(head, &snapshot, &route, body.as_deref().unwrap_or(&[]), client)
            .map_err(|refused| refused.answer(request_id))?;
        drop(snapshot);
        let gray = match &caller.app {
            Some(app) => route.choose(app.key.as_bytes()),
            // Anonymous callers stick by address.
            None => route.choose(&address_bytes(caller.client)),
        };
        let variant = route.variant(gray);
        let version = variant.version_header.clone();
        let fail = |err: ApiError| fail(err).with_header(VERSION_HEADER, version.clone());

        if let Target::Upstream(upstream) = &variant.target {
            let params_body = match &body {
                Some(bytes) if upstream.reads_body() => parse_params_body(bytes).map_err(fail)?,
                _ => None,
            };
            let decoded = decode_path_params(path_params).map_err(fail)?;
            let params = gather_params(variant, head, &decoded, params_body.as_ref());
            let mut request = upstream.request(&params).map_err(fail)?;
            // A signed body was read to check its digest: send it on as it came.
            if request.body.is_none()
                && let Some(bytes) = body.filter(|b| !b.is_empty())
            {
                request.body = Some(bytes);
            }
            // HEAD is answered like GET: ask the upstream for the head only.
            if head.method == Method::HEAD && request.method == Method::GET {
                request.method = Method::HEAD;
            }
            return Ok(Outcome::Proxy(UpstreamCall { route: Arc::clone(&route), gray, request }));
        }
        let params_body = match &body {
            Some(bytes) => parse_params_body(bytes).map_err(fail)?,
            None => None,
        };
        let path_params = decode_path_params(path_params).map_err(fail)?;
        let params = gather_params(variant, head, &path_params, params_body.as_ref());
        let input = CallInput { params, dry_run: false, clearance: Some(caller.clearance) };
        let answer = match &variant.target {
            Target::Sql(api) => match api.invoke(&self.plugins.pools, &input).await {
                Ok(CallOutput::Data { data, timings, .. }) => {
                    let mut body = BytesMut::with_capacity(data.len() + request_id.len() + 48);
                    body.extend_from_slice(b"{\"code\":\"OK\",\"requestId\":\"");
                    body.extend_from_slice(request_id.as_bytes());
                    body.extend_from_slice(b"\",\"data\":");
                    body.extend_from_slice(&data);
                    body.extend_from_slice(b"}");
                    Ok(Answer {
                        status: 200,
                        body: body.freeze(),
                        headers: vec![(VERSION_HEADER, version.clone()), (SERVER_TIMING, server_timing(&timings))],
                        close: false,
                    })
                }
                Ok(CallOutput::DryRun { .. }) => Err(fail(ApiError::new("InternalError", 500, "unexpected dry run"))),
                Err(err) => Err(fail(err)),
            },
            Target::Upstream(_) => Err(fail(ApiError::new("InternalError", 500, "unexpected registered API"))),
        };
        answer.map(Outcome::Answer)
    }

    /// Decides whether the caller may call the route now: authentication (app APIs), the app's
    /// IP allow list, its clearance against the API's level, its grant, and the QPS limits.
    fn admit(
        &self,
        head: &CallHead<'_>,
        snapshot: &Snapshot,
        route: &Route,
        body: &[u8],
        client: std::net::IpAddr,
    ) -> std::result::Result<Admitted, Refused> {
        let now = catalog::now_ms();
        if route.access.auth_mode == AuthMode::None {
            // Anyone may call: the API's own limit applies, and anonymous callers see L1.
            self.throttle(route, 0, None)?;
            return Ok(Admitted { clearance: SecurityLevel::L1, app: None, client });
        }
        let credentials = Credentials::from_headers(&head.headers)?;
        let signed = SignedParts { method: head.method.as_str(), path: head.path, query: head.query, body };
        let app = snapshot.callers.authenticate(&credentials, &signed, &self.nonces, now)?;
        if !app.allows(client) {
            return Err(ApiError::new(
                "Forbidden.IpNotAllowed",
                403,
                format!("calls from {client} are not in the app's IP allow list"),
            )
            .into());
        }
        if app.clearance < route.access.security_level {
            return Err(ApiError::new(
                "Forbidden.SecurityLevel",
                403,
                format!(
                    "the API needs clearance {}; the app has {}",
                    route.access.security_level.as_str(),
                    app.clearance.as_str()
                ),
            )
            .into());
        }
        let Some(grant) = snapshot.callers.grant(route.api_id, app.id, now) else {
            return Err(ApiError::new(
                "Forbidden.NoGrant",
                403,
                "the app has no grant for this API: ask the API's workgroup for one",
            )
            .into());
        };
        self.throttle(route, app.id, grant.qps)?;
        Ok(Admitted { clearance: app.clearance, app: Some(Arc::clone(app)), client })
    }

    /// The grant's limit, then the API's: 429 `Throttling.User` or `Throttling.Api`.
    fn throttle(
        &self,
        route: &Route,
        app_id: i64,
        grant_qps: Option<std::num::NonZeroU32>,
    ) -> std::result::Result<(), Refused> {
        match self.limiters.check(route.api_id, route.access.max_qps, app_id, grant_qps) {
            Ok(()) => Ok(()),
            Err(throttled) => {
                let retry_after = throttled.retry_after_secs();
                let (code, what) = match throttled.scope {
                    ThrottleScope::User => ("Throttling.User", "this app's share of the API"),
                    ThrottleScope::Api => ("Throttling.Api", "the API"),
                };
                Err(Refused {
                    error: ApiError::new(code, 429, format!("too many calls to {what}; retry after {retry_after} s")),
                    header: Some(Box::new((header::RETRY_AFTER, HeaderValue::from(retry_after)))),
                })
            }
        }
    }

    /// The caller's address: the socket's, or the client a trusted proxy names.
    fn client_ip(&self, head: &CallHead<'_>) -> std::net::IpAddr {
        let socket = head.peer.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        // Only a trusted proxy's headers are read (client_addr decides the same; this skips
        // gathering them for every other caller).
        if !self.settings.trusted_proxies.contains(socket.to_canonical()) {
            return socket.to_canonical();
        }
        // Several X-Forwarded-For headers are one list, in order.
        let values: Vec<&str> = head.headers.all(X_FORWARDED_FOR.as_str()).filter_map(header_text).collect();
        let forwarded = match values.len() {
            0 => None,
            1 => Some(std::borrow::Cow::Borrowed(values[0])),
            _ => Some(std::borrow::Cow::Owned(values.join(","))),
        };
        client_addr(socket, forwarded.as_deref(), &self.settings.trusted_proxies)
    }
}

/// The refusal of a body over `limit`; the connection closes, the body unread.
pub(crate) fn too_large(limit: usize, request_id: &str) -> Answer {
    let message = format!("the request body is larger than the limit of {limit} bytes");
    Answer::refused(ApiError::new("PayloadTooLarge", 413, message), request_id)
}

/// The refusal of a body that could not be read to its end; the connection closes.
pub(crate) fn unreadable_body(request_id: &str) -> Answer {
    Answer::refused(ApiError::new("InvalidRequest.Body", 400, "the request body could not be read"), request_id)
}

/// Answers `Expect: 100-continue` with `100 Continue` before a body is read: an HTTP/1.1
/// caller may wait for it before sending the body (HTTP/2 has no such step).
pub(crate) async fn continue_if_expected(session: &mut ServerSession) {
    let expects = !session.is_http2()
        && session
            .req_header()
            .headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects {
        // pingora turns keep-alive off for any head written before the body is read, the
        // interim one included; only a final answer before the body is read should.
        session.set_close_on_response_before_downstream_finish(false);
        if let Err(e) = session.write_continue_response().await {
            tracing::debug!("cannot send 100 Continue: {e}");
        }
        session.set_close_on_response_before_downstream_finish(true);
    }
}

/// Reads the whole body of a head pingora read within `timeout` (in all, not per read),
/// refusing bodies over the limit (from Content-Length before reading anything, or while
/// reading a chunked one).
async fn read_body(
    session: &mut ServerSession,
    request_id: &str,
    limit: usize,
    timeout: Duration,
) -> std::result::Result<Bytes, Answer> {
    let declared = session
        .req_header()
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit, request_id));
    }
    let read = async {
        let mut body = BytesMut::new();
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(too_large(limit, request_id));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body.freeze()),
                Err(e) => {
                    tracing::debug!(error = %e, "request body read failed");
                    return Err(unreadable_body(request_id));
                }
            }
        }
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(read) => read,
        Err(_) => {
            tracing::debug!("request body not received in time");
            Err(unreadable_body(request_id))
        }
    }
}

/// Why a request was not routed or its caller not admitted, answered once the request has
/// an id.
pub(crate) struct Refused {
    error: ApiError,
    /// `Allow` of a 405, `Retry-After` of a 429 (boxed: refusals are rare, results small).
    header: Option<Box<(HeaderName, HeaderValue)>>,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Refused {
        Refused { error, header: None }
    }
}

impl Refused {
    pub(crate) fn answer(self, request_id: &str) -> Answer {
        let answer = Answer::error(&self.error, request_id);
        match self.header {
            Some(header) => answer.with_header(header.0, header.1),
            None => answer,
        }
    }
}

/// An admitted caller.
struct Admitted {
    clearance: SecurityLevel,
    /// `None` for a public API's anonymous caller.
    app: Option<Arc<AppEntry>>,
    client: std::net::IpAddr,
}

/// An address as 16 bytes (IPv4 mapped into IPv6), for hashing without allocating.
fn address_bytes(ip: std::net::IpAddr) -> [u8; 16] {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        std::net::IpAddr::V6(v6) => v6.octets(),
    }
}

/// A body of parameters: nothing, or a JSON object.
fn parse_params_body(body: &[u8]) -> std::result::Result<Option<serde_json::Map<String, serde_json::Value>>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(ApiError::new("InvalidRequest.Body", 400, "the body must be a JSON object of parameters")),
        Err(e) => Err(ApiError::new(
            "InvalidRequest.Body",
            400,
            format!("the body is not valid JSON (line {}, column {})", e.line(), e.column()),
        )),
    }
}

/// The environment `X-Sluice-Env` selects: production when absent.
fn environment(value: Option<&[u8]>) -> std::result::Result<Environment, ApiError> {
    match value {
        None => Ok(Environment::Prod),
        Some(v) if v.eq_ignore_ascii_case(b"prod") || v.eq_ignore_ascii_case(b"online") => Ok(Environment::Prod),
        Some(v) if v.eq_ignore_ascii_case(b"test") || v.eq_ignore_ascii_case(b"ppe") => Ok(Environment::Test),
        Some(v) => Err(ApiError::invalid_parameter(
            "X-Sluice-Env",
            "test or prod",
            &String::from_utf8_lossy(v).to_ascii_lowercase(),
        )),
    }
}

/// Path parameters percent-decoded, as callers encode them.
fn decode_path_params(raw: Vec<(String, String)>) -> std::result::Result<Vec<(String, String)>, ApiError> {
    raw.into_iter()
        .map(|(name, value)| {
            if !value.contains('%') {
                return Ok((name, value));
            }
            match percent_decode(&value) {
                Some(decoded) => Ok((name, decoded)),
                None => Err(ApiError::invalid_parameter_because(&name, "the path segment is not UTF-8 once decoded")),
            }
        })
        .collect()
}

/// Collects raw parameters by name from where each is declared. Query and body parameters are
/// read from either place (GET callers use the query string, POST callers a JSON body); path
/// and header parameters only from their own place.
fn gather_params(
    route: &Variant,
    head: &CallHead<'_>,
    path_params: &[(String, String)],
    body: Option<&serde_json::Map<String, serde_json::Value>>,
) -> HashMap<String, RawParam> {
    let query: HashMap<String, String> = url::form_urlencoded::parse(head.query.as_bytes()).into_owned().collect();
    let from_query = |name: &str| query.get(name).map(|v| RawParam::Text(v.clone()));
    let from_body = |name: &str| body.and_then(|b| b.get(name)).map(|v| RawParam::Json(v.clone()));
    let mut params = HashMap::new();
    for param in route.request_params() {
        let name = param.name.as_str();
        let value = match param.position {
            ParamPosition::Path => path_params.iter().find(|(k, _)| k == name).map(|(_, v)| RawParam::Text(v.clone())),
            ParamPosition::Header => {
                head.headers.get_named(name).and_then(header_text).map(|v| RawParam::Text(v.to_owned()))
            }
            ParamPosition::Query => from_query(name).or_else(|| from_body(name)),
            ParamPosition::Body => from_body(name).or_else(|| from_query(name)),
        };
        if let Some(value) = value {
            params.insert(param.name.clone(), value);
        }
    }
    for reserved in [PAGE_NUM, PAGE_SIZE, WITH_TOTAL, NATIVE_SQL] {
        if let Some(value) = from_query(reserved).or_else(|| from_body(reserved)) {
            params.insert(reserved.to_owned(), value);
        }
    }
    params
}

pub(crate) async fn write_answer(session: &mut ServerSession, request_id: &str, answer: Answer) -> Result<()> {
    // The head is built as `http` parts: `ResponseHeader::insert_header` would parse each name
    // again and copy it into a case map, which answers written here have no use for (standard
    // names still go out title-cased).
    let mut head = http::Response::new(()).into_parts().0;
    head.status = http::StatusCode::from_u16(answer.status)
        .map_err(|e| Error::because(ErrorType::InternalError, "answer status", e))?;
    let headers = &mut head.headers;
    headers.reserve(ANSWER_HEADERS + answer.headers.len());
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(answer.body.len()));
    let request_id = HeaderValue::from_str(request_id)
        .map_err(|e| Error::because(ErrorType::InternalError, "request id header", e))?;
    headers.insert(REQUEST_ID_HEADER, request_id);
    for (name, value) in answer.headers {
        headers.insert(name, value);
    }
    if answer.close {
        session.set_keepalive(None);
    }
    let head_only = session.req_header().method == Method::HEAD;
    session.write_response_header(Box::new(ResponseHeader::from(head))).await?;
    if !head_only {
        session.write_response_body(answer.body, true).await?;
    }
    Ok(())
}

/// An answer of the in-place lane as the bytes to write: the head `write_answer` has pingora
/// write (its four standard names title-cased, the rest as they are), then the body unless the
/// request was HEAD.
pub(crate) fn encode_answer(answer: Answer, request_id: &str, head_only: bool, keep_alive: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + answer.body.len());
    let mut digits = itoa::Buffer::new();
    let status = http::StatusCode::from_u16(answer.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ");
    out.extend_from_slice(digits.format(answer.body.len()).as_bytes());
    out.extend_from_slice(b"\r\nx-request-id: ");
    out.extend_from_slice(request_id.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &answer.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Date: ");
    out.extend_from_slice(pingora::protocols::http::date::get_cached_date().as_bytes());
    out.extend_from_slice(if keep_alive {
        b"\r\nConnection: keep-alive\r\n\r\n"
    } else {
        b"\r\nConnection: close\r\n\r\n"
    });
    if !head_only {
        out.extend_from_slice(&answer.body);
    }
    out
}

/// `parse;dur=0.007, plan;dur=…` in milliseconds to the microsecond.
fn server_timing(t: &StageTimings) -> HeaderValue {
    // Written into a fixed buffer, not with `format!` or string pushes: this runs for every
    // data API call. Four stages of at most 40 bytes each.
    let mut value = [0u8; 160];
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        value[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    let mut digits = itoa::Buffer::new();
    let stages = [("parse", t.parse), ("plan", t.plan), ("execute", t.execute), ("encode", t.encode)];
    for (i, (stage, took)) in stages.into_iter().enumerate() {
        if i > 0 {
            push(b", ");
        }
        // Microseconds fit u64 for half a million years.
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        push(stage.as_bytes());
        push(b";dur=");
        push(digits.format(micros / 1000).as_bytes());
        push(b".");
        // Three digits, zero-padded by the leading 1.
        push(&digits.format(1000 + micros % 1000).as_bytes()[1..]);
    }
    HeaderValue::from_bytes(&value[..len]).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// 128 random bits as 32 hex digits.
pub(crate) fn new_request_id() -> String {
    // Into a buffer, without `format!` or a char at a time: this runs for every request.
    let mut digits = [0u8; 32];
    hex::encode_to_slice(rand::random::<u128>().to_be_bytes(), &mut digits)
        .ok()
        .and_then(|()| String::from_utf8(digits.to_vec()).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_32_lower_case_hex_digits_and_differ() {
        let (a, b) = (new_request_id(), new_request_id());
        for id in [&a, &b] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(id.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{id}");
        }
        assert_ne!(a, b);
    }

    #[test]
    fn server_timing_gives_each_stage_in_milliseconds_to_the_microsecond() {
        let timings = StageTimings {
            parse: Duration::from_micros(7),
            plan: Duration::from_micros(1_234),
            execute: Duration::from_millis(12),
            encode: Duration::from_nanos(999),
        };
        assert_eq!(server_timing(&timings), "parse;dur=0.007, plan;dur=1.234, execute;dur=12.000, encode;dur=0.000");
    }
}
