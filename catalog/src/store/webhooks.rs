//! Notifications (issue 18, part 6): each workgroup's webhook channels and the outbox of their
//! deliveries.
//!
//! [`Store::notify`] is what an action calls when something happened: one delivery per enabled
//! channel of the workgroup subscribed to the event, its body rendered for the channel's
//! template then and there. The delivery worker (`sluice-notify`) reads what is due
//! ([`Store::due_deliveries`]), claims one delivery at a time with a lease
//! ([`Store::claim_delivery`]: one conditional update, so two processes never send the same
//! attempt) and records how it went ([`Store::record_delivery`]). A channel's secret is sealed
//! like a datasource password and opened only for the worker's claim.
//!
//! Channel writes bump the [revision](Store::revision) like every configuration change;
//! deliveries and expiry notices are bookkeeping and leave it alone (the worker writes them
//! every second, and nothing served depends on them).

use std::collections::BTreeSet;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{
    Store, StoreError, bump_revision, flag, from_json, is_foreign_key_violation, is_unique_violation, now_millis,
    require_text, to_json,
};
use crate::model::{DeliveryStatus, Notification, NotificationEvent, WebhookChannel, WebhookDelivery, WebhookTemplate};

/// The most deliveries one page lists.
pub const MAX_DELIVERY_PAGE: u32 = 200;
/// The longest channel name, in characters.
const MAX_NAME: usize = 64;
/// The longest URL, in bytes.
const MAX_URL: usize = 2048;
/// The longest secret, in bytes.
const MAX_SECRET: usize = 256;
/// What a failure reason is cut to, in characters.
const MAX_ERROR: usize = 300;

/// The columns `webhook_from_row` reads.
macro_rules! webhook_columns {
    () => {
        "id, workgroup_id, name, url, secret_sealed, template, events_json, enabled, created_at, updated_at"
    };
}

/// The columns `delivery_from_row` reads.
macro_rules! delivery_columns {
    () => {
        "id, webhook_id, event, body, status, attempts, last_error, next_attempt_at, created_at, sent_at"
    };
}

/// A delivery a worker claimed: what to send where. `attempt` counts this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub webhook_id: i64,
    pub event: NotificationEvent,
    pub body: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub url: String,
    /// Opened: only for signing.
    pub secret: Option<String>,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// A 2xx came back.
    Sent,
    /// It failed; try again at `at` (milliseconds since the Unix epoch).
    Retry { error: String, at: i64 },
    /// It failed and no attempt is left.
    Failed { error: String },
}

impl Store {
    /// Adds a channel to its workgroup and returns it without its secret. `Invalid` for a
    /// blank or long name, a URL that is not http(s), a long secret or the test event among
    /// the events; `Conflict` when the workgroup has a channel of that name; `NotFound` for a
    /// missing workgroup.
    pub async fn create_webhook(&self, channel: &WebhookChannel) -> Result<WebhookChannel, StoreError> {
        check_channel(channel)?;
        let sealed = self.seal_webhook_secret(channel.secret.as_deref())?;
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "INSERT INTO webhooks (workgroup_id, name, url, secret_sealed, template, events_json, enabled, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING ",
            webhook_columns!()
        ))
        .bind(channel.workgroup_id)
        .bind(&channel.name)
        .bind(&channel.url)
        .bind(sealed.flatten())
        .bind(channel.template.as_str())
        .bind(events_json(&channel.events)?)
        .bind(i64::from(channel.enabled))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| write_error(e, channel))?;
        let created = webhook_from_row(&row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// A channel without its secret.
    pub async fn webhook(&self, id: i64) -> Result<WebhookChannel, StoreError> {
        let row = sqlx::query(concat!("SELECT ", webhook_columns!(), " FROM webhooks WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("webhook", id))?;
        webhook_from_row(&row)
    }

    /// The workgroup's channels by name, without secrets; empty for an unknown workgroup.
    pub async fn webhooks(&self, workgroup_id: i64) -> Result<Vec<WebhookChannel>, StoreError> {
        sqlx::query(concat!("SELECT ", webhook_columns!(), " FROM webhooks WHERE workgroup_id = $1 ORDER BY name"))
            .bind(workgroup_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(webhook_from_row)
            .collect()
    }

    /// Replaces the channel's name, URL, template, events and `enabled`. The secret: `None`
    /// keeps the stored one, `Some("")` removes it, any other text replaces it. The
    /// workgroup never changes. Deliveries already queued keep their bodies.
    pub async fn update_webhook(&self, channel: &WebhookChannel) -> Result<WebhookChannel, StoreError> {
        check_channel(channel)?;
        let sealed = self.seal_webhook_secret(channel.secret.as_deref())?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "UPDATE webhooks SET name = $2, url = $3, template = $4, events_json = $5, enabled = $6, updated_at = $7, \
             secret_sealed = CASE WHEN $8 = 1 THEN $9 ELSE secret_sealed END \
             WHERE id = $1 RETURNING ",
            webhook_columns!()
        ))
        .bind(channel.id)
        .bind(&channel.name)
        .bind(&channel.url)
        .bind(channel.template.as_str())
        .bind(events_json(&channel.events)?)
        .bind(i64::from(channel.enabled))
        .bind(now_millis())
        .bind(i64::from(sealed.is_some()))
        .bind(sealed.flatten())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| write_error(e, channel))?
        .ok_or_else(|| StoreError::not_found("webhook", channel.id))?;
        let updated = webhook_from_row(&row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Deletes a channel and its deliveries, sent or not.
    pub async fn delete_webhook(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Explicitly, not by the cascade alone: SQLite applies it only with foreign keys on.
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1").bind(id).execute(&mut *tx).await?;
        let deleted = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(&mut *tx).await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::not_found("webhook", id));
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Enqueues `n` for every enabled channel of `n.workgroup_id` subscribed to `n.event` and
    /// returns how many deliveries were queued (0 for a workgroup without such channels, or
    /// none at all). Sending happens later, in the worker: this never waits for a receiver.
    pub async fn notify(&self, n: &Notification) -> Result<usize, StoreError> {
        let mut connection = self.pool.acquire().await?;
        enqueue(&mut connection, n, None).await.map(|ids| ids.len())
    }

    /// Enqueues `n` for the channels of every workgroup whose apps hold a grant of API
    /// `api_id` that has not expired (`n.workgroup_id` is replaced by each), in one
    /// transaction: for `api.published` and `api.offline`, which the owners of those apps
    /// must hear of. Returns how many deliveries were queued.
    pub async fn notify_grantees(&self, api_id: i64, n: &Notification) -> Result<usize, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT p.workgroup_id FROM grants g JOIN apps p ON p.id = g.app_id \
             WHERE g.api_id = $1 AND (g.expires_at IS NULL OR g.expires_at > $2) ORDER BY p.workgroup_id",
        )
        .bind(api_id)
        .bind(now_millis())
        .fetch_all(&self.pool)
        .await?;
        let mut tx = self.pool.begin().await?;
        let mut queued = 0;
        for row in &rows {
            let each = Notification { workgroup_id: row.try_get("workgroup_id")?, ..n.clone() };
            queued += enqueue(&mut tx, &each, None).await?.len();
        }
        tx.commit().await?;
        Ok(queued)
    }

    /// Enqueues `n` for channel `webhook_id` alone, enabled or not and whatever it subscribes
    /// to (the test notification); the delivery's id.
    pub async fn notify_channel(&self, webhook_id: i64, n: &Notification) -> Result<i64, StoreError> {
        let mut connection = self.pool.acquire().await?;
        enqueue(&mut connection, n, Some(webhook_id))
            .await?
            .first()
            .copied()
            .ok_or_else(|| StoreError::not_found("webhook", webhook_id))
    }

    /// Ids of up to `limit` pending deliveries due at `now` and not leased, oldest due first.
    pub async fn due_deliveries(&self, now: i64, limit: u32) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND lease_until <= $1 ORDER BY next_attempt_at, id LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// Claims delivery `id` for one attempt if it is still pending, due at `now` and not
    /// leased: counts the attempt and leases it until `now + lease_ms`, in one conditional
    /// update, so of two workers at most one gets it. `None` when another worker has it, it
    /// was sent, or it is gone. A secret that no longer opens fails the delivery (`None`).
    pub async fn claim_delivery(
        &self,
        id: i64,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<ClaimedDelivery>, StoreError> {
        let row = sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = $3 \
             WHERE id = $1 AND status = 'pending' AND next_attempt_at <= $2 AND lease_until <= $2 \
             RETURNING id, webhook_id, event, body, attempts",
        )
        .bind(id)
        .bind(now)
        .bind(now.saturating_add(lease_ms))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let webhook_id: i64 = row.try_get("webhook_id")?;
        let attempt: i64 = row.try_get("attempts")?;
        let channel = sqlx::query("SELECT url, secret_sealed FROM webhooks WHERE id = $1")
            .bind(webhook_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(channel) = channel else { return Ok(None) };
        let secret = match channel.try_get::<Option<String>, _>("secret_sealed")? {
            Some(sealed) => match self.secrets.open(&sealed) {
                Ok(secret) => Some(secret),
                Err(_) => {
                    // Usually the store key changed; the owners must set the secret again.
                    let error = "the channel's secret cannot be opened; set it again".to_owned();
                    self.record_delivery(id, attempt, &DeliveryOutcome::Failed { error }, now).await?;
                    return Ok(None);
                }
            },
            None => None,
        };
        let event: String = row.try_get("event")?;
        Ok(Some(ClaimedDelivery {
            id,
            webhook_id,
            event: event.parse().map_err(StoreError::Corrupt)?,
            body: row.try_get("body")?,
            attempt,
            url: channel.try_get("url")?,
            secret,
        }))
    }

    /// Records how attempt `attempt` of delivery `id` went, at `now`, and ends its lease.
    /// `false` when the delivery moved on meanwhile (its lease ran out and another worker
    /// claimed it again): that worker's record counts.
    pub async fn record_delivery(
        &self,
        id: i64,
        attempt: i64,
        outcome: &DeliveryOutcome,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (status, error, next, sent_at) = match outcome {
            DeliveryOutcome::Sent => (DeliveryStatus::Sent, "", now, Some(now)),
            DeliveryOutcome::Retry { error, at } => (DeliveryStatus::Pending, error.as_str(), *at, None),
            DeliveryOutcome::Failed { error } => (DeliveryStatus::Failed, error.as_str(), now, None),
        };
        let error: String = error.chars().take(MAX_ERROR).collect();
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET status = $3, last_error = $4, next_attempt_at = $5, sent_at = $6, \
             lease_until = 0 WHERE id = $1 AND attempts = $2 AND status = 'pending'",
        )
        .bind(id)
        .bind(attempt)
        .bind(status.as_str())
        .bind(error)
        .bind(next)
        .bind(sent_at)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// One delivery.
    pub async fn delivery(&self, id: i64) -> Result<WebhookDelivery, StoreError> {
        let row = sqlx::query(concat!("SELECT ", delivery_columns!(), " FROM webhook_deliveries WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("delivery", id))?;
        delivery_from_row(&row)
    }

    /// Page `page_num` (1-based) of `page_size` (at most [`MAX_DELIVERY_PAGE`]) of the
    /// channel's deliveries, newest first, with how many there are in all.
    pub async fn webhook_deliveries(
        &self,
        webhook_id: i64,
        page_num: u32,
        page_size: u32,
    ) -> Result<(Vec<WebhookDelivery>, u64), StoreError> {
        let size = page_size.clamp(1, MAX_DELIVERY_PAGE);
        let offset = i64::from(page_num.max(1) - 1) * i64::from(size);
        let rows = sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(webhook_id)
        .bind(i64::from(size))
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(webhook_id)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let items = rows.iter().map(delivery_from_row).collect::<Result<_, _>>()?;
        Ok((items, u64::try_from(total).unwrap_or(0)))
    }

    /// Announces every grant that expires after `now` and by `now + within_ms` and was not
    /// announced for that expiry yet: `grant.expiring` to the channels of the API's workgroup
    /// and of the app's (once when they are the same). Each grant's notice and its deliveries
    /// are written in one transaction, and the notice's key (grant, expiry) makes a second
    /// process skip it. Returns how many grants were announced.
    pub async fn notify_expiring_grants(&self, now: i64, within_ms: i64) -> Result<usize, StoreError> {
        let rows = sqlx::query(
            "SELECT g.id, g.expires_at, a.id AS api_id, a.name AS api_name, a.workgroup_id AS api_workgroup, \
             wa.name AS api_workgroup_name, p.id AS app_id, p.name AS app_name, p.workgroup_id AS app_workgroup, \
             wp.name AS app_workgroup_name \
             FROM grants g JOIN apis a ON a.id = g.api_id JOIN apps p ON p.id = g.app_id \
             JOIN workgroups wa ON wa.id = a.workgroup_id JOIN workgroups wp ON wp.id = p.workgroup_id \
             WHERE g.expires_at IS NOT NULL AND g.expires_at > $1 AND g.expires_at <= $2 \
             AND NOT EXISTS (SELECT 1 FROM grant_expiry_notices n \
                             WHERE n.grant_id = g.id AND n.expires_at = g.expires_at) \
             ORDER BY g.expires_at, g.id",
        )
        .bind(now)
        .bind(now.saturating_add(within_ms))
        .fetch_all(&self.pool)
        .await?;
        let mut announced = 0;
        for row in &rows {
            let grant_id: i64 = row.try_get("id")?;
            let expires_at: i64 = row.try_get("expires_at")?;
            let (api_name, app_name): (String, String) = (row.try_get("api_name")?, row.try_get("app_name")?);
            let (api_group, app_group): (String, String) =
                (row.try_get("api_workgroup_name")?, row.try_get("app_workgroup_name")?);
            let workgroups: BTreeSet<i64> =
                [row.try_get::<i64, _>("api_workgroup")?, row.try_get::<i64, _>("app_workgroup")?].into();
            let mut tx = self.pool.begin().await?;
            let claimed = sqlx::query(
                "INSERT INTO grant_expiry_notices (grant_id, expires_at, notified_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING RETURNING grant_id",
            )
            .bind(grant_id)
            .bind(expires_at)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if claimed.is_none() {
                continue;
            }
            for workgroup_id in workgroups {
                let n = Notification {
                    event: NotificationEvent::GrantExpiring,
                    workgroup_id,
                    title: format!("Access of app `{app_name}` to API `{api_name}` expires soon"),
                    text: format!(
                        "The grant of API `{api_name}` (workgroup {api_group}) to app `{app_name}` (workgroup \
                         {app_group}) expires at {}. Renew it before then, or calls will be refused.",
                        utc_text(expires_at)
                    ),
                    detail: serde_json::json!({
                        "grantId": grant_id,
                        "apiId": row.try_get::<i64, _>("api_id")?,
                        "api": api_name,
                        "apiWorkgroup": api_group,
                        "appId": row.try_get::<i64, _>("app_id")?,
                        "app": app_name,
                        "appWorkgroup": app_group,
                        "expiresAt": expires_at,
                    }),
                };
                enqueue(&mut tx, &n, None).await?;
            }
            tx.commit().await?;
            announced += 1;
        }
        Ok(announced)
    }

    /// The secret as stored: `None` keeps what is stored, `Some(None)` removes it (empty
    /// text), `Some(Some(sealed))` replaces it.
    fn seal_webhook_secret(&self, secret: Option<&str>) -> Result<Option<Option<String>>, StoreError> {
        match secret {
            None => Ok(None),
            Some("") => Ok(Some(None)),
            Some(plain) => Ok(Some(Some(self.secrets.seal(plain)?))),
        }
    }
}

/// Queues `n` for the enabled channels of its workgroup that subscribe to its event, or for
/// channel `only` of that workgroup whatever its settings; the new deliveries' ids.
pub(super) async fn enqueue(
    connection: &mut AnyConnection,
    n: &Notification,
    only: Option<i64>,
) -> Result<Vec<i64>, StoreError> {
    let rows = sqlx::query(
        "SELECT w.id, w.template, w.events_json, w.enabled, g.name AS workgroup FROM webhooks w \
         JOIN workgroups g ON g.id = w.workgroup_id \
         WHERE w.workgroup_id = $1 AND ($2 = 0 OR w.id = $2) ORDER BY w.id",
    )
    .bind(n.workgroup_id)
    .bind(only.unwrap_or(0))
    .fetch_all(&mut *connection)
    .await?;
    let now = now_millis();
    let mut ids = Vec::new();
    for row in &rows {
        let webhook_id: i64 = row.try_get("id")?;
        if only.is_none() {
            let events: Vec<NotificationEvent> =
                from_json(&format!("webhook {webhook_id} events"), &row.try_get::<String, _>("events_json")?)?;
            if !flag(row, "enabled")? || !(events.is_empty() || events.contains(&n.event)) {
                continue;
            }
        }
        let template: WebhookTemplate = row.try_get::<String, _>("template")?.parse().map_err(StoreError::Corrupt)?;
        let body = template.render(n, &row.try_get::<String, _>("workgroup")?, now);
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, event, body, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, 'pending', 0, $4, $4) RETURNING id",
        )
        .bind(webhook_id)
        .bind(n.event.as_str())
        .bind(body)
        .bind(now)
        .fetch_one(&mut *connection)
        .await?;
        ids.push(inserted.try_get("id")?);
    }
    Ok(ids)
}

/// The rules a channel must meet to be stored (the management API checks the URL's syntax
/// more closely, and the network policy decides at every send).
fn check_channel(channel: &WebhookChannel) -> Result<(), StoreError> {
    require_text("webhook name", &channel.name)?;
    if channel.name.chars().count() > MAX_NAME || channel.name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "a webhook name is 1 to {MAX_NAME} characters, no control characters"
        )));
    }
    let url = channel.url.to_ascii_lowercase();
    if !(url.starts_with("http://") || url.starts_with("https://")) || channel.url.len() > MAX_URL {
        return Err(StoreError::Invalid(format!("a webhook URL is http:// or https://, at most {MAX_URL} bytes")));
    }
    if channel.secret.as_deref().is_some_and(|s| s.len() > MAX_SECRET) {
        return Err(StoreError::Invalid(format!("a webhook secret is at most {MAX_SECRET} bytes")));
    }
    if channel.events.contains(&NotificationEvent::WebhookTest) {
        return Err(StoreError::Invalid("`webhook.test` is sent on request; it cannot be subscribed to".into()));
    }
    Ok(())
}

/// The events, each once, in their order.
fn events_json(events: &[NotificationEvent]) -> Result<String, StoreError> {
    let unique: BTreeSet<NotificationEvent> = events.iter().copied().collect();
    to_json("webhook events", &unique.into_iter().collect::<Vec<_>>())
}

fn write_error(e: sqlx::Error, channel: &WebhookChannel) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(format!("the workgroup already has a webhook named `{}`", channel.name))
    } else if is_foreign_key_violation(&e) {
        StoreError::not_found("workgroup", channel.workgroup_id)
    } else {
        e.into()
    }
}

/// `2026-12-06 23:30 UTC`.
fn utc_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

fn webhook_from_row(row: &AnyRow) -> Result<WebhookChannel, StoreError> {
    let id: i64 = row.try_get("id")?;
    Ok(WebhookChannel {
        id,
        workgroup_id: row.try_get("workgroup_id")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        secret: None,
        has_secret: row.try_get::<Option<String>, _>("secret_sealed")?.is_some(),
        template: row.try_get::<String, _>("template")?.parse().map_err(StoreError::Corrupt)?,
        events: from_json(&format!("webhook {id} events"), &row.try_get::<String, _>("events_json")?)?,
        enabled: flag(row, "enabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<WebhookDelivery, StoreError> {
    Ok(WebhookDelivery {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        event: row.try_get::<String, _>("event")?.parse().map_err(StoreError::Corrupt)?,
        body: row.try_get("body")?,
        status: row.try_get::<String, _>("status")?.parse().map_err(StoreError::Corrupt)?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        created_at: row.try_get("created_at")?,
        sent_at: row.try_get("sent_at")?,
    })
}
