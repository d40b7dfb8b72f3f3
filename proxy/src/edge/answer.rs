//! Phase *encode*: the answer a caller gets — the envelope of a plugin's output or of an
//! error, written through pingora's session or as bytes by the in-place lane — and the request
//! id every answer carries.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use catalog::model::ResultFormat;
use http::{HeaderName, HeaderValue, Method, header};
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::protocols::http::ServerSession;
use plugins::format::{Media, write_xml_text, xml_head};
use plugins::sql::StageTimings;
use plugins::sql::encode::PageInfo;
use plugins::{ApiError, ErrorCode};

use super::{REQUEST_ID_HEADER, VERSION_HEADER, Written};

const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");
/// A CSV answer's envelope, in headers (`docs/formats.md`): the code, and the page.
pub const CODE_HEADER: HeaderName = HeaderName::from_static("x-sluice-code");
const PAGE_NUM_HEADER: HeaderName = HeaderName::from_static("x-sluice-page-num");
const PAGE_SIZE_HEADER: HeaderName = HeaderName::from_static("x-sluice-page-size");
const TOTAL_HEADER: HeaderName = HeaderName::from_static("x-sluice-total-count");

/// Headers every answer written by the edge carries (besides its own extra ones): three of its
/// own, and the `Date` and `Connection` pingora adds.
const ANSWER_HEADERS: usize = 5;

/// A complete answer, written in one go.
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// The error catalogue's code without a name, or `OK`: what the call's record keeps.
    code: &'static str,
    pub(crate) body: Bytes,
    /// `Allow`, `Retry-After`, `X-Sluice-Version`, `Server-Timing`.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The connection must close: its request body was not read to the end.
    close: bool,
    /// The body's media type (`Content-Type`).
    media: Media,
}

impl Answer {
    /// The envelope of a call's `data` (already JSON), with the version that answered and, for
    /// data APIs, each stage's time.
    pub(crate) fn data(data: &[u8], request_id: &str, version: HeaderValue, timings: Option<&StageTimings>) -> Answer {
        let mut body = BytesMut::with_capacity(data.len() + request_id.len() + 48);
        body.extend_from_slice(b"{\"code\":\"OK\",\"requestId\":\"");
        body.extend_from_slice(request_id.as_bytes());
        body.extend_from_slice(b"\",\"data\":");
        body.extend_from_slice(data);
        body.extend_from_slice(b"}");
        let mut headers = Vec::with_capacity(2);
        headers.push((VERSION_HEADER, version));
        if let Some(timings) = timings {
            headers.push((SERVER_TIMING, server_timing(timings)));
        }
        Answer { status: 200, code: "OK", body: body.freeze(), headers, close: false, media: Media::Json }
    }

    /// A call's `data` encoded in `format` (`docs/formats.md`), sent as `media`: JSON as
    /// [`Answer::data`]; XML inside `<response>`; CSV as the body, with the code and the page
    /// in headers.
    pub(crate) fn encoded(
        data: &[u8],
        format: ResultFormat,
        media: Media,
        page: Option<PageInfo>,
        request_id: &str,
        version: HeaderValue,
        timings: Option<&StageTimings>,
    ) -> Answer {
        let mut answer = match format {
            ResultFormat::Json | ResultFormat::JsonCompact => return Answer::data(data, request_id, version, timings),
            ResultFormat::Xml => {
                let mut body = Vec::with_capacity(data.len() + request_id.len() + 192);
                xml_head(&mut body, true, "OK");
                body.extend_from_slice(b"<requestId>");
                write_xml_text(&mut body, request_id);
                body.extend_from_slice(b"</requestId><data>");
                body.extend_from_slice(data);
                body.extend_from_slice(b"</data></response>");
                Answer::data_answer(Bytes::from(body), media, version, timings)
            }
            ResultFormat::Csv => {
                let mut answer = Answer::data_answer(Bytes::copy_from_slice(data), media, version, timings)
                    .with_header(CODE_HEADER, HeaderValue::from_static("OK"));
                if let Some(page) = page {
                    answer = answer
                        .with_header(PAGE_NUM_HEADER, HeaderValue::from(page.page_num))
                        .with_header(PAGE_SIZE_HEADER, HeaderValue::from(page.page_size));
                    if let Some(total) = page.total {
                        answer = answer.with_header(TOTAL_HEADER, HeaderValue::from(total));
                    }
                }
                answer
            }
        };
        answer.media = media;
        answer
    }

    fn data_answer(body: Bytes, media: Media, version: HeaderValue, timings: Option<&StageTimings>) -> Answer {
        let mut headers = Vec::with_capacity(4);
        headers.push((VERSION_HEADER, version));
        if let Some(timings) = timings {
            headers.push((SERVER_TIMING, server_timing(timings)));
        }
        Answer { status: 200, code: "OK", body, headers, close: false, media }
    }

    pub(crate) fn error(err: &ApiError, request_id: &str) -> Answer {
        let body = serde_json::json!({"code": err.code(), "message": err.message, "requestId": request_id});
        Answer {
            status: err.status(),
            code: err.kind().as_str(),
            body: Bytes::from(body.to_string()),
            headers: Vec::new(),
            close: false,
            media: Media::Json,
        }
    }

    /// An error for a caller that asked for `media`: XML for XML callers; JSON for the others,
    /// CSV callers with the code in `X-Sluice-Code` too.
    pub(crate) fn error_in(err: &ApiError, request_id: &str, media: Media) -> Answer {
        match media {
            Media::Json => Answer::error(err, request_id),
            Media::Csv => {
                let code = HeaderValue::from_str(&err.code()).unwrap_or_else(|_| HeaderValue::from_static(""));
                Answer::error(err, request_id).with_header(CODE_HEADER, code)
            }
            Media::Xml | Media::TextXml => {
                let mut body = Vec::with_capacity(err.message.len() + request_id.len() + 224);
                xml_head(&mut body, false, &err.code());
                body.extend_from_slice(b"<message>");
                write_xml_text(&mut body, &err.message);
                body.extend_from_slice(b"</message><requestId>");
                write_xml_text(&mut body, request_id);
                body.extend_from_slice(b"</requestId></response>");
                Answer {
                    status: err.status(),
                    code: err.kind().as_str(),
                    body: Bytes::from(body),
                    headers: Vec::new(),
                    close: false,
                    media,
                }
            }
        }
    }

    /// A refusal after which the connection closes.
    pub(crate) fn refused(err: ApiError, request_id: &str) -> Answer {
        let mut answer = Answer::error(&err, request_id);
        answer.close = true;
        answer
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Answer {
        self.headers.push((name, value));
        self
    }

    /// Whether the connection must close after this answer.
    pub(crate) fn closes(&self) -> bool {
        self.close
    }

    /// What the call's record keeps of this answer; a HEAD request gets no body.
    pub(crate) fn written(&self, head_only: bool) -> Written {
        let bytes_out = if head_only { 0 } else { self.body.len() as u64 };
        Written { status: self.status, code: self.code, bytes_out }
    }
}

pub(crate) fn unavailable() -> ApiError {
    ApiError::new(ErrorCode::UpstreamUnavailable, "the upstream service could not be reached")
}

pub(crate) fn upstream_timeout(timeout: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::UpstreamTimeout,
        format!("the upstream service did not answer within {} ms", timeout.as_millis()),
    )
}

pub(crate) async fn write_answer(session: &mut ServerSession, request_id: &str, answer: Answer) -> Result<()> {
    // The head is built as `http` parts: `ResponseHeader::insert_header` would parse each name
    // again and copy it into a case map, which answers written here have no use for (standard
    // names still go out title-cased).
    let mut head = http::Response::new(()).into_parts().0;
    head.status = http::StatusCode::from_u16(answer.status)
        .map_err(|e| Error::because(ErrorType::InternalError, "answer status", e))?;
    let headers = &mut head.headers;
    headers.reserve(ANSWER_HEADERS + answer.headers.len());
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(answer.media.content_type()));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(answer.body.len()));
    let request_id = HeaderValue::from_str(request_id)
        .map_err(|e| Error::because(ErrorType::InternalError, "request id header", e))?;
    headers.insert(REQUEST_ID_HEADER, request_id);
    for (name, value) in answer.headers {
        headers.insert(name, value);
    }
    if answer.close {
        session.set_keepalive(None);
    }
    let head_only = session.req_header().method == Method::HEAD;
    session.write_response_header(Box::new(ResponseHeader::from(head))).await?;
    if !head_only {
        session.write_response_body(answer.body, true).await?;
    }
    Ok(())
}

/// An answer of the in-place lane as the bytes to write: the head `write_answer` has pingora
/// write (its four standard names title-cased, the rest as they are), then the body unless the
/// request was HEAD.
pub(crate) fn encode_answer(answer: Answer, request_id: &str, head_only: bool, keep_alive: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + answer.body.len());
    let mut digits = itoa::Buffer::new();
    let status = http::StatusCode::from_u16(answer.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(answer.media.content_type().as_bytes());
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(digits.format(answer.body.len()).as_bytes());
    out.extend_from_slice(b"\r\nx-request-id: ");
    out.extend_from_slice(request_id.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &answer.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Date: ");
    out.extend_from_slice(pingora::protocols::http::date::get_cached_date().as_bytes());
    out.extend_from_slice(if keep_alive {
        b"\r\nConnection: keep-alive\r\n\r\n"
    } else {
        b"\r\nConnection: close\r\n\r\n"
    });
    if !head_only {
        out.extend_from_slice(&answer.body);
    }
    out
}

/// `parse;dur=0.007, plan;dur=…` in milliseconds to the microsecond.
fn server_timing(t: &StageTimings) -> HeaderValue {
    // Written into a fixed buffer, not with `format!` or string pushes: this runs for every
    // data API call. Four stages of at most 40 bytes each.
    let mut value = [0u8; 160];
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        value[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    let mut digits = itoa::Buffer::new();
    let stages = [("parse", t.parse), ("plan", t.plan), ("execute", t.execute), ("encode", t.encode)];
    for (i, (stage, took)) in stages.into_iter().enumerate() {
        if i > 0 {
            push(b", ");
        }
        // Microseconds fit u64 for half a million years.
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        push(stage.as_bytes());
        push(b";dur=");
        push(digits.format(micros / 1000).as_bytes());
        push(b".");
        // Three digits, zero-padded by the leading 1.
        push(&digits.format(1000 + micros % 1000).as_bytes()[1..]);
    }
    HeaderValue::from_bytes(&value[..len]).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// 128 random bits as 32 hex digits.
pub(crate) fn new_request_id() -> String {
    // Into a buffer, without `format!` or a char at a time: this runs for every request.
    let mut digits = [0u8; 32];
    hex::encode_to_slice(rand::random::<u128>().to_be_bytes(), &mut digits)
        .ok()
        .and_then(|()| String::from_utf8(digits.to_vec()).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_32_lower_case_hex_digits_and_differ() {
        let (a, b) = (new_request_id(), new_request_id());
        for id in [&a, &b] {
            assert_eq!(id.len(), 32, "{id}");
            assert!(id.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{id}");
        }
        assert_ne!(a, b);
    }

    #[test]
    fn server_timing_gives_each_stage_in_milliseconds_to_the_microsecond() {
        let timings = StageTimings {
            parse: Duration::from_micros(7),
            plan: Duration::from_micros(1_234),
            execute: Duration::from_millis(12),
            encode: Duration::from_nanos(999),
        };
        assert_eq!(server_timing(&timings), "parse;dur=0.007, plan;dur=1.234, execute;dur=12.000, encode;dur=0.000");
    }
}
