//! The real `sluice serve` on loopback: the demo, the envelope and headers, bad input at the
//! edge, environments, live changes under load, data APIs on PostgreSQL and MariaDB, and
//! draining on SIGTERM.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use catalog::model::DatasourceKind;
use support::{Server, raw_exchange, sluice, try_request, unique_dir};

#[test]
fn the_demo_answers_the_printed_curl_lines() {
    let server = Server::start("demo", &[]);
    let banner = server.output();
    assert!(banner.contains("demo app key:"), "banner lacks the demo app key:\n{banner}");
    assert!(banner.contains(&format!("Bearer $APP_TOKEN\" http://{}/customers/42", server.edge)), "banner:\n{banner}");

    let one = server.get_as_demo_app("/customers/42");
    assert_eq!(one.status, 200, "{}", String::from_utf8_lossy(&one.body));
    let body = one.json();
    assert_eq!(body["code"], "OK");
    assert_eq!(body["data"]["rows"][0]["id"], 42);
    assert_eq!(body["requestId"].as_str(), one.header("x-request-id"), "request id in body and header differ");
    let timing = one.header("server-timing").expect("Server-Timing header");
    for stage in ["parse;dur=", "plan;dur=", "execute;dur=", "encode;dur="] {
        assert!(timing.contains(stage), "Server-Timing lacks {stage}: {timing}");
    }

    let search = server.get_as_demo_app("/orders/search?status=pending,shipped&pageSize=5&withTotal=true");
    assert_eq!(search.status, 200, "{}", String::from_utf8_lossy(&search.body));
    let data = &search.json()["data"];
    assert_eq!(data["rows"].as_array().map(Vec::len), Some(5), "{data}");
    assert_eq!(data["pageSize"], 5);
    // 3000 orders, one in ten cancelled.
    assert_eq!(data["totalCnt"], 2700, "{data}");

    let native = server.get("/analytics/query?sql=SELECT%20city%2C%20count(*)%20AS%20n%20FROM%20customers%20GROUP%20BY%20city%20ORDER%20BY%20city");
    assert_eq!(native.status, 200, "{}", String::from_utf8_lossy(&native.body));
    let rows = native.json()["data"]["rows"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 6, "six demo cities: {rows:?}");

    let forbidden = server.get("/analytics/query?sql=SELECT%20*%20FROM%20sqlite_master");
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.json()["code"], "Forbidden.Query");

    // The workflow (seed 001's example): API → Python function → switch → end.
    assert!(banner.contains("/wf/customer-check?id=1"), "banner:\n{banner}");
    let first = server.get_as_demo_app("/wf/customer-check?id=1");
    assert_eq!(first.status, 200, "{}", String::from_utf8_lossy(&first.body));
    assert_eq!(first.json()["data"]["branch"], "customer 1", "{}", first.json());
    let other = server.get_as_demo_app("/wf/customer-check?id=42").json();
    assert_eq!(
        (other["data"]["branch"].as_str(), other["data"]["user_id"].as_i64()),
        (Some("other customer"), Some(42))
    );
}

#[test]
fn bad_input_gets_clear_errors() {
    let server = Server::start("bad-input", &[("SLUICE_MAX_BODY_BYTES", "1024")]);
    let app = server.demo_app();
    let json = [("Content-Type", "application/json")];
    let missing = server.get("/no/such/api");
    assert_eq!((missing.status, missing.json()["code"].as_str()), (404, Some("NotFound.Api")));
    assert!(missing.header("x-request-id").is_some());

    let wrong_method = server.call("DELETE", "/customers/42", &[], b"");
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("GET"));

    let bad_param = server.get_as_demo_app("/customers/forty-two");
    assert_eq!((bad_param.status, bad_param.json()["code"].as_str()), (400, Some("InvalidParameter.id")));

    let big = vec![b' '; 4096];
    let too_large = server.call_as(&app, "POST", "/orders/search", &json, &big);
    assert_eq!((too_large.status, too_large.json()["code"].as_str()), (413, Some("PayloadTooLarge")));

    let chunk = format!("{:x}\r\n{}\r\n", 2048, " ".repeat(2048));
    let chunked_big = format!(
        "POST /orders/search HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\
         X-Sluice-App-Key: {}\r\nAuthorization: Bearer {}\r\n\r\n{chunk}0\r\n\r\n",
        app.key, app.token
    );
    let resp = raw_exchange(server.edge, chunked_big.as_bytes()).expect("chunked request");
    assert_eq!(resp.status, 413, "a chunked body over the limit");

    let malformed = server.call_as(&app, "POST", "/orders/search", &json, b"{\"status\": [");
    assert_eq!((malformed.status, malformed.json()["code"].as_str()), (400, Some("InvalidRequest.Body")));

    let smuggle =
        "POST /orders/search HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let resp = raw_exchange(server.edge, smuggle.as_bytes()).expect("framing request");
    assert_eq!(resp.status, 400, "Content-Length with Transfer-Encoding must be refused");

    let bad_env = server.call("GET", "/customers/1", &[("X-Sluice-Env", "staging")], b"");
    assert_eq!((bad_env.status, bad_env.json()["code"].as_str()), (400, Some("InvalidParameter.X-Sluice-Env")));
}

/// A YAML bundle with one wizard API over the demo dataset, published as `envs`.
fn extra_api(name: &str, path: &str, envs: &str) -> String {
    format!(
        "kind: Api\nworkgroup: demo\nname: {name}\npath: {path}\nmethod: GET\ndatasource: shop\nmode: wizard\nauthMode: none\ntable: products\n\
         requestParams:\n  - {{name: category, type: string, column: category}}\n\
         responseFields:\n  - {{name: id, type: int, sort: {{direction: asc}}}}\n  - {{name: name, type: string}}\n\
         publish: [{envs}]\n"
    )
}

#[test]
fn applied_changes_are_served_live_without_failed_requests() {
    let server = Server::start("live", &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let app_headers = server.demo_app().token_headers();
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, failures, served, edge) = (stop.clone(), failures.clone(), served.clone(), server.edge);
            let owned = app_headers.clone();
            std::thread::spawn(move || {
                let headers: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let deadline = Instant::now() + Duration::from_secs(30);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match try_request(edge, "GET", "/customers/7", &headers, b"") {
                        Ok(r) if r.status == 200 => served.fetch_add(1, Ordering::Relaxed),
                        _ => failures.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();

    let file = server.data_dir.join("extra.yaml");
    std::fs::write(&file, extra_api("products_by_category", "/products", "prod, test")).expect("write yaml");
    let applied_at = Instant::now();
    let (ok, out) = sluice(&server.data_dir, &["apply", "-f", file.to_str().expect("path")], &[]);
    assert!(ok, "apply failed:\n{out}");
    let mut live_after = None;
    while applied_at.elapsed() < Duration::from_secs(10) {
        if server.get("/products?category=home").status == 200 {
            live_after = Some(applied_at.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let live_after =
        live_after.unwrap_or_else(|| panic!("the applied API was not served within 10 s:\n{}", server.output()));
    assert!(live_after < Duration::from_secs(2), "took {live_after:?} to go live");
    let rows = server.get("/products?category=home").json()["data"]["rows"].as_array().map(Vec::len);
    assert_eq!(rows, Some(15), "60 products, a quarter of them home");
    let test_env = server.call("GET", "/products?category=home", &[("X-Sluice-Env", "test")], b"");
    assert_eq!(test_env.status, 200, "published to test as well");

    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().expect("load thread");
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0, "requests failed during the change");
    assert!(served.load(Ordering::Relaxed) > 10, "the load did not run");
}

#[test]
fn environments_are_separate() {
    let server = Server::start("envs", &[]);
    let file = server.data_dir.join("test-only.yaml");
    std::fs::write(&file, extra_api("products_test_only", "/products-preview", "test")).expect("write yaml");
    let (ok, out) = sluice(&server.data_dir, &["apply", "-f", file.to_str().expect("path")], &[]);
    assert!(ok, "apply failed:\n{out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.call("GET", "/products-preview", &[("X-Sluice-Env", "test")], b"").status != 200 {
        assert!(Instant::now() < deadline, "not served in test:\n{}", server.output());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.get("/products-preview").status, 404, "a test-only API must not answer in prod");
    assert_eq!(server.call("GET", "/customers/1", &[("X-Sluice-Env", "test")], b"").status, 404, "demo is prod-only");
}

/// Datasource + wizard, script and native APIs over a fixture database, as YAML.
fn fixture_bundle(kind: DatasourceKind) -> String {
    let ds = sluice_tests::datasource(kind);
    let c = &ds.connection;
    let ty = kind.as_str();
    format!(
        "kind: Datasource\nworkgroup: fx\nname: fx_{ty}\ntype: {ty}\nhost: {}\nport: {}\ndatabase: {}\nusername: {}\n---\n\
         kind: Api\nworkgroup: fx\nname: users_{ty}\npath: /{ty}/users/{{id}}\nmethod: GET\ndatasource: fx_{ty}\nmode: wizard\nauthMode: none\ntable: users\n\
         requestParams:\n  - {{name: id, type: int, column: id, position: path, required: true}}\n\
         responseFields:\n  - {{name: id, type: int}}\n  - {{name: name, type: string}}\n  - {{name: score, type: decimal}}\n---\n\
         kind: Api\nworkgroup: fx\nname: orders_{ty}\npath: /{ty}/orders\nmethod: POST\ndatasource: fx_{ty}\nauthMode: none\nmode: script\n\
         sql: \"SELECT id, amount FROM orders <where><if test=\\\"users != null\\\">user_id IN (#{{users}})</if></where> ORDER BY id\"\n\
         requestParams:\n  - {{name: users, type: \"array<int>\", position: body}}\n\
         responseFields:\n  - {{name: id, type: int}}\n  - {{name: amount, type: decimal}}\n---\n\
         kind: Api\nworkgroup: fx\nname: sql_{ty}\npath: /{ty}/sql\nmethod: GET\ndatasource: fx_{ty}\nmode: native\nauthMode: none\ntables: [users, orders]\n",
        c.host, c.port, c.database, c.username
    )
}

#[test]
fn data_apis_on_postgres_and_mariadb_answer_through_the_edge() {
    let data_dir = unique_dir("dbs");
    let file = data_dir.join("fixtures.yaml");
    let bundle = [DatasourceKind::Postgres, DatasourceKind::Mysql].map(fixture_bundle).join("---\n");
    std::fs::write(&file, bundle).expect("write yaml");
    // The databases are on loopback, which datasources reach only once the operator allows it.
    let (ok, out) = sluice(&data_dir, &["apply", "-f", file.to_str().expect("path")], &[("SLUICE_DEMO", "false")]);
    assert!(!ok && out.contains("fixtures.yaml:") && out.contains("loopback"), "applied a loopback host:\n{out}");
    let allow = [("SLUICE_DEMO", "false"), ("SLUICE_SSRF_ALLOW", "127.0.0.1")];
    let (ok, out) = sluice(&data_dir, &["apply", "-f", file.to_str().expect("path")], &allow);
    assert!(ok, "apply failed:\n{out}");
    let server = Server::start_in(data_dir, &allow);
    for ty in ["postgres", "mysql"] {
        let user = server.get(&format!("/{ty}/users/3"));
        assert_eq!(user.status, 200, "{ty}: {}", String::from_utf8_lossy(&user.body));
        assert_eq!(
            user.json()["data"]["rows"],
            serde_json::json!([{"id": 3, "name": "O'Brien", "score": "3.75"}]),
            "{ty}"
        );

        let orders = server.call(
            "POST",
            &format!("/{ty}/orders"),
            &[("Content-Type", "application/json")],
            br#"{"users": [2, 4]}"#,
        );
        assert_eq!(orders.status, 200, "{ty}: {}", String::from_utf8_lossy(&orders.body));
        assert_eq!(
            orders.json()["data"]["rows"],
            serde_json::json!([{"id": 20, "amount": "6"}, {"id": 21, "amount": "1"}, {"id": 40, "amount": "12"}, {"id": 41, "amount": "2"}]),
            "{ty}"
        );

        let native = server.get(&format!("/{ty}/sql?sql=SELECT%20count(*)%20AS%20n%20FROM%20users"));
        assert_eq!(native.status, 200, "{ty}: {}", String::from_utf8_lossy(&native.body));
        assert_eq!(native.json()["data"]["rows"][0]["n"], 48, "{ty}");
        let refused = server.get(&format!("/{ty}/sql?sql=SELECT%20token%20FROM%20secret"));
        assert_eq!(refused.status, 403, "{ty}");

        // A null list item is the caller's, in the body or the query string, on every database.
        let json = [("Content-Type", "application/json")];
        let body_null = server.call("POST", &format!("/{ty}/orders"), &json, br#"{"users": [2, null]}"#);
        let bracketed = server.call("POST", &format!("/{ty}/orders?users=%5B2%2Cnull%5D"), &[], b"");
        let commas = server.call("POST", &format!("/{ty}/orders?users=2,null"), &[], b"");
        for answer in [body_null, bracketed, commas] {
            assert_eq!(answer.status, 400, "{ty}: {}", String::from_utf8_lossy(&answer.body));
            assert_eq!(answer.json()["code"], "InvalidParameter.users", "{ty}");
            let message = answer.json()["message"].as_str().unwrap_or_default().to_owned();
            assert!(message.contains("item 2 of the list is null"), "{ty}: {message}");
        }
        // A native query the database refuses is the caller's too, told in fixed words.
        let rejected = server.get(&format!("/{ty}/sql?sql=SELECT%20id%20FROM%20users%20ORDER%20BY%207"));
        assert_eq!(rejected.status, 400, "{ty}: {}", String::from_utf8_lossy(&rejected.body));
        assert_eq!(rejected.json()["code"], "InvalidParameter.sql", "{ty}");
        assert_eq!(
            rejected.json()["message"],
            "the database rejected the query: an ORDER BY position is not in the select list",
            "{ty}"
        );
    }
}

#[test]
fn sigterm_drains_in_flight_requests() {
    let data_dir = unique_dir("drain");
    let file = data_dir.join("slow.yaml");
    let ds = sluice_tests::datasource(DatasourceKind::Postgres).connection;
    std::fs::write(
        &file,
        format!(
            "kind: Datasource\nworkgroup: slow\nname: pg\ntype: postgres\nhost: {}\nport: {}\ndatabase: {}\nusername: {}\n---\n\
             kind: Api\nworkgroup: slow\nname: slow\npath: /slow\nmethod: GET\ndatasource: pg\nauthMode: none\nmode: script\n\
             sql: \"SELECT 1 AS one FROM (SELECT pg_sleep(1)) s\"\nresponseFields:\n  - {{name: one, type: int}}\n",
            ds.host, ds.port, ds.database, ds.username
        ),
    )
    .expect("write yaml");
    let allow = ("SLUICE_SSRF_ALLOW", "127.0.0.1");
    let (ok, out) =
        sluice(&data_dir, &["apply", "-f", file.to_str().expect("path")], &[("SLUICE_DEMO", "false"), allow]);
    assert!(ok, "apply failed:\n{out}");
    let mut server =
        Server::start_in(data_dir, &[("SLUICE_DEMO", "false"), ("SLUICE_SHUTDOWN_TIMEOUT_SECS", "3"), allow]);
    let edge = server.edge;
    let in_flight = std::thread::spawn(move || try_request(edge, "GET", "/slow", &[], b""));
    // SIGTERM once the database runs the statement: the request is then surely in flight,
    // however long the connection (TLS in the h2 pass) took to set up.
    wait_for_statement("pg_sleep(1)");
    assert!(server.terminate(), "sluice did not exit cleanly on SIGTERM:\n{}", server.output());
    let resp = in_flight.join().expect("client thread").expect("the in-flight request was cut");
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
}

/// Waits until PostgreSQL is running a statement containing `fragment`.
fn wait_for_statement(fragment: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        use sqlx::Connection;
        let ds = sluice_tests::datasource(DatasourceKind::Postgres).connection;
        let url = format!("postgres://{}@{}:{}/{}", ds.username, ds.host, ds.port, ds.database);
        let mut connection = sqlx::PgConnection::connect(&url).await.expect("connect to PostgreSQL");
        let start = Instant::now();
        loop {
            let (running,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE state = 'active' AND pid <> pg_backend_pid() AND position($1 in query) > 0",
            )
            .bind(fragment)
            .fetch_one(&mut connection)
            .await
            .expect("read pg_stat_activity");
            if running > 0 {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "`{fragment}` never ran");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
}

/// A kept-alive connection waiting for its next request is closed as soon as the server is
/// told to stop, not held open until the grace period for in-flight requests ends.
#[test]
fn sigterm_lets_idle_kept_alive_connections_go_at_once() {
    use std::io::{BufRead, BufReader, Read, Write};
    let env = [("SLUICE_SHUTDOWN_TIMEOUT_SECS", "15"), ("SLUICE_HEADER_TIMEOUT_MS", "60000")];
    let mut server = Server::start("drain-idle", &env);
    let app = server.demo_app();
    let mut stream = std::net::TcpStream::connect(server.edge).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let request = format!(
        "GET /customers/1 HTTP/1.1\r\nHost: x\r\nX-Sluice-App-Key: {}\r\nAuthorization: Bearer {}\r\n\r\n",
        app.key, app.token
    );
    // Two requests on the connection: it waits for a third when the signal comes.
    for _ in 0..2 {
        stream.write_all(request.as_bytes()).expect("a request");
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("the answer's head");
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().expect("a length");
            }
            if line == "\r\n" {
                break;
            }
        }
        reader.read_exact(&mut vec![0; length]).expect("the answer's body");
    }
    let _ = std::process::Command::new("kill").arg("-TERM").arg(server.pid().to_string()).status();
    let mut rest = Vec::new();
    let closed = reader.read_to_end(&mut rest);
    assert!(closed.is_ok() && rest.is_empty(), "the idle connection was not closed on SIGTERM: {closed:?} {rest:?}");
    assert!(server.terminate(), "sluice did not exit cleanly:\n{}", server.output());
}

/// With nothing in flight, SIGTERM stops the process at once rather than after the grace
/// period: here an hour, longer than `terminate` waits (30 s).
#[test]
fn sigterm_with_nothing_in_flight_exits_without_waiting_for_the_grace_period() {
    let mut server = Server::start("drain-nothing", &[("SLUICE_SHUTDOWN_TIMEOUT_SECS", "3600")]);
    assert_eq!(server.get("/customers/1").status, 401);
    assert!(server.terminate(), "sluice did not exit on SIGTERM while idle:\n{}", server.output());
}

#[test]
fn slow_headers_are_cut_off_at_the_deadline() {
    let server = Server::start("slow-headers", &[("SLUICE_HEADER_TIMEOUT_MS", "1000")]);
    // More headers than the edge looks at to pick a lane must not buy a way round the deadline.
    let padding: String = (0..70).map(|i| format!("X-Pad-{i}: {i}\r\n")).collect();
    for start in [String::new(), padding] {
        let closed_after = drip_headers(server.edge, &start);
        let closed_after = closed_after.expect("the server kept a connection whose headers never finished");
        assert!(closed_after < 39, "closed only at the end of the drip");
    }
    // Well-behaved callers are unaffected.
    assert_eq!(server.get_as_demo_app("/customers/1").status, 200);
}

/// A body read in place has the head's deadline too: one that stops short of its
/// Content-Length gets 400 `InvalidRequest.Body` once the deadline passes, and the connection
/// closes, while a body that comes in pieces within it is answered.
#[test]
fn an_unfinished_body_is_refused_at_the_deadline() {
    use std::io::{Read, Write};
    let server = Server::start("slow-body", &[("SLUICE_BODY_TIMEOUT_MS", "1000")]);
    let app = server.demo_app();
    let head = |length: usize| {
        format!(
            "POST /orders/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {length}\r\nX-Sluice-App-Key: {}\r\nAuthorization: Bearer {}\r\n\r\n",
            app.key, app.token
        )
    };
    let mut stream = std::net::TcpStream::connect(server.edge).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(format!("{}{{\"sta", head(20)).as_bytes()).expect("head and a piece");
    let started = Instant::now();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("the answer, then the close");
    let waited = started.elapsed();
    let resp = support::parse_response(&raw).expect("a response");
    assert_eq!((resp.status, resp.json()["code"].as_str()), (400, Some("InvalidRequest.Body")));
    assert!(waited >= Duration::from_millis(900), "answered after {waited:?}, before the deadline");

    let body = br#"{"status": ["paid"]}"#;
    let mut stream = std::net::TcpStream::connect(server.edge).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(head(body.len()).as_bytes()).expect("head");
    for piece in body.chunks(7) {
        std::thread::sleep(Duration::from_millis(100));
        stream.write_all(piece).expect("a piece of the body");
    }
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).expect("the answer");
    assert_eq!(&answer, b"HTTP/1.1 200", "{}", String::from_utf8_lossy(&answer));
}

/// A body sent a byte at a time is cut off at the body deadline in all, not per read, whichever
/// lane reads it: a Content-Length one (in place) and a chunked one (pingora's lane).
#[test]
fn a_dripped_body_is_refused_at_the_body_deadline_whatever_its_framing() {
    use std::io::{Read, Write};
    let server = Server::start("drip-body", &[("SLUICE_BODY_TIMEOUT_MS", "1000")]);
    let app = server.demo_app();
    let auth = format!("X-Sluice-App-Key: {}\r\nAuthorization: Bearer {}\r\n", app.key, app.token);
    for (framing, first, drip) in [
        ("Content-Length: 400", "", b" ".as_slice()),
        ("Transfer-Encoding: chunked", "1\r\n{\r\n", b"1\r\n \r\n".as_slice()),
    ] {
        let mut stream = std::net::TcpStream::connect(server.edge).expect("connect");
        stream.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
        let head = format!("POST /orders/search HTTP/1.1\r\nHost: x\r\n{framing}\r\n{auth}\r\n{first}");
        stream.write_all(head.as_bytes()).expect("the head");
        // Every piece comes quickly after the last: only the total is slow. 40 pieces take
        // 12 s; the deadline is 1 s.
        let mut raw = Vec::new();
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
        let resp = support::parse_response(&raw).unwrap_or_else(|| panic!("{framing}: no answer while dripping"));
        assert_eq!((resp.status, resp.json()["code"].as_str()), (400, Some("InvalidRequest.Body")), "{framing}");
    }
}

/// Sends a request line and `start`, then drips one header line every 250 ms for up to 10 s:
/// every single read is quick, only the total is slow. The line at which the server hung up.
fn drip_headers(edge: std::net::SocketAddr, start: &str) -> Option<usize> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(edge).expect("connect");
    stream.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
    stream.write_all(format!("GET /customers/1 HTTP/1.1\r\nHost: x\r\n{start}").as_bytes()).expect("head");
    for line in 0..40 {
        std::thread::sleep(Duration::from_millis(250));
        let mut buf = [0u8; 256];
        let hung_up = match stream.read(&mut buf) {
            Ok(_) => true,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => false,
            Err(_) => true,
        };
        if hung_up || stream.write_all(format!("X-Drip-{line}: 1\r\n").as_bytes()).is_err() {
            return Some(line);
        }
    }
    None
}
