//! Registered APIs: a version's [`RegisteredSpec`] compiled, once per snapshot, into what the edge
//! needs to forward a call — the checked base URL, the path template, where each caller
//! parameter goes upstream and the constants (opened) — and, per call, the upstream request.
//!
//! ```text
//!  caller  GET /weather/{city}?days=3   X-Lang: de
//!            │ parse   ParamValues: required, defaults, types (the SQL plugin's parse stage)
//!            │ check   the JSON Schemas of `validation`, when on (`validate.rs`, compiled here)
//!            │ map     city → path {city}, days → query cnt, X-Lang → header Accept-Language
//!            │ inject  constants: appid=… (query), X-Api-Key: … (header), fields of a JSON body
//!  upstream GET https://api.example.com/v1/forecast/berlin?cnt=3&appid=…
//! ```
//!
//! Nothing here does I/O: the edge resolves the host through the SSRF guard at call time and
//! lets pingora stream the bodies. The same [`UpstreamRoute::compile`] validates definitions in
//! `sluice check` / `sluice apply`, so a file that checks clean is one the edge can serve.
//!
//! Past 600 lines only with its unit tests.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::sql::value::{ParamValues, RawParam, Value};
use crate::{ApiError, ApiPlugin, BodyUse, Call, CallOutput, DefinitionError, Forward, PluginContext};
use bytes::Bytes;
use catalog::model::{
    ApiDefinition, ApiMode, ConstantPosition, ParamPosition, ParamType, RegisteredSpec, RequestParam, UpstreamFormat,
    UpstreamMethod,
};
use http::Method;
use http::header::{HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use net::ssrf::UpstreamUrl;

mod validate;

use validate::CallSchemas;
pub use validate::{AnswerMismatch, answer_mismatches, compile_schema};

/// The longest `timeoutMs` a registered API may set: ten minutes.
pub const MAX_TIMEOUT_MS: u64 = 600_000;

/// Headers that neither a parameter nor a constant may set upstream: the edge owns framing,
/// routing and connection management.
const RESERVED_UPSTREAM_HEADERS: [&str; 12] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "x-request-id",
    "content-type",
];

/// A registered API version, ready to forward calls.
#[derive(Debug)]
pub struct UpstreamRoute {
    pub url: UpstreamUrl,
    pub method: Method,
    /// The caller-facing parameters, in the shape the parse stage reads.
    pub request_params: Vec<RequestParam>,
    /// Where each of `request_params` goes upstream (same index).
    targets: Vec<Target>,
    path: Vec<PathPiece>,
    constants: Vec<Constant>,
    /// Bounds DNS and connecting (with TLS), and every wait for upstream data.
    pub timeout: Duration,
    pub format: UpstreamFormat,
    /// The caller's body is read for parameters (it is then replaced upstream).
    reads_body: bool,
    /// The upstream gets a JSON body built from parameters and constants.
    builds_body: bool,
    /// Caller headers read as parameters; they do not go upstream under their own name.
    consumed_headers: Vec<HeaderName>,
    /// The version's schemas, compiled here once, when its validation is on.
    schemas: Option<CallSchemas>,
}

#[derive(Debug)]
struct Target {
    name: String,
    position: ParamPosition,
    /// Set when `position` is a header.
    header: Option<HeaderName>,
}

#[derive(Debug)]
enum PathPiece {
    /// Already percent-encoded where needed.
    Text(String),
    /// The index of the parameter whose value fills the placeholder.
    Param(usize),
}

#[derive(Debug)]
struct Constant {
    name: String,
    position: ConstantPosition,
    header: Option<(HeaderName, HeaderValue)>,
    value: String,
}

/// The upstream request of one call, apart from what the SSRF-checked target adds (the Host
/// header and the address).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamRequest {
    pub method: Method,
    /// The base URL's path, the filled template and the mapped query.
    pub path_and_query: String,
    /// Mapped header parameters and header constants, set over whatever the caller sent.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// When set, replaces the caller's body (which was read for parameters); otherwise the
    /// caller's body streams through.
    pub body: Option<Bytes>,
}

/// A registered API as a plugin: maps each call to its upstream request, which the edge
/// exchanges ([`CallOutput::Forward`]).
#[derive(Debug)]
pub struct RegisteredApi {
    route: Arc<UpstreamRoute>,
}

impl RegisteredApi {
    pub fn compile(definition: &ApiDefinition) -> Result<RegisteredApi, DefinitionError> {
        UpstreamRoute::compile(definition).map(|route| RegisteredApi { route: Arc::new(route) })
    }

    pub fn upstream(&self) -> &UpstreamRoute {
        &self.route
    }
}

#[async_trait]
impl ApiPlugin for RegisteredApi {
    fn mode(&self) -> &'static str {
        "registered"
    }

    fn request_params(&self) -> &[RequestParam] {
        &self.route.request_params
    }

    fn body_use(&self) -> BodyUse {
        BodyUse::Forwarded { reads_params: self.route.reads_body() }
    }

    async fn invoke(&self, _ctx: &PluginContext, call: &Call) -> Result<CallOutput, ApiError> {
        let request = self.route.request(&call.params)?;
        Ok(CallOutput::Forward(Box::new(Forward { request, upstream: Arc::clone(&self.route) })))
    }
}

impl UpstreamRoute {
    /// Validates a registered definition and compiles it. Constants must carry their values
    /// (the store opens them for the edge). The error says what to change, naming the key
    /// (`baseUrl`, `path`, parameter `x`, constant `y`).
    pub fn compile(definition: &ApiDefinition) -> Result<UpstreamRoute, DefinitionError> {
        let ApiMode::Registered(spec) = &definition.mode else {
            return Err(DefinitionError::at(
                "mode",
                format!("a {} API is not a registered API", definition.mode.name()),
            ));
        };
        if definition.datasource_id.is_some() {
            return Err(DefinitionError::at("datasourceId", "a registered API reads no datasource"));
        }
        if !definition.request_params.is_empty() || !definition.response_fields.is_empty() {
            let key = if definition.request_params.is_empty() { "responseFields" } else { "requestParams" };
            return Err(DefinitionError::at(
                key,
                "a registered API declares its parameters in `params`, not requestParams or responseFields",
            ));
        }
        compile_spec(spec)
    }

    /// Whether the edge must read the caller's body (a JSON object of parameters) before
    /// forwarding; otherwise it streams through untouched.
    pub fn reads_body(&self) -> bool {
        self.reads_body
    }

    /// Caller headers that were read as parameters.
    pub fn consumed_headers(&self) -> &[HeaderName] {
        &self.consumed_headers
    }

    /// Builds the upstream request from what the caller sent, by name (`raw`, gathered from
    /// the caller's path, query, headers and body). Fails as a data API does:
    /// `MissingParameter.<name>`, `InvalidParameter.<name>`.
    pub fn request(&self, raw: &HashMap<String, RawParam>) -> Result<UpstreamRequest, ApiError> {
        let values = ParamValues::parse(&self.request_params, raw)?;
        // What each parameter sends: the caller's own text where it was text, else the value.
        let mut sent: Vec<Option<Sent>> = Vec::with_capacity(self.request_params.len());
        for (index, param) in self.request_params.iter().enumerate() {
            let Some(value) = values.get(index) else {
                sent.push(None);
                continue;
            };
            let from_caller = raw.get(&param.name).filter(|r| !matches!(r, RawParam::Json(serde_json::Value::Null)));
            sent.push(Some(match from_caller {
                Some(RawParam::Text(text)) if !text.is_empty() => Sent { text: text.clone(), json: value.to_json() },
                Some(RawParam::Json(json)) => Sent {
                    text: json_text(json),
                    // The typed value (a JSON string "2" for an int goes as 2), except that a
                    // decimal the caller sent as a number stays that number.
                    json: match (value, json) {
                        (Value::Decimal(_), serde_json::Value::Number(_)) => json.clone(),
                        _ => value.to_json(),
                    },
                },
                _ => Sent { text: value_text(value), json: value.to_json() },
            }));
        }
        if let Some(schemas) = &self.schemas {
            schemas.check_params(&self.request_params, |i| sent.get(i).and_then(Option::as_ref).map(|s| &s.json))?;
        }

        let mut path = String::new();
        for piece in &self.path {
            match piece {
                PathPiece::Text(text) => path.push_str(text),
                PathPiece::Param(index) => match &sent[*index] {
                    Some(s) => encode_path_segment(&s.text, &mut path),
                    // A path placeholder's parameter is required or has a default (compile
                    // checks); left out it would change the upstream path's meaning.
                    None => return Err(ApiError::missing_parameter(&self.request_params[*index].name)),
                },
            }
        }
        let mut path_and_query = join_paths(self.url.base_path(), &path);

        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let mut has_query = false;
        let mut headers = Vec::new();
        let mut body = serde_json::Map::new();
        for ((target, param), sent) in self.targets.iter().zip(&self.request_params).zip(&sent) {
            let Some(sent) = sent else { continue };
            match target.position {
                ParamPosition::Path => {}
                ParamPosition::Query => {
                    query.append_pair(&target.name, &sent.text);
                    has_query = true;
                }
                ParamPosition::Header => {
                    let value = HeaderValue::from_str(&sent.text).map_err(|_| {
                        ApiError::invalid_parameter_because(
                            &param.name,
                            "it goes upstream as a header: no control characters or line breaks",
                        )
                    })?;
                    if let Some(name) = &target.header {
                        headers.push((name.clone(), value));
                    }
                }
                ParamPosition::Body => {
                    body.insert(target.name.clone(), sent.json.clone());
                }
            }
        }
        if let Some(schemas) = &self.schemas {
            // The body as the parameters make it, before constants (which callers never see).
            let made = serde_json::Value::Object(std::mem::take(&mut body));
            schemas.check_body(&made)?;
            if let serde_json::Value::Object(map) = made {
                body = map;
            }
        }
        for constant in &self.constants {
            match constant.position {
                ConstantPosition::Query => {
                    query.append_pair(&constant.name, &constant.value);
                    has_query = true;
                }
                ConstantPosition::Header => {
                    if let Some((name, value)) = &constant.header {
                        headers.push((name.clone(), value.clone()));
                    }
                }
                ConstantPosition::Body => {
                    body.insert(constant.name.clone(), serde_json::Value::String(constant.value.clone()));
                }
            }
        }
        if has_query {
            path_and_query.push('?');
            path_and_query.push_str(&query.finish());
        }
        let body = if self.builds_body {
            headers.push((http::header::CONTENT_TYPE, HeaderValue::from_static("application/json")));
            Some(Bytes::from(serde_json::Value::Object(body).to_string()))
        } else if self.reads_body {
            Some(Bytes::new())
        } else {
            None
        };
        Ok(UpstreamRequest { method: self.method.clone(), path_and_query, headers, body })
    }
}

/// What one parameter sends upstream: as text (path, query, header) or as JSON (body).
struct Sent {
    text: String,
    json: serde_json::Value,
}

fn compile_spec(spec: &RegisteredSpec) -> Result<UpstreamRoute, DefinitionError> {
    let url =
        UpstreamUrl::parse(&spec.base_url).map_err(|e| DefinitionError::at("baseUrl", format!("baseUrl: {e}")))?;
    if spec.timeout_ms == 0 || spec.timeout_ms > MAX_TIMEOUT_MS {
        return Err(DefinitionError::at(
            "timeoutMs",
            format!("timeoutMs must be from 1 to {MAX_TIMEOUT_MS}, not {}", spec.timeout_ms),
        ));
    }
    let takes_body = matches!(spec.method, UpstreamMethod::Post | UpstreamMethod::Put);
    let mut request_params = Vec::with_capacity(spec.params.len());
    let mut targets: Vec<Target> = Vec::with_capacity(spec.params.len());
    let mut consumed_headers = Vec::new();
    for (index, param) in spec.params.iter().enumerate() {
        let name = param.name.as_str();
        let param_error = |why: String| DefinitionError::item("params", name, why);
        check_param_name(name).map_err(param_error)?;
        if spec.params.iter().filter(|p| p.name == name).count() > 1 {
            return Err(param_error(format!("parameter `{name}` is declared twice")));
        }
        if param.param_type == ParamType::Identifier {
            return Err(param_error(format!("parameter `{name}`: type identifier is for SQL APIs; use string")));
        }
        let position = param.upstream_position();
        let upstream_name = param.upstream_name();
        if upstream_name.is_empty() || upstream_name.chars().any(char::is_control) {
            return Err(param_error(format!(
                "parameter `{name}`: upstreamName must be non-empty text without control characters"
            )));
        }
        if position == ParamPosition::Body && !takes_body {
            return Err(param_error(format!(
                "parameter `{name}` goes to the upstream body, but the upstream method {} sends none: use POST or PUT",
                spec.method.as_str()
            )));
        }
        if param.position == ParamPosition::Header {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                param_error(format!("parameter `{name}`: a header parameter's name must be a valid header name"))
            })?;
            consumed_headers.push(header);
        }
        let header = match position {
            ParamPosition::Header => {
                Some(upstream_header(upstream_name, &format!("parameter `{name}`")).map_err(param_error)?)
            }
            _ => None,
        };
        if targets.iter().any(|t| t.position == position && same_name(position, &t.name, upstream_name)) {
            return Err(param_error(format!(
                "parameter `{name}`: another parameter already goes to upstream {} `{upstream_name}`",
                position.as_str()
            )));
        }
        let request_param = RequestParam {
            position: param.position,
            required: param.required,
            default: param.default.clone(),
            example: param.example.clone(),
            description: param.description.clone(),
            ..RequestParam::new(name, param.param_type)
        };
        crate::sql::value::check_default("params", index, &request_param)?;
        if position == ParamPosition::Path && !param.required && param.default.is_none() {
            return Err(param_error(format!(
                "parameter `{name}` fills the upstream path: make it required or give it a default"
            )));
        }
        request_params.push(request_param);
        targets.push(Target { name: upstream_name.to_owned(), position, header });
    }

    let path = compile_path(&spec.path, &targets).map_err(|why| DefinitionError::at("path", why))?;

    let mut constants: Vec<Constant> = Vec::with_capacity(spec.constants.len());
    for constant in &spec.constants {
        let name = constant.name.as_str();
        let constant_error = |why: String| DefinitionError::item("constants", name, why);
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(DefinitionError::at(
                "constants",
                "constant names must be non-empty text without control characters",
            ));
        }
        let value = constant.value.clone().ok_or_else(|| constant_error(format!("constant `{name}` has no value")))?;
        let position = match constant.position {
            ConstantPosition::Query => ParamPosition::Query,
            ConstantPosition::Header => ParamPosition::Header,
            ConstantPosition::Body => ParamPosition::Body,
        };
        if constant.position == ConstantPosition::Body && !takes_body {
            return Err(constant_error(format!(
                "constant `{name}` goes to the upstream body, but the upstream method {} sends none: use POST or PUT",
                spec.method.as_str()
            )));
        }
        if targets.iter().any(|t| t.position == position && same_name(position, &t.name, name))
            || constants.iter().any(|c| c.position == constant.position && same_name(position, &c.name, name))
        {
            return Err(constant_error(format!(
                "constant `{name}`: upstream {} `{name}` is already set by a parameter or another constant",
                constant.position.as_str()
            )));
        }
        let header = match constant.position {
            ConstantPosition::Header => {
                let header_name = upstream_header(name, &format!("constant `{name}`")).map_err(constant_error)?;
                let header_value = HeaderValue::from_str(&value).map_err(|_| {
                    constant_error(format!("constant `{name}`: a header value cannot hold control characters"))
                })?;
                Some((header_name, header_value))
            }
            _ => None,
        };
        constants.push(Constant { name: name.to_owned(), position: constant.position, header, value });
    }

    let reads_body = spec.params.iter().any(|p| p.position == ParamPosition::Body)
        || targets.iter().any(|t| t.position == ParamPosition::Body)
        || constants.iter().any(|c| c.position == ConstantPosition::Body);
    let builds_body = targets.iter().any(|t| t.position == ParamPosition::Body)
        || constants.iter().any(|c| c.position == ConstantPosition::Body);
    let method = Method::from_bytes(spec.method.as_str().as_bytes())
        .map_err(|e| DefinitionError::at("method", e.to_string()))?;
    let has_body_params = targets.iter().any(|t| t.position == ParamPosition::Body);
    let schemas = match &spec.validation {
        Some(validation) => CallSchemas::compile(validation, &request_params, has_body_params)?,
        None => None,
    };
    Ok(UpstreamRoute {
        url,
        method,
        request_params,
        targets,
        path,
        constants,
        timeout: Duration::from_millis(spec.timeout_ms),
        format: spec.response_format,
        reads_body,
        builds_body,
        consumed_headers,
        schemas,
    })
}

/// Decodes a percent-encoded path segment as the caller sent it (`S%C3%A3o%20Paulo`);
/// `None` when the result is not UTF-8.
pub fn percent_decode(segment: &str) -> Option<String> {
    percent_decode_str(segment).decode_utf8().ok().map(Cow::into_owned)
}

/// Caller-facing names: letters, digits, `_`, `-` and `.` (header parameters are named like
/// headers), at most 64.
fn check_param_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid { Ok(()) } else { Err(format!("parameter `{name}`: a name is 1 to 64 letters, digits, `_`, `-` or `.`")) }
}

/// Header names compare case-insensitively; everything else exactly.
fn same_name(position: ParamPosition, a: &str, b: &str) -> bool {
    if position == ParamPosition::Header { a.eq_ignore_ascii_case(b) } else { a == b }
}

/// Whether the edge sets this upstream header itself, so that no parameter or constant may.
pub fn is_reserved_upstream_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    RESERVED_UPSTREAM_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-sluice-")
}

fn upstream_header(name: &str, what: &str) -> Result<HeaderName, String> {
    let header =
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("{what}: `{name}` is not a valid header name"))?;
    if is_reserved_upstream_header(header.as_str()) {
        return Err(format!("{what}: the edge sets upstream header `{name}` itself"));
    }
    Ok(header)
}

/// Reads the upstream path template: empty or starting with `/`, `{name}` placeholders naming
/// parameters whose upstream position is `path`, each of which must appear.
fn compile_path(template: &str, targets: &[Target]) -> Result<Vec<PathPiece>, String> {
    if !template.is_empty() && !template.starts_with('/') {
        return Err(format!("path `{template}` must start with `/`"));
    }
    if let Some(bad) = template.chars().find(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '\\')) {
        return Err(format!("path `{template}` must not contain `{}`", bad.escape_debug()));
    }
    let mut pieces = Vec::new();
    let mut used = vec![false; targets.len()];
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                pieces.push(PathPiece::Text(encode_path_text(rest)));
                break;
            }
            Some(at) if rest.as_bytes()[at] == b'}' => {
                return Err(format!("path `{template}` has a `}}` without its `{{`"));
            }
            Some(at) => {
                if at > 0 {
                    pieces.push(PathPiece::Text(encode_path_text(&rest[..at])));
                }
                let after = &rest[at + 1..];
                let end = after.find('}').ok_or_else(|| format!("path `{template}` has a `{{` without its `}}`"))?;
                let name = &after[..end];
                let index = targets
                    .iter()
                    .position(|t| t.position == ParamPosition::Path && t.name == name)
                    .ok_or_else(|| {
                        format!(
                            "path placeholder `{{{name}}}` needs a parameter with upstreamName `{name}` and upstreamPosition path"
                        )
                    })?;
                used[index] = true;
                pieces.push(PathPiece::Param(index));
                rest = &after[end + 1..];
            }
        }
    }
    if let Some(index) = targets.iter().enumerate().position(|(i, t)| t.position == ParamPosition::Path && !used[i]) {
        let name = &targets[index].name;
        return Err(format!("upstream path parameter `{name}` has no `{{{name}}}` placeholder in path `{template}`"));
    }
    Ok(pieces)
}

/// The base URL's path followed by the template's, with one `/` between them.
fn join_paths(base: &str, path: &str) -> String {
    if path.is_empty() {
        return base.to_owned();
    }
    let base = base.strip_suffix('/').unwrap_or(base);
    // Not `format!`: this runs for every call.
    let mut joined = String::with_capacity(base.len() + path.len());
    joined.push_str(base);
    joined.push_str(path);
    joined
}

/// What a literal piece of a path template encodes: every byte but letters, digits and
/// `/ - . _ ~ ! $ & ' ( ) * + , ; = : @ %` (what may stand in a path, escapes included).
const PATH_TEXT_ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'%');

/// What a value encodes as one path segment: every byte but RFC 3986's unreserved
/// `A-Z a-z 0-9 - . _ ~`.
const SEGMENT_ENCODED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes a literal piece of the template, keeping what may stand in a path as is.
fn encode_path_text(text: &str) -> String {
    utf8_percent_encode(text, PATH_TEXT_ENCODED).to_string()
}

/// Percent-encodes a value as one path segment: everything but unreserved characters, so a
/// value cannot add segments (`/`), climb (`..` stays inside its segment) or start a query.
fn encode_path_segment(value: &str, out: &mut String) {
    if value == "." || value == ".." {
        // Dot segments are removed by URL normalisation; encode them so they stay data.
        for _ in 0..value.len() {
            out.push_str("%2E");
        }
        return;
    }
    out.extend(utf8_percent_encode(value, SEGMENT_ENCODED));
}

/// A JSON value as text for a query, path or header: strings as they are, arrays of scalars
/// comma-separated, anything else as JSON.
fn json_text(json: &serde_json::Value) -> String {
    match json {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) if items.iter().all(|i| !i.is_array() && !i.is_object()) => {
            items.iter().map(json_text).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    }
}

fn value_text(value: &Value) -> String {
    json_text(&value.to_json())
}

#[cfg(test)]
mod tests {
    use catalog::model::{ApiOptions, RegisteredConstant, RegisteredParam};

    use super::*;

    fn param(name: &str, position: ParamPosition) -> RegisteredParam {
        RegisteredParam {
            name: name.into(),
            upstream_name: None,
            position,
            upstream_position: None,
            param_type: ParamType::STRING,
            required: false,
            default: None,
            description: String::new(),
            example: None,
        }
    }

    fn constant(name: &str, position: ConstantPosition, value: &str) -> RegisteredConstant {
        RegisteredConstant { name: name.into(), position, value: Some(value.into()) }
    }

    fn spec(path: &str) -> RegisteredSpec {
        RegisteredSpec {
            base_url: "https://api.example.com/v1/".into(),
            path: path.into(),
            method: UpstreamMethod::Get,
            params: vec![],
            constants: vec![],
            timeout_ms: 1000,
            response_format: UpstreamFormat::Json,
            error_codes: vec![],
            validation: None,
        }
    }

    fn definition(spec: RegisteredSpec) -> ApiDefinition {
        ApiDefinition {
            datasource_id: None,
            mode: ApiMode::Registered(spec),
            request_params: vec![],
            response_fields: vec![],
            options: ApiOptions::default(),
        }
    }

    fn text(pairs: &[(&str, &str)]) -> HashMap<String, RawParam> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), RawParam::Text((*v).to_owned()))).collect()
    }

    #[test]
    fn parameters_are_mapped_and_constants_injected() {
        let mut s = spec("/forecast/{city}/daily");
        s.params = vec![
            RegisteredParam { required: true, ..param("city", ParamPosition::Path) },
            RegisteredParam {
                upstream_name: Some("cnt".into()),
                param_type: ParamType::INT,
                default: Some("3".into()),
                ..param("days", ParamPosition::Query)
            },
            RegisteredParam {
                upstream_name: Some("Accept-Language".into()),
                upstream_position: Some(ParamPosition::Header),
                ..param("lang", ParamPosition::Query)
            },
            RegisteredParam {
                upstream_name: Some("q".into()),
                upstream_position: Some(ParamPosition::Query),
                ..param("X-Search", ParamPosition::Header)
            },
        ];
        s.constants = vec![
            constant("appid", ConstantPosition::Query, "s3cret&x=1"),
            constant("X-Api-Key", ConstantPosition::Header, "k"),
        ];
        let route = UpstreamRoute::compile(&definition(s)).unwrap();
        assert!(!route.reads_body());
        assert_eq!(route.consumed_headers(), &[HeaderName::from_static("x-search")]);

        let request = route.request(&text(&[("city", "São Paulo/../x"), ("lang", "de"), ("X-Search", "a b")])).unwrap();
        assert_eq!(
            request.path_and_query,
            "/v1/forecast/S%C3%A3o%20Paulo%2F..%2Fx/daily?cnt=3&q=a+b&appid=s3cret%26x%3D1"
        );
        let headers: Vec<(String, String)> =
            request.headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned())).collect();
        assert_eq!(headers, vec![("accept-language".into(), "de".into()), ("x-api-key".into(), "k".into())]);
        assert_eq!(request.body, None);
        assert_eq!(request.method, Method::GET);

        let missing = route.request(&text(&[("lang", "de")])).unwrap_err();
        assert_eq!((missing.code().as_str(), missing.status()), ("MissingParameter.city", 400));
        let invalid = route.request(&text(&[("city", "x"), ("days", "many")])).unwrap_err();
        assert_eq!(invalid.code(), "InvalidParameter.days");
        let dots = route.request(&text(&[("city", "..")])).unwrap();
        assert!(dots.path_and_query.starts_with("/v1/forecast/%2E%2E/daily"), "{}", dots.path_and_query);
    }

    #[test]
    fn body_parameters_build_a_json_body() {
        let mut s = spec("");
        s.method = UpstreamMethod::Post;
        s.params = vec![
            RegisteredParam { param_type: ParamType::INT, required: true, ..param("id", ParamPosition::Body) },
            RegisteredParam { upstream_name: Some("tag".into()), ..param("label", ParamPosition::Query) },
        ];
        s.params[1].upstream_position = Some(ParamPosition::Body);
        s.constants = vec![constant("token", ConstantPosition::Body, "t0k")];
        let route = UpstreamRoute::compile(&definition(s)).unwrap();
        assert!(route.reads_body());
        let raw: HashMap<String, RawParam> = [
            ("id".to_owned(), RawParam::Json(serde_json::json!(7))),
            ("label".to_owned(), RawParam::Text("42".into())),
        ]
        .into();
        let request = route.request(&raw).unwrap();
        assert_eq!(request.path_and_query, "/v1/");
        let body: serde_json::Value = serde_json::from_slice(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({"id": 7, "tag": "42", "token": "t0k"}));
        assert!(request.headers.iter().any(|(k, v)| k == http::header::CONTENT_TYPE && v == "application/json"));
    }

    #[test]
    fn schemas_are_compiled_once_and_checked_before_the_request_is_built() {
        let mut s = spec("/pets/{id}");
        s.method = UpstreamMethod::Post;
        s.params = vec![
            RegisteredParam { param_type: ParamType::INT, required: true, ..param("id", ParamPosition::Path) },
            RegisteredParam { upstream_name: Some("pet-name".into()), ..param("name", ParamPosition::Body) },
            RegisteredParam {
                param_type: ParamType::Scalar(catalog::model::ScalarType::Json),
                ..param("owner", ParamPosition::Body)
            },
        ];
        s.constants = vec![constant("token", ConstantPosition::Body, "t0k")];
        s.validation = Some(catalog::model::SchemaValidation {
            enabled: true,
            params: [("id".to_owned(), serde_json::json!({"minimum": 1}))].into(),
            body: Some(serde_json::json!({
                "type": "object",
                "required": ["pet-name"],
                "properties": {"pet-name": {"pattern": "^[a-z]+$"}, "owner": {"required": ["email"]}},
                "additionalProperties": false
            })),
            response: Some(serde_json::json!({"type": "object"})),
        });
        validate::tests::COMPILED.with(|count| count.set(0));
        let route = UpstreamRoute::compile(&definition(s.clone())).unwrap();
        let compiled = validate::tests::COMPILED.with(std::cell::Cell::get);
        assert_eq!(compiled, 2, "the parameter's schema and the body's; the response's is not applied");

        let call = |id: serde_json::Value, body: serde_json::Value| {
            let mut raw: HashMap<String, RawParam> = [("id".to_owned(), RawParam::Json(id))].into();
            for (key, value) in body.as_object().unwrap() {
                raw.insert(key.clone(), RawParam::Json(value.clone()));
            }
            route.request(&raw)
        };
        for _ in 0..100 {
            let ok =
                call(serde_json::json!("7"), serde_json::json!({"name": "rex", "owner": {"email": "a@b"}})).unwrap();
            let body: serde_json::Value = serde_json::from_slice(ok.body.as_deref().unwrap()).unwrap();
            assert_eq!(body, serde_json::json!({"pet-name": "rex", "owner": {"email": "a@b"}, "token": "t0k"}));
        }
        assert_eq!(validate::tests::COMPILED.with(std::cell::Cell::get), compiled, "calls compile nothing");

        let error = call(serde_json::json!(0), serde_json::json!({"name": "rex"})).unwrap_err();
        assert_eq!(error.code(), "InvalidParameter.id");
        assert_eq!(error.message, "parameter `id`: the value is less than the minimum of 1");
        let error = call(serde_json::json!(1), serde_json::json!({"name": "Rex"})).unwrap_err();
        assert_eq!((error.code().as_str(), error.status()), ("InvalidRequest.Body", 400));
        assert!(error.message.contains("at `/pet-name`, the value does not match"), "{}", error.message);
        let error = call(serde_json::json!(1), serde_json::json!({"name": "rex", "owner": {}})).unwrap_err();
        assert!(error.message.ends_with(r#"at `/owner`, "email" is a required property"#), "{}", error.message);
        assert!(
            call(serde_json::json!(1), serde_json::json!({})).is_ok(),
            "no body parameter: the body is not checked"
        );

        // Switched off, nothing but the types is checked.
        s.validation.as_mut().unwrap().enabled = false;
        let route = UpstreamRoute::compile(&definition(s)).unwrap();
        let raw: HashMap<String, RawParam> = [
            ("id".to_owned(), RawParam::Json(serde_json::json!(0))),
            ("name".to_owned(), RawParam::Json(serde_json::json!("Rex"))),
        ]
        .into();
        assert!(route.request(&raw).is_ok());
    }

    #[test]
    fn path_encoding_keeps_exactly_the_allowed_characters() {
        for byte in 0u8..=127 {
            let text = char::from(byte).to_string();
            let escaped = format!("%{byte:02X}");
            let unreserved = byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
            let in_path = unreserved || b"/!$&'()*+,;=:@%".contains(&byte);
            assert_eq!(&encode_path_text(&text), if in_path { &text } else { &escaped }, "{byte}");
            let mut segment = String::new();
            encode_path_segment(&format!("a{text}"), &mut segment);
            assert_eq!(segment, format!("a{}", if unreserved { &text } else { &escaped }), "{byte}");
        }
        assert_eq!(encode_path_text("/São"), "/S%C3%A3o");
        let mut segment = String::new();
        encode_path_segment("€", &mut segment);
        assert_eq!(segment, "%E2%82%AC");
        assert_eq!(percent_decode("S%C3%A3o%20Paulo").as_deref(), Some("São Paulo"));
        assert_eq!(percent_decode("%e2%82%Ac+%zz%4%").as_deref(), Some("€+%zz%4%"));
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn definitions_that_cannot_be_served_say_why() {
        let cases: Vec<(RegisteredSpec, &str)> = vec![
            (RegisteredSpec { base_url: "ftp://x/".into(), ..spec("") }, "baseUrl"),
            (RegisteredSpec { base_url: "http://x/?a=1".into(), ..spec("") }, "query"),
            (spec("/items/{id}"), "{id}"),
            (spec("items"), "must start with `/`"),
            (spec("/a?b"), "must not contain"),
            (spec("/a/{id"), "without its"),
            (RegisteredSpec { params: vec![param("id", ParamPosition::Path)], ..spec("/a/{id}") }, "required"),
            (
                RegisteredSpec {
                    params: vec![RegisteredParam { required: true, ..param("id", ParamPosition::Path) }],
                    ..spec("/a")
                },
                "no `{id}` placeholder",
            ),
            (RegisteredSpec { params: vec![param("x", ParamPosition::Body)], ..spec("") }, "POST or PUT"),
            (RegisteredSpec { constants: vec![constant("k", ConstantPosition::Body, "v")], ..spec("") }, "POST or PUT"),
            (RegisteredSpec { constants: vec![constant("Host", ConstantPosition::Header, "v")], ..spec("") }, "itself"),
            (
                RegisteredSpec {
                    params: vec![param("k", ParamPosition::Query)],
                    constants: vec![constant("k", ConstantPosition::Query, "v")],
                    ..spec("")
                },
                "already set",
            ),
            (
                RegisteredSpec {
                    constants: vec![RegisteredConstant { value: None, ..constant("k", ConstantPosition::Query, "") }],
                    ..spec("")
                },
                "no value",
            ),
            (RegisteredSpec { timeout_ms: 0, ..spec("") }, "timeoutMs"),
            (
                RegisteredSpec {
                    params: vec![param("a", ParamPosition::Query), param("a", ParamPosition::Header)],
                    ..spec("")
                },
                "twice",
            ),
            (
                RegisteredSpec {
                    params: vec![RegisteredParam {
                        param_type: ParamType::INT,
                        default: Some("x".into()),
                        ..param("n", ParamPosition::Query)
                    }],
                    ..spec("")
                },
                "default",
            ),
        ];
        for (s, expected) in cases {
            let error = UpstreamRoute::compile(&definition(s.clone())).unwrap_err();
            assert!(error.message.contains(expected), "{s:?}: `{error}` lacks `{expected}`");
        }
    }

    #[test]
    fn compile_errors_name_their_field() {
        let cases = [
            (RegisteredSpec { timeout_ms: 0, ..spec("") }, "timeoutMs"),
            (RegisteredSpec { base_url: "ftp://example.com".into(), ..spec("") }, "baseUrl"),
            (RegisteredSpec { params: vec![param("x", ParamPosition::Body)], ..spec("") }, "params.x"),
            (RegisteredSpec { constants: vec![constant("k", ConstantPosition::Body, "v")], ..spec("") }, "constants.k"),
            (spec("/items/{id}"), "path"),
        ];
        for (s, field) in cases {
            let error = UpstreamRoute::compile(&definition(s.clone())).unwrap_err();
            assert_eq!(error.field.path(), field, "{s:?}: {error}");
        }
    }
}
