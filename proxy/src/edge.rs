//! The edge: a pingora `ProxyHttp` that answers every API call.
//!
//! ```text
//! request_filter: framing checks ► environment ► route (method + path) ► gather params
//!                 (path, query, header, JSON body ≤ max_body_bytes) ► plugin.invoke ► write
//! ```
//!
//! Data APIs are answered in place from the current [`Snapshot`]; nothing here reads the
//! metadata store. Every response carries `X-Request-Id`; data APIs add `Server-Timing`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use catalog::model::{Environment, ParamPosition};
use http::{Method, header};
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use plugins::sql::value::RawParam;
use plugins::sql::{CallInput, CallOutput, NATIVE_SQL, PAGE_NUM, PAGE_SIZE, StageTimings, WITH_TOTAL};
use plugins::{ApiError, PluginContext};

use crate::routes::{Lookup, Route, Snapshot, Target};

/// Selects the environment of a call; production when absent.
pub const ENV_HEADER: &str = "x-sluice-env";
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The edge service's shared state.
pub struct Edge {
    snapshot: Arc<ArcSwap<Snapshot>>,
    plugins: PluginContext,
    max_body_bytes: usize,
}

impl Edge {
    pub fn new(snapshot: Arc<ArcSwap<Snapshot>>, max_body_bytes: usize) -> Edge {
        Edge { snapshot, plugins: PluginContext::default(), max_body_bytes }
    }
}

/// Per-request state.
pub struct RequestCtx {
    request_id: String,
}

/// A complete answer, written in one go.
struct Answer {
    status: u16,
    body: Bytes,
    timings: Option<StageTimings>,
    allow: Option<String>,
    /// The connection must close: its request body was not read to the end.
    close: bool,
}

impl Answer {
    fn error(err: &ApiError, request_id: &str) -> Answer {
        let body = serde_json::json!({"code": err.code, "message": err.message, "requestId": request_id});
        Answer { status: err.status, body: Bytes::from(body.to_string()), timings: None, allow: None, close: false }
    }
}

#[async_trait]
impl ProxyHttp for Edge {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx { request_id: new_request_id() }
    }

    /// The headers are in: the header deadline no longer applies.
    async fn early_request_filter(&self, _session: &mut Session, _ctx: &mut RequestCtx) -> Result<()> {
        crate::deadline::headers_read();
        Ok(())
    }

    /// Answers every call in place (data APIs); returns `true` because the response is written.
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let answer = match self.answer(session, &ctx.request_id).await {
            Ok(answer) => answer,
            Err(answer) => answer,
        };
        write_answer(session, &ctx.request_id, answer).await?;
        Ok(true)
    }

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut RequestCtx) -> Result<Box<HttpPeer>> {
        // Every request is answered in request_filter until registered APIs proxy upstream.
        Error::e_explain(ErrorType::InternalError, "no upstream for this route")
    }
}

impl Edge {
    async fn answer(&self, session: &mut Session, request_id: &str) -> std::result::Result<Answer, Answer> {
        let fail = |err: ApiError| Answer::error(&err, request_id);
        if has_conflicting_framing(session) {
            let mut answer = fail(ApiError::new(
                "InvalidRequest.Framing",
                400,
                "send either Content-Length or Transfer-Encoding, not both",
            ));
            answer.close = true;
            return Err(answer);
        }
        let header = session.req_header();
        let env = match header.headers.get(ENV_HEADER).map(|v| v.to_str().unwrap_or("").to_ascii_lowercase()) {
            None => Environment::Prod,
            Some(v) if v == "prod" || v == "online" => Environment::Prod,
            Some(v) if v == "test" || v == "ppe" => Environment::Test,
            Some(v) => {
                return Err(fail(ApiError::invalid_parameter("X-Sluice-Env", "test or prod", &v)));
            }
        };
        let method = header.method.clone();
        let path = header.uri.path().to_owned();
        let query = header.uri.query().unwrap_or("").to_owned();
        let snapshot = self.snapshot.load();
        let (route, path_params) = match snapshot.table(env).lookup(&method, &path) {
            Lookup::Found { route, path_params } => (Arc::clone(route), path_params),
            Lookup::MethodNotAllowed { allowed } => {
                let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
                let mut answer = fail(ApiError::new(
                    "MethodNotAllowed",
                    405,
                    format!("{path} does not accept {method}; it accepts {allow}"),
                ));
                answer.allow = Some(allow);
                return Err(answer);
            }
            Lookup::NotFound => {
                return Err(fail(ApiError::new(
                    "NotFound.Api",
                    404,
                    format!("no API is published at {method} {path} in the {} environment", env.as_str()),
                )));
            }
        };
        drop(snapshot);
        let body = self.read_json_body(session, request_id).await?;
        let params = gather_params(&route, session, &path_params, &query, body.as_ref());
        let input = CallInput { params, dry_run: false };
        match &route.target {
            Target::Sql(api) => match api.invoke(&self.plugins.pools, &input).await {
                Ok(CallOutput::Data { data, timings, .. }) => {
                    let mut body = BytesMut::with_capacity(data.len() + request_id.len() + 48);
                    body.extend_from_slice(b"{\"code\":\"OK\",\"requestId\":\"");
                    body.extend_from_slice(request_id.as_bytes());
                    body.extend_from_slice(b"\",\"data\":");
                    body.extend_from_slice(&data);
                    body.extend_from_slice(b"}");
                    Ok(Answer { status: 200, body: body.freeze(), timings: Some(timings), allow: None, close: false })
                }
                Ok(CallOutput::DryRun { .. }) => Err(fail(ApiError::new("InternalError", 500, "unexpected dry run"))),
                Err(err) => Err(fail(err)),
            },
        }
    }

    /// Reads a JSON object body, refusing bodies over the limit (from Content-Length before
    /// reading anything, or while reading a chunked one) and malformed JSON.
    async fn read_json_body(
        &self,
        session: &mut Session,
        request_id: &str,
    ) -> std::result::Result<Option<serde_json::Map<String, serde_json::Value>>, Answer> {
        let too_large = || {
            let mut answer = Answer::error(
                &ApiError::new(
                    "PayloadTooLarge",
                    413,
                    format!("the request body is larger than the limit of {} bytes", self.max_body_bytes),
                ),
                request_id,
            );
            answer.close = true;
            answer
        };
        let declared = session
            .req_header()
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes) {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.max_body_bytes {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "request body read failed");
                    let mut answer = Answer::error(
                        &ApiError::new("InvalidRequest.Body", 400, "the request body could not be read"),
                        request_id,
                    );
                    answer.close = true;
                    return Err(answer);
                }
            }
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
            Ok(_) => Err(Answer::error(
                &ApiError::new("InvalidRequest.Body", 400, "the body must be a JSON object of parameters"),
                request_id,
            )),
            Err(e) => Err(Answer::error(
                &ApiError::new(
                    "InvalidRequest.Body",
                    400,
                    format!("the body is not valid JSON (line {}, column {})", e.line(), e.column()),
                ),
                request_id,
            )),
        }
    }
}

/// Whether the request carried both Content-Length and Transfer-Encoding (a smuggling
/// vector). pingora's parser already drops Content-Length in that case (RFC 9112 §6.3) and turns
/// keep-alive off, so an HTTP/1.1 chunked request that did not ask to close yet has keep-alive
/// off is one that had both. With `Connection: close` it is read as chunked, then closed.
fn has_conflicting_framing(session: &Session) -> bool {
    let header = session.req_header();
    let chunked = header.headers.contains_key(header::TRANSFER_ENCODING);
    if !chunked {
        return false;
    }
    if header.headers.contains_key(header::CONTENT_LENGTH) {
        return true;
    }
    let asked_to_close = header
        .headers
        .get(header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("close"));
    header.version == http::Version::HTTP_11 && !asked_to_close && session.get_keepalive().is_none()
}

/// Collects raw parameters by name from where each is declared. Query and body parameters are
/// read from either place (GET callers use the query string, POST callers a JSON body); path
/// and header parameters only from their own place.
fn gather_params(
    route: &Route,
    session: &Session,
    path_params: &[(String, String)],
    query: &str,
    body: Option<&serde_json::Map<String, serde_json::Value>>,
) -> HashMap<String, RawParam> {
    let query: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let from_query = |name: &str| query.get(name).map(|v| RawParam::Text(v.clone()));
    let from_body = |name: &str| body.and_then(|b| b.get(name)).map(|v| RawParam::Json(v.clone()));
    let mut params = HashMap::new();
    for param in route.request_params() {
        let name = param.name.as_str();
        let value = match param.position {
            ParamPosition::Path => path_params.iter().find(|(k, _)| k == name).map(|(_, v)| RawParam::Text(v.clone())),
            ParamPosition::Header => session
                .req_header()
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| RawParam::Text(v.to_owned())),
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

async fn write_answer(session: &mut Session, request_id: &str, answer: Answer) -> Result<()> {
    let mut header = ResponseHeader::build(answer.status, Some(6))?;
    header.insert_header(header::CONTENT_TYPE, "application/json; charset=utf-8")?;
    header.insert_header(header::CONTENT_LENGTH, answer.body.len().to_string())?;
    header.insert_header(REQUEST_ID_HEADER, request_id)?;
    if let Some(t) = answer.timings {
        header.insert_header("server-timing", server_timing(&t))?;
    }
    if let Some(allow) = answer.allow {
        header.insert_header(header::ALLOW, allow)?;
    }
    if answer.close {
        session.set_keepalive(None);
    }
    let head_only = session.req_header().method == Method::HEAD;
    session.write_response_header(Box::new(header), head_only).await?;
    if !head_only {
        session.write_response_body(Some(answer.body), true).await?;
    }
    Ok(())
}

fn server_timing(t: &StageTimings) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "parse;dur={:.3}, plan;dur={:.3}, execute;dur={:.3}, encode;dur={:.3}",
        ms(t.parse),
        ms(t.plan),
        ms(t.execute),
        ms(t.encode)
    )
}

/// 128 random bits as 32 hex digits.
fn new_request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}
