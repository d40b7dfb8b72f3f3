//! The document of what one app may call: parameters and fields above its clearance left out,
//! APIs above it left out whole, APIs without credentials described as anonymous (L1) calls.

mod common;

use catalog::model::{Api, ApiVersion, AuthMode, SecurityLevel};
use serde_json::Value;

fn app_doc(clearance: SecurityLevel, apis: &[(Api, ApiVersion)]) -> (String, Value) {
    let text = openapi::to_json(&openapi::app_document("mobile", clearance, apis, common::SERVER));
    let value = serde_json::from_str(&text).unwrap();
    (text, common::inline_shared(&value))
}

/// The names of an operation's parameters, in order.
fn params(op: &Value) -> Vec<String> {
    op["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
}

fn body_fields(op: &Value) -> Vec<String> {
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

fn row_fields(doc: &Value, row: &str) -> Vec<String> {
    doc["components"]["schemas"][row]["properties"].as_object().unwrap().keys().cloned().collect()
}

#[test]
fn parameters_and_fields_above_the_clearance_are_left_out() {
    let (_, l1) = app_doc(SecurityLevel::L1, &[common::wizard()]);
    let op = &l1["paths"]["/shop/{region}/orders/{id}"]["post"];
    let names = params(op);
    assert!(!names.contains(&"X-Tenant".to_owned()), "the L3 header: {names:?}");
    assert!(names.contains(&"min_total".to_owned()) && names.contains(&"region".to_owned()), "{names:?}");
    assert!(!body_fields(op).contains(&"note".to_owned()), "the L4 body field");
    assert!(body_fields(op).contains(&"tags".to_owned()));
    let row = row_fields(&l1, "FindOrdersRow");
    assert!(!row.contains(&"card_number".to_owned()), "{row:?}");
    assert!(row.contains(&"id".to_owned()) && row.contains(&"total".to_owned()), "{row:?}");
    assert!(l1["info"]["description"].as_str().unwrap().contains("clearance (L1)"));

    let (_, l3) = app_doc(SecurityLevel::L3, &[common::wizard()]);
    let op = &l3["paths"]["/shop/{region}/orders/{id}"]["post"];
    assert!(params(op).contains(&"X-Tenant".to_owned()), "L3 sees the L3 header");
    assert!(!body_fields(op).contains(&"note".to_owned()), "but not the L4 field");
    assert!(!row_fields(&l3, "FindOrdersRow").contains(&"card_number".to_owned()));

    let (text, l4) = app_doc(SecurityLevel::L4, &[common::wizard()]);
    assert!(body_fields(&l4["paths"]["/shop/{region}/orders/{id}"]["post"]).contains(&"note".to_owned()));
    assert!(row_fields(&l4, "FindOrdersRow").contains(&"card_number".to_owned()));
    // The same API for another clearance is another document.
    assert_ne!(l1["info"]["version"], l4["info"]["version"]);
    assert!(text.contains("\"openapi\": \"3.1.0\""));
    assert_eq!(l4["info"]["title"], "mobile");
}

#[test]
fn for_clearance_filters_the_definition_only() {
    let (_, version) = common::wizard();
    let visible = openapi::for_clearance(&version, SecurityLevel::L2);
    assert_eq!(visible.number, version.number);
    assert!(visible.definition.request_params.iter().all(|p| p.security_level <= SecurityLevel::L2));
    assert_eq!(visible.definition.request_params.len(), version.definition.request_params.len() - 2);
    assert_eq!(visible.definition.response_fields.len(), version.definition.response_fields.len() - 1);
    assert_eq!(visible.definition.mode, version.definition.mode);
    let everything = openapi::for_clearance(&version, SecurityLevel::L4);
    assert_eq!(everything, version);
}

#[test]
fn apis_above_the_clearance_are_left_out_with_a_note() {
    let mut secret = common::compact();
    secret.0.settings.security_level = SecurityLevel::L3;
    let apis = [secret, common::script_paged()];
    let (_, l2) = app_doc(SecurityLevel::L2, &apis);
    assert!(l2["paths"].get("/orders/totals").is_none(), "{}", l2["paths"]);
    assert!(l2["paths"].get("/customers").is_some());
    assert!(l2["info"]["version"].as_str().unwrap().starts_with("1 APIs, "));
    let notes = l2["info"]["description"].as_str().unwrap();
    assert!(notes.contains("`order_totals` is left out: it needs clearance L3, the app has L2"), "{notes}");
    // The L2 field of list_customers stays for L2.
    assert!(row_fields(&l2, "ListCustomersRow").contains(&"name".to_owned()));
    let (_, l3) = app_doc(SecurityLevel::L3, &apis);
    assert!(l3["paths"].get("/orders/totals").is_some());
}

#[test]
fn apis_without_credentials_need_none_and_show_l1_only() {
    let mut open = common::script_paged();
    open.0.settings.auth_mode = AuthMode::None;
    // A level on an anonymous API does not keep anyone out: the gateway checks it for apps only.
    open.0.settings.security_level = SecurityLevel::L4;
    let (_, doc) = app_doc(SecurityLevel::L4, &[open, common::compact()]);
    let op = &doc["paths"]["/customers"]["get"];
    assert_eq!(op["security"], serde_json::json!([]), "no credentials: {op:#}");
    assert!(op["description"].as_str().unwrap().contains("Needs no credentials"));
    assert_eq!(row_fields(&doc, "ListCustomersRow"), ["id"], "an anonymous caller is L1");
    // Other operations keep the document's security (app key or token).
    assert!(doc["paths"]["/orders/totals"]["get"].get("security").is_none());
    assert_eq!(doc["security"], serde_json::json!([{"appKey": []}, {"appToken": []}]));
}

#[test]
fn an_app_without_grants_gets_an_empty_document_and_no_secret_leaks() {
    let (_, empty) = app_doc(SecurityLevel::L1, &[]);
    assert_eq!(empty["paths"], serde_json::json!({}));
    assert!(empty["info"]["version"].as_str().unwrap().starts_with("0 APIs, "));
    let (text, _) = app_doc(SecurityLevel::L4, &common::all());
    for secret in common::SECRETS {
        assert!(!text.contains(secret), "`{secret}` leaked into the app document");
    }
}

/// Samples were taken at any clearance: an app that cannot see every parameter and field of
/// the version does not get them; one that sees everything does.
#[test]
fn samples_go_with_anything_the_clearance_hides() {
    let (api, mut version) = common::wizard();
    version.samples.success = Some(serde_json::json!({"code": "OK", "data": {"rows": [{"card_number": "4111"}]}}));
    let apis = [(api, version)];
    let examples = |doc: &Value| {
        doc["paths"]["/shop/{region}/orders/{id}"]["post"]["responses"]["200"]["content"]
        ["application/json"]["examples"]
        .clone()
    };
    let (text, _) = app_doc(SecurityLevel::L1, &apis);
    assert!(!text.contains("4111"), "the L1 document shows no sample");
    let (_, l4) = app_doc(SecurityLevel::L4, &apis);
    assert_eq!(examples(&l4)["sample"]["value"]["data"]["rows"][0]["card_number"], "4111", "{}", examples(&l4));
    assert!(openapi::for_clearance(&apis[0].1, SecurityLevel::L2).samples.is_empty());
}
