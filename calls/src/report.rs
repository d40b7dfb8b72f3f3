//! Reports over the call stores: summaries grouped by API, app, code or environment, trends
//! at minute, hour or day resolution (both from the per-minute rollups, never the details),
//! and pages of call details. Every query carries a [`Scope`]: whose calls may be read.

use serde::{Deserialize, Serialize};

/// Whose calls a query may read. The admin API builds it from the caller's rights; a store
/// never widens it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// One workgroup's calls; `None` for every workgroup's (platform admins only).
    pub workgroup_id: Option<i64>,
    /// Only these APIs (an API owner who is not a workgroup viewer); `None` for all.
    pub api_ids: Option<Vec<i64>>,
    /// Only these apps' calls (an app owner); `None` for all.
    pub app_ids: Option<Vec<i64>>,
}

/// A half-open time range `[from_ms, to_ms)` in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// Filters every report takes besides its scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub api_id: Option<i64>,
    pub app_id: Option<i64>,
    /// `prod` or `test`.
    pub env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Api,
    App,
    Code,
    Env,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    Minute,
    Hour,
    Day,
}

impl Resolution {
    pub fn millis(self) -> i64 {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
            Resolution::Day => 86_400_000,
        }
    }
}

/// Counts over a set of calls, and their latency percentiles from the merged sketches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub calls: u64,
    /// Calls answered below 400.
    pub succeeded: u64,
    /// Calls answered 429.
    pub throttled: u64,
    /// Calls answered 5xx.
    pub errors: u64,
    /// `succeeded / calls`; 1 when there were no calls.
    pub success_rate: f64,
    /// Calls per code, every code that occurred (`OK` included).
    pub codes: std::collections::BTreeMap<String, u64>,
    /// Latency percentiles in milliseconds; `None` without calls, or for a group by code.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// One group of a summary: its key (an API or app id, a code, an environment; `""` for
/// anonymous calls or calls no API answered) and its totals.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryRow {
    pub key: String,
    #[serde(flatten)]
    pub totals: Totals,
}

/// One step of a trend: the start of its minute, hour or day, and its totals.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrendPoint {
    pub at_ms: i64,
    #[serde(flatten)]
    pub totals: Totals,
}

/// A search of call details, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetailQuery {
    pub filter: Filter,
    pub request_id: Option<String>,
    pub status: Option<u16>,
    pub code: Option<String>,
    /// At most this many (the admin API caps it).
    pub limit: u32,
    pub offset: u32,
}

/// A page of details and how many match in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailPage {
    pub total: u64,
    pub items: Vec<crate::CallRecord>,
}
