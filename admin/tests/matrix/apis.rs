// Routes of `admin/src/apis/` with who may call them (included by matrix.rs).
// Each row's `prepare` creates, as the platform admin, what an allowed call needs: a fresh API
// of `team` over a SQLite datasource (written straight into the server's store, once), with a
// saved version or a publication where the route needs one.
//
// Reading is for viewers; creating, editing, saving versions, setting result samples,
// deleting (an API or a version, refused while published anyway), publishing, taking offline
// the test console (which may keep its answer as a sample) and purging the result cache are for
// developers. Deleting
// an API is a developer's: developers already publish and take offline, which matters more,
// and an API in use cannot be deleted.

/// Developers and above.
const DEVELOPER: Expect = Expect::WorkgroupDeveloper;

pub fn apis() -> Vec<Row> {
    vec![
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apis",
            expect: Expect::WorkgroupViewer,
            prepare: |_| (format!("/workgroups/{TEAM}/apis?name=m&pageSize=5"), None),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apis",
            expect: DEVELOPER,
            prepare: |c| (format!("/workgroups/{TEAM}/apis"), Some(apis_new_api(c, "n"))),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apis/{id}",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (apis_fresh(c, 0, None), None),
        },
        Row {
            method: "PUT",
            path: "/workgroups/{workgroup}/apis/{id}",
            expect: DEVELOPER,
            prepare: |c| (apis_fresh(c, 0, None), Some(json!({"description": "edited"}))),
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}/apis/{id}",
            expect: DEVELOPER,
            prepare: |c| (apis_fresh(c, 0, None), None),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apis/{id}/copy",
            expect: DEVELOPER,
            prepare: |c| {
                let api = apis_fresh(c, 0, None);
                (format!("{api}/copy"), Some(json!({"name": format!("c{}", c.seq), "path": format!("/c/{}", c.seq)})))
            },
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apis/{id}/versions",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (format!("{}/versions", apis_fresh(c, 1, None)), None),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apis/{id}/versions",
            expect: DEVELOPER,
            prepare: |c| (format!("{}/versions", apis_fresh(c, 0, None)), Some(json!({"description": "saved"}))),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apis/{id}/versions/{version}",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (format!("{}/versions/0", apis_fresh(c, 1, None)), None),
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}/apis/{id}/versions/{version}",
            expect: DEVELOPER,
            prepare: |c| (format!("{}/versions/V0", apis_fresh(c, 1, None)), None),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apis/{id}/versions/{version}/diff/{other}",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (format!("{}/versions/0/diff/draft", apis_fresh(c, 1, None)), None),
        },
        Row {
            method: "PUT",
            path: "/workgroups/{workgroup}/apis/{id}/versions/{version}/samples",
            expect: DEVELOPER,
            prepare: |c| {
                let body = json!({"success": {"code": "OK", "data": {"rows": []}}, "failure": null});
                (format!("{}/versions/V0/samples", apis_fresh(c, 1, None)), Some(body))
            },
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apis/{id}/publish",
            expect: DEVELOPER,
            prepare: |c| {
                (format!("{}/publish", apis_fresh(c, 1, None)), Some(json!({"version": 0, "environment": "test"})))
            },
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apis/{id}/offline",
            expect: DEVELOPER,
            prepare: |c| (format!("{}/offline", apis_fresh(c, 1, Some("test"))), Some(json!({"environment": "test"}))),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apis/{id}/cache/purge",
            expect: DEVELOPER,
            prepare: |c| (format!("{}/cache/purge", apis_fresh(c, 1, Some("test"))), None),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apis/{id}/test",
            expect: DEVELOPER,
            prepare: |c| (format!("{}/test", apis_fresh(c, 0, None)), Some(json!({"params": {"minPrice": 1}, "saveAsSample": true}))),
        },
    ]
}

/// A new API of `team` named after the call, reading the matrix's datasource.
fn apis_new_api(c: &Ctx, prefix: &str) -> Value {
    json!({
        "name": format!("{prefix}{}", c.seq),
        "path": format!("/{prefix}/{}", c.seq),
        "draft": {
            "datasourceId": apis_datasource(c), "mode": "wizard", "table": "items",
            "requestParams": [{"name": "minPrice", "type": "float", "column": "price", "operator": ">="}],
            "responseFields": [{"name": "id", "type": "int"}, {"name": "name", "type": "string"}]
        }
    })
}

/// Creates an API with `versions` saved versions, published to `env` (V0) if given; returns
/// its path below `/admin/v1`.
fn apis_fresh(c: &Ctx, versions: usize, env: Option<&str>) -> String {
    let api = c.setup("POST", &format!("/workgroups/{TEAM}/apis"), Some(apis_new_api(c, "m")));
    let path = format!("/workgroups/{TEAM}/apis/{}", api["id"]);
    for _ in 0..versions {
        c.setup("POST", &format!("{path}/versions"), None);
    }
    if let Some(env) = env {
        c.setup("POST", &format!("{path}/publish"), Some(json!({"version": 0, "environment": env})));
    }
    path
}

/// The id of a SQLite datasource of `team` over `items(id, name, price)`, made once per
/// server: written into the server's store (datasource routes are another area's).
fn apis_datasource(c: &Ctx) -> i64 {
    use std::sync::Mutex;
    static MADE: Mutex<Option<(std::path::PathBuf, i64)>> = Mutex::new(None);
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((dir, id)) = made.as_ref()
        && *dir == c.server.data_dir
    {
        return *id;
    }
    let dir = c.server.data_dir.clone();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let id = runtime.block_on(async {
        use sqlx::Connection;
        std::fs::create_dir_all(dir.join("datasets").join(TEAM)).expect("dataset directory");
        let file = dir.join("datasets").join(TEAM).join("matrix_items.db");
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&file).create_if_missing(true);
        let mut db = sqlx::SqliteConnection::connect_with(&options).await.expect("items db");
        for statement in [
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)",
            "INSERT INTO items VALUES (1, 'apple', 1.5), (2, 'banana', 0.25)",
        ] {
            sqlx::query(statement).execute(&mut db).await.expect(statement);
        }
        db.close().await.expect("close");
        let key = std::fs::read_to_string(dir.join("secret.key")).expect("secret.key");
        let secrets = catalog::secret::SecretBox::from_key_text(&key).expect("key");
        let url = format!("sqlite://{}", dir.join("sluice.db").display());
        let store = catalog::store::Store::open(&url, secrets).await.expect("store");
        let team = store.workgroup_by_name(TEAM).await.expect("team");
        let datasource = catalog::model::Datasource {
            id: 0,
            workgroup_id: team.id,
            name: "matrix_items".to_owned(),
            kind: catalog::model::DatasourceKind::Sqlite,
            description: String::new(),
            connection: catalog::model::ConnectionSettings {
                database: file.display().to_string(),
                ..Default::default()
            },
        };
        let id = store.create_datasource(&datasource).await.expect("datasource").id;
        store.close().await;
        id
    });
    *made = Some((dir, id));
    id
}
