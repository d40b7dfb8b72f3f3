//! Statements the database refuses, on each database.
//!
//! - Native queries that pass Sluice's checker but not the database
//!   (`tests/corpus/native_rejected.txt`) are the caller's mistake: 400
//!   `InvalidParameter.sql` with a fixed reason, never the database's message.
//! - In script mode (`tests/corpus/rejected_values.jsonl`) a refused value is 400
//!   `InvalidParameter.<name>` only when it can be pinned on the one value the caller sent;
//!   otherwise the SQL is the template's and the answer stays 500 `InternalError.Database`.
//! - Refusals log at WARN at most, once per interval per API, with the database's message;
//!   a database that cannot be reached is still a 500.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use catalog::model::DatasourceKind;
use plugins::sql::SqlApi;
use plugins::sql::value::RawParam;
use plugins::{ApiError, PluginContext};
use plugins::{Call, CallOutput};
use serde_json::{Value as Json, json};
use sluice_tests::{KINDS, datasource};
use tracing_subscriber::layer::SubscriberExt;

fn short(kind: DatasourceKind) -> &'static str {
    match kind {
        DatasourceKind::Postgres => "pg",
        DatasourceKind::Mysql => "mysql",
        DatasourceKind::Sqlite => "sqlite",
    }
}

fn applies(databases: &str, kind: DatasourceKind) -> bool {
    databases.split(',').map(str::trim).any(|d| d == "all" || d == short(kind))
}

/// `(reason, sql)` of the native corpus lines for `kind`.
fn native_corpus(kind: DatasourceKind) -> Vec<(String, String)> {
    include_str!("../corpus/native_rejected.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.splitn(3, " | ");
            let (databases, reason, sql) = (parts.next()?, parts.next()?, parts.next()?);
            applies(databases, kind).then(|| (reason.to_owned(), sql.to_owned()))
        })
        .collect()
}

fn compile(kind: DatasourceKind, mut spec: Json) -> SqlApi {
    let ds = datasource(kind);
    spec["datasourceId"] = json!(ds.id);
    let def = serde_json::from_value(spec).expect("test definition parses");
    SqlApi::compile(&def, &ds).unwrap_or_else(|e| panic!("{kind:?}: {e}"))
}

fn native_api(kind: DatasourceKind) -> SqlApi {
    compile(kind, json!({"mode": "native", "tables": ["users", "orders"], "options": {"maxLimit": 50}}))
}

async fn call(ctx: &PluginContext, api: &SqlApi, params: Vec<(String, RawParam)>) -> Result<Json, ApiError> {
    let input = Call {
        params: params.into_iter().collect::<HashMap<_, _>>(),
        dry_run: false,
        clearance: None,
        ..Call::default()
    };
    match api.invoke(&ctx.pools, &input).await? {
        CallOutput::Data { data, .. } => Ok(serde_json::from_slice(&data).expect("data is JSON")),
        _ => panic!("unexpected dry run"),
    }
}

fn sql(query: &str) -> Vec<(String, RawParam)> {
    vec![("sql".to_owned(), RawParam::Text(query.to_owned()))]
}

async fn native_rejections_hold_on(kind: DatasourceKind) {
    let ctx = sluice_tests::context().await;
    let api = native_api(kind);
    let cases = native_corpus(kind);
    assert!(cases.len() >= 25, "{kind:?}: only {} corpus lines", cases.len());
    let mut wrong = Vec::new();
    for (reason, query) in &cases {
        let want = ("InvalidParameter.sql".to_owned(), 400, format!("the database rejected the query: {reason}"));
        match call(&ctx, &api, sql(query)).await {
            Err(e) if (e.code().clone(), e.status(), e.message.clone()) == want => {}
            Err(e) => wrong.push(format!("{query}\n    got {e}\n    want {}", want.2)),
            Ok(data) => wrong.push(format!("{query}\n    answered {data}")),
        }
    }
    assert!(wrong.is_empty(), "{kind:?}: {} of {} wrong:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn native_queries_the_database_refuses_are_invalid_parameters_on_sqlite() {
    native_rejections_hold_on(DatasourceKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn native_queries_the_database_refuses_are_invalid_parameters_on_postgres() {
    native_rejections_hold_on(DatasourceKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn native_queries_the_database_refuses_are_invalid_parameters_on_mariadb() {
    native_rejections_hold_on(DatasourceKind::Mysql).await;
}

async fn value_rejections_hold_on(kind: DatasourceKind) -> usize {
    let ctx = sluice_tests::context().await;
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in include_str!("../corpus/rejected_values.jsonl").lines().filter(|l| !l.trim().is_empty()) {
        let case: Json = serde_json::from_str(line).unwrap_or_else(|e| panic!("corpus line {line}: {e}"));
        let Some(databases) = case["databases"].as_array() else {
            continue;
        };
        let databases: Vec<&str> = databases.iter().filter_map(Json::as_str).collect();
        if !applies(&databases.join(","), kind) {
            continue;
        }
        let api = compile(
            kind,
            json!({"mode": "script", "sql": case["sql"], "requestParams": case["params"],
                   "responseFields": [{"name": "id", "type": "int"}]}),
        );
        let send = case["send"].as_object().expect("send").iter();
        let params = send.map(|(k, v)| (k.clone(), RawParam::Json(v.clone()))).collect();
        let expect = case["expect"].as_str().expect("expect");
        let got = call(&ctx, &api, params).await;
        let ok = match (&got, case["reason"].as_str()) {
            (Err(e), Some(reason)) => {
                let name = expect.strip_prefix("InvalidParameter.").unwrap_or(expect);
                let message = format!("parameter `{name}`: the database rejected the value: {reason}");
                e.code() == expect && e.status() == 400 && e.message == message
            }
            (Err(e), None) => e.code() == expect && e.status() == 500,
            (Ok(_), _) => false,
        };
        if !ok {
            wrong.push(format!("{}\n    got {got:?}\n    want {expect} {}", case["sql"], case["reason"]));
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "{kind:?}: {} wrong:\n{}", wrong.len(), wrong.join("\n"));
    checked
}

#[tokio::test(flavor = "multi_thread")]
async fn script_values_the_database_refuses_are_pinned_only_when_unambiguous_on_sqlite() {
    assert!(value_rejections_hold_on(DatasourceKind::Sqlite).await >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn script_values_the_database_refuses_are_pinned_only_when_unambiguous_on_postgres() {
    assert!(value_rejections_hold_on(DatasourceKind::Postgres).await >= 15);
}

#[tokio::test(flavor = "multi_thread")]
async fn script_values_the_database_refuses_are_pinned_only_when_unambiguous_on_mariadb() {
    assert!(value_rejections_hold_on(DatasourceKind::Mysql).await >= 4);
}

/// Log events of this crate's plugins, as `(level, fields)`.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<(tracing::Level, String)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if !event.metadata().target().starts_with("plugins") {
            return;
        }
        let mut fields = String::new();
        event.record(&mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
            fields.push_str(&format!("{}={value:?} ", field.name()));
        });
        self.0.lock().expect("log capture").push((*event.metadata().level(), fields));
    }
}

impl Captured {
    fn take(&self) -> Vec<(tracing::Level, String)> {
        std::mem::take(&mut *self.0.lock().expect("log capture"))
    }
}

/// Current-thread runtime: the subscriber set here sees every event `invoke` logs.
#[tokio::test]
async fn refusals_log_at_warn_once_per_interval_and_failures_at_error() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(captured.clone()));
    let ctx = sluice_tests::context().await;
    let database_words = [
        (DatasourceKind::Sqlite, "1st ORDER BY term out of range"),
        (DatasourceKind::Postgres, "ORDER BY position 7 is not in select list"),
        (DatasourceKind::Mysql, "Unknown column '7'"),
    ];
    for (kind, words) in database_words {
        let api = native_api(kind);
        for _ in 0..20 {
            let err = call(&ctx, &api, sql("SELECT id FROM users ORDER BY 7")).await.unwrap_err();
            assert_eq!((err.code().as_str(), err.status()), ("InvalidParameter.sql", 400), "{kind:?}");
            assert!(!err.message.contains(words), "{kind:?}: the database's message reached the caller");
        }
        let events = captured.take();
        assert_eq!(events.len(), 1, "{kind:?}: 20 refusals, one line expected: {events:#?}");
        let (level, fields) = &events[0];
        assert_eq!(*level, tracing::Level::WARN, "{kind:?}: {fields}");
        assert!(fields.contains(words), "{kind:?}: the log lacks the database's message: {fields}");
        assert!(fields.contains("suppressed=0"), "{kind:?}: {fields}");
    }
    // A template the database refuses is the definition's fault: 500, logged at ERROR.
    for kind in KINDS {
        let broken = compile(
            kind,
            json!({"mode": "script", "sql": "SELECT no_such_column AS id FROM users",
                   "responseFields": [{"name": "id", "type": "int"}]}),
        );
        let err = call(&ctx, &broken, vec![]).await.unwrap_err();
        assert_eq!((err.code().as_str(), err.status()), ("InternalError.Database", 500), "{kind:?}");
        let levels: Vec<_> = captured.take().into_iter().map(|(level, _)| level).collect();
        assert_eq!(levels, vec![tracing::Level::ERROR], "{kind:?}");
    }
}

/// With nothing listening, a native query (even one the database would refuse) is a 500:
/// only the database's refusal of the statement is the caller's mistake. (Each call waits
/// for the pool's acquire timeout, so the databases are tried side by side.)
#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_database_is_still_an_internal_error() {
    let ctx = sluice_tests::context().await;
    let attempt = |kind: DatasourceKind| {
        let ctx = &ctx;
        async move {
            let mut ds = datasource(kind);
            ds.connection.port = 1;
            ds.id += 100;
            let def = serde_json::from_value(json!({"datasourceId": ds.id, "mode": "native", "tables": ["users"]}))
                .expect("definition");
            let api = SqlApi::compile(&def, &ds).expect("compiles");
            (kind, call(ctx, &api, sql("SELECT id FROM users ORDER BY 7")).await)
        }
    };
    let (pg, mysql) = tokio::join!(attempt(DatasourceKind::Postgres), attempt(DatasourceKind::Mysql));
    for (kind, answer) in [pg, mysql] {
        let err = answer.expect_err("no database answered");
        assert_eq!((err.code().as_str(), err.status()), ("InternalError.Database", 500), "{kind:?}");
    }
}
