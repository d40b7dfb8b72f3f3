//! Notifications (`store/webhooks.rs`): webhook channels with sealed secrets, the outbox that
//! `notify` fills per channel and template, claims that two workers cannot both win, retries
//! recorded, pages of deliveries, and grants announced once before they expire.

use catalog::model::{
    DeliveryStatus, Notification, NotificationEvent, SecurityLevel, VisibleRange, WebhookChannel, WebhookTemplate,
};
use catalog::now_ms;
use catalog::store::DeliveryOutcome;

use crate::{TestDb, api_with, assert_conflict, assert_invalid, assert_not_found, grant_of, postgres_datasource};

backend_tests!(
    channels_keep_secrets_sealed_and_names_unique,
    notify_queues_for_enabled_subscribed_channels_with_their_template,
    one_worker_wins_a_claim_and_retries_are_recorded,
    deliveries_are_paged_newest_first,
    expiring_grants_are_announced_once_to_both_workgroups,
);

fn channel(workgroup_id: i64, name: &str, template: WebhookTemplate, events: &[NotificationEvent]) -> WebhookChannel {
    WebhookChannel {
        id: 0,
        workgroup_id,
        name: name.to_owned(),
        url: format!("https://hooks.example.com/{name}?access_token=t"),
        secret: None,
        has_secret: false,
        template,
        events: events.to_vec(),
        enabled: true,
        created_at: 0,
        updated_at: 0,
    }
}

fn published(workgroup_id: i64) -> Notification {
    Notification {
        event: NotificationEvent::ApiPublished,
        workgroup_id,
        title: "API `orders` published".into(),
        text: "Version 2 now serves prod.".into(),
        detail: serde_json::json!({"apiId": 7}),
    }
}

async fn channels_keep_secrets_sealed_and_names_unique(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let mut wanted = channel(sales.id, "team", WebhookTemplate::Lark, &[NotificationEvent::ApiPublished]);
    wanted.secret = Some("s3cret-value".into());
    let created = store.create_webhook(&wanted).await.unwrap();
    assert!(created.id > 0 && created.has_secret && created.secret.is_none());
    assert_eq!(created.events, vec![NotificationEvent::ApiPublished]);
    let stored = db.raw_text("SELECT secret_sealed FROM webhooks WHERE id = $1", created.id).await.unwrap();
    assert!(stored.starts_with("v1:") && !stored.contains("s3cret"), "{stored}");
    let json = serde_json::to_string(&store.webhook(created.id).await.unwrap()).unwrap();
    assert!(!json.contains("s3cret") && json.contains("\"hasSecret\":true"), "{json}");

    assert_conflict(store.create_webhook(&channel(sales.id, "team", WebhookTemplate::Json, &[])).await, "team");
    store.create_webhook(&channel(ops.id, "team", WebhookTemplate::Json, &[])).await.unwrap();
    let mut bad = channel(sales.id, "ftp", WebhookTemplate::Json, &[]);
    bad.url = "ftp://example.com/".into();
    assert_invalid(store.create_webhook(&bad).await, "http");
    let bad = channel(sales.id, "test", WebhookTemplate::Json, &[NotificationEvent::WebhookTest]);
    assert_invalid(store.create_webhook(&bad).await, "webhook.test");
    assert_invalid(store.create_webhook(&channel(sales.id, " ", WebhookTemplate::Json, &[])).await, "name");
    assert_not_found(store.create_webhook(&channel(999_999, "x", WebhookTemplate::Json, &[])).await, "workgroup");

    // No secret sent: kept; an empty one: removed.
    let mut change = store.webhook(created.id).await.unwrap();
    change.name = "team-renamed".into();
    change.enabled = false;
    let updated = store.update_webhook(&change).await.unwrap();
    assert!(updated.has_secret && !updated.enabled && updated.name == "team-renamed");
    change.secret = Some(String::new());
    assert!(!store.update_webhook(&change).await.unwrap().has_secret);
    let names: Vec<String> = store.webhooks(sales.id).await.unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(names, vec!["team-renamed"]);

    store.notify_channel(created.id, &published(sales.id)).await.unwrap();
    store.delete_webhook(created.id).await.unwrap();
    assert_not_found(store.webhook(created.id).await, "webhook");
    assert_not_found(store.delete_webhook(created.id).await, "webhook");
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1", created.id).await, 0);

    // A workgroup's channels and their deliveries go with it.
    let theirs = store.webhooks(ops.id).await.unwrap()[0].clone();
    store.notify_channel(theirs.id, &published(ops.id)).await.unwrap();
    store.delete_workgroup(ops.id).await.unwrap();
    assert_not_found(store.webhook(theirs.id).await, "webhook");
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1", theirs.id).await, 0);
}

async fn notify_queues_for_enabled_subscribed_channels_with_their_template(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let every = store.create_webhook(&channel(sales.id, "every", WebhookTemplate::Json, &[])).await.unwrap();
    let lark = store
        .create_webhook(&channel(sales.id, "lark", WebhookTemplate::Lark, &[NotificationEvent::ApiPublished]))
        .await
        .unwrap();
    let other = store
        .create_webhook(&channel(sales.id, "expiring", WebhookTemplate::Slack, &[NotificationEvent::GrantExpiring]))
        .await
        .unwrap();
    let mut off = channel(sales.id, "off", WebhookTemplate::Dingtalk, &[]);
    off.enabled = false;
    let off = store.create_webhook(&off).await.unwrap();
    store.create_webhook(&channel(ops.id, "ops", WebhookTemplate::Json, &[])).await.unwrap();

    assert_eq!(store.notify(&published(sales.id)).await.unwrap(), 2);
    assert_eq!(store.notify(&published(999_999)).await.unwrap(), 0);
    let (of_every, _) = store.webhook_deliveries(every.id, 1, 10).await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&of_every[0].body).unwrap();
    assert_eq!(body["event"], "api.published");
    assert_eq!(body["workgroup"], "sales");
    assert_eq!(body["title"], "API `orders` published");
    assert_eq!(body["detail"]["apiId"], 7);
    assert!(body["sentAt"].as_i64().unwrap() > 0);
    assert_eq!(of_every[0].status, DeliveryStatus::Pending);
    assert_eq!(of_every[0].attempts, 0);
    let (of_lark, _) = store.webhook_deliveries(lark.id, 1, 10).await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&of_lark[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"msg_type": "text", "content": {"text": "API `orders` published\nVersion 2 now serves prod."}})
    );
    assert_eq!(store.webhook_deliveries(other.id, 1, 10).await.unwrap().1, 0);
    assert_eq!(store.webhook_deliveries(off.id, 1, 10).await.unwrap().1, 0);

    // The test notification reaches one channel, disabled or not.
    let test = Notification { event: NotificationEvent::WebhookTest, ..published(sales.id) };
    let id = store.notify_channel(off.id, &test).await.unwrap();
    let delivery = store.delivery(id).await.unwrap();
    assert_eq!(delivery.webhook_id, off.id);
    let body: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(body["msgtype"], "text");
    assert_eq!(body["text"]["content"], "API `orders` published\nVersion 2 now serves prod.");
    // Another workgroup's channel is not reached through this one's notification.
    assert_not_found(store.notify_channel(off.id, &published(ops.id)).await, "webhook");
}

async fn one_worker_wins_a_claim_and_retries_are_recorded(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let mut wanted = channel(sales.id, "signed", WebhookTemplate::Slack, &[]);
    wanted.secret = Some("k".into());
    let hook = store.create_webhook(&wanted).await.unwrap();
    let id = store.notify_channel(hook.id, &published(sales.id)).await.unwrap();
    let now = now_ms() + 1;
    assert_eq!(store.due_deliveries(now, 10).await.unwrap(), vec![id]);

    // Eight claims at once: exactly one gets it.
    let claims: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_delivery(id, now, 60_000).await.unwrap() })
        })
        .collect();
    let mut won = Vec::new();
    for claim in claims {
        if let Some(claimed) = claim.await.unwrap() {
            won.push(claimed);
        }
    }
    assert_eq!(won.len(), 1, "{won:?}");
    let claimed = &won[0];
    assert_eq!((claimed.attempt, claimed.secret.as_deref()), (1, Some("k")));
    assert_eq!(claimed.url, hook.url);
    assert_eq!(claimed.event, NotificationEvent::ApiPublished);
    assert!(store.due_deliveries(now, 10).await.unwrap().is_empty(), "leased");

    let retry = DeliveryOutcome::Retry { error: "HTTP 500".into(), at: now + 5_000 };
    assert!(store.record_delivery(id, 1, &retry, now).await.unwrap());
    let delivery = store.delivery(id).await.unwrap();
    assert_eq!(
        (delivery.status, delivery.attempts, delivery.last_error.as_str()),
        (DeliveryStatus::Pending, 1, "HTTP 500")
    );
    assert!(store.claim_delivery(id, now + 4_999, 60_000).await.unwrap().is_none(), "not due yet");

    // A lease that ran out is claimed again; the first worker's late record no longer counts.
    let second = store.claim_delivery(id, now + 5_000, 10).await.unwrap().unwrap();
    assert_eq!(second.attempt, 2);
    let third = store.claim_delivery(id, now + 5_011, 60_000).await.unwrap().unwrap();
    assert_eq!(third.attempt, 3);
    assert!(!store.record_delivery(id, 2, &DeliveryOutcome::Sent, now + 5_012).await.unwrap());
    assert!(store.record_delivery(id, 3, &DeliveryOutcome::Sent, now + 5_013).await.unwrap());
    let delivery = store.delivery(id).await.unwrap();
    assert_eq!((delivery.status, delivery.attempts, delivery.sent_at), (DeliveryStatus::Sent, 3, Some(now + 5_013)));
    assert!(delivery.last_error.is_empty());
    assert!(store.claim_delivery(id, now + 100_000, 60_000).await.unwrap().is_none(), "sent is final");

    let failing = store.notify_channel(hook.id, &published(sales.id)).await.unwrap();
    let later = now_ms() + 1;
    let claimed = store.claim_delivery(failing, later, 60_000).await.unwrap().unwrap();
    let long = "x".repeat(5_000);
    store.record_delivery(failing, claimed.attempt, &DeliveryOutcome::Failed { error: long }, later).await.unwrap();
    let delivery = store.delivery(failing).await.unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    assert!(delivery.last_error.len() <= 300, "a failure reason is kept short");
    assert!(store.due_deliveries(now + 100_000, 10).await.unwrap().is_empty());
}

async fn deliveries_are_paged_newest_first(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let hook = store.create_webhook(&channel(sales.id, "every", WebhookTemplate::Json, &[])).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(store.notify_channel(hook.id, &published(sales.id)).await.unwrap());
    }
    let (first, total) = store.webhook_deliveries(hook.id, 1, 2).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(first.iter().map(|d| d.id).collect::<Vec<_>>(), vec![ids[4], ids[3]]);
    let (last, _) = store.webhook_deliveries(hook.id, 3, 2).await.unwrap();
    assert_eq!(last.iter().map(|d| d.id).collect::<Vec<_>>(), vec![ids[0]]);
    assert!(store.webhook_deliveries(hook.id, 4, 2).await.unwrap().0.is_empty());
}

async fn expiring_grants_are_announced_once_to_both_workgroups(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let datasource = store.create_datasource(&postgres_datasource(sales.id, "warehouse", None)).await.unwrap();
    let api = api_with(&store, sales.id, datasource.id, "orders", VisibleRange::Public, SecurityLevel::L1).await;
    let (app, _) = store.create_app(ops.id, "crm", "").await.unwrap();
    let (own_app, _) = store.create_app(sales.id, "own", "").await.unwrap();
    let to_sales = store.create_webhook(&channel(sales.id, "sales", WebhookTemplate::Json, &[])).await.unwrap();
    let to_ops = store
        .create_webhook(&channel(ops.id, "ops", WebhookTemplate::Json, &[NotificationEvent::GrantExpiring]))
        .await
        .unwrap();
    let day = 86_400_000;
    let now = now_ms();
    store.grant(&catalog::model::Grant { expires_at: Some(now + 3 * day), ..grant_of(api.id, app.id) }).await.unwrap();
    // Too far out, and one of the API's own workgroup (announced there once).
    store
        .grant(&catalog::model::Grant { expires_at: Some(now + 30 * day), ..grant_of(api.id, own_app.id) })
        .await
        .unwrap();

    assert_eq!(store.notify_expiring_grants(now, 7 * day).await.unwrap(), 1);
    assert_eq!(store.notify_expiring_grants(now, 7 * day).await.unwrap(), 0, "once per grant and expiry");
    let (to_ops_items, total) = store.webhook_deliveries(to_ops.id, 1, 10).await.unwrap();
    assert_eq!(total, 1);
    let body: serde_json::Value = serde_json::from_str(&to_ops_items[0].body).unwrap();
    assert_eq!(body["event"], "grant.expiring");
    assert_eq!(body["detail"]["app"], "crm");
    assert_eq!(body["detail"]["api"], "orders");
    assert_eq!(store.webhook_deliveries(to_sales.id, 1, 10).await.unwrap().1, 1);

    // The grant that comes into the window is announced once, to its one workgroup.
    assert_eq!(store.notify_expiring_grants(now + 25 * day, 7 * day).await.unwrap(), 1);
    assert_eq!(store.webhook_deliveries(to_sales.id, 1, 10).await.unwrap().1, 2);
    assert_eq!(store.webhook_deliveries(to_ops.id, 1, 10).await.unwrap().1, 1);

    // Publishing news goes to the workgroups whose apps hold a live grant, ops (crm) and sales
    // (own), each to its channels subscribed to it: sales's one; ops's takes expiries only.
    assert_eq!(store.notify_grantees(api.id, &published(sales.id)).await.unwrap(), 1);
    let (newest, _) = store.webhook_deliveries(to_ops.id, 1, 1).await.unwrap();
    assert_eq!(newest[0].event, NotificationEvent::GrantExpiring, "ops subscribes to expiring grants only");
    let (newest, _) = store.webhook_deliveries(to_sales.id, 1, 1).await.unwrap();
    assert_eq!(newest[0].event, NotificationEvent::ApiPublished);
    let ops_all = store.create_webhook(&channel(ops.id, "ops-all", WebhookTemplate::Json, &[])).await.unwrap();
    assert_eq!(store.notify_grantees(api.id, &published(sales.id)).await.unwrap(), 2);
    let body: serde_json::Value =
        serde_json::from_str(&store.webhook_deliveries(ops_all.id, 1, 1).await.unwrap().0[0].body).unwrap();
    assert_eq!(body["workgroup"], "ops", "each workgroup's channels hear it as theirs");
    assert_eq!(store.notify_grantees(999_999, &published(sales.id)).await.unwrap(), 0);

    // Renewed to a later expiry, a grant is announced again when that one nears.
    store.grant(&catalog::model::Grant { expires_at: Some(now + 40 * day), ..grant_of(api.id, app.id) }).await.unwrap();
    assert_eq!(store.notify_expiring_grants(now + 35 * day, 7 * day).await.unwrap(), 1);
    assert_eq!(store.webhook_deliveries(to_ops.id, 1, 10).await.unwrap().1, 2);
}
