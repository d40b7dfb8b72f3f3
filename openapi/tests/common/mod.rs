//! Sample APIs for the document tests: one of each mode and result format, built from JSON the
//! way definitions are written, so that new model fields with defaults need no change here.

#![allow(dead_code)]

use catalog::model::{Api, ApiVersion};
use serde_json::{Value, json};

pub const SERVER: &str = "https://gateway.example.com";

/// Values and names that must never reach a document: registered APIs' constants and upstream side.
pub const SECRETS: [&str; 10] = [
    "s3cr3t-weather-key",
    "appid_secret_name",
    "X-Backend-Token",
    "tok-abc-123",
    "body_secret_field",
    "body-secret-value",
    "upstream_town",
    "upstream_days",
    "X-Upstream-Lang",
    "api.weather.example",
];

pub fn api(name: &str, path: &str, method: &str, description: &str, definition: Value) -> (Api, ApiVersion) {
    let api: Api = serde_json::from_value(json!({
        "id": 1, "workgroupId": 1, "name": name, "path": path, "method": method,
        "description": description, "draft": definition,
    }))
    .unwrap();
    let version: ApiVersion = serde_json::from_value(json!({
        "apiId": 1, "number": 3, "description": "first published", "definition": definition, "createdAt": 0,
    }))
    .unwrap();
    (api, version)
}

/// A wizard API with path, query, header and body parameters of every type.
pub fn wizard() -> (Api, ApiVersion) {
    api(
        "find_orders",
        "/shop/{region}/orders/{id}",
        "POST",
        "Orders of a region.\nFiltered every way the wizard allows.",
        json!({
            "datasourceId": 1, "mode": "wizard", "table": "orders",
            "requestParams": [
                {"name": "region", "type": "string", "position": "path", "column": "region", "required": true,
                 "description": "Sales region.", "example": "emea"},
                {"name": "id", "type": "int", "position": "path", "column": "id", "required": true, "example": "42"},
                {"name": "min_total", "type": "decimal", "column": "total", "operator": ">=", "example": "12.50"},
                {"name": "price", "type": "float", "column": "price", "operator": "<", "default": "99.5"},
                {"name": "active", "type": "bool", "column": "active", "example": "true"},
                {"name": "since", "type": "date", "column": "day", "operator": ">=", "example": "2024-01-31"},
                {"name": "updated", "type": "datetime", "column": "at", "operator": ">=",
                 "example": "2024-01-31T10:00:00"},
                {"name": "meta", "type": "json", "column": "doc"},
                {"name": "ids", "type": "array<int>", "column": "id", "operator": "IN", "example": "1,2,3"},
                {"name": "sort_col", "type": "identifier", "column": "kind", "allowedValues": ["created_at", "total"]},
                {"name": "X-Tenant", "type": "string", "position": "header", "column": "tenant", "required": true,
                 "securityLevel": "L3", "description": "Tenant the caller acts for."},
                {"name": "filters", "type": "json", "position": "body", "column": "doc2"},
                {"name": "tags", "type": "array<string>", "position": "body", "column": "tag", "operator": "IN",
                 "required": true, "example": "[\"red\", \"blue\"]"},
                {"name": "note", "type": "string", "position": "body", "column": "note", "securityLevel": "L4",
                 "example": "rush"}
            ],
            "responseFields": [
                {"name": "id", "type": "int", "required": true, "example": "9007199254740993",
                 "description": "Order id."},
                {"name": "total", "type": "decimal", "example": "12.5"},
                {"name": "price", "type": "float"},
                {"name": "paid", "type": "bool"},
                {"name": "day", "type": "date"},
                {"name": "at", "type": "datetime"},
                {"name": "doc", "type": "json"},
                {"name": "tag_list", "type": "array<string>"},
                {"name": "card_number", "type": "string", "securityLevel": "L4"}
            ],
            "options": {"maxLimit": 200, "timeoutMs": 3000}
        }),
    )
}

/// A paginated script API.
pub fn script_paged() -> (Api, ApiVersion) {
    api(
        "list_customers",
        "/customers",
        "GET",
        "Customers by name.",
        json!({
            "datasourceId": 1, "mode": "script",
            "sql": "SELECT id, name FROM customers <where><if test=\"name != null\">name LIKE #{name}</if></where>",
            "requestParams": [{"name": "name", "type": "string", "example": "Ada%"}],
            "responseFields": [
                {"name": "id", "type": "int", "required": true},
                {"name": "name", "type": "string", "securityLevel": "L2", "example": "Ada"}
            ],
            "options": {"maxLimit": 50, "pagination": true}
        }),
    )
}

/// A native API: callers send their own SELECT.
pub fn native(method: &str) -> (Api, ApiVersion) {
    api(
        "adhoc_report",
        "/reports/adhoc",
        method,
        "",
        json!({
            "datasourceId": 1, "mode": "native", "tables": ["orders", "customers"], "functions": ["upper"],
            "options": {"maxLimit": 500}
        }),
    )
}

/// A wizard API answering JSONCompact.
pub fn compact() -> (Api, ApiVersion) {
    api(
        "order_totals",
        "/orders/totals",
        "GET",
        "Totals per day.",
        json!({
            "datasourceId": 1, "mode": "wizard", "table": "totals",
            "requestParams": [{"name": "day", "type": "date", "column": "day", "required": true}],
            "responseFields": [
                {"name": "day", "type": "date", "required": true, "example": "2024-01-31"},
                {"name": "total", "type": "decimal", "example": "1200.5"}
            ],
            "options": {"resultFormat": "JSONCompact"}
        }),
    )
}

/// A registered API with constants in the query and a header, and upstream renames.
pub fn registered() -> (Api, ApiVersion) {
    api(
        "weather",
        "/weather/{city}/{unit}",
        "GET",
        "Daily forecast.",
        json!({
            "mode": "registered", "baseUrl": "https://api.weather.example/v2", "path": "/forecast/{upstream_town}/daily",
            "params": [
                {"name": "city", "position": "path", "upstreamName": "upstream_town", "required": true,
                 "example": "Berlin"},
                {"name": "days", "type": "int", "upstreamName": "upstream_days", "default": "3",
                 "description": "Days ahead."},
                {"name": "X-Lang", "position": "header", "upstreamName": "X-Upstream-Lang"}
            ],
            "constants": [
                {"name": "appid_secret_name", "position": "query", "value": "s3cr3t-weather-key"},
                {"name": "X-Backend-Token", "position": "header", "value": "tok-abc-123"}
            ],
            "timeoutMs": 5000,
            "responseFormat": "XML",
            "errorCodes": [{"code": "CITY_UNKNOWN", "message": "No such city", "solution": "Check the spelling"}]
        }),
    )
}

/// A registered POST API that builds a JSON body with a body constant.
pub fn registered_post() -> (Api, ApiVersion) {
    api(
        "create_ticket",
        "/tickets",
        "POST",
        "Opens a support ticket.",
        json!({
            "mode": "registered", "baseUrl": "https://api.weather.example/v2", "path": "/tickets", "method": "POST",
            "params": [{"name": "title", "position": "body", "required": true, "example": "Broken"}],
            "constants": [{"name": "body_secret_field", "position": "body", "value": "body-secret-value"}]
        }),
    )
}

/// A workflow: a customer, then a switch to one of two end nodes.
pub fn workflow() -> (Api, ApiVersion) {
    api(
        "customer_flow",
        "/flows/customer",
        "GET",
        "A customer and their orders.",
        json!({
            "mode": "workflow", "start": "C",
            "requestParams": [{"name": "id", "type": "int", "required": true, "example": "42"}],
            "nodes": [
                {"id": "C", "kind": "api", "api": "customer", "output": {"cid": "$.data.rows[0].id"}, "next": ["S"]},
                {"id": "S", "kind": "switch", "branches": [{"condition": "$.cid == 1", "next": "ONE"}], "default": "O"},
                {"id": "O", "kind": "api", "api": "orders", "next": ["END"]},
                {"id": "ONE", "kind": "end", "output": {"first": "${C.cid}"}},
                {"id": "END", "kind": "end", "output": {"customer": "${C.cid}", "orders": "$.data.rows"}}
            ]
        }),
    )
}

/// Every sample, as a workgroup holds them.
pub fn all() -> Vec<(Api, ApiVersion)> {
    vec![wizard(), script_paged(), native("GET"), compact(), registered(), registered_post(), workflow()]
}

/// `doc` with every reference to a shared response or parameter (`#/components/responses/…`,
/// `#/components/parameters/…`) replaced by what it refers to: the operations as a reader who
/// follows those references sees them. Schema and header references stay.
pub fn inline_shared(doc: &Value) -> Value {
    fn walk(value: &Value, components: &Value) -> Value {
        match value {
            Value::Object(map) => {
                if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                    for kind in ["responses", "parameters"] {
                        if let Some(name) = target.strip_prefix(&format!("#/components/{kind}/")) {
                            let found = &components[kind][name];
                            assert!(found.is_object(), "`{target}` refers to nothing");
                            return walk(found, components);
                        }
                    }
                }
                Value::Object(map.iter().map(|(k, v)| (k.clone(), walk(v, components))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, components)).collect()),
            other => other.clone(),
        }
    }
    let mut inlined = doc.clone();
    inlined["paths"] = walk(&doc["paths"], &doc["components"]);
    inlined
}
