//! The function library through the management router in process (`support/`, no sandbox:
//! sources are checked for their `handler` shape only): refusals with their code, field and
//! what to fix; drafts that call library functions; versions that copy them; deletes refused
//! while a draft calls a function; and another workgroup's library out of reach.

mod support;

use serde_json::{Value, json};
use support::{Response, Server, call, ok};

const ROOT: &str = "slc_functions_bootstrap_token_0123456789";
const SOURCE: &str = "import json\ndef handler(event, context):\n    return json.loads(event)\n";

fn root(server: &Server, method: &str, path: &str, body: Option<Value>) -> Response {
    call(server, method, path, Some(ROOT), body)
}

/// Asserts a refusal: status, code and field; returns the message.
fn refused(response: &Response, status: u16, code: &str, field: Option<&str>) -> String {
    let body = response.json();
    assert_eq!((response.status, body["code"].as_str()), (status, Some(code)), "{body}");
    assert_eq!(body["field"].as_str(), field, "{body}");
    body["message"].as_str().unwrap_or_default().to_owned()
}

/// A workflow API whose nodes call `calls` in turn, carrying `inline` sources.
fn workflow(name: &str, calls: &[&str], inline: Value) -> Value {
    let mut nodes: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(
            |(i, f)| json!({"id": format!("n{i}"), "kind": "function", "function": f, "next": [format!("n{}", i + 1)]}),
        )
        .collect();
    nodes.push(json!({"id": format!("n{}", calls.len()), "kind": "end"}));
    json!({"name": name, "path": format!("/{name}"),
           "draft": {"mode": "workflow", "start": "n0", "nodes": nodes, "functions": inline}})
}

fn start(tag: &str) -> Server {
    let server = Server::start(tag, ROOT);
    for name in ["team", "other"] {
        ok(&root(&server, "POST", "/workgroups", Some(json!({"name": name}))));
    }
    server
}

#[test]
fn saving_a_function_names_the_field_and_what_to_fix() {
    let server = start("fn-refusals");
    let functions = "/workgroups/team/functions";
    let made =
        ok(&root(&server, "POST", functions, Some(json!({"name": "echo", "description": "d", "source": SOURCE}))));
    assert_eq!((made["name"].as_str(), made["source"].as_str()), (Some("echo"), Some(SOURCE)), "{made}");
    assert_eq!(made["digest"].as_str().map(str::len), Some(64), "{made}");

    let message = refused(
        &root(&server, "POST", functions, Some(json!({"name": "has space", "source": SOURCE}))),
        400,
        "InvalidParameter.name",
        Some("name"),
    );
    assert!(message.contains("letters, digits"), "{message}");
    let message = refused(
        &root(
            &server,
            "POST",
            functions,
            Some(json!({"name": "nohandler", "source": "def other(event, context):\n    return 1\n"})),
        ),
        400,
        "InvalidFunction",
        Some("source"),
    );
    assert!(message.contains("`nohandler`") && message.contains("def handler"), "{message}");
    refused(
        &root(&server, "POST", functions, Some(json!({"name": "empty", "source": "  "}))),
        400,
        "InvalidFunction",
        Some("source"),
    );
    refused(
        &root(&server, "POST", functions, Some(json!({"name": "nosource"}))),
        400,
        "InvalidParameter.source",
        Some("source"),
    );
    let message = refused(
        &root(&server, "POST", functions, Some(json!({"name": "echo", "source": SOURCE}))),
        409,
        "Conflict",
        Some("name"),
    );
    assert!(message.contains("`echo`"), "{message}");

    // The list has no sources; a name no function could have is simply not found.
    let listed = ok(&root(&server, "GET", functions, None));
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert!(listed[0].get("source").is_none() && listed[0]["digest"] == made["digest"], "{listed}");
    refused(&root(&server, "GET", &format!("{functions}/has%20space"), None), 404, "NotFound", None);
    refused(&root(&server, "GET", &format!("{functions}/missing"), None), 404, "NotFound", None);

    // An update replaces what is sent; the name stays.
    let updated = ok(&root(&server, "PUT", &format!("{functions}/echo"), Some(json!({"description": "new"}))));
    assert_eq!((updated["description"].as_str(), updated["source"].as_str()), (Some("new"), Some(SOURCE)));
    refused(
        &root(&server, "PUT", &format!("{functions}/echo"), Some(json!({"source": "x = 1\n"}))),
        400,
        "InvalidFunction",
        Some("source"),
    );
    refused(
        &root(&server, "PUT", &format!("{functions}/echo"), Some(json!({"name": "renamed"}))),
        400,
        "InvalidParameter.name",
        Some("name"),
    );
}

#[test]
fn drafts_call_library_functions_and_versions_copy_them() {
    let server = start("fn-drafts");
    let functions = "/workgroups/team/functions";
    ok(&root(&server, "POST", functions, Some(json!({"name": "echo", "source": SOURCE}))));
    ok(&root(&server, "POST", "/workgroups/other/functions", Some(json!({"name": "theirs", "source": SOURCE}))));

    // Neither inline nor in the library: refused at the node's function; another workgroup's
    // function of that name does not count.
    let message = refused(
        &root(&server, "POST", "/workgroups/team/apis", Some(workflow("missing", &["echo", "theirs"], json!({})))),
        400,
        "InvalidDefinition",
        Some("draft.nodes[1].function"),
    );
    assert!(message.contains("`theirs`"), "{message}");
    // An inline source is checked when the draft is saved.
    refused(
        &root(
            &server,
            "POST",
            "/workgroups/team/apis",
            Some(workflow("badinline", &["mine"], json!({"mine": "x = 1"}))),
        ),
        400,
        "InvalidDefinition",
        Some("draft.functions.mine"),
    );

    let inline = "def handler(event, context):\n    return {'inline': True}\n";
    let api = ok(&root(
        &server,
        "POST",
        "/workgroups/team/apis",
        Some(workflow("flow", &["echo", "mine"], json!({"mine": inline}))),
    ));
    let base = format!("/workgroups/team/apis/{}", api["id"]);
    assert_eq!(api["draft"]["functions"], json!({"mine": inline}), "the draft keeps only what it was given");
    let v0 = ok(&root(&server, "POST", &format!("{base}/versions"), Some(json!({}))));
    assert_eq!(v0["definition"]["functions"], json!({"echo": SOURCE, "mine": inline}), "{v0}");

    let changed = "def handler(event, context):\n    return 2\n";
    ok(&root(&server, "PUT", &format!("{functions}/echo"), Some(json!({"source": changed}))));
    let again = ok(&root(&server, "GET", &format!("{base}/versions/0"), None));
    assert_eq!(again["definition"]["functions"]["echo"], SOURCE, "a saved version does not change");
    let v1 = ok(&root(&server, "POST", &format!("{base}/versions"), Some(json!({}))));
    assert_eq!(v1["definition"]["functions"]["echo"], changed, "{v1}");

    // Deleting is refused while the draft calls it, naming the API; versions do not count.
    let message = refused(&root(&server, "DELETE", &format!("{functions}/echo"), None), 409, "Conflict", None);
    assert!(message.contains("`flow`"), "{message}");
    ok(&root(
        &server,
        "PUT",
        &base,
        Some(json!({"draft": workflow("flow", &["mine"], json!({"mine": inline}))["draft"]})),
    ));
    ok(&root(&server, "DELETE", &format!("{functions}/echo"), None));
    refused(&root(&server, "GET", &format!("{functions}/echo"), None), 404, "NotFound", None);
    let kept = ok(&root(&server, "GET", &format!("{base}/versions/1"), None));
    assert_eq!(kept["definition"]["functions"]["echo"], changed);

    // Another workgroup's function is out of reach by name from this one.
    refused(&root(&server, "GET", "/workgroups/team/functions/theirs", None), 404, "NotFound", None);
    refused(
        &root(&server, "PUT", "/workgroups/team/functions/theirs", Some(json!({"description": "x"}))),
        404,
        "NotFound",
        None,
    );
    refused(&root(&server, "DELETE", "/workgroups/team/functions/theirs", None), 404, "NotFound", None);
    assert_eq!(ok(&root(&server, "GET", "/workgroups/other/functions/theirs", None))["description"], "");
}
