//! The session lane: requests whose head pingora's `ServerSession` reads — every HTTP/2
//! stream, and the HTTP/1 requests `edge_app.rs` hands over (registered APIs, chunked bodies,
//! `Expect`, absolute-form targets) — answered as the in-place lane answers:
//!
//! ```text
//! read_request ► CONNECT refused ► the body deadline ► Edge::answer (route, body, serve)
//!   an answer           ► write_answer ► finish (the HTTP/1 connection goes back to edge_app)
//!   a registered call   ► Edge::upstream_target ► Forwarder (forward.rs) ► finish, or the
//!                         connection dropped unfinished when the answer broke off mid-way
//! ```
//!
//! It is a pingora `HttpServerApp`, not its `HttpProxy`: every request is answered here, so
//! the proxy's phases, modules and per-request context would be work with no effect.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use http::Method;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora::connectors::ConnectorOptions;
use pingora::connectors::http::Connector;
use pingora::protocols::http::ServerSession;
use pingora::protocols::http::v2::server::H2Options;
use pingora::server::ShutdownWatch;
use pingora::server::configuration::ServerConf;
use plugins::ApiError;

use crate::edge::{
    Answer, CallFacts, Edge, Outcome, TRACEPARENT, UpstreamCall, VERSION_HEADER, Written, new_request_id, session_peer,
    unavailable, write_answer,
};
use crate::forward::{Forwarded, Forwarder, Traffic};
use crate::http1;

/// The edge's requests as pingora's session reads them.
pub struct SessionLane {
    edge: Arc<Edge>,
    forwarder: Forwarder,
}

/// How a request ended.
enum Ended {
    /// The answer is whole: the connection may carry another request.
    Answered,
    /// The answer broke off after it had begun: the connection must end without the answer's
    /// end, so the caller does not take it as whole.
    Broken,
}

impl SessionLane {
    /// `conf` gives the upstream connector its CA file and bind addresses.
    pub fn new(edge: Arc<Edge>, conf: &ServerConf) -> SessionLane {
        let connector = Connector::new(Some(ConnectorOptions::from_server_conf(conf)));
        // In-process calls of registered APIs (workflow nodes) dial with the same options.
        edge.set_connector(Connector::new(Some(ConnectorOptions::from_server_conf(conf))));
        SessionLane { edge, forwarder: Forwarder::new(connector) }
    }

    /// Answers the request whose head `session` has read, and records the call.
    async fn answer(&self, session: &mut ServerSession, request_id: &str) -> Ended {
        let traceparent = session.req_header().headers.get(TRACEPARENT).map(|v| v.as_bytes());
        let mut facts = CallFacts::begin(session_peer(session), traceparent);
        if session.req_header().method == Method::CONNECT {
            // HTTP/1 heads were refused before (http1::parse); HTTP/2 has its own CONNECT.
            let answer = Answer::refused(http1::connect_refused(), request_id);
            return self.write(session, request_id, answer, &facts).await;
        }
        // One deadline for the whole body, however it is framed: each read waits at most for
        // what is left of it.
        session.set_read_timeout(Some(self.edge.settings.body_timeout));
        let answer = match self.edge.answer(session, request_id, &mut facts).await {
            Ok(Outcome::Proxy(call)) => match self.forward(session, call, request_id, &mut facts).await {
                Ok(ended) => return ended,
                Err(answer) => answer,
            },
            Ok(Outcome::Answer(answer)) | Err(answer) => answer,
        };
        self.write(session, request_id, answer, &facts).await
    }

    /// Writes `answer` and records the call.
    async fn write(&self, session: &mut ServerSession, request_id: &str, answer: Answer, facts: &CallFacts) -> Ended {
        let record = answer.written(session.req_header().method == Method::HEAD);
        let sent = write_answer(session, request_id, answer).await;
        self.edge.record(facts, request_id, record);
        match sent {
            Ok(()) => Ended::Answered,
            Err(e) => {
                tracing::debug!(request_id, "cannot send the answer: {e}");
                Ended::Broken
            }
        }
    }

    /// Forwards a registered API's call: how it ended (recorded), or (when nothing reached the
    /// caller) the error to answer.
    async fn forward(
        &self,
        session: &mut ServerSession,
        call: UpstreamCall,
        request_id: &str,
        facts: &mut CallFacts,
    ) -> Result<Ended, Answer> {
        let started = Instant::now();
        let failed = |error: ApiError| {
            Answer::refused(error, request_id).with_header(VERSION_HEADER, call.version_header().clone())
        };
        let target = self.edge.upstream_target(&call).await.map_err(failed)?;
        let deadline = tokio::time::Instant::now() + self.edge.settings.body_timeout;
        let mut traffic = Traffic::default();
        let traceparent = facts.trace.child_header();
        let outcome =
            self.forwarder.forward(session, &call, &target, request_id, traceparent, deadline, &mut traffic).await;
        let took = started.elapsed();
        let ms = took.as_millis();
        // Formatted only when a line is logged: this runs for every upstream call.
        let trace_id = facts.trace.trace_id();
        facts.backend = Some(took);
        facts.bytes_in = facts.bytes_in.max(traffic.bytes_in);
        match outcome {
            Forwarded::Done => {
                tracing::debug!(api = call.route_name(), request_id, %trace_id, ms, "upstream call");
                self.edge.record(facts, request_id, Written::relayed(traffic.status, traffic.bytes_out));
                Ok(Ended::Answered)
            }
            Forwarded::Broken => {
                tracing::info!(api = call.route_name(), request_id, %trace_id, ms, "upstream call broke off mid-answer");
                // The caller did not get the whole answer: a failed call, whatever its head said.
                let broken = unavailable();
                let written =
                    Written { status: broken.status(), code: broken.kind().as_str(), bytes_out: traffic.bytes_out };
                self.edge.record(facts, request_id, written);
                Ok(Ended::Broken)
            }
            Forwarded::Failed(error) => {
                tracing::info!(
                    api = call.route_name(),
                    request_id,
                    %trace_id,
                    ms,
                    code = error.code(),
                    "upstream call failed"
                );
                Err(failed(error))
            }
        }
    }
}

#[async_trait]
impl HttpServerApp for SessionLane {
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        match session.read_request().await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                // HTTP/1 heads were read and accepted by edge_app already: this is a stream
                // pingora refused, or a connection that broke.
                tracing::debug!("cannot read a request: {e}");
                session.shutdown().await;
                return None;
            }
        }
        let _in_flight = self.edge.drain.in_flight();
        if *shutdown.borrow() || self.edge.drain.stopping() {
            session.set_keepalive(None);
        }
        let request_id = new_request_id();
        match self.answer(&mut session, &request_id).await {
            Ended::Answered => {}
            Ended::Broken => return None,
        }
        let settings = HttpPersistentSettings::for_session(&session);
        let reusable = session.finish().await.ok().flatten()?;
        Some(ReusedHttpStream::from_reusable_stream(reusable, settings))
    }

    /// HTTP/2 limits per caller connection (docs/edge.md): streams at once, header list size,
    /// resets a caller may provoke (rapid reset, CVE-2023-44487), send buffer. The h2 library
    /// also caps CONTINUATION frames by the header list size (CVE-2024-27316).
    fn h2_options(&self) -> Option<H2Options> {
        let mut options = H2Options::new();
        options
            .max_concurrent_streams(100)
            .max_header_list_size(64 * 1024)
            .max_pending_accept_reset_streams(50)
            .max_local_error_reset_streams(Some(256))
            .max_send_buffer_size(1024 * 1024);
        Some(options)
    }
}
