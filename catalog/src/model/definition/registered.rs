//! Registered mode: an API that forwards each call to a third-party HTTP API (its upstream),
//! with caller parameters mapped to upstream names and positions and constants injected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ParamPosition, ParamType};

/// The HTTP method a registered API uses towards its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, ToSchema)]
pub enum UpstreamMethod {
    #[default]
    #[serde(rename = "GET", alias = "get")]
    Get,
    #[serde(rename = "POST", alias = "post")]
    Post,
    #[serde(rename = "PUT", alias = "put")]
    Put,
    #[serde(rename = "DELETE", alias = "delete")]
    Delete,
}

impl UpstreamMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamMethod::Get => "GET",
            UpstreamMethod::Post => "POST",
            UpstreamMethod::Put => "PUT",
            UpstreamMethod::Delete => "DELETE",
        }
    }
}

/// What a registered API's upstream answers with. Responses pass through unchanged; the
/// format documents the API (OpenAPI) and nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, ToSchema)]
pub enum UpstreamFormat {
    #[default]
    #[serde(rename = "JSON", alias = "json")]
    Json,
    #[serde(rename = "XML", alias = "xml")]
    Xml,
}

/// One caller parameter of a registered API and where it goes upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredParam {
    /// The name callers use.
    pub name: String,
    /// The name upstream; `name` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_name: Option<String>,
    /// Where callers put it.
    #[serde(default)]
    pub position: ParamPosition,
    /// Where it goes upstream; `position` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_position: Option<ParamPosition>,
    /// Checked on every call (`InvalidParameter.<name>`); `string` when absent.
    #[serde(rename = "type", default = "string_type")]
    pub param_type: ParamType,
    #[serde(default)]
    pub required: bool,
    /// Sent upstream when the caller leaves the parameter out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

fn string_type() -> ParamType {
    ParamType::STRING
}

impl RegisteredParam {
    pub fn upstream_name(&self) -> &str {
        self.upstream_name.as_deref().unwrap_or(&self.name)
    }

    pub fn upstream_position(&self) -> ParamPosition {
        self.upstream_position.unwrap_or(self.position)
    }
}

/// Where a constant goes upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConstantPosition {
    Query,
    Header,
    Body,
}

impl ConstantPosition {
    pub fn as_str(self) -> &'static str {
        match self {
            ConstantPosition::Query => "query",
            ConstantPosition::Header => "header",
            ConstantPosition::Body => "body",
        }
    }
}

/// A value injected into every upstream call of a registered API, such as the backend's API
/// key. Callers never see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredConstant {
    /// The name upstream (query parameter, header or body field).
    pub name: String,
    pub position: ConstantPosition,
    /// Plain text only in memory: on the way in (the store seals it) or on the way to the edge
    /// (`Store::published` opens it). Reads leave it out (see
    /// [`ApiDefinition::redacted`](super::ApiDefinition::redacted)); writing a constant without
    /// a value keeps the value stored under the same name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A documented error of a registered API's upstream (documentation only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorCode {
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub solution: String,
}

/// Registered mode: calls are forwarded to a third-party HTTP API (the upstream), with caller
/// parameters mapped to upstream names and positions and constants injected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredSpec {
    /// `http` or `https`, with a path and no query: `https://api.example.com/v1`.
    pub base_url: String,
    /// Appended to the base URL's path; `{name}` segments are filled from parameters whose
    /// upstream position is `path`.
    #[serde(default)]
    pub path: String,
    /// The upstream method; the caller-facing method is the API's.
    #[serde(default)]
    pub method: UpstreamMethod,
    #[serde(default)]
    pub params: Vec<RegisteredParam>,
    #[serde(default)]
    pub constants: Vec<RegisteredConstant>,
    /// Bounds connecting and every wait for upstream data.
    #[serde(default = "default_upstream_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub response_format: UpstreamFormat,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_codes: Vec<ErrorCode>,
    /// JSON Schemas each call is checked against before it goes upstream; absent: only the
    /// parameters' types are checked. Imports fill it in; hand-registered APIs go without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<SchemaValidation>,
}

/// A registered API's schema validation: JSON Schemas (draft 2020-12 unless `$schema` says
/// otherwise) the edge compiles once per version and checks every call against, answering
/// `InvalidParameter.<name>` or `InvalidRequest.Body` with the JSON pointer at fault.
/// References must stay inside each schema: nothing is fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaValidation {
    /// Whether calls are checked; the schemas are kept either way. On when absent.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// A schema per caller parameter, by the name callers use, checked against the
    /// parameter's typed value (an `int` parameter's value is a JSON number).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = BTreeMap<String, serde_json::Value>)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// The schema of the JSON body the upstream gets from the body parameters (keyed by their
    /// upstream names), checked when a call carries any of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub body: Option<serde_json::Value>,
    /// The upstream's declared 2xx answer: kept for checks of answers, not applied to calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub response: Option<serde_json::Value>,
}

fn enabled_by_default() -> bool {
    true
}

fn default_upstream_timeout_ms() -> u64 {
    10_000
}
