//! The embedded call store on real SQLite files: totals, summaries, trends, details, scope
//! walls, retention and reopening.

mod support;

use calls::CallRecord;
use calls::report::{
    DetailQuery, Filter, GroupBy, Resolution, Scope, SummaryRow, Window, details_csv, summary_csv, trend_csv,
};
use calls::store::{CallStore, Retention};
use support::*;

const ALL_TIME: Window = Window { from_ms: 0, to_ms: i64::MAX };

fn wg(id: i64) -> Scope {
    Scope { workgroup_id: Some(id), ..Scope::default() }
}

async fn open(dir: &TempDir) -> CallStore {
    CallStore::open(&dir.db(), Retention::default()).await.unwrap()
}

/// Workgroup 1's known calls, spread over five minutes from `T0`:
/// - API 10, app 100: 100 × 200 `OK`, 1..=100 ms;
/// - API 10, app 101: 5 × 429 `Throttling`, 2 ms;
/// - API 11, anonymous: 3 × 500 `InternalError`, 300 ms, and 2 × 404 `NotFound`, 1 ms.
fn known_calls() -> Vec<CallRecord> {
    let mut calls = Vec::new();
    for ms in 1..=100u64 {
        let at = T0 + (ms as i64 % 5) * MINUTE + 1000;
        calls.push(call(at, Some(1), Some(10), Some(100), 200, "OK", ms * 1000));
    }
    for i in 0..5 {
        calls.push(call(T0 + i * MINUTE + 2000, Some(1), Some(10), Some(101), 429, "Throttling", 2000));
    }
    for i in 0..3 {
        calls.push(call(T0 + i * MINUTE + 3000, Some(1), Some(11), None, 500, "InternalError", 300_000));
    }
    for i in 0..2 {
        calls.push(call(T0 + i * MINUTE + 4000, Some(1), Some(11), None, 404, "NotFound", 1000));
    }
    calls
}

fn latencies(calls: &[CallRecord]) -> Vec<u64> {
    calls.iter().map(|c| c.latency_us).collect()
}

/// Writes `calls` in several batches, so rollup rows of one minute are merged with stored ones.
async fn write_in_batches(store: &CallStore, calls: &[CallRecord]) {
    for chunk in calls.chunks(7) {
        store.write(chunk).await.unwrap();
    }
}

#[tokio::test]
async fn totals_are_exact_and_percentiles_within_one_percent() {
    let dir = TempDir::new("totals");
    let store = open(&dir).await;
    let calls = known_calls();
    write_in_batches(&store, &calls).await;

    let totals = store.totals(&wg(1), ALL_TIME, &Filter::default()).await.unwrap();
    assert_eq!(totals.calls, 110);
    assert_eq!(totals.succeeded, 100);
    assert_eq!(totals.throttled, 5);
    assert_eq!(totals.errors, 3);
    assert_eq!(totals.success_rate, 100.0 / 110.0);
    assert_eq!(totals.bytes_in, 1100);
    assert_eq!(totals.bytes_out, 11_000);
    let codes: Vec<(&str, u64)> = totals.codes.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    assert_eq!(codes, [("InternalError", 3), ("NotFound", 2), ("OK", 100), ("Throttling", 5)]);
    let all = latencies(&calls);
    within_one_percent(totals.p50_ms, exact_ms(&all, 0.5));
    within_one_percent(totals.p95_ms, exact_ms(&all, 0.95));
    within_one_percent(totals.p99_ms, exact_ms(&all, 0.99));

    // Filters: one API, one app, an environment nobody called.
    let api10 = store.totals(&wg(1), ALL_TIME, &Filter { api_id: Some(10), ..Filter::default() }).await.unwrap();
    assert_eq!((api10.calls, api10.succeeded, api10.throttled), (105, 100, 5));
    let ok_only: Vec<u64> = calls.iter().filter(|c| c.app_id == Some(100)).map(|c| c.latency_us).collect();
    let app100 = store.totals(&wg(1), ALL_TIME, &Filter { app_id: Some(100), ..Filter::default() }).await.unwrap();
    assert_eq!((app100.calls, app100.success_rate), (100, 1.0));
    within_one_percent(app100.p50_ms, exact_ms(&ok_only, 0.5));
    within_one_percent(app100.p99_ms, exact_ms(&ok_only, 0.99));
    let test_env =
        store.totals(&wg(1), ALL_TIME, &Filter { env: Some("test".into()), ..Filter::default() }).await.unwrap();
    assert_eq!((test_env.calls, test_env.success_rate, test_env.p50_ms), (0, 1.0, None));
}

fn keys(rows: &[SummaryRow]) -> Vec<(&str, u64)> {
    rows.iter().map(|r| (r.key.as_str(), r.totals.calls)).collect()
}

#[tokio::test]
async fn summaries_group_by_api_app_code_and_env() {
    let dir = TempDir::new("summary");
    let store = open(&dir).await;
    let mut calls = known_calls();
    let mut tested = call(T0 + 10 * MINUTE, Some(1), Some(11), Some(100), 200, "OK", 5000);
    tested.env = "test".into();
    calls.push(tested);
    write_in_batches(&store, &calls).await;
    let (one, no_filter) = (wg(1), Filter::default());
    let summary = |group| store.summary(&one, ALL_TIME, &no_filter, group);

    let by_api = summary(GroupBy::Api).await.unwrap();
    assert_eq!(keys(&by_api), [("10", 105), ("11", 6)]);
    let api11: Vec<u64> = calls.iter().filter(|c| c.api_id == Some(11)).map(|c| c.latency_us).collect();
    within_one_percent(by_api[1].totals.p50_ms, exact_ms(&api11, 0.5));
    assert_eq!(by_api[1].totals.errors, 3);

    // Most calls first, then by key; anonymous calls under "".
    let by_app = summary(GroupBy::App).await.unwrap();
    assert_eq!(keys(&by_app), [("100", 101), ("", 5), ("101", 5)]);

    let by_code = summary(GroupBy::Code).await.unwrap();
    assert_eq!(keys(&by_code), [("OK", 101), ("Throttling", 5), ("InternalError", 3), ("NotFound", 2)]);
    let throttling = &by_code[1].totals;
    assert_eq!(
        (throttling.succeeded, throttling.throttled, throttling.errors, throttling.success_rate),
        (0, 5, 0, 0.0)
    );
    assert_eq!(by_code[2].totals.errors, 3);
    assert_eq!(by_code[0].totals.bytes_out, 10_100);
    assert!(by_code.iter().all(|r| r.totals.p50_ms.is_none() && r.totals.p99_ms.is_none()));
    assert_eq!(by_code[3].totals.codes.get("NotFound"), Some(&2));

    let by_env = summary(GroupBy::Env).await.unwrap();
    assert_eq!(keys(&by_env), [("prod", 110), ("test", 1)]);
    within_one_percent(by_env[1].totals.p99_ms, 5.0);

    // CSV: a header of stable names, a row per group.
    let csv = summary_csv(&by_code);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("key,calls,succeeded,throttled,errors,successRate,p50Ms,p95Ms,p99Ms,bytesIn,bytesOut,codes")
    );
    assert_eq!(lines.next(), Some("OK,101,101,0,0,1.0000,,,,1010,10100,OK=101"));
    assert_eq!(csv.lines().count(), 5);
    let csv = summary_csv(&by_env);
    assert!(csv.lines().nth(1).unwrap().ends_with(",InternalError=3;NotFound=2;OK=100;Throttling=5"), "{csv}");
}

#[tokio::test]
async fn trends_step_by_minute_hour_and_day() {
    let dir = TempDir::new("trend");
    let store = open(&dir).await;
    let at = [
        T0 + 5_000,                 // minute 0, hour 0, day 0
        T0 + 59_999,                // minute 0
        T0 + MINUTE,                // minute 1
        T0 + HOUR + 30 * MINUTE,    // hour 1
        T0 + 2 * HOUR + 1,          // hour 2
        T0 + DAY + 3 * HOUR,        // day 1
        T0 + 3 * DAY + 59 * MINUTE, // day 3
    ];
    let calls: Vec<CallRecord> = at
        .iter()
        .enumerate()
        .map(|(i, at)| call(*at, Some(1), Some(10), None, 200, "OK", (i as u64 + 1) * 1000))
        .collect();
    write_in_batches(&store, &calls).await;
    let (one, no_filter) = (wg(1), Filter::default());
    let trend = |resolution| store.trend(&one, ALL_TIME, &no_filter, resolution);
    let points = |p: Vec<calls::report::TrendPoint>| p.iter().map(|p| (p.at_ms, p.totals.calls)).collect::<Vec<_>>();

    assert_eq!(
        points(trend(Resolution::Minute).await.unwrap()),
        [
            (T0, 2),
            (T0 + MINUTE, 1),
            (T0 + HOUR + 30 * MINUTE, 1),
            (T0 + 2 * HOUR, 1),
            (T0 + DAY + 3 * HOUR, 1),
            (T0 + 3 * DAY + 59 * MINUTE, 1)
        ]
    );
    assert_eq!(
        points(trend(Resolution::Hour).await.unwrap()),
        [(T0, 3), (T0 + HOUR, 1), (T0 + 2 * HOUR, 1), (T0 + DAY + 3 * HOUR, 1), (T0 + 3 * DAY, 1)]
    );
    let days = trend(Resolution::Day).await.unwrap();
    assert_eq!(points(days.clone()), [(T0, 5), (T0 + DAY, 1), (T0 + 3 * DAY, 1)]);
    within_one_percent(days[0].totals.p50_ms, 3.0);
    within_one_percent(days[0].totals.p99_ms, 4.0);

    // The window takes every minute whose start lies in it: [T0 + 1 ms, T0 + 2 h) leaves out
    // minute 0 (it starts before) and hour 2's call (its minute starts at T0 + 2 h).
    let window = Window { from_ms: T0 + 1, to_ms: T0 + 2 * HOUR };
    let part = store.trend(&wg(1), window, &Filter::default(), Resolution::Hour).await.unwrap();
    assert_eq!(points(part), [(T0, 1), (T0 + HOUR, 1)]);
    let totals = store.totals(&wg(1), window, &Filter::default()).await.unwrap();
    assert_eq!(totals.calls, 2);

    let csv = trend_csv(&days);
    assert!(
        csv.starts_with("atMs,calls,succeeded,throttled,errors,successRate,p50Ms,p95Ms,p99Ms,bytesIn,bytesOut,codes\n")
    );
    assert!(csv.contains(&format!("\n{},5,5,0,0,1.0000,", T0)), "{csv}");
}

#[tokio::test]
async fn details_are_searched_and_paged_newest_first() {
    let dir = TempDir::new("details");
    let store = open(&dir).await;
    let calls = known_calls();
    write_in_batches(&store, &calls).await;
    let details = |window, query| {
        let store = store.clone();
        async move { store.details(&wg(1), window, &query).await.unwrap() }
    };
    let page = |limit, offset| DetailQuery { limit, offset, ..DetailQuery::default() };

    // Everything, newest first, with the total.
    let all = details(ALL_TIME, page(1000, 0)).await;
    assert_eq!((all.total, all.items.len()), (110, 110));
    assert!(all.items.windows(2).all(|w| w[0].at_ms >= w[1].at_ms));
    // Every field comes back as written.
    let first = calls.iter().find(|c| c.request_id == all.items[0].request_id).unwrap();
    assert_eq!(&all.items[0], first);

    // Paging.
    let second = details(ALL_TIME, page(10, 10)).await;
    assert_eq!(second.total, 110);
    assert_eq!(second.items, all.items[10..20]);
    let past = details(ALL_TIME, page(10, 200)).await;
    assert_eq!((past.total, past.items.len()), (110, 0));

    // By request id.
    let wanted = calls[42].request_id.clone();
    let one = details(ALL_TIME, DetailQuery { request_id: Some(wanted), limit: 10, ..DetailQuery::default() }).await;
    assert_eq!(one.items, [calls[42].clone()]);

    // By API, app, status, code.
    let by = |query: DetailQuery| details(ALL_TIME, DetailQuery { limit: 1000, ..query });
    let api11 =
        by(DetailQuery { filter: Filter { api_id: Some(11), ..Filter::default() }, ..DetailQuery::default() }).await;
    assert_eq!(api11.total, 5);
    assert!(api11.items.iter().all(|c| c.api_id == Some(11) && c.app_id.is_none()));
    let app101 =
        by(DetailQuery { filter: Filter { app_id: Some(101), ..Filter::default() }, ..DetailQuery::default() }).await;
    assert_eq!(app101.total, 5);
    assert!(app101.items.iter().all(|c| c.status == 429));
    let s500 = by(DetailQuery { status: Some(500), ..DetailQuery::default() }).await;
    assert_eq!(s500.total, 3);
    let not_found = by(DetailQuery { code: Some("NotFound".into()), ..DetailQuery::default() }).await;
    assert_eq!(not_found.total, 2);
    let none = by(DetailQuery { code: Some("NotFound".into()), status: Some(200), ..DetailQuery::default() }).await;
    assert_eq!((none.total, none.items.len()), (0, 0));
    let prod =
        by(DetailQuery { filter: Filter { env: Some("prod".into()), ..Filter::default() }, ..DetailQuery::default() })
            .await;
    assert_eq!(prod.total, 110);

    // The window is exact to the millisecond: [T0 + 2000, T0 + MINUTE + 2000) holds minute 0's
    // 429, 500 and 404 (at +2 s, +3 s, +4 s), minute 1's OKs (at +1 s) and nothing else.
    let window = Window { from_ms: T0 + 2000, to_ms: T0 + MINUTE + 2000 };
    let part = details(window, page(1000, 0)).await;
    let want = calls.iter().filter(|c| c.at_ms >= window.from_ms && c.at_ms < window.to_ms).count();
    assert_eq!(part.total as usize, want);
    assert_eq!(want, 3 + 20);
    assert!(part.items.iter().all(|c| c.at_ms >= window.from_ms && c.at_ms < window.to_ms));

    // CSV.
    let csv = details_csv(&one.items);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "atMs,requestId,traceId,workgroupId,apiId,version,env,appId,client,status,code,latencyUs,backendUs,rows,bytesIn,bytesOut,cacheHit"
        )
    );
    let c = &calls[42];
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "{},{},{},1,10,1,prod,100,127.0.0.1,200,OK,{},{},3,10,100,",
            c.at_ms,
            c.request_id,
            c.trace_id,
            c.latency_us,
            c.latency_us / 2
        )
    );
}

#[tokio::test]
async fn a_scope_is_a_wall() {
    let dir = TempDir::new("scope");
    let store = open(&dir).await;
    let mut calls = known_calls();
    // Workgroup 2: 7 calls to its API 20 by app 100 (an app may call several workgroups).
    for i in 0..7 {
        calls.push(call(T0 + i * 1000, Some(2), Some(20), Some(100), 200, "OK", 9000));
    }
    // A call no API answered.
    calls.push(call(T0, None, None, None, 404, "NotFound", 100));
    write_in_batches(&store, &calls).await;
    let all = DetailQuery { limit: 1000, ..DetailQuery::default() };

    let one = store.totals(&wg(1), ALL_TIME, &Filter::default()).await.unwrap();
    let two = store.totals(&wg(2), ALL_TIME, &Filter::default()).await.unwrap();
    assert_eq!((one.calls, two.calls), (110, 7));
    // Another workgroup's API or app named in the filter reads nothing of it.
    let across = Filter { api_id: Some(20), ..Filter::default() };
    assert_eq!(store.totals(&wg(1), ALL_TIME, &across).await.unwrap().calls, 0);
    assert_eq!(
        store.details(&wg(1), ALL_TIME, &DetailQuery { filter: across.clone(), ..all.clone() }).await.unwrap().total,
        0
    );
    let app100 = Filter { app_id: Some(100), ..Filter::default() };
    assert_eq!(store.totals(&wg(2), ALL_TIME, &app100).await.unwrap().calls, 7);
    let by_api = store.summary(&wg(2), ALL_TIME, &Filter::default(), GroupBy::Api).await.unwrap();
    assert_eq!(keys(&by_api), [("20", 7)]);
    let two_details = store.details(&wg(2), ALL_TIME, &all).await.unwrap();
    assert_eq!(two_details.total, 7);
    assert!(two_details.items.iter().all(|c| c.workgroup_id == Some(2)));
    let request = DetailQuery { request_id: Some(calls[0].request_id.clone()), ..all.clone() };
    assert_eq!(store.details(&wg(2), ALL_TIME, &request).await.unwrap().total, 0);
    assert_eq!(store.details(&wg(1), ALL_TIME, &request).await.unwrap().total, 1);
    let trend = store.trend(&wg(2), ALL_TIME, &Filter::default(), Resolution::Day).await.unwrap();
    assert_eq!(trend.iter().map(|p| p.totals.calls).sum::<u64>(), 7);

    // Every workgroup's (platform admins), the unanswered call included.
    let everyone = store.totals(&Scope::default(), ALL_TIME, &Filter::default()).await.unwrap();
    assert_eq!(everyone.calls, 118);
    assert_eq!(store.details(&Scope::default(), ALL_TIME, &all).await.unwrap().total, 118);

    // API and app lists restrict further; an empty list reads nothing.
    let apis = |ids: Vec<i64>| Scope { workgroup_id: Some(1), api_ids: Some(ids), app_ids: None };
    assert_eq!(store.totals(&apis(vec![11]), ALL_TIME, &Filter::default()).await.unwrap().calls, 5);
    assert_eq!(store.totals(&apis(vec![10, 11, 20]), ALL_TIME, &Filter::default()).await.unwrap().calls, 110);
    assert_eq!(store.totals(&apis(vec![20]), ALL_TIME, &Filter::default()).await.unwrap().calls, 0);
    let nothing = store.totals(&apis(vec![]), ALL_TIME, &Filter::default()).await.unwrap();
    assert_eq!((nothing.calls, nothing.success_rate), (0, 1.0));
    assert_eq!(store.details(&apis(vec![]), ALL_TIME, &all).await.unwrap().total, 0);
    assert_eq!(store.details(&apis(vec![11]), ALL_TIME, &all).await.unwrap().total, 5);
    // A filter outside the list reads nothing either.
    let outside = Filter { api_id: Some(10), ..Filter::default() };
    assert_eq!(store.totals(&apis(vec![11]), ALL_TIME, &outside).await.unwrap().calls, 0);

    let apps = |ids: Vec<i64>| Scope { workgroup_id: Some(1), api_ids: None, app_ids: Some(ids) };
    assert_eq!(store.totals(&apps(vec![101]), ALL_TIME, &Filter::default()).await.unwrap().calls, 5);
    assert_eq!(store.totals(&apps(vec![]), ALL_TIME, &Filter::default()).await.unwrap().calls, 0);
    let by_app = store.summary(&apps(vec![100]), ALL_TIME, &Filter::default(), GroupBy::App).await.unwrap();
    assert_eq!(keys(&by_app), [("100", 100)]);
    let app_details = store.details(&apps(vec![101]), ALL_TIME, &all).await.unwrap();
    assert_eq!(app_details.total, 5);
    assert!(app_details.items.iter().all(|c| c.app_id == Some(101) && c.workgroup_id == Some(1)));
    // An app owner without a workgroup: its app's calls in every workgroup.
    let owner = Scope { workgroup_id: None, api_ids: None, app_ids: Some(vec![100]) };
    assert_eq!(store.totals(&owner, ALL_TIME, &Filter::default()).await.unwrap().calls, 107);
}

#[tokio::test]
async fn one_batch_of_many_statements_keeps_every_record_once() {
    let dir = TempDir::new("big-batch");
    let store = open(&dir).await;
    // 110 records in one write: two multi-row statements, the second a short one.
    let calls = known_calls();
    store.write(&calls).await.unwrap();
    let page = store.details(&wg(1), ALL_TIME, &DetailQuery { limit: 500, ..DetailQuery::default() }).await.unwrap();
    assert_eq!(page.total, calls.len() as u64);
    let mut stored: Vec<&str> = page.items.iter().map(|c| c.request_id.as_str()).collect();
    let mut written: Vec<&str> = calls.iter().map(|c| c.request_id.as_str()).collect();
    stored.sort_unstable();
    written.sort_unstable();
    assert_eq!(stored, written);
    let totals = store.totals(&wg(1), ALL_TIME, &Filter::default()).await.unwrap();
    assert_eq!(totals.calls, calls.len() as u64);
}

#[tokio::test]
async fn retention_prunes_details_and_rollups() {
    let dir = TempDir::new("prune");
    let store = CallStore::open(&dir.db(), Retention { details_days: 1, rollup_days: 2 }).await.unwrap();
    let now = T0 + 10 * DAY;
    let calls = [
        call(now - 3 * DAY, Some(1), Some(10), None, 200, "OK", 1000),
        call(now - DAY - HOUR, Some(1), Some(10), None, 200, "OK", 1000),
        call(now - HOUR, Some(1), Some(10), None, 200, "OK", 1000),
    ];
    store.write(&calls).await.unwrap();
    // Two details (older than a day) and one rollup (older than two days).
    assert_eq!(store.prune(now).await.unwrap(), 3);
    assert_eq!(store.prune(now).await.unwrap(), 0);
    let details = store.details(&wg(1), ALL_TIME, &DetailQuery { limit: 10, ..DetailQuery::default() }).await.unwrap();
    assert_eq!(details.items, [calls[2].clone()]);
    let trend = store.trend(&wg(1), ALL_TIME, &Filter::default(), Resolution::Minute).await.unwrap();
    let minute = |at: i64| at - at.rem_euclid(MINUTE);
    assert_eq!(trend.iter().map(|p| p.at_ms).collect::<Vec<_>>(), [minute(calls[1].at_ms), minute(calls[2].at_ms)]);
    assert_eq!(Retention::default(), Retention { details_days: 7, rollup_days: 90 });
}

#[tokio::test]
async fn records_survive_closing_and_reopening() {
    let dir = TempDir::new("reopen");
    let calls = known_calls();
    let before = {
        let store = open(&dir).await;
        write_in_batches(&store, &calls[..50]).await;
        let totals = store.totals(&wg(1), ALL_TIME, &Filter::default()).await.unwrap();
        store.close().await;
        totals
    };
    // Reopened (a second open of the same file, as another process would, included).
    let store = open(&dir).await;
    let other = open(&dir).await;
    assert_eq!(store.totals(&wg(1), ALL_TIME, &Filter::default()).await.unwrap(), before);
    // Writing after reopening merges into the stored rollups.
    write_in_batches(&other, &calls[50..]).await;
    let totals = store.totals(&wg(1), ALL_TIME, &Filter::default()).await.unwrap();
    assert_eq!((totals.calls, totals.succeeded, totals.throttled, totals.errors), (110, 100, 5, 3));
    within_one_percent(totals.p95_ms, exact_ms(&latencies(&calls), 0.95));
    let details = store.details(&wg(1), ALL_TIME, &DetailQuery { limit: 1, ..DetailQuery::default() }).await.unwrap();
    assert_eq!(details.total, 110);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_openers_of_a_new_file_share_one_schema() {
    let dir = TempDir::new("openers");
    let path = dir.db();
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            tokio::spawn(async move { CallStore::open(&path, Retention::default()).await.unwrap() })
        })
        .collect();
    let mut stores = Vec::new();
    for opener in openers {
        stores.push(opener.await.unwrap());
    }
    for (i, store) in stores.iter().enumerate() {
        store.write(&[call(T0 + i as i64, Some(1), Some(10), None, 200, "OK", 1000)]).await.unwrap();
    }
    let totals = stores[0].totals(&wg(1), ALL_TIME, &Filter::default()).await.unwrap();
    assert_eq!(totals.calls, 4);
}

#[tokio::test]
async fn details_of_the_first_schema_are_moved_into_blocks_at_open() {
    let dir = TempDir::new("legacy");
    let mut calls = known_calls();
    calls[7].backend_us = None;
    calls[7].cache_hit = Some(true);
    calls.push(call(T0, None, None, None, 404, "NotFound", 100));
    {
        // A calls.db as the first schema wrote it: a row per call.
        let url = format!("sqlite://{}?mode=rwc", dir.db().display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query(
            "CREATE TABLE call_details (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, request_id TEXT NOT NULL, \
             trace_id TEXT NOT NULL, workgroup_id INTEGER, api_id INTEGER, version INTEGER, env TEXT NOT NULL, \
             app_id INTEGER, client TEXT NOT NULL, status INTEGER NOT NULL, code TEXT NOT NULL, \
             latency_us INTEGER NOT NULL, backend_us INTEGER, row_count INTEGER, bytes_in INTEGER NOT NULL, \
             bytes_out INTEGER NOT NULL, cache_hit INTEGER)",
        )
        .execute(&pool)
        .await
        .unwrap();
        for c in &calls {
            sqlx::query(
                "INSERT INTO call_details (at_ms, request_id, trace_id, workgroup_id, api_id, version, env, app_id, \
                 client, status, code, latency_us, backend_us, row_count, bytes_in, bytes_out, cache_hit) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(c.at_ms)
            .bind(&c.request_id)
            .bind(&c.trace_id)
            .bind(c.workgroup_id)
            .bind(c.api_id)
            .bind(c.version)
            .bind(c.env.as_ref())
            .bind(c.app_id)
            .bind(&c.client)
            .bind(i64::from(c.status))
            .bind(c.code.as_ref())
            .bind(c.latency_us as i64)
            .bind(c.backend_us.map(|v| v as i64))
            .bind(c.rows.map(|v| v as i64))
            .bind(c.bytes_in as i64)
            .bind(c.bytes_out as i64)
            .bind(c.cache_hit)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    }
    let store = open(&dir).await;
    let all = DetailQuery { limit: 500, ..DetailQuery::default() };
    let page = store.details(&wg(1), ALL_TIME, &all).await.unwrap();
    assert_eq!(page.total, 110);
    let mut stored = page.items.clone();
    let mut written: Vec<CallRecord> = calls.iter().filter(|c| c.workgroup_id == Some(1)).cloned().collect();
    stored.sort_by(|a, b| a.request_id.cmp(&b.request_id));
    written.sort_by(|a, b| a.request_id.cmp(&b.request_id));
    assert_eq!(stored, written);
    // The call no API answered is only in the platform's view.
    let platform = store.details(&Scope::default(), ALL_TIME, &all).await.unwrap();
    assert_eq!(platform.total, 111);
    // Opening again finds nothing left to move.
    store.close().await;
    let again = open(&dir).await;
    assert_eq!(again.details(&Scope::default(), ALL_TIME, &all).await.unwrap().total, 111);
}
