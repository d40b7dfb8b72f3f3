//! APIs, their versions, publishing and the test console.
//!
//! ```text
//!  /workgroups/{workgroup}/apis                      GET list (filters, pages)   POST create
//!  …/apis/{id}                                       GET   PUT (draft, metadata)   DELETE (not while published)
//!  …/apis/{id}/copy                                  POST  save as a new API
//!  …/apis/{id}/versions                              GET   POST save the draft as the next version
//!  …/apis/{id}/versions/{n}                          GET   DELETE (not while published)
//!  …/apis/{id}/versions/{n}/samples                  PUT   result samples (`draft` allowed)
//!  …/apis/{id}/versions/{a}/diff/{b}                 GET   `draft` allowed on either side
//!  …/apis/{id}/publish · /offline                    POST  {version, environment} · {environment, offlineAt?}
//!                                                          (202 with a request where approval is needed)
//!  …/apis/{id}/test                                  POST  the test console (`saveAsSample`)
//!  …/apis/{id}/grants · /grants/{appId}              GET  POST · DELETE (workgroup admin; grants.rs)
//!  …/apis/{id}/gray · /gray/{environment}            GET · PUT  DELETE gray strategies (grants.rs)
//! ```
//!
//! An `{id}` of another workgroup's API answers 404 exactly like a missing one. Every write
//! appends an audit entry with the caller's user name.

mod console;
mod diff;
mod grants;
mod rules;
mod versions;

pub(crate) use versions::servable;

use std::sync::Arc;

use crate::body::JsonBody;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::routing::{delete, get, post, put};
use catalog::model::{
    Api, ApiDefinition, ApiSettings, AuditEntry, AuthMode, Datasource, Publication, SecurityLevel, VisibleRange,
    Workgroup, WorkgroupRole,
};
use catalog::store::{ApiQuery, ApiStatus, StoreError};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::AdminState;
use super::access::{Access, Caller, Routes};
use super::people::PageQuery;
use super::reply::{AdminError, AdminResult, Page, Reply};

/// Registers this area's routes: reading needs a viewer, everything that changes an API,
/// publishes it or runs it (the test console) a developer; granting it to apps an admin.
pub fn register(routes: Routes) -> Routes {
    use WorkgroupRole::{Developer, Viewer};
    const APIS: &str = "/workgroups/{workgroup}/apis";
    const API: &str = "/workgroups/{workgroup}/apis/{id}";
    routes
        .add(Method::GET, APIS, Access::Workgroup(Viewer), get(list_apis))
        .answers_page::<ApiSummary>()
        .add(Method::POST, APIS, Access::Workgroup(Developer), post(create_api))
        .body::<NewApi>()
        .answers::<ApiView>()
        .add(Method::GET, API, Access::Workgroup(Viewer), get(get_api))
        .answers::<ApiView>()
        .add(Method::PUT, API, Access::Workgroup(Developer), put(update_api))
        .body::<ApiUpdate>()
        .answers::<ApiView>()
        .add(Method::DELETE, API, Access::Workgroup(Developer), delete(delete_api))
        .answers_nothing()
        .add(Method::POST, "/workgroups/{workgroup}/apis/{id}/copy", Access::Workgroup(Developer), post(copy_api))
        .body::<CopyApi>()
        .answers::<ApiView>()
        .add(
            Method::GET,
            "/workgroups/{workgroup}/apis/{id}/versions",
            Access::Workgroup(Viewer),
            get(versions::list_versions),
        )
        .answers_list::<versions::VersionView>()
        .add(
            Method::POST,
            "/workgroups/{workgroup}/apis/{id}/versions",
            Access::Workgroup(Developer),
            post(versions::save_version),
        )
        .optional_body::<versions::SaveVersion>()
        .answers::<versions::VersionView>()
        .add(
            Method::GET,
            "/workgroups/{workgroup}/apis/{id}/versions/{version}",
            Access::Workgroup(Viewer),
            get(versions::get_version),
        )
        .answers::<versions::VersionView>()
        .add(
            Method::DELETE,
            "/workgroups/{workgroup}/apis/{id}/versions/{version}",
            Access::Workgroup(Developer),
            delete(versions::delete_version),
        )
        .answers_nothing()
        .add(
            Method::PUT,
            "/workgroups/{workgroup}/apis/{id}/versions/{version}/samples",
            Access::Workgroup(Developer),
            put(versions::set_samples),
        )
        .body::<versions::SamplesBody>()
        .answers::<catalog::model::ApiSamples>()
        .add(
            Method::GET,
            "/workgroups/{workgroup}/apis/{id}/versions/{version}/diff/{other}",
            Access::Workgroup(Viewer),
            get(versions::diff_versions),
        )
        .answers::<diff::DefinitionDiff>()
        .add(
            Method::POST,
            "/workgroups/{workgroup}/apis/{id}/publish",
            Access::Workgroup(Developer),
            post(versions::publish),
        )
        .body::<versions::PublishBody>()
        .answers::<versions::PublishAnswer>()
        .add(
            Method::POST,
            "/workgroups/{workgroup}/apis/{id}/offline",
            Access::Workgroup(Developer),
            post(versions::offline),
        )
        .body::<versions::OfflineBody>()
        .answers::<versions::OfflineAnswer>()
        .add(
            Method::POST,
            "/workgroups/{workgroup}/apis/{id}/cache/purge",
            Access::Workgroup(Developer),
            post(purge_cache),
        )
        .answers_nothing()
        .add(Method::POST, "/workgroups/{workgroup}/apis/{id}/test", Access::Workgroup(Developer), post(console::test))
        .optional_body::<console::TestBody>()
        .extend(grants::register)
}

/// An API as the management API shows it: the stored API and where it is published.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiView {
    #[serde(flatten)]
    pub api: Api,
    pub publications: Vec<Publication>,
}

/// One line of the API list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiSummary {
    pub id: i64,
    pub name: String,
    pub path: String,
    pub method: String,
    pub description: String,
    pub folder_id: Option<i64>,
    #[serde(flatten)]
    pub settings: ApiSettings,
    pub mode: &'static str,
    pub datasource_id: Option<i64>,
    pub publications: Vec<Publication>,
    /// Milliseconds since the Unix epoch, as for the API itself.
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: String,
    pub updated_by: String,
}

/// `?folderId=&status=&name=` of the API list (`pageNum`, `pageSize` apart).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ApiFilter {
    pub folder_id: Option<String>,
    /// `prod` or `test` (published there), `published` (anywhere), `draft` (nowhere).
    pub status: Option<String>,
    /// A case-insensitive part of the name.
    pub name: Option<String>,
    pub tag: Option<String>,
}

async fn list_apis(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Query(page): Query<PageQuery>,
    Query(filter): Query<ApiFilter>,
) -> AdminResult<Page<ApiSummary>> {
    page.check()?;
    let workgroup = caller.workgroup()?;
    let folder = match filter.folder_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("root") => Some(None),
        Some(text) => {
            Some(Some(text.parse::<i64>().map_err(|_| AdminError::invalid("folderId", "a folder id, or `root`"))?))
        }
    };
    let status = match filter.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("published") => Some(ApiStatus::Published),
        Some("draft") => Some(ApiStatus::Draft),
        Some(env @ ("prod" | "test")) => {
            Some(ApiStatus::In(env.parse().map_err(|e: String| AdminError::invalid("status", e))?))
        }
        Some(other) => {
            return Err(AdminError::invalid("status", format!("`{other}`: expected prod, test, published or draft")));
        }
    };
    let query = ApiQuery {
        workgroup_id: workgroup.id,
        folder,
        tag: filter.tag.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
        name_contains: filter.name.filter(|n| !n.is_empty()),
        status,
        limit: page.page_size,
        offset: (page.page_num - 1).saturating_mul(page.page_size).min(i64::MAX as u64),
    };
    let (apis, total) = state.store.find_apis(&query).await?;
    // Only the page's APIs: a page costs the same whatever the workgroup's size.
    let ids: Vec<i64> = apis.iter().map(|api| api.id).collect();
    let mut publications = state.store.publications_of(&ids).await?;
    let items = apis
        .into_iter()
        .map(|api| ApiSummary {
            id: api.id,
            mode: api.draft.mode.name(),
            datasource_id: api.draft.datasource_id,
            publications: publications.remove(&api.id).unwrap_or_default(),
            name: api.name,
            path: api.path,
            method: api.method,
            description: api.description,
            folder_id: api.folder_id,
            settings: api.settings,
            created_at: api.details.created_at,
            updated_at: api.details.updated_at,
            created_by: api.details.created_by,
            updated_by: api.details.updated_by,
        })
        .collect();
    Ok(Reply::ok(Page { items, page_num: page.page_num, page_size: page.page_size, total }))
}

/// `POST …/apis`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApi {
    name: String,
    path: String,
    #[serde(default = "default_method")]
    method: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    folder_id: Option<i64>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    max_qps: Option<u32>,
    #[serde(default)]
    security_level: SecurityLevel,
    #[serde(default)]
    visible_range: VisibleRange,
    #[serde(default)]
    auth_mode: AuthMode,
    /// The mode's definition: `{datasourceId, mode, table | sql | tables | baseUrl…, …}`.
    #[schema(value_type = ApiDefinition)]
    draft: serde_json::Value,
    /// Whether the workgroup's alarm template, when enabled, gives the API its alarm rules
    /// (the owner as receiver). Default true.
    #[serde(default = "apply_template")]
    alarm_template: bool,
}

fn apply_template() -> bool {
    true
}

fn default_method() -> String {
    "GET".to_owned()
}

async fn create_api(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    JsonBody(body): JsonBody<NewApi>,
) -> AdminResult<ApiView> {
    let workgroup = caller.workgroup()?;
    let draft = rules::parse_definition(body.draft)?;
    let api = Api {
        id: 0,
        workgroup_id: workgroup.id,
        name: body.name,
        path: body.path,
        method: body.method,
        description: body.description,
        folder_id: body.folder_id,
        settings: ApiSettings {
            tags: body.tags,
            owner: match body.owner {
                Some(owner) => owner.trim().to_owned(),
                // The creator answers for a new API unless someone else is named; a platform
                // admin who is no member cannot own it, and it starts without an owner.
                None if creator_may_own(&state, &caller, workgroup).await? => caller.user.name.clone(),
                None => String::new(),
            },
            max_qps: body.max_qps,
            security_level: body.security_level,
            visible_range: body.visible_range,
            auth_mode: body.auth_mode,
        },
        draft,
        details: Default::default(),
    };
    let api = checked(&state, workgroup, api).await?;
    check_owner(&state, workgroup, &api.settings.owner, None).await?;
    if let Some(folder_id) = api.folder_id {
        folder_in(&state, workgroup, folder_id).await?;
    }
    let created = state.store.create_api_by(&api, &caller.user.name).await.map_err(|e| seen_by(&caller, e))?;
    record(&state, &caller, "api.create", &created, serde_json::json!({"name": created.name, "path": created.path}))
        .await;
    if body.alarm_template {
        alarm_template(&state, &caller, &created).await;
    }
    Ok(Reply::created(ApiView { api: created, publications: Vec::new() }))
}

async fn get_api(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<ApiView> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    let publications = state.store.publications(api.id).await?;
    Ok(Reply::ok(ApiView { api, publications }))
}

/// `PUT …/apis/{id}`: every key is optional; what is left out is kept. `folderId: null`
/// moves the API to the root.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiUpdate {
    name: Option<String>,
    path: Option<String>,
    method: Option<String>,
    description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    folder_id: Option<Option<i64>>,
    tags: Option<Vec<String>>,
    owner: Option<String>,
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "present")]
    max_qps: Option<Option<u32>>,
    security_level: Option<SecurityLevel>,
    visible_range: Option<VisibleRange>,
    auth_mode: Option<AuthMode>,
    #[schema(value_type = Option<ApiDefinition>)]
    draft: Option<serde_json::Value>,
}

/// Tells a key given as `null` (`Some(None)`) from a key left out (`None`).
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

async fn update_api(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ApiUpdate>,
) -> AdminResult<ApiView> {
    let workgroup = caller.workgroup()?;
    let current = api_in(&state, workgroup, &id).await?;
    let draft = match body.draft {
        Some(draft) => rules::parse_definition(draft)?,
        None => current.draft.clone(),
    };
    let wanted = Api {
        name: body.name.unwrap_or_else(|| current.name.clone()),
        path: body.path.unwrap_or_else(|| current.path.clone()),
        method: body.method.unwrap_or_else(|| current.method.clone()),
        description: body.description.unwrap_or_else(|| current.description.clone()),
        settings: ApiSettings {
            tags: body.tags.unwrap_or_else(|| current.settings.tags.clone()),
            owner: body.owner.map_or_else(|| current.settings.owner.clone(), |o| o.trim().to_owned()),
            max_qps: body.max_qps.unwrap_or(current.settings.max_qps),
            security_level: body.security_level.unwrap_or(current.settings.security_level),
            visible_range: body.visible_range.unwrap_or(current.settings.visible_range),
            auth_mode: body.auth_mode.unwrap_or(current.settings.auth_mode),
        },
        draft,
        ..current.clone()
    };
    let wanted = checked(&state, workgroup, wanted).await?;
    check_owner(&state, workgroup, &wanted.settings.owner, Some(&current.settings.owner)).await?;
    if let Some(Some(folder_id)) = body.folder_id {
        folder_in(&state, workgroup, folder_id).await?;
    }
    let actor = &caller.user.name;
    let mut updated = state.store.update_api_by(&wanted, actor).await.map_err(|e| seen_by(&caller, e))?;
    if let Some(folder_id) = body.folder_id
        && folder_id != current.folder_id
    {
        updated = state.store.move_api_by(updated.id, folder_id, actor).await?;
    }
    let changed: Vec<&str> = [
        ("name", current.name != updated.name),
        ("path", current.path != updated.path),
        ("method", current.method != updated.method),
        ("description", current.description != updated.description),
        ("folderId", current.folder_id != updated.folder_id),
        ("tags", current.settings.tags != updated.settings.tags),
        ("owner", current.settings.owner != updated.settings.owner),
        ("maxQps", current.settings.max_qps != updated.settings.max_qps),
        ("securityLevel", current.settings.security_level != updated.settings.security_level),
        ("visibleRange", current.settings.visible_range != updated.settings.visible_range),
        ("authMode", current.settings.auth_mode != updated.settings.auth_mode),
        ("draft", current.draft != updated.draft),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect();
    record(&state, &caller, "api.update", &updated, serde_json::json!({"name": updated.name, "changed": changed}))
        .await;
    let publications = state.store.publications(updated.id).await?;
    Ok(Reply::ok(ApiView { api: updated, publications }))
}

async fn delete_api(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<serde_json::Value> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    // The store refuses (Conflict, naming the environments) while the API is published, in
    // the same transaction as the delete.
    state.store.delete_api(api.id).await?;
    record(&state, &caller, "api.delete", &api, serde_json::json!({"name": api.name, "path": api.path})).await;
    Ok(Reply::ok(serde_json::Value::Null))
}

/// `POST …/apis/{id}/cache/purge`: the edge's cached answers of the API, in every
/// environment and version, become unreachable at once (`docs/cache.md`).
async fn purge_cache(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<serde_json::Value> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    state.edge.purge_cache(api.id).await;
    record(&state, &caller, "api.cache.purge", &api, serde_json::json!({})).await;
    Ok(Reply::ok(serde_json::Value::Null))
}

/// `POST …/apis/{id}/copy`: a new API with the draft of this one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyApi {
    name: String,
    path: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    folder_id: Option<Option<i64>>,
}

async fn copy_api(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<CopyApi>,
) -> AdminResult<ApiView> {
    let workgroup = caller.workgroup()?;
    let source = api_in(&state, workgroup, &id).await?;
    // With its constants' values, so the copy seals its own.
    let draft = state.store.api_with_secrets(source.id).await?.draft;
    let copy = Api {
        id: 0,
        name: body.name,
        path: body.path,
        description: body.description.unwrap_or_else(|| source.description.clone()),
        folder_id: body.folder_id.unwrap_or(source.folder_id),
        draft,
        ..source.clone()
    };
    let mut copy = checked(&state, workgroup, copy).await?;
    // The copy is a new API: its owner must be a member now, as for any API created. One who
    // no longer is gives way to the copier (when a member), else to no owner.
    if !copy.settings.owner.is_empty() && !state.store.is_member_named(workgroup.id, &copy.settings.owner).await? {
        copy.settings.owner =
            if creator_may_own(&state, &caller, workgroup).await? { caller.user.name.clone() } else { String::new() };
    }
    if let Some(folder_id) = copy.folder_id {
        folder_in(&state, workgroup, folder_id).await?;
    }
    let created = state.store.create_api_by(&copy, &caller.user.name).await.map_err(|e| seen_by(&caller, e))?;
    record(&state, &caller, "api.copy", &created, serde_json::json!({"name": created.name, "from": source.id})).await;
    alarm_template(&state, &caller, &created).await;
    Ok(Reply::created(ApiView { api: created, publications: Vec::new() }))
}

/// Gives a new API its workgroup's alarm template (when enabled). The API is created already,
/// so a failure is logged, not answered: its rules can be added by hand.
async fn alarm_template(state: &AdminState, caller: &Caller, api: &Api) {
    match state.store.apply_alarm_template(api.id, &caller.user.name).await {
        Ok(rules) if rules.is_empty() => {}
        Ok(rules) => {
            let detail = serde_json::json!({"name": api.name, "rules": rules.len(), "fromTemplate": true});
            record(state, caller, "alarm.create", api, detail).await;
        }
        Err(e) => tracing::error!(api = api.id, "cannot apply the alarm template: {e}"),
    }
}

/// The API `id` of `workgroup`; another workgroup's API is as missing as one that is not.
pub(super) async fn api_in(state: &AdminState, workgroup: &Workgroup, id: &str) -> Result<Api, AdminError> {
    let missing = || AdminError::not_found("API", id);
    let number: i64 = id.parse().map_err(|_| missing())?;
    match state.store.api(number).await {
        Ok(api) if api.workgroup_id == workgroup.id => Ok(api),
        Ok(_) | Err(catalog::store::StoreError::NotFound { .. }) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// Name, method and path by the rules of `sluice check`; the draft's datasource must be the
/// workgroup's, a workflow's functions inline and compiling or in the workgroup's library.
/// Returns the API with its method upper-case.
async fn checked(state: &AdminState, workgroup: &Workgroup, mut api: Api) -> Result<Api, AdminError> {
    rules::check_name(&api.name)?;
    api.method = rules::check_method(&api.method)?;
    api.settings = rules::check_settings(api.settings)?;
    rules::check_path(&api.path, &api.draft)?;
    if let Some(id) = api.draft.datasource_id {
        datasource_in(state, workgroup, id).await?;
    }
    crate::functions::check_draft(state, workgroup, &api.draft).await?;
    Ok(api)
}

/// An owner being set must name a member of the workgroup (or be empty): 400 on `owner`.
/// `current` is the stored owner on an update: keeping it is never refused, so APIs owned by
/// someone who has since left (or was set before the rule) stay as they are until changed.
async fn check_owner(
    state: &AdminState,
    workgroup: &Workgroup,
    owner: &str,
    current: Option<&str>,
) -> Result<(), AdminError> {
    if owner.is_empty() || current == Some(owner) {
        return Ok(());
    }
    if state.store.is_member_named(workgroup.id, owner).await? {
        Ok(())
    } else {
        Err(AdminError::invalid("owner", plugins::api_rules::owner_not_member(owner, &workgroup.name)))
    }
}

/// Whether the caller may own an API of the workgroup: platform admins act in every workgroup
/// without being members, and only members own APIs.
async fn creator_may_own(state: &AdminState, caller: &Caller, workgroup: &Workgroup) -> Result<bool, AdminError> {
    if caller.workgroup.as_ref().is_some_and(|(w, _)| w.id == workgroup.id) && !caller.user.platform_admin {
        return Ok(true);
    }
    Ok(state.store.is_member_named(workgroup.id, &caller.user.name).await?)
}

/// A store error as `caller` sees it: a path conflict names the other API only when it is in
/// the workgroup the caller is working in, or the caller is a platform admin.
pub(super) fn seen_by(caller: &Caller, error: StoreError) -> AdminError {
    match error {
        StoreError::PathConflict(conflict) => {
            let same = caller.workgroup.as_ref().is_some_and(|(w, _)| w.id == conflict.workgroup_id);
            AdminError::path_conflict(&conflict, same || caller.user.platform_admin)
        }
        other => other.into(),
    }
}

/// The definition's datasource, password opened, when it is the workgroup's.
pub(super) async fn datasource_in(
    state: &AdminState,
    workgroup: &Workgroup,
    id: i64,
) -> Result<Datasource, AdminError> {
    let missing = || AdminError::invalid("draft.datasourceId", format!("datasource `{id}` does not exist"));
    match state.store.datasource_with_secret(id).await {
        Ok(datasource) if datasource.workgroup_id == workgroup.id => Ok(datasource),
        Ok(_) | Err(catalog::store::StoreError::NotFound { .. }) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// The datasource a definition compiles against (`None` for registered APIs).
pub(super) async fn datasource_for(
    state: &AdminState,
    workgroup: &Workgroup,
    definition: &ApiDefinition,
) -> Result<Option<Datasource>, AdminError> {
    match definition.datasource_id {
        Some(id) if definition.mode.is_sql() => Ok(Some(datasource_in(state, workgroup, id).await?)),
        _ => Ok(None),
    }
}

async fn folder_in(state: &AdminState, workgroup: &Workgroup, id: i64) -> Result<(), AdminError> {
    match state.store.folder(id).await {
        Ok(folder) if folder.workgroup_id == workgroup.id => Ok(()),
        Ok(_) | Err(catalog::store::StoreError::NotFound { .. }) => {
            Err(AdminError::invalid("folderId", format!("folder `{id}` does not exist")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Appends an audit entry for a change already made; a failure is logged, not answered
/// (the change stands).
pub(super) async fn record(state: &AdminState, caller: &Caller, action: &str, api: &Api, detail: serde_json::Value) {
    let entry = AuditEntry {
        id: 0,
        at: 0,
        actor: caller.user.name.clone(),
        action: action.to_owned(),
        workgroup_id: Some(api.workgroup_id),
        target: format!("api:{}", api.id),
        detail,
    };
    if let Err(e) = state.store.audit(&entry).await {
        tracing::error!(action, api = api.id, "cannot append to the audit log: {e}");
    }
}
