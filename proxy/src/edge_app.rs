//! The edge's pingora app: one loop per caller connection that reads each HTTP/1 request head
//! itself and sends the request down one of two lanes; HTTP/2 connections (ALPN `h2` on the
//! TLS listener) go to pingora's HTTP/2 server, whose streams take the session lane.
//!
//! ```text
//! read the head (byte cap on every read, blank line looked for in new bytes only, one total
//! deadline) ► http1::parse (refusals: 400/431 in the envelope, connection closed) ► Lane
//!   in place   a data API's call or a refusal, with no body or a Content-Length one: read by
//!              the edge itself (CallHead + body within the body deadline) ► Edge::route ►
//!              Edge::serve ► the answer in one write ► the connection goes round again
//!   session    everything else — registered APIs, chunked bodies, Expect, absolute-form
//!              targets: session_lane.rs, on a pingora session given every byte read so
//!              far, which reads the (already accepted) head again
//! ```
//!
//! The in-place lane skips pingora's session for the calls that need none of it (a second
//! parse, header maps). Registered APIs always go through pingora's session and its HTTP/1
//! client and connection pool (forward.rs). Pipelining stays off: bytes past a request close
//! the connection after its answer.
//!
//! Deadlines are total, not per read: a client dripping one byte at a time would hold a
//! connection forever otherwise. The head's covers the wait for it on a kept-alive connection
//! too; a body's starts when its head is read.

use std::net::IpAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::Method;
use pingora::apps::{HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::{ALPN, Stream};
use pingora::server::ShutdownWatch;
use plugins::{ApiError, ErrorCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Sleep;

use crate::edge::{
    Answer, CallFacts, CallHead, ENV_HEADER, Edge, Outcome, Refused, Routed, TRACEPARENT, encode_answer,
    new_request_id, too_large, unreadable_body,
};
use crate::http1::{self, Framing, Head, MAX_HEAD_BYTES, Target};
use crate::request_headers::RequestHeaders;
use crate::session_lane::SessionLane;

/// How long a kept-alive connection may wait for its next request (pingora's default).
const KEEPALIVE_SECS: u64 = 60;
/// Room made in the head buffer before each read.
const READ_SIZE: usize = 4096;

/// The edge service: answers in place what it can, proxies the rest through pingora.
pub struct EdgeApp {
    edge: Arc<Edge>,
    session_lane: Arc<SessionLane>,
    header_timeout: Duration,
    body_timeout: Duration,
}

/// Where a request goes, decided on its complete, accepted head.
enum Lane {
    InPlace(Box<InPlace>),
    /// Refused (400 or 431), and the connection closes.
    Refused(ApiError),
    /// Read again and answered by pingora's session (session_lane.rs).
    Session,
}

/// A request read in place: its head, and its route, looked up once on the raw head.
struct InPlace {
    head: Head,
    routed: Result<Routed, Refused>,
}

/// Why no head was read.
enum NoHead {
    /// The caller hung up, missed the deadline, or the server is stopping.
    Gone,
    /// Too many bytes without a blank line.
    TooLarge,
}

impl EdgeApp {
    pub fn new(
        edge: Arc<Edge>,
        session_lane: SessionLane,
        header_timeout: Duration,
        body_timeout: Duration,
    ) -> EdgeApp {
        EdgeApp { edge, session_lane: Arc::new(session_lane), header_timeout, body_timeout }
    }

    /// The deadline of a head, from the wait for it.
    fn header_deadline(&self) -> Duration {
        self.header_timeout.min(Duration::from_secs(KEEPALIVE_SECS))
    }

    /// Serves one request in place; the connection back when it may carry another.
    async fn serve_in_place(
        &self,
        mut stream: Stream,
        mut buf: BytesMut,
        head: &Head,
        routed: Result<Routed, Refused>,
        peer: Option<IpAddr>,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let _in_flight = self.edge.drain.in_flight();
        let request_id = new_request_id();
        let mut facts = CallFacts::begin(peer, call_head(head, &buf, peer).headers.get(&TRACEPARENT));
        let Framing::Length(length) = head.framing else { return None };
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        let mut body_read = length == 0;
        if let Ok(routed) = &routed {
            routed.note(&mut facts);
        }
        let answer = match routed {
            Ok(routed) => match self.edge.body_limit(&call_head(head, &buf, peer), &routed, &request_id) {
                Ok(Some(limit)) if length > limit => too_large(limit, &request_id),
                Ok(limit) => {
                    let body = match limit {
                        Some(_) => match self.read_body(&mut stream, &mut buf, head.len, length).await {
                            Ok(body) => {
                                body_read = true;
                                Some(body)
                            }
                            Err(BodyUnread::Gone) => return None,
                            Err(BodyUnread::Late) => {
                                let answer = unreadable_body(&request_id);
                                return self.write(stream, head, &request_id, answer, false, &facts).await;
                            }
                        },
                        None => None,
                    };
                    let call = call_head(head, &buf, peer);
                    match self.edge.serve_in_place(&call, &request_id, routed, body, &mut facts).await {
                        Outcome::Answer(answer) => answer,
                        // The lane was chosen on this route: it has no registered version.
                        Outcome::Proxy(_) => {
                            tracing::error!(request_id, "a registered API's call reached the in-place lane");
                            Answer::refused(
                                ApiError::new(ErrorCode::InternalError, "an internal error occurred"),
                                &request_id,
                            )
                        }
                    }
                }
                Err(answer) => answer,
            },
            Err(refused) => refused.answer(&request_id),
        };
        // Bytes past the request (pipelining is off) or a body left unread: close after this.
        let in_step = body_read && buf.len() == head.len + length;
        let keep_alive = head.keep_alive && in_step && !*shutdown.borrow() && !self.edge.drain.stopping();
        self.write(stream, head, &request_id, answer, keep_alive, &facts).await
    }

    /// Writes `answer` and records the call; the connection back when it is kept alive.
    async fn write(
        &self,
        mut stream: Stream,
        head: &Head,
        request_id: &str,
        answer: Answer,
        keep_alive: bool,
        facts: &CallFacts,
    ) -> Option<Stream> {
        let keep_alive = keep_alive && !answer.closes();
        let head_only = head.method == Method::HEAD;
        let record = answer.written(head_only);
        let bytes = encode_answer(answer, request_id, head_only, keep_alive);
        let written = async {
            stream.write_all(&bytes).await?;
            stream.flush().await
        };
        let sent = written.await;
        self.edge.record(facts, request_id, record);
        if let Err(e) = sent {
            tracing::debug!("cannot send the answer: {e}");
            return None;
        }
        if !keep_alive {
            // A TLS caller gets close_notify, so the end of the answer is not taken for a cut.
            let _ = stream.shutdown().await;
            return None;
        }
        Some(stream)
    }

    /// Reads the rest of a Content-Length body (`length` bytes after the `head_len` bytes of
    /// the head) into `buf` within the body deadline.
    async fn read_body(
        &self,
        stream: &mut Stream,
        buf: &mut BytesMut,
        head_len: usize,
        length: usize,
    ) -> Result<Bytes, BodyUnread> {
        let end = head_len + length;
        let read = async {
            while buf.len() < end {
                buf.reserve(end - buf.len());
                match stream.read_buf(buf).await {
                    Ok(0) | Err(_) => return Err(BodyUnread::Gone),
                    Ok(_) => {}
                }
            }
            Ok(())
        };
        match tokio::time::timeout(self.body_timeout, read).await {
            Ok(Ok(())) => Ok(Bytes::copy_from_slice(&buf[head_len..end])),
            Ok(Err(gone)) => Err(gone),
            Err(_) => Err(BodyUnread::Late),
        }
    }

    /// Hands the connection to the session lane, whose pingora session reads the request
    /// again from `head` (every byte read so far).
    async fn session_lane(&self, stream: Stream, head: BytesMut, shutdown: &ShutdownWatch) -> Option<Stream> {
        let mut session = ServerSession::new_http1(stream);
        let stopping = *shutdown.borrow() || self.edge.drain.stopping();
        session.set_keepalive(if stopping { None } else { Some(KEEPALIVE_SECS) });
        session.set_pipelined_prefix(head);
        let reused = self.session_lane.process_new_http(session, shutdown).await?;
        // Its persistent settings are this loop's own (keep-alive, no pipelining).
        Some(reused.consume().0)
    }

    /// Which lane an accepted head goes down.
    fn lane(&self, buf: &[u8], len: usize) -> Lane {
        let head = match http1::parse(buf, len) {
            Ok(head) => head,
            Err(refusal) => return Lane::Refused(refusal.0),
        };
        let Target::Origin(target) = &head.target else { return Lane::Session };
        if head.framing == Framing::Chunked || head.expects {
            return Lane::Session;
        }
        let env = RequestHeaders::Spans { head: &buf[..len], spans: &head.headers }.get(&ENV_HEADER);
        let routed = self.edge.route(&head.method, target.path(), env);
        if routed.as_ref().is_ok_and(Routed::reaches_upstream) {
            return Lane::Session;
        }
        Lane::InPlace(Box::new(InPlace { head, routed }))
    }

    /// Reads until a head is complete in `buf`, before `deadline` (the header deadline): the
    /// head's length. The byte cap is checked on every read and the blank line looked for only
    /// in the bytes each read brought. Both waits belong to the connection and are kept from
    /// request to request, so waiting for the next head arms no new timer or shutdown watch.
    async fn read_head(
        &self,
        stream: &mut Stream,
        buf: &mut BytesMut,
        deadline: Pin<&mut Sleep>,
        stop: Pin<&mut impl Future>,
    ) -> Result<usize, NoHead> {
        let read = async {
            loop {
                let new_from = buf.len();
                if buf.capacity() - buf.len() < READ_SIZE / 4 {
                    buf.reserve(READ_SIZE);
                }
                match stream.read_buf(buf).await {
                    Ok(0) => return Err(NoHead::Gone),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!("reading a request head failed: {e}");
                        return Err(NoHead::Gone);
                    }
                }
                if let Some(len) = http1::head_end(buf, new_from) {
                    return if len > MAX_HEAD_BYTES { Err(NoHead::TooLarge) } else { Ok(len) };
                }
                if buf.len() > MAX_HEAD_BYTES {
                    return Err(NoHead::TooLarge);
                }
            }
        };
        tokio::select! {
            biased;
            head = read => head,
            _ = deadline => {
                tracing::debug!(deadline = ?self.header_deadline(), "request head not received in time; closing the connection");
                Err(NoHead::Gone)
            }
            // A connection waiting for its next request is let go when the server stops.
            _ = stop => Err(NoHead::Gone),
        }
    }

    /// Answers a refused head, records it and closes.
    async fn refuse(&self, mut stream: Stream, error: ApiError, peer: Option<IpAddr>) -> Option<Stream> {
        let facts = CallFacts::begin(peer, None);
        let request_id = new_request_id();
        let answer = Answer::refused(error, &request_id);
        let record = answer.written(false);
        let bytes = encode_answer(answer, &request_id, false, false);
        let _ = stream.write_all(&bytes).await;
        let _ = stream.flush().await;
        let _ = stream.shutdown().await;
        self.edge.record(&facts, &request_id, record);
        None
    }
}

/// What the edge reads of an in-place head, from `buf`, the buffer it was read into.
fn call_head<'a>(head: &'a Head, buf: &'a [u8], peer: Option<IpAddr>) -> CallHead<'a> {
    let (path, query) = match &head.target {
        Target::Origin(target) => (target.path(), target.query().unwrap_or("")),
        Target::Other => ("", ""),
    };
    CallHead {
        method: &head.method,
        path,
        query,
        headers: RequestHeaders::Spans { head: buf.get(..head.len).unwrap_or_default(), spans: &head.headers },
        peer,
    }
}

/// Why an in-place body was not read.
enum BodyUnread {
    /// The caller hung up.
    Gone,
    /// Not all of it came within the deadline.
    Late,
}

#[async_trait]
impl ServerApp for EdgeApp {
    async fn process_new(self: &Arc<Self>, stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        if matches!(stream.selected_alpn_proto(), Some(ALPN::H2)) {
            // pingora's HTTP/2 server: each stream is a request of the session lane.
            return ServerApp::process_new(&self.session_lane, stream, shutdown).await;
        }
        let mut stream = stream;
        // Waiting for a head ends when the server stops: at SIGTERM (drain.rs), or when
        // pingora stops the services.
        let mut stopping = self.edge.drain.watch();
        let mut watch = shutdown.clone();
        let stop = async move {
            tokio::select! {
                _ = stopping.wait_for(|stop| *stop) => {}
                _ = watch.changed() => {}
            }
        };
        let mut stop = pin!(stop);
        let mut deadline = pin!(tokio::time::sleep(self.header_deadline()));
        let peer = stream.get_socket_digest().and_then(|d| d.peer_addr().and_then(|a| a.as_inet()).map(|a| a.ip()));
        loop {
            let mut buf = BytesMut::with_capacity(READ_SIZE);
            deadline.as_mut().reset(tokio::time::Instant::now() + self.header_deadline());
            let len = match self.read_head(&mut stream, &mut buf, deadline.as_mut(), stop.as_mut()).await {
                Ok(len) => len,
                Err(NoHead::Gone) => return None,
                Err(NoHead::TooLarge) => return self.refuse(stream, http1::too_large().0, peer).await,
            };
            let next = match self.lane(&buf, len) {
                Lane::InPlace(in_place) => {
                    let InPlace { head, routed } = *in_place;
                    self.serve_in_place(stream, buf, &head, routed, peer, shutdown).await
                }
                Lane::Session => self.session_lane(stream, buf, shutdown).await,
                Lane::Refused(error) => self.refuse(stream, error, peer).await,
            };
            stream = next?;
        }
    }
}
