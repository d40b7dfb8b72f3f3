//! Each workgroup's webhook channels (issue 18, part 6): where its notifications go.
//!
//! ```text
//!  /workgroups/{workgroup}/webhooks                  GET list   POST add (201)
//!  …/webhooks/{id}                                   GET   PUT (what is sent is replaced)   DELETE
//!  …/webhooks/{id}/deliveries                        GET a page, newest first
//!  …/webhooks/{id}/test                              POST queue a test notification (202)
//! ```
//!
//! Reading needs a viewer of the workgroup, every change (and the test) an admin. The secret is
//! write-only: answers say `hasSecret`, and a `PUT` without `secret` keeps it (`""` removes
//! it). The URL is checked at save (http or https, no user name or password,
//! [`notify::WebhookTarget`]); whether its host may be reached is the network policy's call at
//! every send, and a refusal shows in the delivery log. Another workgroup's `{id}` answers 404
//! like a missing one. Writes are audited without the secret or the URL's query (bots keep
//! their access tokens there).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::routing::{delete, get, post, put};
use catalog::model::{
    Notification, NotificationEvent, WebhookChannel, WebhookDelivery, WebhookTemplate, Workgroup, WorkgroupRole,
};
use catalog::store::{MAX_DELIVERY_PAGE, StoreError};
use errors::ErrorCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AdminState;
use super::access::{Access, Caller, Routes};
use super::body::JsonBody;
use super::datasources::{path_id, record};
use super::people::PageQuery;
use super::reply::{AdminError, AdminResult, Page, Reply};

/// The longest name, in characters (the store's bound).
const MAX_NAME: usize = 64;
/// The longest URL, in bytes (the store's bound).
const MAX_URL: usize = 2048;
/// The longest secret, in bytes (the store's bound).
const MAX_SECRET: usize = 256;

/// Registers this area's routes: reading for viewers, changes for admins.
pub fn register(routes: Routes) -> Routes {
    use WorkgroupRole::{Admin, Viewer};
    const WEBHOOKS: &str = "/workgroups/{workgroup}/webhooks";
    const WEBHOOK: &str = "/workgroups/{workgroup}/webhooks/{id}";
    routes
        .add(Method::GET, WEBHOOKS, Access::Workgroup(Viewer), get(list_webhooks))
        .answers_list::<WebhookChannel>()
        .add(Method::POST, WEBHOOKS, Access::Workgroup(Admin), post(create_webhook))
        .body::<NewWebhook>()
        .answers::<WebhookChannel>()
        .add(Method::GET, WEBHOOK, Access::Workgroup(Viewer), get(get_webhook))
        .answers::<WebhookChannel>()
        .add(Method::PUT, WEBHOOK, Access::Workgroup(Admin), put(update_webhook))
        .body::<WebhookUpdate>()
        .answers::<WebhookChannel>()
        .add(Method::DELETE, WEBHOOK, Access::Workgroup(Admin), delete(delete_webhook))
        .answers_nothing()
        .add(
            Method::GET,
            "/workgroups/{workgroup}/webhooks/{id}/deliveries",
            Access::Workgroup(Viewer),
            get(list_deliveries),
        )
        .answers_page::<WebhookDelivery>()
        // Queues a test notification for the stored channel: no body.
        .add(Method::POST, "/workgroups/{workgroup}/webhooks/{id}/test", Access::Workgroup(Admin), post(test_webhook))
        .answers::<WebhookDelivery>()
}

/// `POST …/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewWebhook {
    /// 1–64 characters, unique in the workgroup.
    name: String,
    /// `http://` or `https://`, no user name or password; a query is kept.
    url: String,
    /// Signs every body: `X-Sluice-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    /// Write-only.
    #[serde(default)]
    secret: Option<String>,
    /// `json` (default), `lark` (also Feishu), `dingtalk` or `slack`.
    #[serde(default)]
    template: WebhookTemplate,
    /// The events to send; empty or absent: every event.
    #[serde(default)]
    events: Vec<NotificationEvent>,
    /// Default true.
    #[serde(default)]
    enabled: Option<bool>,
}

/// `PUT …/webhooks/{id}`: what is sent is replaced, what is left out kept. `secret: ""`
/// removes the secret.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookUpdate {
    name: Option<String>,
    url: Option<String>,
    secret: Option<String>,
    template: Option<WebhookTemplate>,
    events: Option<Vec<NotificationEvent>>,
    enabled: Option<bool>,
}

async fn list_webhooks(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
) -> AdminResult<Vec<WebhookChannel>> {
    Ok(Reply::ok(state.store.webhooks(caller.workgroup()?.id).await?))
}

async fn create_webhook(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    JsonBody(body): JsonBody<NewWebhook>,
) -> AdminResult<WebhookChannel> {
    let workgroup = caller.workgroup()?;
    let wanted = WebhookChannel {
        id: 0,
        workgroup_id: workgroup.id,
        name: body.name,
        url: body.url,
        secret: body.secret.filter(|s| !s.is_empty()),
        has_secret: false,
        template: body.template,
        events: body.events,
        enabled: body.enabled.unwrap_or(true),
        created_at: 0,
        updated_at: 0,
    };
    check(&wanted)?;
    let created = state.store.create_webhook(&wanted).await.map_err(write_error)?;
    audit(&state, &caller, "webhook.create", &created).await;
    Ok(Reply::created(created))
}

async fn get_webhook(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<WebhookChannel> {
    Ok(Reply::ok(webhook_in(&state, caller.workgroup()?, &id).await?))
}

async fn update_webhook(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<WebhookUpdate>,
) -> AdminResult<WebhookChannel> {
    let current = webhook_in(&state, caller.workgroup()?, &id).await?;
    let wanted = WebhookChannel {
        name: body.name.unwrap_or_else(|| current.name.clone()),
        url: body.url.unwrap_or_else(|| current.url.clone()),
        secret: body.secret,
        template: body.template.unwrap_or(current.template),
        events: body.events.unwrap_or_else(|| current.events.clone()),
        enabled: body.enabled.unwrap_or(current.enabled),
        ..current
    };
    check(&wanted)?;
    let updated = state.store.update_webhook(&wanted).await.map_err(write_error)?;
    audit(&state, &caller, "webhook.update", &updated).await;
    Ok(Reply::ok(updated))
}

async fn delete_webhook(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<serde_json::Value> {
    let channel = webhook_in(&state, caller.workgroup()?, &id).await?;
    state.store.delete_webhook(channel.id).await?;
    audit(&state, &caller, "webhook.delete", &channel).await;
    Ok(Reply::ok(serde_json::Value::Null))
}

async fn list_deliveries(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    Query(page): Query<PageQuery>,
) -> AdminResult<Page<WebhookDelivery>> {
    page.check()?;
    if page.page_size > u64::from(MAX_DELIVERY_PAGE) {
        return Err(AdminError::invalid("pageSize", format!("use a page size from 1 to {MAX_DELIVERY_PAGE}")));
    }
    let channel = webhook_in(&state, caller.workgroup()?, &id).await?;
    let page_num = u32::try_from(page.page_num).map_err(|_| AdminError::invalid("pageNum", "too large"))?;
    let page_size = u32::try_from(page.page_size).unwrap_or(MAX_DELIVERY_PAGE);
    let (items, total) = state.store.webhook_deliveries(channel.id, page_num, page_size).await?;
    Ok(Reply::ok(Page { items, page_num: page.page_num, page_size: page.page_size, total }))
}

async fn test_webhook(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<WebhookDelivery> {
    let workgroup = caller.workgroup()?;
    let channel = webhook_in(&state, workgroup, &id).await?;
    let n = Notification {
        event: NotificationEvent::WebhookTest,
        workgroup_id: workgroup.id,
        title: "Test notification from Sluice".into(),
        text: format!("Channel `{}` of workgroup {} reaches you.", channel.name, workgroup.name),
        detail: serde_json::json!({"webhookId": channel.id, "requestedBy": caller.user.name}),
    };
    let delivery_id = state.store.notify_channel(channel.id, &n).await?;
    let delivery = state.store.delivery(delivery_id).await?;
    let detail = serde_json::json!({"name": channel.name, "delivery": delivery_id});
    record(&state, &caller, Some(workgroup.id), "webhook.test", format!("webhook:{}", channel.id), detail).await;
    Ok(Reply(StatusCode::ACCEPTED, delivery))
}

/// The channel `{id}` if it belongs to `workgroup`; 404 otherwise, also for another's.
async fn webhook_in(state: &AdminState, workgroup: &Workgroup, id: &str) -> Result<WebhookChannel, AdminError> {
    let id = path_id("webhook", id)?;
    match state.store.webhook(id).await {
        Ok(channel) if channel.workgroup_id == workgroup.id => Ok(channel),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(AdminError::not_found("webhook", id)),
        Err(e) => Err(e.into()),
    }
}

/// What the store would refuse, named by field.
fn check(channel: &WebhookChannel) -> Result<(), AdminError> {
    let name = channel.name.trim();
    if name.is_empty() || channel.name.chars().count() > MAX_NAME || channel.name.chars().any(char::is_control) {
        return Err(AdminError::invalid("name", format!("1 to {MAX_NAME} characters, no control characters")));
    }
    if channel.url.len() > MAX_URL {
        return Err(AdminError::invalid("url", format!("at most {MAX_URL} bytes")));
    }
    notify::WebhookTarget::parse(&channel.url).map_err(|why| AdminError::invalid("url", why))?;
    if channel.secret.as_deref().is_some_and(|s| s.len() > MAX_SECRET) {
        return Err(AdminError::invalid("secret", format!("at most {MAX_SECRET} bytes")));
    }
    if channel.events.contains(&NotificationEvent::WebhookTest) {
        return Err(AdminError::invalid("events", "`webhook.test` is sent on request; it cannot be subscribed to"));
    }
    Ok(())
}

fn write_error(e: StoreError) -> AdminError {
    match e {
        StoreError::Conflict(why) => AdminError::new(ErrorCode::Conflict, why).in_field("name"),
        other => other.into(),
    }
}

async fn audit(state: &AdminState, caller: &Caller, action: &str, channel: &WebhookChannel) {
    // The URL without its query: a bot's access token is as good as a password.
    let url = channel.url.split(['?', '#']).next().unwrap_or_default();
    let events: Vec<&str> = channel.events.iter().map(|e| e.as_str()).collect();
    let detail = serde_json::json!({
        "name": channel.name,
        "url": url,
        "template": channel.template.as_str(),
        "events": events,
        "enabled": channel.enabled,
        "hasSecret": channel.has_secret,
    });
    record(state, caller, Some(channel.workgroup_id), action, format!("webhook:{}", channel.id), detail).await;
}
