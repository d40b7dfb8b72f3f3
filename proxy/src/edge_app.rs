//! The edge's pingora app: one loop per caller connection that reads each request head itself
//! and sends the request down one of two lanes.
//!
//! ```text
//! read the head (within header_timeout_ms) ► httparse ► Edge::answers_in_place?
//!   in place   data APIs and every refusal: pingora's HTTP/1 session only ► Edge::route ►
//!              Edge::serve ► write ► the connection goes round again
//!   proxy      registered APIs (and heads the edge leaves to pingora: CONNECT, absolute-form
//!              targets, anything httparse refuses): pingora's HttpProxy with ProxyLane
//! ```
//!
//! Both lanes get a fresh pingora session that re-reads the head from the bytes read here (its
//! pipelined prefix), so pingora parses each request once and decides framing, keep-alive and
//! malformed input exactly as it always does. The in-place lane skips pingora's proxy machinery
//! (its per-request session, cache and module state), which costs more instructions than a
//! data call's own work; the lane guess is checked again on the parsed head, and a request that
//! turns out to be proxied is handed over from its first byte, before anything was admitted.
//!
//! The head's deadline is total, not per read: pingora's read timeout restarts with every
//! byte, so a client dripping one byte at a time would hold a connection forever. On a kept-alive
//! connection the wait for the next request counts too. The edge speaks HTTP/1 over plain TCP.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use pingora::apps::{HttpServerApp, ServerApp};
use pingora::protocols::Stream;
use pingora::protocols::http::ServerSession;
use pingora::proxy::HttpProxy;
use pingora::server::ShutdownWatch;
use tokio::io::AsyncReadExt;

use crate::edge::{ENV_HEADER, Edge, ProxyLane, new_request_id, write_answer};

/// pingora's limit on a request head; a longer one is refused by pingora (400).
const MAX_HEAD_BYTES: usize = 1_048_575;
/// Headers looked at to pick the lane; a head with more goes down the proxy lane once it is
/// complete.
const LANE_HEADERS: usize = 64;
/// How long a kept-alive connection may wait for its next request (pingora's default).
const KEEPALIVE_SECS: u64 = 60;

/// The edge service: answers in place what it can, proxies the rest through pingora.
pub struct EdgeApp {
    edge: Arc<Edge>,
    proxy: Arc<HttpProxy<ProxyLane>>,
    header_timeout: Duration,
}

impl EdgeApp {
    pub fn new(edge: Arc<Edge>, proxy: HttpProxy<ProxyLane>, header_timeout: Duration) -> EdgeApp {
        EdgeApp { edge, proxy: Arc::new(proxy), header_timeout }
    }

    /// A pingora session that starts by re-reading `head`.
    fn session(stream: Stream, head: BytesMut, shutting_down: bool) -> ServerSession {
        let mut session = ServerSession::new_http1(stream);
        session.set_keepalive(if shutting_down { None } else { Some(KEEPALIVE_SECS) });
        session.set_pipelined_prefix(head);
        session
    }

    /// Serves one request in place; the connection back when it may carry another. A request
    /// whose route turns out to be proxied goes to the proxy lane from its first byte.
    async fn serve_in_place(&self, stream: Stream, head: BytesMut, shutdown: &ShutdownWatch) -> Option<Stream> {
        let shutting_down = *shutdown.borrow();
        // A copy of the head for the hand-over: a few hundred bytes, seldom used.
        let mut session = Self::session(stream, BytesMut::from(&head[..]), shutting_down);
        match session.read_request().await {
            Ok(true) => {}
            // The guess read a head pingora does not: let the proxy lane refuse it its way.
            Err(_) => return self.hand_over(session, head, shutdown).await,
            Ok(false) => return None,
        }
        let request_id = new_request_id();
        let answer = match self.edge.route(&session, &request_id) {
            Ok(routed) if !routed.answered_in_place() => return self.hand_over(session, head, shutdown).await,
            Ok(routed) => self.edge.answer_in_place(&mut session, &request_id, routed).await,
            Err(answer) => answer,
        };
        drop(head);
        if let Err(e) = write_answer(&mut session, &request_id, answer).await {
            tracing::debug!("cannot send the answer: {e}");
            return None;
        }
        match session.finish().await {
            // No bytes past the request are carried over: pipelining is off (pingora's default),
            // so a caller that sent them gets its connection closed after this answer.
            Ok(Some(reusable)) => Some(reusable.into_parts().0),
            Ok(None) => None,
            Err(e) => {
                tracing::debug!("connection not reusable: {e}");
                None
            }
        }
    }

    /// Gives a request whose head `session` has read to the proxy lane, which reads it again.
    async fn hand_over(&self, session: ServerSession, head: BytesMut, shutdown: &ShutdownWatch) -> Option<Stream> {
        let ServerSession::H1(h1) = session else { return None };
        self.proxy_lane(h1.into_inner(), head, shutdown).await
    }

    async fn proxy_lane(&self, stream: Stream, head: BytesMut, shutdown: &ShutdownWatch) -> Option<Stream> {
        let session = Self::session(stream, head, *shutdown.borrow());
        let reused = self.proxy.process_new_http(session, shutdown).await?;
        // Its persistent settings are this loop's own (keep-alive, no pipelining).
        Some(reused.consume().0)
    }

    /// Which lane the head in `buf` goes down; `None` while it is incomplete. Bytes from
    /// `new_from` on arrived with the last read.
    fn lane(&self, buf: &[u8], new_from: usize) -> Option<Lane> {
        let mut headers = [httparse::EMPTY_HEADER; LANE_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(buf) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => return None,
            // Too many headers to look at, or malformed: pingora's proxy decides, but only
            // once the head is all here, so that it never reads a head past the deadline.
            Ok(httparse::Status::Partial) | Err(_) => {
                let ended = head_ends(&buf[new_from.saturating_sub(3)..]) || buf.len() > MAX_HEAD_BYTES;
                return ended.then_some(Lane::Proxy);
            }
        }
        let env = request.headers.iter().find(|h| h.name.eq_ignore_ascii_case(ENV_HEADER.as_str())).map(|h| h.value);
        let in_place = self.edge.answers_in_place(request.method.unwrap_or(""), request.path.unwrap_or(""), env);
        Some(if in_place { Lane::InPlace } else { Lane::Proxy })
    }

    /// Reads until the head in `buf` is complete, within the header deadline. `None` when the
    /// caller hung up, missed the deadline, or the server is shutting down.
    async fn read_head(&self, stream: &mut Stream, buf: &mut BytesMut, shutdown: &mut ShutdownWatch) -> Option<Lane> {
        let read = async {
            loop {
                let new_from = buf.len();
                match stream.read_buf(buf).await {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!("reading a request head failed: {e}");
                        return None;
                    }
                }
                // A head ends with a line: no need to look again before one arrives.
                if buf[new_from..].contains(&b'\n')
                    && let Some(lane) = self.lane(buf, new_from)
                {
                    return Some(lane);
                }
            }
        };
        let deadline = self.header_timeout.min(Duration::from_secs(KEEPALIVE_SECS));
        tokio::select! {
            biased;
            lane = tokio::time::timeout(deadline, read) => match lane {
                Ok(lane) => lane,
                Err(_) => {
                    tracing::debug!(?deadline, "request head not received in time; closing the connection");
                    None
                }
            },
            // A connection waiting for its next request is let go when the server stops.
            _ = shutdown.changed() => None,
        }
    }
}

/// Whether `bytes` hold the blank line that ends a head (CRLF or bare LF line ends).
fn head_ends(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| w == b"\r\n\r\n") || bytes.windows(2).any(|w| w == b"\n\n")
}

/// Where a request is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    InPlace,
    Proxy,
}

#[async_trait]
impl ServerApp for EdgeApp {
    async fn process_new(self: &Arc<Self>, stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        let mut stream = stream;
        let mut watch = shutdown.clone();
        loop {
            let mut head = BytesMut::with_capacity(4096);
            let lane = self.read_head(&mut stream, &mut head, &mut watch).await?;
            let next = match lane {
                Lane::InPlace => self.serve_in_place(stream, head, shutdown).await,
                Lane::Proxy => self.proxy_lane(stream, head, shutdown).await,
            };
            stream = next?;
        }
    }

    async fn cleanup(&self) {
        self.proxy.http_cleanup().await;
    }
}
