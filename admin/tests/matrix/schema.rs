// Routes of `admin/src/schema.rs` with who may call them (included by matrix.rs).
// Reading a datasource's tables and columns connects with its stored password, as the
// connection test does, and listing a template's parameters is part of writing an API: all
// three are a developer's. The schema rows read `apis_datasource` (matrix/apis.rs), a SQLite
// file of `team` with table `items`.

pub fn schema() -> Vec<Row> {
    vec![
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/datasources/{id}/tables",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| (format!("/workgroups/{TEAM}/datasources/{}/tables", apis_datasource(c)), None),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/datasources/{id}/tables/{table}/columns",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| (format!("/workgroups/{TEAM}/datasources/{}/tables/items/columns", apis_datasource(c)), None),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/sql/parameters",
            expect: Expect::WorkgroupDeveloper,
            prepare: |_| {
                let sql = "SELECT * FROM items <where><if test=\"name != null\">name = #{name}</if></where>";
                (format!("/workgroups/{TEAM}/sql/parameters"), Some(json!({"mode": "script", "sql": sql})))
            },
        },
    ]
}
