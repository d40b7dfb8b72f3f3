// Routes of `admin/src/docs/` with who may call them (included by matrix.rs).
// Each row's `prepare` creates, as the platform admin, what an allowed call needs.

pub fn docs() -> Vec<Row> {
    vec![
        Row {
            method: "GET",
            path: "/openapi.json",
            expect: Expect::Anyone,
            prepare: |_| ("/openapi.json".to_owned(), None),
        },
        Row { method: "GET", path: "/docs", expect: Expect::Anyone, prepare: |_| ("/docs".to_owned(), None) },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/openapi.json",
            expect: Expect::WorkgroupViewer,
            prepare: |_| (format!("/workgroups/{TEAM}/openapi.json"), None),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apis/{id}/openapi.json",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (format!("/workgroups/{TEAM}/apis/{}/openapi.json", docs_team_api(c)), None),
        },
    ]
}

/// An API of `team` with one saved version, created once straight in the server's store (so
/// that this row does not depend on the API routes).
fn docs_team_api(c: &Ctx) -> i64 {
    use catalog::model::{
        Api, ApiDefinition, ApiMode, ApiOptions, ConnectionSettings, Datasource, DatasourceKind, WizardSpec,
    };
    static ID: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *ID.get_or_init(|| {
        let dir = c.server.data_dir.clone();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let key = std::fs::read_to_string(dir.join("secret.key")).expect("secret.key");
            let secrets = catalog::secret::SecretBox::from_key_text(key.trim()).expect("key");
            let url = format!("sqlite://{}", dir.join("sluice.db").display());
            let store = catalog::store::Store::open(&url, secrets).await.expect("store");
            let team = store.workgroup_by_name(TEAM).await.expect("team");
            let datasource = store
                .create_datasource(&Datasource {
                    id: 0,
                    workgroup_id: team.id,
                    name: "docs_ds".into(),
                    kind: DatasourceKind::Sqlite,
                    description: String::new(),
                    connection: ConnectionSettings { database: "/nowhere/docs.sqlite".into(), ..Default::default() },
                })
                .await
                .expect("datasource");
            let draft = ApiDefinition {
                datasource_id: Some(datasource.id),
                mode: ApiMode::Wizard(WizardSpec { table: "things".into() }),
                request_params: vec![],
                response_fields: vec![],
                options: ApiOptions::default(),
            };
            let api = Api {
                id: 0,
                workgroup_id: team.id,
                name: "docs_api".into(),
                path: "/docs-api".into(),
                method: "GET".into(),
                description: String::new(),
                folder_id: None,
                settings: Default::default(),
                draft,
                details: Default::default(),
            };
            let api = store.create_api(&api).await.expect("api");
            store.save_version(api.id, "for the docs rows").await.expect("version");
            store.close().await;
            api.id
        })
    })
}
