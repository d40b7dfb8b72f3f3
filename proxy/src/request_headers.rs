//! A request's headers as the edge reads them, from whichever lane parsed the head: pingora's
//! `HeaderMap` (session lane), or spans into the head's own bytes (in-place lane), which cost no
//! allocation or copy per header. Names are matched ignoring case; values are bytes.
//!
//! httparse has checked the in-place spans already: names are tokens, values hold no control
//! characters but tab. A head has few headers, so a span lookup is a short scan.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Where one header of a head lies in the head's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderSpan {
    name: (u32, u32),
    value: (u32, u32),
}

impl HeaderSpan {
    /// The span of `name` and `value`, both slices of `head`.
    pub fn within(head: &[u8], name: &[u8], value: &[u8]) -> HeaderSpan {
        let offset = |part: &[u8]| {
            let start = (part.as_ptr() as usize).saturating_sub(head.as_ptr() as usize);
            // Heads are at most about 1 MiB: offsets fit in u32.
            (start as u32, (start + part.len()) as u32)
        };
        HeaderSpan { name: offset(name), value: offset(value) }
    }

    fn read<'a>(&self, head: &'a [u8]) -> (&'a [u8], &'a [u8]) {
        (part(head, self.name), part(head, self.value))
    }

    /// The value, when the header is called `name` (any case).
    fn value_if_named<'a>(&self, head: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
        // Lengths first: most names differ in length.
        let named =
            (self.name.1 - self.name.0) as usize == name.len() && part(head, self.name).eq_ignore_ascii_case(name);
        named.then(|| part(head, self.value))
    }
}

fn part(head: &[u8], (start, end): (u32, u32)) -> &[u8] {
    head.get(start as usize..end as usize).unwrap_or_default()
}

/// A request's headers, from either lane.
#[derive(Clone, Copy)]
pub enum RequestHeaders<'a> {
    /// pingora's reading of the head.
    Map(&'a HeaderMap),
    /// The edge's own: spans into `head`, in the order they were sent.
    Spans { head: &'a [u8], spans: &'a [HeaderSpan] },
}

impl<'a> RequestHeaders<'a> {
    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&'a [u8]> {
        match *self {
            RequestHeaders::Map(map) => map.get(name).map(HeaderValue::as_bytes),
            RequestHeaders::Spans { head, spans } => {
                spans.iter().find_map(|span| span.value_if_named(head, name.as_str().as_bytes()))
            }
        }
    }

    /// The first value of the header called `name` in any case (a declared parameter's name).
    pub fn get_named(&self, name: &str) -> Option<&'a [u8]> {
        match *self {
            RequestHeaders::Map(map) => map.get(name).map(HeaderValue::as_bytes),
            RequestHeaders::Spans { head, spans } => {
                spans.iter().find_map(|span| span.value_if_named(head, name.as_bytes()))
            }
        }
    }

    pub fn contains(&self, name: &HeaderName) -> bool {
        self.get(name).is_some()
    }

    /// Every value of the header called `name` (any case), in order.
    pub fn all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
    }

    /// Every header as (name, value). pingora's map yields names in lower case and groups
    /// repeated names; spans keep the caller's order and case.
    pub fn iter(&self) -> HeaderIter<'a> {
        HeaderIter(match *self {
            RequestHeaders::Map(map) => IterKind::Map(map.iter()),
            RequestHeaders::Spans { head, spans } => IterKind::Spans { head, spans: spans.iter() },
        })
    }
}

/// The text of a header value: `None` unless it is visible ASCII (spaces and tabs too), as
/// [`HeaderValue::to_str`] decides.
pub fn text(value: &[u8]) -> Option<&str> {
    let visible = value.iter().all(|&b| b == b'\t' || (b' '..0x7f).contains(&b));
    if visible { std::str::from_utf8(value).ok() } else { None }
}

pub struct HeaderIter<'a>(IterKind<'a>);

enum IterKind<'a> {
    Map(http::header::Iter<'a, HeaderValue>),
    Spans { head: &'a [u8], spans: std::slice::Iter<'a, HeaderSpan> },
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterKind::Map(iter) => iter.next().map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes())),
            IterKind::Spans { head, spans } => spans.next().map(|span| span.read(head)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same headers read both ways.
    fn both(raw: &str) -> (HeaderMap, Vec<u8>, Vec<HeaderSpan>) {
        let head = raw.as_bytes().to_vec();
        let mut parsed = [httparse::EMPTY_HEADER; 16];
        let mut request = httparse::Request::new(&mut parsed);
        assert!(request.parse(&head).expect("a head").is_complete());
        let mut map = HeaderMap::new();
        let mut spans = Vec::new();
        for h in request.headers.iter() {
            map.append(
                HeaderName::from_bytes(h.name.as_bytes()).expect("name"),
                HeaderValue::from_bytes(h.value).expect("value"),
            );
            spans.push(HeaderSpan::within(&head, h.name.as_bytes(), h.value));
        }
        (map, head, spans)
    }

    #[test]
    fn spans_and_pingoras_map_answer_alike() {
        let raw = "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\nX-Sluice-App-Key: k\r\n\
                   x-forwarded-for: 2.2.2.2\r\nX-Param: café\r\n\r\n";
        let (map, head, spans) = both(raw);
        for headers in [RequestHeaders::Map(&map), RequestHeaders::Spans { head: &head, spans: &spans }] {
            let key = HeaderName::from_static("x-sluice-app-key");
            assert_eq!(headers.get(&key), Some(&b"k"[..]));
            assert!(headers.contains(&key) && !headers.contains(&http::header::AUTHORIZATION));
            assert_eq!(headers.get_named("X-SLUICE-APP-KEY"), Some(&b"k"[..]));
            let forwarded: Vec<&[u8]> = headers.all("x-forwarded-for").collect();
            assert_eq!(forwarded, [&b"1.1.1.1"[..], b"2.2.2.2"]);
            assert_eq!(headers.iter().count(), 5);
            assert_eq!(headers.get_named("x-param").and_then(text), None, "not visible ASCII");
            assert_eq!(headers.get_named("host").and_then(text), Some("a"));
        }
    }
}
