//! APIs over the management API, through the real binary: create and edit, versions and
//! their diff, publishing to test and prod (seen by the edge), the test console, validation
//! errors naming the field, other workgroups' ids, list filters and pages, and the audit log.
//!
//! Datasources and folders are written straight into the server's store (the management
//! routes for them are another area's); everything about APIs goes through REST.

mod support;

use std::time::{Duration, Instant};

use catalog::model::{AuditEntry, ConnectionSettings, Datasource, DatasourceKind};
use catalog::secret::SecretBox;
use catalog::store::Store;
use serde_json::{Value, json};
use support::{Response, Server, call, ok, refused};

const ROOT: &str = "slc_admin_apis_bootstrap_token_0123456789";

struct Fixture {
    server: Server,
    key: String,
    /// A developer of `team` (not an admin).
    dev: String,
    /// A SQLite datasource of `team` over `items(id, name, price)`.
    ds: i64,
    /// A datasource of `other`.
    other_ds: i64,
    /// A folder of `team`.
    folder: i64,
    team_id: i64,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

impl Fixture {
    fn start(tag: &str) -> Fixture {
        let key = SecretBox::generate_key_text();
        let server = Server::start(
            tag,
            &[("SLUICE_ADMIN_TOKEN", ROOT), ("SLUICE_DEMO", "false"), ("SLUICE_SECRET_KEY", key.as_str())],
        );
        for name in ["team", "other"] {
            ok(&call(&server, "POST", "/workgroups", Some(ROOT), Some(json!({"name": name}))));
        }
        ok(&call(&server, "POST", "/users", Some(ROOT), Some(json!({"name": "dev"}))));
        ok(&call(&server, "PUT", "/workgroups/team/members/dev", Some(ROOT), Some(json!({"role": "developer"}))));
        let issued = ok(&call(&server, "POST", "/users/dev/tokens", Some(ROOT), Some(json!({"name": "t"}))));
        let dev = issued["token"].as_str().expect("token").to_owned();
        let file = support::dataset_file(&server, "team", "items.db");
        let other_file = support::dataset_file(&server, "other", "items.db");
        let (ds, other_ds, folder, team_id) = runtime().block_on(async {
            make_items_db(&file).await;
            make_items_db(&other_file).await;
            let store = open_store(&server, &key).await;
            let team = store.workgroup_by_name("team").await.expect("team");
            let other = store.workgroup_by_name("other").await.expect("other");
            let ds = store.create_datasource(&sqlite_ds(team.id, "items", &file)).await.expect("datasource");
            let other_ds =
                store.create_datasource(&sqlite_ds(other.id, "items", &other_file)).await.expect("datasource");
            let folder = store.create_folder(team.id, None, "sales").await.expect("folder");
            store.close().await;
            (ds.id, other_ds.id, folder.id, team.id)
        });
        Fixture { server, key, dev, ds, other_ds, folder, team_id }
    }

    fn dev(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        call(&self.server, method, path, Some(&self.dev), body)
    }

    fn root(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        call(&self.server, method, path, Some(ROOT), body)
    }

    fn audit(&self) -> Vec<AuditEntry> {
        runtime().block_on(async {
            let store = open_store(&self.server, &self.key).await;
            let log = store.audit_log(Some(self.team_id), 1000, None).await.expect("audit log");
            store.close().await;
            log
        })
    }

    /// Waits up to five seconds for the edge to answer `path` in `env` with `status`.
    fn edge_until(&self, path: &str, env: &str, status: u16) -> Response {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let response = self.server.call("GET", path, &[("X-Sluice-Env", env)], b"");
            if response.status == status || Instant::now() > deadline {
                return response;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn open_store(server: &Server, key: &str) -> Store {
    let url = format!("sqlite://{}", server.data_dir.join("sluice.db").display());
    Store::open(&url, SecretBox::from_key_text(key).expect("key")).await.expect("store")
}

async fn make_items_db(file: &std::path::Path) {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(file).create_if_missing(true);
    let mut db = sqlx::SqliteConnection::connect_with(&options).await.expect("items db");
    for statement in [
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)",
        "INSERT INTO items VALUES (1, 'apple', 1.5), (2, 'banana', 0.25), (3, 'cherry', 4.0)",
    ] {
        sqlx::query(statement).execute(&mut db).await.expect(statement);
    }
    db.close().await.expect("close");
}

fn sqlite_ds(workgroup_id: i64, name: &str, file: &std::path::Path) -> Datasource {
    Datasource {
        id: 0,
        workgroup_id,
        name: name.to_owned(),
        kind: DatasourceKind::Sqlite,
        description: String::new(),
        connection: ConnectionSettings { database: file.display().to_string(), ..ConnectionSettings::default() },
    }
}

/// A wizard draft over `items`, filtering `price >= minPrice`.
fn wizard(ds: i64) -> Value {
    json!({
        "datasourceId": ds, "mode": "wizard", "table": "items",
        "requestParams": [{"name": "minPrice", "type": "float", "column": "price", "operator": ">="}],
        "responseFields": [
            {"name": "id", "type": "int", "sort": {"direction": "asc", "priority": 0}},
            {"name": "name", "type": "string"},
            {"name": "price", "type": "float"}
        ]
    })
}

fn new_api(name: &str, path: &str, ds: i64) -> Value {
    // Public, so the edge answers these tests without an app (callers have their own tests).
    json!({"name": name, "path": path, "description": "items by price", "authMode": "none", "draft": wizard(ds)})
}

fn names(rows: &Value) -> Vec<String> {
    rows.as_array().into_iter().flatten().map(|r| r["name"].as_str().unwrap_or_default().to_owned()).collect()
}

#[test]
fn an_api_goes_from_draft_to_versions_to_test_and_prod_and_back() {
    let fx = Fixture::start("apis-lifecycle");
    let created = fx.dev("POST", "/workgroups/team/apis", Some(new_api("items_by_price", "/shop/items", fx.ds)));
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let api = created.json()["data"].clone();
    let id = api["id"].as_i64().expect("id");
    assert_eq!((api["method"].as_str(), api["draft"]["table"].as_str()), (Some("GET"), Some("items")));
    assert_eq!(api["publications"], json!([]));
    let base = format!("/workgroups/team/apis/{id}");

    // V0 from the first draft; then the draft changes and becomes V1.
    let v0 = ok(&fx.dev("POST", &format!("{base}/versions"), Some(json!({"description": "first"}))));
    assert_eq!((v0["number"].as_i64(), v0["label"].as_str()), (Some(0), Some("V0")));
    let mut draft = wizard(fx.ds);
    draft["requestParams"]
        .as_array_mut()
        .expect("params")
        .push(json!({"name": "name", "type": "string", "column": "name", "operator": "LIKE"}));
    draft["responseFields"].as_array_mut().expect("fields").pop();
    draft["options"] = json!({"maxLimit": 2});
    let updated = ok(&fx.dev("PUT", &base, Some(json!({"description": "cheap items", "draft": draft}))));
    assert_eq!(updated["description"], "cheap items");
    assert_eq!(updated["name"], "items_by_price", "what is left out is kept");
    let v1 = ok(&fx.dev("POST", &format!("{base}/versions"), None));
    assert_eq!(v1["number"], 1);
    assert_eq!(ok(&fx.dev("GET", &format!("{base}/versions/V1"), None))["definition"]["options"]["maxLimit"], 2);

    let diff = ok(&fx.dev("GET", &format!("{base}/versions/0/diff/1"), None));
    assert_eq!(
        (diff["from"].as_str(), diff["to"].as_str(), diff["identical"].as_bool()),
        (Some("V0"), Some("V1"), Some(false))
    );
    assert_eq!(diff["definition"][0]["key"], "options.maxLimit", "{diff}");
    assert_eq!((diff["definition"][0]["from"].as_i64(), diff["definition"][0]["to"].as_i64()), (Some(1000), Some(2)));
    assert_eq!(names(&diff["parameters"]["added"]), ["name"]);
    assert_eq!(names(&diff["fields"]["removed"]), ["price"]);
    assert_eq!(diff["parameters"]["removed"], json!([]));
    assert_eq!(ok(&fx.dev("GET", &format!("{base}/versions/V1/diff/draft"), None))["identical"], true);

    // V0 to test: the edge answers it there within a few seconds, and not in prod.
    let published = ok(&fx.dev("POST", &format!("{base}/publish"), Some(json!({"version": 0, "environment": "test"}))));
    assert_eq!((published["environment"].as_str(), published["version"].as_i64()), (Some("test"), Some(0)));
    let answered = fx.edge_until("/shop/items?minPrice=1", "test", 200);
    assert_eq!(answered.status, 200, "{}", String::from_utf8_lossy(&answered.body));
    assert_eq!(names(&answered.json()["data"]["rows"]), ["apple", "cherry"], "{}", answered.json());
    assert_eq!(fx.server.get("/shop/items").status, 404, "published to test only");

    // V1 to prod.
    ok(&fx.dev("POST", &format!("{base}/publish"), Some(json!({"version": "V1", "environment": "prod"}))));
    let prod = fx.edge_until("/shop/items?name=b%25", "prod", 200);
    assert_eq!(names(&prod.json()["data"]["rows"]), ["banana"], "{}", prod.json());
    let versions = ok(&fx.dev("GET", &format!("{base}/versions"), None));
    let states: Vec<(i64, Value)> = versions
        .as_array()
        .expect("list")
        .iter()
        .map(|v| (v["number"].as_i64().expect("n"), v["publishedIn"].clone()))
        .collect();
    assert_eq!(states, [(0, json!(["test"])), (1, json!(["prod"]))]);
    let shown = ok(&fx.dev("GET", &base, None));
    assert_eq!(shown["publications"].as_array().map(Vec::len), Some(2));

    // Nothing published goes away.
    refused(&fx.dev("DELETE", &format!("{base}/versions/0"), None), 409, None);
    let body = refused(&fx.dev("DELETE", &base, None), 409, None);
    assert!(body["message"].as_str().is_some_and(|m| m.contains("prod") && m.contains("test")), "{body}");
    refused(&fx.dev("POST", &format!("{base}/publish"), Some(json!({"version": 7, "environment": "test"}))), 404, None);
    refused(
        &fx.dev("POST", &format!("{base}/publish"), Some(json!({"version": 0, "environment": "staging"}))),
        400,
        Some("environment"),
    );

    // Offline from both; then V0 and the API can be deleted.
    ok(&fx.dev("POST", &format!("{base}/offline"), Some(json!({"environment": "test"}))));
    ok(&fx.dev("POST", &format!("{base}/offline"), Some(json!({"environment": "prod"}))));
    assert_eq!(fx.edge_until("/shop/items", "test", 404).status, 404);
    assert_eq!(fx.edge_until("/shop/items", "prod", 404).status, 404);
    refused(&fx.dev("POST", &format!("{base}/offline"), Some(json!({"environment": "prod"}))), 404, None);
    ok(&fx.dev("DELETE", &format!("{base}/versions/V0"), None));
    refused(&fx.dev("GET", &format!("{base}/versions/0"), None), 404, None);
    ok(&fx.dev("DELETE", &base, None));
    refused(&fx.dev("GET", &base, None), 404, None);

    // Every write is in the audit log under the developer's name, without secrets.
    let log = fx.audit();
    let mut actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    actions.reverse();
    assert_eq!(
        actions,
        [
            "api.create",
            "version.save",
            "api.update",
            "version.save",
            "version.publish",
            "version.publish",
            "version.offline",
            "version.offline",
            "version.delete",
            "api.delete"
        ]
    );
    assert!(log.iter().all(|e| e.actor == "dev" && e.target == format!("api:{id}")), "{log:?}");
    assert_eq!(
        log.iter().find(|e| e.action == "api.update").map(|e| e.detail["changed"].clone()),
        Some(json!(["description", "draft"]))
    );
}

#[test]
fn the_test_console_runs_drafts_and_versions_and_dry_runs_touch_nothing() {
    let fx = Fixture::start("apis-console");
    let id = ok(&fx.dev("POST", "/workgroups/team/apis", Some(new_api("console", "/console", fx.ds))))["id"].clone();
    let base = format!("/workgroups/team/apis/{id}");

    let run =
        ok(&fx.dev("POST", &format!("{base}/test"), Some(json!({"version": "draft", "params": {"minPrice": 1}}))));
    assert_eq!(names(&run["result"]["rows"]), ["apple", "cherry"], "{run}");
    assert_eq!((run["rowCount"].as_u64(), run["dryRun"].as_bool()), (Some(2), Some(false)));
    assert!(run["sql"].as_str().is_some_and(|s| s.contains("\"price\" >= ?")), "{run}");
    assert_eq!(run["binds"][0], json!(1.0), "the value, then the row cap: {run}");
    assert!(run["sizeBytes"].as_u64().is_some_and(|n| n > 10), "{run}");
    for stage in ["parseMs", "planMs", "executeMs", "encodeMs"] {
        assert!(run["timings"][stage].as_f64().is_some_and(|ms| ms >= 0.0), "{stage}: {run}");
    }
    // Strings are read like query text, as the seed's console sends them.
    let text = ok(&fx.dev("POST", &format!("{base}/test"), Some(json!({"params": {"minPrice": "4"}}))));
    assert_eq!(names(&text["result"]["rows"]), ["cherry"]);

    // A saved version runs as saved, whatever the draft has become since.
    ok(&fx.dev("POST", &format!("{base}/versions"), None));
    let mut broken = wizard(fx.ds);
    broken["table"] = json!("no_such_table");
    ok(&fx.dev("PUT", &base, Some(json!({"draft": broken}))));
    let v0 = ok(&fx.dev("POST", &format!("{base}/test"), Some(json!({"version": 0, "params": {"minPrice": 0.3}}))));
    assert_eq!(names(&v0["result"]["rows"]), ["apple", "cherry"]);

    // The draft now reads a missing table: a dry run answers its SQL without running it,
    // a real run reaches the database, which refuses it: the draft's to fix, so a 400 on
    // `draft` with the fixed reason (the edge would answer 500 and say nothing).
    let dry = ok(&fx.dev("POST", &format!("{base}/test"), Some(json!({"params": {"minPrice": 2}, "dryRun": true}))));
    assert_eq!(dry["dryRun"], true);
    assert!(dry["sql"].as_str().is_some_and(|s| s.contains("\"no_such_table\"")), "{dry}");
    assert_eq!(dry["binds"][0], json!(2.0));
    assert!(dry.get("result").is_none() && dry.get("rowCount").is_none(), "{dry}");
    let failed =
        refused(&fx.dev("POST", &format!("{base}/test"), Some(json!({"params": {"minPrice": 2}}))), 400, Some("draft"));
    assert_eq!(failed["code"], "InvalidDefinition");
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(message.contains("a table or alias is not defined"), "{failed}");
    assert!(!message.contains("no_such_table") && !message.to_lowercase().contains("sqlite"), "{failed}");

    // Parameter errors are the API's, naming the parameter.
    let bad = refused(
        &fx.dev("POST", &format!("{base}/test"), Some(json!({"version": 0, "params": {"minPrice": "cheap"}}))),
        400,
        Some("params.minPrice"),
    );
    assert_eq!(bad["code"], "InvalidParameter.minPrice");
    refused(&fx.dev("POST", &format!("{base}/test"), Some(json!({"version": 9}))), 404, None);
    refused(&fx.dev("POST", &format!("{base}/test"), Some(json!({"version": [1]}))), 400, Some("version"));

    // A draft that does not compile is refused before anything runs, naming the field.
    let mut unfinished = wizard(fx.ds);
    unfinished["requestParams"][0].as_object_mut().expect("param").remove("column");
    ok(&fx.dev("PUT", &base, Some(json!({"draft": unfinished}))));
    let err = refused(
        &fx.dev("POST", &format!("{base}/test"), Some(json!({"dryRun": true}))),
        400,
        Some("draft.requestParams.minPrice"),
    );
    assert_eq!(err["code"], "InvalidDefinition");

    // A registered API's dry run answers the request it would send, and sends nothing (the
    // run itself is tested against an upstream in tests/import.rs).
    let registered = json!({
        "name": "upstream", "path": "/upstream",
        "draft": {"mode": "registered", "baseUrl": "https://api.example.com/v1", "path": "/x"}
    });
    let reg = ok(&fx.dev("POST", "/workgroups/team/apis", Some(registered)))["id"].clone();
    let dry = ok(&fx.dev("POST", &format!("/workgroups/team/apis/{reg}/test"), Some(json!({"dryRun": true}))));
    assert_eq!(dry["dryRun"], true, "{dry}");
    assert_eq!((dry["request"]["method"].as_str(), dry["request"]["path"].as_str()), (Some("GET"), Some("/v1/x")));
    // Test runs are no writes: nothing in the audit log beyond the creates, save and update.
    assert!(fx.audit().iter().all(|e| !e.action.contains("test")));
}

#[test]
fn validation_errors_name_the_field_at_fault() {
    let fx = Fixture::start("apis-validation");
    let create = |body: Value| fx.dev("POST", "/workgroups/team/apis", Some(body));
    let mut body = new_api(&"n".repeat(31), "/ok", fx.ds);
    refused(&create(body.clone()), 400, Some("name"));
    body["name"] = json!("has-dash");
    let dash = refused(&create(body.clone()), 400, Some("name"));
    assert_eq!(dash["code"], "InvalidParameter.name");
    body["name"] = json!("fine");
    body["path"] = json!("no_slash");
    refused(&create(body.clone()), 400, Some("path"));
    body["path"] = json!("/items/{id}");
    refused(&create(body.clone()), 400, Some("path"));
    body["path"] = json!("/ok");
    body["method"] = json!("PATCH");
    refused(&create(body.clone()), 400, Some("method"));
    body["method"] = json!("post");
    body["tags"] = json!(["a,b"]);
    refused(&create(body.clone()), 400, Some("tags"));
    body["tags"] = json!((0..11).map(|i| format!("t{i}")).collect::<Vec<_>>());
    refused(&create(body.clone()), 400, Some("tags"));
    body.as_object_mut().expect("object").remove("tags");
    body["maxQps"] = json!(0);
    refused(&create(body.clone()), 400, Some("maxQps"));
    body.as_object_mut().expect("object").remove("maxQps");
    body["securityLevel"] = json!("L5");
    assert_eq!(create(body.clone()).status, 400, "an unknown security level");
    body.as_object_mut().expect("object").remove("securityLevel");
    body["draft"]["datasourceId"] = json!(fx.other_ds);
    refused(&create(body.clone()), 400, Some("draft.datasourceId"));
    body["draft"]["datasourceId"] = json!(fx.ds);
    body["draft"]["mode"] = json!("magic");
    refused(&create(body.clone()), 400, Some("draft.mode"));
    body["draft"]["mode"] = json!("wizard");
    body["folderId"] = json!(999_999);
    refused(&create(body.clone()), 400, Some("folderId"));
    body.as_object_mut().expect("object").remove("folderId");
    refused(&create(json!({"path": "/x", "draft": wizard(fx.ds)})), 400, Some("name"));

    let made = ok(&create(body.clone()));
    assert_eq!(made["method"], "POST");
    let base = format!("/workgroups/team/apis/{}", made["id"]);
    refused(&create(body.clone()), 409, None);
    refused(&fx.dev("PUT", &base, Some(json!({"path": "relative"}))), 400, Some("path"));
    refused(&fx.dev("PUT", &base, Some(json!({"name": "a b"}))), 400, Some("name"));

    // The draft may be unfinished; saving it as a version needs it to compile.
    let mut draft = wizard(fx.ds);
    draft["requestParams"][0].as_object_mut().expect("param").remove("column");
    ok(&fx.dev("PUT", &base, Some(json!({"draft": draft}))));
    let err = refused(&fx.dev("POST", &format!("{base}/versions"), None), 400, Some("draft.requestParams.minPrice"));
    assert_eq!(err["code"], "InvalidDefinition");
    let mut draft = wizard(fx.ds);
    draft["responseFields"] = json!([]);
    ok(&fx.dev("PUT", &base, Some(json!({"draft": draft}))));
    refused(&fx.dev("POST", &format!("{base}/versions"), None), 400, Some("draft.responseFields"));
    let script = json!({"datasourceId": fx.ds, "mode": "script", "sql": "SELECT 1; SELECT 2"});
    ok(&fx.dev("PUT", &base, Some(json!({"draft": script}))));
    refused(&fx.dev("POST", &format!("{base}/versions"), None), 400, Some("draft.sql"));
    assert_eq!(ok(&fx.dev("GET", &format!("{base}/versions"), None)), json!([]), "nothing was saved");

    // Viewers read but do not write.
    ok(&fx.root("POST", "/users", Some(json!({"name": "watcher"}))));
    ok(&fx.root("PUT", "/workgroups/team/members/watcher", Some(json!({"role": "viewer"}))));
    let token = ok(&fx.root("POST", "/users/watcher/tokens", Some(json!({"name": "t"}))))["token"]
        .as_str()
        .expect("t")
        .to_owned();
    assert_eq!(call(&fx.server, "GET", &base, Some(&token), None).status, 200);
    assert_eq!(call(&fx.server, "PUT", &base, Some(&token), Some(json!({"description": "x"}))).status, 403);
}

#[test]
fn ids_of_another_workgroups_api_answer_404_on_every_route() {
    let fx = Fixture::start("apis-cross");
    let theirs =
        ok(&fx.root("POST", "/workgroups/other/apis", Some(new_api("theirs", "/theirs", fx.other_ds))))["id"].clone();
    ok(&fx.root("POST", &format!("/workgroups/other/apis/{theirs}/versions"), None));
    ok(&fx.root(
        "POST",
        &format!("/workgroups/other/apis/{theirs}/publish"),
        Some(json!({"version": 0, "environment": "test"})),
    ));
    let ours = ok(&fx.dev("POST", "/workgroups/team/apis", Some(new_api("ours", "/ours", fx.ds))))["id"].clone();
    ok(&fx.dev("POST", &format!("/workgroups/team/apis/{ours}/versions"), None));

    let routes: [(&str, &str, Option<Value>); 13] = [
        ("GET", "", None),
        ("PUT", "", Some(json!({"description": "mine now"}))),
        ("DELETE", "", None),
        ("POST", "/copy", Some(json!({"name": "stolen", "path": "/stolen"}))),
        ("GET", "/versions", None),
        ("POST", "/versions", Some(json!({}))),
        ("GET", "/versions/0", None),
        ("DELETE", "/versions/0", None),
        ("GET", "/versions/0/diff/draft", None),
        ("POST", "/publish", Some(json!({"version": 0, "environment": "prod"}))),
        ("POST", "/offline", Some(json!({"environment": "test"}))),
        ("POST", "/test", Some(json!({"version": 0}))),
        ("GET", "/versions/draft/diff/draft", None),
    ];
    for (method, tail, body) in routes {
        for token in [fx.dev.as_str(), ROOT] {
            let swapped =
                call(&fx.server, method, &format!("/workgroups/team/apis/{theirs}{tail}"), Some(token), body.clone());
            let missing =
                call(&fx.server, method, &format!("/workgroups/team/apis/987654{tail}"), Some(token), body.clone());
            let (a, b) = (refused(&swapped, 404, None), refused(&missing, 404, None));
            assert_eq!(
                a["message"].as_str().map(|m| m.replace(&theirs.to_string(), "#")),
                b["message"].as_str().map(|m| m.replace("987654", "#")),
                "{method} {tail}"
            );
            assert_eq!(a["code"], b["code"]);
        }
    }
    // Theirs is untouched and still published; ours still works.
    let still = ok(&fx.root("GET", &format!("/workgroups/other/apis/{theirs}"), None));
    assert_eq!(
        (still["description"].as_str(), still["publications"].as_array().map(Vec::len)),
        (Some("items by price"), Some(1))
    );
    assert_eq!(
        ok(&fx.root("GET", &format!("/workgroups/other/apis/{theirs}/versions"), None)).as_array().map(Vec::len),
        Some(1)
    );
    ok(&fx.dev("GET", &format!("/workgroups/team/apis/{ours}/versions/0"), None));
    // Non-numeric ids are as missing as any other.
    refused(&fx.dev("GET", "/workgroups/team/apis/abc", None), 404, None);
}

#[test]
fn the_list_filters_by_folder_status_and_name_and_pages() {
    let fx = Fixture::start("apis-list");
    let mut ids = Vec::new();
    for (i, name) in ["alpha_one", "alpha_two", "beta", "gamma_alpha", "delta"].iter().enumerate() {
        let mut body = new_api(name, &format!("/list/{name}"), fx.ds);
        if i % 2 == 0 {
            body["folderId"] = json!(fx.folder);
        }
        if name.starts_with("alpha") {
            body["tags"] = json!([" sales ", "daily", "sales"]);
        }
        ids.push(ok(&fx.dev("POST", "/workgroups/team/apis", Some(body)))["id"].as_i64().expect("id"));
    }
    for (id, env) in [(ids[0], "prod"), (ids[1], "test"), (ids[2], "test"), (ids[2], "prod")] {
        let base = format!("/workgroups/team/apis/{id}");
        if ok(&fx.dev("GET", &format!("{base}/versions"), None)).as_array().is_some_and(Vec::is_empty) {
            ok(&fx.dev("POST", &format!("{base}/versions"), None));
        }
        ok(&fx.dev("POST", &format!("{base}/publish"), Some(json!({"version": 0, "environment": env}))));
    }
    ok(&fx.root("POST", "/workgroups/other/apis", Some(new_api("alpha_other", "/other", fx.other_ds))));

    let list = |query: &str| ok(&fx.dev("GET", &format!("/workgroups/team/apis{query}"), None));
    let all = list("");
    assert_eq!(
        names(&all["items"]),
        ["alpha_one", "alpha_two", "beta", "gamma_alpha", "delta"],
        "another workgroup's APIs never show"
    );
    assert_eq!(
        (all["total"].as_u64(), all["pageNum"].as_u64(), all["pageSize"].as_u64()),
        (Some(5), Some(1), Some(20))
    );
    assert_eq!(all["items"][0]["mode"], "wizard");
    assert!(all["items"][0].get("draft").is_none(), "lists stay light");
    assert_eq!(names(&list("?name=ALPHA")["items"]), ["alpha_one", "alpha_two", "gamma_alpha"]);
    assert_eq!(names(&list(&format!("?folderId={}", fx.folder))["items"]), ["alpha_one", "beta", "delta"]);
    assert_eq!(names(&list("?folderId=root")["items"]), ["alpha_two", "gamma_alpha"]);
    assert_eq!(names(&list("?status=prod")["items"]), ["alpha_one", "beta"]);
    assert_eq!(names(&list("?status=test")["items"]), ["alpha_two", "beta"]);
    assert_eq!(names(&list("?status=published")["items"]), ["alpha_one", "alpha_two", "beta"]);
    assert_eq!(names(&list("?status=draft")["items"]), ["gamma_alpha", "delta"]);
    assert_eq!(names(&list("?status=test&name=two")["items"]), ["alpha_two"]);
    let page = list("?pageSize=2&pageNum=2");
    assert_eq!(
        (names(&page["items"]), page["total"].as_u64()),
        (vec!["beta".to_owned(), "gamma_alpha".to_owned()], Some(5))
    );
    assert_eq!(names(&list("?pageSize=2&pageNum=4")["items"]), Vec::<String>::new());
    refused(&fx.dev("GET", "/workgroups/team/apis?status=live", None), 400, Some("status"));
    refused(&fx.dev("GET", "/workgroups/team/apis?folderId=x", None), 400, Some("folderId"));
    assert_eq!(names(&list("?tag=sales")["items"]), ["alpha_one", "alpha_two"]);
    assert_eq!(names(&list("?tag=sales&status=prod")["items"]), ["alpha_one"]);
    assert_eq!(names(&list("?tag=nope")["items"]), Vec::<String>::new());
    assert_eq!(list("?tag=daily")["items"][0]["tags"], json!(["daily", "sales"]), "trimmed, sorted, once each");
    refused(&fx.dev("GET", "/workgroups/team/apis?pageSize=0", None), 400, Some("pageSize"));

    // Moving between folders goes through PUT; `null` is the root.
    let base = format!("/workgroups/team/apis/{}", ids[0]);
    assert_eq!(ok(&fx.dev("PUT", &base, Some(json!({"folderId": null}))))["folderId"], Value::Null);
    assert_eq!(ok(&fx.dev("PUT", &base, Some(json!({"folderId": fx.folder}))))["folderId"], fx.folder);
}

#[test]
fn copy_saves_the_draft_as_a_new_api() {
    let fx = Fixture::start("apis-copy");
    let mut body = new_api("source", "/source", fx.ds);
    body["folderId"] = json!(fx.folder);
    let source = ok(&fx.dev("POST", "/workgroups/team/apis", Some(body)))["id"].clone();
    ok(&fx.dev("POST", &format!("/workgroups/team/apis/{source}/versions"), None));
    let copy = fx.dev(
        "POST",
        &format!("/workgroups/team/apis/{source}/copy"),
        Some(json!({"name": "copied", "path": "/copied"})),
    );
    assert_eq!(copy.status, 201);
    let copy = copy.json()["data"].clone();
    assert_eq!(
        (copy["name"].as_str(), copy["path"].as_str(), copy["folderId"].as_i64()),
        (Some("copied"), Some("/copied"), Some(fx.folder))
    );
    assert_eq!(copy["draft"], ok(&fx.dev("GET", &format!("/workgroups/team/apis/{source}"), None))["draft"]);
    assert_eq!(
        ok(&fx.dev("GET", &format!("/workgroups/team/apis/{}/versions", copy["id"]), None)),
        json!([]),
        "a new API starts without versions"
    );
    refused(
        &fx.dev(
            "POST",
            &format!("/workgroups/team/apis/{source}/copy"),
            Some(json!({"name": "copied", "path": "/again"})),
        ),
        409,
        None,
    );
    refused(
        &fx.dev(
            "POST",
            &format!("/workgroups/team/apis/{source}/copy"),
            Some(json!({"name": "bad-name", "path": "/x"})),
        ),
        400,
        Some("name"),
    );
    refused(
        &fx.dev("POST", &format!("/workgroups/team/apis/{source}/copy"), Some(json!({"name": "nopath"}))),
        400,
        Some("path"),
    );
    assert!(fx.audit().iter().any(|e| e.action == "api.copy" && e.detail["from"] == source));
}

/// Issue 18 §7 through the real binary: who created and last edited an API and when, a
/// result sample kept from the test console reaching the API's and the workgroup's OpenAPI
/// documents, and a request parameter's default applied by the edge to a call that leaves it
/// out (and shown as `schema.default`).
#[test]
fn details_show_editors_samples_reach_documents_and_defaults_reach_the_edge() {
    let fx = Fixture::start("apis-details");
    ok(&fx.root("POST", "/users", Some(json!({"name": "editor"}))));
    ok(&fx.root("PUT", "/workgroups/team/members/editor", Some(json!({"role": "developer"}))));
    let issued = ok(&fx.root("POST", "/users/editor/tokens", Some(json!({"name": "t"}))));
    let editor = issued["token"].as_str().expect("token").to_owned();

    let mut body = new_api("items_default", "/shop/defaulted", fx.ds);
    body["draft"]["requestParams"][0]["default"] = json!("1");
    let created = ok(&fx.dev("POST", "/workgroups/team/apis", Some(body)));
    let base = format!("/workgroups/team/apis/{}", created["id"]);
    assert_eq!((created["createdBy"].as_str(), created["owner"].as_str()), (Some("dev"), Some("dev")), "{created}");
    std::thread::sleep(Duration::from_millis(5));
    let edited =
        ok(&call(&fx.server, "PUT", &base, Some(&editor), Some(json!({"description": "edited", "owner": "editor"}))));
    assert_eq!(edited["owner"], "editor");
    let shown = ok(&fx.dev("GET", &base, None));
    assert_eq!((shown["createdBy"].as_str(), shown["updatedBy"].as_str()), (Some("dev"), Some("editor")), "{shown}");
    assert!(shown["updatedAt"].as_i64() > shown["createdAt"].as_i64(), "{shown}");
    let not_member = fx.dev("PUT", &base, Some(json!({"owner": "admin"})));
    refused(&not_member, 400, Some("owner"));

    // The console keeps its answer as the draft's success sample; V0 carries it.
    let run = ok(&fx.dev("POST", &format!("{base}/test"), Some(json!({"saveAsSample": true}))));
    assert_eq!(run["savedAsSample"], "success", "{run}");
    assert_eq!(names(&run["result"]["rows"]), ["apple", "cherry"], "the default applies in the console: {run}");
    let v0 = ok(&fx.dev("POST", &format!("{base}/versions"), None));
    assert_eq!(v0["createdBy"], "dev");
    assert_eq!(v0["samples"]["success"]["data"], run["result"], "{v0}");
    ok(&fx.dev("POST", &format!("{base}/publish"), Some(json!({"version": 0, "environment": "prod"}))));

    // The edge applies the default to a call without minPrice.
    let answered = fx.edge_until("/shop/defaulted", "prod", 200);
    assert_eq!(names(&answered.json()["data"]["rows"]), ["apple", "cherry"], "{}", answered.json());
    let explicit = fx.server.call("GET", "/shop/defaulted?minPrice=0", &[], b"");
    assert_eq!(names(&explicit.json()["data"]["rows"]), ["apple", "banana", "cherry"]);

    // Both documents show the sample as the 200's example and the default in the schema.
    for document in [format!("{base}/openapi.json"), "/workgroups/team/openapi.json".to_owned()] {
        let response = fx.dev("GET", &document, None);
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
        let operation = &response.json()["paths"]["/shop/defaulted"]["get"];
        let ok_content = &operation["responses"]["200"]["content"]["application/json"];
        assert_eq!(ok_content["examples"]["sample"]["value"], v0["samples"]["success"], "{document}: {operation}");
        let param =
            operation["parameters"].as_array().and_then(|p| p.iter().find(|p| p["name"] == "minPrice").cloned());
        assert_eq!(param.map(|p| p["schema"]["default"].clone()), Some(json!(1.0)), "{document}: {operation}");
    }
}
