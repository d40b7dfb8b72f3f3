//! The access policy against real directories, files and symbolic links in a temp dir.

use std::os::unix::fs::symlink;

use catalog::model::ConnectionSettings;

use super::*;

struct Layout {
    base: PathBuf,
    data_dir: PathBuf,
}

impl Layout {
    /// `base/data` (the data dir, with the store and `secret.key`), `base/data/datasets/team`
    /// and `…/other` with a database each, `base/shared/team`, `base/bound`, `base/outside`.
    fn new(tag: &str) -> Layout {
        let base = std::env::temp_dir().join(format!("sluice-access-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let data_dir = base.join("data");
        for dir in ["data/datasets/team", "data/datasets/other", "shared/team", "shared/other", "bound", "outside"] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
        }
        for file in [
            "data/sluice.db",
            "data/secret.key",
            "data/datasets/team/shop.db",
            "data/datasets/other/theirs.db",
            "shared/team/a.db",
            "shared/other/b.db",
            "bound/c.db",
            "outside/d.db",
        ] {
            std::fs::write(base.join(file), b"").unwrap();
        }
        Layout { base, data_dir }
    }

    async fn access(&self, roots: Vec<DatasetRoot>, store_url: &str) -> DatasourceAccess {
        let settings = AccessSettings {
            net: SsrfPolicy::default(),
            data_dir: self.data_dir.clone(),
            roots,
            store_url: store_url.to_owned(),
        };
        DatasourceAccess::new(&settings, &[(1, "team".into()), (2, "other".into())]).await
    }

    fn path(&self, rel: &str) -> String {
        self.base.join(rel).to_string_lossy().into_owned()
    }
}

fn sqlite(workgroup_id: i64, database: &str) -> Datasource {
    Datasource {
        id: 1,
        workgroup_id,
        name: "ds".into(),
        kind: DatasourceKind::Sqlite,
        description: String::new(),
        connection: ConnectionSettings { database: database.into(), ..Default::default() },
    }
}

fn server(kind: DatasourceKind, host: &str, port: u16, database: &str) -> Datasource {
    Datasource {
        kind,
        connection: ConnectionSettings { host: host.into(), port, database: database.into(), ..Default::default() },
        ..sqlite(1, "")
    }
}

fn not_allowed(result: Result<Datasource, Refusal>) -> bool {
    matches!(result, Err(Refusal::NotAllowed { .. }))
}

#[tokio::test]
async fn relative_paths_are_read_in_the_workgroups_own_dataset_directory() {
    let layout = Layout::new("relative");
    let access = layout.access(Vec::new(), "sqlite::memory:").await;
    let admitted = access.admit(&sqlite(1, "shop.db")).await.unwrap();
    let expected = std::fs::canonicalize(layout.base.join("data/datasets/team/shop.db")).unwrap();
    assert_eq!(admitted.connection.database, expected.to_string_lossy());
    // `.` and `..` are resolved as text first, and the file is then opened at that place.
    let dotted = access.admit(&sqlite(1, "./sub/../shop.db")).await.unwrap();
    assert_eq!(dotted.connection.database, expected.to_string_lossy());
    // The other workgroup's file, by relative and absolute path.
    assert!(not_allowed(access.admit(&sqlite(1, "../other/theirs.db")).await));
    assert!(not_allowed(access.admit(&sqlite(1, &layout.path("data/datasets/other/theirs.db"))).await));
    assert!(access.admit(&sqlite(2, "theirs.db")).await.is_ok());
}

#[tokio::test]
async fn the_store_the_data_dir_and_everything_outside_the_roots_are_refused() {
    let layout = Layout::new("store");
    let store_url = format!("sqlite://{}", layout.path("data/sluice.db"));
    let access = layout.access(Vec::new(), &store_url).await;
    for database in [
        layout.path("data/sluice.db"),
        "../../sluice.db".to_owned(),
        "../../secret.key".to_owned(),
        layout.path("data/secret.key"),
        layout.path("outside/d.db"),
        "/etc/passwd".to_owned(),
        "../../../../../../../../etc/passwd".to_owned(),
        "file:shop.db".to_owned(),
        format!("FILE:{}?mode=rw", layout.path("data/sluice.db")),
        ":memory:".to_owned(),
        "shop.db?vfs=unix".to_owned(),
        "shop.db#x".to_owned(),
        "shop\0.db".to_owned(),
    ] {
        let refused = access.admit(&sqlite(1, &database)).await;
        assert!(not_allowed(refused.clone()), "{database:?}: {refused:?}");
        assert!(access.check_settings(&sqlite(1, &database)).is_err(), "{database:?} passes the save check");
    }
}

#[tokio::test]
async fn a_missing_file_is_unreachable_and_says_nothing_of_paths_outside() {
    let layout = Layout::new("missing");
    let access = layout.access(Vec::new(), "sqlite::memory:").await;
    let missing = access.admit(&sqlite(1, "nope.db")).await;
    assert!(matches!(missing, Err(Refusal::Unreachable { .. })), "{missing:?}");
    // Outside the roots, existing or not, the answer is the same refusal.
    let exists = access.admit(&sqlite(1, &layout.path("outside/d.db"))).await;
    let absent = access.admit(&sqlite(1, &layout.path("outside/none.db"))).await;
    assert_eq!(exists, absent);
}

#[tokio::test]
async fn symbolic_links_out_of_a_root_are_refused() {
    let layout = Layout::new("symlinks");
    let team = layout.base.join("data/datasets/team");
    symlink(layout.base.join("data/sluice.db"), team.join("store.db")).unwrap();
    symlink(layout.base.join("outside/d.db"), team.join("out.db")).unwrap();
    symlink(layout.base.join("data/datasets/other"), team.join("theirs")).unwrap();
    symlink(team.join("shop.db"), team.join("alias.db")).unwrap();
    let access = layout.access(Vec::new(), "sqlite::memory:").await;
    for link in ["store.db", "out.db", "theirs/theirs.db"] {
        assert!(not_allowed(access.admit(&sqlite(1, link)).await), "{link}");
    }
    assert!(access.admit(&sqlite(1, "alias.db")).await.is_ok(), "a link within the directory is fine");
    assert!(not_allowed(access.admit(&sqlite(1, "")).await));
    assert!(not_allowed(access.admit(&sqlite(1, ".")).await), "a directory is not a database");
}

#[tokio::test]
async fn added_roots_are_shared_per_workgroup_or_bound_to_one() {
    let layout = Layout::new("roots");
    let roots = vec![
        DatasetRoot { path: layout.base.join("shared"), workgroup: None },
        DatasetRoot { path: layout.base.join("bound"), workgroup: Some("other".into()) },
        DatasetRoot { path: layout.base.join("not-there"), workgroup: None },
    ];
    let access = layout.access(roots, "sqlite::memory:").await;
    assert!(access.admit(&sqlite(1, &layout.path("shared/team/a.db"))).await.is_ok());
    assert!(not_allowed(access.admit(&sqlite(1, &layout.path("shared/other/b.db"))).await));
    assert!(not_allowed(access.admit(&sqlite(1, &layout.path("bound/c.db"))).await));
    assert!(access.admit(&sqlite(2, &layout.path("bound/c.db"))).await.is_ok());
    // A workgroup the policy does not know has no directory at all.
    assert!(not_allowed(access.admit(&sqlite(9, "shop.db")).await));
}

#[tokio::test]
async fn database_hosts_go_through_the_network_policy_and_are_pinned() {
    let layout = Layout::new("hosts");
    let strict = layout.access(Vec::new(), "sqlite::memory:").await;
    for host in ["127.0.0.1", "localhost", "10.1.2.3", "[::1]", "169.254.169.254", "0x7f.1"] {
        let ds = server(DatasourceKind::Postgres, host, 5432, "test");
        assert!(not_allowed(strict.admit(&ds).await), "{host}");
    }
    assert!(strict.check_settings(&server(DatasourceKind::Mysql, "127.0.0.1", 3306, "test")).is_err());
    assert!(strict.check_settings(&server(DatasourceKind::Mysql, "localhost", 3306, "test")).is_err());
    assert!(strict.check_settings(&server(DatasourceKind::Mysql, "db.example.com", 3306, "test")).is_ok());

    let settings = AccessSettings {
        net: SsrfPolicy::new(&["127.0.0.1".to_owned()]).unwrap(),
        data_dir: layout.data_dir.clone(),
        roots: Vec::new(),
        store_url: "postgres://postgres@127.0.0.1:5432/sluice_store_db".into(),
    };
    let allowed = DatasourceAccess::new(&settings, &[(1, "team".into())]).await;
    let pinned = allowed.admit(&server(DatasourceKind::Mysql, "0x7f.1", 0, "test")).await.unwrap();
    assert_eq!((pinned.connection.host.as_str(), pinned.connection.port), ("127.0.0.1", 3306));
    assert!(allowed.admit(&server(DatasourceKind::Postgres, "127.0.0.1", 5432, "test")).await.is_ok());
    // The store's own database, by its address or another loopback one.
    for host in ["127.0.0.1"] {
        let store = server(DatasourceKind::Postgres, host, 5432, "sluice_store_db");
        assert!(not_allowed(allowed.admit(&store).await), "{host}");
    }
}
