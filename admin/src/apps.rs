//! Apps: the identities callers present at the edge, with their secrets, tokens, the grants
//! they hold, and the OpenAPI document of what an app may call.
//!
//! ```text
//!  /workgroups/{workgroup}/apps               GET list (pages)        POST create → `secret`, once (201)
//!  …/apps/{id}                                GET   PUT (what is sent changes)   DELETE (tokens, grants too)
//!  …/apps/{id}/secret                         POST  rotate → the new `secret`, once; the old one keeps
//!                                                   working for `overlapSecs` (default 86400)
//!  …/apps/{id}/tokens                         GET   (pages; prefixes only)   POST issue → `token`, once (201)
//!  …/apps/{id}/tokens/{tokenId}               DELETE revoke
//!  …/apps/{id}/grants                         GET   the app's grants with the APIs they name (pages)
//!  …/apps/{id}/openapi.json                   GET   the APIs the app may call in production, as it sees them
//! ```
//!
//! Reading needs a viewer of the workgroup, every change a developer. Granting is the API's
//! side (`apis/grants.rs`): an approval by the API's workgroup admins.
//!
//! Secrets and token texts appear in exactly one answer, the one that made them; no read
//! returns them and no audit entry holds them. An `{id}` of another workgroup's app answers 404
//! exactly like a missing one.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use catalog::model::{App, AppToken, Grant, SecurityLevel, Workgroup, WorkgroupRole};
use catalog::now_ms;
use catalog::store::{APP_TOKEN_MAX_TTL_SECS, MAX_IP_ALLOW, StoreError};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::AdminState;
use super::access::{Access, Caller, Routes};
use super::body::Fields;
use super::datasources::{path_id, record};
use super::docs::cache::DocKey;
use super::people::PageQuery;
use super::reply::{AdminError, AdminResult, Page, Reply};

/// How long a rotated-out secret keeps working when the request names no overlap: one day.
pub const DEFAULT_OVERLAP_SECS: i64 = 86_400;
/// The longest overlap the store accepts: 30 days.
const MAX_OVERLAP_SECS: i64 = 30 * 24 * 3600;
/// How long an issued app token lives when the request names no TTL: two hours.
pub const DEFAULT_TOKEN_TTL_SECS: i64 = 7_200;

/// Registers this area's routes.
pub fn register(routes: Routes) -> Routes {
    use WorkgroupRole::{Developer, Viewer};
    const APPS: &str = "/workgroups/{workgroup}/apps";
    const APP: &str = "/workgroups/{workgroup}/apps/{id}";
    const TOKENS: &str = "/workgroups/{workgroup}/apps/{id}/tokens";
    routes
        .add(Method::GET, APPS, Access::Workgroup(Viewer), get(list_apps))
        .answers_page::<App>()
        .add(Method::POST, APPS, Access::Workgroup(Developer), post(create_app))
        .body::<NewApp>()
        .answers::<AppWithSecret>()
        .add(Method::GET, APP, Access::Workgroup(Viewer), get(get_app))
        .answers::<App>()
        .add(Method::PUT, APP, Access::Workgroup(Developer), put(update_app))
        .body::<AppChange>()
        .answers::<App>()
        .add(Method::DELETE, APP, Access::Workgroup(Developer), delete(delete_app))
        .answers_nothing()
        .add(
            Method::POST,
            "/workgroups/{workgroup}/apps/{id}/secret",
            Access::Workgroup(Developer),
            post(rotate_secret),
        )
        .optional_body::<SecretRotation>()
        .answers::<AppWithSecret>()
        .add(Method::GET, TOKENS, Access::Workgroup(Viewer), get(list_tokens))
        .answers_page::<AppToken>()
        .add(Method::POST, TOKENS, Access::Workgroup(Developer), post(issue_token))
        .optional_body::<TokenRequest>()
        .answers::<IssuedToken>()
        .add(
            Method::DELETE,
            "/workgroups/{workgroup}/apps/{id}/tokens/{tokenId}",
            Access::Workgroup(Developer),
            delete(revoke_token),
        )
        .answers_nothing()
        .add(Method::GET, "/workgroups/{workgroup}/apps/{id}/grants", Access::Workgroup(Viewer), get(app_grants))
        .answers_page::<AppGrant>()
        .add(Method::GET, "/workgroups/{workgroup}/apps/{id}/openapi.json", Access::Workgroup(Viewer), get(app_openapi))
}

type CallerExt = Extension<Arc<Caller>>;

/// The app `id` if it belongs to `workgroup`; 404 otherwise, also for another workgroup's.
pub(super) async fn app_in(state: &AdminState, workgroup: &Workgroup, id: &str) -> Result<App, AdminError> {
    let number = path_id("app", id)?;
    match state.store.app(number).await {
        Ok(app) if app.workgroup_id == workgroup.id => Ok(app),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(AdminError::not_found("app", number)),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Checks

/// App names as stored: trimmed, 1 to 64 characters, no control characters.
fn app_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(AdminError::invalid("name", "name the app in 1 to 64 characters, without control characters"));
    }
    Ok(name.to_owned())
}

fn description(text: String) -> Result<String, AdminError> {
    if text.chars().count() > 1000 {
        return Err(AdminError::invalid("description", "describe the app in at most 1000 characters"));
    }
    Ok(text)
}

/// `L1` to `L4` (any case).
fn clearance(text: &str) -> Result<SecurityLevel, AdminError> {
    text.parse().map_err(|why: String| AdminError::invalid("clearance", why))
}

/// An IP allow list as stored: each entry a CIDR (`10.0.0.0/8`, `2001:db8::/32`) or one
/// address, in canonical form, without repeats; errors name the entry (`ipAllow[i]`).
pub fn ip_allow(entries: &[String]) -> Result<Vec<String>, AdminError> {
    if entries.len() > MAX_IP_ALLOW {
        return Err(AdminError::invalid("ipAllow", format!("an app allows at most {MAX_IP_ALLOW} address ranges")));
    }
    let mut allowed: Vec<String> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let field = format!("ipAllow[{i}]");
        let text = entry.trim();
        // The edge reads stored lists with the same parser: what is accepted here is enforced.
        let net = net::cidr::parse_cidr(text).map_err(|e| {
            AdminError::invalid(
                &field,
                format!("`{text}`: {}; write a CIDR such as `10.0.0.0/8` or `2001:db8::/32`, or one address", e.reason),
            )
        })?;
        let canonical = net::cidr::cidr_text(net);
        if let Some(first) = allowed.iter().position(|a| *a == canonical) {
            return Err(AdminError::invalid(&field, format!("`{text}` repeats ipAllow[{first}]")));
        }
        allowed.push(canonical);
    }
    Ok(allowed)
}

/// What the audit log keeps of an app: never a secret.
fn app_detail(app: &App) -> serde_json::Value {
    json!({
        "name": app.name,
        "appKey": app.app_key,
        "clearance": app.clearance,
        "ipAllow": app.ip_allow,
        "disabled": app.disabled,
    })
}

async fn audit(state: &AdminState, caller: &Caller, action: &str, app: &App, detail: serde_json::Value) {
    record(state, caller, Some(app.workgroup_id), action, format!("app:{}", app.id), detail).await;
}

// ---------------------------------------------------------------------------------------------
// Apps

/// An app with the secret that was just made: the only answers that carry one.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppWithSecret {
    #[serde(flatten)]
    pub app: App,
    /// Shown this once: keep it; it cannot be read again.
    pub secret: String,
}

/// The keys `POST …/apps` reads, read with [`Fields`] so that each refusal names its key
/// (`ipAllow[2]`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // A description only: the handler reads the keys it names.
pub struct NewApp {
    /// 1 to 64 characters.
    name: String,
    description: Option<String>,
    /// Addresses and CIDRs the app may call from; absent, `null` or `[]`: any.
    ip_allow: Option<Vec<String>>,
    /// The highest security level the app may read (default L1).
    clearance: Option<SecurityLevel>,
}

/// The keys `PUT …/apps/{id}` reads: what is left out is kept; `ipAllow: []` (or `null`)
/// allows every address.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // A description only: the handler reads the keys it names.
pub struct AppChange {
    name: Option<String>,
    description: Option<String>,
    ip_allow: Option<Vec<String>>,
    clearance: Option<SecurityLevel>,
    disabled: Option<bool>,
}

/// The keys `POST …/apps/{id}/secret` reads.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // A description only: the handler reads the keys it names.
pub struct SecretRotation {
    /// How many seconds the replaced secret keeps working (default 86400).
    #[schema(minimum = 0, maximum = 2592000)]
    overlap_secs: Option<i64>,
}

/// The keys `POST …/apps/{id}/tokens` reads.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // A description only: the handler reads the keys it names.
pub struct TokenRequest {
    /// How many seconds the token lives (default 7200).
    #[schema(minimum = 1, maximum = 2592000)]
    ttl_secs: Option<i64>,
}

async fn list_apps(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Query(page): Query<PageQuery>,
) -> AdminResult<Page<App>> {
    page.check()?;
    let all = state.store.apps(caller.workgroup()?.id).await?;
    Ok(Reply::ok(Page::of(all, page.page_num, page.page_size)))
}

/// `POST …/apps` `{name, description?, ipAllow?, clearance?}`.
async fn create_app(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    body: Bytes,
) -> AdminResult<AppWithSecret> {
    let workgroup = caller.workgroup()?;
    let fields = Fields::parse_as::<NewApp>(&body)?;
    let name = app_name(&fields.text("name")?.ok_or_else(|| AdminError::invalid("name", "name the app"))?)?;
    let description = description(fields.text("description")?.unwrap_or_default())?;
    let allowed = ip_allow(&fields.texts("ipAllow")?.unwrap_or_default())?;
    let level = fields.text("clearance")?.as_deref().map(clearance).transpose()?.unwrap_or_default();
    let (mut app, secret) = state.store.create_app(workgroup.id, &name, &description).await?;
    // The store creates apps with the defaults; the settings checked above follow.
    if !allowed.is_empty() || level != app.clearance {
        app = state.store.update_app(&App { ip_allow: allowed, clearance: level, ..app }).await?;
    }
    audit(&state, &caller, "app.create", &app, app_detail(&app)).await;
    Ok(Reply::created(AppWithSecret { app, secret }))
}

async fn get_app(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<App> {
    Ok(Reply::ok(app_in(&state, caller.workgroup()?, &id).await?))
}

/// `PUT …/apps/{id}` `{name?, description?, ipAllow?, clearance?, disabled?}`: what is left
/// out is kept; `ipAllow: []` (or `null`) allows every address.
async fn update_app(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> AdminResult<App> {
    let before = app_in(&state, caller.workgroup()?, &id).await?;
    let fields = Fields::parse_as::<AppChange>(&body)?;
    let mut wanted = before.clone();
    if fields.has("name") {
        wanted.name = app_name(&fields.text("name")?.unwrap_or_default())?;
    }
    if let Some(text) = fields.text("description")? {
        wanted.description = description(text)?;
    }
    if fields.has("ipAllow") {
        wanted.ip_allow = ip_allow(&fields.texts("ipAllow")?.unwrap_or_default())?;
    }
    if let Some(text) = fields.text("clearance")? {
        wanted.clearance = clearance(&text)?;
    }
    if let Some(disabled) = fields.flag("disabled")? {
        wanted.disabled = disabled;
    }
    let updated = state.store.update_app(&wanted).await?;
    let changed: Vec<&str> = [
        ("name", before.name != updated.name),
        ("description", before.description != updated.description),
        ("ipAllow", before.ip_allow != updated.ip_allow),
        ("clearance", before.clearance != updated.clearance),
        ("disabled", before.disabled != updated.disabled),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect();
    let detail = json!({"before": app_detail(&before), "after": app_detail(&updated), "changed": changed});
    audit(&state, &caller, "app.update", &updated, detail).await;
    Ok(Reply::ok(updated))
}

async fn delete_app(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<serde_json::Value> {
    let app = app_in(&state, caller.workgroup()?, &id).await?;
    let grants = state.store.grants_of_app(app.id).await?.len();
    state.store.delete_app(app.id).await?;
    let mut detail = app_detail(&app);
    detail["grantsRemoved"] = json!(grants);
    audit(&state, &caller, "app.delete", &app, detail).await;
    Ok(Reply::ok(serde_json::Value::Null))
}

/// `POST …/apps/{id}/secret` `{overlapSecs?}`: a new secret; the one it replaces keeps working
/// for `overlapSecs` (0 to 2592000, default 86400) so callers can switch without downtime.
async fn rotate_secret(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> AdminResult<AppWithSecret> {
    let app = app_in(&state, caller.workgroup()?, &id).await?;
    let fields = Fields::parse_as::<SecretRotation>(&body)?;
    let overlap = fields
        .integer("overlapSecs", 0..=MAX_OVERLAP_SECS, "how many seconds the replaced secret keeps working")?
        .unwrap_or(DEFAULT_OVERLAP_SECS);
    let (app, secret) = state.store.rotate_app_secret(app.id, overlap).await?;
    // `previous…` keys would be masked as secret-looking; `oldWorksUntil` says the same.
    let detail = json!({"name": app.name, "overlapSecs": overlap, "oldWorksUntil": app.previous_secret_expires_at});
    audit(&state, &caller, "app.secret.rotate", &app, detail).await;
    Ok(Reply::ok(AppWithSecret { app, secret }))
}

// ---------------------------------------------------------------------------------------------
// App tokens

/// An app token that was just issued, with its text: the only answer that carries it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = IssuedAppToken)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    #[serde(flatten)]
    pub token: AppToken,
    /// `sat_…`, shown this once: send it as `Authorization: Bearer <token>` with the app key.
    #[serde(rename = "token")]
    pub text: String,
}

/// The app's tokens that have not expired (revoked ones included), newest first.
async fn list_tokens(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    Query(page): Query<PageQuery>,
) -> AdminResult<Page<AppToken>> {
    page.check()?;
    let app = app_in(&state, caller.workgroup()?, &id).await?;
    let all = state.store.app_tokens(app.id).await?;
    Ok(Reply::ok(Page::of(all, page.page_num, page.page_size)))
}

/// `POST …/apps/{id}/tokens` `{ttlSecs?}` (1 to 2592000, default 7200).
async fn issue_token(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> AdminResult<IssuedToken> {
    let app = app_in(&state, caller.workgroup()?, &id).await?;
    let fields = Fields::parse_as::<TokenRequest>(&body)?;
    let ttl = fields
        .integer("ttlSecs", 1..=APP_TOKEN_MAX_TTL_SECS, "how many seconds the token lives")?
        .unwrap_or(DEFAULT_TOKEN_TTL_SECS);
    let (token, text) = state.store.issue_app_token(app.id, ttl).await?;
    let detail = json!({"tokenId": token.id, "prefix": token.prefix, "expiresAt": token.expires_at});
    audit(&state, &caller, "app.token.issue", &app, detail).await;
    Ok(Reply::created(IssuedToken { token, text }))
}

async fn revoke_token(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id, token_id)): Path<(String, String, String)>,
) -> AdminResult<serde_json::Value> {
    let app = app_in(&state, caller.workgroup()?, &id).await?;
    let token_id = path_id("app token", &token_id)?;
    // `NotFound` also for another app's token.
    state.store.revoke_app_token(app.id, token_id).await?;
    audit(&state, &caller, "app.token.revoke", &app, json!({"tokenId": token_id})).await;
    Ok(Reply::ok(serde_json::Value::Null))
}

// ---------------------------------------------------------------------------------------------
// The app's grants and document

/// The API a grant names, as the app's workgroup sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantedApi {
    pub id: i64,
    pub name: String,
    pub method: String,
    pub path: String,
    /// The API's workgroup: another one's when the API is public.
    pub workgroup: String,
}

/// One grant the app holds.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppGrant {
    #[serde(flatten)]
    pub grant: Grant,
    /// Whether `expiresAt` has passed: the edge refuses calls under it.
    pub expired: bool,
    pub api: GrantedApi,
}

async fn app_grants(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    Query(page): Query<PageQuery>,
) -> AdminResult<Page<AppGrant>> {
    page.check()?;
    let app = app_in(&state, caller.workgroup()?, &id).await?;
    let now = now_ms();
    let mut workgroups: HashMap<i64, String> = HashMap::new();
    let mut all = Vec::new();
    for grant in state.store.grants_of_app(app.id).await? {
        let api = match state.store.api(grant.api_id).await {
            Ok(api) => api,
            // Deleted meanwhile: its grants went with it.
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let workgroup = match workgroups.get(&api.workgroup_id) {
            Some(name) => name.clone(),
            None => {
                let name = state.store.workgroup(api.workgroup_id).await?.name;
                workgroups.insert(api.workgroup_id, name.clone());
                name
            }
        };
        all.push(AppGrant {
            expired: grant.expires_at.is_some_and(|at| at <= now),
            api: GrantedApi { id: api.id, name: api.name, method: api.method, path: api.path, workgroup },
            grant,
        });
    }
    Ok(Reply::ok(Page::of(all, page.page_num, page.page_size)))
}

/// The OpenAPI 3.1 document of what the app may call ([`super::docs::app_document`]), kept
/// per revision, app and clearance until one of its grants expires ([`super::docs::cache`]).
async fn app_openapi(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    let revision = state.store.revision().await?;
    let app = app_in(&state, caller.workgroup()?, &id).await?;
    let key = DocKey::App { workgroup_id: app.workgroup_id, app_id: app.id, clearance: app.clearance };
    let (store, server) = (state.store.clone(), state.edge_url.clone());
    let doc = state
        .docs
        .get_or_build(key, revision, now_ms(), move || async move {
            super::docs::app_document(&store, &app, &server, now_ms()).await
        })
        .await?;
    Ok(super::docs::cached_document(&doc, &headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(result: Result<Vec<String>, AdminError>) -> String {
        result.unwrap_err().field.unwrap_or_default()
    }

    #[test]
    fn ip_allow_lists_are_cidrs_or_addresses_in_canonical_form() {
        let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            ip_allow(&list(&["10.0.0.0/8", " 192.168.1.7 ", "2001:DB8::/32", "::1"])).unwrap(),
            ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::1"]
        );
        assert_eq!(field(ip_allow(&list(&["10.0.0.0/8", "10.0.0.0/33"]))), "ipAllow[1]");
        assert_eq!(field(ip_allow(&list(&["example.com"]))), "ipAllow[0]");
        assert_eq!(field(ip_allow(&list(&["10.0.0.0/8", "", "1.2.3.4"]))), "ipAllow[1]");
        let bits = ip_allow(&list(&["10.1.2.3/8"])).unwrap_err();
        assert!(bits.message.contains("`10.0.0.0/8`"), "{bits:?}");
        assert_eq!(field(ip_allow(&list(&["10.0.0.0/8", "10.0.0.0/8"]))), "ipAllow[1]");
        let many: Vec<String> = (0..=MAX_IP_ALLOW).map(|i| format!("10.0.{}.{}", i / 256, i % 256)).collect();
        assert_eq!(field(ip_allow(&many)), "ipAllow");
    }

    #[test]
    fn names_and_clearances_are_checked() {
        assert_eq!(app_name("  mobile ").unwrap(), "mobile");
        for bad in ["", "  ", "a\nb", &"x".repeat(65)] {
            assert_eq!(app_name(bad).unwrap_err().field.as_deref(), Some("name"), "{bad:?}");
        }
        assert_eq!(clearance("l3").unwrap(), SecurityLevel::L3);
        assert_eq!(clearance("L5").unwrap_err().field.as_deref(), Some("clearance"));
    }
}
