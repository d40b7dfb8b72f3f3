//! The management routes for datasources, folders, workgroup settings and the audit log,
//! against the real binary: passwords are write-only, connection tests say only which kind of
//! failure, datasources reach only what the access policy admits (never the store), another
//! workgroup's ids answer 404 and change nothing, the folder rules hold, and every write leaves
//! an audit entry without secrets. Also the console's schema reads (tables and columns on
//! SQLite, PostgreSQL and MariaDB; missing and hostile table names; datasources that cannot be
//! read) and a script template's parameters.

mod support;

use serde_json::{Value, json};
use support::{Response, Server, free_port, request};

const ROOT: &str = "slc_datasources_bootstrap_token_0123456789";
const PASSWORD: &str = "Pw-never-shown-7f3a91";

/// The databases of these tests run on loopback, which the operator allows here.
fn start(tag: &str) -> Server {
    Server::start(tag, &[("SLUICE_ADMIN_TOKEN", ROOT), ("SLUICE_DEMO", "false"), ("SLUICE_SSRF_ALLOW", "127.0.0.1")])
}

fn call(server: &Server, method: &str, path: &str, token: &str, body: Option<Value>) -> Response {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    if !bytes.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    request(server.admin, method, &format!("/admin/v1{path}"), &headers, bytes.as_bytes())
}

fn text(response: &Response) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// A call as the platform admin that must answer `status`; returns `data`.
fn expect(server: &Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    let response = call(server, method, path, ROOT, body);
    assert_eq!(response.status, status, "{method} {path}: {}", text(&response));
    assert!(!text(&response).contains(PASSWORD), "{method} {path} showed the password: {}", text(&response));
    response.json()["data"].clone()
}

/// A refusal: its status and the field it names.
fn refused(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let response = call(server, method, path, ROOT, body);
    (response.status, response.json()["field"].clone())
}

fn workgroups(server: &Server, names: &[&str]) {
    for name in names {
        expect(server, "POST", "/workgroups", Some(json!({"name": name})), 201);
    }
}

fn sqlite_body(name: &str, file: &str) -> Value {
    json!({"name": name, "kind": "sqlite", "connection": {"database": file}})
}

/// An empty file in the workgroup's dataset directory (SQLite opens it as an empty database);
/// returns the name a datasource gives it.
fn empty_sqlite_file(server: &Server, workgroup: &str, name: &str) -> String {
    std::fs::write(support::dataset_file(server, workgroup, name), b"").expect("empty SQLite file");
    name.to_owned()
}

fn create(server: &Server, workgroup: &str, body: Value) -> i64 {
    let created = expect(server, "POST", &format!("/workgroups/{workgroup}/datasources"), Some(body), 201);
    created["id"].as_i64().expect("datasource id")
}

fn test_connection(server: &Server, workgroup: &str, id: i64) -> (bool, String) {
    let outcome = expect(server, "POST", &format!("/workgroups/{workgroup}/datasources/{id}/test"), None, 200);
    (outcome["ok"].as_bool().expect("ok"), outcome["message"].as_str().expect("message").to_owned())
}

fn folder(server: &Server, name: &str, parent: Option<i64>) -> i64 {
    let created =
        expect(server, "POST", "/workgroups/team/folders", Some(json!({"name": name, "parentId": parent})), 201);
    created["id"].as_i64().expect("folder id")
}

/// Every folder of `team` as (id → (name, parent)).
fn tree(server: &Server) -> std::collections::BTreeMap<i64, (String, Option<i64>)> {
    let listed = expect(server, "GET", "/workgroups/team/folders?pageSize=500", None, 200);
    listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|f| {
            let id = f["id"].as_i64().expect("id");
            (id, (f["name"].as_str().expect("name").to_owned(), f["parentId"].as_i64()))
        })
        .collect()
}

/// An API of `workgroup` over datasource `ds`; returns its id.
fn api(server: &Server, workgroup: &str, ds: i64, name: &str) -> i64 {
    let body = json!({
        "name": name,
        "path": format!("/{name}"),
        "draft": {
            "datasourceId": ds, "mode": "wizard", "table": "items",
            "responseFields": [{"name": "id", "type": "int"}]
        }
    });
    let created = expect(server, "POST", &format!("/workgroups/{workgroup}/apis"), Some(body), 201);
    created["id"].as_i64().expect("api id")
}

fn api_folder(server: &Server, workgroup: &str, id: i64) -> Option<i64> {
    expect(server, "GET", &format!("/workgroups/{workgroup}/apis/{id}"), None, 200)["folderId"].as_i64()
}

#[test]
fn datasource_crud_round_trip_never_returns_the_password() {
    let server = start("ds-crud");
    workgroups(&server, &["team"]);
    let body = json!({
        "name": "warehouse", "kind": "postgres", "description": "the warehouse",
        "connection": {"host": "127.0.0.1", "port": 5432, "database": "test", "username": "postgres",
                       "password": PASSWORD, "poolSize": 4}
    });
    let created = expect(&server, "POST", "/workgroups/team/datasources", Some(body.clone()), 201);
    let id = created["id"].as_i64().expect("id");
    assert_eq!((created["name"].as_str(), created["kind"].as_str()), (Some("warehouse"), Some("postgres")));
    assert_eq!(created["connection"]["poolSize"], 4);
    assert!(created["connection"].get("password").is_none(), "{created}");

    let path = format!("/workgroups/team/datasources/{id}");
    let read = expect(&server, "GET", &path, None, 200);
    assert_eq!(read, created);
    let listed = expect(&server, "GET", "/workgroups/team/datasources", None, 200);
    assert_eq!((listed["total"].as_u64(), listed["items"][0].clone()), (Some(1), created.clone()));

    let (status, field) = refused(&server, "POST", "/workgroups/team/datasources", Some(body.clone()));
    assert_eq!((status, field), (409, Value::Null), "a second `warehouse`");
    for (bad, field) in [
        (json!({"name": " ", "kind": "sqlite", "connection": {"database": "x.db"}}), "name"),
        (json!({"name": "n", "kind": "oracle", "connection": {"host": "h"}}), "kind"),
        (json!({"name": "n", "kind": "sqlite", "connection": {}}), "connection.database"),
        (json!({"name": "n", "kind": "mysql", "connection": {"database": "d"}}), "connection.host"),
        (json!({"name": "n", "kind": "sqlite", "connection": {"database": "d", "poolSize": 0}}), "connection.poolSize"),
    ] {
        let (status, named) = refused(&server, "POST", "/workgroups/team/datasources", Some(bad.clone()));
        assert_eq!((status, named.as_str()), (400, Some(field)), "{bad}");
    }

    let mut edited = body.clone();
    edited["description"] = json!("renamed");
    edited["name"] = json!("warehouse2");
    edited["connection"].as_object_mut().expect("connection").remove("password");
    let updated = expect(&server, "PUT", &path, Some(edited), 200);
    assert_eq!((updated["name"].as_str(), updated["description"].as_str()), (Some("warehouse2"), Some("renamed")));
    assert!(updated["connection"].get("password").is_none(), "{updated}");
    assert_eq!(expect(&server, "GET", &path, None, 200), updated);

    expect(&server, "DELETE", &path, None, 200);
    assert_eq!(call(&server, "GET", &path, ROOT, None).status, 404);
    assert_eq!(call(&server, "DELETE", &path, ROOT, None).status, 404);
    assert_eq!(call(&server, "GET", "/workgroups/team/datasources/not-a-number", ROOT, None).status, 404);

    // A datasource an API reads from cannot be deleted.
    let file = empty_sqlite_file(&server, "team", "used.db");
    let used = create(&server, "team", sqlite_body("used", &file));
    api(&server, "team", used, "reader");
    let response = call(&server, "DELETE", &format!("/workgroups/team/datasources/{used}"), ROOT, None);
    assert_eq!(response.status, 409, "{}", text(&response));
    assert!(text(&response).contains("reader"), "{}", text(&response));
}

/// A MariaDB user with a password: PostgreSQL here trusts loopback, so only MariaDB checks one.
fn mariadb_user_with_password() -> &'static str {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        use sqlx::{AssertSqlSafe, Connection, Executor};
        let mut conn =
            sqlx::MySqlConnection::connect("mysql://root@127.0.0.1:3306/mysql").await.expect("MariaDB as root");
        for statement in [
            format!("CREATE USER IF NOT EXISTS 'sluice_ds_pw'@'%' IDENTIFIED BY '{PASSWORD}'"),
            format!("ALTER USER 'sluice_ds_pw'@'%' IDENTIFIED BY '{PASSWORD}'"),
        ] {
            conn.execute(AssertSqlSafe(statement)).await.expect("create user");
        }
        conn.close().await.expect("close");
    });
    "sluice_ds_pw"
}

#[test]
fn put_without_a_password_keeps_it_and_with_one_replaces_it() {
    let user = mariadb_user_with_password();
    let server = start("ds-password");
    workgroups(&server, &["team"]);
    let body = |password: Option<&str>, description: &str| {
        let mut connection =
            json!({"host": "127.0.0.1", "port": 3306, "database": "information_schema", "username": user});
        if let Some(password) = password {
            connection["password"] = json!(password);
        }
        json!({"name": "maria", "kind": "mysql", "description": description, "connection": connection})
    };
    let id = create(&server, "team", body(Some(PASSWORD), "first"));
    let path = format!("/workgroups/team/datasources/{id}");
    assert_eq!(test_connection(&server, "team", id), (true, "connected and ran SELECT 1".to_owned()));

    expect(&server, "PUT", &path, Some(body(None, "kept")), 200);
    let (ok, message) = test_connection(&server, "team", id);
    assert!(ok, "the stored password was lost by a PUT without one: {message}");

    expect(&server, "PUT", &path, Some(body(Some("wrong-password"), "replaced")), 200);
    let (ok, message) = test_connection(&server, "team", id);
    assert_eq!((ok, message.as_str()), (false, "authentication failed"), "a replaced password still connects");

    expect(&server, "PUT", &path, Some(body(Some(PASSWORD), "restored")), 200);
    assert!(test_connection(&server, "team", id).0, "the restored password");
    // A misspelt password key is refused rather than silently keeping the old one.
    let mut typo = body(None, "typo");
    typo["connection"]["passwrd"] = json!("x");
    let refused = call(&server, "PUT", &path, ROOT, Some(typo));
    let answer = refused.json();
    assert_eq!(refused.status, 400, "{answer}");
    assert!(answer["code"].as_str().is_some_and(|c| c.starts_with("InvalidParameter.connection")), "{answer}");
    assert!(answer["message"].as_str().is_some_and(|m| m.contains("passwrd")), "{answer}");
}

#[test]
fn connection_test_reports_success_or_only_the_kind_of_failure() {
    let server = start("ds-test");
    workgroups(&server, &["team"]);
    let postgres = create(
        &server,
        "team",
        json!({"name": "pg", "kind": "postgres",
               "connection": {"host": "127.0.0.1", "port": 5432, "database": "test", "username": "postgres"}}),
    );
    assert_eq!(test_connection(&server, "team", postgres), (true, "connected and ran SELECT 1".to_owned()));
    let file = empty_sqlite_file(&server, "team", "real.db");
    let sqlite = create(&server, "team", sqlite_body("lite", &file));
    assert!(test_connection(&server, "team", sqlite).0);

    let closed = free_port().port();
    let unreachable = create(
        &server,
        "team",
        json!({"name": "closed", "kind": "postgres",
               "connection": {"host": "127.0.0.1", "port": closed, "database": "test", "username": "postgres",
                              "password": PASSWORD}}),
    );
    assert_eq!(test_connection(&server, "team", unreachable), (false, "cannot connect".to_owned()), "a closed port");
    let missing = create(&server, "team", sqlite_body("missing", "none.db"));
    assert_eq!(test_connection(&server, "team", missing), (false, "cannot connect".to_owned()), "a missing file");
}

#[test]
fn ids_of_another_workgroup_answer_404_and_change_nothing() {
    let server = start("ds-swap");
    workgroups(&server, &["team", "other"]);
    // A member of both workgroups: the workgroup guard lets it through on either path, so
    // only the handlers' own checks stand between the paths and the other team's objects.
    expect(&server, "POST", "/users", Some(json!({"name": "both"})), 201);
    for workgroup in ["team", "other"] {
        expect(&server, "PUT", &format!("/workgroups/{workgroup}/members/both"), Some(json!({"role": "admin"})), 200);
    }
    let issued = expect(&server, "POST", "/users/both/tokens", Some(json!({"name": "t"})), 201);
    let both = issued["token"].as_str().expect("token").to_owned();

    let file = empty_sqlite_file(&server, "other", "theirs.db");
    let their_ds = create(&server, "other", sqlite_body("theirs", &file));
    let their_folder = expect(&server, "POST", "/workgroups/other/folders", Some(json!({"name": "theirs"})), 201)["id"]
        .as_i64()
        .expect("folder");
    let their_api = api(&server, "other", their_ds, "theirapi");
    let our_file = empty_sqlite_file(&server, "team", "ours.db");
    let our_ds = create(&server, "team", sqlite_body("ours", &our_file));
    let our_folder = folder(&server, "ours", None);
    let our_api = api(&server, "team", our_ds, "ourapi");

    let snapshot = |server: &Server| {
        (
            expect(server, "GET", &format!("/workgroups/other/datasources/{their_ds}"), None, 200),
            expect(server, "GET", "/workgroups/other/folders", None, 200)["items"].clone(),
            expect(server, "GET", &format!("/workgroups/other/apis/{their_api}"), None, 200)["folderId"].clone(),
            expect(server, "GET", "/workgroups/team/folders", None, 200)["items"].clone(),
            api_folder(server, "team", our_api),
        )
    };
    let before = snapshot(&server);
    let ds_body = sqlite_body("hijacked", "hijacked.db");
    let swapped: Vec<(&str, String, Option<Value>, &str)> = vec![
        ("GET", format!("/workgroups/team/datasources/{their_ds}"), None, "datasource"),
        ("PUT", format!("/workgroups/team/datasources/{their_ds}"), Some(ds_body), "datasource"),
        ("DELETE", format!("/workgroups/team/datasources/{their_ds}"), None, "datasource"),
        ("POST", format!("/workgroups/team/datasources/{their_ds}/test"), None, "datasource"),
        ("GET", format!("/workgroups/team/datasources/{their_ds}/tables"), None, "datasource"),
        ("GET", format!("/workgroups/team/datasources/{their_ds}/tables/t/columns"), None, "datasource"),
        ("PATCH", format!("/workgroups/team/folders/{their_folder}"), Some(json!({"name": "hijacked"})), "folder"),
        ("DELETE", format!("/workgroups/team/folders/{their_folder}"), None, "folder"),
        ("PUT", format!("/workgroups/team/apis/{their_api}/folder"), Some(json!({"folderId": our_folder})), "API"),
        // Our objects pointing at theirs through the body.
        ("PUT", format!("/workgroups/team/apis/{our_api}/folder"), Some(json!({"folderId": their_folder})), "folder"),
        ("PATCH", format!("/workgroups/team/folders/{our_folder}"), Some(json!({"parentId": their_folder})), "folder"),
        ("POST", "/workgroups/team/folders".to_owned(), Some(json!({"name": "x", "parentId": their_folder})), "folder"),
    ];
    for token in [ROOT, both.as_str()] {
        for (method, path, body, what) in &swapped {
            let response = call(&server, method, path, token, body.clone());
            assert_eq!(response.status, 404, "{method} {path}: {}", text(&response));
            let message = response.json()["message"].as_str().expect("message").to_owned();
            let id = if *what == "API" {
                their_api
            } else if *what == "folder" {
                their_folder
            } else {
                their_ds
            };
            assert_eq!(message, format!("{what} `{id}` does not exist"), "{method} {path}: like a missing one");
        }
    }
    // A missing id answers the same way.
    let response = call(&server, "GET", "/workgroups/team/datasources/999999", ROOT, None);
    assert_eq!(
        (response.status, response.json()["message"].clone()),
        (404, json!("datasource `999999` does not exist"))
    );
    assert_eq!(snapshot(&server), before, "a swapped id changed another team's objects");
    let listed = expect(&server, "GET", "/workgroups/team/datasources", None, 200);
    assert_eq!(listed["total"], 1, "{listed}");
}

#[test]
fn folders_nest_three_levels_with_unique_sibling_names() {
    let server = start("ds-folders");
    workgroups(&server, &["team"]);
    let a = folder(&server, "a", None);
    let b = folder(&server, "b", Some(a));
    let c = folder(&server, " c ", Some(b));
    assert_eq!(tree(&server)[&c], ("c".to_owned(), Some(b)), "names are stored trimmed");

    let post = |body: Value| refused(&server, "POST", "/workgroups/team/folders", Some(body));
    assert_eq!(post(json!({"name": "d", "parentId": c})), (400, json!("parentId")), "a fourth level");
    assert_eq!(post(json!({"name": "b", "parentId": a})).0, 409, "a duplicate sibling");
    assert_eq!(post(json!({"name": "B", "parentId": a})).0, 201, "names compare case-sensitively");
    assert_eq!(post(json!({"name": "x/y"})), (400, json!("name")));
    assert_eq!(post(json!({"name": "   "})), (400, json!("name")));
    assert_eq!(post(json!({"name": "z".repeat(65)})), (400, json!("name")));
    assert_eq!(post(json!({"name": "m", "parentId": 999_999})), (404, json!("parentId")));

    let patch = |id: i64, body: Value| refused(&server, "PATCH", &format!("/workgroups/team/folders/{id}"), Some(body));
    // Rename; a sibling's name is refused.
    expect(&server, "PATCH", &format!("/workgroups/team/folders/{c}"), Some(json!({"name": "c2"})), 200);
    assert_eq!(tree(&server)[&c], ("c2".to_owned(), Some(b)));
    assert_eq!(patch(b, json!({"name": "B"})).0, 409);
    assert_eq!(patch(b, json!({"name": "a/b"})), (400, json!("name")));
    assert_eq!(patch(b, json!({})), (400, json!("name")), "nothing to change");

    // Moving takes the subtree.
    let x = folder(&server, "x", None);
    expect(&server, "PATCH", &format!("/workgroups/team/folders/{b}"), Some(json!({"parentId": x})), 200);
    let now = tree(&server);
    assert_eq!((now[&b].1, now[&c].1), (Some(x), Some(b)));
    let y = folder(&server, "y", None);
    let z = folder(&server, "z", Some(y));
    assert_eq!(patch(b, json!({"parentId": z})), (400, json!("parentId")), "c2 would be at level four");
    assert_eq!(patch(b, json!({"parentId": c})), (400, json!("parentId")), "into its own subtree");
    // A rename and a move in one call; a clash at the destination changes nothing.
    folder(&server, "taken", None);
    assert_eq!(patch(c, json!({"name": "taken", "parentId": null})).0, 409);
    assert_eq!(tree(&server)[&c], ("c2".to_owned(), Some(b)), "a refused PATCH moved or renamed");
    // `parentId: null` moves to the root; an absent one leaves the folder where it is.
    let moved = expect(
        &server,
        "PATCH",
        &format!("/workgroups/team/folders/{c}"),
        Some(json!({"name": "top", "parentId": null})),
        200,
    );
    assert_eq!((moved["name"].as_str(), moved["parentId"].as_i64()), (Some("top"), None));
    expect(&server, "PATCH", &format!("/workgroups/team/folders/{c}"), Some(json!({"parentId": b})), 200);
    expect(&server, "PATCH", &format!("/workgroups/team/folders/{c}"), Some(json!({"name": "c3"})), 200);
    assert_eq!(tree(&server)[&c], ("c3".to_owned(), Some(b)));

    // An API goes into a folder, and back to the root with null.
    let file = empty_sqlite_file(&server, "team", "items.db");
    let ds = create(&server, "team", sqlite_body("items", &file));
    let api_id = api(&server, "team", ds, "inventory");
    let put = |folder: Value| {
        let path = format!("/workgroups/team/apis/{api_id}/folder");
        expect(&server, "PUT", &path, Some(json!({"folderId": folder})), 200)
    };
    let moved = put(json!(c));
    assert_eq!(moved["folderId"].as_i64(), Some(c));
    assert_eq!(api_folder(&server, "team", api_id), Some(c));
    assert_eq!(put(Value::Null)["folderId"], Value::Null);
    let missing = refused(&server, "PUT", &format!("/workgroups/team/apis/{api_id}/folder"), Some(json!({})));
    assert_eq!(missing, (400, json!("folderId")));
    let nowhere =
        refused(&server, "PUT", &format!("/workgroups/team/apis/{api_id}/folder"), Some(json!({"folderId": 999_999})));
    assert_eq!(nowhere, (404, json!("folderId")));
    put(json!(b));

    // Deleting b moves its folder and its API up, into x.
    expect(&server, "DELETE", &format!("/workgroups/team/folders/{b}"), None, 200);
    let now = tree(&server);
    assert!(!now.contains_key(&b));
    assert_eq!(now[&c], ("c3".to_owned(), Some(x)));
    assert_eq!(api_folder(&server, "team", api_id), Some(x));
    assert_eq!(call(&server, "DELETE", &format!("/workgroups/team/folders/{b}"), ROOT, None).status, 404);
}

#[test]
fn workgroup_settings_and_deletion() {
    let server = start("ds-workgroup");
    workgroups(&server, &["team", "empty"]);
    let updated = expect(&server, "PATCH", "/workgroups/team", Some(json!({"description": "the team"})), 200);
    assert_eq!((updated["name"].as_str(), updated["description"].as_str()), (Some("team"), Some("the team")));
    assert_eq!(expect(&server, "GET", "/workgroups/team", None, 200)["description"], "the team");
    let too_long = json!({"description": "d".repeat(1001)});
    assert_eq!(refused(&server, "PATCH", "/workgroups/team", Some(too_long)), (400, json!("description")));

    create(&server, "team", sqlite_body("keep", "keep.db"));
    let response = call(&server, "DELETE", "/workgroups/team", ROOT, None);
    assert_eq!(response.status, 409, "a workgroup with datasources: {}", text(&response));
    assert!(text(&response).contains("datasources"), "{}", text(&response));
    // Folders go with the workgroup.
    expect(&server, "POST", "/workgroups/empty/folders", Some(json!({"name": "f"})), 201);
    expect(&server, "DELETE", "/workgroups/empty", None, 200);
    assert_eq!(call(&server, "GET", "/workgroups/empty", ROOT, None).status, 404);
    assert_eq!(call(&server, "DELETE", "/workgroups/empty", ROOT, None).status, 404);
}

#[test]
fn every_write_is_audited_without_secrets() {
    let server = start("ds-audit");
    workgroups(&server, &["team", "doomed"]);
    let file = empty_sqlite_file(&server, "team", "a.db");
    let mut body = sqlite_body("audited", &file);
    body["connection"]["password"] = json!(PASSWORD);
    let ds = create(&server, "team", body.clone());
    body["description"] = json!("edited");
    expect(&server, "PUT", &format!("/workgroups/team/datasources/{ds}"), Some(body), 200);
    let f = folder(&server, "f", None);
    let g = folder(&server, "g", None);
    expect(&server, "PATCH", &format!("/workgroups/team/folders/{f}"), Some(json!({"name": "f2"})), 200);
    let other_ds = create(&server, "team", sqlite_body("items", &file));
    let api_id = api(&server, "team", other_ds, "audited_api");
    expect(&server, "PUT", &format!("/workgroups/team/apis/{api_id}/folder"), Some(json!({"folderId": g})), 200);
    expect(&server, "DELETE", &format!("/workgroups/team/folders/{f}"), None, 200);
    expect(&server, "DELETE", &format!("/workgroups/team/datasources/{ds}"), None, 200);
    expect(&server, "PATCH", "/workgroups/team", Some(json!({"description": "audited"})), 200);
    expect(&server, "DELETE", "/workgroups/doomed", None, 200);

    let response = call(&server, "GET", "/workgroups/team/audit?limit=100", ROOT, None);
    assert_eq!(response.status, 200, "{}", text(&response));
    assert!(!text(&response).contains(PASSWORD), "the audit log holds the password: {}", text(&response));
    let items = response.json()["data"]["items"].as_array().expect("items").clone();
    let seen: Vec<(String, String)> = items
        .iter()
        .map(|e| (e["action"].as_str().expect("action").to_owned(), e["target"].as_str().expect("target").to_owned()))
        .collect();
    for (action, target) in [
        ("datasource.create", format!("datasource:{ds}")),
        ("datasource.update", format!("datasource:{ds}")),
        ("datasource.delete", format!("datasource:{ds}")),
        ("folder.create", format!("folder:{f}")),
        ("folder.update", format!("folder:{f}")),
        ("folder.delete", format!("folder:{f}")),
        ("api.move", format!("api:{api_id}")),
        ("workgroup.update", String::new()),
    ] {
        assert!(
            seen.iter().any(|(a, t)| a == action && (target.is_empty() || *t == target)),
            "no {action} {target} in {seen:?}"
        );
    }
    assert!(items.iter().all(|e| e["actor"] == "admin"), "{items:?}");
    assert!(!seen.iter().any(|(a, _)| a == "workgroup.delete"), "another workgroup's entry: {seen:?}");
    let ids: Vec<i64> = items.iter().map(|e| e["id"].as_i64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    // Reading back by cursor: two at a time, no repeats, no gaps.
    let mut paged = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let cursor = before.map(|id| format!("&beforeId={id}")).unwrap_or_default();
        let page = expect(&server, "GET", &format!("/workgroups/team/audit?limit=2{cursor}"), None, 200);
        paged.extend(page["items"].as_array().expect("items").iter().map(|e| e["id"].as_i64().expect("id")));
        match page["nextBeforeId"].as_i64() {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, ids);
    assert_eq!(refused(&server, "GET", "/workgroups/team/audit?limit=0", None), (400, json!("limit")));
    assert_eq!(refused(&server, "GET", "/audit?limit=1001", None), (400, json!("limit")));

    let all = call(&server, "GET", "/audit?limit=1000", ROOT, None);
    assert!(!text(&all).contains(PASSWORD));
    let all = all.json()["data"]["items"].as_array().expect("items").clone();
    assert!(all.iter().any(|e| e["action"] == "workgroup.delete" && e["detail"]["name"] == "doomed"), "{all:?}");
    assert!(all.len() >= items.len());
}

// ---------------------------------------------------------------------------------------------
// Schema reads and template parameters

/// A name no other test run uses, for tables made in the shared `test` databases.
fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{:x}", std::process::id(), rand::random::<u32>())
}

/// Runs `statements` on a database (as its superuser), in order.
fn on_database(url: &str, statements: &[String]) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        for statement in statements {
            conn.execute(AssertSqlSafe(statement.clone())).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        conn.close().await.expect("close");
    });
}

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
const MARIADB: &str = "mysql://root@127.0.0.1:3306/test";

/// Drops what a test made in a shared database, also when the test fails.
struct Cleanup(&'static str, Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        on_database(self.0, &self.1);
    }
}

/// Every table of datasource `id` of `team`, page by page: `(name, kind)`.
fn all_tables(server: &Server, id: i64) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for page in 1.. {
        let path = format!("/workgroups/team/datasources/{id}/tables?pageNum={page}&pageSize=100");
        let listed = expect(server, "GET", &path, None, 200);
        let items = listed["items"].as_array().expect("items");
        found.extend(
            items
                .iter()
                .map(|t| (t["name"].as_str().expect("name").to_owned(), t["kind"].as_str().expect("kind").to_owned())),
        );
        if items.is_empty() || found.len() as u64 >= listed["total"].as_u64().expect("total") {
            break;
        }
    }
    found
}

/// The columns of `table` as `(name, dbType, type, nullable, primaryKey)`.
fn columns(server: &Server, id: i64, table: &str) -> Vec<(String, String, String, bool, bool)> {
    let path = format!("/workgroups/team/datasources/{id}/tables/{}/columns", encode_segment(table));
    let listed = expect(server, "GET", &path, None, 200);
    listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_owned(),
                c["dbType"].as_str().expect("dbType").to_owned(),
                c["type"].as_str().expect("type").to_owned(),
                c["nullable"].as_bool().expect("nullable"),
                c["primaryKey"].as_bool().expect("primaryKey"),
            )
        })
        .collect()
}

/// A path segment with everything but unreserved characters percent-encoded.
fn encode_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `(name, type, nullable, primaryKey)` of each column, for comparing without database types.
fn shapes(columns: &[(String, String, String, bool, bool)]) -> Vec<(&str, &str, bool, bool)> {
    columns.iter().map(|(n, _, t, null, pk)| (n.as_str(), t.as_str(), *null, *pk)).collect()
}

#[test]
fn tables_and_columns_of_sqlite_postgresql_and_mariadb() {
    let server = start("ds-schema");
    workgroups(&server, &["team"]);

    // SQLite: a table and a view; SQLite's own tables are not listed.
    let file = support::dataset_file(&server, "team", "shop.db");
    let sqlite_url = format!("sqlite://{}?mode=rwc", file.display());
    on_database(
        &sqlite_url,
        &[
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer VARCHAR(40) NOT NULL, total NUMERIC(10,2), \
             placed_at DATETIME, paid BOOLEAN, score REAL, note TEXT, extra)"
                .to_owned(),
            "CREATE VIEW paid_orders AS SELECT id, total FROM orders WHERE paid".to_owned(),
            "CREATE TABLE seq (n INTEGER PRIMARY KEY AUTOINCREMENT)".to_owned(), // makes sqlite_sequence
        ],
    );
    let lite = create(&server, "team", sqlite_body("shop", "shop.db"));
    assert_eq!(
        all_tables(&server, lite),
        [("orders", "table"), ("paid_orders", "view"), ("seq", "table")].map(|(n, k)| (n.to_owned(), k.to_owned()))
    );
    let described = columns(&server, lite, "orders");
    assert_eq!(
        shapes(&described),
        [
            ("id", "int", false, true),
            ("customer", "string", false, false),
            ("total", "decimal", true, false),
            ("placed_at", "datetime", true, false),
            ("paid", "bool", true, false),
            ("score", "float", true, false),
            ("note", "string", true, false),
            ("extra", "string", true, false),
        ]
    );
    assert_eq!((described[1].1.as_str(), described[7].1.as_str()), ("VARCHAR(40)", ""));
    assert_eq!(
        shapes(&columns(&server, lite, "paid_orders")),
        [("id", "int", true, false), ("total", "decimal", true, false)]
    );

    // PostgreSQL: the current schema (`public` for `postgres` on `test`), names unqualified.
    let pg_table = unique("sb_orders");
    let pg_view = format!("{pg_table}_v");
    let _pg_cleanup =
        Cleanup(POSTGRES, vec![format!("DROP VIEW IF EXISTS {pg_view}"), format!("DROP TABLE IF EXISTS {pg_table}")]);
    on_database(
        POSTGRES,
        &[
            format!(
                "CREATE TABLE {pg_table} (id bigserial PRIMARY KEY, customer varchar(40) NOT NULL, \
                 total numeric(10,2), placed_at timestamp, placed_on date, paid boolean NOT NULL DEFAULT false, \
                 ratio double precision, meta jsonb, tags text[], code uuid)"
            ),
            format!("CREATE VIEW {pg_view} AS SELECT id, customer FROM {pg_table}"),
        ],
    );
    let pg = create(
        &server,
        "team",
        json!({"name": "pg", "kind": "postgres",
               "connection": {"host": "127.0.0.1", "port": 5432, "database": "test", "username": "postgres"}}),
    );
    let listed = all_tables(&server, pg);
    assert!(listed.contains(&(pg_table.clone(), "table".to_owned())), "{listed:?}");
    assert!(listed.contains(&(pg_view.clone(), "view".to_owned())), "{listed:?}");
    assert!(listed.iter().all(|(name, _)| !name.contains('.') && !name.starts_with("pg_")), "{listed:?}");
    let described = columns(&server, pg, &pg_table);
    assert_eq!(
        shapes(&described),
        [
            ("id", "int", false, true),
            ("customer", "string", false, false),
            ("total", "decimal", true, false),
            ("placed_at", "datetime", true, false),
            ("placed_on", "date", true, false),
            ("paid", "bool", false, false),
            ("ratio", "float", true, false),
            ("meta", "json", true, false),
            ("tags", "string", true, false),
            ("code", "string", true, false),
        ]
    );
    assert_eq!(
        described.iter().map(|c| c.1.as_str()).take(3).collect::<Vec<_>>(),
        ["bigint", "character varying(40)", "numeric(10,2)"]
    );
    assert_eq!(
        shapes(&columns(&server, pg, &pg_view)),
        [("id", "int", true, false), ("customer", "string", true, false)]
    );

    // MariaDB: the connection's database.
    let my_table = unique("sb_items");
    let my_view = format!("{my_table}_v");
    let _my_cleanup =
        Cleanup(MARIADB, vec![format!("DROP VIEW IF EXISTS {my_view}"), format!("DROP TABLE IF EXISTS {my_table}")]);
    on_database(
        MARIADB,
        &[
            format!(
                "CREATE TABLE {my_table} (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, label varchar(20) NOT NULL, \
                 price decimal(8,2), in_stock tinyint(1), added datetime, qty bigint unsigned, doc json, kind enum('a','b'))"
            ),
            format!("CREATE VIEW {my_view} AS SELECT id, label FROM {my_table}"),
        ],
    );
    let maria = create(
        &server,
        "team",
        json!({"name": "maria", "kind": "mysql",
               "connection": {"host": "127.0.0.1", "port": 3306, "database": "test", "username": "root"}}),
    );
    let listed = all_tables(&server, maria);
    assert!(listed.contains(&(my_table.clone(), "table".to_owned())), "{listed:?}");
    assert!(listed.contains(&(my_view.clone(), "view".to_owned())), "{listed:?}");
    let described = columns(&server, maria, &my_table);
    assert_eq!(
        shapes(&described),
        [
            ("id", "int", false, true),
            ("label", "string", false, false),
            ("price", "decimal", true, false),
            ("in_stock", "bool", true, false),
            ("added", "datetime", true, false),
            ("qty", "int", true, false),
            // MariaDB's JSON is LONGTEXT with a check: read as text.
            ("doc", if described[6].1.contains("json") { "json" } else { "string" }, true, false),
            ("kind", "string", true, false),
        ]
    );
    assert_eq!(described[1].1, "varchar(20)");
    assert_eq!(shapes(&columns(&server, maria, &my_view))[1], ("label", "string", false, false));

    // A name that is not there, exactly (case and schema included), is 404 NotFound.Table
    // naming it, on every database; the database's own words never show.
    for (id, name) in [
        (lite, "missing".to_owned()),
        (lite, "ORDERS".to_owned()),
        (lite, "sqlite_sequence".to_owned()),
        (pg, format!("public.{pg_table}")),
        (pg, "pg_class".to_owned()),
        (maria, pg_table.clone()),
    ] {
        let path = format!("/workgroups/team/datasources/{id}/tables/{}/columns", encode_segment(&name));
        let response = call(&server, "GET", &path, ROOT, None);
        let answer = response.json();
        assert_eq!((response.status, answer["code"].as_str()), (404, Some("NotFound.Table")), "{name}: {answer}");
        let message = answer["message"].as_str().expect("message");
        assert!(message.contains(&format!("`{name}`")), "{message}");
    }
    // Hostile names are names that are not there: a clean 404, and nothing ran.
    let long = "a".repeat(10 * 1024);
    for (id, name) in [
        (pg, format!("x\"; DROP TABLE {pg_table}; --")),
        (maria, format!("x`; DROP TABLE {my_table}; --")),
        (lite, "x'); DROP TABLE orders; --".to_owned()),
        (lite, "../etc".to_owned()),
        (lite, "../../sluice.db".to_owned()),
        (pg, "\u{0}".to_owned()),
        (maria, long.clone()),
        (pg, long.clone()),
    ] {
        let path = format!("/workgroups/team/datasources/{id}/tables/{}/columns", encode_segment(&name));
        let response = call(&server, "GET", &path, ROOT, None);
        let answer = response.json();
        assert_eq!((response.status, answer["code"].as_str()), (404, Some("NotFound.Table")), "{answer}");
        let message = answer["message"].as_str().expect("message");
        assert!(message.len() < 400, "the refusal repeats a long name whole: {} bytes", message.len());
        for leak in ["syntax", "SQLSTATE", "ERROR", "sqlx", "relation"] {
            assert!(!message.contains(leak), "{message}");
        }
    }
    assert_eq!(columns(&server, pg, &pg_table).len(), 10, "the PostgreSQL table is still there");
    assert_eq!(columns(&server, maria, &my_table).len(), 8, "the MariaDB table is still there");
    assert_eq!(columns(&server, lite, "orders").len(), 8, "the SQLite table is still there");
}

#[test]
fn a_datasource_that_cannot_be_read_says_only_what_its_connection_test_says() {
    let server = start("ds-schema-down");
    workgroups(&server, &["team"]);
    let closed = free_port().port();
    let unreachable = create(
        &server,
        "team",
        json!({"name": "closed", "kind": "postgres",
               "connection": {"host": "127.0.0.1", "port": closed, "database": "test", "username": "postgres",
                              "password": PASSWORD}}),
    );
    let missing = create(&server, "team", sqlite_body("missing", "none.db"));
    let wrong_db = create(
        &server,
        "team",
        json!({"name": "nodb", "kind": "mysql",
               "connection": {"host": "127.0.0.1", "port": 3306, "database": "sluice_no_such_db", "username": "root"}}),
    );
    for id in [unreachable, missing, wrong_db] {
        for path in [
            format!("/workgroups/team/datasources/{id}/tables"),
            format!("/workgroups/team/datasources/{id}/tables/orders/columns"),
        ] {
            let response = call(&server, "GET", &path, ROOT, None);
            let answer = response.json();
            assert_eq!(
                (response.status, answer["code"].as_str(), answer["message"].as_str()),
                (503, Some("Unavailable.Datasource"), Some("the datasource's schema cannot be read: cannot connect")),
                "{path}: {answer}"
            );
        }
    }
    // Not a datasource at all: 404 as for any id.
    for id in ["999999", "abc"] {
        let response = call(&server, "GET", &format!("/workgroups/team/datasources/{id}/tables"), ROOT, None);
        assert_eq!((response.status, response.json()["code"].as_str()), (404, Some("NotFound")), "{id}");
    }
}

#[test]
fn a_script_templates_parameters_are_listed_and_a_broken_one_is_refused_with_its_position() {
    let server = start("ds-parameters");
    workgroups(&server, &["team"]);
    let path = "/workgroups/team/sql/parameters";
    let template = "<select>\n  SELECT * FROM orders\n  <where>\n    <if test=\"status != null\">status = #{status}</if>\n\
                    <if test=\"ids != null and ids.size() > 0\">AND id IN\n\
                      <foreach collection=\"ids\" item=\"id\" open=\"(\" separator=\",\" close=\")\">#{id}</foreach>\n\
                    </if>\n  </where>\n  ORDER BY ${sortBy}\n  LIMIT #{limit}\n</select>";
    for body in [json!({"sql": template}), json!({"mode": "script", "sql": template})] {
        let found = expect(&server, "POST", path, Some(body), 200);
        assert_eq!(
            found,
            json!([
                {"name": "status", "type": "string", "list": false},
                {"name": "ids", "type": "string", "list": true},
                {"name": "sortBy", "type": "identifier", "list": false},
                {"name": "limit", "type": "string", "list": false},
            ])
        );
    }
    assert_eq!(expect(&server, "POST", path, Some(json!({"sql": "SELECT 1 AS one"})), 200), json!([]));

    let broken = "SELECT *\nFROM orders\nWHERE <if test=\"status ==\">status = #{status}</if>";
    let response = call(&server, "POST", path, ROOT, Some(json!({"sql": broken})));
    let answer = response.json();
    assert_eq!(
        (response.status, answer["code"].as_str(), answer["field"].as_str()),
        (400, Some("InvalidParameter.sql"), Some("sql")),
        "{answer}"
    );
    let message = answer["message"].as_str().expect("message");
    assert!(message.starts_with("line 3, column "), "{message}");
    let unclosed = call(&server, "POST", path, ROOT, Some(json!({"sql": "SELECT * FROM t WHERE a = #{a"})));
    assert_eq!((unclosed.status, unclosed.json()["code"].as_str()), (400, Some("InvalidParameter.sql")));

    for mode in ["native", "wizard"] {
        let response = call(&server, "POST", path, ROOT, Some(json!({"mode": mode, "sql": "SELECT 1"})));
        let answer = response.json();
        assert_eq!((response.status, answer["code"].as_str()), (400, Some("InvalidParameter.mode")), "{answer}");
    }
    for (body, field) in [(json!({"mode": "mybatis", "sql": "SELECT 1"}), "mode"), (json!({}), "sql")] {
        assert_eq!(refused(&server, "POST", path, Some(body)), (400, json!(field)));
    }
}
