//! Alarms (issue 19, part 4): rules per API over the call rollups, the workgroup's alarm
//! template, the history, and the evaluator that fires and resolves alarms.
//!
//! ```text
//!  /workgroups/{workgroup}/apis/{id}/alarms          GET list   POST add (201)
//!  …/apis/{id}/alarms/{rule}                          GET   PATCH (what is sent is replaced)   DELETE
//!  /workgroups/{workgroup}/alarm-template            GET   PUT (workgroup admins)
//!  /workgroups/{workgroup}/alarm-events              GET ?apiId=&limit=&offset=, newest first
//! ```
//!
//! Reading needs a viewer of the workgroup; changing a rule a developer, like every change of
//! an API; the template an admin. Another workgroup's API or rule answers 404 like a missing
//! one. Receivers must be enabled members of the API's workgroup.
//!
//! The evaluator ([`evaluate_alarms`]) reads each enabled rule's window from the call rollups
//! through [`CallTotals`], decides with the pure state machine ([`observe`], [`step`]) and
//! applies the decision with the store's conditional update, so with several admin nodes an
//! alarm fires once and resolves once (`Store::transition_alarm`); the store writes the event
//! and enqueues the `alarm.fired` / `alarm.resolved` notification in the same transaction,
//! which the webhook worker delivers with its retries through the network policy.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::routing::{get, patch, post};
use calls::CallsError;
use calls::report::{Filter, Scope, Totals, Window};
use catalog::model::{
    AlarmEvent, AlarmEventKind, AlarmMetric, AlarmRule, AlarmRuleSpec, AlarmState, AlarmTemplate, Api, Environment,
    Workgroup, WorkgroupRole,
};
use catalog::now_ms;
use catalog::store::{AlarmEventQuery, AlarmTransition, MAX_ALARM_EVENT_PAGE, Store, StoreError};
use errors::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AdminState;
use super::access::{Access, Caller, Routes};
use super::body::JsonBody;
use super::datasources::{path_id, record};
use super::reply::{AdminError, AdminResult, Reply};

/// The share of the threshold under which a firing alarm's value counts as clear.
pub const CLEAR_RATIO: f64 = 0.8;
/// The most rules an API or a template holds (the store's bound).
const MAX_RULES: usize = 50;
/// The most receivers of a rule (the store's bound).
const MAX_RECEIVERS: usize = 20;
/// Events per page unless asked.
const DEFAULT_EVENT_PAGE: u32 = 50;

/// What the evaluator reads of the call store: the totals of a window. `calls::store::CallStore`
/// implements it; tests script it.
#[async_trait]
pub trait CallTotals: Send + Sync {
    async fn totals(&self, scope: &Scope, window: Window, filter: &Filter) -> Result<Totals, CallsError>;
}

/// The call store's rollups, as the evaluator reads them.
#[async_trait]
impl CallTotals for calls::store::CallStore {
    async fn totals(&self, scope: &Scope, window: Window, filter: &Filter) -> Result<Totals, CallsError> {
        calls::store::CallStore::totals(self, scope, window, filter).await
    }
}

// ---------------------------------------------------------------------------------------------
// The state machine

/// A rule's value over its window and which side of the thresholds it is on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub value: f64,
    /// The condition that fires: above the threshold (`noCalls`: no call).
    pub breached: bool,
    /// The condition that resolves: at most [`CLEAR_RATIO`] × the threshold (`noCalls`: a
    /// call). Between the two nothing changes, so a value around the threshold cannot flap.
    pub cleared: bool,
}

/// Measures `metric` over `totals`:
///
/// - `errorRate`: `1 - succeeded / calls` (every answer that is not a success: 4xx, 429 and
///   5xx), 0 without calls;
/// - `p99Ms`: the 99th percentile of latency, 0 without calls;
/// - `throttled`: the number of calls answered 429;
/// - `noCalls`: the number of calls; breached at 0, cleared from 1, the threshold unused.
pub fn observe(metric: AlarmMetric, threshold: f64, totals: &Totals) -> Observation {
    let value = match metric {
        AlarmMetric::ErrorRate if totals.calls > 0 => 1.0 - totals.succeeded as f64 / totals.calls as f64,
        AlarmMetric::ErrorRate => 0.0,
        AlarmMetric::P99Ms => totals.p99_ms.unwrap_or(0.0),
        AlarmMetric::Throttled => totals.throttled as f64,
        AlarmMetric::NoCalls => totals.calls as f64,
    };
    match metric {
        AlarmMetric::NoCalls => Observation { value, breached: totals.calls == 0, cleared: totals.calls > 0 },
        _ => Observation { value, breached: value > threshold, cleared: value <= threshold * CLEAR_RATIO },
    }
}

/// Where a rule stands, as the evaluator read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub state: AlarmState,
    pub since: i64,
    pub clear_since: Option<i64>,
}

/// What the evaluator does with a rule at `now`: nothing (`None`), or move it. `ok` goes to
/// `pending` when the rule is breached (straight to `firing` when `for_secs` is 0); `pending`
/// fires once breached for `for_secs`, and goes back to `ok` as soon as it is not; `firing`
/// resolves once cleared for `for_secs` (the clear condition's start is kept in
/// `clear_since`, forgotten when the value rises above the clear line again).
pub fn step(
    rule_id: i64,
    standing: Standing,
    for_secs: i64,
    observed: Observation,
    now: i64,
) -> Option<AlarmTransition> {
    let hold = for_secs.saturating_mul(1000);
    let move_to = |to: AlarmState, to_since: i64, clear_since: Option<i64>, event: Option<AlarmEventKind>| {
        Some(AlarmTransition {
            rule_id,
            from: standing.state,
            from_since: standing.since,
            to,
            to_since,
            clear_since,
            event: event.map(|kind| (kind, observed.value)),
            at: now,
        })
    };
    match standing.state {
        AlarmState::Ok if observed.breached && hold == 0 => {
            move_to(AlarmState::Firing, now, None, Some(AlarmEventKind::Fired))
        }
        AlarmState::Ok if observed.breached => move_to(AlarmState::Pending, now, None, None),
        AlarmState::Ok => None,
        AlarmState::Pending if !observed.breached => move_to(AlarmState::Ok, now, None, None),
        AlarmState::Pending if now.saturating_sub(standing.since) >= hold => {
            move_to(AlarmState::Firing, now, None, Some(AlarmEventKind::Fired))
        }
        AlarmState::Pending => None,
        AlarmState::Firing if observed.cleared => {
            let cleared_at = standing.clear_since.unwrap_or(now);
            if now.saturating_sub(cleared_at) >= hold {
                move_to(AlarmState::Ok, now, None, Some(AlarmEventKind::Resolved))
            } else if standing.clear_since.is_none() {
                move_to(AlarmState::Firing, standing.since, Some(now), None)
            } else {
                None
            }
        }
        AlarmState::Firing if standing.clear_since.is_some() => move_to(AlarmState::Firing, standing.since, None, None),
        AlarmState::Firing => None,
    }
}

/// The window a rule reads at `now`: the `window_secs` before the current minute began (the
/// rollups are per minute; the current one is not complete).
pub fn window_at(window_secs: i64, now: i64) -> Window {
    let to_ms = now - now.rem_euclid(60_000);
    Window { from_ms: to_ms - window_secs.saturating_mul(1000), to_ms }
}

// ---------------------------------------------------------------------------------------------
// The evaluator

/// Evaluates every enabled rule once at `now`; how many alarms fired or resolved. A rule whose
/// totals cannot be read or whose change cannot be written is skipped (logged) until the next
/// round; only failing to read the rules fails the round.
pub async fn evaluate_once(store: &Store, totals: &dyn CallTotals, now: i64) -> Result<usize, StoreError> {
    let mut events = 0;
    for (rule, api_name) in store.enabled_alarm_rules().await? {
        let scope = Scope { workgroup_id: Some(rule.workgroup_id), api_ids: Some(vec![rule.api_id]), app_ids: None };
        let filter = Filter { api_id: Some(rule.api_id), app_id: None, env: Some(rule.env.as_str().to_owned()) };
        let read = match totals.totals(&scope, window_at(rule.window_secs, now), &filter).await {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(rule = rule.id, api = api_name, "cannot read the calls an alarm rule measures: {e}");
                continue;
            }
        };
        let observed = observe(rule.metric, rule.threshold, &read);
        let standing = Standing { state: rule.state, since: rule.state_since, clear_since: rule.clear_since };
        let Some(transition) = step(rule.id, standing, rule.for_secs, observed, now) else { continue };
        // `false`: another node moved the rule first, or it changed meanwhile. A failure is
        // this rule's alone: the others are evaluated, and this one again next round.
        match store.transition_alarm(&transition).await {
            Ok(true) => {
                if let Some((kind, value)) = transition.event {
                    events += 1;
                    tracing::info!(rule = rule.id, api = api_name, metric = %rule.metric, value, "alarm {}", kind.as_str());
                }
            }
            Ok(false) => {}
            Err(e) => tracing::error!(rule = rule.id, api = api_name, "cannot record an alarm rule's change: {e}"),
        }
    }
    Ok(events)
}

/// Evaluates the rules every `every`, until dropped. Several admin nodes may all run it: each
/// alarm fires and resolves once (see [`evaluate_once`]).
pub async fn evaluate_alarms(store: Store, totals: Arc<dyn CallTotals>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = evaluate_once(&store, totals.as_ref(), now_ms()).await {
            tracing::error!("cannot evaluate alarm rules: {e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Routes

/// Registers this area's routes.
pub fn register(routes: Routes) -> Routes {
    use WorkgroupRole::{Admin, Developer, Viewer};
    const RULES: &str = "/workgroups/{workgroup}/apis/{id}/alarms";
    const RULE: &str = "/workgroups/{workgroup}/apis/{id}/alarms/{rule}";
    const TEMPLATE: &str = "/workgroups/{workgroup}/alarm-template";
    routes
        .add(Method::GET, RULES, Access::Workgroup(Viewer), get(list_rules))
        .answers_list::<AlarmRule>()
        .add(Method::POST, RULES, Access::Workgroup(Developer), post(create_rule))
        .body::<NewAlarmRule>()
        .answers::<AlarmRule>()
        .add(Method::GET, RULE, Access::Workgroup(Viewer), get(get_rule))
        .answers::<AlarmRule>()
        .add(Method::PATCH, RULE, Access::Workgroup(Developer), patch(update_rule))
        .body::<AlarmRuleUpdate>()
        .answers::<AlarmRule>()
        .add(Method::DELETE, RULE, Access::Workgroup(Developer), axum::routing::delete(delete_rule))
        .answers_nothing()
        .add(Method::GET, TEMPLATE, Access::Workgroup(Viewer), get(get_template))
        .answers::<AlarmTemplate>()
        .add(Method::PUT, TEMPLATE, Access::Workgroup(Admin), axum::routing::put(put_template))
        .body::<TemplateBody>()
        .answers::<AlarmTemplate>()
        .add(Method::GET, "/workgroups/{workgroup}/alarm-events", Access::Workgroup(Viewer), get(list_events))
        .answers::<AlarmEventPage>()
}

/// `POST …/alarms`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAlarmRule {
    /// `errorRate`, `p99Ms`, `throttled` or `noCalls`.
    metric: AlarmMetric,
    /// `prod` (default) or `test`.
    #[serde(default)]
    env: Environment,
    /// Whole minutes, 60 to 86400 seconds.
    window_secs: i64,
    /// At least 0; errorRate at most 1; unused by noCalls (default 0).
    #[serde(default)]
    threshold: f64,
    /// 0 (default) to 86400 seconds.
    #[serde(default)]
    for_secs: i64,
    /// Members of the workgroup; absent: the API's owner (none when it has none).
    #[serde(default)]
    receivers: Option<Vec<String>>,
    /// Default true.
    #[serde(default)]
    enabled: Option<bool>,
}

/// `PATCH …/alarms/{rule}`: what is sent is replaced, what is left out kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlarmRuleUpdate {
    metric: Option<AlarmMetric>,
    env: Option<Environment>,
    window_secs: Option<i64>,
    threshold: Option<f64>,
    for_secs: Option<i64>,
    receivers: Option<Vec<String>>,
    enabled: Option<bool>,
}

/// `PUT …/alarm-template`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateBody {
    /// Whether APIs created from now on get the rules.
    enabled: bool,
    /// At most 50.
    #[serde(default)]
    rules: Vec<AlarmRuleSpec>,
}

/// A page of the alarm history, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlarmEventPage {
    pub items: Vec<AlarmEvent>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

/// `?apiId=&limit=&offset=` of the history, read as text so every refusal names its key.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EventFilter {
    api_id: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

async fn list_rules(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
) -> AdminResult<Vec<AlarmRule>> {
    let api = crate::apis::api_in(&state, caller.workgroup()?, &id).await?;
    Ok(Reply::ok(state.store.alarm_rules(api.id).await?))
}

async fn create_rule(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<NewAlarmRule>,
) -> AdminResult<AlarmRule> {
    let workgroup = caller.workgroup()?;
    let api = crate::apis::api_in(&state, workgroup, &id).await?;
    let spec = AlarmRuleSpec {
        metric: body.metric,
        env: body.env,
        window_secs: body.window_secs,
        threshold: body.threshold,
        for_secs: body.for_secs,
    };
    check_spec(&spec, "")?;
    let receivers = match body.receivers {
        Some(receivers) => receivers,
        None if api.settings.owner.is_empty() => Vec::new(),
        None => vec![api.settings.owner.clone()],
    };
    let receivers = check_receivers(&state, workgroup, receivers, &[]).await?;
    if state.store.alarm_rules(api.id).await?.len() >= MAX_RULES {
        return Err(AdminError::new(
            ErrorCode::Conflict,
            format!("the API has {MAX_RULES} alarm rules, the most it may have: delete one first"),
        ));
    }
    let mut rule = AlarmRule::new(workgroup.id, api.id, &spec, receivers);
    rule.enabled = body.enabled.unwrap_or(true);
    let created = state.store.create_alarm_rule(&rule, &caller.user.name).await?;
    audit(&state, &caller, "alarm.create", &created, &api).await;
    Ok(Reply::created(created))
}

async fn get_rule(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id, rule)): Path<(String, String, String)>,
) -> AdminResult<AlarmRule> {
    let (_, rule) = rule_in(&state, caller.workgroup()?, &id, &rule).await?;
    Ok(Reply::ok(rule))
}

async fn update_rule(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id, rule)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<AlarmRuleUpdate>,
) -> AdminResult<AlarmRule> {
    let workgroup = caller.workgroup()?;
    let (api, current) = rule_in(&state, workgroup, &id, &rule).await?;
    let receivers = match body.receivers {
        Some(receivers) => check_receivers(&state, workgroup, receivers, &current.receivers).await?,
        None => current.receivers.clone(),
    };
    let wanted = AlarmRule {
        metric: body.metric.unwrap_or(current.metric),
        env: body.env.unwrap_or(current.env),
        window_secs: body.window_secs.unwrap_or(current.window_secs),
        threshold: body.threshold.unwrap_or(current.threshold),
        for_secs: body.for_secs.unwrap_or(current.for_secs),
        enabled: body.enabled.unwrap_or(current.enabled),
        receivers,
        ..current
    };
    check_spec(&wanted.spec(), "")?;
    let updated = state.store.update_alarm_rule(&wanted, &caller.user.name).await?;
    audit(&state, &caller, "alarm.update", &updated, &api).await;
    Ok(Reply::ok(updated))
}

async fn delete_rule(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id, rule)): Path<(String, String, String)>,
) -> AdminResult<serde_json::Value> {
    let (api, rule) = rule_in(&state, caller.workgroup()?, &id, &rule).await?;
    state.store.delete_alarm_rule(rule.id).await?;
    audit(&state, &caller, "alarm.delete", &rule, &api).await;
    Ok(Reply::ok(serde_json::Value::Null))
}

async fn get_template(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
) -> AdminResult<AlarmTemplate> {
    Ok(Reply::ok(state.store.alarm_template(caller.workgroup()?.id).await?))
}

async fn put_template(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    JsonBody(body): JsonBody<TemplateBody>,
) -> AdminResult<AlarmTemplate> {
    let workgroup = caller.workgroup()?;
    if body.rules.len() > MAX_RULES {
        return Err(AdminError::invalid("rules", format!("at most {MAX_RULES} rules")));
    }
    for (i, spec) in body.rules.iter().enumerate() {
        check_spec(spec, &format!("rules[{i}]."))?;
    }
    let wanted = AlarmTemplate { enabled: body.enabled, rules: body.rules, updated_at: 0, updated_by: String::new() };
    let saved = state.store.set_alarm_template(workgroup.id, &wanted, &caller.user.name).await?;
    let detail = serde_json::json!({"enabled": saved.enabled, "rules": saved.rules.len()});
    record(&state, &caller, Some(workgroup.id), "alarm.template", format!("workgroup:{}", workgroup.id), detail).await;
    Ok(Reply::ok(saved))
}

async fn list_events(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Query(filter): Query<EventFilter>,
) -> AdminResult<AlarmEventPage> {
    let workgroup = caller.workgroup()?;
    let number = |key: &str, text: &Option<String>| -> Result<Option<u64>, AdminError> {
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => {
                text.parse::<u64>().map(Some).map_err(|_| AdminError::invalid(key, "a whole number of at least 0"))
            }
        }
    };
    let api_id = match number("apiId", &filter.api_id)? {
        None => None,
        Some(id) => Some(i64::try_from(id).map_err(|_| AdminError::invalid("apiId", "an API id"))?),
    };
    let limit = match number("limit", &filter.limit)? {
        None => DEFAULT_EVENT_PAGE,
        Some(n @ 1..=200) => u32::try_from(n).unwrap_or(MAX_ALARM_EVENT_PAGE),
        Some(_) => {
            return Err(AdminError::invalid("limit", format!("from 1 to {MAX_ALARM_EVENT_PAGE}")));
        }
    };
    let offset = number("offset", &filter.offset)?.unwrap_or(0).min(i64::MAX as u64);
    let query = AlarmEventQuery { workgroup_id: workgroup.id, api_id, limit, offset };
    let (items, total) = state.store.alarm_events(&query).await?;
    Ok(Reply::ok(AlarmEventPage { items, total, limit, offset }))
}

/// The API `{id}` of the workgroup and its rule `{rule}`; 404 for another's, as for a missing
/// one.
async fn rule_in(
    state: &AdminState,
    workgroup: &Workgroup,
    api_id: &str,
    rule_id: &str,
) -> Result<(Api, AlarmRule), AdminError> {
    let api = crate::apis::api_in(state, workgroup, api_id).await?;
    let id = path_id("alarm rule", rule_id)?;
    match state.store.alarm_rule(id).await {
        Ok(rule) if rule.api_id == api.id && rule.workgroup_id == workgroup.id => Ok((api, rule)),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(AdminError::not_found("alarm rule", id)),
        Err(e) => Err(e.into()),
    }
}

/// What the store would refuse, named by field under `prefix` (`rules[0].` in a template).
pub fn check_spec(spec: &AlarmRuleSpec, prefix: &str) -> Result<(), AdminError> {
    let field = |name: &str| format!("{prefix}{name}");
    if !(60..=86_400).contains(&spec.window_secs) || spec.window_secs % 60 != 0 {
        return Err(AdminError::invalid(
            &field("windowSecs"),
            "whole minutes from 60 to 86400 seconds (60, 300, 3600, …)",
        ));
    }
    if !(0..=86_400).contains(&spec.for_secs) {
        return Err(AdminError::invalid(&field("forSecs"), "from 0 (at once) to 86400 seconds"));
    }
    if !spec.threshold.is_finite() || spec.threshold < 0.0 {
        return Err(AdminError::invalid(&field("threshold"), "a number of at least 0"));
    }
    if spec.metric == AlarmMetric::ErrorRate && spec.threshold > 1.0 {
        return Err(AdminError::invalid(&field("threshold"), "an error rate is from 0 to 1 (0.05 is 5%)"));
    }
    Ok(())
}

/// Receivers, trimmed, each once: every one must be an enabled member of the workgroup, except
/// those the rule already names (`kept`), like an API's owner.
async fn check_receivers(
    state: &AdminState,
    workgroup: &Workgroup,
    receivers: Vec<String>,
    kept: &[String],
) -> Result<Vec<String>, AdminError> {
    let mut unique: Vec<String> = Vec::with_capacity(receivers.len());
    for name in receivers {
        let name = name.trim().to_owned();
        if !name.is_empty() && !unique.contains(&name) {
            unique.push(name);
        }
    }
    if unique.len() > MAX_RECEIVERS {
        return Err(AdminError::invalid("receivers", format!("at most {MAX_RECEIVERS} user names")));
    }
    for name in &unique {
        if !kept.contains(name) && !state.store.is_member_named(workgroup.id, name).await? {
            return Err(AdminError::invalid(
                "receivers",
                format!(
                    "`{}` is not a member of workgroup {}: name members of the API's workgroup",
                    name.chars().take(64).collect::<String>(),
                    workgroup.name
                ),
            ));
        }
    }
    Ok(unique)
}

async fn audit(state: &AdminState, caller: &Caller, action: &str, rule: &AlarmRule, api: &Api) {
    let detail = serde_json::json!({
        "api": api.name,
        "metric": rule.metric.as_str(),
        "env": rule.env.as_str(),
        "windowSecs": rule.window_secs,
        "threshold": rule.threshold,
        "forSecs": rule.for_secs,
        "receivers": rule.receivers,
        "enabled": rule.enabled,
    });
    record(state, caller, Some(rule.workgroup_id), action, format!("alarm:{}", rule.id), detail).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(calls: u64, succeeded: u64, throttled: u64, p99: Option<f64>) -> Totals {
        Totals { calls, succeeded, throttled, p99_ms: p99, ..Totals::default() }
    }

    /// Runs the state machine over one observation per minute, applying each move as the
    /// store would; the events, with the minute they happened in.
    fn run(
        metric: AlarmMetric,
        threshold: f64,
        for_secs: i64,
        series: &[Totals],
    ) -> (Vec<(usize, AlarmEventKind)>, Standing) {
        let mut standing = Standing { state: AlarmState::Ok, since: 0, clear_since: None };
        let mut events = Vec::new();
        for (minute, t) in series.iter().enumerate() {
            let now = (minute as i64 + 1) * 60_000;
            if let Some(moved) = step(1, standing, for_secs, observe(metric, threshold, t), now) {
                assert_eq!((moved.from, moved.from_since), (standing.state, standing.since));
                standing = Standing { state: moved.to, since: moved.to_since, clear_since: moved.clear_since };
                if let Some((kind, _)) = moved.event {
                    events.push((minute, kind));
                }
            }
        }
        (events, standing)
    }

    #[test]
    fn error_rate_counts_every_answer_that_is_no_success() {
        let o = observe(AlarmMetric::ErrorRate, 0.1, &totals(100, 70, 5, None));
        assert!((o.value - 0.3).abs() < 1e-9 && o.breached && !o.cleared);
        let none = observe(AlarmMetric::ErrorRate, 0.1, &totals(0, 0, 0, None));
        assert_eq!(none.value, 0.0);
        assert!(!none.breached && none.cleared);
        let p99 = observe(AlarmMetric::P99Ms, 500.0, &totals(10, 10, 0, Some(800.0)));
        assert!(p99.breached && p99.value == 800.0);
        assert!(observe(AlarmMetric::Throttled, 3.0, &totals(10, 6, 4, None)).breached);
    }

    #[test]
    fn fires_once_after_for_secs_and_resolves_once_after_the_clear_holds() {
        let bad = totals(100, 50, 0, None);
        let good = totals(100, 100, 0, None);
        // Two minutes of holding: breached at minutes 1..=5, clear from 6.
        let series = [
            good.clone(),
            bad.clone(),
            bad.clone(),
            bad.clone(),
            bad.clone(),
            bad,
            good.clone(),
            good.clone(),
            good.clone(),
            good,
        ];
        let (events, standing) = run(AlarmMetric::ErrorRate, 0.1, 120, &series);
        assert_eq!(events, vec![(3, AlarmEventKind::Fired), (8, AlarmEventKind::Resolved)]);
        assert_eq!(standing.state, AlarmState::Ok);
    }

    #[test]
    fn zero_for_secs_fires_and_resolves_at_once() {
        let series = [totals(10, 0, 0, None), totals(10, 0, 0, None), totals(10, 10, 0, None)];
        let (events, _) = run(AlarmMetric::ErrorRate, 0.5, 0, &series);
        assert_eq!(events, vec![(0, AlarmEventKind::Fired), (2, AlarmEventKind::Resolved)]);
    }

    #[test]
    fn a_short_burst_stays_pending_and_goes_back_to_ok() {
        let series = [totals(10, 0, 0, None), totals(10, 10, 0, None), totals(10, 0, 0, None), totals(10, 10, 0, None)];
        let (events, standing) = run(AlarmMetric::ErrorRate, 0.5, 120, &series);
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(standing.state, AlarmState::Ok);
    }

    #[test]
    fn the_hysteresis_band_does_not_flap() {
        // p99 threshold 1000 ms: clear at 800 or less. Values between stay where they are.
        let p = |ms: f64| totals(10, 10, 0, Some(ms));
        let series = [p(1200.0), p(900.0), p(1100.0), p(950.0), p(850.0), p(1001.0), p(700.0)];
        let (events, standing) = run(AlarmMetric::P99Ms, 1000.0, 0, &series);
        assert_eq!(events, vec![(0, AlarmEventKind::Fired), (6, AlarmEventKind::Resolved)]);
        assert_eq!(standing.state, AlarmState::Ok);
    }

    #[test]
    fn a_clear_interrupted_starts_over() {
        let p = |ms: f64| totals(10, 10, 0, Some(ms));
        // for 120 s: clear at minutes 1 and 2, above the clear line at 3, clear 4, 5, 6.
        let series = [p(2000.0), p(100.0), p(100.0), p(900.0), p(100.0), p(100.0), p(100.0)];
        let (events, _) = run(AlarmMetric::P99Ms, 1000.0, 120, &series);
        // Pending at 0; at 1 the value is under the threshold again, so it falls back to ok.
        assert!(events.is_empty(), "{events:?}");
        let series = [p(2000.0), p(2000.0), p(2000.0), p(100.0), p(100.0), p(900.0), p(100.0), p(100.0), p(100.0)];
        let (events, standing) = run(AlarmMetric::P99Ms, 1000.0, 120, &series);
        assert_eq!(events, vec![(2, AlarmEventKind::Fired), (8, AlarmEventKind::Resolved)]);
        assert_eq!(standing.clear_since, None);
    }

    #[test]
    fn no_calls_fires_on_silence_and_resolves_on_a_call() {
        let (quiet, busy) = (totals(0, 0, 0, None), totals(1, 1, 0, None));
        let series = [totals(3, 3, 0, None), quiet.clone(), quiet, busy.clone(), busy];
        let (events, standing) = run(AlarmMetric::NoCalls, 0.0, 60, &series);
        // Silent from minute 1, for a minute by 2; calls again from 3, for a minute by 4.
        assert_eq!(events, vec![(2, AlarmEventKind::Fired), (4, AlarmEventKind::Resolved)]);
        assert_eq!(standing.state, AlarmState::Ok);
    }

    #[test]
    fn a_stale_read_carries_the_state_it_saw() {
        let standing = Standing { state: AlarmState::Pending, since: 1_000, clear_since: None };
        let moved = step(9, standing, 0, observe(AlarmMetric::Throttled, 0.0, &totals(5, 4, 1, None)), 5_000).unwrap();
        assert_eq!((moved.from, moved.from_since, moved.to), (AlarmState::Pending, 1_000, AlarmState::Firing));
        assert_eq!(moved.event, Some((AlarmEventKind::Fired, 1.0)));
    }

    #[test]
    fn windows_end_where_the_current_minute_begins() {
        let w = window_at(300, 10 * 60_000 + 12_345);
        assert_eq!((w.from_ms, w.to_ms), (5 * 60_000, 10 * 60_000));
    }
}
