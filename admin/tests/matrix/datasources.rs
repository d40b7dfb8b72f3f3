// Routes of `admin/src/datasources.rs` with who may call them (included by matrix.rs).
// Each row's `prepare` creates, as the platform admin, what an allowed call needs: a fresh
// SQLite datasource (its file need not exist for CRUD; `/test` gets an empty file, which
// SQLite opens as an empty database), a fresh folder, a fresh workgroup to delete.
//
// Reading datasources and folders is for viewers; writing them, testing a connection (it makes
// the server connect with the stored password) and moving an API are for developers; the
// workgroup's settings and its audit log are for its admins; deleting a workgroup and the
// whole audit log are for platform admins.

/// Developers and above.
const DS_DEVELOPER: Expect = Expect::WorkgroupDeveloper;

/// A new SQLite datasource of `team` whose file need not exist.
fn ds_new(c: &Ctx) -> Value {
    json!({
        "name": format!("ds{}", c.seq),
        "kind": "sqlite",
        "connection": {"database": format!("sluice-matrix-{}.db", c.seq), "password": "pw"},
    })
}

/// The path of a fresh datasource of `team`.
fn ds_fresh(c: &Ctx) -> String {
    let ds = c.setup("POST", &format!("/workgroups/{TEAM}/datasources"), Some(ds_new(c)));
    format!("/workgroups/{TEAM}/datasources/{}", ds["id"])
}

/// The path of a fresh folder of `team` at the root.
fn ds_folder(c: &Ctx) -> String {
    let folder = c.setup("POST", &format!("/workgroups/{TEAM}/folders"), Some(json!({"name": format!("f{}", c.seq)})));
    format!("/workgroups/{TEAM}/folders/{}", folder["id"])
}

pub fn datasources() -> Vec<Row> {
    vec![
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/datasources",
            expect: Expect::WorkgroupViewer,
            prepare: |_| (format!("/workgroups/{TEAM}/datasources?pageSize=5"), None),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/datasources",
            expect: DS_DEVELOPER,
            prepare: |c| (format!("/workgroups/{TEAM}/datasources"), Some(ds_new(c))),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/datasources/{id}",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (ds_fresh(c), None),
        },
        Row {
            method: "PUT",
            path: "/workgroups/{workgroup}/datasources/{id}",
            expect: DS_DEVELOPER,
            prepare: |c| {
                let mut body = ds_new(c);
                body["description"] = json!("edited");
                (ds_fresh(c), Some(body))
            },
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}/datasources/{id}",
            expect: DS_DEVELOPER,
            prepare: |c| (ds_fresh(c), None),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/datasources/{id}/test",
            expect: DS_DEVELOPER,
            prepare: |c| {
                let dir = c.server.data_dir.join("datasets").join(TEAM);
                std::fs::create_dir_all(&dir).expect("dataset directory");
                let name = format!("matrix-empty-{}.db", c.seq);
                std::fs::write(dir.join(&name), b"").expect("empty SQLite file");
                let body = json!({"name": format!("dt{}", c.seq), "kind": "sqlite", "connection": {"database": name}});
                let ds = c.setup("POST", &format!("/workgroups/{TEAM}/datasources"), Some(body));
                (format!("/workgroups/{TEAM}/datasources/{}/test", ds["id"]), None)
            },
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/folders",
            expect: Expect::WorkgroupViewer,
            prepare: |_| (format!("/workgroups/{TEAM}/folders"), None),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/folders",
            expect: DS_DEVELOPER,
            prepare: |c| (format!("/workgroups/{TEAM}/folders"), Some(json!({"name": format!("n{}", c.seq)}))),
        },
        Row {
            method: "PATCH",
            path: "/workgroups/{workgroup}/folders/{id}",
            expect: DS_DEVELOPER,
            prepare: |c| (ds_folder(c), Some(json!({"name": format!("r{}", c.seq)}))),
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}/folders/{id}",
            expect: DS_DEVELOPER,
            prepare: |c| (ds_folder(c), None),
        },
        Row {
            method: "PUT",
            path: "/workgroups/{workgroup}/apis/{id}/folder",
            expect: DS_DEVELOPER,
            prepare: |c| {
                let folder = c.setup(
                    "POST",
                    &format!("/workgroups/{TEAM}/folders"),
                    Some(json!({"name": format!("a{}", c.seq)})),
                );
                // `apis_fresh` (matrix/apis.rs) makes a fresh API of `team`.
                (format!("{}/folder", apis_fresh(c, 0, None)), Some(json!({"folderId": folder["id"]})))
            },
        },
        Row {
            method: "PATCH",
            path: "/workgroups/{workgroup}",
            expect: Expect::WorkgroupAdmin,
            prepare: |c| (format!("/workgroups/{TEAM}"), Some(json!({"description": format!("d{}", c.seq)}))),
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}",
            expect: Expect::PlatformAdmin,
            prepare: |c| {
                c.setup("POST", "/workgroups", Some(json!({"name": format!("gone{}", c.seq)})));
                (format!("/workgroups/gone{}", c.seq), None)
            },
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/audit",
            expect: Expect::WorkgroupAdmin,
            prepare: |_| (format!("/workgroups/{TEAM}/audit?limit=5"), None),
        },
        Row {
            method: "GET",
            path: "/audit",
            expect: Expect::PlatformAdmin,
            prepare: |_| ("/audit?limit=5".to_owned(), None),
        },
    ]
}
