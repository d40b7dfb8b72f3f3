//! A registered API's call, from the caller's session to its upstream and back, over pingora's
//! HTTP stack: its connector and connection pool, its HTTP/1 client session (framing, chunked
//! bodies, timeouts, when a connection may be kept), and its server session towards the caller
//! in either HTTP version. What this module decides itself is only what must hold whatever
//! pingora's defaults are:
//!
//! - **Once or twice.** A call goes out again, on a new connection, only when nothing can
//!   happen twice: its upstream method is idempotent (RFC 9110 §9.2.2), it went out on a kept
//!   connection that failed before any byte of an answer came back, and its body is in hand.
//! - **Answers that break framing** end the call (502 when nothing reached the caller yet) and
//!   the upstream connection with it: an unasked `101` (upgrades are never forwarded), both
//!   `Content-Length` and `Transfer-Encoding` (RFC 9112 §6.3: pingora reads such an answer as
//!   chunked and would keep the connection), a `Content-Length` that is not one decimal number.
//!   Interim answers (1xx) are not relayed: the caller gets the final one, or an error.
//! - **Headers** cross by `header_policy.rs`, one policy for every caller protocol.
//! - **The caller's body** streams upstream within one total deadline.
//!
//! A connection goes back to pingora's pool only when the answer ended where its framing said
//! (pingora's own check) and nothing above refused it.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, header};
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::protocols::http::ServerSession;
use pingora::protocols::http::client::HttpSession;
use pingora::protocols::http::v1::client::HttpSession as Http1Session;
use pingora::upstreams::peer::HttpPeer;
use plugins::{ApiError, ErrorCode};

use crate::edge::{
    REQUEST_ID_HEADER, TRACEPARENT, UpstreamCall, VERSION_HEADER, continue_if_expected, unavailable, upstream_timeout,
};
use crate::header_policy::{connection_listed, forwarded_from_caller, withheld_from_caller};
use crate::http1;
use net::ssrf::CheckedTarget;

/// How long a kept upstream connection may wait for its next call.
pub(crate) const UPSTREAM_IDLE: Duration = Duration::from_secs(60);

/// The peer a call to `target` dials: every phase bounded by the API's `timeout`, kept
/// connections idle at most [`UPSTREAM_IDLE`], HTTP/1.1 only (the framing rules here are
/// HTTP/1's, and most upstreams speak it). Both the streaming lane and in-process calls use it.
pub(crate) fn upstream_peer(target: &CheckedTarget, timeout: Duration) -> HttpPeer {
    let mut peer = HttpPeer::new(target.addr, target.tls, target.host.clone());
    let options = &mut peer.options;
    options.connection_timeout = Some(timeout);
    options.total_connection_timeout = Some(timeout);
    options.read_timeout = Some(timeout);
    options.write_timeout = Some(timeout);
    options.idle_timeout = Some(UPSTREAM_IDLE);
    options.alpn = pingora::protocols::ALPN::H1;
    peer
}

/// How a call ended.
pub(crate) enum Forwarded {
    /// The caller has the upstream's answer, whole.
    Done,
    /// Nothing was written to the caller: answer this error.
    Failed(ApiError),
    /// The answer had begun when the exchange broke: the caller's connection must close.
    Broken,
}

/// What a forwarded call carried, for its record: the answer's status once its head went to
/// the caller (0 before), and the body bytes each way.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    pub(crate) status: u16,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
}

/// Registered API calls, through pingora's connector and its pool of upstream connections.
pub(crate) struct Forwarder {
    connector: Connector,
}

/// The caller's body as it goes upstream.
enum CallerBody {
    None,
    /// Read already (for parameters or a signature) or built from parameters: sent again as
    /// it is when the call is.
    InHand(Bytes),
    /// Read from the caller while it is sent, so sent once.
    Streamed,
}

impl Forwarder {
    pub(crate) fn new(connector: Connector) -> Forwarder {
        Forwarder { connector }
    }

    /// Sends `call` to `target` and relays the answer to `session`, or says why not; counts
    /// what went each way into `traffic`. The upstream gets `traceparent`, the edge's span of
    /// the caller's trace.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn forward(
        &self,
        session: &mut ServerSession,
        call: &UpstreamCall,
        target: &CheckedTarget,
        request_id: &str,
        traceparent: HeaderValue,
        body_deadline: tokio::time::Instant,
        traffic: &mut Traffic,
    ) -> Forwarded {
        let timeout = call.timeout();
        let peer = upstream_peer(target, timeout);

        let body = match &call.request.body {
            Some(bytes) => CallerBody::InHand(bytes.clone()),
            None if session.is_body_empty() => CallerBody::None,
            None => CallerBody::Streamed,
        };
        let head = match upstream_head(session, call, target, request_id, traceparent, &body) {
            Ok(head) => head,
            Err(error) => return Forwarded::Failed(error),
        };
        let idempotent = call.request.method.is_idempotent();
        let mut attempts = 0;
        let mut upstream = loop {
            attempts += 1;
            let (connection, reused) = match self.connector.get_http_session(&peer).await {
                Ok(got) => got,
                Err(e) => return Forwarded::Failed(failure(&e, timeout, "connecting to the upstream failed")),
            };
            let HttpSession::H1(mut upstream) = connection else {
                return Forwarded::Failed(failure_because("the upstream spoke another HTTP version"));
            };
            // Per read and write, as pingora's proxy sets them.
            upstream.read_timeout = Some(timeout);
            upstream.write_timeout = Some(timeout);
            match exchange(&mut upstream, session, head.clone(), &body, body_deadline, &mut traffic.bytes_in).await {
                Ok(()) => break upstream,
                Err(Exchange::Caller) => return Forwarded::Failed(unreadable_caller_body()),
                Err(Exchange::Upstream(e)) => {
                    let again = attempts == 1
                        && reused
                        && idempotent
                        && !matches!(body, CallerBody::Streamed)
                        && nothing_came_back(&e);
                    if again {
                        tracing::debug!(request_id, "a kept upstream connection failed unanswered; sending again: {e}");
                        continue;
                    }
                    return Forwarded::Failed(failure(&e, timeout, "the upstream exchange failed"));
                }
            }
        };
        if let Err(why) = check_answer(&upstream) {
            tracing::info!(request_id, api = call.route_name(), "upstream answer refused: {why}");
            return Forwarded::Failed(failure_because(why));
        }
        let answer = match caller_head(&upstream, session, call, request_id) {
            Ok(answer) => answer,
            Err(error) => return Forwarded::Failed(error),
        };
        traffic.status = answer.status.as_u16();
        // The upstream connection goes back to the pool as soon as its answer is read, before
        // the caller has the end of it: a caller's next call may not find it still taken.
        if upstream.is_body_done() {
            self.release(upstream, &peer).await;
            return match session.write_response_header(Box::new(answer)).await {
                Ok(()) => Forwarded::Done,
                Err(e) => {
                    tracing::debug!(request_id, "cannot send the answer's head: {e}");
                    Forwarded::Broken
                }
            };
        }
        if let Err(e) = session.write_response_header(Box::new(answer)).await {
            tracing::debug!(request_id, "cannot send the answer's head: {e}");
            return Forwarded::Broken;
        }
        loop {
            let bytes = match upstream.read_body_bytes().await {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::info!(request_id, api = call.route_name(), "the upstream answer broke off: {e}");
                    return Forwarded::Broken;
                }
            };
            let done = bytes.is_none() || upstream.is_body_done();
            traffic.bytes_out += bytes.as_ref().map_or(0, |b| b.len() as u64);
            if done {
                self.release(upstream, &peer).await;
                return match session.write_response_body(bytes.unwrap_or_default(), true).await {
                    Ok(()) => Forwarded::Done,
                    Err(e) => {
                        tracing::debug!(request_id, "the caller went away at the answer's end: {e}");
                        Forwarded::Broken
                    }
                };
            }
            if let Err(e) = session.write_response_body(bytes.unwrap_or_default(), false).await {
                tracing::debug!(request_id, "the caller went away mid-answer: {e}");
                return Forwarded::Broken;
            }
        }
    }

    /// Gives a connection whose answer was read back to pingora's pool, which keeps it only
    /// when the answer ended exactly where its framing said.
    async fn release(&self, upstream: Http1Session, peer: &HttpPeer) {
        self.connector.release_http_session(HttpSession::H1(upstream), peer, Some(UPSTREAM_IDLE)).await;
    }
}

/// Why an exchange failed.
enum Exchange {
    /// The caller's body could not be read in time.
    Caller,
    Upstream(Box<Error>),
}

/// Writes the request and its body and reads the answer's head (interim answers skipped).
async fn exchange(
    upstream: &mut Http1Session,
    session: &mut ServerSession,
    head: RequestHeader,
    body: &CallerBody,
    body_deadline: tokio::time::Instant,
    bytes_in: &mut u64,
) -> Result<(), Exchange> {
    upstream.write_request_header(Box::new(head)).await.map_err(Exchange::Upstream)?;
    match body {
        CallerBody::None => {}
        CallerBody::InHand(bytes) => {
            upstream.write_body(bytes).await.map_err(Exchange::Upstream)?;
            *bytes_in = bytes.len() as u64;
        }
        CallerBody::Streamed => {
            continue_if_expected(session).await;
            loop {
                let left = body_deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    return Err(Exchange::Caller);
                }
                session.set_read_timeout(Some(left));
                match tokio::time::timeout(left, session.read_request_body()).await {
                    Ok(Ok(Some(chunk))) => {
                        *bytes_in += chunk.len() as u64;
                        upstream.write_body(&chunk).await.map_err(Exchange::Upstream)?;
                    }
                    Ok(Ok(None)) => break,
                    Ok(Err(_)) | Err(_) => return Err(Exchange::Caller),
                }
            }
        }
    }
    upstream.finish_body().await.map_err(Exchange::Upstream)?;
    loop {
        upstream.read_response().await.map_err(Exchange::Upstream)?;
        match upstream.get_status() {
            Some(status) if status.is_informational() && status != http::StatusCode::SWITCHING_PROTOCOLS => continue,
            _ => return Ok(()),
        }
    }
}

/// The request as it goes upstream: the mapped method, path and query, the checked target's
/// `Host`, the caller's allowed headers, the mapped headers and constants, the edge's request
/// id and `traceparent`, and the body's framing.
fn upstream_head(
    session: &ServerSession,
    call: &UpstreamCall,
    target: &CheckedTarget,
    request_id: &str,
    traceparent: HeaderValue,
    body: &CallerBody,
) -> Result<RequestHeader, ApiError> {
    let request = &call.request;
    let internal = |e: Box<Error>| ApiError::internal(format_args!("building the upstream request: {e}"));
    // Without a case map: a second header map per request, and the upstream reads names
    // case-insensitively (RFC 9110 §5.1).
    let mut head = RequestHeader::build_no_case(request.method.clone(), request.path_and_query.as_bytes(), None)
        .map_err(internal)?;
    let caller = session.req_header();
    let consumed = call.consumed_headers();
    for (name, value) in caller.headers.iter() {
        if forwarded_from_caller(name.as_str().as_bytes(), consumed) {
            head.append_header(name.clone(), value.clone()).map_err(internal)?;
        }
    }
    head.insert_header(header::HOST, target.host_header.as_str()).map_err(internal)?;
    for (name, value) in &request.headers {
        head.insert_header(name.clone(), value.clone()).map_err(internal)?;
    }
    head.insert_header(REQUEST_ID_HEADER, request_id).map_err(internal)?;
    head.insert_header(TRACEPARENT, traceparent).map_err(internal)?;
    match body {
        CallerBody::InHand(bytes) => head.insert_header(header::CONTENT_LENGTH, bytes.len()).map_err(internal)?,
        CallerBody::Streamed => match caller.headers.get(header::CONTENT_LENGTH) {
            Some(length) => head.insert_header(header::CONTENT_LENGTH, length.clone()).map_err(internal)?,
            None => head.insert_header(header::TRANSFER_ENCODING, "chunked").map_err(internal)?,
        },
        // A POST or PUT without a body still says so.
        CallerBody::None if matches!(request.method, Method::POST | Method::PUT | Method::PATCH) => {
            head.insert_header(header::CONTENT_LENGTH, 0).map_err(internal)?
        }
        CallerBody::None => {}
    }
    Ok(head)
}

/// The longest answer head taken from an upstream: pingora's own limit, which it checks only
/// between reads, so a head that arrives in one read could pass it.
const MAX_ANSWER_HEAD: usize = 1024 * 1024 - 1;

/// Refuses an answer whose framing pingora would read one way and a careful reader another:
/// an unasked upgrade, both framings, a length that is not one decimal number; and a head
/// longer than [`MAX_ANSWER_HEAD`], however it arrived.
pub(crate) fn check_answer(upstream: &Http1Session) -> Result<(), &'static str> {
    let Some(answer) = upstream.resp_header() else { return Err("no answer") };
    // The raw head is kept beside the parsed one, so it exists once `resp_header` does.
    if upstream.get_headers_raw_bytes().len() > MAX_ANSWER_HEAD {
        return Err("the upstream's answer head is longer than 1 MiB");
    }
    if answer.status == http::StatusCode::SWITCHING_PROTOCOLS {
        return Err("the upstream switched protocols unasked");
    }
    let mut length: Option<&[u8]> = None;
    for value in answer.headers.get_all(header::CONTENT_LENGTH) {
        if !http1::add_content_length(&mut length, value.as_bytes()) {
            return Err("the upstream's Content-Length is not one decimal number");
        }
    }
    // pingora drops Content-Length when Transfer-Encoding is there too: read the head as sent.
    if answer.headers.contains_key(header::TRANSFER_ENCODING) {
        let raw = upstream.get_headers_raw_bytes();
        let mut slots = [httparse::EMPTY_HEADER; http1::MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut slots);
        if parsed.parse(&raw).is_err()
            || parsed.headers.iter().any(|h| h.name.eq_ignore_ascii_case(header::CONTENT_LENGTH.as_str()))
        {
            return Err("the upstream sent both Content-Length and Transfer-Encoding");
        }
    }
    Ok(())
}

/// The answer's head as the caller gets it: status and end-to-end headers (header_policy.rs),
/// one `Content-Length` or chunked framing for an HTTP/1.1 caller, the version and request id.
fn caller_head(
    upstream: &Http1Session,
    session: &ServerSession,
    call: &UpstreamCall,
    request_id: &str,
) -> Result<ResponseHeader, ApiError> {
    let internal = |e: Box<Error>| ApiError::internal(format_args!("building the answer: {e}"));
    let Some(answer) = upstream.resp_header() else { return Err(unavailable()) };
    // Built as parts and appended to directly: `ResponseHeader::append_header` parses each
    // name again and keeps a second map of its case. Names go out title-cased when pingora
    // knows them and lower-case otherwise (HTTP/2 lower-cases all of them).
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = answer.status;
    parts.headers.reserve(answer.headers.len() + 3);
    let listed: Vec<&[u8]> = connection_listed(answer.headers.get_all(header::CONNECTION).iter().map(|v| v.as_bytes()));
    let mut length: Option<&[u8]> = None;
    for (name, value) in answer.headers.iter() {
        let bytes = name.as_str().as_bytes();
        if *name == header::CONTENT_LENGTH {
            // Checked alike by check_answer; written once.
            let _checked = http1::add_content_length(&mut length, value.as_bytes());
            continue;
        }
        if *name == header::TRANSFER_ENCODING || *name == header::HOST || withheld_from_caller(bytes, &listed) {
            continue;
        }
        parts.headers.append(name.clone(), value.clone());
    }
    let mut head = ResponseHeader::from(parts);
    let head_only = session.req_header().method == Method::HEAD;
    let bodiless = head_only || answer.status == 204 || answer.status == 304;
    // A 204 has no body and says no length (RFC 9110 §8.6).
    if answer.status == 204 {
        length = None;
    }
    match length {
        Some(length) => {
            let value = HeaderValue::from_bytes(length)
                .map_err(|e| internal(Error::because(ErrorType::InternalError, "length", e)))?;
            head.insert_header(header::CONTENT_LENGTH, value).map_err(internal)?;
        }
        // An HTTP/1.1 caller gets a body of unknown length chunked; HTTP/2 frames it itself,
        // an HTTP/1.0 caller reads until the connection closes.
        None if !bodiless && !session.is_http2() && session.req_header().version == http::Version::HTTP_11 => {
            head.insert_header(header::TRANSFER_ENCODING, "chunked").map_err(internal)?;
        }
        None => {}
    }
    head.insert_header(VERSION_HEADER, call.version_header().clone()).map_err(internal)?;
    head.insert_header(REQUEST_ID_HEADER, request_id).map_err(internal)?;
    Ok(head)
}

/// Whether an exchange failed before any byte of an answer arrived: the request could not be
/// written, or the connection closed or broke with nothing read. pingora-core 0.9's v1 client
/// says how much of the head it had read only in its error's text ("bytes already read: N");
/// `corpus/upstream_answers.jsonl` pins that reading (`partial_head_then_close`).
fn nothing_came_back(e: &Error) -> bool {
    match e.etype() {
        ErrorType::WriteError => true,
        ErrorType::ConnectionClosed | ErrorType::ReadError => {
            e.context.as_ref().is_some_and(|context| context.as_str().contains("bytes already read: 0"))
        }
        _ => false,
    }
}

/// The caller-facing error of a failed exchange; never the upstream's address or words.
pub(crate) fn failure(e: &Error, timeout: Duration, what: &str) -> ApiError {
    tracing::info!("{what}: {e}");
    match e.etype() {
        ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => upstream_timeout(timeout),
        _ => unavailable(),
    }
}

fn failure_because(why: &str) -> ApiError {
    tracing::info!("upstream refused: {why}");
    unavailable()
}

/// The caller's streamed body did not arrive in time (or at all).
fn unreadable_caller_body() -> ApiError {
    ApiError::new(ErrorCode::InvalidRequestBody, "the request body could not be read in time")
}
