//! Requests that wait for someone's decision, in one inbox, and applications for access to
//! listed APIs.
//!
//! ```text
//!  /workgroups/{wg}/applications       POST apply for one of the workgroup's apps (developer)
//!                                      GET  the workgroup's applications (viewer;
//!                                           ?side=provider: those for its APIs)
//!  /approvals                          GET  ?box=todo (default: what waits for my decision)
//!                                           | mine (what I asked for); kind, state, paging
//!  /approvals/{id}                     GET
//!  /approvals/{id}/approve             POST {comment?, qps?, expiresAt?}
//!  /approvals/{id}/reject              POST {comment}
//!  /approvals/{id}/withdraw            POST (the requester, while pending)
//! ```
//!
//! Who decides: platform admins decide listings and delistings; the API workgroup's admins
//! (platform admins act as admins everywhere) decide the rest, and an API's owner its
//! applications too. Nobody decides their own request. A request is visible to whoever may
//! decide it, its requester, and members of the API's and the applicant's workgroups; to
//! anyone else it does not exist (404). Deciding is race-safe: of two deciders one wins, the
//! other gets 409; the same decision repeated by the same user answers the request again.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use catalog::model::{
    Approval, ApprovalKind, ApprovalState, MAX_REASON_CHARS, NotificationEvent, User, VALIDITY_DAYS, WorkgroupRole,
};
use catalog::now_ms;
use catalog::store::{ApprovalQuery, ApprovalScope, Asking, Decision, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::AdminState;
use crate::access::{Access, Caller, Routes};
use crate::announce;
use crate::body::{Fields, JsonBody};
use crate::datasources::{path_id, record};
use crate::reply::{AdminError, AdminResult, ErrorCode, Page, Reply};

/// Registers the application and approval routes.
pub fn register(routes: Routes) -> Routes {
    use WorkgroupRole::{Developer, Viewer};
    const APPLICATIONS: &str = "/workgroups/{workgroup}/applications";
    routes
        .add(Method::POST, APPLICATIONS, Access::Workgroup(Developer), post(apply))
        .body::<NewApplication>()
        .answers::<ApprovalView>()
        .add(Method::GET, APPLICATIONS, Access::Workgroup(Viewer), get(workgroup_applications))
        .answers_page::<ApprovalView>()
        .add(Method::GET, "/approvals", Access::Authenticated, get(inbox))
        .answers_page::<ApprovalView>()
        .add(Method::GET, "/approvals/{id}", Access::Authenticated, get(one))
        .answers::<ApprovalView>()
        .add(Method::POST, "/approvals/{id}/approve", Access::Authenticated, post(approve))
        .optional_body::<ApproveBody>()
        .answers::<ApprovalView>()
        .add(Method::POST, "/approvals/{id}/reject", Access::Authenticated, post(reject))
        .body::<RejectBody>()
        .answers::<ApprovalView>()
        .add(Method::POST, "/approvals/{id}/withdraw", Access::Authenticated, post(withdraw))
        .answers::<ApprovalView>()
}

type CallerExt = Extension<Arc<Caller>>;

/// The most people a request may name to notify.
const MAX_NOTIFY: usize = 20;

/// Why a request is made and whom to tell of the outcome; both optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestBody {
    /// At most 1000 characters.
    pub reason: Option<String>,
    /// User names to notify of the outcome (at most 20).
    pub notify: Option<Vec<String>>,
}

impl RequestBody {
    /// The reason and the people to notify, checked. Each person must be a member of the API's
    /// workgroup (`workgroup_id`) or of one of the caller's workgroups (any user, for platform
    /// admins): a name outside them is refused like an unknown one, so the answer tells no one
    /// which user names exist elsewhere.
    pub async fn checked(
        self,
        state: &AdminState,
        caller: &Caller,
        workgroup_id: i64,
    ) -> Result<(String, Vec<String>), AdminError> {
        let reason = checked_reason("reason", self.reason)?;
        let notify = self.notify.unwrap_or_default();
        if notify.len() > MAX_NOTIFY {
            return Err(AdminError::invalid("notify", format!("name at most {MAX_NOTIFY} people to notify")));
        }
        let mut reachable: Vec<i64> = vec![workgroup_id];
        if !notify.is_empty() {
            reachable.extend(state.store.workgroups_of(caller.user.id).await?.into_iter().map(|(w, _)| w.id));
        }
        let mut names = Vec::with_capacity(notify.len());
        for (i, name) in notify.iter().enumerate() {
            let unknown = || {
                AdminError::invalid(
                    &format!("notify[{i}]"),
                    format!("no user `{name}` in the API's workgroup or yours: name members of either"),
                )
            };
            let user = match state.store.user_by_name(name.trim()).await {
                Ok(user) => user,
                Err(StoreError::NotFound { .. }) => return Err(unknown()),
                Err(e) => return Err(e.into()),
            };
            let member = caller.user.platform_admin
                || state.store.workgroups_of(user.id).await?.iter().any(|(w, _)| reachable.contains(&w.id));
            if !member {
                return Err(unknown());
            }
            if !names.contains(&user.name) {
                names.push(user.name);
            }
        }
        Ok((reason, names))
    }
}

fn checked_reason(field: &str, text: Option<String>) -> Result<String, AdminError> {
    let text = text.unwrap_or_default().trim().to_owned();
    if text.chars().count() > MAX_REASON_CHARS || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AdminError::invalid(field, format!("at most {MAX_REASON_CHARS} characters of text")));
    }
    Ok(text)
}

/// A request with the names a reader needs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalView {
    #[serde(flatten)]
    pub approval: Approval,
    /// The API's workgroup.
    pub workgroup: String,
    /// Applications: the app and its workgroup.
    pub app: Option<String>,
    pub applicant_workgroup: Option<String>,
    /// Whether the reader may decide it now.
    pub can_decide: bool,
}

/// May `user` decide `approval`, and if not, why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Right {
    Decide,
    /// The user asked for it.
    Own,
    No,
}

/// What rights and views read of the reader and of workgroups, read once per answer: every
/// workgroup's name and the reader's role in each of theirs.
struct Lookup {
    names: HashMap<i64, String>,
    roles: HashMap<i64, WorkgroupRole>,
}

impl Lookup {
    async fn of(state: &AdminState, user: &User) -> Result<Lookup, AdminError> {
        let names = state.store.list_workgroups().await?.into_iter().map(|w| (w.id, w.name)).collect();
        let roles = state.store.workgroups_of(user.id).await?.into_iter().map(|(w, role)| (w.id, role)).collect();
        Ok(Lookup { names, roles })
    }
}

async fn right(state: &AdminState, user: &User, approval: &Approval, lookup: &Lookup) -> Result<Right, AdminError> {
    if approval.requested_by == user.name {
        return Ok(Right::Own);
    }
    if user.platform_admin {
        return Ok(Right::Decide);
    }
    if matches!(approval.kind, ApprovalKind::Listing | ApprovalKind::Delisting) {
        return Ok(Right::No);
    }
    if lookup.roles.get(&approval.workgroup_id) == Some(&WorkgroupRole::Admin) {
        return Ok(Right::Decide);
    }
    if approval.kind == ApprovalKind::Application
        && let Some(api_id) = approval.api_id
    {
        match state.store.api(api_id).await {
            Ok(api) if !api.settings.owner.is_empty() && api.settings.owner == user.name => return Ok(Right::Decide),
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Right::No)
}

/// Whether `user` may see `approval` at all.
async fn visible(state: &AdminState, user: &User, approval: &Approval, lookup: &Lookup) -> Result<bool, AdminError> {
    if user.platform_admin || approval.requested_by == user.name {
        return Ok(true);
    }
    let involved = [Some(approval.workgroup_id), approval.applicant_workgroup_id];
    if involved.into_iter().flatten().any(|workgroup| lookup.roles.contains_key(&workgroup)) {
        return Ok(true);
    }
    Ok(right(state, user, approval, lookup).await? == Right::Decide)
}

/// The request `id` if the caller may see it; 404 otherwise.
async fn visible_approval(state: &AdminState, caller: &Caller, id: &str) -> Result<(Approval, Lookup), AdminError> {
    let hidden = || AdminError::not_found("request", id);
    let number = path_id("request", id)?;
    let approval = match state.store.approval(number).await {
        Ok(approval) => approval,
        Err(StoreError::NotFound { .. }) => return Err(hidden()),
        Err(e) => return Err(e.into()),
    };
    let lookup = Lookup::of(state, &caller.user).await?;
    if visible(state, &caller.user, &approval, &lookup).await? { Ok((approval, lookup)) } else { Err(hidden()) }
}

pub(crate) async fn view_of(
    state: &AdminState,
    caller: &Caller,
    approval: Approval,
) -> Result<ApprovalView, AdminError> {
    let lookup = Lookup::of(state, &caller.user).await?;
    view_with(state, caller, approval, &lookup).await
}

async fn view_with(
    state: &AdminState,
    caller: &Caller,
    approval: Approval,
    lookup: &Lookup,
) -> Result<ApprovalView, AdminError> {
    let name_of = |id: i64| lookup.names.get(&id).cloned().unwrap_or_default();
    let workgroup = name_of(approval.workgroup_id);
    let applicant_workgroup = approval.applicant_workgroup_id.map(name_of);
    let app = match approval.app_id {
        Some(id) => match state.store.app(id).await {
            Ok(app) => Some(app.name),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let can_decide = approval.state == ApprovalState::Pending
        && right(state, &caller.user, &approval, lookup).await? == Right::Decide;
    Ok(ApprovalView { approval, workgroup, app, applicant_workgroup, can_decide })
}

async fn views(state: &AdminState, caller: &Caller, approvals: Vec<Approval>) -> Result<Vec<ApprovalView>, AdminError> {
    let lookup = Lookup::of(state, &caller.user).await?;
    let mut out = Vec::with_capacity(approvals.len());
    for approval in approvals {
        out.push(view_with(state, caller, approval, &lookup).await?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Applications

/// `POST /workgroups/{workgroup}/applications`: one of the workgroup's apps asks to call a
/// listed API.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApplication {
    /// A listed API (`GET /marketplace/apis`).
    pub api_id: i64,
    /// The app of this workgroup that would call it.
    pub app_id: i64,
    /// What the data is for (1–1000 characters).
    pub reason: String,
    /// The calls per second wanted; absent or `null`: only the API's own limit.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub qps: Option<u32>,
    /// 30, 90 or 180 days from approval; absent or `null`: permanent.
    #[serde(default)]
    pub validity_days: Option<u32>,
    /// User names to notify of the outcome.
    #[serde(default)]
    pub notify: Option<Vec<String>>,
}

async fn apply(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    JsonBody(body): JsonBody<NewApplication>,
) -> AdminResult<ApprovalView> {
    let workgroup = caller.workgroup()?;
    let reason = checked_reason("reason", Some(body.reason))?;
    if reason.is_empty() {
        return Err(AdminError::invalid("reason", "say what the data is for"));
    }
    if body.qps == Some(0) {
        return Err(AdminError::invalid("qps", "ask for at least 1 call per second, or leave it out"));
    }
    if body.validity_days.is_some_and(|d| !VALIDITY_DAYS.contains(&d)) {
        return Err(AdminError::invalid("validityDays", "30, 90 or 180 days; leave it out for a permanent grant"));
    }
    let not_ours =
        || AdminError::invalid("appId", format!("app `{}` is not an app of `{}`", body.app_id, workgroup.name));
    let app = match state.store.app(body.app_id).await {
        Ok(app) if app.workgroup_id == workgroup.id => app,
        Ok(_) | Err(StoreError::NotFound { .. }) => return Err(not_ours()),
        Err(e) => return Err(e.into()),
    };
    let entry = state.store.market_entry(body.api_id).await?;
    if app.clearance < entry.security_level {
        return Err(AdminError::new(
            ErrorCode::ForbiddenSecurityLevel,
            format!(
                "app `{}` has clearance {}, API `{}` needs {}: raise the app's clearance first",
                app.name,
                app.clearance.as_str(),
                entry.name,
                entry.security_level.as_str()
            ),
        )
        .in_field("appId"));
    }
    let (_, notify) =
        RequestBody { reason: None, notify: body.notify }.checked(&state, &caller, entry.workgroup_id).await?;
    let asking = Asking { by: &caller.user.name, reason: &reason, notify: &notify };
    let request = json!({"qps": body.qps, "validityDays": body.validity_days});
    let approval = state.store.apply_for_access(body.api_id, app.id, asking, &request).await?;
    announce::request_made(&state.store, &approval);
    let detail = json!({"request": approval.id, "api": entry.name, "apiId": entry.api_id, "app": app.name});
    record(&state, &caller, Some(workgroup.id), "application.create", format!("app:{}", app.id), detail.clone()).await;
    if entry.workgroup_id != workgroup.id {
        record(
            &state,
            &caller,
            Some(entry.workgroup_id),
            "application.create",
            format!("api:{}", entry.api_id),
            detail,
        )
        .await;
    }
    Ok(Reply::created(view_of(&state, &caller, approval).await?))
}

/// `GET …/applications` filters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListQuery {
    /// `/approvals`: `todo` (default) or `mine`; `…/applications`: `applicant` (default) or
    /// `provider`.
    #[serde(rename = "box", alias = "side")]
    which: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    #[serde(default = "crate::people::first_page")]
    page_num: u64,
    #[serde(default = "crate::people::default_page_size")]
    page_size: u64,
}

impl ListQuery {
    fn query(&self, scope: ApprovalScope) -> Result<ApprovalQuery, AdminError> {
        crate::people::PageQuery { page_num: self.page_num, page_size: self.page_size }.check()?;
        let kind =
            self.kind.as_deref().map(|k| k.parse().map_err(|why| AdminError::invalid("kind", why))).transpose()?;
        let state =
            self.state.as_deref().map(|s| s.parse().map_err(|why| AdminError::invalid("state", why))).transpose()?;
        Ok(ApprovalQuery {
            scope,
            api_id: None,
            kind,
            state,
            limit: self.page_size,
            offset: (self.page_num - 1).saturating_mul(self.page_size).min(i64::MAX as u64),
        })
    }
}

type ListParams = Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>;

fn list_params(params: ListParams) -> Result<ListQuery, AdminError> {
    params.map(|Query(q)| q).map_err(|e| AdminError::invalid("query", e.body_text()))
}

async fn page_of(
    state: &AdminState,
    caller: &Caller,
    list: &ListQuery,
    query: ApprovalQuery,
) -> AdminResult<Page<ApprovalView>> {
    let (approvals, total) = state.store.approvals(&query).await?;
    let items = views(state, caller, approvals).await?;
    Ok(Reply::ok(Page { items, page_num: list.page_num, page_size: list.page_size, total }))
}

async fn workgroup_applications(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    params: ListParams,
) -> AdminResult<Page<ApprovalView>> {
    let list = list_params(params)?;
    let workgroup = caller.workgroup()?.id;
    let scope = match list.which.as_deref() {
        None | Some("applicant") => ApprovalScope::Applicant(workgroup),
        Some("provider") => ApprovalScope::Provider(workgroup),
        Some(_) => return Err(AdminError::invalid("side", "`applicant` (the workgroup's apps) or `provider`")),
    };
    let mut query = list.query(scope)?;
    query.kind = Some(ApprovalKind::Application);
    page_of(&state, &caller, &list, query).await
}

// ---------------------------------------------------------------------------------------------
// The inbox and decisions

async fn inbox(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    params: ListParams,
) -> AdminResult<Page<ApprovalView>> {
    let list = list_params(params)?;
    let user = &caller.user;
    let scope = match list.which.as_deref() {
        None | Some("todo") => ApprovalScope::ToDecide {
            user_id: user.id,
            user_name: user.name.clone(),
            platform_admin: user.platform_admin,
        },
        Some("mine") => ApprovalScope::RequestedBy(user.name.clone()),
        Some(_) => return Err(AdminError::invalid("box", "`todo` (what waits for your decision) or `mine`")),
    };
    let query = list.query(scope)?;
    page_of(&state, &caller, &list, query).await
}

async fn one(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> AdminResult<ApprovalView> {
    let (approval, lookup) = visible_approval(&state, &caller, &id).await?;
    Ok(Reply::ok(view_with(&state, &caller, approval, &lookup).await?))
}

/// `POST /approvals/{id}/approve`. For applications `qps` and `expiresAt` set what is
/// granted: absent, what was asked for; `null`, no limit and no end.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // A description only: the handler reads the keys it names.
pub struct ApproveBody {
    /// At most 1000 characters.
    comment: Option<String>,
    /// Applications: the calls per second granted.
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    qps: Option<i64>,
    /// Applications: when the grant ends, in milliseconds since the Unix epoch, in the future.
    #[schema(minimum = 0)]
    expires_at: Option<i64>,
}

/// `POST /approvals/{id}/reject`: why, for the requester.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RejectBody {
    /// 1–1000 characters.
    pub comment: String,
}

/// The caller's right to decide `approval`: 403 with why not.
async fn require_right(
    state: &AdminState,
    caller: &Caller,
    approval: &Approval,
    lookup: &Lookup,
) -> Result<(), AdminError> {
    match right(state, &caller.user, approval, lookup).await? {
        Right::Decide => Ok(()),
        Right::Own => Err(AdminError::forbidden("you made this request: someone else decides it")),
        Right::No => Err(AdminError::forbidden(match approval.kind {
            ApprovalKind::Listing | ApprovalKind::Delisting => "platform admins decide listings",
            ApprovalKind::Application => "the API workgroup's admins or the API's owner decide applications",
            ApprovalKind::Publish | ApprovalKind::Offline => "the API workgroup's admins decide this",
        })),
    }
}

async fn approve(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path(id): Path<String>,
    body: Bytes,
) -> AdminResult<ApprovalView> {
    let (approval, lookup) = visible_approval(&state, &caller, &id).await?;
    let fields = Fields::parse_as::<ApproveBody>(&body)?;
    let comment = checked_reason("comment", fields.text("comment")?)?;
    require_right(&state, &caller, &approval, &lookup).await?;
    if approval.kind != ApprovalKind::Application
        && let Some(key) = ["qps", "expiresAt"].into_iter().find(|k| fields.has(k))
    {
        return Err(AdminError::invalid(key, format!("`{key}` sets what an application grants: leave it out here")));
    }
    let now = now_ms();
    let asked = |key: &str| approval.request.get(key).and_then(serde_json::Value::as_i64);
    let qps = if fields.has("qps") {
        fields.integer("qps", 1..=i64::from(u32::MAX), "the calls per second granted")?
    } else {
        asked("qps")
    };
    let expires_at = if fields.has("expiresAt") {
        let at =
            fields.integer("expiresAt", 0..=i64::MAX, "when the grant ends, in milliseconds since the Unix epoch")?;
        if at.is_some_and(|at| at <= now) {
            return Err(AdminError::invalid(
                "expiresAt",
                "the grant would have ended already: give a time in the future",
            ));
        }
        at
    } else {
        asked("validityDays").map(|days| now + days * 86_400_000)
    };
    if approval.kind == ApprovalKind::Publish
        && let (Some(api_id), Some(number)) = (approval.api_id, asked("version"))
    {
        crate::apis::servable(&state, approval.workgroup_id, api_id, number).await?;
    }
    let decision = Decision {
        approve: true,
        by: &caller.user.name,
        comment: &comment,
        qps: qps.map(|q| u32::try_from(q).unwrap_or(u32::MAX)),
        expires_at,
    };
    let decided = state.store.decide(approval.id, decision).await.map_err(cannot_decide)?;
    audit_decision(&state, &caller, &decided, "approval.approve").await;
    announce::request_decided(&state.store, &decided);
    let changed = match decided.kind {
        ApprovalKind::Publish => Some(NotificationEvent::ApiPublished),
        ApprovalKind::Offline if decided.applied_at.is_some() => Some(NotificationEvent::ApiOffline),
        _ => None,
    };
    if let (Some(event), Some(api_id)) = (changed, decided.api_id) {
        announce::api_changed(&state.store, api_id, &decided.api_name, decided.workgroup_id, event);
    }
    Ok(Reply::ok(view_of(&state, &caller, decided).await?))
}

async fn reject(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RejectBody>,
) -> AdminResult<ApprovalView> {
    let (approval, lookup) = visible_approval(&state, &caller, &id).await?;
    let comment = checked_reason("comment", Some(body.comment))?;
    if comment.is_empty() {
        return Err(AdminError::invalid("comment", "say why the request is rejected"));
    }
    require_right(&state, &caller, &approval, &lookup).await?;
    let decision = Decision { approve: false, by: &caller.user.name, comment: &comment, qps: None, expires_at: None };
    let decided = state.store.decide(approval.id, decision).await.map_err(cannot_decide)?;
    audit_decision(&state, &caller, &decided, "approval.reject").await;
    announce::request_decided(&state.store, &decided);
    Ok(Reply::ok(view_of(&state, &caller, decided).await?))
}

async fn withdraw(
    Extension(caller): CallerExt,
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> AdminResult<ApprovalView> {
    let (approval, _) = visible_approval(&state, &caller, &id).await?;
    if approval.requested_by != caller.user.name {
        return Err(AdminError::forbidden("only the one who made a request withdraws it"));
    }
    let withdrawn = state.store.withdraw(approval.id, &caller.user.name).await?;
    audit_decision(&state, &caller, &withdrawn, "approval.withdraw").await;
    Ok(Reply::ok(view_of(&state, &caller, withdrawn).await?))
}

/// What a decision cannot do is a conflict with the state of things: the request was decided
/// meanwhile, or what it approves can no longer be (the API is offline, the app's clearance
/// was lowered, the route is taken).
fn cannot_decide(error: StoreError) -> AdminError {
    match error {
        StoreError::Invalid(why) => AdminError::new(ErrorCode::Conflict, format!("cannot approve: {why}")),
        StoreError::NotFound { what, id } => {
            AdminError::new(ErrorCode::Conflict, format!("cannot approve: {what} {id} no longer exists"))
        }
        other => other.into(),
    }
}

/// Audits a decision in the API's workgroup and, for applications, the applicant's.
async fn audit_decision(state: &AdminState, caller: &Caller, approval: &Approval, action: &str) {
    let detail = json!({
        "request": approval.id,
        "kind": approval.kind,
        "state": approval.state,
        "api": approval.api_name,
        "apiId": approval.api_id,
        "appId": approval.app_id,
        "comment": approval.comment,
    });
    let target = format!("request:{}", approval.id);
    record(state, caller, Some(approval.workgroup_id), action, target.clone(), detail.clone()).await;
    if let Some(applicant) = approval.applicant_workgroup_id.filter(|w| *w != approval.workgroup_id) {
        record(state, caller, Some(applicant), action, target, detail).await;
    }
}

/// 202 with the request: publishing or taking offline waits for a decision.
pub(crate) async fn accepted(state: &AdminState, caller: &Caller, approval: Approval) -> AdminResult<ApprovalView> {
    Ok(Reply(StatusCode::ACCEPTED, view_of(state, caller, approval).await?))
}

/// How often scheduled offline requests are looked for.
const SCHEDULE_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// Takes APIs offline as their approved offline requests fall due, until dropped. Two admin
/// nodes may both run it: each request is applied once (`Store::apply_due_offlines`).
pub async fn apply_scheduled(store: catalog::store::Store) {
    let mut tick = tokio::time::interval(SCHEDULE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.apply_due_offlines(now_ms()).await {
            Ok(applied) => {
                for approval in applied {
                    tracing::info!(request = approval.id, api = approval.api_name, "scheduled offline applied");
                    let entry = catalog::model::AuditEntry {
                        id: 0,
                        at: 0,
                        actor: approval.requested_by.clone(),
                        action: "version.offline".to_owned(),
                        workgroup_id: Some(approval.workgroup_id),
                        target: approval.api_id.map(|id| format!("api:{id}")).unwrap_or_default(),
                        detail: json!({"environment": "prod", "request": approval.id, "scheduled": true}),
                    };
                    if let Err(e) = store.audit(&entry).await {
                        tracing::error!("cannot append to the audit log: {e}");
                    }
                    if let Some(api_id) = approval.api_id {
                        let event = NotificationEvent::ApiOffline;
                        announce::api_changed(&store, api_id, &approval.api_name, approval.workgroup_id, event);
                    }
                }
            }
            Err(e) => tracing::error!("cannot apply scheduled offline requests: {e}"),
        }
    }
}
