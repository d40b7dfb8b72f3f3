//! Notifications (issue 18, part 6): what happened that people should hear about
//! ([`Notification`], one of the [`NotificationEvent`]s), the webhook channels a workgroup
//! sends them to ([`WebhookChannel`]) and the deliveries kept in the outbox
//! ([`WebhookDelivery`]).
//!
//! A body is rendered for its channel's [`WebhookTemplate`] once, when the delivery is
//! enqueued, so every attempt sends (and signs) the same bytes. Sending is the `sluice-notify`
//! crate's business; nothing here does I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a notification is about. Written as text: `approval.needed`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum NotificationEvent {
    /// A request waits for someone's decision.
    #[serde(rename = "approval.needed")]
    ApprovalNeeded,
    /// A request was approved or rejected.
    #[serde(rename = "approval.decided")]
    ApprovalDecided,
    /// An API was published to prod.
    #[serde(rename = "api.published")]
    ApiPublished,
    /// An API was taken offline.
    #[serde(rename = "api.offline")]
    ApiOffline,
    /// A grant expires within seven days.
    #[serde(rename = "grant.expiring")]
    GrantExpiring,
    /// An alarm rule of an API fired.
    #[serde(rename = "alarm.fired")]
    AlarmFired,
    /// A fired alarm resolved.
    #[serde(rename = "alarm.resolved")]
    AlarmResolved,
    /// Sent by `POST …/webhooks/{id}/test` to that channel alone, whatever it subscribes to.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl NotificationEvent {
    /// The events a channel can subscribe to (the test event goes to one channel on request).
    pub const SUBSCRIBABLE: [NotificationEvent; 7] = [
        NotificationEvent::ApprovalNeeded,
        NotificationEvent::ApprovalDecided,
        NotificationEvent::ApiPublished,
        NotificationEvent::ApiOffline,
        NotificationEvent::GrantExpiring,
        NotificationEvent::AlarmFired,
        NotificationEvent::AlarmResolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEvent::ApprovalNeeded => "approval.needed",
            NotificationEvent::ApprovalDecided => "approval.decided",
            NotificationEvent::ApiPublished => "api.published",
            NotificationEvent::ApiOffline => "api.offline",
            NotificationEvent::GrantExpiring => "grant.expiring",
            NotificationEvent::AlarmFired => "alarm.fired",
            NotificationEvent::AlarmResolved => "alarm.resolved",
            NotificationEvent::WebhookTest => "webhook.test",
        }
    }
}

impl fmt::Display for NotificationEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NotificationEvent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == NotificationEvent::WebhookTest.as_str() {
            return Ok(NotificationEvent::WebhookTest);
        }
        NotificationEvent::SUBSCRIBABLE.iter().copied().find(|e| e.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = NotificationEvent::SUBSCRIBABLE.iter().map(|e| e.as_str()).collect();
            format!("unknown event `{}`: expected one of {}", s.chars().take(64).collect::<String>(), names.join(", "))
        })
    }
}

/// Something that happened in a workgroup, for its channels subscribed to the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub event: NotificationEvent,
    /// Whose channels hear of it.
    pub workgroup_id: i64,
    /// One line.
    pub title: String,
    /// A few lines for people.
    pub text: String,
    /// For programs: ids and names (only in the `json` template's body).
    pub detail: serde_json::Value,
}

/// How a channel's bodies are shaped: Sluice's own JSON, or what a chat tool's incoming
/// webhook takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum WebhookTemplate {
    /// `{"event","workgroup","title","text","detail","sentAt"}`.
    #[default]
    Json,
    /// Lark and Feishu bots: `{"msg_type":"text","content":{"text":…}}`.
    Lark,
    /// DingTalk bots: `{"msgtype":"text","text":{"content":…}}`.
    Dingtalk,
    /// Slack incoming webhooks: `{"text":…}`.
    Slack,
}

impl WebhookTemplate {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookTemplate::Json => "json",
            WebhookTemplate::Lark => "lark",
            WebhookTemplate::Dingtalk => "dingtalk",
            WebhookTemplate::Slack => "slack",
        }
    }

    /// The body sent for `n` to a channel of workgroup `workgroup`, rendered at `at`
    /// (milliseconds since the Unix epoch).
    pub fn render(self, n: &Notification, workgroup: &str, at: i64) -> String {
        let line = if n.text.is_empty() { n.title.clone() } else { format!("{}\n{}", n.title, n.text) };
        let body = match self {
            WebhookTemplate::Json => serde_json::json!({
                "event": n.event.as_str(),
                "workgroup": workgroup,
                "title": n.title,
                "text": n.text,
                "detail": n.detail,
                "sentAt": at,
            }),
            WebhookTemplate::Lark => serde_json::json!({"msg_type": "text", "content": {"text": line}}),
            WebhookTemplate::Dingtalk => serde_json::json!({"msgtype": "text", "text": {"content": line}}),
            WebhookTemplate::Slack => serde_json::json!({"text": line}),
        };
        body.to_string()
    }
}

impl FromStr for WebhookTemplate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(WebhookTemplate::Json),
            "lark" | "feishu" => Ok(WebhookTemplate::Lark),
            "dingtalk" => Ok(WebhookTemplate::Dingtalk),
            "slack" => Ok(WebhookTemplate::Slack),
            other => Err(format!(
                "unknown template `{}`: expected json, lark (also Feishu), dingtalk or slack",
                other.chars().take(64).collect::<String>()
            )),
        }
    }
}

/// A workgroup's webhook channel: where its notifications go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookChannel {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub workgroup_id: i64,
    /// Unique in the workgroup.
    pub name: String,
    /// `http` or `https`, no user name or password; a query (a bot's access token) is kept.
    pub url: String,
    /// Signs bodies (HMAC-SHA256, `X-Sluice-Signature`). Write-only: sealed at rest and never
    /// in an answer ([`WebhookChannel::has_secret`] says whether there is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Whether bodies are signed.
    #[serde(default)]
    pub has_secret: bool,
    #[serde(default)]
    pub template: WebhookTemplate,
    /// The events sent to the channel; empty: every event.
    #[serde(default)]
    pub events: Vec<NotificationEvent>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
}

fn enabled_by_default() -> bool {
    true
}

impl WebhookChannel {
    /// Whether the channel takes `event` (the test event is sent on request, not subscribed).
    pub fn subscribes(&self, event: NotificationEvent) -> bool {
        self.events.is_empty() || self.events.contains(&event)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    /// A 2xx answer came back.
    Sent,
    /// Every attempt failed; no more are made.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }
}

impl FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "sent" => Ok(DeliveryStatus::Sent),
            "failed" => Ok(DeliveryStatus::Failed),
            other => Err(format!("unknown delivery status `{other}`")),
        }
    }
}

/// One notification for one channel, as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    /// Sent as `X-Sluice-Delivery`: the same on every attempt, so receivers can drop repeats.
    pub id: i64,
    pub webhook_id: i64,
    pub event: NotificationEvent,
    /// The body as sent.
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// The last failure: `HTTP 500`, a timeout, a refusal of the network policy; empty when
    /// none.
    pub last_error: String,
    /// When the next attempt is due (milliseconds since the Unix epoch).
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}
