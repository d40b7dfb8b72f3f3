//! Nulls in typed parameters (`tests/corpus/typed_nulls.jsonl`), on each database.
//!
//! A `null` item in a list parameter — a JSON array, bracketed text or comma-separated text,
//! for every item type, IN and NOT IN, wizard and script — is refused as 400
//! `InvalidParameter.<name>` naming the item, before any database is reached: an IN list with
//! a NULL matches nothing under NOT IN, and PostgreSQL refused the untyped NULL with a 500.
//! A `null` scalar is the parameter left out: it drops out of a wizard query, binds a NULL
//! of the parameter's own type in a script, and is `MissingParameter` when required.

use std::collections::HashMap;

use catalog::model::{Datasource, DatasourceKind};
use plugins::sql::SqlApi;
use plugins::sql::value::RawParam;
use plugins::{ApiError, PluginContext};
use plugins::{Call, CallOutput};
use serde_json::{Value as Json, json};
use sluice_tests::{USER_COUNT, datasource};

/// One line of the corpus.
struct Case {
    ty: String,
    column: String,
    value: Json,
    required: bool,
    expect: Json,
}

fn corpus() -> Vec<Case> {
    include_str!("../corpus/typed_nulls.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Json>(l).unwrap_or_else(|e| panic!("corpus line {l}: {e}")))
        .filter(|case| case.get("type").is_some())
        .map(|case| Case {
            ty: case["type"].as_str().expect("type").to_owned(),
            column: case["column"].as_str().expect("column").to_owned(),
            value: case["value"].clone(),
            required: case["required"].as_bool().unwrap_or(false),
            expect: case["expect"].clone(),
        })
        .collect()
}

/// The ways one corpus value reaches an API: a JSON body value, and a string also as
/// query-string text.
fn forms(value: &Json) -> Vec<RawParam> {
    let mut forms = vec![RawParam::Json(value.clone())];
    if let Json::String(text) = value {
        forms.push(RawParam::Text(text.clone()));
    }
    forms
}

fn compile_on(ds: &Datasource, mut spec: Json) -> SqlApi {
    spec["datasourceId"] = json!(ds.id);
    let def = serde_json::from_value(spec).expect("test definition parses");
    SqlApi::compile(&def, ds).unwrap_or_else(|e| panic!("{:?}: {e}", ds.kind))
}

fn param(case: &Case) -> Json {
    json!({"name": "v", "type": case.ty, "column": case.column, "required": case.required})
}

fn wizard(case: &Case, operator: &str) -> Json {
    let mut p = param(case);
    p["operator"] = json!(operator);
    json!({
        "mode": "wizard", "table": "users", "requestParams": [p],
        "responseFields": [{"name": "id", "type": "int", "sort": {"direction": "asc"}}],
        "options": {"maxLimit": 1000}
    })
}

fn script(case: &Case, sql: &str) -> Json {
    json!({
        "mode": "script", "sql": sql, "requestParams": [param(case)],
        "responseFields": [{"name": "id", "type": "int"}], "options": {"maxLimit": 1000}
    })
}

/// Every API shape a list parameter can take: IN and NOT IN, wizard and script (`#{v}`
/// expanded, and `<foreach>`).
fn list_apis(case: &Case) -> Vec<(&'static str, Json)> {
    let c = &case.column;
    let each = "<foreach collection=\"v\" item=\"x\" open=\"(\" separator=\",\" close=\")\">#{x}</foreach>";
    vec![
        ("wizard IN", wizard(case, "IN")),
        ("wizard NOT IN", wizard(case, "NOT IN")),
        ("script IN", script(case, &format!("SELECT id FROM users WHERE {c} IN (#{{v}}) ORDER BY id"))),
        ("script NOT IN", script(case, &format!("SELECT id FROM users WHERE {c} NOT IN (#{{v}}) ORDER BY id"))),
        ("script foreach IN", script(case, &format!("SELECT id FROM users WHERE {c} IN {each} ORDER BY id"))),
        ("script foreach NOT IN", script(case, &format!("SELECT id FROM users WHERE {c} NOT IN {each} ORDER BY id"))),
    ]
}

async fn call(ctx: &PluginContext, api: &SqlApi, params: Vec<(&str, RawParam)>) -> Result<Vec<i64>, ApiError> {
    let input = Call {
        params: params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<HashMap<_, _>>(),
        dry_run: false,
        clearance: None,
        ..Call::default()
    };
    match api.invoke(&ctx.pools, &input).await? {
        CallOutput::Data { data, .. } => {
            let data: Json = serde_json::from_slice(&data).expect("data is JSON");
            Ok(data["rows"].as_array().expect("rows").iter().map(|r| r["id"].as_i64().expect("id")).collect())
        }
        _ => panic!("unexpected dry run"),
    }
}

fn assert_null_item(got: Result<Vec<i64>, ApiError>, item: u64, what: &str) {
    let err = got.err().unwrap_or_else(|| panic!("{what}: answered rows instead of refusing"));
    assert_eq!((err.code().as_str(), err.status()), ("InvalidParameter.v", 400), "{what}: {err}");
    assert!(err.message.contains(&format!("item {item} of the list is null")), "{what}: {}", err.message);
}

async fn null_items_are_refused_on(ds: &Datasource) -> usize {
    let ctx = sluice_tests::context().await;
    let mut checked = 0;
    for case in corpus() {
        let Some(item) = case.expect.get("null_item").and_then(Json::as_u64) else {
            continue;
        };
        for (shape, spec) in list_apis(&case) {
            let api = compile_on(ds, spec);
            for raw in forms(&case.value) {
                let what = format!("{:?} {shape} {} {raw:?}", ds.kind, case.ty);
                assert_null_item(call(&ctx, &api, vec![("v", raw)]).await, item, &what);
                checked += 1;
            }
        }
    }
    checked
}

async fn null_items_hold_on(kind: DatasourceKind) {
    let checked = null_items_are_refused_on(&datasource(kind)).await;
    assert!(checked >= 250, "{kind:?}: only {checked} calls checked");
}

#[tokio::test(flavor = "multi_thread")]
async fn null_list_items_are_invalid_parameters_on_sqlite() {
    null_items_hold_on(DatasourceKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn null_list_items_are_invalid_parameters_on_postgres() {
    null_items_hold_on(DatasourceKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn null_list_items_are_invalid_parameters_on_mariadb() {
    null_items_hold_on(DatasourceKind::Mysql).await;
}

/// With nothing listening at the datasource's address, any call that reached for the
/// database would answer `InternalError.Database`: the refusals come from the parse stage.
#[tokio::test(flavor = "multi_thread")]
async fn null_list_items_never_reach_the_database() {
    for kind in [DatasourceKind::Postgres, DatasourceKind::Mysql] {
        let mut unreachable = datasource(kind);
        unreachable.connection.port = 1;
        unreachable.id += 100;
        null_items_are_refused_on(&unreachable).await;
    }
}

async fn null_scalars_hold_on(kind: DatasourceKind) {
    let ctx = sluice_tests::context().await;
    let all: Vec<i64> = (1..=USER_COUNT).collect();
    let ds = datasource(kind);
    let mut checked = 0;
    for case in corpus() {
        let Some(expect) = case.expect.as_str() else {
            continue;
        };
        let c = &case.column;
        let (op, rhs) = if case.ty.starts_with("array<") { ("IN", "(#{v})") } else { ("=", "#{v}") };
        let guarded =
            format!("SELECT id FROM users <where><if test=\"v != null\">{c} {op} {rhs}</if></where> ORDER BY id");
        // MyBatis semantics: an absent parameter binds NULL, here typed as declared.
        let unguarded = format!("SELECT id FROM users WHERE #{{v}} IS NULL OR {c} {op} {rhs} ORDER BY id");
        let apis = [
            ("wizard", wizard(&case, op)),
            ("script <if>", script(&case, &guarded)),
            ("script unguarded", script(&case, &unguarded)),
        ];
        for (shape, spec) in apis {
            let api = compile_on(&ds, spec);
            for params in [vec![("v", RawParam::Json(case.value.clone()))], vec![]] {
                let what = format!("{kind:?} {shape} {} {params:?}", case.ty);
                let got = call(&ctx, &api, params).await;
                match expect {
                    "absent" => assert_eq!(got.map_err(|e| e.to_string()), Ok(all.clone()), "{what}"),
                    "missing" => {
                        let err = got.expect_err(&what);
                        assert_eq!((err.code().as_str(), err.status()), ("MissingParameter.v", 400), "{what}");
                    }
                    other => panic!("corpus: unknown expectation {other:?}"),
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 50, "{kind:?}: only {checked} calls checked");
}

#[tokio::test(flavor = "multi_thread")]
async fn null_scalars_are_absent_and_bind_typed_nulls_on_sqlite() {
    null_scalars_hold_on(DatasourceKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn null_scalars_are_absent_and_bind_typed_nulls_on_postgres() {
    null_scalars_hold_on(DatasourceKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn null_scalars_are_absent_and_bind_typed_nulls_on_mariadb() {
    null_scalars_hold_on(DatasourceKind::Mysql).await;
}
