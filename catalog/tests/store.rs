//! The metadata store's behaviour, checked identically on SQLite and PostgreSQL.
//!
//! Every scenario below is one `async fn(TestDb)`; `backend_tests!` runs each on a fresh
//! SQLite file and on a fresh PostgreSQL schema. PostgreSQL is expected at
//! `postgres://postgres@127.0.0.1:5432/test` (override with `SLUICE_TEST_POSTGRES_URL`); when
//! it is unreachable those tests fail, they do not skip.

use std::future::Future;
use std::path::PathBuf;

use catalog::model::{
    Api, ApiDefinition, ApiMode, ApiOptions, ApiSettings, App, AppToken, AuditEntry, AuthMode, ConnectionSettings,
    ConstantPosition, Datasource, DatasourceKind, Environment, Folder, Grant, GrayStrategy, MAX_TAG_CHARS, MAX_TAGS,
    ParamPosition, RegisteredConstant, RegisteredParam, RegisteredSpec, ScriptSpec, SecurityLevel, UpstreamFormat,
    UpstreamMethod, UserUpdate, VisibleRange, WizardSpec, WorkgroupRole,
};
use catalog::secret::SecretBox;
use catalog::store::{
    APP_TOKEN_MAX_TTL_SECS, ApiQuery, ApiStatus, AppCredentials, Backend, CallerDirectory, MAX_IP_ALLOW, Store,
    StoreError, hash_token, token_prefix,
};
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

    /// Changes the database behind the store's back, the way time passing would.
    async fn raw_execute(&self, sql: &'static str, id: i64) {
        sqlx::any::install_default_drivers();
        let mut connection = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        let done = sqlx::query(sql).bind(id).execute(&mut connection).await.unwrap();
        assert_eq!(done.rows_affected(), 1, "{sql}");
        connection.close().await.unwrap();
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
    api_settings_round_trip_are_indexed_and_update,
    find_apis_filters_alone_and_combined_with_page_totals,
    name_search_takes_wildcard_characters_literally,
    deleting_a_published_api_is_refused_and_keeps_everything,
    racing_publish_and_delete_never_serve_a_missing_api,
    saving_a_checked_draft_refuses_one_that_changed,
    apps_update_their_settings_and_delete_with_their_tokens_and_grants,
    rotating_an_app_secret_keeps_the_old_one_only_for_the_overlap,
    app_tokens_are_hashed_at_rest_and_leave_the_directory_when_revoked_or_expired,
    disabled_apps_are_absent_from_the_caller_directory,
    grants_follow_reach_and_clearance_and_update_in_place,
    gray_strategies_need_a_saved_version_and_only_enabled_ones_are_released,
    deleting_an_app_or_an_api_takes_its_grants_tokens_and_gray_strategies,
    concurrent_caller_writes_settle_without_database_errors,
    caller_writes_bump_the_revision_and_reads_and_refusals_do_not,
    paths_of_other_workgroups_are_refused_at_publish_and_at_save,
    concurrent_publishes_of_one_path_let_exactly_one_win,
    platform_settings_round_trip_and_bump_the_revision,
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

    // A published API is not deleted; once offline everywhere it is.
    assert_conflict(store.delete_api(api.id).await, "prod");
    assert_eq!(store.published(Environment::Prod).await.unwrap().len(), 1);
    store.unpublish(api.id, Environment::Prod).await.unwrap();
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

    // For documents: the same APIs and versions, with empty drafts, only those `keep` accepts.
    let described = store.published_for_documents(Environment::Prod, |_| true).await.unwrap();
    assert_eq!(described.iter().map(|(a, _)| a.id).collect::<Vec<_>>(), [orders.id, users.id]);
    assert_eq!((&described[0].1, &described[1].1), (&v0, &users_v0));
    assert_eq!(described[1].0.name, "users");
    for (api, _) in &described {
        assert_eq!((api.draft.datasource_id, api.draft.request_params.len()), (None, 0), "{api:?}");
    }
    let only = store.published_for_documents(Environment::Prod, |a| a.id == users.id).await.unwrap();
    assert_eq!(only.iter().map(|(a, v)| (a.id, v.number)).collect::<Vec<_>>(), [(users.id, 0)]);
    let elsewhere = store.published_for_documents(Environment::Test, |a| a.workgroup_id != workgroup_id).await;
    assert!(elsewhere.unwrap().is_empty());
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
    // What documents read opens nothing: it reads alike with any key, without the values.
    let described = wrong.published_for_documents(Environment::Prod, |_| true).await.unwrap();
    assert_eq!(constant_values(&described[0].1.definition), vec![None, None]);
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

// ---------------------------------------------------------------------------------------------
// API settings, finding APIs, refused deletes, checked saves

/// A query over the whole workgroup with a page large enough for every test.
fn query(workgroup_id: i64) -> ApiQuery {
    ApiQuery { workgroup_id, limit: 100, ..ApiQuery::default() }
}

/// The names on the page `query` finds, and the total it reports.
async fn found(store: &Store, query: ApiQuery) -> (Vec<String>, u64) {
    let (apis, total) = store.find_apis(&query).await.unwrap();
    (apis.into_iter().map(|api| api.name).collect(), total)
}

fn names(items: &[&str]) -> Vec<String> {
    items.iter().map(|name| (*name).to_owned()).collect()
}

/// `names` with the total a page of all of them reports.
fn all(items: &[&str]) -> (Vec<String>, u64) {
    (names(items), items.len() as u64)
}

fn tags(items: &[&str]) -> Vec<String> {
    names(items)
}

async fn api_settings_round_trip_are_indexed_and_update(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, plain) = seeded(&store).await;
    let defaults = ApiSettings {
        tags: vec![],
        owner: String::new(),
        max_qps: None,
        security_level: SecurityLevel::L1,
        visible_range: VisibleRange::Private,
        auth_mode: AuthMode::App,
    };
    assert_eq!(store.api(plain.id).await.unwrap().settings, defaults);

    let settings = ApiSettings {
        tags: tags(&["daily", "finance"]),
        owner: "jane.doe".into(),
        max_qps: Some(50),
        security_level: SecurityLevel::L3,
        visible_range: VisibleRange::Public,
        auth_mode: AuthMode::None,
    };
    let mut input = new_api(workgroup_id, "ledger", wizard_draft(datasource.id, "ledger"));
    input.settings = settings.clone();
    let ledger = store.create_api(&input).await.unwrap();
    assert_eq!(ledger.settings, settings);
    assert_eq!(store.api(ledger.id).await.unwrap(), ledger);
    assert_eq!(store.list_apis(workgroup_id).await.unwrap(), vec![plain.clone(), ledger.clone()]);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_tags WHERE api_id = $1", ledger.id).await, 2);
    let level = db.raw_text("SELECT security_level FROM apis WHERE id = $1", ledger.id).await;
    assert_eq!(level.as_deref(), Some("L3"));
    assert_eq!(db.raw_text("SELECT visible_range FROM apis WHERE id = $1", ledger.id).await.as_deref(), Some("public"));
    assert_eq!(db.raw_text("SELECT auth_mode FROM apis WHERE id = $1", ledger.id).await.as_deref(), Some("none"));
    let largest = ApiSettings { max_qps: Some(u32::MAX), ..settings.clone() };
    let updated = store.update_api(&Api { settings: largest.clone(), ..ledger.clone() }).await.unwrap();
    assert_eq!(store.api(ledger.id).await.unwrap().settings, largest);
    assert_eq!(updated.settings, largest);

    // An update replaces every setting, and the tag index with them.
    let changed = ApiSettings {
        tags: tags(&["audit", "finance", "monthly"]),
        owner: "ops team".into(),
        max_qps: None,
        security_level: SecurityLevel::L2,
        visible_range: VisibleRange::Private,
        auth_mode: AuthMode::App,
    };
    let updated = store.update_api(&Api { settings: changed.clone(), ..ledger.clone() }).await.unwrap();
    assert_eq!(updated.settings, changed);
    assert_eq!(store.api(ledger.id).await.unwrap(), updated);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_tags WHERE api_id = $1", ledger.id).await, 3);
    assert_eq!(found(&store, ApiQuery { tag: Some("daily".into()), ..query(workgroup_id) }).await, all(&[]));
    assert_eq!(found(&store, ApiQuery { tag: Some("monthly".into()), ..query(workgroup_id) }).await, all(&["ledger"]));
    // Other updates keep the settings they are given; the draft alone leaves them as they are.
    let updated = store.update_draft(ledger.id, &wizard_draft(datasource.id, "ledger_v2")).await.unwrap();
    assert_eq!(updated.settings, changed);

    // Refused settings, on create and on update, leave everything as it was.
    let revision = store.revision().await.unwrap();
    let too_long = "x".repeat(MAX_TAG_CHARS + 1);
    let too_many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
    let refused = [
        (ApiSettings { tags: too_many, ..changed.clone() }, "tags"),
        (ApiSettings { tags: tags(&["a,b"]), ..changed.clone() }, "tag"),
        (ApiSettings { tags: tags(&[""]), ..changed.clone() }, "tag"),
        (ApiSettings { tags: tags(&[" padded"]), ..changed.clone() }, "tag"),
        (ApiSettings { tags: tags(&["line\nbreak"]), ..changed.clone() }, "tag"),
        (ApiSettings { tags: vec![too_long], ..changed.clone() }, "tag"),
        (ApiSettings { max_qps: Some(0), ..changed.clone() }, "QPS"),
    ];
    for (settings, mentions) in refused {
        let mut input = new_api(workgroup_id, "refused", wizard_draft(datasource.id, "t"));
        input.settings = settings.clone();
        assert_invalid(store.create_api(&input).await, mentions);
        assert_invalid(store.update_api(&Api { settings, ..updated.clone() }).await, mentions);
    }
    let longest = "y".repeat(MAX_TAG_CHARS);
    let most: Vec<String> = (0..MAX_TAGS).map(|i| format!("t{i}")).collect();
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.api(ledger.id).await.unwrap(), updated);
    assert_eq!(store.list_apis(workgroup_id).await.unwrap().len(), 2);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_tags WHERE api_id > $1", 0).await, 3);
    // The limits themselves are fine.
    let at_limits = ApiSettings { tags: most.clone(), ..changed.clone() };
    assert_eq!(store.update_api(&Api { settings: at_limits, ..updated.clone() }).await.unwrap().settings.tags, most);
    let one_long = ApiSettings { tags: vec![longest.clone()], ..changed.clone() };
    let updated = store.update_api(&Api { settings: one_long, ..updated.clone() }).await.unwrap();
    assert_eq!(updated.settings.tags, vec![longest]);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_tags WHERE api_id = $1", ledger.id).await, 1);
    let untagged = store.update_api(&Api { settings: defaults.clone(), ..updated.clone() }).await.unwrap();
    assert_eq!(untagged.settings, defaults);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_tags WHERE api_id = $1", ledger.id).await, 0);

    // Settings go with the API wherever it is served.
    let served = store.update_api(&Api { settings: changed.clone(), ..untagged }).await.unwrap();
    store.save_version(ledger.id, "").await.unwrap();
    store.publish(ledger.id, Environment::Prod, 0).await.unwrap();
    let published = store.published(Environment::Prod).await.unwrap();
    assert_eq!(published[0].api.settings, changed);
    assert_eq!(published[0].api, served);
    let json = serde_json::to_value(&served).unwrap();
    assert_eq!(json["securityLevel"], "L2");
    assert_eq!(json["tags"], serde_json::json!(["audit", "finance", "monthly"]));
    assert_not_found(store.update_api(&Api { id: 9_999, ..served }).await, "API");
    store.close().await;
}

async fn find_apis_filters_alone_and_combined_with_page_totals(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let datasource = store.create_datasource(&postgres_datasource(workgroup.id, "w", None)).await.unwrap();
    let reports = store.create_folder(workgroup.id, None, "reports").await.unwrap();
    let daily = store.create_folder(workgroup.id, Some(reports.id), "daily").await.unwrap();
    let create = |name: &'static str, folder: Option<i64>, tag_list: &'static [&'static str]| {
        let store = store.clone();
        let mut api = new_api(workgroup.id, name, wizard_draft(datasource.id, "t"));
        api.folder_id = folder;
        api.settings.tags = tags(tag_list);
        async move { store.create_api(&api).await.unwrap() }
    };
    let orders = create("orders", None, &["daily", "sales"]).await;
    let lines = create("Order_Lines", Some(reports.id), &["sales"]).await;
    let customers = create("customers", Some(reports.id), &["crm"]).await;
    let refunds = create("refunds", None, &["crm", "sales"]).await;
    create("order-archive", Some(reports.id), &[]).await;
    let deep = create("deep", Some(daily.id), &["sales"]).await;
    for api in [&orders, &lines, &refunds, &customers] {
        store.save_version(api.id, "").await.unwrap();
    }
    store.publish(orders.id, Environment::Prod, 0).await.unwrap();
    store.publish(lines.id, Environment::Test, 0).await.unwrap();
    store.publish(refunds.id, Environment::Prod, 0).await.unwrap();
    store.publish(refunds.id, Environment::Test, 0).await.unwrap();
    // `customers` has a version but is published nowhere: a draft as far as the list goes.

    // Another workgroup's APIs never show, whatever matches.
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let ops_source = store.create_datasource(&postgres_datasource(ops.id, "w", None)).await.unwrap();
    let mut foreign = new_api(ops.id, "orders", wizard_draft(ops_source.id, "t"));
    // Its own path: another workgroup's path is never free (see the route space).
    foreign.path = "/ops/orders".into();
    foreign.settings.tags = tags(&["sales"]);
    let foreign = store.create_api(&foreign).await.unwrap();
    store.save_version(foreign.id, "").await.unwrap();
    store.publish(foreign.id, Environment::Prod, 0).await.unwrap();

    let wg = workgroup.id;
    let every = ["orders", "Order_Lines", "customers", "refunds", "order-archive", "deep"];
    assert_eq!(found(&store, query(wg)).await, all(&every));
    // Each filter alone.
    assert_eq!(found(&store, ApiQuery { folder: Some(None), ..query(wg) }).await, all(&["orders", "refunds"]));
    assert_eq!(
        found(&store, ApiQuery { folder: Some(Some(reports.id)), ..query(wg) }).await,
        all(&["Order_Lines", "customers", "order-archive"]),
        "a folder lists its own APIs, not its subfolders'"
    );
    assert_eq!(found(&store, ApiQuery { folder: Some(Some(daily.id)), ..query(wg) }).await, all(&["deep"]));
    assert_eq!(found(&store, ApiQuery { folder: Some(Some(9_999)), ..query(wg) }).await, all(&[]));
    let tagged = |tag: &str| ApiQuery { tag: Some(tag.to_owned()), ..query(wg) };
    assert_eq!(found(&store, tagged("sales")).await, all(&["orders", "Order_Lines", "refunds", "deep"]));
    assert_eq!(found(&store, tagged("crm")).await, all(&["customers", "refunds"]));
    assert_eq!(found(&store, tagged("daily")).await, all(&["orders"]), "a tag, not a folder name");
    assert_eq!(found(&store, tagged("sal")).await, all(&[]), "tags match whole");
    assert_eq!(found(&store, tagged("nope")).await, all(&[]));
    let named = |part: &str| ApiQuery { name_contains: Some(part.to_owned()), ..query(wg) };
    assert_eq!(found(&store, named("order")).await, all(&["orders", "Order_Lines", "order-archive"]));
    assert_eq!(found(&store, named("ORDER")).await, all(&["orders", "Order_Lines", "order-archive"]));
    assert_eq!(found(&store, named("r_l")).await, all(&["Order_Lines"]));
    assert_eq!(found(&store, named("LINES")).await, all(&["Order_Lines"]));
    assert_eq!(found(&store, named("zzz")).await, all(&[]));
    let with = |status: ApiStatus| ApiQuery { status: Some(status), ..query(wg) };
    assert_eq!(found(&store, with(ApiStatus::Published)).await, all(&["orders", "Order_Lines", "refunds"]));
    assert_eq!(found(&store, with(ApiStatus::Draft)).await, all(&["customers", "order-archive", "deep"]));
    assert_eq!(found(&store, with(ApiStatus::In(Environment::Prod))).await, all(&["orders", "refunds"]));
    assert_eq!(found(&store, with(ApiStatus::In(Environment::Test))).await, all(&["Order_Lines", "refunds"]));

    // Combined: every filter must match.
    let combined = ApiQuery { folder: Some(Some(reports.id)), name_contains: Some("order".into()), ..query(wg) };
    assert_eq!(found(&store, combined).await, all(&["Order_Lines", "order-archive"]));
    let combined = ApiQuery { tag: Some("sales".into()), status: Some(ApiStatus::In(Environment::Prod)), ..query(wg) };
    assert_eq!(found(&store, combined).await, all(&["orders", "refunds"]));
    let combined = ApiQuery {
        folder: Some(None),
        tag: Some("sales".into()),
        name_contains: Some("REF".into()),
        status: Some(ApiStatus::Published),
        ..query(wg)
    };
    assert_eq!(found(&store, combined).await, all(&["refunds"]));
    let combined = ApiQuery {
        folder: Some(Some(reports.id)),
        tag: Some("crm".into()),
        status: Some(ApiStatus::Draft),
        ..query(wg)
    };
    assert_eq!(found(&store, combined).await, all(&["customers"]));
    let combined = ApiQuery {
        tag: Some("crm".into()),
        name_contains: Some("cust".into()),
        status: Some(ApiStatus::In(Environment::Test)),
        ..query(wg)
    };
    assert_eq!(found(&store, combined).await, all(&[]));
    let combined = ApiQuery { folder: Some(None), status: Some(ApiStatus::Draft), ..query(wg) };
    assert_eq!(found(&store, combined).await, all(&[]));

    // Pages: oldest first, each with the total of all matches.
    let page = |limit: u64, offset: u64| ApiQuery { limit, offset, ..query(wg) };
    assert_eq!(found(&store, page(2, 0)).await, (names(&["orders", "Order_Lines"]), 6));
    assert_eq!(found(&store, page(2, 2)).await, (names(&["customers", "refunds"]), 6));
    assert_eq!(found(&store, page(2, 4)).await, (names(&["order-archive", "deep"]), 6));
    assert_eq!(found(&store, page(4, 4)).await, (names(&["order-archive", "deep"]), 6));
    assert_eq!(found(&store, page(2, 6)).await, (names(&[]), 6));
    assert_eq!(found(&store, page(2, 1_000)).await, (names(&[]), 6));
    let filtered_page = ApiQuery { limit: 2, offset: 2, ..named("order") };
    assert_eq!(found(&store, filtered_page).await, (names(&["order-archive"]), 3));
    let filtered_page = ApiQuery { limit: 1, offset: 0, ..tagged("sales") };
    assert_eq!(found(&store, filtered_page).await, (names(&["orders"]), 4));
    // Whole APIs come back, not just names.
    let (apis, _) = store.find_apis(&ApiQuery { folder: Some(Some(daily.id)), ..query(wg) }).await.unwrap();
    assert_eq!(apis, vec![store.api(deep.id).await.unwrap()]);

    // The other workgroup sees only its own, and an unknown one nothing.
    assert_eq!(found(&store, ApiQuery { tag: Some("sales".into()), ..query(ops.id) }).await, all(&["orders"]));
    assert_eq!(found(&store, query(9_999)).await, all(&[]));

    // Where each API is published, production first; drafts and other workgroups absent.
    let publications = store.workgroup_publications(wg).await.unwrap();
    let mut keys: Vec<i64> = publications.keys().copied().collect();
    keys.sort();
    assert_eq!(keys, vec![orders.id, lines.id, refunds.id]);
    assert_eq!(publications[&orders.id], store.publications(orders.id).await.unwrap());
    assert_eq!(publications[&lines.id], store.publications(lines.id).await.unwrap());
    let refund_envs: Vec<Environment> = publications[&refunds.id].iter().map(|p| p.environment).collect();
    assert_eq!(refund_envs, vec![Environment::Prod, Environment::Test]);
    assert_eq!(store.workgroup_publications(ops.id).await.unwrap().len(), 1);
    assert!(store.workgroup_publications(9_999).await.unwrap().is_empty());
    store.close().await;
}

async fn name_search_takes_wildcard_characters_literally(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, _) = seeded(&store).await;
    let every = ["orders", "a_b", "acb", "ab", "50%", "500", "5050", "bang!", "bang", "c\\d", "o'brien"];
    for name in &every[1..] {
        store.create_api(&new_api(workgroup_id, name, wizard_draft(datasource.id, "t"))).await.unwrap();
    }
    let named = |part: &str| ApiQuery { name_contains: Some(part.to_owned()), ..query(workgroup_id) };
    assert_eq!(found(&store, named("a_b")).await, all(&["a_b"]));
    assert_eq!(found(&store, named("A_B")).await, all(&["a_b"]));
    assert_eq!(found(&store, named("_")).await, all(&["a_b"]));
    assert_eq!(found(&store, named("50%")).await, all(&["50%"]));
    assert_eq!(found(&store, named("0%")).await, all(&["50%"]));
    assert_eq!(found(&store, named("%")).await, all(&["50%"]));
    assert_eq!(found(&store, named("%%")).await, all(&[]));
    assert_eq!(found(&store, named("50")).await, all(&["50%", "500", "5050"]));
    assert_eq!(found(&store, named("!")).await, all(&["bang!"]));
    assert_eq!(found(&store, named("g!")).await, all(&["bang!"]));
    assert_eq!(found(&store, named("!%")).await, all(&[]));
    assert_eq!(found(&store, named("!_")).await, all(&[]));
    assert_eq!(found(&store, named("!!")).await, all(&[]));
    assert_eq!(found(&store, named("\\")).await, all(&["c\\d"]));
    assert_eq!(found(&store, named("c\\d")).await, all(&["c\\d"]));
    assert_eq!(found(&store, named("'")).await, all(&["o'brien"]));
    assert_eq!(found(&store, named("bang")).await, all(&["bang!", "bang"]));
    assert_eq!(found(&store, named("")).await, all(&every));
    store.close().await;
}

async fn deleting_a_published_api_is_refused_and_keeps_everything(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let mut tagged = api.clone();
    tagged.settings.tags = tags(&["sales"]);
    let api = store.update_api(&tagged).await.unwrap();
    store.save_version(api.id, "").await.unwrap();
    store.update_draft(api.id, &wizard_draft(datasource.id, "orders_v2")).await.unwrap();
    store.save_version(api.id, "").await.unwrap();
    store.publish(api.id, Environment::Prod, 0).await.unwrap();
    store.publish(api.id, Environment::Test, 1).await.unwrap();
    let (app, _) = store.create_app(workgroup_id, "mobile", "").await.unwrap();
    store.grant(&grant_of(api.id, app.id)).await.unwrap();
    store.set_gray_strategy(&gray(api.id, Environment::Prod, 1, 10, true)).await.unwrap();

    let api = store.api(api.id).await.unwrap();
    let versions = store.list_versions(api.id).await.unwrap();
    let publications = store.publications(api.id).await.unwrap();
    let grants = store.grants_of_api(api.id).await.unwrap();
    let strategies = store.gray_strategies(api.id).await.unwrap();
    let revision = store.revision().await.unwrap();
    let keeps_everything = async |store: &Store| {
        assert_eq!(store.api(api.id).await.unwrap(), api);
        assert_eq!(store.list_versions(api.id).await.unwrap(), versions);
        assert_eq!(store.grants_of_api(api.id).await.unwrap(), grants);
        assert_eq!(store.gray_strategies(api.id).await.unwrap(), strategies);
        assert_eq!(db.raw_count("SELECT COUNT(*) FROM api_tags WHERE api_id = $1", api.id).await, 1);
        assert_eq!(store.revision().await.unwrap(), revision);
    };

    let message = assert_conflict(store.delete_api(api.id).await, "prod");
    assert!(message.contains("test"), "{message}");
    keeps_everything(&store).await;
    assert_eq!(store.publications(api.id).await.unwrap(), publications);
    assert_eq!(store.published(Environment::Prod).await.unwrap().len(), 1);

    // Published in one environment is enough to be refused.
    store.unpublish(api.id, Environment::Prod).await.unwrap();
    let revision = store.revision().await.unwrap();
    let message = assert_conflict(store.delete_api(api.id).await, "test");
    assert!(!message.contains("prod"), "{message}");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.api(api.id).await.unwrap(), api);
    assert_eq!(store.grants_of_api(api.id).await.unwrap(), grants);
    assert_eq!(store.publications(api.id).await.unwrap(), vec![publications[1]]);

    // Offline everywhere, it goes with everything that hangs on it.
    store.unpublish(api.id, Environment::Test).await.unwrap();
    store.delete_api(api.id).await.unwrap();
    assert_not_found(store.api(api.id).await, "API");
    assert_eq!(store.grants_of_api(api.id).await.unwrap(), vec![]);
    assert_eq!(store.grants_of_app(app.id).await.unwrap(), vec![]);
    assert_eq!(store.gray_strategies(api.id).await.unwrap(), vec![]);
    for sql in [
        "SELECT COUNT(*) FROM api_tags WHERE api_id = $1",
        "SELECT COUNT(*) FROM api_versions WHERE api_id = $1",
        "SELECT COUNT(*) FROM grants WHERE api_id = $1",
        "SELECT COUNT(*) FROM gray_strategies WHERE api_id = $1",
        "SELECT COUNT(*) FROM publications WHERE api_id = $1",
    ] {
        assert_eq!(db.raw_count(sql, api.id).await, 0, "{sql}");
    }
    assert!(store.caller_directory().await.unwrap().grants.is_empty());
    assert_not_found(store.delete_api(api.id).await, "API");
    store.close().await;
}

/// Publishing and deleting the same API at once (with a grant and a gray strategy landing at
/// the same time): either the API is gone and nothing of it is served, or it stays and is
/// published. Never a publication of a missing API, never an error but Conflict or NotFound.
async fn racing_publish_and_delete_never_serve_a_missing_api(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, _) = seeded(&store).await;
    let (app, _) = store.create_app(workgroup_id, "mobile", "").await.unwrap();
    let (mut kept, mut gone) = (0, 0);
    for round in 0..40 {
        let api = store
            .create_api(&new_api(workgroup_id, &format!("race{round}"), wizard_draft(datasource.id, "t")))
            .await
            .unwrap();
        store.save_version(api.id, "").await.unwrap();
        store.grant(&grant_of(api.id, app.id)).await.unwrap();
        let publish = {
            let store = store.clone();
            async move { store.publish(api.id, Environment::Prod, 0).await }
        };
        let delete = {
            let store = store.clone();
            async move { store.delete_api(api.id).await }
        };
        let regrant = {
            let store = store.clone();
            async move { store.grant(&Grant { qps: Some(5), ..grant_of(api.id, app.id) }).await }
        };
        let gray_test = {
            let store = store.clone();
            async move { store.set_gray_strategy(&gray(api.id, Environment::Test, 0, 50, true)).await }
        };
        // Alternate which one starts first.
        let (published, deleted, regranted, grayed) = if round % 2 == 0 {
            let delete = tokio::spawn(delete);
            let publish = tokio::spawn(publish);
            let (regrant, gray_test) = (tokio::spawn(regrant), tokio::spawn(gray_test));
            (publish.await.unwrap(), delete.await.unwrap(), regrant.await.unwrap(), gray_test.await.unwrap())
        } else {
            let publish = tokio::spawn(publish);
            let gray_test = tokio::spawn(gray_test);
            let (delete, regrant) = (tokio::spawn(delete), tokio::spawn(regrant));
            (publish.await.unwrap(), delete.await.unwrap(), regrant.await.unwrap(), gray_test.await.unwrap())
        };
        let outcome =
            format!("round {round}: publish {published:?}, delete {deleted:?}, grant {regranted:?}, gray {grayed:?}");
        assert!(matches!(published, Ok(_) | Err(StoreError::NotFound { .. })), "{outcome}");
        assert!(matches!(deleted, Ok(()) | Err(StoreError::Conflict(_))), "{outcome}");
        assert!(matches!(regranted, Ok(_) | Err(StoreError::NotFound { .. })), "{outcome}");
        assert!(matches!(grayed, Ok(_) | Err(StoreError::NotFound { .. })), "{outcome}");
        match store.api(api.id).await {
            Ok(_) => {
                kept += 1;
                assert!(published.is_ok() && deleted.is_err(), "{outcome}");
                let publications = store.publications(api.id).await.unwrap();
                assert_eq!(publications.len(), 1, "{outcome}");
                assert!(regranted.is_ok() && grayed.is_ok(), "{outcome}");
                assert_eq!(store.grants_of_api(api.id).await.unwrap()[0].qps, Some(5), "{outcome}");
                store.unpublish(api.id, Environment::Prod).await.unwrap();
                store.delete_api(api.id).await.unwrap();
            }
            Err(StoreError::NotFound { .. }) => {
                gone += 1;
                assert!(deleted.is_ok() && published.is_err(), "{outcome}");
            }
            Err(e) => panic!("{outcome}: reading the API failed: {e:?}"),
        }
        for sql in [
            "SELECT COUNT(*) FROM publications WHERE api_id = $1",
            "SELECT COUNT(*) FROM grants WHERE api_id = $1",
            "SELECT COUNT(*) FROM gray_strategies WHERE api_id = $1",
            "SELECT COUNT(*) FROM api_versions WHERE api_id = $1",
        ] {
            assert_eq!(db.raw_count(sql, api.id).await, 0, "{outcome}: {sql}");
        }
    }
    let orphans = "SELECT COUNT(*) FROM publications p WHERE p.api_id > $1 \
                   AND NOT EXISTS (SELECT 1 FROM apis a WHERE a.id = p.api_id)";
    assert_eq!(db.raw_count(orphans, 0).await, 0);
    assert!(store.published(Environment::Prod).await.unwrap().is_empty());
    assert_eq!(kept + gone, 40);
    store.close().await;
}

async fn saving_a_checked_draft_refuses_one_that_changed(db: TestDb) {
    let store = db.open().await;
    let (_, datasource, api) = seeded(&store).await;
    let checked = api.draft.clone();
    let edited = wizard_draft(datasource.id, "orders_edited");
    store.update_draft(api.id, &edited).await.unwrap();

    let revision = store.revision().await.unwrap();
    assert_conflict(store.save_checked_version(api.id, "stale", &checked).await, "changed");
    assert_eq!(store.list_versions(api.id).await.unwrap(), vec![]);
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_not_found(store.save_checked_version(9_999, "", &checked).await, "API");

    // The draft as it is now saves, and takes the number the refused save did not use.
    let v0 = store.save_checked_version(api.id, "checked", &edited).await.unwrap();
    assert_eq!((v0.number, v0.description.as_str()), (0, "checked"));
    assert_eq!(v0.definition, edited);
    assert_eq!(store.version(api.id, 0).await.unwrap(), v0);
    assert!(store.revision().await.unwrap() > revision);
    assert_eq!(store.save_checked_version(api.id, "", &edited).await.unwrap().number, 1);

    // Constants are compared without their values: the stored ones are never given back.
    let workgroup_id = api.workgroup_id;
    let with_key = registered_draft(&[("appid", ConstantPosition::Query, Some("k3y-1"))]);
    let registered = store.create_api(&new_api(workgroup_id, "weather", with_key.clone())).await.unwrap();
    let v0 = store.save_checked_version(registered.id, "", &with_key).await.unwrap();
    assert_eq!(v0.definition, with_key.redacted());
    let other_value = registered_draft(&[("appid", ConstantPosition::Query, Some("something else"))]);
    assert_eq!(store.save_checked_version(registered.id, "", &other_value).await.unwrap().number, 1);
    let other_constant = registered_draft(&[("key", ConstantPosition::Query, Some("k3y-1"))]);
    assert_conflict(store.save_checked_version(registered.id, "", &other_constant).await, "changed");
    assert_eq!(store.list_versions(registered.id).await.unwrap().len(), 2);
    // What was saved carries the stored value, not the checked one.
    assert_eq!(
        constant_values(&store.latest_version_with_secrets(registered.id).await.unwrap().unwrap().definition),
        vec![Some("k3y-1".to_owned())]
    );
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// Apps, tokens, grants, gray strategies, the caller directory

fn grant_of(api_id: i64, app_id: i64) -> Grant {
    Grant { id: 0, api_id, app_id, expires_at: None, qps: None, created_at: 0, created_by: "jane".into() }
}

fn gray(api_id: i64, environment: Environment, version: i64, percent: u8, enabled: bool) -> GrayStrategy {
    GrayStrategy { api_id, environment, version, percent, enabled, updated_at: 0 }
}

/// The directory's entry for the app, if it lists it.
fn directory_entry(directory: &CallerDirectory, app_id: i64) -> Option<&AppCredentials> {
    directory.apps.iter().find(|entry| entry.app.id == app_id)
}

fn directory_hashes(directory: &CallerDirectory) -> Vec<String> {
    directory.tokens.iter().map(|t| t.token_hash.clone()).collect()
}

/// An API of the workgroup with the given reach and level.
async fn api_with(
    store: &Store,
    workgroup_id: i64,
    datasource_id: i64,
    name: &str,
    range: VisibleRange,
    level: SecurityLevel,
) -> Api {
    let mut api = new_api(workgroup_id, name, wizard_draft(datasource_id, "t"));
    api.settings.visible_range = range;
    api.settings.security_level = level;
    store.create_api(&api).await.unwrap()
}

async fn app_with(store: &Store, workgroup_id: i64, name: &str, clearance: SecurityLevel) -> App {
    let (app, _) = store.create_app(workgroup_id, name, "").await.unwrap();
    store.update_app(&App { clearance, ..app }).await.unwrap()
}

async fn apps_update_their_settings_and_delete_with_their_tokens_and_grants(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let (mobile, secret) = store.create_app(workgroup_id, "mobile", "the phone app").await.unwrap();
    assert_eq!(
        (mobile.ip_allow.clone(), mobile.clearance, mobile.disabled, mobile.previous_secret_expires_at),
        (vec![], SecurityLevel::L1, false, None)
    );
    assert_eq!(store.app(mobile.id).await.unwrap(), mobile);
    assert_not_found(store.app(9_999).await, "app");
    let (web, web_secret) = store.create_app(workgroup_id, "web", "").await.unwrap();

    let wanted = App {
        name: "mobile-v2".into(),
        description: "the new phone app".into(),
        ip_allow: vec!["10.0.0.0/8".into(), "2001:db8::/32".into(), "192.0.2.7".into()],
        clearance: SecurityLevel::L3,
        disabled: true,
        ..mobile.clone()
    };
    let updated = store.update_app(&wanted).await.unwrap();
    assert_eq!(updated, wanted);
    assert_eq!(store.app(mobile.id).await.unwrap(), wanted);
    assert_eq!(store.apps(workgroup_id).await.unwrap(), vec![wanted.clone(), web.clone()]);
    assert_eq!(db.raw_text("SELECT clearance FROM apps WHERE id = $1", mobile.id).await.as_deref(), Some("L3"));
    // Key, secret, workgroup, creation time and rotation state are not the update's to change.
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let sneaky = App {
        workgroup_id: ops.id,
        app_key: "chosen-by-the-caller".into(),
        created_at: 1,
        previous_secret_expires_at: Some(i64::MAX),
        ..wanted.clone()
    };
    assert_eq!(store.update_app(&sneaky).await.unwrap(), wanted);
    assert_eq!(store.app_secret(mobile.id).await.unwrap(), secret);
    assert_eq!(store.app_by_key(&mobile.app_key).await.unwrap(), wanted);
    assert_eq!(store.apps(ops.id).await.unwrap(), vec![]);

    // Refusals change nothing.
    let revision = store.revision().await.unwrap();
    assert_conflict(store.update_app(&App { name: "web".into(), ..wanted.clone() }).await, "web");
    assert_invalid(store.update_app(&App { name: "  ".into(), ..wanted.clone() }).await, "name");
    let too_many: Vec<String> = (0..=MAX_IP_ALLOW).map(|i| format!("10.0.{}.{}/32", i / 256, i % 256)).collect();
    assert_invalid(store.update_app(&App { ip_allow: too_many, ..wanted.clone() }).await, "at most");
    assert_not_found(store.update_app(&App { id: 9_999, ..wanted.clone() }).await, "app");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.app(mobile.id).await.unwrap(), wanted);
    let most: Vec<String> = (0..MAX_IP_ALLOW).map(|i| format!("10.1.0.{i}/32")).collect();
    let at_limit = store.update_app(&App { ip_allow: most.clone(), ..wanted.clone() }).await.unwrap();
    assert_eq!(store.app(mobile.id).await.unwrap().ip_allow, most);
    // A name freed by an update can be taken.
    store.create_app(workgroup_id, "mobile", "").await.unwrap();

    // Deleting an app takes its tokens and grants, and only its own.
    let enabled = store.update_app(&App { disabled: false, ..at_limit }).await.unwrap();
    let (token, _) = store.issue_app_token(mobile.id, 600).await.unwrap();
    let (web_token, web_text) = store.issue_app_token(web.id, 600).await.unwrap();
    let keeper = store.create_api(&new_api(workgroup_id, "keeper", wizard_draft(datasource.id, "t"))).await.unwrap();
    for (api_id, app_id) in [(api.id, enabled.id), (keeper.id, enabled.id), (api.id, web.id)] {
        store.grant(&grant_of(api_id, app_id)).await.unwrap();
    }
    store.delete_app(mobile.id).await.unwrap();
    assert_not_found(store.app(mobile.id).await, "app");
    assert_not_found(store.app_secret(mobile.id).await, "app");
    assert_not_found(store.app_by_key(&mobile.app_key).await, "app");
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM app_tokens WHERE app_id = $1", mobile.id).await, 0);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM grants WHERE app_id = $1", mobile.id).await, 0);
    assert_eq!(store.app_tokens(mobile.id).await.unwrap(), vec![]);
    assert_eq!(store.grants_of_app(mobile.id).await.unwrap(), vec![]);
    assert_not_found(store.revoke_app_token(mobile.id, token.id).await, "app token");
    let remaining: Vec<(i64, i64)> =
        store.grants_of_api(api.id).await.unwrap().iter().map(|g| (g.api_id, g.app_id)).collect();
    assert_eq!(remaining, vec![(api.id, web.id)]);
    assert_eq!(store.grants_of_api(keeper.id).await.unwrap(), vec![]);
    assert_eq!(store.app_tokens(web.id).await.unwrap(), vec![web_token]);
    let directory = store.caller_directory().await.unwrap();
    assert!(directory_entry(&directory, mobile.id).is_none());
    assert_eq!(directory_entry(&directory, web.id).unwrap().secret, web_secret);
    assert_eq!(directory_hashes(&directory), vec![hash_token(&web_text)]);
    assert_eq!(directory.grants.len(), 1);
    assert_not_found(store.delete_app(mobile.id).await, "app");
    assert_not_found(store.issue_app_token(mobile.id, 60).await, "app");
    assert_not_found(store.grant(&grant_of(api.id, mobile.id)).await, "app");
    store.close().await;
}

async fn rotating_an_app_secret_keeps_the_old_one_only_for_the_overlap(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let (app, s0) = store.create_app(workgroup.id, "mobile", "").await.unwrap();
    let directory = store.caller_directory().await.unwrap();
    let entry = directory_entry(&directory, app.id).unwrap();
    assert_eq!((entry.secret.as_str(), entry.previous_secret.clone()), (s0.as_str(), None));
    assert_eq!(entry.app, app);

    let before = now_ms();
    let (rotated, s1) = store.rotate_app_secret(app.id, 3_600).await.unwrap();
    let until = rotated.previous_secret_expires_at.expect("the old secret stays for the overlap");
    assert!((before + 3_600_000..=now_ms() + 3_600_000).contains(&until), "{until}");
    assert_ne!(s1, s0);
    assert_eq!(s1.len(), 43);
    assert_eq!(rotated, App { previous_secret_expires_at: Some(until), ..app.clone() });
    assert_eq!(store.app(app.id).await.unwrap(), rotated);
    assert_eq!(store.app_secret(app.id).await.unwrap(), s1);
    let directory = store.caller_directory().await.unwrap();
    let entry = directory_entry(&directory, app.id).unwrap();
    assert_eq!(entry.secret, s1);
    assert_eq!(entry.previous_secret, Some((s0.clone(), until)));
    // Both are sealed at rest.
    let previous = db.raw_text("SELECT previous_secret_sealed FROM apps WHERE id = $1", app.id).await.unwrap();
    assert!(previous.starts_with("v1:") && !previous.contains(&s0), "{previous}");
    assert_eq!(db.secrets().open(&previous).unwrap(), s0);
    let current = db.raw_text("SELECT secret_sealed FROM apps WHERE id = $1", app.id).await.unwrap();
    assert!(!current.contains(&s1));

    // Rotating again keeps only the secret just replaced; the one before is dropped.
    let (rotated, s2) = store.rotate_app_secret(app.id, 60).await.unwrap();
    let until = rotated.previous_secret_expires_at.unwrap();
    assert!(until <= now_ms() + 60_000);
    let directory = store.caller_directory().await.unwrap();
    let entry = directory_entry(&directory, app.id).unwrap();
    assert_eq!((entry.secret.clone(), entry.previous_secret.clone()), (s2.clone(), Some((s1.clone(), until))));

    // Once the overlap is over, the old secret is gone from the directory and the app.
    db.raw_execute("UPDATE apps SET previous_secret_expires_at = 1000 WHERE id = $1", app.id).await;
    let directory = store.caller_directory().await.unwrap();
    let entry = directory_entry(&directory, app.id).unwrap();
    assert_eq!((entry.secret.clone(), entry.previous_secret.clone()), (s2.clone(), None));
    assert_eq!(entry.app.previous_secret_expires_at, None);
    assert_eq!(store.app(app.id).await.unwrap().previous_secret_expires_at, None);
    // And for real: a one-second overlap.
    let (_, s3) = store.rotate_app_secret(app.id, 1).await.unwrap();
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(directory_entry(&directory, app.id).unwrap().previous_secret.as_ref().map(|p| &p.0), Some(&s2));
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let directory = store.caller_directory().await.unwrap();
    let entry = directory_entry(&directory, app.id).unwrap();
    assert_eq!((entry.secret.clone(), entry.previous_secret.clone()), (s3.clone(), None));

    // No overlap: the replaced secret stops at once, and nothing of it is kept.
    store.rotate_app_secret(app.id, 3_600).await.unwrap();
    let (rotated, s5) = store.rotate_app_secret(app.id, 0).await.unwrap();
    assert_eq!(rotated.previous_secret_expires_at, None);
    assert_eq!(store.app(app.id).await.unwrap().previous_secret_expires_at, None);
    assert_eq!(db.raw_text("SELECT previous_secret_sealed FROM apps WHERE id = $1", app.id).await, None);
    let directory = store.caller_directory().await.unwrap();
    let entry = directory_entry(&directory, app.id).unwrap();
    assert_eq!((entry.secret.clone(), entry.previous_secret.clone()), (s5.clone(), None));

    // Refusals change nothing.
    let revision = store.revision().await.unwrap();
    assert_invalid(store.rotate_app_secret(app.id, -1).await, "overlap");
    assert_invalid(store.rotate_app_secret(app.id, 30 * 24 * 3_600 + 1).await, "overlap");
    assert_not_found(store.rotate_app_secret(9_999, 60).await, "app");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.app_secret(app.id).await.unwrap(), s5);
    let (longest, _) = store.rotate_app_secret(app.id, 30 * 24 * 3_600).await.unwrap();
    assert!(longest.previous_secret_expires_at.unwrap() >= now_ms() + 30 * 24 * 3_600_000 - 60_000);
    store.close().await;
}

async fn app_tokens_are_hashed_at_rest_and_leave_the_directory_when_revoked_or_expired(db: TestDb) {
    let store = db.open().await;
    let workgroup = store.create_workgroup("sales", "").await.unwrap();
    let (app, _) = store.create_app(workgroup.id, "mobile", "").await.unwrap();
    let (other, _) = store.create_app(workgroup.id, "web", "").await.unwrap();

    let (first, text) = store.issue_app_token(app.id, 3_600).await.unwrap();
    assert!(text.starts_with("sat_") && text.len() > 40, "{text}");
    assert_eq!(first.prefix, token_prefix(&text));
    assert!(text.starts_with(&first.prefix) && first.prefix.len() < text.len() / 2);
    assert_eq!((first.app_id, first.revoked), (app.id, false));
    assert_eq!(first.expires_at - first.created_at, 3_600_000);
    // Only the hash is stored; nothing in the row gives the text back.
    let stored_hash = db.raw_text("SELECT token_hash FROM app_tokens WHERE id = $1", first.id).await.unwrap();
    assert_eq!(stored_hash, hash_token(&text));
    assert_ne!(stored_hash, text);
    let stored_prefix = db.raw_text("SELECT prefix FROM app_tokens WHERE id = $1", first.id).await.unwrap();
    assert_eq!(stored_prefix, first.prefix);
    let whole = db
        .raw_text(
            "SELECT prefix || '|' || token_hash || '|' || CAST(app_id AS TEXT) FROM app_tokens WHERE id = $1",
            first.id,
        )
        .await
        .unwrap();
    assert!(!whole.contains(&text[first.prefix.len()..]), "{whole}");
    assert!(!serde_json::to_string(&first).unwrap().contains(&text));
    assert_eq!(store.app_tokens(app.id).await.unwrap(), vec![first.clone()]);
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(directory_hashes(&directory), vec![hash_token(&text)]);
    assert_eq!((directory.tokens[0].app_id, directory.tokens[0].expires_at), (app.id, first.expires_at));

    let (second, second_text) = store.issue_app_token(app.id, 60).await.unwrap();
    let (others, others_text) = store.issue_app_token(other.id, 60).await.unwrap();
    assert_ne!(second_text, text);
    assert_eq!(store.app_tokens(app.id).await.unwrap(), vec![second.clone(), first.clone()], "newest first");

    // A revoked token stays listed as revoked and leaves the directory.
    store.revoke_app_token(app.id, first.id).await.unwrap();
    let listed = store.app_tokens(app.id).await.unwrap();
    assert_eq!(listed, vec![second.clone(), AppToken { revoked: true, ..first.clone() }]);
    let mut hashes = directory_hashes(&store.caller_directory().await.unwrap());
    hashes.sort();
    let mut expected = vec![hash_token(&second_text), hash_token(&others_text)];
    expected.sort();
    assert_eq!(hashes, expected);
    // Only the app's own tokens can be revoked through it.
    let revision = store.revision().await.unwrap();
    assert_not_found(store.revoke_app_token(app.id, others.id).await, "app token");
    assert_not_found(store.revoke_app_token(app.id, 9_999).await, "app token");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert!(!store.app_tokens(other.id).await.unwrap()[0].revoked);

    // An expired token leaves the directory and the list.
    db.raw_execute("UPDATE app_tokens SET expires_at = 1000 WHERE id = $1", second.id).await;
    assert_eq!(store.app_tokens(app.id).await.unwrap(), vec![AppToken { revoked: true, ..first.clone() }]);
    assert_eq!(directory_hashes(&store.caller_directory().await.unwrap()), vec![hash_token(&others_text)]);
    let (short, short_text) = store.issue_app_token(app.id, 1).await.unwrap();
    assert!(directory_hashes(&store.caller_directory().await.unwrap()).contains(&hash_token(&short_text)));
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert!(!directory_hashes(&store.caller_directory().await.unwrap()).contains(&hash_token(&short_text)));
    assert!(!store.app_tokens(app.id).await.unwrap().iter().any(|t| t.id == short.id));

    // Lifetimes are 1 s to 30 days.
    let revision = store.revision().await.unwrap();
    assert_invalid(store.issue_app_token(app.id, 0).await, "seconds");
    assert_invalid(store.issue_app_token(app.id, APP_TOKEN_MAX_TTL_SECS + 1).await, "seconds");
    assert_not_found(store.issue_app_token(9_999, 60).await, "app");
    assert_eq!(store.revision().await.unwrap(), revision);
    let (longest, _) = store.issue_app_token(app.id, APP_TOKEN_MAX_TTL_SECS).await.unwrap();
    assert_eq!(longest.expires_at - longest.created_at, APP_TOKEN_MAX_TTL_SECS * 1000);
    store.close().await;
}

async fn disabled_apps_are_absent_from_the_caller_directory(db: TestDb) {
    let store = db.open().await;
    let sales = store.create_workgroup("sales", "").await.unwrap();
    let ops = store.create_workgroup("ops", "").await.unwrap();
    let (mobile, mobile_secret) = store.create_app(sales.id, "mobile", "").await.unwrap();
    let (web, web_secret) = store.create_app(sales.id, "web", "").await.unwrap();
    let (batch, batch_secret) = store.create_app(ops.id, "batch", "").await.unwrap();
    let listed = |directory: &CallerDirectory| -> Vec<(i64, String)> {
        directory.apps.iter().map(|entry| (entry.app.id, entry.secret.clone())).collect()
    };

    // Every enabled app of every workgroup, with its secret opened.
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(
        listed(&directory),
        vec![(mobile.id, mobile_secret.clone()), (web.id, web_secret.clone()), (batch.id, batch_secret.clone())]
    );
    assert_eq!(directory_entry(&directory, web.id).unwrap().app, web);

    let disabled = store.update_app(&App { disabled: true, ..web.clone() }).await.unwrap();
    assert!(disabled.disabled);
    assert_eq!(store.app(web.id).await.unwrap(), disabled);
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(listed(&directory), vec![(mobile.id, mobile_secret.clone()), (batch.id, batch_secret.clone())]);
    // Still managed: listed, and its secret unchanged.
    assert_eq!(store.apps(sales.id).await.unwrap(), vec![mobile.clone(), disabled.clone()]);
    assert_eq!(store.app_secret(web.id).await.unwrap(), web_secret);

    // Enabled again, it is back as it was.
    store.update_app(&App { disabled: false, ..disabled }).await.unwrap();
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(listed(&directory), vec![(mobile.id, mobile_secret), (web.id, web_secret), (batch.id, batch_secret)]);
    assert_eq!(directory_entry(&directory, web.id).unwrap().app, web);

    // A store with another key cannot build the directory.
    store.close().await;
    let other = SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap();
    let wrong = Store::open(&db.url, other).await.unwrap();
    assert!(matches!(wrong.caller_directory().await, Err(StoreError::Secret(_))));
    wrong.close().await;
}

async fn grants_follow_reach_and_clearance_and_update_in_place(db: TestDb) {
    let store = db.open().await;
    let (sales, datasource, orders) = seeded(&store).await;
    let ops = store.create_workgroup("ops", "").await.unwrap().id;
    let rates = api_with(&store, sales, datasource.id, "rates", VisibleRange::Public, SecurityLevel::L2).await;
    let salaries = api_with(&store, sales, datasource.id, "salaries", VisibleRange::Private, SecurityLevel::L3).await;
    let mobile = app_with(&store, sales, "mobile", SecurityLevel::L1).await;
    let hr = app_with(&store, sales, "hr", SecurityLevel::L3).await;
    let partner = app_with(&store, ops, "partner", SecurityLevel::L1).await;
    let auditor = app_with(&store, ops, "auditor", SecurityLevel::L4).await;

    let before = now_ms();
    let granted = store.grant(&grant_of(orders.id, mobile.id)).await.unwrap();
    assert!(granted.id > 0 && granted.created_at >= before);
    assert_eq!(granted, Grant { id: granted.id, created_at: granted.created_at, ..grant_of(orders.id, mobile.id) });
    assert_eq!(store.grants_of_api(orders.id).await.unwrap(), vec![granted.clone()]);

    // A private API only to its own workgroup's apps, whatever their clearance.
    let revision = store.revision().await.unwrap();
    assert_invalid(store.grant(&grant_of(orders.id, partner.id)).await, "private");
    assert_invalid(store.grant(&grant_of(orders.id, auditor.id)).await, "private");
    assert_invalid(store.grant(&grant_of(salaries.id, auditor.id)).await, "private");
    // And only to apps cleared for its level, public or not.
    assert_invalid(store.grant(&grant_of(salaries.id, mobile.id)).await, "clearance");
    assert_invalid(store.grant(&grant_of(rates.id, partner.id)).await, "clearance");
    assert_invalid(store.grant(&grant_of(rates.id, mobile.id)).await, "clearance");
    assert_invalid(store.grant(&Grant { qps: Some(0), ..grant_of(orders.id, hr.id) }).await, "QPS");
    assert_not_found(store.grant(&grant_of(9_999, mobile.id)).await, "API");
    assert_not_found(store.grant(&grant_of(orders.id, 9_999)).await, "app");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM grants WHERE id > $1", 0).await, 1);

    let hr_salaries = store.grant(&grant_of(salaries.id, hr.id)).await.unwrap();
    let auditor_rates = store.grant(&grant_of(rates.id, auditor.id)).await.unwrap();
    // Raising the clearance is what it takes.
    let partner = store.update_app(&App { clearance: SecurityLevel::L2, ..partner }).await.unwrap();
    let partner_rates = store.grant(&grant_of(rates.id, partner.id)).await.unwrap();
    // Same level, same workgroup: fine.
    let mobile_rates = store.update_app(&App { clearance: SecurityLevel::L2, ..mobile.clone() }).await.unwrap();
    let mobile_rates = store.grant(&grant_of(rates.id, mobile_rates.id)).await.unwrap();

    // Granting again updates expiry and QPS in place; who granted it and when stay.
    let until = now_ms() + 3_600_000;
    let regranted = store
        .grant(&Grant {
            expires_at: Some(until),
            qps: Some(10),
            created_by: "bob".into(),
            ..grant_of(orders.id, mobile.id)
        })
        .await
        .unwrap();
    assert_eq!(regranted, Grant { expires_at: Some(until), qps: Some(10), ..granted.clone() });
    assert_eq!(store.grants_of_api(orders.id).await.unwrap(), vec![regranted.clone()]);
    let cleared = store.grant(&grant_of(orders.id, mobile.id)).await.unwrap();
    assert_eq!(cleared, granted);
    let largest = store.grant(&Grant { qps: Some(u32::MAX), ..grant_of(orders.id, mobile.id) }).await.unwrap();
    assert_eq!(largest.qps, Some(u32::MAX));
    assert_eq!(store.grants_of_api(orders.id).await.unwrap(), vec![largest.clone()]);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM grants WHERE api_id = $1", orders.id).await, 1);

    // Read by API and by app, oldest first; the directory has them all.
    assert_eq!(
        store.grants_of_api(rates.id).await.unwrap(),
        vec![auditor_rates.clone(), partner_rates.clone(), mobile_rates.clone()]
    );
    assert_eq!(store.grants_of_app(mobile.id).await.unwrap(), vec![largest.clone(), mobile_rates.clone()]);
    assert_eq!(store.grants_of_app(auditor.id).await.unwrap(), vec![auditor_rates.clone()]);
    assert_eq!(store.grants_of_app(9_999).await.unwrap(), vec![]);
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(
        directory.grants,
        vec![largest.clone(), hr_salaries.clone(), auditor_rates.clone(), partner_rates.clone(), mobile_rates.clone()]
    );

    // Revoking removes exactly that grant.
    store.revoke_grant(rates.id, partner.id).await.unwrap();
    assert_eq!(store.grants_of_api(rates.id).await.unwrap(), vec![auditor_rates.clone(), mobile_rates.clone()]);
    assert!(!store.caller_directory().await.unwrap().grants.contains(&partner_rates));
    let revision = store.revision().await.unwrap();
    assert_not_found(store.revoke_grant(rates.id, partner.id).await, "grant");
    assert_not_found(store.revoke_grant(orders.id, hr.id).await, "grant");
    assert_not_found(store.revoke_grant(9_999, 9_999).await, "grant");
    assert_eq!(store.revision().await.unwrap(), revision);
    // A revoked grant can be given again, as a new grant.
    let again = store.grant(&grant_of(rates.id, partner.id)).await.unwrap();
    assert!(again.id > partner_rates.id);
    store.close().await;
}

async fn gray_strategies_need_a_saved_version_and_only_enabled_ones_are_released(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, _, orders) = seeded(&store).await;
    let draft = registered_draft(&[("appid", ConstantPosition::Query, Some("k3y-gray-0"))]);
    let weather = store.create_api(&new_api(workgroup_id, "weather", draft.clone())).await.unwrap();
    store.save_version(weather.id, "").await.unwrap();
    let second = registered_draft(&[("appid", ConstantPosition::Query, Some("k3y-gray-1"))]);
    store.update_draft(weather.id, &second).await.unwrap();
    store.save_version(weather.id, "").await.unwrap();
    store.save_version(orders.id, "").await.unwrap();

    // The version must exist, the share be a percentage.
    let revision = store.revision().await.unwrap();
    assert_not_found(store.set_gray_strategy(&gray(weather.id, Environment::Prod, 5, 10, true)).await, "version");
    assert_not_found(store.set_gray_strategy(&gray(weather.id, Environment::Prod, -1, 10, true)).await, "version");
    assert_not_found(store.set_gray_strategy(&gray(9_999, Environment::Prod, 0, 10, true)).await, "API");
    assert_invalid(store.set_gray_strategy(&gray(weather.id, Environment::Prod, 1, 101, true)).await, "percent");
    assert_invalid(store.set_gray_strategy(&gray(weather.id, Environment::Prod, 1, u8::MAX, false)).await, "percent");
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.gray_strategies(weather.id).await.unwrap(), vec![]);

    let before = now_ms();
    let test = store.set_gray_strategy(&gray(weather.id, Environment::Test, 0, 0, false)).await.unwrap();
    let prod = store.set_gray_strategy(&gray(weather.id, Environment::Prod, 1, 20, true)).await.unwrap();
    assert!(prod.updated_at >= before);
    assert_eq!(prod, GrayStrategy { updated_at: prod.updated_at, ..gray(weather.id, Environment::Prod, 1, 20, true) });
    assert_eq!(store.gray_strategies(weather.id).await.unwrap(), vec![prod, test], "production first");

    // Setting again replaces the environment's strategy.
    let prod = store.set_gray_strategy(&gray(weather.id, Environment::Prod, 0, 100, true)).await.unwrap();
    assert_eq!((prod.version, prod.percent, prod.enabled), (0, 100, true));
    assert_eq!(store.gray_strategies(weather.id).await.unwrap(), vec![prod, test]);
    let others = store.set_gray_strategy(&gray(orders.id, Environment::Prod, 0, 50, false)).await.unwrap();

    // Only enabled strategies are released, with their version's constants opened.
    let releases = store.gray_releases(Environment::Prod).await.unwrap();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].strategy, prod);
    assert_eq!(releases[0].version.number, 0);
    assert_eq!(releases[0].version.definition, draft);
    assert_eq!(constant_values(&releases[0].version.definition), vec![Some("k3y-gray-0".to_owned())]);
    assert_eq!(store.gray_releases(Environment::Test).await.unwrap(), vec![]);
    let test = store.set_gray_strategy(&GrayStrategy { enabled: true, version: 1, ..test }).await.unwrap();
    let releases = store.gray_releases(Environment::Test).await.unwrap();
    assert_eq!(releases.len(), 1);
    assert_eq!((releases[0].strategy, releases[0].version.definition.clone()), (test, second.clone()));
    let others = store.set_gray_strategy(&GrayStrategy { enabled: true, ..others }).await.unwrap();
    let released: Vec<i64> =
        store.gray_releases(Environment::Prod).await.unwrap().iter().map(|r| r.strategy.api_id).collect();
    assert_eq!(released, vec![orders.id, weather.id]);
    store.set_gray_strategy(&GrayStrategy { enabled: false, ..others }).await.unwrap();
    assert_eq!(store.gray_releases(Environment::Prod).await.unwrap().len(), 1);

    // A version a strategy uses is not deleted from under it.
    let message = assert_conflict(store.delete_version(weather.id, 0).await, "V0");
    assert!(message.contains("gray"), "{message}");
    assert_eq!(store.list_versions(weather.id).await.unwrap().len(), 2);

    // Deleting a strategy.
    store.delete_gray_strategy(weather.id, Environment::Test).await.unwrap();
    assert_eq!(store.gray_strategies(weather.id).await.unwrap(), vec![prod]);
    assert_eq!(store.gray_releases(Environment::Test).await.unwrap(), vec![]);
    let revision = store.revision().await.unwrap();
    assert_not_found(store.delete_gray_strategy(weather.id, Environment::Test).await, "gray strategy");
    assert_not_found(store.delete_gray_strategy(9_999, Environment::Prod).await, "gray strategy");
    assert_eq!(store.revision().await.unwrap(), revision);
    store.delete_gray_strategy(weather.id, Environment::Prod).await.unwrap();
    store.delete_version(weather.id, 0).await.unwrap();
    assert_eq!(store.gray_strategies(weather.id).await.unwrap(), vec![]);
    assert_eq!(store.gray_strategies(9_999).await.unwrap(), vec![]);
    store.close().await;
}

async fn deleting_an_app_or_an_api_takes_its_grants_tokens_and_gray_strategies(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, a) = seeded(&store).await;
    let b = store.create_api(&new_api(workgroup_id, "b", wizard_draft(datasource.id, "t"))).await.unwrap();
    let (x, _) = store.create_app(workgroup_id, "x", "").await.unwrap();
    let (y, _) = store.create_app(workgroup_id, "y", "").await.unwrap();
    for api in [&a, &b] {
        store
            .update_api(&Api { settings: ApiSettings { tags: tags(&["t"]), ..api.settings.clone() }, ..api.clone() })
            .await
            .unwrap();
        store.save_version(api.id, "").await.unwrap();
        store.set_gray_strategy(&gray(api.id, Environment::Prod, 0, 5, true)).await.unwrap();
        store.set_gray_strategy(&gray(api.id, Environment::Test, 0, 5, false)).await.unwrap();
        for app in [&x, &y] {
            store.grant(&grant_of(api.id, app.id)).await.unwrap();
        }
    }
    let (_, x_text) = store.issue_app_token(x.id, 600).await.unwrap();
    store.issue_app_token(x.id, 600).await.unwrap();
    let (_, y_text) = store.issue_app_token(y.id, 600).await.unwrap();

    store.delete_app(x.id).await.unwrap();
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM grants WHERE app_id = $1", x.id).await, 0);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM app_tokens WHERE app_id = $1", x.id).await, 0);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM grants WHERE app_id = $1", y.id).await, 2);
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM app_tokens WHERE app_id = $1", y.id).await, 1);
    let directory = store.caller_directory().await.unwrap();
    assert!(directory_entry(&directory, x.id).is_none());
    assert!(!directory_hashes(&directory).contains(&hash_token(&x_text)));
    assert_eq!(directory_hashes(&directory), vec![hash_token(&y_text)]);
    assert!(directory.grants.iter().all(|g| g.app_id == y.id));
    assert_eq!(directory.grants.len(), 2);
    // The APIs and their strategies are not the app's.
    assert_eq!(store.gray_strategies(a.id).await.unwrap().len(), 2);

    store.delete_api(a.id).await.unwrap();
    for sql in [
        "SELECT COUNT(*) FROM grants WHERE api_id = $1",
        "SELECT COUNT(*) FROM gray_strategies WHERE api_id = $1",
        "SELECT COUNT(*) FROM api_tags WHERE api_id = $1",
        "SELECT COUNT(*) FROM api_versions WHERE api_id = $1",
    ] {
        assert_eq!(db.raw_count(sql, a.id).await, 0, "{sql}");
        assert!(db.raw_count(sql, b.id).await > 0, "{sql}");
    }
    assert_eq!(store.grants_of_app(y.id).await.unwrap().iter().map(|g| g.api_id).collect::<Vec<_>>(), vec![b.id]);
    let released: Vec<i64> =
        store.gray_releases(Environment::Prod).await.unwrap().iter().map(|r| r.strategy.api_id).collect();
    assert_eq!(released, vec![b.id]);
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(directory.grants.iter().map(|g| (g.api_id, g.app_id)).collect::<Vec<_>>(), vec![(b.id, y.id)]);
    // The app that is left still works.
    assert_eq!(directory_entry(&directory, y.id).unwrap().app, store.app(y.id).await.unwrap());
    store.close().await;
}

/// Grants, tokens, rotations and app changes at the same time on the same rows: each either
/// lands or is refused for its own reason, never a database error.
async fn concurrent_caller_writes_settle_without_database_errors(db: TestDb) {
    let store = db.open().await;
    let (workgroup_id, datasource, api) = seeded(&store).await;
    let public = api_with(&store, workgroup_id, datasource.id, "public", VisibleRange::Public, SecurityLevel::L1).await;
    store.save_version(api.id, "").await.unwrap();
    let mut apps = Vec::new();
    for i in 0..6 {
        apps.push(store.create_app(workgroup_id, &format!("app{i}"), "").await.unwrap().0);
    }
    for round in 0..4 {
        let mut tasks: Vec<tokio::task::JoinHandle<Result<(), StoreError>>> = Vec::new();
        for app in &apps {
            let (s, app) = (store.clone(), app.clone());
            let (api_id, public_id) = (api.id, public.id);
            tasks.push(tokio::spawn(async move {
                s.grant(&Grant { qps: Some(round + 1), ..grant_of(api_id, app.id) }).await.map(drop)
            }));
            let s = store.clone();
            tasks.push(tokio::spawn(async move { s.grant(&grant_of(public_id, app.id)).await.map(drop) }));
            let s = store.clone();
            tasks.push(tokio::spawn(async move { s.issue_app_token(app.id, 60).await.map(drop) }));
            let s = store.clone();
            tasks.push(tokio::spawn(async move { s.rotate_app_secret(app.id, 60).await.map(drop) }));
            let s = store.clone();
            let level = if round % 2 == 0 { SecurityLevel::L2 } else { SecurityLevel::L1 };
            tasks.push(tokio::spawn(async move { s.update_app(&App { clearance: level, ..app }).await.map(drop) }));
        }
        let s = store.clone();
        let api_id = api.id;
        tasks.push(tokio::spawn(async move {
            s.set_gray_strategy(&gray(api_id, Environment::Prod, 0, round as u8 * 10, true)).await.map(drop)
        }));
        let s = store.clone();
        tasks.push(tokio::spawn(async move { s.caller_directory().await.map(drop) }));
        for task in tasks {
            task.await.unwrap().unwrap_or_else(|e| panic!("round {round}: {e:?}"));
        }
    }
    assert_eq!(store.grants_of_api(api.id).await.unwrap().len(), apps.len());
    assert!(store.grants_of_api(api.id).await.unwrap().iter().all(|g| g.qps == Some(4)));

    // An app deleted while it is granted again and given a token: the delete wins or waits,
    // the others land before it or find the app gone; nothing of the app is left.
    for round in 0..12 {
        let (doomed, _) = store.create_app(workgroup_id, &format!("doomed{round}"), "").await.unwrap();
        store.grant(&grant_of(api.id, doomed.id)).await.unwrap();
        store.grant(&grant_of(public.id, doomed.id)).await.unwrap();
        let s = store.clone();
        let api_id = api.id;
        let regrant =
            tokio::spawn(async move { s.grant(&Grant { qps: Some(7), ..grant_of(api_id, doomed.id) }).await });
        let s = store.clone();
        let token = tokio::spawn(async move { s.issue_app_token(doomed.id, 60).await });
        let s = store.clone();
        let delete = tokio::spawn(async move { s.delete_app(doomed.id).await });
        let (regrant, token, delete) = (regrant.await.unwrap(), token.await.unwrap(), delete.await.unwrap());
        let outcome = format!("round {round}: grant {regrant:?}, token {token:?}, delete {delete:?}");
        assert!(delete.is_ok(), "{outcome}");
        assert!(matches!(regrant, Ok(_) | Err(StoreError::NotFound { .. })), "{outcome}");
        assert!(matches!(token, Ok(_) | Err(StoreError::NotFound { .. })), "{outcome}");
        assert_eq!(db.raw_count("SELECT COUNT(*) FROM grants WHERE app_id = $1", doomed.id).await, 0, "{outcome}");
        assert_eq!(db.raw_count("SELECT COUNT(*) FROM app_tokens WHERE app_id = $1", doomed.id).await, 0, "{outcome}");
    }
    let directory = store.caller_directory().await.unwrap();
    assert_eq!(directory.apps.len(), apps.len());
    assert!(directory.apps.iter().all(|entry| entry.previous_secret.is_some()));
    assert_eq!(directory.tokens.len(), apps.len() * 4);
    assert_eq!(directory.grants.len(), apps.len() * 2);
    store.close().await;
}

async fn caller_writes_bump_the_revision_and_reads_and_refusals_do_not(db: TestDb) {
    let store = db.open().await;
    let mut last = store.revision().await.unwrap();
    async fn moved(store: &Store, last: &mut i64, what: &str) {
        let now = store.revision().await.unwrap();
        assert!(now > *last, "{what} did not bump the revision ({now} after {last})");
        *last = now;
    }
    async fn still(store: &Store, last: i64, what: &str) {
        assert_eq!(store.revision().await.unwrap(), last, "{what} bumped the revision");
    }

    let (workgroup_id, datasource, api) = seeded(&store).await;
    moved(&store, &mut last, "seeding").await;
    let mut tagged = api.clone();
    tagged.settings = ApiSettings { tags: tags(&["a"]), max_qps: Some(3), ..ApiSettings::default() };
    let api = store.update_api(&tagged).await.unwrap();
    moved(&store, &mut last, "update_api (settings)").await;
    store.save_checked_version(api.id, "", &api.draft).await.unwrap();
    moved(&store, &mut last, "save_checked_version").await;
    let (app, _) = store.create_app(workgroup_id, "mobile", "").await.unwrap();
    moved(&store, &mut last, "create_app").await;
    let app = store.update_app(&App { clearance: SecurityLevel::L2, ..app }).await.unwrap();
    moved(&store, &mut last, "update_app").await;
    store.rotate_app_secret(app.id, 60).await.unwrap();
    moved(&store, &mut last, "rotate_app_secret").await;
    store.rotate_app_secret(app.id, 0).await.unwrap();
    moved(&store, &mut last, "rotate_app_secret without overlap").await;
    let (token, _) = store.issue_app_token(app.id, 60).await.unwrap();
    moved(&store, &mut last, "issue_app_token").await;
    store.revoke_app_token(app.id, token.id).await.unwrap();
    moved(&store, &mut last, "revoke_app_token").await;
    store.grant(&grant_of(api.id, app.id)).await.unwrap();
    moved(&store, &mut last, "grant").await;
    store.grant(&Grant { qps: Some(9), ..grant_of(api.id, app.id) }).await.unwrap();
    moved(&store, &mut last, "grant (update)").await;
    store.revoke_grant(api.id, app.id).await.unwrap();
    moved(&store, &mut last, "revoke_grant").await;
    store.set_gray_strategy(&gray(api.id, Environment::Prod, 0, 10, true)).await.unwrap();
    moved(&store, &mut last, "set_gray_strategy").await;
    store.set_gray_strategy(&gray(api.id, Environment::Prod, 0, 20, true)).await.unwrap();
    moved(&store, &mut last, "set_gray_strategy (replace)").await;
    store.delete_gray_strategy(api.id, Environment::Prod).await.unwrap();
    moved(&store, &mut last, "delete_gray_strategy").await;
    store.publish(api.id, Environment::Prod, 0).await.unwrap();
    moved(&store, &mut last, "publish").await;

    // Reads leave it alone.
    store.find_apis(&query(workgroup_id)).await.unwrap();
    store
        .find_apis(&ApiQuery { status: Some(ApiStatus::Draft), tag: Some("a".into()), ..query(workgroup_id) })
        .await
        .unwrap();
    store.workgroup_publications(workgroup_id).await.unwrap();
    store.app(app.id).await.unwrap();
    store.app_tokens(app.id).await.unwrap();
    store.grants_of_api(api.id).await.unwrap();
    store.grants_of_app(app.id).await.unwrap();
    store.gray_strategies(api.id).await.unwrap();
    store.gray_releases(Environment::Prod).await.unwrap();
    store.caller_directory().await.unwrap();
    still(&store, last, "a read").await;

    // So do refused writes.
    assert!(store.delete_api(api.id).await.is_err());
    store.update_draft(api.id, &wizard_draft(datasource.id, "other")).await.unwrap();
    moved(&store, &mut last, "update_draft").await;
    assert!(store.save_checked_version(api.id, "", &api.draft).await.is_err());
    assert!(
        store
            .update_api(&Api { settings: ApiSettings { max_qps: Some(0), ..api.settings.clone() }, ..api.clone() })
            .await
            .is_err()
    );
    assert!(store.update_app(&App { name: String::new(), ..app.clone() }).await.is_err());
    assert!(store.rotate_app_secret(app.id, -5).await.is_err());
    assert!(store.issue_app_token(app.id, 0).await.is_err());
    assert!(store.revoke_app_token(app.id, 9_999).await.is_err());
    let strict =
        api_with(&store, workgroup_id, datasource.id, "strict", VisibleRange::Private, SecurityLevel::L4).await;
    moved(&store, &mut last, "create_api (settings)").await;
    assert!(store.grant(&grant_of(strict.id, app.id)).await.is_err());
    assert!(store.revoke_grant(api.id, app.id).await.is_err());
    assert!(store.set_gray_strategy(&gray(api.id, Environment::Prod, 7, 10, true)).await.is_err());
    assert!(store.set_gray_strategy(&gray(api.id, Environment::Prod, 0, 101, true)).await.is_err());
    assert!(store.delete_gray_strategy(api.id, Environment::Test).await.is_err());
    assert!(store.delete_app(9_999).await.is_err());
    still(&store, last, "a refused write").await;

    store.unpublish(api.id, Environment::Prod).await.unwrap();
    moved(&store, &mut last, "unpublish").await;
    store.delete_api(api.id).await.unwrap();
    moved(&store, &mut last, "delete_api").await;
    store.delete_app(app.id).await.unwrap();
    moved(&store, &mut last, "delete_app").await;
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// The route space and platform settings

/// An API of `workgroup_id` at `method path`, with a saved V0.
async fn api_at(store: &Store, workgroup_id: i64, datasource_id: i64, name: &str, method: &str, path: &str) -> Api {
    let api = Api {
        path: path.into(),
        method: method.into(),
        ..new_api(workgroup_id, name, wizard_draft(datasource_id, "t"))
    };
    let api = store.create_api(&api).await.unwrap();
    store.save_version(api.id, "").await.unwrap();
    api
}

fn assert_path_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, with: &Api) {
    match result {
        Err(StoreError::PathConflict(conflict)) => assert_eq!(conflict.api_id, with.id, "{conflict:?}"),
        other => panic!("expected a path conflict with API {}, got {other:?}", with.id),
    }
}

async fn paths_of_other_workgroups_are_refused_at_publish_and_at_save(db: TestDb) {
    let store = db.open().await;
    let (theirs_id, datasource, _) = seeded(&store).await;
    let ours = store.create_workgroup("intruders", "").await.unwrap();
    let our_ds = store.create_datasource(&postgres_datasource(ours.id, "ds", None)).await.unwrap();
    let theirs = api_at(&store, theirs_id, datasource.id, "customer", "GET", "/b/customers/{id}").await;
    store.publish(theirs.id, Environment::Prod, 0).await.unwrap();

    // The same route under another name, or a path that only takes part of its requests:
    // refused when saved, and nothing changes.
    let squatter = api_at(&store, ours.id, our_ds.id, "squat", "GET", "/b/other/{aaa}").await;
    let revision = store.revision().await.unwrap();
    let squatter = store.update_api(&Api { path: "/b/customers/{aaa}".into(), ..squatter.clone() }).await;
    assert_path_conflict(squatter, &theirs);
    for (name, method, path) in [
        ("special", "GET", "/b/customers/special"),
        ("poster", "POST", "/b/customers/{id}"),
        ("kinds", "GET", "/b/{kind}/{id}"),
    ] {
        let api =
            Api { path: path.into(), method: method.into(), ..new_api(ours.id, name, wizard_draft(our_ds.id, "t")) };
        assert_path_conflict(store.create_api(&api).await, &theirs);
    }
    assert_eq!(store.revision().await.unwrap(), revision, "refused writes change nothing");

    // Two drafts may hold one path; the first published takes it in that environment.
    let early = api_at(&store, ours.id, our_ds.id, "early", "GET", "/c/{id}").await;
    let late = api_at(&store, theirs_id, datasource.id, "late", "GET", "/c/{key}").await;
    store.publish(late.id, Environment::Prod, 0).await.unwrap();
    assert_path_conflict(store.publish(early.id, Environment::Prod, 0).await, &late);
    assert!(store.publications(early.id).await.unwrap().is_empty());
    store.publish(early.id, Environment::Test, 0).await.unwrap();

    // Published only in test: the same path is free in prod until then.
    let tester = api_at(&store, ours.id, our_ds.id, "tester", "GET", "/t/{id}").await;
    store.publish(tester.id, Environment::Test, 0).await.unwrap();
    let prod_only = api_at(&store, theirs_id, datasource.id, "prod_only", "GET", "/p/{id}").await;
    store.publish(prod_only.id, Environment::Prod, 0).await.unwrap();
    let ours_later = api_at(&store, ours.id, our_ds.id, "later", "GET", "/q/{id}").await;
    let moved = store.update_api(&Api { path: "/p/{key}".into(), ..ours_later.clone() }).await;
    assert_path_conflict(moved, &prod_only);
    let unpublished_twin = api_at(&store, theirs_id, datasource.id, "twin", "GET", "/u/{x}").await;
    let twin = Api { path: "/t/{id}".into(), ..unpublished_twin };
    assert_path_conflict(store.update_api(&twin).await, &tester);

    // Within one workgroup a literal may stand beside a parameter, but not the same route.
    let search = api_at(&store, theirs_id, datasource.id, "search", "GET", "/b/customers/search").await;
    store.publish(search.id, Environment::Prod, 0).await.unwrap();
    let again = api_at(&store, theirs_id, datasource.id, "again", "GET", "/b/x/{y}").await;
    let again = store.update_api(&Api { path: "/b/customers/{key}".into(), ..again }).await;
    assert_path_conflict(again, &theirs);
    store.close().await;
}

async fn concurrent_publishes_of_one_path_let_exactly_one_win(db: TestDb) {
    let store = db.open().await;
    let (first_wg, first_ds, _) = seeded(&store).await;
    let second = store.create_workgroup("rivals", "").await.unwrap();
    let second_ds = store.create_datasource(&postgres_datasource(second.id, "ds", None)).await.unwrap();
    for round in 0..20 {
        let a = api_at(&store, first_wg, first_ds.id, &format!("a{round}"), "GET", &format!("/r{round}/{{id}}")).await;
        let b =
            api_at(&store, second.id, second_ds.id, &format!("b{round}"), "GET", &format!("/r{round}/{{key}}")).await;
        let publish = |id: i64| {
            let store = store.clone();
            tokio::spawn(async move { store.publish(id, Environment::Prod, 0).await })
        };
        let (one, two) = if round % 2 == 0 { (publish(a.id), publish(b.id)) } else { (publish(b.id), publish(a.id)) };
        let results = [one.await.unwrap(), two.await.unwrap()];
        let won = results.iter().filter(|r| r.is_ok()).count();
        let lost = results.iter().filter(|r| matches!(r, Err(StoreError::PathConflict(_)))).count();
        assert_eq!((won, lost), (1, 1), "round {round}: {results:?}");
    }
    let served = store.published(Environment::Prod).await.unwrap();
    assert_eq!(served.len(), 20);
    store.close().await;
}

async fn platform_settings_round_trip_and_bump_the_revision(db: TestDb) {
    use catalog::model::{DatasetRootSetting, PlatformSettings};
    let store = db.open().await;
    assert_eq!(store.platform_settings().await.unwrap(), PlatformSettings::default());
    let revision = store.revision().await.unwrap();
    let settings = PlatformSettings {
        network_allow: vec!["10.1.0.0/16".into(), "db.internal".into()],
        dataset_roots: vec![DatasetRootSetting { path: "/srv/sales".into(), workgroup: Some("sales".into()) }],
    };
    store.set_platform_settings(&settings).await.unwrap();
    assert_eq!(store.platform_settings().await.unwrap(), settings);
    assert_eq!(store.revision().await.unwrap(), revision + 1);
    // The marker that keeps a store from being anyone's datasource.
    assert_eq!(db.raw_count("SELECT COUNT(*) FROM sluice_store WHERE id = $1", 1).await, 1);
    store.close().await;
}
