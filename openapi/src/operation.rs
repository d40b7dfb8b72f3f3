//! One API version → one OpenAPI operation (parameters, request body, responses) and the row
//! schema its 200 response refers to.
//!
//! Only what callers see goes in: a registered API's upstream URL, upstream names and
//! positions and its constants are never read here, beyond whether the edge reads the body.
//!
//! Longer than most files on purpose: an operation's parameters, body, responses and row schema
//! come from one walk over the definition with shared lookups; split, that state would travel
//! between files.

use catalog::model::{
    Api, ApiDefinition, ApiMode, ApiOptions, ApiVersion, ConstantPosition, ParamPosition, ParamType, RegisteredSpec,
    RequestParam, ResponseField, ResultFormat, ScalarType, SecurityLevel, UpstreamFormat,
};
use serde_json::{Map, Value, json};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{ArrayItems, SchemaType};
use utoipa::openapi::{
    AllOf, Array, Content, HeaderBuilder, HttpMethod, KnownFormat, Object, RefOr, Required, Response, Responses,
    Schema, SchemaFormat, Type,
};

use crate::responses::{self, Code, ENVELOPE, JSON, Shared};
use crate::schema::{self, Side};
use errors::ErrorCode;

/// Reserved request parameters (see `plugins::sql`).
const PAGE_NUM: &str = "pageNum";
const PAGE_SIZE: &str = "pageSize";
const WITH_TOTAL: &str = "withTotal";
const NATIVE_SQL: &str = "sql";
/// The page size of a paginated call that names none (the edge's `DEFAULT_PAGE_SIZE`).
const DEFAULT_PAGE_SIZE: u32 = 10;
/// The environment header; production when absent.
const ENV_HEADER: &str = "X-Sluice-Env";
/// The largest JSON body read for a registered API's parameters (the edge's `PARAM_BODY_LIMIT`).
const PARAM_BODY_LIMIT: &str = "64 KiB (or the gateway's `max_body_bytes`, when smaller)";
/// The gateway-wide body limit of data APIs.
pub(crate) const DATA_BODY_LIMIT: &str = "the gateway's `max_body_bytes` (1 MiB by default)";
/// The `Server-Timing` header component.
const SERVER_TIMING: &str = "Server-Timing";

/// The OpenAPI method of an API's method, if OpenAPI 3.1 has one.
pub fn http_method(method: &str) -> Option<HttpMethod> {
    Some(match method.trim().to_ascii_uppercase().as_str() {
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

/// A route path as an OpenAPI path template, with its parameter names in order.
pub struct Template {
    pub path: String,
    pub params: Vec<String>,
    /// Parameters that match the rest of the path, slashes included (`{*rest}`).
    pub catch_all: Vec<String>,
}

impl Template {
    pub fn parse(route: &str) -> Template {
        let mut path = String::with_capacity(route.len());
        let mut params = Vec::new();
        let mut catch_all = Vec::new();
        let mut rest = route;
        while let Some(open) = rest.find('{') {
            path.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                rest = &rest[open..];
                break;
            };
            let inner = &rest[open + 1..open + close];
            let name = inner.strip_prefix('*').unwrap_or(inner);
            if inner.starts_with('*') {
                catch_all.push(name.to_owned());
            }
            path.push('{');
            path.push_str(name);
            path.push('}');
            params.push(name.to_owned());
            rest = &rest[open + close + 1..];
        }
        path.push_str(rest);
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        Template { path, params, catch_all }
    }

    /// The path with parameter names erased: two paths of one shape are one route at the edge.
    pub fn shape(&self) -> String {
        let mut shape = String::with_capacity(self.path.len());
        let mut in_param = false;
        for c in self.path.chars() {
            match c {
                '{' => {
                    in_param = true;
                    shape.push_str("{}");
                }
                '}' => in_param = false,
                _ if in_param => {}
                _ => shape.push(c),
            }
        }
        shape
    }
}

/// A caller-side parameter, whichever mode declared it.
pub(crate) struct CallerParam<'a> {
    name: &'a str,
    param_type: ParamType,
    position: ParamPosition,
    required: bool,
    default: Option<&'a str>,
    example: Option<&'a str>,
    description: &'a str,
    level: SecurityLevel,
    allowed: &'a [String],
    /// The JSON Schema the API declares for it (`validation.params`), described in place of
    /// the one its type gives.
    declared: Option<&'a Value>,
}

impl<'a> CallerParam<'a> {
    fn of_sql(p: &'a RequestParam) -> CallerParam<'a> {
        CallerParam {
            name: &p.name,
            param_type: p.param_type,
            position: p.position,
            required: p.required,
            default: p.default.as_deref(),
            example: p.example.as_deref(),
            description: &p.description,
            level: p.security_level,
            allowed: &p.allowed_values,
            declared: None,
        }
    }

    /// Caller name, position, type and documentation only: never the upstream side.
    fn of_registered(p: &'a catalog::model::RegisteredParam, spec: &'a RegisteredSpec) -> CallerParam<'a> {
        CallerParam {
            name: &p.name,
            param_type: p.param_type,
            position: p.position,
            required: p.required,
            default: p.default.as_deref(),
            example: p.example.as_deref(),
            description: &p.description,
            // Registered parameters declare no level: the model's default, public.
            level: SecurityLevel::default(),
            allowed: &[],
            declared: spec.validation.as_ref().and_then(|v| v.params.get(&p.name)),
        }
    }

    /// The declared schema when it reads as one, else the one its type gives.
    fn schema(&self) -> Schema {
        self.declared
            .and_then(schema::declared)
            .unwrap_or_else(|| schema::of_type(self.param_type, self.allowed, Side::Request))
    }

    /// What `InvalidParameter.<name>` says it expected.
    fn expected(&self) -> String {
        expected_of(self.param_type, self.allowed)
    }
}

fn expected_of(param_type: ParamType, allowed: &[String]) -> String {
    let scalar = |s: ScalarType| match s {
        ScalarType::String => "a string",
        ScalarType::Int => "a 64-bit integer",
        ScalarType::Float => "a finite number",
        ScalarType::Decimal => "a decimal number such as 12.50",
        ScalarType::Bool => "true or false",
        ScalarType::Date => "a date as YYYY-MM-DD",
        ScalarType::DateTime => "a date and time as YYYY-MM-DDTHH:MM:SS",
        ScalarType::Json => "a JSON value",
    };
    match param_type {
        ParamType::Scalar(s) => scalar(s).to_owned(),
        ParamType::Array(s) => format!("a JSON array or a comma-separated list of {}", s.as_str()),
        ParamType::Identifier if allowed.is_empty() => "a string".to_owned(),
        ParamType::Identifier => format!("one of {}", allowed.join(", ")),
    }
}

fn join_text(parts: &[&str]) -> Option<String> {
    let text = parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

fn level_parameter(builder: ParameterBuilder, level: SecurityLevel) -> Parameter {
    builder.extensions(Some(schema::level_extension(level))).build()
}

/// Builds the operation of `version` of `api` called with `method` (the API's, as
/// [`http_method`] reads it); `row_name` names its row schema component ([`row_schema_of`]).
/// What it shares with other operations is gathered into `shared` and referred to.
pub fn build(api: &Api, version: &ApiVersion, method: &HttpMethod, row_name: &str, shared: &mut Shared) -> Operation {
    let template = Template::parse(&api.path);
    let definition = &version.definition;
    let body_method = matches!(method, HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch);

    let (caller_params, registered): (Vec<CallerParam<'_>>, Option<&RegisteredSpec>) = match &definition.mode {
        ApiMode::Registered(spec) => {
            (spec.params.iter().map(|p| CallerParam::of_registered(p, spec)).collect(), Some(spec))
        }
        _ => (definition.request_params.iter().map(CallerParam::of_sql).collect(), None),
    };

    let mut notes: Vec<String> = Vec::new();
    let mut parameters: Vec<RefOr<Parameter>> = Vec::new();
    let mut body = Object::with_type(Type::Object);
    let mut seen: Vec<(String, ParamPosition)> = Vec::new();

    // Path parameters in template order: declared ones, then segments that are only routing.
    for name in &template.params {
        let declared = caller_params.iter().find(|p| p.position == ParamPosition::Path && p.name == name);
        let catch_all = template.catch_all.contains(name);
        let spans = if catch_all { "It may span several segments (`a/b/c`)." } else { "" };
        let parameter = match declared {
            Some(p) => parameter(p, ParameterIn::Path, spans),
            None => level_parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(join_text(&["Any path segment: part of the route, not read as a parameter.", spans]))
                    .schema(Some(Object::with_type(Type::String))),
                SecurityLevel::default(),
            ),
        };
        seen.push((name.clone(), ParamPosition::Path));
        parameters.push(RefOr::T(parameter));
    }
    for p in &caller_params {
        if p.position == ParamPosition::Path {
            if !template.params.iter().any(|n| n == p.name) {
                notes.push(format!(
                    "Parameter `{}` is declared in the path, but the path has no `{{{}}}`: it cannot be sent.",
                    p.name, p.name
                ));
            }
            continue;
        }
        // Header names are case-insensitive.
        let key = if p.position == ParamPosition::Header { p.name.to_ascii_lowercase() } else { p.name.to_owned() };
        if seen.contains(&(key.clone(), p.position)) {
            continue;
        }
        seen.push((key, p.position));
        match p.position {
            ParamPosition::Query => parameters.push(RefOr::T(parameter(p, ParameterIn::Query, ""))),
            ParamPosition::Header => parameters.push(RefOr::T(parameter(p, ParameterIn::Header, ""))),
            ParamPosition::Body | ParamPosition::Path => {
                body.properties.insert(p.name.to_owned(), RefOr::T(property(p)));
                if p.required {
                    body.required.push(p.name.to_owned());
                }
            }
        }
    }

    let sql_paged = matches!(definition.mode, ApiMode::Wizard(_) | ApiMode::Script(_)) && definition.options.pagination;
    if sql_paged {
        parameters.extend(page_parameters(&definition.options, shared));
    }
    if let ApiMode::Native(spec) = &definition.mode {
        let mut tables = spec.tables.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ");
        if tables.is_empty() {
            tables = "(none)".to_owned();
        }
        let functions = if spec.functions.is_empty() {
            String::new()
        } else {
            format!(" Functions allowed beyond the built-in safe set: {}.", spec.functions.join(", "))
        };
        let description = format!(
            "One SELECT statement over the tables this API allows: {tables}.{functions} The gateway parses it, \
             checks every table and function, caps it at {} rows and runs its own regenerated SQL, never this text.",
            definition.options.max_limit
        );
        let sql_schema = Object::with_type(Type::String);
        let example = "SELECT * FROM ".to_owned() + spec.tables.first().map_or("t", String::as_str) + " LIMIT 10";
        if body_method {
            let property =
                schema::annotate(sql_schema.into(), Some(description), Some(json!(example)), None, level_ext_l1());
            body.properties.insert(NATIVE_SQL.to_owned(), RefOr::T(property));
            body.required.push(NATIVE_SQL.to_owned());
        } else {
            parameters.push(RefOr::T(level_parameter(
                ParameterBuilder::new()
                    .name(NATIVE_SQL)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::True)
                    .description(Some(description))
                    .schema(Some(sql_schema))
                    .example(Some(json!(example))),
                SecurityLevel::default(),
            )));
        }
    }
    if !caller_params.iter().any(|p| p.position == ParamPosition::Header && p.name.eq_ignore_ascii_case(ENV_HEADER)) {
        parameters.push(shared.parameter(ENV_HEADER, env_parameter));
    }

    let reads_body = match registered {
        Some(spec) => {
            spec.params
                .iter()
                .any(|p| p.position == ParamPosition::Body || p.upstream_position() == ParamPosition::Body)
                || spec.constants.iter().any(|c| c.position == ConstantPosition::Body)
        }
        None => true,
    };
    // An imported API declares its body's schema whole (`allOf`, nesting): described as is.
    // Only when callers send the fields under the names the upstream declares them with.
    let declared_body = registered
        .filter(|spec| spec.params.iter().all(|p| p.position != ParamPosition::Body || p.upstream_name.is_none()))
        .and_then(|s| s.validation.as_ref())
        .and_then(|v| v.body.as_ref())
        .and_then(schema::declared);
    let request_body = if !body.properties.is_empty() {
        let required = !body.required.is_empty();
        let mut text = "A JSON object of parameters.".to_owned();
        if registered.is_some() {
            text.push_str(" Only the declared fields are read; at most 64 KiB.");
        }
        text.push_str(" Each field may instead be sent in the query string, as text.");
        let schema: RefOr<Schema> = declared_body.map_or_else(|| body.into(), RefOr::T);
        Some(json_body(schema, text, required))
    } else if registered.is_some() && !reads_body && body_method {
        Some(
            RequestBodyBuilder::new()
                .description(Some("Passed to the upstream service unchanged (any content type, any size)."))
                .content("*/*", Content::new(Some(Object::with_type(SchemaType::AnyValue))))
                .required(Some(Required::False))
                .build(),
        )
    } else {
        None
    };

    let mut responses = match (&definition.mode, registered) {
        (_, Some(spec)) => registered_responses(spec, &caller_params, reads_body, shared),
        (ApiMode::Workflow(spec), None) => {
            crate::workflow::workflow_responses(spec, definition.options.result_format, &caller_params, shared)
        }
        (_, None) => sql_responses(definition, &caller_params, row_name, shared),
    };
    // The version's result samples, as its author kept them: beside the 200, and beside the
    // operation's own error response (a registered API's failures are its service's own).
    if let Some(success) = &version.samples.success {
        responses::add_example(&mut responses, "200", "sample", "A successful call, as its author kept it", success);
    }
    if let Some(failure) = &version.samples.failure {
        let status = if registered.is_some() { "default" } else { "400" };
        let summary = "A failed call, as its author kept it (its status may be another)";
        responses::add_example(&mut responses, status, "failureSample", summary, failure);
    }

    let mut description = Vec::<String>::new();
    if !api.description.trim().is_empty() {
        description.push(api.description.trim().to_owned());
    }
    if !version.description.trim().is_empty() {
        description.push(format!("{}: {}", version.label(), version.description.trim()));
    }
    description.push(mode_text(&definition.mode, &definition.options, sql_paged));
    // The edge reads either place for both, but a registered API's body only when it reads it.
    if reads_body && caller_params.iter().any(|p| matches!(p.position, ParamPosition::Query | ParamPosition::Body)) {
        description.push(
            "Query parameters may also be sent as fields of a JSON object body, and body fields in the query string."
                .to_owned(),
        );
    }
    description.extend(notes);

    let mut extension = Map::new();
    extension.insert("mode".to_owned(), json!(definition.mode.name()));
    extension.insert("version".to_owned(), json!(version.label()));
    if let Some(spec) = registered
        && !spec.error_codes.is_empty()
    {
        extension.insert("errorCodes".to_owned(), serde_json::to_value(&spec.error_codes).unwrap_or(Value::Null));
    }

    let mut operation = OperationBuilder::new()
        .operation_id(Some(api.name.clone()))
        .summary(Some(summary(api)))
        .description(Some(description.join("\n\n")))
        .tags(Some([tag(&template)]))
        .request_body(request_body)
        .responses(responses)
        .extensions(Some(ExtensionsBuilder::new().add("x-sluice", Value::Object(extension)).build()))
        .build();
    operation.parameters = Some(parameters);
    operation
}

/// The row schema of a SQL-mode version, which its 200 response refers to by name; `None`
/// for a registered API (its answer is the upstream's own) or a workflow (its end mapping).
pub fn row_schema_of(version: &ApiVersion) -> Option<Schema> {
    let definition = &version.definition;
    match definition.mode {
        ApiMode::Registered(_) | ApiMode::Workflow(_) => None,
        _ => Some(row_schema(&definition.mode, &definition.response_fields, definition.options.result_format)),
    }
}

fn level_ext_l1() -> Option<utoipa::openapi::extensions::Extensions> {
    Some(schema::level_extension(SecurityLevel::default()))
}

/// The first line of the description, or the API's name.
fn summary(api: &Api) -> String {
    let first = api.description.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(&api.name);
    let mut text: String = first.chars().take(120).collect();
    if text.len() < first.len() {
        text.push('…');
    }
    text
}

/// Operations are grouped by the first fixed segment of their path (`/orders/{id}` → `orders`).
fn tag(template: &Template) -> String {
    template
        .path
        .split('/')
        .find(|s| !s.is_empty() && !s.starts_with('{'))
        .map_or_else(|| "default".to_owned(), str::to_owned)
}

/// What a caller without `Accept` gets, for the 200's description.
pub(crate) fn default_format(format: ResultFormat) -> &'static str {
    match format {
        ResultFormat::Json => "JSON",
        ResultFormat::JsonCompact => "JSON (JSONCompact)",
        ResultFormat::Xml => "XML",
        ResultFormat::Csv => "CSV",
    }
}

fn mode_text(mode: &ApiMode, options: &ApiOptions, paged: bool) -> String {
    let shape = match options.result_format {
        ResultFormat::JsonCompact => "`data.columns` names the columns once and `data.rows` holds one array per row",
        // XML and CSV callers get rows too; `application/json` gets them as objects.
        ResultFormat::Json | ResultFormat::Xml | ResultFormat::Csv => "`data.rows` holds one object per row",
    };
    let limit = if paged {
        format!(
            "Paginated with `pageNum` and `pageSize` (at most {}); `withTotal=true` adds `totalCnt`.",
            options.max_limit
        )
    } else {
        format!("At most {} rows per call.", options.max_limit)
    };
    match mode {
        ApiMode::Wizard(_) | ApiMode::Script(_) => format!("Reads a database: {shape}. {limit}"),
        ApiMode::Native(_) => format!(
            "Runs the caller's own SELECT (`sql`) over the tables this API allows: {shape}. At most {} rows per call; \
             write the paging into the SELECT.",
            options.max_limit
        ),
        ApiMode::Workflow(_) => "Runs a workflow: other APIs of the workgroup and functions composed in one call; \
                                 `data` is what its end node maps."
            .to_owned(),
        ApiMode::Registered(_) => {
            "Forwards the call to a third-party service; its answer comes back unchanged (status, \
                                   headers and body), so the 200 schema is the service's own."
                .to_owned()
        }
    }
}

/// One OpenAPI parameter of a declared caller parameter.
fn parameter(p: &CallerParam<'_>, place: ParameterIn, extra: &str) -> Parameter {
    let is_array = matches!(p.param_type, ParamType::Array(_));
    let array_note = if is_array && place == ParameterIn::Query {
        "Comma-separated (`1,2,3`) or a JSON array (`[1,2,3]`)."
    } else {
        ""
    };
    let description =
        join_text(&[p.description, schema::type_note(p.param_type, Side::Request).unwrap_or(""), array_note, extra]);
    let default = p.default.map(|d| schema::value_of(p.param_type, d, Side::Request));
    let schema = schema::annotate(p.schema(), None, None, default, None);
    let mut builder = ParameterBuilder::new()
        .name(p.name)
        .parameter_in(place.clone())
        .required(if p.required { Required::True } else { Required::False })
        .description(description)
        .schema(Some(schema))
        .example(p.example.map(|e| schema::value_of(p.param_type, e, Side::Request)));
    if is_array && place == ParameterIn::Query {
        // The edge reads one value and splits it on commas; repeated keys keep only the last.
        builder = builder.style(Some(ParameterStyle::Form)).explode(Some(false));
    }
    level_parameter(builder, p.level)
}

/// A field of the JSON request body.
fn property(p: &CallerParam<'_>) -> Schema {
    let description = join_text(&[p.description, schema::type_note(p.param_type, Side::Request).unwrap_or("")]);
    schema::annotate(
        p.schema(),
        description,
        p.example.map(|e| schema::value_of(p.param_type, e, Side::Request)),
        p.default.map(|d| schema::value_of(p.param_type, d, Side::Request)),
        Some(schema::level_extension(p.level)),
    )
}

fn json_body(body: impl Into<RefOr<Schema>>, description: String, required: bool) -> RequestBody {
    RequestBodyBuilder::new()
        .description(Some(description))
        .content(JSON, Content::new(Some(body)))
        .required(Some(if required { Required::True } else { Required::False }))
        .build()
}

/// `pageNum` and `withTotal` read the same everywhere; `pageSize` is shared by the APIs of one
/// `maxLimit`.
fn page_parameters(options: &ApiOptions, shared: &mut Shared) -> Vec<RefOr<Parameter>> {
    let max = options.max_limit.max(1);
    let integer = |min: i64, max: Option<u32>, default: u32| {
        let mut object = Object::with_type(Type::Integer);
        object.format = Some(SchemaFormat::KnownFormat(KnownFormat::Int64));
        object.minimum = Some(min.into());
        object.maximum = max.map(Into::into);
        object.default = Some(json!(default));
        object
    };
    let query = |name: &str, description: String, schema: Object| {
        level_parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema)),
            SecurityLevel::default(),
        )
    };
    vec![
        shared.parameter(PAGE_NUM, || query(PAGE_NUM, "The page, from 1.".to_owned(), integer(1, None, 1))),
        shared.parameter(&format!("{PAGE_SIZE}.max{max}"), || {
            query(
                PAGE_SIZE,
                format!("Rows per page, from 1 to {max}."),
                integer(1, Some(max), DEFAULT_PAGE_SIZE.min(max)),
            )
        }),
        shared.parameter(WITH_TOTAL, || {
            let mut with_total = Object::with_type(Type::Boolean);
            with_total.default = Some(json!(false));
            query(
                WITH_TOTAL,
                "`true` also counts every matching row into `data.totalCnt` (one more query).".to_owned(),
                with_total,
            )
        }),
    ]
}

fn env_parameter() -> Parameter {
    let mut schema = Object::with_type(Type::String);
    schema.enum_values = Some(vec![json!("prod"), json!("test")]);
    schema.default = Some(json!("prod"));
    level_parameter(
        ParameterBuilder::new()
            .name(ENV_HEADER)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some("The environment to call: `test` calls the version published to test. Never forwarded."))
            .schema(Some(schema)),
        SecurityLevel::default(),
    )
}

/// The OK envelope with `data` as given.
pub(crate) fn in_envelope(data: RefOr<Schema>) -> RefOr<Schema> {
    let mut envelope_data = Object::with_type(Type::Object);
    envelope_data.properties.insert("data".to_owned(), data);
    let mut all_of = AllOf::new();
    all_of.items = vec![RefOr::Ref(responses::schema_ref(ENVELOPE)), RefOr::T(envelope_data.into())];
    RefOr::T(Schema::AllOf(all_of))
}

/// The 400 code of an API that reads parameters from a JSON body.
pub(crate) fn invalid_body() -> Code {
    Code::of(
        ErrorCode::InvalidRequestBody,
        "the body is not a JSON object, or could not be read",
        "the body must be a JSON object of parameters",
    )
}

/// The refusals of an API that reads its parameters itself (data APIs, workflows): unknown
/// path or environment, a body over the limit, too many calls.
pub(crate) fn add_call_refusals(add: &mut impl FnMut(&str, RefOr<Response>), shared: &mut Shared) {
    add("404", shared.response("NotFound", responses::not_found));
    add("406", shared.response("NotAcceptable", responses::not_acceptable));
    add("413", shared.response("PayloadTooLarge", || responses::payload_too_large(DATA_BODY_LIMIT)));
    add("429", shared.response("Throttled", responses::throttled));
}

/// The 400 codes every caller parameter can cause, plus `extra` ones.
pub(crate) fn bad_request(params: &[CallerParam<'_>], extra: Vec<Code>) -> Response {
    let mut codes = Vec::new();
    // A path parameter is never missing: without its segment the route does not match.
    for p in params.iter().filter(|p| p.required && p.default.is_none() && p.position != ParamPosition::Path) {
        codes.push(Code::named(
            ErrorCode::MissingParameter,
            p.name,
            format!("`{}` is required and was not sent", p.name),
            format!("the required parameter `{}` is missing", p.name),
        ));
    }
    for p in params {
        let expected = p.expected();
        let (when, message) = if p.param_type == ParamType::STRING {
            (
                format!("`{}` holds a NUL character", p.name),
                format!("parameter `{}`: the value contains a NUL character; remove it", p.name),
            )
        } else if matches!(p.param_type, ParamType::Array(_)) {
            (
                format!("`{}` is not {expected}, or one of its items is null", p.name),
                format!("parameter `{}` expects {expected}, received `…`", p.name),
            )
        } else {
            (
                format!("`{}` is not {expected}", p.name),
                format!("parameter `{}` expects {expected}, received `…`", p.name),
            )
        };
        codes.push(Code::named(ErrorCode::InvalidParameter, p.name, when, message));
    }
    codes.extend(extra);
    codes.push(Code::named(
        ErrorCode::InvalidParameter,
        ENV_HEADER,
        "`X-Sluice-Env` is neither `prod` nor `test`",
        format!("parameter `{ENV_HEADER}` expects test or prod, received `staging`"),
    ));
    codes.push(Code::of(
        ErrorCode::InvalidRequestFraming,
        "the request has both `Content-Length` and `Transfer-Encoding`",
        "send either Content-Length or Transfer-Encoding, not both",
    ));
    responses::error_response("The request is not acceptable; nothing was run.", &codes)
}

/// The responses of a wizard, script or native API (its rows are the schema `row_name`).
fn sql_responses(
    definition: &ApiDefinition,
    params: &[CallerParam<'_>],
    row_name: &str,
    shared: &mut Shared,
) -> Responses {
    let options = &definition.options;
    let fields = &definition.response_fields;
    let native = matches!(definition.mode, ApiMode::Native(_));
    let paged = !native && options.pagination;

    let enveloped = in_envelope(RefOr::T(data_schema(options, row_name, paged, fields)));
    let server_timing = shared.header(SERVER_TIMING, || {
        HeaderBuilder::new()
            .schema(Some(Object::with_type(Type::String)))
            .description(Some("Time spent per stage of the call, in ms: parse, plan, execute, encode."))
            .build()
    });
    let mut ok = responses::ok_response("The rows, in the OK envelope.".to_owned(), JSON, enveloped)
        .header_ref(SERVER_TIMING, server_timing)
        .build();
    if let Some(example) = ok_example(fields, options.result_format, paged) {
        ok = responses::with_example(ok, example);
    }
    let csv = if paged {
        "CSV (RFC 4180): a header row of the column names, then one record per row; NULL is an empty field. \
         `X-Sluice-Code` carries the code, `X-Sluice-Page-Num`, `X-Sluice-Page-Size` and `X-Sluice-Total-Count` \
         the page."
    } else {
        "CSV (RFC 4180): a header row of the column names, then one record per row; NULL is an empty field. \
         `X-Sluice-Code` carries the code."
    };
    let ok = responses::with_formats(ok, default_format(options.result_format), csv);

    let mut extra = Vec::new();
    if paged {
        let max = options.max_limit.max(1);
        extra.push(Code::named(
            ErrorCode::InvalidParameter,
            PAGE_NUM,
            "`pageNum` is not an integer of at least 1",
            format!("parameter `{PAGE_NUM}` expects an integer from 1 to …, received `0`"),
        ));
        extra.push(Code::named(
            ErrorCode::InvalidParameter,
            PAGE_SIZE,
            format!("`pageSize` is not an integer from 1 to {max}"),
            format!("parameter `{PAGE_SIZE}` expects an integer from 1 to {max}, received `0`"),
        ));
        extra.push(Code::named(
            ErrorCode::InvalidParameter,
            WITH_TOTAL,
            "`withTotal` is not `true` or `false`",
            format!("parameter `{WITH_TOTAL}` expects true or false, received `maybe`"),
        ));
    }
    if native {
        extra.push(Code::named(
            ErrorCode::MissingParameter,
            NATIVE_SQL,
            "no `sql` was sent",
            format!("the required parameter `{NATIVE_SQL}` is missing"),
        ));
        extra.push(Code::named(
            ErrorCode::InvalidParameter,
            NATIVE_SQL,
            "`sql` is not one SELECT statement the gateway can parse, or the database rejected it \
             (the message says why, never in the database's words)",
            format!("parameter `{NATIVE_SQL}`: expected one SELECT statement"),
        ));
    }
    extra.push(invalid_body());

    let mut responses = Responses::new();
    let mut add = |status: &str, response: RefOr<Response>| {
        responses.responses.insert(status.to_owned(), response);
    };
    add("200", RefOr::T(ok));
    add("400", RefOr::T(bad_request(params, extra)));
    if native {
        add(
            "403",
            shared.response("ForbiddenQuery", || {
                responses::error_response(
                    "The query reaches outside what this API allows; nothing was run.",
                    &[Code::of(
                        ErrorCode::ForbiddenQuery,
                        "the query names a table or function this API does not allow, or is not a plain SELECT",
                        "table `secrets` is not allowed by this API",
                    )],
                )
            }),
        );
    }
    add_call_refusals(&mut add, shared);
    add(
        "500",
        shared.response("DatabaseError", || {
            responses::error_response(
                "The database or the gateway failed; the cause is logged, never sent.",
                &[
                    Code::of(
                        ErrorCode::InternalErrorDatabase,
                        "the database could not answer",
                        "the database could not answer this call; the error was logged",
                    ),
                    Code::of(
                        ErrorCode::InternalError,
                        "an unexpected failure in the gateway",
                        "an internal error occurred",
                    ),
                ],
            )
        }),
    );
    let timeout = options.timeout_ms;
    add(
        "504",
        shared.response(&format!("Timeout.{timeout}ms"), || {
            responses::error_response(
                "The query took too long and was cancelled.",
                &[Code::of(
                    ErrorCode::Timeout,
                    format!("the call did not finish within the API's timeout of {timeout} ms"),
                    format!("the query did not finish within the API's timeout of {timeout} ms"),
                )],
            )
        }),
    );
    responses
}

/// The schema of one response field in a row: NULL comes back as `null` unless the field is
/// declared required.
fn field_schema(field: &ResponseField) -> Schema {
    let base = schema::of_type(field.field_type, &[], Side::Response);
    let base = if field.required { base } else { schema::nullable(base) };
    schema::annotate(
        base,
        join_text(&[&field.description, schema::type_note(field.field_type, Side::Response).unwrap_or("")]),
        field.example.as_deref().map(|e| schema::value_of(field.field_type, e, Side::Response)),
        None,
        Some(schema::level_extension(field.security_level)),
    )
}

fn row_schema(mode: &ApiMode, fields: &[ResponseField], format: ResultFormat) -> Schema {
    let wizard = matches!(mode, ApiMode::Wizard(_));
    let what = match mode {
        ApiMode::Wizard(_) => "every declared field",
        ApiMode::Native(_) if fields.is_empty() => "the columns of the caller's SELECT, as it names them",
        ApiMode::Native(_) => "the columns of the caller's SELECT; these are the ones the API documents",
        _ => "the columns of the API's query, documented as these fields",
    };
    match format {
        // An XML or CSV API's `application/json` answer is JSON's.
        ResultFormat::Json | ResultFormat::Xml | ResultFormat::Csv => {
            let mut row = Object::with_type(Type::Object);
            for field in fields {
                row.properties.insert(field.name.clone(), RefOr::T(field_schema(field)));
                if wizard {
                    row.required.push(field.name.clone());
                }
            }
            row.description = Some(format!("One row: {what}."));
            row.into()
        }
        ResultFormat::JsonCompact => {
            let mut row = Array::default();
            row.prefix_items = fields.iter().map(field_schema).collect();
            if wizard && !fields.is_empty() {
                row.items = ArrayItems::False;
            }
            let order = fields.iter().map(|f| format!("`{}`", f.name)).collect::<Vec<_>>().join(", ");
            row.description = Some(if order.is_empty() {
                format!("One row, its values in the order of `columns`: {what}.")
            } else {
                format!("One row, its values in the order of `columns` ({order}): {what}.")
            });
            row.into()
        }
    }
}

fn integer(description: &str) -> RefOr<Schema> {
    let mut object = Object::with_type(Type::Integer);
    object.format = Some(SchemaFormat::KnownFormat(KnownFormat::Int64));
    object.minimum = Some(0.into());
    object.description = Some(description.to_owned());
    RefOr::T(object.into())
}

/// The `data` object: rows (objects or arrays), with the page when paginated.
fn data_schema(options: &ApiOptions, row_name: &str, paged: bool, fields: &[ResponseField]) -> Schema {
    let mut data = Object::with_type(Type::Object);
    if options.result_format == ResultFormat::JsonCompact {
        let mut columns = Array::new(Object::with_type(Type::String));
        columns.description =
            Some("The column names, in the order of each row's values; empty when no row matched.".to_owned());
        if !fields.is_empty() {
            columns.examples = vec![Value::Array(fields.iter().map(|f| json!(f.name)).collect())];
        }
        data.properties.insert("columns".to_owned(), RefOr::T(columns.into()));
        data.required.push("columns".to_owned());
    }
    let mut rows = Array::new(RefOr::Ref(responses::schema_ref(row_name)));
    rows.description =
        Some(if paged { "The page's rows.".to_owned() } else { format!("At most {} rows.", options.max_limit) });
    data.properties.insert("rows".to_owned(), RefOr::T(rows.into()));
    data.required.push("rows".to_owned());
    if paged {
        data.properties.insert(PAGE_NUM.to_owned(), integer("The page answered, from 1."));
        data.properties.insert(PAGE_SIZE.to_owned(), integer("The page size used."));
        data.properties.insert(
            "totalCnt".to_owned(),
            integer("Every matching row, counted; present only when the call sent `withTotal=true`."),
        );
        data.required.extend([PAGE_NUM.to_owned(), PAGE_SIZE.to_owned()]);
    }
    data.into()
}

/// An example OK body built from the fields' examples (`null` where a field has none).
fn ok_example(fields: &[ResponseField], format: ResultFormat, paged: bool) -> Option<Value> {
    if fields.iter().all(|f| f.example.is_none()) {
        return None;
    }
    let value = |f: &ResponseField| match f.example.as_deref() {
        Some(e) => schema::value_of(f.field_type, e, Side::Response),
        None if f.required => placeholder(f.field_type),
        None => Value::Null,
    };
    let mut data = Map::new();
    match format {
        ResultFormat::Json | ResultFormat::Xml | ResultFormat::Csv => {
            let row: Map<String, Value> = fields.iter().map(|f| (f.name.clone(), value(f))).collect();
            data.insert("rows".to_owned(), json!([row]));
        }
        ResultFormat::JsonCompact => {
            data.insert("columns".to_owned(), fields.iter().map(|f| json!(f.name)).collect());
            data.insert("rows".to_owned(), json!([fields.iter().map(value).collect::<Vec<_>>()]));
        }
    }
    if paged {
        data.insert(PAGE_NUM.to_owned(), json!(1));
        data.insert(PAGE_SIZE.to_owned(), json!(DEFAULT_PAGE_SIZE));
    }
    Some(json!({"code": "OK", "requestId": "0192f3c4a1b27d3e8f00a1b2c3d4e5f6", "data": data}))
}

/// A value of the type for a required field that has no example of its own.
fn placeholder(field_type: ParamType) -> Value {
    match field_type {
        ParamType::Scalar(ScalarType::Int) => json!(1),
        ParamType::Scalar(ScalarType::Float) => json!(1.5),
        ParamType::Scalar(ScalarType::Decimal) => json!("1.5"),
        ParamType::Scalar(ScalarType::Bool) => json!(true),
        ParamType::Scalar(ScalarType::Date) => json!("2024-01-31"),
        ParamType::Scalar(ScalarType::DateTime) => json!("2024-01-31T12:00:00"),
        ParamType::Scalar(ScalarType::Json) => json!({}),
        ParamType::Array(item) => json!([placeholder(ParamType::Scalar(item))]),
        ParamType::Scalar(ScalarType::String) | ParamType::Identifier => json!("text"),
    }
}

/// The responses of a registered API: the upstream's own answer, passed through, and the
/// gateway's errors.
fn registered_responses(
    spec: &RegisteredSpec,
    params: &[CallerParam<'_>],
    reads_body: bool,
    shared: &mut Shared,
) -> Responses {
    let media = match spec.response_format {
        UpstreamFormat::Json => JSON,
        UpstreamFormat::Xml => "application/xml",
    };
    let any = || RefOr::T(Object::with_type(SchemaType::AnyValue).into());
    // The answer the upstream's document declares (`validation.response`), when there is one.
    let declared = spec.validation.as_ref().and_then(|v| v.response.as_ref()).and_then(schema::declared);
    let ok = responses::ok_response(
        "The upstream service's answer, passed through unchanged: status, headers and body (`Set-Cookie` removed, \
         `X-Request-Id` added)."
            .to_owned(),
        media,
        declared.map_or_else(any, RefOr::T),
    )
    .build();
    let mut other = "Any other status the upstream service answers passes through unchanged, its own errors included \
                     (not in the gateway's error envelope)."
        .to_owned();
    if !spec.error_codes.is_empty() {
        other.push_str("\n\nThe service's documented errors:\n\n| code | message | solution |\n| --- | --- | --- |");
        for e in &spec.error_codes {
            let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
            other.push_str(&format!("\n| `{}` | {} | {} |", cell(&e.code), cell(&e.message), cell(&e.solution)));
        }
    }
    let default = responses::ok_response(other, media, any()).build();

    let mut extra =
        vec![Code::of(ErrorCode::InvalidRequest, "the request could not be read", "the request could not be read")];
    if reads_body {
        extra.push(invalid_body());
    }

    let mut responses = Responses::new();
    let mut add = |status: &str, response: RefOr<Response>| {
        responses.responses.insert(status.to_owned(), response);
    };
    add("200", RefOr::T(ok));
    add("400", RefOr::T(bad_request(params, extra)));
    add("404", shared.response("NotFound", responses::not_found));
    if reads_body {
        add("413", shared.response("ParameterBodyTooLarge", || responses::payload_too_large(PARAM_BODY_LIMIT)));
    }
    add("429", shared.response("Throttled", responses::throttled));
    add(
        "500",
        shared.response("GatewayError", || {
            responses::error_response(
                "The gateway failed; the cause is logged, never sent.",
                &[Code::of(
                    ErrorCode::InternalError,
                    "an unexpected failure in the gateway",
                    "an internal error occurred",
                )],
            )
        }),
    );
    add(
        "502",
        shared.response("UpstreamUnavailable", || {
            responses::error_response(
                "The upstream service could not be reached; it was not called, or gave no answer.",
                &[
                    Code::of(
                        ErrorCode::UpstreamUnavailable,
                        "the service refused or reset the connection, did not resolve, failed the TLS handshake, or \
                         closed before answering",
                        "the upstream service could not be reached",
                    ),
                    Code::of(
                        ErrorCode::UpstreamForbidden,
                        "the gateway's network policy refused the service's address at call time",
                        "the upstream address is not allowed (a private address)",
                    ),
                ],
            )
        }),
    );
    let timeout = spec.timeout_ms;
    add(
        "504",
        shared.response(&format!("UpstreamTimeout.{timeout}ms"), || {
            responses::error_response(
                "The upstream service took too long.",
                &[Code::of(
                    ErrorCode::UpstreamTimeout,
                    format!("connecting, or a wait for the service's data, took longer than {timeout} ms"),
                    format!("the upstream service did not answer within {timeout} ms"),
                )],
            )
        }),
    );
    add("default", RefOr::T(default));
    responses
}
