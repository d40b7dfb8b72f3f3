//! The OpenAPI importer on public example documents (the OpenAPI Initiative's Petstore,
//! Petstore expanded and USPTO) and one written for these tests (`warehouse-3.1.yaml`).

use std::path::Path;

use serde_json::{Value, json};

use super::openapi::{ImportOptions, Imported, Secrets, import, parse_document};
use super::{Bundle, check, compile_sql};

fn imported(file: &str, options: ImportOptions) -> Imported {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sluice/tests/openapi").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    import(&parse_document(&text).unwrap(), &options)
}

fn options() -> ImportOptions {
    ImportOptions { workgroup: "shop".into(), ..Default::default() }
}

fn api<'a>(imported: &'a Imported, name: &str) -> &'a Value {
    let found = imported.documents.iter().find(|(_, d)| d["name"] == name);
    &found.unwrap_or_else(|| panic!("no API {name}: {:#?}", imported.documents)).1
}

fn param<'a>(api: &'a Value, name: &str) -> &'a Value {
    let params = api["params"].as_array().unwrap();
    params.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no param {name} in {api:#}"))
}

/// The imported APIs pass the same checks as a hand-written file: names, paths, methods,
/// the registered mapping as the edge compiles it.
fn assert_checks(imported: &Imported) {
    let apis = imported.clone().into_specs(Path::new("doc.yaml")).unwrap();
    let problems = check(&Bundle { apis, ..Default::default() }, &compile_sql);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn petstore_operations_become_registered_apis() {
    let imported = imported("petstore.yaml", options());
    assert!(imported.problems.is_empty(), "{:?}", imported.problems);
    let names: Vec<_> = imported.documents.iter().map(|(_, d)| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["listPets", "createPets", "showPetById"]);
    let list = api(&imported, "listPets");
    assert_eq!(list["path"], "/pets");
    assert_eq!(list["method"], "GET");
    assert_eq!(list["upstream"], json!({"baseUrl": "http://petstore.swagger.io/v1", "path": "/pets", "method": "GET"}));
    assert_eq!(param(list, "limit")["type"], "int");
    assert_eq!(param(list, "limit")["required"], false);
    assert_eq!(list["tags"], json!(["pets"]));
    let create = api(&imported, "createPets");
    assert_eq!(param(create, "id")["position"], "body");
    assert_eq!(param(create, "id")["required"], true);
    assert_eq!(param(create, "tag")["required"], false);
    let show = api(&imported, "showPetById");
    assert_eq!(show["path"], "/pets/{petId}");
    assert_eq!(param(show, "petId")["position"], "path");
    assert_eq!(param(show, "petId")["required"], true);
    assert_eq!(show["publish"], json!([]), "nothing is published unless asked");
    assert_checks(&imported);
}

#[test]
fn all_of_parts_merge_and_names_are_made_valid() {
    let imported = imported("petstore-expanded.yaml", ImportOptions { path_prefix: "/petstore/".into(), ..options() });
    assert!(imported.problems.is_empty(), "{:?}", imported.problems);
    // `find pet by id` is not a valid API name; its spaces become underscores.
    let find = api(&imported, "find_pet_by_id");
    assert_eq!(find["path"], "/petstore/pets/{id}");
    assert_eq!(find["upstream"]["path"], "/pets/{id}");
    assert_eq!(param(api(&imported, "findPets"), "tags")["type"], "array<string>");
    let add = api(&imported, "addPet");
    assert_eq!(param(add, "name")["required"], true);
    assert_eq!(param(add, "tag")["required"], false);
    assert_eq!(api(&imported, "deletePet")["method"], "DELETE");
    assert_checks(&imported);
}

#[test]
fn server_variables_defaults_and_unmapped_bodies() {
    let imported = imported("uspto.yaml", ImportOptions { path_prefix: "/uspto".into(), ..options() });
    let list = api(&imported, "list_data_sets");
    assert_eq!(list["upstream"]["baseUrl"], "https://developer.uspto.gov/ds-api");
    assert_eq!(list["path"], "/uspto", "the root path under a prefix is the prefix");
    let fields = api(&imported, "list_searchable_fields");
    assert_eq!(param(fields, "dataset")["example"], "oa_citations");
    assert_eq!(fields["errorCodes"][0]["code"], "404");
    // The form body is not JSON: left out, with where it is.
    let search = api(&imported, "perform_search");
    assert_eq!(search["params"].as_array().unwrap().len(), 2);
    assert_eq!(param(search, "version")["default"], "v1");
    assert_eq!(imported.problems.len(), 1, "{:?}", imported.problems);
    assert_eq!(imported.problems[0].pointer, "/paths/~1{dataset}~1{version}~1records/post/requestBody/content");
    assert!(!imported.problems[0].fatal);
    assert_checks(&imported);
}

#[test]
fn ref_chains_path_level_parameters_and_security_schemes() {
    let imported = imported("warehouse-3.1.yaml", options());
    let get = api(&imported, "getStock");
    assert_eq!(get["upstream"]["baseUrl"], "http://127.0.0.1:18931/wh");
    // `Sku` → `SkuParam` → schema `SkuCode`, declared once for the whole path.
    let sku = param(get, "sku");
    assert_eq!((sku["position"].as_str(), sku["required"].as_bool()), (Some("path"), Some(true)));
    assert_eq!(sku["example"], "AB-1234");
    assert!(get["params"].as_array().unwrap().iter().all(|p| p["name"] != "X-Request-ID"), "the edge sets it");
    let warehouse = param(get, "warehouse");
    assert_eq!((warehouse["type"].as_str(), warehouse["default"].as_str()), (Some("int"), Some("1")));
    assert_eq!(warehouse["example"], "3");
    assert_eq!(
        get["upstream"]["constants"],
        json!([{"name": "X-Stock-Key", "position": "header", "valueEnv": "SLUICE_IMPORT_SECRET_STOCKKEY"}])
    );
    let put = api(&imported, "putStock");
    assert!(
        put["params"].as_array().unwrap().iter().any(|p| p["name"] == "sku"),
        "path-level parameters apply to every operation"
    );
    assert_eq!(param(put, "quantity")["required"], true);
    assert_eq!(param(put, "price")["type"], "decimal");
    assert_eq!(param(put, "tags")["type"], "array<string>");
    assert_eq!(param(put, "location")["type"], "json");
    assert!(put["params"].as_array().unwrap().iter().all(|p| p["name"] != "updatedBy"), "readOnly is not sent");
    let moves = api(&imported, "recordMove");
    assert_eq!(
        moves["upstream"]["constants"][0],
        json!({"name": "Authorization", "position": "header", "valueEnv": "SLUICE_IMPORT_SECRET_BEARER"})
    );
    assert_eq!(param(api(&imported, "auditLog"), "since")["type"], "datetime");
    let mut left_out: Vec<(&str, bool)> = imported.problems.iter().map(|p| (p.pointer.as_str(), p.fatal)).collect();
    left_out.sort_unstable();
    assert_eq!(
        left_out,
        [
            ("/components/securitySchemes/oauth", false),
            ("/paths/~1moves/post/requestBody/content/application~1json/schema", false),
            ("/paths/~1stock~1{sku}/get/parameters/1", false),
            ("/paths/~1stock~1{sku}/parameters/1", false),
            ("/paths/~1stock~1{sku}/parameters/1", false),
            ("/paths/~1stock~1{sku}/patch", false),
        ]
    );
    assert_checks(&imported);
}

#[test]
fn credentials_given_with_the_request_become_values_and_missing_ones_stop_the_import() {
    let given = |secrets: &[(&str, &str)]| {
        let secrets = secrets.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        imported("warehouse-3.1.yaml", ImportOptions { secrets: Secrets::Given(secrets), ..options() })
    };
    let imported = given(&[("stockKey", "s-1"), ("bearer", "Bearer b-2")]);
    assert!(imported.problems.iter().all(|p| !p.fatal));
    assert_eq!(
        api(&imported, "getStock")["upstream"]["constants"],
        json!([{"name": "X-Stock-Key", "position": "header", "value": "s-1"}])
    );
    assert_eq!(api(&imported, "recordMove")["upstream"]["constants"][0]["value"], "Bearer b-2");
    let missing = given(&[("stockKey", "s-1")]);
    let fatal: Vec<&str> = missing.problems.iter().filter(|p| p.fatal).map(|p| p.pointer.as_str()).collect();
    assert_eq!(fatal, ["/components/securitySchemes/bearer"]);
    assert!(!format!("{:?}", missing.problems).contains("SLUICE_"), "nothing names the server's environment");
}

#[test]
fn documents_that_are_not_openapi_3_are_refused_whole() {
    for (doc, pointer) in [
        (json!({"swagger": "2.0", "paths": {}}), "/swagger"),
        (json!({"paths": {}}), "/openapi"),
        (json!({"openapi": "4.0.0", "paths": {}}), "/openapi"),
        (json!({"openapi": "3.0.3"}), "/paths"),
    ] {
        let imported = import(&doc, &options());
        assert!(imported.documents.is_empty());
        assert_eq!(imported.problems.len(), 1);
        assert_eq!(imported.problems[0].pointer, pointer);
        assert!(imported.problems[0].fatal);
    }
}

#[test]
fn references_outside_the_document_or_in_cycles_are_left_out() {
    let doc = json!({
        "openapi": "3.0.3",
        "servers": [{"url": "https://api.example.com"}],
        "paths": {
            "/a": {"get": {"operationId": "a", "parameters": [{"$ref": "other.yaml#/components/parameters/X"}], "responses": {}}},
            "/b": {"get": {"operationId": "b", "parameters": [{"$ref": "#/components/parameters/Loop"}], "responses": {}}},
            "/c": {"get": {"operationId": "c", "parameters": [{"$ref": "#/components/parameters/Nothing"}], "responses": {}}}
        },
        "components": {"parameters": {"Loop": {"$ref": "#/components/parameters/Loop"}}}
    });
    let imported = import(&doc, &options());
    assert_eq!(imported.documents.len(), 3, "the operations stay, without the parameters");
    let messages: Vec<_> = imported.problems.iter().map(|p| (p.pointer.as_str(), p.message.as_str())).collect();
    assert!(messages[0].1.contains("not inside this document"), "{messages:?}");
    assert!(messages[1].1.contains("cycle"), "{messages:?}");
    assert!(messages[2].1.contains("points at nothing"), "{messages:?}");
    assert_eq!(messages[1].0, "/paths/~1b/get/parameters/0");
}

#[test]
fn a_relative_server_needs_a_base_url() {
    let doc = json!({"openapi": "3.1.0", "servers": [{"url": "/v1"}], "paths": {"/x": {"get": {"responses": {}}}}});
    let without = import(&doc, &options());
    assert!(without.documents.is_empty());
    assert_eq!(without.problems[0].pointer, "/servers/0/url");
    let with = import(&doc, &ImportOptions { base_url: Some("https://api.example.com/v1/".into()), ..options() });
    assert_eq!(with.documents[0].1["upstream"]["baseUrl"], "https://api.example.com/v1");
    assert_eq!(with.documents[0].1["name"], "get_x", "named by method and path without an operationId");
}

/// Schemas for the edge: every parameter's, the JSON body's and the first 2xx answer's, with
/// references inlined and OpenAPI 3.0's dialect turned into JSON Schema.
#[test]
fn schemas_are_kept_for_validation_in_json_schema_dialect() {
    let doc = parse_document(
        r##"
openapi: 3.0.3
servers: [{url: "https://api.example.com"}]
paths:
  /pets:
    post:
      operationId: addPet
      parameters:
        - {name: status, in: query, schema: {type: string, enum: [available, sold], nullable: true, example: sold}}
        - {name: limit, in: query, schema: {type: integer, minimum: 0, exclusiveMinimum: true, maximum: 100, x-internal: 1}}
        - {name: free, in: query, schema: {example: 1}}
      requestBody:
        required: true
        content: {application/json: {schema: {$ref: "#/components/schemas/NewPet"}}}
      responses:
        "201": {description: created, content: {application/json: {schema: {$ref: "#/components/schemas/Pet"}}}}
        "400": {description: bad, content: {application/json: {schema: {type: object}}}}
components:
  schemas:
    NewPet:
      type: object
      required: [id, name]
      xml: {name: pet}
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string, pattern: "^[a-z]+$"}
        parent: {$ref: "#/components/schemas/NewPet"}
        owner: {allOf: [{$ref: "#/components/schemas/Owner"}]}
    Owner: {type: object, required: [email], properties: {email: {type: string}}}
    Pet:
      allOf:
        - $ref: "#/components/schemas/NewPet"
        - {type: object, required: [secret], properties: {secret: {type: string, writeOnly: true}}}
"##,
    )
    .unwrap();
    let imported = import(&doc, &options());
    assert!(imported.problems.is_empty(), "{:?}", imported.problems);
    let validation = &api(&imported, "addPet")["validation"];
    assert_eq!(validation["enabled"], true);
    assert_eq!(
        validation["params"],
        json!({
            "status": {"type": ["string", "null"], "enum": ["available", "sold", null]},
            "limit": {"type": "integer", "exclusiveMinimum": 0, "maximum": 100}
        }),
        "a schema accepting anything (`free`) is left out"
    );
    let body = &validation["body"];
    assert_eq!(body["required"], json!(["name"]), "a read-only property is never sent");
    assert_eq!(body["properties"]["parent"], json!({}), "a cycle accepts anything from there");
    assert_eq!(body["properties"]["owner"]["allOf"][0]["required"], json!(["email"]));
    assert!(body.get("xml").is_none());
    let response = &validation["response"];
    assert_eq!(response["allOf"][0]["required"], json!(["id", "name"]));
    assert_eq!(response["allOf"][1]["required"], json!([]), "a write-only property is never answered");
    assert_checks(&imported);

    let body = plugins::registered::compile_schema(body).unwrap();
    assert!(body.is_valid(&json!({"name": "rex", "owner": {"email": "a@b"}, "parent": {"x": 1}})));
    assert!(!body.is_valid(&json!({"name": "rex", "owner": {}})));
    assert!(!body.is_valid(&json!({"name": "Rex"})));
}

#[test]
fn the_warehouse_keeps_its_schemas_and_hostile_references_stay_bounded() {
    let imported = imported("warehouse-3.1.yaml", options());
    let stock = api(&imported, "getStock");
    assert_eq!(stock["validation"]["params"]["sku"], json!({"type": "string"}));
    assert_eq!(stock["validation"]["params"]["warehouse"], json!({"type": ["integer", "null"], "default": 1}));
    assert_eq!(stock["validation"]["response"]["allOf"][0]["required"], json!(["quantity"]));
    assert_eq!(api(&imported, "putStock")["validation"]["body"]["required"], json!(["quantity"]));
    assert!(api(&imported, "recordMove").get("validation").is_none(), "a oneOf body maps to no parameters");
    assert_checks(&imported);

    // Each level refers to the next twice: inlined, 2^24 copies. Left out, reported.
    let mut schemas = serde_json::Map::new();
    for level in 0..24 {
        let next = json!({"$ref": format!("#/components/schemas/L{}", level + 1)});
        schemas.insert(format!("L{level}"), json!({"type": "object", "properties": {"a": next, "b": next}}));
    }
    schemas.insert("L24".into(), json!({"type": "string"}));
    let doc = json!({
        "openapi": "3.1.0",
        "servers": [{"url": "https://api.example.com"}],
        "paths": {"/x": {"get": {"operationId": "x", "parameters": [
            {"name": "q", "in": "query", "schema": {"$ref": "#/components/schemas/L0"}}
        ], "responses": {}}}},
        "components": {"schemas": schemas}
    });
    let started = std::time::Instant::now();
    let imported = import(&doc, &options());
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "bounded work");
    assert!(api(&imported, "x").get("validation").is_none());
    let problem = &imported.problems[0];
    assert_eq!(problem.pointer, "/paths/~1x/get/parameters/0/schema");
    assert!(problem.message.contains("calls are not checked against it"), "{problem:?}");
}

/// Documents built to exhaust the importer: each is refused or imported within its bounds,
/// never a panic or an unbounded expansion (the management API takes documents from any
/// workgroup developer).
#[test]
fn hostile_documents_are_refused_or_bounded() {
    // YAML aliases nested ten deep, ten each: a billion strings once expanded.
    let mut laughs =
        String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (i, name) in "bcdefghij".chars().enumerate() {
        let prev = char::from(b'a' + i as u8);
        laughs.push_str(&format!(
            "{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    assert!(parse_document(&laughs).is_err(), "alias expansion is limited");
    // Nesting past any sane depth, as JSON and as YAML.
    assert!(parse_document(&format!("{}{}", "{\"a\":".repeat(10_000), "1")).is_err());
    assert!(parse_document(&format!("{}1", "- ".repeat(10_000))).is_err());

    let operation = |schema: Value| {
        json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
               "servers": [{"url": "http://127.0.0.1:9/api"}], "paths": {"/x": {"post": {"operationId": "x", "responses": {},
                   "requestBody": {"content": {"application/json": {"schema": schema}}}}}}})
    };
    // A reference chain that loops, for a parameter.
    let mut looping = operation(json!({"type": "object", "properties": {"a": {"type": "string"}}}));
    looping["paths"]["/x"]["post"]["parameters"] = json!([{"$ref": "#/components/parameters/A"}]);
    looping["components"] = json!({"parameters": {"A": {"$ref": "#/components/parameters/B"},
                                                   "B": {"$ref": "#/components/parameters/A"}}});
    let imported = import(&looping, &options());
    assert_eq!(imported.documents.len(), 1, "{:?}", imported.problems);
    assert!(imported.problems.iter().any(|p| p.pointer.contains("/parameters/0")), "{:?}", imported.problems);
    // A schema that contains itself, and one whose references double at each of 40 levels
    // (2^40 parts inlined naively).
    let mut schemas = serde_json::Map::new();
    schemas.insert(
        "Node".into(),
        json!({"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Node"}}}),
    );
    for level in 0..40 {
        let next = format!("#/components/schemas/S{}", level + 1);
        schemas.insert(
            format!("S{level}"),
            json!({"type": "object", "properties": {"l": {"$ref": next}, "r": {"$ref": next}}}),
        );
    }
    schemas.insert("S40".into(), json!({"type": "string"}));
    for root in ["Node", "S0"] {
        let mut doc = operation(json!({"$ref": format!("#/components/schemas/{root}")}));
        doc["components"] = json!({"schemas": schemas});
        let imported = import(&doc, &options());
        assert_eq!(imported.documents.len(), 1, "{root}: {:?}", imported.problems);
        let size = serde_json::to_string(&imported.documents[0].1).unwrap().len();
        assert!(size < 10 * 1024 * 1024, "{root}: the imported API is {size} bytes");
    }
    // Many operations: every one imported under a distinct name.
    let mut paths = serde_json::Map::new();
    for i in 0..2_000 {
        paths.insert(format!("/p{i}"), json!({"get": {"operationId": "same", "responses": {}}}));
    }
    let many = json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                      "servers": [{"url": "http://127.0.0.1:9/api"}], "paths": paths});
    let imported = import(&many, &options());
    let names: std::collections::BTreeSet<&str> =
        imported.documents.iter().filter_map(|(_, api)| api["name"].as_str()).collect();
    assert_eq!(names.len(), 2_000);
}
