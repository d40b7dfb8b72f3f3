//! OpenAPI 3.0 and 3.1 documents as registered APIs: one `kind: Api` document per operation,
//! which `check` and `apply` then treat like any file (`sluice import openapi`).
//!
//! Each operation becomes a registered API named by its `operationId`, served at the
//! operation's path (under an optional prefix) with the same method, forwarding to the
//! document's server. Path-level and operation parameters (after `$ref`s) become parameters
//! with their positions, types, required flags, defaults and examples; a JSON request body's
//! properties become body parameters; `apiKey` and `http` security schemes become constants
//! whose values come from environment variables the user names (never guessed); 4xx and 5xx
//! responses become documented error codes. What cannot be mapped is reported with its JSON
//! pointer, and left out.
//!
//! Each API also gets the schemas the edge checks its calls against (`validation`, on):
//! every parameter's, the JSON body's and the first 2xx JSON answer's, as JSON Schema with
//! local `$ref`s inlined (a cycle becomes `{}`, anything) and OpenAPI 3.0's dialect turned
//! into JSON Schema (`nullable`, boolean `exclusiveMinimum`; `example`, `xml`, `discriminator`
//! and extensions dropped).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::{ApiSpec, Origin, Problem, Sourced};

pub mod diff;
pub mod kept;

/// How deep `$ref` chains may go before they are taken for a cycle.
const REF_DEPTH: usize = 32;

/// How many schema objects one inlined schema may hold: references used many times inline
/// many copies, which must not grow without bound.
const SCHEMA_NODES: usize = 20_000;

/// The methods registered APIs forward (the management API's methods).
const METHODS: [&str; 4] = ["get", "post", "put", "delete"];

/// Every method OpenAPI knows, to report the ones left out.
const OTHER_METHODS: [&str; 4] = ["patch", "head", "options", "trace"];

/// What the user decides about an import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub workgroup: String,
    /// The upstream's base URL; the document's first server when `None`.
    pub base_url: Option<String>,
    /// Put before every operation's path on Sluice's side (`/petstore`).
    pub path_prefix: String,
    /// Environments the imported APIs are published to (none by default: review first).
    pub publish: Vec<catalog::model::Environment>,
    /// Anyone may call the APIs (`authMode: none`); by default callers need an app and a grant.
    pub public: bool,
    /// Where the credentials of the document's security schemes come from.
    pub secrets: Secrets,
}

/// Where an import's security-scheme credentials come from. Never from a document: a
/// credential is never guessed.
#[derive(Debug, Clone, Default)]
pub enum Secrets {
    /// The operator's command line: each scheme's constant takes its value from the variable
    /// `SLUICE_IMPORT_SECRET_<SCHEME>`, which `apply` reads and refuses to do without.
    #[default]
    Environment,
    /// The management API: given with the request, by scheme name. The server's environment
    /// (its own secret key among it) is never the caller's to read.
    Given(std::collections::BTreeMap<String, String>),
}

/// One thing in the document that was not imported, or that stops the import, at its JSON
/// pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    pub pointer: String,
    pub message: String,
    /// Stops the import (the document cannot be read as OpenAPI 3); otherwise the part was
    /// left out and the rest imported.
    pub fatal: bool,
}

/// The APIs a document describes, as `kind: Api` documents, and what was left out.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// Each document with the pointer of the operation it came from.
    pub documents: Vec<(String, Value)>,
    pub problems: Vec<ImportProblem>,
}

impl Imported {
    /// The documents as one YAML file (`---` between them), each after a comment naming its
    /// operation: what `sluice import openapi -o` writes for review.
    pub fn to_yaml(&self) -> Result<String, String> {
        let mut out = String::new();
        for (pointer, document) in &self.documents {
            if !out.is_empty() {
                out.push_str("---\n");
            }
            out.push_str(&format!("# imported from {pointer}\n"));
            out.push_str(&serde_yaml_ng::to_string(document).map_err(|e| e.to_string())?);
        }
        Ok(out)
    }

    /// The documents as specs for `check` and `apply`; a problem's file is `source#pointer`.
    pub fn into_specs(self, source: &Path) -> Result<Vec<Sourced<ApiSpec>>, Vec<Problem>> {
        let mut specs = Vec::new();
        let mut problems = Vec::new();
        for (pointer, document) in self.documents {
            let file = format!("{}#{pointer}", source.display());
            let text = serde_yaml_ng::to_string(&document).unwrap_or_default();
            match serde_json::from_value::<ApiSpec>(document) {
                Ok(spec) => specs.push(Sourced { spec, origin: Origin::new(Path::new(&file), 1, &text) }),
                Err(e) => problems.push(Problem::new(file, 0, format!("cannot be imported: {e}"))),
            }
        }
        if problems.is_empty() { Ok(specs) } else { Err(problems) }
    }
}

/// Reads an OpenAPI document (JSON or YAML text).
pub fn parse_document(text: &str) -> Result<Value, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        serde_json::from_str(text).map_err(|e| format!("the document is not valid JSON: {e}"))
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| format!("the document is not valid YAML or JSON: {e}"))
    }
}

/// The registered APIs `doc` describes.
pub fn import(doc: &Value, options: &ImportOptions) -> Imported {
    let mut out = Imported::default();
    let fatal = |pointer: &str, message: &str| ImportProblem {
        pointer: pointer.to_owned(),
        message: message.to_owned(),
        fatal: true,
    };
    if doc.get("swagger").is_some() {
        out.problems.push(fatal(
            "/swagger",
            "Swagger 2.0 documents are not imported: convert the document to OpenAPI 3 first (for example with \
             swagger2openapi)",
        ));
        return out;
    }
    match doc.get("openapi").and_then(Value::as_str) {
        Some(version) if version.starts_with("3.") => {}
        Some(version) => {
            out.problems
                .push(fatal("/openapi", &format!("OpenAPI {version} is not supported: give a 3.0 or 3.1 document")));
            return out;
        }
        None => {
            out.problems.push(fatal("/openapi", "not an OpenAPI document: the `openapi` version field is missing"));
            return out;
        }
    }
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        out.problems.push(fatal("/paths", "the document has no `paths` object"));
        return out;
    };
    let mut importer = Importer { doc, options, problems: Vec::new(), names: BTreeSet::new() };
    for (path, item) in paths {
        let item_pointer = format!("/paths/{}", escape(path));
        let Some(item) = importer.resolve(item, &item_pointer) else { continue };
        for method in OTHER_METHODS {
            if item.get(method).is_some() {
                importer.leave_out(
                    &format!("{item_pointer}/{method}"),
                    &format!(
                        "{} is not a method registered APIs forward (GET, POST, PUT, DELETE)",
                        method.to_uppercase()
                    ),
                );
            }
        }
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            let pointer = format!("{item_pointer}/{method}");
            if let Some(document) = importer.operation(path, &item, method, operation, &pointer) {
                out.documents.push((pointer, document));
            }
        }
    }
    out.problems.extend(importer.problems);
    out
}

/// Which side of the exchange a schema describes.
#[derive(Debug, Clone, Copy)]
enum Side {
    Request,
    Response,
}

/// One schema's inlining: the references being followed (to see cycles) and the parts made.
struct SchemaWalk {
    side: Side,
    refs: Vec<String>,
    nodes: usize,
}

struct Importer<'a> {
    doc: &'a Value,
    options: &'a ImportOptions,
    problems: Vec<ImportProblem>,
    /// API names given so far: operations without an id, or with equal ids, get distinct ones.
    names: BTreeSet<String>,
}

impl Importer<'_> {
    fn leave_out(&mut self, pointer: &str, message: &str) {
        self.problems.push(ImportProblem { pointer: pointer.to_owned(), message: message.to_owned(), fatal: false });
    }

    /// A problem that stops the import: nothing is written.
    fn stop(&mut self, pointer: &str, message: &str) {
        self.problems.push(ImportProblem { pointer: pointer.to_owned(), message: message.to_owned(), fatal: true });
    }

    /// `value` with its `$ref` chain followed (local references only); `None`, reported at
    /// `pointer`, when a reference cannot be followed.
    fn resolve(&mut self, value: &Value, pointer: &str) -> Option<Value> {
        let mut current = value.clone();
        for _ in 0..REF_DEPTH {
            let Some(reference) = current.get("$ref").and_then(Value::as_str) else { return Some(current) };
            let Some(local) = reference.strip_prefix('#') else {
                self.leave_out(pointer, &format!("the reference `{reference}` is not inside this document"));
                return None;
            };
            match self.doc.pointer(local) {
                Some(target) => current = target.clone(),
                None => {
                    self.leave_out(pointer, &format!("the reference `{reference}` points at nothing"));
                    return None;
                }
            }
        }
        self.leave_out(pointer, &format!("`$ref`s nest deeper than {REF_DEPTH}: a cycle?"));
        None
    }

    /// A schema with references followed and `allOf` parts merged (properties and required
    /// lists joined; the first type wins).
    fn schema(&mut self, value: &Value, pointer: &str, depth: usize) -> Option<Value> {
        let resolved = self.resolve(value, pointer)?;
        let Some(parts) = resolved.get("allOf").and_then(Value::as_array) else { return Some(resolved) };
        if depth >= REF_DEPTH {
            self.leave_out(pointer, &format!("`allOf`s nest deeper than {REF_DEPTH}"));
            return None;
        }
        let mut merged = resolved.as_object().cloned().unwrap_or_default();
        merged.remove("allOf");
        let mut properties = merged.remove("properties").and_then(|p| p.as_object().cloned()).unwrap_or_default();
        let mut required: Vec<Value> =
            merged.remove("required").and_then(|r| r.as_array().cloned()).unwrap_or_default();
        for (i, part) in parts.iter().enumerate() {
            let Some(part) = self.schema(part, &format!("{pointer}/allOf/{i}"), depth + 1) else { continue };
            if let Some(props) = part.get("properties").and_then(Value::as_object) {
                for (name, schema) in props {
                    properties.entry(name.clone()).or_insert_with(|| schema.clone());
                }
            }
            if let Some(names) = part.get("required").and_then(Value::as_array) {
                required.extend(names.iter().cloned());
            }
            for key in ["type", "format", "description", "example", "default"] {
                if let Some(v) = part.get(key).filter(|_| !merged.contains_key(key)) {
                    merged.insert(key.to_owned(), v.clone());
                }
            }
        }
        if !properties.is_empty() {
            merged.insert("properties".into(), Value::Object(properties));
            merged.entry("type").or_insert_with(|| json!("object"));
        }
        if !required.is_empty() {
            merged.insert("required".into(), Value::Array(required));
        }
        Some(Value::Object(merged))
    }

    /// The upstream base URL: the option, else the operation's, path's or document's first
    /// server, its variables at their defaults.
    fn base_url(&mut self, item: &Value, operation: &Value, pointer: &str) -> Option<String> {
        let item_pointer = pointer.rsplit_once('/').map_or("", |(item, _)| item);
        if let Some(url) = &self.options.base_url {
            return Some(url.trim_end_matches('/').to_owned());
        }
        let servers = [(operation, pointer), (item, item_pointer), (self.doc, "")];
        for (holder, at) in servers {
            let Some(server) = holder.get("servers").and_then(|s| s.get(0)) else { continue };
            let mut url = server.get("url").and_then(Value::as_str).unwrap_or_default().to_owned();
            if let Some(variables) = server.get("variables").and_then(Value::as_object) {
                for (name, variable) in variables {
                    let default = variable.get("default").and_then(Value::as_str).unwrap_or_default();
                    url = url.replace(&format!("{{{name}}}"), default);
                }
            }
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                self.leave_out(
                    &format!("{at}/servers/0/url"),
                    &format!("the server URL `{url}` is not an absolute http(s) URL: give the upstream's base URL"),
                );
                return None;
            }
            return Some(url.trim_end_matches('/').to_owned());
        }
        self.leave_out(pointer, "the document names no server: give the upstream's base URL");
        None
    }

    fn operation(&mut self, path: &str, item: &Value, method: &str, operation: &Value, pointer: &str) -> Option<Value> {
        let base_url = self.base_url(item, operation, pointer)?;
        let name = self.api_name(operation, method, path);
        // Operation parameters override path-level ones of the same name and position.
        let mut declared: Vec<(Value, String)> = Vec::new();
        let lists = [
            (item.get("parameters"), format!("/paths/{}/parameters", escape(path))),
            (operation.get("parameters"), format!("{pointer}/parameters")),
        ];
        for (list, at) in lists {
            for (i, param) in list.and_then(Value::as_array).into_iter().flatten().enumerate() {
                let at = format!("{at}/{i}");
                let Some(param) = self.resolve(param, &at) else { continue };
                let key = |p: &Value| (p.get("name").cloned(), p.get("in").cloned());
                declared.retain(|(p, _)| key(p) != key(&param));
                declared.push((param, at));
            }
        }
        let mut params = Vec::new();
        let mut param_schemas = Map::new();
        for (param, at) in &declared {
            if let Some(mapped) = self.parameter(param, at) {
                let schema_at = format!("{at}/schema");
                let schema = param.get("schema").and_then(|s| self.check_schema(s, &schema_at, Side::Request));
                if let (Some(schema), Some(name)) = (schema, mapped.get("name").and_then(Value::as_str)) {
                    param_schemas.insert(name.to_owned(), schema);
                }
                params.push(mapped);
            }
        }
        let mut body_schema = None;
        if let Some(body) = operation.get("requestBody") {
            let body_at = format!("{pointer}/requestBody");
            let (body_params, schema) = self.body_params(body, &body_at);
            for mut field in body_params {
                self.rename_if_taken(&mut field, &params, &body_at);
                params.push(field);
            }
            body_schema = schema;
        }
        let response_schema = self.response_schema(operation, pointer);
        let constants = self.constants(operation, pointer);
        let mut description = [operation.get("summary"), operation.get("description")]
            .iter()
            .filter_map(|v| v.and_then(Value::as_str))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n");
        description.truncate(description.char_indices().nth(1000).map_or(description.len(), |(i, _)| i));
        let mut upstream = json!({"baseUrl": base_url, "path": path, "method": method.to_uppercase()});
        if !constants.is_empty() {
            upstream["constants"] = Value::Array(constants);
        }
        let mut api = json!({
            "kind": "Api",
            "workgroup": self.options.workgroup,
            "name": name,
            "description": description,
            "path": served_path(&self.options.path_prefix, path),
            "method": method.to_uppercase(),
            "mode": "registered",
            "upstream": upstream,
            "params": params,
            "publish": self.options.publish.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
            "authMode": if self.options.public { "none" } else { "app" },
        });
        if !param_schemas.is_empty() || body_schema.is_some() || response_schema.is_some() {
            let mut validation = json!({"enabled": true});
            if !param_schemas.is_empty() {
                validation["params"] = Value::Object(param_schemas);
            }
            if let Some(body) = body_schema {
                validation["body"] = body;
            }
            if let Some(response) = response_schema {
                validation["response"] = response;
            }
            api["validation"] = validation;
        }
        let errors = error_codes(operation);
        if !errors.is_empty() {
            api["errorCodes"] = Value::Array(errors);
        }
        if let Some(tags) = operation.get("tags").and_then(Value::as_array) {
            let tags: Vec<&str> = tags.iter().filter_map(Value::as_str).collect();
            if !tags.is_empty() {
                api["tags"] = json!(tags);
            }
        }
        Some(api)
    }

    /// The operation's id as an API name (letters, digits and underscores), or one made of
    /// its method and path; unique within the import.
    fn api_name(&mut self, operation: &Value, method: &str, path: &str) -> String {
        let wanted = match operation.get("operationId").and_then(Value::as_str) {
            Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
            _ => format!("{method}{}", path.replace(['{', '}'], "")),
        };
        let mut base: String = wanted.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        base = base.trim_matches('_').to_owned();
        if base.is_empty() {
            base = format!("{method}_operation");
        }
        // Room for a `_<n>` that tells equal names apart.
        base.truncate(plugins::api_rules::API_NAME_MAX - 4);
        let mut name = base.clone();
        let mut n = 2;
        while !self.names.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }

    fn parameter(&mut self, param: &Value, at: &str) -> Option<Value> {
        let name = param.get("name").and_then(Value::as_str).unwrap_or_default();
        let position = match param.get("in").and_then(Value::as_str) {
            Some(p @ ("path" | "query" | "header")) => p,
            Some("cookie") => {
                self.leave_out(at, &format!("cookie parameter `{name}`: registered APIs do not forward cookies"));
                return None;
            }
            other => {
                self.leave_out(at, &format!("parameter `{name}`: unknown position {other:?}"));
                return None;
            }
        };
        if name.is_empty() {
            self.leave_out(at, "a parameter without a name");
            return None;
        }
        if position == "header" && plugins::registered::is_reserved_upstream_header(name) {
            self.leave_out(at, &format!("header `{name}` is set by the edge itself, not by callers"));
            return None;
        }
        let schema = match param.get("schema") {
            Some(schema) => self.schema(schema, &format!("{at}/schema"), 0).unwrap_or(Value::Null),
            None => Value::Null,
        };
        let required = position == "path" || param.get("required").and_then(Value::as_bool).unwrap_or(false);
        let mut mapped = caller_param(name, position, &schema, required);
        let description = param.get("description").and_then(Value::as_str).unwrap_or_default();
        mapped["description"] = json!(description);
        let example = param.get("example").or_else(|| {
            param
                .get("examples")
                .and_then(Value::as_object)
                .and_then(|e| e.values().next())
                .and_then(|e| e.get("value"))
        });
        if let Some(example) = example.or_else(|| schema.get("example")) {
            mapped["example"] = json!(text_of(example));
        }
        Some(mapped)
    }

    /// A JSON request body's top-level properties, as body parameters, and the body's schema
    /// to check calls against (when it maps to parameters).
    /// A body field named like one of `params` (the Swagger Petstore's `PUT /user/{username}`
    /// has a `username` in its path and its body) is sent by callers as `body_<name>`, still
    /// `<name>` upstream; the note is listed at the body.
    fn rename_if_taken(&mut self, field: &mut Value, params: &[Value], body_at: &str) {
        let taken = |name: &str| params.iter().any(|p| p.get("name").and_then(Value::as_str) == Some(name));
        let Some(name) = field.get("name").and_then(Value::as_str).map(str::to_owned) else { return };
        if !taken(&name) {
            return;
        }
        let mut renamed = format!("body_{name}");
        let mut n = 2;
        while taken(&renamed) {
            renamed = format!("body_{name}_{n}");
            n += 1;
        }
        let upstream = field.get("upstreamName").and_then(Value::as_str).unwrap_or(&name).to_owned();
        field["upstreamName"] = json!(upstream);
        field["name"] = json!(renamed);
        let why =
            format!("the body field `{upstream}` has the name of another parameter: callers send it as `{renamed}`");
        self.leave_out(body_at, &why);
    }

    fn body_params(&mut self, body: &Value, at: &str) -> (Vec<Value>, Option<Value>) {
        let Some(body) = self.resolve(body, at) else { return (Vec::new(), None) };
        let content = body.get("content").and_then(Value::as_object);
        let json_media = content.and_then(|c| {
            c.iter().find(|(media, _)| media.starts_with("application/json") || media.ends_with("+json"))
        });
        let Some((media, media_type)) = json_media else {
            if content.is_some_and(|c| !c.is_empty()) {
                self.leave_out(&format!("{at}/content"), "only JSON request bodies are mapped to parameters");
            }
            return (Vec::new(), None);
        };
        let schema_at = format!("{at}/content/{}/schema", escape(media));
        let Some(schema) = media_type.get("schema").and_then(|s| self.schema(s, &schema_at, 0)) else {
            return (Vec::new(), None);
        };
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            let why = if schema.get("oneOf").is_some() || schema.get("anyOf").is_some() {
                "a body that is one of several schemas (oneOf/anyOf) has no fixed fields to map to parameters"
            } else {
                "only an object body's properties are mapped to parameters"
            };
            self.leave_out(&schema_at, why);
            return (Vec::new(), None);
        };
        let required: BTreeSet<&str> =
            schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let body_required = body.get("required").and_then(Value::as_bool).unwrap_or(false);
        let mut params = Vec::new();
        for (name, property) in properties {
            let property_at = format!("{schema_at}/properties/{}", escape(name));
            let property = self.schema(property, &property_at, 0).unwrap_or(Value::Null);
            if property.get("readOnly").and_then(Value::as_bool) == Some(true) {
                continue; // answered by the upstream, never sent to it
            }
            let mut mapped = caller_param(name, "body", &property, body_required && required.contains(name.as_str()));
            mapped["description"] = json!(property.get("description").and_then(Value::as_str).unwrap_or_default());
            if let Some(example) = property.get("example") {
                mapped["example"] = json!(text_of(example));
            }
            params.push(mapped);
        }
        let checked = match media_type.get("schema") {
            Some(raw) if !params.is_empty() => self.check_schema(raw, &schema_at, Side::Request),
            _ => None,
        };
        (params, checked)
    }

    /// The schema of the first 2xx answer with a JSON body, kept for checks of answers.
    fn response_schema(&mut self, operation: &Value, pointer: &str) -> Option<Value> {
        let responses = operation.get("responses").and_then(Value::as_object)?;
        let mut statuses: Vec<&String> = responses.keys().filter(|s| s.starts_with('2')).collect();
        statuses.sort();
        for status in statuses {
            let at = format!("{pointer}/responses/{}", escape(status));
            let Some(response) = self.resolve(&responses[status.as_str()], &at) else { continue };
            let content = response.get("content").and_then(Value::as_object);
            let json_media = content.and_then(|c| {
                c.iter().find(|(media, _)| media.starts_with("application/json") || media.ends_with("+json"))
            });
            let Some((media, media_type)) = json_media else { continue };
            let schema = media_type.get("schema")?;
            return self.check_schema(schema, &format!("{at}/content/{}/schema", escape(media)), Side::Response);
        }
        None
    }

    /// `schema` as the edge checks it: inlined and in JSON Schema's dialect (see
    /// [`Importer::json_schema`]), compiled once to be sure; `None` when it accepts anything
    /// or cannot be applied (reported: the rest of the call is still checked).
    fn check_schema(&mut self, schema: &Value, pointer: &str, side: Side) -> Option<Value> {
        let mut walk = SchemaWalk { side, refs: Vec::new(), nodes: 0 };
        let converted = self.json_schema(schema, pointer, &mut walk);
        if walk.nodes > SCHEMA_NODES {
            self.leave_out(
                pointer,
                &format!("the schema inlines to more than {SCHEMA_NODES} parts: calls are not checked against it"),
            );
            return None;
        }
        if converted == json!({}) || converted == json!(true) {
            return None;
        }
        match plugins::registered::compile_schema(&converted) {
            Ok(_) => Some(converted),
            Err(why) => {
                self.leave_out(
                    pointer,
                    &format!("the schema cannot be checked at the edge ({why}): calls are not checked against it"),
                );
                None
            }
        }
    }

    /// A schema with its local `$ref`s inlined (a reference to one of its own enclosing
    /// schemas, a cycle, becomes `{}`: anything is accepted from there) and OpenAPI 3.0's
    /// dialect turned into JSON Schema: `nullable: true` adds `null` to the type, a boolean
    /// `exclusiveMinimum`/`exclusiveMaximum` moves its bound, `example`, `xml`,
    /// `externalDocs`, `discriminator` and `x-` extensions are dropped. Properties the
    /// side never carries (read-only ones in requests, write-only ones in answers) are not
    /// required.
    fn json_schema(&mut self, value: &Value, pointer: &str, walk: &mut SchemaWalk) -> Value {
        walk.nodes += 1;
        let Some(object) = value.as_object() else { return value.clone() };
        if walk.nodes > SCHEMA_NODES {
            return json!({});
        }
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            let inlined = self.inline_ref(reference, pointer, walk);
            let siblings: Map<String, Value> = (object.iter())
                .filter(|(key, _)| !matches!(key.as_str(), "$ref" | "description" | "summary" | "title" | "example"))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            if siblings.is_empty() {
                return inlined;
            }
            // 3.1 applies a reference's siblings too: both must hold.
            let mut rest = self.json_schema(&Value::Object(siblings), pointer, walk);
            if let Some(all) = rest.get_mut("allOf").and_then(Value::as_array_mut) {
                all.push(inlined);
            } else {
                rest["allOf"] = json!([inlined]);
            }
            return rest;
        }
        let mut out = Map::new();
        for (key, value) in object {
            let converted = match key.as_str() {
                "example" | "xml" | "externalDocs" | "discriminator" | "nullable" | "$id" | "$schema" => continue,
                extension if extension.starts_with("x-") => continue,
                // Data, not schemas.
                "enum" | "const" | "default" | "examples" | "required" => value.clone(),
                // Schemas by name: the names are data.
                "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => {
                    match value.as_object() {
                        Some(named) => Value::Object(
                            named
                                .iter()
                                .map(|(name, schema)| (name.clone(), self.json_schema(schema, pointer, walk)))
                                .collect(),
                        ),
                        None => value.clone(),
                    }
                }
                _ => match value {
                    Value::Object(_) => self.json_schema(value, pointer, walk),
                    Value::Array(items) => {
                        Value::Array(items.iter().map(|i| self.json_schema(i, pointer, walk)).collect())
                    }
                    other => other.clone(),
                },
            };
            out.insert(key.clone(), converted);
        }
        if object.get("nullable") == Some(&Value::Bool(true)) {
            match out.get_mut("type") {
                Some(Value::String(single)) => {
                    let single = std::mem::take(single);
                    out.insert("type".into(), json!([single, "null"]));
                }
                Some(Value::Array(types)) if !types.contains(&json!("null")) => types.push(json!("null")),
                _ => {}
            }
            if let Some(Value::Array(options)) = out.get_mut("enum")
                && !options.contains(&Value::Null)
            {
                options.push(Value::Null);
            }
        }
        for (exclusive, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
            match out.get(exclusive) {
                Some(Value::Bool(true)) => match out.remove(bound) {
                    Some(limit) => {
                        out.insert(exclusive.to_owned(), limit);
                    }
                    None => {
                        out.remove(exclusive);
                    }
                },
                Some(Value::Bool(false)) => {
                    out.remove(exclusive);
                }
                _ => {}
            }
        }
        let absent = match walk.side {
            Side::Request => "readOnly",
            Side::Response => "writeOnly",
        };
        let never_carried: Vec<Value> = (out.get("properties").and_then(Value::as_object).into_iter().flatten())
            .filter(|(_, schema)| schema.get(absent) == Some(&Value::Bool(true)))
            .map(|(name, _)| json!(name))
            .collect();
        if let Some(Value::Array(required)) = out.get_mut("required") {
            required.retain(|name| !never_carried.contains(name));
        }
        Value::Object(out)
    }

    /// The schema a local `$ref` names, inlined; `{}` for a cycle or a reference that cannot
    /// be followed (reported).
    fn inline_ref(&mut self, reference: &str, pointer: &str, walk: &mut SchemaWalk) -> Value {
        let Some(local) = reference.strip_prefix('#') else {
            self.leave_out(pointer, &format!("the reference `{reference}` is not inside this document: not checked"));
            return json!({});
        };
        if walk.refs.iter().any(|r| r == reference) || walk.refs.len() >= REF_DEPTH {
            return json!({});
        }
        let Some(target) = self.doc.pointer(local) else {
            self.leave_out(pointer, &format!("the reference `{reference}` points at nothing: not checked"));
            return json!({});
        };
        walk.refs.push(reference.to_owned());
        let inlined = self.json_schema(target, pointer, walk);
        walk.refs.pop();
        inlined
    }

    /// Constants for the operation's security schemes (its own, else the document's): each
    /// takes its value from `secrets` (given, or an environment variable named after the scheme,
    /// which `apply` reads and refuses to do without). A scheme whose credential was not given
    /// stops the import.
    fn constants(&mut self, operation: &Value, pointer: &str) -> Vec<Value> {
        let (requirements, at) = match operation.get("security") {
            Some(own) => (own.clone(), format!("{pointer}/security")),
            None => (self.doc.get("security").cloned().unwrap_or(Value::Null), "/security".to_owned()),
        };
        // The first requirement object: alternatives beyond it need no constants.
        let Some(first) = requirements.get(0).and_then(Value::as_object) else { return Vec::new() };
        let mut constants = Vec::new();
        for scheme_name in first.keys() {
            let scheme_at = format!("/components/securitySchemes/{}", escape(scheme_name));
            let Some(scheme) = self.doc.pointer(&scheme_at).cloned() else {
                self.leave_out(&at, &format!("security scheme `{scheme_name}` is not defined"));
                continue;
            };
            let Some(scheme) = self.resolve(&scheme, &scheme_at) else { continue };
            let kind = scheme.get("type").and_then(Value::as_str).unwrap_or_default();
            let (name, position) = match kind {
                "apiKey" => {
                    let name = scheme.get("name").and_then(Value::as_str).unwrap_or_default();
                    match scheme.get("in").and_then(Value::as_str) {
                        Some(position @ ("header" | "query")) if !name.is_empty() => (name.to_owned(), position),
                        _ => {
                            self.leave_out(&scheme_at, "only API keys in a header or the query are filled in");
                            continue;
                        }
                    }
                }
                // The whole header value (`Bearer …`, `Basic …`) is the secret to set.
                "http" => ("Authorization".to_owned(), "header"),
                _ => {
                    self.leave_out(
                        &scheme_at,
                        &format!("`{kind}` security is not filled in: add the credential as a constant by hand"),
                    );
                    continue;
                }
            };
            let constant = match &self.options.secrets {
                Secrets::Environment => json!({"name": name, "position": position, "valueEnv": env_name(scheme_name)}),
                Secrets::Given(given) => match given.get(scheme_name) {
                    Some(secret) => json!({"name": name, "position": position, "value": secret}),
                    None => {
                        let why = format!(
                            "security scheme `{scheme_name}` needs its credential: give it in `secrets`, \
                             under the scheme's name"
                        );
                        self.stop(&scheme_at, &why);
                        continue;
                    }
                },
            };
            constants.push(constant);
        }
        constants
    }
}

/// A caller parameter named as the upstream names it when that is a valid caller name, else
/// renamed with the upstream name kept.
fn caller_param(name: &str, position: &str, schema: &Value, required: bool) -> Value {
    let caller: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' }).collect();
    let mut param = json!({
        "name": caller,
        "position": position,
        "type": param_type(schema),
        "required": required,
    });
    if caller != name {
        param["upstreamName"] = json!(name);
    }
    if let Some(default) = schema.get("default") {
        param["default"] = json!(text_of(default));
    }
    param
}

/// The parameter type for a JSON schema: scalars by `type` and `format`, arrays of scalars,
/// anything else JSON.
fn param_type(schema: &Value) -> String {
    let scalar = |s: &Value| -> Option<&'static str> {
        Some(match (first_type(s)?, s.get("format").and_then(Value::as_str)) {
            ("integer", _) => "int",
            ("number", Some("decimal")) => "decimal",
            ("number", _) => "float",
            ("boolean", _) => "bool",
            ("string", Some("date")) => "date",
            ("string", Some("date-time")) => "datetime",
            ("string", _) => "string",
            _ => return None,
        })
    };
    match first_type(schema) {
        None => "string".into(),
        Some("array") => match schema.get("items").and_then(scalar) {
            Some(item) => format!("array<{item}>"),
            None => "json".into(),
        },
        Some("object") => "json".into(),
        Some(_) => scalar(schema).unwrap_or("string").into(),
    }
}

/// `type` as 3.0 writes it, or the first non-null of 3.1's list.
fn first_type(schema: &Value) -> Option<&str> {
    match schema.get("type")? {
        Value::String(t) => Some(t),
        Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

/// Documented 4xx and 5xx answers.
fn error_codes(operation: &Value) -> Vec<Value> {
    let responses = operation.get("responses").and_then(Value::as_object);
    responses
        .into_iter()
        .flatten()
        .filter(|(status, _)| status.starts_with('4') || status.starts_with('5'))
        .map(|(status, response)| {
            let message = response.get("description").and_then(Value::as_str).unwrap_or_default();
            json!({"code": status, "message": message})
        })
        .collect()
}

/// A JSON value as definitions hold defaults and examples: strings as they are, the rest as
/// JSON text.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The environment variable a scheme's secret is read from on the command line:
/// `SLUICE_IMPORT_SECRET_` and the scheme's name in upper case. A prefix of its own, so that
/// no scheme name can make the import read Sluice's own settings (`SLUICE_SECRET_KEY`).
fn env_name(scheme: &str) -> String {
    let upper: String =
        scheme.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("SLUICE_IMPORT_SECRET_{upper}")
}

/// The operation's path under `prefix` on Sluice's side; the root path under a prefix is the
/// prefix itself.
fn served_path(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if path == "/" && !prefix.is_empty() { prefix.to_owned() } else { format!("{prefix}{path}") }
}

/// A JSON pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
