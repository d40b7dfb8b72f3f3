//! The property the HTTP/1 head fuzzer checks, shared with the corpus replay in the proxy's
//! tests (`proxy/tests/http1_corpus.rs`): the edge's head reader (`proxy::http1`) never reads
//! bytes differently from httparse (where a head ends) or from pingora (how a head it accepts
//! is framed and routed). It may refuse more than they do, never less.

use std::io::Cursor;

use pingora::protocols::http::ServerSession;
use proxy::http1::{self, Framing, Target};

/// Checks one input; panics, naming the difference, when the readings disagree.
pub fn check(data: &[u8], runtime: &tokio::runtime::Runtime) {
    let end = http1::head_end(data, 0);
    // The end is found the same way byte by byte as all at once.
    let stepwise = (1..=data.len()).find_map(|n| http1::head_end(&data[..n], n - 1));
    assert_eq!(stepwise, end, "the head's end depends on how the bytes arrived");

    let mut slots = [httparse::EMPTY_HEADER; http1::MAX_HEADERS];
    let mut request = httparse::Request::new(&mut slots);
    let parsed = request.parse(data);
    let accepted = end.and_then(|len| http1::parse(data, len).ok());
    if let Ok(httparse::Status::Complete(n)) = parsed {
        assert_eq!(end, Some(n), "httparse's head ends at {n}, the edge's at {end:?}");
    }
    let Some(head) = accepted else { return };
    assert!(
        matches!(parsed, Ok(httparse::Status::Complete(n)) if n == head.len),
        "the edge accepted a head httparse reads as {parsed:?}"
    );
    if head.len > http1::MAX_HEAD_BYTES {
        panic!("accepted a head over the limit");
    }

    let mut session = ServerSession::new_http1(Box::new(Cursor::new(data.to_vec())));
    let read = runtime.block_on(session.read_request());
    assert!(matches!(read, Ok(true)), "the edge accepted a head pingora refuses: {read:?}");
    let pingora = session.req_header();
    assert_eq!(pingora.method, head.method, "methods differ");
    if let Target::Origin(target) = &head.target {
        assert_eq!(pingora.uri.path_and_query(), Some(target), "targets differ");
    }
    let te = pingora.headers.get_all(http::header::TRANSFER_ENCODING).iter().count() > 0;
    match head.framing {
        Framing::Chunked => assert!(te, "the edge reads chunked, pingora has no Transfer-Encoding"),
        Framing::Length(n) => {
            assert!(!te, "the edge reads a length, pingora has Transfer-Encoding");
            let pingora_length = pingora
                .headers
                .get(http::header::CONTENT_LENGTH)
                .map(|v| v.to_str().ok().and_then(|v| v.split(',').next()).and_then(|v| v.trim().parse::<u64>().ok()));
            assert_eq!(pingora_length.flatten().unwrap_or(0), n, "lengths differ");
            assert_eq!(session.is_body_empty(), n == 0, "pingora and the edge disagree on an empty body");
        }
    }
}
