//! One attempt of one delivery: the network policy checks the host, the connection goes to the
//! checked address and nowhere else, the body is POSTed once over HTTP/1.1 (TLS for https),
//! and the answer's status decides. Nothing here retries or touches the store.
//!
//! Headers: `Content-Type: application/json`, `X-Sluice-Event`, `X-Sluice-Delivery` (the
//! delivery's id, the same on every attempt) and, with a secret,
//! `X-Sluice-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`. Redirects are not
//! followed: a 3xx is a failure like any other non-2xx.
//!
//! A failure is a short reason fit for the delivery log: a status code with at most 200
//! characters of the answer, a timeout, a refusal of the network policy naming the host the
//! user typed. Addresses a name resolved to are only logged.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use net::{SsrfError, SsrfPolicy};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::target::WebhookTarget;

/// How long the TCP (and TLS) connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the whole attempt may take, resolution and answer included.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a failed answer's body is read, and how many characters of it are kept.
const ANSWER_READ: usize = 4096;
const ANSWER_KEPT: usize = 200;

/// What one attempt sends.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub target: &'a WebhookTarget,
    pub body: &'a str,
    pub event: &'a str,
    pub delivery_id: i64,
    pub secret: Option<&'a str>,
}

/// `sha256=<hex>` of `body` keyed with `secret`: what `X-Sluice-Signature` carries.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; the error cannot happen, but an empty tag is safe.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends one attempt under `policy`: `Ok(status)` for a 2xx, else the reason.
pub async fn send(policy: &SsrfPolicy, attempt: Attempt<'_>) -> Result<u16, String> {
    match tokio::time::timeout(TOTAL_TIMEOUT, exchange(policy, attempt)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no answer within {} s", TOTAL_TIMEOUT.as_secs())),
    }
}

async fn exchange(policy: &SsrfPolicy, attempt: Attempt<'_>) -> Result<u16, String> {
    let url = &attempt.target.url;
    let checked = policy.resolve_checked(url).await.map_err(|e| match e {
        SsrfError::Forbidden { reason } => format!("the network policy refuses {} ({reason})", url.host()),
        SsrfError::Resolve(host) => format!("{host} could not be resolved"),
        other => other.to_string(),
    })?;
    let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(checked.addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => {
            tracing::debug!(host = url.host(), addr = %checked.addr, error = %e, "webhook connect failed");
            return Err(format!("cannot connect to {}:{}", url.host(), url.port()));
        }
        Err(_) => {
            return Err(format!(
                "no connection to {}:{} within {} s",
                url.host(),
                url.port(),
                CONNECT_TIMEOUT.as_secs()
            ));
        }
    };
    let _ = tcp.set_nodelay(true);
    if !checked.tls {
        return post(tcp, &checked.host_header, attempt).await;
    }
    let config = tls_config().ok_or_else(|| "TLS is unavailable: no root certificates were found".to_owned())?;
    let name = rustls::pki_types::ServerName::try_from(checked.host.clone())
        .map_err(|_| format!("`{}` is not a name TLS can check", url.host()))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return Err(format!("TLS with {} failed: {}", url.host(), short(&e.to_string()))),
        Err(_) => return Err(format!("no TLS handshake with {} within {} s", url.host(), CONNECT_TIMEOUT.as_secs())),
    };
    post(tls, &checked.host_header, attempt).await
}

/// POSTs the body on `io` and reads the answer's status (and, for a failure, the start of
/// its body).
async fn post<IO>(io: IO, host_header: &str, attempt: Attempt<'_>) -> Result<u16, String>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake failed: {}", short(&e.to_string())))?;
    // The connection drives the exchange; it ends with the answer (one request, then closed).
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut request = http::Request::post(attempt.target.path_and_query.as_str())
        .header(http::header::HOST, host_header)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "Sluice-Webhook/1")
        .header(http::header::CONNECTION, "close")
        .header("X-Sluice-Event", attempt.event)
        .header("X-Sluice-Delivery", attempt.delivery_id.to_string());
    if let Some(secret) = attempt.secret {
        request = request.header("X-Sluice-Signature", signature(secret, attempt.body.as_bytes()));
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(attempt.body.as_bytes())))
        .map_err(|e| format!("the request cannot be built: {}", short(&e.to_string())))?;
    let outcome = match sender.send_request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            if response.status().is_success() {
                Ok(status)
            } else {
                let text = answer_start(response.into_body()).await;
                Err(if text.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {text}") })
            }
        }
        Err(e) => Err(format!("the exchange failed: {}", short(&e.to_string()))),
    };
    driver.abort();
    outcome
}

/// The first characters of a failed answer's body, on one line, without control characters.
async fn answer_start(mut body: hyper::body::Incoming) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ANSWER_READ {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    bytes.extend_from_slice(data);
                }
            }
            _ => break,
        }
    }
    short(&String::from_utf8_lossy(&bytes))
}

/// `text` on one line, at most [`ANSWER_KEPT`] characters.
fn short(text: &str) -> String {
    let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let line = line.trim();
    if line.chars().count() > ANSWER_KEPT {
        format!("{}…", line.chars().take(ANSWER_KEPT).collect::<String>())
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
                    tracing::debug!(added, ignored, "webhook TLS roots loaded");
                }
                Err(e) => tracing::warn!("webhook TLS: cannot read the system's root certificates: {e}"),
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

    #[test]
    fn signatures_are_hex_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn reasons_are_short_single_lines() {
        assert_eq!(short("a\nb\r\n"), "a b");
        let long = "x".repeat(1000);
        assert_eq!(short(&long).chars().count(), ANSWER_KEPT + 1);
    }

    #[tokio::test]
    async fn https_goes_through_tls_and_a_failed_handshake_is_a_short_reason() {
        // A plain TCP peer that hangs up: the TLS handshake fails, and says so.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        });
        let target = WebhookTarget::parse(&format!("https://127.0.0.1:{port}/hook")).unwrap();
        let attempt = Attempt { target: &target, body: "{}", event: "webhook.test", delivery_id: 1, secret: None };
        let policy = SsrfPolicy::new(&["127.0.0.1".to_owned()]).unwrap();
        let err = send(&policy, attempt).await.unwrap_err();
        assert!(err.starts_with("TLS"), "{err}");
        assert!(!err.contains('\n') && err.chars().count() < 300, "{err}");
    }

    #[tokio::test]
    async fn a_refused_host_is_never_dialled() {
        let target = WebhookTarget::parse("http://127.0.0.1:9/hook").unwrap();
        let attempt = Attempt { target: &target, body: "{}", event: "webhook.test", delivery_id: 1, secret: None };
        let err = send(&SsrfPolicy::default(), attempt).await.unwrap_err();
        assert!(err.starts_with("the network policy refuses 127.0.0.1"), "{err}");
    }
}
