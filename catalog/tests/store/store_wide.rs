//! The store as a whole (`store/mod.rs`): opening and migrating it on each backend, the SQLite
//! store in memory, upgrading an older SQLite store, refused URLs, not-found errors, and the
//! revision every write bumps.

use catalog::model::{Api, Environment, WorkgroupRole};
use catalog::secret::SecretBox;
use catalog::store::{Backend, Store, StoreError};
use sqlx::{Connection, Row};

use crate::{
    Place, TestDb, assert_conflict, assert_invalid, assert_not_found, new_api, postgres_datasource, seeded,
    wizard_draft,
};

backend_tests!(
    reopening_runs_migrations_idempotently,
    missing_things_are_not_found,
    revision_grows_with_every_write_and_never_with_reads,
);

async fn reopening_runs_migrations_idempotently(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    store.save_version(api.id, "first").await.unwrap();
    store.close().await;

    // A second store on the same database at the same time, then a plain reopen.
    let (a, b) = tokio::join!(db.open(), db.open());
    a.close().await;
    b.close().await;
    let store = db.open().await;
    assert_eq!(store.list_workgroups().await.unwrap().len(), 1);
    assert_eq!(store.datasource(datasource.id).await.unwrap(), datasource);
    assert_eq!(store.api(api.id).await.unwrap(), api);
    assert_eq!(store.list_versions(api.id).await.unwrap().len(), 1);
    // Ids keep counting after a reopen instead of reusing old ones.
    let second = store.create_datasource(&postgres_datasource(workgroup_id, "second", None)).await.unwrap();
    assert!(second.id > datasource.id);

    match &db.place {
        Place::Sqlite { dir } => {
            assert!(dir.join("nested").join("catalog.db").is_file());
            let mut connection = sqlx::AnyConnection::connect(&db.url).await.unwrap();
            let row = sqlx::query("PRAGMA journal_mode").fetch_one(&mut connection).await.unwrap();
            assert_eq!(row.try_get::<String, _>(0).unwrap(), "wal");
            connection.close().await.unwrap();
            assert_eq!(store.backend(), Backend::Sqlite);
        }
        Place::Postgres { .. } => assert_eq!(store.backend(), Backend::Postgres),
    }
    store.close().await;
}

async fn missing_things_are_not_found(db: TestDb) {
    let store = db.open().await;
    let (_, datasource, api) = seeded(&store).await;
    let missing = 9_999;
    assert_not_found(store.datasource(missing).await, "datasource");
    assert_not_found(store.datasource_with_secret(missing).await, "datasource");
    assert_not_found(store.delete_datasource(missing).await, "datasource");
    assert_not_found(store.api(missing).await, "API");
    assert_not_found(store.update_draft(missing, &wizard_draft(datasource.id, "t")).await, "API");
    assert_not_found(store.delete_api(missing).await, "API");
    assert_not_found(store.save_version(missing, "").await, "API");
    assert_not_found(store.version(api.id, 0).await, "version");
    assert_not_found(store.version(missing, 0).await, "version");
    assert_eq!(store.list_versions(missing).await.unwrap(), vec![]);
    assert_eq!(store.list_apis(missing).await.unwrap(), vec![]);
    let message = store.api(missing).await.unwrap_err().to_string();
    assert_eq!(message, "API 9999 not found");
    store.close().await;
}

async fn revision_grows_with_every_write_and_never_with_reads(db: TestDb) {
    let store = db.open().await;
    let mut last = store.revision().await.unwrap();

    // Asserts that the writes since the last call moved the revision, and remembers it.
    async fn moved(store: &Store, last: &mut i64, what: &str) {
        let now = store.revision().await.unwrap();
        assert!(now > *last, "{what} did not bump the revision ({now} after {last})");
        *last = now;
    }
    async fn still(store: &Store, last: i64, what: &str) {
        assert_eq!(store.revision().await.unwrap(), last, "{what} bumped the revision");
    }

    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    moved(&store, &mut last, "create_workgroup").await;
    let datasource = store.create_datasource(&postgres_datasource(workgroup.id, "w", Some("pw"))).await.unwrap();
    moved(&store, &mut last, "create_datasource").await;
    store.update_datasource(&datasource).await.unwrap();
    moved(&store, &mut last, "update_datasource").await;
    let api = store.create_api(&new_api(workgroup.id, "orders", wizard_draft(datasource.id, "o"))).await.unwrap();
    moved(&store, &mut last, "create_api").await;
    store.update_draft(api.id, &wizard_draft(datasource.id, "o2")).await.unwrap();
    moved(&store, &mut last, "update_draft").await;
    store.update_api(&Api { description: "changed".into(), ..api.clone() }).await.unwrap();
    moved(&store, &mut last, "update_api").await;
    store.save_version(api.id, "").await.unwrap();
    store.save_version(api.id, "").await.unwrap();
    moved(&store, &mut last, "save_version").await;
    store.publish(api.id, Environment::Prod, 0).await.unwrap();
    moved(&store, &mut last, "publish").await;
    store.unpublish(api.id, Environment::Prod).await.unwrap();
    moved(&store, &mut last, "unpublish").await;
    store.delete_version(api.id, 1).await.unwrap();
    moved(&store, &mut last, "delete_version").await;
    store.create_app(workgroup.id, "mobile", "").await.unwrap();
    moved(&store, &mut last, "create_app").await;

    // Reads leave it alone.
    store.list_workgroups().await.unwrap();
    store.workgroup_by_name("sales").await.unwrap();
    store.datasource(datasource.id).await.unwrap();
    store.datasource_with_secret(datasource.id).await.unwrap();
    store.list_datasources(workgroup.id).await.unwrap();
    store.api(api.id).await.unwrap();
    store.list_apis(workgroup.id).await.unwrap();
    store.version(api.id, 0).await.unwrap();
    store.list_versions(api.id).await.unwrap();
    store.latest_version(api.id).await.unwrap();
    store.publications(api.id).await.unwrap();
    store.published(Environment::Prod).await.unwrap();
    store.apps(workgroup.id).await.unwrap();
    still(&store, last, "a read").await;

    // So do refused writes.
    assert!(store.create_workgroup("sales", "").await.is_err());
    assert!(store.create_datasource(&postgres_datasource(workgroup.id, "w", None)).await.is_err());
    assert!(store.create_api(&new_api(workgroup.id, "orders", wizard_draft(datasource.id, "o"))).await.is_err());
    assert!(store.create_api(&new_api(workgroup.id, "lost", wizard_draft(9_999, "o"))).await.is_err());
    assert!(store.update_draft(9_999, &wizard_draft(datasource.id, "o")).await.is_err());
    assert!(store.save_version(9_999, "").await.is_err());
    assert!(store.publish(api.id, Environment::Prod, 42).await.is_err());
    assert!(store.unpublish(api.id, Environment::Test).await.is_err());
    assert!(store.delete_datasource(datasource.id).await.is_err());
    assert!(store.create_app(workgroup.id, "mobile", "").await.is_err());
    still(&store, last, "a refused write").await;

    store.delete_api(api.id).await.unwrap();
    moved(&store, &mut last, "delete_api").await;
    store.delete_datasource(datasource.id).await.unwrap();
    moved(&store, &mut last, "delete_datasource").await;

    // Another process on the same store sees the same revision.
    let other = db.open().await;
    assert_eq!(other.revision().await.unwrap(), last);
    other.close().await;
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// SQLite only

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_in_memory_store_keeps_its_data_across_calls() {
    let secrets = SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap();
    let store = Store::open("sqlite::memory:", secrets).await.unwrap();
    let (_, datasource, api) = seeded(&store).await;
    let saves: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.save_version(api.id, "").await })
        })
        .collect();
    for save in saves {
        save.await.unwrap().unwrap();
    }
    assert_eq!(store.list_versions(api.id).await.unwrap().len(), 4);
    assert_eq!(store.datasource_with_secret(datasource.id).await.unwrap().connection.password.as_deref(), Some("pw"));
    store.close().await;
}

/// The in-memory store has a single connection: a refused write must give it back before it
/// looks up what to say, or the lookup waits forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_memory_store_explains_refusals_without_waiting_for_itself() {
    let secrets = SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap();
    let store = Store::open("sqlite::memory:", secrets).await.unwrap();
    let refusals = async {
        let (workgroup_id, datasource, api) = seeded(&store).await;
        assert_not_found(store.create_api(&new_api(workgroup_id, "x", wizard_draft(9_999, "t"))).await, "datasource");
        assert_not_found(store.create_api(&new_api(9_999, "x", wizard_draft(datasource.id, "t"))).await, "workgroup");
        assert_conflict(store.delete_datasource(datasource.id).await, "orders");
        store.save_version(api.id, "").await.unwrap();
        store.publish(api.id, Environment::Prod, 0).await.unwrap();
        assert_conflict(store.delete_version(api.id, 0).await, "prod");
        assert_eq!(store.published(Environment::Prod).await.unwrap().len(), 1);
        // The same for the access writes that look something up after a refusal.
        let jane = store.create_user("jane", "", false).await.unwrap();
        assert_not_found(store.add_member(workgroup_id, 9_999, WorkgroupRole::Viewer).await, "user");
        assert_not_found(store.add_member(9_999, jane.id, WorkgroupRole::Viewer).await, "workgroup");
        let (token, _) = store.create_token(jane.id, "t", None).await.unwrap();
        store.revoke_token(token.id).await.unwrap();
        assert!(store.revoke_token(token.id).await.unwrap().revoked);
        let folder = store.create_folder(workgroup_id, None, "f").await.unwrap();
        assert_invalid(store.move_folder(folder.id, Some(folder.id)).await, "itself");
        assert_not_found(store.move_api(api.id, Some(9_999)).await, "folder");
        store.move_api(api.id, Some(folder.id)).await.unwrap();
        store.delete_folder(folder.id).await.unwrap();
        assert_conflict(store.delete_workgroup(workgroup_id).await, "APIs");
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), refusals).await.expect("the store waited for itself");
    store.close().await;
}

/// A store created before publishing existed gets its version counters from the versions it
/// already has, so new versions continue the numbering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_an_existing_sqlite_store_continues_version_numbers() {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    let db = TestDb::sqlite();
    let Place::Sqlite { dir } = &db.place else { unreachable!() };
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    sqlx::any::install_default_drivers();
    {
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let init = Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            sqlx::SqlSafeStr::into_sql_str(include_str!("../../migrations/sqlite/0001_init.sql")),
            false,
        );
        Migrator::with_migrations(vec![init]).run(&pool).await.unwrap();
        for sql in [
            "INSERT INTO workgroups (id, name, created_at) VALUES (1, 'old', 0)",
            "INSERT INTO datasources (id, workgroup_id, name, kind, settings_json, created_at, updated_at) \
             VALUES (1, 1, 'db', 'sqlite', '{\"database\": \"x.db\"}', 0, 0)",
            "INSERT INTO apis (id, workgroup_id, name, path, method, datasource_id, draft_json, created_at, updated_at) \
             VALUES (1, 1, 'a', '/a', 'GET', 1, '{\"datasourceId\": 1, \"mode\": \"wizard\", \"table\": \"t\"}', 0, 0)",
            "INSERT INTO api_versions (api_id, number, datasource_id, definition_json, created_at) \
             VALUES (1, 0, 1, '{\"datasourceId\": 1, \"mode\": \"wizard\", \"table\": \"t\"}', 0)",
            "INSERT INTO api_versions (api_id, number, datasource_id, definition_json, created_at) \
             VALUES (1, 1, 1, '{\"datasourceId\": 1, \"mode\": \"wizard\", \"table\": \"t\"}', 0)",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let store = db.open().await;
    assert_eq!(store.save_version(1, "after the upgrade").await.unwrap().number, 2);
    assert_eq!(store.revision().await.unwrap(), 1);
    store.close().await;
    db.remove().await;
}

#[tokio::test]
async fn unsupported_store_urls_are_refused() {
    let secrets = SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap();
    match Store::open("mysql://root@127.0.0.1/catalog", secrets).await {
        Err(StoreError::Invalid(message)) => assert!(message.contains("sqlite"), "{message}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}
