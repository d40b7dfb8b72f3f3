//! Connections kept between calls (`plugins::sql::execute::WarmPool`): on every database, a
//! pool of one connection serves many concurrent callers in turn, and whatever a call leaves
//! behind (rows past the cap, a timeout, an error) never reaches the next call.

use std::collections::HashMap;
use std::sync::Arc;

use catalog::model::{DatasourceKind, Operator};
use plugins::sql::SqlApi;
use plugins::sql::value::RawParam;
use plugins::{ApiError, PluginContext};
use plugins::{Call, CallOutput};
use serde_json::{Value as Json, json};
use sluice_tests::{KINDS, datasource, sleep_sql, users};

/// The fixture's datasource with a pool of a single connection.
fn compile_on_one_connection(kind: DatasourceKind, spec: Json) -> SqlApi {
    let mut ds = datasource(kind);
    ds.connection.pool_size = Some(1);
    let mut spec = spec;
    spec["datasourceId"] = json!(ds.id);
    let definition = serde_json::from_value(spec).expect("test definition parses");
    SqlApi::compile(&definition, &ds).unwrap_or_else(|e| panic!("{kind:?}: {e}"))
}

fn by_id() -> Json {
    json!({
        "mode": "wizard", "table": "users",
        "requestParams": [{"name": "id", "type": "int", "column": "id", "operator": Operator::Eq.as_sql(), "required": true}],
        "responseFields": [{"name": "id", "type": "int"}, {"name": "name", "type": "string"}],
        "options": {"maxLimit": 1}
    })
}

fn id_input(id: i64) -> Call {
    Call {
        params: HashMap::from([("id".to_owned(), RawParam::Text(id.to_string()))]),
        dry_run: false,
        clearance: None,
        ..Call::default()
    }
}

async fn call(ctx: &PluginContext, api: &SqlApi, input: &Call) -> Result<Json, ApiError> {
    match api.invoke(&ctx.pools, input).await? {
        CallOutput::Data { data, .. } => Ok(serde_json::from_slice(&data).expect("data is JSON")),
        _ => panic!("unexpected dry run"),
    }
}

/// The one row of a lookup by id: `[id, name]`.
fn row_of(data: &Json) -> (i64, String) {
    let rows = data["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{data}");
    (rows[0]["id"].as_i64().expect("id"), rows[0]["name"].as_str().expect("name").to_owned())
}

fn name_of(id: i64) -> String {
    users().into_iter().find(|u| u.id == id).expect("fixture user").name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_serves_concurrent_callers_in_turn() {
    for kind in KINDS {
        let ctx = Arc::new(sluice_tests::context().await);
        let api = Arc::new(compile_on_one_connection(kind, by_id()));
        let ids: Vec<i64> = users().iter().map(|u| u.id).take(12).collect();
        // 3 rounds × 12 callers at once on one connection: each waits its turn (well within the
        // 5 s acquire timeout) and gets its own row.
        for _ in 0..3 {
            let calls: Vec<_> = ids
                .iter()
                .map(|&id| {
                    let (ctx, api) = (Arc::clone(&ctx), Arc::clone(&api));
                    tokio::spawn(async move { (id, call(&ctx, &api, &id_input(id)).await) })
                })
                .collect();
            for handle in calls {
                let (id, answer) = handle.await.expect("call task");
                let data = answer.unwrap_or_else(|e| panic!("{kind:?}: call for {id} failed: {e:?}"));
                assert_eq!(row_of(&data), (id, name_of(id)), "{kind:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn what_a_call_leaves_behind_never_reaches_the_next() {
    for kind in KINDS {
        let ctx = sluice_tests::context().await;
        let lookup = compile_on_one_connection(kind, by_id());
        // Rows past the cap: the script has no LIMIT, the API returns 2 of them.
        let capped = compile_on_one_connection(
            kind,
            json!({"mode": "script", "sql": "SELECT id FROM users ORDER BY id",
                   "responseFields": [{"name": "id", "type": "int"}], "options": {"maxLimit": 2}}),
        );
        let broken = compile_on_one_connection(
            kind,
            json!({"mode": "script", "sql": "SELECT no_such_column AS id FROM users",
                   "responseFields": [{"name": "id", "type": "int"}]}),
        );
        let ids: Vec<i64> = users().iter().map(|u| u.id).collect();
        for (round, &id) in ids.iter().cycle().take(10).enumerate() {
            let first_two = call(
                &ctx,
                &capped,
                &Call { params: HashMap::new(), dry_run: false, clearance: None, ..Call::default() },
            )
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
            assert_eq!(first_two["rows"].as_array().map(Vec::len), Some(2), "{kind:?} round {round}");
            assert_eq!(row_of(&call(&ctx, &lookup, &id_input(id)).await.expect("lookup")), (id, name_of(id)));
            let err = call(&ctx, &broken, &id_input(id)).await.unwrap_err();
            assert_eq!(err.code(), "InternalError.Database", "{kind:?}");
            assert_eq!(row_of(&call(&ctx, &lookup, &id_input(id)).await.expect("lookup")), (id, name_of(id)));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_connection_is_not_handed_to_the_next_call() {
    for kind in [DatasourceKind::Postgres, DatasourceKind::Mysql] {
        let ctx = sluice_tests::context().await;
        let slow = compile_on_one_connection(
            kind,
            json!({"mode": "script", "sql": sleep_sql(kind, 2), "responseFields": [{"name": "id", "type": "int"}],
                   "options": {"timeoutMs": 200}}),
        );
        let lookup = compile_on_one_connection(kind, by_id());
        let id = users()[3].id;
        assert_eq!(row_of(&call(&ctx, &lookup, &id_input(id)).await.expect("lookup")), (id, name_of(id)));
        let err = call(&ctx, &slow, &id_input(id)).await.unwrap_err();
        assert_eq!(err.code(), "Timeout", "{kind:?}");
        // The sleeping connection is closed; the next call gets a fresh one, and its own row.
        assert_eq!(row_of(&call(&ctx, &lookup, &id_input(id)).await.expect("lookup")), (id, name_of(id)));
    }
}

#[test]
fn kept_connections_close_quietly_when_their_runtime_is_gone() {
    for kind in KINDS {
        let lookup = compile_on_one_connection(kind, by_id());
        let id = users()[0].id;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let ctx = runtime.block_on(sluice_tests::context());
        let data = runtime.block_on(call(&ctx, &lookup, &id_input(id))).expect("lookup");
        assert_eq!(row_of(&data), (id, name_of(id)), "{kind:?}");
        drop(runtime);
        // The kept connection goes with the context, outside any runtime: no panic.
        drop(ctx);
    }
}
