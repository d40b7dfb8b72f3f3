//! Workgroups are walls, tried the way an attacker in one workgroup would, through the real
//! binary: datasources aimed at the metadata store, the data dir, files outside the dataset
//! directories or internal hosts; paths that take or shadow another workgroup's calls; and
//! error messages that would name another workgroup's APIs. Every attempt must fail.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Response, Server, call, ok, refused};

const ROOT: &str = "slc_isolation_bootstrap_token_0123456789";

/// Two workgroups, `team` (our developer's) and `victim` (with an app whose key must never be
/// readable from `team`), no allow list: the defaults a new installation has.
struct Tenants {
    server: Server,
    /// A developer of `team` only.
    dev: String,
    victim_app_key: String,
}

impl Tenants {
    fn start(tag: &str, extra_env: &[(&str, &str)]) -> Tenants {
        let mut env = vec![("SLUICE_ADMIN_TOKEN", ROOT), ("SLUICE_DEMO", "false")];
        env.extend_from_slice(extra_env);
        let server = Server::start(tag, &env);
        for name in ["team", "victim"] {
            ok(&call(&server, "POST", "/workgroups", Some(ROOT), Some(json!({"name": name}))));
        }
        ok(&call(&server, "POST", "/users", Some(ROOT), Some(json!({"name": "dev"}))));
        ok(&call(&server, "PUT", "/workgroups/team/members/dev", Some(ROOT), Some(json!({"role": "developer"}))));
        let issued = ok(&call(&server, "POST", "/users/dev/tokens", Some(ROOT), Some(json!({"name": "t"}))));
        let dev = issued["token"].as_str().expect("token").to_owned();
        let app = ok(&call(&server, "POST", "/workgroups/victim/apps", Some(ROOT), Some(json!({"name": "vapp"}))));
        let victim_app_key = app["app"]["appKey"].as_str().or(app["appKey"].as_str()).expect("app key").to_owned();
        Tenants { server, dev, victim_app_key }
    }

    fn dev(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        call(&self.server, method, path, Some(&self.dev), body)
    }

    fn root(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        call(&self.server, method, path, Some(ROOT), body)
    }

    /// An empty SQLite file in `workgroup`'s dataset directory; its name.
    fn dataset(&self, workgroup: &str, name: &str) -> String {
        std::fs::write(support::dataset_file(&self.server, workgroup, name), b"").expect("dataset file");
        name.to_owned()
    }

    fn text(response: &Response) -> String {
        String::from_utf8_lossy(&response.body).into_owned()
    }
}

fn sqlite(name: &str, database: &str) -> Value {
    json!({"name": name, "kind": "sqlite", "connection": {"database": database}})
}

fn native_over(datasource: i64, tables: &[&str], path: &str) -> Value {
    json!({
        "name": format!("n{}", rand_suffix()),
        "path": path,
        "authMode": "none",
        "draft": {"datasourceId": datasource, "mode": "native", "tables": tables},
    })
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() % 1_000_000) as u32
}

#[test]
fn a_datasource_never_reaches_the_store_the_data_dir_or_files_outside_its_directory() {
    let t = Tenants::start("iso-files", &[]);
    let store = t.server.data_dir.join("sluice.db").display().to_string();
    let data_dir = t.server.data_dir.display().to_string();
    // Written as the attacker would: the store by absolute and relative paths, its WAL, the
    // secret key, a URI with options, the other workgroup's directory, host files.
    for database in [
        store.clone(),
        format!("{store}-wal"),
        "../../sluice.db".to_owned(),
        "../../secret.key".to_owned(),
        format!("{data_dir}/admin.token"),
        format!("file:{store}?mode=ro"),
        "file:../../sluice.db".to_owned(),
        ":memory:".to_owned(),
        "../victim/theirs.db".to_owned(),
        format!("{data_dir}/datasets/victim/theirs.db"),
        "/etc/passwd".to_owned(),
        "/nonexistent/x.db".to_owned(),
    ] {
        let response = t.dev("POST", "/workgroups/team/datasources", Some(sqlite("s", &database)));
        refused(&response, 400, Some("connection.database"));
        assert!(!Tenants::text(&response).contains(&data_dir), "{database}: the answer names the data dir");
    }

    // A symbolic link in our own directory that leads to the store: accepted as a name, then
    // refused wherever it is used — connection test, test console, edge.
    let own = support::dataset_file(&t.server, "team", "innocent.db");
    std::os::unix::fs::symlink(t.server.data_dir.join("sluice.db"), &own).expect("symlink");
    let created = ok(&t.dev("POST", "/workgroups/team/datasources", Some(sqlite("link", "innocent.db"))));
    let link = created["id"].as_i64().expect("id");
    let tested = ok(&t.dev("POST", &format!("/workgroups/team/datasources/{link}/test"), None));
    assert_eq!((tested["ok"].as_bool(), tested["message"].as_str()), (Some(false), Some("not allowed")), "{tested}");
    // Nor can its tables be listed or described: the schema reads open it as the test does.
    for path in [
        format!("/workgroups/team/datasources/{link}/tables"),
        format!("/workgroups/team/datasources/{link}/tables/apps/columns"),
    ] {
        let read = refused(&t.dev("GET", &path, None), 503, None);
        assert_eq!(read["message"], "the datasource's schema cannot be read: not allowed", "{read}");
    }
    let api = ok(&t.dev("POST", "/workgroups/team/apis", Some(native_over(link, &["apps"], "/steal"))));
    let id = api["id"].as_i64().expect("api id");
    let run = t.dev(
        "POST",
        &format!("/workgroups/team/apis/{id}/test"),
        Some(json!({"params": {"sql": "SELECT app_key FROM apps"}})),
    );
    assert_eq!(run.status, 503, "{}", Tenants::text(&run));
    assert!(!Tenants::text(&run).contains(&t.victim_app_key), "the console read another workgroup's app key");
    ok(&t.dev("POST", &format!("/workgroups/team/apis/{id}/versions"), Some(json!({}))));
    ok(&t.dev(
        "POST",
        &format!("/workgroups/team/apis/{id}/publish"),
        Some(json!({"version": 0, "environment": "prod"})),
    ));
    let called = until(&t.server, "/steal?sql=SELECT%20app_key%20FROM%20apps", |r| r.status != 404);
    assert_eq!(called.status, 503, "{}", Tenants::text(&called));
    assert!(!Tenants::text(&called).contains(&t.victim_app_key), "the edge read another workgroup's app key");

    // A copy of the store is refused by what it holds, wherever it lies.
    let copy = support::dataset_file(&t.server, "team", "backup.db");
    std::fs::copy(t.server.data_dir.join("sluice.db"), &copy).expect("copy of the store");
    let created = ok(&t.dev("POST", "/workgroups/team/datasources", Some(sqlite("backup", "backup.db"))));
    let backup = created["id"].as_i64().expect("id");
    let tested = ok(&t.dev("POST", &format!("/workgroups/team/datasources/{backup}/test"), None));
    assert_eq!(tested["message"], "not allowed", "{tested}");
    let read = refused(&t.dev("GET", &format!("/workgroups/team/datasources/{backup}/tables"), None), 503, None);
    assert_eq!(read["message"], "the datasource's schema cannot be read: not allowed", "{read}");

    // Existence of a file is not revealed: a missing file in our own directory cannot connect,
    // anything outside it is not allowed whether or not it exists.
    let created = ok(&t.dev("POST", "/workgroups/team/datasources", Some(sqlite("gone", "gone.db"))));
    let gone = created["id"].as_i64().expect("id");
    let tested = ok(&t.dev("POST", &format!("/workgroups/team/datasources/{gone}/test"), None));
    assert_eq!(tested["message"], "cannot connect", "{tested}");

    // Our own file works.
    let mine = t.dataset("team", "mine.db");
    let created = ok(&t.dev("POST", "/workgroups/team/datasources", Some(sqlite("mine", &mine))));
    let tested = ok(&t.dev("POST", &format!("/workgroups/team/datasources/{}/test", created["id"]), None));
    assert_eq!(tested["ok"], true, "{tested}");
}

#[test]
fn database_hosts_on_internal_networks_need_a_platform_admins_allowance() {
    let t = Tenants::start("iso-hosts", &[]);
    let pg = |host: &str| {
        json!({"name": format!("pg{}", rand_suffix()), "kind": "postgres",
               "connection": {"host": host, "port": 5432, "database": "test", "username": "postgres"}})
    };
    for host in ["127.0.0.1", "localhost", "0x7f.1", "[::1]", "10.0.0.7", "169.254.169.254", "192.168.1.1"] {
        refused(&t.dev("POST", "/workgroups/team/datasources", Some(pg(host))), 400, Some("connection.host"));
    }
    // A name that resolves to loopback passes the save check (names are resolved when used)
    // and is refused when used.
    let named = ok(&t.dev("POST", "/workgroups/team/datasources", Some(pg("localhost.localdomain"))));
    let tested = ok(&t.dev("POST", &format!("/workgroups/team/datasources/{}/test", named["id"]), None));
    assert_eq!(tested["ok"], false, "{tested}");
    assert!(["not allowed", "cannot connect"].contains(&tested["message"].as_str().unwrap_or("")), "{tested}");

    // Developers cannot change the platform's settings; a platform admin can.
    let settings = json!({"networkAllow": ["127.0.0.1"], "datasetRoots": []});
    refused(&t.dev("PUT", "/platform/settings", Some(settings.clone())), 403, None);
    refused(
        &t.root("PUT", "/platform/settings", Some(json!({"networkAllow": ["10.0.0.1/8"]}))),
        400,
        Some("networkAllow[0]"),
    );
    ok(&t.root("PUT", "/platform/settings", Some(settings)));
    let allowed = ok(&t.dev("POST", "/workgroups/team/datasources", Some(pg("127.0.0.1"))));
    let tested = ok(&t.dev("POST", &format!("/workgroups/team/datasources/{}/test", allowed["id"]), None));
    assert_eq!(tested["ok"], true, "{tested}");
}

#[test]
fn a_platform_admin_adds_dataset_roots_shared_or_bound_to_one_workgroup() {
    let t = Tenants::start("iso-roots", &[]);
    let base = t.server.data_dir.parent().expect("temp dir").join(format!("iso-roots-{}", rand_suffix()));
    for dir in ["shared/team", "shared/victim", "bound"] {
        std::fs::create_dir_all(base.join(dir)).expect("root");
    }
    for file in ["shared/team/a.db", "shared/victim/b.db", "bound/c.db"] {
        std::fs::write(base.join(file), b"").expect("file");
    }
    let path = |rel: &str| base.join(rel).display().to_string();
    let roots = json!({"datasetRoots": [{"path": path("shared")}, {"path": path("bound"), "workgroup": "victim"}]});
    ok(&t.root("PUT", "/platform/settings", Some(roots)));
    ok(&t.dev("POST", "/workgroups/team/datasources", Some(sqlite("a", &path("shared/team/a.db")))));
    for theirs in ["shared/victim/b.db", "bound/c.db"] {
        let response = t.dev("POST", "/workgroups/team/datasources", Some(sqlite("x", &path(theirs))));
        refused(&response, 400, Some("connection.database"));
    }
    ok(&t.root("POST", "/workgroups/victim/datasources", Some(sqlite("c", &path("bound/c.db")))));
}

/// Calls `path` on the edge until `done` says the answer is the one awaited (5 s at most).
fn until(server: &Server, path: &str, done: impl Fn(&Response) -> bool) -> Response {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = server.get(path);
        if done(&response) || Instant::now() > deadline {
            return response;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn paths_of_another_workgroup_can_be_neither_taken_nor_shadowed() {
    let t = Tenants::start("iso-paths", &[]);
    let theirs = t.dataset("victim", "theirs.db");
    let victim_ds =
        ok(&t.root("POST", "/workgroups/victim/datasources", Some(sqlite("v", &theirs))))["id"].as_i64().expect("id");
    let victim_api = ok(&t.root(
        "POST",
        "/workgroups/victim/apis",
        Some(json!({"name": "secret_customers", "path": "/b/customers/{id}", "authMode": "none",
                    "draft": {"datasourceId": victim_ds, "mode": "script", "sql": "SELECT 'victim' AS owner",
                              "requestParams": [{"name": "id", "type": "int", "position": "path"}]}})),
    ));
    let victim_id = victim_api["id"].as_i64().expect("id");
    ok(&t.root("POST", &format!("/workgroups/victim/apis/{victim_id}/versions"), Some(json!({}))));
    ok(&t.root(
        "POST",
        &format!("/workgroups/victim/apis/{victim_id}/publish"),
        Some(json!({"version": 0, "environment": "prod"})),
    ));
    let answer = until(&t.server, "/b/customers/7", |r| r.status == 200);
    assert_eq!(answer.json()["data"]["rows"][0]["owner"], "victim");

    let ours = t.dataset("team", "ours.db");
    let our_ds =
        ok(&t.dev("POST", "/workgroups/team/datasources", Some(sqlite("o", &ours))))["id"].as_i64().expect("id");
    let draft = |path: &str| {
        json!({"name": format!("a{}", rand_suffix()), "path": path, "authMode": "none",
               "draft": {"datasourceId": our_ds, "mode": "script", "sql": "SELECT 'attacker' AS owner"}})
    };
    for (method, path) in
        [("GET", "/b/customers/{aaa}"), ("GET", "/b/customers/special"), ("POST", "/b/customers/{id}")]
    {
        let mut body = draft(path);
        body["method"] = json!(method);
        if path.contains('{') {
            let name = path.rsplit('{').next().unwrap_or("").trim_end_matches('}');
            body["draft"]["requestParams"] = json!([{"name": name, "type": "string", "position": "path"}]);
        }
        let response = t.dev("POST", "/workgroups/team/apis", Some(body));
        let refusal = refused(&response, 409, Some("path"));
        assert_eq!(refusal["code"], "Conflict.Path", "{refusal}");
        let message = refusal["message"].as_str().unwrap_or("");
        assert!(!message.contains("secret_customers") && !message.contains(&victim_id.to_string()), "{message}");
    }
    // Imported from an OpenAPI document onto their path: refused, and their API is not named.
    let document = json!({
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "servers": [{"url": "http://93.184.216.34/v1"}],
        "paths": {"/b/customers/{key}": {"get": {"operationId": "grab", "responses": {},
            "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "string"}}]}}}
    });
    let imported =
        t.dev("POST", "/workgroups/team/imports/openapi", Some(json!({"document": document, "public": true})));
    let refusal = refused(&imported, 400, Some("document"));
    assert_eq!(refusal["code"], "InvalidDefinition", "{refusal}");
    let message = refusal["message"].as_str().unwrap_or("");
    assert!(message.contains("collides"), "{message}");
    // (The pointer's `~1` would match a bare id: look for how an id would be written.)
    assert!(!message.contains("secret_customers") && !message.contains(&format!("id {victim_id}")), "{message}");
    // Its preview says so too, in the same words, rather than promising to create it.
    let preview = t.dev(
        "POST",
        "/workgroups/team/imports/openapi",
        Some(json!({"document": document, "public": true, "dryRun": true})),
    );
    let previewed = refused(&preview, 400, Some("document"));
    assert_eq!(previewed["message"], refusal["message"], "{previewed}");
    // Saved elsewhere, then moved onto their path: refused the same way.
    let api = ok(&t.dev("POST", "/workgroups/team/apis", Some(draft("/b/ours"))));
    let id = api["id"].as_i64().expect("id");
    let moved = t.dev("PUT", &format!("/workgroups/team/apis/{id}"), Some(json!({"path": "/b/customers/special"})));
    refused(&moved, 409, Some("path"));
    // A platform admin is told which API holds the path.
    let mut named = draft("/b/customers/{key}");
    named["draft"]["requestParams"] = json!([{"name": "key", "type": "string", "position": "path"}]);
    let response = t.root("POST", "/workgroups/team/apis", Some(named));
    assert!(Tenants::text(&response).contains("secret_customers"), "{}", Tenants::text(&response));
    // Their callers still get their answer.
    assert_eq!(t.server.get("/b/customers/8").json()["data"]["rows"][0]["owner"], "victim");
}

#[test]
fn refusals_at_the_edge_do_not_name_another_workgroups_api() {
    let t = Tenants::start("iso-messages", &[]);
    let theirs = t.dataset("victim", "theirs.db");
    let victim_ds =
        ok(&t.root("POST", "/workgroups/victim/datasources", Some(sqlite("v", &theirs))))["id"].as_i64().expect("id");
    let api = ok(&t.root(
        "POST",
        "/workgroups/victim/apis",
        Some(json!({"name": "payroll_internal", "path": "/payroll", "visibleRange": "public",
                    "draft": {"datasourceId": victim_ds, "mode": "script", "sql": "SELECT 1 AS one"}})),
    ));
    let id = api["id"].as_i64().expect("id");
    ok(&t.root("POST", &format!("/workgroups/victim/apis/{id}/versions"), Some(json!({}))));
    ok(&t.root(
        "POST",
        &format!("/workgroups/victim/apis/{id}/publish"),
        Some(json!({"version": 0, "environment": "prod"})),
    ));
    // An app of `team` with a token but no grant.
    let app = ok(&t.root("POST", "/workgroups/team/apps", Some(json!({"name": "ours"}))));
    let key = app["app"]["appKey"].as_str().or(app["appKey"].as_str()).expect("key").to_owned();
    let app_id = app["app"]["id"].as_i64().or(app["id"].as_i64()).expect("app id");
    let token = ok(&t.root("POST", &format!("/workgroups/team/apps/{app_id}/tokens"), Some(json!({}))));
    let token = token["token"].as_str().expect("token").to_owned();
    let auth = format!("Bearer {token}");
    let headers = [("X-Sluice-App-Key", key.as_str()), ("Authorization", auth.as_str())];
    let deadline = Instant::now() + Duration::from_secs(5);
    let refusal = loop {
        let response = t.server.call("GET", "/payroll", &headers, b"");
        if response.status == 403 || Instant::now() > deadline {
            break response;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(refusal.json()["code"], "Forbidden.NoGrant", "{}", Tenants::text(&refusal));
    assert!(!Tenants::text(&refusal).contains("payroll_internal"), "{}", Tenants::text(&refusal));
}

/// A store written before paths were checked may hold two workgroups on one path: the edge
/// serves neither (no caller of one can get the other's answer) and says so, rather than
/// keeping one of them quietly.
#[test]
fn conflicting_paths_already_in_a_store_are_served_to_neither_workgroup() {
    let t = Tenants::start("iso-legacy", &[]);
    let mut ids = Vec::new();
    for (workgroup, path, token) in [("victim", "/legacy/{id}", ROOT), ("team", "/mine/{id}", t.dev.as_str())] {
        let file = t.dataset(workgroup, "d.db");
        let ds = ok(&call(
            &t.server,
            "POST",
            &format!("/workgroups/{workgroup}/datasources"),
            Some(token),
            Some(sqlite("d", &file)),
        ));
        let body = json!({"name": "lookup", "path": path, "authMode": "none",
                          "draft": {"datasourceId": ds["id"], "mode": "script", "sql": format!("SELECT '{workgroup}' AS owner"),
                                    "requestParams": [{"name": "id", "type": "int", "position": "path"}]}});
        let api = ok(&call(&t.server, "POST", &format!("/workgroups/{workgroup}/apis"), Some(token), Some(body)));
        let id = api["id"].as_i64().expect("id");
        let base = format!("/workgroups/{workgroup}/apis/{id}");
        ok(&call(&t.server, "POST", &format!("{base}/versions"), Some(token), Some(json!({}))));
        ok(&call(
            &t.server,
            "POST",
            &format!("{base}/publish"),
            Some(token),
            Some(json!({"version": 0, "environment": "prod"})),
        ));
        ids.push(id);
    }
    assert_eq!(until(&t.server, "/mine/1", |r| r.status == 200).json()["data"]["rows"][0]["owner"], "team");
    // Behind the store's back, as an old version of Sluice could have left it.
    let store = t.server.data_dir.join("sluice.db");
    let sql = format!(
        "UPDATE apis SET path = '/legacy/{{key}}' WHERE id = {}; UPDATE store_revision SET value = value + 1;",
        ids[1]
    );
    let status = std::process::Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()"])
        .arg(&store)
        .arg(&sql)
        .status()
        .expect("python3");
    assert!(status.success());
    let gone = until(&t.server, "/legacy/1", |r| r.status == 404);
    assert_eq!(gone.status, 404, "{}", Tenants::text(&gone));
    let health = ok(&call(&t.server, "GET", "/health", None, None));
    assert_eq!(health["unserved"], 2, "{health}");
    let unserved = ok(&t.root("GET", "/platform/unserved", None));
    let listed: Vec<i64> = unserved.as_array().expect("list").iter().filter_map(|u| u["apiId"].as_i64()).collect();
    assert_eq!(listed.len(), 2, "{unserved}");
    assert!(ids.iter().all(|id| listed.contains(id)), "{unserved}");
    refused(&t.dev("GET", "/platform/unserved", None), 403, None);
}

/// A workflow draft whose one node calls library function `function` (no inline source).
fn calling(function: &str) -> Value {
    json!({"mode": "workflow", "start": "f", "nodes": [
        {"id": "f", "kind": "function", "function": function, "next": ["end"]},
        {"id": "end", "kind": "end"}
    ]})
}

/// Another workgroup's objects, for the sweep.
struct Theirs {
    datasource: i64,
    folder: i64,
    api: i64,
    app: i64,
    token: i64,
    /// A webhook channel of theirs (with a secret).
    webhook: i64,
    /// The name of a function in their library.
    function: &'static str,
    /// An alarm rule of their API.
    alarm: i64,
}

/// Everything the sweep could change of `victim`, read as the platform admin.
fn victim_state(t: &Tenants, theirs: &Theirs) -> Vec<Value> {
    let api = format!("/workgroups/victim/apis/{}", theirs.api);
    let app = format!("/workgroups/victim/apps/{}", theirs.app);
    [
        format!("/workgroups/victim/datasources/{}", theirs.datasource),
        "/workgroups/victim/folders".to_owned(),
        api.clone(),
        format!("{api}/versions"),
        format!("{api}/grants"),
        format!("{api}/gray"),
        app.clone(),
        format!("{app}/tokens"),
        format!("{app}/grants"),
        "/workgroups/victim/apis".to_owned(),
        "/workgroups/victim".to_owned(),
        "/workgroups/victim/functions".to_owned(),
        format!("/workgroups/victim/functions/{}", theirs.function),
        format!("{api}/listing"),
        "/workgroups/victim/applications?side=provider".to_owned(),
        "/workgroups/victim/webhooks".to_owned(),
        format!("/workgroups/victim/webhooks/{}", theirs.webhook),
        format!("/workgroups/victim/webhooks/{}/deliveries", theirs.webhook),
        format!("{api}/alarms"),
        format!("{api}/alarms/{}", theirs.alarm),
        "/workgroups/victim/alarm-template".to_owned(),
        "/workgroups/victim/alarm-events".to_owned(),
    ]
    .iter()
    .map(|path| ok(&t.root("GET", path, None)))
    .collect()
}

/// Every management route of a workgroup, called on our own workgroup with the other
/// workgroup's ids in the path (as our admin, and as a platform admin going through our
/// workgroup's paths), and every body that can point at another object, pointing at theirs:
/// nothing succeeds, no answer names their objects, and nothing of theirs changes.
#[test]
fn every_workgroup_route_refuses_another_workgroups_ids() {
    use std::sync::Arc;

    let t = Tenants::start("iso-sweep", &[]);
    let file = t.dataset("victim", "v.db");
    let datasource =
        ok(&t.root("POST", "/workgroups/victim/datasources", Some(sqlite("vds", &file))))["id"].as_i64().expect("id");
    let folder =
        ok(&t.root("POST", "/workgroups/victim/folders", Some(json!({"name": "vfolder"}))))["id"].as_i64().expect("id");
    let api = ok(&t.root(
        "POST",
        "/workgroups/victim/apis",
        Some(json!({"name": "vapi", "path": "/vapi", "visibleRange": "private",
                    "draft": {"datasourceId": datasource, "mode": "script", "sql": "SELECT 1 AS one"}})),
    ))["id"]
        .as_i64()
        .expect("id");
    ok(&t.root("POST", &format!("/workgroups/victim/apis/{api}/versions"), Some(json!({}))));
    ok(&t.root(
        "POST",
        &format!("/workgroups/victim/apis/{api}/publish"),
        Some(json!({"version": 0, "environment": "prod"})),
    ));
    let vapp = ok(&t.root("POST", "/workgroups/victim/apps", Some(json!({"name": "vapp2"}))));
    let app = vapp["id"].as_i64().expect("app id");
    let token = ok(&t.root("POST", &format!("/workgroups/victim/apps/{app}/tokens"), Some(json!({}))))["id"]
        .as_i64()
        .expect("token id");
    ok(&t.root("POST", &format!("/workgroups/victim/apis/{api}/grants"), Some(json!({"appId": app}))));
    // Their library function: its description and source must never show on our side.
    ok(&t.root(
        "POST",
        "/workgroups/victim/functions",
        Some(json!({"name": "vfunc", "description": "VICTIM_MARK",
                    "source": "def handler(event, context):\n    return 'VICTIM_MARK'\n"})),
    ));
    // Their listing draft, never submitted: nobody outside sees it.
    ok(&t.root("PUT", &format!("/workgroups/victim/apis/{api}/listing"), Some(json!({"summary": "VICTIM_MARK"}))));
    // Their webhook channel: neither readable, changeable nor testable from our side.
    let webhook = ok(&t.root(
        "POST",
        "/workgroups/victim/webhooks",
        Some(json!({"name": "vhook", "url": "https://hooks.example.com/VICTIM_MARK", "secret": "VICTIM_SECRET"})),
    ))["id"]
        .as_i64()
        .expect("webhook id");
    // Their alarm rule and template: neither readable nor changeable from our side.
    let alarm = ok(&t.root(
        "POST",
        &format!("/workgroups/victim/apis/{api}/alarms"),
        Some(json!({"metric": "errorRate", "windowSecs": 300, "threshold": 0.1})),
    ))["id"]
        .as_i64()
        .expect("alarm id");
    ok(&t.root(
        "PUT",
        "/workgroups/victim/alarm-template",
        Some(json!({"enabled": true, "rules": [{"metric": "noCalls", "windowSecs": 3600, "threshold": 0}]})),
    ));
    let theirs = Theirs { datasource, folder, api, app, token, webhook, function: "vfunc", alarm };

    // Our own objects, for bodies that point elsewhere.
    ok(&t.root("PUT", "/workgroups/team/members/dev", Some(json!({"role": "admin"}))));
    let our_file = t.dataset("team", "o.db");
    let our_ds =
        ok(&t.dev("POST", "/workgroups/team/datasources", Some(sqlite("ods", &our_file))))["id"].as_i64().expect("id");
    let our_api = ok(&t.dev(
        "POST",
        "/workgroups/team/apis",
        Some(json!({"name": "oapi", "path": "/oapi", "draft": {"datasourceId": our_ds, "mode": "script", "sql": "SELECT 1 AS one"}})),
    ))["id"]
        .as_i64()
        .expect("id");
    ok(&t.dev("POST", &format!("/workgroups/team/apis/{our_api}/versions"), Some(json!({}))));
    let our_app =
        ok(&t.dev("POST", "/workgroups/team/apps", Some(json!({"name": "oapp"}))))["id"].as_i64().expect("id");
    let our_folder =
        ok(&t.dev("POST", "/workgroups/team/folders", Some(json!({"name": "of"}))))["id"].as_i64().expect("id");

    let before = victim_state(&t, &theirs);
    let specs = {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let secrets = catalog::secret::SecretBox::from_key_text(&catalog::secret::SecretBox::generate_key_text())
                .expect("key");
            let store = catalog::store::Store::open("sqlite::memory:", secrets).await.expect("store");
            let snapshot = Arc::new(admin::NoEdge);
            admin::routes(admin::AdminState::new(store, String::new(), snapshot, support::default_outbound())).1
        })
    };
    let body_for = |method: &str, path: &str| -> Option<Value> {
        let body = match (method, path.rsplit('/').next().unwrap_or("")) {
            ("GET" | "DELETE", _) => return None,
            (_, "test") if path.contains("/datasources/") || path.contains("/webhooks/") => return None,
            (_, "test") => json!({"params": {}}),
            (_, "copy") => json!({"name": "stolen", "path": "/stolen"}),
            (_, "publish") => json!({"version": 0, "environment": "prod"}),
            (_, "offline") => json!({"environment": "prod"}),
            (_, "grants") => json!({"appId": our_app}),
            (_, "folder") => json!({"folderId": null}),
            (_, "samples") => json!({"success": {"code": "OK", "data": "stolen"}}),
            (_, "secret" | "tokens" | "versions") => json!({}),
            ("PUT", "{environment}") => json!({"version": 0, "percent": 50, "enabled": true}),
            ("PUT", _) if path.contains("/datasources/") => sqlite("stolen", "o.db"),
            ("PUT", _) if path.contains("/apps/") => json!({"name": "stolen"}),
            ("PUT", _) if path.contains("/webhooks/") => json!({"url": "https://stolen.example.com/", "secret": ""}),
            ("PUT", _) => json!({"description": "stolen"}),
            ("PATCH", _) if path.contains("/alarms/") => json!({"threshold": 0.9, "enabled": false}),
            ("PATCH", _) => json!({"name": "stolen"}),
            ("POST", "alarms") => json!({"metric": "noCalls", "windowSecs": 60, "threshold": 0}),
            _ => json!({}),
        };
        Some(body)
    };
    let mut calls = Vec::new();
    for spec in specs.iter().filter(|s| s.path.starts_with("/workgroups/{workgroup}/")) {
        let mut path = spec.path.replace("{workgroup}", "team");
        let named_ids = [
            ("/datasources/{id}", "/datasources/", theirs.datasource),
            ("/folders/{id}", "/folders/", theirs.folder),
            ("/apis/{id}", "/apis/", theirs.api),
            ("/apps/{id}", "/apps/", theirs.app),
            ("/tokens/{tokenId}", "/tokens/", theirs.token),
            ("/grants/{appId}", "/grants/", theirs.app),
            ("/webhooks/{id}", "/webhooks/", theirs.webhook),
            ("/alarms/{rule}", "/alarms/", theirs.alarm),
        ];
        let mut swapped = false;
        for (pattern, prefix, id) in named_ids {
            if path.contains(pattern) {
                path = path.replace(pattern, &format!("{prefix}{id}"));
                swapped = true;
            }
        }
        if path.contains("/functions/{name}") {
            path = path.replace("{name}", theirs.function);
            swapped = true;
        }
        if !swapped {
            continue;
        }
        let path = path
            .replace("{version}", "0")
            .replace("{other}", "0")
            .replace("{environment}", "prod")
            .replace("{table}", "t");
        assert!(!path.contains('{'), "the sweep does not know how to fill {path}");
        let body = body_for(spec.method.as_str(), spec.path);
        calls.push((spec.method.to_string(), path, body));
    }
    // Bodies that name their objects from our own paths.
    for (method, path, body) in [
        (
            "POST",
            "/workgroups/team/apis".to_owned(),
            json!({"name": "b1", "path": "/b1", "draft": {"datasourceId": theirs.datasource, "mode": "script", "sql": "SELECT 1"}}),
        ),
        (
            "PUT",
            format!("/workgroups/team/apis/{our_api}"),
            json!({"draft": {"datasourceId": theirs.datasource, "mode": "script", "sql": "SELECT 1"}}),
        ),
        ("POST", format!("/workgroups/team/apis/{our_api}/grants"), json!({"appId": theirs.app})),
        // A workflow naming their library function: not found in ours, so refused.
        (
            "POST",
            "/workgroups/team/apis".to_owned(),
            json!({"name": "b3", "path": "/b3", "draft": calling(theirs.function)}),
        ),
        ("PUT", format!("/workgroups/team/apis/{our_api}"), json!({"draft": calling(theirs.function)})),
        ("PUT", format!("/workgroups/team/apis/{our_api}/folder"), json!({"folderId": theirs.folder})),
        // Applying for their unlisted API, or for their app.
        (
            "POST",
            "/workgroups/team/applications".to_owned(),
            json!({"apiId": theirs.api, "appId": our_app, "reason": "x"}),
        ),
        (
            "POST",
            "/workgroups/team/applications".to_owned(),
            json!({"apiId": our_api, "appId": theirs.app, "reason": "x"}),
        ),
        ("POST", "/workgroups/team/folders".to_owned(), json!({"name": "x", "parentId": theirs.folder})),
        ("PATCH", format!("/workgroups/team/folders/{our_folder}"), json!({"parentId": theirs.folder})),
        (
            "POST",
            "/workgroups/team/apis".to_owned(),
            json!({"name": "b2", "path": "/b2", "folderId": theirs.folder, "draft": {"datasourceId": our_ds, "mode": "script", "sql": "SELECT 1"}}),
        ),
    ] {
        calls.push((method.to_owned(), path, Some(body)));
    }
    assert!(calls.len() >= 35, "the sweep makes only {} calls", calls.len());
    let mut successes = Vec::new();
    for (method, path, body) in &calls {
        for token in [t.dev.as_str(), ROOT] {
            let response = call(&t.server, method, path, Some(token), body.clone());
            let text = Tenants::text(&response);
            let named = ["vds", "vfolder", "vapi", "vapp2", "VICTIM_MARK", "vhook", "VICTIM_SECRET"]
                .iter()
                .any(|name| text.contains(name));
            if response.status < 300 || named {
                successes.push(format!("{method} {path}: {} {text}", response.status));
            }
            assert!(response.status < 500, "{method} {path}: {} {text}", response.status);
        }
    }
    assert!(
        successes.is_empty(),
        "{} of {} calls reached the other workgroup:\n{}",
        successes.len(),
        calls.len() * 2,
        successes.join("\n")
    );
    assert_eq!(victim_state(&t, &theirs), before, "the sweep changed the other workgroup's objects");
    // Our alarm history filtered by their API is empty; our template is ours.
    for token in [t.dev.as_str(), ROOT] {
        let events =
            ok(&call(&t.server, "GET", &format!("/workgroups/team/alarm-events?apiId={api}"), Some(token), None));
        assert_eq!(events["total"], 0, "{events}");
        let template = ok(&call(&t.server, "GET", "/workgroups/team/alarm-template", Some(token), None));
        assert_eq!(template["enabled"], false, "{template}");
    }
}

/// The console's schema reads and template parameters, tried on another workgroup: its paths
/// do not exist for us, its datasource through our paths is a missing one, and the names of
/// its tables never show.
#[test]
fn another_workgroups_schema_can_be_neither_listed_described_nor_parsed() {
    let t = Tenants::start("iso-schema", &[]);
    let file = support::dataset_file(&t.server, "victim", "vschema.db");
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(async {
        use sqlx::{Connection, Executor};
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&file).create_if_missing(true);
        let mut db = sqlx::SqliteConnection::connect_with(&options).await.expect("victim's database");
        db.execute("CREATE TABLE victim_ledger (victim_amount INTEGER)").await.expect("table");
        db.close().await.expect("close");
    });
    let created = ok(&t.root("POST", "/workgroups/victim/datasources", Some(sqlite("vschema", "vschema.db"))));
    let theirs = created["id"].as_i64().expect("id");
    // Readable by its own workgroup (here its platform admin): the refusals below are walls.
    let listed = ok(&t.root("GET", &format!("/workgroups/victim/datasources/{theirs}/tables"), None));
    assert_eq!(listed["items"], json!([{"name": "victim_ledger", "kind": "table"}]), "{listed}");
    let sql = json!({"sql": "SELECT * FROM victim_ledger WHERE victim_amount = #{amount}"});

    let in_theirs = [
        ("GET", format!("/workgroups/victim/datasources/{theirs}/tables"), None),
        ("GET", format!("/workgroups/victim/datasources/{theirs}/tables/victim_ledger/columns"), None),
        ("POST", "/workgroups/victim/sql/parameters".to_owned(), Some(sql.clone())),
    ];
    for (method, path, body) in in_theirs {
        let refusal = refused(&t.dev(method, &path, body), 404, None);
        assert_eq!(refusal["message"], "workgroup `victim` does not exist", "{method} {path}: {refusal}");
    }
    let through_ours = [
        format!("/workgroups/team/datasources/{theirs}/tables"),
        format!("/workgroups/team/datasources/{theirs}/tables/victim_ledger/columns"),
        format!("/workgroups/team/datasources/{theirs}/tables/nothing/columns"),
    ];
    for path in &through_ours {
        for token in [t.dev.as_str(), ROOT] {
            let response = call(&t.server, "GET", path, Some(token), None);
            let refusal = refused(&response, 404, None);
            assert_eq!(refusal["message"], format!("datasource `{theirs}` does not exist"), "{path}: {refusal}");
            assert!(!Tenants::text(&response).contains("victim_"), "{path}: {}", Tenants::text(&response));
        }
    }
    // Parsing is our own workgroup's: it reads only the text sent and names nothing of theirs.
    let ours = ok(&t.dev("POST", "/workgroups/team/sql/parameters", Some(sql)));
    assert_eq!(ours, json!([{"name": "amount", "type": "string", "list": false}]));
}

/// The marketplace shows listed APIs only: another workgroup's listing draft, its pending
/// listing request and the requests about its APIs do not exist for us, in lists, pages,
/// documents or the inbox.
#[test]
fn the_marketplace_shows_other_workgroups_listed_apis_only() {
    let t = Tenants::start("iso-market", &[]);
    let file = t.dataset("victim", "m.db");
    let datasource =
        ok(&t.root("POST", "/workgroups/victim/datasources", Some(sqlite("mds", &file))))["id"].as_i64().expect("id");
    let api = ok(&t.root(
        "POST",
        "/workgroups/victim/apis",
        Some(json!({"name": "secret_api", "path": "/secret", "visibleRange": "public",
                    "draft": {"datasourceId": datasource, "mode": "script", "sql": "SELECT 1 AS one"}})),
    ))["id"]
        .as_i64()
        .expect("id");
    ok(&t.root("POST", &format!("/workgroups/victim/apis/{api}/versions"), Some(json!({}))));
    ok(&t.root(
        "POST",
        &format!("/workgroups/victim/apis/{api}/publish"),
        Some(json!({"version": 0, "environment": "prod"})),
    ));
    let listing = json!({"summary": "VICTIM_MARK", "category": "hidden"});
    ok(&t.root("PUT", &format!("/workgroups/victim/apis/{api}/listing"), Some(listing)));
    let request = t.root("POST", &format!("/workgroups/victim/apis/{api}/listing/submit"), None);
    assert_eq!(request.status, 202, "{}", Tenants::text(&request));
    let request = request.json()["data"]["id"].as_i64().expect("request id");

    for path in [
        "/marketplace/apis",
        "/marketplace/apis?q=secret",
        "/marketplace/apis?category=hidden",
        "/approvals",
        "/approvals?box=mine",
    ] {
        let page = ok(&t.dev("GET", path, None));
        assert_eq!(page["total"], 0, "{path}: {page}");
    }
    let document = t.dev("GET", "/marketplace/openapi.json", None);
    assert!(!Tenants::text(&document).contains("/secret"), "{}", Tenants::text(&document));
    for path in [
        format!("/marketplace/apis/{api}"),
        format!("/approvals/{request}"),
        "/workgroups/victim/applications".to_owned(),
        format!("/workgroups/victim/apis/{api}/listing"),
    ] {
        let response = t.dev("GET", &path, None);
        assert_eq!(response.status, 404, "{path}: {}", Tenants::text(&response));
        assert!(!Tenants::text(&response).contains("VICTIM_MARK"), "{path}");
    }
    for verb in ["approve", "reject", "withdraw"] {
        let response = t.dev("POST", &format!("/approvals/{request}/{verb}"), Some(json!({"comment": "mine now"})));
        assert_eq!(response.status, 404, "{verb}: {}", Tenants::text(&response));
    }
    assert_eq!(ok(&t.root("GET", &format!("/approvals/{request}"), None))["state"], "pending");
}
