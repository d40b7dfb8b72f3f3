//! Registered API calls forwarded by the edge itself (the in-place lane): one HTTP/1.1
//! exchange with the upstream per call, over kept connections to SSRF-checked addresses.
//!
//! ```text
//! UpstreamPool::take     a kept connection to the same address, TLS and SNI that is still
//!                        open (newest first)
//! UpstreamPool::dial     else a new one, dialled by pingora's connector (TCP; TLS with
//!                        certificate and host name checks)
//! forward                the request head, with the built or read body in the same write (or
//!                        the caller's Content-Length body streamed after it) ► the response
//!                        head (1xx skipped) ► relayed to the caller as it arrives: by
//!                        Content-Length, chunk by chunk, or until the upstream closes ► the
//!                        connection kept when the exchange ended exactly where its framing said
//! ```
//!
//! The request carries only end-to-end headers: the caller's hop-by-hop headers, its
//! credentials and Sluice's own never go upstream (`edge::never_upstream`). The response
//! loses its hop-by-hop headers and cookies. A kept connection the upstream closed in the
//! meantime is found before use, or, when the close races the request, the call is sent once
//! more on a new connection, which is safe only while the whole body is in hand (not when
//! part of a streamed body was read from the caller after the head). Every wait (connecting,
//! each read and write either way) is bounded by the API's `timeoutMs`; a streamed caller body
//! by the edge's request deadline.
//!
//! Callers speaking HTTP/1.0, chunked request bodies and `Expect` go through pingora's proxy
//! (`edge::ProxyLane`) instead; both lanes send and answer with the same headers
//! (`tests/upstream_answers.rs`).

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use http::{HeaderName, HeaderValue, Method, header};
use pingora::connectors::{ConnectorOptions, TransportConnector};
use pingora::protocols::Stream;
use pingora::server::configuration::ServerConf;
use pingora::upstreams::peer::HttpPeer;
use plugins::ApiError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::edge::{REQUEST_ID_HEADER, VERSION_HEADER, never_upstream};
use crate::http1;
use crate::registered::UpstreamRequest;
use crate::request_headers::RequestHeaders;
use net::ssrf::CheckedTarget;

/// How long a kept upstream connection may wait for its next call.
const UPSTREAM_IDLE: Duration = Duration::from_secs(60);
/// Kept connections per upstream address: more are closed when handed back.
const KEPT_PER_TARGET: usize = 128;
/// The longest upstream response head read (pingora's limit too).
const MAX_RESPONSE_HEAD: usize = 1_048_575;
/// Response headers read; an upstream sending more is answered as unavailable.
const MAX_RESPONSE_HEADERS: usize = 128;
/// The longest chunk-size line, and the most trailer bytes, read from a chunked response.
const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;
/// How much of a body is read at a time.
const READ_SIZE: usize = 16 * 1024;

/// Kept upstream connections, by the address, TLS and SNI they were dialled with.
pub struct UpstreamPool {
    connector: TransportConnector,
    /// Newest last. Hashed with foldhash: this is looked up twice per call.
    idle: Mutex<HashMap<PoolKey, Vec<Kept>, foldhash::fast::RandomState>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PoolKey {
    addr: SocketAddr,
    tls: bool,
    /// Only set for TLS: the name the certificate was checked against.
    sni: String,
}

impl PoolKey {
    fn of(target: &CheckedTarget) -> PoolKey {
        PoolKey {
            addr: target.addr,
            tls: target.tls,
            sni: if target.tls { target.host.clone() } else { String::new() },
        }
    }
}

struct Kept {
    stream: Stream,
    since: Instant,
}

impl UpstreamPool {
    /// Dials as pingora's proxy does (the server's CA file and bind addresses).
    pub fn new(conf: &ServerConf) -> UpstreamPool {
        UpstreamPool {
            connector: TransportConnector::new(Some(ConnectorOptions::from_server_conf(conf))),
            idle: Mutex::new(HashMap::default()),
        }
    }

    /// A new connection to the call's checked target.
    async fn dial(&self, out: &Outbound<'_>) -> Result<Stream, Failure> {
        let peer = peer_for(out.target, out.timeout);
        self.connector.new_stream(&peer).await.map_err(|e| connect_failure(out, &e))
    }

    /// The newest kept connection to `key` that is still open.
    fn take(&self, key: &PoolKey) -> Option<Stream> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = idle.get_mut(key)?;
        while let Some(mut conn) = kept.pop() {
            if conn.since.elapsed() >= UPSTREAM_IDLE {
                // The rest were kept earlier still.
                kept.clear();
                break;
            }
            if still_open(&mut conn.stream) {
                return Some(conn.stream);
            }
        }
        None
    }

    /// Keeps a connection whose last exchange ended cleanly, for the next call to `key`.
    fn keep(&self, key: PoolKey, stream: Stream) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = idle.entry(key).or_default();
        if kept.len() >= KEPT_PER_TARGET {
            kept.remove(0);
        }
        kept.push(Kept { stream, since: Instant::now() });
    }

    /// Closes connections kept longer than [`UPSTREAM_IDLE`], and forgets upstreams with none.
    pub fn sweep(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.retain(|_, kept| {
            kept.retain(|conn| conn.since.elapsed() < UPSTREAM_IDLE);
            !kept.is_empty()
        });
    }
}

/// Whether an idle connection is still open and silent: an upstream never speaks first, so
/// anything readable (its close, or stray bytes) makes the connection unusable.
fn still_open(stream: &mut Stream) -> bool {
    let mut byte = [0u8; 1];
    // Unconstrained: tokio's budget must not make a ready read look pending.
    let read = pin!(tokio::task::unconstrained(stream.read(&mut byte)));
    read.poll(&mut Context::from_waker(Waker::noop())).is_pending()
}

/// The caller's side of a forwarded call, as the in-place lane read it.
pub(crate) struct CallerSide<'a> {
    pub stream: &'a mut Stream,
    /// The head's bytes and whatever came after them in the same reads.
    pub buf: &'a [u8],
    pub head_len: usize,
    pub headers: RequestHeaders<'a>,
    pub content_length: usize,
    /// The caller asked with HEAD: the answer carries no body.
    pub head_only: bool,
    /// Bounds each read of a body that streams through.
    pub body_deadline: Duration,
}

/// What the upstream is sent, and what the answer carries of the API.
pub(crate) struct Outbound<'a> {
    pub request: &'a UpstreamRequest,
    /// Caller headers read as parameters: they do not go upstream under their own name.
    pub consumed: &'a [HeaderName],
    pub target: &'a CheckedTarget,
    pub timeout: Duration,
    pub version: &'a HeaderValue,
    pub request_id: &'a str,
    pub started: Instant,
}

/// Why a forwarded call ended without a complete answer.
pub(crate) enum Failure {
    /// Nothing reached the caller yet: answer with this error, then close.
    Answer(ApiError),
    /// The caller's body did not arrive within the deadline; nothing reached the caller.
    BodyLate,
    /// The caller hung up, or the answer was cut short after it began: close.
    Closed,
}

/// Forwards one call and relays the answer; `Ok(true)` when the caller's connection may carry
/// another request (the answer was framed and the caller sent nothing past its body).
pub(crate) async fn forward(pool: &UpstreamPool, caller: CallerSide<'_>, out: &Outbound<'_>) -> Result<bool, Failure> {
    let CallerSide { stream: caller_stream, buf, head_len, headers, content_length, head_only, body_deadline } = caller;
    let body_in_buf = buf.len().saturating_sub(head_len);
    let body = match &out.request.body {
        Some(body) => Body::InHand(body),
        None if content_length == 0 => Body::None,
        None => Body::Streamed {
            first: body_in_buf.min(content_length),
            rest: content_length - body_in_buf.min(content_length),
        },
    };
    // Bytes past the caller's body: pipelining is off, so the connection closes after this.
    let caller_in_step = body_in_buf <= content_length;
    // The head and the body in hand, built once: a replay sends the same bytes.
    let mut message = request_head(out, &headers, &body).map_err(Failure::Answer)?;
    let mut rest = 0;
    match body {
        Body::None => {}
        Body::InHand(bytes) => message.extend_from_slice(bytes),
        Body::Streamed { first, rest: to_come } => {
            message.extend_from_slice(&buf[head_len..head_len + first]);
            rest = to_come;
        }
    }
    let key = PoolKey::of(out.target);
    let (mut conn, mut kept) = match pool.take(&key) {
        Some(conn) => (conn, true),
        None => (pool.dial(out).await?, false),
    };
    let mut response = BytesMut::with_capacity(READ_SIZE);
    let mut answer = Vec::with_capacity(1024);
    let parsed = loop {
        let sent = send(&mut conn, &message, rest, caller_stream, body_deadline, out.timeout).await;
        let result = match sent {
            Ok(()) => read_head(&mut conn, &mut response, out, head_only, &mut answer).await,
            Err(Sent::Caller(failure)) => return Err(failure),
            Err(Sent::Upstream(e)) => Err(HeadError::Io(e)),
        };
        match result {
            Ok(parsed) => break parsed,
            // A kept connection the upstream closed as the call went out: once more, anew.
            Err(e) if kept && e.stale() && body.replayable() => {
                tracing::debug!("kept upstream connection was closed; dialling anew");
                kept = false;
                response.clear();
                conn = pool.dial(out).await?;
            }
            Err(e) => return Err(Failure::Answer(head_failure(out, &e))),
        }
    };
    let framing = parsed.framing;
    response.advance(parsed.len);
    match relay(&mut conn, caller_stream, &mut response, answer, framing, head_only, out.timeout).await {
        Ok(()) => {
            if parsed.reusable && framing != Framing::UntilClose && response.is_empty() {
                pool.keep(key, conn);
            }
            tracing::debug!(
                status = parsed.status,
                ms = out.started.elapsed().as_millis(),
                request_id = out.request_id,
                "upstream call"
            );
            Ok(caller_in_step && framing != Framing::UntilClose)
        }
        // Caught before a byte went out (a malformed first chunk): the caller gets an error.
        Err(Cut { why, begun: false }) => {
            tracing::info!(status = parsed.status, request_id = out.request_id, "upstream answer unusable: {why}");
            Err(Failure::Answer(crate::edge::unavailable()))
        }
        Err(Cut { why, begun: true }) => {
            tracing::info!(status = parsed.status, request_id = out.request_id, "upstream answer cut short: {why}");
            Err(Failure::Closed)
        }
    }
}

/// The request body, by where it comes from.
enum Body<'a> {
    None,
    /// Built from parameters, or read for them or for a signature: sent with the head.
    InHand(&'a [u8]),
    /// The caller's body, unread: `first` bytes of it are in the caller's buffer after the
    /// head, `rest` still to come.
    Streamed {
        first: usize,
        rest: usize,
    },
}

impl Body<'_> {
    /// Whether the body can be sent again: all of it is in hand.
    fn replayable(&self) -> bool {
        !matches!(self, Body::Streamed { rest, .. } if *rest > 0)
    }

    fn len(&self) -> Option<usize> {
        match self {
            Body::None => None,
            Body::InHand(body) => Some(body.len()),
            Body::Streamed { first, rest } => Some(first + rest),
        }
    }
}

/// The upstream request head: the mapped method and target, `Host`, the caller's end-to-end
/// headers less those the edge keeps to itself, the mapped headers and constants, the
/// request id and the body's length.
fn request_head(out: &Outbound<'_>, caller: &RequestHeaders<'_>, body: &Body<'_>) -> Result<Vec<u8>, ApiError> {
    let request = out.request;
    // The target is built from encoded pieces; a space or control byte would split the line.
    if request.path_and_query.bytes().any(|b| b <= b' ' || b == 0x7f) {
        tracing::error!("an upstream target holds a space or control byte; refusing to send it");
        return Err(ApiError::new("InternalError", 500, "an internal error occurred"));
    }
    let listed = connection_listed(caller.all(header::CONNECTION.as_str()));
    fn named<'n>(mut names: impl Iterator<Item = &'n HeaderName>, name: &[u8]) -> bool {
        names.any(|n| n.as_str().as_bytes().eq_ignore_ascii_case(name))
    }
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(request.method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(request.path_and_query.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    head.extend_from_slice(out.target.host_header.as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in caller.iter() {
        let kept = !never_upstream(name)
            && !hop_by_hop(name)
            && !listed.iter().any(|l| l.eq_ignore_ascii_case(name))
            && !named(out.consumed.iter(), name)
            && !named(request.headers.iter().map(|(mapped, _)| mapped), name);
        if kept {
            push_header(&mut head, name, value);
        }
    }
    for (name, value) in &request.headers {
        push_header(&mut head, name.as_str().as_bytes(), value.as_bytes());
    }
    push_header(&mut head, REQUEST_ID_HEADER.as_str().as_bytes(), out.request_id.as_bytes());
    let length = match body.len() {
        Some(n) => Some(n),
        // A POST or PUT without a body still says so.
        None if matches!(request.method, Method::POST | Method::PUT) => Some(0),
        None => None,
    };
    if let Some(n) = length {
        push_header(&mut head, b"Content-Length", itoa::Buffer::new().format(n).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    Ok(head)
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Headers that describe one connection, never forwarded either way (RFC 9110 §7.6.1).
pub(crate) fn connection_scoped(name: &[u8]) -> bool {
    let is = |lower: &[u8]| name.eq_ignore_ascii_case(lower);
    // By length first: this runs for every header of every forwarded call.
    match name.len() {
        2 => is(b"te"),
        7 => is(b"trailer") || is(b"upgrade"),
        10 => is(b"connection") || is(b"keep-alive"),
        16 => is(b"proxy-connection"),
        _ => false,
    }
}

/// Connection-scoped headers, and the framing and routing the edge sets itself.
fn hop_by_hop(name: &[u8]) -> bool {
    let is = |lower: &[u8]| name.eq_ignore_ascii_case(lower);
    connection_scoped(name)
        || match name.len() {
            4 => is(b"host"),
            6 => is(b"expect"),
            14 => is(b"content-length"),
            17 => is(b"transfer-encoding"),
            _ => false,
        }
}

/// Upstream answer headers the caller never gets: hop-by-hop ones, cookies (the upstream's
/// session with Sluice: its credentials), proxy authentication (between the two), and the
/// edge's own, which it sets itself.
fn withheld_from_caller(name: &[u8]) -> bool {
    let is = |lower: &[u8]| name.eq_ignore_ascii_case(lower);
    hop_by_hop(name)
        || match name.len() {
            10 => is(b"set-cookie"),
            11 => is(b"set-cookie2"),
            12 => is(REQUEST_ID_HEADER.as_str().as_bytes()),
            16 => is(VERSION_HEADER.as_str().as_bytes()),
            18 => is(b"proxy-authenticate"),
            _ => false,
        }
}

/// The header names a `Connection` header lists (they are hop-by-hop too).
pub(crate) fn connection_listed<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<&'a [u8]> {
    values.flat_map(http1::connection_tokens).collect()
}

/// Why sending a call failed.
enum Sent {
    /// The caller's body could not be read: nothing was answered.
    Caller(Failure),
    Upstream(std::io::Error),
}

/// Writes `message` (the head and the body in hand) in one write, then the `rest` of a
/// streamed body as the caller sends it (never reading past it).
async fn send(
    conn: &mut Stream,
    message: &[u8],
    mut rest: usize,
    caller: &mut Stream,
    body_deadline: Duration,
    timeout: Duration,
) -> Result<(), Sent> {
    write_within(conn, message, timeout).await.map_err(Sent::Upstream)?;
    let mut chunk = vec![0u8; rest.min(READ_SIZE)];
    while rest > 0 {
        let want = rest.min(chunk.len());
        let n = match tokio::time::timeout(body_deadline, caller.read(&mut chunk[..want])).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err(Sent::Caller(Failure::Closed)),
            Ok(Ok(n)) => n,
            Err(_) => return Err(Sent::Caller(Failure::BodyLate)),
        };
        write_within(conn, &chunk[..n], timeout).await.map_err(Sent::Upstream)?;
        rest -= n;
    }
    Ok(())
}

async fn write_within(stream: &mut Stream, bytes: &[u8], timeout: Duration) -> std::io::Result<()> {
    let write = async {
        stream.write_all(bytes).await?;
        stream.flush().await
    };
    match within(timeout, write).await {
        Ok(result) => result,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// `future` bounded by `timeout`; one that is ready at once arms no timer (most writes are).
async fn within<F: Future>(timeout: Duration, future: F) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut future = pin!(future);
    if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        return Ok(output);
    }
    tokio::time::timeout(timeout, future).await
}

/// An upstream response head, parsed.
struct ResponseHead {
    /// Bytes of the head in the buffer.
    len: usize,
    status: u16,
    framing: Framing,
    /// The connection may carry another call once this answer is read to its end.
    reusable: bool,
}

/// How an upstream answer's body ends (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// No body: HEAD, 1xx, 204, 304.
    Empty,
    Length(u64),
    Chunked,
    /// Until the upstream closes the connection.
    UntilClose,
}

enum HeadError {
    Io(std::io::Error),
    /// The upstream closed before sending a byte of its answer.
    ClosedEarly,
    TimedOut,
    Malformed(&'static str),
}

impl HeadError {
    /// Whether a kept connection failed in the way of one the upstream had closed.
    fn stale(&self) -> bool {
        match self {
            HeadError::ClosedEarly => true,
            HeadError::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
            ),
            _ => false,
        }
    }
}

/// Reads the upstream's response head into `buf` (skipping interim 1xx answers) and writes
/// the caller's answer head into `answer`; the parsed head's bytes stay at the front of `buf`.
async fn read_head(
    conn: &mut Stream,
    buf: &mut BytesMut,
    out: &Outbound<'_>,
    head_only: bool,
    answer: &mut Vec<u8>,
) -> Result<ResponseHead, HeadError> {
    let mut received = false;
    // After the first read, parsed again only once a blank line may have arrived: a long head
    // costs one parse, not one per read.
    let mut new_from: usize = 0;
    loop {
        let worth_parsing = !buf.is_empty() && (new_from == 0 || blank_line(&buf[new_from.saturating_sub(2)..]));
        if worth_parsing && let Some(parsed) = parse_head(buf, out, head_only, answer)? {
            match parsed {
                Parsed::Interim(len) => {
                    buf.advance(len);
                    new_from = 0;
                    continue;
                }
                Parsed::Final(head) => return Ok(head),
            }
        }
        if buf.len() > MAX_RESPONSE_HEAD {
            return Err(HeadError::Malformed("the response head is too long"));
        }
        new_from = buf.len();
        make_room(buf);
        match tokio::time::timeout(out.timeout, conn.read_buf(buf)).await {
            Ok(Ok(0)) if !received => return Err(HeadError::ClosedEarly),
            Ok(Ok(0)) => return Err(HeadError::Malformed("the upstream closed within the response head")),
            Ok(Ok(_)) => received = true,
            Ok(Err(e)) => return Err(HeadError::Io(e)),
            Err(_) => return Err(HeadError::TimedOut),
        }
    }
}

/// Whether `bytes` hold the end of a head: an empty line, after CRLF or bare LF line ends.
fn blank_line(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|&b| b == b'\n') {
        rest = &rest[at + 1..];
        if rest.first() == Some(&b'\n') || rest.starts_with(b"\r\n") {
            return true;
        }
    }
    false
}

/// Room for one more read in `buf`, growing it only when little is left.
fn make_room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < READ_SIZE / 4 {
        buf.reserve(READ_SIZE);
    }
}

enum Parsed {
    /// An interim (1xx) answer of this many bytes: skipped.
    Interim(usize),
    Final(ResponseHead),
}

/// Parses a complete response head at the front of `buf` (`None` while incomplete) and, when
/// it is the final one, writes the caller's answer head into `answer`: the upstream's status
/// and end-to-end headers, less cookies, plus the version, the request id, a `Date` when it
/// had none, the framing and whether the connection stays open.
fn parse_head(
    buf: &[u8],
    out: &Outbound<'_>,
    head_only: bool,
    answer: &mut Vec<u8>,
) -> Result<Option<Parsed>, HeadError> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_RESPONSE_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let len =
        match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut response, buf, &mut headers) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(HeadError::Malformed("too many response headers")),
            Err(_) => return Err(HeadError::Malformed("the response head is malformed")),
        };
    let (Some(status), Some(version)) = (response.code, response.version) else {
        return Err(HeadError::Malformed("the response head is malformed"));
    };
    if !(100..=999).contains(&status) {
        return Err(HeadError::Malformed("the response status is out of range"));
    }
    if status == 101 {
        // Upgrades are never asked for (the caller's Upgrade does not go upstream).
        return Err(HeadError::Malformed("the upstream switched protocols unasked"));
    }
    if status < 200 {
        return Ok(Some(Parsed::Interim(len)));
    }

    // The framing first: it decides which headers the caller gets.
    let mut written_length: Option<&[u8]> = None;
    let (mut chunked, mut encoded, mut close, mut keep) = (false, false, false, false);
    let mut listed: Vec<&[u8]> = Vec::new();
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            http1::add_content_length(&mut written_length, h.value)
                .map_err(|()| HeadError::Malformed("the response Content-Length is not one decimal number"))?;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            encoded = true;
            chunked = http1::ends_chunked(h.value);
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in http1::connection_tokens(h.value) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep |= token.eq_ignore_ascii_case(b"keep-alive");
                listed.push(token);
            }
        }
    }
    let length = http1::content_length(written_length);
    let no_body = out.request.method == Method::HEAD || status == 204 || status == 304;
    let framing = match (no_body, encoded, chunked, length) {
        (true, ..) => Framing::Empty,
        (false, true, true, _) => Framing::Chunked,
        (false, true, false, _) => Framing::UntilClose,
        (false, false, _, Some(n)) => Framing::Length(n),
        (false, false, _, None) => Framing::UntilClose,
    };
    // Both framings at once: read as chunked, but never trust the connection again.
    let ambiguous = encoded && length.is_some();
    let reusable = !close && !ambiguous && (version == 1 || keep);

    answer.extend_from_slice(b"HTTP/1.1 ");
    answer.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
    answer.push(b' ');
    let reason = response.reason.filter(|r| !r.is_empty());
    let canonical = || http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
    answer.extend_from_slice(reason.or_else(canonical).unwrap_or("").as_bytes());
    answer.extend_from_slice(b"\r\n");
    let mut dated = false;
    for h in response.headers.iter() {
        let name = h.name.as_bytes();
        dated |= name.eq_ignore_ascii_case(b"date");
        let dropped = withheld_from_caller(name) || listed.iter().any(|l| l.eq_ignore_ascii_case(name));
        if !dropped {
            push_header(answer, name, h.value);
        }
    }
    push_header(answer, VERSION_HEADER.as_str().as_bytes(), out.version.as_bytes());
    push_header(answer, REQUEST_ID_HEADER.as_str().as_bytes(), out.request_id.as_bytes());
    // A forwarded answer without a date gets the time it was received (RFC 9110 §6.6.1).
    if !dated {
        push_header(answer, b"Date", pingora::protocols::http::date::get_cached_date().as_bytes());
    }
    let mut digits = itoa::Buffer::new();
    match (framing, length) {
        // A HEAD or 304 answer's length is that of the body it stands for.
        (Framing::Empty, Some(n)) if status != 204 => {
            push_header(answer, b"Content-Length", digits.format(n).as_bytes())
        }
        (Framing::Length(n), _) => push_header(answer, b"Content-Length", digits.format(n).as_bytes()),
        (Framing::Chunked, _) if !head_only => push_header(answer, b"Transfer-Encoding", b"chunked"),
        _ => {}
    }
    answer.extend_from_slice(if framing == Framing::UntilClose {
        b"Connection: close\r\n\r\n"
    } else {
        b"Connection: keep-alive\r\n\r\n"
    });
    Ok(Some(Parsed::Final(ResponseHead { len, status, framing, reusable })))
}

/// Why relaying an answer stopped before its end.
struct Cut {
    why: String,
    /// Part of the answer reached the caller: too late for an error answer.
    begun: bool,
}

/// Writes an answer to the caller as it is relayed.
struct CallerWriter<'a> {
    stream: &'a mut Stream,
    timeout: Duration,
    begun: bool,
}

impl CallerWriter<'_> {
    /// Writes and empties `bytes` (nothing when empty).
    async fn send(&mut self, bytes: &mut Vec<u8>) -> Result<(), String> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.begun = true;
        match write_within(self.stream, bytes, self.timeout).await {
            Ok(()) => {
                bytes.clear();
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                Err("the caller did not take the answer in time".to_owned())
            }
            Err(e) => Err(format!("the caller's connection failed: {e}")),
        }
    }
}

/// Relays the answer: `answer` (the caller's head, not yet written), then the body from `buf`
/// and the connection, up to where its framing says it ends. The body's first bytes go in the
/// head's write.
async fn relay(
    conn: &mut Stream,
    caller: &mut Stream,
    buf: &mut BytesMut,
    mut answer: Vec<u8>,
    framing: Framing,
    head_only: bool,
    timeout: Duration,
) -> Result<(), Cut> {
    let mut writer = CallerWriter { stream: caller, timeout, begun: false };
    let relayed = relay_body(conn, &mut writer, buf, &mut answer, framing, head_only, timeout).await;
    relayed.map_err(|why| Cut { why, begun: writer.begun })
}

async fn relay_body(
    conn: &mut Stream,
    writer: &mut CallerWriter<'_>,
    buf: &mut BytesMut,
    answer: &mut Vec<u8>,
    framing: Framing,
    head_only: bool,
    timeout: Duration,
) -> Result<(), String> {
    match framing {
        Framing::Empty => writer.send(answer).await,
        Framing::Length(total) => {
            let mut left = total;
            loop {
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                if !head_only {
                    answer.extend_from_slice(&buf[..take]);
                }
                buf.advance(take);
                left -= take as u64;
                writer.send(answer).await?;
                if left == 0 {
                    return Ok(());
                }
                read_more(conn, buf, timeout).await?.ok_or("the upstream closed before the end of its body")?;
            }
        }
        Framing::Chunked => {
            let mut chunks = Chunks::default();
            loop {
                let used = chunks.relay(buf, if head_only { None } else { Some(answer) })?;
                buf.advance(used);
                writer.send(answer).await?;
                if chunks.done() {
                    return Ok(());
                }
                read_more(conn, buf, timeout).await?.ok_or("the upstream closed before its last chunk")?;
            }
        }
        Framing::UntilClose => loop {
            if !head_only {
                answer.extend_from_slice(buf);
            }
            buf.clear();
            writer.send(answer).await?;
            if read_more(conn, buf, timeout).await?.is_none() {
                return Ok(());
            }
        },
    }
}

/// Reads more of the upstream's body into `buf`; `None` when the upstream closed.
async fn read_more(conn: &mut Stream, buf: &mut BytesMut, timeout: Duration) -> Result<Option<usize>, String> {
    make_room(buf);
    match tokio::time::timeout(timeout, conn.read_buf(buf)).await {
        Ok(Ok(0)) => Ok(None),
        Ok(Ok(n)) => Ok(Some(n)),
        Ok(Err(e)) => Err(format!("reading the upstream's body failed: {e}")),
        Err(_) => Err(format!("the upstream sent nothing for {} ms", timeout.as_millis())),
    }
}

/// Follows a chunked body's framing as it passes (RFC 9112 §7.1), so that the relay knows
/// where it ends. Chunk-size lines go on normalised (extensions dropped), trailers not at all.
#[derive(Default)]
struct Chunks {
    state: ChunkState,
    trailer_bytes: usize,
}

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    Trailers,
    Done,
}

impl Chunks {
    fn done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Consumes what it can of `input`, appending the body's bytes to `out` (`None` to
    /// discard them); returns the bytes consumed. An incomplete line is left for the next
    /// call, with more bytes after it.
    fn relay(&mut self, input: &[u8], mut out: Option<&mut Vec<u8>>) -> Result<usize, String> {
        let mut at = 0;
        loop {
            let rest = &input[at..];
            match self.state {
                ChunkState::Done => return Ok(at),
                ChunkState::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((used, _))) if used > MAX_CHUNK_LINE => {
                        return Err("the upstream sent a chunk-size line too long".to_owned());
                    }
                    Ok(httparse::Status::Complete((used, size))) => {
                        at += used;
                        if size == 0 {
                            self.state = ChunkState::Trailers;
                        } else {
                            if let Some(out) = out.as_deref_mut() {
                                push_hex(out, size);
                                out.extend_from_slice(b"\r\n");
                            }
                            self.state = ChunkState::Data(size);
                        }
                    }
                    Ok(httparse::Status::Partial) if rest.len() <= MAX_CHUNK_LINE => return Ok(at),
                    _ => return Err("the upstream sent a malformed chunk size".to_owned()),
                },
                ChunkState::Data(left) => {
                    if rest.is_empty() {
                        return Ok(at);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    if let Some(out) = out.as_deref_mut() {
                        out.extend_from_slice(&rest[..take]);
                    }
                    at += take;
                    let left = left - take as u64;
                    self.state = if left == 0 { ChunkState::DataEnd } else { ChunkState::Data(left) };
                }
                ChunkState::DataEnd => {
                    if rest.len() < 2 {
                        return if rest.first().is_none_or(|&b| b == b'\r') {
                            Ok(at)
                        } else {
                            Err("a chunk is longer than its size".to_owned())
                        };
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err("a chunk is longer than its size".to_owned());
                    }
                    if let Some(out) = out.as_deref_mut() {
                        out.extend_from_slice(b"\r\n");
                    }
                    at += 2;
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                        return if self.trailer_bytes + rest.len() <= MAX_TRAILERS {
                            Ok(at)
                        } else {
                            Err("the upstream's trailers are too long".to_owned())
                        };
                    };
                    let line = &rest[..end];
                    at += end + 1;
                    self.trailer_bytes += end + 1;
                    if self.trailer_bytes > MAX_TRAILERS {
                        return Err("the upstream's trailers are too long".to_owned());
                    }
                    if line == b"\r" || line.is_empty() {
                        if let Some(out) = out.as_deref_mut() {
                            out.extend_from_slice(b"0\r\n\r\n");
                        }
                        self.state = ChunkState::Done;
                    }
                }
            }
        }
    }
}

/// `n` in lower-case hex digits, without leading zeros.
fn push_hex(out: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        out.push(HEX[((n >> (i * 4)) & 0xf) as usize]);
    }
}

/// The peer pingora's connector dials: exactly the checked address; the name only for SNI and
/// certificate checks (an IP literal is its own SNI: pingora skips checks for an empty one).
pub(crate) fn peer_for(target: &CheckedTarget, timeout: Duration) -> HttpPeer {
    let mut peer = HttpPeer::new(target.addr, target.tls, target.host.clone());
    peer.options.connection_timeout = Some(timeout);
    peer.options.total_connection_timeout = Some(timeout);
    peer.options.read_timeout = Some(timeout);
    peer.options.write_timeout = Some(timeout);
    peer.options.idle_timeout = Some(UPSTREAM_IDLE);
    peer
}

fn connect_failure(out: &Outbound<'_>, e: &pingora::Error) -> Failure {
    tracing::info!(request_id = out.request_id, "connecting to the upstream failed: {e}");
    Failure::Answer(match e.etype() {
        pingora::ErrorType::ConnectTimedout => crate::edge::upstream_timeout(out.timeout),
        _ => crate::edge::unavailable(),
    })
}

fn head_failure(out: &Outbound<'_>, e: &HeadError) -> ApiError {
    match e {
        HeadError::TimedOut => crate::edge::upstream_timeout(out.timeout),
        HeadError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => crate::edge::upstream_timeout(out.timeout),
        HeadError::Io(e) => {
            tracing::info!(request_id = out.request_id, "the upstream exchange failed: {e}");
            crate::edge::unavailable()
        }
        HeadError::ClosedEarly => {
            tracing::info!(request_id = out.request_id, "the upstream closed without answering");
            crate::edge::unavailable()
        }
        HeadError::Malformed(why) => {
            tracing::info!(request_id = out.request_id, "the upstream's answer is unusable: {why}");
            crate::edge::unavailable()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` to a chunk follower in pieces of `step` bytes, as reads would bring it:
    /// what it relays, and whether it saw the end.
    fn follow(input: &[u8], step: usize) -> Result<(Vec<u8>, bool, usize), String> {
        let mut chunks = Chunks::default();
        let (mut out, mut pending, mut fed) = (Vec::new(), Vec::new(), 0);
        while fed < input.len() && !chunks.done() {
            let end = (fed + step).min(input.len());
            pending.extend_from_slice(&input[fed..end]);
            fed = end;
            let used = chunks.relay(&pending, Some(&mut out))?;
            pending.drain(..used);
        }
        Ok((out, chunks.done(), pending.len() + input.len() - fed))
    }

    #[test]
    fn chunked_bodies_are_followed_to_their_end_however_they_are_split() {
        let body = b"5;ext=\"a b\"\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
        for step in 1..=body.len() {
            let (out, done, left) = follow(body, step).expect("well-formed");
            assert_eq!(out, b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "step {step}");
            assert!(done && left == 0, "step {step}");
        }
        // What follows the last chunk is not the body's.
        let (out, done, left) = follow(b"2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n", 64).expect("well-formed");
        assert_eq!((out.as_slice(), done, left), (&b"2\r\nok\r\n0\r\n\r\n"[..], true, 17));
        let (out, done, _) = follow(b"10\r\n0123456789abcdef\r\n", 5).expect("unfinished");
        assert_eq!((out.as_slice(), done), (&b"10\r\n0123456789abcdef\r\n"[..], false));
    }

    #[test]
    fn malformed_chunks_are_refused() {
        let long_line = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(MAX_CHUNK_LINE + 10));
        let long_trailer = format!("0\r\nX: {}\r\n\r\n", "t".repeat(MAX_TRAILERS));
        for bad in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"fffffffffffffffff\r\nx\r\n",
            b"2\r\nokay\r\n0\r\n\r\n",
            b"2\r\nok\n0\r\n\r\n",
            b"-1\r\n",
            long_line.as_bytes(),
            long_trailer.as_bytes(),
        ] {
            for step in [1, 3, bad.len()] {
                assert!(
                    follow(bad, step).is_err(),
                    "{:?} in steps of {step}",
                    String::from_utf8_lossy(&bad[..bad.len().min(40)])
                );
            }
        }
    }

    #[test]
    fn hop_by_hop_headers_are_told_apart_from_end_to_end_ones_in_any_case() {
        let scoped = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"];
        let framing = ["transfer-encoding", "content-length", "expect", "host"];
        let answer_only = ["set-cookie", "set-cookie2", "proxy-authenticate", "x-request-id", "x-sluice-version"];
        let end_to_end =
            ["accept", "date", "etag", "tes", "trailers", "x-connection", "content-type", "cookie", "hosts"];
        for name in scoped {
            for written in [name.to_owned(), name.to_ascii_uppercase()] {
                let name = written.as_bytes();
                assert!(connection_scoped(name) && hop_by_hop(name) && withheld_from_caller(name), "{written}");
            }
        }
        for name in framing {
            assert!(!connection_scoped(name.as_bytes()) && hop_by_hop(name.as_bytes()), "{name}");
            assert!(withheld_from_caller(name.to_ascii_uppercase().as_bytes()), "{name}");
        }
        for name in answer_only {
            assert!(!hop_by_hop(name.as_bytes()) && withheld_from_caller(name.as_bytes()), "{name}");
        }
        for name in end_to_end {
            assert!(!hop_by_hop(name.as_bytes()) && !withheld_from_caller(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn chunk_sizes_are_written_in_plain_hex() {
        for (n, hex) in
            [(0u64, "0"), (1, "1"), (15, "f"), (16, "10"), (200_000, "30d40"), (u64::MAX, "ffffffffffffffff")]
        {
            let mut out = Vec::new();
            push_hex(&mut out, n);
            assert_eq!(out, hex.as_bytes());
        }
    }
}
