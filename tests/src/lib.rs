//! Shared fixtures for the end-to-end tests: the same small dataset loaded into SQLite,
//! PostgreSQL and MariaDB, the datasources that reach it, and the rows as Rust values so tests
//! can compute what every query must return.
//!
//! Each test binary gets its own database (named after the binary), recreated when the binary
//! first asks for it, so binaries never disturb one another. The servers must be up: run the
//! tests through `./scripts/test`, which starts them.

// Test support: a fixture that cannot be set up should stop the test where it failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod formats;

use std::path::PathBuf;
use std::sync::OnceLock;

use catalog::model::{ConnectionSettings, Datasource, DatasourceKind};
use net::SsrfPolicy;
use plugins::PluginContext;
use plugins::sql::access::{AccessSettings, DatasetRoot, DatasourceAccess};
use sqlx::{AssertSqlSafe, Connection, Executor};

/// The workgroup (id 1) every fixture datasource belongs to.
pub const FIXTURE_WORKGROUP: &str = "fixtures";

/// This process's directory of SQLite fixture files: a dataset root bound to the fixtures'
/// workgroup.
fn fixture_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-fx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("fixture directory");
    dir
}

/// The access policy the fixtures pass: the database servers on loopback, and the SQLite
/// fixture directory bound to the fixtures' workgroup (id 1); nothing else.
pub async fn fixture_access() -> DatasourceAccess {
    let settings = AccessSettings {
        net: SsrfPolicy::new(&["127.0.0.1".to_owned()]).expect("allow list"),
        data_dir: fixture_dir().join("data"),
        roots: vec![DatasetRoot { path: fixture_dir(), workgroup: Some(FIXTURE_WORKGROUP.to_owned()) }],
        store_url: "sqlite::memory:".to_owned(),
    };
    DatasourceAccess::new(&settings, &[(1, FIXTURE_WORKGROUP.to_owned())]).await
}

/// Plugins that reach the fixture databases (and nothing else): see [`fixture_access`].
pub async fn context() -> PluginContext {
    PluginContext::new(fixture_access().await)
}

pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// One row of the `users` fixture table.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub age: i64,
    pub city: &'static str,
    /// Cents; the table holds `score_cents / 100` as DECIMAL(10,2).
    pub score_cents: i64,
    pub active: bool,
    pub nickname: Option<String>,
    pub big: i64,
}

const CITIES: [&str; 4] = ["Beijing", "Hangzhou", "Shanghai", "Shenzhen"];

const NAMES: [&str; 12] = [
    "Alice",
    "Bob",
    "O'Brien",
    "back\\slash",
    "Zoë",
    "李雷",
    "percent%sign",
    "under_score",
    "Carol",
    "Dave",
    "quote\"d",
    "Eve",
];

pub const USER_COUNT: i64 = 48;

/// The `users` rows, as loaded into every database.
pub fn users() -> Vec<User> {
    (1..=USER_COUNT)
        .map(|id| User {
            id,
            name: format!(
                "{}{}",
                NAMES[(id as usize - 1) % NAMES.len()],
                if id > 12 { id.to_string() } else { String::new() }
            ),
            age: (id * 7) % 60 + 18,
            city: CITIES[(id % 4) as usize],
            score_cents: id * 125,
            active: id % 3 == 0,
            nickname: (id % 5 != 0).then(|| format!("nick{id}")),
            // One value past 2^53 to check that large integers survive as strings.
            big: if id == 1 { 9_007_199_254_740_993 } else { id * 1000 },
        })
        .collect()
}

/// Orders: two per user with an even id.
pub fn orders() -> Vec<(i64, i64, i64)> {
    users()
        .iter()
        .filter(|u| u.id % 2 == 0)
        .flat_map(|u| [(u.id * 10, u.id, u.id * 300), (u.id * 10 + 1, u.id, u.id * 50)])
        .collect()
}

/// One row of the `customers` fixture table, whose `phone` and `salary` the masking tests
/// declare above most clearances.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub city: &'static str,
    pub phone: Option<String>,
    /// Cents; the table holds `salary_cents / 100` as DECIMAL(12,2).
    pub salary_cents: i64,
}

pub const CUSTOMER_COUNT: i64 = 20;

/// The `customers` rows of [`datasource`]. Ids match `users` ids, so `orders.user_id` joins.
pub fn customers() -> Vec<Customer> {
    (1..=CUSTOMER_COUNT)
        .map(|id| Customer {
            id,
            name: format!("customer{id}"),
            city: CITIES[(id % 4) as usize],
            phone: (id % 7 != 0).then(|| format!("+86-138-{:04}-{:04}", id * 37 % 10_000, id * 1_234 % 10_000)),
            salary_cents: 90_000_000 + id * 123_456,
        })
        .collect()
}

/// The same customers with other phones (NULL elsewhere) and other salaries: what
/// [`datasource_scrambled`] holds. A caller who may not see `phone` and `salary` must get
/// the same answers from both.
pub fn customers_scrambled() -> Vec<Customer> {
    customers()
        .into_iter()
        .map(|c| Customer {
            phone: (c.id % 5 != 0).then(|| format!("+1-555-{:04}", (c.id * 7_919) % 10_000)),
            salary_cents: 1_000 + (CUSTOMER_COUNT - c.id) * 77_777,
            ..c
        })
        .collect()
}

/// Texts that XML, CSV and JSON must each carry safely, with a float and a time beside them:
/// the `texts` table, (id, label, ratio, at). `label` NULL for one row, empty for another.
pub fn texts() -> Vec<(i64, Option<&'static str>, f64, &'static str)> {
    vec![
        (1, Some("plain"), 0.5, "00:00:00"),
        (2, Some("quote \" and 'single'"), -1.25, "12:34:56"),
        (3, Some("line\nbreak\r\nand\ttab"), 1e-7, "23:59:59"),
        (4, Some("comma, and ; semicolon"), 12345.678, "08:00:00"),
        (5, Some("<tag> & ]]> &amp;"), 0.0, "01:02:03"),
        (6, Some("=cmd|' /C calc'!A0"), 3.0, "10:00:00"),
        (7, Some("李雷 Zoë 🦀"), 2.5, "11:11:11"),
        (8, Some(""), 100.0, "12:00:00"),
        (9, None, 7.75, "13:00:00"),
        (10, Some("ctl\u{1}\u{8}char"), 1.5, "14:00:00"),
    ]
}

fn ddl(kind: DatasourceKind) -> Vec<String> {
    let (boolean, timestamp, bytes, text) = match kind {
        DatasourceKind::Postgres => ("BOOLEAN", "TIMESTAMP", "BYTEA", "TEXT"),
        DatasourceKind::Mysql => ("BOOLEAN", "DATETIME(3)", "VARBINARY(16)", "VARCHAR(200)"),
        DatasourceKind::Sqlite => ("BOOLEAN", "DATETIME", "BLOB", "TEXT"),
    };
    let (float, time) = match kind {
        DatasourceKind::Postgres => ("DOUBLE PRECISION", "TIME"),
        DatasourceKind::Mysql => ("DOUBLE", "TIME"),
        DatasourceKind::Sqlite => ("REAL", "TEXT"),
    };
    vec![
        format!(
            "CREATE TABLE users (id BIGINT PRIMARY KEY, name {text} NOT NULL, age INT NOT NULL, city {text} NOT NULL, \
             score DECIMAL(10,2) NOT NULL, active {boolean} NOT NULL, born DATE NOT NULL, created_at {timestamp} NOT NULL, \
             nickname {text}, big BIGINT NOT NULL, avatar {bytes} NOT NULL)"
        ),
        format!(
            "CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount DECIMAL(10,2) NOT NULL, \
             note {text}, created_at {timestamp} NOT NULL)"
        ),
        format!("CREATE TABLE secret (id BIGINT PRIMARY KEY, token {text} NOT NULL)"),
        "CREATE TABLE canary (id BIGINT PRIMARY KEY)".to_owned(),
        format!(
            "CREATE TABLE customers (id BIGINT PRIMARY KEY, name {text} NOT NULL, city {text} NOT NULL, \
             phone {text}, salary DECIMAL(12,2) NOT NULL)"
        ),
        format!("CREATE TABLE texts (id BIGINT PRIMARY KEY, label {text}, ratio {float} NOT NULL, at {time} NOT NULL)"),
    ]
}

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// INSERT statements for the fixture, written with literals escaped for the dialect.
fn inserts(kind: DatasourceKind, customers: &[Customer]) -> Vec<String> {
    let text = |s: &str| match kind {
        // MySQL reads backslashes in literals as escapes unless doubled.
        DatasourceKind::Mysql => sql_text(&s.replace('\\', "\\\\")),
        _ => sql_text(s),
    };
    let blob = |bytes: &[u8]| {
        let hex = hex::encode(bytes);
        match kind {
            DatasourceKind::Postgres => format!("'\\x{hex}'::bytea"),
            _ => format!("X'{hex}'"),
        }
    };
    let boolean = |b: bool| match kind {
        DatasourceKind::Postgres => b.to_string(),
        _ => (b as i32).to_string(),
    };
    let mut out: Vec<String> = users()
        .iter()
        .map(|u| {
            let born = chrono::NaiveDate::from_ymd_opt(1980, 1, 1).unwrap() + chrono::Days::new(u.id as u64 * 100);
            let created = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap()
                + chrono::Duration::hours(u.id)
                + chrono::Duration::milliseconds(if u.id == 2 { 250 } else { 0 });
            format!(
                "INSERT INTO users VALUES ({}, {}, {}, {}, {}.{:02}, {}, '{}', '{}', {}, {}, {})",
                u.id,
                text(&u.name),
                u.age,
                text(u.city),
                u.score_cents / 100,
                u.score_cents % 100,
                boolean(u.active),
                born.format("%Y-%m-%d"),
                created.format("%Y-%m-%d %H:%M:%S%.f"),
                u.nickname.as_deref().map_or("NULL".to_owned(), text),
                u.big,
                blob(&[u.id as u8, 0, 255]),
            )
        })
        .collect();
    for (id, user_id, cents) in orders() {
        out.push(format!(
            "INSERT INTO orders VALUES ({id}, {user_id}, {}.{:02}, NULL, '2024-{:02}-01 12:00:00')",
            cents / 100,
            cents % 100,
            id % 12 + 1
        ));
    }
    out.push("INSERT INTO secret VALUES (1, 'top-secret-token')".to_owned());
    out.push("INSERT INTO canary VALUES (1)".to_owned());
    for (id, label, ratio, at) in texts() {
        out.push(format!(
            "INSERT INTO texts VALUES ({id}, {}, {ratio:?}, '{at}')",
            label.map_or("NULL".to_owned(), text)
        ));
    }
    for c in customers {
        out.push(format!(
            "INSERT INTO customers VALUES ({}, {}, {}, {}, {}.{:02})",
            c.id,
            text(&c.name),
            text(c.city),
            c.phone.as_deref().map_or("NULL".to_owned(), text),
            c.salary_cents / 100,
            c.salary_cents % 100
        ));
    }
    out
}

/// The database name for this test binary.
fn database_name() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_ref()
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .unwrap_or("sluice")
        .split('-')
        .next()
        .unwrap_or("sluice")
        .to_owned();
    format!("sluice_fx_{stem}")
}

/// A query of one `id` column that keeps the server busy for `secs` seconds, for timeouts.
/// PostgreSQL and MariaDB only: SQLite has no sleep.
pub fn sleep_sql(kind: DatasourceKind, secs: u32) -> String {
    match kind {
        DatasourceKind::Postgres => format!("SELECT 1 AS id FROM (SELECT pg_sleep({secs})) s"),
        DatasourceKind::Mysql => format!("SELECT SLEEP({secs}) AS id"),
        DatasourceKind::Sqlite => panic!("SQLite has no server-side sleep"),
    }
}

/// A datasource over the fixture in `kind`, loading the fixture on first use.
pub fn datasource(kind: DatasourceKind) -> Datasource {
    static SQLITE: OnceLock<Datasource> = OnceLock::new();
    static POSTGRES: OnceLock<Datasource> = OnceLock::new();
    static MYSQL: OnceLock<Datasource> = OnceLock::new();
    let cell = match kind {
        DatasourceKind::Sqlite => &SQLITE,
        DatasourceKind::Postgres => &POSTGRES,
        DatasourceKind::Mysql => &MYSQL,
    };
    cell.get_or_init(|| load_in_own_runtime(kind, false)).clone()
}

/// A second database with the same fixture except [`customers_scrambled`], loaded on first
/// use (named `sluice_fx_<binary>_scrambled`, datasource ids 11–13).
pub fn datasource_scrambled(kind: DatasourceKind) -> Datasource {
    static SQLITE: OnceLock<Datasource> = OnceLock::new();
    static POSTGRES: OnceLock<Datasource> = OnceLock::new();
    static MYSQL: OnceLock<Datasource> = OnceLock::new();
    let cell = match kind {
        DatasourceKind::Sqlite => &SQLITE,
        DatasourceKind::Postgres => &POSTGRES,
        DatasourceKind::Mysql => &MYSQL,
    };
    cell.get_or_init(|| load_in_own_runtime(kind, true)).clone()
}

fn load_in_own_runtime(kind: DatasourceKind, scrambled: bool) -> Datasource {
    // A runtime of its own: a connection must not outlive the runtime that made it.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime for fixtures")
            .block_on(load_fixture(kind, scrambled))
    })
    .join()
    .expect("fixture loader panicked")
}

async fn load_fixture(kind: DatasourceKind, scrambled: bool) -> Datasource {
    let db = if scrambled { format!("{}_scrambled", database_name()) } else { database_name() };
    let customers = if scrambled { customers_scrambled() } else { customers() };
    let statements = ddl(kind).into_iter().chain(inserts(kind, &customers));
    let connection = match kind {
        DatasourceKind::Sqlite => {
            let path = fixture_dir().join(format!("{db}.sqlite"));
            let _ = std::fs::remove_file(&path);
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("create the SQLite fixture file");
            for s in statements {
                conn.execute(AssertSqlSafe(s)).await.expect("load SQLite fixture");
            }
            conn.close().await.ok();
            ConnectionSettings { database: path.display().to_string(), ..Default::default() }
        }
        DatasourceKind::Postgres => {
            let mut admin = sqlx::PgConnection::connect(PG_URL).await.unwrap_or_else(|e| {
                panic!("PostgreSQL at {PG_URL} is not reachable ({e}); start it with ./scripts/test")
            });
            admin
                .execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")))
                .await
                .expect("drop fixture db");
            admin.execute(AssertSqlSafe(format!("CREATE DATABASE {db}"))).await.expect("create fixture db");
            admin.close().await.ok();
            let mut conn = sqlx::PgConnection::connect(&format!("postgres://postgres@127.0.0.1:5432/{db}"))
                .await
                .expect("connect fixture db");
            for s in statements {
                conn.execute(AssertSqlSafe(s)).await.expect("load PostgreSQL fixture");
            }
            conn.close().await.ok();
            ConnectionSettings {
                host: "127.0.0.1".into(),
                port: 5432,
                database: db,
                username: "postgres".into(),
                ..Default::default()
            }
        }
        DatasourceKind::Mysql => {
            let mut admin = sqlx::MySqlConnection::connect(MYSQL_URL).await.unwrap_or_else(|e| {
                panic!("MariaDB at {MYSQL_URL} is not reachable ({e}); start it with ./scripts/test")
            });
            admin.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}"))).await.expect("drop fixture db");
            admin
                .execute(AssertSqlSafe(format!("CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")))
                .await
                .expect("create fixture db");
            admin.close().await.ok();
            let mut conn = sqlx::MySqlConnection::connect(&format!("mysql://root@127.0.0.1:3306/{db}"))
                .await
                .expect("connect fixture db");
            for s in statements {
                conn.execute(AssertSqlSafe(s)).await.expect("load MariaDB fixture");
            }
            conn.close().await.ok();
            ConnectionSettings {
                host: "127.0.0.1".into(),
                port: 3306,
                database: db,
                username: "root".into(),
                ..Default::default()
            }
        }
    };
    Datasource {
        id: match kind {
            DatasourceKind::Sqlite => 1,
            DatasourceKind::Postgres => 2,
            DatasourceKind::Mysql => 3,
        } + if scrambled { 10 } else { 0 },
        workgroup_id: 1,
        name: format!("fixture_{}{}", kind.as_str(), if scrambled { "_scrambled" } else { "" }),
        kind,
        description: String::new(),
        connection,
    }
}

/// Every fixture database, for tests that must hold on all three.
pub const KINDS: [DatasourceKind; 3] = [DatasourceKind::Sqlite, DatasourceKind::Postgres, DatasourceKind::Mysql];
