//! `sluice import openapi` and `POST /admin/v1/workgroups/{wg}/imports/openapi` through the
//! real binary: a dry run that writes nothing, the import of public example documents as
//! registered APIs served at the edge and forwarding to an upstream on 127.0.0.1, security
//! schemes as constants read from the environment, a second import as a no-op, a newer
//! document's breaking changes listed before it is applied, a document fetched by URL through
//! the network policy, and documents that cannot be imported.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Server, call, ok, refused, sluice, try_request, workspace_root};

/// One request the upstream received: method, target, headers (lower-case names), body.
type Request = (String, String, Vec<(String, String)>, Vec<u8>);
type Seen = Arc<Mutex<Vec<Request>>>;

/// An upstream that answers every request with `{"ok": true}` and remembers it.
fn upstream() -> (SocketAddr, Seen) {
    let listener = support::free_listener();
    let addr = listener.local_addr().expect("upstream address");
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve(stream, &log));
        }
    });
    (addr, seen)
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Request>>) {
    let mut out = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let length = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        log.lock().expect("log").push((method, target, headers, body));
        let answer = b"{\"ok\":true}";
        let head =
            format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", answer.len());
        if out.write_all(head.as_bytes()).and_then(|_| out.write_all(answer)).is_err() {
            return;
        }
    }
}

const ENV: [(&str, &str); 2] = [("SLUICE_SSRF_ALLOW", "127.0.0.1"), ("SLUICE_DEMO", "false")];

/// The bootstrap token of servers started with [`managed_server`].
const ROOT: &str = "slc_import_bootstrap_token_0123456789";

/// A server whose management API takes [`ROOT`], with `extra` in its environment.
fn managed_server(name: &str, extra: &[(&str, &str)]) -> Server {
    let mut env = ENV.to_vec();
    env.push(("SLUICE_ADMIN_TOKEN", ROOT));
    env.extend_from_slice(extra);
    Server::start(name, &env)
}

fn document(name: &str) -> String {
    workspace_root().join("sluice/tests/openapi").join(name).display().to_string()
}

fn import(server: &Server, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut all = vec!["import", "openapi"];
    all.extend_from_slice(args);
    let mut environment = ENV.to_vec();
    environment.extend_from_slice(env);
    sluice(&server.data_dir, &all, &environment)
}

/// Waits until the edge serves `path` (anything but 404).
fn served(server: &Server, method: &str, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = try_request(server.edge, method, path, &[], b"")
            && r.status != 404
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{path} was not served after the import:\n{}", server.output());
}

#[test]
fn a_petstore_is_previewed_imported_served_and_imported_again_as_a_no_op() {
    let (addr, seen) = upstream();
    let server = Server::start("import-petstore", &ENV);
    let base = format!("http://{addr}/v1");
    let petstore = document("petstore.yaml");
    let args = ["-f", &petstore, "--workgroup", "shop", "--base-url", &base, "--path-prefix", "/petstore", "--public"];

    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let (ok, out) = import(&server, &dry, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("dry run: nothing was written"), "{out}");
    assert!(out.contains("workgroup shop: created"), "{out}");
    assert!(out.contains("api shop/listPets: created, saved V0"), "{out}");
    assert!(out.contains("api shop/showPetById: created, saved V0"), "{out}");

    let mut real = args.to_vec();
    real.extend(["--publish", "prod"]);
    let (ok, out) = import(&server, &real, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("api shop/createPets: created, saved V0, published V0 to prod"), "{out}");
    // The dry run wrote nothing: the real import created the workgroup.
    assert!(out.contains("workgroup shop: created"), "{out}");
    served(&server, "GET", "/petstore/pets/7");
    seen.lock().expect("log").clear(); // the probes'

    let answer = server.get("/petstore/pets/7");
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let answer = server.get("/petstore/pets?limit=5");
    assert_eq!(answer.status, 200);
    let bad = server.get("/petstore/pets?limit=many");
    assert_eq!(bad.status, 400, "limit is declared an integer");
    assert_eq!(support::code(&bad), "InvalidParameter.limit");
    let created =
        server.call("POST", "/petstore/pets", &[("Content-Type", "application/json")], br#"{"id": 9, "name": "Rex"}"#);
    assert_eq!(created.status, 200, "{}", String::from_utf8_lossy(&created.body));
    let missing = server.call("POST", "/petstore/pets", &[("Content-Type", "application/json")], br#"{"id": 9}"#);
    assert_eq!(support::code(&missing), "MissingParameter.name", "name is required in the Pet schema");
    {
        let seen = seen.lock().expect("log");
        let targets: Vec<(&str, &str)> = seen.iter().map(|(m, t, _, _)| (m.as_str(), t.as_str())).collect();
        assert_eq!(targets, [("GET", "/v1/pets/7"), ("GET", "/v1/pets?limit=5"), ("POST", "/v1/pets")]);
        let body: serde_json::Value = serde_json::from_slice(&seen[2].3).expect("JSON body");
        assert_eq!(body, serde_json::json!({"id": 9, "name": "Rex"}));
    }

    let (ok, out) = import(&server, &real, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("no changes"), "importing the same document again changes nothing:\n{out}");

    // `-o` writes the APIs as a declarative file that `check` accepts and `apply` finds applied.
    let written = server.data_dir.join("petstore-apis.yaml");
    let mut output = real.clone();
    output.extend(["-o", written.to_str().expect("path")]);
    let (ok, out) = import(&server, &output, &[]);
    assert!(ok, "{out}");
    let yaml = std::fs::read_to_string(&written).expect("written file");
    assert!(yaml.contains("# imported from /paths/~1pets~1{petId}/get"), "{yaml}");
    let file = written.to_str().expect("path");
    let mut env = ENV.to_vec();
    env.push(("RUST_LOG", "warn"));
    let (ok, out) = sluice(&server.data_dir, &["check", "-f", file], &env);
    assert!(ok, "{out}");
    let (ok, out) = sluice(&server.data_dir, &["apply", "--dry-run", "-f", file], &env);
    assert!(ok, "{out}");
    assert!(out.contains("no changes"), "the file describes what the import applied:\n{out}");
}

#[test]
fn security_schemes_become_constants_read_from_the_environment() {
    let (addr, seen) = upstream();
    let server = Server::start("import-warehouse", &ENV);
    let base = format!("http://{addr}/wh");
    let warehouse = document("warehouse-3.1.yaml");
    let args = ["-f", &warehouse, "--workgroup", "stock", "--base-url", &base, "--public", "--publish", "prod"];

    // The key is never guessed: without its variable nothing is imported.
    let (ok, out) = import(&server, &args, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("SLUICE_IMPORT_SECRET_STOCKKEY"), "{out}");
    assert!(out.contains("#/paths/~1stock~1{sku}/patch: left out"), "what is left out is listed: {out}");
    assert!(out.contains("#/components/securitySchemes/oauth: left out"), "{out}");

    let secrets =
        [("SLUICE_IMPORT_SECRET_STOCKKEY", "stock-k3y-81"), ("SLUICE_IMPORT_SECRET_BEARER", "Bearer t0ken-55")];
    let (ok, out) = import(&server, &args, &secrets);
    assert!(ok, "{out}");
    served(&server, "GET", "/stock/AB-1");
    let answer = server.get("/stock/AB-1?warehouse=2");
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    assert!(!String::from_utf8_lossy(&answer.body).contains("stock-k3y-81"));
    let seen = seen.lock().expect("log");
    let (_, target, headers, _) = seen.last().expect("a request upstream");
    assert_eq!(target, "/wh/stock/AB-1?warehouse=2");
    assert!(headers.contains(&("x-stock-key".to_owned(), "stock-k3y-81".to_owned())), "{headers:?}");
}

#[test]
fn documents_that_cannot_be_imported_say_why_and_write_nothing() {
    let server = Server::start("import-refused", &ENV);
    let swagger = server.data_dir.join("swagger.json");
    std::fs::write(&swagger, r#"{"swagger": "2.0", "info": {"title": "x", "version": "1"}, "paths": {}}"#)
        .expect("write");
    let (ok, out) = import(&server, &["-f", swagger.to_str().expect("path"), "--workgroup", "shop"], &[]);
    assert!(!ok);
    assert!(out.contains("#/swagger: cannot import: Swagger 2.0"), "{out}");

    let broken = server.data_dir.join("broken.yaml");
    std::fs::write(&broken, "openapi: 3.0.0\npaths: [unclosed").expect("write");
    let (ok, out) = import(&server, &["-f", broken.to_str().expect("path"), "--workgroup", "shop"], &[]);
    assert!(!ok);
    assert!(out.contains("not valid YAML"), "{out}");

    // A relative server and no --base-url: every operation is left out, so nothing to import.
    let relative = server.data_dir.join("relative.yaml");
    std::fs::write(&relative, "openapi: 3.1.0\nservers: [{url: /v1}]\npaths:\n  /x:\n    get: {responses: {}}\n")
        .expect("write");
    let (ok, out) = import(&server, &["-f", relative.to_str().expect("path"), "--workgroup", "shop"], &[]);
    assert!(!ok);
    assert!(out.contains("#/servers/0/url: left out"), "{out}");
    assert!(out.contains("describes no operation that can be imported"), "{out}");
    let answer = server.get("/x");
    assert_eq!(answer.status, 404);
}

#[test]
fn the_management_api_previews_and_imports_a_document_given_as_yaml_text() {
    let (addr, seen) = upstream();
    let server = managed_server("import-rest", &[]);
    ok(&call(&server, "POST", "/workgroups", Some(ROOT), Some(json!({"name": "shop"}))));
    let text = std::fs::read_to_string(document("petstore-expanded.yaml")).expect("document");
    let body = |dry_run: bool| {
        json!({"document": text, "baseUrl": format!("http://{addr}/api"), "pathPrefix": "/px", "public": true,
               "dryRun": dry_run})
    };

    let preview = ok(&call(&server, "POST", "/workgroups/shop/imports/openapi", Some(ROOT), Some(body(true))));
    assert_eq!(preview["dryRun"], true);
    let changes: Vec<(&str, &str)> = (preview["apis"].as_array().expect("apis").iter())
        .map(|a| (a["name"].as_str().unwrap_or(""), a["change"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(changes.len(), 4, "{preview}");
    assert!(changes.iter().all(|(_, change)| *change == "created"), "{preview}");
    let listed = ok(&call(&server, "GET", "/workgroups/shop/apis", Some(ROOT), None));
    assert_eq!(listed["total"], 0, "the preview wrote nothing: {listed}");

    let imported = ok(&call(&server, "POST", "/workgroups/shop/imports/openapi", Some(ROOT), Some(body(false))));
    assert_eq!(imported["dryRun"], false);
    assert!(imported["apis"].as_array().expect("apis").iter().all(|a| a["versionSaved"] == true), "{imported}");
    let listed = ok(&call(&server, "GET", "/workgroups/shop/apis?pageSize=50", Some(ROOT), None));
    assert_eq!(listed["total"], 4, "{listed}");
    // Nothing is published by an import: the edge does not serve the APIs yet.
    assert_eq!(server.get("/px/pets").status, 404);
    assert!(seen.lock().expect("log").is_empty());

    let again = ok(&call(&server, "POST", "/workgroups/shop/imports/openapi", Some(ROOT), Some(body(false))));
    assert!(again["apis"].as_array().expect("apis").iter().all(|a| a["change"] == "unchanged"), "{again}");
    assert_eq!(again["changes"], json!([]), "{again}");
    // Without `addPet` and with `limit` required, the changes are flagged before anything is written.
    let mut narrower = body(true);
    let text = narrower["document"].as_str().expect("text").replace("operationId: addPet", "operationId: addPet2");
    narrower["document"] = json!(text);
    let preview = ok(&call(&server, "POST", "/workgroups/shop/imports/openapi", Some(ROOT), Some(narrower)));
    let changes = preview["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{preview}");
    assert_eq!((changes[0]["name"].as_str(), changes[0]["change"].as_str()), (Some("addPet"), Some("removed")));

    let swagger = json!({"document": {"swagger": "2.0", "paths": {}}});
    let refusal = refused(
        &call(&server, "POST", "/workgroups/shop/imports/openapi", Some(ROOT), Some(swagger)),
        400,
        Some("document"),
    );
    assert_eq!(refusal["code"], "InvalidRequest.Body", "{refusal}");
    assert!(refusal["message"].as_str().unwrap_or("").contains("/swagger"), "{refusal}");
    let not_yaml = json!({"document": "openapi: [unclosed"});
    refused(
        &call(&server, "POST", "/workgroups/shop/imports/openapi", Some(ROOT), Some(not_yaml)),
        400,
        Some("document"),
    );
}

/// Serves `text` at `/spec.yaml`, a redirect at `/moved` and 404 elsewhere, one request per
/// connection; remembers the request lines.
fn document_server(text: String) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = support::free_listener();
    let addr = listener.local_addr().expect("document server address");
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut out = stream.try_clone().expect("clone");
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim_end().is_empty() {
                    break;
                }
            }
            log.lock().expect("log").push(line.trim_end().to_owned());
            let target = line.split_whitespace().nth(1).unwrap_or("");
            let (status, extra, body) = match target {
                "/spec.yaml" => ("200 OK", "Content-Type: application/yaml\r\n", text.clone()),
                "/moved" => ("302 Found", "Location: /spec.yaml\r\n", String::new()),
                _ => ("404 Not Found", "", "no such document".to_owned()),
            };
            let head =
                format!("HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = out.write_all(head.as_bytes()).and_then(|_| out.write_all(body.as_bytes()));
        }
    });
    (addr, seen)
}

#[test]
fn the_management_api_fetches_a_document_by_url_through_the_network_policy() {
    let (upstream_addr, _) = upstream();
    let text = std::fs::read_to_string(document("petstore-expanded.yaml")).expect("document");
    let (docs, requested) = document_server(text);
    let server = managed_server("import-url", &[]);
    ok(&call(&server, "POST", "/workgroups", Some(ROOT), Some(json!({"name": "shop"}))));
    let route = "/workgroups/shop/imports/openapi";
    let by_url = |url: String| json!({"url": url, "baseUrl": format!("http://{upstream_addr}/api"), "dryRun": true});

    let preview = ok(&call(&server, "POST", route, Some(ROOT), Some(by_url(format!("http://{docs}/spec.yaml")))));
    assert_eq!(preview["apis"].as_array().map(Vec::len), Some(4), "{preview}");
    assert_eq!(requested.lock().expect("log").as_slice(), ["GET /spec.yaml HTTP/1.1"]);

    // What the fetch met is the caller's to fix: 400 on `url`, saying what happened.
    for (path, says) in [("/missing", "HTTP 404"), ("/moved", "HTTP 302")] {
        let refusal = refused(
            &call(&server, "POST", route, Some(ROOT), Some(by_url(format!("http://{docs}{path}")))),
            400,
            Some("url"),
        );
        assert!(refusal["message"].as_str().unwrap_or("").contains(says), "{refusal}");
    }
    // The redirect was not followed.
    assert_eq!(requested.lock().expect("log").len(), 3);
    // Only hosts the network policy allows are dialled: the metadata address is refused first.
    let refusal = refused(
        &call(&server, "POST", route, Some(ROOT), Some(by_url("http://169.254.169.254/latest".into()))),
        400,
        Some("url"),
    );
    assert!(refusal["message"].as_str().unwrap_or("").contains("network policy refuses 169.254.169.254"), "{refusal}");
    for bad in ["file:///etc/passwd", "http://user:pw@127.0.0.1/", "gopher://127.0.0.1/"] {
        refused(&call(&server, "POST", route, Some(ROOT), Some(by_url(bad.into()))), 400, Some("url"));
    }
    let both = json!({"url": format!("http://{docs}/spec.yaml"), "document": {"openapi": "3.1.0"}});
    refused(&call(&server, "POST", route, Some(ROOT), Some(both)), 400, Some("url"));
    refused(&call(&server, "POST", route, Some(ROOT), Some(json!({"dryRun": true}))), 400, Some("document"));
    assert_eq!(requested.lock().expect("log").len(), 3, "refused URLs were never fetched");
}

/// Two operations whose declared answers `{"ok": true}` (what `upstream()` answers) matches
/// and does not match; the second sends a key constant.
fn answers_document() -> serde_json::Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "answers", "version": "1"},
        "paths": {
            "/fine": {"get": {"operationId": "fine", "responses": {"200": {"description": "ok", "content": {
                "application/json": {"schema": {"type": "object", "required": ["ok"],
                                                 "properties": {"ok": {"type": "boolean"}}}}}}}}},
            "/drifted": {"get": {
                "operationId": "drifted",
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                "security": [{"key": []}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["id", "ok"],
                    "properties": {"id": {"type": "integer"}, "ok": {"type": "string"}}}}}}}}}
        },
        "components": {"securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}}
    })
}

#[test]
fn the_test_console_runs_an_imported_api_and_checks_its_answer_against_the_schema() {
    let (addr, seen) = upstream();
    // The server's environment is the operator's: an import over the management API never reads
    // it, whatever a scheme is named; the credential comes with the request.
    let server = managed_server("import-console", &[("SLUICE_IMPORT_SECRET_KEY", "from-the-server-environment")]);
    ok(&call(&server, "POST", "/workgroups", Some(ROOT), Some(json!({"name": "shop"}))));
    let body = json!({"document": answers_document(), "baseUrl": format!("http://{addr}")});
    let refusal = refused(
        &call(&server, "POST", "/workgroups/shop/imports/openapi", Some(ROOT), Some(body)),
        400,
        Some("secrets"),
    );
    assert!(
        refusal["message"].as_str().unwrap_or("").contains("security scheme `key` needs its credential"),
        "{refusal}"
    );
    let body =
        json!({"document": answers_document(), "baseUrl": format!("http://{addr}"), "secrets": {"key": "k-123"}});
    ok(&call(&server, "POST", "/workgroups/shop/imports/openapi", Some(ROOT), Some(body)));
    let listed = ok(&call(&server, "GET", "/workgroups/shop/apis", Some(ROOT), None));
    let id_of = |name: &str| {
        (listed["items"].as_array().expect("items").iter())
            .find(|a| a["name"] == name)
            .map(|a| a["id"].clone())
            .unwrap_or_else(|| panic!("no API {name}: {listed}"))
    };
    let test = |name: &str, body: serde_json::Value| {
        call(&server, "POST", &format!("/workgroups/shop/apis/{}/test", id_of(name)), Some(ROOT), Some(body))
    };

    let fine = ok(&test("fine", json!({})));
    assert_eq!(fine["result"], json!({"ok": true}), "{fine}");
    assert_eq!(fine["responseCheck"], json!({"matches": true, "mismatches": []}), "{fine}");
    assert_eq!(seen.lock().expect("log").len(), 1);

    // The dry run shows where the request would go, never the key's value, and sends nothing.
    let dry = ok(&test("drifted", json!({"dryRun": true, "params": {"q": "x"}})));
    assert_eq!((dry["request"]["path"].as_str(), dry["request"]["query"].clone()), (Some("/drifted"), json!(["q"])));
    assert!(dry["request"]["headers"].as_array().expect("headers").iter().any(|h| h == "x-key"), "{dry}");
    assert!(!dry.to_string().contains("k-123"), "{dry}");
    assert_eq!(seen.lock().expect("log").len(), 1);

    let drifted = ok(&test("drifted", json!({"params": {"q": "x"}})));
    assert_eq!(drifted["responseCheck"]["matches"], false, "{drifted}");
    let mismatches = drifted["responseCheck"]["mismatches"].as_array().expect("mismatches");
    let at = |pointer: &str| mismatches.iter().find(|m| m["pointer"] == pointer).map(|m| m["message"].to_string());
    assert!(at("").is_some_and(|m| m.contains("id")), "the missing `id` is reported: {drifted}");
    assert!(at("/ok").is_some_and(|m| m.contains("string")), "the boolean `ok` is reported: {drifted}");
    let sent = seen.lock().expect("log");
    assert_eq!(sent.len(), 2);
    assert!(sent[1].2.iter().any(|(k, v)| k == "x-key" && v == "k-123"), "the given key went upstream");
    assert!(!format!("{:?}", *sent).contains("from-the-server-environment"));
    drop(sent);

    // A parameter the schema refuses is refused by the console as by the edge, before sending.
    let refusal = refused(&test("drifted", json!({"params": {"q": ["not", "a", "string"]}})), 400, Some("params.q"));
    assert_eq!(refusal["code"], "InvalidParameter.q", "{refusal}");
    assert_eq!(seen.lock().expect("log").len(), 2);
}

/// `value` with local `$ref`s replaced by what they point at, as the import stores schemas; a
/// reference met again inside itself (a cycle) is left as it is.
fn inlined(doc: &serde_json::Value, value: &serde_json::Value, within: &mut Vec<String>) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref")
                && !within.contains(reference)
                && let Some(target) = reference.strip_prefix('#').and_then(|p| doc.pointer(p))
            {
                within.push(reference.clone());
                let out = inlined(doc, target, within);
                within.pop();
                return out;
            }
            Value::Object(map.iter().map(|(k, v)| (k.clone(), inlined(doc, v, within))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| inlined(doc, v, within)).collect()),
        other => other.clone(),
    }
}

/// A schema without what only documents it (descriptions, examples, titles, XML names,
/// extensions): what remains says what is valid. Property names are kept whatever they are.
fn essence(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    const NOTES: [&str; 6] = ["description", "example", "examples", "title", "xml", "externalDocs"];
    match value {
        // `allOf` of one schema is that schema (how a `$ref` with siblings is imported).
        Value::Object(map)
            if map.len() == 1 && map.get("allOf").and_then(Value::as_array).is_some_and(|a| a.len() == 1) =>
        {
            essence(&map["allOf"][0])
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !NOTES.contains(&k.as_str()) && !k.starts_with("x-"))
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("properties", Value::Object(props)) => {
                            Value::Object(props.iter().map(|(name, s)| (name.clone(), essence(s))).collect())
                        }
                        _ => essence(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(essence).collect()),
        other => other.clone(),
    }
}

/// The JSON schema of a request body's or a 2xx answer's `application/json` content.
fn json_content(holder: Option<&serde_json::Value>) -> Option<serde_json::Value> {
    holder?.get("content")?.get("application/json")?.get("schema").cloned()
}

/// Imports `file` with the command line, exports each API's OpenAPI document over the
/// management API and compares every operation with the document's own: path, method, each
/// parameter's place, requirement and schema, the JSON body's schema and the 2xx answer's.
/// What the import listed as left out is not compared. Answers how many operations were.
fn round_trip(file: &str, secrets: &[(&str, &str)]) -> usize {
    let (addr, _) = upstream();
    let server = managed_server(&format!("import-round-trip-{}", file.replace('.', "-")), &[]);
    let base = format!("http://{addr}/api");
    let (imported, out) =
        import(&server, &["-f", &document(file), "--workgroup", "shop", "--base-url", &base], secrets);
    assert!(imported, "{out}");
    // `FILE#POINTER: left out: why`
    let left_out: Vec<&str> = (out.lines())
        .filter_map(|line| line.split_once('#'))
        .filter_map(|(_, rest)| rest.split_once(": left out:").map(|(pointer, _)| pointer))
        .collect();
    let is_left_out = |pointer: &str| left_out.iter().any(|p| p.starts_with(pointer));
    let text = std::fs::read_to_string(document(file)).expect("document");
    let source = declarative::openapi::parse_document(&text).expect("parse");
    let listed = ok(&call(&server, "GET", "/workgroups/shop/apis?pageSize=100", Some(ROOT), None));
    let mut compared = 0;
    for api in listed["items"].as_array().expect("items") {
        let exported =
            call(&server, "GET", &format!("/workgroups/shop/apis/{}/openapi.json", api["id"]), Some(ROOT), None);
        assert_eq!(exported.status, 200, "{}", String::from_utf8_lossy(&exported.body));
        let exported = exported.json();
        for (path, item) in exported["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let at = format!("{file}: {method} {path}");
                let path_at = format!("/paths/{}", path.replace('~', "~0").replace('/', "~1"));
                let op_at = format!("{path_at}/{method}");
                let item_in_source = source["paths"].get(path).unwrap_or_else(|| panic!("{at}: not in the document"));
                let original = inlined(&source, &item_in_source[method.as_str()], &mut Vec::new());
                assert!(original.is_object(), "{at}: not in the document");
                // Parameters: the operation's over the path's, by name and place.
                let mut expected = std::collections::BTreeMap::new();
                let listed = |list: &serde_json::Value, at: &str| {
                    let items = list.as_array().cloned().unwrap_or_default();
                    items.into_iter().enumerate().map(|(i, p)| (format!("{at}/parameters/{i}"), p)).collect::<Vec<_>>()
                };
                let all = [listed(&item_in_source["parameters"], &path_at), listed(&original["parameters"], &op_at)];
                for (pointer, p) in all.into_iter().flatten() {
                    if is_left_out(&pointer) {
                        continue;
                    }
                    let p = inlined(&source, &p, &mut Vec::new());
                    let key = (
                        p["name"].as_str().unwrap_or_default().to_owned(),
                        p["in"].as_str().unwrap_or_default().to_owned(),
                    );
                    let required = p["required"].as_bool().unwrap_or(false);
                    expected.insert(key, (required, essence(&p["schema"])));
                }
                let mut got = std::collections::BTreeMap::new();
                for p in op["parameters"].as_array().into_iter().flatten().filter(|p| p.get("$ref").is_none()) {
                    let key = (
                        p["name"].as_str().unwrap_or_default().to_owned(),
                        p["in"].as_str().unwrap_or_default().to_owned(),
                    );
                    let required = p["required"].as_bool().unwrap_or(false);
                    let mut schema = essence(&p["schema"]);
                    // Sluice states the default it applies; the comparison is of what is valid.
                    if original_default_absent(&expected, &key) {
                        schema.as_object_mut().map(|o| o.remove("default"));
                    }
                    got.insert(key, (required, schema));
                }
                assert_eq!(got, expected, "{at}: parameters");
                let body = |holder: Option<&serde_json::Value>| json_content(holder).map(|s| essence(&s));
                if !is_left_out(&format!("{op_at}/requestBody")) {
                    assert_eq!(body(op.get("requestBody")), body(original.get("requestBody")), "{at}: request body");
                }
                // No declared answer and `{}` (anything) say the same.
                let answer = |responses: &serde_json::Value| {
                    (responses.as_object().into_iter().flatten())
                        .find(|(status, _)| status.starts_with('2'))
                        .and_then(|(_, r)| json_content(Some(r)))
                        .map(|s| essence(&s))
                        .filter(|s| s != &json!({}))
                };
                assert_eq!(answer(&op["responses"]), answer(&original["responses"]), "{at}: 2xx answer");
                compared += 1;
            }
        }
    }
    compared
}

/// Whether the document's own schema for parameter `key` declares no default.
fn original_default_absent(
    expected: &std::collections::BTreeMap<(String, String), (bool, serde_json::Value)>,
    key: &(String, String),
) -> bool {
    expected.get(key).is_none_or(|(_, schema)| schema.get("default").is_none())
}

#[test]
fn exported_documents_describe_the_imported_operations_as_the_originals_do() {
    assert_eq!(round_trip("petstore.yaml", &[]), 3);
    assert_eq!(round_trip("petstore-expanded.yaml", &[]), 4);
    assert_eq!(round_trip("uspto.yaml", &[]), 3);
    // The Swagger Petstore's OpenAPI 3 edition: 19 operations, bodies in three media types.
    assert_eq!(round_trip("petstore3.yaml", &[("SLUICE_IMPORT_SECRET_API_KEY", "k")]), 19);
}

#[test]
fn a_reimport_keeps_apis_changed_by_hand_unless_told_to_overwrite_them() {
    let (addr, _) = upstream();
    let server = managed_server("import-kept", &[]);
    ok(&call(&server, "POST", "/workgroups", Some(ROOT), Some(json!({"name": "shop"}))));
    let text = std::fs::read_to_string(document("petstore-expanded.yaml")).expect("document");
    let route = "/workgroups/shop/imports/openapi";
    let body = |base: &str, overwrite: bool| json!({"document": text, "baseUrl": base, "overwrite": overwrite});
    ok(&call(&server, "POST", route, Some(ROOT), Some(body(&format!("http://{addr}/v1"), false))));

    // Someone edits one imported API in the console: a parameter's description.
    let listed = ok(&call(&server, "GET", "/workgroups/shop/apis", Some(ROOT), None));
    let api = (listed["items"].as_array().expect("items").iter()).find(|a| a["name"] == "findPets").expect("findPets");
    let at = format!("/workgroups/shop/apis/{}", api["id"]);
    let mut draft = ok(&call(&server, "GET", &at, Some(ROOT), None))["draft"].clone();
    draft["params"][0]["description"] = json!("edited by hand");
    ok(&call(&server, "PUT", &at, Some(ROOT), Some(json!({"draft": draft}))));

    // The document moves to another base URL: every operation changes, the edited one is kept.
    let moved = format!("http://{addr}/v2");
    let report = ok(&call(&server, "POST", route, Some(ROOT), Some(body(&moved, false))));
    assert_eq!(report["kept"], json!([{"name": "findPets", "reason": "its draft was changed after V0 was imported"}]));
    let changed: Vec<&str> = (report["apis"].as_array().expect("apis").iter())
        .filter(|a| a["change"] == "updated")
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(changed.len(), 3, "{report}");
    assert!(
        !changed.contains(&"findPets")
            && report["changes"].as_array().expect("changes").iter().all(|c| c["name"] != "findPets")
    );
    let kept = ok(&call(&server, "GET", &at, Some(ROOT), None));
    assert_eq!(kept["draft"]["params"][0]["description"], "edited by hand", "{kept}");
    assert_eq!(kept["draft"]["baseUrl"], format!("http://{addr}/v1"), "{kept}");

    // Asked to, the import replaces it.
    let report = ok(&call(&server, "POST", route, Some(ROOT), Some(body(&moved, true))));
    assert_eq!(report["kept"], json!([]), "{report}");
    let replaced = ok(&call(&server, "GET", &at, Some(ROOT), None));
    assert_eq!(replaced["draft"]["baseUrl"], moved, "{replaced}");
    assert_ne!(replaced["draft"]["params"][0]["description"], "edited by hand");
}

/// One version of a small inventory API: v2 narrows `id`, drops `q`, adds a required `region`
/// and an optional `page`, and no longer describes `deleteItem`.
fn inventory(version: u8, upstream: SocketAddr) -> String {
    let id_type = if version == 1 { "string" } else { "integer" };
    let get_params = if version == 1 {
        json!([{"name": "id", "in": "path", "required": true, "schema": {"type": id_type}},
               {"name": "q", "in": "query", "schema": {"type": "string"}}])
    } else {
        json!([{"name": "id", "in": "path", "required": true, "schema": {"type": id_type}},
               {"name": "region", "in": "query", "required": true, "schema": {"type": "string"}}])
    };
    let list_params =
        if version == 1 { json!([]) } else { json!([{"name": "page", "in": "query", "schema": {"type": "integer"}}]) };
    let mut item = json!({"get": {"operationId": "getItem", "parameters": get_params, "responses": {}}});
    if version == 1 {
        item["delete"] = json!({"operationId": "deleteItem", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {}});
    }
    json!({
        "openapi": "3.1.0", "info": {"title": "inventory", "version": format!("{version}.0")},
        "servers": [{"url": format!("http://{upstream}/inv")}],
        "paths": {"/items/{id}": item, "/items": {"get": {"operationId": "listItems", "parameters": list_params, "responses": {}}}}
    })
    .to_string()
}

#[test]
fn a_newer_document_shows_what_breaks_callers_before_it_is_applied() {
    let (addr, _) = upstream();
    let server = Server::start("import-reimport", &ENV);
    let file = |version: u8| {
        let path = server.data_dir.join(format!("inventory-v{version}.json"));
        std::fs::write(&path, inventory(version, addr)).expect("write");
        path.display().to_string()
    };
    let (v1, v2) = (file(1), file(2));
    let (ok, out) = import(&server, &["-f", &v1, "--workgroup", "inv", "--public"], &[]);
    assert!(ok, "{out}");
    assert!(!out.contains("BREAKING"), "a first import breaks nobody: {out}");

    let (ok, out) = import(&server, &["-f", &v2, "--workgroup", "inv", "--public", "--dry-run"], &[]);
    assert!(ok, "{out}");
    for line in [
        "operation inv/getItem: changed",
        "BREAKING: parameter `q` is removed",
        "BREAKING: parameter `id` changes type from string to int",
        "BREAKING: parameter `region` is new and required",
        "operation inv/listItems: changed\n  parameter `page` is new and optional",
        "operation inv/deleteItem: removed\n  BREAKING: the document no longer describes it",
        "api inv/getItem: updated, saved V1",
    ] {
        assert!(out.contains(line), "missing `{line}` in:\n{out}");
    }

    let (ok, out) = import(&server, &["-f", &v2, "--workgroup", "inv", "--public"], &[]);
    assert!(ok, "{out}");
    assert!(out.contains("api inv/listItems: updated, saved V1"), "{out}");
    // Applied: the same document again changes nothing and breaks nothing.
    let (ok, out) = import(&server, &["-f", &v2, "--workgroup", "inv", "--public"], &[]);
    assert!(ok, "{out}");
    assert!(out.contains("no changes") && !out.contains("getItem: changed"), "{out}");
    // deleteItem stays as it was, reported as removed each time the document leaves it out.
    assert!(out.contains("operation inv/deleteItem: removed"), "{out}");
}

/// A document whose schemas say more than the parameter types: an enum, a minimum, a pattern,
/// a nested required property, a 3.0 `nullable`.
const VALIDATED: &str = r##"
openapi: 3.0.3
info: {title: things, version: "1.0"}
servers: [{url: "http://127.0.0.1:9/things"}]
paths:
  /things/{id}:
    get:
      operationId: getThing
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
        - {name: state, in: query, schema: {type: string, enum: [new, used], nullable: true}}
        - {name: code, in: query, schema: {type: string, pattern: "^[A-Z]{3}$", example: ABC}}
      responses:
        "200": {description: the thing, content: {application/json: {schema: {$ref: "#/components/schemas/Thing"}}}}
  /things:
    post:
      operationId: addThing
      requestBody:
        required: true
        content: {application/json: {schema: {$ref: "#/components/schemas/Thing"}}}
      responses:
        "201": {description: added}
components:
  schemas:
    Thing:
      type: object
      required: [name, owner]
      properties:
        name: {type: string, pattern: "^([a-z]+)+$"}
        owner: {$ref: "#/components/schemas/Owner"}
        tags: {type: array, items: {type: string}}
    Owner:
      type: object
      required: [email]
      properties: {email: {type: string}, phone: {type: string, nullable: true}}
"##;

/// What a hostile body (`corpus/validation_bodies.jsonl`) is made of and must be answered with.
#[derive(serde::Deserialize)]
struct HostileBody {
    what: String,
    prefix: String,
    open: String,
    times: usize,
    middle: String,
    close: String,
    suffix: String,
    status: u16,
    code: Option<String>,
    pointer: Option<String>,
}

#[test]
fn imported_schemas_refuse_bad_calls_before_the_upstream_and_can_be_switched_off() {
    let (addr, seen) = upstream();
    let server = Server::start("import-validate", &ENV);
    let doc = server.data_dir.join("things.yaml");
    std::fs::write(&doc, VALIDATED).expect("write");
    let written = server.data_dir.join("things-apis.yaml");
    let base = format!("http://{addr}/things");
    let (doc, file) = (doc.display().to_string(), written.display().to_string());
    let args = ["-f", &doc, "--workgroup", "things", "--base-url", &base, "--public", "--publish", "prod"];
    let mut first = args.to_vec();
    first.extend(["-o", &file]);
    let (ok, out) = import(&server, &first, &[]);
    assert!(ok, "{out}");
    served(&server, "GET", "/things/1");
    seen.lock().expect("log").clear();
    let upstream_calls = || seen.lock().expect("log").len();
    let json = [("Content-Type", "application/json")];

    assert_eq!(server.get("/things/7?state=used&code=ABC").status, 200);
    let good = server.call("POST", "/things", &json, br#"{"name": "rex", "owner": {"email": "a@b", "phone": null}}"#);
    assert_eq!(good.status, 200, "{}", String::from_utf8_lossy(&good.body));
    assert_eq!(upstream_calls(), 2);

    let refusals: [(&str, &str, &str); 4] = [
        ("/things/0", "InvalidParameter.id", "parameter `id`: the value is less than the minimum of 1"),
        ("/things/7?state=broken", "InvalidParameter.state", r#"the value is not one of "new", "used" or null"#),
        ("/things/7?code=abc", "InvalidParameter.code", r#"the value does not match "^[A-Z]{3}$""#),
        ("/things/7?id=2&code=ABCD", "InvalidParameter.code", "does not match"),
    ];
    for (path, code, message) in refusals {
        let answer = server.get(path);
        assert_eq!((answer.status, support::code(&answer).as_str()), (400, code), "{path}");
        let said = answer.json()["message"].as_str().unwrap_or_default().to_owned();
        assert!(said.contains(message), "{path}: {said}");
    }
    let long = format!("/things/7?code={}", "A".repeat(4000));
    let answer = server.get(&long);
    assert_eq!(support::code(&answer), "InvalidParameter.code");
    assert!(answer.body.len() < 400, "the value is not echoed: {}", String::from_utf8_lossy(&answer.body));

    let nested = server.call("POST", "/things", &json, br#"{"name": "rex", "owner": {"email": 5}}"#);
    assert_eq!((nested.status, support::code(&nested).as_str()), (400, "InvalidRequest.Body"));
    let said = nested.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(said.contains(r#"at `/owner/email`, the value is not of type "string""#), "{said}");
    let missing = server.call("POST", "/things", &json, br#"{"name": "rex", "owner": {"phone": "1"}}"#);
    assert_eq!(support::code(&missing), "InvalidRequest.Body");
    assert!(missing.json()["message"].as_str().unwrap_or_default().contains(r#""email" is a required property"#));

    let corpus = workspace_root().join("sluice/tests/corpus/validation_bodies.jsonl");
    for line in std::fs::read_to_string(corpus).expect("corpus").lines().filter(|l| !l.trim().is_empty()) {
        let case: HostileBody = serde_json::from_str(line).expect("corpus line");
        let body = format!(
            "{}{}{}{}{}",
            case.prefix,
            case.open.repeat(case.times),
            case.middle,
            case.close.repeat(case.times),
            case.suffix
        );
        let started = Instant::now();
        let answer = server.call("POST", "/things", &json, body.as_bytes());
        assert!(started.elapsed() < Duration::from_secs(5), "{}: took {:?}", case.what, started.elapsed());
        assert_eq!(answer.status, case.status, "{}: {}", case.what, String::from_utf8_lossy(&answer.body));
        assert!(answer.body.len() < 1000, "{}: the answer repeats the body", case.what);
        if let Some(code) = &case.code {
            assert_eq!(&support::code(&answer), code, "{}", case.what);
        }
        if let Some(pointer) = &case.pointer {
            let said = answer.json()["message"].as_str().unwrap_or_default().to_owned();
            assert!(said.contains(&format!("at `{pointer}`")), "{}: {said}", case.what);
        }
    }
    let passed = 1; // the corpus's one body that its schema accepts
    assert_eq!(upstream_calls(), 2 + passed, "refused calls never went upstream");

    // Switched off in the file the import wrote, the same call goes upstream.
    let yaml = std::fs::read_to_string(&written).expect("written file");
    assert_eq!(yaml.matches("enabled: true").count(), 2, "{yaml}");
    std::fs::write(&written, yaml.replace("enabled: true", "enabled: false")).expect("write");
    let (ok, out) = sluice(&server.data_dir, &["apply", "-f", &file], &ENV);
    assert!(ok, "{out}");
    support::until(&server, "/things/0", &[], |answer| answer.status == 200);
    assert!(upstream_calls() > 3);
    // A re-import brings the schemas again but leaves validation off.
    let (ok, out) = import(&server, &args, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("no changes"), "{out}");
    assert_eq!(server.get("/things/0").status, 200);

    // A registered API written by hand has no schemas: only its types are checked.
    let hand = server.data_dir.join("hand.yaml");
    std::fs::write(
        &hand,
        format!(
            "kind: Api\nworkgroup: things\nname: handThing\npath: /hand/{{id}}\nmode: registered\nauthMode: none\n\
             upstream: {{baseUrl: \"{base}\", path: \"/hand/{{id}}\"}}\n\
             params: [{{name: id, position: path, type: int, required: true}}]\n"
        ),
    )
    .expect("write");
    let (ok, out) = sluice(&server.data_dir, &["apply", "-f", hand.to_str().expect("path")], &ENV);
    assert!(ok, "{out}");
    served(&server, "GET", "/hand/0");
    let before = upstream_calls();
    assert_eq!(server.get("/hand/-5").status, 200);
    assert_eq!(support::code(&server.get("/hand/x")), "InvalidParameter.id");
    assert_eq!(upstream_calls(), before + 1);
}
