//! Each workgroup's function library (issue 17), and how workflow drafts use it.
//!
//! ```text
//!  /workgroups/{workgroup}/functions          GET list (no sources)   POST add (201)
//!  …/functions/{name}                         GET   PUT (description, source)   DELETE (not while a draft calls it)
//! ```
//!
//! Reading needs a viewer of the workgroup, every change a developer (as for API drafts). A
//! source is saved only once it compiles and defines `handler(event, context)`: checked by the
//! process's [`plugins::FunctionRunner`] (the sandbox), or by [`plugins::workflow::defines_handler`]
//! where there is none. A `{name}` of another workgroup's function answers 404 like a missing
//! one: names are looked up in the path's workgroup alone.
//!
//! Workflow drafts call library functions by name ([`check_draft`] at every draft save);
//! [`resolve`] gives a draft the library's sources for what runs it now (a version being
//! saved is checked with them, the test console runs with them). The store copies them into
//! each saved version, so versions never change with the library.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::routing::{delete, get, post, put};
use catalog::model::{ApiDefinition, ApiMode, LibraryFunction, Workgroup, WorkgroupRole, check_function_name};
use catalog::store::StoreError;
use errors::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AdminState;
use super::access::{Access, Caller, Routes};
use super::body::JsonBody;
use super::datasources::record;
use super::reply::{AdminError, AdminResult, Reply};

/// The longest description, in characters (the store's bound).
const MAX_DESCRIPTION: usize = 1024;

/// Registers this area's routes: reading for viewers, changes for developers.
pub fn register(routes: Routes) -> Routes {
    use WorkgroupRole::{Developer, Viewer};
    const FUNCTIONS: &str = "/workgroups/{workgroup}/functions";
    const FUNCTION: &str = "/workgroups/{workgroup}/functions/{name}";
    routes
        .add(Method::GET, FUNCTIONS, Access::Workgroup(Viewer), get(list_functions))
        .answers_list::<FunctionSummary>()
        .add(Method::POST, FUNCTIONS, Access::Workgroup(Developer), post(create_function))
        .body::<NewFunction>()
        .answers::<LibraryFunction>()
        .add(Method::GET, FUNCTION, Access::Workgroup(Viewer), get(get_function))
        .answers::<LibraryFunction>()
        .add(Method::PUT, FUNCTION, Access::Workgroup(Developer), put(update_function))
        .body::<FunctionUpdate>()
        .answers::<LibraryFunction>()
        .add(Method::DELETE, FUNCTION, Access::Workgroup(Developer), delete(delete_function))
        .answers_nothing()
}

/// One line of the library: a function without its source.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionSummary {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// SHA-256 (hex) of the source.
    pub digest: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `POST …/functions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewFunction {
    /// 1–64 letters, digits, `_` and `-`; what workflow nodes call (`"function": "name"`).
    name: String,
    #[serde(default)]
    description: String,
    /// Python defining `def handler(event, context)`.
    source: String,
}

/// `PUT …/functions/{name}`: what is sent is replaced, what is left out kept. The name stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FunctionUpdate {
    description: Option<String>,
    source: Option<String>,
}

async fn list_functions(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
) -> AdminResult<Vec<FunctionSummary>> {
    let functions = state.store.functions(caller.workgroup()?.id).await?;
    Ok(Reply::ok(
        functions
            .into_iter()
            .map(|f| FunctionSummary {
                id: f.id,
                name: f.name,
                description: f.description,
                digest: f.digest,
                created_at: f.created_at,
                updated_at: f.updated_at,
            })
            .collect(),
    ))
}

async fn create_function(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    JsonBody(body): JsonBody<NewFunction>,
) -> AdminResult<LibraryFunction> {
    let workgroup = caller.workgroup()?;
    check_function_name(&body.name).map_err(|why| AdminError::invalid("name", why))?;
    check_description(&body.description)?;
    check_source(&state, &body.name, &body.source).map_err(|why| invalid_source("source", &body.name, why))?;
    let wanted = LibraryFunction {
        id: 0,
        workgroup_id: workgroup.id,
        name: body.name,
        description: body.description,
        source: body.source,
        digest: String::new(),
        created_at: 0,
        updated_at: 0,
    };
    let created = state.store.create_function(&wanted).await.map_err(|e| match e {
        StoreError::Conflict(why) => AdminError::new(ErrorCode::Conflict, why).in_field("name"),
        other => other.into(),
    })?;
    audit(&state, &caller, "function.create", &created).await;
    Ok(Reply::created(created))
}

async fn get_function(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, name)): Path<(String, String)>,
) -> AdminResult<LibraryFunction> {
    Ok(Reply::ok(function_in(&state, caller.workgroup()?, &name).await?))
}

async fn update_function(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<FunctionUpdate>,
) -> AdminResult<LibraryFunction> {
    let workgroup = caller.workgroup()?;
    let current = function_in(&state, workgroup, &name).await?;
    let description = body.description.unwrap_or_else(|| current.description.clone());
    check_description(&description)?;
    let source = body.source.unwrap_or_else(|| current.source.clone());
    check_source(&state, &current.name, &source).map_err(|why| invalid_source("source", &current.name, why))?;
    let updated = state.store.update_function(workgroup.id, &current.name, &description, &source).await?;
    audit(&state, &caller, "function.update", &updated).await;
    Ok(Reply::ok(updated))
}

async fn delete_function(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, name)): Path<(String, String)>,
) -> AdminResult<serde_json::Value> {
    let workgroup = caller.workgroup()?;
    let function = function_in(&state, workgroup, &name).await?;
    // The store refuses (Conflict, naming the APIs) while a draft calls it, in the same
    // transaction as the delete.
    state.store.delete_function(workgroup.id, &function.name).await?;
    audit(&state, &caller, "function.delete", &function).await;
    Ok(Reply::ok(serde_json::Value::Null))
}

/// The workgroup's function `name`; a name no function could have is as missing as any.
async fn function_in(state: &AdminState, workgroup: &Workgroup, name: &str) -> Result<LibraryFunction, AdminError> {
    if check_function_name(name).is_err() {
        return Err(AdminError::not_found("function", name));
    }
    Ok(state.store.function(workgroup.id, name).await?)
}

async fn audit(state: &AdminState, caller: &Caller, action: &str, function: &LibraryFunction) {
    let detail = serde_json::json!({"name": function.name, "digest": function.digest});
    record(state, caller, Some(function.workgroup_id), action, format!("function:{}", function.name), detail).await;
}

fn check_description(description: &str) -> Result<(), AdminError> {
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(AdminError::invalid("description", format!("at most {MAX_DESCRIPTION} characters")));
    }
    Ok(())
}

/// Whether `source` would run as function `name`: the process's runner (the sandbox) decides
/// when there is one, else the checks that need none.
pub(crate) fn check_source(state: &AdminState, name: &str, source: &str) -> Result<(), String> {
    // Cheap bounds first: the sandbox need not parse what cannot be kept.
    plugins::workflow::defines_handler(source)?;
    match state.plugins.function_runner() {
        Some(runner) => runner.check(name, source),
        None => Ok(()),
    }
}

/// 400 `InvalidFunction` on `field`, saying which function and what to fix.
fn invalid_source(field: &str, name: &str, why: String) -> AdminError {
    AdminError::new(ErrorCode::InvalidFunction, format!("function `{name}`: {why}")).in_field(field)
}

/// A workflow draft's functions, at every draft save: each inline source compiles (else
/// `InvalidDefinition` on `draft.functions.<name>`), and each function a node calls without
/// one is in the workgroup's library (else `InvalidDefinition` on `draft.nodes[i].function`).
/// Other modes pass.
pub(crate) async fn check_draft(
    state: &AdminState,
    workgroup: &Workgroup,
    draft: &ApiDefinition,
) -> Result<(), AdminError> {
    check_sources(state, draft)?;
    resolve(state, workgroup, draft).await.map(|_| ())
}

/// Each source a workflow definition carries in `functions` compiles, else
/// `InvalidDefinition` on `draft.functions.<name>`. Other modes pass.
pub(crate) fn check_sources(state: &AdminState, definition: &ApiDefinition) -> Result<(), AdminError> {
    let ApiMode::Workflow(spec) = &definition.mode else { return Ok(()) };
    for (name, source) in &spec.functions {
        check_source(state, name, source).map_err(|why| {
            AdminError::new(ErrorCode::InvalidDefinition, format!("function `{name}`: {why}"))
                .in_field(&format!("draft.functions.{name}"))
        })?;
    }
    Ok(())
}

/// The definition as it would run now: a workflow's functions that its nodes call without
/// carrying them are filled in from the workgroup's library (an inline source wins). A node
/// whose function is in neither: `InvalidDefinition` on `draft.nodes[i].function`.
pub(crate) async fn resolve(
    state: &AdminState,
    workgroup: &Workgroup,
    definition: &ApiDefinition,
) -> Result<ApiDefinition, AdminError> {
    let ApiMode::Workflow(spec) = &definition.mode else { return Ok(definition.clone()) };
    let mut library = std::collections::BTreeMap::new();
    for name in spec.library_names() {
        // Names no function could have are left missing: resolving names the node.
        if check_function_name(name).is_err() {
            continue;
        }
        match state.store.function(workgroup.id, name).await {
            Ok(function) => {
                library.insert(name.to_owned(), function.source);
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let resolved = spec.resolved(|name| library.get(name).cloned()).map_err(|missing| {
        AdminError::new(ErrorCode::InvalidDefinition, missing.message()).in_field(&format!("draft.{}", missing.field()))
    })?;
    Ok(ApiDefinition { mode: ApiMode::Workflow(resolved), ..definition.clone() })
}
