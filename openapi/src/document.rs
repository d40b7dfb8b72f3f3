//! Documents: one API, or a workgroup's or an app's APIs merged, with the shared components.
//!
//! A [`Document`] is a plan: which operation goes at which path, under which id, with which
//! notes, and the `info` that sums it up. Its operations are built while it is serialized, one
//! path item at a time, and dropped once written; the row schemas are built again when the
//! components are written. Writing the document of thousands of APIs therefore holds the
//! output and one path item, not a utoipa tree of every operation beside its serialized form
//! ([`write_json`]). What operations share (error responses, headers, parameters: see
//! [`Shared`]) is gathered while the paths are written and written once after them, under
//! `components`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;

use catalog::model::{Api, ApiMode, ApiVersion, AuthMode, SecurityLevel};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    HeaderBuilder, HttpMethod, Info, InfoBuilder, Object, OpenApiVersion, PathItem, RefOr, Schema, SecurityRequirement,
    Server, Type,
};

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
pub fn api_document<'a>(api: &'a Api, version: &'a ApiVersion, server_url: &str) -> Document<'a> {
    let mut plan = Planner::default();
    plan.add(api, Cow::Borrowed(version));
    let mut description = Vec::new();
    if !api.description.trim().is_empty() {
        description.push(api.description.trim().to_owned());
    }
    description.push(CALLING.to_owned());
    description.extend(plan.notes.iter().cloned());
    let info =
        InfoBuilder::new().title(api.name.clone()).version(version.label()).description(Some(description.join("\n\n")));
    plan.finish(info, server_url)
}

/// One document of every API in `apis` (each with the version to describe, usually the one
/// published to production), served at `server_url`. Paths holding several methods share one
/// path item; when two APIs take the same method and path (or the same route under other
/// parameter names), the first is kept and the document says which was left out.
pub fn workgroup_document<'a>(workgroup: &str, apis: &'a [(Api, ApiVersion)], server_url: &str) -> Document<'a> {
    let intro = format!(
        "The APIs of the `{workgroup}` workgroup. Each operation's `x-sluice` extension gives its mode and the version \
         described."
    );
    catalogue_document(workgroup.to_owned(), intro, apis, server_url)
}

/// One document of every API listed in the marketplace (`apis`, each with the version
/// production serves), served at `server_url`. Listed APIs come from several workgroups; the
/// route space keeps their paths apart, so none is left out for a collision.
pub fn marketplace_document<'a>(apis: &'a [(Api, ApiVersion)], server_url: &str) -> Document<'a> {
    let intro = "Every API listed in the Sluice marketplace, in the version production serves. Apply for access for \
                 one of your apps in the marketplace; once the API's workgroup approves, the app may call it. Each \
                 operation's `x-sluice` extension gives its mode and the version described."
        .to_owned();
    catalogue_document("Sluice marketplace".to_owned(), intro, apis, server_url)
}

/// A document of several APIs, titled `title`, its description `intro` then how to call.
fn catalogue_document<'a>(
    title: String,
    intro: String,
    apis: &'a [(Api, ApiVersion)],
    server_url: &str,
) -> Document<'a> {
    let mut plan = Planner::default();
    let mut digest = Digest::new("");
    for (api, version) in apis {
        digest.add(api, version);
        plan.add(api, Cow::Borrowed(version));
    }
    let mut description = vec![intro, CALLING.to_owned()];
    description.extend(plan.notes.iter().cloned());
    let info = InfoBuilder::new()
        .title(title)
        .version(format!("{} APIs, {:08x}", plan.operations, digest.value))
        .description(Some(description.join("\n\n")));
    plan.finish(info, server_url)
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
pub fn app_document<'a>(
    app: &str,
    clearance: SecurityLevel,
    apis: &'a [(Api, ApiVersion)],
    server_url: &str,
) -> Document<'a> {
    let mut plan = Planner::default();
    let mut digest = Digest::new(clearance.as_str());
    for (api, version) in apis {
        let open = api.settings.auth_mode == AuthMode::None;
        if !open && clearance < api.settings.security_level {
            plan.notes.push(format!(
                "`{}` is left out: it needs clearance {}, the app has {}.",
                api.name,
                api.settings.security_level.as_str(),
                clearance.as_str()
            ));
            continue;
        }
        let seen_as = if open { SecurityLevel::L1 } else { clearance };
        let visible = visible_to(version, seen_as);
        digest.add(api, &visible);
        if let Some(op) = plan.add(api, visible)
            && open
        {
            op.anonymous = true;
        }
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
    description.extend(plan.notes.iter().cloned());
    let info = InfoBuilder::new()
        .title(app.to_owned())
        .version(format!("{} APIs, {:08x}", plan.operations, digest.value))
        .description(Some(description.join("\n\n")));
    plan.finish(info, server_url)
}

/// `version` as a caller of `clearance` sees it: its request parameters and response fields
/// above that level are left out. Registered APIs' parameters declare no level (L1) and stay.
///
/// Its result samples go too when anything is left out: they were taken at any clearance and
/// may hold what this caller may not see.
pub fn for_clearance(version: &ApiVersion, clearance: SecurityLevel) -> ApiVersion {
    let mut visible = version.clone();
    let definition = &visible.definition;
    if definition.request_params.iter().any(|p| p.security_level > clearance)
        || definition.response_fields.iter().any(|f| f.security_level > clearance)
    {
        visible.samples = Default::default();
    }
    let definition = &mut visible.definition;
    definition.request_params.retain(|p| p.security_level <= clearance);
    definition.response_fields.retain(|f| f.security_level <= clearance);
    visible
}

/// [`for_clearance`], copying `version` only when something is left out.
fn visible_to(version: &ApiVersion, clearance: SecurityLevel) -> Cow<'_, ApiVersion> {
    let definition = &version.definition;
    let hidden = definition.request_params.iter().any(|p| p.security_level > clearance)
        || definition.response_fields.iter().any(|f| f.security_level > clearance);
    if hidden { Cow::Owned(for_clearance(version, clearance)) } else { Cow::Borrowed(version) }
}

/// A digest of what is described, so that a reader can tell two documents apart (FNV-1a).
struct Digest {
    value: u32,
    /// Whether parameter and field names count too (the app document: they depend on the
    /// clearance).
    names: bool,
}

impl Digest {
    /// A digest of `salt` and nothing yet; a non-empty salt makes names count.
    fn new(salt: &str) -> Digest {
        let mut digest = Digest { value: 0x811c_9dc5, names: !salt.is_empty() };
        if digest.names {
            digest.eat(format!("{salt}\n").as_bytes());
        }
        digest
    }

    fn eat(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.value = (self.value ^ u32::from(*byte)).wrapping_mul(0x0100_0193);
        }
    }

    fn add(&mut self, api: &Api, version: &ApiVersion) {
        self.eat(format!("{}\0{}\0{}\0{}\n", api.name, version.number, api.method, api.path).as_bytes());
        if self.names {
            let definition = &version.definition;
            let names = definition.request_params.iter().map(|p| p.name.as_str());
            for name in names.chain(definition.response_fields.iter().map(|f| f.name.as_str())) {
                self.eat(format!("{name}\0").as_bytes());
            }
        }
    }
}

/// The document as pretty JSON (`"openapi": "3.1.0"`): a [`Document`], or any other
/// serializable document such as a utoipa [`OpenApi`](utoipa::openapi::OpenApi).
pub fn to_json<T: Serialize + ?Sized>(doc: &T) -> String {
    // Cannot fail: every map in a document has string keys.
    serde_json::to_string_pretty(doc).unwrap_or_else(|e| json!({"error": e.to_string()}).to_string())
}

/// Writes the document as JSON to `out`, pretty or compact, without building it whole first:
/// a [`Document`] builds each path item as it writes it.
pub fn write_json<T: Serialize + ?Sized, W: io::Write>(doc: &T, out: W, pretty: bool) -> io::Result<()> {
    let written = if pretty { serde_json::to_writer_pretty(out, doc) } else { serde_json::to_writer(out, doc) };
    written.map_err(io::Error::other)
}

/// A document ready to be written: what each operation is built from, and where it goes.
/// It is written by serializing it ([`to_json`], [`write_json`]); the operations, built
/// during that, are never all held at once.
pub struct Document<'a> {
    info: Info,
    server: String,
    paths: Vec<PlannedPath<'a>>,
    operations: usize,
    /// The components the operations refer to: filled while `paths` are written, then written
    /// under `components`, which comes after `paths` in [`Document`]'s serialization.
    shared: RefCell<Shared>,
}

impl Document<'_> {
    /// How many operations the document describes.
    pub fn operations(&self) -> usize {
        self.operations
    }

    /// The operations of one path, built.
    fn path_item(&self, planned: &PlannedPath<'_>, shared: &mut Shared) -> PathItem {
        let mut item = PathItem::default();
        for op in &planned.operations {
            let row_name = op.row_name.as_deref().unwrap_or_default();
            let mut operation = operation::build(op.api, &op.version, &op.method, row_name, shared);
            operation.operation_id = Some(op.operation_id.clone());
            if op.anonymous {
                operation.security = Some(Vec::new());
                let description = operation.description.get_or_insert_with(String::new);
                description.push_str(
                    "\n\nNeeds no credentials (`authMode: none`): the gateway answers every caller of this API as \
                     clearance L1, so only L1 parameters and fields are described.",
                );
            }
            for note in &op.notes {
                let description = operation.description.get_or_insert_with(String::new);
                description.push_str("\n\nNote: ");
                description.push_str(note);
            }
            *slot(&mut item, &op.method) = Some(operation);
        }
        item
    }
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("openapi", &OpenApiVersion::Version31)?;
        map.serialize_entry("info", &self.info)?;
        map.serialize_entry("servers", &[Server::new(&self.server)])?;
        // Paths before components: writing the paths gathers the shared components.
        map.serialize_entry("paths", &Paths(self))?;
        map.serialize_entry("components", &Components(self))?;
        // Either scheme alone is enough.
        map.serialize_entry(
            "security",
            &[
                SecurityRequirement::new(APP_KEY_SCHEME, Vec::<String>::new()),
                SecurityRequirement::new(APP_TOKEN_SCHEME, Vec::<String>::new()),
            ],
        )?;
        map.end()
    }
}

/// `paths`: each path item built, written and dropped in turn.
struct Paths<'d, 'a>(&'d Document<'a>);

impl Serialize for Paths<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let doc = self.0;
        let mut map = serializer.serialize_map(Some(doc.paths.len()))?;
        for planned in &doc.paths {
            let item = doc.path_item(planned, &mut doc.shared.borrow_mut());
            map.serialize_entry(&planned.path, &item)?;
        }
        map.end()
    }
}

/// `components`: the envelopes and each row schema (built again, one at a time), then what
/// the operations shared.
struct Components<'d, 'a>(&'d Document<'a>);

impl Serialize for Components<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let doc = self.0;
        let shared = doc.shared.borrow();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("schemas", &Schemas(doc))?;
        if !shared.responses.is_empty() {
            map.serialize_entry("responses", &shared.responses)?;
        }
        if !shared.parameters.is_empty() {
            map.serialize_entry("parameters", &shared.parameters)?;
        }
        map.serialize_entry("headers", &shared.headers)?;
        map.serialize_entry("securitySchemes", &security_schemes())?;
        map.end()
    }
}

/// `components/schemas`, in name order.
struct Schemas<'d, 'a>(&'d Document<'a>);

impl Serialize for Schemas<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Each row schema's name and the version it is built from; `None` for the envelopes.
        let mut names: Vec<(&str, Option<&ApiVersion>)> = vec![(ENVELOPE, None), (ERROR, None)];
        for planned in &self.0.paths {
            for op in &planned.operations {
                if let Some(name) = &op.row_name {
                    names.push((name, Some(&op.version)));
                }
            }
        }
        names.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut map = serializer.serialize_map(Some(names.len()))?;
        for (name, version) in names {
            let schema = match version {
                None if name == ENVELOPE => envelope_schema(),
                None => error_schema(),
                Some(version) => match operation::row_schema_of(version) {
                    Some(schema) => schema,
                    None => continue,
                },
            };
            map.serialize_entry(name, &schema)?;
        }
        map.end()
    }
}

fn security_schemes() -> BTreeMap<&'static str, SecurityScheme> {
    BTreeMap::from([
        (
            APP_KEY_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                APP_KEY_HEADER,
                "The calling app's key (`appKey`).",
            ))),
        ),
        (
            APP_TOKEN_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("app token")
                    .description(Some("`Authorization: Bearer <app token>`, a token issued to the calling app."))
                    .build(),
            ),
        ),
    ])
}

/// The operations of one path.
struct PlannedPath<'a> {
    path: String,
    operations: Vec<Planned<'a>>,
}

/// One operation to build: the API, the version to describe, and what the document adds.
struct Planned<'a> {
    api: &'a Api,
    version: Cow<'a, ApiVersion>,
    method: HttpMethod,
    operation_id: String,
    /// The row schema's name, for SQL modes.
    row_name: Option<String>,
    /// Called without credentials (`security: []`).
    anonymous: bool,
    /// Added to its description: APIs left out for answering the same route.
    notes: Vec<String>,
}

/// Operations planned so far, with what keeps names unique and the notes for readers.
#[derive(Default)]
struct Planner<'a> {
    paths: Vec<PlannedPath<'a>>,
    /// Path → its index in `paths`.
    path_index: HashMap<String, usize>,
    schema_names: HashSet<String>,
    operation_ids: HashSet<String>,
    /// Route shape (`/a/{}`) → the path that holds it.
    shapes: HashMap<String, String>,
    notes: Vec<String>,
    operations: usize,
}

impl<'a> Planner<'a> {
    /// Plans the operation of `version` of `api`, and returns it; `None` when it was left out
    /// (with a note saying why).
    fn add(&mut self, api: &'a Api, version: Cow<'a, ApiVersion>) -> Option<&mut Planned<'a>> {
        let Some(method) = operation::http_method(&api.method) else {
            self.notes
                .push(format!("`{}` is left out: its method `{}` has no place in OpenAPI 3.1.", api.name, api.method));
            return None;
        };
        let template = Template::parse(&api.path);
        let method_name = api.method.trim().to_ascii_uppercase();
        let shape = template.shape();
        if let Some(existing) = self.shapes.get(&shape)
            && *existing != template.path
        {
            self.notes.push(format!(
                "`{}` ({method_name} {}) is left out: its path is the same route as `{existing}`, which an API \
                 listed before it uses.",
                api.name, template.path
            ));
            return None;
        }
        let index = self.path_index.get(&template.path).copied();
        if let Some(kept) = index.and_then(|i| self.paths[i].operations.iter_mut().find(|op| op.method == method)) {
            let note = format!(
                "`{}` also answers {method_name} {}; only the API listed first is described here.",
                api.name, template.path
            );
            kept.notes.push(note.clone());
            self.notes.push(note);
            return None;
        }
        let row_name = match version.definition.mode {
            ApiMode::Registered(_) | ApiMode::Workflow(_) => None,
            _ => {
                let name = self.unique_schema_name(&format!("{}Row", pascal(&api.name)));
                self.schema_names.insert(name.clone());
                Some(name)
            }
        };
        let mut id = api.name.clone();
        let mut n = 2;
        while !self.operation_ids.insert(id.clone()) {
            id = format!("{}_{n}", api.name);
            n += 1;
        }
        self.shapes.insert(shape, template.path.clone());
        self.operations += 1;
        let index = match index {
            Some(index) => index,
            None => {
                self.path_index.insert(template.path.clone(), self.paths.len());
                self.paths.push(PlannedPath { path: template.path, operations: Vec::new() });
                self.paths.len() - 1
            }
        };
        let operations = &mut self.paths[index].operations;
        operations.push(Planned {
            api,
            version,
            method,
            operation_id: id,
            row_name,
            anonymous: false,
            notes: Vec::new(),
        });
        operations.last_mut()
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

    fn finish(mut self, info: InfoBuilder, server_url: &str) -> Document<'a> {
        // Paths in name order, as utoipa's `Paths` writes them.
        self.paths.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        let mut shared = Shared::default();
        shared.header(REQUEST_ID_HEADER, || {
            HeaderBuilder::new()
                .schema(Some(Object::with_type(Type::String)))
                .description(Some("Identifies the call in the gateway's logs; the same as the body's `requestId`."))
                .build()
        });
        let server = if server_url.trim().is_empty() { "/" } else { server_url.trim() };
        Document {
            info: info.build(),
            server: server.to_owned(),
            paths: self.paths,
            operations: self.operations,
            shared: RefCell::new(shared),
        }
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
