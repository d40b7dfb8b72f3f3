//! The metadata store's behaviour, checked identically on SQLite and PostgreSQL.
//!
//! Every scenario below is one `async fn(TestDb)`; `backend_tests!` runs each on a fresh
//! SQLite file and on a fresh PostgreSQL schema. PostgreSQL is expected at
//! `postgres://postgres@127.0.0.1:5432/test` (override with `SLUICE_TEST_POSTGRES_URL`); when
//! it is unreachable those tests fail, they do not skip.

use std::future::Future;
use std::path::PathBuf;

use catalog::model::{
    Api, ApiDefinition, ApiMode, ApiOptions, AuditEntry, ConnectionSettings, ConstantPosition, Datasource,
    DatasourceKind, Environment, Folder, ParamPosition, RegisteredConstant, RegisteredParam, RegisteredSpec,
    ScriptSpec, UpstreamFormat, UpstreamMethod, UserUpdate, WizardSpec, WorkgroupRole,
};
use catalog::secret::SecretBox;
use catalog::store::{Backend, Store, StoreError};
use sqlx::{Connection, Row};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// One isolated database for one test: where it is and the key its secrets use.
#[derive(Clone)]
struct TestDb {
    url: String,
    key_text: String,
    place: Place,
}

#[derive(Clone)]
enum Place {
    /// A directory of its own under the temp dir, holding the database file.
    Sqlite { dir: PathBuf },
    /// A schema of its own, reached through `admin_url`.
    Postgres { admin_url: String, schema: String },
}

impl TestDb {
    fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!(
            "sluice-store-test-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        // A missing parent directory is part of what `Store::open` must handle.
        let file = dir.join("nested").join("catalog.db");
        TestDb {
            url: format!("sqlite://{}?mode=rwc", file.display()),
            key_text: SecretBox::generate_key_text(),
            place: Place::Sqlite { dir },
        }
    }

    async fn postgres() -> TestDb {
        let admin_url = std::env::var("SLUICE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let schema = format!("sluice_store_test_{:016x}", rand::random::<u64>());
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(connection) => connection,
            Err(e) => panic!(
                "PostgreSQL is unreachable at {admin_url}: {e}\n\
                 The store tests run on PostgreSQL as well as SQLite; start the server \
                 (the project's test script does) or point SLUICE_TEST_POSTGRES_URL at one."
            ),
        };
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.unwrap();
        admin.close().await.unwrap();
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        TestDb {
            url: format!("{admin_url}{separator}options=-csearch_path%3D{schema}"),
            key_text: SecretBox::generate_key_text(),
            place: Place::Postgres { admin_url, schema },
        }
    }

    fn secrets(&self) -> SecretBox {
        SecretBox::from_key_text(&self.key_text).unwrap()
    }

    async fn open(&self) -> Store {
        Store::open(&self.url, self.secrets()).await.unwrap()
    }

    /// Reads one text column (or NULL) the way an attacker with the database would: through
    /// a plain connection, not the store.
    async fn raw_text(&self, sql: &'static str, id: i64) -> Option<String> {
        sqlx::any::install_default_drivers();
        let mut connection = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        let row = sqlx::query(sql).bind(id).fetch_one(&mut connection).await.unwrap();
        let value = row.try_get::<Option<String>, _>(0).unwrap();
        connection.close().await.unwrap();
        value
    }

    async fn raw_count(&self, sql: &'static str, id: i64) -> i64 {
        sqlx::any::install_default_drivers();
        let mut connection = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        let row = sqlx::query(sql).bind(id).fetch_one(&mut connection).await.unwrap();
        let count = row.try_get::<i64, _>(0).unwrap();
        connection.close().await.unwrap();
        count
    }

    async fn remove(&self) {
        match &self.place {
            Place::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Place::Postgres { admin_url, schema } => {
                let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                admin.close().await.unwrap();
            }
        }
    }
}

/// Runs `scenario` on `db`, then removes the database whether or not the scenario passed.
async fn run<Scenario, Fut>(db: TestDb, scenario: Scenario)
where
    Scenario: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(scenario(db.clone())).await;
    db.remove().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

macro_rules! backend_tests {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::run(super::TestDb::sqlite(), super::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::run(super::TestDb::postgres().await, super::$scenario).await;
                }
            )*
        }
    };
}

backend_tests!(
    reopening_runs_migrations_idempotently,
    workgroup_names_are_unique,
    passwords_are_sealed_at_rest_and_never_read_back,
    updating_a_datasource_keeps_or_replaces_its_password,
    another_key_cannot_open_stored_passwords,
    datasource_names_are_unique_per_workgroup,
    apis_round_trip_and_validate_references,
    versions_are_numbered_from_v0_and_never_change,
    concurrent_saves_get_distinct_numbers,
    deleting_an_api_deletes_its_versions,
    a_datasource_in_use_cannot_be_deleted,
    missing_things_are_not_found,
    publishing_replaces_and_unpublishing_removes,
    published_lists_what_an_environment_serves_with_opened_passwords,
    a_published_version_cannot_be_deleted,
    revision_grows_with_every_write_and_never_with_reads,
    update_api_replaces_metadata_and_draft,
    apps_get_unique_keys_and_sealed_secrets,
    registered_constants_are_sealed_at_rest_and_never_read_back,
    registered_constants_without_a_value_keep_the_stored_one,
    registered_apis_have_no_datasource,
    user_names_are_unique_in_any_case_and_users_update,
    the_last_enabled_platform_admin_stays,
    tokens_are_hashed_at_rest_and_shown_once,
    tokens_stop_authenticating_when_revoked_expired_or_disabled,
    authentication_records_last_use_at_most_once_a_minute,
    bootstrap_admin_is_idempotent,
    members_have_one_role_per_workgroup,
    workgroups_read_update_and_delete_only_when_empty,
    folders_nest_at_most_three_levels_with_unique_sibling_names,
    moving_a_folder_moves_its_subtree_within_the_limits,
    deleting_a_folder_moves_its_contents_one_level_up,
    apis_sit_in_folders_of_their_own_workgroup,
    audit_entries_read_newest_first_in_pages,
    access_writes_bump_the_revision_and_bookkeeping_does_not,
    concurrent_tree_and_admin_changes_cannot_break_the_rules,
);

// ---------------------------------------------------------------------------------------------
// Fixtures

fn postgres_datasource(workgroup_id: i64, name: &str, password: Option<&str>) -> Datasource {
    Datasource {
        id: 0,
        workgroup_id,
        name: name.to_owned(),
        kind: DatasourceKind::Postgres,
        description: format!("{name} for tests"),
        connection: ConnectionSettings {
            host: "db.internal".into(),
            port: 5432,
            database: "sales".into(),
            username: "reader".into(),
            password: password.map(str::to_owned),
            pool_size: Some(4),
        },
    }
}

fn wizard_draft(datasource_id: i64, table: &str) -> ApiDefinition {
    ApiDefinition {
        datasource_id: Some(datasource_id),
        mode: ApiMode::Wizard(WizardSpec { table: table.to_owned() }),
        request_params: vec![],
        response_fields: vec![],
        options: ApiOptions::default(),
    }
}

fn new_api(workgroup_id: i64, name: &str, draft: ApiDefinition) -> Api {
    Api {
        id: 0,
        workgroup_id,
        name: name.to_owned(),
        path: format!("/{name}"),
        method: "GET".into(),
        description: String::new(),
        folder_id: None,
        settings: Default::default(),
        draft,
    }
}

/// A workgroup with one datasource and one API reading from it.
async fn seeded(store: &Store) -> (i64, Datasource, Api) {
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let datasource =
        store.create_datasource(&postgres_datasource(workgroup.id, "warehouse", Some("pw"))).await.unwrap();
    let api = store.create_api(&new_api(workgroup.id, "orders", wizard_draft(datasource.id, "orders"))).await.unwrap();
    (workgroup.id, datasource, api)
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>, expected_what: &str) {
    match result {
        Err(StoreError::NotFound { what, .. }) => assert_eq!(what, expected_what),
        other => panic!("expected NotFound {expected_what}, got {other:?}"),
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, mentions: &str) -> String {
    match result {
        Err(StoreError::Conflict(message)) => {
            assert!(message.contains(mentions), "`{message}` lacks `{mentions}`");
            message
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

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

async fn workgroup_names_are_unique(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "the sales team").await.unwrap();
    assert!(sales.id > 0);
    assert!(sales.created_at > 0);
    let ops = store.create_workgroup("ops", "").await.unwrap();

    assert_conflict(store.create_workgroup("sales", "again").await, "sales");
    assert!(matches!(store.create_workgroup("  ", "").await, Err(StoreError::Invalid(_))));
    assert_eq!(store.workgroup_by_name("sales").await.unwrap(), sales);
    assert_not_found(store.workgroup_by_name("nobody").await, "workgroup");
    assert_eq!(store.list_workgroups().await.unwrap(), vec![sales, ops]);
    store.close().await;
}

async fn passwords_are_sealed_at_rest_and_never_read_back(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let input = postgres_datasource(workgroup.id, "warehouse", Some("s3cret-Pa55"));
    let created = store.create_datasource(&input).await.unwrap();

    assert!(created.id > 0);
    assert_eq!(created.connection.password, None);
    assert_eq!(created, Datasource { id: created.id, ..input.redacted() });
    assert_eq!(store.datasource(created.id).await.unwrap(), created);
    assert_eq!(store.list_datasources(workgroup.id).await.unwrap(), vec![created.clone()]);
    let serialized = serde_json::to_string(&store.datasource(created.id).await.unwrap()).unwrap();
    assert!(!serialized.contains("s3cret"), "{serialized}");

    let sealed = db.raw_text("SELECT password_sealed FROM datasources WHERE id = $1", created.id).await.unwrap();
    assert!(!sealed.contains("s3cret-Pa55"), "{sealed}");
    assert!(sealed.starts_with("v1:"), "{sealed}");
    assert_eq!(db.secrets().open(&sealed).unwrap(), "s3cret-Pa55");
    let settings = db.raw_text("SELECT settings_json FROM datasources WHERE id = $1", created.id).await.unwrap();
    assert!(!settings.contains("s3cret"), "{settings}");

    let with_secret = store.datasource_with_secret(created.id).await.unwrap();
    assert_eq!(with_secret, Datasource { id: created.id, ..input });

    // No password at all is stored as NULL and read back as None.
    let open = store.create_datasource(&postgres_datasource(workgroup.id, "open", None)).await.unwrap();
    let raw = db.raw_text("SELECT password_sealed FROM datasources WHERE id = $1", open.id).await;
    assert_eq!(raw, None);
    assert_eq!(store.datasource_with_secret(open.id).await.unwrap().connection.password, None);
    store.close().await;
}

async fn updating_a_datasource_keeps_or_replaces_its_password(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let created =
        store.create_datasource(&postgres_datasource(workgroup.id, "warehouse", Some("old-pw"))).await.unwrap();
    let sealed_before = db.raw_text("SELECT password_sealed FROM datasources WHERE id = $1", created.id).await;

    // `None` keeps the stored password; everything else is replaced.
    let mut edited = created.clone();
    edited.name = "warehouse-eu".into();
    edited.description = "moved".into();
    edited.connection.host = "eu.db.internal".into();
    let updated = store.update_datasource(&edited).await.unwrap();
    assert_eq!(updated, edited);
    assert_eq!(store.datasource(created.id).await.unwrap(), edited);
    let with_secret = store.datasource_with_secret(created.id).await.unwrap();
    assert_eq!(with_secret.connection.password.as_deref(), Some("old-pw"));
    assert_eq!(db.raw_text("SELECT password_sealed FROM datasources WHERE id = $1", created.id).await, sealed_before);

    // `Some` replaces it, and the new one is sealed too.
    edited.connection.password = Some("new-pw".into());
    let updated = store.update_datasource(&edited).await.unwrap();
    assert_eq!(updated.connection.password, None);
    let with_secret = store.datasource_with_secret(created.id).await.unwrap();
    assert_eq!(with_secret.connection.password.as_deref(), Some("new-pw"));
    let sealed_after = db.raw_text("SELECT password_sealed FROM datasources WHERE id = $1", created.id).await.unwrap();
    assert!(!sealed_after.contains("new-pw"));
    assert_ne!(Some(sealed_after), sealed_before);

    // The workgroup is not something an update moves.
    let mut moved = edited.clone();
    moved.workgroup_id = workgroup.id + 100;
    let updated = store.update_datasource(&moved).await.unwrap();
    assert_eq!(updated.workgroup_id, workgroup.id);

    let other = store.create_datasource(&postgres_datasource(workgroup.id, "other", None)).await.unwrap();
    let mut clash = other.clone();
    clash.name = "warehouse-eu".into();
    assert_conflict(store.update_datasource(&clash).await, "warehouse-eu");
    assert_eq!(store.datasource(other.id).await.unwrap().name, "other");

    let mut ghost = edited.clone();
    ghost.id = 9_999;
    assert_not_found(store.update_datasource(&ghost).await, "datasource");
    store.close().await;
}

async fn another_key_cannot_open_stored_passwords(db: TestDb) {
    let store = db.open().await;
    let (_, datasource, _) = seeded(&store).await;
    store.close().await;

    let other_key = SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap();
    let store = Store::open(&db.url, other_key).await.unwrap();
    // Redacted reads do not need the key; opening the password does, and fails cleanly.
    assert_eq!(store.datasource(datasource.id).await.unwrap(), datasource);
    match store.datasource_with_secret(datasource.id).await {
        Err(StoreError::Secret(_)) => {}
        other => panic!("expected a secret error, got {other:?}"),
    }
    store.close().await;
}

async fn datasource_names_are_unique_per_workgroup(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    store.create_datasource(&postgres_datasource(sales.id, "main", None)).await.unwrap();
    // The same name in another workgroup is fine.
    store.create_datasource(&postgres_datasource(ops.id, "main", None)).await.unwrap();
    assert_conflict(store.create_datasource(&postgres_datasource(sales.id, "main", Some("x"))).await, "main");
    assert_not_found(store.create_datasource(&postgres_datasource(9_999, "main", None)).await, "workgroup");
    assert!(matches!(
        store.create_datasource(&postgres_datasource(sales.id, "", None)).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.list_datasources(sales.id).await.unwrap().len(), 1);
    assert_eq!(store.list_datasources(9_999).await.unwrap(), vec![]);
    store.close().await;
}

async fn apis_round_trip_and_validate_references(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    assert!(api.id > 0);
    assert_eq!(store.api(api.id).await.unwrap(), api);

    let mut script = new_api(
        workgroup_id,
        "by-customer",
        ApiDefinition {
            mode: ApiMode::Script(ScriptSpec { sql: "SELECT * FROM orders WHERE customer = #{customer}".into() }),
            ..wizard_draft(datasource.id, "unused")
        },
    );
    script.method = "post".into();
    let script = store.create_api(&script).await.unwrap();
    assert_eq!(script.method, "POST");
    assert_eq!(store.api(script.id).await.unwrap(), script);
    assert_eq!(store.list_apis(workgroup_id).await.unwrap(), vec![api.clone(), script.clone()]);

    assert_conflict(
        store.create_api(&new_api(workgroup_id, "orders", wizard_draft(datasource.id, "t"))).await,
        "orders",
    );
    assert_not_found(store.create_api(&new_api(workgroup_id, "lost", wizard_draft(9_999, "t"))).await, "datasource");
    assert_not_found(store.create_api(&new_api(9_999, "lost", wizard_draft(datasource.id, "t"))).await, "workgroup");
    let mut bad_method = new_api(workgroup_id, "odd", wizard_draft(datasource.id, "t"));
    bad_method.method = "FETCH".into();
    assert!(matches!(store.create_api(&bad_method).await, Err(StoreError::Invalid(_))));

    let new_draft = wizard_draft(datasource.id, "orders_archive");
    let updated = store.update_draft(api.id, &new_draft).await.unwrap();
    assert_eq!(updated.draft, new_draft);
    assert_eq!(store.api(api.id).await.unwrap(), updated);
    assert_not_found(store.update_draft(api.id, &wizard_draft(9_999, "t")).await, "datasource");
    assert_eq!(store.api(api.id).await.unwrap().draft, new_draft);
    store.close().await;
}

async fn versions_are_numbered_from_v0_and_never_change(db: TestDb) {
    let store = db.open().await;
    let (_, datasource, api) = seeded(&store).await;

    let v0 = store.save_version(api.id, "first cut").await.unwrap();
    assert_eq!((v0.number, v0.label()), (0, "V0".to_owned()));
    assert_eq!(v0.definition, api.draft);
    assert_eq!(v0.description, "first cut");

    let second_draft = wizard_draft(datasource.id, "orders_v2");
    store.update_draft(api.id, &second_draft).await.unwrap();
    let v1 = store.save_version(api.id, "").await.unwrap();
    assert_eq!(v1.number, 1);
    assert_eq!(v1.definition, second_draft);

    let third_draft = wizard_draft(datasource.id, "orders_v3");
    store.update_draft(api.id, &third_draft).await.unwrap();
    let v2 = store.save_version(api.id, "third").await.unwrap();
    assert_eq!(v2.label(), "V2");

    // Earlier versions still hold what was saved, not the later drafts.
    assert_eq!(store.version(api.id, 0).await.unwrap(), v0);
    assert_eq!(store.version(api.id, 1).await.unwrap(), v1);
    assert_eq!(store.version(api.id, 0).await.unwrap().definition, api.draft);
    assert_eq!(store.list_versions(api.id).await.unwrap(), vec![v0, v1, v2]);
    assert_eq!(store.api(api.id).await.unwrap().draft, third_draft);
    assert_not_found(store.version(api.id, 3).await, "version");
    store.close().await;
}

async fn concurrent_saves_get_distinct_numbers(db: TestDb) {
    let store = db.open().await;
    let (_, _, api) = seeded(&store).await;
    let saves: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.save_version(api.id, &format!("save {i}")).await })
        })
        .collect();
    let mut numbers = Vec::new();
    for save in saves {
        numbers.push(save.await.unwrap().unwrap().number);
    }
    numbers.sort();
    assert_eq!(numbers, (0..8).collect::<Vec<i64>>());
    store.close().await;
}

async fn deleting_an_api_deletes_its_versions(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let keeper = store.create_api(&new_api(workgroup_id, "keeper", wizard_draft(datasource.id, "t"))).await.unwrap();
    store.save_version(api.id, "").await.unwrap();
    store.save_version(api.id, "").await.unwrap();
    store.save_version(keeper.id, "").await.unwrap();

    store.delete_api(api.id).await.unwrap();
    assert_not_found(store.api(api.id).await, "API");
    assert_eq!(store.list_versions(api.id).await.unwrap(), vec![]);
    assert_not_found(store.version(api.id, 0).await, "version");
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_versions WHERE api_id = $1", api.id).await, 0);
    assert_not_found(store.delete_api(api.id).await, "API");
    // Other APIs keep theirs.
    assert_eq!(store.list_versions(keeper.id).await.unwrap().len(), 1);
    assert_eq!(store.list_apis(workgroup_id).await.unwrap(), vec![keeper]);
    // The name is free again.
    store.create_api(&new_api(workgroup_id, "orders", wizard_draft(datasource.id, "t"))).await.unwrap();
    store.close().await;
}

async fn a_datasource_in_use_cannot_be_deleted(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let spare = store.create_datasource(&postgres_datasource(workgroup_id, "spare", None)).await.unwrap();

    // Used by a draft.
    assert_conflict(store.delete_datasource(datasource.id).await, "`orders` (draft)");
    // No longer by the draft, but by a saved version.
    store.save_version(api.id, "").await.unwrap();
    store.update_draft(api.id, &wizard_draft(spare.id, "orders")).await.unwrap();
    assert_conflict(store.delete_datasource(datasource.id).await, "`orders` (V0)");
    assert_eq!(store.datasource(datasource.id).await.unwrap(), datasource);

    store.delete_api(api.id).await.unwrap();
    store.delete_datasource(datasource.id).await.unwrap();
    assert_not_found(store.datasource(datasource.id).await, "datasource");
    assert_not_found(store.delete_datasource(datasource.id).await, "datasource");
    assert_eq!(store.list_datasources(workgroup_id).await.unwrap(), vec![spare]);
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

async fn publishing_replaces_and_unpublishing_removes(db: TestDb) {
    let store = db.open().await;
    let (_, datasource, api) = seeded(&store).await;
    assert_not_found(store.publish(api.id, Environment::Prod, 0).await, "version");
    store.save_version(api.id, "").await.unwrap();
    store.update_draft(api.id, &wizard_draft(datasource.id, "orders_v2")).await.unwrap();
    store.save_version(api.id, "").await.unwrap();

    let prod = store.publish(api.id, Environment::Prod, 0).await.unwrap();
    assert_eq!((prod.api_id, prod.environment, prod.version), (api.id, Environment::Prod, 0));
    assert!(prod.published_at > 0);
    let test = store.publish(api.id, Environment::Test, 1).await.unwrap();
    assert_eq!(store.publications(api.id).await.unwrap(), vec![prod, test]);

    // Publishing another version replaces the environment's publication.
    let replaced = store.publish(api.id, Environment::Prod, 1).await.unwrap();
    assert_eq!(replaced.version, 1);
    assert_eq!(store.publications(api.id).await.unwrap(), vec![replaced, test]);
    // Publishing the version already served is a no-op that returns the publication.
    let revision = store.revision().await.unwrap();
    assert_eq!(store.publish(api.id, Environment::Prod, 1).await.unwrap(), replaced);
    assert_eq!(store.revision().await.unwrap(), revision);

    assert_not_found(store.publish(api.id, Environment::Prod, 7).await, "version");
    assert_not_found(store.publish(9_999, Environment::Prod, 0).await, "version");
    assert_eq!(store.publications(api.id).await.unwrap(), vec![replaced, test]);

    store.unpublish(api.id, Environment::Test).await.unwrap();
    assert_eq!(store.publications(api.id).await.unwrap(), vec![replaced]);
    assert_not_found(store.unpublish(api.id, Environment::Test).await, "publication");
    assert_not_found(store.unpublish(9_999, Environment::Prod).await, "publication");

    // Deleting the API unpublishes it everywhere.
    store.delete_api(api.id).await.unwrap();
    assert_eq!(store.publications(api.id).await.unwrap(), vec![]);
    assert_eq!(store.published(Environment::Prod).await.unwrap(), vec![]);
    store.close().await;
}

async fn published_lists_what_an_environment_serves_with_opened_passwords(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, orders) = seeded(&store).await;
    let other = store.create_datasource(&postgres_datasource(workgroup_id, "other", Some("pw2"))).await.unwrap();
    let users = store.create_api(&new_api(workgroup_id, "users", wizard_draft(other.id, "users"))).await.unwrap();
    let drafty = store.create_api(&new_api(workgroup_id, "drafty", wizard_draft(other.id, "t"))).await.unwrap();
    store.save_version(drafty.id, "").await.unwrap();

    let v0 = store.save_version(orders.id, "first").await.unwrap();
    // The draft moves on (even to another datasource); what is served is the saved version.
    store.update_draft(orders.id, &wizard_draft(other.id, "orders_next")).await.unwrap();
    let v1 = store.save_version(orders.id, "second").await.unwrap();
    store.update_draft(orders.id, &wizard_draft(other.id, "orders_unsaved")).await.unwrap();
    let users_v0 = store.save_version(users.id, "").await.unwrap();
    store.publish(orders.id, Environment::Prod, 0).await.unwrap();
    store.publish(orders.id, Environment::Test, 1).await.unwrap();
    store.publish(users.id, Environment::Prod, 0).await.unwrap();

    let prod = store.published(Environment::Prod).await.unwrap();
    assert_eq!(prod.len(), 2, "{prod:?}");
    assert_eq!((prod[0].api.id, prod[0].api.name.as_str()), (orders.id, "orders"));
    assert_eq!(prod[0].version, v0);
    assert_eq!(
        prod[0].datasource,
        Some(Datasource { id: datasource.id, ..postgres_datasource(workgroup_id, "warehouse", Some("pw")) })
    );
    assert_eq!(prod[1].api.name, "users");
    assert_eq!(prod[1].version, users_v0);
    assert_eq!(prod[1].datasource.as_ref().and_then(|d| d.connection.password.as_deref()), Some("pw2"));

    let test = store.published(Environment::Test).await.unwrap();
    assert_eq!(test.len(), 1);
    assert_eq!(test[0].version, v1);
    let served = test[0].datasource.as_ref().unwrap();
    assert_eq!(served.id, other.id);
    assert_eq!(served.connection.password.as_deref(), Some("pw2"));
    store.close().await;
}

async fn a_published_version_cannot_be_deleted(db: TestDb) {
    let store = db.open().await;
    let (_, datasource, api) = seeded(&store).await;
    for table in ["a", "b", "c"] {
        store.update_draft(api.id, &wizard_draft(datasource.id, table)).await.unwrap();
        store.save_version(api.id, table).await.unwrap();
    }
    store.publish(api.id, Environment::Prod, 1).await.unwrap();
    store.publish(api.id, Environment::Test, 1).await.unwrap();

    let message = assert_conflict(store.delete_version(api.id, 1).await, "V1");
    assert!(message.contains("prod") && message.contains("test"), "{message}");
    assert_eq!(store.version(api.id, 1).await.unwrap().description, "b");

    store.delete_version(api.id, 0).await.unwrap();
    assert_not_found(store.version(api.id, 0).await, "version");
    assert_not_found(store.delete_version(api.id, 0).await, "version");
    // Deleting the latest version does not free its number.
    store.delete_version(api.id, 2).await.unwrap();
    assert_eq!(store.save_version(api.id, "next").await.unwrap().number, 3);
    assert_eq!(store.latest_version(api.id).await.unwrap().map(|v| v.number), Some(3));

    store.unpublish(api.id, Environment::Prod).await.unwrap();
    assert_conflict(store.delete_version(api.id, 1).await, "test");
    store.unpublish(api.id, Environment::Test).await.unwrap();
    store.delete_version(api.id, 1).await.unwrap();
    let numbers: Vec<i64> = store.list_versions(api.id).await.unwrap().iter().map(|v| v.number).collect();
    assert_eq!(numbers, vec![3]);
    assert_eq!(store.latest_version(9_999).await.unwrap(), None);
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

async fn update_api_replaces_metadata_and_draft(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let other = store.create_api(&new_api(workgroup_id, "other", wizard_draft(datasource.id, "t"))).await.unwrap();
    store.save_version(api.id, "").await.unwrap();

    let edited = Api {
        name: "orders_v2".into(),
        path: "/v2/orders".into(),
        method: "post".into(),
        description: "orders, again".into(),
        draft: wizard_draft(datasource.id, "orders_archive"),
        workgroup_id: workgroup_id + 100,
        ..api.clone()
    };
    let updated = store.update_api(&edited).await.unwrap();
    assert_eq!(updated, Api { method: "POST".into(), workgroup_id, ..edited.clone() });
    assert_eq!(store.api(api.id).await.unwrap(), updated);
    // Saved versions keep what they had.
    assert_eq!(store.version(api.id, 0).await.unwrap().definition, api.draft);

    assert_conflict(store.update_api(&Api { name: "other".into(), ..updated.clone() }).await, "other");
    assert_not_found(store.update_api(&Api { draft: wizard_draft(9_999, "t"), ..updated.clone() }).await, "datasource");
    assert_not_found(store.update_api(&Api { id: 9_999, ..updated.clone() }).await, "API");
    assert!(matches!(
        store.update_api(&Api { method: "FETCH".into(), ..updated.clone() }).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.api(api.id).await.unwrap(), updated);
    assert_eq!(store.api(other.id).await.unwrap(), other);
    store.close().await;
}

async fn apps_get_unique_keys_and_sealed_secrets(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let (mobile, secret) = store.create_app(sales.id, "mobile", "the phone app").await.unwrap();
    assert!(mobile.id > 0 && mobile.created_at > 0);
    assert_eq!(
        (mobile.workgroup_id, mobile.name.as_str(), mobile.description.as_str()),
        (sales.id, "mobile", "the phone app")
    );
    assert_eq!(mobile.app_key.len(), 20);
    assert!(mobile.app_key.chars().all(|c| c.is_ascii_alphanumeric()), "{}", mobile.app_key);
    // 32 random bytes as URL-safe base64 without padding.
    assert_eq!(secret.len(), 43, "{secret}");
    assert!(secret.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{secret}");

    // At rest the secret is sealed, not stored.
    let sealed = db.raw_text("SELECT secret_sealed FROM apps WHERE id = $1", mobile.id).await.unwrap();
    assert!(sealed.starts_with("v1:"), "{sealed}");
    assert!(!sealed.contains(&secret), "{sealed}");
    assert_eq!(db.secrets().open(&sealed).unwrap(), secret);
    assert_eq!(store.app_secret(mobile.id).await.unwrap(), secret);
    assert!(!serde_json::to_string(&store.app_by_key(&mobile.app_key).await.unwrap()).unwrap().contains(&secret));

    // Names are unique per workgroup, keys and secrets everywhere.
    assert_conflict(store.create_app(sales.id, "mobile", "").await, "mobile");
    let (ops_mobile, ops_secret) = store.create_app(ops.id, "mobile", "").await.unwrap();
    let (web, _) = store.create_app(sales.id, "web", "").await.unwrap();
    assert_ne!(ops_mobile.app_key, mobile.app_key);
    assert_ne!(web.app_key, mobile.app_key);
    assert_ne!(ops_secret, secret);
    assert_not_found(store.create_app(9_999, "lost", "").await, "workgroup");
    assert!(matches!(store.create_app(sales.id, " ", "").await, Err(StoreError::Invalid(_))));

    assert_eq!(store.apps(sales.id).await.unwrap(), vec![mobile.clone(), web.clone()]);
    assert_eq!(store.apps(ops.id).await.unwrap(), vec![ops_mobile.clone()]);
    assert_eq!(store.apps(9_999).await.unwrap(), vec![]);
    assert_eq!(store.app_by_key(&web.app_key).await.unwrap(), web);
    assert_not_found(store.app_by_key("no-such-key").await, "app");
    assert_not_found(store.app_secret(9_999).await, "app");

    // A store opened with another key cannot read the secret.
    store.close().await;
    let other_key = SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap();
    let store = Store::open(&db.url, other_key).await.unwrap();
    assert_eq!(store.app_by_key(&mobile.app_key).await.unwrap(), mobile);
    assert!(matches!(store.app_secret(mobile.id).await, Err(StoreError::Secret(_))));
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
            sqlx::SqlSafeStr::into_sql_str(include_str!("../migrations/sqlite/0001_init.sql")),
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

// ---------------------------------------------------------------------------------------------
// Registered APIs

fn registered_draft(constants: &[(&str, ConstantPosition, Option<&str>)]) -> ApiDefinition {
    ApiDefinition {
        datasource_id: None,
        mode: ApiMode::Registered(RegisteredSpec {
            base_url: "https://api.example.com/v1".into(),
            path: "/forecast/{city}".into(),
            method: UpstreamMethod::Get,
            params: vec![RegisteredParam {
                name: "city".into(),
                upstream_name: None,
                position: ParamPosition::Path,
                upstream_position: None,
                param_type: catalog::model::ParamType::STRING,
                required: true,
                default: None,
                description: String::new(),
                example: None,
            }],
            constants: constants
                .iter()
                .map(|(name, position, value)| RegisteredConstant {
                    name: (*name).to_owned(),
                    position: *position,
                    value: value.map(str::to_owned),
                })
                .collect(),
            timeout_ms: 5_000,
            response_format: UpstreamFormat::Json,
            error_codes: vec![],
        }),
        request_params: vec![],
        response_fields: vec![],
        options: ApiOptions::default(),
    }
}

fn constant_values(definition: &ApiDefinition) -> Vec<Option<String>> {
    match &definition.mode {
        ApiMode::Registered(spec) => spec.constants.iter().map(|c| c.value.clone()).collect(),
        _ => vec![],
    }
}

async fn registered_constants_are_sealed_at_rest_and_never_read_back(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("partners", "").await.unwrap();
    let draft = registered_draft(&[
        ("appid", ConstantPosition::Query, Some("k3y-Query-123")),
        ("X-Api-Key", ConstantPosition::Header, Some("k3y-Header-456")),
    ]);
    let api = store.create_api(&new_api(workgroup.id, "weather", draft.clone())).await.unwrap();
    assert_eq!(api.draft, draft.redacted());
    assert_eq!(constant_values(&api.draft), vec![None, None]);

    // Not in the database in plain text, draft or version; sealed with the store's key.
    let raw = db.raw_text("SELECT draft_json FROM apis WHERE id = $1", api.id).await.unwrap();
    assert!(!raw.contains("k3y-"), "{raw}");
    assert!(raw.contains("\"sealedValue\":\"v1:"), "{raw}");
    let v0 = store.save_version(api.id, "first").await.unwrap();
    let raw = db.raw_text("SELECT definition_json FROM api_versions WHERE api_id = $1", api.id).await.unwrap();
    assert!(!raw.contains("k3y-") && raw.contains("sealedValue"), "{raw}");
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM apis WHERE id = $1 AND datasource_id IS NULL", api.id).await, 1);

    // No read returns them, not even sealed.
    for shown in [
        serde_json::to_string(&store.api(api.id).await.unwrap()).unwrap(),
        serde_json::to_string(&store.list_apis(workgroup.id).await.unwrap()).unwrap(),
        serde_json::to_string(&v0).unwrap(),
        serde_json::to_string(&store.version(api.id, 0).await.unwrap()).unwrap(),
        serde_json::to_string(&store.list_versions(api.id).await.unwrap()).unwrap(),
        serde_json::to_string(&store.latest_version(api.id).await.unwrap()).unwrap(),
    ] {
        assert!(!shown.contains("k3y-") && !shown.contains("sealedValue") && !shown.contains("v1:"), "{shown}");
        assert!(shown.contains("appid") && shown.contains("X-Api-Key"), "{shown}");
    }

    // What serves a call, and what apply compares with, has them opened.
    store.publish(api.id, Environment::Prod, 0).await.unwrap();
    let prod = store.published(Environment::Prod).await.unwrap();
    assert_eq!(prod.len(), 1);
    assert_eq!(prod[0].datasource, None);
    assert_eq!(prod[0].version.definition, draft);
    assert_eq!(store.api_with_secrets(api.id).await.unwrap().draft, draft);
    assert_eq!(store.latest_version_with_secrets(api.id).await.unwrap().unwrap().definition, draft);

    // Another key cannot open them.
    store.close().await;
    let other = SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap();
    let wrong = Store::open(&db.url, other).await.unwrap();
    assert!(matches!(wrong.published(Environment::Prod).await, Err(StoreError::Secret(_))));
    assert_eq!(constant_values(&wrong.api(api.id).await.unwrap().draft), vec![None, None]);
    wrong.close().await;
}

async fn registered_constants_without_a_value_keep_the_stored_one(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("partners", "").await.unwrap();
    let api = store
        .create_api(&new_api(
            workgroup.id,
            "weather",
            registered_draft(&[("appid", ConstantPosition::Query, Some("first-secret"))]),
        ))
        .await
        .unwrap();

    // An edit of what a reader saw (no values) keeps the stored value…
    let mut edited = store.api(api.id).await.unwrap();
    edited.description = "edited".into();
    store.update_api(&edited).await.unwrap();
    let opened = store.api_with_secrets(api.id).await.unwrap().draft;
    assert_eq!(constant_values(&opened), vec![Some("first-secret".to_owned())]);
    store.update_draft(api.id, &edited.draft).await.unwrap();
    assert_eq!(
        constant_values(&store.api_with_secrets(api.id).await.unwrap().draft),
        vec![Some("first-secret".into())]
    );

    // …a value replaces it, and a version keeps the value it was saved with.
    store.save_version(api.id, "").await.unwrap();
    store
        .update_draft(api.id, &registered_draft(&[("appid", ConstantPosition::Query, Some("second-secret"))]))
        .await
        .unwrap();
    store.save_version(api.id, "").await.unwrap();
    store.publish(api.id, Environment::Test, 0).await.unwrap();
    store.publish(api.id, Environment::Prod, 1).await.unwrap();
    let test = store.published(Environment::Test).await.unwrap();
    let prod = store.published(Environment::Prod).await.unwrap();
    assert_eq!(constant_values(&test[0].version.definition), vec![Some("first-secret".to_owned())]);
    assert_eq!(constant_values(&prod[0].version.definition), vec![Some("second-secret".to_owned())]);

    // A constant that has no stored value needs one; nothing is written.
    let revision = store.revision().await.unwrap();
    let new_constant =
        registered_draft(&[("appid", ConstantPosition::Query, None), ("X-Token", ConstantPosition::Header, None)]);
    let refused = store.update_draft(api.id, &new_constant).await;
    assert!(matches!(&refused, Err(StoreError::Invalid(m)) if m.contains("X-Token")), "{refused:?}");
    let fresh = store.create_api(&new_api(workgroup.id, "fresh", new_constant)).await;
    assert!(matches!(&fresh, Err(StoreError::Invalid(m)) if m.contains("appid")), "{fresh:?}");
    assert_eq!(store.revision().await.unwrap(), revision);
    store.close().await;
}

async fn registered_apis_have_no_datasource(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let mut with_datasource = registered_draft(&[]);
    with_datasource.datasource_id = Some(datasource.id);
    assert!(matches!(
        store.create_api(&new_api(workgroup_id, "odd", with_datasource)).await,
        Err(StoreError::Invalid(m)) if m.contains("registered")
    ));
    let mut without = wizard_draft(datasource.id, "t");
    without.datasource_id = None;
    assert!(matches!(
        store.update_draft(api.id, &without).await,
        Err(StoreError::Invalid(m)) if m.contains("wizard")
    ));
    let twice =
        registered_draft(&[("k", ConstantPosition::Query, Some("a")), ("k", ConstantPosition::Query, Some("b"))]);
    assert!(matches!(store.create_api(&new_api(workgroup_id, "twice", twice)).await, Err(StoreError::Invalid(_))));

    // A SQL API can become a registered one and back; the datasource is free once nothing uses it.
    let registered = store.update_draft(api.id, &registered_draft(&[])).await.unwrap();
    assert_eq!(registered.draft.datasource_id, None);
    store.delete_datasource(datasource.id).await.unwrap();
    let v0 = store.save_version(api.id, "").await.unwrap();
    assert_eq!(v0.definition.datasource_id, None);
    store.publish(api.id, Environment::Prod, 0).await.unwrap();
    let prod = store.published(Environment::Prod).await.unwrap();
    assert_eq!((prod.len(), prod[0].datasource.is_none()), (1, true));
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// Users, tokens, members, folders, audit

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, StoreError>, mentions: &str) {
    match result {
        Err(StoreError::Invalid(message)) => assert!(message.contains(mentions), "`{message}` lacks `{mentions}`"),
        other => panic!("expected Invalid mentioning `{mentions}`, got {other:?}"),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn user_names_are_unique_in_any_case_and_users_update(db: TestDb) {
    let store = db.open().await;
    let jane = store.create_user("jane.doe", "Jane Doe", false).await.unwrap();
    assert!(jane.id > 0 && jane.created_at > 0);
    assert!(!jane.platform_admin && !jane.disabled);
    let ops = store.create_user("ops_bot-2", "", true).await.unwrap();
    assert!(ops.platform_admin);

    assert_conflict(store.create_user("Jane.Doe", "again", false).await, "Jane.Doe");
    for bad in ["", "jane doe", "jane@corp", &"x".repeat(65)] {
        assert!(matches!(store.create_user(bad, "", false).await, Err(StoreError::Invalid(_))), "{bad}");
    }
    assert_eq!(store.user(jane.id).await.unwrap(), jane);
    assert_eq!(store.user_by_name("JANE.DOE").await.unwrap(), jane);
    assert_not_found(store.user(9_999).await, "user");
    assert_not_found(store.user_by_name("nobody").await, "user");
    assert_eq!(store.list_users().await.unwrap(), vec![jane.clone(), ops.clone()]);

    let renamed = store
        .update_user(jane.id, &UserUpdate { display_name: Some("Jane D.".into()), ..UserUpdate::default() })
        .await
        .unwrap();
    assert_eq!(renamed, catalog::model::User { display_name: "Jane D.".into(), ..jane.clone() });
    let promoted = store
        .update_user(jane.id, &UserUpdate { platform_admin: Some(true), disabled: Some(true), display_name: None })
        .await
        .unwrap();
    assert!(promoted.platform_admin && promoted.disabled && promoted.display_name == "Jane D.");
    assert_eq!(store.user(jane.id).await.unwrap(), promoted);
    assert_not_found(store.update_user(9_999, &UserUpdate::default()).await, "user");
    // The update reads as JSON with camelCase keys, each one optional.
    let update: UserUpdate = serde_json::from_str(r#"{"disabled": false}"#).unwrap();
    assert!(!store.update_user(jane.id, &update).await.unwrap().disabled);
    let shown = serde_json::to_value(store.user(jane.id).await.unwrap()).unwrap();
    assert_eq!(shown["platformAdmin"], true);
    assert_eq!(shown["displayName"], "Jane D.");
    store.close().await;
}

async fn the_last_enabled_platform_admin_stays(db: TestDb) {
    let store = db.open().await;
    let root = store.create_user("root", "", true).await.unwrap();
    let other = store.create_user("other", "", true).await.unwrap();
    let plain = store.create_user("plain", "", false).await.unwrap();

    store.update_user(other.id, &UserUpdate { disabled: Some(true), ..UserUpdate::default() }).await.unwrap();
    let revision = store.revision().await.unwrap();
    assert_conflict(
        store.update_user(root.id, &UserUpdate { platform_admin: Some(false), ..UserUpdate::default() }).await,
        "last enabled platform admin",
    );
    assert_conflict(
        store.update_user(root.id, &UserUpdate { disabled: Some(true), ..UserUpdate::default() }).await,
        "root",
    );
    assert_eq!(store.user(root.id).await.unwrap(), root);
    assert_eq!(store.revision().await.unwrap(), revision);
    // Users who are not the remaining admin change freely.
    store.update_user(plain.id, &UserUpdate { disabled: Some(true), ..UserUpdate::default() }).await.unwrap();
    store.update_user(other.id, &UserUpdate { platform_admin: Some(false), ..UserUpdate::default() }).await.unwrap();
    // With another enabled admin, the first may step down.
    store
        .update_user(plain.id, &UserUpdate { disabled: Some(false), platform_admin: Some(true), display_name: None })
        .await
        .unwrap();
    store.update_user(root.id, &UserUpdate { platform_admin: Some(false), ..UserUpdate::default() }).await.unwrap();
    store.close().await;
}

async fn tokens_are_hashed_at_rest_and_shown_once(db: TestDb) {
    let store = db.open().await;
    let jane = store.create_user("jane", "", false).await.unwrap();
    let expires = now_ms() + 3_600_000;
    let (token, text) = store.create_token(jane.id, "laptop", Some(expires)).await.unwrap();
    assert!(token.id > 0 && token.created_at > 0);
    assert_eq!((token.user_id, token.name.as_str(), token.expires_at), (jane.id, "laptop", Some(expires)));
    assert_eq!((token.last_used_at, token.revoked), (None, false));
    assert_eq!(text.len(), 44, "{text}");
    assert!(text.starts_with("slt_"), "{text}");
    assert!(text[4..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{text}");
    assert_eq!(token.prefix, text[..8]);

    // Only the SHA-256 is at rest; no column holds the text.
    let hash = db.raw_text("SELECT token_hash FROM api_tokens WHERE id = $1", token.id).await.unwrap();
    assert_eq!(hash, catalog::store::hash_token(&text));
    assert_eq!(hash.len(), 64);
    assert!(!hash.contains(&text[4..]), "{hash}");
    for column in [
        "SELECT name FROM api_tokens WHERE id = $1",
        "SELECT prefix FROM api_tokens WHERE id = $1",
        "SELECT token_hash FROM api_tokens WHERE id = $1",
    ] {
        let value = db.raw_text(column, token.id).await.unwrap_or_default();
        assert!(!value.contains(&text), "{column}: {value}");
    }
    // Reads never show it either.
    let listed = store.list_tokens(jane.id).await.unwrap();
    assert_eq!(listed, vec![token.clone()]);
    let shown = serde_json::to_string(&listed).unwrap();
    assert!(!shown.contains(&text) && !shown.contains(&hash), "{shown}");
    assert_eq!(store.token(token.id).await.unwrap(), token);

    // Each token is new; tokens need a known user, a name and a future expiry.
    let (_, second) = store.create_token(jane.id, "laptop", None).await.unwrap();
    assert_ne!(second, text);
    assert_eq!(store.list_tokens(jane.id).await.unwrap().len(), 2);
    assert_not_found(store.create_token(9_999, "x", None).await, "user");
    assert_invalid(store.create_token(jane.id, " ", None).await, "token name");
    assert_invalid(store.create_token(jane.id, "old", Some(now_ms() - 1)).await, "future");
    assert_not_found(store.token(9_999).await, "token");
    assert_eq!(store.list_tokens(9_999).await.unwrap(), vec![]);
    store.close().await;
}

async fn tokens_stop_authenticating_when_revoked_expired_or_disabled(db: TestDb) {
    let store = db.open().await;
    let jane = store.create_user("jane", "Jane", false).await.unwrap();
    let now = now_ms();
    let (token, text) = store.create_token(jane.id, "ci", Some(now + 60_000)).await.unwrap();

    let (user, seen) = store.authenticate(&text, now).await.unwrap().unwrap();
    assert_eq!(user, jane);
    assert_eq!((seen.id, seen.last_used_at), (token.id, Some(now)));
    // Unknown, altered or empty text proves nothing.
    assert_eq!(store.authenticate("slt_not-a-token", now).await.unwrap(), None);
    assert_eq!(store.authenticate(&text.to_uppercase(), now).await.unwrap(), None);
    assert_eq!(store.authenticate("", now).await.unwrap(), None);
    // Expiry is exclusive.
    assert!(store.authenticate(&text, now + 59_999).await.unwrap().is_some());
    assert_eq!(store.authenticate(&text, now + 60_000).await.unwrap(), None);

    // A disabled user's tokens prove nothing until the user is enabled again.
    let (_, forever) = store.create_token(jane.id, "forever", None).await.unwrap();
    assert!(store.authenticate(&forever, now + 10_000_000).await.unwrap().is_some());
    store.update_user(jane.id, &UserUpdate { disabled: Some(true), ..UserUpdate::default() }).await.unwrap();
    assert_eq!(store.authenticate(&forever, now).await.unwrap(), None);
    store.update_user(jane.id, &UserUpdate { disabled: Some(false), ..UserUpdate::default() }).await.unwrap();
    assert!(store.authenticate(&forever, now).await.unwrap().is_some());

    // Revoking is for good, and revoking again changes nothing.
    let revoked = store.revoke_token(token.id).await.unwrap();
    assert!(revoked.revoked);
    assert_eq!(store.authenticate(&text, now).await.unwrap(), None);
    let revision = store.revision().await.unwrap();
    assert_eq!(store.revoke_token(token.id).await.unwrap(), revoked);
    assert_eq!(store.revision().await.unwrap(), revision);
    assert!(store.list_tokens(jane.id).await.unwrap()[0].revoked);
    assert_not_found(store.revoke_token(9_999).await, "token");
    // The other token is untouched.
    assert!(store.authenticate(&forever, now).await.unwrap().is_some());
    store.close().await;
}

async fn authentication_records_last_use_at_most_once_a_minute(db: TestDb) {
    let store = db.open().await;
    let jane = store.create_user("jane", "", false).await.unwrap();
    let (token, text) = store.create_token(jane.id, "ci", None).await.unwrap();
    let t0 = now_ms();
    let last_used = |store: Store| async move { store.token(token.id).await.unwrap().last_used_at };

    store.authenticate(&text, t0).await.unwrap().unwrap();
    assert_eq!(last_used(store.clone()).await, Some(t0));
    let (_, seen) = store.authenticate(&text, t0 + 59_999).await.unwrap().unwrap();
    assert_eq!(seen.last_used_at, Some(t0));
    assert_eq!(last_used(store.clone()).await, Some(t0));
    store.authenticate(&text, t0 + 60_000).await.unwrap().unwrap();
    assert_eq!(last_used(store.clone()).await, Some(t0 + 60_000));
    // A refused authentication records nothing.
    store.revoke_token(token.id).await.unwrap();
    assert_eq!(store.authenticate(&text, t0 + 600_000).await.unwrap(), None);
    assert_eq!(last_used(store.clone()).await, Some(t0 + 60_000));
    store.close().await;
}

async fn bootstrap_admin_is_idempotent(db: TestDb) {
    let store = db.open().await;
    let bootstrap = "slc_0123456789abcdef0123456789abcdef";
    let (admin, registered) = store.ensure_bootstrap_admin(bootstrap).await.unwrap();
    assert!(registered);
    assert_eq!(admin.name, "admin");
    assert!(admin.platform_admin && !admin.disabled);
    let revision = store.revision().await.unwrap();

    // Again, and from a second process: nothing new.
    assert_eq!(store.ensure_bootstrap_admin(bootstrap).await.unwrap(), (admin.clone(), false));
    let other = db.open().await;
    assert_eq!(other.ensure_bootstrap_admin(bootstrap).await.unwrap(), (admin.clone(), false));
    other.close().await;
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.list_users().await.unwrap(), vec![admin.clone()]);
    let tokens = store.list_tokens(admin.id).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        (tokens[0].name.as_str(), tokens[0].prefix.as_str(), tokens[0].expires_at),
        ("bootstrap", "slc_0123", None)
    );
    let hash = db.raw_text("SELECT token_hash FROM api_tokens WHERE id = $1", tokens[0].id).await.unwrap();
    assert_eq!(hash, catalog::store::hash_token(bootstrap));

    let (user, token) = store.authenticate(bootstrap, now_ms()).await.unwrap().unwrap();
    assert_eq!((user.id, token.id), (admin.id, tokens[0].id));

    // Another bootstrap token joins the first; a revoked one stays revoked.
    let (_, registered) = store.ensure_bootstrap_admin("another-configured-token").await.unwrap();
    assert!(registered);
    assert_eq!(store.list_tokens(admin.id).await.unwrap().len(), 2);
    assert!(store.authenticate(bootstrap, now_ms()).await.unwrap().is_some());
    store.revoke_token(tokens[0].id).await.unwrap();
    assert!(!store.ensure_bootstrap_admin(bootstrap).await.unwrap().1);
    assert_eq!(store.authenticate(bootstrap, now_ms()).await.unwrap(), None);
    assert!(matches!(store.ensure_bootstrap_admin("  ").await, Err(StoreError::Invalid(_))));
    // A short configured token shows little in lists.
    let short = store.list_tokens(admin.id).await.unwrap()[1].prefix.clone();
    assert_eq!(short, "anothe");
    store.close().await;
}

async fn members_have_one_role_per_workgroup(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let jane = store.create_user("jane", "", false).await.unwrap();
    let joe = store.create_user("joe", "", false).await.unwrap();

    let member = store.add_member(sales.id, jane.id, WorkgroupRole::Developer).await.unwrap();
    assert_eq!((member.workgroup_id, member.user_id, member.role), (sales.id, jane.id, WorkgroupRole::Developer));
    assert!(member.added_at > 0);
    store.add_member(sales.id, joe.id, WorkgroupRole::Viewer).await.unwrap();
    store.add_member(ops.id, jane.id, WorkgroupRole::Admin).await.unwrap();

    // Adding again changes the role and keeps when the member was added.
    let promoted = store.add_member(sales.id, jane.id, WorkgroupRole::Admin).await.unwrap();
    assert_eq!((promoted.role, promoted.added_at), (WorkgroupRole::Admin, member.added_at));
    let revision = store.revision().await.unwrap();
    assert_eq!(store.add_member(sales.id, jane.id, WorkgroupRole::Admin).await.unwrap(), promoted);
    assert_eq!(store.revision().await.unwrap(), revision);

    assert_eq!(store.membership(sales.id, jane.id).await.unwrap(), Some(WorkgroupRole::Admin));
    assert_eq!(store.membership(sales.id, joe.id).await.unwrap(), Some(WorkgroupRole::Viewer));
    assert_eq!(store.membership(ops.id, joe.id).await.unwrap(), None);
    let members = store.members(sales.id).await.unwrap();
    assert_eq!(
        members.iter().map(|m| (m.user_id, m.role)).collect::<Vec<_>>(),
        vec![(jane.id, WorkgroupRole::Admin), (joe.id, WorkgroupRole::Viewer)]
    );
    let of_jane = store.workgroups_of(jane.id).await.unwrap();
    assert_eq!(of_jane, vec![(sales.clone(), WorkgroupRole::Admin), (ops.clone(), WorkgroupRole::Admin)]);
    assert_eq!(store.workgroups_of(9_999).await.unwrap(), vec![]);
    let shown = serde_json::to_value(promoted).unwrap();
    assert_eq!((shown["role"].as_str(), shown["workgroupId"].as_i64()), (Some("admin"), Some(sales.id)));

    assert_not_found(store.add_member(9_999, jane.id, WorkgroupRole::Viewer).await, "workgroup");
    assert_not_found(store.add_member(sales.id, 9_999, WorkgroupRole::Viewer).await, "user");

    store.remove_member(sales.id, joe.id).await.unwrap();
    assert_eq!(store.membership(sales.id, joe.id).await.unwrap(), None);
    assert_not_found(store.remove_member(sales.id, joe.id).await, "member");
    assert_eq!(store.members(sales.id).await.unwrap().len(), 1);
    assert_eq!(store.members(9_999).await.unwrap(), vec![]);
    store.close().await;
}

async fn workgroups_read_update_and_delete_only_when_empty(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let workgroup = store.workgroup(workgroup_id).await.unwrap();
    assert_eq!(workgroup.name, "sales");
    assert_not_found(store.workgroup(9_999).await, "workgroup");
    let updated = store.update_workgroup(workgroup_id, "the sales team").await.unwrap();
    assert_eq!(updated, catalog::model::Workgroup { description: "the sales team".into(), ..workgroup.clone() });
    assert_eq!(store.workgroup(workgroup_id).await.unwrap(), updated);
    assert_not_found(store.update_workgroup(9_999, "").await, "workgroup");

    let jane = store.create_user("jane", "", false).await.unwrap();
    store.add_member(workgroup_id, jane.id, WorkgroupRole::Admin).await.unwrap();
    let top = store.create_folder(workgroup_id, None, "top").await.unwrap();
    store.create_folder(workgroup_id, Some(top.id), "inner").await.unwrap();

    let message = assert_conflict(store.delete_workgroup(workgroup_id).await, "datasources");
    assert!(message.contains("1 APIs"), "{message}");
    store.delete_api(api.id).await.unwrap();
    assert_conflict(store.delete_workgroup(workgroup_id).await, "1 datasources");
    store.delete_datasource(datasource.id).await.unwrap();
    let (_, _) = store.create_app(workgroup_id, "mobile", "").await.unwrap();
    assert_conflict(store.delete_workgroup(workgroup_id).await, "apps");
    // (No store call deletes an app yet: start again with a workgroup without one.)
    let empty = store.create_workgroup("empty", "").await.unwrap();
    store.add_member(empty.id, jane.id, WorkgroupRole::Viewer).await.unwrap();
    let a = store.create_folder(empty.id, None, "a").await.unwrap();
    let b = store.create_folder(empty.id, Some(a.id), "b").await.unwrap();
    store.create_folder(empty.id, Some(b.id), "c").await.unwrap();
    store.delete_workgroup(empty.id).await.unwrap();
    assert_not_found(store.workgroup(empty.id).await, "workgroup");
    assert_eq!(store.folders(empty.id).await.unwrap(), vec![]);
    assert_eq!(store.members(empty.id).await.unwrap(), vec![]);
    assert_eq!(store.workgroups_of(jane.id).await.unwrap().len(), 1);
    assert_not_found(store.delete_workgroup(empty.id).await, "workgroup");
    // The name is free again.
    store.create_workgroup("empty", "").await.unwrap();
    store.close().await;
}

/// A folder's name and parent, for comparing trees.
fn shape(folders: &[Folder]) -> Vec<(String, Option<String>)> {
    let name_of = |id: i64| folders.iter().find(|f| f.id == id).map(|f| f.name.clone()).unwrap();
    let mut shape: Vec<_> = folders.iter().map(|f| (f.name.clone(), f.parent_id.map(name_of))).collect();
    shape.sort();
    shape
}

fn pairs(items: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    let mut pairs: Vec<_> = items.iter().map(|(n, p)| ((*n).to_owned(), p.map(str::to_owned))).collect();
    pairs.sort();
    pairs
}

async fn folders_nest_at_most_three_levels_with_unique_sibling_names(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();

    let one = store.create_folder(sales.id, None, " reports ").await.unwrap();
    assert!(one.id > 0 && one.created_at > 0);
    assert_eq!((one.workgroup_id, one.parent_id, one.name.as_str()), (sales.id, None, "reports"));
    let two = store.create_folder(sales.id, Some(one.id), "daily").await.unwrap();
    let three = store.create_folder(sales.id, Some(two.id), "eu").await.unwrap();
    assert_eq!(three.parent_id, Some(two.id));
    assert_invalid(store.create_folder(sales.id, Some(three.id), "deeper").await, "folders nest at most three levels");

    // Sibling names are unique, case-sensitively; other parents and workgroups may reuse them.
    assert_conflict(store.create_folder(sales.id, None, "reports").await, "reports");
    assert_conflict(store.create_folder(sales.id, Some(one.id), "daily").await, "daily");
    store.create_folder(sales.id, None, "Reports").await.unwrap();
    store.create_folder(sales.id, Some(two.id), "daily").await.unwrap();
    store.create_folder(ops.id, None, "reports").await.unwrap();

    // The parent must exist and be the workgroup's own.
    assert_not_found(store.create_folder(sales.id, Some(9_999), "x").await, "folder");
    let ops_folder = store.folders(ops.id).await.unwrap()[0].clone();
    assert_invalid(store.create_folder(sales.id, Some(ops_folder.id), "x").await, "another workgroup");
    assert_not_found(store.create_folder(9_999, None, "x").await, "workgroup");
    for bad in ["", "  ", "a/b", &"x".repeat(65)] {
        assert!(matches!(store.create_folder(sales.id, None, bad).await, Err(StoreError::Invalid(_))), "{bad}");
    }

    let folders = store.folders(sales.id).await.unwrap();
    assert_eq!(folders[..3], [one.clone(), two.clone(), three.clone()]);
    assert_eq!(
        shape(&folders),
        pairs(&[
            ("reports", None),
            ("daily", Some("reports")),
            ("eu", Some("daily")),
            ("Reports", None),
            ("daily", Some("daily"))
        ])
    );
    assert_eq!(store.folder(two.id).await.unwrap(), two);
    assert_not_found(store.folder(9_999).await, "folder");
    assert_eq!(store.folders(9_999).await.unwrap(), vec![]);

    // Renaming keeps the place; a sibling's name is refused.
    let renamed = store.rename_folder(two.id, "weekly ").await.unwrap();
    assert_eq!(renamed, Folder { name: "weekly".into(), ..two.clone() });
    store.create_folder(sales.id, Some(one.id), "daily").await.unwrap();
    assert_conflict(store.rename_folder(renamed.id, "daily").await, "daily");
    assert_not_found(store.rename_folder(9_999, "x").await, "folder");
    assert!(matches!(store.rename_folder(one.id, "a/b").await, Err(StoreError::Invalid(_))));
    let serialized = serde_json::to_value(store.folder(three.id).await.unwrap()).unwrap();
    assert_eq!(serialized["parentId"].as_i64(), Some(two.id));
    store.close().await;
}

async fn moving_a_folder_moves_its_subtree_within_the_limits(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, _) = seeded(&store).await;
    // a ─ b ─ c, d ─ e, f
    let a = store.create_folder(workgroup_id, None, "a").await.unwrap();
    let b = store.create_folder(workgroup_id, Some(a.id), "b").await.unwrap();
    let c = store.create_folder(workgroup_id, Some(b.id), "c").await.unwrap();
    let d = store.create_folder(workgroup_id, None, "d").await.unwrap();
    let e = store.create_folder(workgroup_id, Some(d.id), "e").await.unwrap();
    let f = store.create_folder(workgroup_id, None, "f").await.unwrap();
    let mut in_c = new_api(workgroup_id, "in_c", wizard_draft(datasource.id, "t"));
    in_c.folder_id = Some(c.id);
    let in_c = store.create_api(&in_c).await.unwrap();

    // Into itself or under itself: refused.
    assert_invalid(store.move_folder(a.id, Some(a.id)).await, "itself");
    assert_invalid(store.move_folder(a.id, Some(c.id)).await, "itself");
    // Too deep: b (two levels) under e (level 2) would reach level 4; a under f would too.
    assert_invalid(store.move_folder(b.id, Some(e.id)).await, "folders nest at most three levels");
    assert_invalid(store.move_folder(a.id, Some(f.id)).await, "three levels");
    assert_not_found(store.move_folder(a.id, Some(9_999)).await, "folder");
    assert_not_found(store.move_folder(9_999, None).await, "folder");
    let revision = store.revision().await.unwrap();

    // b with c (and the API in c) moves under d: the whole subtree follows.
    let moved = store.move_folder(b.id, Some(d.id)).await.unwrap();
    assert_eq!(moved, Folder { parent_id: Some(d.id), ..b.clone() });
    assert!(store.revision().await.unwrap() > revision);
    assert_eq!(
        shape(&store.folders(workgroup_id).await.unwrap()),
        pairs(&[("a", None), ("b", Some("d")), ("c", Some("b")), ("d", None), ("e", Some("d")), ("f", None)])
    );
    assert_eq!(store.api(in_c.id).await.unwrap().folder_id, Some(c.id));
    // To the root, and down again.
    store.move_folder(c.id, None).await.unwrap();
    store.move_folder(c.id, Some(e.id)).await.unwrap();
    assert_eq!(store.folder(c.id).await.unwrap().parent_id, Some(e.id));
    // Moving where it already is changes nothing.
    let revision = store.revision().await.unwrap();
    assert_eq!(store.move_folder(c.id, Some(e.id)).await.unwrap().parent_id, Some(e.id));
    assert_eq!(store.revision().await.unwrap(), revision);

    // A name taken at the destination is refused, and so is another workgroup's folder.
    store.create_folder(workgroup_id, Some(a.id), "e").await.unwrap();
    assert_conflict(store.move_folder(e.id, Some(a.id)).await, "`e`");
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let foreign = store.create_folder(ops.id, None, "x").await.unwrap();
    assert_invalid(store.move_folder(f.id, Some(foreign.id)).await, "another workgroup");
    assert_eq!(store.folder(f.id).await.unwrap(), f);
    store.close().await;
}

async fn deleting_a_folder_moves_its_contents_one_level_up(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, root_api) = seeded(&store).await;
    // a ─ b ─ {c, "b"}, with APIs in a, b and c.
    let a = store.create_folder(workgroup_id, None, "a").await.unwrap();
    let b = store.create_folder(workgroup_id, Some(a.id), "b").await.unwrap();
    let c = store.create_folder(workgroup_id, Some(b.id), "c").await.unwrap();
    let b_in_b = store.create_folder(workgroup_id, Some(b.id), "b").await.unwrap();
    let mut apis = Vec::new();
    for (name, folder) in [("in_a", a.id), ("in_b", b.id), ("in_c", c.id)] {
        let mut api = new_api(workgroup_id, name, wizard_draft(datasource.id, "t"));
        api.folder_id = Some(folder);
        apis.push(store.create_api(&api).await.unwrap());
    }

    // Deleting b lifts c, the inner "b" (its own name is freed first) and the API in b into a.
    store.delete_folder(b.id).await.unwrap();
    assert_not_found(store.folder(b.id).await, "folder");
    assert_eq!(
        shape(&store.folders(workgroup_id).await.unwrap()),
        pairs(&[("a", None), ("b", Some("a")), ("c", Some("a"))])
    );
    assert_eq!(store.folder(b_in_b.id).await.unwrap().parent_id, Some(a.id));
    assert_eq!(store.api(apis[1].id).await.unwrap().folder_id, Some(a.id));
    assert_eq!(store.api(apis[2].id).await.unwrap().folder_id, Some(c.id));

    // A child whose name is taken one level up: refused, nothing changes.
    store.create_folder(workgroup_id, None, "c").await.unwrap();
    let before = store.folders(workgroup_id).await.unwrap();
    let revision = store.revision().await.unwrap();
    assert_conflict(store.delete_folder(a.id).await, "`c`");
    assert_eq!(store.folders(workgroup_id).await.unwrap(), before);
    assert_eq!(store.revision().await.unwrap(), revision);

    // Rename the clash away, then deleting a lifts everything to the root.
    store.rename_folder(c.id, "c2").await.unwrap();
    store.delete_folder(a.id).await.unwrap();
    assert_eq!(shape(&store.folders(workgroup_id).await.unwrap()), pairs(&[("b", None), ("c", None), ("c2", None)]));
    assert_eq!(store.api(apis[0].id).await.unwrap().folder_id, None);
    assert_eq!(store.api(apis[1].id).await.unwrap().folder_id, None);
    assert_eq!(store.api(apis[2].id).await.unwrap().folder_id, Some(c.id));
    assert_eq!(store.api(root_api.id).await.unwrap().folder_id, None);

    // An empty folder just goes.
    store.delete_folder(b_in_b.id).await.unwrap();
    assert_not_found(store.delete_folder(b_in_b.id).await, "folder");
    assert_eq!(store.folders(workgroup_id).await.unwrap().len(), 2);
    store.close().await;
}

async fn apis_sit_in_folders_of_their_own_workgroup(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    assert_eq!(api.folder_id, None);
    let reports = store.create_folder(workgroup_id, None, "reports").await.unwrap();
    let daily = store.create_folder(workgroup_id, Some(reports.id), "daily").await.unwrap();

    let moved = store.move_api(api.id, Some(daily.id)).await.unwrap();
    assert_eq!(moved.folder_id, Some(daily.id));
    assert_eq!(store.api(api.id).await.unwrap(), moved);
    assert_eq!(store.list_apis(workgroup_id).await.unwrap(), vec![moved.clone()]);
    assert_eq!(serde_json::to_value(&moved).unwrap()["folderId"].as_i64(), Some(daily.id));
    // update_api leaves the folder alone, whatever it is given.
    let updated = store.update_api(&Api { description: "x".into(), folder_id: None, ..moved.clone() }).await.unwrap();
    assert_eq!(updated.folder_id, Some(daily.id));
    // Saving, publishing and serving carry the folder along.
    store.save_version(api.id, "").await.unwrap();
    store.publish(api.id, Environment::Prod, 0).await.unwrap();
    assert_eq!(store.published(Environment::Prod).await.unwrap()[0].api.folder_id, Some(daily.id));

    let back = store.move_api(api.id, None).await.unwrap();
    assert_eq!(back.folder_id, None);

    let ops = store.create_workgroup("ops", "").await.unwrap();
    let foreign = store.create_folder(ops.id, None, "x").await.unwrap();
    assert_invalid(store.move_api(api.id, Some(foreign.id)).await, "another workgroup");
    assert_not_found(store.move_api(api.id, Some(9_999)).await, "folder");
    assert_not_found(store.move_api(9_999, None).await, "API");

    // Created straight into a folder, which must be the workgroup's.
    let mut placed = new_api(workgroup_id, "placed", wizard_draft(datasource.id, "t"));
    placed.folder_id = Some(reports.id);
    let placed = store.create_api(&placed).await.unwrap();
    assert_eq!(store.api(placed.id).await.unwrap().folder_id, Some(reports.id));
    let mut astray = new_api(workgroup_id, "astray", wizard_draft(datasource.id, "t"));
    astray.folder_id = Some(foreign.id);
    assert_invalid(store.create_api(&astray).await, "another workgroup");
    astray.folder_id = Some(9_999);
    assert_not_found(store.create_api(&astray).await, "folder");
    astray.workgroup_id = 9_999;
    assert_not_found(store.create_api(&astray).await, "workgroup");
    let db_value = db.raw_count("SELECT COUNT(*) FROM apis WHERE folder_id = $1", reports.id).await;
    assert_eq!(db_value, 1);
    store.close().await;
}

async fn audit_entries_read_newest_first_in_pages(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let entry = |action: &str, workgroup_id: Option<i64>, target: &str| AuditEntry {
        id: 0,
        at: 0,
        actor: "jane".into(),
        action: action.into(),
        workgroup_id,
        target: target.into(),
        detail: serde_json::json!({"name": target}),
    };
    let revision = store.revision().await.unwrap();
    let mut appended = Vec::new();
    for (i, action) in ["api.create", "api.update", "version.publish", "user.create", "api.delete"].iter().enumerate() {
        let workgroup_id = if action.starts_with("user") { None } else { Some(sales.id) };
        appended.push(store.audit(&entry(action, workgroup_id, &format!("api:{i}"))).await.unwrap());
    }
    assert!(appended.windows(2).all(|w| w[0].id < w[1].id));
    assert!(appended[0].at > 0);
    // Bookkeeping: appending leaves the revision alone.
    assert_eq!(store.revision().await.unwrap(), revision);

    let all = store.audit_log(None, 100, None).await.unwrap();
    assert_eq!(all, appended.iter().rev().cloned().collect::<Vec<_>>());
    let of_sales = store.audit_log(Some(sales.id), 100, None).await.unwrap();
    assert_eq!(
        of_sales.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["api.delete", "version.publish", "api.update", "api.create"]
    );
    // Pages: pass the last id seen.
    let first = store.audit_log(Some(sales.id), 2, None).await.unwrap();
    assert_eq!(first, of_sales[..2]);
    let second = store.audit_log(Some(sales.id), 2, Some(first[1].id)).await.unwrap();
    assert_eq!(second, of_sales[2..]);
    assert_eq!(store.audit_log(Some(sales.id), 2, Some(second[1].id)).await.unwrap(), vec![]);
    assert_eq!(store.audit_log(Some(9_999), 10, None).await.unwrap(), vec![]);
    assert_eq!(store.audit_log(None, 0, None).await.unwrap(), vec![]);

    // A given time is kept; secrets in details are masked before they are stored.
    let secretive = AuditEntry {
        at: 1_700_000_000_000,
        detail: serde_json::json!({"connection": {"host": "db", "password": "hunter2"}, "appSecret": "s3"}),
        ..entry("datasource.update", Some(sales.id), "datasource:1")
    };
    let stored = store.audit(&secretive).await.unwrap();
    assert_eq!(stored.at, 1_700_000_000_000);
    let raw = db.raw_text("SELECT detail_json FROM audit_log WHERE id = $1", stored.id).await.unwrap();
    assert!(!raw.contains("hunter2") && !raw.contains("s3\""), "{raw}");
    assert!(raw.contains("\"host\":\"db\""), "{raw}");
    assert_eq!(store.audit_log(None, 1, None).await.unwrap(), vec![stored]);
    assert!(matches!(
        store.audit(&AuditEntry { actor: " ".into(), ..secretive.clone() }).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(store.audit(&AuditEntry { action: "".into(), ..secretive }).await, Err(StoreError::Invalid(_))));

    // Entries outlive their workgroup.
    store.delete_workgroup(sales.id).await.unwrap();
    assert_eq!(store.audit_log(Some(sales.id), 100, None).await.unwrap().len(), 5);
    store.close().await;
}

async fn access_writes_bump_the_revision_and_bookkeeping_does_not(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, _, api) = seeded(&store).await;
    let mut last = store.revision().await.unwrap();
    async fn moved(store: &Store, last: &mut i64, what: &str) {
        let now = store.revision().await.unwrap();
        assert!(now > *last, "{what} did not bump the revision ({now} after {last})");
        *last = now;
    }
    async fn still(store: &Store, last: i64, what: &str) {
        assert_eq!(store.revision().await.unwrap(), last, "{what} bumped the revision");
    }

    let jane = store.create_user("jane", "", true).await.unwrap();
    moved(&store, &mut last, "create_user").await;
    store.update_user(jane.id, &UserUpdate { display_name: Some("J".into()), ..UserUpdate::default() }).await.unwrap();
    moved(&store, &mut last, "update_user").await;
    let (token, text) = store.create_token(jane.id, "ci", None).await.unwrap();
    moved(&store, &mut last, "create_token").await;
    store.ensure_bootstrap_admin("bootstrap-token-for-the-revision-test").await.unwrap();
    moved(&store, &mut last, "ensure_bootstrap_admin").await;
    store.add_member(workgroup_id, jane.id, WorkgroupRole::Viewer).await.unwrap();
    moved(&store, &mut last, "add_member").await;
    store.add_member(workgroup_id, jane.id, WorkgroupRole::Developer).await.unwrap();
    moved(&store, &mut last, "add_member (new role)").await;
    store.update_workgroup(workgroup_id, "d").await.unwrap();
    moved(&store, &mut last, "update_workgroup").await;
    let top = store.create_folder(workgroup_id, None, "top").await.unwrap();
    moved(&store, &mut last, "create_folder").await;
    let inner = store.create_folder(workgroup_id, None, "inner").await.unwrap();
    store.rename_folder(inner.id, "inner2").await.unwrap();
    moved(&store, &mut last, "rename_folder").await;
    store.move_folder(inner.id, Some(top.id)).await.unwrap();
    moved(&store, &mut last, "move_folder").await;
    store.move_api(api.id, Some(inner.id)).await.unwrap();
    moved(&store, &mut last, "move_api").await;

    // Reads and bookkeeping leave it alone.
    store.user(jane.id).await.unwrap();
    store.user_by_name("jane").await.unwrap();
    store.list_users().await.unwrap();
    store.list_tokens(jane.id).await.unwrap();
    store.token(token.id).await.unwrap();
    store.authenticate(&text, now_ms()).await.unwrap().unwrap();
    store.members(workgroup_id).await.unwrap();
    store.membership(workgroup_id, jane.id).await.unwrap();
    store.workgroups_of(jane.id).await.unwrap();
    store.workgroup(workgroup_id).await.unwrap();
    store.folders(workgroup_id).await.unwrap();
    store.folder(top.id).await.unwrap();
    store
        .audit(&AuditEntry {
            id: 0,
            at: 0,
            actor: "jane".into(),
            action: "api.move".into(),
            workgroup_id: Some(workgroup_id),
            target: format!("api:{}", api.id),
            detail: serde_json::Value::Null,
        })
        .await
        .unwrap();
    store.audit_log(None, 10, None).await.unwrap();
    still(&store, last, "a read or bookkeeping").await;

    // So do refused writes.
    assert!(store.create_user("JANE", "", false).await.is_err());
    assert!(store.create_token(9_999, "x", None).await.is_err());
    assert!(store.add_member(9_999, jane.id, WorkgroupRole::Admin).await.is_err());
    assert!(store.create_folder(workgroup_id, None, "top").await.is_err());
    assert!(store.move_folder(top.id, Some(inner.id)).await.is_err());
    assert!(store.delete_workgroup(workgroup_id).await.is_err());
    assert!(store.remove_member(workgroup_id, 9_999).await.is_err());
    still(&store, last, "a refused write").await;

    store.revoke_token(token.id).await.unwrap();
    moved(&store, &mut last, "revoke_token").await;
    store.remove_member(workgroup_id, jane.id).await.unwrap();
    moved(&store, &mut last, "remove_member").await;
    store.delete_folder(top.id).await.unwrap();
    moved(&store, &mut last, "delete_folder").await;
    let empty = store.create_workgroup("empty", "").await.unwrap();
    moved(&store, &mut last, "create_workgroup").await;
    store.delete_workgroup(empty.id).await.unwrap();
    moved(&store, &mut last, "delete_workgroup").await;
    store.close().await;
}

async fn concurrent_tree_and_admin_changes_cannot_break_the_rules(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let demote = UserUpdate { platform_admin: Some(false), ..UserUpdate::default() };
    // The admin left from the round before, demoted once the round's pair exists.
    let mut carried: Option<i64> = None;
    for round in 0..8 {
        // Each move alone is fine; both together would make a cycle.
        let a = store.create_folder(workgroup.id, None, &format!("a{round}")).await.unwrap();
        let b = store.create_folder(workgroup.id, None, &format!("b{round}")).await.unwrap();
        let (first, second) = tokio::join!(
            tokio::spawn({
                let store = store.clone();
                async move { store.move_folder(a.id, Some(b.id)).await }
            }),
            tokio::spawn({
                let store = store.clone();
                async move { store.move_folder(b.id, Some(a.id)).await }
            }),
        );
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(first.is_ok() != second.is_ok(), "round {round}: {first:?} / {second:?}");
        let (a, b) = (store.folder(a.id).await.unwrap(), store.folder(b.id).await.unwrap());
        assert!(a.parent_id.is_none() || b.parent_id.is_none(), "round {round}: a cycle {a:?} {b:?}");

        // The only two enabled admins step down at once: one of them stays.
        let x = store.create_user(&format!("x{round}"), "", true).await.unwrap();
        let y = store.create_user(&format!("y{round}"), "", true).await.unwrap();
        if let Some(previous) = carried {
            store.update_user(previous, &demote).await.unwrap();
        }
        let step_down = |id: i64| {
            let (store, demote) = (store.clone(), demote.clone());
            tokio::spawn(async move { store.update_user(id, &demote).await })
        };
        let (first, second) = tokio::join!(step_down(x.id), step_down(y.id));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(first.is_ok() != second.is_ok(), "round {round}: {first:?} / {second:?}");
        let admins: Vec<_> =
            store.list_users().await.unwrap().into_iter().filter(|u| u.platform_admin && !u.disabled).collect();
        assert_eq!(admins.len(), 1, "round {round}: {admins:?}");
        carried = Some(admins[0].id);
    }
    store.close().await;
}
