//! The edge's per-call work, as named phases in the order every call goes through them,
//! whichever lane read it (`edge_app.rs` in place, `session_lane.rs` on pingora's session):
//!
//! ```text
//! read head       edge_app.rs / http1.rs, or pingora's session   400, 431, framing refusals
//! route           route.rs   Edge::route       environment, method + path   404, 405, 400 env
//! (body)          body.rs    Edge::body_limit  how much body to read first  401 no app key, 413
//! authenticate    admit.rs   Edge::authenticate app token or signature, IP  401, 403 IP
//! grant           admit.rs   Edge::grant       clearance, grant             403
//! limit           admit.rs   Edge::limit       grant's and API's QPS         429 + Retry-After
//! choose version  mod.rs     choose_version    gray share, sticky per caller
//! negotiate       negotiate.rs choose          the answer format by Accept    406
//! invoke          params.rs  call_of, then the version's ApiPlugin::invoke  the plugin's codes
//! encode          answer.rs  Edge::encode      envelope (JSON, XML, CSV), Server-Timing, or the
//!                                              upstream request for forward.rs to exchange
//! record          record.rs  Edge::record      after the answer is written: the call record,
//!                                              handed to the recorder's queue
//! ```
//!
//! Answers are written by the lane that read the call (`encode_answer` in place,
//! `write_answer` or `forward.rs` on pingora's session). Data APIs are answered from the
//! current [`Snapshot`]; nothing here reads the metadata store. Every response carries
//! `X-Request-Id`; answers of an API add `X-Sluice-Version`, data answers `Server-Timing`.
//! The phases fill the call's [`CallFacts`] as they go; the lane that wrote the answer records
//! the call once.

mod admit;
mod answer;
mod body;
mod negotiate;
mod params;
mod record;
mod route;
#[cfg(test)]
mod tests;

pub(crate) use answer::{Answer, encode_answer, new_request_id, unavailable, upstream_timeout, write_answer};
pub(crate) use body::{continue_if_expected, too_large, unreadable_body};
pub(crate) use record::{CallFacts, TRACEPARENT, Written};
pub(crate) use route::Refused;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use catalog::model::{Environment, ResultFormat};
use http::{HeaderName, HeaderValue, Method};
use net::ssrf::CheckedTarget;
use pingora::connectors::http::Connector;
use pingora::protocols::http::ServerSession;
use plugins::cache::CacheStatus;
use plugins::format::{Choice, json_to_csv, json_to_xml};
use plugins::registered::{UpstreamRequest, UpstreamRoute};
use plugins::{ApiError, CallOutput, ErrorCode, PluginContext};

use crate::client_addr::TrustedProxies;
use crate::drain::Drain;
use crate::in_process::InProcessCalls;
use crate::limiter::Limiters;
use crate::replay::NonceCache;
use crate::request_headers::RequestHeaders;
use crate::routes::{Route, Snapshot};
use admit::Admitted;

/// Selects the environment of a call; production when absent.
pub const ENV_HEADER: HeaderName = HeaderName::from_static("x-sluice-env");
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The version of the API that answered: `V{n}`.
pub const VERSION_HEADER: HeaderName = HeaderName::from_static("x-sluice-version");
/// Whether the answer came from the result cache: `HIT`, `MISS` or `BYPASS` (`docs/cache.md`).
pub const CACHE_HEADER: HeaderName = HeaderName::from_static("x-sluice-cache");

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
    /// Workflow nodes' calls to the APIs this edge serves.
    calls: Arc<InProcessCalls>,
    /// Where the record of every answered call goes.
    recorder: calls::Recorder,
}

/// How the edge treats requests, from the configuration.
pub struct EdgeSettings {
    pub max_body_bytes: usize,
    /// A request body must have arrived this long after its head, whatever its framing.
    pub body_timeout: Duration,
    /// Whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// The platform's QPS for all APIs of production and of test together (`[limits]`).
    pub system_qps: [Option<std::num::NonZeroU32>; 2],
    /// Limits and nonces shared with the other nodes (`[redis]`); `None`: this node's own.
    pub shared: Option<Arc<shared::Shared>>,
}

impl Edge {
    /// `limiters` are shared with whoever sweeps their idle state, `plugins` with whoever sets
    /// their datasource policy, `recorder` with the writer that stores call records. APIs the
    /// edge serves can call each other in process ([`InProcessCalls`]).
    pub fn new(
        snapshot: Arc<ArcSwap<Snapshot>>,
        settings: EdgeSettings,
        limiters: Arc<Limiters>,
        plugins: Arc<PluginContext>,
        drain: Arc<Drain>,
        recorder: calls::Recorder,
    ) -> Arc<Edge> {
        let calls = InProcessCalls::attach(Arc::clone(&snapshot), Arc::clone(&plugins));
        Arc::new(Edge { snapshot, plugins, settings, limiters, nonces: NonceCache::new(), drain, calls, recorder })
    }

    /// Sets the connector in-process calls of registered APIs dial with; the first one stays.
    pub fn set_connector(&self, connector: Connector) {
        self.calls.set_connector(connector);
    }
}

/// A call on its way to a registered API's upstream.
pub(crate) struct UpstreamCall {
    route: Arc<Route>,
    /// Whether the gray version answers.
    gray: bool,
    pub(crate) request: UpstreamRequest,
    upstream: Arc<UpstreamRoute>,
}

impl UpstreamCall {
    /// The API's upstream timeout (for connecting, and for each read and write).
    pub(crate) fn timeout(&self) -> Duration {
        self.upstream.timeout
    }

    /// Caller headers the API maps to other names: never forwarded as they came.
    pub(crate) fn consumed_headers(&self) -> &[HeaderName] {
        self.upstream.consumed_headers()
    }

    /// `X-Sluice-Version` of the version that answers.
    pub(crate) fn version_header(&self) -> &HeaderValue {
        &self.route.variant(self.gray).version_header
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
    env: Environment,
}

impl Routed {
    /// Whether any version of the route is a registered API.
    pub(crate) fn reaches_upstream(&self) -> bool {
        self.route.reaches_upstream()
    }

    /// Notes the route in the call's facts: whatever answers the call now is the API's.
    pub(crate) fn note(&self, facts: &mut CallFacts) {
        facts.route = Some((self.route.workgroup_id, self.route.api_id, self.env));
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
            peer: session_peer(session),
        }
    }
}

/// The socket peer of a pingora session.
pub(crate) fn session_peer(session: &ServerSession) -> Option<std::net::IpAddr> {
    session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip())
}

impl Edge {
    /// The whole of a call on a head pingora read: route, body, then serve.
    pub(crate) async fn answer(
        &self,
        session: &mut ServerSession,
        request_id: &str,
        facts: &mut CallFacts,
    ) -> std::result::Result<Outcome, Answer> {
        // HTTP/1 heads were accepted by http1::parse before pingora read them again; HTTP/2
        // has no framing headers to disagree (the h2 library refuses them).
        let header = session.req_header();
        let env = header.headers.get(&ENV_HEADER).map(HeaderValue::as_bytes);
        let routed = self.route(&header.method, header.uri.path(), env).map_err(|r| r.answer(request_id))?;
        routed.note(facts);
        let body = match self.body_limit(&CallHead::of(session), &routed, request_id)? {
            Some(limit) => {
                continue_if_expected(session).await;
                Some(body::read_body(session, request_id, limit, self.settings.body_timeout).await?)
            }
            None => None,
        };
        self.serve(&CallHead::of(session), request_id, routed, body, facts).await
    }

    /// Serves a request the in-place lane read, with the body [`Edge::body_limit`] asked for:
    /// the answer to write, or the call to forward upstream.
    pub(crate) async fn serve_in_place(
        &self,
        head: &CallHead<'_>,
        request_id: &str,
        routed: Routed,
        body: Option<Bytes>,
        facts: &mut CallFacts,
    ) -> Outcome {
        match self.serve(head, request_id, routed, body, facts).await {
            Ok(outcome) => outcome,
            Err(answer) => Outcome::Answer(answer),
        }
    }

    /// The phases after *route*, for a routed request with the body [`Edge::body_limit`]
    /// asked for: authenticate, grant, limit, choose version, invoke, encode.
    async fn serve(
        &self,
        head: &CallHead<'_>,
        request_id: &str,
        routed: Routed,
        body: Option<Bytes>,
        facts: &mut CallFacts,
    ) -> std::result::Result<Outcome, Answer> {
        let Routed { snapshot, route, path_params, env } = routed;
        facts.bytes_in = body.as_ref().map_or(0, |b| b.len() as u64);
        // Refusals before a version is chosen follow the published version's format.
        let published = negotiate::choose(head, route.served.plugin.as_ref());
        let caller = self
            .admit(head, &snapshot, &route, env, body.as_deref().unwrap_or(&[]), facts)
            .await
            .map_err(|refused| refused.answer_in(request_id, negotiate::error_media(&published)))?;
        drop(snapshot);
        let gray = choose_version(&route, &caller);
        let variant = route.variant(gray);
        facts.version = Some(variant.version);
        let chosen = if gray { negotiate::choose(head, variant.plugin.as_ref()) } else { published };
        let errors = negotiate::error_media(&chosen);
        let fail = |err: ApiError| {
            Answer::error_in(&err, request_id, errors).with_header(VERSION_HEADER, variant.version_header.clone())
        };
        let (choice, configured) = match chosen {
            Some(chosen) => chosen.map_err(fail)?,
            None => (Choice::CONFIGURED, ResultFormat::Json),
        };
        let mut call =
            params::call_of(variant.plugin.as_ref(), head, path_params, body.as_deref(), &caller, env).map_err(fail)?;
        call.workgroup_id = Some(route.workgroup_id);
        call.format = choice.requested;
        let (output, cache) = variant.plugin.invoke_cached(&self.plugins, &call).await.map_err(fail)?;
        if let CallOutput::Data { row_count, timings, .. } = &output {
            facts.rows = Some(*row_count as u64);
            facts.backend = Some(timings.execute);
        }
        facts.cache_hit = cache.map(|status| matches!(status, CacheStatus::Hit { .. }));
        let format = choice.requested.resolve(configured);
        let outcome =
            self.encode(output, &route, gray, head.method, body, request_id, (choice, format)).map_err(fail)?;
        Ok(match (outcome, cache) {
            (Outcome::Answer(answer), Some(status)) => Outcome::Answer(with_cache_headers(answer, status)),
            (outcome, _) => outcome,
        })
    }

    /// Phase *encode*: a plugin's output as the answer to write, or as the call to forward.
    /// `asked` is the caller's choice and the format it resolved to: rows come encoded in it;
    /// a JSON answer (a workflow's) is written in it here.
    #[allow(clippy::too_many_arguments)]
    fn encode(
        &self,
        output: CallOutput,
        route: &Arc<Route>,
        gray: bool,
        method: &Method,
        body: Option<Bytes>,
        request_id: &str,
        asked: (Choice, ResultFormat),
    ) -> std::result::Result<Outcome, ApiError> {
        let version = &route.variant(gray).version_header;
        let (choice, format) = asked;
        match output {
            CallOutput::Data { data, timings, format, page, .. } => Ok(Outcome::Answer(Answer::encoded(
                &data,
                format,
                choice.media(format),
                page,
                request_id,
                version.clone(),
                Some(&timings),
            ))),
            CallOutput::Json(value) => {
                let data = match format {
                    ResultFormat::Json | ResultFormat::JsonCompact => {
                        serde_json::to_vec(&value).map_err(|_| internal("unencodable answer"))?
                    }
                    ResultFormat::Xml => {
                        let mut data = Vec::new();
                        json_to_xml(&value, &mut data);
                        data
                    }
                    ResultFormat::Csv => json_to_csv(&value).ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::NotAcceptable,
                            format!("{}; ask for application/json or application/xml", plugins::format::NOT_TABULAR),
                        )
                    })?,
                };
                let media = choice.media(format);
                Ok(Outcome::Answer(Answer::encoded(&data, format, media, None, request_id, version.clone(), None)))
            }
            CallOutput::Forward(forward) => {
                let plugins::Forward { mut request, upstream } = *forward;
                // A signed body was read to check its digest: send it on as it came.
                if request.body.is_none()
                    && let Some(bytes) = body.filter(|b| !b.is_empty())
                {
                    request.body = Some(bytes);
                }
                // HEAD is answered like GET: ask the upstream for the head only.
                if method == Method::HEAD && request.method == Method::GET {
                    request.method = Method::HEAD;
                }
                Ok(Outcome::Proxy(UpstreamCall { route: Arc::clone(route), gray, request, upstream }))
            }
            CallOutput::DryRun { .. } => Err(internal("unexpected dry run")),
        }
    }

    /// Resolves the call's upstream host through the network policy, now (DNS answers
    /// change): the one address pingora dials.
    pub(crate) async fn upstream_target(&self, call: &UpstreamCall) -> std::result::Result<CheckedTarget, ApiError> {
        crate::in_process::check_upstream(&self.snapshot, &call.upstream, call.route_name()).await
    }
}

/// `X-Sluice-Cache`, and `Age` (whole seconds) for an answer the cache holds.
fn with_cache_headers(answer: Answer, status: CacheStatus) -> Answer {
    let answer = answer.with_header(CACHE_HEADER, HeaderValue::from_static(status.as_str()));
    match status {
        CacheStatus::Hit { age } => answer.with_header(http::header::AGE, HeaderValue::from(age.as_secs())),
        CacheStatus::Miss => answer.with_header(http::header::AGE, HeaderValue::from_static("0")),
        CacheStatus::Bypass => answer,
    }
}

/// Phase *choose version*: the gray version for a share of callers, sticky per app key, or
/// per address for anonymous callers; the published one otherwise.
fn choose_version(route: &Route, caller: &Admitted) -> bool {
    match &caller.app {
        Some(app) => route.choose(app.key.as_bytes()),
        None => route.choose(&admit::address_bytes(caller.client)),
    }
}

fn internal(what: &str) -> ApiError {
    ApiError::internal(format_args!("edge: {what}"))
}
