//! Runs the real `sluice` binary on loopback ports for end-to-end tests, and speaks plain
//! HTTP/1.1 to it over a TcpStream (so tests can also send what well-behaved clients never do).
//!
//! With `SLUICE_TEST_EDGE=h2` every server also listens with TLS, and [`request`] (so
//! `Server::get` and `Server::call`) speaks HTTP/2 to it: `./scripts/test` runs the edge's
//! tests a second time that way. Raw exchanges ([`raw_exchange`]) stay HTTP/1.1 on the plain
//! listener.

#![allow(dead_code)]

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `sluice serve` with its own data dir and ports; stopped when dropped.
pub struct Server {
    pub edge: SocketAddr,
    pub admin: SocketAddr,
    pub data_dir: PathBuf,
    pub stdout_path: PathBuf,
    child: Option<Child>,
}

/// A free loopback port below the kernel's ephemeral range (32768 and up), where outgoing
/// connections take theirs: bound and released, good enough for tests.
pub fn free_port() -> SocketAddr {
    free_listener().local_addr().expect("a free port")
}

/// A listener on a free loopback port below the ephemeral range.
pub fn free_listener() -> TcpListener {
    for _ in 0..1000 {
        let port = 20_000 + (rand_u64() % 12_000) as u16;
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            return listener;
        }
    }
    panic!("no free port between 20000 and 32000")
}

/// The workspace root: `sluice` finds `conf/` there.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

pub fn unique_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-e2e-{tag}-{}-{:x}", std::process::id(), rand_u64()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// Runs `sluice` with `args` and the test environment; returns (status ok, stdout+stderr).
pub fn sluice(data_dir: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.args(args).current_dir(workspace_root()).env("SLUICE_DATA_DIR", data_dir).env("RUST_LOG", "warn");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run sluice");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

impl Server {
    pub fn start(tag: &str, extra_env: &[(&str, &str)]) -> Server {
        Server::start_in(unique_dir(tag), extra_env)
    }

    /// Starts the server on fresh ports; when a port was taken between choosing it and the
    /// server binding it (another test process), starts again on others.
    pub fn start_in(data_dir: PathBuf, extra_env: &[(&str, &str)]) -> Server {
        for _ in 0..5 {
            let mut server = Server::spawn(data_dir.clone(), extra_env);
            match server.wait_ready() {
                Ok(()) => return server,
                Err(output) if output.contains("Address already in use") => continue,
                Err(output) => panic!("sluice serve did not start:\n{output}"),
            }
        }
        panic!("sluice serve found its ports taken five times")
    }

    fn spawn(data_dir: PathBuf, extra_env: &[(&str, &str)]) -> Server {
        // Held together while choosing, so the three ports differ.
        let edge_listener = free_listener();
        let admin_listener = free_listener();
        let tls_listener = free_listener();
        let edge = edge_listener.local_addr().expect("edge port");
        let admin = admin_listener.local_addr().expect("admin port");
        let tls = (std::env::var("SLUICE_TEST_EDGE").as_deref() == Ok("h2"))
            .then(|| (tls_listener.local_addr().expect("tls port"), edge_cert()));
        drop((edge_listener, admin_listener, tls_listener));
        let stdout_path = data_dir.join("stdout.log");
        let log = std::fs::File::create(&stdout_path).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
        cmd.arg("serve")
            .current_dir(workspace_root())
            .env("SLUICE_EDGE_ADDR", edge.to_string())
            .env("SLUICE_ADMIN_ADDR", admin.to_string())
            .env("SLUICE_DATA_DIR", &data_dir)
            .env("SLUICE_RELOAD_INTERVAL_MS", "100")
            // The result cache is off unless a test turns it on (tests/cache.rs, readme.rs):
            // the others change data and definitions between calls and count every run.
            .env("SLUICE_CACHE_MAX_BYTES", "0")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log));
        if let Some((addr, cert)) = &tls {
            cmd.env("SLUICE_EDGE_TLS_ADDR", addr.to_string())
                .env("SLUICE_TLS_CERT_FILE", &cert.cert)
                .env("SLUICE_TLS_KEY_FILE", &cert.key);
            h2_edges().lock().unwrap_or_else(|e| e.into_inner()).insert(edge, (*addr, cert.clone()));
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn sluice serve");
        Server { edge, admin, data_dir, stdout_path, child: Some(child) }
    }

    /// Waits until both listeners answer; on an early exit, returns what the server printed.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("exited early ({status}):\n{}", self.output()));
            }
            if let Ok(resp) = try_request(self.admin, "GET", "/admin/v1/health", &[], b"")
                && resp.status == 200
                && try_request(self.edge, "GET", "/", &[], b"").is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("not ready after 60 s:\n{}", self.output()))
    }

    /// What the server printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> Response {
        request(self.edge, "GET", path, &[], b"")
    }

    pub fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(self.edge, method, path, headers, body)
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return true };
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        false
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    try_request(addr, method, path, headers, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// One request on a fresh connection (`Connection: close`), reading the whole response; over
/// HTTP/2 and TLS when `addr` is an edge started that way.
pub fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let h2 = h2_edges().lock().unwrap_or_else(|e| e.into_inner()).get(&addr).cloned();
    if let Some((tls_addr, cert)) = h2 {
        return h2_request(tls_addr, &cert, method, path, headers, body);
    }
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let mut has_length = false;
    for (k, v) in headers {
        has_length |= k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding");
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_length && (!body.is_empty() || matches!(method, "POST" | "PUT")) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    raw_exchange(addr, &[head.as_bytes(), body].concat())
}

/// Sends raw bytes and parses what comes back.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(bytes)?;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
        .ok_or_else(|| std::io::Error::other(format!("unparsable response: {:?}", String::from_utf8_lossy(&raw))))
}

pub fn parse_response(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))).collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Response { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&data[..line_end]).ok()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// The demo app's credentials, as `sluice serve` wrote them to `<data_dir>/demo/app.env`.
#[derive(Debug, Clone)]
pub struct DemoApp {
    pub key: String,
    pub secret: String,
    pub token: String,
}

impl DemoApp {
    /// The headers of a call authenticated with the app's token.
    pub fn token_headers(&self) -> Vec<(&'static str, String)> {
        vec![("X-Sluice-App-Key", self.key.clone()), ("Authorization", format!("Bearer {}", self.token))]
    }
}

impl Server {
    pub fn demo_app(&self) -> DemoApp {
        let text = std::fs::read_to_string(self.data_dir.join("demo").join("app.env")).expect("demo/app.env");
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("app.env lacks {name}"))
                .to_owned()
        };
        DemoApp { key: value("APP_KEY"), secret: value("APP_SECRET"), token: value("APP_TOKEN") }
    }

    /// GET as the demo app, with its token.
    pub fn get_as_demo_app(&self, path: &str) -> Response {
        self.call_as(&self.demo_app(), "GET", path, &[], b"")
    }

    /// A call with the app's token and `extra` headers.
    pub fn call_as(&self, app: &DemoApp, method: &str, path: &str, extra: &[(&str, &str)], body: &[u8]) -> Response {
        let owned = app.token_headers();
        let mut headers: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        headers.extend_from_slice(extra);
        self.call(method, path, &headers, body)
    }
}

/// A management API call (`/admin/v1` + `path`) with an optional bearer token and JSON body.
pub fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    if !bytes.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    request(server.admin, method, &format!("/admin/v1{path}"), &headers, bytes.as_bytes())
}

/// Asserts a management answer succeeded and returns its `data`.
pub fn ok(response: &Response) -> serde_json::Value {
    assert!(response.status < 300, "{} {}", response.status, String::from_utf8_lossy(&response.body));
    response.json()["data"].clone()
}

/// Asserts a management refusal: status, and the field it names when `field` is given.
pub fn refused(response: &Response, status: u16, field: Option<&str>) -> serde_json::Value {
    let body = response.json();
    assert_eq!(response.status, status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    if let Some(field) = field {
        assert_eq!(body["field"].as_str(), Some(field), "{body}");
    }
    body
}

/// A request head: method, target, and the headers in order.
pub type RequestHead = (String, String, Vec<(String, String)>);

/// A request head as a mock upstream reads it off its connection; `None` when the connection
/// closed or the head is not HTTP.
pub fn read_request_head(reader: &mut impl BufRead) -> Option<RequestHead> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            return Some((method, target, headers));
        }
        let (k, v) = header.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
}

/// A response head's bytes, read line by line up to and including its blank line; `None` when
/// the connection closed first.
pub fn read_response_head(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" {
            return Some(head);
        }
    }
}

/// `<data dir>/datasets/<workgroup>/<name>`, its directory created: where a workgroup's
/// SQLite datasources may read.
pub fn dataset_file(server: &Server, workgroup: &str, name: &str) -> PathBuf {
    let dir = server.data_dir.join("datasets").join(workgroup);
    std::fs::create_dir_all(&dir).expect("dataset directory");
    dir.join(name)
}

/// The policies of a default configuration, for admin states built in process.
pub fn default_outbound() -> config::outbound::OutboundBase {
    let config = config::Config::from_sources(None, "tests", |_| None).expect("default configuration");
    config::outbound::OutboundBase::from_config(&config).expect("default policies")
}

/// A certificate and key for the edge's TLS listener, for `127.0.0.1` and `localhost`.
#[derive(Debug, Clone)]
pub struct EdgeCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Makes a self-signed certificate for `127.0.0.1` with openssl, in `dir`.
pub fn make_cert(dir: &Path, name: &str, subject: &str) -> EdgeCert {
    std::fs::create_dir_all(dir).expect("cert dir");
    let (cert, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj"])
        .arg(format!("/CN={subject}"))
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl could not make a certificate");
    EdgeCert { cert, key }
}

/// One certificate for every server of this test process.
fn edge_cert() -> EdgeCert {
    static CERT: std::sync::OnceLock<EdgeCert> = std::sync::OnceLock::new();
    CERT.get_or_init(|| make_cert(&unique_dir("edge-cert"), "edge", "sluice-test")).clone()
}

type H2Edges = std::sync::Mutex<std::collections::HashMap<SocketAddr, (SocketAddr, EdgeCert)>>;

/// Plain edge addresses of servers that also listen with TLS, with that address.
fn h2_edges() -> &'static H2Edges {
    static EDGES: std::sync::OnceLock<H2Edges> = std::sync::OnceLock::new();
    EDGES.get_or_init(Default::default)
}

/// A TLS client that trusts `cert` (self-signed) and offers `alpn`.
pub fn tls_connector(cert: &EdgeCert, alpn: &[&[u8]]) -> pingora::tls::TlsConnector {
    use pingora::tls::{ClientConfig, RootCertStore};
    pingora::tls::install_default_crypto_provider();
    let (certs, _) = pingora::tls::load_certs_and_key_files(&cert.cert.to_string_lossy(), &cert.key.to_string_lossy())
        .expect("read the certificate")
        .expect("a certificate");
    let mut roots = RootCertStore::empty();
    for c in certs {
        roots.add(c).expect("a root");
    }
    let mut config = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    pingora::tls::TlsConnector::from(std::sync::Arc::new(config))
}

/// One request over HTTP/2 and TLS on a fresh connection; connection-specific headers (which
/// HTTP/2 forbids) are left out, `Host` becomes the authority.
pub fn h2_request(
    addr: SocketAddr,
    cert: &EdgeCert,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = pingora::tls::ServerName::try_from("127.0.0.1").map_err(std::io::Error::other)?;
        let tls = tls_connector(cert, &[b"h2"]).connect(name, tcp).await?;
        let (client, connection) = h2::client::handshake(tls).await.map_err(std::io::Error::other)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut client = client.ready().await.map_err(std::io::Error::other)?;
        let mut request = http::Request::builder().method(method).uri(format!("https://127.0.0.1{path}"));
        for (name, value) in headers {
            let connection_specific = ["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "te"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n));
            if !connection_specific {
                request = request.header(*name, *value);
            }
        }
        let request = request.body(()).map_err(std::io::Error::other)?;
        let (response, mut send) = client.send_request(request, body.is_empty()).map_err(std::io::Error::other)?;
        if !body.is_empty() {
            send.send_data(bytes::Bytes::copy_from_slice(body), true).map_err(std::io::Error::other)?;
        }
        let response = tokio::time::timeout(Duration::from_secs(30), response)
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?;
        let (parts, mut stream) = response.into_parts();
        let mut body = Vec::new();
        while let Some(chunk) = stream.data().await {
            let chunk = chunk.map_err(std::io::Error::other)?;
            let _ = stream.flow_control().release_capacity(chunk.len());
            body.extend_from_slice(&chunk);
        }
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        Ok(Response { status: parts.status.as_u16(), headers, body })
    })
}

/// Every file passes `openapi-spec-validator` (PyPI), installed when missing like
/// `admin_docs.rs` does (pip, pip --user, then a virtual environment under the target dir).
pub fn validate_openapi(files: &[PathBuf]) {
    let python = python_with_validator();
    let mut args = vec!["-m".to_owned(), "openapi_spec_validator".to_owned()];
    args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    let output = Command::new(&python).args(&args).output().expect("run the validator");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "openapi-spec-validator refused a document:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for file in files {
        let line = format!("{}: OK", file.display());
        assert!(stdout.lines().any(|l| l.trim() == line), "no `{line}` in:\n{stdout}");
    }
}

fn python_with_validator() -> PathBuf {
    const PACKAGE: &str = "openapi-spec-validator";
    let importable = |p: &Path| {
        Command::new(p).args(["-c", "import openapi_spec_validator"]).output().is_ok_and(|o| o.status.success())
    };
    let python = PathBuf::from(std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| "python3".to_owned()));
    if importable(&python) {
        return python;
    }
    for args in
        [vec!["-m", "pip", "install", "--quiet", PACKAGE], vec!["-m", "pip", "install", "--quiet", "--user", PACKAGE]]
    {
        let _ = Command::new(&python).args(&args).output();
        if importable(&python) {
            return python;
        }
    }
    // The same virtual environment admin_docs.rs uses.
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{PACKAGE}-venv"));
    let venv_python = venv.join("bin").join("python");
    if !importable(&venv_python) {
        let _ = Command::new(&python).args(["-m", "venv", &venv.to_string_lossy()]).output();
        let _ = Command::new(&venv_python).args(["-m", "pip", "install", "--quiet", PACKAGE]).output();
    }
    assert!(
        importable(&venv_python),
        "`{PACKAGE}` is not installed and could not be installed: install it with `python3 -m pip install {PACKAGE}` \
         (or point SLUICE_PYTHON at a Python that has it)"
    );
    venv_python
}

/// The `code` of an answer's envelope, or empty.
pub fn code(response: &Response) -> String {
    response.json()["code"].as_str().unwrap_or_default().to_owned()
}

/// Polls `path` at the edge as `headers` until `done` holds for the answer; returns how long it
/// took (at most 10 s, then fails).
pub fn until(server: &Server, path: &str, headers: &[(&str, &str)], done: impl Fn(&Response) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let response = server.call("GET", path, headers, b"");
        if done(&response) {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{path}: still {}", String::from_utf8_lossy(&response.body));
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a webhook receiver ([`receiver`]) saw of one request.
#[derive(Debug, Clone)]
pub struct Received {
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Accepts connections on `listener`, answering the n-th request with `statuses[n]` (the last
/// one for the rest) and keeping what it read.
pub fn receiver(listener: TcpListener, statuses: &'static [u16]) -> std::sync::Arc<std::sync::Mutex<Vec<Received>>> {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
            let Some((_, target, headers)) = read_request_head(&mut reader) else { continue };
            let length = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let n = {
                let mut seen = keep.lock().expect("lock");
                seen.push(Received { target, headers, body });
                seen.len()
            };
            let status = statuses[(n - 1).min(statuses.len() - 1)];
            let text = if status == 200 { "ok" } else { "receiver is down" };
            let answer =
                format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len());
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    seen
}

/// A current-thread runtime for a test's own async work.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Runs `work` against the server's own store (its SQLite file and key), as an admin would
/// through the management API.
pub fn with_store<T>(server: &Server, work: impl AsyncFnOnce(&catalog::store::Store) -> T) -> T {
    runtime().block_on(async {
        let key = std::fs::read_to_string(server.data_dir.join("secret.key")).expect("secret.key");
        let secrets = catalog::secret::SecretBox::from_key_text(key.trim()).expect("key");
        let url = format!("sqlite://{}", server.data_dir.join("sluice.db").display());
        let store = catalog::store::Store::open(&url, secrets).await.expect("store");
        let out = work(&store).await;
        store.close().await;
        out
    })
}
