//! OpenAPI over the management API, against the real binary with the demo: the document of
//! each demo API, of the `demo` workgroup, of the management API itself and the output of
//! `sluice export openapi` all pass `openapi-spec-validator` (PyPI); the management document
//! lists exactly the registered routes; the page is self-contained; and `schemathesis`
//! (PyPI) fuzzing every documented operation gets no server error. Workgroup and app
//! documents are built once per catalog revision and key, by one of concurrent callers, and
//! never mix: checked on an admin router run in the test process over the server's store,
//! whose documents cache the test can read.
//!
//! Both Python tools are installed when missing (pip, pip --user, then a virtual environment
//! under the target dir); a test fails, saying how to install them, when that is impossible.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use admin::access::Access;
use admin::{AdminState, routes};
use catalog::model::{Api, Environment};
use catalog::secret::SecretBox;
use catalog::store::Store;
use serde_json::Value;
use support::{Response, Server, request};

const TOKEN: &str = "slc_docs_bootstrap_token_0123456789";

fn start(tag: &str) -> Server {
    Server::start(tag, &[("SLUICE_ADMIN_TOKEN", TOKEN)])
}

fn get(server: &Server, path: &str, token: Option<&str>) -> Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    request(server.admin, "GET", &format!("/admin/v1{path}"), &headers, b"")
}

fn get_json(server: &Server, path: &str) -> Value {
    let response = get(server, path, Some(TOKEN));
    assert_eq!(response.status, 200, "GET {path}: {}", String::from_utf8_lossy(&response.body));
    assert!(response.header("content-type").is_some_and(|t| t.starts_with("application/json")), "{path}");
    response.json()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// The server's own store (its SQLite file and secret key), opened beside it.
async fn open_store(server: &Server) -> Store {
    let key = std::fs::read_to_string(server.data_dir.join("secret.key")).expect("secret.key");
    let secrets = SecretBox::from_key_text(key.trim()).expect("key");
    Store::open(&format!("sqlite://{}", server.data_dir.join("sluice.db").display()), secrets).await.expect("store")
}

/// The APIs the demo publishes to production.
fn demo_apis(server: &Server) -> Vec<Api> {
    runtime().block_on(async {
        let store = open_store(server).await;
        let demo = store.workgroup_by_name("demo").await.expect("demo workgroup");
        let published = store.published(Environment::Prod).await.expect("published");
        store.close().await;
        published.into_iter().filter(|p| p.api.workgroup_id == demo.id).map(|p| p.api).collect()
    })
}

/// An admin router over `server`'s store, run in this process so that a test can read its
/// documents cache (`state.docs`); it answers on `addr`.
struct Local {
    addr: SocketAddr,
    state: AdminState,
    _runtime: tokio::runtime::Runtime,
}

impl Local {
    fn start(server: &Server) -> Local {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let (state, listener) = runtime.block_on(async {
            let store = open_store(server).await;
            let snapshot = Arc::new(admin::NoEdge);
            let state =
                AdminState::new(store, format!("http://{}", server.edge), snapshot, support::default_outbound());
            (state, tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen"))
        });
        let addr = listener.local_addr().expect("address");
        let (router, _) = routes(state.clone());
        runtime.spawn(async move { axum::serve(listener, router).await });
        Local { addr, state, _runtime: runtime }
    }

    fn get(&self, path: &str, extra: &[(&str, &str)]) -> Response {
        let auth = format!("Bearer {TOKEN}");
        let mut headers = vec![("Authorization", auth.as_str())];
        headers.extend_from_slice(extra);
        request(self.addr, "GET", &format!("/admin/v1{path}"), &headers, b"")
    }

    /// GET `path` from `n` threads at once: the responses.
    fn get_at_once(&self, path: &str, n: usize) -> Vec<Response> {
        let barrier = std::sync::Barrier::new(n);
        std::thread::scope(|scope| {
            let calls: Vec<_> = (0..n)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        self.get(path, &[])
                    })
                })
                .collect();
            calls.into_iter().map(|c| c.join().expect("a call")).collect()
        })
    }

    fn builds(&self) -> u64 {
        self.state.docs.builds()
    }
}

fn document(response: &Response) -> Value {
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    assert!(response.header("content-type").is_some_and(|t| t.starts_with("application/json")));
    let doc = response.json();
    assert_eq!(doc["openapi"], "3.1.0", "{doc}");
    doc
}

fn paths(doc: &Value) -> Vec<String> {
    doc["paths"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

/// The number of operations of a document.
fn operations(doc: &Value) -> usize {
    doc["paths"].as_object().map_or(0, |p| p.values().filter_map(Value::as_object).map(|item| item.len()).sum())
}

#[test]
fn workgroup_documents_are_built_once_per_revision_by_one_of_concurrent_callers() {
    let server = start("docs-cache");
    let local = Local::start(&server);
    let path = "/workgroups/demo/openapi.json";

    // Six callers at once: one build, the same bytes for all.
    let answers = local.get_at_once(path, 6);
    assert_eq!(local.builds(), 1, "six concurrent callers, one build");
    let first = document(&answers[0]);
    let etag = answers[0].header("etag").expect("an ETag").to_owned();
    for answer in &answers {
        assert_eq!((answer.status, answer.header("etag")), (200, Some(etag.as_str())));
        assert_eq!(answer.body, answers[0].body);
    }
    assert_eq!(operations(&first), 5, "{:?}", paths(&first));

    // Later calls: the kept document; with its ETag, not even the bytes.
    let again = local.get(path, &[]);
    assert_eq!((again.header("etag"), &again.body), (Some(etag.as_str()), &answers[0].body));
    let unchanged = local.get(path, &[("If-None-Match", &etag)]);
    assert_eq!((unchanged.status, unchanged.body.len()), (304, 0));
    assert_eq!(unchanged.header("etag"), Some(etag.as_str()));
    assert_eq!(local.builds(), 1, "not built again");

    // A write (another process, the same store): a new revision, a fresh document.
    let api = demo_apis(&server).into_iter().next().expect("a demo API");
    runtime().block_on(async {
        let store = open_store(&server).await;
        store.unpublish(api.id, Environment::Prod).await.expect("take offline");
        store.close().await;
    });
    let fresh = local.get(path, &[("If-None-Match", &etag)]);
    let doc = document(&fresh);
    assert_eq!(local.builds(), 2);
    assert_ne!(fresh.header("etag"), Some(etag.as_str()));
    assert_eq!(operations(&doc), 4, "{} {}: {:?}", api.method, api.path, paths(&doc));
    let method = api.method.to_ascii_lowercase();
    assert!(doc["paths"].get(api.path.as_str()).is_none_or(|item| item.get(method.as_str()).is_none()));
    // The server's own (a separate cache, the same store) says the same.
    assert_eq!(get_json(&server, path), doc);

    // An app's document: kept alike, per app.
    let app = runtime().block_on(async {
        let store = open_store(&server).await;
        let demo = store.workgroup_by_name("demo").await.expect("demo");
        let app = store.apps(demo.id).await.expect("apps").into_iter().next().expect("the demo app");
        store.close().await;
        app
    });
    let app_path = format!("/workgroups/demo/apps/{}/openapi.json", app.id);
    let answers = local.get_at_once(&app_path, 4);
    assert!(answers.iter().all(|a| a.body == answers[0].body));
    let app_doc = document(&answers[0]);
    assert_eq!(app_doc["info"]["title"], app.name.as_str());
    assert_eq!(local.builds(), 3, "one build for four callers");
    document(&local.get(&app_path, &[]));
    assert_eq!(local.builds(), 3);
}

#[test]
fn documents_of_two_workgroups_never_mix() {
    let server = start("docs-mix");
    let local = Local::start(&server);
    // `other`: a copy of one demo API, under its own path, reading its own datasource.
    let source = demo_apis(&server).into_iter().next().expect("a demo API");
    runtime().block_on(async {
        let store = open_store(&server).await;
        let demo = store.workgroup_by_name("demo").await.expect("demo");
        let other = store.create_workgroup("other", "").await.expect("workgroup");
        let theirs = store.list_datasources(demo.id).await.expect("datasources").into_iter().next().expect("one");
        let ours = store
            .create_datasource(&catalog::model::Datasource { id: 0, workgroup_id: other.id, ..theirs })
            .await
            .expect("datasource");
        let mut draft = source.draft.clone();
        draft.datasource_id = Some(ours.id);
        let api = Api { id: 0, workgroup_id: other.id, path: "/other-only".into(), draft, ..source.clone() };
        let api = store.create_api(&api).await.expect("api");
        let version = store.save_version(api.id, "V0").await.expect("version");
        store.publish(api.id, Environment::Prod, version.number).await.expect("publish");
        store.close().await;
    });

    // In turns and at once, each workgroup gets its own document, never the other's.
    for _ in 0..2 {
        let demo = document(&local.get("/workgroups/demo/openapi.json", &[]));
        let other = document(&local.get("/workgroups/other/openapi.json", &[]));
        assert_eq!((demo["info"]["title"].as_str(), other["info"]["title"].as_str()), (Some("demo"), Some("other")));
        assert_eq!(paths(&other), ["/other-only"]);
        assert!(paths(&demo).contains(&source.path) && !paths(&demo).contains(&"/other-only".to_owned()));
    }
    assert_eq!(local.builds(), 2, "one per workgroup");
    std::thread::scope(|scope| {
        let demo = scope.spawn(|| local.get_at_once("/workgroups/demo/openapi.json", 3));
        let other = scope.spawn(|| local.get_at_once("/workgroups/other/openapi.json", 3));
        for answer in demo.join().expect("demo") {
            assert_eq!(document(&answer)["info"]["title"], "demo");
        }
        for answer in other.join().expect("other") {
            assert_eq!(paths(&document(&answer)), ["/other-only"]);
        }
    });
    // A viewer of one workgroup cannot reach the other's document.
    let created = request(
        server.admin,
        "POST",
        "/admin/v1/users",
        &[("Authorization", &format!("Bearer {TOKEN}")), ("Content-Type", "application/json")],
        br#"{"name":"outsider"}"#,
    );
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let issued = request(
        server.admin,
        "POST",
        "/admin/v1/users/outsider/tokens",
        &[("Authorization", &format!("Bearer {TOKEN}")), ("Content-Type", "application/json")],
        br#"{"name":"t"}"#,
    );
    let token = issued.json()["data"]["token"].as_str().expect("token").to_owned();
    let member = request(
        server.admin,
        "PUT",
        "/admin/v1/workgroups/other/members/outsider",
        &[("Authorization", &format!("Bearer {TOKEN}")), ("Content-Type", "application/json")],
        br#"{"role":"viewer"}"#,
    );
    assert!(member.status < 300, "{}", String::from_utf8_lossy(&member.body));
    let as_outsider = |path: &str| {
        let auth = format!("Bearer {token}");
        request(local.addr, "GET", &format!("/admin/v1{path}"), &[("Authorization", auth.as_str())], b"")
    };
    assert_eq!(paths(&document(&as_outsider("/workgroups/other/openapi.json"))), ["/other-only"]);
    assert_eq!(as_outsider("/workgroups/demo/openapi.json").status, 404, "not a member of demo");
}

/// The routes as the code registers them.
fn registered() -> Vec<admin::access::RouteSpec> {
    runtime().block_on(async {
        let secrets = SecretBox::from_key_text(&SecretBox::generate_key_text()).expect("key");
        let store = Store::open("sqlite::memory:", secrets).await.expect("store");
        routes(AdminState::new(
            store,
            "http://127.0.0.1:8080".to_owned(),
            Arc::new(admin::NoEdge),
            support::default_outbound(),
        ))
        .1
    })
}

#[test]
fn every_document_passes_openapi_spec_validator() {
    let python = python_with("openapi-spec-validator", "openapi_spec_validator");
    let server = start("docs-validate");
    let dir = server.data_dir.join("documents");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut files = Vec::new();

    let apis = demo_apis(&server);
    assert_eq!(apis.len(), 5, "the demo publishes 5 APIs: {:?}", apis.iter().map(|a| &a.name).collect::<Vec<_>>());
    for api in &apis {
        let doc = get_json(&server, &format!("/workgroups/demo/apis/{}/openapi.json", api.id));
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], api.name.as_str());
        assert_eq!(doc["servers"][0]["url"], format!("http://{}", server.edge), "the edge is the server");
        let file = dir.join(format!("api-{}.json", api.name));
        std::fs::write(&file, doc.to_string()).expect("write");
        files.push(file);
    }

    let workgroup = get_json(&server, "/workgroups/demo/openapi.json");
    assert!(workgroup["info"]["version"].as_str().is_some_and(|v| v.starts_with("5 APIs")), "{}", workgroup["info"]);
    let file = dir.join("workgroup-demo.json");
    std::fs::write(&file, workgroup.to_string()).expect("write");
    files.push(file);

    let management = get_json(&server, "/openapi.json");
    let file = dir.join("management.json");
    std::fs::write(&file, management.to_string()).expect("write");
    files.push(file);

    // The command reads the same store; given the same edge address it writes the same document.
    let exported = dir.join("exported.openapi.json");
    let edge = server.edge.to_string();
    let (ok, output) = support::sluice(
        &server.data_dir,
        &["export", "openapi", "--workgroup", "demo", "-o", &exported.to_string_lossy()],
        &[("SLUICE_EDGE_ADDR", &edge)],
    );
    assert!(ok, "sluice export failed: {output}");
    let text = std::fs::read_to_string(&exported).expect("exported file");
    assert_eq!(serde_json::from_str::<Value>(&text).expect("JSON"), workgroup, "export and GET differ");
    files.push(exported);

    // The default file name, and an unknown workgroup.
    let scratch = support::unique_dir("docs-export");
    let (ok, output) = export_in(&scratch, &server, &["export", "openapi", "--workgroup", "demo"]);
    assert!(ok && scratch.join("demo.openapi.json").is_file(), "{output}");
    let (ok, output) = export_in(&scratch, &server, &["export", "openapi", "--workgroup", "nobody"]);
    assert!(!ok && output.contains("nobody"), "{output}");

    let mut args = vec!["-m".to_owned(), "openapi_spec_validator".to_owned()];
    args.extend(files.iter().map(|f| f.to_string_lossy().into_owned()));
    let output = Command::new(&python).args(&args).output().expect("run the validator");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "openapi-spec-validator refused a document:\n{stdout}\n{}", stderr(&output));
    for file in &files {
        let line = format!("{}: OK", file.display());
        assert!(stdout.lines().any(|l| l.trim() == line), "no `{line}` in:\n{stdout}");
    }
}

/// `sluice export` run from `dir` against `server`'s store (data dir and key).
fn export_in(dir: &Path, server: &Server, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(dir)
        .env("SLUICE_DATA_DIR", &server.data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run sluice");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out)))
}

#[test]
fn api_documents_follow_publication_and_stay_in_their_workgroup() {
    let server = start("docs-api");
    let apis = demo_apis(&server);
    let first = apis.first().expect("a demo API");

    let missing = get(&server, "/workgroups/demo/apis/999999/openapi.json", Some(TOKEN));
    assert_eq!(missing.status, 404, "{}", String::from_utf8_lossy(&missing.body));
    assert_eq!(missing.json()["success"], false);
    let bad = get(&server, "/workgroups/demo/apis/abc/openapi.json", Some(TOKEN));
    assert_eq!((bad.status, bad.json()["field"].as_str()), (400, Some("id")));
    assert_eq!(get(&server, "/workgroups/demo/openapi.json", None).status, 401);

    // Another workgroup's id answers as if it did not exist, even for a platform admin.
    let created = request(
        server.admin,
        "POST",
        "/admin/v1/workgroups",
        &[("Authorization", &format!("Bearer {TOKEN}")), ("Content-Type", "application/json")],
        br#"{"name":"elsewhere"}"#,
    );
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let foreign = get(&server, &format!("/workgroups/elsewhere/apis/{}/openapi.json", first.id), Some(TOKEN));
    assert_eq!(foreign.status, 404, "{}", String::from_utf8_lossy(&foreign.body));
    let empty = get_json(&server, "/workgroups/elsewhere/openapi.json");
    assert!(empty["paths"].as_object().is_none_or(|p| p.is_empty()), "{empty}");

    // An unpublished API: 404 until a version is saved, then that version is described.
    let runtime = runtime();
    let draft_id = runtime.block_on(async {
        let store = open_store(&server).await;
        let demo = store.workgroup_by_name("demo").await.expect("demo");
        let source = store.api(first.id).await.expect("api");
        let api = Api { id: 0, name: "docs_draft".into(), path: "/docs-draft".into(), ..source };
        let id = store.create_api(&Api { workgroup_id: demo.id, ..api }).await.expect("create").id;
        store.close().await;
        id
    });
    let path = format!("/workgroups/demo/apis/{draft_id}/openapi.json");
    assert_eq!(get(&server, &path, Some(TOKEN)).status, 404);
    runtime.block_on(async {
        let store = open_store(&server).await;
        store.save_version(draft_id, "first").await.expect("save");
        store.save_version(draft_id, "second").await.expect("save");
        store.close().await;
    });
    let doc = get_json(&server, &path);
    assert_eq!(doc["info"]["version"], "V1", "the latest saved version: {}", doc["info"]);
    // Unpublished APIs stay out of the workgroup's document.
    let workgroup = get_json(&server, "/workgroups/demo/openapi.json");
    assert!(workgroup["paths"].get("/docs-draft").is_none());
    assert!(workgroup["paths"].get(first.path.as_str()).is_some(), "{}", first.path);
}

#[test]
fn management_document_lists_exactly_the_registered_routes() {
    let server = start("docs-management");
    let doc = get_json(&server, "/openapi.json");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
            let spec_path = path.strip_prefix("/admin/v1").expect("prefix");
            let spec = registered()
                .into_iter()
                .find(|s| s.method.as_str().eq_ignore_ascii_case(method) && s.path == spec_path)
                .unwrap_or_else(|| panic!("{method} {path} is documented but not registered"));
            // Bearer on every guarded route, none on public ones.
            let security = &op["security"];
            if spec.access == Access::Public {
                assert_eq!(security, &serde_json::json!([]), "{method} {path}");
            } else {
                assert_eq!(security, &serde_json::json!([{"bearer": []}]), "{method} {path}");
                for status in ["400", "401", "403", "404", "409"] {
                    let schema = &op["responses"][status]["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(schema, "#/components/schemas/Error", "{method} {path} {status}");
                }
            }
            // One path parameter per `{x}`.
            let params: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            let expected: Vec<&str> =
                spec_path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
            assert_eq!(params, expected, "{method} {path}");
            // Each body as the route declares it: a schema in components, required unless an
            // empty body is read as `{}`.
            match &spec.body {
                Some(body) => {
                    assert_eq!(op["requestBody"]["required"], body.required, "{method} {path}");
                    let schema = &op["requestBody"]["content"]["application/json"]["schema"]["$ref"];
                    let name = schema.as_str().and_then(|r| r.strip_prefix("#/components/schemas/"));
                    assert!(
                        name.is_some_and(|n| doc["components"]["schemas"].get(n).is_some()),
                        "{method} {path}: {schema}"
                    );
                }
                None => assert!(op.get("requestBody").is_none(), "{method} {path}"),
            }
        }
    }
    let specs: BTreeSet<(String, String)> =
        registered().iter().map(|s| (s.method.as_str().to_owned(), format!("/admin/v1{}", s.path))).collect();
    assert_eq!(documented, specs, "the document and the registry differ");
    let error = &doc["components"]["schemas"]["Error"]["properties"];
    for key in ["requestId", "success", "code", "message", "data", "field"] {
        assert!(error.get(key).is_some(), "Error lacks {key}");
    }
}

#[test]
fn the_old_page_of_the_management_document_moved_into_the_console() {
    let server = start("docs-page");
    let moved = get(&server, "/docs", None);
    assert_eq!((moved.status, moved.header("location")), (308, Some("/console/docs")));
    assert_eq!(get(&server, "/docs/app.js", None).status, 404);
}

/// The web console is served by the binary beside the management API: its page, under a
/// policy that allows this server's scripts only and a style nonce fresh with each load, deep
/// links answered with the page, its hashed files cached and sent gzipped, nothing without a
/// token beyond the page and its files, and the management API not shadowed by it.
#[test]
fn the_console_is_served_beside_the_management_api() {
    let server = start("console");
    let fetch = |path: &str, headers: &[(&str, &str)]| request(server.admin, "GET", path, headers, b"");
    let redirect = fetch("/console", &[]);
    assert_eq!((redirect.status, redirect.header("location")), (308, Some("/console/")));
    let page = fetch("/console/", &[]);
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body).into_owned();
    let policy = page.header("content-security-policy").expect("a policy").to_owned();
    assert!(policy.contains("script-src 'self';") && !policy.contains("unsafe-"), "{policy}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    if !console::is_built() {
        assert!(html.contains("./scripts/console"), "an unbuilt console says how to build it: {html}");
        return;
    }
    let nonce = policy.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).expect("a style nonce");
    assert!(html.contains(nonce), "the page carries its nonce");
    assert_ne!(fetch("/console/", &[]).header("content-security-policy"), Some(policy.as_str()), "one nonce per load");
    let deep = fetch("/console/w/demo/apis/1/versions", &[]);
    assert_eq!(deep.status, 200);
    assert!(String::from_utf8_lossy(&deep.body).contains("<div id=\"root\">"));
    // The page's own script: hashed, cached for a year, gzip when asked for.
    let script = html.split("src=\"").nth(1).and_then(|s| s.split('"').next()).expect("the page's script");
    assert!(script.starts_with("/console/assets/"), "{script}");
    let plain = fetch(script, &[]);
    assert_eq!(plain.status, 200);
    assert!(plain.header("cache-control").is_some_and(|c| c.contains("immutable")));
    let packed = fetch(script, &[("Accept-Encoding", "gzip")]);
    assert_eq!(packed.header("content-encoding"), Some("gzip"));
    assert!(packed.body.len() * 2 < plain.body.len(), "{} vs {} bytes", packed.body.len(), plain.body.len());
    assert_eq!(fetch("/console/assets/nothing.js", &[]).status, 404);
    // The console holds no data: the API behind it still asks for a token.
    assert_eq!(get(&server, "/workgroups", None).status, 401);
    assert_eq!(get(&server, "/health", None).status, 200);
}

/// Fuzzes every operation of the management document with schemathesis (property-based,
/// from the document) and fails on any 5xx. Three bounded runs: with generated workgroup
/// names (mostly stopped by the guard), with `{workgroup}` fixed to `demo` (so handlers run),
/// and the DELETE routes last (they may revoke the token the runs use).
#[test]
fn schemathesis_finds_no_server_error_in_the_management_api() {
    let python = python_with("schemathesis", "schemathesis");
    let server = start("docs-fuzz");
    let url = format!("http://{}/admin/v1/openapi.json", server.admin);
    let auth = format!("Authorization: Bearer {TOKEN}");
    let config = server.data_dir.join("schemathesis.toml");
    std::fs::write(&config, "[parameters]\n\"path.workgroup\" = \"demo\"\n").expect("config");
    let config = config.to_string_lossy().into_owned();
    let runs: [(&str, Vec<&str>, &str); 3] = [
        ("generated workgroups", vec![], "--exclude-method=DELETE"),
        ("workgroup demo", vec!["--config-file", &config], "--exclude-method=DELETE"),
        ("DELETE routes", vec!["--config-file", &config], "--include-method=DELETE"),
    ];
    for (what, before, filter) in runs {
        let mut args = vec!["-m", "schemathesis.cli"];
        args.extend(before);
        args.extend([
            "run",
            &url,
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "20",
            "--phases",
            "coverage,fuzzing",
            "--max-time",
            "25",
            "--request-timeout",
            "10",
            "--no-color",
            "-H",
            &auth,
            filter,
        ]);
        let (ok, output) = run_bounded(&python, &args, &server.data_dir, Duration::from_secs(120));
        let summary: String =
            output.lines().rev().take(25).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        eprintln!("schemathesis ({what}):\n{summary}");
        assert!(ok, "schemathesis ({what}) found a server error or failed:\n{output}");
        assert!(output.contains("passed"), "schemathesis ({what}) ran no test:\n{output}");
    }
    let log = server.output();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
}

/// Runs `python args…`, killing it after `limit`; (succeeded, stdout + stderr). Runs in `dir`, where hypothesis may keep its files.
fn run_bounded(python: &Path, args: &[&str], dir: &Path, limit: Duration) -> (bool, String) {
    let mut child = Command::new(python)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let deadline = Instant::now() + limit;
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = format!("{}{}", out.join().unwrap_or_default(), err.join().unwrap_or_default());
    match status {
        Some(status) => (status.success(), text),
        None => (false, format!("killed after {limit:?}:\n{text}")),
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn succeeds(program: &Path, args: &[&str]) -> bool {
    Command::new(program).args(args).output().is_ok_and(|o| o.status.success())
}

/// A Python that can import `module`, installing `package` when needed (pip, pip --user, a
/// virtual environment under the target dir); panics with what was tried otherwise.
fn python_with(package: &str, module: &str) -> PathBuf {
    let python = PathBuf::from(std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| "python3".to_owned()));
    let importable = |p: &Path| succeeds(p, &["-c", &format!("import {module}")]);
    if importable(&python) {
        return python;
    }
    let mut tried = Vec::new();
    for args in
        [vec!["-m", "pip", "install", "--quiet", package], vec!["-m", "pip", "install", "--quiet", "--user", package]]
    {
        let outcome = Command::new(&python).args(&args).output();
        if importable(&python) {
            return python;
        }
        tried.push(describe(&python, &args, outcome.ok()));
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{package}-venv"));
    let venv_python = venv.join("bin").join("python");
    if !importable(&venv_python) {
        let venv_text = venv.to_string_lossy().into_owned();
        let created = Command::new(&python).args(["-m", "venv", &venv_text]).output();
        if venv_python.exists() {
            let args = ["-m", "pip", "install", "--quiet", package];
            let outcome = Command::new(&venv_python).args(args).output();
            if !importable(&venv_python) {
                tried.push(describe(&venv_python, &args, outcome.ok()));
            }
        } else {
            tried.push(describe(&python, &["-m", "venv", &venv_text], created.ok()));
        }
    }
    if importable(&venv_python) {
        return venv_python;
    }
    panic!(
        "`{package}` is not installed and could not be installed:\n{}\nInstall it with `python3 -m pip install \
         {package}` (or point SLUICE_PYTHON at a Python that has it).",
        tried.join("\n")
    )
}

fn describe(program: &Path, args: &[&str], outcome: Option<Output>) -> String {
    let command = format!("{} {}", program.display(), args.join(" "));
    match outcome {
        None => format!("  {command}: could not be started"),
        Some(o) => {
            format!("  {command}: {}\n    {}", o.status, stderr(&o).lines().take(5).collect::<Vec<_>>().join("\n    "))
        }
    }
}
