//! The SQL plugin: wizard, script and native data APIs over SQLite, PostgreSQL and MySQL.
//!
//! One pipeline serves every mode:
//!
//! ```text
//!  parse (value)      caller's raw params ─► typed values, or MissingParameter / InvalidParameter
//!  plan               built once per version by SqlApi::compile (WizardPlan / ScriptTemplate / NativePolicy)
//!  render (render)    plan + values ─► SQL text with placeholders + bind values
//!  execute (execute)  pooled connection, read-only session, per-API timeout, row cap
//!  encode (encode)    rows ─► JSON / JSONCompact / XML / CSV bytes of the response's `data`
//! ```
//!
//! Past 600 lines only with its unit tests.

pub mod access;
pub mod dialect;
pub mod encode;
pub mod execute;
pub mod lite;
pub mod mask;
pub mod native;
pub mod reject;
pub mod render;
pub mod schema;
pub mod script;
pub mod value;
pub mod wizard;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog::model::{
    ApiDefinition, ApiMode, Datasource, DatasourceKind, ParamType, RequestParam, ResponseField, ScalarType,
    SecurityLevel,
};

use crate::error::{ApiError, DefinitionError, DefinitionField};
use crate::{Call, CallOutput};
use dialect::Dialect;
use encode::PageInfo;
use execute::{PoolRegistry, PoolSource, RunError, RunSpec};
use mask::Masking;
use native::{NativePolicy, Restricted};
use reject::LogLimiter;
use render::{RenderedSql, SqlBuilder};
use script::ScriptTemplate;
use value::{ParamValues, RawParam, Value};
use wizard::WizardPlan;

/// Request parameters every paginated API understands; definitions cannot reuse these names.
pub const PAGE_NUM: &str = "pageNum";
pub const PAGE_SIZE: &str = "pageSize";
pub const WITH_TOTAL: &str = "withTotal";
/// The query a caller sends to a native API.
pub const NATIVE_SQL: &str = "sql";
const RESERVED: [&str; 5] = [PAGE_NUM, PAGE_SIZE, WITH_TOTAL, "with_total", NATIVE_SQL];

/// Page size when a paginated call names none.
const DEFAULT_PAGE_SIZE: u64 = 10;

/// Time spent in each stage of one call (for `Server-Timing`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimings {
    pub parse: Duration,
    pub plan: Duration,
    pub execute: Duration,
    pub encode: Duration,
}

/// What a dry run answers: the statement that would run, without running it.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRun {
    pub sql: String,
    pub binds: Vec<Value>,
    pub count_sql: Option<String>,
    pub plan: serde_json::Value,
}

impl DryRun {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sql": self.sql,
            "binds": self.binds.iter().map(Value::to_json).collect::<Vec<_>>(),
            "countSql": self.count_sql,
            "plan": self.plan,
        })
    }
}

/// How one mode turns values into SQL.
#[derive(Debug, Clone)]
enum ModePlan {
    Wizard(WizardPlan),
    Script { template: ScriptTemplate, has_own_limit: bool },
    Native(NativePolicy),
}

/// A data API version compiled for its datasource: validated once, invoked many times.
#[derive(Debug, Clone)]
pub struct SqlApi {
    source: PoolSource,
    dialect: Dialect,
    definition: ApiDefinition,
    plan: ModePlan,
    /// What a caller with each clearance (L1…L4) may not use or see.
    guards: [Guard; 4],
    /// Paces the log lines of statements the database refused (shared by clones).
    rejections: Arc<LogLimiter>,
}

/// What is above one clearance, worked out at compile so a call only looks it up.
#[derive(Debug, Clone, Default)]
struct Guard {
    /// Request parameters above it (indices into `request_params`).
    params: Vec<usize>,
    /// Wizard and script: the result columns to hide (`None`: none).
    masking: Option<Masking>,
    /// Wizard: the `SELECT … FROM` that does not read hidden fields.
    wizard_select: Option<String>,
    /// Native: the restricted columns.
    native: Option<Restricted>,
}

impl Guard {
    fn compile(definition: &ApiDefinition, dialect: Dialect, plan: &ModePlan, clearance: SecurityLevel) -> Guard {
        let params = (definition.request_params.iter().enumerate())
            .filter(|(_, p)| p.security_level > clearance)
            .map(|(i, _)| i)
            .collect();
        let fields = &definition.response_fields;
        let hidden: Vec<usize> =
            fields.iter().enumerate().filter(|(_, f)| f.security_level > clearance).map(|(i, _)| i).collect();
        let mut guard = Guard { params, ..Guard::default() };
        if hidden.is_empty() {
            return guard;
        }
        let mode = definition.options.mask_mode;
        match plan {
            ModePlan::Wizard(plan) => {
                let (select, positions) = plan.select_hiding(dialect, fields, &hidden, mode);
                guard.wizard_select = Some(select);
                guard.masking = (!positions.is_empty()).then(|| Masking::by_position(mode, positions));
            }
            ModePlan::Script { .. } => {
                let names: Vec<&str> = hidden.iter().map(|&i| fields[i].name.as_str()).collect();
                guard.masking = Some(Masking::by_name(mode, &names));
            }
            ModePlan::Native(policy) => {
                let restricted: Vec<&ResponseField> = hidden.iter().map(|&i| &fields[i]).collect();
                guard.native = Some(policy.restrict(&restricted, mode));
            }
        }
        guard
    }

    /// Refuses parameters above the clearance that the caller sent (in any form, even empty
    /// or null) or that the API requires. Absent optional ones keep their default.
    fn check_params(&self, params: &[RequestParam], raw: &HashMap<String, RawParam>) -> Result<(), ApiError> {
        for &i in &self.params {
            let param = &params[i];
            if param.required || raw.contains_key(&param.name) {
                return Err(ApiError::forbidden_parameter(&param.name, param.security_level));
            }
        }
        Ok(())
    }
}

const LEVELS: [SecurityLevel; 4] = [SecurityLevel::L1, SecurityLevel::L2, SecurityLevel::L3, SecurityLevel::L4];

fn level_index(level: SecurityLevel) -> usize {
    LEVELS.iter().position(|l| *l == level).unwrap_or(0)
}

/// A page request read from the reserved parameters.
#[derive(Debug, Clone, Copy)]
struct Page {
    num: u64,
    size: u64,
    with_total: bool,
}

impl SqlApi {
    /// Validates a definition against its datasource and builds its plan.
    /// Errors are `InvalidDefinition` with what to change.
    pub fn compile(definition: &ApiDefinition, datasource: &Datasource) -> Result<SqlApi, DefinitionError> {
        let dialect = Dialect::from(datasource.kind);
        check_params(&definition.request_params, &definition.response_fields)?;
        if definition.options.max_limit == 0 {
            return Err(DefinitionError::at("options.maxLimit", "options.maxLimit must be at least 1"));
        }
        let plan = match &definition.mode {
            ApiMode::Wizard(spec) => ModePlan::Wizard(WizardPlan::compile(
                dialect,
                &spec.table,
                &definition.request_params,
                &definition.response_fields,
            )?),
            ApiMode::Script(spec) => {
                let text = spec.sql.trim().trim_end_matches(';');
                if has_top_level_semicolon(text) {
                    return Err(DefinitionError::at(
                        "sql",
                        "a script holds one statement: remove `;` between statements",
                    ));
                }
                let template =
                    ScriptTemplate::compile(text, &definition.request_params).map_err(|e| DefinitionError {
                        field: DefinitionField::ScriptLine(e.line),
                        message: format!("script template, {e}"),
                    })?;
                let has_own_limit = mentions_limit(text);
                if has_own_limit && definition.options.pagination {
                    return Err(DefinitionError::at(
                        "sql",
                        "the script has its own LIMIT but pagination is on: remove the LIMIT, pagination adds it",
                    ));
                }
                ModePlan::Script { template, has_own_limit }
            }
            ApiMode::Native(spec) => {
                let default_schema = match datasource.kind {
                    DatasourceKind::Postgres => "public",
                    DatasourceKind::Mysql => datasource.connection.database.as_str(),
                    DatasourceKind::Sqlite => "main",
                };
                ModePlan::Native(NativePolicy::compile(spec, dialect, default_schema)?)
            }
            ApiMode::Registered(_) | ApiMode::Workflow(_) => {
                return Err(DefinitionError::at(
                    "mode",
                    format!("a {} API has no SQL to compile", definition.mode.name()),
                ));
            }
        };
        let guards = LEVELS.map(|level| Guard::compile(definition, dialect, &plan, level));
        Ok(SqlApi {
            source: PoolSource::new(datasource),
            dialect,
            definition: definition.clone(),
            plan,
            guards,
            rejections: Arc::default(),
        })
    }

    pub fn definition(&self) -> &ApiDefinition {
        &self.definition
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Runs one call: parse → render → execute → encode (or stop after render for a dry run).
    ///
    /// With a clearance, parameters above it are refused first; fields above it are masked
    /// or omitted (dry runs only refuse parameters: they show the unmasked statement).
    pub async fn invoke(&self, pools: &PoolRegistry, input: &Call) -> Result<CallOutput, ApiError> {
        let started = Instant::now();
        let guard = input.clearance.map(|c| &self.guards[level_index(c)]);
        if let Some(guard) = guard {
            guard.check_params(&self.definition.request_params, &input.params)?;
        }
        let values = ParamValues::parse(&self.definition.request_params, &input.params)?;
        if let ModePlan::Wizard(plan) = &self.plan {
            plan.check_values(self.dialect, &self.definition.request_params, &values)?;
        }
        let page = self.page(&input.params)?;
        let parsed = Instant::now();
        let guard = guard.filter(|_| !input.dry_run);
        let (statement, count, native_masking) = self.render(&values, page, &input.params, guard)?;
        let rendered = Instant::now();
        let mut timings = StageTimings { parse: parsed - started, plan: rendered - parsed, ..StageTimings::default() };
        if input.dry_run {
            let dry_run = DryRun {
                sql: statement.sql,
                binds: statement.binds,
                count_sql: count.map(|c| c.sql),
                plan: self.plan_summary(page),
            };
            return Ok(CallOutput::DryRun { dry_run, timings });
        }
        let pool = pools.pool_for(&self.source).await?;
        let format = input.format.resolve(self.definition.options.result_format);
        let fields = &self.definition.response_fields;
        let hints = |column: &str| field_hint(fields, column);
        let outcome = pool
            .run(&RunSpec {
                statement: &statement,
                count: count.as_ref(),
                row_cap: self.definition.options.max_limit as usize,
                timeout: Duration::from_millis(self.definition.options.timeout_ms.max(1)),
                format,
                hints: &hints,
                page: page.map(|p| PageInfo { page_num: p.num, page_size: p.size, total: None }),
                hidden: native_masking.as_ref().or_else(|| guard.and_then(|g| g.masking.as_ref())),
            })
            .await
            .map_err(|error| self.run_failed(error, &statement.sql, &values, &input.params))?;
        timings.execute = outcome.execute;
        timings.encode = outcome.encode;
        let page = page.map(|p| PageInfo { page_num: p.num, page_size: p.size, total: outcome.total });
        Ok(CallOutput::Data { data: outcome.data, row_count: outcome.row_count, timings, format, page })
    }

    /// What the caller hears when a statement run fails.
    ///
    /// - A timeout is `Timeout` (504); a connection that could not be had, and anything the
    ///   database did not refuse the statement for, is `InternalError.Database` (500), logged
    ///   at ERROR.
    /// - Native mode: a query the database refuses is the caller's SQL, `InvalidParameter.sql`
    ///   (400) with a fixed reason.
    /// - Wizard and script: Sluice wrote the SQL, so a refusal is the definition's (500, with
    ///   the reason kept for the owners' test console) —
    ///   except a refused *value* (out of range, division by zero, a bad pattern) when the
    ///   call binds exactly one parameter value, the caller sent it, and it is a value that
    ///   can cause that refusal (a zero for a division by zero): then it is
    ///   `InvalidParameter.<name>` (400). With two or more values, or a default, the value at
    ///   fault cannot be told, and the error may be the template's own: it stays a 500.
    ///
    /// Refusals log at WARN with the database's message, at most once per
    /// [`reject::LOG_INTERVAL`] per API, with how many were suppressed since the last line.
    fn run_failed(
        &self,
        error: RunError,
        sql: &str,
        values: &ParamValues,
        raw: &HashMap<String, RawParam>,
    ) -> ApiError {
        let metrics = calls::metrics::metrics();
        let datasource = self.source.datasource_id();
        let error = match error {
            RunError::Timeout { timeout_ms } => {
                metrics.database_error(datasource, calls::metrics::DATABASE_TIMEOUT);
                return ApiError::timeout(timeout_ms);
            }
            RunError::Unavailable(error) => {
                metrics.database_error(datasource, calls::metrics::DATABASE_UNAVAILABLE);
                tracing::error!(datasource, %error, "no connection for a data API call");
                return ApiError::database();
            }
            RunError::Statement(error) => error,
        };
        let reason = reject::classify(&error);
        let answer = match (reason, &self.plan) {
            (Some(reason), ModePlan::Native(_)) => Some(ApiError::query_rejected(NATIVE_SQL, reason.message())),
            (Some(reason), _) if reason.is_data() => self
                .sole_sent_value(values, raw)
                .filter(|(_, value)| reason.could_come_from(value))
                .map(|(name, _)| ApiError::value_rejected(name, reason.message())),
            _ => None,
        };
        let Some(answer) = answer else {
            metrics.database_error(datasource, calls::metrics::DATABASE_FAILED);
            tracing::error!(datasource, %error, sql, "data API query failed");
            return reason.map_or_else(ApiError::database, |r| ApiError::refused_statement(r.message()));
        };
        if let Some(suppressed) = self.rejections.admit(Instant::now()) {
            let code = error.code().unwrap_or_default();
            tracing::warn!(
                datasource = self.source.datasource_id(),
                mode = self.definition.mode.name(),
                answer = %answer.code(),
                %code,
                %error,
                sql,
                suppressed,
                "the database refused a call's statement"
            );
        }
        answer
    }

    /// The parameter a refused value can be pinned on, with its value: the only one with a
    /// value to bind (identifiers are not bound), provided the caller sent it rather than
    /// its default.
    fn sole_sent_value<'a>(
        &'a self,
        values: &'a ParamValues,
        raw: &HashMap<String, RawParam>,
    ) -> Option<(&'a str, &'a Value)> {
        let mut bound = (self.definition.request_params.iter().enumerate())
            .filter(|(_, p)| p.param_type != ParamType::Identifier)
            .filter_map(|(i, p)| values.get(i).map(|value| (p, value)));
        let (only, value) = bound.next()?;
        if bound.next().is_some() {
            return None;
        }
        let sent = raw.get(&only.name).is_some_and(|r| !matches!(r, RawParam::Json(serde_json::Value::Null)));
        sent.then_some((only.name.as_str(), value))
    }

    fn page(&self, raw: &HashMap<String, RawParam>) -> Result<Option<Page>, ApiError> {
        // Native callers write their own LIMIT/OFFSET; the row cap still holds.
        if !self.definition.options.pagination || matches!(self.plan, ModePlan::Native(_)) {
            return Ok(None);
        }
        let max = u64::from(self.definition.options.max_limit);
        let number = |name: &str, default: u64, max: u64| -> Result<u64, ApiError> {
            let Some(raw) = raw.get(name) else {
                return Ok(default);
            };
            let expected = format!("an integer from 1 to {max}");
            let n = match value::coerce_scalar(name, ScalarType::Int, raw)? {
                Value::Null => return Ok(default),
                Value::Int(n) => n,
                _ => return Err(ApiError::invalid_parameter(name, &expected, "")),
            };
            if n < 1 || n as u64 > max {
                return Err(ApiError::invalid_parameter(name, &expected, &n.to_string()));
            }
            Ok(n as u64)
        };
        let size = number(PAGE_SIZE, DEFAULT_PAGE_SIZE.min(max), max)?;
        // Bound the offset so that it always fits every database's integer.
        let num = number(PAGE_NUM, 1, (i64::MAX as u64 / size).min(1 << 40))?;
        let with_total = match raw.get(WITH_TOTAL).or_else(|| raw.get("with_total")) {
            None => false,
            Some(raw) => matches!(value::coerce_scalar(WITH_TOTAL, ScalarType::Bool, raw)?, Value::Bool(true)),
        };
        Ok(Some(Page { num, size, with_total }))
    }

    /// The *render* stage: the statement, the count statement when a total was asked for, and
    /// (native mode under a restriction) the columns to hide.
    fn render(
        &self,
        values: &ParamValues,
        page: Option<Page>,
        raw: &HashMap<String, RawParam>,
        guard: Option<&Guard>,
    ) -> Result<(RenderedSql, Option<RenderedSql>, Option<Masking>), ApiError> {
        let max_limit = i64::from(self.definition.options.max_limit);
        let limit_clause = |b: &mut SqlBuilder| match page {
            Some(p) => {
                b.push_sql(" LIMIT ").push_bind(Value::Int(p.size as i64));
                b.push_sql(" OFFSET ").push_bind(Value::Int(((p.num - 1) * p.size) as i64));
            }
            None => {
                b.push_sql(" LIMIT ").push_bind(Value::Int(max_limit));
            }
        };
        let wants_total = page.is_some_and(|p| p.with_total);
        match &self.plan {
            ModePlan::Wizard(plan) => {
                let mut b = SqlBuilder::new(self.dialect);
                match guard.and_then(|g| g.wizard_select.as_deref()) {
                    Some(select_from) => plan.render_select_from(&mut b, values, select_from),
                    None => plan.render_select(&mut b, values),
                }
                limit_clause(&mut b);
                let count = wants_total.then(|| {
                    let mut c = SqlBuilder::new(self.dialect);
                    plan.render_count(&mut c, values);
                    c.finish()
                });
                Ok((b.finish(), count, None))
            }
            ModePlan::Script { template, has_own_limit } => {
                let body = template.render(self.dialect, &self.definition.request_params, values)?;
                let count = wants_total.then(|| RenderedSql {
                    sql: format!("SELECT COUNT(*) FROM ({}) sluice_total", body.sql),
                    binds: body.binds.clone(),
                });
                if *has_own_limit {
                    return Ok((body, count, None));
                }
                let mut b = SqlBuilder::continue_from(self.dialect, body);
                limit_clause(&mut b);
                Ok((b.finish(), count, None))
            }
            ModePlan::Native(policy) => {
                let sql = match raw.get(NATIVE_SQL) {
                    Some(RawParam::Text(sql)) => sql.as_str(),
                    Some(RawParam::Json(serde_json::Value::String(sql))) => sql.as_str(),
                    Some(_) => {
                        return Err(ApiError::invalid_parameter(NATIVE_SQL, "one SELECT statement as text", ""));
                    }
                    None => return Err(ApiError::missing_parameter(NATIVE_SQL)),
                };
                let restricted = guard.and_then(|g| g.native.as_ref());
                let (statement, masking) =
                    policy.check_restricted(sql, self.definition.options.max_limit, restricted)?;
                Ok((statement, None, masking))
            }
        }
    }

    fn plan_summary(&self, page: Option<Page>) -> serde_json::Value {
        let mut summary = serde_json::json!({
            "mode": self.definition.mode.name(),
            "dialect": format!("{:?}", self.dialect).to_lowercase(),
            "maxLimit": self.definition.options.max_limit,
            "timeoutMs": self.definition.options.timeout_ms,
        });
        if let ModePlan::Wizard(plan) = &self.plan {
            summary["table"] = plan.table().into();
        }
        if let Some(p) = page {
            summary["page"] = serde_json::json!({"pageNum": p.num, "pageSize": p.size, "withTotal": p.with_total});
        }
        summary
    }
}

/// The declared type of the response field a result column carries, if any.
fn field_hint(fields: &[ResponseField], column: &str) -> Option<ScalarType> {
    fields.iter().find(|f| f.name == column).and_then(|f| match f.field_type {
        ParamType::Scalar(s) => Some(s),
        _ => None,
    })
}

fn check_params(params: &[RequestParam], fields: &[ResponseField]) -> Result<(), DefinitionError> {
    let param_error = |name: &str, message: String| DefinitionError::item("requestParams", name, message);
    let mut seen = std::collections::HashSet::new();
    for (index, p) in params.iter().enumerate() {
        if p.name.is_empty() || !p.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(param_error(
                &p.name,
                format!("request parameter name `{}` must be letters, digits and underscores", p.name),
            ));
        }
        if RESERVED.contains(&p.name.as_str()) {
            return Err(param_error(
                &p.name,
                format!("request parameter name `{}` is reserved; choose another", p.name),
            ));
        }
        if !seen.insert(p.name.as_str()) {
            return Err(param_error(&p.name, format!("request parameter `{}` is declared twice", p.name)));
        }
        if p.param_type == ParamType::Identifier {
            if p.allowed_values.is_empty() {
                return Err(param_error(&p.name, format!("identifier parameter `{}` needs allowedValues", p.name)));
            }
            for v in &p.allowed_values {
                dialect::validate_identifier(v)
                    .map_err(|e| param_error(&p.name, format!("parameter `{}` allowed value: {e}", p.name)))?;
            }
        }
        value::check_default("requestParams", index, p)?;
    }
    let mut seen = std::collections::HashSet::new();
    for f in fields {
        let field_error = |message: String| DefinitionError::item("responseFields", &f.name, message);
        if !seen.insert(f.name.as_str()) {
            return Err(field_error(format!("response field `{}` is declared twice", f.name)));
        }
        dialect::validate_identifier(&f.name).map_err(|e| field_error(format!("response field name: {e}")))?;
    }
    Ok(())
}

/// Skips quoted strings, quoted identifiers and comments, calling `visit` on the rest.
fn scan_code(sql: &str, mut visit: impl FnMut(usize, char)) {
    let chars: Vec<(usize, char)> = sql.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        let next = chars.get(i + 1).map(|&(_, c)| c);
        match c {
            '\'' | '"' | '`' => {
                i += 1;
                while i < chars.len() && chars[i].1 != c {
                    i += 1;
                }
            }
            '-' if next == Some('-') => {
                while i < chars.len() && chars[i].1 != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                i += 2;
                while i + 1 < chars.len() && !(chars[i].1 == '*' && chars[i + 1].1 == '/') {
                    i += 1;
                }
                i += 1;
            }
            // XML entities of script templates (`&lt;`) end in `;` but are text.
            '&' if entity_len(&chars[i..]).is_some() => i += entity_len(&chars[i..]).unwrap_or(1) - 1,
            _ => visit(at, c),
        }
        i += 1;
    }
}

/// Length of an XML entity (`&lt;`, `&#60;`, `&#x3c;`) at the start of `chars`.
fn entity_len(chars: &[(usize, char)]) -> Option<usize> {
    let end = chars.iter().take(12).position(|&(_, c)| c == ';')?;
    let body: String = chars[1..end].iter().map(|&(_, c)| c).collect();
    let named = !body.is_empty() && body.chars().all(|c| c.is_ascii_alphabetic());
    let numeric = body.strip_prefix('#').is_some_and(|n| {
        let digits = n.strip_prefix(['x', 'X']).unwrap_or(n);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_hexdigit())
    });
    (named || numeric).then_some(end + 1)
}

fn has_top_level_semicolon(sql: &str) -> bool {
    let mut found = false;
    scan_code(sql, |_, c| found |= c == ';');
    found
}

/// Whether the template writes its own `LIMIT` (outside strings and comments).
fn mentions_limit(sql: &str) -> bool {
    let mut code = String::with_capacity(sql.len());
    scan_code(sql, |_, c| code.push(c.to_ascii_lowercase()));
    code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|word| word == "limit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_in_strings_and_comments_are_not_statement_breaks() {
        assert!(!has_top_level_semicolon("SELECT ';' FROM t -- ;\n WHERE a = \"x;\" /* ; */"));
        assert!(has_top_level_semicolon("SELECT 1; DELETE FROM t"));
        assert!(!has_top_level_semicolon("SELECT * FROM t WHERE a &lt; 5 AND b &#62; 1"));
        assert!(has_top_level_semicolon("SELECT 1 &amp;; DELETE FROM t"));
    }

    #[test]
    fn limit_is_found_only_as_a_word_in_code() {
        assert!(mentions_limit("SELECT * FROM t\nlimit 5"));
        assert!(!mentions_limit("SELECT limit_x, 'limit' FROM t -- limit"));
    }
}
