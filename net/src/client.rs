//! The HTTP client for URLs someone typed that are not upstreams: webhook receivers, OpenAPI
//! documents fetched by URL. [`Target`] says what such a URL may be; [`connect`] has the policy
//! resolve and check the host and opens a connection to exactly the checked address (TLS for
//! https, with the system's roots); [`get`] makes one bounded GET on it. One request per
//! connection, redirects never followed (a 3xx is an answer like any other). Errors are short
//! single lines that name the host the user typed, never an address it resolved to.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::Url;

use crate::ssrf::{SsrfError, SsrfPolicy, UpstreamUrl};

/// How long the TCP (and TLS) connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The characters of a reason kept by [`short`].
const REASON_KEPT: usize = 200;

/// A URL this client may be given: `http` or `https` with a host, no user name or password,
/// no fragment. A query is kept (a bot's access token, a document's `?format=yaml`) as part of
/// the request target. Whether the host may be reached is the policy's decision at every
/// connection, never this parse's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Scheme, host and port, for the network policy and the connection.
    pub url: UpstreamUrl,
    /// The request target: the path and, when given, `?` and the query.
    pub path_and_query: String,
}

impl Target {
    /// Parses `text`; the error says what to change and names nothing the user did not write.
    pub fn parse(text: &str) -> Result<Target, String> {
        if has_userinfo(text) {
            return Err("the URL must not contain a user name or password".into());
        }
        let mut url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("the URL must be http:// or https://".into());
        }
        if url.fragment().is_some() {
            return Err("the URL takes no fragment (`#…`)".into());
        }
        let query = url.query().map(str::to_owned);
        url.set_query(None);
        let base = UpstreamUrl::parse(url.as_str()).map_err(|e| match e {
            SsrfError::InvalidUrl(why) => why,
            SsrfError::Userinfo => "the URL must not contain a user name or password".into(),
            SsrfError::Scheme(_) => "the URL must be http:// or https://".into(),
            other => other.to_string(),
        })?;
        let path_and_query = match query {
            Some(q) => format!("{}?{q}", base.base_path()),
            None => base.base_path().to_owned(),
        };
        Ok(Target { url: base, path_and_query })
    }
}

/// Whether the authority as typed holds an `@` (`http://@host/` parses to an empty user name,
/// which the parsed URL no longer shows).
fn has_userinfo(text: &str) -> bool {
    let Some(start) = text.find("://") else { return false };
    let rest = &text[start + 3..];
    let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    rest[..end].contains('@')
}

/// A byte stream to a checked address, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open connection and the `Host` header its requests carry.
pub struct Connection {
    pub io: Pin<Box<dyn Io>>,
    pub host_header: String,
}

/// Resolves `url`'s host under `policy` and connects to the one checked address, with TLS for
/// https, within [`CONNECT_TIMEOUT`] for each step.
pub async fn connect(policy: &SsrfPolicy, url: &UpstreamUrl) -> Result<Connection, String> {
    let checked = policy.resolve_checked(url).await.map_err(|e| match e {
        SsrfError::Forbidden { reason } => format!("the network policy refuses {} ({reason})", url.host()),
        SsrfError::Resolve(host) => format!("{host} could not be resolved"),
        other => other.to_string(),
    })?;
    let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(checked.addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => {
            tracing::debug!(host = url.host(), addr = %checked.addr, error = %e, "outbound connect failed");
            return Err(format!("cannot connect to {}:{}", url.host(), url.port()));
        }
        Err(_) => {
            let secs = CONNECT_TIMEOUT.as_secs();
            return Err(format!("no connection to {}:{} within {secs} s", url.host(), url.port()));
        }
    };
    let _ = tcp.set_nodelay(true);
    let host_header = checked.host_header.clone();
    if !checked.tls {
        return Ok(Connection { io: Box::pin(tcp), host_header });
    }
    let config = tls_config().ok_or_else(|| "TLS is unavailable: no root certificates were found".to_owned())?;
    let name = rustls::pki_types::ServerName::try_from(checked.host.clone())
        .map_err(|_| format!("`{}` is not a name TLS can check", url.host()))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(tls)) => Ok(Connection { io: Box::pin(tls), host_header }),
        Ok(Err(e)) => Err(format!("TLS with {} failed: {}", url.host(), short(&e.to_string()))),
        Err(_) => Err(format!("no TLS handshake with {} within {} s", url.host(), CONNECT_TIMEOUT.as_secs())),
    }
}

/// What a [`get`] read.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// One GET of `target` under `policy`, asking for `accept`: the status and at most `limit`
/// bytes of the body (a longer body is an error, not a cut one), all within `timeout`.
pub async fn get(
    policy: &SsrfPolicy,
    target: &Target,
    accept: &str,
    limit: usize,
    timeout: Duration,
) -> Result<Fetched, String> {
    match tokio::time::timeout(timeout, get_within(policy, target, accept, limit)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no whole answer from {} within {} s", target.url.host(), timeout.as_secs())),
    }
}

async fn get_within(policy: &SsrfPolicy, target: &Target, accept: &str, limit: usize) -> Result<Fetched, String> {
    let connection = connect(policy, &target.url).await?;
    let (mut sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(connection.io))
        .await
        .map_err(|e| format!("HTTP handshake failed: {}", short(&e.to_string())))?;
    // The connection drives the exchange; it ends with the answer (one request, then closed).
    let driver = tokio::spawn(async move {
        let _ = driver.await;
    });
    let outcome = exchange(&mut sender, target, &connection.host_header, accept, limit).await;
    driver.abort();
    outcome
}

async fn exchange(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    target: &Target,
    host_header: &str,
    accept: &str,
    limit: usize,
) -> Result<Fetched, String> {
    let request = http::Request::get(target.path_and_query.as_str())
        .header(http::header::HOST, host_header)
        .header(http::header::ACCEPT, accept)
        .header(http::header::USER_AGENT, "Sluice/1")
        .header(http::header::CONNECTION, "close")
        .body(Empty::new())
        .map_err(|e| format!("the request cannot be built: {}", short(&e.to_string())))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("the exchange with {} failed: {}", target.url.host(), short(&e.to_string())))?;
    let status = response.status().as_u16();
    let content_type =
        response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut body = response.into_body();
    let mut bytes = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the answer failed: {}", short(&e.to_string())))?;
        if let Some(data) = frame.data_ref() {
            if bytes.len() + data.len() > limit {
                return Err(format!("the answer is longer than {limit} bytes"));
            }
            bytes.extend_from_slice(data);
        }
    }
    Ok(Fetched { status, content_type, body: bytes.freeze() })
}

/// `text` on one line, without control characters, at most 200 characters.
pub fn short(text: &str) -> String {
    let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let line = line.trim();
    if line.chars().count() > REASON_KEPT {
        format!("{}…", line.chars().take(REASON_KEPT).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// The TLS client configuration, built once: rustls with ring and the system's roots. `None`
/// when the system has no roots at all.
fn tls_config() -> Option<Arc<rustls::ClientConfig>> {
    static CONFIG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            match rustls_native_certs::load_native_certs() {
                Ok(certs) => {
                    let (added, ignored) = roots.add_parsable_certificates(certs);
                    tracing::debug!(added, ignored, "outbound TLS roots loaded");
                }
                Err(e) => tracing::warn!("outbound TLS: cannot read the system's root certificates: {e}"),
            }
            if roots.is_empty() {
                return None;
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(Arc::new(config))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn queries_are_kept_and_userinfo_refused() {
        let t = Target::parse("https://oapi.dingtalk.com/robot/send?access_token=abc").unwrap();
        assert_eq!(t.url.host(), "oapi.dingtalk.com");
        assert_eq!(t.url.port(), 443);
        assert!(t.url.tls());
        assert_eq!(t.path_and_query, "/robot/send?access_token=abc");
        let t = Target::parse("http://0x7f.1:8080").unwrap();
        assert_eq!((t.url.host(), t.url.port(), t.path_and_query.as_str()), ("127.0.0.1", 8080, "/"));
        // `?` ends the authority: the host is a.example, the `@` is in the query.
        let t = Target::parse("http://a.example?@127.0.0.1/").unwrap();
        assert_eq!(t.url.host(), "a.example");
        for bad in [
            "http://user:pw@example.com/",
            "http://@example.com/",
            "https://a.example/#frag",
            "ftp://example.com/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "http://",
            "not a url",
            "http://example.com:0/",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reasons_are_short_single_lines() {
        assert_eq!(short("a\nb\r\n"), "a b");
        let long = "x".repeat(1000);
        assert_eq!(short(&long).chars().count(), REASON_KEPT + 1);
    }

    /// A one-shot HTTP server on 127.0.0.1 that answers `answer` to the first request and
    /// hands back what it was sent.
    async fn serve_once(answer: Vec<u8>) -> (u16, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            stream.write_all(&answer).await.unwrap();
            String::from_utf8_lossy(&seen).into_owned()
        });
        (port, handle)
    }

    fn loopback() -> SsrfPolicy {
        SsrfPolicy::new(&["127.0.0.1".to_owned()]).unwrap()
    }

    #[tokio::test]
    async fn get_reads_the_answer_and_sends_the_query() {
        let (port, seen) = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/yaml\r\nContent-Length: 5\r\n\r\na: 1\n".to_vec(),
        )
        .await;
        let target = Target::parse(&format!("http://127.0.0.1:{port}/spec?format=yaml")).unwrap();
        let fetched = get(&loopback(), &target, "application/yaml", 100, Duration::from_secs(5)).await.unwrap();
        assert_eq!(fetched.status, 200);
        assert_eq!(fetched.content_type.as_deref(), Some("application/yaml"));
        assert_eq!(&fetched.body[..], b"a: 1\n");
        let request = seen.await.unwrap();
        assert!(request.starts_with("GET /spec?format=yaml HTTP/1.1\r\n"), "{request}");
        assert!(request.to_ascii_lowercase().contains("accept: application/yaml"), "{request}");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_whole() {
        let (port, _) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789".to_vec()).await;
        let target = Target::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let err = get(&loopback(), &target, "*/*", 10, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err, "the answer is longer than 10 bytes");
    }

    #[tokio::test]
    async fn a_refused_host_is_never_dialled() {
        let target = Target::parse("http://127.0.0.1:9/doc").unwrap();
        let err = get(&SsrfPolicy::default(), &target, "*/*", 10, Duration::from_secs(5)).await.unwrap_err();
        assert!(err.starts_with("the network policy refuses 127.0.0.1"), "{err}");
    }
}
