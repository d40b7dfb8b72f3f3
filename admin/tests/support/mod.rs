//! The management API in process: its axum router over a SQLite store in a temporary data
//! dir, called with `tower`'s `oneshot` — no socket, no `sluice` process, no pingora.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use admin::{AdminState, NoEdge, routes};
use axum::Router;
use axum::body::Body;
use catalog::secret::SecretBox;
use catalog::store::Store;
use config::Config;
use config::outbound::OutboundBase;
use tower::ServiceExt;

/// One management API, as `sluice serve` would run it, with `bootstrap` as the platform
/// admin's token.
pub struct Server {
    pub data_dir: PathBuf,
    router: Router,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    pub fn start(tag: &str, bootstrap: &str) -> Server {
        Server::start_with(tag, bootstrap, None)
    }

    /// As [`Server::start`], with the operator's token for `/metrics` (`[metrics] token`).
    pub fn start_with(tag: &str, bootstrap: &str, metrics_token: Option<&str>) -> Server {
        let data_dir =
            std::env::temp_dir().join(format!("sluice-admin-{tag}-{}-{:x}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let dir_text = data_dir.display().to_string();
        let config = Config::from_sources(None, "tests", |name| (name == "SLUICE_DATA_DIR").then(|| dir_text.clone()))
            .expect("configuration");
        // Where `sluice serve` keeps it: rows that open the store themselves read it there.
        let key = SecretBox::generate_key_text();
        std::fs::write(data_dir.join("secret.key"), format!("{key}\n")).expect("secret.key");
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let router = runtime.block_on(async {
            let store =
                Store::open(&config.store_url, SecretBox::from_key_text(&key).expect("key")).await.expect("store");
            store.ensure_bootstrap_admin(bootstrap).await.expect("bootstrap admin");
            let outbound = OutboundBase::from_config(&config).expect("policies");
            let mut state = AdminState::new(store, "http://127.0.0.1:8080".to_owned(), Arc::new(NoEdge), outbound);
            // Reports read a call store of their own, empty here.
            let calls_db = data_dir.join("calls.db");
            let calls = calls::store::CallStore::open(&calls_db, calls::store::Retention::default()).await;
            state.calls = Some(calls.expect("call store"));
            routes(state.with_metrics_token(metrics_token)).0
        });
        Server { data_dir, router, runtime }
    }
}

/// A management answer.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// `method /admin/v1{path}` with an optional bearer token and JSON body.
pub fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Response {
    let mut request = http::Request::builder().method(method).uri(format!("/admin/v1{path}"));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request.header("Content-Type", "application/json").body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    server.send(request)
}

impl Server {
    /// Sends a request as it is.
    pub fn send(&self, request: http::Request<Body>) -> Response {
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.expect("an answer");
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
            Response { status, body: body.to_vec() }
        })
    }
}

/// Asserts a management answer succeeded and returns its `data`.
pub fn ok(response: &Response) -> serde_json::Value {
    assert!(response.status < 300, "{} {}", response.status, String::from_utf8_lossy(&response.body));
    response.json()["data"].clone()
}

/// The management API's OpenAPI document, as `GET /admin/v1/openapi.json` serves it.
pub fn management_document(server: &Server) -> serde_json::Value {
    let response = call(server, "GET", "/openapi.json", None, None);
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    response.json()
}

/// One JSON value (a request body or an answer) to check against the schema a route
/// documents for it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BodyCase {
    /// `POST /workgroups/{workgroup}/apis`, as registered.
    pub route: String,
    /// A schema whose `$ref`s point into the document's components: `{"$ref": …}` or inline.
    pub schema: serde_json::Value,
    pub body: serde_json::Value,
    /// Whether the schema must accept it.
    pub valid: bool,
}

/// The schema `$ref` of the request body of `method path` (`path` as registered, below
/// `/admin/v1`), if it documents one.
pub fn body_schema(doc: &serde_json::Value, method: &str, path: &str) -> Option<serde_json::Value> {
    let op = &doc["paths"][format!("/admin/v1{path}")][method.to_ascii_lowercase()];
    let reference = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()?;
    reference.starts_with("#/components/schemas/").then(|| serde_json::json!({"$ref": reference}))
}

/// The schema of the successful JSON answer of `method path`, when it describes its `data`.
pub fn answer_schema(doc: &serde_json::Value, method: &str, path: &str) -> Option<serde_json::Value> {
    let op = &doc["paths"][format!("/admin/v1{path}")][method.to_ascii_lowercase()];
    let status = if method == "POST" { "2XX" } else { "200" };
    let schema = &op["responses"][status]["content"]["application/json"]["schema"];
    schema.get("allOf").is_some().then(|| schema.clone())
}

/// Checks with Python's `jsonschema` (PyPI; `./scripts/test` installs it) that every schema of
/// the document is a valid JSON Schema (2020-12, as OpenAPI 3.1 uses) and that each case's
/// body is accepted or refused as the case says. Panics listing every case that disagrees.
pub fn check_with_jsonschema(doc: &serde_json::Value, cases: &[BodyCase]) {
    const SCRIPT: &str = include_str!("check_bodies.py");
    let dir = std::env::temp_dir().join(format!("sluice-schemas-{}-{:x}", std::process::id(), rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (doc_file, cases_file) = (dir.join("doc.json"), dir.join("cases.json"));
    std::fs::write(&doc_file, doc.to_string()).expect("doc");
    std::fs::write(&cases_file, serde_json::to_string(cases).expect("cases")).expect("cases");
    let python = std::env::var("SLUICE_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = std::process::Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&doc_file)
        .arg(&cases_file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'jsonschema'"),
        "`jsonschema` is not installed: run ./scripts/test --setup or `python3 -m pip install jsonschema`"
    );
    assert!(
        output.status.success(),
        "jsonschema disagrees with the management document:\n{}\n{stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    eprintln!("{}", stderr.trim());
}
