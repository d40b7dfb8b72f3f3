//! What the console's API wizard reads to help write a definition: the tables and views a
//! datasource's connection can see, a table's columns with the type a wizard field over each
//! would take, and the request parameters a script template refers to.
//!
//! Developers only, as for the connection test: reading a schema connects with the stored
//! password. The datasource is looked up in the guard's workgroup (another workgroup's id
//! answers 404 like a missing one) and opened through the access policy exactly as the
//! connection test opens it (`plugins::sql::schema`); a datasource that cannot be used answers
//! 503 `Unavailable.Datasource` with the connection test's words, nothing of the driver's
//! error. Template parameters come from the template compiler itself
//! (`ScriptTemplate::references`), so the console and publishing agree on what a template
//! means.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::routing::{get, post};
use catalog::model::{Datasource, ParamType, WorkgroupRole};
use errors::ErrorCode;
use plugins::sql::access::DatasourceAccess;
use plugins::sql::schema::{self, SchemaError, TableKind};
use plugins::sql::script::ScriptTemplate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AdminState;
use super::access::{Access, Caller, Routes};
use super::body::JsonBody;
use super::datasources::{datasource_in, path_id};
use super::people::PageQuery;
use super::reply::{AdminError, AdminResult, Page, Reply};

/// How long a schema read waits for the database (connecting included), as the connection
/// test does.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a table name a refusal repeats.
const NAME_SHOWN: usize = 64;

/// Registers this area's routes.
pub fn register(routes: Routes) -> Routes {
    use WorkgroupRole::Developer;
    routes
        .add(
            Method::GET,
            "/workgroups/{workgroup}/datasources/{id}/tables",
            Access::Workgroup(Developer),
            get(list_tables),
        )
        .answers_page::<TableInfo>()
        .add(
            Method::GET,
            "/workgroups/{workgroup}/datasources/{id}/tables/{table}/columns",
            Access::Workgroup(Developer),
            get(list_columns),
        )
        .answers_list::<ColumnInfo>()
        .add(Method::POST, "/workgroups/{workgroup}/sql/parameters", Access::Workgroup(Developer), post(sql_parameters))
        .body::<SqlText>()
        .answers_list::<TemplateParameter>()
}

type CallerExt = Extension<Arc<Caller>>;

/// A table or view the datasource's connection can see: PostgreSQL's current schema
/// (`current_schema()`, names unqualified), the MySQL connection's database, SQLite's
/// `sqlite_master` without SQLite's own tables.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableInfo {
    pub name: String,
    pub kind: TableKindName,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TableKindName {
    Table,
    View,
}

/// A column of a table or view, in the table's order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ColumnInfo {
    pub name: String,
    /// The type as the database writes it: `character varying(40)`, `int(11) unsigned`.
    pub db_type: String,
    /// The type a wizard parameter or response field over the column takes (a scalar);
    /// `string` for what Sluice does not read otherwise.
    #[serde(rename = "type")]
    pub column_type: ParamType,
    pub nullable: bool,
    /// Part of the table's primary key.
    pub primary_key: bool,
}

/// `POST …/sql/parameters`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SqlText {
    /// The mode the SQL is written for; `script` when absent. Only script templates name
    /// request parameters: `native` and `wizard` are refused, saying why.
    #[serde(default)]
    pub mode: Option<SqlMode>,
    /// The template, as a script API's `sql`.
    pub sql: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SqlMode {
    Script,
    Native,
    Wizard,
}

/// A request parameter a script template refers to, in order of first appearance.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateParameter {
    pub name: String,
    /// `identifier` for a name spliced with `${name}` (declare its allowed values);
    /// otherwise `string`, what the template's use needs, to be narrowed by its author.
    #[serde(rename = "type")]
    pub param_type: ParamType,
    /// The collection of a `<foreach>`: declare it `array<type>`.
    pub list: bool,
}

/// The datasource `id` of the caller's workgroup with its password, and the access policy in
/// force.
async fn datasource(
    state: &AdminState,
    caller: &Caller,
    id: &str,
) -> Result<(Datasource, DatasourceAccess), AdminError> {
    let id = path_id("datasource", id)?;
    datasource_in(state, caller.workgroup()?, id).await?;
    let datasource = state.store.datasource_with_secret(id).await?;
    Ok((datasource, state.outbound().await?.datasources))
}

/// What a schema read that failed answers: never the database's words.
fn read_error(error: SchemaError, table: &str) -> AdminError {
    match error {
        SchemaError::Connection(problem) => AdminError::new(
            ErrorCode::UnavailableDatasource,
            format!("the datasource's schema cannot be read: {}", problem.message()),
        ),
        SchemaError::NoSuchTable => {
            let mut shown: String = table.chars().filter(|c| !c.is_control()).take(NAME_SHOWN).collect();
            if table.chars().count() > NAME_SHOWN {
                shown.push('…');
            }
            AdminError::new(
                ErrorCode::NotFoundTable,
                format!("table `{shown}` is not among the tables and views the datasource's connection can see"),
            )
            .in_field("table")
        }
        SchemaError::Database => AdminError::new(
            ErrorCode::InternalErrorDatabase,
            "the database could not list its tables or columns; the error was logged",
        ),
    }
}

pub async fn list_tables(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    Query(page): Query<PageQuery>,
) -> AdminResult<Page<TableInfo>> {
    page.check()?;
    let (datasource, access) = datasource(&state, &caller, &id).await?;
    let tables = schema::tables(&datasource, &access, READ_TIMEOUT).await.map_err(|e| read_error(e, ""))?;
    let tables = tables
        .into_iter()
        .map(|t| TableInfo {
            name: t.name,
            kind: match t.kind {
                TableKind::Table => TableKindName::Table,
                TableKind::View => TableKindName::View,
            },
        })
        .collect();
    Ok(Reply::ok(Page::of(tables, page.page_num, page.page_size)))
}

pub async fn list_columns(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id, table)): Path<(String, String, String)>,
) -> AdminResult<Vec<ColumnInfo>> {
    let (datasource, access) = datasource(&state, &caller, &id).await?;
    let columns =
        schema::columns(&datasource, &access, READ_TIMEOUT, &table).await.map_err(|e| read_error(e, &table))?;
    Ok(Reply::ok(
        columns
            .into_iter()
            .map(|c| ColumnInfo {
                name: c.name,
                db_type: c.db_type,
                column_type: ParamType::Scalar(c.scalar),
                nullable: c.nullable,
                primary_key: c.primary_key,
            })
            .collect(),
    ))
}

pub async fn sql_parameters(JsonBody(body): JsonBody<SqlText>) -> AdminResult<Vec<TemplateParameter>> {
    match body.mode.unwrap_or(SqlMode::Script) {
        SqlMode::Script => {}
        SqlMode::Native => {
            return Err(AdminError::invalid(
                "mode",
                "a native API runs the SQL its callers send as `sql`: there is no template whose parameters \
                 could be listed",
            ));
        }
        SqlMode::Wizard => {
            return Err(AdminError::invalid(
                "mode",
                "a wizard API has no SQL: its parameters are the columns it filters on (see \
                 `…/datasources/{id}/tables/{table}/columns`)",
            ));
        }
    }
    let references = ScriptTemplate::references(&body.sql).map_err(|e| AdminError::invalid("sql", e.to_string()))?;
    Ok(Reply::ok(
        references
            .into_iter()
            .map(|r| {
                let (param_type, list) = match r.param_type {
                    ParamType::Array(item) => (ParamType::Scalar(item), true),
                    other => (other, false),
                };
                TemplateParameter { name: r.name, param_type, list }
            })
            .collect(),
    ))
}
