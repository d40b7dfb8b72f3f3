//! Service reports (服务报表, issue 19 part 3): what the edge answered, from the call store.
//!
//! ```text
//!  /workgroups/{workgroup}/reports/summary           the workgroup's APIs' calls   (viewer)
//!  /workgroups/{workgroup}/reports/trend
//!  /workgroups/{workgroup}/reports/calls             call details, a page, newest first
//!  /workgroups/{workgroup}/apps/{id}/reports/…       the app's calls, to any API   (viewer of the app's)
//!  /platform/reports/…                               every workgroup's             (platform admin)
//! ```
//!
//! Every route takes `from` and `to` (milliseconds since the epoch or RFC 3339; default the
//! last hour), `apiId`, `appId`, `env`, and `format=csv` for a CSV file instead of the
//! envelope. Summaries take `groupBy` (`api`, `app`, `code`, `env`); trends `resolution`
//! (`minute`, `hour`, `day`; by default the finest that gives at most 1440 points); details
//! `requestId`, `status`, `code`, `pageNum` and `pageSize`. Summaries and trends read the
//! per-minute rollups, so their window is whole minutes. The scope is fixed by the route, never
//! by a parameter: a workgroup's reports hold its APIs' calls, an app's its own calls.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use calls::CallRecord;
use calls::report::{DetailQuery, Filter, GroupBy, Resolution, Scope, SummaryRow, TrendPoint, Window};
use calls::store::CallStore;
use catalog::model::WorkgroupRole;
use catalog::store::StoreError;
use errors::ErrorCode;

use super::AdminState;
use super::access::{Access, Caller, Routes};
use super::datasources::path_id;
use super::reply::{AdminError, Page, Reply};

/// The longest window a report reads: the rollups' longest retention.
const MAX_WINDOW_MS: i64 = 3650 * 86_400_000;
/// The most points a trend answers.
const MAX_POINTS: i64 = 10_080;
/// The default window: the last hour.
const DEFAULT_WINDOW_MS: i64 = 3_600_000;
/// The largest page of details.
const MAX_PAGE: u64 = 500;

/// Registers the reports of workgroups, apps and the platform.
pub fn register(routes: Routes) -> Routes {
    use WorkgroupRole::Viewer;
    let viewer = Access::Workgroup(Viewer);
    routes
        .add(Method::GET, "/workgroups/{workgroup}/reports/summary", viewer, get(workgroup_summary))
        .answers_list::<SummaryRow>()
        .add(Method::GET, "/workgroups/{workgroup}/reports/trend", viewer, get(workgroup_trend))
        .answers_list::<TrendPoint>()
        .add(Method::GET, "/workgroups/{workgroup}/reports/calls", viewer, get(workgroup_calls))
        .answers_page::<CallRecord>()
        .add(Method::GET, "/workgroups/{workgroup}/apps/{id}/reports/summary", viewer, get(app_summary))
        .answers_list::<SummaryRow>()
        .add(Method::GET, "/workgroups/{workgroup}/apps/{id}/reports/trend", viewer, get(app_trend))
        .answers_list::<TrendPoint>()
        .add(Method::GET, "/workgroups/{workgroup}/apps/{id}/reports/calls", viewer, get(app_calls))
        .answers_page::<CallRecord>()
        .add(Method::GET, "/platform/reports/summary", Access::PlatformAdmin, get(platform_summary))
        .answers_list::<SummaryRow>()
        .add(Method::GET, "/platform/reports/trend", Access::PlatformAdmin, get(platform_trend))
        .answers_list::<TrendPoint>()
        .add(Method::GET, "/platform/reports/calls", Access::PlatformAdmin, get(platform_calls))
        .answers_page::<CallRecord>()
}

type Params = Query<HashMap<String, String>>;

async fn workgroup_summary(caller: Extension<Arc<Caller>>, state: State<AdminState>, q: Params) -> Response {
    answer(summary(&state, workgroup_scope(&caller), &q).await)
}

async fn workgroup_trend(caller: Extension<Arc<Caller>>, state: State<AdminState>, q: Params) -> Response {
    answer(trend(&state, workgroup_scope(&caller), &q).await)
}

async fn workgroup_calls(caller: Extension<Arc<Caller>>, state: State<AdminState>, q: Params) -> Response {
    answer(details(&state, workgroup_scope(&caller), &q).await)
}

async fn app_summary(
    caller: Extension<Arc<Caller>>,
    state: State<AdminState>,
    Path((_, app)): Path<(String, String)>,
    q: Params,
) -> Response {
    answer(summary(&state, app_scope(&caller, &state, &app).await, &q).await)
}

async fn app_trend(
    caller: Extension<Arc<Caller>>,
    state: State<AdminState>,
    Path((_, app)): Path<(String, String)>,
    q: Params,
) -> Response {
    answer(trend(&state, app_scope(&caller, &state, &app).await, &q).await)
}

async fn app_calls(
    caller: Extension<Arc<Caller>>,
    state: State<AdminState>,
    Path((_, app)): Path<(String, String)>,
    q: Params,
) -> Response {
    answer(details(&state, app_scope(&caller, &state, &app).await, &q).await)
}

async fn platform_summary(state: State<AdminState>, q: Params) -> Response {
    answer(summary(&state, platform_scope(&q), &q).await)
}

async fn platform_trend(state: State<AdminState>, q: Params) -> Response {
    answer(trend(&state, platform_scope(&q), &q).await)
}

async fn platform_calls(state: State<AdminState>, q: Params) -> Response {
    answer(details(&state, platform_scope(&q), &q).await)
}

/// A workgroup's reports: its APIs' calls, whoever made them.
fn workgroup_scope(caller: &Caller) -> Result<Scope, AdminError> {
    Ok(Scope { workgroup_id: Some(caller.workgroup()?.id), ..Scope::default() })
}

/// An app's reports: its own calls, to whichever workgroup's APIs. Another workgroup's app
/// answers 404 like a missing one.
async fn app_scope(caller: &Caller, state: &AdminState, app: &str) -> Result<Scope, AdminError> {
    let workgroup = caller.workgroup()?;
    let id = path_id("app", app)?;
    match state.store.app(id).await {
        Ok(app) if app.workgroup_id == workgroup.id => {
            Ok(Scope { workgroup_id: None, api_ids: None, app_ids: Some(vec![app.id]) })
        }
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(AdminError::not_found("app", id)),
        Err(e) => Err(e.into()),
    }
}

/// The platform's reports: every workgroup's, or one named by `workgroupId`.
fn platform_scope(q: &HashMap<String, String>) -> Result<Scope, AdminError> {
    Ok(Scope { workgroup_id: number(q, "workgroupId")?, ..Scope::default() })
}

/// What a report answers: the envelope, or a CSV file.
enum Report {
    Json(Response),
    Csv { name: &'static str, text: String },
}

fn answer(report: Result<Report, AdminError>) -> Response {
    match report {
        Ok(Report::Json(response)) => response,
        Ok(Report::Csv { name, text }) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")),
            ],
            text,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn summary(
    state: &AdminState,
    scope: Result<Scope, AdminError>,
    q: &HashMap<String, String>,
) -> Result<Report, AdminError> {
    let (scope, store) = (scope?, call_store(state)?);
    let (window, filter, csv) = (window(q)?, filter(q)?, wants_csv(q)?);
    let group = match q.get("groupBy").map(String::as_str) {
        None | Some("api") => GroupBy::Api,
        Some("app") => GroupBy::App,
        Some("code") => GroupBy::Code,
        Some("env") => GroupBy::Env,
        Some(_) => return Err(AdminError::invalid("groupBy", "group by api, app, code or env")),
    };
    let rows = store.summary(&scope, window, &filter, group).await.map_err(store_error)?;
    Ok(if csv {
        Report::Csv { name: "summary", text: calls::report::summary_csv(&rows) }
    } else {
        Report::Json(Reply::ok(rows).into_response())
    })
}

async fn trend(
    state: &AdminState,
    scope: Result<Scope, AdminError>,
    q: &HashMap<String, String>,
) -> Result<Report, AdminError> {
    let (scope, store) = (scope?, call_store(state)?);
    let (window, filter, csv) = (window(q)?, filter(q)?, wants_csv(q)?);
    let span = window.to_ms - window.from_ms;
    let resolution = match q.get("resolution").map(String::as_str) {
        None => [Resolution::Minute, Resolution::Hour, Resolution::Day]
            .into_iter()
            .find(|r| span / r.millis() <= 1440)
            .unwrap_or(Resolution::Day),
        Some("minute") => Resolution::Minute,
        Some("hour") => Resolution::Hour,
        Some("day") => Resolution::Day,
        Some(_) => return Err(AdminError::invalid("resolution", "use minute, hour or day")),
    };
    if span / resolution.millis() > MAX_POINTS {
        return Err(AdminError::invalid(
            "resolution",
            format!("the window holds more than {MAX_POINTS} points at this resolution; use a coarser one"),
        ));
    }
    let points = store.trend(&scope, window, &filter, resolution).await.map_err(store_error)?;
    Ok(if csv {
        Report::Csv { name: "trend", text: calls::report::trend_csv(&points) }
    } else {
        Report::Json(Reply::ok(points).into_response())
    })
}

async fn details(
    state: &AdminState,
    scope: Result<Scope, AdminError>,
    q: &HashMap<String, String>,
) -> Result<Report, AdminError> {
    let (scope, store) = (scope?, call_store(state)?);
    let (window, filter, csv) = (window(q)?, filter(q)?, wants_csv(q)?);
    let page_num = number::<u64>(q, "pageNum")?.unwrap_or(1);
    let page_size = number::<u64>(q, "pageSize")?.unwrap_or(20);
    if page_num == 0 {
        return Err(AdminError::invalid("pageNum", "pages count from 1"));
    }
    if !(1..=MAX_PAGE).contains(&page_size) {
        return Err(AdminError::invalid("pageSize", format!("use a page size from 1 to {MAX_PAGE}")));
    }
    let offset = (page_num - 1).saturating_mul(page_size);
    let query = DetailQuery {
        filter,
        request_id: q.get("requestId").cloned().filter(|r| !r.is_empty()),
        status: number(q, "status")?,
        code: q.get("code").cloned().filter(|c| !c.is_empty()),
        limit: page_size as u32,
        offset: u32::try_from(offset).map_err(|_| AdminError::invalid("pageNum", "the page is past the end"))?,
    };
    let page = store.details(&scope, window, &query).await.map_err(store_error)?;
    Ok(if csv {
        Report::Csv { name: "calls", text: calls::report::details_csv(&page.items) }
    } else {
        Report::Json(Reply::ok(Page { items: page.items, page_num, page_size, total: page.total }).into_response())
    })
}

fn call_store(state: &AdminState) -> Result<&CallStore, AdminError> {
    state.calls.as_ref().ok_or_else(|| AdminError::new(ErrorCode::NotFound, "call records are not kept by this server"))
}

fn store_error(e: calls::CallsError) -> AdminError {
    AdminError::internal(e)
}

/// `from` and `to`: the last hour by default; `from` before `to`, at most the longest
/// retention apart.
fn window(q: &HashMap<String, String>) -> Result<Window, AdminError> {
    let to = match q.get("to") {
        Some(text) => instant(text).ok_or_else(|| time_error("to"))?,
        None => catalog::now_ms(),
    };
    let from = match q.get("from") {
        Some(text) => instant(text).ok_or_else(|| time_error("from"))?,
        None => to - DEFAULT_WINDOW_MS,
    };
    if from >= to {
        return Err(AdminError::invalid("from", "`from` must be before `to`"));
    }
    if to - from > MAX_WINDOW_MS {
        return Err(AdminError::invalid("from", "the window is longer than 3650 days"));
    }
    Ok(Window { from_ms: from, to_ms: to })
}

fn time_error(field: &str) -> AdminError {
    AdminError::invalid(field, "give milliseconds since 1970 or an RFC 3339 time such as 2026-12-07T10:00:00Z")
}

/// Milliseconds since the epoch, or an RFC 3339 time; within years 1970 to 9999.
fn instant(text: &str) -> Option<i64> {
    let ms = match text.parse::<i64>() {
        Ok(ms) => ms,
        Err(_) => chrono::DateTime::parse_from_rfc3339(text).ok()?.timestamp_millis(),
    };
    (0..=253_402_300_799_999).contains(&ms).then_some(ms)
}

fn filter(q: &HashMap<String, String>) -> Result<Filter, AdminError> {
    let env = match q.get("env").map(String::as_str) {
        None | Some("") => None,
        Some(env @ ("prod" | "test")) => Some(env.to_owned()),
        Some(_) => return Err(AdminError::invalid("env", "use prod or test")),
    };
    Ok(Filter { api_id: number(q, "apiId")?, app_id: number(q, "appId")?, env })
}

fn wants_csv(q: &HashMap<String, String>) -> Result<bool, AdminError> {
    match q.get("format").map(String::as_str) {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(AdminError::invalid("format", "use json or csv")),
    }
}

/// An optional whole-number parameter.
fn number<T: std::str::FromStr>(q: &HashMap<String, String>, name: &str) -> Result<Option<T>, AdminError> {
    match q.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| AdminError::invalid(name, "give a whole number in range")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn windows_take_milliseconds_or_rfc_3339_and_refuse_the_rest() {
        let w = window(&query(&[("from", "1796515200000"), ("to", "2026-12-07T00:00:00Z")])).unwrap();
        assert_eq!((w.from_ms, w.to_ms), (1_796_515_200_000, 1_796_601_600_000));
        let e = window(&query(&[("from", "1000"), ("to", "2026-12-07T00:00:00Z")])).unwrap_err();
        assert!(e.code().starts_with("InvalidParameter."), "at most 3650 days: {}", e.code());
        let w = window(&query(&[("to", "7200000")])).unwrap();
        assert_eq!(w.from_ms, 3_600_000);
        for bad in [vec![("from", "yesterday")], vec![("from", "5"), ("to", "5")], vec![("to", "-1")]] {
            let e = window(&query(&bad)).unwrap_err();
            assert!(e.code().starts_with("InvalidParameter."), "{}", e.code());
        }
    }

    #[test]
    fn filters_are_checked() {
        assert_eq!(filter(&query(&[("apiId", "7"), ("env", "test")])).unwrap().api_id, Some(7));
        assert!(filter(&query(&[("apiId", "seven")])).is_err());
        assert!(filter(&query(&[("env", "staging")])).is_err());
        assert!(wants_csv(&query(&[("format", "csv")])).unwrap());
        assert!(wants_csv(&query(&[("format", "xml")])).is_err());
    }
}
