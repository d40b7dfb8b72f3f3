//! The datasource connection test the management API will call.

use std::time::Duration;

use catalog::model::DatasourceKind;
use plugins::sql::execute::test_connection;
use sluice_tests::{KINDS, datasource};

#[tokio::test(flavor = "multi_thread")]
async fn reachable_datasources_pass_the_connection_test() {
    for kind in KINDS {
        let ds = datasource(kind);
        assert_eq!(test_connection(&ds, Duration::from_secs(5)).await, Ok(()), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_or_misconfigured_datasources_fail_with_a_reason() {
    let mut closed_port = datasource(DatasourceKind::Postgres);
    closed_port.connection.port = 1;
    let err = test_connection(&closed_port, Duration::from_secs(5)).await.unwrap_err();
    assert!(!err.is_empty());

    let mut wrong_db = datasource(DatasourceKind::Mysql);
    wrong_db.connection.database = "no_such_database_here".into();
    assert!(test_connection(&wrong_db, Duration::from_secs(5)).await.is_err());

    let mut missing_file = datasource(DatasourceKind::Sqlite);
    missing_file.connection.database = "/nonexistent/dir/x.sqlite".into();
    assert!(test_connection(&missing_file, Duration::from_secs(5)).await.is_err());
}
