//! HTTP/1.x request heads as the edge reads them, before any lane: where a head ends, whether
//! it may be read at all, and how its body is framed. Every HTTP/1 head goes through here, so
//! pingora's lane only ever sees heads this module accepted, and both lanes share one framing
//! decision ([`Head::framing`]).
//!
//! - [`head_end`] looks for the blank line only in bytes that just arrived (with two before
//!   them), so a head sent a byte at a time costs one pass, not one parse per line; it knows
//!   bare line feeds (`\n\n`, `\n\r\n`) as pingora and httparse do.
//! - [`parse`] runs httparse once the blank line is there, with pingora's limits
//!   ([`MAX_HEAD_BYTES`], [`MAX_HEADERS`]), and refuses what no lane may read: CONNECT (405:
//!   no tunnels), a version other than HTTP/1.0 and 1.1, a target that is not a valid URI, no `Host` in HTTP/1.1
//!   (RFC 9112 §3.2), two `Host`s or user information in one, a `Content-Length` that is not
//!   one decimal number, both framings at once, or a last coding other than `chunked`
//!   (RFC 9112 §6.1, §6.3).
//!
//! The reading loop with its byte cap and deadline is the edge's (`edge_app.rs`); fuzzed
//! against httparse and pingora's own reading in `proxy/fuzz/`.

use http::Method;
use http::uri::PathAndQuery;
use plugins::{ApiError, ErrorCode};

use crate::request_headers::HeaderSpan;

/// pingora's limit on a head, in bytes; a longer one is refused.
pub const MAX_HEAD_BYTES: usize = 1_048_575;
/// pingora's limit on a head's headers.
pub const MAX_HEADERS: usize = 256;

/// Where the head in `buf` ends (just past its blank line), when it does; `new_from` is where
/// the bytes of the last read start. Empty lines before the request line are skipped, as
/// httparse skips them.
pub fn head_end(buf: &[u8], new_from: usize) -> Option<usize> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let from = new_from.saturating_sub(2).max(start);
    let mut at = from;
    while let Some(offset) = buf.get(at..)?.iter().position(|&b| b == b'\n') {
        let lf = at + offset;
        match buf.get(lf + 1) {
            Some(b'\n') => return Some(lf + 2),
            Some(b'\r') if buf.get(lf + 2) == Some(&b'\n') => return Some(lf + 3),
            _ => at = lf + 1,
        }
    }
    None
}

/// How a request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` bytes (0: no body).
    Length(u64),
    Chunked,
}

/// A request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/path?query`: the edge's own lane may read it.
    Origin(PathAndQuery),
    /// Absolute-form or `*`: pingora's.
    Other,
}

/// A head this module accepted.
#[derive(Debug)]
pub struct Head {
    pub method: Method,
    pub target: Target,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Spans into the first `len` bytes of the buffer the head was read into.
    pub headers: Vec<HeaderSpan>,
    /// Bytes of the head: the body starts there.
    pub len: usize,
    pub framing: Framing,
    /// `Expect` was sent (pingora's lane answers `100 Continue`).
    pub expects: bool,
    /// Whether the caller lets the connection carry another request.
    pub keep_alive: bool,
}

/// Why a head is refused: the status and the envelope's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub ApiError);

fn refused(why: &str) -> Refusal {
    Refusal(ApiError::new(ErrorCode::InvalidRequest, why))
}

/// The refusal of a head larger than [`MAX_HEAD_BYTES`] (431, RFC 6585).
pub fn too_large() -> Refusal {
    Refusal(ApiError::new(
        ErrorCode::InvalidRequestHeadTooLarge,
        format!("the request head is larger than {MAX_HEAD_BYTES} bytes"),
    ))
}

/// The refusal of a head with both `Content-Length` and `Transfer-Encoding`.
pub fn conflicting_framing() -> ApiError {
    ApiError::new(ErrorCode::InvalidRequestFraming, "send either Content-Length or Transfer-Encoding, not both")
}

/// The refusal of CONNECT, in either HTTP version: the edge opens no tunnels.
pub fn connect_refused() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "the edge opens no tunnels: CONNECT is not served")
}

/// Reads the complete head at the start of `buf` (its blank line ends at `len`, as
/// [`head_end`] found).
pub fn parse(buf: &[u8], len: usize) -> Result<Head, Refusal> {
    // Left uninitialised: httparse writes the slots it fills, and zeroing 100 of them is a
    // measurable share of a lookup's instructions.
    let mut slots = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    match request.parse_with_uninit_headers(&buf[..len], &mut slots) {
        Ok(httparse::Status::Complete(parsed)) if parsed == len => {}
        Ok(_) => return Err(refused("the request head does not end where its blank line is")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal(ApiError::new(
                ErrorCode::InvalidRequestHeadTooLarge,
                format!("send at most {MAX_HEADERS} header lines"),
            )));
        }
        Err(httparse::Error::Version) => return Err(refused("the HTTP version must be HTTP/1.0 or HTTP/1.1")),
        Err(httparse::Error::Token | httparse::Error::Status) => return Err(refused("the request line is malformed")),
        Err(_) => return Err(refused("a header line is malformed")),
    }
    let (Some(method), Some(target), Some(minor_version)) = (request.method, request.path, request.version) else {
        return Err(refused("the request line is malformed"));
    };
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| refused("the method is not a valid token"))?;
    if method == Method::CONNECT {
        return Err(Refusal(connect_refused()));
    }
    let raw_target = target;
    let target = if target.starts_with('/') {
        // A fragment is never sent (RFC 9112 §3.2); pingora's URI would drop it silently.
        let parsed = PathAndQuery::try_from(target).ok().filter(|_| !target.contains('#'));
        Target::Origin(parsed.ok_or_else(|| refused("the request target is not a valid path and query"))?)
    } else if http::Uri::try_from(target).is_ok() || target == "*" {
        Target::Other
    } else {
        return Err(refused("the request target is not a valid URI"));
    };
    let mut headers = Vec::with_capacity(request.headers.len());
    let mut content_length: Option<&[u8]> = None;
    let (mut hosts, mut chunked, mut expects, mut close, mut keep) = (0, None, false, false, false);
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
            if !add_content_length(&mut content_length, header.value) {
                return Err(refused("Content-Length must be one decimal number of bytes"));
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Several Transfer-Encoding headers are one list: the last coding decides.
            chunked = Some(ends_chunked(header.value));
        } else if name.eq_ignore_ascii_case(b"expect") {
            expects = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in connection_tokens(header.value) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        headers.push(HeaderSpan::within(buf, name, header.value));
    }
    if minor_version == 1 && hosts == 0 {
        return Err(refused("an HTTP/1.1 request must send a Host header"));
    }
    if target == Target::Other {
        let host = request.headers.iter().find(|h| h.name.eq_ignore_ascii_case("host")).map(|h| h.value);
        absolute_form_authority(raw_target.as_bytes(), host)?;
    }
    let framing = match chunked {
        Some(_) if content_length.is_some() => return Err(Refusal(conflicting_framing())),
        Some(_) if minor_version == 0 => return Err(refused("HTTP/1.0 requests cannot use Transfer-Encoding")),
        Some(false) => return Err(refused("the last Transfer-Encoding must be chunked")),
        Some(true) => Framing::Chunked,
        None => Framing::Length(self::content_length(content_length).unwrap_or(0)),
    };
    let keep_alive = !close && (minor_version == 1 || keep);
    Ok(Head { method, target, minor_version, headers, len, framing, expects, keep_alive })
}

/// An absolute-form target's authority, judged by pingora's own classifier and rule
/// (`pingora::protocols::http::authority`): unambiguous, no user information, parseable for
/// HTTP schemes, and equal to `Host` byte for byte when one is sent.
fn absolute_form_authority(target: &[u8], host: Option<&[u8]>) -> Result<(), Refusal> {
    use pingora::http::authority::{RawTargetAuthority, is_http_family_scheme, raw_target_authority};
    match raw_target_authority(target) {
        RawTargetAuthority::None => Ok(()),
        RawTargetAuthority::AmbiguousAuthority => Err(refused("the request target's authority is ambiguous")),
        RawTargetAuthority::Absolute { scheme, authority, .. } => {
            if is_http_family_scheme(scheme) && http::uri::Authority::try_from(authority).is_err() {
                return Err(refused("the request target's authority is not valid"));
            }
            if authority.contains(&b'@') {
                return Err(refused("the request target must not carry user information"));
            }
            if host.is_some_and(|host| host != authority) {
                return Err(refused("the Host header differs from the request target's authority"));
            }
            Ok(())
        }
    }
}

/// Takes one `Content-Length` header value into `seen` (the number as first written):
/// repeated or comma-joined, every value must be the same decimal number, written alike
/// (RFC 9110 §8.6). `false` when one is not.
#[must_use]
pub fn add_content_length<'a>(seen: &mut Option<&'a [u8]>, value: &'a [u8]) -> bool {
    for part in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
        // At most 19 digits: every such number fits a u64.
        let decimal = !part.is_empty() && part.len() <= 19 && part.iter().all(u8::is_ascii_digit);
        if !decimal || seen.is_some_and(|first| first != part) {
            return false;
        }
        *seen = Some(part);
    }
    true
}

/// The length [`add_content_length`] took in.
pub fn content_length(seen: Option<&[u8]>) -> Option<u64> {
    seen.and_then(|digits| std::str::from_utf8(digits).ok()?.parse().ok())
}

/// Whether a `Transfer-Encoding` value ends with `chunked`: the last coding applied decides
/// how the body is framed (RFC 9112 §6.1).
pub fn ends_chunked(value: &[u8]) -> bool {
    value.rsplit(|&b| b == b',').next().map(<[u8]>::trim_ascii).is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
}

/// The tokens of a `Connection` value, without empty ones.
pub fn connection_tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(head: &str) -> Result<Head, Refusal> {
        let len = head_end(head.as_bytes(), 0).unwrap_or_else(|| panic!("no end in {head:?}"));
        parse(head.as_bytes(), len)
    }

    fn accepted(head: &str) -> Head {
        read(head).unwrap_or_else(|r| panic!("{head:?} refused: {}", r.0.message))
    }

    fn refused_because(head: &str) -> String {
        match read(head) {
            Err(Refusal(error)) => format!("{}: {}", error.code(), error.message),
            Ok(_) => panic!("{head:?} accepted"),
        }
    }

    #[test]
    fn a_head_ends_at_its_first_blank_line_whatever_the_line_ends() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", 0), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: a\n\nbody", 0), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\n\r\n", 0), Some(26));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n", 0), None);
        assert_eq!(head_end(b"\r\n\r\n", 0), None, "empty lines before a request line are no head");
        assert_eq!(head_end(b"\r\nGET / HTTP/1.0\r\n\r\n", 0), Some(20));
        // Sent a byte at a time, each read looked at alone (and two bytes before it): found
        // once, when the blank line is complete.
        for head in
            [&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..], b"GET / HTTP/1.1\nHost: a\n\r\n", b"\r\nGET / HTTP/1.0\n\n"]
        {
            let found: Vec<usize> = (1..=head.len()).filter_map(|end| head_end(&head[..end], end - 1)).collect();
            assert_eq!(found, vec![head.len()], "{:?}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn content_length_is_one_decimal_number_however_often_it_is_sent() {
        let post = |cl: &str| format!("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: {cl}\r\n\r\n");
        assert_eq!(accepted(&post("12")).framing, Framing::Length(12));
        assert_eq!(accepted(&post("2, 2")).framing, Framing::Length(2));
        assert_eq!(accepted("GET /a HTTP/1.1\r\nHost: h\r\n\r\n").framing, Framing::Length(0));
        for bad in ["2, 3", "2, 02", "+2", "0x2", "", "1 2", "99999999999999999999"] {
            assert!(refused_because(&post(bad)).contains("Content-Length"), "{bad:?}");
        }
        let twice = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n";
        assert!(refused_because(twice).contains("Content-Length"));
    }

    #[test]
    fn framing_and_hosts_are_decided_once_for_both_lanes() {
        let chunked = accepted("POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n");
        assert_eq!(chunked.framing, Framing::Chunked);
        assert!(accepted("POST /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n").expects);
        assert!(
            refused_because("POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")
                .contains("chunked")
        );
        assert!(refused_because("POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").contains("HTTP/1.0"));
        assert!(
            refused_because("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n")
                .starts_with("InvalidRequest.Framing: send either")
        );
        assert!(refused_because("GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").contains("one Host"));
        assert!(refused_because("GET /a HTTP/1.1\r\nHost: u@a\r\n\r\n").contains("user information"));
        assert!(refused_because("GET /a HTTP/1.1\r\n\r\n").contains("must send a Host"));
        assert_eq!(accepted("GET /a HTTP/1.0\r\n\r\n").minor_version, 0, "HTTP/1.0 needs no Host");
        assert!(refused_because("GET /a HTTP/1.2\r\nHost: h\r\n\r\n").contains("HTTP/1.0 or HTTP/1.1"));
        assert!(refused_because("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n").starts_with("InvalidRequest"));
        assert!(refused_because("GET /a#f HTTP/1.1\r\nHost: h\r\n\r\n").contains("target"));
        let many = format!("GET / HTTP/1.1\r\nHost: h\r\n{}\r\n", "X-A: 1\r\n".repeat(MAX_HEADERS));
        assert!(refused_because(&many).starts_with("InvalidRequest.HeadTooLarge"));
    }

    #[test]
    fn targets_and_keep_alive_are_read_from_the_head() {
        let head = accepted("GET /users/7?city=X HTTP/1.1\r\nHost: h\r\nX-Sluice-App-Key: k\r\n\r\n");
        assert_eq!(head.target, Target::Origin(PathAndQuery::from_static("/users/7?city=X")));
        assert_eq!(head.headers.len(), 2);
        assert_eq!(accepted("GET http://h/a HTTP/1.1\r\nHost: h\r\n\r\n").target, Target::Other);
        assert!(refused_because("GET http://h:80/a HTTP/1.1\r\nHost: h\r\n\r\n").contains("differs"));
        assert!(refused_because("GET http://u@h/a HTTP/1.1\r\nHost: u@h\r\n\r\n").contains("user information"));
        assert!(refused_because("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n").starts_with("MethodNotAllowed"));
        assert!(accepted("GET /a HTTP/1.1\r\nHost: h\r\n\r\n").keep_alive);
        assert!(!accepted("GET /a HTTP/1.1\r\nHost: h\r\nConnection: te, CLOSE\r\n\r\n").keep_alive);
        assert!(!accepted("GET /a HTTP/1.0\r\n\r\n").keep_alive);
        assert!(accepted("GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!accepted("GET /a HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
    }
}
