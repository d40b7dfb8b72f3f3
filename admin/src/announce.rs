//! Telling people what happened: the notifications the management API's actions send to the
//! webhook channels of the workgroups concerned (`Store::notify` enqueues one delivery per
//! subscribed channel; the `notify` crate sends them). Each is enqueued after its action
//! committed, in a task of its own: a notification never delays or fails what caused it.

use catalog::model::{Approval, Environment, Notification, NotificationEvent};
use catalog::store::Store;
use serde_json::json;

/// A request was made: the API's workgroup hears that it waits for a decision.
pub fn request_made(store: &Store, approval: &Approval) {
    let title = format!("{} request for API `{}` waits for a decision", approval.kind, approval.api_name);
    let text = if approval.reason.is_empty() {
        format!("asked by {}", approval.requested_by)
    } else {
        format!("asked by {}: {}", approval.requested_by, approval.reason)
    };
    let event = NotificationEvent::ApprovalNeeded;
    let notification =
        Notification { event, workgroup_id: approval.workgroup_id, title, text, detail: detail_of(approval) };
    send(store, notification, None);
}

/// A request was approved or rejected: the API's workgroup and, for an application, the
/// applicant's hear of it.
pub fn request_decided(store: &Store, approval: &Approval) {
    let title = format!("{} request for API `{}`: {}", approval.kind, approval.api_name, approval.state);
    let by = approval.decided_by.clone().unwrap_or_default();
    let text = if approval.comment.is_empty() {
        format!("{by} decided: {}", approval.state)
    } else {
        format!("{by} decided: {} — {}", approval.state, approval.comment)
    };
    let event = NotificationEvent::ApprovalDecided;
    let notification =
        Notification { event, workgroup_id: approval.workgroup_id, title, text, detail: detail_of(approval) };
    let applicant = approval.applicant_workgroup_id.filter(|w| *w != approval.workgroup_id);
    send(store, notification, applicant);
}

/// An API was published to prod or taken offline from it: its workgroup and the workgroups of
/// the apps granted it hear of it.
pub fn api_changed(store: &Store, api_id: i64, api_name: &str, workgroup_id: i64, event: NotificationEvent) {
    let what = if event == NotificationEvent::ApiPublished { "published to" } else { "taken offline from" };
    let title = format!("API `{api_name}` was {what} {}", Environment::Prod);
    let detail = json!({"apiId": api_id, "api": api_name, "environment": Environment::Prod});
    let notification = Notification { event, workgroup_id, title: title.clone(), text: title, detail };
    let store = store.clone();
    tokio::spawn(async move {
        if let Err(e) = store.notify(&notification).await {
            tracing::error!(%event, api = api_id, "cannot enqueue a notification: {e}");
        }
        if let Err(e) = store.notify_grantees(api_id, &notification).await {
            tracing::error!(%event, api = api_id, "cannot enqueue the grantees' notifications: {e}");
        }
    });
}

fn detail_of(approval: &Approval) -> serde_json::Value {
    json!({
        "request": approval.id,
        "kind": approval.kind,
        "state": approval.state,
        "apiId": approval.api_id,
        "api": approval.api_name,
        "appId": approval.app_id,
        "requestedBy": approval.requested_by,
        "decidedBy": approval.decided_by,
        "notify": approval.notify,
    })
}

/// Enqueues `notification` for its workgroup and, if given, for `also` (another workgroup), in a
/// task of its own; failures are logged, never raised.
fn send(store: &Store, notification: Notification, also: Option<i64>) {
    let store = store.clone();
    tokio::spawn(async move {
        let others = also.map(|workgroup_id| Notification { workgroup_id, ..notification.clone() });
        for each in std::iter::once(notification).chain(others) {
            if let Err(e) = store.notify(&each).await {
                tracing::error!(event = %each.event, workgroup = each.workgroup_id, "cannot enqueue a notification: {e}");
            }
        }
    });
}
