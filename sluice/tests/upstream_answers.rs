//! What a registered API's upstream answers, and what the caller gets: the real `sluice serve`
//! forwards to a scripted upstream on 127.0.0.1 that writes, byte for byte, the answers of
//! `corpus/upstream_answers.jsonl` — well-formed, unusual and hostile (bad framing, smuggled
//! bytes, heads too long, silence). Each case names the caller's status (and error code), its
//! body or that it was cut short, headers that must or must not reach it, whether the caller's
//! connection stays open and whether the next call reuses the upstream connection.
//!
//! Also here: which request headers reach the upstream from either lane, and when a call is
//! sent again after a kept connection turned out to be closed.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Server, sluice};

/// How the scripted upstream answers one request, and what it does afterwards.
#[derive(Clone, Debug)]
struct Script {
    pieces: Vec<Vec<u8>>,
    /// `keep` (read the next request), `close`, `hold` (3 s silent, then close), `drop-next`
    /// (close without answering the next request on this connection) or `half-next` (answer
    /// the next request with part of a head, then close).
    after: String,
}

/// Request heads as the upstream received them: target and headers.
type Heads = Mutex<Vec<(String, Vec<(String, String)>)>>;

/// An upstream on 127.0.0.1 answering `/case/<name>` by its script and `/ok` plainly; it
/// records every request head and counts the connections it accepts.
struct ScriptedUpstream {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    heads: Arc<Heads>,
}

impl ScriptedUpstream {
    fn start(scripts: HashMap<String, Script>) -> ScriptedUpstream {
        let listener = support::free_listener();
        let addr = listener.local_addr().expect("address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let scripts = Arc::new(scripts);
        let (count, log) = (Arc::clone(&accepted), Arc::clone(&heads));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let (scripts, log) = (Arc::clone(&scripts), Arc::clone(&log));
                std::thread::spawn(move || serve(stream, &scripts, &log));
            }
        });
        ScriptedUpstream { addr, accepted, heads }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The header names (lower case, sorted) of the last request to `path`.
    fn last_header_names(&self, path: &str) -> Vec<String> {
        let heads = self.heads.lock().expect("heads");
        let (_, headers) = heads.iter().rev().find(|(target, _)| target == path).expect("a request to the path");
        let mut names: Vec<String> = headers.iter().map(|(name, _)| name.to_ascii_lowercase()).collect();
        names.sort();
        names
    }

    fn last_header(&self, path: &str, name: &str) -> Option<String> {
        let heads = self.heads.lock().expect("heads");
        let (_, headers) = heads.iter().rev().find(|(target, _)| target == path)?;
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }
}

fn serve(stream: TcpStream, scripts: &HashMap<String, Script>, log: &Heads) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut out = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let (mut drop_next, mut half_next) = (false, false);
    loop {
        let Some((target, headers)) = read_request(&mut reader) else { return };
        log.lock().expect("log").push((target.clone(), headers));
        if drop_next {
            return;
        }
        if half_next {
            let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").and_then(|()| out.flush());
            std::thread::sleep(Duration::from_millis(50));
            return;
        }
        let script = match target.strip_prefix("/case/").and_then(|name| scripts.get(name)) {
            Some(script) => script.clone(),
            None => Script {
                pieces: vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()],
                after: "keep".into(),
            },
        };
        for (i, piece) in script.pieces.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(50));
            }
            if out.write_all(piece).and_then(|()| out.flush()).is_err() {
                return;
            }
        }
        match script.after.as_str() {
            "keep" => {}
            "drop-next" => drop_next = true,
            "half-next" => half_next = true,
            "hold" => {
                std::thread::sleep(Duration::from_secs(3));
                return;
            }
            _ => {
                let _ = out.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<(String, String)>)> {
    let (_, target, headers) = support::read_request_head(reader)?;
    let length =
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse().ok());
    let mut body = vec![0u8; length.unwrap_or(0)];
    reader.read_exact(&mut body).ok()?;
    Some((target, headers))
}

/// `{x:N}` is N letters x; `{headers:N}` is N header lines.
fn expand(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map(|e| start + e).expect("a closing brace");
        let (kind, n) = rest[start + 1..end].split_once(':').expect("kind:n");
        let n: usize = n.parse().expect("a count");
        match kind {
            "x" => out.push_str(&"x".repeat(n)),
            "headers" => (0..n).for_each(|i| out.push_str(&format!("X-H-{i}: {i}\r\n"))),
            other => panic!("unknown placeholder {other}"),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

struct Case {
    name: String,
    script: Script,
    method: String,
    status: u16,
    code: Option<String>,
    body: Option<String>,
    cut: bool,
    absent: Vec<String>,
    present: Vec<(String, String)>,
    open: bool,
    reused: bool,
}

fn corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(support::workspace_root().join("sluice/tests/corpus/upstream_answers.jsonl"))
        .expect("corpus/upstream_answers.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let case: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let text = |name: &str| case[name].as_str().map(str::to_owned);
            let flag = |name: &str| case[name].as_bool().unwrap_or_else(|| panic!("{line}: no {name}"));
            let pieces = case["pieces"].as_array().expect("pieces").iter();
            Case {
                name: text("name").expect("name"),
                script: Script {
                    // JSON strings stand for bytes: each char below 256 is one byte.
                    pieces: pieces
                        .map(|p| expand(p.as_str().expect("a piece")).chars().map(|c| c as u32 as u8).collect())
                        .collect(),
                    after: text("after").expect("after"),
                },
                method: text("method").unwrap_or_else(|| "GET".into()),
                status: case["status"].as_u64().expect("status") as u16,
                code: text("code"),
                body: text("body").map(|b| expand(&b)),
                cut: case["cut"].as_bool().unwrap_or(false),
                absent: case["absent"]
                    .as_array()
                    .map(|a| a.iter().map(|s| s.as_str().expect("a string").to_ascii_lowercase()).collect())
                    .unwrap_or_default(),
                present: case["present"]
                    .as_object()
                    .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().expect("a value").to_owned())).collect())
                    .unwrap_or_default(),
                open: flag("open"),
                reused: flag("reused"),
            }
        })
        .collect()
}

/// An answer as the caller read it.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The connection closed before the body's framing said it ended.
    cut: bool,
    /// Every byte of the answer, head included.
    raw: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads one answer: its head, then its body by its framing (none for HEAD, 204 and 304).
fn read_answer(reader: &mut BufReader<TcpStream>, head_only: bool) -> Option<Answer> {
    let raw = support::read_response_head(reader)?;
    let head = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())));
    let mut answer = Answer { status, headers: headers.collect(), body: Vec::new(), cut: false, raw };
    if head_only || answer.status == 204 || answer.status == 304 {
        return Some(answer);
    }
    let take = |reader: &mut BufReader<TcpStream>, n: usize, answer: &mut Answer| {
        let mut bytes = vec![0; n];
        match reader.read_exact(&mut bytes) {
            Ok(()) => {
                answer.raw.extend_from_slice(&bytes);
                true
            }
            Err(_) => false,
        }
    };
    if answer.header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                answer.cut = true;
                return Some(answer);
            }
            answer.raw.extend_from_slice(&line);
            let size = usize::from_str_radix(String::from_utf8_lossy(&line).trim(), 16).expect("a chunk size");
            let start = answer.raw.len();
            if !take(reader, size + 2, &mut answer) {
                answer.cut = true;
                return Some(answer);
            }
            if size == 0 {
                return Some(answer);
            }
            let chunk = answer.raw[start..start + size].to_vec();
            answer.body.extend_from_slice(&chunk);
        }
    } else if let Some(length) = answer.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        let start = answer.raw.len();
        if take(reader, length, &mut answer) {
            answer.body = answer.raw[start..].to_vec();
        } else {
            answer.cut = true;
        }
    } else {
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        answer.raw.extend_from_slice(&rest);
        answer.body = rest;
    }
    Some(answer)
}

fn connect(edge: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(edge).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    let reader = BufReader::new(stream.try_clone().expect("clone"));
    (stream, reader)
}

fn check(case: &Case, answer: &Answer) -> Result<(), String> {
    if answer.status != case.status {
        return Err(format!("status {}, expected {}", answer.status, case.status));
    }
    if let Some(code) = &case.code {
        let envelope: serde_json::Value =
            serde_json::from_slice(&answer.body).map_err(|_| "no JSON envelope".to_owned())?;
        if envelope["code"] != code.as_str() || envelope["requestId"].as_str() != answer.header("x-request-id") {
            return Err(format!("envelope {envelope}, expected code {code}"));
        }
    }
    if answer.header("x-request-id").is_none_or(|id| id.len() != 32) || answer.header("x-sluice-version") != Some("V0")
    {
        return Err(format!("no request id or version: {:?}", answer.headers));
    }
    if answer.cut != case.cut {
        return Err(format!("the body was {}cut short", if answer.cut { "" } else { "not " }));
    }
    if let Some(body) = &case.body
        && answer.body != body.as_bytes()
    {
        let shown = String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)]).into_owned();
        return Err(format!("body {shown:?} ({} bytes), expected {} bytes", answer.body.len(), body.len()));
    }
    let raw = String::from_utf8_lossy(&answer.raw).to_ascii_lowercase();
    if let Some(found) = case.absent.iter().find(|a| raw.contains(a.as_str())) {
        return Err(format!("{found:?} reached the caller"));
    }
    if let Some((name, value)) = case.present.iter().find(|(k, v)| answer.header(k) != Some(v.as_str())) {
        return Err(format!("{name}: {value} is missing: {:?}", answer.headers));
    }
    Ok(())
}

/// Runs one case on a fresh caller connection, then a plain call: on the same connection when
/// it stays open, else on a new one; that call shows whether the upstream connection is reused.
fn run(server: &Server, upstream: &ScriptedUpstream, case: &Case) -> Result<(), String> {
    let (mut stream, mut reader) = connect(server.edge);
    let request = format!("{} /case/{} HTTP/1.1\r\nHost: x\r\n\r\n", case.method, case.name);
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let answer = read_answer(&mut reader, case.method == "HEAD").ok_or("no answer")?;
    check(case, &answer)?;
    let before = upstream.accepted();
    let plain = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n";
    let same = stream.write_all(plain).ok().and_then(|()| read_answer(&mut reader, false));
    let open = same.is_some();
    let next = match same {
        Some(answer) => answer,
        None => {
            let (mut stream, mut reader) = connect(server.edge);
            stream.write_all(plain).map_err(|e| e.to_string())?;
            read_answer(&mut reader, false).ok_or("no answer to the next call")?
        }
    };
    if (next.status, next.body.as_slice()) != (200, &b"ok"[..]) {
        return Err(format!("the next call got {} {:?}", next.status, String::from_utf8_lossy(&next.body)));
    }
    if open != case.open {
        return Err(format!("the caller's connection is {} afterwards", if open { "open" } else { "closed" }));
    }
    let reused = upstream.accepted() == before;
    if reused != case.reused {
        return Err(format!(
            "the next call {} the upstream connection",
            if reused { "reused" } else { "did not reuse" }
        ));
    }
    Ok(())
}

fn registered(path: &str, method: &str, upstream: SocketAddr, upstream_path: &str, upstream_method: &str) -> String {
    format!(
        "kind: Api\nworkgroup: partners\nname: n{}\npath: {path}\nmethod: {method}\nmode: registered\nupstream:\n\
         \x20 baseUrl: http://{upstream}\n  path: {upstream_path}\n  method: {upstream_method}\n  timeoutMs: 1000\n\
         authMode: none\n{}---\n",
        path.replace(['/', '{', '}'], "_"),
        if path.contains("{name}") { "params:\n  - {name: name, position: path, required: true}\n" } else { "" },
    )
}

/// A server with `/case/{name}` (GET) and `/upload/{name}` (POST, the body streamed) forwarded
/// to `upstream`'s `/case/{name}`, and `/ok`.
fn start(tag: &str, upstream: &ScriptedUpstream) -> Server {
    start_with(tag, upstream, &[])
}

fn start_with(tag: &str, upstream: &ScriptedUpstream, extra: &[(&str, &str)]) -> Server {
    let mut env = vec![("SLUICE_SSRF_ALLOW", "127.0.0.1"), ("SLUICE_DEMO", "false")];
    env.extend_from_slice(extra);
    let server = Server::start(tag, &env);
    let yaml = registered("/case/{name}", "GET", upstream.addr, "/case/{name}", "GET")
        + &registered("/upload/{name}", "POST", upstream.addr, "/case/{name}", "POST")
        + &registered("/ok", "GET", upstream.addr, "/ok", "GET");
    let file = server.data_dir.join("upstream.yaml");
    std::fs::write(&file, yaml).expect("write yaml");
    let (ok, out) = sluice(&server.data_dir, &["apply", "-f", file.to_str().expect("path")], &env);
    assert!(ok, "apply failed:\n{out}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while support::try_request(server.edge, "GET", "/ok", &[], b"").map(|r| r.status).ok() != Some(200) {
        assert!(Instant::now() < deadline, "/ok was not served:\n{}", server.output());
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

#[test]
fn upstream_answers_reach_the_caller_framed_and_filtered_and_hostile_ones_are_contained() {
    let cases = corpus();
    assert!(cases.len() >= 50, "the corpus has {} cases", cases.len());
    let scripts = cases.iter().map(|c| (c.name.clone(), c.script.clone())).collect();
    let upstream = ScriptedUpstream::start(scripts);
    let server = start("upstream-answers", &upstream);
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| run(&server, &upstream, case).err().map(|e| format!("{}: {e}", case.name)))
        .collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// Seventy headers: a long head, read by the edge and by pingora alike.
fn padding() -> String {
    (0..70).map(|i| format!("X-Pad-{i}: {i}\r\n")).collect()
}

/// Of the caller's headers only the allow list reaches the upstream (header_policy.rs): no
/// hop-by-hop ones, credentials, Sluice's own, forwarding claims, method or URL overrides, or
/// names with underscores; and cookies and hop-by-hop headers of the answer never reach the
/// caller. The same for a short head and a long one.
#[test]
fn only_allowed_headers_are_forwarded() {
    let hop_answer = "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n\
                      Set-Cookie: s=1\r\nX-Kept: yes\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
    let scripts = HashMap::from([(
        "hop".to_owned(),
        Script { pieces: vec![hop_answer.as_bytes().to_vec()], after: "keep".into() },
    )]);
    let upstream = ScriptedUpstream::start(scripts);
    let server = start("upstream-headers", &upstream);
    let caller = "Host: x\r\nConnection: keep-alive, X-Caller-Hop\r\nX-Caller-Hop: 1\r\nKeep-Alive: timeout=5\r\n\
                  TE: trailers\r\nUpgrade: websocket\r\nProxy-Authorization: Basic abc\r\nProxy-Connection: keep-alive\r\n\
                  Authorization: Bearer t\r\nCookie: c=1\r\nX-Sluice-Env: prod\r\nX-Forwarded-For: 1.2.3.4\r\n\
                  Forwarded: for=1.2.3.4\r\nX-Real-IP: 1.2.3.4\r\nX-Request-Id: chosen-by-caller\r\n\
                  X-HTTP-Method-Override: DELETE\r\nX-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\n\
                  content_length: 5\r\ntransfer_encoding: chunked\r\nAccept_Language: xx\r\n\
                  Accept: application/json\r\nTraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\
                  X-Custom: dropped\r\n";
    let expected: Vec<String> = ["accept", "host", "traceparent", "x-request-id"].map(String::from).to_vec();
    let mut answers = Vec::new();
    for (head, extra) in [("short", String::new()), ("long", padding())] {
        let (mut stream, mut reader) = connect(server.edge);
        stream.write_all(format!("GET /case/hop HTTP/1.1\r\n{caller}{extra}\r\n").as_bytes()).expect("write");
        let answer = read_answer(&mut reader, false).expect("an answer");
        assert_eq!(answer.status, 200, "{head}: {}", String::from_utf8_lossy(&answer.raw));
        let names = upstream.last_header_names("/case/hop");
        assert_eq!(names, expected, "{head}: the upstream received {names:?}");
        let id = upstream.last_header("/case/hop", "x-request-id").expect("a request id");
        assert_eq!(Some(id.as_str()), answer.header("x-request-id"), "{head}: the edge's request id goes upstream");
        assert_eq!(upstream.last_header("/case/hop", "host"), Some(upstream.addr.to_string()), "{head}");
        let mut got: Vec<String> = answer.headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
        got.sort();
        for gone in ["x-hop", "keep-alive", "set-cookie"] {
            assert!(!got.contains(&gone.to_owned()), "{head}: {gone} reached the caller: {got:?}");
        }
        assert_eq!(answer.header("x-kept"), Some("yes"), "{head}");
        answers.push(got);
    }
    assert_eq!(answers[0], answers[1], "the answers differ");
}

/// A call goes out again, on a new connection, only when nothing can happen twice: an
/// idempotent method, a kept connection that closed before any byte of an answer came back,
/// a body in hand. A POST on a dying connection reaches the upstream once and answers 502; so
/// does a GET whose answer had begun.
#[test]
fn only_idempotent_calls_nothing_answered_are_sent_again() {
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
    let scripts = HashMap::from([
        ("drop".to_owned(), Script { pieces: vec![ok.clone()], after: "drop-next".into() }),
        ("echo".to_owned(), Script { pieces: vec![ok.clone()], after: "keep".into() }),
        ("half".to_owned(), Script { pieces: vec![ok], after: "half-next".into() }),
    ]);
    let upstream = ScriptedUpstream::start(scripts);
    let server = start("upstream-replay", &upstream);
    let count = |path: &str| upstream.heads.lock().expect("heads").iter().filter(|(t, _)| t == path).count();
    let call = |requests: &[&[u8]]| {
        let (mut stream, mut reader) = connect(server.edge);
        let mut last = None;
        for request in requests {
            stream.write_all(request).expect("write");
            last = read_answer(&mut reader, false);
        }
        last.expect("an answer")
    };

    // GET on a kept connection the upstream closes without answering: sent again, once.
    let before = (upstream.accepted(), count("/case/echo"));
    let sent = call(&[b"GET /case/drop HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /case/echo HTTP/1.1\r\nHost: x\r\n\r\n"]);
    assert_eq!((sent.status, sent.body.as_slice()), (200, &b"ok"[..]), "{}", String::from_utf8_lossy(&sent.raw));
    assert_eq!(count("/case/echo") - before.1, 2, "the GET reached the upstream twice: dropped, then answered");
    assert_eq!(upstream.accepted() - before.0, 1, "sent again on one new connection");

    // POST (whole in hand) on such a connection: once, and 502.
    let before = count("/case/echo");
    let failed = call(&[
        b"GET /case/drop HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /upload/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    ]);
    assert_eq!(failed.status, 502, "{}", String::from_utf8_lossy(&failed.raw));
    let envelope: serde_json::Value = serde_json::from_slice(&failed.body).expect("the envelope");
    assert_eq!(envelope["code"], "Upstream.Unavailable");
    assert_eq!(count("/case/echo") - before, 1, "the POST reached the upstream exactly once");

    // GET whose answer had begun (part of a head, then close): not sent again.
    let before = count("/case/half");
    let failed = call(&[b"GET /case/half HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /case/half HTTP/1.1\r\nHost: x\r\n\r\n"]);
    assert_eq!(failed.status, 502, "{}", String::from_utf8_lossy(&failed.raw));
    assert_eq!(count("/case/half") - before, 2, "the second GET went out once (the first was answered)");
}

/// A body streamed to the upstream a byte at a time is cut off at the body deadline in all:
/// the caller gets 400 and the upstream connection is closed, not held for as long as the
/// caller drips.
#[test]
fn a_dripped_streamed_body_is_cut_off_at_the_body_deadline() {
    let upstream = ScriptedUpstream::start(HashMap::new());
    // Half the upstream's timeout (`timeoutMs: 1000`), so the two deadlines never race: with
    // equal ones the caller once got 502 instead of 400 on a loaded machine.
    let server = start_with("upstream-drip", &upstream, &[("SLUICE_BODY_TIMEOUT_MS", "500")]);
    for framing in ["Content-Length: 400", "Transfer-Encoding: chunked"] {
        let (mut stream, _) = connect(server.edge);
        stream.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
        let head = format!("POST /upload/echo HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n");
        stream.write_all(head.as_bytes()).expect("the head");
        let drip: &[u8] = if framing.starts_with("Content") { b" " } else { b"1\r\n \r\n" };
        let mut raw = Vec::new();
        // 40 pieces take 12 s; the deadline is 0.5 s.
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(300));
            if stream.write_all(drip).is_err() {
                break;
            }
            match stream.read_to_end(&mut raw) {
                Ok(_) => break,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        let answer = support::parse_response(&raw).unwrap_or_else(|| panic!("{framing}: no answer while dripping"));
        assert_eq!((answer.status, answer.json()["code"].as_str()), (400, Some("InvalidRequest.Body")), "{framing}");
    }
}
