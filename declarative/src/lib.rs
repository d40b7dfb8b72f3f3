//! Declarative files: datasources, library functions, APIs and webhook channels written as YAML,
//! checked by `sluice check -f` and
//! written to the store by `sluice apply -f` (the format is documented in
//! `docs/declarative.md`).
//!
//! ```text
//!  load   files ─► documents (split on `---`, each with its file and first line)
//!         ─► typed specs; syntax, type and unknown-key errors with file:line        (load.rs)
//!  check  names, paths, methods, references, duplicates, mode keys, compile       (check.rs)
//!         registered APIs: the mapping compiles as the edge compiles it; base URLs
//!         pass the SSRF guard with the configured allow-list (check_upstreams)
//!         functions: names, the `handler` shape; with a sandbox, that they compile
//!         (check_functions); workflows call functions that exist (inline, the bundle,
//!         or for apply the store); webhook channels: names, URLs, events (no secrets:
//!         a secret is set over the management API and kept by apply)
//!  apply  workgroups, datasources, functions, webhooks, APIs matched by workgroup + name; a
//!         new version only when the definition (a workflow's with the library
//!         sources it calls) differs from the latest; publish; report               (apply.rs)
//! ```
//!
//! Every stage reports *every* problem it finds, each with the file and the line of the
//! offending document or key, instead of stopping at the first. Nothing here serves requests;
//! a running edge notices applied changes through the store's revision.

mod apply;
mod check;
mod load;
pub mod openapi;

#[cfg(test)]
mod openapi_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod webhook_tests;
#[cfg(test)]
mod workflow_tests;

use std::fmt;
use std::path::{Path, PathBuf};

use catalog::model::{
    ApiDefinition, ApiOptions, ApiSettings, AuthMode, ConstantPosition, Datasource, DatasourceKind, Environment,
    ErrorCode, ListingInfo, NotificationEvent, ParamPosition, RegisteredConstant, RegisteredParam, RegisteredSpec,
    RequestParam, ResponseField, SchemaValidation, SecurityLevel, UpstreamFormat, UpstreamMethod, VisibleRange,
    WebhookTemplate, WorkflowSpec,
};
use plugins::DefinitionError;
use serde::Deserialize;
use serde::de::IgnoredAny;

pub use apply::{
    ApiOutcome, ApplyOptions, ApplyReport, Change, DEFAULT_ACTOR, ObjectOutcome, Write, apply, apply_as, apply_with,
};
pub use check::{check, check_datasources, check_functions, check_upstreams};
pub use load::load;

/// One thing wrong with the files, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based; 0 when the problem concerns the whole file (it cannot be read) or no file.
    pub line: usize,
    pub message: String,
}

impl Problem {
    pub fn new(file: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Problem {
        Problem { file: file.into(), line, message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// Everything read from a set of files, in file order then document order.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub datasources: Vec<Sourced<DatasourceSpec>>,
    /// Functions of workgroups' libraries, which workflows call by name.
    pub functions: Vec<Sourced<FunctionSpec>>,
    pub apis: Vec<Sourced<ApiSpec>>,
    /// Workgroups' webhook channels, without secrets.
    pub webhooks: Vec<Sourced<WebhookSpec>>,
}

impl Bundle {
    pub fn is_empty(&self) -> bool {
        self.datasources.is_empty() && self.functions.is_empty() && self.apis.is_empty() && self.webhooks.is_empty()
    }

    /// The bundle's library function with this workgroup and name (the first, if defined twice).
    pub fn function(&self, workgroup: &str, name: &str) -> Option<&Sourced<FunctionSpec>> {
        self.functions.iter().find(|f| f.spec.workgroup == workgroup && f.spec.name == name)
    }

    /// The bundle's datasource with this workgroup and name (the first, if defined twice).
    pub fn datasource(&self, workgroup: &str, name: &str) -> Option<&Sourced<DatasourceSpec>> {
        self.datasources.iter().find(|d| d.spec.workgroup == workgroup && d.spec.name == name)
    }
}

/// A spec with the document it came from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub spec: T,
    pub origin: Origin,
}

/// Where a document is: its file, its first line, and its text for finding keys in it.
#[derive(Debug, Clone)]
pub struct Origin {
    pub file: PathBuf,
    /// The document's first line that is neither blank nor a comment (1-based).
    pub line: usize,
    /// The line number of `lines[0]`.
    first_line: usize,
    lines: Vec<String>,
}

impl Origin {
    fn new(file: &Path, first_line: usize, text: &str) -> Origin {
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let line = lines
            .iter()
            .position(|l| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#')
            })
            .map_or(first_line, |i| first_line + i);
        Origin { file: file.to_path_buf(), line, first_line, lines }
    }

    /// A problem at the document's first line.
    pub fn problem(&self, message: impl Into<String>) -> Problem {
        Problem::new(&self.file, self.line, message)
    }

    /// A problem at the line `line_of(path)` finds.
    pub fn problem_at(&self, path: &[&str], message: impl Into<String>) -> Problem {
        Problem::new(&self.file, self.line_of(path), message)
    }

    /// The line of a key, found by following `path` down the document: each step is a key
    /// (`requestParams`) or a key and its value (`name: id`), searched from the line after the
    /// previous step's. Stops at the deepest step found; the document's first line when even
    /// the first step is missing. Block style only, which is what people write; good enough
    /// to point at or just above the problem.
    pub fn line_of(&self, path: &[&str]) -> usize {
        let mut from = 0;
        let mut found = self.line;
        for (depth, step) in path.iter().enumerate() {
            let (key, value) = match step.split_once(": ") {
                Some((key, value)) => (key, Some(value)),
                None => (*step, None),
            };
            let rest = &self.lines[from.min(self.lines.len())..];
            // The first step is a top-level key: prefer an unindented line, so `name` finds the
            // API's name rather than a parameter's written above it.
            let top_level = if depth == 0 {
                rest.iter().position(|l| !l.starts_with([' ', '\t', '-']) && line_has_key(l, key, value))
            } else {
                None
            };
            match top_level.or_else(|| rest.iter().position(|l| line_has_key(l, key, value))) {
                Some(i) => {
                    found = self.first_line + from + i;
                    from += i + 1;
                }
                None => break,
            }
        }
        found
    }

    /// The line where a block scalar's text begins (after blank lines, which the template
    /// compiler trims), for a key such as `sql: |`; `None` when the value is not a block scalar.
    fn block_scalar_start(&self, key: &str) -> Option<usize> {
        let index = self.lines.iter().position(|l| line_has_key(l, key, None))?;
        let rest = self.lines[index].split_once(':')?.1.trim();
        if !(rest.starts_with('|') || rest.starts_with('>')) {
            return None;
        }
        let blank = self.lines[index + 1..].iter().take_while(|l| l.trim().is_empty()).count();
        Some(self.first_line + index + 1 + blank)
    }
}

/// Whether a YAML line holds `key:` (after indentation and list dashes), with `value` if given.
fn line_has_key(line: &str, key: &str, value: Option<&str>) -> bool {
    let mut rest = line.trim_start();
    while let Some(after_dash) = rest.strip_prefix("- ") {
        rest = after_dash.trim_start();
    }
    let rest = rest.strip_prefix('{').unwrap_or(rest).trim_start();
    let Some(after_key) = rest.strip_prefix(key).and_then(|r| r.strip_prefix(':')) else {
        return false;
    };
    match value {
        None => true,
        Some(value) => {
            let text = after_key.split(" #").next().unwrap_or("").trim();
            let text = text.split([',', '}']).next().unwrap_or("").trim();
            text.trim_matches(|c| c == '"' || c == '\'') == value
        }
    }
}

/// `kind: Datasource` — a database that APIs read from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DatasourceSpec {
    #[serde(rename = "kind", default)]
    _kind: IgnoredAny,
    pub workgroup: String,
    pub name: String,
    /// `sqlite`, `postgres` (`postgresql`) or `mysql` (`mariadb`).
    #[serde(rename = "type", deserialize_with = "datasource_kind")]
    pub kind: DatasourceKind,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The name of an environment variable holding the password, read by `apply`.
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub pool_size: Option<u32>,
}

/// Reads a datasource type with the catalog's spellings and message.
fn datasource_kind<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<DatasourceKind, D::Error> {
    let text = String::deserialize(deserializer)?;
    // Errors of a custom deserializer carry no position; naming the key lets the loader find it.
    text.trim().to_ascii_lowercase().parse().map_err(|e| serde::de::Error::custom(format!("type: {e}")))
}

impl DatasourceSpec {
    /// The datasource as the catalog stores it, without a password and ids.
    pub fn to_datasource(&self) -> Datasource {
        Datasource {
            id: 0,
            workgroup_id: 0,
            name: self.name.clone(),
            kind: self.kind,
            description: self.description.clone(),
            connection: catalog::model::ConnectionSettings {
                host: self.host.clone().unwrap_or_default(),
                port: self.port.unwrap_or(0),
                database: self.database.clone().unwrap_or_default(),
                username: self.username.clone().unwrap_or_default(),
                password: None,
                pool_size: self.pool_size,
            },
        }
    }
}

/// `kind: Function` — a function of a workgroup's library: Python defining
/// `def handler(event, context)` (a block scalar, `source: |`), which the workgroup's workflows
/// call by name. Applied before the APIs, so a workflow of the same files can call it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FunctionSpec {
    #[serde(rename = "kind", default)]
    _kind: IgnoredAny,
    pub workgroup: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub source: String,
}

/// `kind: Webhook` — a webhook channel of a workgroup's notifications. No secret: files are
/// kept in version control, so a channel's signing secret is set over the management API, and
/// `apply` keeps whatever secret the stored channel has.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookSpec {
    #[serde(rename = "kind", default)]
    _kind: IgnoredAny,
    pub workgroup: String,
    pub name: String,
    /// `http://` or `https://`, no user name or password.
    pub url: String,
    /// `json` (default), `lark` (also Feishu), `dingtalk` or `slack`.
    #[serde(default)]
    pub template: WebhookTemplate,
    /// The events sent to the channel; empty or absent: every event.
    #[serde(default)]
    pub events: Vec<NotificationEvent>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// Which kind of API a document describes; each needs its own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    Wizard,
    Script,
    Native,
    /// Forwarded to a third-party HTTP API: `upstream`, `params`, `errorCodes`.
    Registered,
    /// APIs of the workgroup composed into one: `workflow` (`docs/workflows.md`).
    Workflow,
}

/// `kind: Api` — a data API, its definition and where to publish it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiSpec {
    #[serde(rename = "kind", default)]
    _kind: IgnoredAny,
    pub workgroup: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub path: String,
    #[serde(default = "default_method")]
    pub method: String,
    /// A datasource name in the same workgroup (SQL modes; registered APIs have none).
    #[serde(default)]
    pub datasource: Option<String>,
    pub mode: ModeName,
    /// Wizard: the table.
    #[serde(default)]
    pub table: Option<String>,
    /// Script: the SQL template.
    #[serde(default)]
    pub sql: Option<String>,
    /// Native: the tables callers may query.
    #[serde(default)]
    pub tables: Option<Vec<String>>,
    /// Native: functions allowed beyond the built-in safe set.
    #[serde(default)]
    pub functions: Option<Vec<String>>,
    #[serde(default)]
    pub request_params: Vec<RequestParam>,
    #[serde(default)]
    pub response_fields: Vec<ResponseField>,
    #[serde(default)]
    pub options: ApiOptions,
    /// Registered: where calls go, with the constants injected into each.
    #[serde(default)]
    pub upstream: Option<UpstreamSpec>,
    /// Registered: the parameters callers send and where each goes upstream.
    #[serde(default)]
    pub params: Option<Vec<RegisteredParam>>,
    /// Registered: the upstream's documented errors.
    #[serde(default)]
    pub error_codes: Option<Vec<ErrorCode>>,
    /// Registered: JSON Schemas calls are checked against at the edge (`enabled`, `params`,
    /// `body`, `response`); imports fill it in.
    #[serde(default)]
    pub validation: Option<SchemaValidation>,
    /// Workflow: `start`, `nodes`, `deadlineMs`, `functions`, as in the REST definition.
    #[serde(default)]
    pub workflow: Option<WorkflowSpec>,
    /// Environments that serve the latest version after `apply`.
    #[serde(default = "default_publish")]
    pub publish: Vec<Environment>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub owner: String,
    /// Calls per second from all callers together; absent: no limit.
    #[serde(default)]
    pub max_qps: Option<u32>,
    #[serde(default)]
    pub security_level: SecurityLevel,
    #[serde(default)]
    pub visible_range: VisibleRange,
    /// `app` (default): callers need an app and a grant; `none`: a public API.
    #[serde(default)]
    pub auth_mode: AuthMode,
    /// The marketplace listing's draft (`category`, `tags`, `summary`, `documentation`,
    /// `successSample`, `failureSample`, `contact`). `apply` writes the draft only: listing it
    /// stays a request a platform admin approves.
    #[serde(default)]
    pub listing: Option<ListingInfo>,
}

fn default_method() -> String {
    "GET".to_owned()
}

/// `upstream:` of a registered API.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpstreamSpec {
    pub base_url: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub method: UpstreamMethod,
    #[serde(default = "default_upstream_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub response_format: UpstreamFormat,
    #[serde(default)]
    pub constants: Vec<ConstantSpec>,
}

fn default_upstream_timeout_ms() -> u64 {
    10_000
}

/// One of `upstream.constants`: its value in the file or in an environment variable.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConstantSpec {
    pub name: String,
    pub position: ConstantPosition,
    #[serde(default)]
    pub value: Option<String>,
    /// The name of an environment variable holding the value, read by `apply`.
    #[serde(default)]
    pub value_env: Option<String>,
}

fn default_publish() -> Vec<Environment> {
    vec![Environment::Prod]
}

impl ApiSpec {
    /// The catalog definition this spec describes, reading from `datasource_id` (`None` for
    /// registered APIs); `None` when the mode's own key is missing (which `check` reports).
    /// Constants carry the value written in the file; `apply` fills in `valueEnv` ones.
    /// The API's settings, tags normalized (sorted, without repeats); `check` refuses bad tags.
    pub fn settings(&self) -> ApiSettings {
        ApiSettings {
            tags: ApiSettings::normalize_tags(&self.tags),
            owner: self.owner.clone(),
            max_qps: self.max_qps,
            security_level: self.security_level,
            visible_range: self.visible_range,
            auth_mode: self.auth_mode,
        }
    }

    pub fn definition(&self, datasource_id: Option<i64>) -> Option<ApiDefinition> {
        use catalog::model::{ApiMode, NativeSpec, ScriptSpec, WizardSpec};
        let mode = match self.mode {
            ModeName::Wizard => ApiMode::Wizard(WizardSpec { table: self.table.clone()? }),
            ModeName::Script => ApiMode::Script(ScriptSpec { sql: self.sql.clone()? }),
            ModeName::Native => ApiMode::Native(NativeSpec {
                tables: self.tables.clone()?,
                functions: self.functions.clone().unwrap_or_default(),
            }),
            ModeName::Workflow => ApiMode::Workflow(self.workflow.clone()?),
            ModeName::Registered => {
                let upstream = self.upstream.as_ref()?;
                ApiMode::Registered(RegisteredSpec {
                    base_url: upstream.base_url.clone(),
                    path: upstream.path.clone(),
                    method: upstream.method,
                    params: self.params.clone().unwrap_or_default(),
                    constants: upstream
                        .constants
                        .iter()
                        .map(|c| RegisteredConstant {
                            name: c.name.clone(),
                            position: c.position,
                            value: c.value.clone(),
                        })
                        .collect(),
                    timeout_ms: upstream.timeout_ms,
                    response_format: upstream.response_format,
                    error_codes: self.error_codes.clone().unwrap_or_default(),
                    validation: self.validation.clone(),
                })
            }
        };
        Some(ApiDefinition {
            datasource_id,
            mode,
            request_params: self.request_params.clone(),
            response_fields: self.response_fields.clone(),
            options: self.options.clone(),
        })
    }

    /// The method as stored and routed: upper-case.
    pub fn method_upper(&self) -> String {
        self.method.trim().to_ascii_uppercase()
    }

    /// The parameters callers send, with where they put them, and the key that lists them.
    pub fn caller_params(&self) -> (&'static str, Vec<(&str, ParamPosition)>) {
        match self.mode {
            ModeName::Registered => {
                ("params", self.params.iter().flatten().map(|p| (p.name.as_str(), p.position)).collect())
            }
            _ => ("requestParams", self.request_params.iter().map(|p| (p.name.as_str(), p.position)).collect()),
        }
    }
}

/// The compile callback for [`check`] that the SQL plugin provides: the definition must
/// build a plan for its datasource. SQLite datasources compile without opening the file.
pub fn compile_sql(definition: &ApiDefinition, datasource: &Datasource) -> Result<(), DefinitionError> {
    plugins::cache::check_policy(definition)?;
    plugins::sql::SqlApi::compile(definition, datasource).map(|_| ())
}
