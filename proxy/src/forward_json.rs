//! A registered API called in process (a workflow's API node): one bounded, non-streaming
//! exchange with its upstream, whose JSON answer becomes the node's result. It goes through the
//! same network policy as the caller-facing lane (`Edge::check_upstream`, then only the checked
//! address is dialled) and pingora's connector; it reads at most [`MAX_ANSWER`] bytes of the
//! answer, and refuses answers whose framing `forward.rs` would refuse. Nothing is relayed to a
//! caller's connection, so no caller header goes upstream: only the mapped ones and constants.

use bytes::BytesMut;
use http::header;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::prelude::*;
use pingora::protocols::http::client::HttpSession;
use plugins::{ApiError, CallOutput, ErrorCode, Forward};

use crate::edge::{REQUEST_ID_HEADER, unavailable, upstream_timeout};
use crate::forward::{UPSTREAM_IDLE, check_answer, failure, upstream_peer};
use net::ssrf::CheckedTarget;

/// The most of an upstream's answer an in-process call reads.
pub const MAX_ANSWER: usize = 1024 * 1024;

/// Sends `forward` to `target` and reads its answer as JSON: `CallOutput::Json` for a 2xx
/// answer, `Upstream.Unavailable` for anything else (a non-2xx status, an answer that is not
/// JSON or longer than [`MAX_ANSWER`]), `Upstream.Timeout` when it takes longer than the API's
/// timeout.
pub(crate) async fn exchange_json(
    connector: &Connector,
    forward: &Forward,
    target: &CheckedTarget,
    request_id: &str,
) -> Result<CallOutput, ApiError> {
    let timeout = forward.upstream.timeout;
    match tokio::time::timeout(timeout, exchange(connector, forward, target, request_id)).await {
        Ok(result) => result,
        Err(_) => Err(upstream_timeout(timeout)),
    }
}

async fn exchange(
    connector: &Connector,
    forward: &Forward,
    target: &CheckedTarget,
    request_id: &str,
) -> Result<CallOutput, ApiError> {
    let timeout = forward.upstream.timeout;
    let peer = upstream_peer(target, timeout);
    let request = &forward.request;
    let internal = |e: Box<Error>| ApiError::internal(format_args!("building the upstream request: {e}"));
    let mut head = RequestHeader::build_no_case(request.method.clone(), request.path_and_query.as_bytes(), None)
        .map_err(internal)?;
    head.insert_header(header::HOST, target.host_header.as_str()).map_err(internal)?;
    for (name, value) in &request.headers {
        head.insert_header(name.clone(), value.clone()).map_err(internal)?;
    }
    head.insert_header(REQUEST_ID_HEADER, request_id).map_err(internal)?;
    head.insert_header(header::ACCEPT, "application/json").map_err(internal)?;
    let body = request.body.clone().unwrap_or_default();
    if !body.is_empty() || matches!(request.method, http::Method::POST | http::Method::PUT | http::Method::PATCH) {
        head.insert_header(header::CONTENT_LENGTH, body.len()).map_err(internal)?;
    }
    let failed = |what: &str, e: Box<Error>| failure(&e, timeout, &format!("in-process upstream call: {what}"));
    // As the caller-facing lane does: a kept connection the upstream closed meanwhile fails
    // before any answer, and an idempotent call may go out once more on a new one.
    let idempotent = request.method.is_idempotent();
    let mut attempts = 0;
    let mut upstream = loop {
        attempts += 1;
        let (connection, reused) = connector.get_http_session(&peer).await.map_err(|e| failed("connecting", e))?;
        let HttpSession::H1(mut upstream) = connection else {
            return Err(unavailable());
        };
        upstream.read_timeout = Some(timeout);
        upstream.write_timeout = Some(timeout);
        match send(&mut upstream, head.clone(), &body).await {
            Ok(()) => break upstream,
            Err(e) if attempts == 1 && reused && idempotent => {
                tracing::debug!("a kept upstream connection failed; sending again: {e}");
            }
            Err(e) => return Err(failed("exchanging", e)),
        }
    };
    if let Err(why) = check_answer(&upstream) {
        tracing::info!("in-process upstream call refused: {why}");
        return Err(unavailable());
    }
    let status = upstream.get_status().map_or(0, |s| s.as_u16());
    let mut answer = BytesMut::new();
    while !upstream.is_body_done() {
        match upstream.read_body_bytes().await.map_err(|e| failed("reading", e))? {
            Some(chunk) if answer.len() + chunk.len() > MAX_ANSWER => {
                return Err(ApiError::new(
                    ErrorCode::UpstreamUnavailable,
                    format!("the upstream's answer is longer than {MAX_ANSWER} bytes"),
                ));
            }
            Some(chunk) => answer.extend_from_slice(&chunk),
            None => break,
        }
    }
    // Read to its end: the connection may serve the next call.
    connector.release_http_session(HttpSession::H1(upstream), &peer, Some(UPSTREAM_IDLE)).await;
    if !(200..300).contains(&status) {
        return Err(ApiError::new(ErrorCode::UpstreamUnavailable, format!("the upstream answered status {status}")));
    }
    match serde_json::from_slice(&answer) {
        Ok(value) => Ok(CallOutput::Json(value)),
        Err(_) => Err(ApiError::new(ErrorCode::UpstreamUnavailable, "the upstream's answer is not JSON")),
    }
}

/// Writes the request and reads the answer's head, interim answers skipped.
async fn send(
    upstream: &mut pingora::protocols::http::v1::client::HttpSession,
    head: RequestHeader,
    body: &[u8],
) -> Result<(), Box<Error>> {
    upstream.write_request_header(Box::new(head)).await?;
    if !body.is_empty() {
        upstream.write_body(body).await?;
    }
    upstream.finish_body().await?;
    loop {
        upstream.read_response().await?;
        match upstream.get_status() {
            Some(status) if status.is_informational() && status != http::StatusCode::SWITCHING_PROTOCOLS => continue,
            _ => return Ok(()),
        }
    }
}
