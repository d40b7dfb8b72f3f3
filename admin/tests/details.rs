//! API details through the management router in process (`support/`): creator and last
//! editor with their times, owners who must be members of the API's workgroup, result samples
//! of versions and of the draft (set directly or kept from the test console), and both in the
//! per-API OpenAPI document; a request parameter's default refused at save when it does not
//! read as its type.

mod support;

use serde_json::{Value, json};
use support::{Response, Server, call, ok};

const ROOT: &str = "slc_details_bootstrap_token_0123456789ab";

struct Team {
    server: Server,
    alice: String,
    bob: String,
    datasource: i64,
}

fn as_user(team: &Team, token: &str, method: &str, path: &str, body: Option<Value>) -> Response {
    call(&team.server, method, path, Some(token), body)
}

/// Asserts a refusal: status, code and field; returns the message.
fn refused(response: &Response, status: u16, code: &str, field: &str) -> String {
    let body = response.json();
    assert_eq!((response.status, body["code"].as_str()), (status, Some(code)), "{body}");
    assert_eq!(body["field"].as_str(), Some(field), "{body}");
    body["message"].as_str().unwrap_or_default().to_owned()
}

/// Workgroups `team` (developers alice and bob, viewer vic) and `other` (carol),
/// and a SQLite datasource of `team` over `items(id, name, price)`.
fn start(tag: &str) -> Team {
    let server = Server::start(tag, ROOT);
    let root = Some(ROOT);
    for name in ["team", "other"] {
        ok(&call(&server, "POST", "/workgroups", root, Some(json!({"name": name}))));
    }
    let mut tokens = Vec::new();
    for (user, workgroup, role) in [
        ("alice", "team", "developer"),
        ("bob", "team", "developer"),
        ("vic", "team", "viewer"),
        ("carol", "other", "developer"),
    ] {
        ok(&call(&server, "POST", "/users", root, Some(json!({"name": user}))));
        let member = format!("/workgroups/{workgroup}/members/{user}");
        ok(&call(&server, "PUT", &member, root, Some(json!({"role": role}))));
        let issued = ok(&call(&server, "POST", &format!("/users/{user}/tokens"), root, Some(json!({"name": "t"}))));
        tokens.push(issued["token"].as_str().expect("token").to_owned());
    }
    let datasource = items_datasource(&server);
    Team { alice: tokens[0].clone(), bob: tokens[1].clone(), server, datasource }
}

/// Writes `items` into the team's dataset directory and registers it, as the platform admin.
fn items_datasource(server: &Server) -> i64 {
    let dir = server.data_dir.join("datasets").join("team");
    std::fs::create_dir_all(&dir).expect("dataset dir");
    let file = dir.join("items.db");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        use sqlx::Connection;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&file).create_if_missing(true);
        let mut db = sqlx::SqliteConnection::connect_with(&options).await.expect("items db");
        for statement in [
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)",
            "INSERT INTO items VALUES (1, 'apple', 1.5), (2, 'banana', 0.25)",
        ] {
            sqlx::query(statement).execute(&mut db).await.expect(statement);
        }
        db.close().await.expect("close");
    });
    let body = json!({"name": "items", "kind": "sqlite", "connection": {"database": file.display().to_string()}});
    ok(&call(server, "POST", "/workgroups/team/datasources", Some(ROOT), Some(body)))["id"].as_i64().expect("id")
}

fn new_api(team: &Team, name: &str) -> Value {
    json!({
        "name": name,
        "path": format!("/{name}"),
        "draft": {
            "datasourceId": team.datasource, "mode": "wizard", "table": "items",
            "requestParams": [
                {"name": "id", "type": "int", "column": "id", "required": true},
                {"name": "minPrice", "type": "float", "column": "price", "operator": ">=", "default": "1"}
            ],
            "responseFields": [{"name": "id", "type": "int"}, {"name": "name", "type": "string"}]
        }
    })
}

#[test]
fn creator_and_last_editor_show_with_their_times() {
    let team = start("details-stamps");
    let made = ok(&as_user(&team, &team.alice, "POST", "/workgroups/team/apis", Some(new_api(&team, "stamped"))));
    let path = format!("/workgroups/team/apis/{}", made["id"]);
    assert_eq!((made["createdBy"].as_str(), made["updatedBy"].as_str()), (Some("alice"), Some("alice")), "{made}");
    assert_eq!(made["owner"].as_str(), Some("alice"), "the creator owns a new API: {made}");
    let created_at = made["createdAt"].as_i64().expect("createdAt");
    assert!(created_at > 0 && made["updatedAt"].as_i64() == Some(created_at), "{made}");

    std::thread::sleep(std::time::Duration::from_millis(5));
    // Read-only on input: the bodies do not take them.
    let sneaky = as_user(&team, &team.bob, "PUT", &path, Some(json!({"createdBy": "mallory"})));
    assert_eq!(sneaky.status, 400, "{}", String::from_utf8_lossy(&sneaky.body));
    let edited = ok(&as_user(&team, &team.bob, "PUT", &path, Some(json!({"description": "edited by bob"}))));
    assert_eq!((edited["createdBy"].as_str(), edited["updatedBy"].as_str()), (Some("alice"), Some("bob")));
    assert_eq!(edited["createdAt"].as_i64(), Some(created_at));
    assert!(edited["updatedAt"].as_i64().expect("updatedAt") > created_at, "{edited}");
    let viewed = ok(&as_user(&team, &team.alice, "GET", &path, None));
    assert_eq!(viewed["updatedBy"].as_str(), Some("bob"));
    let listed = ok(&as_user(&team, &team.alice, "GET", "/workgroups/team/apis", None));
    assert_eq!(listed["items"][0]["updatedBy"].as_str(), Some("bob"), "{listed}");

    let version = ok(&as_user(&team, &team.alice, "POST", &format!("{path}/versions"), None));
    assert_eq!(version["createdBy"].as_str(), Some("alice"), "{version}");
}

#[test]
fn owners_are_members_of_the_workgroup() {
    let team = start("details-owner");
    let apis = "/workgroups/team/apis";
    let mut body = new_api(&team, "owned");
    body["owner"] = json!("carol");
    let message =
        refused(&as_user(&team, &team.alice, "POST", apis, Some(body.clone())), 400, "InvalidParameter.owner", "owner");
    assert!(message.contains("`carol`") && message.contains("member of workgroup `team`"), "{message}");
    body["owner"] = json!("vic");
    let made = ok(&as_user(&team, &team.alice, "POST", apis, Some(body)));
    assert_eq!(made["owner"].as_str(), Some("vic"), "any role may own");
    let path = format!("{apis}/{}", made["id"]);
    refused(
        &as_user(&team, &team.alice, "PUT", &path, Some(json!({"owner": "nobody"}))),
        400,
        "InvalidParameter.owner",
        "owner",
    );
    let empty = ok(&as_user(&team, &team.alice, "PUT", &path, Some(json!({"owner": ""}))));
    assert_eq!(empty["owner"].as_str(), Some(""));
    let bob = ok(&as_user(&team, &team.alice, "PUT", &path, Some(json!({"owner": "bob"}))));
    assert_eq!(bob["owner"].as_str(), Some("bob"));

    // The platform admin is no member: an API it creates starts without an owner.
    let by_root = ok(&call(&team.server, "POST", apis, Some(ROOT), Some(new_api(&team, "rooted"))));
    assert_eq!(by_root["owner"].as_str(), Some(""), "{by_root}");
    assert_eq!(by_root["createdBy"].as_str(), Some("admin"), "{by_root}");

    // An owner who left stays until the owner is changed; other edits go through.
    ok(&call(&team.server, "DELETE", "/workgroups/team/members/bob", Some(ROOT), None));
    let kept = ok(&as_user(&team, &team.alice, "PUT", &path, Some(json!({"description": "still bob's"}))));
    assert_eq!(kept["owner"].as_str(), Some("bob"));
    let copied = ok(&as_user(
        &team,
        &team.alice,
        "POST",
        &format!("{path}/copy"),
        Some(json!({"name": "copied", "path": "/copied"})),
    ));
    assert_eq!(copied["owner"].as_str(), Some("alice"), "a copy's owner must be a member now: {copied}");
}

#[test]
fn samples_are_set_kept_from_the_console_and_documented() {
    let team = start("details-samples");
    let made = ok(&as_user(&team, &team.alice, "POST", "/workgroups/team/apis", Some(new_api(&team, "sampled"))));
    let path = format!("/workgroups/team/apis/{}", made["id"]);

    // From the console: a success kept on the draft, then a failure.
    let run = ok(&as_user(
        &team,
        &team.alice,
        "POST",
        &format!("{path}/test"),
        Some(json!({"params": {"id": 1}, "saveAsSample": true})),
    ));
    assert_eq!(run["savedAsSample"].as_str(), Some("success"), "{run}");
    let draft = ok(&as_user(&team, &team.alice, "GET", &path, None));
    let success = draft["draftSamples"]["success"].clone();
    assert_eq!(success["code"].as_str(), Some("OK"), "{draft}");
    assert_eq!(success["data"], run["result"], "{draft}");
    let failed =
        as_user(&team, &team.alice, "POST", &format!("{path}/test"), Some(json!({"params": {}, "saveAsSample": true})));
    refused(&failed, 400, "MissingParameter.id", "params.id");
    let draft = ok(&as_user(&team, &team.alice, "GET", &path, None));
    assert_eq!(draft["draftSamples"]["failure"]["code"].as_str(), Some("MissingParameter.id"), "{draft}");
    assert_eq!(draft["draftSamples"]["success"], success, "a failure leaves the success sample");
    refused(
        &as_user(
            &team,
            &team.alice,
            "POST",
            &format!("{path}/test"),
            Some(json!({"params": {"id": 1}, "dryRun": true, "saveAsSample": true})),
        ),
        400,
        "InvalidParameter.saveAsSample",
        "saveAsSample",
    );

    // Saving a version copies the draft's; a version's own are set per key.
    let version = ok(&as_user(&team, &team.alice, "POST", &format!("{path}/versions"), None));
    assert_eq!(version["samples"], draft["draftSamples"], "{version}");
    let samples = format!("{path}/versions/V0/samples");
    let custom = json!({"code": "OK", "data": {"rows": [{"id": 7, "name": "sample"}]}});
    let set = ok(&as_user(&team, &team.bob, "PUT", &samples, Some(json!({"success": custom, "failure": null}))));
    assert_eq!(set, json!({"success": custom}));
    let shown = ok(&as_user(&team, &team.alice, "GET", &format!("{path}/versions/0"), None));
    assert_eq!(shown["samples"], json!({"success": custom}));
    assert_eq!(ok(&as_user(&team, &team.alice, "GET", &path, None))["updatedBy"].as_str(), Some("bob"));
    let too_big = json!({"failure": {"message": "x".repeat(70 * 1024)}});
    refused(&as_user(&team, &team.bob, "PUT", &samples, Some(too_big)), 400, "InvalidParameter.failure", "failure");
    assert_eq!(as_user(&team, &team.bob, "PUT", &format!("{path}/versions/V9/samples"), Some(json!({}))).status, 404);
    let on_draft = ok(&as_user(
        &team,
        &team.bob,
        "PUT",
        &format!("{path}/versions/draft/samples"),
        Some(json!({"success": null})),
    ));
    assert!(on_draft.get("success").is_none(), "{on_draft}");

    // The per-API document shows them as examples, and the parameter's default.
    ok(&as_user(
        &team,
        &team.alice,
        "POST",
        &format!("{path}/publish"),
        Some(json!({"version": 0, "environment": "prod"})),
    ));
    let document = as_user(&team, &team.alice, "GET", &format!("{path}/openapi.json"), None);
    assert_eq!(document.status, 200, "{}", String::from_utf8_lossy(&document.body));
    let document = document.json();
    let operation = &document["paths"]["/sampled"]["get"];
    let examples = &operation["responses"]["200"]["content"]["application/json"]["examples"];
    assert_eq!(examples["sample"]["value"], custom, "{operation}");
    let min_price = operation["parameters"].as_array().expect("parameters").iter().find(|p| p["name"] == "minPrice");
    assert_eq!(min_price.map(|p| p["schema"]["default"].clone()), Some(json!(1.0)), "{operation}");
}

#[test]
fn a_default_that_does_not_read_as_its_type_is_refused_at_save() {
    let team = start("details-default");
    let mut body = new_api(&team, "defaulted");
    body["draft"]["requestParams"][1]["default"] = json!("cheap");
    // Drafts are compiled when a version is saved.
    let made = ok(&as_user(&team, &team.alice, "POST", "/workgroups/team/apis", Some(body)));
    let message = refused(
        &as_user(&team, &team.alice, "POST", &format!("/workgroups/team/apis/{}/versions", made["id"]), None),
        400,
        "InvalidDefinition",
        "draft.requestParams[1].default",
    );
    assert!(message.contains("`cheap`") && message.contains("minPrice"), "{message}");
}
