//! Datasources, folders, workgroup settings and the audit log.
//!
//! Every object named by an `{id}` in a path is looked up and checked against the workgroup
//! the guard resolved: another workgroup's id answers 404 exactly like a missing one, so ids
//! swapped in paths never reach another team's objects. Datasource passwords are write-only:
//! no answer carries one, and a `PUT` without `password` keeps the stored one. Every write
//! appends an audit entry (without secrets).
//!
//! One file for the workgroup-scoped objects a data API refers to besides itself; each handler
//! is short, and they share the lookup that keeps ids inside the workgroup.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::routing::{delete, get, patch, post, put};
use catalog::model::{
    Api, AuditEntry, ConnectionSettings, Datasource, DatasourceKind, Folder, Workgroup, WorkgroupRole,
    WorkgroupSettings,
};
use catalog::store::{MAX_AUDIT_PAGE, StoreError};
use plugins::sql::access::Refusal;
use plugins::sql::execute::{ConnectionProblem, test_connection};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::AdminState;
use super::access::{Access, Caller, Routes};
use super::body::JsonBody;
use super::people::PageQuery;
use super::reply::{AdminError, AdminResult, Page, Reply};

/// How long `POST …/datasources/{id}/test` waits for the database.
const TEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Audit entries per read when `limit` is absent.
const DEFAULT_AUDIT_LIMIT: u32 = 50;

/// Registers this area's routes.
pub fn register(routes: Routes) -> Routes {
    use WorkgroupRole::{Admin, Developer, Viewer};
    const DATASOURCES: &str = "/workgroups/{workgroup}/datasources";
    const DATASOURCE: &str = "/workgroups/{workgroup}/datasources/{id}";
    const FOLDERS: &str = "/workgroups/{workgroup}/folders";
    const FOLDER: &str = "/workgroups/{workgroup}/folders/{id}";
    const WORKGROUP: &str = "/workgroups/{workgroup}";
    routes
        .add(Method::GET, DATASOURCES, Access::Workgroup(Viewer), get(list_datasources))
        .answers_page::<Datasource>()
        .add(Method::POST, DATASOURCES, Access::Workgroup(Developer), post(create_datasource))
        .body::<DatasourceBody>()
        .answers::<Datasource>()
        .add(Method::GET, DATASOURCE, Access::Workgroup(Viewer), get(get_datasource))
        .answers::<Datasource>()
        .add(Method::PUT, DATASOURCE, Access::Workgroup(Developer), put(update_datasource))
        .body::<DatasourceBody>()
        .answers::<Datasource>()
        .add(Method::DELETE, DATASOURCE, Access::Workgroup(Developer), delete(delete_datasource))
        .answers_nothing()
        // Tests the stored settings: no body.
        .add(
            Method::POST,
            "/workgroups/{workgroup}/datasources/{id}/test",
            Access::Workgroup(Developer),
            post(test_datasource),
        )
        .answers::<ConnectionTest>()
        .add(Method::GET, FOLDERS, Access::Workgroup(Viewer), get(list_folders))
        .answers_page::<Folder>()
        .add(Method::POST, FOLDERS, Access::Workgroup(Developer), post(create_folder))
        .body::<NewFolder>()
        .answers::<Folder>()
        .add(Method::PATCH, FOLDER, Access::Workgroup(Developer), patch(update_folder))
        .body::<FolderChange>()
        .answers::<Folder>()
        .add(Method::DELETE, FOLDER, Access::Workgroup(Developer), delete(delete_folder))
        .answers_nothing()
        .add(Method::PUT, "/workgroups/{workgroup}/apis/{id}/folder", Access::Workgroup(Developer), put(move_api))
        .body::<ApiFolder>()
        .answers::<Api>()
        .add(Method::PATCH, WORKGROUP, Access::Workgroup(Admin), patch(update_workgroup))
        .body::<WorkgroupChange>()
        .answers::<Workgroup>()
        .add(Method::DELETE, WORKGROUP, Access::PlatformAdmin, delete(delete_workgroup))
        .answers_nothing()
        .add(Method::GET, "/workgroups/{workgroup}/audit", Access::Workgroup(Admin), get(workgroup_audit))
        .answers::<AuditPage>()
        .add(Method::GET, "/audit", Access::PlatformAdmin, get(platform_audit))
        .answers::<AuditPage>()
}

type CallerExt = Extension<Arc<Caller>>;

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// An id from a path; text that is no id names nothing, so it answers like a missing object.
pub(super) fn path_id(what: &str, text: &str) -> Result<i64, AdminError> {
    text.parse::<i64>().map_err(|_| AdminError::not_found(what, text))
}

/// Appends an audit entry. The change it records is already committed, so a failure to
/// append is logged rather than turned into a failed answer.
pub(super) async fn record(
    state: &AdminState,
    caller: &Caller,
    workgroup_id: Option<i64>,
    action: &str,
    target: String,
    detail: serde_json::Value,
) {
    let entry = AuditEntry {
        id: 0,
        at: 0,
        actor: caller.user.name.clone(),
        action: action.to_owned(),
        workgroup_id,
        target,
        detail,
    };
    if let Err(e) = state.store.audit(&entry).await {
        tracing::error!("could not append audit entry {action}: {e}");
    }
}

/// The datasource `id` if it belongs to `workgroup`; 404 otherwise, also for another's.
pub(super) async fn datasource_in(
    state: &AdminState,
    workgroup: &Workgroup,
    id: i64,
) -> Result<Datasource, AdminError> {
    match state.store.datasource(id).await {
        Ok(ds) if ds.workgroup_id == workgroup.id => Ok(ds.redacted()),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(AdminError::not_found("datasource", id)),
        Err(e) => Err(e.into()),
    }
}

/// The folder `id` if it belongs to `workgroup`; 404 otherwise, also for another's.
async fn folder_in(state: &AdminState, workgroup: &Workgroup, id: i64) -> Result<Folder, AdminError> {
    match state.store.folder(id).await {
        Ok(folder) if folder.workgroup_id == workgroup.id => Ok(folder),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(AdminError::not_found("folder", id)),
        Err(e) => Err(e.into()),
    }
}

/// The API `id` if it belongs to `workgroup`; 404 otherwise, also for another's.
async fn api_in(state: &AdminState, workgroup: &Workgroup, id: i64) -> Result<Api, AdminError> {
    match state.store.api(id).await {
        Ok(api) if api.workgroup_id == workgroup.id => Ok(api),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(AdminError::not_found("API", id)),
        Err(e) => Err(e.into()),
    }
}

/// Reads a field that may be absent (`None`), `null` (`Some(None)`) or a value.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

// ---------------------------------------------------------------------------------------------
// Datasources

/// A datasource as written by a caller (`POST` and `PUT`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatasourceBody {
    pub name: String,
    /// `sqlite`, `postgres` or `mysql` (`postgresql`, `mariadb` also read).
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub connection: ConnectionBody,
}

/// Connection settings as written by a caller; unknown keys are refused so that a misspelt
/// `password` is not silently dropped.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionBody {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    /// Write-only. Absent on `PUT`: keep the stored one.
    pub password: Option<String>,
    pub pool_size: Option<u32>,
}

impl DatasourceBody {
    /// Checks the body and turns it into a datasource of `workgroup_id`.
    fn into_datasource(self, id: i64, workgroup_id: i64) -> Result<Datasource, AdminError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(AdminError::invalid("name", "name the datasource in 1 to 64 characters"));
        }
        let kind: DatasourceKind = self.kind.parse().map_err(|e: String| AdminError::invalid("kind", e))?;
        let c = self.connection;
        match kind {
            DatasourceKind::Sqlite if c.database.trim().is_empty() => {
                return Err(AdminError::invalid(
                    "connection.database",
                    "a SQLite datasource needs the path of its file",
                ));
            }
            DatasourceKind::Postgres | DatasourceKind::Mysql if c.host.trim().is_empty() => {
                return Err(AdminError::invalid("connection.host", "name the database server's host"));
            }
            _ => {}
        }
        if c.pool_size.is_some_and(|size| !(1..=200).contains(&size)) {
            return Err(AdminError::invalid("connection.poolSize", "use a pool size from 1 to 200"));
        }
        Ok(Datasource {
            id,
            workgroup_id,
            name: name.to_owned(),
            kind,
            description: self.description,
            connection: ConnectionSettings {
                host: c.host.trim().to_owned(),
                port: c.port,
                database: c.database,
                username: c.username,
                password: c.password,
                pool_size: c.pool_size,
            },
        })
    }
}

/// What the audit log keeps of a datasource: never its password.
fn datasource_detail(ds: &Datasource) -> serde_json::Value {
    json!({
        "name": ds.name,
        "kind": ds.kind,
        "host": ds.connection.host,
        "port": ds.connection.port,
        "database": ds.connection.database,
        "username": ds.connection.username,
    })
}

pub async fn list_datasources(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Query(page): Query<PageQuery>,
) -> AdminResult<Page<Datasource>> {
    page.check()?;
    let all = state.store.list_datasources(caller.workgroup()?.id).await?;
    let all = all.iter().map(Datasource::redacted).collect();
    Ok(Reply::ok(Page::of(all, page.page_num, page.page_size)))
}

pub async fn create_datasource(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    JsonBody(body): JsonBody<DatasourceBody>,
) -> AdminResult<Datasource> {
    let workgroup = caller.workgroup()?;
    let datasource = body.into_datasource(0, workgroup.id)?;
    allowed(&state, &datasource).await?;
    let created = state.store.create_datasource(&datasource).await?.redacted();
    let detail = datasource_detail(&created);
    record(&state, &caller, Some(workgroup.id), "datasource.create", format!("datasource:{}", created.id), detail)
        .await;
    Ok(Reply::created(created))
}

pub async fn get_datasource(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Datasource> {
    let id = path_id("datasource", &id)?;
    Ok(Reply::ok(datasource_in(&state, caller.workgroup()?, id).await?))
}

pub async fn update_datasource(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<DatasourceBody>,
) -> AdminResult<Datasource> {
    let workgroup = caller.workgroup()?;
    let id = path_id("datasource", &id)?;
    let before = datasource_in(&state, workgroup, id).await?;
    let datasource = body.into_datasource(id, workgroup.id)?;
    allowed(&state, &datasource).await?;
    let replaced = datasource.connection.password.is_some();
    let updated = state.store.update_datasource(&datasource).await?.redacted();
    let detail = json!({"before": datasource_detail(&before), "after": datasource_detail(&updated), "credentialsReplaced": replaced});
    record(&state, &caller, Some(workgroup.id), "datasource.update", format!("datasource:{id}"), detail).await;
    Ok(Reply::ok(updated))
}

pub async fn delete_datasource(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<serde_json::Value> {
    let workgroup = caller.workgroup()?;
    let id = path_id("datasource", &id)?;
    let before = datasource_in(&state, workgroup, id).await?;
    state.store.delete_datasource(id).await?;
    record(
        &state,
        &caller,
        Some(workgroup.id),
        "datasource.delete",
        format!("datasource:{id}"),
        datasource_detail(&before),
    )
    .await;
    Ok(Reply::ok(serde_json::Value::Null))
}

/// Refuses settings the access policy forbids whatever the file system or DNS say (a SQLite
/// path outside the workgroup's dataset directories, a loopback or private address literal),
/// saying what to change. What depends on them is decided when the datasource is used.
async fn allowed(state: &AdminState, datasource: &Datasource) -> Result<(), AdminError> {
    let outbound = state.outbound().await?;
    match outbound.datasources.check_settings(datasource) {
        Ok(()) => Ok(()),
        Err(Refusal::NotAllowed { field, why }) => Err(AdminError::invalid(field, why)),
        Err(Refusal::Unreachable { .. }) => Ok(()),
    }
}

/// The outcome of a connection test. Failures say only which kind: nothing of the driver's
/// error, nor whether a file or host exists outside what the workgroup may use.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionTest {
    pub ok: bool,
    /// `OK`, `NotAllowed`, `CannotConnect` or `AuthenticationFailed`.
    pub code: &'static str,
    /// `connected and ran SELECT 1`, `not allowed`, `cannot connect` or
    /// `authentication failed`.
    pub message: String,
}

pub async fn test_datasource(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<ConnectionTest> {
    let id = path_id("datasource", &id)?;
    datasource_in(&state, caller.workgroup()?, id).await?;
    let datasource = state.store.datasource_with_secret(id).await?;
    let outbound = state.outbound().await?;
    let outcome = test_connection(&datasource, &outbound.datasources, TEST_TIMEOUT).await;
    Ok(Reply::ok(match outcome {
        Ok(()) => ConnectionTest { ok: true, code: "OK", message: "connected and ran SELECT 1".to_owned() },
        Err(problem) => {
            let code = match problem {
                ConnectionProblem::NotAllowed => "NotAllowed",
                ConnectionProblem::CannotConnect => "CannotConnect",
                ConnectionProblem::AuthenticationFailed => "AuthenticationFailed",
            };
            ConnectionTest { ok: false, code, message: problem.message().to_owned() }
        }
    }))
}

// ---------------------------------------------------------------------------------------------
// Folders

/// `POST …/folders`: `parentId` absent or `null` creates the folder at the root.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewFolder {
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<i64>,
}

/// `PATCH …/folders/{id}`: `name` renames; `parentId` moves — a number under that folder,
/// `null` to the root, absent leaves it where it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FolderChange {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub parent_id: Option<Option<i64>>,
}

/// A folder name as the store keeps it (trimmed, 1 to 64 characters, no `/` or control
/// characters), checked here so the error names the field.
fn folder_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AdminError::invalid("name", "a folder name has 1 to 64 characters"));
    }
    if name.chars().any(|c| c == '/' || c.is_control()) {
        return Err(AdminError::invalid("name", "a folder name has no `/` and no control characters"));
    }
    Ok(name.to_owned())
}

/// A parent folder given in the body: in this workgroup, or 404 naming the field.
async fn parent_in(state: &AdminState, workgroup: &Workgroup, parent: Option<i64>) -> Result<(), AdminError> {
    if let Some(parent) = parent {
        folder_in(state, workgroup, parent).await.map_err(|e| e.in_field("parentId"))?;
    }
    Ok(())
}

/// Store refusals about where a folder goes (too deep, into itself) concern `parentId`.
fn placement_error(error: StoreError) -> AdminError {
    match error {
        StoreError::Invalid(why) => AdminError::invalid("parentId", why),
        other => other.into(),
    }
}

pub async fn list_folders(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Query(page): Query<PageQuery>,
) -> AdminResult<Page<Folder>> {
    page.check()?;
    let all = state.store.folders(caller.workgroup()?.id).await?;
    Ok(Reply::ok(Page::of(all, page.page_num, page.page_size)))
}

pub async fn create_folder(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    JsonBody(body): JsonBody<NewFolder>,
) -> AdminResult<Folder> {
    let workgroup = caller.workgroup()?;
    let name = folder_name(&body.name)?;
    parent_in(&state, workgroup, body.parent_id).await?;
    let folder = state.store.create_folder(workgroup.id, body.parent_id, &name).await.map_err(placement_error)?;
    let detail = json!({"name": folder.name, "parentId": folder.parent_id});
    record(&state, &caller, Some(workgroup.id), "folder.create", format!("folder:{}", folder.id), detail).await;
    Ok(Reply::created(folder))
}

pub async fn update_folder(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<FolderChange>,
) -> AdminResult<Folder> {
    let workgroup = caller.workgroup()?;
    let id = path_id("folder", &id)?;
    let before = folder_in(&state, workgroup, id).await?;
    if body.name.is_none() && body.parent_id.is_none() {
        return Err(AdminError::invalid("name", "send `name`, `parentId` (a folder id, or null for the root) or both"));
    }
    let name = body.name.as_deref().map(folder_name).transpose()?;
    if let Some(parent) = body.parent_id {
        parent_in(&state, workgroup, parent).await?;
    }
    // Refuse a name clash at the destination before writing anything, so that a move is not
    // left half done when the rename after it would fail.
    let parent = body.parent_id.unwrap_or(before.parent_id);
    let final_name = name.as_deref().unwrap_or(&before.name);
    let siblings = state.store.folders(workgroup.id).await?;
    if siblings.iter().any(|f| f.id != id && f.parent_id == parent && f.name == final_name) {
        return Err(AdminError::from(StoreError::Conflict(format!(
            "a folder named `{final_name}` already exists there"
        ))));
    }
    let mut folder = before.clone();
    if let Some(parent) = body.parent_id {
        folder = state.store.move_folder(id, parent).await.map_err(placement_error)?;
    }
    if let Some(name) = &name
        && *name != folder.name
    {
        folder = state.store.rename_folder(id, name).await.map_err(|e| match e {
            StoreError::Invalid(why) => AdminError::invalid("name", why),
            other => other.into(),
        })?;
    }
    let detail = json!({
        "before": {"name": before.name, "parentId": before.parent_id},
        "after": {"name": folder.name, "parentId": folder.parent_id},
    });
    record(&state, &caller, Some(workgroup.id), "folder.update", format!("folder:{id}"), detail).await;
    Ok(Reply::ok(folder))
}

pub async fn delete_folder(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<serde_json::Value> {
    let workgroup = caller.workgroup()?;
    let id = path_id("folder", &id)?;
    let before = folder_in(&state, workgroup, id).await?;
    state.store.delete_folder(id).await?;
    let detail = json!({"name": before.name, "parentId": before.parent_id});
    record(&state, &caller, Some(workgroup.id), "folder.delete", format!("folder:{id}"), detail).await;
    Ok(Reply::ok(serde_json::Value::Null))
}

/// `PUT …/apis/{id}/folder`: `folderId` is required; `null` puts the API at the root.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiFolder {
    #[serde(default, deserialize_with = "present")]
    #[schema(required = true)]
    pub folder_id: Option<Option<i64>>,
}

pub async fn move_api(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ApiFolder>,
) -> AdminResult<Api> {
    let workgroup = caller.workgroup()?;
    let id = path_id("API", &id)?;
    let before = api_in(&state, workgroup, id).await?;
    let folder_id =
        body.folder_id.ok_or_else(|| AdminError::invalid("folderId", "send a folder id, or null for the root"))?;
    if let Some(folder_id) = folder_id {
        folder_in(&state, workgroup, folder_id).await.map_err(|e| e.in_field("folderId"))?;
    }
    let mut api = state.store.move_api_by(id, folder_id, &caller.user.name).await.map_err(|e| match e {
        StoreError::Invalid(why) => AdminError::invalid("folderId", why),
        other => other.into(),
    })?;
    api.draft = api.draft.redacted();
    let detail = json!({"name": api.name, "fromFolderId": before.folder_id, "toFolderId": api.folder_id});
    record(&state, &caller, Some(workgroup.id), "api.move", format!("api:{id}"), detail).await;
    Ok(Reply::ok(api))
}

// ---------------------------------------------------------------------------------------------
// Workgroup settings

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkgroupChange {
    /// At most 1000 characters; absent: unchanged.
    #[serde(default)]
    pub description: Option<String>,
    /// Absent: unchanged.
    #[serde(default)]
    pub settings: Option<WorkgroupSettings>,
}

pub async fn update_workgroup(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    JsonBody(body): JsonBody<WorkgroupChange>,
) -> AdminResult<Workgroup> {
    let workgroup = caller.workgroup()?;
    if body.description.as_ref().is_some_and(|d| d.chars().count() > 1000) {
        return Err(AdminError::invalid("description", "describe the workgroup in at most 1000 characters"));
    }
    let updated =
        state.store.update_workgroup(workgroup.id, body.description.as_deref(), body.settings.as_ref()).await?;
    let detail = json!({
        "before": {"description": workgroup.description, "settings": workgroup.settings},
        "after": {"description": updated.description, "settings": updated.settings},
    });
    record(&state, &caller, Some(workgroup.id), "workgroup.update", format!("workgroup:{}", workgroup.id), detail)
        .await;
    Ok(Reply::ok(updated))
}

/// Platform admins only, so the guard resolves no workgroup: it is looked up by name here.
/// `Conflict` while it still has datasources, APIs or apps.
pub async fn delete_workgroup(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> AdminResult<serde_json::Value> {
    let workgroup = state.store.workgroup_by_name(&name).await?;
    state.store.delete_workgroup(workgroup.id).await?;
    let detail = json!({"name": workgroup.name});
    record(&state, &caller, Some(workgroup.id), "workgroup.delete", format!("workgroup:{}", workgroup.id), detail)
        .await;
    Ok(Reply::ok(serde_json::Value::Null))
}

// ---------------------------------------------------------------------------------------------
// Audit log

/// `?limit=&beforeId=`: newest first; pass the answer's `nextBeforeId` to read further back.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub before_id: Option<i64>,
}

/// One stretch of the audit log. The log is read by cursor, not by page number: entries keep
/// arriving, and `beforeId` keeps the next read from repeating or skipping any.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub limit: u32,
    /// The `beforeId` of the next (older) stretch; `null` when this one reached the start.
    pub next_before_id: Option<i64>,
}

async fn audit_page(state: &AdminState, workgroup_id: Option<i64>, query: AuditQuery) -> AdminResult<AuditPage> {
    let limit = query.limit.unwrap_or(DEFAULT_AUDIT_LIMIT);
    if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
        return Err(AdminError::invalid("limit", format!("read 1 to {MAX_AUDIT_PAGE} entries at a time")));
    }
    let items = state.store.audit_log(workgroup_id, limit, query.before_id).await?;
    let full = items.len() == limit as usize;
    let next_before_id = if full { items.last().map(|e| e.id) } else { None };
    Ok(Reply::ok(AuditPage { items, limit, next_before_id }))
}

pub async fn workgroup_audit(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Query(query): Query<AuditQuery>,
) -> AdminResult<AuditPage> {
    let workgroup_id = caller.workgroup()?.id;
    audit_page(&state, Some(workgroup_id), query).await
}

pub async fn platform_audit(
    State(state): State<AdminState>,
    Query(query): Query<AuditQuery>,
) -> AdminResult<AuditPage> {
    audit_page(&state, None, query).await
}
