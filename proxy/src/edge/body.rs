//! Between *route* and *authenticate*: how much of the body a lane reads before the call is
//! served, reading it within the body deadline, and `100 Continue`.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use catalog::model::AuthMode;
use http::header;
use pingora::protocols::http::ServerSession;
use plugins::{ApiError, BodyUse, ErrorCode};

use super::answer::Answer;
use super::{CallHead, Edge, PARAM_BODY_LIMIT, Routed};
use crate::callers::{APP_KEY_HEADER, SIGNATURE_HEADER, missing_credentials};

impl Edge {
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
            let chosen = super::negotiate::choose(head, route.served.plugin.as_ref());
            let media = super::negotiate::error_media(&chosen);
            return Err(Answer::error_in(&missing_credentials(), request_id, media));
        }
        let signed = app_auth && head.headers.contains(&SIGNATURE_HEADER);
        Ok(match route.served.plugin.body_use() {
            BodyUse::Params => Some(self.settings.max_body_bytes),
            BodyUse::Forwarded { .. } if route.reads_upstream_body() || signed => {
                Some(self.settings.max_body_bytes.min(PARAM_BODY_LIMIT))
            }
            BodyUse::Forwarded { .. } => None,
        })
    }
}

/// The refusal of a body over `limit`; the connection closes, the body unread.
pub(crate) fn too_large(limit: usize, request_id: &str) -> Answer {
    let message = format!("the request body is larger than the limit of {limit} bytes");
    Answer::refused(ApiError::new(ErrorCode::PayloadTooLarge, message), request_id)
}

/// The refusal of a body that could not be read to its end; the connection closes.
pub(crate) fn unreadable_body(request_id: &str) -> Answer {
    Answer::refused(ApiError::new(ErrorCode::InvalidRequestBody, "the request body could not be read"), request_id)
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
pub(super) async fn read_body(
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
