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

/// The columns every CSV export shares, after its first.
const TOTALS_HEADER: [&str; 11] = [
    "calls",
    "succeeded",
    "throttled",
    "errors",
    "successRate",
    "p50Ms",
    "p95Ms",
    "p99Ms",
    "bytesIn",
    "bytesOut",
    "codes",
];

fn totals_fields(totals: &Totals) -> [String; 11] {
    let ms = |value: Option<f64>| value.map(|v| format!("{v:.3}")).unwrap_or_default();
    let codes: Vec<String> = totals.codes.iter().map(|(code, n)| format!("{code}={n}")).collect();
    [
        totals.calls.to_string(),
        totals.succeeded.to_string(),
        totals.throttled.to_string(),
        totals.errors.to_string(),
        format!("{:.4}", totals.success_rate),
        ms(totals.p50_ms),
        ms(totals.p95_ms),
        ms(totals.p99_ms),
        totals.bytes_in.to_string(),
        totals.bytes_out.to_string(),
        safe_text(&codes.join(";")),
    ]
}

/// Text a caller may have chosen, kept from being read as a formula by a spreadsheet.
fn safe_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() }
}

fn csv_of(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let write = || -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(header)?;
        for row in rows {
            writer.write_record(&row)?;
        }
        Ok(writer.into_inner()?)
    };
    match write() {
        Ok(bytes) => String::from_utf8(bytes).unwrap_or_default(),
        Err(error) => {
            // Writing to memory cannot fail.
            tracing::error!(%error, "CSV export");
            String::new()
        }
    }
}

/// A summary as CSV: `key`, then the totals' columns.
pub fn summary_csv(rows: &[SummaryRow]) -> String {
    let header: Vec<&str> = std::iter::once("key").chain(TOTALS_HEADER).collect();
    csv_of(
        &header,
        rows.iter().map(|row| std::iter::once(safe_text(&row.key)).chain(totals_fields(&row.totals)).collect()),
    )
}

/// A trend as CSV: `atMs` (the step's start, ms since the Unix epoch), then the totals'
/// columns.
pub fn trend_csv(points: &[TrendPoint]) -> String {
    let header: Vec<&str> = std::iter::once("atMs").chain(TOTALS_HEADER).collect();
    csv_of(
        &header,
        points
            .iter()
            .map(|point| std::iter::once(point.at_ms.to_string()).chain(totals_fields(&point.totals)).collect()),
    )
}

/// Call details as CSV, one column per field (empty for none).
pub fn details_csv(records: &[crate::CallRecord]) -> String {
    const HEADER: [&str; 17] = [
        "atMs",
        "requestId",
        "traceId",
        "workgroupId",
        "apiId",
        "version",
        "env",
        "appId",
        "client",
        "status",
        "code",
        "latencyUs",
        "backendUs",
        "rows",
        "bytesIn",
        "bytesOut",
        "cacheHit",
    ];
    fn opt<T: ToString>(value: Option<T>) -> String {
        value.map(|v| v.to_string()).unwrap_or_default()
    }
    csv_of(
        &HEADER,
        records.iter().map(|r| {
            vec![
                r.at_ms.to_string(),
                safe_text(&r.request_id),
                safe_text(&r.trace_id),
                opt(r.workgroup_id),
                opt(r.api_id),
                opt(r.version),
                safe_text(&r.env),
                opt(r.app_id),
                safe_text(&r.client),
                r.status.to_string(),
                safe_text(&r.code),
                r.latency_us.to_string(),
                opt(r.backend_us),
                opt(r.rows),
                r.bytes_in.to_string(),
                r.bytes_out.to_string(),
                opt(r.cache_hit),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_text_cannot_become_a_formula() {
        let mut record = crate::CallRecord {
            at_ms: 1,
            request_id: "=HYPERLINK(\"x\")".into(),
            trace_id: "t".into(),
            workgroup_id: None,
            api_id: None,
            version: None,
            env: "prod".into(),
            app_id: None,
            client: "@evil".into(),
            status: 404,
            code: "NotFound".into(),
            latency_us: 5,
            backend_us: None,
            rows: None,
            bytes_in: 0,
            bytes_out: 0,
            cache_hit: Some(false),
        };
        let csv = details_csv(std::slice::from_ref(&record));
        assert_eq!(
            csv.lines().nth(1),
            Some("1,\"'=HYPERLINK(\"\"x\"\")\",t,,,,prod,,'@evil,404,NotFound,5,,,0,0,false")
        );
        record.request_id = "plain".into();
        assert!(details_csv(&[record]).contains("\n1,plain,"));
        let row = SummaryRow { key: "-1".into(), totals: Totals { success_rate: 1.0, ..Totals::default() } };
        assert_eq!(summary_csv(&[row]).lines().nth(1), Some("'-1,0,0,0,0,1.0000,,,,0,0,"));
    }
}
