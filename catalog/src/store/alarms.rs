//! Alarms (issue 19, part 4): rules per API, each workgroup's alarm template, and the history
//! of alarms fired and resolved.
//!
//! Rule and template writes bump the [revision](Store::revision) like every configuration
//! change. The evaluator's state changes ([`Store::transition_alarm`]) are bookkeeping, like
//! webhook deliveries, and leave it alone. Each is one conditional update — `WHERE state = <the
//! state read> AND state_since = <its since>` — so of several admin nodes evaluating the same
//! rule exactly one moves it; the one that fires (or resolves) writes the event and enqueues
//! the notification in the same transaction, so an alarm fires once and resolves once.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::webhooks::enqueue;
use super::{Store, StoreError, bump_revision, flag, from_json, is_foreign_key_violation, now_millis, to_json};
use crate::model::{
    AlarmEvent, AlarmEventKind, AlarmMetric, AlarmRule, AlarmRuleSpec, AlarmState, AlarmTemplate, Environment,
};

/// The most events one page lists.
pub const MAX_ALARM_EVENT_PAGE: u32 = 200;
/// The most rules an API (or a template) holds.
const MAX_RULES: usize = 50;
/// The most receivers of a rule.
const MAX_RECEIVERS: usize = 20;

macro_rules! rule_columns {
    () => {
        "id, workgroup_id, api_id, metric, environment, window_secs, threshold, for_secs, receivers_json, enabled, \
         state, state_since, clear_since, created_at, updated_at, created_by, updated_by"
    };
}

macro_rules! event_columns {
    () => {
        "id, workgroup_id, rule_id, api_id, api_name, kind, metric, environment, value, threshold, receivers_json, at"
    };
}

/// A move of a rule's state the evaluator decided from the state it read (`from`,
/// `from_since`). Applied only if the rule is still there, enabled and in that state.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmTransition {
    pub rule_id: i64,
    pub from: AlarmState,
    pub from_since: i64,
    pub to: AlarmState,
    pub to_since: i64,
    pub clear_since: Option<i64>,
    /// `Some` when the alarm fires or resolves: what happened and the value measured.
    pub event: Option<(AlarmEventKind, f64)>,
    /// When it happened (milliseconds since the Unix epoch).
    pub at: i64,
}

/// A page of a workgroup's alarm history, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmEventQuery {
    pub workgroup_id: i64,
    pub api_id: Option<i64>,
    /// 1 to [`MAX_ALARM_EVENT_PAGE`].
    pub limit: u32,
    pub offset: u64,
}

impl Store {
    /// Adds a rule to its API, state `ok`. `Invalid` for a rule out of bounds (see
    /// [`check_spec`]) or the API's 51st; `NotFound` for a missing API or one of another
    /// workgroup.
    pub async fn create_alarm_rule(&self, rule: &AlarmRule, by: &str) -> Result<AlarmRule, StoreError> {
        check_spec(&rule.spec())?;
        check_receivers(&rule.receivers)?;
        let mut tx = self.pool.begin().await?;
        super::apis::lock_api(&mut tx, rule.api_id).await?;
        let created = insert_rule(&mut tx, rule, by).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// One rule.
    pub async fn alarm_rule(&self, id: i64) -> Result<AlarmRule, StoreError> {
        let row = sqlx::query(concat!("SELECT ", rule_columns!(), " FROM alarm_rules WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("alarm rule", id))?;
        rule_from_row(&row)
    }

    /// The API's rules, oldest first.
    pub async fn alarm_rules(&self, api_id: i64) -> Result<Vec<AlarmRule>, StoreError> {
        sqlx::query(concat!("SELECT ", rule_columns!(), " FROM alarm_rules WHERE api_id = $1 ORDER BY id"))
            .bind(api_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rule_from_row)
            .collect()
    }

    /// Every enabled rule with its API's name, for the evaluator.
    pub async fn enabled_alarm_rules(&self) -> Result<Vec<(AlarmRule, String)>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT a.name AS api_name, r.",
            "id, r.workgroup_id, r.api_id, r.metric, r.environment, r.window_secs, r.threshold, r.for_secs, \
             r.receivers_json, r.enabled, r.state, r.state_since, r.clear_since, r.created_at, r.updated_at, \
             r.created_by, r.updated_by \
             FROM alarm_rules r JOIN apis a ON a.id = r.api_id WHERE r.enabled = 1 ORDER BY r.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((rule_from_row(row)?, row.try_get("api_name")?))).collect()
    }

    /// Replaces the rule's metric, environment, window, threshold, duration, receivers and
    /// `enabled`. Its state stays, so a firing alarm resolves under the new settings; a rule
    /// disabled goes back to `ok` without an event (nothing evaluates it any more).
    pub async fn update_alarm_rule(&self, rule: &AlarmRule, by: &str) -> Result<AlarmRule, StoreError> {
        check_spec(&rule.spec())?;
        check_receivers(&rule.receivers)?;
        let now = now_millis();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "UPDATE alarm_rules SET metric = $2, environment = $3, window_secs = $4, threshold = $5, for_secs = $6, \
             receivers_json = $7, enabled = $8, updated_at = $9, updated_by = $10, \
             state = CASE WHEN $8 = 0 THEN 'ok' ELSE state END, \
             state_since = CASE WHEN $8 = 0 AND state <> 'ok' THEN $9 ELSE state_since END, \
             clear_since = CASE WHEN $8 = 0 THEN NULL ELSE clear_since END \
             WHERE id = $1 RETURNING ",
            rule_columns!()
        ))
        .bind(rule.id)
        .bind(rule.metric.as_str())
        .bind(rule.env.as_str())
        .bind(rule.window_secs)
        .bind(rule.threshold)
        .bind(rule.for_secs)
        .bind(to_json("alarm receivers", &rule.receivers)?)
        .bind(i64::from(rule.enabled))
        .bind(now)
        .bind(by)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("alarm rule", rule.id))?;
        let updated = rule_from_row(&row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Deletes a rule; its history stays.
    pub async fn delete_alarm_rule(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM alarm_rules WHERE id = $1").bind(id).execute(&mut *tx).await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::not_found("alarm rule", id));
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies `t` if the rule is still enabled and in the state the evaluator read; `false`
    /// when it is not (another node moved it first, it was disabled or deleted). A fire or a
    /// resolve also appends the event to the history and enqueues the `alarm.fired` or
    /// `alarm.resolved` notification for the workgroup's channels, in the same transaction.
    pub async fn transition_alarm(&self, t: &AlarmTransition) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "UPDATE alarm_rules SET state = $4, state_since = $5, clear_since = $6 \
             WHERE id = $1 AND state = $2 AND state_since = $3 AND enabled = 1 RETURNING ",
            rule_columns!()
        ))
        .bind(t.rule_id)
        .bind(t.from.as_str())
        .bind(t.from_since)
        .bind(t.to.as_str())
        .bind(t.to_since)
        .bind(t.clear_since)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        if let Some((kind, value)) = t.event {
            let rule = rule_from_row(&row)?;
            let api_name: String = sqlx::query("SELECT name FROM apis WHERE id = $1")
                .bind(rule.api_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.try_get("name"))
                .transpose()?
                .unwrap_or_default();
            let inserted = sqlx::query(concat!(
                "INSERT INTO alarm_events (workgroup_id, rule_id, api_id, api_name, kind, metric, environment, \
                 value, threshold, receivers_json, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 RETURNING ",
                event_columns!()
            ))
            .bind(rule.workgroup_id)
            .bind(rule.id)
            .bind(rule.api_id)
            .bind(&api_name)
            .bind(kind.as_str())
            .bind(rule.metric.as_str())
            .bind(rule.env.as_str())
            .bind(value)
            .bind(rule.threshold)
            .bind(to_json("alarm receivers", &rule.receivers)?)
            .bind(t.at)
            .fetch_one(&mut *tx)
            .await?;
            let event = event_from_row(&inserted)?;
            enqueue(&mut tx, &event.notification(rule.window_secs), None).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A page of the workgroup's alarm history (one API's when `api_id` is set), newest
    /// first, with how many events there are in all.
    pub async fn alarm_events(&self, q: &AlarmEventQuery) -> Result<(Vec<AlarmEvent>, u64), StoreError> {
        let limit = q.limit.clamp(1, MAX_ALARM_EVENT_PAGE);
        let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
        let api = q.api_id.unwrap_or(0);
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM alarm_events WHERE workgroup_id = $1 AND ($2 = 0 OR api_id = $2) \
             ORDER BY id DESC LIMIT $3 OFFSET $4"
        ))
        .bind(q.workgroup_id)
        .bind(api)
        .bind(i64::from(limit))
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM alarm_events WHERE workgroup_id = $1 AND ($2 = 0 OR api_id = $2)")
                .bind(q.workgroup_id)
                .bind(api)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
        let events = rows.iter().map(event_from_row).collect::<Result<_, _>>()?;
        Ok((events, u64::try_from(total).unwrap_or(0)))
    }

    /// The workgroup's template; disabled and empty when it never saved one.
    pub async fn alarm_template(&self, workgroup_id: i64) -> Result<AlarmTemplate, StoreError> {
        let row = sqlx::query(
            "SELECT enabled, rules_json, updated_at, updated_by FROM alarm_templates WHERE workgroup_id = $1",
        )
        .bind(workgroup_id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(AlarmTemplate::default()),
            Some(row) => template_from_row(workgroup_id, &row),
        }
    }

    /// Replaces the workgroup's template. `Invalid` for a rule out of bounds or more than 50;
    /// `NotFound` for a missing workgroup.
    pub async fn set_alarm_template(
        &self,
        workgroup_id: i64,
        template: &AlarmTemplate,
        by: &str,
    ) -> Result<AlarmTemplate, StoreError> {
        if template.rules.len() > MAX_RULES {
            return Err(StoreError::Invalid(format!("a template holds at most {MAX_RULES} rules")));
        }
        template.rules.iter().try_for_each(check_spec)?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO alarm_templates (workgroup_id, enabled, rules_json, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workgroup_id) DO UPDATE SET enabled = $2, rules_json = $3, \
             updated_at = $4, updated_by = $5 RETURNING enabled, rules_json, updated_at, updated_by",
        )
        .bind(workgroup_id)
        .bind(i64::from(template.enabled))
        .bind(to_json("alarm template", &template.rules)?)
        .bind(now_millis())
        .bind(by)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) { StoreError::not_found("workgroup", workgroup_id) } else { e.into() }
        })?;
        let saved = template_from_row(workgroup_id, &row)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(saved)
    }

    /// Gives API `api_id` one rule per rule of its workgroup's template, the API's owner as
    /// the receiver (none when it has no owner), when the template is enabled; the rules
    /// added (none when disabled or empty, and then nothing is written).
    pub async fn apply_alarm_template(&self, api_id: i64, by: &str) -> Result<Vec<AlarmRule>, StoreError> {
        let api = sqlx::query("SELECT workgroup_id, owner FROM apis WHERE id = $1")
            .bind(api_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("API", api_id))?;
        let workgroup_id: i64 = api.try_get("workgroup_id")?;
        let owner: String = api.try_get("owner")?;
        let template = self.alarm_template(workgroup_id).await?;
        if !template.enabled || template.rules.is_empty() {
            return Ok(Vec::new());
        }
        let receivers: Vec<String> = if owner.is_empty() { Vec::new() } else { vec![owner] };
        let mut tx = self.pool.begin().await?;
        super::apis::lock_api(&mut tx, api_id).await?;
        let mut added = Vec::with_capacity(template.rules.len());
        for spec in &template.rules {
            let rule = AlarmRule::new(workgroup_id, api_id, spec, receivers.clone());
            added.push(insert_rule(&mut tx, &rule, by).await?);
        }
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(added)
    }
}

/// Inserts `rule` for its API, which the caller has locked: `NotFound` when the API is not
/// the rule's workgroup's, `Invalid` past [`MAX_RULES`].
async fn insert_rule(
    connection: &mut sqlx::AnyConnection,
    rule: &AlarmRule,
    by: &str,
) -> Result<AlarmRule, StoreError> {
    let count: i64 = sqlx::query(
        "SELECT COUNT(r.id) AS n FROM apis a LEFT JOIN alarm_rules r ON r.api_id = a.id \
         WHERE a.id = $1 AND a.workgroup_id = $2 GROUP BY a.id",
    )
    .bind(rule.api_id)
    .bind(rule.workgroup_id)
    .fetch_optional(&mut *connection)
    .await?
    .ok_or_else(|| StoreError::not_found("API", rule.api_id))?
    .try_get("n")?;
    if count >= MAX_RULES as i64 {
        return Err(StoreError::Invalid(format!("an API has at most {MAX_RULES} alarm rules")));
    }
    let now = now_millis();
    let row = sqlx::query(concat!(
        "INSERT INTO alarm_rules (workgroup_id, api_id, metric, environment, window_secs, threshold, for_secs, \
         receivers_json, enabled, state, state_since, clear_since, created_at, updated_at, created_by, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'ok', $10, NULL, $10, $10, $11, $11) RETURNING ",
        rule_columns!()
    ))
    .bind(rule.workgroup_id)
    .bind(rule.api_id)
    .bind(rule.metric.as_str())
    .bind(rule.env.as_str())
    .bind(rule.window_secs)
    .bind(rule.threshold)
    .bind(rule.for_secs)
    .bind(to_json("alarm receivers", &rule.receivers)?)
    .bind(i64::from(rule.enabled))
    .bind(now)
    .bind(by)
    .fetch_one(&mut *connection)
    .await?;
    rule_from_row(&row)
}

/// The bounds every rule meets (the management API names the field that breaks one): a
/// window of whole minutes from 1 minute to a day, a duration from 0 to a day, a finite
/// threshold of at least 0, at most 1 for the error rate.
pub fn check_spec(spec: &AlarmRuleSpec) -> Result<(), StoreError> {
    if !(60..=86_400).contains(&spec.window_secs) || spec.window_secs % 60 != 0 {
        return Err(StoreError::Invalid("an alarm window is whole minutes from 60 to 86400 seconds".into()));
    }
    if !(0..=86_400).contains(&spec.for_secs) {
        return Err(StoreError::Invalid("an alarm duration is from 0 to 86400 seconds".into()));
    }
    if !spec.threshold.is_finite() || spec.threshold < 0.0 {
        return Err(StoreError::Invalid("an alarm threshold is a number of at least 0".into()));
    }
    if spec.metric == AlarmMetric::ErrorRate && spec.threshold > 1.0 {
        return Err(StoreError::Invalid("an error-rate threshold is from 0 to 1".into()));
    }
    Ok(())
}

fn check_receivers(receivers: &[String]) -> Result<(), StoreError> {
    if receivers.len() > MAX_RECEIVERS {
        return Err(StoreError::Invalid(format!("a rule has at most {MAX_RECEIVERS} receivers")));
    }
    Ok(())
}

fn rule_from_row(row: &AnyRow) -> Result<AlarmRule, StoreError> {
    let id: i64 = row.try_get("id")?;
    Ok(AlarmRule {
        id,
        workgroup_id: row.try_get("workgroup_id")?,
        api_id: row.try_get("api_id")?,
        metric: row.try_get::<String, _>("metric")?.parse().map_err(StoreError::Corrupt)?,
        env: row.try_get::<String, _>("environment")?.parse::<Environment>().map_err(StoreError::Corrupt)?,
        window_secs: row.try_get("window_secs")?,
        threshold: row.try_get("threshold")?,
        for_secs: row.try_get("for_secs")?,
        receivers: from_json(&format!("alarm rule {id} receivers"), &row.try_get::<String, _>("receivers_json")?)?,
        enabled: flag(row, "enabled")?,
        state: row.try_get::<String, _>("state")?.parse().map_err(StoreError::Corrupt)?,
        state_since: row.try_get("state_since")?,
        clear_since: row.try_get("clear_since")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        created_by: row.try_get("created_by")?,
        updated_by: row.try_get("updated_by")?,
    })
}

fn event_from_row(row: &AnyRow) -> Result<AlarmEvent, StoreError> {
    let id: i64 = row.try_get("id")?;
    Ok(AlarmEvent {
        id,
        workgroup_id: row.try_get("workgroup_id")?,
        rule_id: row.try_get("rule_id")?,
        api_id: row.try_get("api_id")?,
        api_name: row.try_get("api_name")?,
        kind: row.try_get::<String, _>("kind")?.parse().map_err(StoreError::Corrupt)?,
        metric: row.try_get::<String, _>("metric")?.parse().map_err(StoreError::Corrupt)?,
        env: row.try_get::<String, _>("environment")?.parse::<Environment>().map_err(StoreError::Corrupt)?,
        value: row.try_get("value")?,
        threshold: row.try_get("threshold")?,
        receivers: from_json(&format!("alarm event {id} receivers"), &row.try_get::<String, _>("receivers_json")?)?,
        at: row.try_get("at")?,
    })
}

fn template_from_row(workgroup_id: i64, row: &AnyRow) -> Result<AlarmTemplate, StoreError> {
    Ok(AlarmTemplate {
        enabled: flag(row, "enabled")?,
        rules: from_json(
            &format!("workgroup {workgroup_id} alarm template"),
            &row.try_get::<String, _>("rules_json")?,
        )?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}
