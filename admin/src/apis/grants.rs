//! Who may call an API (grants) and how a new version reaches a share of callers first (gray
//! strategies).
//!
//! ```text
//!  …/apis/{id}/grants                 GET (pages)          POST {appId, expiresAt?, qps?}   workgroup admin
//!  …/apis/{id}/grants/{appId}         DELETE revoke                                         workgroup admin
//!  …/apis/{id}/gray                   GET the strategies (production first)
//!  …/apis/{id}/gray/{environment}     PUT {version, percent, enabled?}   DELETE             developer
//! ```
//!
//! A grant is an approval: it is the API's workgroup admins who give and take it, to apps of
//! their own workgroup or, when the API's `visibleRange` is `public`, of any workgroup; the
//! app's clearance must reach the API's security level. The store checks both in the granting
//! transaction; its refusal is answered as a 400 naming `appId`. Granting again replaces the
//! expiry and the QPS limit (201 for a new grant, 200 for a replaced one).

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::routing::{delete, get, post, put};
use catalog::model::{Api, App, Environment, Grant, GrayStrategy, WorkgroupRole};
use catalog::now_ms;
use catalog::store::StoreError;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::versions::VersionRef;
use super::{api_in, datasource_for, record, rules};
use crate::AdminState;
use crate::access::{Access, Caller, Routes};
use crate::body::Fields;
use crate::datasources::path_id;
use crate::people::PageQuery;
use crate::reply::{AdminError, AdminResult, Page, Reply};

/// Registers the grant and gray routes.
pub fn register(routes: Routes) -> Routes {
    use WorkgroupRole::{Admin, Developer, Viewer};
    const GRANTS: &str = "/workgroups/{workgroup}/apis/{id}/grants";
    const GRAY: &str = "/workgroups/{workgroup}/apis/{id}/gray/{environment}";
    routes
        .add(Method::GET, GRANTS, Access::Workgroup(Viewer), get(list_grants))
        .answers_page::<ApiGrant>()
        .add(Method::POST, GRANTS, Access::Workgroup(Admin), post(create_grant))
        .body::<NewGrant>()
        .answers::<ApiGrant>()
        .add(
            Method::DELETE,
            "/workgroups/{workgroup}/apis/{id}/grants/{appId}",
            Access::Workgroup(Admin),
            delete(revoke_grant),
        )
        .answers_nothing()
        .add(Method::GET, "/workgroups/{workgroup}/apis/{id}/gray", Access::Workgroup(Viewer), get(list_gray))
        .answers_list::<GrayStrategy>()
        .add(Method::PUT, GRAY, Access::Workgroup(Developer), put(set_gray))
        .body::<GrayChange>()
        .answers::<GrayStrategy>()
        .add(Method::DELETE, GRAY, Access::Workgroup(Developer), delete(delete_gray))
        .answers_nothing()
}

type CallerExt = Extension<Arc<Caller>>;

// ---------------------------------------------------------------------------------------------
// Grants

/// The app a grant is for, as the API's workgroup sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantedApp {
    pub id: i64,
    pub name: String,
    /// The app's workgroup: another one's only when the API is public.
    pub workgroup: String,
}

/// One grant of the API.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiGrant {
    #[serde(flatten)]
    pub grant: Grant,
    /// Whether `expiresAt` has passed: the edge refuses the app's calls.
    pub expired: bool,
    pub app: GrantedApp,
}

async fn view(state: &AdminState, grant: Grant, app: &App, now: i64) -> Result<ApiGrant, AdminError> {
    let workgroup = state.store.workgroup(app.workgroup_id).await?.name;
    Ok(ApiGrant {
        expired: grant.expires_at.is_some_and(|at| at <= now),
        app: GrantedApp { id: app.id, name: app.name.clone(), workgroup },
        grant,
    })
}

async fn list_grants(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    Query(page): Query<PageQuery>,
) -> AdminResult<Page<ApiGrant>> {
    page.check()?;
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    let now = now_ms();
    let mut all = Vec::new();
    for grant in state.store.grants_of_api(api.id).await? {
        let app = match state.store.app(grant.app_id).await {
            Ok(app) => app,
            // Deleted meanwhile: its grants went with it.
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        all.push(view(&state, grant, &app, now).await?);
    }
    Ok(Reply::ok(Page::of(all, page.page_num, page.page_size)))
}

/// `POST …/apis/{id}/grants` `{appId, expiresAt?, qps?}`: `expiresAt` in milliseconds since
/// the Unix epoch (absent or `null`: no end), `qps` at least 1 (absent or `null`: only the
/// API's own limit).
/// The keys `POST …/grants` reads, read with [`Fields`] so that each refusal names its key.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // A description only: the handler reads the keys it names.
pub struct NewGrant {
    /// The app to grant the API to (granting again replaces the grant).
    #[schema(minimum = 1)]
    app_id: i64,
    /// When the grant ends, in milliseconds since the Unix epoch, in the future; absent or
    /// `null`: never.
    #[schema(minimum = 0)]
    expires_at: Option<i64>,
    /// The app's calls per second on this API; absent or `null`: the API's limit only.
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    qps: Option<i64>,
}

async fn create_grant(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> AdminResult<ApiGrant> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    let fields = Fields::parse_as::<NewGrant>(&body)?;
    let app_id = fields
        .integer("appId", 1..=i64::MAX, "the id of the app to grant")?
        .ok_or_else(|| AdminError::invalid("appId", "name the app to grant by its id"))?;
    let now = now_ms();
    let expires_at =
        fields.integer("expiresAt", 0..=i64::MAX, "when the grant ends, in milliseconds since the Unix epoch")?;
    if expires_at.is_some_and(|at| at <= now) {
        return Err(AdminError::invalid("expiresAt", "the grant would have ended already: give a time in the future"));
    }
    let qps = fields
        .integer("qps", 1..=i64::from(u32::MAX), "the app's calls per second on this API")?
        .map(|q| u32::try_from(q).unwrap_or(u32::MAX));
    let app = match state.store.app(app_id).await {
        Ok(app) => app,
        Err(StoreError::NotFound { .. }) => {
            return Err(AdminError::invalid("appId", format!("app `{app_id}` does not exist")));
        }
        Err(e) => return Err(e.into()),
    };
    let replaced = state.store.grants_of_api(api.id).await?.iter().any(|g| g.app_id == app.id);
    let wanted = Grant {
        id: 0,
        api_id: api.id,
        app_id: app.id,
        expires_at,
        qps,
        created_at: 0,
        created_by: caller.user.name.clone(),
        application_id: None,
    };
    // The store refuses a private API to another workgroup's app and a clearance below the
    // API's security level, inside the granting transaction.
    let grant = state.store.grant(&wanted).await.map_err(|e| match e {
        StoreError::Invalid(why) => AdminError::invalid("appId", why),
        other => other.into(),
    })?;
    let view = view(&state, grant, &app, now).await?;
    let action = if replaced { "grant.update" } else { "grant.create" };
    audit_grant(&state, &caller, action, &api, &view.app, json!({"expiresAt": expires_at, "qps": qps})).await;
    Ok(if replaced { Reply::ok(view) } else { Reply::created(view) })
}

async fn revoke_grant(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id, app_id)): Path<(String, String, String)>,
) -> AdminResult<serde_json::Value> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    let app_id = path_id("grant to app", &app_id)?;
    // `NotFound` when the app holds no grant on this API (or does not exist).
    state.store.revoke_grant(api.id, app_id).await?;
    let app = match state.store.app(app_id).await {
        Ok(app) => {
            let workgroup = state.store.workgroup(app.workgroup_id).await.map(|w| w.name).unwrap_or_default();
            GrantedApp { id: app.id, name: app.name, workgroup }
        }
        Err(_) => GrantedApp { id: app_id, name: String::new(), workgroup: String::new() },
    };
    audit_grant(&state, &caller, "grant.revoke", &api, &app, json!({})).await;
    Ok(Reply::ok(serde_json::Value::Null))
}

/// Audits a grant change in the API's workgroup and, when the app is another workgroup's, in
/// that one too: both teams see who approved what.
async fn audit_grant(
    state: &AdminState,
    caller: &Caller,
    action: &str,
    api: &Api,
    app: &GrantedApp,
    mut detail: serde_json::Value,
) {
    detail["api"] = json!(api.name);
    detail["apiId"] = json!(api.id);
    detail["appId"] = json!(app.id);
    detail["app"] = json!(app.name);
    detail["appWorkgroup"] = json!(app.workgroup);
    record(state, caller, action, api, detail.clone()).await;
    if let Ok(app_row) = state.store.app(app.id).await
        && app_row.workgroup_id != api.workgroup_id
    {
        crate::datasources::record(
            state,
            caller,
            Some(app_row.workgroup_id),
            action,
            format!("app:{}", app.id),
            detail,
        )
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// Gray strategies

/// `prod` or `test` from the path.
fn environment(text: &str) -> Result<Environment, AdminError> {
    text.parse().map_err(|why: String| AdminError::invalid("environment", why))
}

async fn list_gray(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Vec<GrayStrategy>> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    Ok(Reply::ok(state.store.gray_strategies(api.id).await?))
}

/// `PUT …/apis/{id}/gray/{environment}` `{version, percent, enabled?}`: `percent` of callers
/// (0 to 100, sticky per app) get saved version `version` instead of the published one, while
/// `enabled` (default `true`). The version must compile, and read the published version's
/// datasource, as the edge serves a gray version only then.
/// The keys `PUT …/gray/{environment}` reads, read with [`Fields`].
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // A description only: the handler reads the keys it names.
pub struct GrayChange {
    /// The saved version the gray share gets (not the draft).
    version: VersionRef,
    /// The share of callers that get it, in percent.
    #[schema(minimum = 0, maximum = 100)]
    percent: i64,
    /// Absent or `null`: `true`.
    enabled: Option<bool>,
}

async fn set_gray(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id, env)): Path<(String, String, String)>,
    body: Bytes,
) -> AdminResult<GrayStrategy> {
    let workgroup = caller.workgroup()?;
    let api = api_in(&state, workgroup, &id).await?;
    let env = environment(&env)?;
    let fields = Fields::parse_as::<GrayChange>(&body)?;
    let named = fields.value("version").ok_or_else(|| {
        AdminError::invalid("version", "name the saved version the gray share gets, such as 2 or \"V2\"")
    })?;
    let number = match VersionRef::from_json("version", named)? {
        VersionRef::Number(n) => n,
        VersionRef::Draft => {
            return Err(AdminError::invalid("version", "save the draft as a version first: only versions are served"));
        }
    };
    let percent = fields
        .integer("percent", 0..=100, "the share of callers that get the version, in percent")?
        .ok_or_else(|| AdminError::invalid("percent", "give the share of callers, 0 to 100"))?;
    let enabled = fields.flag("enabled")?.unwrap_or(true);
    let missing = || AdminError::invalid("version", format!("API `{}` has no version V{number}", api.name));
    let version = match state.store.version(api.id, number).await {
        Ok(version) => version,
        Err(StoreError::NotFound { .. }) => return Err(missing()),
        Err(e) => return Err(e.into()),
    };
    if version.definition.mode.is_sql() {
        let unservable = |e: AdminError| {
            let message = format!("V{number} cannot be served: {}", e.message);
            e.in_field("version").with_message(message)
        };
        let datasource = datasource_for(&state, workgroup, &version.definition).await.map_err(unservable)?;
        rules::compile(&version.definition, datasource.as_ref()).map_err(unservable)?;
    }
    if let Some(publication) = state.store.publications(api.id).await?.into_iter().find(|p| p.environment == env) {
        let served = state.store.version(api.id, publication.version).await?;
        if served.definition.datasource_id != version.definition.datasource_id {
            return Err(AdminError::invalid(
                "version",
                format!(
                    "V{number} reads another datasource than V{}, which {env} serves: a gray version must read the \
                     same one",
                    publication.version
                ),
            ));
        }
    }
    let wanted = GrayStrategy {
        api_id: api.id,
        environment: env,
        version: number,
        percent: u8::try_from(percent).unwrap_or(100),
        enabled,
        updated_at: 0,
    };
    let strategy = state.store.set_gray_strategy(&wanted).await.map_err(|e| match e {
        // Deleted meanwhile.
        StoreError::NotFound { .. } => missing(),
        StoreError::Invalid(why) => AdminError::invalid("percent", why),
        other => other.into(),
    })?;
    let detail = json!({"environment": env, "version": number, "percent": percent, "enabled": enabled});
    record(&state, &caller, "gray.set", &api, detail).await;
    Ok(Reply::ok(strategy))
}

async fn delete_gray(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id, env)): Path<(String, String, String)>,
) -> AdminResult<serde_json::Value> {
    let api = api_in(&state, caller.workgroup()?, &id).await?;
    let env = environment(&env)?;
    state.store.delete_gray_strategy(api.id, env).await?;
    record(&state, &caller, "gray.delete", &api, json!({"environment": env})).await;
    Ok(Reply::ok(serde_json::Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_in_paths_are_prod_or_test() {
        assert_eq!(environment("prod").unwrap(), Environment::Prod);
        assert_eq!(environment("TEST").unwrap(), Environment::Test);
        assert_eq!(environment("staging").unwrap_err().field.as_deref(), Some("environment"));
    }
}
