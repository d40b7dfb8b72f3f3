//! A workflow's operation: its request parameters, the keys of its end nodes' mappings as
//! `data`, and the `Workflow.*` errors with their statuses.

mod common;

use serde_json::Value;

#[test]
fn a_workflow_documents_its_params_end_keys_and_errors() {
    let (api, version) = common::workflow();
    let text = openapi::to_json(&openapi::api_document(&api, &version, common::SERVER));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let doc = common::inline_shared(&doc);
    let op = &doc["paths"]["/flows/customer"]["get"];
    assert_eq!(op["x-sluice"]["mode"], "workflow");
    assert_eq!(op["parameters"][0]["name"], "id", "{op:#}");
    let data = &op["responses"]["200"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["data"];
    let mut keys: Vec<&String> = data["properties"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["customer", "first", "orders"], "{data:#}");
    let statuses: Vec<&str> = op["responses"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(statuses, ["200", "400", "404", "406", "413", "429", "500", "502", "504", "508"]);
    let ok = &op["responses"]["200"];
    for media in ["application/json", "application/xml", "text/xml", "text/csv"] {
        assert!(ok["content"].get(media).is_some(), "{media} in {ok:#}");
    }
    assert!(ok["content"]["text/csv"]["schema"]["description"].as_str().unwrap().contains("flat objects"));
    assert!(ok["description"].as_str().unwrap().contains("without it (or with `*/*`), JSON"));
    assert!(op["responses"]["406"].to_string().contains("NotAcceptable"));
    let failed = op["responses"]["502"].to_string();
    assert!(failed.contains("Workflow.NodeFailed.C") && failed.contains("Workflow.NodeFailed.O"), "{failed}");
    assert!(op["responses"]["508"].to_string().contains("Workflow.DepthExceeded"));
    assert!(doc["components"]["schemas"].get("CustomerFlowRow").is_none());
}
