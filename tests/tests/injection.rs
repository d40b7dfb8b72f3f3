//! The injection corpus (`tests/corpus/injection_values.jsonl`, one JSON string per line)
//! through every operator, IN lists, LIKE, pagination and sort parameters, in wizard and
//! script mode, on each database.
//!
//! For each value the API must answer exactly what a hand-written query with the value bound
//! as a plain literal answers (or a typed `InvalidParameter` where the value does not fit the
//! parameter's type), and afterwards every table is as it was: no other statement ran.

use std::collections::HashMap;

use catalog::model::{DatasourceKind, Operator};
use plugins::PluginContext;
use plugins::sql::SqlApi;
use plugins::sql::value::RawParam;
use plugins::{Call, CallOutput};
use serde_json::{Value as Json, json};
use sluice_tests::{USER_COUNT, datasource};
use sqlx::{AssertSqlSafe, Connection, Row};

fn corpus() -> Vec<String> {
    let text = include_str!("../corpus/injection_values.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("corpus line is a JSON string"))
        .collect()
}

fn compile(kind: DatasourceKind, mut spec: Json) -> SqlApi {
    spec["datasourceId"] = json!(datasource(kind).id);
    let def = serde_json::from_value(spec).expect("definition");
    SqlApi::compile(&def, &datasource(kind)).expect("compiles")
}

async fn call(ctx: &PluginContext, api: &SqlApi, params: Vec<(&str, RawParam)>) -> Result<Vec<i64>, String> {
    let input = Call {
        params: params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<HashMap<_, _>>(),
        dry_run: false,
        clearance: None,
        ..Call::default()
    };
    match api.invoke(&ctx.pools, &input).await {
        Ok(CallOutput::Data { data, .. }) => {
            let data: Json = serde_json::from_slice(&data).expect("JSON");
            Ok(data["rows"].as_array().expect("rows").iter().map(|r| r["id"].as_i64().expect("id")).collect())
        }
        Ok(_) => panic!("dry run"),
        Err(e) => Err(e.code()),
    }
}

/// A direct connection for the reference queries and the after-checks.
enum Reference {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
    Mysql(sqlx::MySqlConnection),
}

impl Reference {
    async fn open(kind: DatasourceKind) -> Reference {
        let c = datasource(kind).connection;
        match kind {
            DatasourceKind::Sqlite => {
                Reference::Sqlite(sqlx::SqliteConnection::connect(&format!("sqlite://{}", c.database)).await.unwrap())
            }
            DatasourceKind::Postgres => Reference::Postgres(
                sqlx::PgConnection::connect(&format!("postgres://postgres@127.0.0.1:5432/{}", c.database))
                    .await
                    .unwrap(),
            ),
            DatasourceKind::Mysql => Reference::Mysql(
                sqlx::MySqlConnection::connect(&format!("mysql://root@127.0.0.1:3306/{}", c.database)).await.unwrap(),
            ),
        }
    }

    /// `SELECT id FROM users WHERE name <op> <placeholders>` with `values` bound.
    /// `Err` when the database refuses the value itself (PostgreSQL: a LIKE pattern ending
    /// in a lone escape).
    async fn ids(&mut self, op: Operator, values: &[&str]) -> Result<Vec<i64>, ()> {
        let placeholders = |pg: bool| {
            (1..=values.len()).map(|i| if pg { format!("${i}") } else { "?".to_owned() }).collect::<Vec<_>>().join(", ")
        };
        let rhs = |pg: bool| {
            if op.takes_list() { format!("({})", placeholders(pg)) } else { placeholders(pg) }
        };
        macro_rules! run {
            ($conn:expr, $pg:expr) => {{
                let sql = format!("SELECT id FROM users WHERE name {} {} ORDER BY id", op.as_sql(), rhs($pg));
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for v in values {
                    q = q.bind(v.to_string());
                }
                q.fetch_all(&mut *$conn)
                    .await
                    .map(|rows| rows.iter().map(|r| r.get::<i64, _>(0)).collect())
                    .map_err(|_| ())
            }};
        }
        match self {
            Reference::Sqlite(c) => run!(c, false),
            Reference::Postgres(c) => run!(c, true),
            Reference::Mysql(c) => run!(c, false),
        }
    }

    async fn count(&mut self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match self {
            Reference::Sqlite(c) => sqlx::query(AssertSqlSafe(sql)).fetch_one(c).await.unwrap().get(0),
            Reference::Postgres(c) => sqlx::query(AssertSqlSafe(sql)).fetch_one(c).await.unwrap().get(0),
            Reference::Mysql(c) => sqlx::query(AssertSqlSafe(sql)).fetch_one(c).await.unwrap().get(0),
        }
    }
}

fn string_op(op: Operator) -> Json {
    let ty = if op.takes_list() { "array<string>" } else { "string" };
    json!({
        "mode": "wizard", "table": "users",
        "requestParams": [{"name": "v", "type": ty, "column": "name", "operator": op.as_sql()}],
        "responseFields": [{"name": "id", "type": "int", "sort": {"direction": "asc"}}],
        "options": {"maxLimit": 1000}
    })
}

async fn corpus_holds_on(kind: DatasourceKind) {
    let values = corpus();
    assert!(values.len() >= 300, "the corpus must hold at least 300 values, has {}", values.len());
    let ctx = sluice_tests::context().await;
    let mut reference = Reference::open(kind).await;
    let ops: Vec<(Operator, SqlApi)> = Operator::ALL.into_iter().map(|op| (op, compile(kind, string_op(op)))).collect();
    let by_int = compile(
        kind,
        json!({"mode": "wizard", "table": "users",
        "requestParams": [{"name": "age", "type": "int", "column": "age"}],
        "responseFields": [{"name": "id", "type": "int"}]}),
    );
    let paged = compile(
        kind,
        json!({"mode": "wizard", "table": "users",
        "responseFields": [{"name": "id", "type": "int", "sort": {"direction": "asc"}}],
        "options": {"pagination": true, "maxLimit": 100}}),
    );
    let script = compile(
        kind,
        json!({"mode": "script",
        "sql": "SELECT id FROM users <where><if test=\"v != null\">name = #{v} OR name LIKE #{v}</if></where> ORDER BY ${sort}",
        "requestParams": [{"name": "v", "type": "string"},
                          {"name": "sort", "type": "identifier", "allowedValues": ["id", "age"], "default": "id"}],
        "responseFields": [{"name": "id", "type": "int"}]}),
    );
    let mut checked = 0usize;
    for value in &values {
        let has_nul = value.contains('\0');
        for (op, api) in &ops {
            let raw =
                if op.takes_list() { RawParam::Json(json!([value, "Alice"])) } else { RawParam::Text(value.clone()) };
            let got = call(&ctx, api, vec![("v", raw)]).await;
            if has_nul {
                assert_eq!(got, Err("InvalidParameter.v".to_owned()), "{kind:?} {} {value:?}", op.as_sql());
                continue;
            }
            let bound: Vec<&str> = if op.takes_list() { vec![value.as_str(), "Alice"] } else { vec![value.as_str()] };
            match reference.ids(*op, &bound).await {
                Ok(want) => assert_eq!(got, Ok(want), "{kind:?}: name {} {value:?}", op.as_sql()),
                Err(()) => {
                    assert_eq!(got, Err("InvalidParameter.v".to_owned()), "{kind:?}: name {} {value:?}", op.as_sql())
                }
            }
            checked += 1;
        }
        // A value that is not an integer never reaches SQL as one.
        let int_result = call(&ctx, &by_int, vec![("age", RawParam::Text(value.clone()))]).await;
        match value.trim().parse::<i64>() {
            Ok(_) => assert!(int_result.is_ok(), "{kind:?}: {value:?}"),
            Err(_) => assert_eq!(int_result, Err("InvalidParameter.age".to_owned()), "{kind:?}: {value:?}"),
        }
        for page_param in ["pageNum", "pageSize"] {
            let got = call(&ctx, &paged, vec![(page_param, RawParam::Text(value.clone()))]).await;
            let acceptable = value.trim().parse::<i64>().is_ok_and(|n| (1..=100).contains(&n));
            if !acceptable {
                assert_eq!(got, Err(format!("InvalidParameter.{page_param}")), "{kind:?}: {page_param}={value:?}");
            }
        }
        let sorted = call(&ctx, &script, vec![("sort", RawParam::Text(value.clone()))]).await;
        assert_eq!(sorted, Err("InvalidParameter.sort".to_owned()), "{kind:?}: sort={value:?}");
        if !has_nul {
            let got = call(&ctx, &script, vec![("v", RawParam::Text(value.clone()))]).await;
            match (reference.ids(Operator::Eq, &[value]).await, reference.ids(Operator::Like, &[value]).await) {
                (Ok(mut want), Ok(like)) => {
                    want.extend(like);
                    want.sort();
                    want.dedup();
                    assert_eq!(got, Ok(want), "{kind:?}: script name = {value:?}");
                }
                // The database refuses the pattern: so must the API, without detail, naming
                // `v` (the one value the call binds) as the wizard's own check does.
                _ => assert_eq!(got, Err("InvalidParameter.v".to_owned()), "{kind:?}: script {value:?}"),
            }
        }
    }
    assert!(checked >= 3000, "{kind:?}: only {checked} comparisons ran");
    assert_eq!(reference.count("canary").await, 1, "{kind:?}: canary changed");
    assert_eq!(reference.count("users").await, USER_COUNT, "{kind:?}: users changed");
    assert_eq!(reference.count("secret").await, 1, "{kind:?}: secret changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn injection_corpus_is_inert_on_sqlite() {
    corpus_holds_on(DatasourceKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn injection_corpus_is_inert_on_postgres() {
    corpus_holds_on(DatasourceKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn injection_corpus_is_inert_on_mariadb() {
    corpus_holds_on(DatasourceKind::Mysql).await;
}
