//! pingora's own cost per request, for `./bench/run --instructions`.
//!
//! `FLOOR_ADDR` is the address to listen on. With `FLOOR_UPSTREAM` (host:port) every request is
//! proxied there by pingora's `HttpProxy` with no hooks of its own; without it every request is
//! answered with a fixed JSON body on a bare HTTP/1 session, keeping the connection alive.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use pingora::apps::ServerApp;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::protocols::Stream;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// About the size of a Sluice answer for one user row.
const BODY: &[u8] = br#"{"code":"OK","requestId":"0123456789abcdef0123456789abcdef","data":{"rows":[{"id":54321,"name":"user-54321","age":42,"city":"city-7"}]}}"#;

/// Answers every request with `BODY`.
struct FixedAnswer;

#[async_trait]
impl ServerApp for FixedAnswer {
    async fn process_new(self: &Arc<Self>, mut stream: Stream, _shutdown: &ShutdownWatch) -> Option<Stream> {
        loop {
            let mut session = ServerSession::new_http1(stream);
            session.set_keepalive(Some(60));
            if !session.read_request().await.ok()? {
                return None;
            }
            let mut head = http::Response::new(()).into_parts().0;
            head.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
            head.headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(BODY.len()));
            session.write_response_header(Box::new(ResponseHeader::from(head))).await.ok()?;
            session.write_response_body(Bytes::from_static(BODY), true).await.ok()?;
            stream = session.finish().await.ok()??.into_parts().0;
        }
    }
}

/// Proxies every request to one upstream, changing nothing.
struct PlainProxy {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for PlainProxy {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream.as_str(), false, String::new())))
    }
}

fn main() {
    let listen = std::env::var("FLOOR_ADDR").expect("FLOOR_ADDR: the address to listen on");
    let mut server = Server::new(None).expect("pingora server");
    server.bootstrap();
    // One worker thread, as Sluice in the benchmark.
    match std::env::var("FLOOR_UPSTREAM") {
        Ok(upstream) => {
            let mut service = http_proxy_service(&server.configuration, PlainProxy { upstream });
            service.add_tcp(&listen);
            service.threads = Some(1);
            server.add_service(service);
        }
        Err(_) => {
            let mut service = pingora::services::listening::Service::new("fixed answer".into(), FixedAnswer);
            service.add_tcp(&listen);
            service.threads = Some(1);
            server.add_service(service);
        }
    }
    server.run_forever();
}
