//! Criterion benchmarks of the SQL pipeline's CPU stages, and of a whole call on SQLite.
//!
//! - `parse_render/point_lookup`: coerce one parameter and render the wizard statement.
//! - `encode/point_lookup`, `encode/100_rows`: rows already fetched, to JSON bytes (and
//!   `…_masked`: the same with one column masked).
//! - `invoke_sqlite/*`: the whole call (parse → render → execute → encode) on a SQLite file.
//!
//! Run with `cargo bench -p sluice-plugins`; `./scripts/test` runs each once as a smoke test.

use std::collections::HashMap;
use std::hint::black_box;

use catalog::model::{ApiDefinition, ConnectionSettings, Datasource, DatasourceKind, MaskMode, ResultFormat};
use criterion::{Criterion, criterion_group, criterion_main};
use plugins::Call;
use plugins::PluginContext;
use plugins::sql::SqlApi;
use plugins::sql::access::{AccessSettings, DatasetRoot, DatasourceAccess};
use plugins::sql::encode::encode_data;
use plugins::sql::lite::LitePool;
use plugins::sql::mask::Masking;
use plugins::sql::render::RenderedSql;
use plugins::sql::value::{ParamValues, RawParam};
use sqlx::{AssertSqlSafe, Connection, Executor};

const ROWS: i64 = 1000;

/// A directory of its own: the dataset root the benchmark's access policy binds to it.
fn bench_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

fn fixture() -> Datasource {
    let path = bench_dir().join("bench.sqlite");
    let _ = std::fs::remove_file(&path);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display())).await.expect("create");
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age INT, city TEXT)").await.expect("ddl");
        conn.execute("BEGIN").await.expect("begin");
        for id in 1..=ROWS {
            let sql = format!("INSERT INTO users VALUES ({id}, 'user {id}', {}, 'city{}')", 18 + id % 60, id % 10);
            conn.execute(AssertSqlSafe(sql)).await.expect("insert");
        }
        conn.execute("COMMIT").await.expect("commit");
    });
    Datasource {
        id: 1,
        workgroup_id: 1,
        name: "bench".into(),
        kind: DatasourceKind::Sqlite,
        description: String::new(),
        connection: ConnectionSettings { database: path.display().to_string(), ..Default::default() },
    }
}

fn wizard(param_column: &str, op: &str, max_limit: u32) -> ApiDefinition {
    serde_json::from_value(serde_json::json!({
        "datasourceId": 1, "mode": "wizard", "table": "users",
        "requestParams": [{"name": "v", "type": "int", "column": param_column, "operator": op, "required": true}],
        "responseFields": [
            {"name": "id", "type": "int"}, {"name": "name", "type": "string"},
            {"name": "age", "type": "int"}, {"name": "city", "type": "string"}
        ],
        "options": {"maxLimit": max_limit}
    }))
    .expect("definition")
}

fn input(value: &str) -> Call {
    Call {
        params: HashMap::from([("v".to_owned(), RawParam::Text(value.to_owned()))]),
        dry_run: false,
        clearance: None,
        ..Call::default()
    }
}

fn benches(c: &mut Criterion) {
    let ds = fixture();
    let point = SqlApi::compile(&wizard("id", "=", 100), &ds).expect("point lookup compiles");
    let hundred = SqlApi::compile(&wizard("id", ">", 100), &ds).expect("100-row query compiles");

    let mut dry = input("42");
    dry.dry_run = true;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let access = AccessSettings {
        net: Default::default(),
        data_dir: bench_dir().join("data"),
        roots: vec![DatasetRoot { path: bench_dir(), workgroup: Some("bench".into()) }],
        store_url: "sqlite::memory:".into(),
    };
    let ctx = PluginContext::new(runtime.block_on(DatasourceAccess::new(&access, &[(1, "bench".into())])));
    c.bench_function("parse_render/point_lookup", |b| {
        b.iter(|| runtime.block_on(point.invoke(&ctx.pools, black_box(&dry))).expect("dry run"))
    });

    let params = point.definition().request_params.clone();
    c.bench_function("parse/point_lookup", |b| {
        let raw = input("42").params;
        b.iter(|| ParamValues::parse(black_box(&params), black_box(&raw)).expect("parse"))
    });

    for (name, sql) in [
        ("encode/point_lookup", "SELECT id, name, age, city FROM users WHERE id = 42"),
        ("encode/100_rows", "SELECT id, name, age, city FROM users LIMIT 100"),
    ] {
        // Read as SQLite data APIs read them: by a worker of a LitePool.
        let rows = runtime.block_on(async {
            let pool = LitePool::new(ds.connection.database.clone().into(), 1);
            let statement = RenderedSql { sql: sql.into(), binds: Vec::new() };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            pool.run(&statement, None, usize::MAX, deadline).await.expect("rows").rows
        });
        let hints = |_: &str| None;
        c.bench_function(name, |b| {
            let mut out = Vec::with_capacity(16 * 1024);
            b.iter(|| {
                out.clear();
                encode_data(black_box(&rows), ResultFormat::Json, &hints, None, None, &mut out);
                out.len()
            })
        });
        // The same rows as XML and CSV (`docs/formats.md`), against JSON's figure above.
        for (format, label) in [(ResultFormat::Xml, "xml"), (ResultFormat::Csv, "csv")] {
            c.bench_function(&format!("{name}_{label}"), |b| {
                let mut out = Vec::with_capacity(16 * 1024);
                b.iter(|| {
                    out.clear();
                    encode_data(black_box(&rows), format, &hints, None, None, &mut out);
                    out.len()
                })
            });
        }
        // The same rows for a caller who may not see `age`.
        let masking = Masking::by_position(MaskMode::Mask, vec![2]);
        c.bench_function(&format!("{name}_masked"), |b| {
            let mut out = Vec::with_capacity(16 * 1024);
            b.iter(|| {
                out.clear();
                encode_data(black_box(&rows), ResultFormat::Json, &hints, None, Some(&masking), &mut out);
                out.len()
            })
        });
    }

    for (name, api, value) in
        [("invoke_sqlite/point_lookup", &point, "42"), ("invoke_sqlite/100_rows", &hundred, "500")]
    {
        let call = input(value);
        c.bench_function(name, |b| {
            b.iter(|| runtime.block_on(api.invoke(&ctx.pools, black_box(&call))).expect("call"))
        });
    }
    let _ = std::fs::remove_dir_all(bench_dir());
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
