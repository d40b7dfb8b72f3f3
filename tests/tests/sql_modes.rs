//! Every mode and every operator on SQLite, PostgreSQL and MariaDB, checked against rows
//! computed in Rust from the fixture; plus encoding, pagination, dry runs and errors.

use std::collections::HashMap;

use catalog::model::{ApiDefinition, DatasourceKind, Operator};
use plugins::sql::SqlApi;
use plugins::sql::value::RawParam;
use plugins::{ApiError, PluginContext};
use plugins::{Call, CallOutput};
use serde_json::{Value as Json, json};
use sluice_tests::{KINDS, User, datasource, sleep_sql, users};

fn definition(kind: DatasourceKind, spec: Json) -> ApiDefinition {
    let mut spec = spec;
    spec["datasourceId"] = json!(datasource(kind).id);
    serde_json::from_value(spec).expect("test definition parses")
}

fn compile(kind: DatasourceKind, spec: Json) -> SqlApi {
    SqlApi::compile(&definition(kind, spec), &datasource(kind)).unwrap_or_else(|e| panic!("{kind:?}: {e}"))
}

fn input(params: &[(&str, RawParam)]) -> Call {
    Call {
        params: params.iter().cloned().map(|(k, v)| (k.to_owned(), v)).collect::<HashMap<_, _>>(),
        dry_run: false,
        clearance: None,
        ..Call::default()
    }
}

fn text(s: &str) -> RawParam {
    RawParam::Text(s.to_owned())
}

async fn call(ctx: &PluginContext, api: &SqlApi, input: &Call) -> Result<Json, ApiError> {
    match api.invoke(&ctx.pools, input).await? {
        CallOutput::Data { data, .. } => Ok(serde_json::from_slice(&data).expect("data is JSON")),
        _ => panic!("unexpected dry run"),
    }
}

fn ids(data: &Json) -> Vec<i64> {
    data["rows"].as_array().expect("rows").iter().map(|r| r["id"].as_i64().expect("id")).collect()
}

fn wizard_on(column: &str, ty: &str, op: Operator) -> Json {
    json!({
        "mode": "wizard", "table": "users",
        "requestParams": [{"name": "v", "type": ty, "column": column, "operator": op.as_sql()}],
        "responseFields": [{"name": "id", "type": "int", "sort": {"direction": "asc"}}],
        "options": {"maxLimit": 1000}
    })
}

fn expected(filter: impl Fn(&User) -> bool) -> Vec<i64> {
    users().iter().filter(|u| filter(u)).map(|u| u.id).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_wizard_operator_returns_the_same_rows_on_every_database() {
    let cases: Vec<(Operator, &str, &str, RawParam, Vec<i64>)> = vec![
        (Operator::Eq, "age", "int", text("39"), expected(|u| u.age == 39)),
        (Operator::Ne, "age", "int", text("39"), expected(|u| u.age != 39)),
        (Operator::Gt, "age", "int", text("60"), expected(|u| u.age > 60)),
        (Operator::Lt, "age", "int", text("30"), expected(|u| u.age < 30)),
        (Operator::Ge, "age", "int", text("60"), expected(|u| u.age >= 60)),
        (Operator::Le, "age", "int", text("30"), expected(|u| u.age <= 30)),
        (Operator::Eq, "city", "string", text("Hangzhou"), expected(|u| u.city == "Hangzhou")),
        (Operator::Gt, "city", "string", text("Sh"), expected(|u| u.city > "Sh")),
        (Operator::Like, "name", "string", text("Alice%"), expected(|u| u.name.starts_with("Alice"))),
        (Operator::NotLike, "name", "string", text("%1%"), expected(|u| !u.name.contains('1'))),
        (
            Operator::In,
            "city",
            "array<string>",
            text("Beijing,Shenzhen"),
            expected(|u| ["Beijing", "Shenzhen"].contains(&u.city)),
        ),
        (Operator::NotIn, "id", "array<int>", RawParam::Json(json!([1, 2, 3])), expected(|u| u.id > 3)),
        (Operator::In, "id", "array<int>", RawParam::Json(json!([5, 7, 9])), vec![5, 7, 9]),
        (Operator::Ge, "score", "decimal", text("50.00"), expected(|u| u.score_cents >= 5000)),
        (Operator::Eq, "active", "bool", text("true"), expected(|u| u.active)),
        (Operator::Lt, "born", "date", text("1985-01-01"), expected(|u| u.id * 100 < 1827)),
        (Operator::Ge, "created_at", "datetime", text("2024-01-02T00:00:00"), expected(|u| u.id >= 24)),
    ];
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        for (op, column, ty, value, want) in &cases {
            let api = compile(kind, wizard_on(column, ty, *op));
            let data = call(&ctx, &api, &input(&[("v", value.clone())]))
                .await
                .unwrap_or_else(|e| panic!("{kind:?} {column} {op:?}: {e}"));
            assert_eq!(&ids(&data), want, "{kind:?}: {column} {} {value:?}", op.as_sql());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn absent_optional_params_drop_out_and_required_ones_are_named() {
    let spec = json!({
        "mode": "wizard", "table": "users",
        "requestParams": [
            {"name": "city", "type": "string", "column": "city", "required": true},
            {"name": "minAge", "type": "int", "column": "age", "operator": ">="}
        ],
        "responseFields": [{"name": "id", "type": "int", "sort": {"direction": "desc"}}]
    });
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let api = compile(kind, spec.clone());
        let all = call(&ctx, &api, &input(&[("city", text("Beijing"))])).await.unwrap();
        let mut want = expected(|u| u.city == "Beijing");
        want.reverse();
        assert_eq!(ids(&all), want, "{kind:?}");
        let older = call(&ctx, &api, &input(&[("city", text("Beijing")), ("minAge", text("50"))])).await.unwrap();
        let mut want = expected(|u| u.city == "Beijing" && u.age >= 50);
        want.reverse();
        assert_eq!(ids(&older), want, "{kind:?}");
        let missing = call(&ctx, &api, &input(&[])).await.unwrap_err();
        assert_eq!((missing.code().as_str(), missing.status()), ("MissingParameter.city", 400), "{kind:?}");
        let invalid =
            call(&ctx, &api, &input(&[("city", text("Beijing")), ("minAge", text("old"))])).await.unwrap_err();
        assert_eq!(invalid.code(), "InvalidParameter.minAge", "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn values_encode_identically_from_every_database() {
    let spec = json!({
        "mode": "wizard", "table": "users",
        "requestParams": [{"name": "ids", "type": "array<int>", "column": "id", "operator": "IN"}],
        "responseFields": [
            {"name": "id", "type": "int", "sort": {"direction": "asc"}},
            {"name": "name", "type": "string"},
            {"name": "score", "type": "decimal"},
            {"name": "active", "type": "bool"},
            {"name": "born", "type": "date"},
            {"name": "createdAt", "column": "created_at", "type": "datetime"},
            {"name": "nickname", "type": "string"},
            {"name": "big", "type": "int"},
            {"name": "avatar", "type": "string"}
        ]
    });
    let want = json!([
        {"id": 1, "name": "Alice", "score": "1.25", "active": false, "born": "1980-04-10",
         "createdAt": "2024-01-01T01:00:00", "nickname": "nick1", "big": "9007199254740993", "avatar": "AQD/"},
        {"id": 2, "name": "Bob", "score": "2.5", "active": false, "born": "1980-07-19",
         "createdAt": "2024-01-01T02:00:00.250", "nickname": "nick2", "big": 2000, "avatar": "AgD/"},
        {"id": 3, "name": "O'Brien", "score": "3.75", "active": true, "born": "1980-10-27",
         "createdAt": "2024-01-01T03:00:00", "nickname": "nick3", "big": 3000, "avatar": "AwD/"},
        {"id": 4, "name": "back\\slash", "score": "5", "active": false, "born": "1981-02-04",
         "createdAt": "2024-01-01T04:00:00", "nickname": "nick4", "big": 4000, "avatar": "BAD/"},
        {"id": 5, "name": "Zoë", "score": "6.25", "active": false, "born": "1981-05-15",
         "createdAt": "2024-01-01T05:00:00", "nickname": null, "big": 5000, "avatar": "BQD/"},
        {"id": 6, "name": "李雷", "score": "7.5", "active": true, "born": "1981-08-23",
         "createdAt": "2024-01-01T06:00:00", "nickname": "nick6", "big": 6000, "avatar": "BgD/"}
    ]);
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let api = compile(kind, spec.clone());
        let data = call(&ctx, &api, &input(&[("ids", text("1,2,3,4,5,6"))])).await.unwrap();
        assert_eq!(data["rows"], want, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_compact_lists_columns_once_and_rows_as_arrays() {
    let spec = json!({
        "mode": "wizard", "table": "users",
        "requestParams": [{"name": "id", "type": "int", "column": "id"}],
        "responseFields": [{"name": "id", "type": "int"}, {"name": "city", "type": "string"}],
        "options": {"resultFormat": "JSONCompact"}
    });
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let api = compile(kind, spec.clone());
        let data = call(&ctx, &api, &input(&[("id", text("7"))])).await.unwrap();
        assert_eq!(data, json!({"columns": ["id", "city"], "rows": [[7, "Shenzhen"]]}), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pagination_pages_and_totals_from_the_same_plan() {
    let spec = json!({
        "mode": "wizard", "table": "users",
        "requestParams": [{"name": "city", "type": "string", "column": "city"}],
        "responseFields": [{"name": "id", "type": "int", "sort": {"direction": "asc"}}],
        "options": {"pagination": true, "maxLimit": 5}
    });
    let shanghai = expected(|u| u.city == "Shanghai");
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let api = compile(kind, spec.clone());
        let page2 = call(
            &ctx,
            &api,
            &input(&[
                ("city", text("Shanghai")),
                ("pageNum", text("2")),
                ("pageSize", text("3")),
                ("withTotal", text("true")),
            ]),
        )
        .await
        .unwrap();
        assert_eq!(ids(&page2), shanghai[3..6].to_vec(), "{kind:?}");
        assert_eq!((page2["pageNum"].as_i64(), page2["pageSize"].as_i64()), (Some(2), Some(3)), "{kind:?}");
        assert_eq!(page2["totalCnt"].as_u64(), Some(shanghai.len() as u64), "{kind:?}");
        let first = call(&ctx, &api, &input(&[])).await.unwrap();
        assert_eq!(ids(&first), vec![1, 2, 3, 4, 5], "default page size is capped by maxLimit: {kind:?}");
        assert!(first.get("totalCnt").is_none(), "{kind:?}");
        let too_big = call(&ctx, &api, &input(&[("pageSize", text("6"))])).await.unwrap_err();
        assert_eq!(too_big.code(), "InvalidParameter.pageSize", "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn max_limit_caps_every_unpaginated_result() {
    let spec = json!({
        "mode": "wizard", "table": "users",
        "responseFields": [{"name": "id", "type": "int", "sort": {"direction": "asc"}}],
        "options": {"maxLimit": 7}
    });
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let api = compile(kind, spec.clone());
        assert_eq!(ids(&call(&ctx, &api, &input(&[])).await.unwrap()).len(), 7, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_returns_sql_and_binds_without_a_database() {
    let mut ds = datasource(DatasourceKind::Postgres);
    // Nothing listens here: a dry run must not try.
    ds.connection.port = 1;
    let def = definition(DatasourceKind::Postgres, wizard_on("age", "int", Operator::Ge));
    let api = SqlApi::compile(&def, &ds).unwrap();
    let ctx = sluice_tests::context().await;
    let mut call_input = input(&[("v", text("30"))]);
    call_input.dry_run = true;
    match api.invoke(&ctx.pools, &call_input).await.unwrap() {
        CallOutput::DryRun { dry_run, .. } => {
            assert_eq!(dry_run.sql, r#"SELECT "id" AS "id" FROM "users" WHERE "age" >= $1 ORDER BY "id" LIMIT $2"#);
            assert_eq!(dry_run.to_json()["binds"], json!([30, 1000]));
            assert_eq!(dry_run.plan["mode"], "wizard");
        }
        _ => panic!("dry run touched the database"),
    }
}

/// `sluice_database_errors_total` of datasource `id` and `kind` in the process's metrics
/// (other tests of this binary may add to it meanwhile: compare with `>`).
fn database_errors(id: i64, kind: &str) -> f64 {
    let series = format!(r#"sluice_database_errors_total{{datasource="{id}",kind="{kind}"}} "#);
    let text = calls::metrics::metrics().encode();
    text.lines().find_map(|l| l.strip_prefix(series.as_str())?.parse().ok()).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_queries_time_out_and_database_errors_leak_nothing() {
    let ctx = sluice_tests::context().await;
    for kind in [DatasourceKind::Postgres, DatasourceKind::Mysql] {
        let api = compile(
            kind,
            json!({"mode": "script", "sql": sleep_sql(kind, 5), "responseFields": [{"name": "id", "type": "int"}],
            "options": {"timeoutMs": 300}}),
        );
        let id = datasource(kind).id;
        let (timeouts, failures) = (database_errors(id, "timeout"), database_errors(id, "failed"));
        let err = call(&ctx, &api, &input(&[])).await.unwrap_err();
        assert_eq!((err.code().as_str(), err.status()), ("Timeout", 504), "{kind:?}");
        assert!(database_errors(id, "timeout") > timeouts, "{kind:?}: the timeout is counted for /metrics");

        let broken = compile(
            kind,
            json!({"mode": "script", "sql": "SELECT no_such_column AS id FROM users",
            "responseFields": [{"name": "id", "type": "int"}]}),
        );
        let err = call(&ctx, &broken, &input(&[])).await.unwrap_err();
        assert_eq!((err.code().as_str(), err.status()), ("InternalError.Database", 500), "{kind:?}");
        assert!(!err.message.contains("no_such_column"), "database detail leaked: {}", err.message);
        assert!(database_errors(id, "failed") > failures, "{kind:?}: the failure is counted for /metrics");
        // The pool still serves after both failures.
        let ok = compile(kind, wizard_on("age", "int", Operator::Eq));
        assert!(call(&ctx, &ok, &input(&[("v", text("39"))])).await.is_ok(), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_are_read_only() {
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let api = compile(kind, json!({"mode": "script", "sql": "DELETE FROM canary", "responseFields": []}));
        let err = call(&ctx, &api, &input(&[])).await.unwrap_err();
        assert_eq!(err.code(), "InternalError.Database", "{kind:?}: a write ran");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn script_mode_renders_dynamic_sql_with_joins_and_lists() {
    let spec = json!({
        "mode": "script",
        "sql": "<select>SELECT u.id AS id, SUM(o.amount) AS total FROM users u JOIN orders o ON o.user_id = u.id\n<where>\n  <if test=\"city != null\">AND u.city = #{city}</if>\n  <if test=\"ids != null and ids.size() > 0\">AND u.id IN (#{ids})</if>\n</where>\nGROUP BY u.id ORDER BY ${sort} DESC</select>",
        "requestParams": [
            {"name": "city", "type": "string"},
            {"name": "ids", "type": "array<int>"},
            {"name": "sort", "type": "identifier", "allowedValues": ["id", "total"], "default": "id"}
        ],
        "responseFields": [{"name": "id", "type": "int"}, {"name": "total", "type": "decimal"}]
    });
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let api = compile(kind, spec.clone());
        let data = call(&ctx, &api, &input(&[("city", text("Beijing")), ("ids", text("4,8,12,13"))])).await.unwrap();
        // Even ids have orders of id*3.00 + id*0.50.
        assert_eq!(
            data["rows"],
            json!([{"id": 12, "total": "42"}, {"id": 8, "total": "28"}, {"id": 4, "total": "14"}]),
            "{kind:?}"
        );
        let by_total = call(&ctx, &api, &input(&[("sort", text("total"))])).await.unwrap();
        assert_eq!(by_total["rows"][0]["id"], 48, "{kind:?}");
        let refused = call(&ctx, &api, &input(&[("sort", text("id; DROP TABLE users"))])).await.unwrap_err();
        assert_eq!(refused.code(), "InvalidParameter.sort", "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn native_mode_runs_the_regenerated_query_under_the_cap() {
    let spec = json!({"mode": "native", "tables": ["users", "orders"], "options": {"maxLimit": 3}});
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let api = compile(kind, spec.clone());
        let sql = "SELECT u.city AS city, COUNT(*) AS n FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.city ORDER BY u.city";
        let data = call(&ctx, &api, &input(&[("sql", text(sql))])).await.unwrap();
        assert_eq!(data["rows"], json!([{"city": "Beijing", "n": 24}, {"city": "Shanghai", "n": 24}]), "{kind:?}");
        let capped =
            call(&ctx, &api, &input(&[("sql", text("SELECT id FROM users ORDER BY id LIMIT 100"))])).await.unwrap();
        assert_eq!(ids(&capped), vec![1, 2, 3], "{kind:?}");
        let refused = call(&ctx, &api, &input(&[("sql", text("SELECT token FROM secret"))])).await.unwrap_err();
        assert_eq!((refused.code().as_str(), refused.status()), ("Forbidden.Query", 403), "{kind:?}");
    }
}
