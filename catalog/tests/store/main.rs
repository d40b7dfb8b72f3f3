//! The metadata store's behaviour, checked identically on SQLite and PostgreSQL.
//!
//! One module per part of the store, as `catalog/src/store/` splits it. Every scenario is one
//! `async fn(TestDb)`; each module's `backend_tests!` runs its scenarios on a fresh SQLite file
//! and on a fresh PostgreSQL schema. PostgreSQL is expected at
//! `postgres://postgres@127.0.0.1:5432/test` (override with `SLUICE_TEST_POSTGRES_URL`); when
//! it is unreachable those tests fail, they do not skip. This file holds the harness (opening a
//! store on either backend) and the fixtures several modules share.

use std::future::Future;
use std::path::PathBuf;

use catalog::model::{
    Api, ApiDefinition, ApiMode, ApiOptions, ConnectionSettings, ConstantPosition, Datasource, DatasourceKind,
    Environment, Grant, GrayStrategy, ParamPosition, RegisteredConstant, RegisteredParam, RegisteredSpec,
    SecurityLevel, UpstreamFormat, UpstreamMethod, VisibleRange, WizardSpec,
};
use catalog::now_ms;
use catalog::secret::SecretBox;
use catalog::store::{ApiQuery, AppCredentials, CallerDirectory, Store, StoreError};
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
                    crate::run(crate::TestDb::sqlite(), super::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    crate::run(crate::TestDb::postgres().await, super::$scenario).await;
                }
            )*
        }
    };
}

mod access;
mod alarms;
mod apis;
mod apps;
mod callers;
mod datasources;
mod details;
mod digests;
mod folders;
mod functions;
mod market;
mod route_space;
mod store_wide;
mod versions_publications;
mod webhooks;
mod workgroups;

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
        details: Default::default(),
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

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, StoreError>, mentions: &str) {
    match result {
        Err(StoreError::Invalid(message)) => assert!(message.contains(mentions), "`{message}` lacks `{mentions}`"),
        other => panic!("expected Invalid mentioning `{mentions}`, got {other:?}"),
    }
}

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
            validation: None,
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

/// A query over the whole workgroup with a page large enough for every test.
fn query(workgroup_id: i64) -> ApiQuery {
    ApiQuery { workgroup_id, limit: 100, ..ApiQuery::default() }
}

fn names(items: &[&str]) -> Vec<String> {
    items.iter().map(|name| (*name).to_owned()).collect()
}

fn tags(items: &[&str]) -> Vec<String> {
    names(items)
}

fn grant_of(api_id: i64, app_id: i64) -> Grant {
    Grant {
        id: 0,
        api_id,
        app_id,
        expires_at: None,
        qps: None,
        created_at: 0,
        created_by: "jane".into(),
        application_id: None,
    }
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
