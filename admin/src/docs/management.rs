//! The management API's own OpenAPI 3.1 document, generated from the route registry
//! ([`crate::routes`]) with utoipa's builders: one operation per registered route, so
//! the document cannot miss a route or describe one that does not exist.
//!
//! Each route describes its request body and the `data` of its answer with types that derive
//! utoipa's `ToSchema` ([`RouteSpec::body`], [`RouteSpec::answer`]): a body is a `$ref` into
//! `components/schemas`, where every schema they refer to is written once, so the document can
//! generate a client. An answer not described is any JSON value.

use errors::ErrorCode;
use serde_json::{Value, json};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, KnownFormat, Object, OpenApi, OpenApiBuilder, OpenApiVersion, PathItem,
    Paths, Ref, RefOr, Required, Response, ResponseBuilder, Schema, SchemaFormat, Server, Type,
};

use crate::access::{Access, Answer, RouteSpec, Schemas, role_name};

/// Every management path starts with this.
pub const PREFIX: &str = "/admin/v1";

const BEARER: &str = "bearer";
const ENVELOPE: &str = "Envelope";
const ERROR: &str = "Error";
const JSON: &str = "application/json";

/// The document of every route in `specs`.
pub fn management_document(specs: &[RouteSpec]) -> OpenApi {
    let mut paths = Paths::new();
    let mut schemas = Schemas::new();
    for spec in specs {
        if let Some(body) = &spec.body {
            body.schema.collect(&mut schemas);
        }
        if let Some(Answer::One(d) | Answer::List(d) | Answer::Page(d)) = &spec.answer {
            d.collect(&mut schemas);
        }
        let Some(method) = http_method(&spec.method) else { continue };
        let path = format!("{PREFIX}{}", spec.path);
        let operation = operation(spec);
        match paths.paths.get_mut(&path) {
            Some(item) => item.merge_operations(PathItem::new(method, operation)),
            None => {
                paths.paths.insert(path, PathItem::new(method, operation));
            }
        }
    }
    // Sorted by name, each once (a type and those it refers to may be collected many times).
    let schemas: std::collections::BTreeMap<String, RefOr<Schema>> = schemas.into_iter().collect();
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .schema(ENVELOPE, envelope_schema(false))
        .schema(ERROR, envelope_schema(true))
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("slt token")
                    .description(Some(
                        "`Authorization: Bearer <token>`: a user's token (`POST /admin/v1/users/{user}/tokens`) or \
                         the bootstrap admin token.",
                    ))
                    .build(),
            ),
        )
        .build();
    let info = InfoBuilder::new().title("Sluice management API").version(env!("CARGO_PKG_VERSION")).description(Some(
        "Manage Sluice: users and tokens, workgroups and their members, datasources, APIs and their \
             documents. Every answer is the envelope `{requestId, success, code, message, data}`; errors add \
             `field`, the request field at fault when there is one. Each operation's `x-sluice-access` says who may \
             call it; a workgroup that does not exist and one the caller is not a member of both answer 404.",
    ));
    OpenApiBuilder::new()
        .openapi(OpenApiVersion::Version31)
        .info(info.build())
        .servers(Some([Server::new("/")]))
        .paths(paths)
        .components(Some(components))
        .build()
}

fn http_method(method: &axum::http::Method) -> Option<HttpMethod> {
    Some(match method.as_str() {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "DELETE" => HttpMethod::Delete,
        "PATCH" => HttpMethod::Patch,
        "HEAD" => HttpMethod::Head,
        "OPTIONS" => HttpMethod::Options,
        "TRACE" => HttpMethod::Trace,
        _ => return None,
    })
}

/// `GET /workgroups/{workgroup}/members` → `get_workgroups_workgroup_members`.
pub fn operation_id(spec: &RouteSpec) -> String {
    let mut id = spec.method.as_str().to_ascii_lowercase();
    for part in spec.path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        id.push('_');
        id.push_str(part);
    }
    id
}

/// The names of the `{x}` parameters of a path, in order.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect()
}

fn access_text(access: Access) -> String {
    match access {
        Access::Public => "public: no token needed".to_owned(),
        Access::Authenticated => "any user with a valid token".to_owned(),
        Access::PlatformAdmin => "platform administrators".to_owned(),
        Access::Metrics => {
            "platform administrators, or the operator's metrics token (`[metrics] token`) as the bearer token"
                .to_owned()
        }
        Access::Workgroup(role) => format!("members of `{{workgroup}}` with the role {} or above", role_name(role)),
    }
}

/// The area a route belongs to, for grouping: `/workgroups/{workgroup}/apis/{id}` → `apis`.
fn tag(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && !p.starts_with('{')).collect();
    let tag = match parts.as_slice() {
        ["workgroups", next, ..] => next,
        [first, ..] => first,
        [] => "admin",
    };
    tag.trim_end_matches(".json").to_owned()
}

fn operation(spec: &RouteSpec) -> utoipa::openapi::path::Operation {
    let method = spec.method.as_str();
    let mut builder = OperationBuilder::new()
        .operation_id(Some(operation_id(spec)))
        .summary(Some(format!("{method} {PREFIX}{}", spec.path)))
        .description(Some(format!("Who may call: {}.", access_text(spec.access))))
        .tag(tag(spec.path));
    for name in path_params(spec.path) {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(param_description(name)))
                .schema(Some(param_schema(name))),
        );
    }
    if let Some(body) = &spec.body {
        let description = if body.required {
            "A JSON object; unknown fields are refused with 400."
        } else {
            "A JSON object, or no body (read as `{}`); unknown fields are refused with 400."
        };
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .description(Some(description))
                .required(Some(if body.required { Required::True } else { Required::False }))
                .content(JSON, Content::new(Some(schema_ref(&body.schema.name()))))
                .build(),
        ));
    }
    match raw_content(spec.path) {
        _ if spec.path == super::PAGE_PATH => {
            let moved = format!("The page moved into the web console: `Location: {}`.", super::CONSOLE_PAGE);
            builder = builder.response("308", ResponseBuilder::new().description(moved).build());
        }
        Some((media_type, description)) => {
            let mut schema = Object::with_type(if media_type == JSON { Type::Object } else { Type::String });
            schema.description = Some(description.to_owned());
            let content = Content::new(Some(RefOr::T(Schema::Object(schema))));
            builder =
                builder.response("200", ResponseBuilder::new().description(description).content(media_type, content));
        }
        None => {
            let success = if method == "POST" { "Success (201 when something was created)." } else { "Success." };
            builder = builder
                .response(if method == "POST" { "2XX" } else { "200" }, ok_response(success, spec.answer.as_ref()));
        }
    }
    for (status, response) in error_responses(spec) {
        builder = builder.response(status, response);
    }
    if spec.access != Access::Public {
        builder = builder.security(SecurityRequirement::new(BEARER, Vec::<String>::new()));
    } else {
        builder = builder.securities(Some(Vec::<SecurityRequirement>::new()));
    }
    let access = match spec.access {
        Access::Public => json!("public"),
        Access::Authenticated => json!("authenticated"),
        Access::PlatformAdmin => json!("platformAdmin"),
        Access::Metrics => json!("platformAdminOrMetricsToken"),
        Access::Workgroup(role) => json!({"workgroupRole": role_name(role)}),
    };
    let extensions = ExtensionsBuilder::new().add("x-sluice-access", access).build();
    builder.extensions(Some(extensions)).build()
}

/// Routes that answer a document or a page rather than the envelope: media type and what it is.
fn raw_content(path: &str) -> Option<(&'static str, &'static str)> {
    if path.ends_with("/openapi.json") {
        Some((JSON, "An OpenAPI 3.1 document, as is (no envelope)."))
    } else if path == "/metrics" {
        Some((
            "text/plain",
            "Every metric of the process in Prometheus's text format 0.0.4 (no envelope); also served at `/metrics`.",
        ))
    } else {
        None
    }
}

/// Ids and version numbers are whole numbers; names are text.
fn is_number(name: &str) -> bool {
    matches!(name, "id" | "number" | "version" | "rule") || name.ends_with("Id") || name.ends_with("_id")
}

fn param_schema(name: &str) -> RefOr<Schema> {
    let object = if is_number(name) {
        let mut o = Object::with_type(Type::Integer);
        o.format = Some(SchemaFormat::KnownFormat(KnownFormat::Int64));
        o
    } else {
        Object::with_type(Type::String)
    };
    RefOr::T(Schema::Object(object))
}

fn param_description(name: &str) -> String {
    match name {
        "workgroup" => "The workgroup's name.".to_owned(),
        "user" => "The user's name.".to_owned(),
        other if is_number(other) => format!("`{other}`, a whole number."),
        other => format!("`{other}`."),
    }
}

fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::new(format!("#/components/schemas/{name}")))
}

/// The envelope, with `data` as the route describes it: `allOf` the envelope and its `data`.
fn ok_response(description: &str, answer: Option<&Answer>) -> Response {
    let schema = match answer {
        None => schema_ref(ENVELOPE),
        Some(answer) => {
            let data = match answer {
                Answer::One(d) => schema_ref(&d.name()),
                Answer::List(d) => array_of(&d.name()),
                Answer::Page(d) => page_of(&d.name()),
                Answer::Nothing => RefOr::T(Schema::Object(Object::with_type(Type::Null))),
            };
            let mut with_data = Object::with_type(Type::Object);
            with_data.properties.insert("data".to_owned(), data);
            let mut all = utoipa::openapi::schema::AllOf::new();
            all.items = vec![schema_ref(ENVELOPE), RefOr::T(Schema::Object(with_data))];
            RefOr::T(Schema::AllOf(all))
        }
    };
    ResponseBuilder::new().description(description).content(JSON, Content::new(Some(schema))).build()
}

fn array_of(name: &str) -> RefOr<Schema> {
    RefOr::T(Schema::Array(utoipa::openapi::schema::Array::new(schema_ref(name))))
}

/// `{items, pageNum, pageSize, total}` of `name`.
fn page_of(name: &str) -> RefOr<Schema> {
    let mut page = Object::with_type(Type::Object);
    page.properties.insert("items".to_owned(), array_of(name));
    for key in ["pageNum", "pageSize", "total"] {
        let mut n = Object::with_type(Type::Integer);
        n.minimum = Some(0f64.into());
        page.properties.insert(key.to_owned(), RefOr::T(Schema::Object(n)));
    }
    page.required = ["items", "pageNum", "pageSize", "total"].map(str::to_owned).to_vec();
    RefOr::T(Schema::Object(page))
}

/// The codes a route can answer besides success, from the one catalogue: what every route can
/// answer, what its access check adds, and what the route's own work adds.
pub fn error_codes(spec: &RouteSpec) -> Vec<ErrorCode> {
    let method = spec.method.as_str();
    let writes = matches!(method, "POST" | "PUT" | "PATCH");
    let mut codes = Vec::new();
    if spec.access != Access::Public || raw_content(spec.path).is_none() {
        codes.extend([ErrorCode::InvalidParameter, ErrorCode::NotFound, ErrorCode::Conflict]);
    }
    if spec.access != Access::Public {
        codes.extend([ErrorCode::Unauthorized, ErrorCode::Forbidden]);
    }
    let api_write = writes && spec.path.starts_with("/workgroups/{workgroup}/apis");
    if api_write {
        codes.push(ErrorCode::InvalidDefinition);
    }
    if writes && spec.path.starts_with("/workgroups/{workgroup}/functions") {
        codes.push(ErrorCode::InvalidFunction);
    }
    if spec.path == "/workgroups/{workgroup}/imports/openapi" {
        // A document that is not OpenAPI 3; imported APIs that fail apply's checks.
        codes.extend([ErrorCode::InvalidRequestBody, ErrorCode::InvalidDefinition]);
    }
    if spec.path.contains("/datasources/{id}/tables") {
        // Schema reads: a datasource that cannot be used, a catalogue query refused.
        codes.extend([ErrorCode::UnavailableDatasource, ErrorCode::InternalErrorDatabase]);
        if spec.path.ends_with("/columns") {
            codes.push(ErrorCode::NotFoundTable);
        }
    }
    // The writes that claim a path: create, update, copy and publish.
    let claims_path = ["/apis", "/apis/{id}", "/apis/{id}/copy", "/apis/{id}/publish"]
        .iter()
        .any(|tail| spec.path == format!("/workgroups/{{workgroup}}{tail}"));
    if writes && claims_path {
        codes.push(ErrorCode::ConflictPath);
    }
    if spec.path.ends_with("/apis/{id}/test") {
        // The test console relays what the API itself would answer.
        codes.extend([
            ErrorCode::MissingParameter,
            ErrorCode::InvalidRequestBody,
            ErrorCode::ForbiddenQuery,
            ErrorCode::ForbiddenField,
            ErrorCode::ForbiddenParameter,
            ErrorCode::InternalErrorDatabase,
            ErrorCode::UpstreamUnavailable,
            ErrorCode::UpstreamForbidden,
            ErrorCode::UnavailableDatasource,
            ErrorCode::Timeout,
            ErrorCode::UpstreamTimeout,
        ]);
    }
    codes.push(ErrorCode::InternalError);
    codes.sort_by_key(|c| (c.status().as_u16(), *c));
    codes.dedup();
    codes
}

/// One error response per status a route can answer, each listing its codes in the description
/// and in [`openapi::ERROR_CODES_EXTENSION`].
fn error_responses(spec: &RouteSpec) -> Vec<(String, Response)> {
    let codes = error_codes(spec);
    let mut responses: Vec<(String, Response)> = Vec::new();
    for status in codes.iter().map(|c| c.status()).collect::<std::collections::BTreeSet<_>>() {
        let of_status: Vec<ErrorCode> = codes.iter().copied().filter(|c| c.status() == status).collect();
        let mut description = format!("{}. `code` is one of:\n", status.canonical_reason().unwrap_or("Error"));
        for code in &of_status {
            description.push_str(&format!("\n- `{}`: {}", code.pattern(), code.meaning()));
        }
        let listed: Vec<&str> = of_status.iter().map(|c| c.as_str()).collect();
        let extensions = ExtensionsBuilder::new().add(openapi::ERROR_CODES_EXTENSION, listed).build();
        let response = ResponseBuilder::new()
            .description(description)
            .content(JSON, Content::new(Some(schema_ref(ERROR))))
            .extensions(Some(extensions))
            .build();
        responses.push((status.as_u16().to_string(), response));
    }
    responses
}

fn string(description: &str) -> RefOr<Schema> {
    let mut o = Object::with_type(Type::String);
    o.description = Some(description.to_owned());
    RefOr::T(Schema::Object(o))
}

/// `{requestId, success, code, message, data}`, plus `field` on errors.
fn envelope_schema(error: bool) -> Schema {
    let mut o = Object::with_type(Type::Object);
    o.description = Some(if error { "A refused or failed request." } else { "A successful answer." }.to_owned());
    o.properties.insert("requestId".to_owned(), string("Identifies the request in the server's logs."));
    let mut success = Object::with_type(Type::Boolean);
    success.enum_values = Some(vec![Value::Bool(!error)]);
    o.properties.insert("success".to_owned(), RefOr::T(Schema::Object(success)));
    let code = if error {
        string(
            "Stable and machine-readable, such as `InvalidParameter.name`, `Unauthorized`, `NotFound`: one of the \
             codes the response lists in `x-sluice-error-codes` (docs/errors.md lists them all).",
        )
    } else {
        let mut c = Object::with_type(Type::String);
        c.enum_values = Some(vec![json!("OK")]);
        RefOr::T(Schema::Object(c))
    };
    o.properties.insert("code".to_owned(), code);
    o.properties.insert("message".to_owned(), string("For people; empty on success."));
    let mut required = vec!["requestId", "success", "code", "message", "data"];
    if error {
        let mut field = Object::with_type([Type::String, Type::Null].into_iter().collect::<SchemaType>());
        field.description = Some("The request field at fault, when one is.".to_owned());
        o.properties.insert("field".to_owned(), RefOr::T(Schema::Object(field)));
        o.properties.insert("data".to_owned(), RefOr::T(Schema::Object(Object::with_type(Type::Null))));
        required.push("field");
    } else {
        let mut data = Object::with_type(SchemaType::AnyValue);
        data.description =
            Some("The answer: an object, or a list page `{items, pageNum, pageSize, total}`, or null.".to_owned());
        o.properties.insert("data".to_owned(), RefOr::T(Schema::Object(data)));
    }
    o.required = required.into_iter().map(str::to_owned).collect();
    Schema::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;
    use catalog::model::WorkgroupRole;

    #[test]
    fn ids_params_and_tags_come_from_the_path() {
        let spec = RouteSpec {
            method: Method::GET,
            path: "/workgroups/{workgroup}/apis/{id}/openapi.json",
            access: Access::Workgroup(WorkgroupRole::Viewer),
            body: None,
            answer: None,
        };
        assert_eq!(operation_id(&spec), "get_workgroups_workgroup_apis_id_openapi_json");
        assert_eq!(path_params(spec.path), ["workgroup", "id"]);
        assert_eq!(tag(spec.path), "apis");
        assert_eq!(tag("/openapi.json"), "openapi");
        assert_eq!(tag("/workgroups/{workgroup}"), "workgroups");
    }
}
