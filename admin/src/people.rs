//! Users, their tokens, workgroups and their members.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use catalog::model::{ApiToken, Member, User, Workgroup, WorkgroupRole};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AdminState;
use super::access::Caller;
use super::body::JsonBody;
use super::reply::{AdminError, AdminResult, Page, Reply};

/// `?pageNum=&pageSize=` on list routes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageQuery {
    #[serde(default = "first_page")]
    pub page_num: u64,
    #[serde(default = "default_page_size")]
    pub page_size: u64,
}

pub(crate) fn first_page() -> u64 {
    1
}

pub(crate) fn default_page_size() -> u64 {
    20
}

impl PageQuery {
    pub fn check(&self) -> Result<(), AdminError> {
        if self.page_num == 0 {
            return Err(AdminError::invalid("pageNum", "pages count from 1"));
        }
        if !(1..=500).contains(&self.page_size) {
            return Err(AdminError::invalid("pageSize", "use a page size from 1 to 500"));
        }
        Ok(())
    }
}

pub async fn me(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
) -> AdminResult<serde_json::Value> {
    let workgroups = state.store.workgroups_of(caller.user.id).await?;
    let memberships: Vec<_> =
        workgroups.into_iter().map(|(w, role)| serde_json::json!({"workgroup": w.name, "role": role})).collect();
    Ok(Reply::ok(serde_json::json!({"user": caller.user, "workgroups": memberships})))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewWorkgroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// Workgroup names appear in paths: letters, digits, `_` and `-`.
fn check_workgroup_name(name: &str) -> Result<(), AdminError> {
    let ok =
        !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok { Ok(()) } else { Err(AdminError::invalid("name", "use 1 to 64 letters, digits, `_` or `-`")) }
}

pub async fn create_workgroup(
    State(state): State<AdminState>,
    JsonBody(body): JsonBody<NewWorkgroup>,
) -> AdminResult<Workgroup> {
    check_workgroup_name(&body.name)?;
    Ok(Reply::created(state.store.create_workgroup(&body.name, &body.description).await?))
}

/// Platform administrators see every workgroup; others the ones they belong to.
pub async fn list_workgroups(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Query(page): Query<PageQuery>,
) -> AdminResult<Page<Workgroup>> {
    page.check()?;
    let all = if caller.user.platform_admin {
        state.store.list_workgroups().await?
    } else {
        state.store.workgroups_of(caller.user.id).await?.into_iter().map(|(w, _)| w).collect()
    };
    Ok(Reply::ok(Page::of(all, page.page_num, page.page_size)))
}

pub async fn get_workgroup(Extension(caller): Extension<Arc<Caller>>) -> AdminResult<Workgroup> {
    Ok(Reply::ok(caller.workgroup()?.clone()))
}

/// A member with the user's names, which people read where the store keeps only the id.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    #[serde(flatten)]
    pub member: Member,
    pub user_name: String,
    pub display_name: String,
}

pub async fn list_members(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
) -> AdminResult<Vec<MemberView>> {
    let members = state.store.members(caller.workgroup()?.id).await?;
    let mut views = Vec::with_capacity(members.len());
    // A workgroup has tens of members: one read each is cheap, and keeps the store's API small.
    for member in members {
        let user = state.store.user(member.user_id).await?;
        views.push(MemberView { member, user_name: user.name, display_name: user.display_name });
    }
    Ok(Reply::ok(views))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberRole {
    pub role: WorkgroupRole,
}

pub async fn put_member(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, user)): Path<(String, String)>,
    JsonBody(body): JsonBody<MemberRole>,
) -> AdminResult<Member> {
    let workgroup = caller.workgroup()?;
    let user = state.store.user_by_name(&user).await?;
    Ok(Reply::ok(state.store.add_member(workgroup.id, user.id, body.role).await?))
}

pub async fn delete_member(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, user)): Path<(String, String)>,
) -> AdminResult<serde_json::Value> {
    let workgroup = caller.workgroup()?;
    let user = state.store.user_by_name(&user).await?;
    state.store.remove_member(workgroup.id, user.id).await?;
    Ok(Reply::ok(serde_json::Value::Null))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub platform_admin: bool,
}

pub async fn create_user(State(state): State<AdminState>, JsonBody(body): JsonBody<NewUser>) -> AdminResult<User> {
    let ok = !body.name.is_empty()
        && body.name.len() <= 64
        && body.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        return Err(AdminError::invalid("name", "use 1 to 64 letters, digits, `_`, `.` or `-`"));
    }
    Ok(Reply::created(state.store.create_user(&body.name, &body.display_name, body.platform_admin).await?))
}

pub async fn list_users(State(state): State<AdminState>, Query(page): Query<PageQuery>) -> AdminResult<Page<User>> {
    page.check()?;
    Ok(Reply::ok(Page::of(state.store.list_users().await?, page.page_num, page.page_size)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    /// Milliseconds since the Unix epoch; absent: never expires.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A new token: the text is in this answer only.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    pub token: String,
    #[serde(flatten)]
    pub info: ApiToken,
}

pub async fn create_token(
    State(state): State<AdminState>,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<NewToken>,
) -> AdminResult<IssuedToken> {
    if body.name.trim().is_empty() || body.name.len() > 64 {
        return Err(AdminError::invalid("name", "name the token in 1 to 64 characters"));
    }
    let user = state.store.user_by_name(&user).await?;
    let (info, token) = state.store.create_token(user.id, &body.name, body.expires_at).await?;
    Ok(Reply::created(IssuedToken { token, info }))
}

pub async fn list_tokens(State(state): State<AdminState>, Path(user): Path<String>) -> AdminResult<Vec<ApiToken>> {
    let user = state.store.user_by_name(&user).await?;
    Ok(Reply::ok(state.store.list_tokens(user.id).await?))
}

pub async fn revoke_token(State(state): State<AdminState>, Path(id): Path<i64>) -> AdminResult<ApiToken> {
    Ok(Reply::ok(state.store.revoke_token(id).await?))
}
