//! The edge's pingora app: one loop per caller connection that reads each request head itself
//! and sends the request down one of two lanes.
//!
//! ```text
//! read the head (within header_timeout_ms) ► httparse ► Lane
//!   in place   a common HTTP/1.x head: the edge's own framing (CallHead + Content-Length
//!              body) ► Edge::route ► Edge::serve ► a data API's answer in one write, or a
//!              registered API's call forwarded upstream (upstream.rs) ► the connection goes
//!              round again
//!   refused    a head no lane may read (two Hosts, a bad Content-Length, a malformed header
//!              line, …): 400 with the error envelope, and the connection closes
//!   proxy      heads left to pingora (chunked bodies, Expect, CONNECT, absolute-form targets,
//!              over 64 headers, request lines pingora repairs; registered APIs called over
//!              HTTP/1.0): pingora's HttpProxy with ProxyLane, which reads the head again
//! ```
//!
//! The in-place lane reads only heads whose framing is unambiguous: HTTP/1.0 or 1.1, an
//! origin-form target, one Host, no Transfer-Encoding, at most one Content-Length value (and
//! HTTP/1.1 for a registered API, whose answer may come chunked). Any other head goes to
//! pingora with every byte read so far, before anything was admitted, and pingora decides
//! framing, keep-alive and malformed input its own way. The in-place lane skips pingora's
//! session and proxy machinery (a second parse, its header maps, per-request state, a task per
//! kept upstream connection), which cost more instructions than a call's own work. Pipelining
//! stays off in both lanes: bytes past a request close the connection after its answer.
//!
//! The head's deadline is total, not per read: a client dripping one byte at a time would hold
//! a connection forever otherwise. On a kept-alive connection the wait for the next request
//! counts too; an in-place body has the same deadline again. The edge speaks HTTP/1 over TCP.

use std::net::IpAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::Method;
use http::uri::PathAndQuery;
use pingora::apps::{HttpServerApp, ServerApp};
use pingora::protocols::Stream;
use pingora::protocols::http::ServerSession;
use pingora::proxy::HttpProxy;
use pingora::server::ShutdownWatch;
use plugins::ApiError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Sleep;

use crate::edge::{
    Answer, CallHead, ENV_HEADER, Edge, Outcome, ProxyLane, Refused, Routed, UpstreamCall, VERSION_HEADER,
    conflicting_framing, encode_answer, new_request_id, too_large, unreadable_body,
};
use crate::http1;
use crate::request_headers::{HeaderSpan, RequestHeaders};
use crate::upstream::{CallerSide, Failure, UpstreamPool, forward};

/// pingora's limit on a request head; a longer one is refused by pingora (400).
const MAX_HEAD_BYTES: usize = 1_048_575;
/// Headers the edge reads itself; a head with more goes down the proxy lane once complete.
const LANE_HEADERS: usize = 64;
/// How long a kept-alive connection may wait for its next request (pingora's default).
const KEEPALIVE_SECS: u64 = 60;

/// The edge service: answers in place what it can, proxies the rest through pingora.
pub struct EdgeApp {
    edge: Arc<Edge>,
    proxy: Arc<HttpProxy<ProxyLane>>,
    /// Kept connections of registered API calls forwarded in place.
    upstreams: Arc<UpstreamPool>,
    header_timeout: Duration,
}

/// Where a request goes, decided on its complete head.
enum Lane {
    InPlace(Box<InPlace>),
    /// Refused (400), and the connection closes.
    Refused(ApiError),
    Proxy,
}

/// A request read in place: its head, and its route, looked up once on the raw head.
struct InPlace {
    head: OwnHead,
    routed: Result<Routed, Refused>,
}

/// A head the in-place lane reads. Its headers are spans into the first `len` bytes of the
/// buffer it came from, which goes on to hold the body after them.
struct OwnHead {
    method: Method,
    target: PathAndQuery,
    headers: Vec<HeaderSpan>,
    /// Bytes of the head in the buffer: the body starts there.
    len: usize,
    content_length: usize,
    /// Whether the caller lets the connection carry another request.
    keep_alive: bool,
}

impl EdgeApp {
    pub fn new(
        edge: Arc<Edge>,
        proxy: HttpProxy<ProxyLane>,
        upstreams: Arc<UpstreamPool>,
        header_timeout: Duration,
    ) -> EdgeApp {
        EdgeApp { edge, proxy: Arc::new(proxy), upstreams, header_timeout }
    }

    /// The deadline of a head (from the wait for it) and of an in-place body.
    fn deadline(&self) -> Duration {
        self.header_timeout.min(Duration::from_secs(KEEPALIVE_SECS))
    }

    /// Serves one request in place; the connection back when it may carry another.
    async fn serve_in_place(
        &self,
        mut stream: Stream,
        mut buf: BytesMut,
        own: &OwnHead,
        routed: Result<Routed, Refused>,
        peer: Option<IpAddr>,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let request_id = new_request_id();
        let mut body_read = own.content_length == 0;
        let answer = match routed {
            Ok(routed) => match self.edge.body_limit(&own.call_head(&buf, peer), &routed, &request_id) {
                Ok(Some(limit)) if own.content_length > limit => too_large(limit, &request_id),
                Ok(limit) => {
                    let body = match limit {
                        Some(_) => match self.read_body(&mut stream, &mut buf, own).await {
                            Ok(body) => {
                                body_read = true;
                                Some(body)
                            }
                            Err(BodyUnread::Gone) => return None,
                            Err(BodyUnread::Late) => {
                                let answer = unreadable_body(&request_id);
                                return self.write(stream, own, &request_id, answer, false).await;
                            }
                        },
                        None => None,
                    };
                    let head = own.call_head(&buf, peer);
                    match self.edge.serve_in_place(&head, &request_id, routed, body).await {
                        Outcome::Answer(answer) => answer,
                        Outcome::Proxy(call) => {
                            return self.forward(stream, buf, own, &call, &request_id, shutdown).await;
                        }
                    }
                }
                Err(answer) => answer,
            },
            Err(refused) => refused.answer(&request_id),
        };
        // Bytes past the request (pipelining is off) or a body left unread: close after this.
        let in_step = body_read && buf.len() == own.len + own.content_length;
        let keep_alive = own.keep_alive && in_step && !*shutdown.borrow();
        self.write(stream, own, &request_id, answer, keep_alive).await
    }

    /// Forwards a registered API's call upstream and relays the answer (its body, when not
    /// read already, streams through); the connection back when it may carry another request.
    async fn forward(
        &self,
        mut stream: Stream,
        buf: BytesMut,
        own: &OwnHead,
        call: &UpstreamCall,
        request_id: &str,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let failed = |error: plugins::ApiError| {
            Answer::refused(error, request_id).with_header(VERSION_HEADER, call.version_header().clone())
        };
        let target = match self.edge.upstream_target(call).await {
            Ok(target) => target,
            Err(refused) => return self.write(stream, own, request_id, failed(refused.error), false).await,
        };
        let caller = CallerSide {
            stream: &mut stream,
            buf: &buf,
            head_len: own.len,
            headers: own.call_head(&buf, None).headers,
            content_length: own.content_length,
            head_only: own.method == Method::HEAD,
            body_deadline: self.deadline(),
        };
        match forward(&self.upstreams, caller, &call.outbound(&target, request_id)).await {
            Ok(reusable) => (reusable && own.keep_alive && !*shutdown.borrow()).then_some(stream),
            Err(Failure::Answer(error)) => self.write(stream, own, request_id, failed(error), false).await,
            Err(Failure::BodyLate) => self.write(stream, own, request_id, unreadable_body(request_id), false).await,
            Err(Failure::Closed) => {
                tracing::debug!(api = call.api_name(), request_id, "upstream call ended early; closing");
                None
            }
        }
    }

    /// Writes `answer`; the connection back when it is kept alive.
    async fn write(
        &self,
        mut stream: Stream,
        own: &OwnHead,
        request_id: &str,
        answer: Answer,
        keep_alive: bool,
    ) -> Option<Stream> {
        let keep_alive = keep_alive && !answer.closes();
        let bytes = encode_answer(answer, request_id, own.method == Method::HEAD, keep_alive);
        let written = async {
            stream.write_all(&bytes).await?;
            stream.flush().await
        };
        if let Err(e) = written.await {
            tracing::debug!("cannot send the answer: {e}");
            return None;
        }
        keep_alive.then_some(stream)
    }

    /// Reads the rest of an in-place body (Content-Length bytes after the head) into `buf`
    /// within the deadline.
    async fn read_body(&self, stream: &mut Stream, buf: &mut BytesMut, own: &OwnHead) -> Result<Bytes, BodyUnread> {
        let end = own.len + own.content_length;
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
        match tokio::time::timeout(self.deadline(), read).await {
            Ok(Ok(())) => Ok(Bytes::copy_from_slice(&buf[own.len..end])),
            Ok(Err(gone)) => Err(gone),
            Err(_) => Err(BodyUnread::Late),
        }
    }

    /// Hands the connection to pingora's proxy, which reads the request again from `head`
    /// (every byte read so far).
    async fn proxy_lane(&self, stream: Stream, head: BytesMut, shutdown: &ShutdownWatch) -> Option<Stream> {
        let mut session = ServerSession::new_http1(stream);
        session.set_keepalive(if *shutdown.borrow() { None } else { Some(KEEPALIVE_SECS) });
        session.set_pipelined_prefix(head);
        let reused = self.proxy.process_new_http(session, shutdown).await?;
        // Its persistent settings are this loop's own (keep-alive, no pipelining).
        Some(reused.consume().0)
    }

    /// Which lane the head in `buf` goes down; `None` while it is incomplete. Bytes from
    /// `new_from` on arrived with the last read.
    fn lane(&self, buf: &[u8], new_from: usize) -> Option<Lane> {
        let mut headers = [httparse::EMPTY_HEADER; LANE_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let len = match request.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => return None,
            // Decided only once the head is all here, so that the caller reads the answer and
            // pingora never reads a head past the deadline.
            Ok(httparse::Status::Partial) | Err(_) if !head_ends(&buf[new_from.saturating_sub(3)..]) => {
                return (buf.len() > MAX_HEAD_BYTES).then_some(Lane::Proxy);
            }
            Ok(httparse::Status::Partial) => return Some(Lane::Proxy),
            // A version that is no HTTP/1.x in a request line of three parts: nothing to repair.
            Err(httparse::Error::Version) if request_line_parts(buf) == 3 => {
                return Some(refused("the HTTP version must be HTTP/1.0 or HTTP/1.1"));
            }
            // Too many headers to look at; a request line pingora may repair by escaping it.
            Err(httparse::Error::TooManyHeaders | httparse::Error::Token | httparse::Error::Version) => {
                return Some(Lane::Proxy);
            }
            Err(_) => return Some(refused("a header line is malformed")),
        };
        let (Some(method), Some(target)) = (request.method, request.path) else { return Some(Lane::Proxy) };
        // CONNECT, absolute-form and `*` targets, and fragments (which pingora's URI drops) are
        // pingora's; so is an unknown method's token.
        let Ok(method) = Method::from_bytes(method.as_bytes()) else { return Some(Lane::Proxy) };
        if method == Method::CONNECT || !target.starts_with('/') || target.contains('#') {
            return Some(Lane::Proxy);
        }
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        let env = request.headers.iter().find(|h| h.name.eq_ignore_ascii_case(ENV_HEADER.as_str())).map(|h| h.value);
        let routed = self.edge.route(&method, path, env);
        // An HTTP/1.0 caller cannot take a chunked answer: pingora's proxy reframes it.
        if request.version != Some(1) && routed.as_ref().is_ok_and(Routed::reaches_upstream) {
            return Some(Lane::Proxy);
        }
        Some(match own_head(&request, buf, len, method) {
            Ok(head) => Lane::InPlace(Box::new(InPlace { head, routed })),
            Err(lane) => lane,
        })
    }

    /// Reads until the head in `buf` is complete, before `deadline` (the header deadline).
    /// `None` when the caller hung up, missed the deadline, or the server is stopping (`stop`).
    /// Both waits belong to the connection and are kept from request to request, so waiting
    /// for the next head arms no new timer or shutdown watch.
    async fn read_head(
        &self,
        stream: &mut Stream,
        buf: &mut BytesMut,
        deadline: Pin<&mut Sleep>,
        stop: Pin<&mut impl Future>,
    ) -> Option<Lane> {
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
        tokio::select! {
            biased;
            lane = read => lane,
            _ = deadline => {
                tracing::debug!(deadline = ?self.deadline(), "request head not received in time; closing the connection");
                None
            }
            // A connection waiting for its next request is let go when the server stops.
            _ = stop => None,
        }
    }
}

impl OwnHead {
    /// What the edge reads of this head, from `buf`, the buffer it was read into.
    fn call_head<'a>(&'a self, buf: &'a [u8], peer: Option<IpAddr>) -> CallHead<'a> {
        CallHead {
            method: &self.method,
            path: self.target.path(),
            query: self.target.query().unwrap_or(""),
            headers: RequestHeaders::Spans { head: buf.get(..self.len).unwrap_or_default(), spans: &self.headers },
            peer,
        }
    }
}

/// Why an in-place body was not read.
enum BodyUnread {
    /// The caller hung up.
    Gone,
    /// Not all of it came within the deadline.
    Late,
}

/// The in-place lane's reading of a complete head of `method`: its own when the framing is
/// unambiguous; otherwise a refusal when no lane may read it, or pingora's lane.
fn own_head(request: &httparse::Request<'_, '_>, buf: &[u8], len: usize, method: Method) -> Result<OwnHead, Lane> {
    let (Some(target), Some(version)) = (request.path, request.version) else { return Err(Lane::Proxy) };
    let Ok(target) = PathAndQuery::try_from(target) else { return Err(Lane::Proxy) };
    let mut headers = Vec::with_capacity(request.headers.len());
    let mut content_length: Option<&[u8]> = None;
    let (mut hosts, mut chunked, mut close, mut keep) = (0, None, false, false);
    for header in request.headers.iter() {
        // httparse checked the name is a token and the value holds no control byte but tab
        // (nor DEL), as the `http` types would: the spans need no checks of their own.
        let name = header.name.as_bytes();
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if hosts > 1 {
                return Err(refused("send one Host header"));
            }
            if header.value.contains(&b'@') {
                return Err(refused("the Host header must not carry user information"));
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            if http1::add_content_length(&mut content_length, header.value).is_err() {
                return Err(refused("Content-Length must be one decimal number of bytes"));
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = Some(http1::ends_chunked(header.value));
        } else if name.eq_ignore_ascii_case(b"expect") {
            return Err(Lane::Proxy);
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in http1::connection_tokens(header.value) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        headers.push(HeaderSpan::within(buf, name, header.value));
    }
    match chunked {
        Some(_) if content_length.is_some() => return Err(Lane::Refused(conflicting_framing())),
        Some(_) if version == 0 => return Err(refused("HTTP/1.0 requests cannot use Transfer-Encoding")),
        Some(false) => return Err(refused("the last Transfer-Encoding must be chunked")),
        // A chunked body: pingora reads it.
        Some(true) => return Err(Lane::Proxy),
        None => {}
    }
    let content_length = http1::content_length(content_length).map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let keep_alive = !close && (version == 1 || keep);
    Ok(OwnHead { method, target, headers, len, content_length, keep_alive })
}

/// How many parts the request line in `buf` has, split at spaces.
fn request_line_parts(buf: &[u8]) -> usize {
    let line = buf.split(|&b| b == b'\n').next().unwrap_or(buf);
    line.trim_ascii().split(|&b| b == b' ').count()
}

/// A head refused as unreadable: 400 `InvalidRequest`, saying why.
fn refused(why: &str) -> Lane {
    Lane::Refused(ApiError::new("InvalidRequest", 400, why))
}

/// Whether `bytes` hold the blank line that ends a head (CRLF or bare LF line ends).
fn head_ends(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| w == b"\r\n\r\n") || bytes.windows(2).any(|w| w == b"\n\n")
}

#[async_trait]
impl ServerApp for EdgeApp {
    async fn process_new(self: &Arc<Self>, stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        let mut stream = stream;
        let mut watch = shutdown.clone();
        let mut stop = pin!(watch.changed());
        let mut deadline = pin!(tokio::time::sleep(self.deadline()));
        let peer = stream.get_socket_digest().and_then(|d| d.peer_addr().and_then(|a| a.as_inet()).map(|a| a.ip()));
        loop {
            let mut buf = BytesMut::with_capacity(4096);
            deadline.as_mut().reset(tokio::time::Instant::now() + self.deadline());
            let lane = self.read_head(&mut stream, &mut buf, deadline.as_mut(), stop.as_mut()).await?;
            let next = match lane {
                Lane::InPlace(in_place) => {
                    let InPlace { head, routed } = *in_place;
                    self.serve_in_place(stream, buf, &head, routed, peer, shutdown).await
                }
                Lane::Proxy => self.proxy_lane(stream, buf, shutdown).await,
                Lane::Refused(error) => {
                    let request_id = new_request_id();
                    let answer = Answer::refused(error, &request_id);
                    let bytes = encode_answer(answer, &request_id, false, false);
                    let _ = stream.write_all(&bytes).await;
                    let _ = stream.flush().await;
                    None
                }
            };
            stream = next?;
        }
    }

    async fn cleanup(&self) {
        self.proxy.http_cleanup().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(head: &str) -> Result<OwnHead, Lane> {
        let mut headers = [httparse::EMPTY_HEADER; LANE_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let Ok(httparse::Status::Complete(len)) = request.parse(head.as_bytes()) else { panic!("{head:?}") };
        let method = Method::from_bytes(request.method.expect("a method").as_bytes()).expect("a method");
        own_head(&request, head.as_bytes(), len, method)
    }

    fn in_place(head: &str) -> OwnHead {
        match read(head) {
            Ok(own) => own,
            Err(Lane::Refused(error)) => panic!("{head:?} refused: {}", error.message),
            Err(_) => panic!("{head:?} left to pingora"),
        }
    }

    fn refused_because(head: &str) -> String {
        match read(head) {
            Err(Lane::Refused(error)) => format!("{}: {}", error.code, error.message),
            _ => panic!("{head:?} not refused"),
        }
    }

    #[test]
    fn content_length_is_one_decimal_number_however_often_it_is_sent() {
        assert_eq!(in_place("POST /a HTTP/1.1\r\nContent-Length: 12\r\n\r\n").content_length, 12);
        assert_eq!(in_place("POST /a HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\n").content_length, 2);
        assert_eq!(in_place("GET /a HTTP/1.1\r\n\r\n").content_length, 0);
        for bad in ["2, 3", "2, 02", "+2", "0x2", "", "1 2", "99999999999999999999"] {
            let head = format!("POST /a HTTP/1.1\r\nContent-Length: {bad}\r\n\r\n");
            assert!(refused_because(&head).contains("Content-Length"), "{bad:?}");
        }
        let twice = "POST /a HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n";
        assert!(refused_because(twice).contains("Content-Length"));
    }

    #[test]
    fn chunked_bodies_and_expect_are_left_to_pingora_and_bad_framing_refused() {
        assert!(matches!(read("POST /a HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"), Err(Lane::Proxy)));
        assert!(matches!(
            read("POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
            Err(Lane::Proxy)
        ));
        assert!(refused_because("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").contains("chunked"));
        assert!(refused_because("POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").contains("HTTP/1.0"));
        assert!(
            refused_because("POST /a HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n")
                .starts_with("InvalidRequest.Framing: send either")
        );
        assert!(refused_because("GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").contains("one Host"));
        assert!(refused_because("GET /a HTTP/1.1\r\nHost: u@a\r\n\r\n").contains("user information"));
    }

    #[test]
    fn keep_alive_follows_the_version_and_the_connection_tokens() {
        assert!(in_place("GET /a HTTP/1.1\r\n\r\n").keep_alive);
        assert!(!in_place("GET /a HTTP/1.1\r\nConnection: te, CLOSE\r\n\r\n").keep_alive);
        assert!(!in_place("GET /a HTTP/1.0\r\n\r\n").keep_alive);
        assert!(in_place("GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!in_place("GET /a HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
    }

    #[test]
    fn the_target_splits_into_path_and_query_and_the_head_length_is_kept() {
        let head = "GET /users/7?city=X&n=1 HTTP/1.1\r\nX-Sluice-App-Key: k\r\n\r\n";
        let own = in_place(head);
        assert_eq!((own.target.path(), own.target.query()), ("/users/7", Some("city=X&n=1")));
        assert_eq!(own.len, head.len());
        let read = own.call_head(head.as_bytes(), None);
        assert_eq!(read.headers.get_named("x-sluice-app-key"), Some(&b"k"[..]));
    }

    #[test]
    fn a_request_line_is_counted_in_parts() {
        assert_eq!(request_line_parts(b"GET / HTTP/1.2\r\nHost: x\r\n"), 3);
        assert_eq!(request_line_parts(b"GET /a b HTTP/1.1\r\n"), 4);
    }
}
