//! The domain model: what a datasource and a data API are, as users define them.
//!
//! These types are plain data (serde in and out). They hold no connections and run nothing;
//! `plugins` compiles them into executable plans, `store` persists them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A team's space: datasources and APIs belong to exactly one workgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workgroup {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_at: i64,
}

/// Settings only platform admins change. The configuration file's `ssrf_allow` and
/// `dataset_roots` apply as well; these add to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformSettings {
    /// Hosts, addresses or CIDRs that datasources and registered upstreams may reach although
    /// the network policy refuses their range (loopback, private, …).
    pub network_allow: Vec<String>,
    /// Directories of SQLite files besides `<data dir>/datasets`.
    pub dataset_roots: Vec<DatasetRootSetting>,
}

/// A dataset root: shared (one directory per workgroup inside) or bound to one workgroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatasetRootSetting {
    /// An absolute directory path.
    pub path: String,
    /// The workgroup (by name) that owns the whole root; absent for a shared root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workgroup: Option<String>,
}

/// Which SQL engine a datasource speaks. MariaDB is served by `Mysql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasourceKind {
    Sqlite,
    Postgres,
    Mysql,
}

impl DatasourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DatasourceKind::Sqlite => "sqlite",
            DatasourceKind::Postgres => "postgres",
            DatasourceKind::Mysql => "mysql",
        }
    }
}

impl FromStr for DatasourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sqlite" => Ok(DatasourceKind::Sqlite),
            "postgres" | "postgresql" => Ok(DatasourceKind::Postgres),
            "mysql" | "mariadb" => Ok(DatasourceKind::Mysql),
            other => Err(format!("unknown datasource kind `{other}`: expected sqlite, postgres or mysql")),
        }
    }
}

/// How to reach a database. For SQLite only `database` (a file path) is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct ConnectionSettings {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    /// Plain text only in memory, on the way in or to the driver; encrypted at rest and never
    /// serialized back to readers (see `Datasource::redacted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Connections kept at most; `None` means about two per core.
    pub pool_size: Option<u32>,
}

/// A database that data APIs read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Datasource {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub workgroup_id: i64,
    pub name: String,
    pub kind: DatasourceKind,
    #[serde(default)]
    pub description: String,
    pub connection: ConnectionSettings,
}

impl Datasource {
    /// The same datasource with the password removed, for anything a reader sees.
    pub fn redacted(&self) -> Datasource {
        let mut copy = self.clone();
        copy.connection.password = None;
        copy
    }
}

/// A scalar parameter or field type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarType {
    String,
    Int,
    Float,
    Decimal,
    Bool,
    Date,
    DateTime,
    Json,
}

impl ScalarType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScalarType::String => "string",
            ScalarType::Int => "int",
            ScalarType::Float => "float",
            ScalarType::Decimal => "decimal",
            ScalarType::Bool => "bool",
            ScalarType::Date => "date",
            ScalarType::DateTime => "datetime",
            ScalarType::Json => "json",
        }
    }

    fn parse(s: &str) -> Option<ScalarType> {
        Some(match s {
            "string" => ScalarType::String,
            "int" => ScalarType::Int,
            "float" => ScalarType::Float,
            "decimal" => ScalarType::Decimal,
            "bool" => ScalarType::Bool,
            "date" => ScalarType::Date,
            "datetime" => ScalarType::DateTime,
            "json" => ScalarType::Json,
            _ => return None,
        })
    }
}

/// The declared type of a request parameter or response field.
///
/// Written as text in definitions: `string`, `int`, `float`, `decimal`, `bool`, `date`,
/// `datetime`, `json`, `array<int>` (any scalar but json inside), and `identifier` — a value
/// chosen from an explicit allow-list, the only kind that may be spliced raw (`${name}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    Scalar(ScalarType),
    Array(ScalarType),
    Identifier,
}

impl ParamType {
    pub const STRING: ParamType = ParamType::Scalar(ScalarType::String);
    pub const INT: ParamType = ParamType::Scalar(ScalarType::Int);
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamType::Scalar(s) => f.write_str(s.as_str()),
            ParamType::Array(s) => write!(f, "array<{}>", s.as_str()),
            ParamType::Identifier => f.write_str("identifier"),
        }
    }
}

impl FromStr for ParamType {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let s = text.trim().to_ascii_lowercase();
        if s == "identifier" {
            return Ok(ParamType::Identifier);
        }
        if let Some(inner) = s.strip_prefix("array<").and_then(|r| r.strip_suffix('>')) {
            return match ScalarType::parse(inner.trim()) {
                Some(ScalarType::Json) | None => {
                    Err(format!("unknown array type `{text}`: the item type must be a scalar such as array<int>"))
                }
                Some(item) => Ok(ParamType::Array(item)),
            };
        }
        ScalarType::parse(&s).map(ParamType::Scalar).ok_or_else(|| {
            format!(
                "unknown type `{text}`: expected string, int, float, decimal, bool, date, datetime, json, array<scalar> or identifier"
            )
        })
    }
}

impl Serialize for ParamType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ParamType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a caller puts a request parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ParamPosition {
    #[default]
    Query,
    Path,
    Header,
    Body,
}

impl ParamPosition {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamPosition::Query => "query",
            ParamPosition::Path => "path",
            ParamPosition::Header => "header",
            ParamPosition::Body => "body",
        }
    }
}

/// How a wizard parameter compares with its bound column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Operator {
    #[default]
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Like,
    NotLike,
    In,
    NotIn,
}

impl Operator {
    pub const ALL: [Operator; 10] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Gt,
        Operator::Lt,
        Operator::Ge,
        Operator::Le,
        Operator::Like,
        Operator::NotLike,
        Operator::In,
        Operator::NotIn,
    ];

    /// The SQL spelling, which is also how definitions write it.
    pub fn as_sql(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Gt => ">",
            Operator::Lt => "<",
            Operator::Ge => ">=",
            Operator::Le => "<=",
            Operator::Like => "LIKE",
            Operator::NotLike => "NOT LIKE",
            Operator::In => "IN",
            Operator::NotIn => "NOT IN",
        }
    }

    /// `IN` and `NOT IN` take a list.
    pub fn takes_list(self) -> bool {
        matches!(self, Operator::In | Operator::NotIn)
    }
}

impl FromStr for Operator {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let normalized = text.split_whitespace().collect::<Vec<_>>().join(" ");
        Operator::ALL
            .into_iter()
            .find(|op| op.as_sql().eq_ignore_ascii_case(&normalized))
            .or(match normalized.as_str() {
                "==" => Some(Operator::Eq),
                "<>" => Some(Operator::Ne),
                _ => None,
            })
            .ok_or_else(|| {
                format!("unknown operator `{text}`: expected =, !=, >, <, >=, <=, LIKE, NOT LIKE, IN or NOT IN")
            })
    }
}

impl Serialize for Operator {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_sql())
    }
}

impl<'de> Deserialize<'de> for Operator {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Data security levels, from public (L1) to confidential (L4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub enum SecurityLevel {
    #[default]
    L1,
    L2,
    L3,
    L4,
}

/// One request parameter of a data API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestParam {
    pub name: String,
    #[serde(rename = "type")]
    pub param_type: ParamType,
    #[serde(default)]
    pub position: ParamPosition,
    /// The column this parameter filters (wizard mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default)]
    pub operator: Operator,
    #[serde(default)]
    pub required: bool,
    /// Used when the caller leaves the parameter out; text in the parameter's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub security_level: SecurityLevel,
    /// The values an `identifier` parameter may take.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
}

impl RequestParam {
    /// An optional query parameter of `param_type` with every other setting at its default.
    pub fn new(name: impl Into<String>, param_type: ParamType) -> RequestParam {
        RequestParam {
            name: name.into(),
            param_type,
            position: ParamPosition::Query,
            column: None,
            operator: Operator::Eq,
            required: false,
            default: None,
            example: None,
            description: String::new(),
            security_level: SecurityLevel::L1,
            allowed_values: Vec::new(),
        }
    }
}

/// Sort direction of a response field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortDirection {
    Asc,
    Desc,
}

/// A response field's place in ORDER BY: lower priority sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SortSpec {
    pub direction: SortDirection,
    #[serde(default)]
    pub priority: u32,
}

/// One response field of a data API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseField {
    pub name: String,
    /// The column it reads (wizard mode); defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(rename = "type")]
    pub field_type: ParamType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortSpec>,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub security_level: SecurityLevel,
}

impl ResponseField {
    pub fn column_name(&self) -> &str {
        self.column.as_deref().unwrap_or(&self.name)
    }
}

/// How the `data` part of a response is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum ResultFormat {
    /// An array of objects.
    #[default]
    #[serde(rename = "JSON", alias = "json")]
    Json,
    /// Column names once, then rows as arrays.
    #[serde(rename = "JSONCompact", alias = "jsoncompact")]
    JsonCompact,
}

/// Execution options of a data API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApiOptions {
    /// No call returns more rows than this.
    pub max_limit: u32,
    /// A call running longer is cancelled with `Timeout`.
    pub timeout_ms: u64,
    pub result_format: ResultFormat,
    /// Accept `pageNum` / `pageSize` (and `withTotal`).
    pub pagination: bool,
    /// What a caller whose clearance is below a field's security level gets for that field.
    pub mask_mode: MaskMode,
}

/// How a response field above the caller's clearance is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MaskMode {
    /// The field stays, its value replaced by a fixed mask.
    #[default]
    Mask,
    /// The field is left out.
    Omit,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            max_limit: 1000,
            timeout_ms: 10_000,
            result_format: ResultFormat::Json,
            pagination: false,
            mask_mode: MaskMode::Mask,
        }
    }
}

/// Wizard mode: one table, parameters become WHERE terms, fields the SELECT list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WizardSpec {
    pub table: String,
}

/// Script mode: a MyBatis-style SQL template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScriptSpec {
    pub sql: String,
}

/// Native mode: callers send one SELECT over the allowed tables and functions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NativeSpec {
    /// At most five tables, optionally schema-qualified.
    pub tables: Vec<String>,
    /// Functions allowed beyond the built-in safe set (aggregates, string and date helpers).
    #[serde(default)]
    pub functions: Vec<String>,
}

/// The HTTP method a registered API uses towards its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum UpstreamFormat {
    #[default]
    #[serde(rename = "JSON", alias = "json")]
    Json,
    #[serde(rename = "XML", alias = "xml")]
    Xml,
}

/// One caller parameter of a registered API and where it goes upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredConstant {
    /// The name upstream (query parameter, header or body field).
    pub name: String,
    pub position: ConstantPosition,
    /// Plain text only in memory: on the way in (the store seals it) or on the way to the edge
    /// (`Store::published` opens it). Reads leave it out (see [`ApiDefinition::redacted`]);
    /// writing a constant without a value keeps the value stored under the same name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A documented error of a registered API's upstream (documentation only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

fn default_upstream_timeout_ms() -> u64 {
    10_000
}

/// What kind of API a definition is, with what that kind needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum ApiMode {
    Wizard(WizardSpec),
    Script(ScriptSpec),
    Native(NativeSpec),
    Registered(RegisteredSpec),
}

impl ApiMode {
    pub fn name(&self) -> &'static str {
        match self {
            ApiMode::Wizard(_) => "wizard",
            ApiMode::Script(_) => "script",
            ApiMode::Native(_) => "native",
            ApiMode::Registered(_) => "registered",
        }
    }

    /// Whether the mode reads a datasource with SQL (wizard, script, native).
    pub fn is_sql(&self) -> bool {
        !matches!(self, ApiMode::Registered(_))
    }
}

/// Everything that defines how one version of a data API behaves.
///
/// A saved version is immutable; editing happens on the API's draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiDefinition {
    /// The datasource a SQL mode reads; `None` for registered APIs, which have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource_id: Option<i64>,
    #[serde(flatten)]
    pub mode: ApiMode,
    #[serde(default)]
    pub request_params: Vec<RequestParam>,
    #[serde(default)]
    pub response_fields: Vec<ResponseField>,
    #[serde(default)]
    pub options: ApiOptions,
}

impl ApiDefinition {
    /// The same definition without constant values, for anything a reader sees.
    pub fn redacted(&self) -> ApiDefinition {
        let mut copy = self.clone();
        if let ApiMode::Registered(spec) = &mut copy.mode {
            for constant in &mut spec.constants {
                constant.value = None;
            }
        }
        copy
    }
}

/// An API as a user manages it: identity, metadata and its editable draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Api {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub workgroup_id: i64,
    pub name: String,
    pub path: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    pub description: String,
    /// The folder the API sits in; `None` is the workgroup's root. Set at creation or by
    /// `Store::move_api`; `Store::update_api` leaves it alone.
    #[serde(default)]
    pub folder_id: Option<i64>,
    #[serde(flatten)]
    pub settings: ApiSettings,
    pub draft: ApiDefinition,
}

/// API metadata that holds for every version and takes effect when it is saved, without a
/// new version: who answers for the API, how it is found, and who may call it how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct ApiSettings {
    /// At most 10, each 1–32 characters, no commas; kept sorted and without repeats.
    pub tags: Vec<String>,
    /// Who answers for the API (free text, e.g. a user name or a team).
    pub owner: String,
    /// The most calls per second the API takes from all callers together; `None`: no limit.
    pub max_qps: Option<u32>,
    /// The clearance an app needs to be granted and to call the API.
    pub security_level: SecurityLevel,
    pub visible_range: VisibleRange,
    pub auth_mode: AuthMode,
}

/// The most tags an API has, and the longest tag.
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_CHARS: usize = 32;

impl ApiSettings {
    /// Tags in stored form: trimmed, sorted, each once. What a user typed goes through this
    /// before [`ApiSettings::check`].
    pub fn normalize_tags(tags: &[String]) -> Vec<String> {
        let mut normalized: Vec<String> = tags.iter().map(|t| t.trim().to_owned()).collect();
        normalized.sort();
        normalized.dedup();
        normalized
    }

    /// The one set of rules for settings, wherever they come from (REST, files, the store):
    /// the error names the key at fault (`tags`, `maxQps`) and says why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.tags.len() > MAX_TAGS {
            return Err(("tags", format!("an API has at most {MAX_TAGS} tags")));
        }
        for tag in &self.tags {
            let length = tag.chars().count();
            if tag.trim() != tag
                || length == 0
                || length > MAX_TAG_CHARS
                || tag.chars().any(|c| c == ',' || c.is_control())
            {
                return Err((
                    "tags",
                    format!(
                        "tag `{tag}`: 1 to {MAX_TAG_CHARS} characters, no commas, control characters or surrounding spaces"
                    ),
                ));
            }
        }
        if self.max_qps == Some(0) {
            return Err(("maxQps", "max QPS is at least 1; leave it out for no limit".to_owned()));
        }
        Ok(())
    }
}

/// Which apps an API may be granted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VisibleRange {
    /// Apps of the API's own workgroup only.
    #[default]
    Private,
    /// Apps of any workgroup (the API is listed for others to apply for).
    Public,
}

/// How callers of an API prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// An app key with a bearer app token or an HMAC signature, and a grant.
    #[default]
    App,
    /// Anyone may call; for APIs explicitly meant to be public.
    None,
}

impl VisibleRange {
    pub fn as_str(self) -> &'static str {
        match self {
            VisibleRange::Private => "private",
            VisibleRange::Public => "public",
        }
    }
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::App => "app",
            AuthMode::None => "none",
        }
    }
}

impl SecurityLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityLevel::L1 => "L1",
            SecurityLevel::L2 => "L2",
            SecurityLevel::L3 => "L3",
            SecurityLevel::L4 => "L4",
        }
    }
}

impl FromStr for SecurityLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "L1" => Ok(SecurityLevel::L1),
            "L2" => Ok(SecurityLevel::L2),
            "L3" => Ok(SecurityLevel::L3),
            "L4" => Ok(SecurityLevel::L4),
            _ => Err(format!("unknown security level `{s}`: expected L1, L2, L3 or L4")),
        }
    }
}

fn default_method() -> String {
    "GET".to_owned()
}

/// One immutable, numbered version of an API (V0, V1, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiVersion {
    pub api_id: i64,
    pub number: i64,
    #[serde(default)]
    pub description: String,
    pub definition: ApiDefinition,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

impl ApiVersion {
    pub fn label(&self) -> String {
        format!("V{}", self.number)
    }
}

/// Where a published API version is served. Production is the default environment; `test`
/// lets callers try a version before production serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Test,
    #[default]
    Prod,
}

impl Environment {
    /// Every environment, production first.
    pub const ALL: [Environment; 2] = [Environment::Prod, Environment::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Test => "test",
            Environment::Prod => "prod",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "test" => Ok(Environment::Test),
            "prod" => Ok(Environment::Prod),
            _ => Err(format!("unknown environment `{s}`: expected prod or test")),
        }
    }
}

/// Which version of an API one environment serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Publication {
    pub api_id: i64,
    pub environment: Environment,
    /// The version's number (`V{version}`).
    pub version: i64,
    /// Milliseconds since the Unix epoch.
    pub published_at: i64,
}

/// A caller's application: identified by its public `app_key`, proven by a secret that is shown
/// once, at creation, and kept sealed by the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub workgroup_id: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Public and unique across the installation; callers send it with every call.
    #[serde(default)]
    pub app_key: String,
    /// Addresses calls may come from, as CIDRs (`10.0.0.0/8`, `2001:db8::/32`, or one
    /// address); empty: anywhere.
    #[serde(default)]
    pub ip_allow: Vec<String>,
    /// The highest security level of data the app sees unmasked.
    #[serde(default)]
    pub clearance: SecurityLevel,
    /// A disabled app's calls are refused like those of an unknown one.
    #[serde(default)]
    pub disabled: bool,
    /// While a rotated-out secret still works: until this time (milliseconds since the Unix
    /// epoch). `None` when no previous secret is valid.
    #[serde(default)]
    pub previous_secret_expires_at: Option<i64>,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_at: i64,
}

/// A bearer token of an app: sent with the app key, valid until it expires or is revoked.
/// Only its SHA-256 is stored; the text is shown once, when it is issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppToken {
    pub id: i64,
    pub app_id: i64,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

/// Permission for an app to call an API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    #[serde(default)]
    pub id: i64,
    pub api_id: i64,
    pub app_id: i64,
    /// Milliseconds since the Unix epoch; `None`: no end.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Calls per second for this app on this API; `None`: only the API's limit applies.
    #[serde(default)]
    pub qps: Option<u32>,
    #[serde(default)]
    pub created_at: i64,
    /// The user who granted it.
    #[serde(default)]
    pub created_by: String,
}

/// Gray release of one API in one environment: `percent` of callers (by a hash of their app
/// key) get `version` instead of the published one, while `enabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrayStrategy {
    pub api_id: i64,
    pub environment: Environment,
    pub version: i64,
    /// 0–100.
    pub percent: u8,
    pub enabled: bool,
    #[serde(default)]
    pub updated_at: i64,
}

/// Someone who uses the management API. Users authenticate with [`ApiToken`]s only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub id: i64,
    /// Letters, digits, `_`, `.` and `-`, at most 64; unique whatever its case.
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    /// May do anything, in every workgroup.
    #[serde(default)]
    pub platform_admin: bool,
    /// A disabled user's tokens authenticate nobody.
    #[serde(default)]
    pub disabled: bool,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_at: i64,
}

/// A change to a user; each `None` keeps what is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub platform_admin: Option<bool>,
    pub disabled: Option<bool>,
}

/// A token a user authenticates with. The token text is shown once, at creation; the store
/// keeps only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The token's first characters (at most 8, and at most a quarter of it), to tell tokens
    /// apart in a list.
    pub prefix: String,
    /// Milliseconds since the Unix epoch, as are the other times.
    pub created_at: i64,
    /// `None`: never expires.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// When it last authenticated, to the minute.
    #[serde(default)]
    pub last_used_at: Option<i64>,
    #[serde(default)]
    pub revoked: bool,
}

impl ApiToken {
    /// Whether the token authenticates at `now_ms` (its user aside): not revoked, not expired.
    pub fn is_active(&self, now_ms: i64) -> bool {
        !self.revoked && self.expires_at.is_none_or(|expires_at| now_ms < expires_at)
    }
}

/// What a member may do in a workgroup. Admins manage the workgroup and its members,
/// developers build and publish APIs, viewers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkgroupRole {
    Admin,
    Developer,
    Viewer,
}

impl WorkgroupRole {
    pub const ALL: [WorkgroupRole; 3] = [WorkgroupRole::Admin, WorkgroupRole::Developer, WorkgroupRole::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkgroupRole::Admin => "admin",
            WorkgroupRole::Developer => "developer",
            WorkgroupRole::Viewer => "viewer",
        }
    }

    /// Whether this role may do what `needed` may: admin ⊇ developer ⊇ viewer.
    pub fn includes(self, needed: WorkgroupRole) -> bool {
        self.rank() >= needed.rank()
    }

    fn rank(self) -> u8 {
        match self {
            WorkgroupRole::Admin => 2,
            WorkgroupRole::Developer => 1,
            WorkgroupRole::Viewer => 0,
        }
    }
}

impl fmt::Display for WorkgroupRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkgroupRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(WorkgroupRole::Admin),
            "developer" => Ok(WorkgroupRole::Developer),
            "viewer" => Ok(WorkgroupRole::Viewer),
            _ => Err(format!("unknown role `{s}`: expected admin, developer or viewer")),
        }
    }
}

/// A user's role in one workgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub workgroup_id: i64,
    pub user_id: i64,
    pub role: WorkgroupRole,
    /// Milliseconds since the Unix epoch; kept when the role changes.
    pub added_at: i64,
}

/// A folder of a workgroup's API tree: at most three levels under the root, sibling names
/// unique (case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Folder {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub workgroup_id: i64,
    /// `None`: directly under the workgroup's root.
    #[serde(default)]
    pub parent_id: Option<i64>,
    pub name: String,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub created_at: i64,
}

/// One recorded change: who did what to what. Details never hold secrets (the store masks
/// values under keys that name one, such as `password` or `secret`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Given by the store; ignored when appending.
    #[serde(default)]
    pub id: i64,
    /// Milliseconds since the Unix epoch; `0` when appending means now.
    #[serde(default)]
    pub at: i64,
    /// The user (name or id) who made the change.
    pub actor: String,
    /// What was done, as `thing.verb`: `api.create`, `datasource.update`, `version.publish`.
    pub action: String,
    /// The workgroup it happened in, if any.
    #[serde(default)]
    pub workgroup_id: Option<i64>,
    /// What it was done to, as `kind:id`: `api:12`.
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_as_lowercase_words_and_nest() {
        assert_eq!(serde_json::to_string(&WorkgroupRole::Developer).unwrap(), "\"developer\"");
        assert_eq!(serde_json::from_str::<WorkgroupRole>("\"viewer\"").unwrap(), WorkgroupRole::Viewer);
        assert_eq!(" Admin ".parse::<WorkgroupRole>().unwrap(), WorkgroupRole::Admin);
        assert!("owner".parse::<WorkgroupRole>().unwrap_err().contains("developer"));
        for role in WorkgroupRole::ALL {
            assert_eq!(role.as_str().parse::<WorkgroupRole>().unwrap(), role);
            assert!(role.includes(WorkgroupRole::Viewer) && WorkgroupRole::Admin.includes(role));
        }
        assert!(!WorkgroupRole::Viewer.includes(WorkgroupRole::Developer));
        assert!(!WorkgroupRole::Developer.includes(WorkgroupRole::Admin));
    }

    #[test]
    fn apis_without_a_folder_read_from_older_json() {
        let json = r#"{"name": "a", "path": "/a", "draft": {"datasourceId": 1, "mode": "wizard", "table": "t"}}"#;
        let api: Api = serde_json::from_str(json).unwrap();
        assert_eq!(api.folder_id, None);
        let shown = serde_json::to_value(&api).unwrap();
        assert_eq!(shown["folderId"], serde_json::Value::Null);
    }

    #[test]
    fn tokens_are_active_until_revoked_or_expired() {
        let token = ApiToken {
            id: 1,
            user_id: 1,
            name: "ci".into(),
            prefix: "slt_abcd".into(),
            created_at: 0,
            expires_at: Some(1_000),
            last_used_at: None,
            revoked: false,
        };
        assert!(token.is_active(999));
        assert!(!token.is_active(1_000));
        assert!(ApiToken { expires_at: None, ..token.clone() }.is_active(i64::MAX));
        assert!(!ApiToken { revoked: true, expires_at: None, ..token }.is_active(0));
    }

    #[test]
    fn param_types_round_trip_through_text() {
        for text in ["string", "int", "decimal", "datetime", "json", "array<int>", "array<date>", "identifier"] {
            let parsed: ParamType = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        assert!("array<json>".parse::<ParamType>().is_err());
        assert!("map<int>".parse::<ParamType>().is_err());
    }

    #[test]
    fn operators_parse_case_and_space_insensitively() {
        assert_eq!("not   like".parse::<Operator>().unwrap(), Operator::NotLike);
        assert_eq!("<>".parse::<Operator>().unwrap(), Operator::Ne);
        assert!("~".parse::<Operator>().is_err());
    }

    #[test]
    fn environments_are_lowercase_words_and_default_to_prod() {
        assert_eq!(Environment::default(), Environment::Prod);
        assert_eq!("test".parse::<Environment>().unwrap(), Environment::Test);
        assert_eq!(" PROD ".parse::<Environment>().unwrap(), Environment::Prod);
        assert!("staging".parse::<Environment>().unwrap_err().contains("prod or test"));
        assert_eq!(serde_json::to_string(&Environment::Test).unwrap(), "\"test\"");
        assert_eq!(serde_json::from_str::<Environment>("\"prod\"").unwrap(), Environment::Prod);
        for env in Environment::ALL {
            assert_eq!(env.as_str().parse::<Environment>().unwrap(), env);
            assert_eq!(env.to_string(), env.as_str());
        }
    }

    #[test]
    fn definition_reads_the_documented_json_shape() {
        let json = r#"{
            "datasourceId": 1, "mode": "wizard", "table": "users",
            "requestParams": [{"name": "ids", "type": "array<int>", "column": "id", "operator": "IN"}],
            "responseFields": [{"name": "id", "type": "int", "sort": {"direction": "desc", "priority": 0}}],
            "options": {"maxLimit": 50, "resultFormat": "JSONCompact"}
        }"#;
        let def: ApiDefinition = serde_json::from_str(json).unwrap();
        assert_eq!(def.mode, ApiMode::Wizard(WizardSpec { table: "users".into() }));
        assert_eq!(def.request_params[0].operator, Operator::In);
        assert_eq!(def.options.max_limit, 50);
        assert_eq!(def.options.timeout_ms, 10_000);
        assert_eq!(def.options.result_format, ResultFormat::JsonCompact);
        assert_eq!(def.datasource_id, Some(1));
    }

    #[test]
    fn registered_definitions_read_with_defaults_and_redact_constants() {
        let json = r#"{
            "mode": "registered", "baseUrl": "https://api.example.com/v1", "path": "/items/{id}",
            "params": [{"name": "id", "position": "path"}, {"name": "q", "upstreamName": "query", "upstreamPosition": "header"}],
            "constants": [{"name": "apikey", "position": "query", "value": "s3cret"}],
            "responseFormat": "XML"
        }"#;
        let def: ApiDefinition = serde_json::from_str(json).unwrap();
        assert_eq!(def.datasource_id, None);
        let ApiMode::Registered(spec) = &def.mode else { panic!("{def:?}") };
        assert_eq!(spec.method, UpstreamMethod::Get);
        assert_eq!(spec.timeout_ms, 10_000);
        assert_eq!(spec.response_format, UpstreamFormat::Xml);
        assert_eq!(spec.params[0].param_type, ParamType::STRING);
        assert_eq!((spec.params[0].upstream_name(), spec.params[0].upstream_position()), ("id", ParamPosition::Path));
        assert_eq!(
            (spec.params[1].upstream_name(), spec.params[1].upstream_position()),
            ("query", ParamPosition::Header)
        );
        assert!(!def.mode.is_sql());
        let shown = serde_json::to_string(&def.redacted()).unwrap();
        assert!(!shown.contains("s3cret") && !shown.contains("datasourceId"), "{shown}");
        let back: ApiDefinition = serde_json::from_str(&serde_json::to_string(&def).unwrap()).unwrap();
        assert_eq!(back, def);
    }
}
