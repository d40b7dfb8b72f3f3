//! What crosses the edge between callers and registered APIs' upstreams, in either direction:
//! one policy for every lane and protocol.
//!
//! - **To the upstream**: the headers the API's definition maps and its constants (built by
//!   `registered.rs`), and of the caller's own only those on the allow list
//!   ([`forwarded_from_caller`]): content negotiation, conditional and range requests, the
//!   body's type and coding, W3C trace context and the user agent. Everything else stays:
//!   credentials meant for Sluice, forwarding claims, method and URL overrides
//!   (`X-HTTP-Method-Override`, `X-Original-URL`, `X-Rewrite-URL`), and every name with an
//!   underscore (`content_length`: some servers fold `_` into `-`, making it framing; nginx
//!   drops such names by default too). The body's framing is the proxy's own.
//! - **To the caller** ([`withheld_from_caller`]): everything the upstream answers but
//!   hop-by-hop headers and the names its `Connection` lists, cookies (the upstream's session
//!   with Sluice), proxy authentication, and the edge's own headers, which it sets itself.

use http::HeaderName;

use crate::edge::{REQUEST_ID_HEADER, VERSION_HEADER};
use crate::http1;

/// Caller headers an upstream receives, lower case. Documented in `docs/registered-apis.md`.
pub const FORWARDED: [&str; 18] = [
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "content-encoding",
    "content-language",
    "content-type",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "range",
    "traceparent",
    "tracestate",
    "baggage",
    "user-agent",
];

/// Whether a caller's header goes upstream as it came: on [`FORWARDED`], and not one the API
/// maps to another name (`consumed`).
pub fn forwarded_from_caller(name: &[u8], consumed: &[HeaderName]) -> bool {
    FORWARDED.iter().any(|allowed| name.eq_ignore_ascii_case(allowed.as_bytes()))
        && !consumed.iter().any(|c| name.eq_ignore_ascii_case(c.as_str().as_bytes()))
}

/// Headers that belong to one connection (RFC 9110 §7.6.1).
pub fn connection_scoped(name: &[u8]) -> bool {
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

/// Whether an upstream answer's header is kept from the caller; `listed` holds the names
/// the answer's `Connection` headers list.
pub fn withheld_from_caller(name: &[u8], listed: &[&[u8]]) -> bool {
    let is = |lower: &[u8]| name.eq_ignore_ascii_case(lower);
    connection_scoped(name)
        || listed.iter().any(|l| name.eq_ignore_ascii_case(l))
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
pub fn connection_listed<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<&'a [u8]> {
    values.flat_map(http1::connection_tokens).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allow_list_goes_upstream_whatever_the_case() {
        for name in ["Accept", "content-type", "TRACEPARENT", "If-None-Match", "user-agent", "Range"] {
            assert!(forwarded_from_caller(name.as_bytes(), &[]), "{name}");
        }
        for name in [
            "authorization",
            "cookie",
            "x-sluice-app-key",
            "x-forwarded-for",
            "forwarded",
            "x-real-ip",
            "x-http-method-override",
            "x-original-url",
            "x-rewrite-url",
            "content_length",
            "transfer_encoding",
            "content-length",
            "transfer-encoding",
            "host",
            "connection",
            "te",
            "x-custom",
            "accept_language",
        ] {
            assert!(!forwarded_from_caller(name.as_bytes(), &[]), "{name}");
        }
        let consumed = [HeaderName::from_static("accept")];
        assert!(!forwarded_from_caller(b"Accept", &consumed), "a mapped header goes under its mapped name");
    }

    #[test]
    fn answers_keep_end_to_end_headers_only() {
        let listed: [&[u8]; 1] = [b"x-hop"];
        for name in ["connection", "Keep-Alive", "te", "trailer", "upgrade", "proxy-connection", "X-Hop"] {
            assert!(withheld_from_caller(name.as_bytes(), &listed), "{name}");
        }
        for name in ["set-cookie", "Set-Cookie2", "proxy-authenticate", "x-request-id", "X-Sluice-Version"] {
            assert!(withheld_from_caller(name.as_bytes(), &[]), "{name}");
        }
        for name in ["content-type", "etag", "cache-control", "x-upstream", "tes", "trailers", "date"] {
            assert!(!withheld_from_caller(name.as_bytes(), &listed), "{name}");
        }
        let values: [&[u8]; 2] = [b"close, X-A", b" x-b ,"];
        assert_eq!(connection_listed(values.into_iter()), vec![&b"close"[..], b"X-A", b"x-b"]);
    }
}
