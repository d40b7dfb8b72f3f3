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

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use net::SsrfPolicy;
use net::client::short;
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::WebhookTarget;

/// How long the whole attempt may take, resolution and answer included.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a failed answer's body is read (of which [`short`] keeps 200 characters).
const ANSWER_READ: usize = 4096;

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
    let connection = net::client::connect(policy, &attempt.target.url).await?;
    post(connection.io, &connection.host_header, attempt).await
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
