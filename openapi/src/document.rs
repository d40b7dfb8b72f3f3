//! Documents: one API, or a workgroup's APIs merged, with the shared components.

use std::collections::{HashMap, HashSet};

use catalog::model::{Api, ApiVersion, AuthMode, SecurityLevel};
use serde_json::json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, HeaderBuilder, HttpMethod, InfoBuilder, Object, OpenApi, PathItem, Paths, RefOr, Schema,
    SecurityRequirement, Server, Type,
};
use utoipa::openapi::{OpenApiBuilder, OpenApiVersion, path::Operation};

use crate::operation::{self, Template};
use crate::responses::{ENVELOPE, ERROR, REQUEST_ID_HEADER, Shared};

/// Security scheme names: callers present either.
pub const APP_KEY_SCHEME: &str = "appKey";
pub const APP_TOKEN_SCHEME: &str = "appToken";
pub const APP_KEY_HEADER: &str = "X-Sluice-App-Key";

const CALLING: &str = "Call with your app's credentials: the header `X-Sluice-App-Key: <app key>` or \
`Authorization: Bearer <app token>`. Data APIs answer `{\"code\": \"OK\", \"requestId\": …, \"data\": …}`; errors \
answered by the gateway are `{\"code\", \"message\", \"requestId\"}` with a stable `code` (the `Error` schema). Every \
response carries `X-Request-Id`. `X-Sluice-Env: test` calls the version published to the test environment.";

/// The OpenAPI document of one API as `version` defines it, served at `server_url`.
pub fn api_document(api: &Api, version: &ApiVersion, server_url: &str) -> OpenApi {
    let mut doc = Merged::default();
    doc.add(api, version);
    let mut description = Vec::new();
    if !api.description.trim().is_empty() {
        description.push(api.description.trim().to_owned());
    }
    description.push(CALLING.to_owned());
    description.extend(doc.notes.iter().cloned());
    let info =
        InfoBuilder::new().title(api.name.clone()).version(version.label()).description(Some(description.join("\n\n")));
    doc.finish(info, server_url)
}

/// One document of every API in `apis` (each with the version to describe, usually the one
/// published to production), served at `server_url`. Paths holding several methods share one
/// path item; when two APIs take the same method and path (or the same route under other
/// parameter names), the first is kept and the document says which was left out.
pub fn workgroup_document(workgroup: &str, apis: &[(Api, ApiVersion)], server_url: &str) -> OpenApi {
    let mut doc = Merged::default();
    for (api, version) in apis {
        doc.add(api, version);
    }
    let mut description = vec![
        format!(
            "The APIs of the `{workgroup}` workgroup. Each operation's `x-sluice` extension gives its mode and the \
             version described."
        ),
        CALLING.to_owned(),
    ];
    description.extend(doc.notes.iter().cloned());
    let info = InfoBuilder::new()
        .title(workgroup.to_owned())
        .version(format!("{} APIs, {:08x}", doc.operations, digest("", apis)))
        .description(Some(description.join("\n\n")));
    doc.finish(info, server_url)
}

/// The document of what the app `app` may call, for an app of `clearance`: `apis` are the APIs
/// it holds a grant for, each with the version to describe (the one production serves),
/// served at `server_url`.
///
/// Each API is described as the gateway treats this app: request parameters and response
/// fields above the clearance it is called with are left out ([`for_clearance`]). That is the
/// app's clearance for APIs that take credentials (`authMode: app`); such an API whose
/// security level is above the clearance is left out whole, with a note, since the gateway
/// refuses the app's calls. APIs that take none (`authMode: none`) are called anonymously,
/// which the gateway treats as clearance L1; their operations need no credentials
/// (`security: []`).
pub fn app_document(app: &str, clearance: SecurityLevel, apis: &[(Api, ApiVersion)], server_url: &str) -> OpenApi {
    let mut doc = Merged::default();
    let mut described = Vec::with_capacity(apis.len());
    for (api, version) in apis {
        let open = api.settings.auth_mode == AuthMode::None;
        if !open && clearance < api.settings.security_level {
            doc.notes.push(format!(
                "`{}` is left out: it needs clearance {}, the app has {}.",
                api.name,
                api.settings.security_level.as_str(),
                clearance.as_str()
            ));
            continue;
        }
        let seen_as = if open { SecurityLevel::L1 } else { clearance };
        let visible = for_clearance(version, seen_as);
        if let Some(op) = doc.add(api, &visible)
            && open
        {
            op.security = Some(Vec::new());
            let description = op.description.get_or_insert_with(String::new);
            description.push_str(
                "\n\nNeeds no credentials (`authMode: none`): the gateway answers every caller of this API as \
                 clearance L1, so only L1 parameters and fields are described.",
            );
        }
        described.push((api.clone(), visible));
    }
    let mut description = vec![
        format!(
            "The APIs the app `{app}` may call in production: each one it holds an unexpired grant for, in the \
             version production serves. Request parameters and response fields above the app's clearance ({}) are \
             left out; the gateway refuses such parameters and masks or omits such fields. Each operation's \
             `x-sluice` extension gives its mode and the version described.",
            clearance.as_str()
        ),
        CALLING.to_owned(),
    ];
    description.extend(doc.notes.iter().cloned());
    let info = InfoBuilder::new()
        .title(app.to_owned())
        .version(format!("{} APIs, {:08x}", doc.operations, digest(clearance.as_str(), &described)))
        .description(Some(description.join("\n\n")));
    doc.finish(info, server_url)
}

/// `version` as a caller of `clearance` sees it: its request parameters and response fields
/// above that level are left out. Registered APIs' parameters declare no level (L1) and stay.
pub fn for_clearance(version: &ApiVersion, clearance: SecurityLevel) -> ApiVersion {
    let mut visible = version.clone();
    let definition = &mut visible.definition;
    definition.request_params.retain(|p| p.security_level <= clearance);
    definition.response_fields.retain(|f| f.security_level <= clearance);
    visible
}

/// A digest of what is described (and `salt`), so that a reader can tell two documents apart.
fn digest(salt: &str, apis: &[(Api, ApiVersion)]) -> u32 {
    let mut digest: u32 = 0x811c_9dc5;
    let mut eat = |bytes: &[u8]| {
        for byte in bytes {
            digest = (digest ^ u32::from(*byte)).wrapping_mul(0x0100_0193);
        }
    };
    if !salt.is_empty() {
        eat(format!("{salt}\n").as_bytes());
    }
    for (api, version) in apis {
        eat(format!("{}\0{}\0{}\0{}\n", api.name, version.number, api.method, api.path).as_bytes());
        if !salt.is_empty() {
            let definition = &version.definition;
            let names = definition.request_params.iter().map(|p| p.name.as_str());
            for name in names.chain(definition.response_fields.iter().map(|f| f.name.as_str())) {
                eat(format!("{name}\0").as_bytes());
            }
        }
    }
    digest
}

/// The document as pretty JSON (`"openapi": "3.1.0"`).
pub fn to_json(doc: &OpenApi) -> String {
    // Cannot fail: every map in the document has string keys.
    serde_json::to_string_pretty(doc).unwrap_or_else(|e| json!({"error": e.to_string()}).to_string())
}

/// Operations gathered so far, with what keeps names unique and the notes for readers.
#[derive(Default)]
struct Merged {
    paths: Paths,
    schemas: Vec<(String, Schema)>,
    schema_names: HashSet<String>,
    operation_ids: HashSet<String>,
    /// What the operations share, written once under `components`.
    shared: Shared,
    /// Route shape (`/a/{}`) → the path that holds it.
    shapes: HashMap<String, String>,
    notes: Vec<String>,
    operations: usize,
}

impl Merged {
    /// Adds the operation of `version` of `api`, and returns it; `None` when it was left out
    /// (with a note saying why).
    fn add(&mut self, api: &Api, version: &ApiVersion) -> Option<&mut Operation> {
        let Some(method) = operation::http_method(&api.method) else {
            self.notes
                .push(format!("`{}` is left out: its method `{}` has no place in OpenAPI 3.1.", api.name, api.method));
            return None;
        };
        let template = Template::parse(&api.path);
        let method_name = api.method.trim().to_ascii_uppercase();
        if let Some(existing) = self.shapes.get(&template.shape())
            && *existing != template.path
        {
            self.notes.push(format!(
                "`{}` ({method_name} {}) is left out: its path is the same route as `{existing}`, which an API \
                 listed before it uses.",
                api.name, template.path
            ));
            return None;
        }
        if let Some(kept) = self.paths.paths.get_mut(&template.path).and_then(|item| slot(item, &method).as_mut()) {
            let note = format!(
                "`{}` also answers {method_name} {}; only the API listed first is described here.",
                api.name, template.path
            );
            let description = kept.description.get_or_insert_with(String::new);
            description.push_str(&format!("\n\nNote: {note}"));
            self.notes.push(note);
            return None;
        }
        let row_name = self.unique_schema_name(&format!("{}Row", pascal(&api.name)));
        let mut op = operation::build(api, version, &method, &row_name, &mut self.shared);
        let mut id = api.name.clone();
        let mut n = 2;
        while !self.operation_ids.insert(id.clone()) {
            id = format!("{}_{n}", api.name);
            n += 1;
        }
        op.operation_id = Some(id);
        if let Some(row) = operation::row_schema_of(version) {
            self.schema_names.insert(row_name.clone());
            self.schemas.push((row_name, row));
        }
        self.shapes.insert(template.shape(), template.path.clone());
        self.operations += 1;
        let item = self.paths.paths.entry(template.path).or_default();
        let slot = slot(item, &method);
        *slot = Some(op);
        slot.as_mut()
    }

    fn unique_schema_name(&self, wanted: &str) -> String {
        let mut name = wanted.to_owned();
        let mut n = 2;
        while self.schema_names.contains(&name) || name == ENVELOPE || name == ERROR {
            name = format!("{wanted}{n}");
            n += 1;
        }
        name
    }

    fn finish(self, info: InfoBuilder, server_url: &str) -> OpenApi {
        let mut components = ComponentsBuilder::new()
            .schema(ENVELOPE, envelope_schema())
            .schema(ERROR, error_schema())
            .header(
                REQUEST_ID_HEADER,
                HeaderBuilder::new()
                    .schema(Some(Object::with_type(Type::String)))
                    .description(Some("Identifies the call in the gateway's logs; the same as the body's `requestId`."))
                    .build(),
            )
            .security_scheme(
                APP_KEY_SCHEME,
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    APP_KEY_HEADER,
                    "The calling app's key (`appKey`).",
                ))),
            )
            .security_scheme(
                APP_TOKEN_SCHEME,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("app token")
                        .description(Some("`Authorization: Bearer <app token>`, a token issued to the calling app."))
                        .build(),
                ),
            )
            .build();
        for (name, schema) in self.schemas {
            components.schemas.insert(name, RefOr::T(schema));
        }
        components.responses.extend(self.shared.responses);
        components.parameters.extend(self.shared.parameters);
        components.headers.extend(self.shared.headers);
        let server = if server_url.trim().is_empty() { "/" } else { server_url.trim() };
        OpenApiBuilder::new()
            .openapi(OpenApiVersion::Version31)
            .info(info.build())
            .servers(Some([Server::new(server)]))
            .paths(self.paths)
            .components(Some(components))
            // Either scheme alone is enough.
            .security(Some([
                SecurityRequirement::new(APP_KEY_SCHEME, Vec::<String>::new()),
                SecurityRequirement::new(APP_TOKEN_SCHEME, Vec::<String>::new()),
            ]))
            .build()
    }
}

fn slot<'a>(item: &'a mut PathItem, method: &HttpMethod) -> &'a mut Option<Operation> {
    match method {
        HttpMethod::Get => &mut item.get,
        HttpMethod::Post => &mut item.post,
        HttpMethod::Put => &mut item.put,
        HttpMethod::Delete => &mut item.delete,
        HttpMethod::Options => &mut item.options,
        HttpMethod::Head => &mut item.head,
        HttpMethod::Patch => &mut item.patch,
        HttpMethod::Trace => &mut item.trace,
    }
}

/// `list_orders` → `ListOrders`: component names allow letters, digits, `.`, `-` and `_`.
fn pascal(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() { "Api".to_owned() } else { out }
}

fn string(description: &str) -> RefOr<Schema> {
    let mut object = Object::with_type(Type::String);
    object.description = Some(description.to_owned());
    RefOr::T(object.into())
}

/// The OK envelope of data APIs; each operation gives the schema of its `data`.
fn envelope_schema() -> Schema {
    let mut code = Object::with_type(Type::String);
    code.enum_values = Some(vec![json!("OK")]);
    let mut data = Object::with_type(utoipa::openapi::schema::SchemaType::AnyValue);
    data.description = Some("The API's answer; each operation gives its schema.".to_owned());
    let mut envelope = Object::with_type(Type::Object);
    envelope.description = Some("A data API's successful answer.".to_owned());
    envelope.properties.insert("code".to_owned(), RefOr::T(code.into()));
    envelope.properties.insert("requestId".to_owned(), string("The same as the `X-Request-Id` header."));
    envelope.properties.insert("data".to_owned(), RefOr::T(data.into()));
    envelope.required = vec!["code".to_owned(), "requestId".to_owned(), "data".to_owned()];
    envelope.into()
}

/// The error envelope of every error the gateway answers itself.
fn error_schema() -> Schema {
    let mut error = Object::with_type(Type::Object);
    error.description = Some("An error answered by the gateway.".to_owned());
    error.properties.insert(
        "code".to_owned(),
        string("Stable and machine-readable, such as `MissingParameter.id` or `Timeout`: branch on this."),
    );
    error.properties.insert("message".to_owned(), string("What went wrong and what to change, for people."));
    error.properties.insert("requestId".to_owned(), string("The same as the `X-Request-Id` header."));
    error.required = vec!["code".to_owned(), "message".to_owned(), "requestId".to_owned()];
    error.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_names_are_pascal_case() {
        assert_eq!(pascal("list_orders"), "ListOrders");
        assert_eq!(pascal("v2_items_by_id"), "V2ItemsById");
        assert_eq!(pascal("__"), "Api");
    }

    #[test]
    fn templates_rewrite_catch_alls_and_compare_by_shape() {
        let t = Template::parse("/files/{dir}/{*rest}");
        assert_eq!(t.path, "/files/{dir}/{rest}");
        assert_eq!(t.params, ["dir", "rest"]);
        assert_eq!(t.catch_all, ["rest"]);
        assert_eq!(Template::parse("/a/{x}").shape(), Template::parse("/a/{y}").shape());
        assert_eq!(Template::parse("items").path, "/items");
    }
}
