//! API definitions: what one version of an API does. Its mode (wizard, script, native, or
//! registered, in `registered`), request parameters and their types, response fields, options.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use super::callers::SecurityLevel;
use super::workflow::WorkflowSpec;

mod registered;

pub use registered::*;

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

/// Written as text, so the schema is written by hand: the canonical spellings (the store reads
/// any case and surrounding blanks too).
impl utoipa::PartialSchema for ParamType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let scalars = ["string", "int", "float", "decimal", "bool", "date", "datetime", "json"];
        let mut names: Vec<String> = scalars.iter().map(|s| (*s).to_owned()).collect();
        names.extend(scalars.iter().filter(|s| **s != "json").map(|s| format!("array<{s}>")));
        names.push("identifier".to_owned());
        text_enum(names, "A parameter or field type: a scalar, `array<scalar>` (not json), or `identifier`.")
    }
}

impl ToSchema for ParamType {}

/// A string schema that takes one of `values`.
fn text_enum(
    values: impl IntoIterator<Item = impl Into<String>>,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(values.into_iter().map(Into::into)))
        .description(Some(description))
        .into()
}

/// Where a caller puts a request parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, ToSchema)]
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

/// Written in its SQL spelling, so the schema is written by hand (the store also reads any
/// case, `==` and `<>`).
impl utoipa::PartialSchema for Operator {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        text_enum(Operator::ALL.map(Operator::as_sql), "How a wizard parameter compares with its column.")
    }
}

impl ToSchema for Operator {}

/// One request parameter of a data API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortDirection {
    Asc,
    Desc,
}

/// A response field's place in ORDER BY: lower priority sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct SortSpec {
    pub direction: SortDirection,
    #[serde(default)]
    pub priority: u32,
}

/// One response field of a data API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, ToSchema)]
pub enum ResultFormat {
    /// An array of objects.
    #[default]
    #[serde(rename = "JSON", alias = "json")]
    Json,
    /// Column names once, then rows as arrays.
    #[serde(rename = "JSONCompact", alias = "jsoncompact")]
    JsonCompact,
    /// An XML document: `<response>` with the envelope's fields and `<data><rows><row>…`
    /// (`docs/formats.md`).
    #[serde(rename = "XML", alias = "xml")]
    Xml,
    /// RFC 4180 CSV: a header row of column names, then the rows; the envelope's fields in
    /// response headers (`docs/formats.md`).
    #[serde(rename = "CSV", alias = "csv")]
    Csv,
}

impl ResultFormat {
    /// The name definitions spell it with.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultFormat::Json => "JSON",
            ResultFormat::JsonCompact => "JSONCompact",
            ResultFormat::Xml => "XML",
            ResultFormat::Csv => "CSV",
        }
    }
}

/// Execution options of a data API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
    /// How long answers are kept in the result cache (`docs/cache.md`). Absent: the mode's
    /// default, `system` for data and workflow APIs, `off` for registered ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheOptions>,
}

/// The result cache policy of a version (数据缓存时间).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheOptions {
    pub policy: CachePolicy,
    /// Seconds an answer is kept; only with `custom`, from 1 to 86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u32>,
}

/// Whether and for how long a version's answers are cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CachePolicy {
    /// The platform's default time (`[cache] default_ttl_secs`, 600 s).
    System,
    /// `ttlSecs` seconds.
    Custom,
    /// Never cached: every call runs.
    Off,
}

/// How a response field above the caller's clearance is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, ToSchema)]
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
            cache: None,
        }
    }
}

/// Wizard mode: one table, parameters become WHERE terms, fields the SELECT list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WizardSpec {
    pub table: String,
}

/// Script mode: a MyBatis-style SQL template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScriptSpec {
    pub sql: String,
}

/// Native mode: callers send one SELECT over the allowed tables and functions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NativeSpec {
    /// At most five tables, optionally schema-qualified.
    pub tables: Vec<String>,
    /// Functions allowed beyond the built-in safe set (aggregates, string and date helpers).
    #[serde(default)]
    pub functions: Vec<String>,
}

/// What kind of API a definition is, with what that kind needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum ApiMode {
    Wizard(WizardSpec),
    Script(ScriptSpec),
    Native(NativeSpec),
    Registered(RegisteredSpec),
    /// APIs and functions of the workgroup composed into one API (`docs/workflows.md`).
    Workflow(WorkflowSpec),
}

impl ApiMode {
    pub fn name(&self) -> &'static str {
        match self {
            ApiMode::Wizard(_) => "wizard",
            ApiMode::Script(_) => "script",
            ApiMode::Native(_) => "native",
            ApiMode::Registered(_) => "registered",
            ApiMode::Workflow(_) => "workflow",
        }
    }

    /// Whether the mode reads a datasource with SQL (wizard, script, native).
    pub fn is_sql(&self) -> bool {
        matches!(self, ApiMode::Wizard(_) | ApiMode::Script(_) | ApiMode::Native(_))
    }
}

/// Everything that defines how one version of a data API behaves.
///
/// A saved version is immutable; editing happens on the API's draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiDefinition {
    /// The datasource a SQL mode reads; `None` for registered and workflow APIs, which have none.
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
    /// The parameters callers send, with where they put them, and the key that lists them
    /// (`params` for registered APIs, `requestParams` for the rest).
    pub fn caller_params(&self) -> (&'static str, Vec<(&str, ParamPosition)>) {
        match &self.mode {
            ApiMode::Registered(spec) => {
                ("params", spec.params.iter().map(|p| (p.name.as_str(), p.position)).collect())
            }
            _ => ("requestParams", self.request_params.iter().map(|p| (p.name.as_str(), p.position)).collect()),
        }
    }

    /// A SHA-256 (hex) of the definition as readers see it: constant values left out, so a
    /// digest says nothing of a secret. Equal definitions have equal digests and any other
    /// change moves it; the store keeps it beside each draft and version (`draft_hash`,
    /// `definition_hash`) so that `apply` and the edge can tell what changed without reading
    /// definitions. A constant whose value alone changed keeps its digest: whoever compares
    /// definitions holding constants compares them opened.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        // Serializing a definition cannot fail: every field is plain data with string keys.
        let json = serde_json::to_vec(&self.redacted()).unwrap_or_default();
        hex::encode(Sha256::digest(&json))
    }

    /// Whether the definition holds registered constants, whose values its digest leaves out.
    pub fn has_constants(&self) -> bool {
        matches!(&self.mode, ApiMode::Registered(spec) if !spec.constants.is_empty())
    }

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn result_formats_read_as_documented_in_either_case() {
        for (text, format) in [
            ("JSON", ResultFormat::Json),
            ("JSONCompact", ResultFormat::JsonCompact),
            ("XML", ResultFormat::Xml),
            ("xml", ResultFormat::Xml),
            ("CSV", ResultFormat::Csv),
            ("csv", ResultFormat::Csv),
        ] {
            assert_eq!(serde_json::from_value::<ResultFormat>(serde_json::json!(text)).unwrap(), format);
        }
        assert_eq!(serde_json::to_value(ResultFormat::Xml).unwrap(), "XML");
        assert_eq!(ResultFormat::Csv.as_str(), "CSV");
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
