//! Between *choose version* and *invoke*: the call a plugin gets — its parameters gathered
//! by declared position (path, query, header, JSON body), path segments percent-decoded.

use std::collections::HashMap;

use catalog::model::Environment;
use catalog::model::ParamPosition;
use plugins::registered::percent_decode;
use plugins::sql::value::RawParam;
use plugins::{ApiError, ApiPlugin, BodyUse, Call, ErrorCode};

use super::CallHead;
use super::admit::Admitted;
use crate::request_headers::text as header_text;

/// The call `plugin` gets: parameters from where each is declared (the body parsed as JSON
/// only when the plugin reads parameters from it), with the caller's clearance and app.
pub(super) fn call_of(
    plugin: &dyn ApiPlugin,
    head: &CallHead<'_>,
    path_params: Vec<(String, String)>,
    body: Option<&[u8]>,
    caller: &Admitted,
    env: Environment,
) -> Result<Call, ApiError> {
    let reads_params = match plugin.body_use() {
        BodyUse::Params => true,
        BodyUse::Forwarded { reads_params } => reads_params,
    };
    let params_body = match body {
        Some(bytes) if reads_params => parse_params_body(bytes)?,
        _ => None,
    };
    let path_params = decode_path_params(path_params)?;
    let params = gather_params(plugin, head, &path_params, params_body.as_ref());
    Ok(Call {
        params,
        dry_run: false,
        clearance: Some(caller.clearance),
        app_id: caller.app.as_ref().map(|app| app.id),
        env,
        deadline: None,
        // Filled by *invoke* from the route; a call from outside runs at depth 0.
        workgroup_id: None,
        depth: 0,
        // Filled by *negotiate* from `Accept`.
        format: plugins::format::Requested::Configured,
    })
}

/// A body of parameters: nothing, or a JSON object.
fn parse_params_body(body: &[u8]) -> std::result::Result<Option<serde_json::Map<String, serde_json::Value>>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(ApiError::new(ErrorCode::InvalidRequestBody, "the body must be a JSON object of parameters")),
        Err(e) => Err(ApiError::new(
            ErrorCode::InvalidRequestBody,
            format!("the body is not valid JSON (line {}, column {})", e.line(), e.column()),
        )),
    }
}

/// Path parameters percent-decoded, as callers encode them.
fn decode_path_params(raw: Vec<(String, String)>) -> std::result::Result<Vec<(String, String)>, ApiError> {
    raw.into_iter()
        .map(|(name, value)| {
            if !value.contains('%') {
                return Ok((name, value));
            }
            match percent_decode(&value) {
                Some(decoded) => Ok((name, decoded)),
                None => Err(ApiError::invalid_parameter_because(&name, "the path segment is not UTF-8 once decoded")),
            }
        })
        .collect()
}

/// Collects raw parameters by name from where each is declared. Query and body parameters are
/// read from either place (GET callers use the query string, POST callers a JSON body); path
/// and header parameters only from their own place.
fn gather_params(
    plugin: &dyn ApiPlugin,
    head: &CallHead<'_>,
    path_params: &[(String, String)],
    body: Option<&serde_json::Map<String, serde_json::Value>>,
) -> HashMap<String, RawParam> {
    let query: HashMap<String, String> = url::form_urlencoded::parse(head.query.as_bytes()).into_owned().collect();
    let from_query = |name: &str| query.get(name).map(|v| RawParam::Text(v.clone()));
    let from_body = |name: &str| body.and_then(|b| b.get(name)).map(|v| RawParam::Json(v.clone()));
    let mut params = HashMap::new();
    for param in plugin.request_params() {
        let name = param.name.as_str();
        let value = match param.position {
            ParamPosition::Path => path_params.iter().find(|(k, _)| k == name).map(|(_, v)| RawParam::Text(v.clone())),
            ParamPosition::Header => {
                head.headers.get_named(name).and_then(header_text).map(|v| RawParam::Text(v.to_owned()))
            }
            ParamPosition::Query => from_query(name).or_else(|| from_body(name)),
            ParamPosition::Body => from_body(name).or_else(|| from_query(name)),
        };
        if let Some(value) = value {
            params.insert(param.name.clone(), value);
        }
    }
    for &reserved in plugin.reserved_params() {
        if let Some(value) = from_query(reserved).or_else(|| from_body(reserved)) {
            params.insert(reserved.to_owned(), value);
        }
    }
    params
}
