//! Apps, app secrets, app tokens, grants, gray strategies and an app's OpenAPI document over the
//! management API, through the real binary: secrets and token texts shown once and never read
//! back (nor audited), rotation with an overlap, token revocation seen by the store's caller
//! directory, grants under the private/public and clearance rules given by workgroup admins
//! only, other workgroups' ids swapped into paths (404), gray strategy validation, and the app
//! document's filtering by grant, publication and clearance (checked by openapi-spec-validator).
//!
//! Datasources are written straight into the server's store (their routes are another area's);
//! everything else goes through REST.

mod support;

use std::path::Path;
use std::time::Duration;

use catalog::model::{AuditEntry, ConnectionSettings, Datasource, DatasourceKind};
use catalog::now_ms;
use catalog::secret::SecretBox;
use catalog::store::{Store, hash_token};
use serde_json::{Value, json};
use support::{Response, Server, call, ok, refused};

const ROOT: &str = "slc_admin_apps_bootstrap_token_0123456789";

struct Fixture {
    server: Server,
    key: String,
    /// A developer of `team`.
    dev: String,
    /// A viewer of `team`.
    viewer: String,
    /// An admin of `team`.
    lead: String,
    /// Datasources of `team` (two, over the same file) and of `other`.
    ds: i64,
    ds2: i64,
    other_ds: i64,
    team_id: i64,
    other_id: i64,
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
        let mut tokens = Vec::new();
        for (user, role) in [("dev", "developer"), ("viewer", "viewer"), ("lead", "admin")] {
            ok(&call(&server, "POST", "/users", Some(ROOT), Some(json!({"name": user}))));
            ok(&call(
                &server,
                "PUT",
                &format!("/workgroups/team/members/{user}"),
                Some(ROOT),
                Some(json!({"role": role})),
            ));
            let issued =
                ok(&call(&server, "POST", &format!("/users/{user}/tokens"), Some(ROOT), Some(json!({"name": "t"}))));
            tokens.push(issued["token"].as_str().expect("token").to_owned());
        }
        let file = support::dataset_file(&server, "team", "items.db");
        let other_file = support::dataset_file(&server, "other", "items.db");
        let (ds, ds2, other_ds, team_id, other_id) = runtime().block_on(async {
            make_items_db(&file).await;
            make_items_db(&other_file).await;
            let store = open_store(&server, &key).await;
            let team = store.workgroup_by_name("team").await.expect("team");
            let other = store.workgroup_by_name("other").await.expect("other");
            let ds = store.create_datasource(&sqlite_ds(team.id, "items", &file)).await.expect("datasource");
            let ds2 = store.create_datasource(&sqlite_ds(team.id, "items_again", &file)).await.expect("datasource");
            let other_ds =
                store.create_datasource(&sqlite_ds(other.id, "items", &other_file)).await.expect("datasource");
            store.close().await;
            (ds.id, ds2.id, other_ds.id, team.id, other.id)
        });
        let [dev, viewer, lead] = <[String; 3]>::try_from(tokens).expect("three tokens");
        Fixture { server, key, dev, viewer, lead, ds, ds2, other_ds, team_id, other_id }
    }

    fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Response {
        call(&self.server, method, path, Some(token), body)
    }

    fn dev(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        self.call(&self.dev, method, path, body)
    }

    fn lead(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        self.call(&self.lead, method, path, body)
    }

    fn root(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        self.call(ROOT, method, path, body)
    }

    /// Runs `f` on the server's store, opened beside it.
    fn with_store<T>(&self, f: impl AsyncFnOnce(&Store) -> T) -> T {
        runtime().block_on(async {
            let store = open_store(&self.server, &self.key).await;
            let out = f(&store).await;
            store.close().await;
            out
        })
    }

    fn audit(&self, workgroup_id: i64) -> Vec<AuditEntry> {
        self.with_store(async |store| store.audit_log(Some(workgroup_id), 1000, None).await.expect("audit log"))
    }

    /// A new app of `workgroup` made by the platform admin: (id, secret).
    fn app(&self, workgroup: &str, name: &str, clearance: &str) -> (i64, String) {
        let body = json!({"name": name, "clearance": clearance});
        let created = ok(&self.root("POST", &format!("/workgroups/{workgroup}/apps"), Some(body)));
        (created["id"].as_i64().expect("id"), created["secret"].as_str().expect("secret").to_owned())
    }

    /// A new API of `workgroup` over `ds` with `settings` (securityLevel, visibleRange, …) and
    /// `draft` changes, V0 saved and published to `env` when given: its id.
    fn api(&self, workgroup: &str, name: &str, ds: i64, settings: Value, env: Option<&str>) -> i64 {
        let mut body = json!({"name": name, "path": format!("/{name}"), "draft": wizard(ds)});
        for (key, value) in settings.as_object().expect("settings") {
            body[key] = value.clone();
        }
        let created = ok(&self.root("POST", &format!("/workgroups/{workgroup}/apis"), Some(body)));
        let id = created["id"].as_i64().expect("id");
        ok(&self.root("POST", &format!("/workgroups/{workgroup}/apis/{id}/versions"), None));
        if let Some(env) = env {
            let publish = json!({"version": 0, "environment": env});
            ok(&self.root("POST", &format!("/workgroups/{workgroup}/apis/{id}/publish"), Some(publish)));
        }
        id
    }
}

async fn open_store(server: &Server, key: &str) -> Store {
    let url = format!("sqlite://{}", server.data_dir.join("sluice.db").display());
    Store::open(&url, SecretBox::from_key_text(key).expect("key")).await.expect("store")
}

async fn make_items_db(file: &Path) {
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

fn sqlite_ds(workgroup_id: i64, name: &str, file: &Path) -> Datasource {
    Datasource {
        id: 0,
        workgroup_id,
        name: name.to_owned(),
        kind: DatasourceKind::Sqlite,
        description: String::new(),
        connection: ConnectionSettings { database: file.display().to_string(), ..ConnectionSettings::default() },
    }
}

/// A wizard draft over `items` with parameters and fields of several security levels.
fn wizard(ds: i64) -> Value {
    json!({
        "datasourceId": ds, "mode": "wizard", "table": "items",
        "requestParams": [
            {"name": "minPrice", "type": "float", "column": "price", "operator": ">="},
            {"name": "byName", "type": "string", "column": "name", "securityLevel": "L3"}
        ],
        "responseFields": [
            {"name": "id", "type": "int"},
            {"name": "name", "type": "string", "securityLevel": "L2"},
            {"name": "price", "type": "float", "securityLevel": "L4"}
        ]
    })
}

fn text(response: &Response) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

fn names(items: &Value) -> Vec<String> {
    items.as_array().into_iter().flatten().map(|r| r["name"].as_str().unwrap_or_default().to_owned()).collect()
}

/// Every audit entry as text, to look for values that must not be there.
fn audit_text(log: &[AuditEntry]) -> String {
    serde_json::to_string(log).expect("audit JSON")
}

#[test]
fn apps_are_created_listed_updated_and_deleted_and_the_secret_is_shown_once() {
    let fx = Fixture::start("apps-crud");
    let body = json!({
        "name": " mobile ", "description": "the phone app",
        "ipAllow": ["10.0.0.0/8", "2001:DB8::/32", "192.168.1.7"], "clearance": "l3",
    });
    let created = fx.dev("POST", "/workgroups/team/apps", Some(body));
    assert_eq!(created.status, 201, "{}", text(&created));
    let app = created.json()["data"].clone();
    let id = app["id"].as_i64().expect("id");
    let secret = app["secret"].as_str().expect("the secret, once").to_owned();
    assert_eq!(secret.len(), 43, "32 random bytes, URL-safe base64: {secret}");
    assert_eq!((app["name"].as_str(), app["clearance"].as_str()), (Some("mobile"), Some("L3")));
    assert_eq!(app["ipAllow"], json!(["10.0.0.0/8", "2001:db8::/32", "192.168.1.7"]));
    assert_eq!(app["appKey"].as_str().map(str::len), Some(20));
    assert_eq!((app["disabled"].as_bool(), app["workgroupId"].as_i64()), (Some(false), Some(fx.team_id)));
    // The secret shown is the one the store keeps for the edge.
    assert_eq!(fx.with_store(async |s| s.app_secret(id).await.expect("secret")), secret);

    let base = format!("/workgroups/team/apps/{id}");
    let shown = fx.call(&fx.viewer, "GET", &base, None);
    assert_eq!(shown.status, 200);
    assert!(!text(&shown).contains(&secret) && shown.json()["data"].get("secret").is_none(), "{}", text(&shown));
    let web = ok(&fx.dev("POST", "/workgroups/team/apps", Some(json!({"name": "web"}))));
    assert_eq!((web["clearance"].as_str(), web["ipAllow"].clone()), (Some("L1"), json!([])));
    assert_ne!(web["secret"], app["secret"]);
    let list = fx.call(&fx.viewer, "GET", "/workgroups/team/apps", None);
    assert_eq!(names(&list.json()["data"]["items"]), ["mobile", "web"]);
    assert!(!text(&list).contains(&secret));
    let page = ok(&fx.dev("GET", "/workgroups/team/apps?pageSize=1&pageNum=2", None));
    assert_eq!((names(&page["items"]), page["total"].as_u64()), (vec!["web".to_owned()], Some(2)));
    refused(&fx.dev("GET", "/workgroups/team/apps?pageSize=0", None), 400, Some("pageSize"));
    refused(&fx.dev("POST", "/workgroups/team/apps", Some(json!({"name": "mobile"}))), 409, None);
    // Another workgroup may use the same name.
    ok(&fx.root("POST", "/workgroups/other/apps", Some(json!({"name": "mobile"}))));

    // Bad input names the field.
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"name": "x", "clearance": "L5"}), "clearance"),
        (json!({"name": "x", "ipAllow": "10.0.0.0/8"}), "ipAllow"),
        (json!({"name": "x", "ipAllow": ["10.0.0.0/8", "10.0.0.0/33"]}), "ipAllow[1]"),
        (json!({"name": "x", "ipAllow": ["10.1.0.0/8"]}), "ipAllow[0]"),
        (json!({"name": "x", "ipAllow": ["example.com"]}), "ipAllow[0]"),
        (json!({"name": "x", "ipAllow": [1]}), "ipAllow[0]"),
        (json!({"name": "x", "secret": "mine"}), "secret"),
        (json!({"name": "x", "description": "d".repeat(1001)}), "description"),
    ] {
        refused(&fx.dev("POST", "/workgroups/team/apps", Some(body.clone())), 400, Some(field));
    }
    refused(&fx.call(&fx.viewer, "POST", "/workgroups/team/apps", Some(json!({"name": "v"}))), 403, None);

    // PUT changes what is sent and keeps the rest.
    let updated = ok(&fx.dev("PUT", &base, Some(json!({"name": "mobile2", "disabled": true, "ipAllow": []}))));
    assert_eq!(
        (updated["name"].as_str(), updated["disabled"].as_bool(), updated["description"].as_str()),
        (Some("mobile2"), Some(true), Some("the phone app"))
    );
    assert_eq!((updated["ipAllow"].clone(), updated["clearance"].as_str()), (json!([]), Some("L3")));
    assert_eq!(updated["appKey"], app["appKey"], "the key never changes");
    let updated = ok(&fx.dev("PUT", &base, Some(json!({"clearance": "L2", "ipAllow": ["::1"], "disabled": false}))));
    assert_eq!((updated["clearance"].as_str(), updated["ipAllow"].clone()), (Some("L2"), json!(["::1"])));
    for (body, field) in [
        (json!({"clearance": "L9"}), "clearance"),
        (json!({"ipAllow": ["10.0.0.0/8", "bad"]}), "ipAllow[1]"),
        (json!({"ipAllow": ["::1", "::1"]}), "ipAllow[1]"),
        (json!({"disabled": "yes"}), "disabled"),
        (json!({"name": null}), "name"),
        (json!({"appKey": "mine"}), "appKey"),
    ] {
        refused(&fx.dev("PUT", &base, Some(body.clone())), 400, Some(field));
    }
    refused(&fx.dev("PUT", &base, Some(json!({"name": "web"}))), 409, None);
    refused(&fx.call(&fx.viewer, "PUT", &base, Some(json!({"description": "v"}))), 403, None);
    assert_eq!(fx.with_store(async |s| s.app_secret(id).await.expect("secret")), secret, "PUT keeps the secret");

    ok(&fx.dev("DELETE", &base, None));
    refused(&fx.dev("GET", &base, None), 404, None);
    refused(&fx.dev("DELETE", &base, None), 404, None);
    assert_eq!(names(&ok(&fx.dev("GET", "/workgroups/team/apps", None))["items"]), ["web"]);

    // Every write is audited under the developer's name, never with a secret.
    let log = fx.audit(fx.team_id);
    let mut actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    actions.reverse();
    assert_eq!(actions, ["app.create", "app.create", "app.update", "app.update", "app.delete"]);
    assert!(log.iter().all(|e| e.actor == "dev"), "{log:?}");
    let first = log.iter().rev().find(|e| e.action == "app.update").expect("update");
    assert_eq!(first.detail["changed"], json!(["name", "ipAllow", "disabled"]));
    let audited = audit_text(&log);
    assert!(!audited.contains(&secret) && !audited.contains(web["secret"].as_str().unwrap()), "{audited}");
}

#[test]
fn secrets_rotate_with_an_overlap_and_are_never_read_back() {
    let fx = Fixture::start("apps-secret");
    let (id, first) = fx.app("team", "mobile", "L1");
    let path = format!("/workgroups/team/apps/{id}/secret");

    let before = now_ms();
    let rotated = fx.dev("POST", &path, None);
    assert_eq!(rotated.status, 200, "{}", text(&rotated));
    let rotated = rotated.json()["data"].clone();
    let second = rotated["secret"].as_str().expect("the new secret, once").to_owned();
    assert_ne!(second, first);
    let until = rotated["previousSecretExpiresAt"].as_i64().expect("the old secret's end");
    assert!((before + 86_400_000..=now_ms() + 86_400_000).contains(&until), "a day by default: {until}");
    // The edge takes both until then.
    let directory = fx.with_store(async |s| s.caller_directory().await.expect("directory"));
    let entry = directory.apps.iter().find(|a| a.app.id == id).expect("app");
    assert_eq!((entry.secret.as_str(), entry.previous_secret.clone()), (second.as_str(), Some((first.clone(), until))));

    let third = ok(&fx.dev("POST", &path, Some(json!({"overlapSecs": 0}))));
    assert!(third["previousSecretExpiresAt"].is_null(), "{third}");
    let third = third["secret"].as_str().expect("secret").to_owned();
    let directory = fx.with_store(async |s| s.caller_directory().await.expect("directory"));
    let entry = directory.apps.iter().find(|a| a.app.id == id).expect("app");
    assert_eq!((entry.secret.as_str(), entry.previous_secret.is_none()), (third.as_str(), true));
    let fourth = ok(&fx.dev("POST", &path, Some(json!({"overlapSecs": 60}))));
    let until = fourth["previousSecretExpiresAt"].as_i64().expect("end");
    assert!((until - now_ms() - 60_000).abs() < 5_000, "{until}");

    for body in [json!({"overlapSecs": -1}), json!({"overlapSecs": 2_592_001}), json!({"overlapSecs": "60"})] {
        refused(&fx.dev("POST", &path, Some(body)), 400, Some("overlapSecs"));
    }
    refused(&fx.dev("POST", &path, Some(json!({"overlap": 5}))), 400, Some("overlap"));
    refused(&fx.call(&fx.viewer, "POST", &path, None), 403, None);

    // No read returns a secret, and no audit entry holds one.
    let secrets = [first, second, third, fourth["secret"].as_str().expect("secret").to_owned()];
    for read in [format!("/workgroups/team/apps/{id}"), "/workgroups/team/apps".to_owned()] {
        let body = text(&fx.dev("GET", &read, None));
        assert!(secrets.iter().all(|s| !body.contains(s.as_str())), "{read}: {body}");
    }
    let log = fx.audit(fx.team_id);
    assert_eq!(log.iter().filter(|e| e.action == "app.secret.rotate").count(), 3);
    let audited = audit_text(&log);
    assert!(secrets.iter().all(|s| !audited.contains(s.as_str())), "{audited}");
    assert!(log.iter().any(|e| e.detail["overlapSecs"] == 86_400), "{audited}");
}

#[test]
fn tokens_are_issued_once_listed_by_prefix_and_revoked() {
    let fx = Fixture::start("apps-tokens");
    let (id, _) = fx.app("team", "mobile", "L1");
    let (other_app, _) = fx.app("team", "web", "L1");
    let tokens = format!("/workgroups/team/apps/{id}/tokens");

    let before = now_ms();
    let issued = fx.dev("POST", &tokens, None);
    assert_eq!(issued.status, 201, "{}", text(&issued));
    let first = issued.json()["data"].clone();
    let first_text = first["token"].as_str().expect("the token, once").to_owned();
    assert!(first_text.starts_with("sat_"), "{first_text}");
    assert!(first_text.starts_with(first["prefix"].as_str().expect("prefix")));
    let expires = first["expiresAt"].as_i64().expect("expiresAt");
    assert!((before + 7_200_000..=now_ms() + 7_200_000).contains(&expires), "two hours by default: {expires}");
    assert_eq!((first["appId"].as_i64(), first["revoked"].as_bool()), (Some(id), Some(false)));
    let second = ok(&fx.dev("POST", &tokens, Some(json!({"ttlSecs": 60}))));
    assert!((second["expiresAt"].as_i64().expect("expiry") - now_ms() - 60_000).abs() < 5_000);
    let second_text = second["token"].as_str().expect("token").to_owned();
    for body in [json!({"ttlSecs": 0}), json!({"ttlSecs": 2_592_001}), json!({"ttlSecs": 1.5})] {
        refused(&fx.dev("POST", &tokens, Some(body)), 400, Some("ttlSecs"));
    }
    refused(&fx.call(&fx.viewer, "POST", &tokens, None), 403, None);

    // Listed newest first, by prefix; the texts never come back.
    let listed = fx.call(&fx.viewer, "GET", &tokens, None);
    let items = listed.json()["data"]["items"].clone();
    let ids: Vec<i64> = items.as_array().expect("items").iter().map(|t| t["id"].as_i64().expect("id")).collect();
    assert_eq!(ids, [second["id"].as_i64().expect("id"), first["id"].as_i64().expect("id")]);
    assert!(items.as_array().expect("items").iter().all(|t| t.get("token").is_none()));
    assert!(!text(&listed).contains(&first_text) && !text(&listed).contains(&second_text));
    // The edge knows the token by its hash.
    let directory = fx.with_store(async |s| s.caller_directory().await.expect("directory"));
    assert!(directory.tokens.iter().any(|t| t.token_hash == hash_token(&first_text) && t.app_id == id));

    let first_id = first["id"].as_i64().expect("id");
    ok(&fx.dev("DELETE", &format!("{tokens}/{first_id}"), None));
    let listed = ok(&fx.dev("GET", &tokens, None));
    let revoked = listed["items"].as_array().expect("items").iter().find(|t| t["id"] == first_id).expect("listed");
    assert_eq!(revoked["revoked"], true);
    let directory = fx.with_store(async |s| s.caller_directory().await.expect("directory"));
    assert!(!directory.tokens.iter().any(|t| t.token_hash == hash_token(&first_text)), "revoked");
    assert!(directory.tokens.iter().any(|t| t.token_hash == hash_token(&second_text)), "the other one stays");

    // Missing, malformed, and another app's token ids are all missing.
    let theirs = ok(&fx.dev("POST", &format!("/workgroups/team/apps/{other_app}/tokens"), None));
    for token_id in ["987654".to_owned(), "abc".to_owned(), theirs["id"].to_string()] {
        refused(&fx.dev("DELETE", &format!("{tokens}/{token_id}"), None), 404, None);
    }
    refused(&fx.call(&fx.viewer, "DELETE", &format!("{tokens}/{}", second["id"]), None), 403, None);

    let log = fx.audit(fx.team_id);
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).filter(|a| a.starts_with("app.token")).collect();
    assert_eq!(actions, ["app.token.issue", "app.token.revoke", "app.token.issue", "app.token.issue"]);
    let audited = audit_text(&log);
    for token in [first_text.as_str(), second_text.as_str(), theirs["token"].as_str().expect("token")] {
        assert!(!audited.contains(token), "{audited}");
    }
}

#[test]
fn grants_follow_visible_range_and_clearance_and_need_a_workgroup_admin() {
    let fx = Fixture::start("apps-grants");
    let private = fx.api("team", "private_items", fx.ds, json!({}), Some("prod"));
    let public = fx.api("team", "public_items", fx.ds, json!({"visibleRange": "public", "securityLevel": "L3"}), None);
    let (ours, _) = fx.app("team", "ours", "L1");
    let (theirs, _) = fx.app("other", "theirs", "L3");
    let (theirs_low, _) = fx.app("other", "theirs_low", "L1");
    let grants = |api: i64| format!("/workgroups/team/apis/{api}/grants");

    // Only the API's workgroup admins approve.
    refused(&fx.dev("POST", &grants(private), Some(json!({"appId": ours}))), 403, None);
    refused(&fx.call(&fx.viewer, "POST", &grants(private), Some(json!({"appId": ours}))), 403, None);
    let created = fx.lead("POST", &grants(private), Some(json!({"appId": ours})));
    assert_eq!(created.status, 201, "{}", text(&created));
    let grant = created.json()["data"].clone();
    assert_eq!((grant["apiId"].as_i64(), grant["appId"].as_i64()), (Some(private), Some(ours)));
    assert_eq!(
        (grant["createdBy"].as_str(), grant["qps"].clone(), grant["expired"].as_bool()),
        (Some("lead"), Value::Null, Some(false))
    );
    assert_eq!(grant["app"], json!({"id": ours, "name": "ours", "workgroup": "team"}));
    // Granting again replaces expiry and QPS.
    let until = now_ms() + 3_600_000;
    let replaced = fx.lead("POST", &grants(private), Some(json!({"appId": ours, "qps": 5, "expiresAt": until})));
    assert_eq!(replaced.status, 200, "{}", text(&replaced));
    let listed = ok(&fx.call(&fx.viewer, "GET", &grants(private), None));
    assert_eq!(listed["total"], 1);
    assert_eq!((listed["items"][0]["qps"].as_i64(), listed["items"][0]["expiresAt"].as_i64()), (Some(5), Some(until)));

    // A private API is for its own workgroup's apps; a public one for any app cleared for it.
    let body = refused(&fx.lead("POST", &grants(private), Some(json!({"appId": theirs}))), 400, Some("appId"));
    assert!(body["message"].as_str().is_some_and(|m| m.contains("private")), "{body}");
    let body = refused(&fx.lead("POST", &grants(public), Some(json!({"appId": theirs_low}))), 400, Some("appId"));
    assert!(body["message"].as_str().is_some_and(|m| m.contains("L3")), "{body}");
    refused(&fx.lead("POST", &grants(public), Some(json!({"appId": ours}))), 400, Some("appId"));
    let cross = ok(&fx.lead("POST", &grants(public), Some(json!({"appId": theirs, "qps": 2}))));
    assert_eq!(cross["app"], json!({"id": theirs, "name": "theirs", "workgroup": "other"}));
    // The other workgroup sees the grant on its app, with the API it names.
    let held = ok(&fx.root("GET", &format!("/workgroups/other/apps/{theirs}/grants"), None));
    assert_eq!(held["total"], 1);
    let api = &held["items"][0]["api"];
    assert_eq!(
        (api["id"].as_i64(), api["name"].as_str(), api["workgroup"].as_str(), api["path"].as_str()),
        (Some(public), Some("public_items"), Some("team"), Some("/public_items"))
    );
    assert_eq!(held["items"][0]["qps"], 2);

    for (body, field) in [
        (json!({}), "appId"),
        (json!({"appId": "x"}), "appId"),
        (json!({"appId": 987_654}), "appId"),
        (json!({"appId": ours, "qps": 0}), "qps"),
        (json!({"appId": ours, "qps": 1.5}), "qps"),
        (json!({"appId": ours, "expiresAt": now_ms() - 1000}), "expiresAt"),
        (json!({"appId": ours, "expiresAt": "tomorrow"}), "expiresAt"),
        (json!({"appId": ours, "createdBy": "me"}), "createdBy"),
    ] {
        refused(&fx.lead("POST", &grants(private), Some(body.clone())), 400, Some(field));
    }

    // Other workgroups' ids in paths answer like missing ones, even for the platform admin.
    let their_api = fx.api("other", "their_api", fx.other_ds, json!({"visibleRange": "public"}), None);
    let their_token = ok(&fx.root("POST", &format!("/workgroups/other/apps/{theirs}/tokens"), None));
    let (our_token_app, _) = fx.app("team", "tokens", "L1");
    let cases: Vec<(&str, String, String, Option<Value>)> = vec![
        ("GET", format!("/workgroups/team/apps/{theirs}"), "/workgroups/team/apps/987654".into(), None),
        (
            "PUT",
            format!("/workgroups/team/apps/{theirs}"),
            "/workgroups/team/apps/987654".into(),
            Some(json!({"description": "x"})),
        ),
        ("DELETE", format!("/workgroups/team/apps/{theirs}"), "/workgroups/team/apps/987654".into(), None),
        ("POST", format!("/workgroups/team/apps/{theirs}/secret"), "/workgroups/team/apps/987654/secret".into(), None),
        ("GET", format!("/workgroups/team/apps/{theirs}/tokens"), "/workgroups/team/apps/987654/tokens".into(), None),
        ("POST", format!("/workgroups/team/apps/{theirs}/tokens"), "/workgroups/team/apps/987654/tokens".into(), None),
        (
            "DELETE",
            format!("/workgroups/team/apps/{theirs}/tokens/{}", their_token["id"]),
            format!("/workgroups/team/apps/987654/tokens/{}", their_token["id"]),
            None,
        ),
        ("GET", format!("/workgroups/team/apps/{theirs}/grants"), "/workgroups/team/apps/987654/grants".into(), None),
        (
            "GET",
            format!("/workgroups/team/apps/{theirs}/openapi.json"),
            "/workgroups/team/apps/987654/openapi.json".into(),
            None,
        ),
        (
            "GET",
            format!("/workgroups/team/apis/{their_api}/grants"),
            "/workgroups/team/apis/987654/grants".into(),
            None,
        ),
        (
            "POST",
            format!("/workgroups/team/apis/{their_api}/grants"),
            "/workgroups/team/apis/987654/grants".into(),
            Some(json!({"appId": ours})),
        ),
        (
            "DELETE",
            format!("/workgroups/other/apis/{public}/grants/{theirs}"),
            "/workgroups/other/apis/987654/grants/1".into(),
            None,
        ),
        ("GET", format!("/workgroups/other/apis/{private}/gray"), "/workgroups/other/apis/987654/gray".into(), None),
        (
            "PUT",
            format!("/workgroups/other/apis/{private}/gray/prod"),
            "/workgroups/other/apis/987654/gray/prod".into(),
            Some(json!({"version": 0, "percent": 5})),
        ),
        (
            "DELETE",
            format!("/workgroups/other/apis/{private}/gray/prod"),
            "/workgroups/other/apis/987654/gray/prod".into(),
            None,
        ),
    ];
    for (method, swapped, missing, body) in cases {
        let (a, b) = (fx.root(method, &swapped, body.clone()), fx.root(method, &missing, body));
        let (a, b) = (refused(&a, 404, None), refused(&b, 404, None));
        let strip =
            |m: &Value| m.as_str().unwrap_or_default().chars().filter(|c| !c.is_ascii_digit()).collect::<String>();
        assert_eq!(strip(&a["message"]), strip(&b["message"]), "{method} {swapped}");
    }
    // Another app's token, under one of ours.
    refused(
        &fx.dev("DELETE", &format!("/workgroups/team/apps/{our_token_app}/tokens/{}", their_token["id"]), None),
        404,
        None,
    );
    // Nothing of theirs changed.
    let still = ok(&fx.root("GET", &format!("/workgroups/other/apps/{theirs}"), None));
    assert_eq!(still["description"], "");
    assert_eq!(ok(&fx.root("GET", &format!("/workgroups/other/apps/{theirs}/tokens"), None))["total"], 1);
    assert_eq!(ok(&fx.root("GET", &format!("/workgroups/team/apis/{public}/grants"), None))["total"], 1);

    // Revoking: admins only, once.
    let revoke = format!("{}/{theirs}", grants(public));
    refused(&fx.dev("DELETE", &revoke, None), 403, None);
    ok(&fx.lead("DELETE", &revoke, None));
    refused(&fx.lead("DELETE", &revoke, None), 404, None);
    refused(&fx.lead("DELETE", &format!("{}/abc", grants(public)), None), 404, None);
    assert_eq!(ok(&fx.root("GET", &format!("/workgroups/other/apps/{theirs}/grants"), None))["total"], 0);

    // Deleting an app takes its grants.
    ok(&fx.dev("DELETE", &format!("/workgroups/team/apps/{ours}"), None));
    assert_eq!(ok(&fx.lead("GET", &grants(private), None))["total"], 0);

    // Both workgroups' logs show the cross-workgroup approval; the API's shows every change.
    let team_log = fx.audit(fx.team_id);
    let mut actions: Vec<&str> =
        team_log.iter().filter(|e| e.action.starts_with("grant.")).map(|e| e.action.as_str()).collect();
    actions.reverse();
    assert_eq!(actions, ["grant.create", "grant.update", "grant.create", "grant.revoke"]);
    assert!(team_log.iter().filter(|e| e.action.starts_with("grant.")).all(|e| e.actor == "lead"));
    let other_log = fx.audit(fx.other_id);
    let mut theirs_actions: Vec<(&str, &str)> = other_log
        .iter()
        .filter(|e| e.action.starts_with("grant."))
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect();
    theirs_actions.reverse();
    let target = format!("app:{theirs}");
    assert_eq!(theirs_actions, [("grant.create", target.as_str()), ("grant.revoke", target.as_str())]);
    assert_eq!(
        other_log.iter().find(|e| e.action == "grant.create").map(|e| e.detail["api"].clone()),
        Some(json!("public_items"))
    );
}

#[test]
fn gray_strategies_need_a_saved_version_that_the_edge_can_serve() {
    let fx = Fixture::start("apps-gray");
    let id = fx.api("team", "items", fx.ds, json!({}), Some("prod"));
    let base = format!("/workgroups/team/apis/{id}");
    ok(&fx.dev("POST", &format!("{base}/versions"), None));
    assert_eq!(ok(&fx.call(&fx.viewer, "GET", &format!("{base}/gray"), None)), json!([]));

    let set = ok(&fx.dev("PUT", &format!("{base}/gray/prod"), Some(json!({"version": 1, "percent": 20}))));
    assert_eq!(
        (
            set["apiId"].as_i64(),
            set["environment"].as_str(),
            set["version"].as_i64(),
            set["percent"].as_i64(),
            set["enabled"].as_bool()
        ),
        (Some(id), Some("prod"), Some(1), Some(20), Some(true))
    );
    ok(&fx.dev("PUT", &format!("{base}/gray/test"), Some(json!({"version": "V0", "percent": 100, "enabled": false}))));
    let replaced = ok(&fx.dev("PUT", &format!("{base}/gray/prod"), Some(json!({"version": "v1", "percent": 0}))));
    assert_eq!(replaced["percent"], 0);
    let listed = ok(&fx.call(&fx.viewer, "GET", &format!("{base}/gray"), None));
    let shown: Vec<(String, i64, bool)> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|g| {
            (
                g["environment"].as_str().unwrap_or_default().to_owned(),
                g["percent"].as_i64().unwrap_or(-1),
                g["enabled"] == true,
            )
        })
        .collect();
    assert_eq!(shown, [("prod".to_owned(), 0, true), ("test".to_owned(), 100, false)]);

    for (body, field) in [
        (json!({"percent": 10}), "version"),
        (json!({"version": 7, "percent": 10}), "version"),
        (json!({"version": "draft", "percent": 10}), "version"),
        (json!({"version": "seven", "percent": 10}), "version"),
        (json!({"version": 1}), "percent"),
        (json!({"version": 1, "percent": 101}), "percent"),
        (json!({"version": 1, "percent": -1}), "percent"),
        (json!({"version": 1, "percent": "50"}), "percent"),
        (json!({"version": 1, "percent": 10, "enabled": "yes"}), "enabled"),
        (json!({"version": 1, "percent": 10, "env": "prod"}), "env"),
    ] {
        refused(&fx.dev("PUT", &format!("{base}/gray/prod"), Some(body.clone())), 400, Some(field));
    }
    refused(
        &fx.dev("PUT", &format!("{base}/gray/staging"), Some(json!({"version": 1, "percent": 1}))),
        400,
        Some("environment"),
    );
    refused(&fx.dev("DELETE", &format!("{base}/gray/staging"), None), 400, Some("environment"));
    refused(
        &fx.call(&fx.viewer, "PUT", &format!("{base}/gray/prod"), Some(json!({"version": 1, "percent": 1}))),
        403,
        None,
    );

    // A version over another datasource than the one production serves: the edge would not
    // serve it, so it is refused where that version is published.
    ok(&fx.dev("PUT", &base, Some(json!({"draft": wizard(fx.ds2)}))));
    ok(&fx.dev("POST", &format!("{base}/versions"), None));
    let body = refused(
        &fx.dev("PUT", &format!("{base}/gray/prod"), Some(json!({"version": 2, "percent": 5}))),
        400,
        Some("version"),
    );
    assert!(body["message"].as_str().is_some_and(|m| m.contains("datasource")), "{body}");
    // Nothing is published to test: it waits there for a publication.
    ok(&fx.dev("PUT", &format!("{base}/gray/test"), Some(json!({"version": 2, "percent": 5}))));

    ok(&fx.dev("DELETE", &format!("{base}/gray/test"), None));
    refused(&fx.dev("DELETE", &format!("{base}/gray/test"), None), 404, None);
    refused(&fx.call(&fx.viewer, "DELETE", &format!("{base}/gray/prod"), None), 403, None);
    assert_eq!(ok(&fx.dev("GET", &format!("{base}/gray"), None)).as_array().map(Vec::len), Some(1));

    let log = fx.audit(fx.team_id);
    let mut actions: Vec<&str> =
        log.iter().filter(|e| e.action.starts_with("gray.")).map(|e| e.action.as_str()).collect();
    actions.reverse();
    assert_eq!(actions, ["gray.set", "gray.set", "gray.set", "gray.set", "gray.delete"]);
}

#[test]
fn the_app_document_describes_granted_prod_apis_as_the_app_sees_them() {
    let fx = Fixture::start("apps-document");
    let (app, _) = fx.app("team", "mobile", "L2");
    let doc_path = format!("/workgroups/team/apps/{app}/openapi.json");
    let empty = fx.call(&fx.viewer, "GET", &doc_path, None);
    assert_eq!(empty.status, 200, "{}", text(&empty));
    assert!(empty.header("content-type").is_some_and(|t| t.starts_with("application/json")));
    let empty = empty.json();
    assert_eq!((empty["openapi"].as_str(), empty["paths"].clone()), (Some("3.1.0"), json!({})));

    let served = fx.api("team", "served", fx.ds, json!({}), Some("prod"));
    let test_only = fx.api("team", "test_only", fx.ds, json!({}), Some("test"));
    let unpublished = fx.api("team", "unpublished", fx.ds, json!({}), None);
    let _not_granted = fx.api("team", "not_granted", fx.ds, json!({}), Some("prod"));
    let expiring = fx.api("team", "expiring", fx.ds, json!({}), Some("prod"));
    let open = fx.api("team", "open", fx.ds, json!({"authMode": "none"}), Some("prod"));
    let cleared = fx.api("team", "cleared", fx.ds, json!({"securityLevel": "L2"}), Some("prod"));
    let theirs = fx.api("other", "theirs", fx.other_ds, json!({"visibleRange": "public"}), Some("prod"));
    for api in [served, test_only, unpublished, open, cleared] {
        ok(&fx.lead("POST", &format!("/workgroups/team/apis/{api}/grants"), Some(json!({"appId": app}))));
    }
    let soon = json!({"appId": app, "expiresAt": now_ms() + 1500});
    ok(&fx.lead("POST", &format!("/workgroups/team/apis/{expiring}/grants"), Some(soon)));
    ok(&fx.root("POST", &format!("/workgroups/other/apis/{theirs}/grants"), Some(json!({"appId": app}))));
    std::thread::sleep(Duration::from_millis(1600));

    let dir = fx.server.data_dir.join("documents");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut files = Vec::new();
    let mut fetch = |name: &str| -> Value {
        let doc = ok_document(&fx.call(&fx.viewer, "GET", &doc_path, None));
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, doc.to_string()).expect("write");
        files.push(file);
        doc
    };
    let l2 = fetch("app-l2");
    let mut paths: Vec<&str> = l2["paths"].as_object().expect("paths").keys().map(String::as_str).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/cleared", "/open", "/served", "/theirs"], "granted, unexpired, in prod: {paths:?}");
    assert_eq!(l2["info"]["title"], "mobile");
    assert_eq!(l2["servers"][0]["url"], format!("http://{}", fx.server.edge), "the edge is the server");
    assert!(l2["info"]["version"].as_str().is_some_and(|v| v.starts_with("4 APIs")), "{}", l2["info"]);
    // L2: the L3 parameter and the L4 field are left out.
    let op = &l2["paths"]["/served"]["get"];
    let params: Vec<&str> =
        op["parameters"].as_array().expect("params").iter().filter_map(|p| p["name"].as_str()).collect();
    assert!(params.contains(&"minPrice") && !params.contains(&"byName"), "{params:?}");
    let row = |doc: &Value, schema: &str| -> Vec<String> {
        doc["components"]["schemas"][schema]["properties"].as_object().expect("row").keys().cloned().collect()
    };
    assert_eq!(row(&l2, "ServedRow"), ["id", "name"]);
    assert_eq!(row(&l2, "TheirsRow"), ["id", "name"], "another workgroup's public API, filtered alike");
    // An anonymous API needs no credentials, and answers everyone as L1.
    assert_eq!(l2["paths"]["/open"]["get"]["security"], json!([]));
    assert_eq!(row(&l2, "OpenRow"), ["id"]);

    // More clearance shows more; less drops the API that needs it.
    ok(&fx.dev("PUT", &format!("/workgroups/team/apps/{app}"), Some(json!({"clearance": "L4"}))));
    let l4 = fetch("app-l4");
    assert_eq!(row(&l4, "ServedRow"), ["id", "name", "price"]);
    let op = &l4["paths"]["/served"]["get"];
    assert!(op["parameters"].as_array().expect("params").iter().any(|p| p["name"] == "byName"));
    ok(&fx.dev("PUT", &format!("/workgroups/team/apps/{app}"), Some(json!({"clearance": "L1"}))));
    let l1 = fetch("app-l1");
    assert!(l1["paths"].get("/cleared").is_none(), "L1 cannot call an L2 API");
    assert!(l1["info"]["description"].as_str().is_some_and(|d| d.contains("`cleared` is left out")), "{}", l1["info"]);
    assert_eq!(row(&l1, "ServedRow"), ["id"]);

    // Revoked or taken offline: gone.
    ok(&fx.lead("DELETE", &format!("/workgroups/team/apis/{served}/grants/{app}"), None));
    ok(&fx.root("POST", &format!("/workgroups/other/apis/{theirs}/offline"), Some(json!({"environment": "prod"}))));
    let later = fetch("app-later");
    let paths: Vec<&str> = later["paths"].as_object().expect("paths").keys().map(String::as_str).collect();
    assert_eq!(paths, ["/open"]);

    // Another workgroup's app: 404, as if it did not exist.
    let (their_app, _) = fx.app("other", "their_app", "L4");
    refused(&fx.root("GET", &format!("/workgroups/team/apps/{their_app}/openapi.json"), None), 404, None);
    refused(&fx.root("GET", "/workgroups/team/apps/abc/openapi.json", None), 404, None);
    assert_eq!(call(&fx.server, "GET", &doc_path, None, None).status, 401);

    support::validate_openapi(&files);
}

fn ok_document(response: &Response) -> Value {
    assert_eq!(response.status, 200, "{}", text(response));
    let doc = response.json();
    assert_eq!(doc["openapi"], "3.1.0", "a document, not an envelope: {doc}");
    doc
}
