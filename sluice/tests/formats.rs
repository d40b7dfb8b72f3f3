//! Answer formats through the real binary (`docs/formats.md`): `Accept` chooses JSON, XML or
//! CSV, a type the API does not offer is 406 `NotAcceptable`, XML answers are well-formed
//! (parsed strictly), CSV answers parse with the `csv` crate, masked fields stay masked in
//! each, errors follow an XML caller, the result cache keeps each format apart, a workflow
//! answers XML (and CSV only for a table), and a corpus of hostile column names and values
//! (`corpus/hostile_cells.jsonl`) comes out well-formed in every format.

mod support;

use serde_json::{Value, json};
use sluice_tests::formats::{
    as_xml_carries, csv_guarded, element_name, element_value, from_csv, from_json, from_xml, parse_xml, xml_field,
};
use support::{Response, Server};

const XML: &str = "application/xml; charset=utf-8";
const CSV: &str = "text/csv; charset=utf-8; header=present";
const JSON: &str = "application/json; charset=utf-8";

fn start(tag: &str) -> Server {
    Server::start(tag, &[("SLUICE_CACHE_MAX_BYTES", "16777216")])
}

fn body(response: &Response) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

fn accept(value: &str) -> [(&str, &str); 1] {
    [("Accept", value)]
}

#[test]
fn accept_chooses_the_format_and_masked_fields_stay_masked_in_each() {
    let server = start("formats-accept");
    let demo = server.demo_app();
    let json = server.call_as(&demo, "GET", "/customers/42", &[], b"");
    assert_eq!((json.status, json.header("content-type")), (200, Some(JSON)), "{}", body(&json));
    let data = json.json()["data"].clone();
    assert_eq!(data["rows"][0]["email"], "******", "the demo app (L2) sees the email masked");
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for value in ["application/json", "*/*", "application/*", "text/html, */*;q=0.1", browser] {
        let same = server.call_as(&demo, "GET", "/customers/42", &accept(value), b"");
        assert_eq!(same.header("content-type"), Some(JSON), "{value}");
        assert_eq!(same.json()["data"], data, "{value}");
    }

    let xml = server.call_as(&demo, "GET", "/customers/42", &accept("application/xml"), b"");
    assert_eq!((xml.status, xml.header("content-type")), (200, Some(XML)), "{}", body(&xml));
    assert_eq!(xml_field(&xml.body, "success").as_deref(), Some("true"));
    assert_eq!(xml_field(&xml.body, "code").as_deref(), Some("OK"));
    assert_eq!(xml_field(&xml.body, "requestId").as_deref(), xml.header("x-request-id"));
    let table = from_xml(&xml.body);
    assert_eq!(table, from_json(&data, Some(&table.columns)), "XML says what JSON says");
    assert_eq!(table.columns, ["id", "name", "email", "city", "createdAt"]);
    assert_eq!(table.rows[0][2].as_deref(), Some("******"), "masked in XML");

    let text_xml = server.call_as(&demo, "GET", "/customers/42", &accept("text/xml"), b"");
    assert_eq!(text_xml.header("content-type"), Some("text/xml; charset=utf-8"));
    assert_eq!(from_xml(&text_xml.body), table);

    let csv = server.call_as(&demo, "GET", "/customers/42", &accept("text/csv"), b"");
    assert_eq!((csv.status, csv.header("content-type")), (200, Some(CSV)), "{}", body(&csv));
    assert_eq!(csv.header("x-sluice-code"), Some("OK"));
    assert!(csv.header("x-request-id").is_some());
    let rows = from_csv(&csv.body);
    assert_eq!(rows.columns, table.columns);
    assert_eq!(rows.rows[0][2].as_deref(), Some("******"), "masked in CSV");
    assert_eq!(rows.rows[0][0].as_deref(), Some("42"));

    // Weights decide; a type the API does not offer is refused with the ones it does.
    let weighted = server.call_as(&demo, "GET", "/customers/42", &accept("application/json;q=0.5, text/csv"), b"");
    assert_eq!(weighted.header("content-type"), Some(CSV));
    let refused = server.call_as(&demo, "GET", "/customers/42", &accept("image/png"), b"");
    assert_eq!((refused.status, refused.header("content-type")), (406, Some(JSON)), "{}", body(&refused));
    let error = refused.json();
    assert_eq!(error["code"], "NotAcceptable");
    let message = error["message"].as_str().unwrap_or_default();
    for offered in ["application/json", "application/xml", "text/xml", "text/csv"] {
        assert!(message.contains(offered), "{message}");
    }
}

#[test]
fn errors_follow_an_xml_caller_and_csv_callers_get_json_with_the_code() {
    let server = start("formats-errors");
    let demo = server.demo_app();
    let missing = server.call("GET", "/customers/42", &accept("application/xml"), b"");
    assert_eq!((missing.status, missing.header("content-type")), (401, Some(XML)), "{}", body(&missing));
    assert_eq!(xml_field(&missing.body, "success").as_deref(), Some("false"));
    assert_eq!(xml_field(&missing.body, "code").as_deref(), Some("Unauthorized.MissingCredentials"));
    assert!(xml_field(&missing.body, "message").is_some_and(|m| !m.is_empty()));
    assert_eq!(xml_field(&missing.body, "requestId").as_deref(), missing.header("x-request-id"));

    let invalid = server.call_as(&demo, "GET", "/customers/abc", &accept("text/xml"), b"");
    assert_eq!((invalid.status, invalid.header("content-type")), (400, Some("text/xml; charset=utf-8")));
    assert_eq!(xml_field(&invalid.body, "code").as_deref(), Some("InvalidParameter.id"));

    let wrong_key = server.call(
        "GET",
        "/customers/42",
        &[("Accept", "application/xml"), ("X-Sluice-App-Key", "nope"), ("Authorization", "Bearer nope")],
        b"",
    );
    assert_eq!((wrong_key.status, wrong_key.header("content-type")), (401, Some(XML)));
    assert_eq!(xml_field(&wrong_key.body, "code").as_deref(), Some("Unauthorized.InvalidCredentials"));

    let csv = server.call_as(&demo, "GET", "/customers/abc", &accept("text/csv"), b"");
    assert_eq!((csv.status, csv.header("content-type")), (400, Some(JSON)), "{}", body(&csv));
    assert_eq!(csv.header("x-sluice-code"), Some("InvalidParameter.id"));
    assert_eq!(csv.json()["code"], "InvalidParameter.id");

    // Refusals before the call reaches an API stay JSON.
    let not_found = server.call("GET", "/nowhere", &accept("application/xml"), b"");
    assert_eq!((not_found.status, not_found.header("content-type")), (404, Some(JSON)));
}

#[test]
fn the_cache_keeps_each_format_apart() {
    let server = start("formats-cache");
    let demo = server.demo_app();
    let call = |value: Option<&str>| {
        let headers: Vec<(&str, &str)> = value.map(|v| vec![("Accept", v)]).unwrap_or_default();
        server.call_as(&demo, "GET", "/customers/7", &headers, b"")
    };
    let cache = |r: &Response| r.header("x-sluice-cache").unwrap_or("none").to_owned();
    let json = call(None);
    assert_eq!(cache(&json), "MISS");
    assert_eq!(cache(&call(Some("application/json"))), "HIT", "JSON by name is the configured JSON");
    let xml = call(Some("application/xml"));
    assert_eq!(
        (cache(&xml), xml.header("content-type")),
        ("MISS".to_owned(), Some(XML)),
        "a JSON entry never answers XML"
    );
    let xml_hit = call(Some("application/xml"));
    assert_eq!((cache(&xml_hit), xml_hit.header("content-type")), ("HIT".to_owned(), Some(XML)));
    assert_eq!(from_xml(&xml_hit.body), from_xml(&xml.body));
    assert_ne!(xml_field(&xml_hit.body, "requestId"), xml_field(&xml.body, "requestId"), "a hit has its own id");
    assert_eq!(cache(&call(Some("text/xml"))), "HIT", "text/xml is the same XML");
    let csv = call(Some("text/csv"));
    assert_eq!((cache(&csv), csv.header("content-type")), ("MISS".to_owned(), Some(CSV)));
    assert_eq!(cache(&call(Some("text/csv"))), "HIT");
    let again = call(None);
    assert_eq!((cache(&again), again.header("content-type")), ("HIT".to_owned(), Some(JSON)));
    assert_eq!(again.json()["data"], json.json()["data"]);
}

#[test]
fn csv_pages_go_in_headers() {
    let server = start("formats-pages");
    let demo = server.demo_app();
    let path = "/orders/search?status=pending,shipped&pageSize=5&withTotal=true";
    let json = server.call_as(&demo, "GET", path, &[], b"");
    let data = json.json()["data"].clone();
    let csv = server.call_as(&demo, "GET", path, &accept("text/csv"), b"");
    assert_eq!(csv.status, 200, "{}", body(&csv));
    assert_eq!(csv.header("x-sluice-page-num"), Some("1"));
    assert_eq!(csv.header("x-sluice-page-size"), Some("5"));
    assert_eq!(csv.header("x-sluice-total-count").map(str::to_owned), Some(data["totalCnt"].to_string()));
    let table = from_csv(&csv.body);
    assert_eq!(table.rows.len(), data["rows"].as_array().map_or(0, Vec::len));
    let xml = server.call_as(&demo, "GET", path, &accept("application/xml"), b"");
    let doc = parse_xml(&xml.body);
    let total = doc.descendants().find(|n| n.has_tag_name("totalCnt")).and_then(|n| n.text()).map(str::to_owned);
    assert_eq!(total, Some(data["totalCnt"].to_string()));
}

#[test]
fn a_workflow_answers_xml_and_csv_only_for_a_table() {
    let server = start("formats-workflow");
    let demo = server.demo_app();
    let json = server.call_as(&demo, "GET", "/wf/customer-check?id=1", &[], b"");
    assert_eq!(json.status, 200, "{}", body(&json));
    let data = json.json()["data"].clone();
    let xml = server.call_as(&demo, "GET", "/wf/customer-check?id=1", &accept("application/xml"), b"");
    assert_eq!((xml.status, xml.header("content-type")), (200, Some(XML)), "{}", body(&xml));
    let doc = parse_xml(&xml.body);
    let data_node = doc.descendants().find(|n| n.has_tag_name("data")).expect("<data>");
    let members: Vec<(String, Option<String>)> =
        data_node.children().filter(|n| n.is_element()).map(|n| (element_name(n), element_value(n))).collect();
    let want: Vec<(String, Option<String>)> = data
        .as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| (k.clone(), sluice_tests::formats::plain(v)))
        .collect();
    let sorted = |mut v: Vec<(String, Option<String>)>| {
        v.sort();
        v
    };
    assert_eq!(sorted(members), sorted(want), "objects map to elements");
    let csv = server.call_as(&demo, "GET", "/wf/customer-check?id=1", &accept("text/csv"), b"");
    assert_eq!(csv.status, 406, "{}", body(&csv));
    assert_eq!(csv.json()["code"], "NotAcceptable");
}

/// The corpus: column names and values XML and CSV must carry safely. Names are those a native
/// query may write as quoted aliases (no quotes, brackets, backslashes or control characters:
/// `plugins/src/sql/native/walk.rs`); names with those are covered by `plugins/src/format/tests.rs`.
fn corpus() -> Vec<(String, String)> {
    let path = support::workspace_root().join("sluice/tests/corpus/hostile_cells.jsonl");
    std::fs::read_to_string(&path)
        .expect("corpus")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            (v["name"].as_str().expect("name").to_owned(), v["value"].as_str().expect("value").to_owned())
        })
        .collect()
}

#[test]
fn hostile_names_and_values_stay_well_formed_in_every_format() {
    let server = start("formats-hostile");
    let cells = corpus();
    assert!(cells.len() >= 20, "the corpus has its lines");
    let select: Vec<String> = cells
        .iter()
        .map(|(name, value)| format!("'{}' AS \"{}\"", value.replace('\'', "''"), name.replace('"', "\"\"")))
        .collect();
    let sql = format!("SELECT {}, -5 AS \"number\" FROM customers WHERE id = 1", select.join(", "));
    let query: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("sql", &sql).finish();
    let path = format!("/analytics/query?{query}");

    let json = server.call("GET", &path, &[], b"");
    assert_eq!(json.status, 200, "{}", body(&json));
    let row = json.json()["data"]["rows"][0].clone();
    for (name, value) in &cells {
        assert_eq!(row[name.as_str()], json!(value), "JSON carries {name:?} as it is");
    }

    let xml = server.call("GET", &path, &accept("application/xml"), b"");
    assert_eq!((xml.status, xml.header("content-type")), (200, Some(XML)), "{}", body(&xml));
    let table = from_xml(&xml.body);
    let names: Vec<Option<String>> = cells.iter().map(|(n, _)| as_xml_carries(Some(n))).collect();
    assert_eq!(table.columns.len(), cells.len() + 1);
    for (i, (name, value)) in cells.iter().enumerate() {
        assert_eq!(Some(table.columns[i].clone()), names[i], "XML name of {name:?}");
        assert_eq!(table.rows[0][i], as_xml_carries(Some(value)), "XML value of {name:?}");
    }
    assert_eq!(table.rows[0][cells.len()].as_deref(), Some("-5"));
    let raw = body(&xml);
    assert!(!raw.contains("<injected/>") && !raw.contains("<![CDATA["), "markup is text: {raw}");

    let csv = server.call("GET", &path, &accept("text/csv"), b"");
    assert_eq!((csv.status, csv.header("content-type")), (200, Some(CSV)), "{}", body(&csv));
    let table = from_csv(&csv.body);
    for (i, (name, value)) in cells.iter().enumerate() {
        assert_eq!(table.columns[i], csv_guarded(name), "CSV header of {name:?}");
        assert_eq!(table.rows[0][i].as_deref(), Some(csv_guarded(value).as_str()), "CSV value of {name:?}");
    }
    assert_eq!(table.rows[0][cells.len()].as_deref(), Some("-5"), "numbers are never guarded");
    assert_eq!(table.rows.len(), 1);
}
