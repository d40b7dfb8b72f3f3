//! Registered APIs end to end: the real `sluice serve` proxies to an in-process mock upstream on
//! 127.0.0.1 (allowed with `SLUICE_SSRF_ALLOW=127.0.0.1`), applied with `sluice apply`.
//!
//! The mock speaks HTTP/1.1 with keep-alive, records every request it receives and counts the
//! connections it accepts. It never echoes credentials back (as a well-behaved upstream), so a
//! secret in a caller's response can only have come from the edge.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Server, raw_exchange, request, sluice, try_request};

const QUERY_SECRET: &str = "q-s3cret-7f1e";
const HEADER_SECRET: &str = "h-s3cret-92ab";
const BODY_SECRET: &str = "b-s3cret-4c0d";

// ---------------------------------------------------------------------------------------------
// The mock upstream

/// A request as the mock received it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    fn query(&self) -> HashMap<String, String> {
        let query = self.target.split_once('?').map_or("", |(_, q)| q);
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
    }
}

/// An upstream on 127.0.0.1: one thread per connection, keep-alive, behaviour by path.
struct Mock {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
}

impl Mock {
    fn start() -> Mock {
        let listener = support::free_listener();
        let addr = listener.local_addr().expect("mock address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (log, count) = (Arc::clone(&received), Arc::clone(&connections));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve_connection(stream, &log));
            }
        });
        Mock { addr, received, connections }
    }

    fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn last(&self, path: &str) -> Received {
        let log = self.received.lock().expect("log");
        log.iter().rev().find(|r| r.path() == path).cloned().unwrap_or_else(|| panic!("no request to {path}: {log:?}"))
    }

    fn count(&self, path: &str) -> usize {
        self.received.lock().expect("log").iter().filter(|r| r.path() == path).count()
    }
}

fn serve_connection(stream: TcpStream, log: &Mutex<Vec<Received>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader) else { return };
        log.lock().expect("log").push(request.clone());
        if !respond(&mut writer, &request) {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Received> {
    let (method, target, headers) = support::read_request_head(reader)?;
    let get = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Received { method, target, headers, body })
}

/// Answers by path (under `/v1`); false closes the connection.
fn respond(out: &mut TcpStream, request: &Received) -> bool {
    let path = request.path().strip_prefix("/v1").unwrap_or(request.path());
    let full = |out: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &[u8]| {
        let mut head = format!("HTTP/1.1 {status} Mock\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let body: &[u8] = if request.method == "HEAD" { b"" } else { body };
        out.write_all(head.as_bytes()).and_then(|_| out.write_all(body)).is_ok()
    };
    if let Some(code) = path.strip_prefix("/status/") {
        let code: u16 = code.parse().unwrap_or(500);
        let body = format!("{{\"upstreamStatus\":{code}}}");
        return full(out, code, &[("Content-Type", "application/json")], body.as_bytes());
    }
    match path {
        "/upload" => full(out, 200, &[("Content-Type", "application/octet-stream")], &request.body),
        "/xml" => full(
            out,
            200,
            &[("Content-Type", "application/xml; charset=utf-8")],
            b"<forecast><day>sunny</day></forecast>",
        ),
        "/slow" => {
            std::thread::sleep(Duration::from_secs(2));
            full(out, 200, &[], b"late")
        }
        "/redirect" => full(out, 302, &[("Location", "http://169.254.169.254/latest/meta-data/")], b""),
        "/cut" => {
            // Promises 100000 bytes, sends 1000, closes.
            let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
            let _ = out.write_all(&[b'x'; 1000]);
            let _ = out.flush();
            let _ = out.shutdown(std::net::Shutdown::Both);
            false
        }
        "/drip" => {
            if out.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err() {
                return false;
            }
            for i in 0..5 {
                std::thread::sleep(Duration::from_millis(300));
                let piece = format!("piece{i};");
                if out.write_all(format!("{:x}\r\n{piece}\r\n", piece.len()).as_bytes()).is_err() {
                    return false;
                }
            }
            out.write_all(b"0\r\n\r\n").is_ok()
        }
        _ => {
            // An echo that leaves credentials out, as an upstream would.
            let secret =
                |k: &str| k.eq_ignore_ascii_case("appid") || k.eq_ignore_ascii_case("x-api-key") || k == "token";
            let query: HashMap<String, String> = request.query().into_iter().filter(|(k, _)| !secret(k)).collect();
            let headers: HashMap<String, String> = request
                .headers
                .iter()
                .filter(|(k, _)| !secret(k))
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect();
            let echo = serde_json::json!({
                "method": request.method, "path": request.path(), "query": query, "headers": headers,
                "bodyBytes": request.body.len(),
            });
            full(
                out,
                200,
                &[("Content-Type", "application/json"), ("Set-Cookie", "upstream_session=abc; Path=/")],
                echo.to_string().as_bytes(),
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn start_server(tag: &str, extra: &[(&str, &str)]) -> Server {
    let mut env = vec![("SLUICE_SSRF_ALLOW", "127.0.0.1"), ("SLUICE_DEMO", "false")];
    env.extend_from_slice(extra);
    Server::start(tag, &env)
}

/// Applies `yaml` to the server's store with `env` and waits until `probe` is served. Apply
/// writes API by API, so `probe` should be the last API of the file.
fn apply(server: &Server, yaml: &str, env: &[(&str, &str)], probe: &str) {
    let (ok, out) = try_apply(server, yaml, env);
    assert!(ok, "apply failed:\n{out}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = try_request(server.edge, "OPTIONS", probe, &[], b"")
            && r.status != 404
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{probe} was not served after apply:\n{}", server.output());
}

fn try_apply(server: &Server, yaml: &str, env_overrides: &[(&str, &str)]) -> (bool, String) {
    let file = server.data_dir.join(format!("apply-{:x}.yaml", rand_suffix()));
    std::fs::write(&file, yaml).expect("write yaml");
    // `sluice apply` reads the same configuration as the server: the same allow-list, unless
    // the test says otherwise (later entries win).
    let mut env = vec![("SLUICE_SSRF_ALLOW", "127.0.0.1"), ("SLUICE_DEMO", "false")];
    env.extend_from_slice(env_overrides);
    sluice(&server.data_dir, &["apply", "-f", file.to_str().expect("path")], &env)
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// A registered API document; `rest` is YAML appended at the top level.
fn api(name: &str, path: &str, method: &str, upstream: &str, rest: &str) -> String {
    format!(
        "kind: Api\nworkgroup: partners\nname: {name}\npath: {path}\nmethod: {method}\nmode: registered\n\
         upstream:\n{upstream}{rest}authMode: none\n---\n"
    )
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

fn raw_text(response: &support::Response) -> String {
    let headers: Vec<String> = response.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{}\n{}", headers.join("\n"), text(&response.body))
}

fn assert_envelope(response: &support::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status, status, "{}", raw_text(response));
    let body = response.json();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["requestId"].as_str(), response.header("x-request-id"), "{body}");
    assert!(response.header("content-type").is_some_and(|v| v.starts_with("application/json")));
    body["message"].as_str().unwrap_or_default().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn parameters_are_mapped_and_constants_reach_the_upstream_but_never_the_caller() {
    let mock = Mock::start();
    let server = start_server("reg-map", &[]);
    let base = mock.base_url();
    let yaml = api(
        "weather",
        "/weather/{city}",
        "GET",
        &format!(
            "  baseUrl: {base}\n  path: /forecast/{{town}}/daily\n  timeoutMs: 3000\n  constants:\n\
             \x20   - {{name: appid, position: query, value: {QUERY_SECRET}}}\n\
             \x20   - {{name: X-Api-Key, position: header, valueEnv: TEST_HEADER_SECRET}}\n"
        ),
        "params:\n  - {name: city, position: path, upstreamName: town, required: true}\n\
         \x20 - {name: days, upstreamName: cnt, type: int, default: \"3\"}\n\
         \x20 - {name: X-Lang, position: header, upstreamName: Accept-Language}\n\
         \x20 - {name: q, upstreamPosition: header, upstreamName: X-Search}\n",
    ) + &api(
        "orders",
        "/orders",
        "POST",
        &format!(
            "  baseUrl: {base}\n  path: /orders\n  method: PUT\n  constants:\n\
             \x20   - {{name: token, position: body, value: {BODY_SECRET}}}\n"
        ),
        "params:\n  - {name: item, position: body, upstreamName: sku, required: true}\n\
         \x20 - {name: qty, position: body, type: int}\n  - {name: note, position: query, upstreamPosition: body}\n",
    );
    apply(&server, &yaml, &[("TEST_HEADER_SECRET", HEADER_SECRET)], "/orders");

    let response = server.call(
        "GET",
        "/weather/S%C3%A3o%20Paulo?days=5&q=rain%20or%20shine&unmapped=1",
        &[
            ("X-Lang", "de"),
            ("Authorization", "Bearer caller-token"),
            ("Cookie", "caller=1"),
            ("X-Sluice-Env", "prod"),
            ("X-Forwarded-For", "10.0.0.1"),
        ],
        b"",
    );
    assert_eq!(response.status, 200, "{}", raw_text(&response));
    let received = mock.last("/v1/forecast/S%C3%A3o%20Paulo/daily");
    assert_eq!(received.method, "GET");
    let query = received.query();
    assert_eq!(query.get("cnt").map(String::as_str), Some("5"));
    assert_eq!(query.get("appid").map(String::as_str), Some(QUERY_SECRET), "the query constant arrived");
    assert!(!query.contains_key("days") && !query.contains_key("unmapped") && !query.contains_key("q"), "{query:?}");
    assert_eq!(received.header("x-api-key"), Some(HEADER_SECRET), "the header constant (valueEnv) arrived");
    assert_eq!(received.header("accept-language"), Some("de"));
    assert_eq!(received.header("x-search"), Some("rain or shine"));
    assert_eq!(received.header("host"), Some(mock.addr.to_string().as_str()));
    assert_eq!(received.header("x-request-id"), response.header("x-request-id"));
    for gone in ["authorization", "cookie", "x-sluice-env", "x-forwarded-for", "x-lang"] {
        assert_eq!(received.header(gone), None, "{gone} reached the upstream: {received:?}");
    }
    let shown = raw_text(&response);
    assert!(!shown.contains(QUERY_SECRET) && !shown.contains(HEADER_SECRET), "a constant reached the caller:\n{shown}");
    assert!(response.header("set-cookie").is_none(), "upstream cookies are dropped:\n{shown}");
    assert!(response.header("x-request-id").is_some());
    assert_eq!(response.json()["path"], "/v1/forecast/S%C3%A3o%20Paulo/daily");

    // Defaults fill in; types are checked before anything goes upstream.
    server.get("/weather/Oslo");
    assert_eq!(mock.last("/v1/forecast/Oslo/daily").query().get("cnt").map(String::as_str), Some("3"));
    let before = mock.count("/v1/forecast/Oslo/daily");
    let invalid = server.get("/weather/Oslo?days=soon");
    assert_envelope(&invalid, 400, "InvalidParameter.days");
    assert_eq!(mock.count("/v1/forecast/Oslo/daily"), before, "an invalid call went upstream");

    // Body parameters: the upstream gets a JSON body of mapped names and constants only.
    let created = server.call(
        "POST",
        "/orders?note=gift",
        &[("Content-Type", "application/json")],
        br#"{"item": "sku-1", "qty": "2", "extra": true}"#,
    );
    assert_eq!(created.status, 200, "{}", raw_text(&created));
    let received = mock.last("/v1/orders");
    assert_eq!(received.method, "PUT");
    assert_eq!(received.header("content-type"), Some("application/json"));
    let sent: serde_json::Value = serde_json::from_slice(&received.body).expect("a JSON body upstream");
    assert_eq!(sent, serde_json::json!({"sku": "sku-1", "qty": 2, "note": "gift", "token": BODY_SECRET}));
    assert!(!raw_text(&created).contains(BODY_SECRET));
    let missing = server.call("POST", "/orders", &[("Content-Type", "application/json")], br#"{"qty": 1}"#);
    assert_envelope(&missing, 400, "MissingParameter.item");
    let big = format!("{{\"item\": \"{}\"}}", "x".repeat(70 * 1024));
    let too_large = server.call("POST", "/orders", &[("Content-Type", "application/json")], big.as_bytes());
    assert_envelope(&too_large, 413, "PayloadTooLarge");
}

#[test]
fn bodies_stream_both_ways_and_are_not_held_to_the_local_body_limit() {
    let mock = Mock::start();
    // Data APIs accept at most 1 KiB here; a streamed body is not read by the edge.
    let server = start_server("reg-stream", &[("SLUICE_MAX_BODY_BYTES", "1024")]);
    let base = mock.base_url();
    let yaml = api("upload", "/upload", "POST", &format!("  baseUrl: {base}\n  path: /upload\n  method: POST\n"), "")
        + &api("drip", "/drip", "GET", &format!("  baseUrl: {base}\n  path: /drip\n  timeoutMs: 1000\n"), "");
    apply(&server, &yaml, &[], "/drip");

    let body: Vec<u8> = (0..5 * 1024 * 1024).map(|i: u32| (i * 7 % 251) as u8).collect();
    let started = Instant::now();
    let response = server.call("POST", "/upload", &[("Content-Type", "application/octet-stream")], &body);
    assert_eq!(response.status, 200, "{}", text(&response.body[..response.body.len().min(300)]));
    assert_eq!(response.body.len(), body.len());
    assert!(response.body == body, "the 5 MiB body came back changed");
    assert_eq!(mock.last("/v1/upload").body.len(), body.len());
    assert!(started.elapsed() < Duration::from_secs(20));

    // Chunked upload too.
    let chunked = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        4096,
        "y".repeat(4096)
    );
    let response = raw_exchange(server.edge, chunked.as_bytes()).expect("chunked upload");
    assert_eq!((response.status, response.body.len()), (200, 4096));
    assert_eq!(mock.last("/v1/upload").body, vec![b'y'; 4096]);

    // A response trickling in over 1.5 s with a 1 s timeout: each piece arrives in time.
    let started = Instant::now();
    let drip = server.get("/drip");
    assert_eq!(drip.status, 200, "{}", raw_text(&drip));
    assert_eq!(text(&drip.body), "piece0;piece1;piece2;piece3;piece4;");
    assert!(started.elapsed() >= Duration::from_millis(1400), "{:?}", started.elapsed());
}

#[test]
fn statuses_xml_and_redirects_pass_through_unchanged() {
    let mock = Mock::start();
    let server = start_server("reg-pass", &[]);
    let base = mock.base_url();
    let yaml = api(
        "status",
        "/status/{code}",
        "GET",
        &format!("  baseUrl: {base}\n  path: /status/{{code}}\n"),
        "params:\n  - {name: code, position: path, type: int, required: true}\n",
    ) + &api("xml", "/xml", "GET", &format!("  baseUrl: {base}\n  path: /xml\n  responseFormat: XML\n"), "")
        + &api("redirect", "/redirect", "GET", &format!("  baseUrl: {base}\n  path: /redirect\n"), "");
    apply(&server, &yaml, &[], "/redirect");

    for code in [200u16, 201, 400, 401, 404, 409, 429, 500, 502, 503] {
        let response = server.get(&format!("/status/{code}"));
        assert_eq!(response.status, code, "{}", raw_text(&response));
        assert_eq!(response.json(), serde_json::json!({"upstreamStatus": code}), "the upstream's own body");
        assert!(response.header("x-request-id").is_some());
    }

    let xml = server.get("/xml");
    assert_eq!(xml.status, 200);
    assert_eq!(xml.header("content-type"), Some("application/xml; charset=utf-8"));
    assert_eq!(text(&xml.body), "<forecast><day>sunny</day></forecast>");
    let head = server.call("HEAD", "/xml", &[], b"");
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(mock.last("/v1/xml").method, "HEAD", "HEAD asks the upstream for the head only");

    let redirect = server.get("/redirect");
    assert_eq!(redirect.status, 302, "{}", raw_text(&redirect));
    assert_eq!(redirect.header("location"), Some("http://169.254.169.254/latest/meta-data/"));
    assert_eq!(mock.count("/v1/redirect"), 1, "the edge did not retry or follow");
}

#[test]
fn upstream_failures_answer_with_the_envelope_and_the_server_stays_healthy() {
    let mock = Mock::start();
    let server = start_server("reg-fail", &[]);
    let base = mock.base_url();
    let closed = {
        let listener = support::free_listener();
        listener.local_addr().expect("addr")
    };
    let yaml = api(
        "down",
        "/down",
        "GET",
        &format!(
            "  baseUrl: http://{closed}/v1\n  timeoutMs: 2000\n  constants:\n\
             \x20   - {{name: appid, position: query, value: {QUERY_SECRET}}}\n"
        ),
        "",
    ) + &api("slow", "/slow", "GET", &format!("  baseUrl: {base}\n  path: /slow\n  timeoutMs: 500\n"), "")
        + &api("cut", "/cut", "GET", &format!("  baseUrl: {base}\n  path: /cut\n"), "")
        + &api("plain_as_tls", "/tls", "GET", &format!("  baseUrl: https://{}/v1\n  timeoutMs: 2000\n", mock.addr), "")
        + &api("fine", "/fine", "GET", &format!("  baseUrl: {base}\n  path: /fine\n"), "");
    apply(&server, &yaml, &[], "/fine");

    let down = server.get("/down");
    let message = assert_envelope(&down, 502, "Upstream.Unavailable");
    let shown = raw_text(&down);
    assert!(!shown.contains(QUERY_SECRET) && !shown.contains(&closed.port().to_string()), "{shown}");
    assert!(!message.contains("127.0.0.1"), "{message}");

    let started = Instant::now();
    let slow = server.get("/slow");
    assert_envelope(&slow, 504, "Upstream.Timeout");
    assert!(started.elapsed() < Duration::from_millis(1800), "took {:?}", started.elapsed());

    // TLS to a plain-HTTP server: the handshake fails, nothing is sent in clear.
    let tls = server.get("/tls");
    assert_envelope(&tls, 502, "Upstream.Unavailable");

    // The upstream closes half-way through the body: the caller sees a cut-short response.
    let cut = try_request(server.edge, "GET", "/cut", &[], b"");
    match cut {
        Ok(r) => {
            assert_eq!(r.header("content-length"), Some("100000"));
            assert!(r.body.len() < 100_000, "a cut-short body must not look complete");
        }
        // HTTP/1.1: the connection closed early; HTTP/2: the stream was reset.
        Err(e) => assert!(e.to_string().contains("unparsable") || e.to_string().contains("stream"), "{e}"),
    }

    for _ in 0..3 {
        let fine = server.get("/fine");
        assert_eq!(fine.status, 200, "{}", raw_text(&fine));
    }
    let health = request(server.admin, "GET", "/admin/v1/health", &[], b"");
    assert_eq!(health.status, 200);
}

#[test]
fn upstream_connections_are_pooled_and_reused() {
    let mock = Mock::start();
    // One edge thread: with more, pingora 0.9.1's pool now and then drops a kept connection
    // as it hands it over (cloudflare/pingora#998, its `reused_stream` races the idle poller's
    // `Arc`), which costs a new upstream connection but no correctness. With one thread the
    // race cannot happen, so any further connection here is Sluice's fault.
    let server = start_server("reg-pool", &[("SLUICE_THREADS", "1")]);
    let yaml = api("pooled", "/pooled", "GET", &format!("  baseUrl: {}\n  path: /pooled\n", mock.base_url()), "");
    apply(&server, &yaml, &[], "/pooled");
    let before = mock.connections.load(Ordering::SeqCst);
    for _ in 0..50 {
        let response = server.get("/pooled");
        assert_eq!(response.status, 200, "{}", raw_text(&response));
    }
    let opened = mock.connections.load(Ordering::SeqCst) - before;
    assert_eq!(mock.count("/v1/pooled"), 50);
    eprintln!("50 sequential calls opened {opened} upstream connection(s)");
    assert_eq!(opened, 1, "50 sequential calls opened {opened} upstream connections");
}

#[test]
fn ssrf_is_checked_when_applying_and_on_every_call() {
    let mock = Mock::start();
    let server = start_server("reg-ssrf", &[]);
    let port = mock.addr.port();

    // Without the allow-list, apply refuses the loopback upstream and says why and where.
    let refused = api("loop", "/loop", "GET", &format!("  baseUrl: http://127.0.0.1:{port}/v1\n"), "");
    let (ok, out) = try_apply(&server, &refused, &[("SLUICE_SSRF_ALLOW", "")]);
    assert!(!ok, "apply accepted a loopback upstream:\n{out}");
    assert!(out.contains("baseUrl") && out.contains("loopback") && out.contains("ssrf_allow"), "{out}");
    assert!(out.contains(":8: "), "the problem points at the baseUrl line:\n{out}");
    let (ok, out) = sluice(&server.data_dir, &["check", "-f", &write(&server, &refused)], &[("SLUICE_SSRF_ALLOW", "")]);
    assert!(!ok && out.contains("loopback"), "{out}");
    let metadata = api("meta", "/meta", "GET", "  baseUrl: http://169.254.169.254/latest\n", "");
    let (ok, out) = try_apply(&server, &metadata, &[("SLUICE_SSRF_ALLOW", "127.0.0.1")]);
    assert!(!ok && out.contains("cloud metadata"), "{out}");

    // Applied by a process that allows the name `localhost`; the server allows only 127.0.0.1,
    // so each call is refused when the name is checked again.
    let by_name = api("by_name", "/by-name", "GET", &format!("  baseUrl: http://localhost:{port}/v1\n"), "");
    apply(&server, &by_name, &[("SLUICE_SSRF_ALLOW", "localhost")], "/by-name");
    let response = server.get("/by-name");
    let message = assert_envelope(&response, 502, "Upstream.Forbidden");
    assert!(message.contains("loopback") && !message.contains("127.0.0.1"), "{message}");
    assert_eq!(mock.received.lock().expect("log").len(), 0, "a refused call reached the upstream");
}

fn write(server: &Server, yaml: &str) -> String {
    let file = server.data_dir.join(format!("check-{:x}.yaml", rand_suffix()));
    std::fs::write(&file, yaml).expect("write yaml");
    file.to_str().expect("path").to_owned()
}

/// `openssl s_server -www` on loopback: a real TLS upstream with a certificate for `localhost`
/// made for this test; killed when dropped.
struct TlsUpstream {
    child: std::process::Child,
    port: u16,
    /// The CA that signed the upstream's certificate.
    ca: std::path::PathBuf,
}

impl TlsUpstream {
    fn start(dir: &std::path::Path) -> TlsUpstream {
        // A CA of its own and a leaf certificate for `localhost` signed by it.
        let (ca_key, ca, key, csr, cert, ext) = (
            dir.join("ca.key"),
            dir.join("ca.pem"),
            dir.join("key.pem"),
            dir.join("leaf.csr"),
            dir.join("cert.pem"),
            dir.join("leaf.ext"),
        );
        std::fs::write(&ext, "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n").expect("ext file");
        let openssl = |args: Vec<&std::ffi::OsStr>| {
            let out = std::process::Command::new("openssl").args(args).output().expect("openssl");
            assert!(out.status.success(), "{}", text(&out.stderr));
        };
        let os = |s: &'static str| std::ffi::OsStr::new(s);
        openssl(
            vec![os("req"), os("-x509"), os("-newkey"), os("rsa:2048"), os("-nodes"), os("-days"), os("2")]
                .into_iter()
                .chain([
                    os("-subj"),
                    os("/CN=sluice-test-ca"),
                    os("-keyout"),
                    ca_key.as_os_str(),
                    os("-out"),
                    ca.as_os_str(),
                ])
                .collect(),
        );
        openssl(
            vec![os("req"), os("-newkey"), os("rsa:2048"), os("-nodes"), os("-subj"), os("/CN=localhost")]
                .into_iter()
                .chain([os("-keyout"), key.as_os_str(), os("-out"), csr.as_os_str()])
                .collect(),
        );
        openssl(
            vec![os("x509"), os("-req"), os("-days"), os("2"), os("-in"), csr.as_os_str(), os("-CA"), ca.as_os_str()]
                .into_iter()
                .chain([os("-CAkey"), ca_key.as_os_str(), os("-CAcreateserial"), os("-out"), cert.as_os_str()])
                .chain([os("-extfile"), ext.as_os_str()])
                .collect(),
        );
        let port = support::free_port().port();
        let child = std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept", &format!("127.0.0.1:{port}"), "-cert"])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsUpstream { child, port, ca }
    }
}

impl Drop for TlsUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn https_upstreams_are_reached_over_verified_tls() {
    let dir = support::unique_dir("tls-upstream");
    let upstream = TlsUpstream::start(&dir);
    let cert = upstream.ca.to_str().expect("path").to_owned();
    // The edge trusts exactly the test certificate; `localhost` is allowed by name.
    let env = [("SLUICE_SSRF_ALLOW", "127.0.0.1,localhost"), ("SSL_CERT_FILE", cert.as_str())];
    let server = start_server("https", &env);
    let yaml =
        api("secure", "/secure", "GET", &format!("  baseUrl: https://localhost:{}\n  path: /\n", upstream.port), "");
    apply(&server, &yaml, &env, "/secure");
    let response = server.get("/secure");
    assert_eq!(response.status, 200, "{}", raw_text(&response));
    assert!(text(&response.body).contains("s_server"), "not the TLS upstream's page: {}", raw_text(&response));

    // A certificate from another CA is refused.
    let untrusted_dir = support::unique_dir("tls-untrusted");
    let untrusted = TlsUpstream::start(&untrusted_dir);
    let yaml = api(
        "untrusted",
        "/untrusted",
        "GET",
        &format!("  baseUrl: https://localhost:{}\n  path: /\n", untrusted.port),
        "",
    );
    apply(&server, &yaml, &env, "/untrusted");
    assert_envelope(&server.get("/untrusted"), 502, "Upstream.Unavailable");
}

/// A caller connection kept open across requests: each response is read to its end (by
/// Content-Length or chunks), so the next request goes out on the same socket.
struct KeptConnection {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl KeptConnection {
    fn open(addr: SocketAddr) -> KeptConnection {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        KeptConnection { stream, reader }
    }

    /// Sends `pieces` as separate writes, a little apart, then reads one response.
    fn exchange(&mut self, pieces: &[&[u8]]) -> support::Response {
        self.send(pieces, true)
    }

    /// As `exchange`, for a HEAD request: the response has no body, whatever its length says.
    fn exchange_head(&mut self, request: &[u8]) -> support::Response {
        self.send(&[request], false)
    }

    fn send(&mut self, pieces: &[&[u8]], with_body: bool) -> support::Response {
        for (i, piece) in pieces.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(30));
            }
            self.stream.write_all(piece).expect("write on the kept connection");
        }
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut line = Vec::new();
            let n = self.reader.read_until(b'\n', &mut line).expect("read the response head");
            assert!(n > 0, "the edge closed the kept connection; head so far: {}", text(&head));
            head.extend_from_slice(&line);
        }
        let mut response = support::parse_response(&head).expect("a response head");
        if !with_body {
            return response;
        }
        if response.header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            let mut raw = Vec::new();
            while !raw.ends_with(b"0\r\n\r\n") {
                let n = self.reader.read_until(b'\n', &mut raw).expect("read chunks");
                assert!(n > 0, "the connection closed mid-body");
            }
            response = support::parse_response(&[&head[..], &raw[..]].concat()).expect("a chunked response");
        } else {
            let length: usize = response.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            response.body = vec![0; length];
            self.reader.read_exact(&mut response.body).expect("read the response body");
        }
        response
    }
}

/// The edge answers data APIs itself and registered APIs on pingora's session; the lane is
/// picked per request, so one kept-alive connection carries both in any order, with heads that
/// arrive in pieces, bodies in the same write as the head or after it, padded heads and
/// absolute-form targets (the session lane's).
#[test]
fn one_kept_alive_connection_carries_data_and_registered_calls_in_turn() {
    let mock = Mock::start();
    let server = Server::start("reg-lanes", &[("SLUICE_SSRF_ALLOW", "127.0.0.1")]);
    let yaml = api("lanes", "/lanes/echo", "GET", &format!("  baseUrl: {}\n  path: /lanes\n", mock.base_url()), "");
    apply(&server, &yaml, &[], "/lanes/echo");
    let app = server.demo_app();
    let auth = format!("X-Sluice-App-Key: {}\r\nAuthorization: Bearer {}\r\n", app.key, app.token);
    let data = format!("GET /customers/42 HTTP/1.1\r\nHost: x\r\n{auth}\r\n");
    let registered = "GET /lanes/echo?lane=proxy HTTP/1.1\r\nHost: x\r\n\r\n".to_owned();
    let padding: String = (0..70).map(|i| format!("X-Pad-{i}: {i}\r\n")).collect();
    let search = br#"{"status": ["pending"], "pageSize": 3}"#;
    let post = |body_apart: bool| {
        let head = format!("POST /orders/search HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\n\r\n", search.len());
        if body_apart { vec![head.into_bytes(), search.to_vec()] } else { vec![[head.as_bytes(), search].concat()] }
    };
    let is_customer_42 = |r: &support::Response| {
        assert_eq!(r.status, 200, "{}", raw_text(r));
        assert_eq!(r.json()["data"]["rows"][0]["id"], 42, "{}", raw_text(r));
    };
    let is_echo = |r: &support::Response| {
        assert_eq!(r.status, 200, "{}", raw_text(r));
        assert_eq!(r.json()["path"], "/v1/lanes", "{}", raw_text(r));
    };

    let mut conn = KeptConnection::open(server.edge);
    let before = mock.connections.load(Ordering::SeqCst);
    for _ in 0..2 {
        is_customer_42(&conn.exchange(&[data.as_bytes()]));
        is_echo(&conn.exchange(&[registered.as_bytes()]));
        let missing = conn.exchange(&[b"GET /no/such/api HTTP/1.1\r\nHost: x\r\n\r\n"]);
        assert_envelope(&missing, 404, "NotFound.Api");
        is_echo(&conn.exchange(&[registered.as_bytes()]));
    }
    // HEAD is answered like GET, without the body: the connection stays in step.
    let head = conn.exchange_head(data.replacen("GET", "HEAD", 1).as_bytes());
    assert_eq!(head.status, 200, "{}", raw_text(&head));
    assert!(head.header("content-length").is_some_and(|n| n != "0"), "{}", raw_text(&head));
    is_customer_42(&conn.exchange(&[data.as_bytes()]));
    // Heads in pieces: the request line alone, then the rest.
    let (line, rest) = data.split_at(data.find('\n').expect("line") + 1);
    is_customer_42(&conn.exchange(&[line.as_bytes(), rest.as_bytes()]));
    let (line, rest) = registered.split_at(registered.find('\n').expect("line") + 1);
    is_echo(&conn.exchange(&[line.as_bytes(), rest.as_bytes()]));
    // A data API's body in the head's write and in a write of its own.
    for body_apart in [false, true] {
        let pieces = post(body_apart);
        let pieces: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
        let found = conn.exchange(&pieces);
        assert_eq!(found.status, 200, "{}", raw_text(&found));
        assert_eq!(found.json()["data"]["rows"].as_array().map(Vec::len), Some(3), "{}", raw_text(&found));
    }
    // More headers than the edge looks at, and an absolute-form target: the session lane takes
    // them and still answers each from its own API.
    let padded_data = format!("GET /customers/42 HTTP/1.1\r\nHost: x\r\n{auth}{padding}\r\n");
    is_customer_42(&conn.exchange(&[padded_data.as_bytes()]));
    let padded_registered = format!("GET /lanes/echo HTTP/1.1\r\nHost: x\r\n{padding}\r\n");
    let echoed = conn.exchange(&[padded_registered.as_bytes()]);
    is_echo(&echoed);
    // Caller headers off the allow list stay at the edge (header_policy.rs).
    assert!(echoed.json()["headers"].get("x-pad-69").is_none(), "{}", raw_text(&echoed));
    let absolute = format!("GET http://x/customers/42 HTTP/1.1\r\nHost: x\r\n{auth}\r\n");
    is_customer_42(&conn.exchange(&[absolute.as_bytes()]));
    is_customer_42(&conn.exchange(&[data.as_bytes()]));
    // A fragment is never sent (RFC 9112 §3.2): refused before any lane, and the connection
    // closes.
    let fragment = conn.exchange(&[b"GET /lanes/echo#part HTTP/1.1\r\nHost: x\r\n\r\n"]);
    assert_envelope(&fragment, 400, "InvalidRequest");

    assert_eq!(mock.count("/v1/lanes"), 6, "every registered call reached the upstream once");
    let opened = mock.connections.load(Ordering::SeqCst) - before;
    assert!(opened <= 2, "6 calls on one caller connection opened {opened} upstream connections");
}

#[test]
fn the_upstream_continues_the_callers_trace_with_the_edges_span() {
    let mock = Mock::start();
    let server = start_server("reg-trace", &[]);
    let yaml = api("traced", "/traced", "GET", &format!("  baseUrl: {}\n  path: /traced\n", mock.base_url()), "");
    apply(&server, &yaml, &[], "/traced");
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let headers = [("traceparent", caller), ("tracestate", "vendor=opaque")];
    assert_eq!(request(server.edge, "GET", "/traced", &headers, b"").status, 200);
    let seen = mock.last("/v1/traced");
    let sent = seen.header("traceparent").expect("a traceparent upstream");
    assert_eq!(sent.len(), 55, "{sent}");
    assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "the caller's trace: {sent}");
    assert!(sent.ends_with("-01"), "the caller's flags: {sent}");
    assert_ne!(&sent[36..52], "00f067aa0ba902b7", "the edge's own span, not the caller's: {sent}");
    assert_eq!(seen.header("tracestate"), Some("vendor=opaque"));

    // An invalid one, or none, starts a trace the upstream still gets.
    for headers in [vec![("traceparent", "00-zz-00f067aa0ba902b7-01")], vec![]] {
        assert_eq!(request(server.edge, "GET", "/traced", &headers, b"").status, 200);
        let sent = mock.last("/v1/traced").header("traceparent").expect("a traceparent upstream").to_owned();
        assert_eq!(sent.len(), 55, "{sent}");
        assert!(sent.starts_with("00-") && !sent.contains("4bf92f3577b34da6a3ce929d0e0e4736"), "{sent}");
    }
    assert_eq!(mock.count("/v1/traced"), 3);
}
