//! Workflow APIs through the real binary (issue 17): defined, saved and published over the
//! management API over the demo workgroup's SQLite APIs, called through the edge. Both branches
//! of a switch, a failed node, masking carried into inner calls, workgroups as walls, the
//! depth limit, and library functions versioned with the workflows that call them.

mod support;

use std::time::{Duration, Instant};

use catalog::model::Environment;
use catalog::secret::SecretBox;
use catalog::store::Store;
use serde_json::{Value, json};
use support::{Response, Server, call, code, ok, refused};

const ROOT: &str = "slc_workflows_bootstrap_token_0123456789";

fn start(tag: &str) -> Server {
    Server::start(tag, &[("SLUICE_ADMIN_TOKEN", ROOT)])
}

fn root(server: &Server, method: &str, path: &str, body: Option<Value>) -> Response {
    call(server, method, path, Some(ROOT), body)
}

/// A public workflow API draft (callers are anonymous: clearance L1) with an `id` parameter.
fn workflow_api(name: &str, path: &str, workflow: Value) -> Value {
    let mut draft = workflow;
    draft["mode"] = json!("workflow");
    draft["requestParams"] = json!([{"name": "id", "type": "int", "required": true}]);
    json!({"name": name, "path": path, "authMode": "none", "draft": draft})
}

/// Creates the API in `workgroup`, saves V0 and publishes it to prod; returns its id.
fn publish(server: &Server, workgroup: &str, api: Value) -> i64 {
    let created = ok(&root(server, "POST", &format!("/workgroups/{workgroup}/apis"), Some(api)));
    let id = created["id"].as_i64().expect("id");
    let base = format!("/workgroups/{workgroup}/apis/{id}");
    ok(&root(server, "POST", &format!("{base}/versions"), None));
    ok(&root(server, "POST", &format!("{base}/publish"), Some(json!({"version": 0, "environment": "prod"}))));
    id
}

/// Calls `path` until the edge serves it (the snapshot follows the store within a second).
fn served(server: &Server, path: &str) -> Response {
    let start = Instant::now();
    loop {
        let response = server.get(path);
        if response.status != 404 {
            return response;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{path} never served");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// customer_by_id → switch on the customer's id → orders_search or straight to an end.
fn serial_switch() -> Value {
    json!({"start": "C", "nodes": [
        {"id": "C", "kind": "api", "api": "customer_by_id",
         "output": {"cid": "$.data.rows[0].id", "name": "$.data.rows[0].name", "email": "$.data.rows[0].email"},
         "next": ["S"]},
        {"id": "S", "kind": "switch", "branches": [{"condition": "$.cid == 42", "next": "O"}], "default": "OTHER"},
        {"id": "O", "kind": "api", "api": "orders_search", "params": {"customerId": "${C.cid}"}, "next": ["ORDERS"]},
        {"id": "ORDERS", "kind": "end", "output": {"branch": "orders", "customer": "${C.cid}", "orders": "$.data.rows"}},
        {"id": "OTHER", "kind": "end", "output": {"branch": "other", "customer": "${C.cid}", "email": "${C.email}", "asked": "${START.id}"}}
    ]})
}

#[test]
fn a_workflow_composes_two_sqlite_apis_through_the_edge() {
    let server = start("wf-serial");
    publish(&server, "demo", workflow_api("wf_customer", "/wf/customer", serial_switch()));

    // Branch one: customer 42 goes on to its orders.
    let answer = served(&server, "/wf/customer?id=42");
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let body = answer.json();
    assert_eq!(body["code"], "OK", "{body}");
    assert_eq!(body["data"]["branch"], "orders", "{body}");
    assert_eq!(body["data"]["customer"], 42, "{body}");
    let orders = body["data"]["orders"].as_array().expect("orders");
    assert!(orders.iter().all(|o| o["customerId"] == 42), "{body}");
    assert_eq!(answer.header("x-sluice-version"), Some("V0"));

    // Branch two: any other customer ends at once, the request readable as ${START.id}.
    let other = server.get("/wf/customer?id=7").json();
    assert_eq!(other["data"]["branch"], "other", "{other}");
    assert_eq!((other["data"]["customer"].as_i64(), other["data"]["asked"].as_i64()), (Some(7), Some(7)));

    // Masking: the email is L3; the anonymous caller (L1) gets it masked inside the workflow
    // exactly as calling customer_by_id directly would.
    assert_eq!(other["data"]["email"], "******", "{other}");

    // Parameters are typed like any API's.
    let bad = server.get("/wf/customer?id=seven");
    assert_eq!((bad.status, code(&bad).as_str()), (400, "InvalidParameter.id"));
    let missing = server.get("/wf/customer");
    assert_eq!((missing.status, code(&missing).as_str()), (400, "MissingParameter.id"));

    // An inner API above the caller's clearance is refused inside as it would be outside.
    runtime().block_on(async {
        let store = open_store(&server).await;
        let demo = store.workgroup_by_name("demo").await.expect("demo");
        let mut customers = store
            .list_apis(demo.id)
            .await
            .expect("apis")
            .into_iter()
            .find(|a| a.name == "customer_by_id")
            .expect("api");
        customers.settings.security_level = catalog::model::SecurityLevel::L2;
        store.update_api(&customers).await.expect("level");
        store.close().await;
    });
    let start = Instant::now();
    let refused = loop {
        let answer = server.get("/wf/customer?id=7");
        if answer.status != 200 || start.elapsed() > Duration::from_secs(10) {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let body = refused.json();
    assert_eq!((refused.status, code(&refused).as_str()), (502, "Workflow.NodeFailed.C"), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("Forbidden.SecurityLevel")), "{body}");

    // The OpenAPI document describes the request parameter and the end mappings' keys.
    let doc = root(&server, "GET", "/workgroups/demo/openapi.json", None);
    assert_eq!(doc.status, 200, "{}", String::from_utf8_lossy(&doc.body));
    let doc = doc.json();
    let operation = &doc["paths"]["/wf/customer"]["get"];
    assert_eq!(operation["parameters"][0]["name"], "id", "{operation}");
    let text = operation["responses"]["200"].to_string();
    assert!(text.contains("\"branch\"") && text.contains("\"email\""), "{text}");
}

#[test]
fn a_failed_node_answers_node_failed_with_the_inner_code() {
    let server = start("wf-failed");
    let failing = json!({"start": "C", "nodes": [
        {"id": "C", "kind": "api", "api": "customer_by_id", "params": {"id": "not-a-number"}, "next": ["E"]},
        {"id": "E", "kind": "end"}
    ]});
    publish(&server, "demo", workflow_api("wf_failing", "/wf/failing", failing));
    let answer = served(&server, "/wf/failing?id=1");
    let body = answer.json();
    assert_eq!((answer.status, code(&answer).as_str()), (502, "Workflow.NodeFailed.C"), "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("C → InvalidParameter.id: "), "{message}");

    // continueOnError turns the failure into the node's output.
    let tolerant = json!({"start": "C", "nodes": [
        {"id": "C", "kind": "api", "api": "customer_by_id", "params": {"id": "x"}, "continueOnError": true, "next": ["E"]},
        {"id": "E", "kind": "end", "output": {"code": "$.error.code"}}
    ]});
    publish(&server, "demo", workflow_api("wf_tolerant", "/wf/tolerant", tolerant));
    let answer = served(&server, "/wf/tolerant?id=1").json();
    assert_eq!(answer["data"]["code"], "InvalidParameter.id", "{answer}");
}

#[test]
fn workgroups_are_walls_and_depth_is_bounded() {
    let server = start("wf-walls");
    ok(&root(&server, "POST", "/workgroups", Some(json!({"name": "other"}))));
    let end_only = json!({"start": "E", "nodes": [{"id": "E", "kind": "end", "output": {"secret": "${START.id}"}}]});
    publish(&server, "other", workflow_api("other_wf", "/other/wf", end_only));
    assert_eq!(served(&server, "/other/wf?id=5").json()["data"]["secret"], 5);

    // Saving a workflow that names another workgroup's API is refused, naming the node.
    let crossing = json!({"start": "X", "nodes": [
        {"id": "X", "kind": "api", "api": "other_wf", "next": ["E"]},
        {"id": "E", "kind": "end"}
    ]});
    let created =
        ok(&root(&server, "POST", "/workgroups/demo/apis", Some(workflow_api("wf_cross", "/wf/cross", crossing))));
    let id = created["id"].as_i64().expect("id");
    refused(
        &root(&server, "POST", &format!("/workgroups/demo/apis/{id}/versions"), None),
        400,
        Some("draft.nodes[0].api"),
    );
    // Written past the check (straight into the store), the edge does not find it either.
    runtime().block_on(async {
        let store = open_store(&server).await;
        let version = store.save_version(id, "past the check").await.expect("version");
        store.publish(id, Environment::Prod, version.number).await.expect("publish");
        store.close().await;
    });
    let answer = served(&server, "/wf/cross?id=5");
    let body = answer.json();
    assert_eq!((answer.status, code(&answer).as_str()), (502, "Workflow.NodeFailed.X"), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("NotFound.Api")), "{body}");

    // A workflow calling itself stops at the depth limit.
    let looping = json!({"start": "SELF", "nodes": [
        {"id": "SELF", "kind": "api", "api": "wf_loop", "next": ["E"]},
        {"id": "E", "kind": "end"}
    ]});
    publish(&server, "demo", workflow_api("wf_loop", "/wf/loop", looping));
    let answer = served(&server, "/wf/loop?id=1");
    let body = answer.json();
    assert_eq!((answer.status, code(&answer).as_str()), (508, "Workflow.DepthExceeded"), "{body}");
}

#[test]
fn a_bad_reference_is_refused_naming_the_node_field() {
    let server = start("wf-check");
    let bad = json!({"start": "C", "nodes": [
        {"id": "C", "kind": "api", "api": "customer_by_id", "params": {"id": "${NOPE.x}"}, "next": ["E"]},
        {"id": "E", "kind": "end"}
    ]});
    let created = ok(&root(&server, "POST", "/workgroups/demo/apis", Some(workflow_api("wf_bad", "/wf/bad", bad))));
    let id = created["id"].as_i64().expect("id");
    let body = refused(
        &root(&server, "POST", &format!("/workgroups/demo/apis/{id}/versions"), None),
        400,
        Some("draft.nodes[0].params.id"),
    );
    assert_eq!(body["code"], "InvalidDefinition", "{body}");

    // The console shows a draft's plan without running anything.
    let good =
        ok(&root(&server, "POST", "/workgroups/demo/apis", Some(workflow_api("wf_plan", "/wf/plan", serial_switch()))));
    let plan = ok(&root(
        &server,
        "POST",
        &format!("/workgroups/demo/apis/{}/test", good["id"]),
        Some(json!({"dryRun": true})),
    ));
    assert_eq!(plan["plan"][0]["node"], "C", "{plan}");
    assert_eq!(plan["plan"][1]["step"], "switch", "{plan}");

    // A run answers the result and each node's trace; parameters are typed first.
    let echo = json!({"start": "E", "nodes": [{"id": "E", "kind": "end", "output": {"asked": "${START.id}"}}]});
    let echo = ok(&root(&server, "POST", "/workgroups/demo/apis", Some(workflow_api("wf_echo", "/wf/echo", echo))));
    let test = format!("/workgroups/demo/apis/{}/test", echo["id"]);
    let run = ok(&root(&server, "POST", &test, Some(json!({"params": {"id": "5"}}))));
    assert_eq!(run["result"], json!({"asked": 5}), "{run}");
    assert_eq!((run["trace"][0]["node"].as_str(), run["trace"][0]["status"].as_str()), (Some("E"), Some("ok")));
    refused(&root(&server, "POST", &test, Some(json!({"params": {"id": "five"}}))), 400, Some("params.id"));
}

/// The console runs a draft's API nodes in process against the versions published in the
/// chosen environment, as a caller of the chosen clearance would see them, and shows the
/// trace up to a node that failed.
#[test]
fn the_console_runs_api_nodes_under_the_chosen_clearance() {
    let server = start("wf-console");
    let draft = workflow_api("wf_console", "/wf/console", serial_switch());
    let created = ok(&root(&server, "POST", "/workgroups/demo/apis", Some(draft)));
    let test = format!("/workgroups/demo/apis/{}/test", created["id"]);

    // The demo's APIs are published to prod. Without a clearance the owner sees every field.
    let run = ok(&root(&server, "POST", &test, Some(json!({"params": {"id": 7}, "environment": "prod"}))));
    assert_eq!(
        (run["result"]["branch"].as_str(), run["result"]["customer"].as_i64()),
        (Some("other"), Some(7)),
        "{run}"
    );
    assert!(run["result"]["email"].as_str().is_some_and(|e| e.contains('@')), "{run}");
    assert_eq!(
        (run["trace"][0]["node"].as_str(), run["trace"][0]["status"].as_str()),
        (Some("C"), Some("ok")),
        "{run}"
    );
    assert_eq!(run["trace"][0]["input"], json!({"id": 7}), "{run}");
    assert!(run["trace"][0]["output"]["email"].as_str().is_some_and(|e| e.contains('@')), "{run}");
    assert!(run.get("error").is_none(), "{run}");

    // As an L1 caller, the L3 email is masked inside the API node: in its trace and the answer.
    let masked =
        ok(&root(&server, "POST", &test, Some(json!({"params": {"id": 7}, "environment": "prod", "clearance": "L1"}))));
    assert_eq!(masked["result"]["email"], "******", "{masked}");
    assert_eq!(masked["trace"][0]["output"]["email"], "******", "{masked}");

    // Nothing of the demo is published in test (the default): the node fails, and the console
    // answers the caller's error beside the trace that names the node and the inner code.
    let failed = ok(&root(&server, "POST", &test, Some(json!({"params": {"id": 7}}))));
    assert_eq!(failed["result"], Value::Null, "{failed}");
    assert_eq!(
        (failed["error"]["code"].as_str(), failed["error"]["status"].as_u64()),
        (Some("Workflow.NodeFailed.C"), Some(502))
    );
    assert_eq!(
        (failed["trace"][0]["node"].as_str(), failed["trace"][0]["status"].as_str()),
        (Some("C"), Some("failed"))
    );
    assert_eq!(failed["trace"][0]["output"]["error"]["code"], "NotFound.Api", "{failed}");

    // A parameter the workflow refuses is still the console call's own 400.
    refused(&root(&server, "POST", &test, Some(json!({"params": {"id": "seven"}}))), 400, Some("params.id"));

    // A dry run runs nothing: the plan, and each data API node's statement from what is known
    // before the run (the first node's from the request; the orders node's needs C's output).
    let dry =
        ok(&root(&server, "POST", &test, Some(json!({"params": {"id": 7}, "environment": "prod", "dryRun": true}))));
    assert_eq!(dry["plan"][0]["node"], "C", "{dry}");
    let statements = dry["statements"].as_array().expect("statements");
    assert_eq!(statements.len(), 2, "{dry}");
    assert_eq!(statements[0]["node"], "C", "{dry}");
    assert!(statements[0]["sql"].as_str().is_some_and(|s| s.contains("\"customers\"")), "{dry}");
    assert_eq!(statements[0]["binds"][0], 7, "{dry}");
    assert_eq!((statements[1]["node"].as_str(), statements[1]["sql"].as_null()), (Some("O"), Some(())), "{dry}");
    assert!(statements[1]["why"].as_str().is_some_and(|w| w.contains("`customerId`")), "{dry}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

async fn open_store(server: &Server) -> Store {
    let key = std::fs::read_to_string(server.data_dir.join("secret.key")).expect("secret.key");
    let secrets = SecretBox::from_key_text(key.trim()).expect("key");
    let url = format!("sqlite://{}", server.data_dir.join("sluice.db").display());
    Store::open(&url, secrets).await.expect("store")
}

/// An upstream on loopback: answers JSON echoing the query, with status 500 under `/fail`.
fn json_upstream() -> std::net::SocketAddr {
    use std::io::{BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().expect("clone");
                let mut reader = BufReader::new(stream);
                while let Some((_, target, _)) = support::read_request_head(&mut reader) {
                    let query = target.split_once('?').map(|(_, q)| q.to_owned()).unwrap_or_default();
                    let body = json!({"temp": 21, "query": query}).to_string();
                    let status = if target.contains("/fail") { "500 Failed" } else { "200 OK" };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    if writer.write_all(head.as_bytes()).and_then(|_| writer.write_all(body.as_bytes())).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_registered_api_answers_a_node_through_one_bounded_exchange() {
    let upstream = json_upstream();
    let server = Server::start("wf-registered", &[("SLUICE_ADMIN_TOKEN", ROOT), ("SLUICE_SSRF_ALLOW", "127.0.0.1")]);
    let registered = json!({"name": "weather", "path": "/weather", "authMode": "none", "draft": {
        "mode": "registered", "baseUrl": format!("http://{upstream}/v1"), "path": "/now",
        "params": [{"name": "id", "type": "int"}]
    }});
    publish(&server, "demo", registered);
    let workflow = json!({"start": "W", "nodes": [
        {"id": "W", "kind": "api", "api": "weather", "next": ["E"]},
        {"id": "E", "kind": "end", "output": {"temp": "$.data.temp", "query": "$.data.query"}}
    ]});
    publish(&server, "demo", workflow_api("wf_weather", "/wf/weather", workflow));
    let answer = served(&server, "/wf/weather?id=3");
    let body = answer.json();
    assert_eq!(answer.status, 200, "{body}");
    assert_eq!((body["data"]["temp"].as_i64(), body["data"]["query"].as_str()), (Some(21), Some("id=3")), "{body}");
    // Again, on the kept connection.
    let again = server.get("/wf/weather?id=4").json();
    assert_eq!(again["data"]["query"], "id=4", "{again}");

    // An upstream that fails fails the node, with the registered lane's code.
    let failing = json!({"name": "weather_fail", "path": "/weather/fail", "authMode": "none", "draft": {
        "mode": "registered", "baseUrl": format!("http://{upstream}/v1"), "path": "/fail"
    }});
    publish(&server, "demo", failing);
    let workflow = json!({"start": "F", "nodes": [
        {"id": "F", "kind": "api", "api": "weather_fail", "next": ["E"]},
        {"id": "E", "kind": "end"}
    ]});
    publish(&server, "demo", workflow_api("wf_weather_fail", "/wf/weather/fail", workflow));
    let answer = served(&server, "/wf/weather/fail?id=1");
    let body = answer.json();
    assert_eq!((answer.status, code(&answer).as_str()), (502, "Workflow.NodeFailed.F"), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("Upstream.Unavailable")), "{body}");
}

/// Seed 001's example word for word: an API node whose output maps `user_id`, the seed's Python
/// function unchanged, a switch on `$.user_id` with the seed's two branches, and end nodes.
fn seed_001() -> Value {
    let handler = "# -*- coding: utf-8 -*-\n\
        # event (str) : in filter it is the API result, in other cases, it is your param\n\
        # context : some environment information, temporarily useless\n\
        # import module limit: json,time,random,pickle,re,math\n\
        import json\n\
        def handler(event,context):\n\
        \x20   # load str to json object\n\
        \x20   obj = json.loads(event)\n\
        \x20   # add your code here\n\
        \x20   # end add\n\
        \x20   return obj\n";
    json!({"start": "API1", "functions": {"PYTHON1": handler}, "nodes": [
        {"id": "API1", "kind": "api", "api": "customer_by_id", "output": {"user_id": "$.data.rows[0].id"}, "next": ["PY"]},
        {"id": "PY", "kind": "function", "function": "PYTHON1", "next": ["SWITCH2"]},
        {"id": "SWITCH2", "kind": "switch", "branches": [
            {"condition": "$.user_id != 1", "next": "NOT_ONE"},
            {"condition": "$.user_id == 1", "next": "ONE"}
        ]},
        {"id": "NOT_ONE", "kind": "end", "output": {"branch": "not one", "user_id": "$.user_id"}},
        {"id": "ONE", "kind": "end", "output": {"branch": "one", "user_id": "$.user_id"}}
    ]})
}

#[test]
fn seed_001_runs_an_api_a_python_function_and_a_switch() {
    let server = start("wf-seed001");
    publish(&server, "demo", workflow_api("wf_seed", "/wf/seed", seed_001()));
    let answer = served(&server, "/wf/seed?id=1");
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.json()["data"], json!({"branch": "one", "user_id": 1}));
    let other = server.get("/wf/seed?id=42").json();
    assert_eq!(other["data"], json!({"branch": "not one", "user_id": 42}), "{other}");

    // Hostile functions end in typed errors and the server goes on answering.
    let hostile = |name: &str, path: &str, source: &str| {
        let mut workflow = seed_001();
        workflow["functions"]["PYTHON1"] = json!(source);
        publish(&server, "demo", workflow_api(name, path, workflow));
        served(&server, &format!("{path}?id=1"))
    };
    let looping = hostile("wf_loop", "/wf/loop", "def handler(event, context):\n    while True:\n        pass\n");
    assert_eq!((looping.status, code(&looping).as_str()), (504, "Workflow.FunctionTimeout"));
    // A refused import is refused when the draft is saved, naming the function's field…
    let mut escaping = seed_001();
    escaping["functions"]["PYTHON1"] = json!("import os\ndef handler(event, context):\n    return os.listdir('/')\n");
    let api = workflow_api("wf_os", "/wf/os", escaping);
    let body = refused(
        &root(&server, "POST", "/workgroups/demo/apis", Some(api.clone())),
        400,
        Some("draft.functions.PYTHON1"),
    );
    assert_eq!(body["code"], "InvalidDefinition", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("os")), "{body}");
    // …and written past the check (straight into the store), the edge refuses to run it.
    runtime().block_on(async {
        let store = open_store(&server).await;
        let demo = store.workgroup_by_name("demo").await.expect("demo");
        let draft: catalog::model::ApiDefinition = serde_json::from_value(api["draft"].clone()).expect("definition");
        let written = catalog::model::Api {
            id: 0,
            workgroup_id: demo.id,
            name: "wf_os".into(),
            path: "/wf/os".into(),
            method: "GET".into(),
            description: String::new(),
            folder_id: None,
            settings: catalog::model::ApiSettings { auth_mode: catalog::model::AuthMode::None, ..Default::default() },
            draft,
            details: Default::default(),
        };
        let created = store.create_api(&written).await.expect("api");
        let version = store.save_version(created.id, "past the check").await.expect("version");
        store.publish(created.id, Environment::Prod, version.number).await.expect("publish");
        store.close().await;
    });
    let escape = served(&server, "/wf/os?id=1");
    assert_eq!((escape.status, code(&escape).as_str()), (500, "Workflow.FunctionError"));
    let raised = hostile("wf_raise", "/wf/raise", "def handler(event, context):\n    raise ValueError('no')\n");
    assert_eq!((raised.status, code(&raised).as_str()), (500, "Workflow.FunctionError"));
    assert!(raised.json()["message"].as_str().unwrap_or_default().contains("ValueError"), "{}", raised.json());
    assert_eq!(server.get("/wf/seed?id=1").json()["data"]["branch"], "one");
}

/// A function-only workflow: the request goes through library function `function`, and the end
/// node answers the id and the function's `tag`.
fn tagging(function: &str) -> Value {
    json!({"start": "F", "nodes": [
        {"id": "F", "kind": "function", "function": function, "next": ["E"]},
        {"id": "E", "kind": "end", "output": {"id": "$.id", "tag": "$.tag"}}
    ]})
}

fn tag_source(tag: &str) -> String {
    format!(
        "import json\ndef handler(event, context):\n    obj = json.loads(event)\n    obj['tag'] = '{tag}'\n    return obj\n"
    )
}

/// Calls `path` until its `data.tag` is `tag` (the edge follows the store within a second).
fn tagged(server: &Server, path: &str, tag: &str) -> Value {
    let start = Instant::now();
    loop {
        let body = server.get(path).json();
        if body["data"]["tag"] == tag {
            return body;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{path} never answered tag {tag}: {body}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_library_function_is_versioned_with_the_workflow_that_calls_it() {
    let server = start("wf-library");
    let functions = "/workgroups/demo/functions";
    let made = ok(&root(&server, "POST", functions, Some(json!({"name": "tag", "source": tag_source("first")}))));
    assert_eq!(made["name"], "tag", "{made}");
    // The sandbox checks a source when it is saved: the field, the code and the line.
    let body = refused(
        &root(
            &server,
            "POST",
            functions,
            Some(json!({"name": "bad", "source": "def handler(event, context):\n    return (\n"})),
        ),
        400,
        Some("source"),
    );
    assert_eq!(body["code"], "InvalidFunction", "{body}");
    let body = refused(
        &root(
            &server,
            "POST",
            functions,
            Some(json!({"name": "sneaky", "source": "import socket\ndef handler(event, context):\n    return 1\n"})),
        ),
        400,
        Some("source"),
    );
    assert!(body["message"].as_str().is_some_and(|m| m.contains("socket")), "{body}");
    refused(
        &root(&server, "POST", functions, Some(json!({"name": "tag", "source": tag_source("x")}))),
        409,
        Some("name"),
    );

    // A draft naming a function that is neither inline nor in the library is refused.
    let body = refused(
        &root(&server, "POST", "/workgroups/demo/apis", Some(workflow_api("wf_nope", "/wf/nope", tagging("nope")))),
        400,
        Some("draft.nodes[0].function"),
    );
    assert_eq!(body["code"], "InvalidDefinition", "{body}");

    // Called by name, published, served with the library's source.
    let id = publish(&server, "demo", workflow_api("wf_tagged", "/wf/tagged", tagging("tag")));
    let answer = tagged(&server, "/wf/tagged?id=3", "first");
    assert_eq!(answer["data"], json!({"id": 3, "tag": "first"}), "{answer}");
    let base = format!("/workgroups/demo/apis/{id}");
    let v0 = ok(&root(&server, "GET", &format!("{base}/versions/0"), None));
    assert_eq!(v0["definition"]["functions"]["tag"], tag_source("first"), "the version carries the source");

    // The library changes; the published version keeps running what it was saved with…
    let revision = || ok(&call(&server, "GET", "/health", None, None))["revision"].as_i64().unwrap_or_default();
    let health_then = revision();
    ok(&root(&server, "PUT", &format!("{functions}/tag"), Some(json!({"source": tag_source("second")}))));
    // Once the edge has taken the store's revision after the change, it has seen it.
    let start = Instant::now();
    while revision() <= health_then {
        assert!(start.elapsed() < Duration::from_secs(10), "the edge never took the new revision");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.get("/wf/tagged?id=3").json()["data"]["tag"], "first");
    // …the console runs the draft with the library as it is now…
    let run = ok(&root(&server, "POST", &format!("{base}/test"), Some(json!({"params": {"id": "3"}}))));
    assert_eq!(run["result"], json!({"id": 3, "tag": "second"}), "{run}");
    let run = ok(&root(&server, "POST", &format!("{base}/test"), Some(json!({"version": 0, "params": {"id": "3"}}))));
    assert_eq!(run["result"]["tag"], "first", "{run}");
    // …and the next version takes the new source.
    ok(&root(&server, "POST", &format!("{base}/versions"), None));
    ok(&root(&server, "POST", &format!("{base}/publish"), Some(json!({"version": 1, "environment": "prod"}))));
    tagged(&server, "/wf/tagged?id=3", "second");
    let v0 = ok(&root(&server, "GET", &format!("{base}/versions/0"), None));
    assert_eq!(v0["definition"]["functions"]["tag"], tag_source("first"), "V0 is as it was saved");

    // Deleting it is refused while a draft calls it, naming the API…
    let body = refused(&root(&server, "DELETE", &format!("{functions}/tag"), None), 409, None);
    assert_eq!(body["code"], "Conflict", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("`wf_tagged`")), "{body}");
    // …and allowed once the draft carries its own source; published versions run on.
    let mut own = tagging("tag");
    own["functions"] = json!({"tag": tag_source("inline")});
    let mut draft = own;
    draft["mode"] = json!("workflow");
    draft["requestParams"] = json!([{"name": "id", "type": "int", "required": true}]);
    ok(&root(&server, "PUT", &base, Some(json!({"draft": draft}))));
    ok(&root(&server, "DELETE", &format!("{functions}/tag"), None));
    refused(&root(&server, "GET", &format!("{functions}/tag"), None), 404, None);
    assert_eq!(server.get("/wf/tagged?id=3").json()["data"]["tag"], "second");

    // Workgroups are walls: another workgroup neither sees demo's functions nor calls them.
    ok(&root(&server, "POST", "/workgroups", Some(json!({"name": "other"}))));
    ok(&root(&server, "POST", functions, Some(json!({"name": "shared", "source": tag_source("demo")}))));
    refused(&root(&server, "GET", "/workgroups/other/functions/shared", None), 404, None);
    assert_eq!(ok(&root(&server, "GET", "/workgroups/other/functions", None)), json!([]));
    refused(
        &root(
            &server,
            "POST",
            "/workgroups/other/apis",
            Some(workflow_api("wf_cross_fn", "/other/cross", tagging("shared"))),
        ),
        400,
        Some("draft.nodes[0].function"),
    );
}

#[test]
fn files_add_library_functions_checked_in_the_sandbox() {
    let server = start("wf-files");
    let dir = server.data_dir.join("function-files");
    std::fs::create_dir_all(&dir).expect("dir");
    // The sandbox refuses `import os` on the source's line 2: the file's line 6.
    let bad = dir.join("bad.yaml");
    let text = "kind: Function\nworkgroup: demo\nname: bad\nsource: |\n  import json\n  import os\n  def handler(event, context):\n      return 1\n";
    std::fs::write(&bad, text).expect("write");
    let path = bad.display().to_string();
    let (passed, out) = support::sluice(&server.data_dir, &["check", "-f", &path], &[]);
    assert!(!passed, "{out}");
    assert!(out.contains(&format!("{path}:6: function `bad`: ")) && out.contains("os"), "{out}");
    let (passed, out) = support::sluice(&server.data_dir, &["apply", "-f", &path], &[]);
    assert!(!passed && out.contains(&format!("{path}:6: ")), "{out}");
    refused(&root(&server, "GET", "/workgroups/demo/functions/bad", None), 404, None);

    // A function and a workflow calling it, in one apply: the function is written first.
    let good = dir.join("good.yaml");
    let source: String = tag_source("from-file").lines().map(|l| format!("  {l}\n")).collect();
    let text = format!(
        "kind: Function\nworkgroup: demo\nname: filed\nsource: |\n{source}---\n\
         kind: Api\nworkgroup: demo\nname: wf_filed\npath: /wf/filed\nmode: workflow\nauthMode: none\n\
         requestParams:\n  - {{name: id, type: int, required: true}}\n\
         workflow:\n  start: F\n  nodes:\n    - {{id: F, kind: function, function: filed, next: [E]}}\n\
         \x20   - {{id: E, kind: end, output: {{id: \"$.id\", tag: \"$.tag\"}}}}\n"
    );
    std::fs::write(&good, text).expect("write");
    let path = good.display().to_string();
    let (passed, out) = support::sluice(&server.data_dir, &["check", "-f", &path], &[]);
    assert!(passed, "{out}");
    let (passed, out) = support::sluice(&server.data_dir, &["apply", "-f", &path], &[]);
    assert!(passed && out.contains("function demo/filed: created"), "{out}");
    assert_eq!(tagged(&server, "/wf/filed?id=4", "from-file")["data"], json!({"id": 4, "tag": "from-file"}));
}
