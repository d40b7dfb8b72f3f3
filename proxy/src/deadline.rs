//! A total deadline for reading request headers, which pingora does not have (its read
//! timeout restarts with every byte, so a client dripping one byte at a time holds a
//! connection forever).
//!
//! [`HeaderDeadline`] wraps the edge's `HttpProxy`: each request on a connection runs inside a
//! task-local flag that the edge sets in `early_request_filter`, the first hook after the
//! headers are parsed. If the deadline passes with the flag still down, the request future —
//! and with it the connection — is dropped. Once the headers are in, the request runs to its
//! own timeouts undisturbed.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::{HttpServerApp, HttpServerOptions, ReusedHttpStream};
use pingora::protocols::http::ServerSession;
use pingora::protocols::http::v2::server::H2Options;
use pingora::server::ShutdownWatch;

tokio::task_local! {
    static HEADERS_READ: Cell<bool>;
}

/// Marks the current request's headers as read. Called by the edge; a no-op outside a
/// [`HeaderDeadline`].
pub fn headers_read() {
    let _ = HEADERS_READ.try_with(|flag| flag.set(true));
}

/// An HTTP app whose requests must deliver their headers within `timeout`.
pub struct HeaderDeadline<A> {
    inner: Arc<A>,
    timeout: Duration,
}

impl<A> HeaderDeadline<A> {
    pub fn new(inner: A, timeout: Duration) -> Self {
        HeaderDeadline { inner: Arc::new(inner), timeout }
    }
}

#[async_trait]
impl<A> HttpServerApp for HeaderDeadline<A>
where
    A: HttpServerApp + Send + Sync + 'static,
{
    async fn process_new_http(
        self: &Arc<Self>,
        session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        let timeout = self.timeout;
        let inner = &self.inner;
        HEADERS_READ
            .scope(Cell::new(false), async move {
                let request = inner.process_new_http(session, shutdown);
                tokio::pin!(request);
                tokio::select! {
                    biased;
                    done = &mut request => return done,
                    _ = tokio::time::sleep(timeout) => {}
                }
                if HEADERS_READ.with(Cell::get) {
                    request.await
                } else {
                    tracing::debug!(?timeout, "request headers not received in time; closing the connection");
                    None
                }
            })
            .await
    }

    fn h2_options(&self) -> Option<H2Options> {
        self.inner.h2_options()
    }

    fn server_options(&self) -> Option<&HttpServerOptions> {
        self.inner.server_options()
    }

    async fn http_cleanup(&self) {
        self.inner.http_cleanup().await
    }
}
