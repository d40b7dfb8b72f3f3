// Routes of `admin/src/imports.rs` with who may call them (included by matrix.rs).
// Importing creates APIs, so it is a developer's, like creating one; each call imports a
// one-operation document of its own (a fresh name and path), upstream a public address.

pub fn imports() -> Vec<Row> {
    vec![Row {
        method: "POST",
        path: "/workgroups/{workgroup}/imports/openapi",
        expect: Expect::WorkgroupDeveloper,
        prepare: |c| {
            let path = format!("/imported{}/items", c.seq);
            let document = json!({
                "openapi": "3.0.3",
                "info": {"title": "matrix", "version": "1"},
                "servers": [{"url": "http://93.184.216.34/v1"}],
                "paths": {path: {"get": {"operationId": format!("imported{}", c.seq), "responses": {}}}}
            });
            (format!("/workgroups/{TEAM}/imports/openapi"), Some(json!({"document": document})))
        },
    }]
}
