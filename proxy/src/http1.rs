//! HTTP/1.1 framing rules the edge applies to both the request heads it reads itself
//! (`edge_app.rs`) and the upstream answers it relays (`upstream.rs`), so that the two read a
//! message's length and connection the same way.

/// Takes one `Content-Length` header value into `seen` (the number as first written):
/// repeated or comma-joined, every value must be the same decimal number, written alike
/// (RFC 9110 §8.6). `Err` when one is not.
pub(crate) fn add_content_length<'a>(seen: &mut Option<&'a [u8]>, value: &'a [u8]) -> Result<(), ()> {
    for part in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
        // At most 19 digits: every such number fits a u64.
        let decimal = !part.is_empty() && part.len() <= 19 && part.iter().all(u8::is_ascii_digit);
        if !decimal || seen.is_some_and(|first| first != part) {
            return Err(());
        }
        *seen = Some(part);
    }
    Ok(())
}

/// The length [`add_content_length`] took in.
pub(crate) fn content_length(seen: Option<&[u8]>) -> Option<u64> {
    seen.and_then(|digits| std::str::from_utf8(digits).ok()?.parse().ok())
}

/// Whether a `Transfer-Encoding` value ends with `chunked`: the last coding applied decides
/// how the body is framed (RFC 9112 §6.1).
pub(crate) fn ends_chunked(value: &[u8]) -> bool {
    value.rsplit(|&b| b == b',').next().map(<[u8]>::trim_ascii).is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
}

/// The tokens of a `Connection` value, without empty ones.
pub(crate) fn connection_tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|t| !t.is_empty())
}
