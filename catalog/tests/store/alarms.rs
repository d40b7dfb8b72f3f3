//! Alarms (`store/alarms.rs`): rules per API bounded and deleted with it, the workgroup's
//! template applied to a new API with its owner as receiver, conditional transitions that fire
//! and resolve once however many evaluators race, with the event and the notification written
//! together, and the history paged newest first.

use catalog::model::{
    AlarmEventKind, AlarmMetric, AlarmRule, AlarmRuleSpec, AlarmState, AlarmTemplate, Environment, NotificationEvent,
    WebhookChannel, WebhookTemplate,
};
use catalog::store::{AlarmEventQuery, AlarmTransition, Store};

use crate::{TestDb, assert_invalid, assert_not_found, seeded};

backend_tests!(
    rules_are_bounded_kept_per_api_and_deleted_with_it,
    the_template_gives_new_apis_their_rules,
    racing_evaluators_fire_once_and_resolve_once,
    fired_and_resolved_reach_the_channels_and_the_history,
);

fn spec(metric: AlarmMetric, threshold: f64) -> AlarmRuleSpec {
    AlarmRuleSpec { metric, env: Environment::Prod, window_secs: 300, threshold, for_secs: 60 }
}

fn fire(rule: &AlarmRule, at: i64) -> AlarmTransition {
    AlarmTransition {
        rule_id: rule.id,
        from: rule.state,
        from_since: rule.state_since,
        to: AlarmState::Firing,
        to_since: at,
        clear_since: None,
        event: Some((AlarmEventKind::Fired, 0.5)),
        at,
    }
}

fn resolve(rule: &AlarmRule, at: i64) -> AlarmTransition {
    AlarmTransition {
        rule_id: rule.id,
        from: AlarmState::Firing,
        from_since: rule.state_since,
        to: AlarmState::Ok,
        to_since: at,
        clear_since: None,
        event: Some((AlarmEventKind::Resolved, 0.01)),
        at,
    }
}

async fn channel(store: &Store, workgroup_id: i64, events: &[NotificationEvent]) -> WebhookChannel {
    store
        .create_webhook(&WebhookChannel {
            id: 0,
            workgroup_id,
            name: "alarms".into(),
            url: "http://127.0.0.1:9/hook".into(),
            secret: None,
            has_secret: false,
            template: WebhookTemplate::Json,
            events: events.to_vec(),
            enabled: true,
            created_at: 0,
            updated_at: 0,
        })
        .await
        .unwrap()
}

async fn rules_are_bounded_kept_per_api_and_deleted_with_it(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, _, api) = seeded(&store).await;
    let before = store.revision().await.unwrap();
    let rule = AlarmRule::new(workgroup_id, api.id, &spec(AlarmMetric::ErrorRate, 0.1), vec!["ana".into()]);
    let created = store.create_alarm_rule(&rule, "ana").await.unwrap();
    assert!(created.id > 0 && created.enabled && created.state == AlarmState::Ok);
    assert_eq!((created.threshold, created.window_secs, created.for_secs), (0.1, 300, 60));
    assert_eq!(created.receivers, vec!["ana".to_owned()]);
    assert_eq!(created.created_by, "ana");
    assert!(store.revision().await.unwrap() > before, "rule writes bump the revision");

    for (bad, mentions) in [
        (AlarmRuleSpec { window_secs: 90, ..spec(AlarmMetric::P99Ms, 1.0) }, "whole minutes"),
        (AlarmRuleSpec { window_secs: 0, ..spec(AlarmMetric::P99Ms, 1.0) }, "whole minutes"),
        (AlarmRuleSpec { for_secs: 86_401, ..spec(AlarmMetric::P99Ms, 1.0) }, "duration"),
        (spec(AlarmMetric::ErrorRate, 1.5), "error-rate"),
        (spec(AlarmMetric::Throttled, -1.0), "at least 0"),
        (spec(AlarmMetric::P99Ms, f64::NAN), "at least 0"),
    ] {
        let rule = AlarmRule::new(workgroup_id, api.id, &bad, vec![]);
        assert_invalid(store.create_alarm_rule(&rule, "ana").await, mentions);
    }
    // A rule names its API's workgroup.
    let other = store.create_workgroup("ops", "").await.unwrap();
    let stray = AlarmRule::new(other.id, api.id, &spec(AlarmMetric::NoCalls, 0.0), vec![]);
    assert_not_found(store.create_alarm_rule(&stray, "ana").await, "API");

    let mut wanted = created.clone();
    wanted.threshold = 0.2;
    wanted.metric = AlarmMetric::ErrorRate;
    let updated = store.update_alarm_rule(&wanted, "ben").await.unwrap();
    assert_eq!((updated.threshold, updated.updated_by.as_str()), (0.2, "ben"));
    assert_eq!(store.alarm_rules(api.id).await.unwrap(), vec![updated.clone()]);

    // A firing rule disabled goes back to ok, without an event.
    assert!(store.transition_alarm(&fire(&updated, 1_000)).await.unwrap());
    let firing = store.alarm_rule(updated.id).await.unwrap();
    let disabled = store.update_alarm_rule(&AlarmRule { enabled: false, ..firing }, "ben").await.unwrap();
    assert_eq!(disabled.state, AlarmState::Ok);
    assert!(store.enabled_alarm_rules().await.unwrap().is_empty());

    // Deleting the API deletes its rules; the history stays.
    store.delete_api(api.id).await.unwrap();
    assert_not_found(store.alarm_rule(created.id).await, "alarm rule");
    let (events, total) =
        store.alarm_events(&AlarmEventQuery { workgroup_id, api_id: None, limit: 10, offset: 0 }).await.unwrap();
    assert_eq!((events.len(), total), (1, 1));
    assert_eq!(events[0].api_name, "orders");
}

async fn the_template_gives_new_apis_their_rules(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    assert_eq!(store.alarm_template(workgroup_id).await.unwrap(), AlarmTemplate::default());
    // Nothing while no template is enabled.
    assert!(store.apply_alarm_template(api.id, "ana").await.unwrap().is_empty());

    let template = AlarmTemplate {
        enabled: true,
        rules: vec![spec(AlarmMetric::ErrorRate, 0.05), spec(AlarmMetric::NoCalls, 0.0)],
        ..AlarmTemplate::default()
    };
    let saved = store.set_alarm_template(workgroup_id, &template, "boss").await.unwrap();
    assert!(saved.enabled && saved.rules == template.rules && saved.updated_by == "boss" && saved.updated_at > 0);
    assert_eq!(store.alarm_template(workgroup_id).await.unwrap(), saved);
    let bad = AlarmTemplate { rules: vec![spec(AlarmMetric::ErrorRate, 2.0)], ..template.clone() };
    assert_invalid(store.set_alarm_template(workgroup_id, &bad, "boss").await, "error-rate");

    let mut owned = crate::new_api(workgroup_id, "owned", crate::wizard_draft(datasource.id, "t"));
    owned.settings.owner = "olga".into();
    let owned = store.create_api(&owned).await.unwrap();
    let rules = store.apply_alarm_template(owned.id, "ana").await.unwrap();
    assert_eq!(rules.len(), 2);
    assert!(rules.iter().all(|r| r.receivers == vec!["olga".to_owned()] && r.api_id == owned.id && r.enabled));
    assert_eq!(rules.iter().map(|r| r.spec()).collect::<Vec<_>>(), template.rules);
    // An API without an owner gets rules without receivers.
    assert!(store.apply_alarm_template(api.id, "ana").await.unwrap().iter().all(|r| r.receivers.is_empty()));

    // Disabled: kept, not applied.
    store.set_alarm_template(workgroup_id, &AlarmTemplate { enabled: false, ..template }, "boss").await.unwrap();
    let third = store
        .create_api(&crate::new_api(workgroup_id, "third", crate::wizard_draft(datasource.id, "t")))
        .await
        .unwrap();
    assert!(store.apply_alarm_template(third.id, "ana").await.unwrap().is_empty());
    assert_eq!(store.alarm_template(workgroup_id).await.unwrap().rules.len(), 2);
}

async fn racing_evaluators_fire_once_and_resolve_once(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, _, api) = seeded(&store).await;
    channel(&store, workgroup_id, &[]).await;
    let rule = AlarmRule::new(workgroup_id, api.id, &spec(AlarmMetric::ErrorRate, 0.1), vec![]);
    let rule = store.create_alarm_rule(&rule, "ana").await.unwrap();
    // Four evaluators read the same `ok` and all decide to fire.
    let mut racers = Vec::new();
    for n in 0..4 {
        let (store, t) = (store.clone(), fire(&rule, 10_000 + n));
        racers.push(tokio::spawn(async move { store.transition_alarm(&t).await.unwrap() }));
    }
    let mut won = 0;
    for racer in racers {
        won += usize::from(racer.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one evaluator fires");
    let firing = store.alarm_rule(rule.id).await.unwrap();
    assert_eq!(firing.state, AlarmState::Firing);
    // A stale decision (from the `ok` read before) changes nothing now.
    assert!(!store.transition_alarm(&fire(&rule, 20_000)).await.unwrap());

    let mut racers = Vec::new();
    for n in 0..4 {
        let (store, t) = (store.clone(), resolve(&firing, 30_000 + n));
        racers.push(tokio::spawn(async move { store.transition_alarm(&t).await.unwrap() }));
    }
    let mut won = 0;
    for racer in racers {
        won += usize::from(racer.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one evaluator resolves");
    let query = AlarmEventQuery { workgroup_id, api_id: Some(api.id), limit: 50, offset: 0 };
    let (events, total) = store.alarm_events(&query).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![AlarmEventKind::Resolved, AlarmEventKind::Fired]
    );
    let queued =
        db.raw_count("SELECT COUNT(*) FROM webhook_deliveries WHERE event LIKE 'alarm.%' AND webhook_id > $1", 0).await;
    assert_eq!(queued, 2, "one notification per event");
}

async fn fired_and_resolved_reach_the_channels_and_the_history(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, _, api) = seeded(&store).await;
    let hook = channel(&store, workgroup_id, &[NotificationEvent::AlarmFired, NotificationEvent::AlarmResolved]).await;
    let other = store.create_workgroup("ops", "").await.unwrap();
    let rule = AlarmRule::new(workgroup_id, api.id, &spec(AlarmMetric::P99Ms, 800.0), vec!["olga".into()]);
    let rule = store.create_alarm_rule(&rule, "ana").await.unwrap();
    let revision = store.revision().await.unwrap();

    // ok → pending: no event, nothing queued.
    let pending = AlarmTransition {
        rule_id: rule.id,
        from: AlarmState::Ok,
        from_since: rule.state_since,
        to: AlarmState::Pending,
        to_since: 5_000,
        clear_since: None,
        event: None,
        at: 5_000,
    };
    assert!(store.transition_alarm(&pending).await.unwrap());
    let rule = store.alarm_rule(rule.id).await.unwrap();
    assert_eq!((rule.state, rule.state_since), (AlarmState::Pending, 5_000));
    assert!(
        store
            .transition_alarm(&AlarmTransition { event: Some((AlarmEventKind::Fired, 1234.0)), ..fire(&rule, 65_000) })
            .await
            .unwrap()
    );
    let (page, _) = store.webhook_deliveries(hook.id, 1, 10).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].event, NotificationEvent::AlarmFired);
    let body: serde_json::Value = serde_json::from_str(&page[0].body).unwrap();
    assert_eq!(body["event"], "alarm.fired");
    assert_eq!(body["detail"]["apiName"], "orders");
    assert_eq!(body["detail"]["metric"], "p99Ms");
    assert_eq!(body["detail"]["value"], 1234.0);
    assert_eq!(body["detail"]["threshold"], 800.0);
    assert_eq!(body["detail"]["receivers"], serde_json::json!(["olga"]));
    assert!(body["title"].as_str().unwrap().contains("orders"), "{body}");

    let firing = store.alarm_rule(rule.id).await.unwrap();
    assert!(store.transition_alarm(&resolve(&firing, 125_000)).await.unwrap());
    let (page, total) = store.webhook_deliveries(hook.id, 1, 10).await.unwrap();
    assert_eq!((page[0].event, total), (NotificationEvent::AlarmResolved, 2));
    assert_eq!(store.revision().await.unwrap(), revision, "transitions are bookkeeping");

    // The history is the workgroup's own, newest first, paged.
    let query = |workgroup_id, limit, offset| AlarmEventQuery { workgroup_id, api_id: None, limit, offset };
    let (events, total) = store.alarm_events(&query(workgroup_id, 1, 0)).await.unwrap();
    assert_eq!((events.len(), total), (1, 2));
    assert_eq!((events[0].kind, events[0].value, events[0].at), (AlarmEventKind::Resolved, 0.01, 125_000));
    let (events, _) = store.alarm_events(&query(workgroup_id, 1, 1)).await.unwrap();
    assert_eq!((events[0].kind, events[0].receivers.clone()), (AlarmEventKind::Fired, vec!["olga".to_owned()]));
    assert_eq!(store.alarm_events(&query(other.id, 50, 0)).await.unwrap(), (vec![], 0));
    let none = AlarmEventQuery { api_id: Some(api.id + 100), ..query(workgroup_id, 50, 0) };
    assert_eq!(store.alarm_events(&none).await.unwrap().1, 0);
}
