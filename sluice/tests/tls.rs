//! The edge's TLS listener through the real binary: HTTP/2 and HTTP/1.1 by ALPN, a renewed
//! certificate taken without a restart, HTTP/2's limits, and a clear refusal to start without a
//! usable certificate. (Every other edge test runs over HTTP/2 and TLS too: `./scripts/test`
//! runs them again with `SLUICE_TEST_EDGE=h2`.)

mod support;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{EdgeCert, Server, free_port, make_cert, tls_connector, unique_dir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// A server with a TLS listener on the returned address, using `cert`.
fn start(tag: &str, cert: &EdgeCert) -> (Server, SocketAddr) {
    let addr = free_port();
    let (addr_text, cert_path, key_path) =
        (addr.to_string(), cert.cert.display().to_string(), cert.key.display().to_string());
    let env = [
        ("SLUICE_EDGE_TLS_ADDR", addr_text.as_str()),
        ("SLUICE_TLS_CERT_FILE", cert_path.as_str()),
        ("SLUICE_TLS_KEY_FILE", key_path.as_str()),
    ];
    (Server::start(tag, &env), addr)
}

/// The protocol ALPN picked, and the first line of an HTTP/1.1 answer when it is HTTP/1.1.
async fn handshake(addr: SocketAddr, trusted: &EdgeCert, alpn: &[&[u8]]) -> std::io::Result<(Vec<u8>, String)> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = pingora::tls::ServerName::try_from("127.0.0.1").map_err(std::io::Error::other)?;
    let mut tls = tls_connector(trusted, alpn).connect(name, tcp).await?;
    let protocol = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec).unwrap_or_default();
    if protocol == b"h2" {
        return Ok((protocol, String::new()));
    }
    tls.write_all(b"GET /customers/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await?;
    let line = String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned();
    Ok((protocol, line))
}

#[test]
fn http2_and_http1_are_offered_by_alpn_on_one_listener() {
    let cert = make_cert(&unique_dir("tls-alpn"), "edge", "alpn");
    let (_server, addr) = start("tls-alpn", &cert);
    let rt = runtime();
    let (protocol, _) = rt.block_on(handshake(addr, &cert, &[b"h2", b"http/1.1"])).expect("h2 handshake");
    assert_eq!(protocol, b"h2");
    let (protocol, line) = rt.block_on(handshake(addr, &cert, &[b"http/1.1"])).expect("http/1.1 handshake");
    assert_eq!((protocol.as_slice(), line.as_str()), (&b"http/1.1"[..], "HTTP/1.1 401 Unauthorized"));
    let (protocol, line) = rt.block_on(handshake(addr, &cert, &[])).expect("a handshake without ALPN");
    assert_eq!((protocol.as_slice(), line.as_str()), (&b""[..], "HTTP/1.1 401 Unauthorized"));
    // Over HTTP/2 the same answer, envelope and all.
    let answer = support::h2_request(addr, &cert, "GET", "/customers/1", &[], b"").expect("an h2 answer");
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["code"], "Unauthorized.MissingCredentials");
    assert_eq!(answer.json()["requestId"].as_str(), answer.header("x-request-id"));
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart() {
    let dir = unique_dir("tls-reload");
    let first = make_cert(&dir, "first", "first");
    let second = make_cert(&dir, "second", "second");
    let live = EdgeCert { cert: dir.join("live.crt"), key: dir.join("live.key") };
    std::fs::copy(&first.cert, &live.cert).expect("copy");
    std::fs::copy(&first.key, &live.key).expect("copy");
    let (server, addr) = start("tls-reload", &live);
    let rt = runtime();
    assert!(rt.block_on(handshake(addr, &first, &[b"h2"])).is_ok(), "the first certificate is served");
    assert!(rt.block_on(handshake(addr, &second, &[b"h2"])).is_err(), "the second is not yet");

    // Written as renewal tools do: certificate first, then key (in between they do not match,
    // and the first pair stays).
    std::fs::copy(&second.cert, &live.cert).expect("copy");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(rt.block_on(handshake(addr, &first, &[b"h2"])).is_ok(), "a half-written pair keeps the old one");
    std::fs::copy(&second.key, &live.key).expect("copy");
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.block_on(handshake(addr, &second, &[b"h2"])).is_err() {
        assert!(Instant::now() < deadline, "the renewed certificate was not served:\n{}", server.output());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(rt.block_on(handshake(addr, &first, &[b"h2"])).is_err(), "the old certificate is gone");
    let answer = support::h2_request(addr, &second, "GET", "/customers/1", &[], b"").expect("an answer");
    assert_eq!(answer.status, 401);
}

#[test]
fn http2_limits_hold_and_a_reset_flood_leaves_the_server_serving() {
    let cert = make_cert(&unique_dir("tls-h2"), "edge", "h2");
    let (_server, addr) = start("tls-h2", &cert);
    let rt = runtime();
    let (streams, refused) = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let name = pingora::tls::ServerName::try_from("127.0.0.1").expect("name");
        let tls = tls_connector(&cert, &[b"h2"]).connect(name, tcp).await.expect("tls");
        let (client, connection) = h2::client::handshake(tls).await.expect("h2");
        let mut connection = Box::pin(connection);
        // One answered call brings the server's SETTINGS in.
        let answered = async {
            let mut client = client.clone().ready().await.expect("ready");
            let request = http::Request::get("https://127.0.0.1/customers/1").body(()).expect("request");
            let (response, _) = client.send_request(request, true).expect("send");
            response.await.expect("an answer").status()
        };
        let streams = tokio::select! {
            _ = connection.as_mut() => panic!("the connection ended before the first answer"),
            status = answered => {
                assert_eq!(status, 401);
                connection.max_concurrent_send_streams()
            }
        };
        let connection = tokio::spawn(connection);
        let mut client = client;
        // Rapid reset (CVE-2023-44487): open streams and cancel each at once.
        let mut refused = false;
        for _ in 0..5000 {
            let Ok(ready) = client.clone().ready().await else {
                refused = true;
                break;
            };
            client = ready;
            let request = http::Request::get("https://127.0.0.1/customers/1").body(()).expect("request");
            match client.send_request(request, true) {
                Ok((response, _)) => drop(response),
                Err(_) => {
                    refused = true;
                    break;
                }
            }
        }
        let ended = tokio::time::timeout(Duration::from_secs(10), connection).await;
        (streams, refused || ended.is_ok())
    });
    assert_eq!(streams, 100, "the edge allows 100 streams at once per connection");
    assert!(refused, "5000 streams reset at once did not end the connection");
    // The server still serves new connections.
    let answer = support::h2_request(addr, &cert, "GET", "/customers/1", &[], b"").expect("an answer after the flood");
    assert_eq!(answer.status, 401);
}

#[test]
fn the_server_refuses_to_start_without_a_usable_certificate() {
    let dir = unique_dir("tls-bad");
    std::fs::write(dir.join("empty.crt"), b"").expect("file");
    for (cert, key) in [("missing.crt", "missing.key"), ("empty.crt", "empty.crt")] {
        let output = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("serve")
            .current_dir(support::workspace_root())
            .env("SLUICE_DATA_DIR", &dir)
            .env("SLUICE_EDGE_ADDR", free_port().to_string())
            .env("SLUICE_ADMIN_ADDR", free_port().to_string())
            .env("SLUICE_EDGE_TLS_ADDR", free_port().to_string())
            .env("SLUICE_TLS_CERT_FILE", dir.join(cert))
            .env("SLUICE_TLS_KEY_FILE", dir.join(key))
            .stdin(Stdio::null())
            .output()
            .expect("run sluice");
        let text = String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout);
        assert!(!output.status.success(), "started without a certificate: {text}");
        assert!(text.contains(cert), "the error does not name the file: {text}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("serve")
        .env("SLUICE_DATA_DIR", &dir)
        .env("SLUICE_EDGE_TLS_ADDR", "127.0.0.1:1")
        .output()
        .expect("run sluice");
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success() && text.contains("SLUICE_TLS_CERT_FILE"), "{text}");
}
