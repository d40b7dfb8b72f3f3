//! Alarms (issue 19, part 4): rules per API over the call rollups ([`AlarmRule`]), the
//! workgroup's template of rules new APIs get ([`AlarmTemplate`]) and the history of alarms
//! fired and resolved ([`AlarmEvent`]), which is also what the `alarm.fired` and
//! `alarm.resolved` notifications say ([`AlarmEvent::notification`]).
//!
//! Nothing here evaluates: the admin service's evaluator measures each rule and moves its
//! [`AlarmState`] through the store's conditional updates (`Store::transition_alarm`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Environment, Notification, NotificationEvent};

/// What a rule measures over its window of calls to one API in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum AlarmMetric {
    /// The share of calls not answered with success (`1 - succeeded / calls`; 0 without
    /// calls), from 0 to 1.
    #[serde(rename = "errorRate")]
    ErrorRate,
    /// The 99th percentile of latency, in milliseconds (0 without calls).
    #[serde(rename = "p99Ms")]
    P99Ms,
    /// The number of calls answered 429.
    #[serde(rename = "throttled")]
    Throttled,
    /// No call at all in the window (the threshold is not used).
    #[serde(rename = "noCalls")]
    NoCalls,
}

impl AlarmMetric {
    pub const ALL: [AlarmMetric; 4] =
        [AlarmMetric::ErrorRate, AlarmMetric::P99Ms, AlarmMetric::Throttled, AlarmMetric::NoCalls];

    pub fn as_str(self) -> &'static str {
        match self {
            AlarmMetric::ErrorRate => "errorRate",
            AlarmMetric::P99Ms => "p99Ms",
            AlarmMetric::Throttled => "throttled",
            AlarmMetric::NoCalls => "noCalls",
        }
    }

    /// `value` as people read it: `12.5%`, `830 ms`, `14 calls`.
    pub fn show(self, value: f64) -> String {
        match self {
            AlarmMetric::ErrorRate => format!("{:.1}%", value * 100.0),
            AlarmMetric::P99Ms => format!("{value:.0} ms"),
            AlarmMetric::Throttled | AlarmMetric::NoCalls => format!("{value:.0} calls"),
        }
    }
}

impl fmt::Display for AlarmMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlarmMetric {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AlarmMetric::ALL.iter().copied().find(|m| m.as_str() == s).ok_or_else(|| {
            format!(
                "unknown metric `{}`: expected errorRate, p99Ms, throttled or noCalls",
                s.chars().take(64).collect::<String>()
            )
        })
    }
}

/// Where a rule stands: `ok`, `pending` (the condition holds, not yet for `forSecs`) or
/// `firing` (fired, not resolved yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum AlarmState {
    #[default]
    Ok,
    Pending,
    Firing,
}

impl AlarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "ok",
            AlarmState::Pending => "pending",
            AlarmState::Firing => "firing",
        }
    }
}

impl FromStr for AlarmState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ok" => Ok(AlarmState::Ok),
            "pending" => Ok(AlarmState::Pending),
            "firing" => Ok(AlarmState::Firing),
            other => Err(format!("unknown alarm state `{other}`")),
        }
    }
}

/// A rule without its API: what a template holds and what a rule is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlarmRuleSpec {
    pub metric: AlarmMetric,
    /// `prod` (default) or `test`: whose calls are measured.
    #[serde(default)]
    pub env: Environment,
    /// The window measured, in seconds: whole minutes from 60 to 86400.
    pub window_secs: i64,
    /// The value above which the rule is breached (errorRate: 0 to 1); unused by `noCalls`
    /// (default 0).
    #[serde(default)]
    pub threshold: f64,
    /// How long the condition must hold before the alarm fires, and the clear condition
    /// before it resolves: 0 to 86400 seconds, 0 at once.
    #[serde(default)]
    pub for_secs: i64,
}

/// An alarm rule of one API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlarmRule {
    pub id: i64,
    pub workgroup_id: i64,
    pub api_id: i64,
    pub metric: AlarmMetric,
    pub env: Environment,
    pub window_secs: i64,
    pub threshold: f64,
    pub for_secs: i64,
    /// User names, members of the API's workgroup, named in the notifications.
    pub receivers: Vec<String>,
    pub enabled: bool,
    /// Written by the evaluator only.
    pub state: AlarmState,
    /// Since when (milliseconds since the Unix epoch) the rule is in its state.
    pub state_since: i64,
    /// While firing: since when the clear condition holds.
    pub clear_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: String,
    pub updated_by: String,
}

impl AlarmRule {
    /// A new enabled rule of API `api_id` in `workgroup_id`, state `ok`.
    pub fn new(workgroup_id: i64, api_id: i64, spec: &AlarmRuleSpec, receivers: Vec<String>) -> AlarmRule {
        AlarmRule {
            id: 0,
            workgroup_id,
            api_id,
            metric: spec.metric,
            env: spec.env,
            window_secs: spec.window_secs,
            threshold: spec.threshold,
            for_secs: spec.for_secs,
            receivers,
            enabled: true,
            state: AlarmState::Ok,
            state_since: 0,
            clear_since: None,
            created_at: 0,
            updated_at: 0,
            created_by: String::new(),
            updated_by: String::new(),
        }
    }

    pub fn spec(&self) -> AlarmRuleSpec {
        AlarmRuleSpec {
            metric: self.metric,
            env: self.env,
            window_secs: self.window_secs,
            threshold: self.threshold,
            for_secs: self.for_secs,
        }
    }
}

/// A workgroup's alarm template: when enabled, every API created in the workgroup gets one
/// rule per spec, its owner as the receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct AlarmTemplate {
    pub enabled: bool,
    pub rules: Vec<AlarmRuleSpec>,
    /// 0 and `""` while the workgroup never saved one.
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default)]
    pub updated_by: String,
}

/// Whether an alarm fired or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlarmEventKind {
    Fired,
    Resolved,
}

impl AlarmEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmEventKind::Fired => "fired",
            AlarmEventKind::Resolved => "resolved",
        }
    }
}

impl FromStr for AlarmEventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fired" => Ok(AlarmEventKind::Fired),
            "resolved" => Ok(AlarmEventKind::Resolved),
            other => Err(format!("unknown alarm event kind `{other}`")),
        }
    }
}

/// One alarm fired or resolved, as the history keeps it (after its rule or API is deleted,
/// too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlarmEvent {
    pub id: i64,
    pub workgroup_id: i64,
    pub rule_id: i64,
    pub api_id: i64,
    /// The API's name when it happened.
    pub api_name: String,
    pub kind: AlarmEventKind,
    pub metric: AlarmMetric,
    pub env: Environment,
    /// The value measured over the window when it happened.
    pub value: f64,
    pub threshold: f64,
    pub receivers: Vec<String>,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
}

impl AlarmEvent {
    /// The `alarm.fired` or `alarm.resolved` notification of the event, for the workgroup's
    /// channels.
    pub fn notification(&self, window_secs: i64) -> Notification {
        let (event, verb, relation) = match self.kind {
            AlarmEventKind::Fired => (NotificationEvent::AlarmFired, "fired", "above"),
            AlarmEventKind::Resolved => (NotificationEvent::AlarmResolved, "resolved", "back under"),
        };
        let measured = match self.metric {
            AlarmMetric::NoCalls if self.kind == AlarmEventKind::Fired => {
                format!("no calls in {}", minutes(window_secs))
            }
            AlarmMetric::NoCalls => format!("{} in {}", self.metric.show(self.value), minutes(window_secs)),
            metric => format!(
                "{metric} {} over {}, {relation} the threshold {}",
                metric.show(self.value),
                minutes(window_secs),
                metric.show(self.threshold)
            ),
        };
        let receivers = if self.receivers.is_empty() { "nobody".to_owned() } else { self.receivers.join(", ") };
        let at = chrono::DateTime::from_timestamp_millis(self.at)
            .map_or_else(|| self.at.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string());
        Notification {
            event,
            workgroup_id: self.workgroup_id,
            title: format!("Alarm {verb}: API `{}` ({}) {}", self.api_name, self.env, self.metric),
            text: format!("{measured}.\nRule {}; receivers: {receivers}; at {at}.", self.rule_id),
            detail: serde_json::json!({
                "ruleId": self.rule_id,
                "apiId": self.api_id,
                "apiName": self.api_name,
                "kind": self.kind.as_str(),
                "metric": self.metric.as_str(),
                "env": self.env.as_str(),
                "value": self.value,
                "threshold": self.threshold,
                "windowSecs": window_secs,
                "receivers": self.receivers,
                "at": self.at,
            }),
        }
    }
}

/// `5 min`, `90 s`.
fn minutes(secs: i64) -> String {
    if secs % 60 == 0 { format!("{} min", secs / 60) } else { format!("{secs} s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_written_in_camel_case() {
        for metric in AlarmMetric::ALL {
            let json = serde_json::to_string(&metric).unwrap();
            assert_eq!(json, format!("\"{}\"", metric.as_str()));
            assert_eq!(metric.as_str().parse::<AlarmMetric>().unwrap(), metric);
        }
        assert!("p99".parse::<AlarmMetric>().unwrap_err().contains("errorRate"));
    }

    #[test]
    fn the_notification_names_api_rule_value_threshold_and_receivers() {
        let event = AlarmEvent {
            id: 1,
            workgroup_id: 2,
            rule_id: 3,
            api_id: 4,
            api_name: "orders".into(),
            kind: AlarmEventKind::Fired,
            metric: AlarmMetric::ErrorRate,
            env: Environment::Prod,
            value: 0.35,
            threshold: 0.1,
            receivers: vec!["ana".into()],
            at: 1_765_000_000_000,
        };
        let n = event.notification(300);
        assert_eq!(n.event, NotificationEvent::AlarmFired);
        assert!(n.title.contains("orders") && n.title.contains("errorRate"), "{}", n.title);
        assert!(n.text.contains("35.0%") && n.text.contains("10.0%") && n.text.contains("ana"), "{}", n.text);
        assert_eq!(n.detail["ruleId"], 3);
        assert_eq!(n.detail["threshold"], 0.1);
        let resolved = AlarmEvent { kind: AlarmEventKind::Resolved, value: 0.01, ..event };
        assert_eq!(resolved.notification(300).event, NotificationEvent::AlarmResolved);
    }
}
