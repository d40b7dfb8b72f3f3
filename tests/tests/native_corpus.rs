//! The native-mode corpora through the whole pipeline on every database: each hostile query
//! (`plugins/tests/corpus/native_bypass.txt`) is refused before it reaches the database, and
//! each legitimate one (`native_allowed.txt`) runs, as regenerated SQL, and answers.

use std::collections::HashMap;

use catalog::model::DatasourceKind;
use plugins::PluginContext;
use plugins::sql::SqlApi;
use plugins::sql::value::RawParam;
use plugins::{Call, CallOutput};
use serde_json::json;
use sluice_tests::{KINDS, datasource};

/// The queries of a corpus file that apply to `kind`, with `\n` turned into line breaks.
fn corpus(text: &str, kind: DatasourceKind) -> Vec<String> {
    let own = match kind {
        DatasourceKind::Postgres => "pg:",
        DatasourceKind::Mysql => "mysql:",
        DatasourceKind::Sqlite => "sqlite:",
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| match l.split_once(':') {
            Some((prefix, rest)) if ["pg", "mysql", "sqlite"].contains(&prefix) => {
                (format!("{prefix}:") == own).then(|| rest.trim().to_owned())
            }
            _ => Some(l.to_owned()),
        })
        .map(|l| l.replace("\\n", "\n"))
        .collect()
}

fn native_api(kind: DatasourceKind) -> SqlApi {
    let def = serde_json::from_value(json!({
        "datasourceId": datasource(kind).id, "mode": "native", "tables": ["users", "orders"],
        "options": {"maxLimit": 50}
    }))
    .expect("definition");
    SqlApi::compile(&def, &datasource(kind)).expect("compiles")
}

async fn run(ctx: &PluginContext, api: &SqlApi, sql: &str) -> Result<Vec<u8>, String> {
    let input = Call {
        params: HashMap::from([("sql".to_owned(), RawParam::Text(sql.to_owned()))]),
        dry_run: false,
        clearance: None,
        ..Call::default()
    };
    match api.invoke(&ctx.pools, &input).await {
        Ok(CallOutput::Data { data, .. }) => Ok(data),
        Ok(_) => panic!("dry run"),
        Err(e) => Err(format!("{}: {}", e.code(), e.message)),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_native_queries_never_reach_the_database() {
    let ctx = sluice_tests::context().await;
    let mut refused = 0;
    for kind in KINDS {
        let api = native_api(kind);
        for sql in corpus(include_str!("../../plugins/tests/corpus/native_bypass.txt"), kind) {
            match run(&ctx, &api, &sql).await {
                Ok(data) => panic!("{kind:?} ran a hostile query: {sql}\nanswer: {}", String::from_utf8_lossy(&data)),
                Err(code) => {
                    assert!(
                        code.starts_with("Forbidden.Query") || code.starts_with("InvalidParameter.sql"),
                        "{kind:?}: refused for the wrong reason ({code}): {sql}"
                    );
                    assert!(!code.contains("top-secret"), "{kind:?}: error leaked data: {code}");
                }
            }
            refused += 1;
        }
    }
    assert!(refused >= 300, "only {refused} hostile queries were tried across the three databases");
}

#[tokio::test(flavor = "multi_thread")]
async fn legitimate_native_queries_run_on_every_database() {
    let ctx = sluice_tests::context().await;
    for kind in KINDS {
        let api = native_api(kind);
        let database = datasource(kind).connection.database;
        let queries = corpus(include_str!("../../plugins/tests/corpus/native_allowed.txt"), kind);
        assert!(queries.len() >= 25, "{kind:?}: {} allowed queries", queries.len());
        for sql in queries {
            // The corpus names the MySQL database `app`; here it is the fixture's.
            let sql = if kind == DatasourceKind::Mysql { sql.replace("app.", &format!("{database}.")) } else { sql };
            let data = run(&ctx, &api, &sql).await.unwrap_or_else(|e| panic!("{kind:?} refused or failed: {sql}\n{e}"));
            let data: serde_json::Value = serde_json::from_slice(&data).expect("JSON");
            let rows = data["rows"].as_array().expect("rows").len();
            assert!(rows <= 50, "{kind:?}: the row cap did not hold ({rows} rows): {sql}");
        }
    }
}
