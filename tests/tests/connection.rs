//! The datasource connection test the management API calls: it passes for the fixtures and
//! fails with one of three reasons, never the driver's text.

use std::time::Duration;

use catalog::model::DatasourceKind;
use plugins::sql::execute::{ConnectionProblem, test_connection};
use sluice_tests::{KINDS, datasource, fixture_access};
use sqlx::{Connection, Executor};

const WITHIN: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread")]
async fn reachable_datasources_pass_the_connection_test() {
    let access = fixture_access().await;
    for kind in KINDS {
        let ds = datasource(kind);
        assert_eq!(test_connection(&ds, &access, WITHIN).await, Ok(()), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_say_only_which_kind_of_failure() {
    let access = fixture_access().await;
    let mut closed_port = datasource(DatasourceKind::Postgres);
    closed_port.connection.port = 1;
    assert_eq!(test_connection(&closed_port, &access, WITHIN).await, Err(ConnectionProblem::CannotConnect));

    let mut wrong_db = datasource(DatasourceKind::Mysql);
    wrong_db.connection.database = "no_such_database_here".into();
    assert!(test_connection(&wrong_db, &access, WITHIN).await.is_err());

    let mut wrong_password = datasource(DatasourceKind::Mysql);
    wrong_password.connection.username = "no_such_user".into();
    wrong_password.connection.password = Some("wrong".into());
    assert_eq!(test_connection(&wrong_password, &access, WITHIN).await, Err(ConnectionProblem::AuthenticationFailed));

    // Outside the dataset directories, existing or not: the same answer.
    for path in ["/nonexistent/dir/x.sqlite", "/etc/hostname", "/etc/passwd"] {
        let mut outside = datasource(DatasourceKind::Sqlite);
        outside.connection.database = path.into();
        assert_eq!(test_connection(&outside, &access, WITHIN).await, Err(ConnectionProblem::NotAllowed), "{path}");
    }
    let mut missing = datasource(DatasourceKind::Sqlite);
    missing.connection.database = "missing.sqlite".into();
    assert_eq!(test_connection(&missing, &access, WITHIN).await, Err(ConnectionProblem::CannotConnect));

    // Another host than the allowed loopback address.
    let mut private = datasource(DatasourceKind::Postgres);
    private.connection.host = "10.0.0.7".into();
    assert_eq!(test_connection(&private, &access, WITHIN).await, Err(ConnectionProblem::NotAllowed));
    private.connection.host = "localhost".into();
    assert_eq!(test_connection(&private, &access, WITHIN).await, Err(ConnectionProblem::NotAllowed));
}

/// A database that holds a Sluice metadata store is refused when a connection opens, wherever
/// it is: a copy of the store's SQLite file in a dataset directory, a PostgreSQL database
/// with the store's tables.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_holding_a_sluice_store_is_never_a_datasource() {
    let access = fixture_access().await;
    let sqlite = datasource(DatasourceKind::Sqlite);
    let copy = std::path::Path::new(&sqlite.connection.database).with_file_name("store_copy.sqlite");
    let _ = std::fs::remove_file(&copy);
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", copy.display())).await.unwrap();
    conn.execute("CREATE TABLE sluice_store (id INTEGER PRIMARY KEY)").await.unwrap();
    conn.close().await.unwrap();
    let mut store_copy = sqlite.clone();
    store_copy.connection.database = copy.display().to_string();
    assert_eq!(test_connection(&store_copy, &access, WITHIN).await, Err(ConnectionProblem::NotAllowed));

    let db = "sluice_fx_connection_store";
    let mut admin = sqlx::PgConnection::connect(sluice_tests::PG_URL).await.unwrap();
    admin.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))).await.unwrap();
    admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).await.unwrap();
    admin.close().await.unwrap();
    let mut conn = sqlx::PgConnection::connect(&format!("postgres://postgres@127.0.0.1:5432/{db}")).await.unwrap();
    // In a schema of its own, as the store's tests put it: still found.
    conn.execute("CREATE SCHEMA hidden; CREATE TABLE hidden.sluice_store (id INTEGER PRIMARY KEY)").await.unwrap();
    conn.close().await.unwrap();
    let mut store_db = datasource(DatasourceKind::Postgres);
    store_db.connection.database = db.into();
    assert_eq!(test_connection(&store_db, &access, WITHIN).await, Err(ConnectionProblem::NotAllowed));
    // And a pool refuses its connections the same way: calls fail, nothing is read.
    let ctx = plugins::PluginContext::new(fixture_access().await);
    let pool = ctx.pools.pool_for(&plugins::sql::execute::PoolSource::new(&store_db)).await.unwrap();
    let statement = plugins::sql::render::RenderedSql { sql: "SELECT 1 AS id".into(), binds: Vec::new() };
    let hints = |_: &str| None;
    let refused = pool
        .run(&plugins::sql::execute::RunSpec {
            statement: &statement,
            count: None,
            row_cap: 1,
            timeout: WITHIN,
            format: catalog::model::ResultFormat::Json,
            hints: &hints,
            page: None,
            hidden: None,
        })
        .await;
    assert!(refused.is_err(), "{refused:?}");
}
