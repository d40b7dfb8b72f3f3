//! Snapshot-style checks of the documents: the parts a caller relies on, per mode.

mod common;

use catalog::model::{Api, ApiVersion};
use serde_json::{Value, json};

/// The document's text, and its value with the shared responses and parameters inlined.
fn document(sample: &(Api, ApiVersion)) -> (String, Value) {
    let text = openapi::to_json(&openapi::api_document(&sample.0, &sample.1, common::SERVER));
    let value = serde_json::from_str(&text).unwrap();
    (text, common::inline_shared(&value))
}

fn param<'a>(op: &'a Value, name: &str, place: &str) -> &'a Value {
    op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name && p["in"] == place)
        .unwrap_or_else(|| panic!("no {place} parameter {name} in {op:#}"))
}

fn has_param(op: &Value, name: &str) -> bool {
    op["parameters"].as_array().unwrap().iter().any(|p| p["name"] == name)
}

fn error_codes(op: &Value, status: &str) -> String {
    op["responses"][status]["description"].as_str().unwrap_or_else(|| panic!("no {status} in {op:#}")).to_owned()
}

#[test]
fn every_document_is_openapi_3_1_with_the_callers_security_schemes() {
    let (text, doc) = document(&common::wizard());
    assert!(text.contains("\"openapi\": \"3.1.0\""), "{}", &text[..200]);
    assert_eq!(doc["servers"], json!([{"url": common::SERVER}]));
    assert_eq!(doc["info"]["title"], "find_orders");
    assert_eq!(doc["info"]["version"], "V3");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["appKey"],
        json!({"type": "apiKey", "in": "header", "name": "X-Sluice-App-Key",
        "description": "The calling app's key (`appKey`)."})
    );
    assert_eq!(schemes["appToken"]["type"], "http");
    assert_eq!(schemes["appToken"]["scheme"], "bearer");
    // Two requirements: either one is enough.
    assert_eq!(doc["security"], json!([{"appKey": []}, {"appToken": []}]));
    assert_eq!(doc["components"]["schemas"]["Envelope"]["required"], json!(["code", "requestId", "data"]));
    assert_eq!(doc["components"]["schemas"]["Error"]["required"], json!(["code", "message", "requestId"]));
}

#[test]
fn wizard_parameters_carry_their_positions_types_examples_and_levels() {
    let (_, doc) = document(&common::wizard());
    let op = &doc["paths"]["/shop/{region}/orders/{id}"]["post"];
    assert_eq!(op["operationId"], "find_orders");
    assert_eq!(op["summary"], "Orders of a region.");
    assert_eq!(op["tags"], json!(["shop"]));
    assert_eq!(op["x-sluice"], json!({"mode": "wizard", "version": "V3"}));
    assert!(op["description"].as_str().unwrap().contains("V3: first published"));

    let region = param(op, "region", "path");
    assert_eq!(region["required"], true);
    assert_eq!(region["schema"], json!({"type": "string"}));
    assert_eq!(region["example"], "emea");
    assert_eq!(region["description"], "Sales region.");
    assert_eq!(param(op, "id", "path")["schema"], json!({"type": "integer", "format": "int64"}));
    assert_eq!(param(op, "id", "path")["example"], 42);

    let min_total = param(op, "min_total", "query");
    assert_eq!(min_total["schema"], json!({"type": "string", "format": "decimal"}));
    assert_eq!(min_total["example"], "12.50");
    assert!(min_total["description"].as_str().unwrap().contains("may also send it as a number"));
    assert_eq!(min_total["required"], false);
    assert_eq!(param(op, "price", "query")["schema"], json!({"type": "number", "format": "double", "default": 99.5}));
    assert_eq!(param(op, "active", "query")["schema"], json!({"type": "boolean"}));
    assert_eq!(param(op, "active", "query")["example"], true);
    assert_eq!(param(op, "since", "query")["schema"], json!({"type": "string", "format": "date"}));
    assert_eq!(param(op, "updated", "query")["schema"], json!({"type": "string", "format": "date-time"}));
    assert_eq!(param(op, "meta", "query")["schema"], json!({}), "json is any value");
    let ids = param(op, "ids", "query");
    assert_eq!(
        ids["schema"],
        json!({"type": "array", "items": {"type": "integer", "format": "int64"}, "minItems": 1, "maxItems": 1000})
    );
    assert_eq!((&ids["style"], &ids["explode"]), (&json!("form"), &json!(false)));
    assert_eq!(ids["example"], json!([1, 2, 3]));
    assert!(ids["description"].as_str().unwrap().contains("Comma-separated"));
    assert_eq!(param(op, "sort_col", "query")["schema"], json!({"type": "string", "enum": ["created_at", "total"]}));
    let tenant = param(op, "X-Tenant", "header");
    assert_eq!((&tenant["required"], &tenant["x-sluice-security-level"]), (&json!(true), &json!("L3")));
    assert_eq!(param(op, "X-Sluice-Env", "header")["schema"]["enum"], json!(["prod", "test"]));
    for p in op["parameters"].as_array().unwrap() {
        assert!(p["x-sluice-security-level"].is_string(), "no level on {p}");
    }
    assert!(!has_param(op, "pageNum") && !has_param(op, "sql"), "not paginated, not native");

    let body = &op["requestBody"];
    assert_eq!(body["required"], true);
    let schema = &body["content"]["application/json"]["schema"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["tags"]));
    assert_eq!(schema["properties"]["filters"]["x-sluice-security-level"], "L1");
    assert_eq!(schema["properties"]["tags"]["items"], json!({"type": "string"}));
    assert_eq!(schema["properties"]["tags"]["examples"], json!([["red", "blue"]]));
    assert_eq!(
        schema["properties"]["note"],
        json!({"type": "string", "examples": ["rush"], "x-sluice-security-level": "L4"})
    );
    assert!(!has_param(op, "note"), "body parameters are not query parameters");
}

#[test]
fn wizard_rows_are_typed_like_the_edge_encodes_them() {
    let (text, doc) = document(&common::wizard());
    let op = &doc["paths"]["/shop/{region}/orders/{id}"]["post"];
    let ok = &op["responses"]["200"];
    assert_eq!(ok["headers"]["X-Request-Id"], json!({"$ref": "#/components/headers/X-Request-Id"}));
    assert!(ok["headers"]["Server-Timing"].is_object());
    let schema = &ok["content"]["application/json"]["schema"];
    assert_eq!(schema["allOf"][0], json!({"$ref": "#/components/schemas/Envelope"}));
    let data = &schema["allOf"][1]["properties"]["data"];
    assert_eq!(data["required"], json!(["rows"]));
    assert_eq!(data["properties"]["rows"]["items"], json!({"$ref": "#/components/schemas/FindOrdersRow"}));
    assert!(data["properties"]["pageNum"].is_null());
    let example = &ok["content"]["application/json"]["example"];
    assert_eq!(example["code"], "OK");
    assert_eq!(example["data"]["rows"][0]["id"], "9007199254740993", "beyond 2^53: a string");
    assert_eq!(example["data"]["rows"][0]["total"], "12.5");
    assert_eq!(example["data"]["rows"][0]["price"], Value::Null, "optional and no example");

    let row = &doc["components"]["schemas"]["FindOrdersRow"];
    assert_eq!(row["type"], "object");
    // Properties keep the declared order (serde_json's map here would sort them: read the text).
    let row_text = &text[text.find("\"FindOrdersRow\": {").unwrap()..];
    let at = |name: &str| row_text.find(&format!("\"{name}\": {{")).unwrap();
    let order = ["id", "total", "price", "paid", "day", "at", "doc", "tag_list", "card_number"];
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "declared order");
    assert_eq!(row["required"].as_array().unwrap().len(), 9, "a wizard answers every field");
    let id = &row["properties"]["id"];
    assert_eq!(
        id["oneOf"][0],
        json!({"type": "integer", "format": "int64", "minimum": -9007199254740991_i64,
        "maximum": 9007199254740991_i64})
    );
    assert_eq!(id["oneOf"][1], json!({"type": "string", "pattern": "^-?[0-9]+$"}));
    assert_eq!(id["oneOf"].as_array().unwrap().len(), 2, "required: never null");
    assert!(id["description"].as_str().unwrap().contains("2^53"));
    let total = &row["properties"]["total"];
    assert_eq!((&total["type"], &total["format"]), (&json!(["string", "null"]), &json!("decimal")));
    assert!(total["description"].as_str().unwrap().contains("as strings"));
    assert_eq!(row["properties"]["price"]["type"], json!(["number", "null"]));
    assert_eq!(row["properties"]["paid"]["type"], json!(["boolean", "null"]));
    assert_eq!(row["properties"]["day"]["format"], "date");
    assert_eq!(row["properties"]["at"]["format"], "date-time");
    assert!(row["properties"]["doc"].get("type").is_none(), "json is any value");
    assert_eq!(row["properties"]["tag_list"]["type"], json!(["array", "null"]));
    assert_eq!(row["properties"]["card_number"]["x-sluice-security-level"], "L4");
    for property in row["properties"].as_object().unwrap().values() {
        assert!(property["x-sluice-security-level"].is_string(), "no level on {property}");
    }
}

#[test]
fn wizard_errors_list_the_codes_the_edge_answers() {
    let (_, doc) = document(&common::wizard());
    let op = &doc["paths"]["/shop/{region}/orders/{id}"]["post"];
    let statuses: Vec<&str> = op["responses"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(statuses, ["200", "400", "404", "406", "413", "429", "500", "504"]);
    let bad = error_codes(op, "400");
    for code in [
        "MissingParameter.X-Tenant",
        "MissingParameter.tags",
        "InvalidParameter.ids",
        "InvalidParameter.note",
        "InvalidRequest.Body",
        "InvalidParameter.X-Sluice-Env",
    ] {
        assert!(bad.contains(&format!("`{code}`")), "{code} not in {bad}");
    }
    assert!(!bad.contains("MissingParameter.min_total"), "optional");
    assert!(!bad.contains("MissingParameter.region"), "without its segment the route does not match");
    assert!(bad.contains("`InvalidParameter.sort_col`: `sort_col` is not one of created_at, total"), "{bad}");
    let content = &op["responses"]["400"]["content"]["application/json"];
    assert_eq!(content["schema"], json!({"$ref": "#/components/schemas/Error"}));
    let example = &content["examples"]["MissingParameter.X-Tenant"]["value"];
    assert_eq!(example["code"], "MissingParameter.X-Tenant");
    assert_eq!(example["message"], "the required parameter `X-Tenant` is missing");
    assert!(content["examples"]["InvalidParameter.region"]["value"]["message"].is_string());
    assert_eq!(content["examples"].as_object().unwrap().len(), 3, "one example per kind of code");
    assert!(error_codes(op, "404").contains("`NotFound.Api`"));
    // Shared by every operation: its example names a sample route.
    assert_eq!(
        op["responses"]["404"]["content"]["application/json"]["examples"]["NotFound.Api"]["value"]["message"],
        "no API is published at GET /orders/{id} in the test environment"
    );
    assert!(error_codes(op, "413").contains("`PayloadTooLarge`"));
    let throttled = error_codes(op, "429");
    assert!(throttled.contains("`Throttling.Api`") && throttled.contains("`Throttling.User`"));
    assert!(error_codes(op, "500").contains("`InternalError.Database`"));
    let timeout = error_codes(op, "504");
    assert!(timeout.contains("`Timeout`") && timeout.contains("3000 ms"), "{timeout}");
}

#[test]
fn paginated_script_documents_the_reserved_page_parameters_and_fields() {
    let (_, doc) = document(&common::script_paged());
    let op = &doc["paths"]["/customers"]["get"];
    assert_eq!(op["x-sluice"]["mode"], "script");
    assert_eq!(param(op, "name", "query")["example"], "Ada%");
    let page_num = param(op, "pageNum", "query");
    assert_eq!(page_num["schema"], json!({"type": "integer", "format": "int64", "default": 1, "minimum": 1}));
    let page_size = param(op, "pageSize", "query");
    assert_eq!(page_size["schema"]["maximum"], 50);
    assert_eq!(page_size["schema"]["default"], 10);
    assert_eq!(param(op, "withTotal", "query")["schema"], json!({"type": "boolean", "default": false}));
    assert_eq!(param(op, "withTotal", "query")["x-sluice-security-level"], "L1");
    let data = &op["responses"]["200"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["data"];
    assert_eq!(data["required"], json!(["rows", "pageNum", "pageSize"]));
    assert!(data["properties"]["totalCnt"]["description"].as_str().unwrap().contains("withTotal=true"));
    let bad = error_codes(op, "400");
    assert!(bad.contains("`InvalidParameter.pageSize`") && bad.contains("from 1 to 50"), "{bad}");
    assert!(op.get("requestBody").is_none(), "a GET without body parameters");
    let row = &doc["components"]["schemas"]["ListCustomersRow"];
    assert!(row.get("required").is_none(), "a script's columns are its own");
    assert_eq!(row["properties"]["name"]["x-sluice-security-level"], "L2");
}

#[test]
fn native_documents_sql_and_forbidden_query() {
    let (_, doc) = document(&common::native("GET"));
    let op = &doc["paths"]["/reports/adhoc"]["get"];
    assert_eq!(op["summary"], "adhoc_report");
    let sql = param(op, "sql", "query");
    assert_eq!(sql["required"], true);
    assert_eq!(sql["schema"], json!({"type": "string"}));
    let text = sql["description"].as_str().unwrap();
    assert!(text.contains("`orders`, `customers`") && text.contains("upper"), "{text}");
    assert!(error_codes(op, "403").contains("`Forbidden.Query`"));
    let bad = error_codes(op, "400");
    assert!(bad.contains("`MissingParameter.sql`") && bad.contains("`InvalidParameter.sql`"));
    assert!(!has_param(op, "pageNum"));
    let row = &doc["components"]["schemas"]["AdhocReportRow"];
    assert_eq!(row["type"], "object");
    assert!(row.get("properties").is_none(), "the caller's SELECT names the columns");

    // A native POST takes `sql` in its JSON body.
    let (_, doc) = document(&common::native("POST"));
    let op = &doc["paths"]["/reports/adhoc"]["post"];
    assert!(!has_param(op, "sql"));
    let body = &op["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["required"], json!(["sql"]));
    assert_eq!(body["properties"]["sql"]["type"], "string");
}

#[test]
fn json_compact_answers_columns_and_arrays() {
    let (_, doc) = document(&common::compact());
    let op = &doc["paths"]["/orders/totals"]["get"];
    let data = &op["responses"]["200"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["data"];
    assert_eq!(data["required"], json!(["columns", "rows"]));
    assert_eq!(data["properties"]["columns"]["items"], json!({"type": "string"}));
    assert_eq!(data["properties"]["columns"]["examples"], json!([["day", "total"]]));
    assert_eq!(data["properties"]["rows"]["items"], json!({"$ref": "#/components/schemas/OrderTotalsRow"}));
    let row = &doc["components"]["schemas"]["OrderTotalsRow"];
    assert_eq!(row["type"], "array");
    assert_eq!(row["items"], false, "exactly the declared columns");
    assert_eq!(row["prefixItems"][0]["format"], "date");
    assert_eq!(row["prefixItems"][1]["type"], json!(["string", "null"]));
    assert_eq!(row["prefixItems"][1]["x-sluice-security-level"], "L1");
    assert!(row["description"].as_str().unwrap().contains("`day`, `total`"));
    let example = &op["responses"]["200"]["content"]["application/json"]["example"]["data"];
    assert_eq!(example, &json!({"columns": ["day", "total"], "rows": [["2024-01-31", "1200.5"]]}));
}

#[test]
fn data_apis_list_xml_and_csv_beside_json_and_the_406() {
    {
        let (_, doc) = document(&common::compact());
        let op = &doc["paths"]["/orders/totals"]["get"];
        let ok = &op["responses"]["200"];
        let mut media: Vec<&String> = ok["content"].as_object().unwrap().keys().collect();
        media.sort();
        assert_eq!(media, ["application/json", "application/xml", "text/csv", "text/xml"]);
        assert!(ok["content"]["application/xml"]["schema"]["description"].as_str().unwrap().contains("xsi:nil"));
        assert!(ok["content"]["text/csv"]["schema"]["description"].as_str().unwrap().contains("X-Sluice-Code"));
        assert!(ok["description"].as_str().unwrap().contains("JSON (JSONCompact)"), "{ok:#}");
        assert!(error_codes(op, "406").contains("NotAcceptable"));
    }
    let (_, doc) = document(&common::registered());
    let op = &doc["paths"]["/weather/{city}/{unit}"]["get"];
    assert!(op["responses"].get("406").is_none(), "a registered API's answer is its upstream's");
    assert!(op["responses"]["200"]["content"].get("text/csv").is_none());
}

#[test]
fn registered_apis_show_the_caller_side_only() {
    for sample in [common::registered(), common::registered_post()] {
        let (text, _) = document(&sample);
        for secret in common::SECRETS {
            assert!(!text.contains(secret), "`{secret}` leaked into the document of {}", sample.0.name);
        }
        assert!(!text.contains("/forecast") && !text.contains("/v2"), "upstream path leaked");
    }

    let (_, doc) = document(&common::registered());
    let op = &doc["paths"]["/weather/{city}/{unit}"]["get"];
    assert_eq!(op["x-sluice"]["mode"], "registered");
    assert_eq!(op["x-sluice"]["errorCodes"][0]["code"], "CITY_UNKNOWN");
    assert_eq!(param(op, "city", "path")["example"], "Berlin");
    let unit = param(op, "unit", "path");
    assert_eq!(unit["required"], true, "a route segment that is no parameter is still documented");
    assert_eq!(param(op, "days", "query")["schema"], json!({"type": "integer", "format": "int64", "default": 3}));
    assert_eq!(param(op, "X-Lang", "header")["schema"], json!({"type": "string"}));
    let ok = &op["responses"]["200"];
    assert_eq!(ok["content"]["application/xml"]["schema"], json!({}));
    assert!(ok["content"].get("application/json").is_none());
    let other = &op["responses"]["default"];
    assert!(other["description"].as_str().unwrap().contains("| `CITY_UNKNOWN` | No such city | Check the spelling |"));
    let statuses: Vec<&str> = op["responses"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(statuses, ["200", "400", "404", "429", "500", "502", "504", "default"]);
    let unavailable = error_codes(op, "502");
    assert!(unavailable.contains("`Upstream.Unavailable`") && unavailable.contains("`Upstream.Forbidden`"));
    assert!(error_codes(op, "504").contains("`Upstream.Timeout`") && error_codes(op, "504").contains("5000 ms"));
    assert!(!error_codes(op, "500").contains("Database"));
    assert!(op.get("requestBody").is_none());
    assert!(!op["description"].as_str().unwrap().contains("JSON object body"), "its body is never read");
    assert!(doc["components"]["schemas"].get("WeatherRow").is_none());

    let (_, doc) = document(&common::registered_post());
    let op = &doc["paths"]["/tickets"]["post"];
    let body = &op["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["properties"].as_object().unwrap().keys().collect::<Vec<_>>(), ["title"]);
    assert_eq!(body["required"], json!(["title"]));
    assert!(error_codes(op, "413").contains("64 KiB"), "the body is read for its parameters");
}

#[test]
fn workgroup_document_merges_paths_and_keeps_the_first_of_a_clash() {
    let mut apis = common::all();
    // Same path, another method: one path item with both.
    let mut post_totals = common::compact();
    post_totals.0.name = "order_totals_post".into();
    post_totals.0.method = "post".into();
    apis.push(post_totals);
    // Same method and path as `order_totals`: left out.
    let mut clash = common::compact();
    clash.0.name = "order_totals_again".into();
    apis.push(clash);
    // The same route as find_orders under other parameter names: left out.
    let mut shape = common::wizard();
    shape.0.name = "find_orders_renamed".into();
    shape.0.path = "/shop/{area}/orders/{key}".into();
    apis.push(shape);

    let text = openapi::to_json(&openapi::workgroup_document("shop", &apis, common::SERVER));
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(text.contains("\"openapi\": \"3.1.0\""));
    assert_eq!(doc["info"]["title"], "shop");
    assert!(doc["info"]["version"].as_str().unwrap().starts_with("8 APIs, "));
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 7, "{:?}", paths.keys().collect::<Vec<_>>());
    let totals = &doc["paths"]["/orders/totals"];
    assert_eq!(totals["get"]["operationId"], "order_totals");
    assert_eq!(totals["post"]["operationId"], "order_totals_post");
    assert!(totals["get"]["description"].as_str().unwrap().contains("`order_totals_again` also answers GET"));
    let notes = doc["info"]["description"].as_str().unwrap();
    assert!(notes.contains("`order_totals_again` also answers GET /orders/totals"), "{notes}");
    assert!(notes.contains("`find_orders_renamed` (POST /shop/{area}/orders/{key}) is left out"), "{notes}");
    assert!(!text.contains("\"find_orders_renamed\""));

    let schemas: Vec<&str> = doc["components"]["schemas"].as_object().unwrap().keys().map(String::as_str).collect();
    for name in ["Envelope", "Error", "FindOrdersRow", "ListCustomersRow", "AdhocReportRow", "OrderTotalsRow"] {
        assert!(schemas.contains(&name), "{name} not in {schemas:?}");
    }
    assert!(schemas.contains(&"OrderTotalsPostRow"), "{schemas:?}");
    for secret in common::SECRETS {
        assert!(!text.contains(secret), "`{secret}` leaked into the workgroup document");
    }
    // Every operation refers to the shared envelopes rather than repeating them: the OK
    // envelope from each data API's and the workflow's 200, the Error schema from each
    // operation's own 400 and from the shared error responses
    // (`shared_parts_are_written_once_and_referred_to`).
    assert_eq!(text.matches("\"$ref\": \"#/components/schemas/Envelope\"").count(), 6);
    for item in paths.values() {
        for op in item.as_object().unwrap().values() {
            let bad = &op["responses"]["400"]["content"]["application/json"]["schema"];
            assert_eq!(bad, &json!({"$ref": "#/components/schemas/Error"}), "{op:#}");
        }
    }
}

/// `n` copies of every sample, under distinct names and paths.
fn copies(n: usize) -> Vec<(Api, ApiVersion)> {
    let mut apis = Vec::new();
    for i in 0..n {
        for (mut api, version) in common::all() {
            api.name = format!("{}_{i}", api.name);
            api.path = format!("/c{i}{}", api.path);
            apis.push((api, version));
        }
    }
    apis
}

fn compact(apis: &[(Api, ApiVersion)]) -> Vec<u8> {
    serde_json::to_vec(&openapi::workgroup_document("shop", apis, common::SERVER)).unwrap()
}

/// What operations have in common is written once under `components` and referred to: the
/// Error schema, the error responses, the common headers and parameters. So the components
/// other than row schemas do not grow with the number of APIs, and an operation repeats none
/// of them.
#[test]
fn shared_parts_are_written_once_and_referred_to() {
    let few = compact(&copies(1));
    let many = compact(&copies(40));
    let few: Value = serde_json::from_slice(&few).unwrap();
    let doc: Value = serde_json::from_slice(&many).unwrap();
    let text = String::from_utf8(many).unwrap();

    // Defined once, whatever the number of operations.
    assert_eq!(text.matches("An error answered by the gateway.").count(), 1, "the Error schema");
    let components = &doc["components"];
    for kind in ["responses", "parameters", "headers"] {
        assert_eq!(components[kind], few["components"][kind], "{kind} grow with the number of APIs");
    }
    let shared = |kind: &str| {
        let names = components.as_object().map(|c| c.keys().cloned().collect::<Vec<_>>());
        components[kind].as_object().unwrap_or_else(|| panic!("no shared {kind}; components: {names:?}")).clone()
    };
    let responses = shared("responses");
    for name in ["NotFound", "PayloadTooLarge", "ParameterBodyTooLarge", "Throttled", "DatabaseError"] {
        assert!(responses.contains_key(name), "no shared {name} in {:?}", responses.keys());
    }
    for name in ["GatewayError", "ForbiddenQuery", "UpstreamUnavailable", "Timeout.3000ms", "UpstreamTimeout.5000ms"] {
        assert!(responses.contains_key(name), "no shared {name} in {:?}", responses.keys());
    }
    let parameters = shared("parameters");
    for name in ["X-Sluice-Env", "pageNum", "pageSize.max50", "withTotal"] {
        assert!(parameters.contains_key(name), "no shared {name} in {:?}", parameters.keys());
    }
    assert!(
        components["headers"].get("Server-Timing").is_some() && components["headers"].get("X-Request-Id").is_some()
    );
    // Each shared text appears once: in its component.
    for shared in responses.values().chain(parameters.values()) {
        let description = shared["description"].as_str().unwrap();
        assert_eq!(text.matches(&serde_json::to_string(description).unwrap()).count(), 1, "{description}");
    }

    // Every operation refers to them: only its 200, its own 400, a registered API's `default`
    // and a workflow's 502 (which names its own API nodes) are written in place.
    let mut operations = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            for (status, response) in op["responses"].as_object().unwrap() {
                let workflow_502 = op["x-sluice"]["mode"] == "workflow" && status == "502";
                let inline = matches!(status.as_str(), "200" | "400" | "default") || workflow_502;
                let target = response["$ref"].as_str().unwrap_or_default();
                assert_eq!(!inline, target.starts_with("#/components/responses/"), "{method} {status}: {response}");
            }
            for parameter in op["parameters"].as_array().unwrap() {
                if let Some(target) = parameter["$ref"].as_str() {
                    assert!(target.starts_with("#/components/parameters/"), "{target}");
                } else {
                    let name = parameter["name"].as_str().unwrap();
                    assert!(!["X-Sluice-Env", "pageNum", "pageSize", "withTotal"].contains(&name), "{name} inline");
                }
            }
            let headers = &op["responses"]["200"]["headers"];
            for (name, header) in headers.as_object().unwrap() {
                assert_eq!(header["$ref"], format!("#/components/headers/{name}"), "{method}: {headers}");
            }
        }
    }
    assert_eq!(operations, 40 * common::all().len());
    // And every reference resolves.
    common::inline_shared(&doc);
}

#[test]
fn unknown_methods_are_left_out_with_a_note() {
    let mut sample = common::compact();
    sample.0.method = "BREW".into();
    let (_, doc) = document(&sample);
    assert_eq!(doc["paths"], json!({}));
    assert!(doc["info"]["description"].as_str().unwrap().contains("`order_totals` is left out: its method `BREW`"));
}

/// Every error response of every mode lists its codes in `x-sluice-error-codes`; each is a code
/// of the catalogue answered with the response's status.
#[test]
fn error_responses_list_catalogued_codes_with_their_status() {
    for sample in common::all() {
        let (_, doc) = document(&sample);
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    let Ok(status) = status.parse::<u16>() else { continue };
                    if status < 400 {
                        continue;
                    }
                    let codes = response[openapi::ERROR_CODES_EXTENSION]
                        .as_array()
                        .unwrap_or_else(|| panic!("{method} {path} {status}: no codes in {response:#}"));
                    assert!(!codes.is_empty(), "{method} {path} {status}");
                    for code in codes {
                        let code = code.as_str().unwrap();
                        let (kind, _) = errors::ErrorCode::parse(code)
                            .unwrap_or_else(|| panic!("{method} {path}: `{code}` is not catalogued"));
                        assert_eq!(kind.status().as_u16(), status, "{method} {path}: `{code}`");
                        let description = response["description"].as_str().unwrap();
                        assert!(description.contains(&format!("`{code}`")), "{method} {path}: {description}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= 5, "{}: only {checked} codes", sample.0.name);
    }
}

/// A version's success sample is the 200's example `sample` (beside any example already
/// there), its failure sample the operation's own error response's `failureSample`: the 400
/// for data APIs, the `default` (the service's answers) for registered ones.
#[test]
fn result_samples_are_response_examples() {
    let success = json!({"code": "OK", "data": {"rows": [{"id": 1}]}});
    let failure = json!({"code": "MissingParameter.id", "message": "the required parameter `id` is missing"});
    let (api, mut version) = common::wizard();
    version.samples.success = Some(success.clone());
    version.samples.failure = Some(failure.clone());
    let (_, doc) = document(&(api, version));
    let op = &doc["paths"]["/shop/{region}/orders/{id}"]["post"];
    let ok = &op["responses"]["200"]["content"]["application/json"];
    assert_eq!(ok["examples"]["sample"]["value"], success, "{ok}");
    assert!(ok.get("example").is_none(), "a content has example or examples, not both: {ok}");
    let bad = &op["responses"]["400"]["content"]["application/json"]["examples"];
    assert_eq!(bad["failureSample"]["value"], failure, "{bad}");
    assert!(bad.as_object().unwrap().len() > 1, "the listed codes' examples stay: {bad}");

    let (api, mut version) = common::registered();
    version.samples.failure = Some(failure.clone());
    let (_, doc) = document(&(api, version));
    let op = &doc["paths"]["/weather/{city}/{unit}"]["get"];
    let default = op["responses"]["default"]["content"].as_object().unwrap().values().next().unwrap();
    assert_eq!(default["examples"]["failureSample"]["value"], failure, "{op}");

    // Without samples nothing changes.
    let (_, plain) = document(&common::wizard());
    let ok = &plain["paths"]["/shop/{region}/orders/{id}"]["post"]["responses"]["200"]["content"]["application/json"];
    assert!(ok["examples"].get("sample").is_none(), "{ok}");
}
