//! Phase *record*: what the edge keeps of every call it answers, after the answer is written —
//! a call record handed to the recorder's bounded queue (never waited on; a full queue drops
//! and counts) — and the W3C trace context the call carries (`traceparent`: the caller's when
//! valid, else a new one), which registered upstreams receive as the edge's child span.
//!
//! The phases before fill a [`CallFacts`] as they learn things (route, app, version, rows,
//! backend time); each lane records once, with the status and bytes it wrote.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use calls::CallRecord;
use catalog::model::Environment;
use http::{HeaderName, HeaderValue};

use super::Edge;

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// What the phases learned of one call, for its record.
pub(crate) struct CallFacts {
    started: Instant,
    at_ms: i64,
    pub(crate) trace: TraceContext,
    /// Workgroup, API and environment of the route, once routed.
    pub(super) route: Option<(i64, i64, Environment)>,
    pub(super) version: Option<i64>,
    pub(super) app_id: Option<i64>,
    /// The client after trusted proxies, once admitted; the socket's peer before.
    pub(super) client: Option<IpAddr>,
    /// Time in the database (a data API's execute stage) or the upstream exchange.
    pub(crate) backend: Option<Duration>,
    pub(super) rows: Option<u64>,
    pub(crate) bytes_in: u64,
    /// Whether the answer came from the result cache; `None` for an API it does not hold.
    pub(super) cache_hit: Option<bool>,
}

impl CallFacts {
    /// A call whose head was just read from `peer`, with the caller's `traceparent`.
    pub(crate) fn begin(peer: Option<IpAddr>, traceparent: Option<&[u8]>) -> CallFacts {
        CallFacts {
            started: Instant::now(),
            at_ms: catalog::now_ms(),
            trace: TraceContext::continued(traceparent),
            route: None,
            version: None,
            app_id: None,
            client: peer,
            backend: None,
            rows: None,
            bytes_in: 0,
            cache_hit: None,
        }
    }
}

/// How an answer went out: what the record keeps of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    pub(crate) status: u16,
    /// The error catalogue's code without a name, or `OK`.
    pub(crate) code: &'static str,
    pub(crate) bytes_out: u64,
}

impl Written {
    /// A registered API's own answer: `OK` below 400, `Upstream.Answer` from 400 on.
    pub(crate) fn relayed(status: u16, bytes_out: u64) -> Written {
        Written { status, code: if status < 400 { "OK" } else { "Upstream.Answer" }, bytes_out }
    }
}

impl Edge {
    /// Phase *record*: counts the call in the metrics and hands its record to the recorder,
    /// without waiting. Both are off with call records.
    pub(crate) fn record(&self, facts: &CallFacts, request_id: &str, written: Written) {
        if !self.recorder.is_on() {
            return;
        }
        let latency = facts.started.elapsed();
        let (workgroup_id, api_id, env) = match facts.route {
            Some((workgroup, api, env)) => (Some(workgroup), Some(api), env),
            None => (None, None, Environment::Prod),
        };
        let metrics = calls::metrics::metrics();
        metrics.call_answered(api_id, written.status, written.code, latency);
        if let Some(kind) = upstream_failure(written.code) {
            metrics.upstream_error(api_id, kind);
        }
        self.recorder.record(CallRecord {
            at_ms: facts.at_ms,
            request_id: request_id.to_owned(),
            trace_id: facts.trace.trace_id_hex(),
            workgroup_id,
            api_id,
            version: facts.version,
            env: Cow::Borrowed(env.as_str()),
            app_id: facts.app_id,
            client: facts.client.map(|ip| ip.to_canonical().to_string()).unwrap_or_default(),
            status: written.status,
            code: Cow::Borrowed(written.code),
            latency_us: micros(latency),
            backend_us: facts.backend.map(micros),
            rows: facts.rows,
            bytes_in: facts.bytes_in,
            bytes_out: written.bytes_out,
            cache_hit: facts.cache_hit,
        });
    }
}

/// The kind of upstream failure a code says, for `sluice_upstream_errors_total`.
fn upstream_failure(code: &str) -> Option<&'static str> {
    match code {
        "Upstream.Timeout" => Some(calls::metrics::UPSTREAM_TIMEOUT),
        "Upstream.Unavailable" => Some(calls::metrics::UPSTREAM_UNAVAILABLE),
        "Upstream.Forbidden" => Some(calls::metrics::UPSTREAM_FORBIDDEN),
        _ => None,
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A call's W3C trace context (Trace Context §3.2): its trace id and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceContext {
    trace_id: [u8; 16],
    flags: u8,
}

impl TraceContext {
    /// The caller's trace when `traceparent` is valid, else a new, sampled one.
    pub(crate) fn continued(traceparent: Option<&[u8]>) -> TraceContext {
        traceparent
            .and_then(parse_traceparent)
            .unwrap_or_else(|| TraceContext { trace_id: new_trace_id(), flags: 0x01 })
    }

    pub(crate) fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }

    /// The trace id as a log field, written only when the line is.
    pub(crate) fn trace_id(&self) -> impl std::fmt::Display + '_ {
        struct Hex<'a>(&'a [u8; 16]);
        impl std::fmt::Display for Hex<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
        Hex(&self.trace_id)
    }

    /// `traceparent` for a call the edge makes on this trace: the same trace, a new span.
    pub(crate) fn child_header(&self) -> HeaderValue {
        let mut span = rand::random::<[u8; 8]>();
        if span == [0; 8] {
            span[7] = 1;
        }
        let mut text = [0u8; 55];
        text[..3].copy_from_slice(b"00-");
        // The lengths are fixed: 32 + 16 + 2 hex digits between the dashes.
        let _ = hex::encode_to_slice(self.trace_id, &mut text[3..35]);
        text[35] = b'-';
        let _ = hex::encode_to_slice(span, &mut text[36..52]);
        text[52] = b'-';
        let _ = hex::encode_to_slice([self.flags], &mut text[53..55]);
        HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// A `traceparent` value: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lower-case
/// hex, neither id all zeros. A later version is read by its first four fields, as the
/// specification asks; version `ff` is invalid.
fn parse_traceparent(value: &[u8]) -> Option<TraceContext> {
    let value = value.trim_ascii();
    if value.len() < 55 || value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let version = lower_hex(&value[..2])?;
    if version[0] == 0xff || (version[0] == 0 && value.len() != 55) || (value.len() > 55 && value[55] != b'-') {
        return None;
    }
    let trace: [u8; 16] = lower_hex(&value[3..35])?.try_into().ok()?;
    let parent = lower_hex(&value[36..52])?;
    let flags = lower_hex(&value[53..55])?;
    if trace == [0; 16] || parent.iter().all(|b| *b == 0) {
        return None;
    }
    Some(TraceContext { trace_id: trace, flags: flags[0] })
}

/// Decodes lower-case hex only (the specification forbids upper case).
fn lower_hex(text: &[u8]) -> Option<Vec<u8>> {
    if text.iter().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    hex::decode(text).ok()
}

fn new_trace_id() -> [u8; 16] {
    let mut id = rand::random::<[u8; 16]>();
    if id == [0; 16] {
        id[15] = 1;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_continued_with_its_flags() {
        let trace = TraceContext::continued(Some(SAMPLE));
        assert_eq!(trace.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let child = trace.child_header();
        let child = child.to_str().unwrap();
        assert!(child.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{child}");
        assert!(child.ends_with("-01"), "{child}");
        assert_ne!(&child[36..52], "00f067aa0ba902b7", "the edge's span is its own");
        assert_eq!(parse_traceparent(child.as_bytes()).map(|t| t.trace_id), Some(trace.trace_id));
    }

    #[test]
    fn invalid_traceparents_start_a_new_trace() {
        let bad: [&[u8]; 9] = [
            b"",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            b"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
        ];
        for value in bad {
            assert_eq!(parse_traceparent(value), None, "{}", String::from_utf8_lossy(value));
            let trace = TraceContext::continued(Some(value));
            assert_ne!(trace.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_eq!(trace.trace_id_hex().len(), 32);
        }
    }

    #[test]
    fn a_later_version_is_read_by_its_first_fields() {
        let later = b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-comes-next";
        let trace = parse_traceparent(later).unwrap();
        assert_eq!(trace.flags, 0);
        assert_eq!(trace.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }
}
