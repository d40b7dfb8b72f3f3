// Routes of `admin/src/reports.rs` (service reports over the call records) with who may call
// them (included by matrix.rs). A workgroup's reports and its apps' are for its viewers; the
// platform's, across workgroups, for platform admins. The call store is empty here: an allowed
// call answers an empty report.

/// The path of a fresh app of `team`.
fn reports_app(c: &Ctx) -> String {
    let created = c.setup("POST", &format!("/workgroups/{TEAM}/apps"), Some(json!({"name": format!("rep_{}", c.seq)})));
    format!("/workgroups/{TEAM}/apps/{}", created["id"])
}

pub fn reports() -> Vec<Row> {
    vec![
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/reports/summary",
            expect: Expect::WorkgroupViewer,
            prepare: |_| (format!("/workgroups/{TEAM}/reports/summary?groupBy=code"), None),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/reports/trend",
            expect: Expect::WorkgroupViewer,
            prepare: |_| (format!("/workgroups/{TEAM}/reports/trend?resolution=hour"), None),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/reports/calls",
            expect: Expect::WorkgroupViewer,
            prepare: |_| (format!("/workgroups/{TEAM}/reports/calls?pageSize=5"), None),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apps/{id}/reports/summary",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (format!("{}/reports/summary", reports_app(c)), None),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apps/{id}/reports/trend",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (format!("{}/reports/trend", reports_app(c)), None),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apps/{id}/reports/calls",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (format!("{}/reports/calls", reports_app(c)), None),
        },
        Row {
            method: "GET",
            path: "/platform/reports/summary",
            expect: Expect::PlatformAdmin,
            prepare: |_| ("/platform/reports/summary".to_owned(), None),
        },
        Row {
            method: "GET",
            path: "/platform/reports/trend",
            expect: Expect::PlatformAdmin,
            prepare: |_| ("/platform/reports/trend".to_owned(), None),
        },
        Row {
            method: "GET",
            path: "/platform/reports/calls",
            expect: Expect::PlatformAdmin,
            prepare: |_| ("/platform/reports/calls".to_owned(), None),
        },
    ]
}
