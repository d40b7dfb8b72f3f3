// Routes of `admin/src/functions.rs` (each workgroup's function library) with who may call
// them (included by matrix.rs). Reading the library is for viewers; adding, changing and
// deleting functions for developers, as for API drafts. Each row's `prepare` adds, as the
// platform admin, a fresh function of `team` when the call needs one.

/// A source the management API accepts (this router has no sandbox: the shape is checked).
const FUNCTIONS_SOURCE: &str = "import json\ndef handler(event, context):\n    return json.loads(event)\n";

/// The path of a fresh function of `team`.
fn functions_fresh(c: &Ctx) -> String {
    let name = format!("fn_{}", c.seq);
    c.setup("POST", &format!("/workgroups/{TEAM}/functions"), Some(json!({"name": name, "source": FUNCTIONS_SOURCE})));
    format!("/workgroups/{TEAM}/functions/{name}")
}

pub fn functions() -> Vec<Row> {
    vec![
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/functions",
            expect: Expect::WorkgroupViewer,
            prepare: |c| {
                functions_fresh(c);
                (format!("/workgroups/{TEAM}/functions"), None)
            },
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/functions",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| {
                let body = json!({"name": format!("new_{}", c.seq), "description": "made", "source": FUNCTIONS_SOURCE});
                (format!("/workgroups/{TEAM}/functions"), Some(body))
            },
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/functions/{name}",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (functions_fresh(c), None),
        },
        Row {
            method: "PUT",
            path: "/workgroups/{workgroup}/functions/{name}",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| {
                let body = json!({"description": "edited", "source": "def handler(event, context):\n    return 2\n"});
                (functions_fresh(c), Some(body))
            },
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}/functions/{name}",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| (functions_fresh(c), None),
        },
    ]
}
