//! The management API's request bodies as its OpenAPI document describes them, through the
//! router in process (`support/`): every write route's body is a schema in `components`,
//! the schemas are valid JSON Schema and agree with what the handlers accept and refuse
//! (checked with Python's `jsonschema`), and a body the handler cannot read is a 400 in the
//! management envelope that names the field.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use admin::access::{Answer, RouteSpec, Schemas};
use admin::{AdminState, routes};
use catalog::secret::SecretBox;
use catalog::store::Store;
use config::Config;
use config::outbound::OutboundBase;
use serde_json::{Value, json};
use support::{BodyCase, Server, body_schema, call, check_with_jsonschema, management_document, ok};

const BOOTSTRAP: &str = "slc_schemas_bootstrap_token_0123456789";

/// Write routes that take no body, and why.
const NO_BODY: &[(&str, &str, &str)] = &[
    ("POST", "/workgroups/{workgroup}/datasources/{id}/test", "tests the stored connection settings"),
    ("POST", "/approvals/{id}/withdraw", "the requester takes the request back"),
    ("POST", "/workgroups/{workgroup}/webhooks/{id}/test", "queues a test notification for the stored channel"),
    ("POST", "/workgroups/{workgroup}/apis/{id}/cache/purge", "makes the edge's cached answers unreachable"),
];

/// Every `$ref` anywhere under `value`.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                found.push(r);
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[test]
fn every_write_route_documents_its_body_as_a_schema_in_components() {
    let server = Server::start("schemas-doc", BOOTSTRAP);
    let doc = management_document(&server);
    let schemas = doc["components"]["schemas"].as_object().expect("components/schemas");
    let (mut with_body, mut without) = (0, 0);
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let registered = path.strip_prefix("/admin/v1").expect("prefix");
        for (method, op) in item.as_object().expect("path item") {
            let method = method.to_ascii_uppercase();
            if !matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
                assert!(op.get("requestBody").is_none(), "{method} {path} reads no body");
                continue;
            }
            if NO_BODY.iter().any(|(m, p, _)| *m == method && *p == registered) {
                assert!(op.get("requestBody").is_none(), "{method} {path} takes no body");
                without += 1;
                continue;
            }
            let reference = body_schema(&doc, &method, registered)
                .unwrap_or_else(|| panic!("{method} {path} has no request body schema: {}", op["requestBody"]));
            let name = reference["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")).unwrap_or("");
            let schema = schemas.get(name).unwrap_or_else(|| panic!("{method} {path}: {name} not in components"));
            assert_eq!(schema["type"], "object", "{method} {path}: {name} is not an object: {schema}");
            assert_eq!(schema["additionalProperties"], false, "{method} {path}: {name} must refuse unknown keys");
            with_body += 1;
        }
    }
    eprintln!("{with_body} write routes document a body schema; {without} take none");
    assert_eq!((with_body, without), (40, NO_BODY.len()));
    // Every reference resolves: bodies, answers and what their schemas refer to.
    let mut found = Vec::new();
    refs(&doc, &mut found);
    for r in found {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r} is outside schemas"));
        assert!(schemas.contains_key(name), "{r} does not resolve");
    }
    // Successful answers describe `data` where the route says what it answers.
    let created = &doc["paths"]["/admin/v1/workgroups/{workgroup}/apis"]["post"]["responses"]["2XX"];
    let schema = &created["content"]["application/json"]["schema"];
    assert_eq!(schema["allOf"][0]["$ref"], "#/components/schemas/Envelope", "{schema}");
    assert_eq!(schema["allOf"][1]["properties"]["data"]["$ref"], "#/components/schemas/ApiView", "{schema}");
}

/// The routes as the code registers them.
fn registered() -> Vec<RouteSpec> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let secrets = SecretBox::from_key_text(&SecretBox::generate_key_text()).expect("key");
        let store = Store::open("sqlite::memory:", secrets).await.expect("store");
        let config = Config::from_sources(None, "tests", |_| None).expect("configuration");
        let outbound = OutboundBase::from_config(&config).expect("policies");
        routes(AdminState::new(store, "http://127.0.0.1:8080".to_owned(), Arc::new(admin::NoEdge), outbound)).1
    })
}

/// Two types must not share a name under `components/schemas`: one would hide the other.
#[test]
fn no_two_schemas_share_a_name() {
    let mut schemas = Schemas::new();
    for spec in registered() {
        if let Some(body) = &spec.body {
            body.schema.collect(&mut schemas);
        }
        if let Some(Answer::One(d) | Answer::List(d) | Answer::Page(d)) = &spec.answer {
            d.collect(&mut schemas);
        }
    }
    let mut by_name: BTreeMap<String, Value> = BTreeMap::new();
    for (name, schema) in schemas {
        let schema = serde_json::to_value(&schema).expect("schema JSON");
        if let Some(seen) = by_name.insert(name.clone(), schema.clone()) {
            assert_eq!(seen, schema, "two different schemas are named {name}");
        }
    }
    assert!(by_name.len() > 40, "{:?}", by_name.keys());
}

/// Bodies the handlers accept must pass their schema and bodies the schema refuses must be
/// refused by the handler too (400, naming the field), for both ways of reading bodies.
#[test]
fn schemas_agree_with_what_handlers_accept_and_refuse() {
    let server = Server::start("schemas-agree", BOOTSTRAP);
    let root = Some(BOOTSTRAP);
    let doc = management_document(&server);
    ok(&call(&server, "POST", "/workgroups", root, Some(json!({"name": "team", "description": "d"}))));
    let app = ok(&call(&server, "POST", "/workgroups/team/apps", root, Some(json!({"name": "a1"}))));
    let app_id = app["id"].as_i64().expect("app id");
    let app_path = format!("/workgroups/team/apps/{app_id}");
    let hook = ok(&call(
        &server,
        "POST",
        "/workgroups/team/webhooks",
        root,
        Some(json!({"name": "h0", "url": "https://hooks.example.com/h0"})),
    ));
    let hook_path = format!("/workgroups/team/webhooks/{}", hook["id"]);
    let registered_api = json!({"name": "r1", "path": "/r1",
                                "draft": {"mode": "registered", "baseUrl": "https://api.example.com/v1", "path": "/items"}});
    let api = ok(&call(&server, "POST", "/workgroups/team/apis", root, Some(registered_api)));
    let samples = format!("/workgroups/team/apis/{}/versions/draft/samples", api["id"]);
    let alarms = format!("/workgroups/team/apis/{}/alarms", api["id"]);
    let rule = ok(&call(&server, "POST", &alarms, root, Some(json!({"metric": "noCalls", "windowSecs": 3600}))));
    let rule_path = format!("{alarms}/{}", rule["id"]);
    // (method, registered path, concrete path, body, field a refusal names or None when accepted)
    let mut cases: Vec<(&str, &str, String, Value, Option<&str>)> = vec![
        ("POST", "/users", "/users".into(), json!({"name": "u1", "displayName": "U", "platformAdmin": false}), None),
        ("POST", "/users", "/users".into(), json!({"name": "u2", "platfromAdmin": true}), Some("platfromAdmin")),
        ("POST", "/users", "/users".into(), json!({"name": 7}), Some("name")),
        ("POST", "/users", "/users".into(), json!({}), Some("name")),
        ("POST", "/users/{user}/tokens", "/users/u1/tokens".into(), json!({"name": "t", "expiresAt": null}), None),
        (
            "POST",
            "/users/{user}/tokens",
            "/users/u1/tokens".into(),
            json!({"name": "t", "expiresAt": "soon"}),
            Some("expiresAt"),
        ),
        (
            "PUT",
            "/workgroups/{workgroup}/members/{user}",
            "/workgroups/team/members/u1".into(),
            json!({"role": "developer"}),
            None,
        ),
        (
            "PUT",
            "/workgroups/{workgroup}/members/{user}",
            "/workgroups/team/members/u1".into(),
            json!({"role": "owner"}),
            Some("role"),
        ),
        ("PATCH", "/workgroups/{workgroup}", "/workgroups/team".into(), json!({"descripton": "x"}), Some("descripton")),
        (
            "PUT",
            "/platform/settings",
            "/platform/settings".into(),
            json!({"networkAllow": ["10.0.0.0/8"], "datasetRoots": []}),
            None,
        ),
        (
            "PUT",
            "/platform/settings",
            "/platform/settings".into(),
            json!({"networkAllow": "10.0.0.0/8"}),
            Some("networkAllow"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/datasources",
            "/workgroups/team/datasources".into(),
            json!({"name": "d", "kind": "sqlite", "connection": {"database": "d.db", "poolSize": 2}}),
            None,
        ),
        (
            "POST",
            "/workgroups/{workgroup}/datasources",
            "/workgroups/team/datasources".into(),
            json!({"name": "d2", "kind": "sqlite", "connection": {"database": "d.db", "pasword": "x"}}),
            Some("connection.pasword"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/folders",
            "/workgroups/team/folders".into(),
            json!({"name": "f", "parentId": null}),
            None,
        ),
        (
            "POST",
            "/workgroups/{workgroup}/folders",
            "/workgroups/team/folders".into(),
            json!({"name": "f", "parentId": "root"}),
            Some("parentId"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/apps",
            "/workgroups/team/apps".into(),
            json!({"name": "a2", "ipAllow": ["10.0.0.1"], "clearance": "L2"}),
            None,
        ),
        (
            "POST",
            "/workgroups/{workgroup}/apps",
            "/workgroups/team/apps".into(),
            json!({"name": "a3", "ipAllow": "10.0.0.1"}),
            Some("ipAllow"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/apps",
            "/workgroups/team/apps".into(),
            json!({"name": "a4", "clearence": "L2"}),
            Some("clearence"),
        ),
        (
            "PUT",
            "/workgroups/{workgroup}/apps/{id}",
            app_path.clone(),
            json!({"disabled": true, "ipAllow": null}),
            None,
        ),
        ("PUT", "/workgroups/{workgroup}/apps/{id}", app_path.clone(), json!({"disabled": "yes"}), Some("disabled")),
        (
            "POST",
            "/workgroups/{workgroup}/apps/{id}/secret",
            format!("{app_path}/secret"),
            json!({"overlapSecs": 60}),
            None,
        ),
        (
            "POST",
            "/workgroups/{workgroup}/apps/{id}/tokens",
            format!("{app_path}/tokens"),
            json!({"ttlSecs": 0}),
            Some("ttlSecs"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/apps/{id}/tokens",
            format!("{app_path}/tokens"),
            json!({"ttl": 60}),
            Some("ttl"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/functions",
            "/workgroups/team/functions".into(),
            json!({"name": "f1", "description": "d", "source": "def handler(event, context):\n    return 1\n"}),
            None,
        ),
        (
            "POST",
            "/workgroups/{workgroup}/functions",
            "/workgroups/team/functions".into(),
            json!({"name": "f2", "sorce": "def handler(event, context):\n    return 1\n"}),
            Some("sorce"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/functions",
            "/workgroups/team/functions".into(),
            json!({"name": "f3"}),
            Some("source"),
        ),
        (
            "PUT",
            "/workgroups/{workgroup}/functions/{name}",
            "/workgroups/team/functions/f1".into(),
            json!({"description": "e"}),
            None,
        ),
        (
            "PUT",
            "/workgroups/{workgroup}/functions/{name}",
            "/workgroups/team/functions/f1".into(),
            json!({"source": 1}),
            Some("source"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/webhooks",
            "/workgroups/team/webhooks".into(),
            json!({"name": "h1", "url": "https://oapi.dingtalk.com/robot/send?access_token=x", "secret": "s",
                   "template": "dingtalk", "events": ["api.published"], "enabled": false}),
            None,
        ),
        (
            "POST",
            "/workgroups/{workgroup}/webhooks",
            "/workgroups/team/webhooks".into(),
            json!({"name": "h2", "url": "https://a.example/", "template": "teams"}),
            Some("template"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/webhooks",
            "/workgroups/team/webhooks".into(),
            json!({"name": "h3", "url": "https://a.example/", "events": ["api.deleted"]}),
            Some("events[0]"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/webhooks",
            "/workgroups/team/webhooks".into(),
            json!({"name": "h4"}),
            Some("url"),
        ),
        ("PUT", "/workgroups/{workgroup}/webhooks/{id}", hook_path.clone(), json!({"secret": "", "events": []}), None),
        ("PUT", "/workgroups/{workgroup}/webhooks/{id}", hook_path.clone(), json!({"enabled": "no"}), Some("enabled")),
        (
            "PUT",
            "/workgroups/{workgroup}/apis/{id}/versions/{version}/samples",
            samples.clone(),
            json!({"success": {"code": "OK", "data": [1]}, "failure": null}),
            None,
        ),
        (
            "PUT",
            "/workgroups/{workgroup}/apis/{id}/versions/{version}/samples",
            samples.clone(),
            json!({"sucess": {"code": "OK"}}),
            Some("sucess"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/apis/{id}/alarms",
            alarms.clone(),
            json!({"metric": "p99Ms", "env": "test", "windowSecs": 300, "threshold": 500, "forSecs": 60}),
            None,
        ),
        ("POST", "/workgroups/{workgroup}/apis/{id}/alarms", alarms.clone(), json!({"metric": "p99"}), Some("metric")),
        (
            "PATCH",
            "/workgroups/{workgroup}/apis/{id}/alarms/{rule}",
            rule_path.clone(),
            json!({"threshold": 2, "receivers": []}),
            None,
        ),
        (
            "PATCH",
            "/workgroups/{workgroup}/apis/{id}/alarms/{rule}",
            rule_path.clone(),
            json!({"enabled": "no"}),
            Some("enabled"),
        ),
        (
            "PUT",
            "/workgroups/{workgroup}/alarm-template",
            "/workgroups/team/alarm-template".into(),
            json!({"enabled": false, "rules": [{"metric": "errorRate", "windowSecs": 300, "threshold": 0.05}]}),
            None,
        ),
        (
            "PUT",
            "/workgroups/{workgroup}/alarm-template",
            "/workgroups/team/alarm-template".into(),
            json!({"enabled": true, "rules": [{"metric": "noCalls", "windowSecs": "60"}]}),
            Some("rules[0].windowSecs"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/sql/parameters",
            "/workgroups/team/sql/parameters".into(),
            json!({"mode": "script", "sql": "SELECT * FROM t WHERE id = #{id}"}),
            None,
        ),
        (
            "POST",
            "/workgroups/{workgroup}/sql/parameters",
            "/workgroups/team/sql/parameters".into(),
            json!({"mode": "mybatis", "sql": "SELECT 1"}),
            Some("mode"),
        ),
        (
            "POST",
            "/workgroups/{workgroup}/sql/parameters",
            "/workgroups/team/sql/parameters".into(),
            json!({"template": "SELECT 1"}),
            Some("template"),
        ),
    ];
    // A registered API's schema validation is part of its draft (`RegisteredSpec::validation`).
    let api_path = format!("/workgroups/team/apis/{}", api["id"]);
    let validated = |validation: Value| {
        json!({"draft": {"mode": "registered", "baseUrl": "https://api.example.com/v1", "path": "/items",
                         "params": [{"name": "id", "position": "query", "type": "int"}],
                         "validation": validation}})
    };
    let schema_cases = [
        (validated(json!({"params": {"id": {"minimum": 1}}, "response": true})), None),
        (validated(json!({"enabled": false, "params": {"id": {"enum": [1, 2]}}})), None),
        // Inside the flattened mode serde loses the path: the refusal names the draft.
        (validated(json!({"enabled": "yes"})), Some("draft")),
    ];
    for (body, refused) in schema_cases {
        cases.push(("PUT", "/workgroups/{workgroup}/apis/{id}", api_path.clone(), body, refused));
    }
    let mut checks = Vec::new();
    for (method, registered, concrete, body, refused) in cases {
        let route = format!("{method} {registered}");
        let schema = body_schema(&doc, method, registered).unwrap_or_else(|| panic!("{route} has no body schema"));
        let response = call(&server, method, &concrete, root, Some(body.clone()));
        let answer = response.json();
        match refused {
            None => assert!(response.status < 300, "{route} {body}: {} {answer}", response.status),
            Some(field) => {
                assert_eq!(response.status, 400, "{route} {body}: {answer}");
                assert_eq!(answer["success"], false, "{answer}");
                assert_eq!(answer["field"], field, "{route} {body}: {answer}");
                assert!(answer["code"].as_str().is_some_and(|c| c.starts_with("InvalidParameter")), "{answer}");
            }
        }
        checks.push(BodyCase { route, schema, body, valid: refused.is_none() });
    }
    check_with_jsonschema(&doc, &checks);

    // A schema that cannot be applied is refused when the version is saved, naming its parameter.
    let broken = validated(json!({"params": {"id": {"type": "integer", "minimum": "one"}}}));
    ok(&call(&server, "PUT", &api_path, root, Some(broken)));
    let refusal = call(&server, "POST", &format!("{api_path}/versions"), root, Some(json!({})));
    let answer = refusal.json();
    assert_eq!((refusal.status, answer["code"].as_str()), (400, Some("InvalidDefinition")), "{answer}");
    assert_eq!(answer["field"], "draft.validation.params.id", "{answer}");
    assert!(answer["message"].as_str().is_some_and(|m| m.contains("parameter `id` cannot be applied")), "{answer}");
}

/// Routes reading a derived body used axum's `Json`, which answered a plain-text 422.
#[test]
fn unreadable_bodies_answer_400_in_the_envelope_naming_the_field() {
    let server = Server::start("schemas-extractor", BOOTSTRAP);
    let root = Some(BOOTSTRAP);
    let raw = |method: &str, path: &str, body: &str| -> (u16, Value) {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("/admin/v1{path}"))
            .header("Authorization", format!("Bearer {BOOTSTRAP}"))
            .header("Content-Type", "application/json")
            .body(axum::body::Body::from(body.to_owned()))
            .expect("request");
        let response = server.send(request);
        (response.status, response.json())
    };
    for (method, path, body, field) in [
        ("POST", "/workgroups", r#"{"nmae": "x"}"#, "nmae"),
        ("POST", "/workgroups", r#"{"name": ["x"]}"#, "name"),
        ("POST", "/workgroups", r#"{}"#, "name"),
        ("POST", "/workgroups", r#"{"name": "x""#, "body"),
        ("POST", "/workgroups", r#"[1]"#, "body"),
        ("POST", "/workgroups", r#"{"name": "x"} trailing"#, "body"),
        ("PUT", "/platform/settings", r#"{"datasetRoots": [{"path": 3}]}"#, "datasetRoots[0].path"),
        ("POST", "/users", r#"{"name": "u", "platformAdmin": "yes"}"#, "platformAdmin"),
    ] {
        let (status, answer) = raw(method, path, body);
        assert_eq!(status, 400, "{method} {path} {body}: {answer}");
        assert_eq!(answer["success"], false, "{answer}");
        assert_eq!(answer["field"], field, "{method} {path} {body}: {answer}");
        assert_eq!(answer["code"], format!("InvalidParameter.{field}"), "{answer}");
        assert!(answer["requestId"].as_str().is_some_and(|id| id.len() == 32), "{answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    // An empty body reads as `{}`; a good one still works.
    assert_eq!(raw("POST", "/workgroups", "").1["field"], "name");
    ok(&call(&server, "POST", "/workgroups", root, Some(json!({"name": "fine"}))));
}
