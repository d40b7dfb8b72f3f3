//! Hostile and unusual request heads (corpus/http_heads.jsonl), sent raw to the real binary:
//! each case says which statuses come back on one connection and whether it stays open.
//! The edge reads the common heads of data APIs itself and leaves the rest to pingora, so
//! this is where the two must agree on framing, keep-alive and what is refused.

mod support;

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use support::Server;

struct Case {
    name: String,
    send: String,
    statuses: Vec<u16>,
    /// The error code of the first answer, when the case names one.
    code: Option<String>,
    open: bool,
    head: bool,
}

/// Seventy headers: more than pingora's session lane used to get; read in place now.
fn padding() -> String {
    (0..70).map(|i| format!("X-Pad-{i}: {i}\r\n")).collect()
}

fn corpus(auth: &str) -> Vec<Case> {
    let text = std::fs::read_to_string(support::workspace_root().join("sluice/tests/corpus/http_heads.jsonl"))
        .expect("corpus/http_heads.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let case: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let field = |name: &str| case[name].as_str().unwrap_or_else(|| panic!("{line}: no {name}")).to_owned();
            let send = field("send")
                .replace("{auth}", auth)
                .replace("{auth_lf}", &auth.replace("\r\n", "\n"))
                .replace("{long}", &"v".repeat(8000))
                .replace("{pad}", &padding())
                .replace("{pad300}", &(0..300).map(|i| format!("X-Pad-{i}: {i}\r\n")).collect::<String>());
            // Exactly one byte past the limit in all, so the edge has read every byte sent
            // when it answers (unread bytes would reset the connection before the answer).
            let send = match send.split_once("{huge}") {
                Some((before, _)) => format!("{before}{}", "v".repeat(1_048_576 - before.len())),
                None => send,
            };
            let then = field("then");
            assert!(then == "open" || then == "closed", "{line}: `then` is open or closed");
            Case {
                name: field("name"),
                send,
                statuses: case["statuses"]
                    .as_array()
                    .expect("statuses")
                    .iter()
                    .map(|s| s.as_u64().expect("a status") as u16)
                    .collect(),
                code: case["code"].as_str().map(str::to_owned),
                open: then == "open",
                head: case["head"].as_bool().unwrap_or(false),
            }
        })
        .collect()
}

/// One response: its status, with the body read past (none for HEAD).
fn read_response(reader: &mut BufReader<TcpStream>, head_only: bool) -> Option<(u16, Vec<u8>)> {
    read_response_with_head(reader, head_only).map(|(status, _, body)| (status, body))
}

/// One response: its status, its header names (lower case, sorted) and its body.
fn read_response_with_head(reader: &mut BufReader<TcpStream>, head_only: bool) -> Option<(u16, Vec<String>, Vec<u8>)> {
    let head = support::read_response_head(reader)?;
    let response = support::parse_response(&head)?;
    if response.status == 100 {
        return read_response_with_head(reader, head_only);
    }
    let length: usize = response.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; if head_only { 0 } else { length }];
    reader.read_exact(&mut body).ok()?;
    let mut names: Vec<String> = response.headers.iter().map(|(name, _)| name.to_ascii_lowercase()).collect();
    names.sort();
    Some((response.status, names, body))
}

/// Whether the connection still answers: a plain call after the case's own.
fn still_open(stream: &mut TcpStream, reader: &mut BufReader<TcpStream>) -> bool {
    if stream.write_all(b"GET /no/such/api HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
        return false;
    }
    matches!(read_response(reader, false), Some((404, _)))
}

fn run(edge: SocketAddr, case: &Case) -> Result<(), String> {
    let mut stream = TcpStream::connect(edge).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    stream.write_all(case.send.as_bytes()).map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    for _ in &case.statuses {
        match read_response(&mut reader, case.head) {
            Some((status, body)) => {
                if status >= 400 {
                    let envelope: serde_json::Value = serde_json::from_slice(&body)
                        .map_err(|_| format!("status {status} without the JSON envelope"))?;
                    if !envelope["code"].is_string() || !envelope["requestId"].is_string() {
                        return Err(format!("status {status}: {envelope}"));
                    }
                    if let Some(code) = case.code.as_deref().filter(|_| got.is_empty())
                        && envelope["code"] != code
                    {
                        return Err(format!("code {}, expected {code}", envelope["code"]));
                    }
                }
                got.push(status);
            }
            None => break,
        }
    }
    if got != case.statuses {
        return Err(format!("statuses {got:?}, expected {:?}", case.statuses));
    }
    let open = still_open(&mut stream, &mut reader);
    if open != case.open {
        return Err(format!("the connection is {} afterwards", if open { "open" } else { "closed" }));
    }
    Ok(())
}

#[test]
fn hostile_and_unusual_heads_get_the_same_answers_whichever_lane_reads_them() {
    let server = Server::start("heads", &[("SLUICE_MAX_BODY_BYTES", "65536")]);
    let app = server.demo_app();
    let auth = format!("X-Sluice-App-Key: {}\r\nAuthorization: Bearer {}\r\n", app.key, app.token);
    let cases = corpus(&auth);
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());
    let failures: Vec<String> =
        cases.iter().filter_map(|case| run(server.edge, case).err().map(|e| format!("{}: {e}", case.name))).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// The edge writes in-place answers itself and has pingora write the session lane's: the same
/// request read by either lane (padded past 64 headers for pingora) gets the same status and
/// the same headers.
#[test]
fn both_lanes_answer_with_the_same_headers() {
    let server = Server::start("heads-alike", &[]);
    let app = server.demo_app();
    let auth = format!("X-Sluice-App-Key: {}\r\nAuthorization: Bearer {}\r\n", app.key, app.token);
    let answer = |head: String| {
        let mut stream = TcpStream::connect(server.edge).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        stream.write_all(head.as_bytes()).expect("write");
        let (status, names, _) = read_response_with_head(&mut reader, false).expect("an answer");
        (status, names)
    };
    for request in [
        format!("GET /customers/42 HTTP/1.1\r\nHost: x\r\n{auth}"),
        "GET /no/such/api HTTP/1.1\r\nHost: x\r\n".to_owned(),
        "DELETE /customers/42 HTTP/1.1\r\nHost: x\r\n".to_owned(),
        "GET /customers/42 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".to_owned(),
    ] {
        let in_place = answer(format!("{request}\r\n"));
        let proxied = answer(format!("{request}{}\r\n", padding()));
        assert_eq!(in_place, proxied, "{request:?}");
        assert!(in_place.1.contains(&"x-request-id".to_owned()), "{in_place:?}");
    }
}
