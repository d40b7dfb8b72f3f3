// Routes of `admin/src/alarms.rs` (alarm rules per API, the workgroup's alarm template and the
// alarm history) with who may call them (included by matrix.rs). Reading is for viewers;
// changing an API's rules for developers, like every change of an API; the template for
// workgroup admins. Each row's `prepare` adds, as the platform admin, a fresh API (and rule)
// of `team` when the call needs one.

/// The path of a fresh rule of a fresh API of `team`.
fn alarms_fresh(c: &Ctx) -> String {
    let api = apis_fresh(c, 0, None);
    let rule = c.setup(
        "POST",
        &format!("{api}/alarms"),
        Some(json!({"metric": "errorRate", "windowSecs": 300, "threshold": 0.1, "forSecs": 60, "receivers": ["viewer"]})),
    );
    format!("{api}/alarms/{}", rule["id"])
}

pub fn alarms() -> Vec<Row> {
    vec![
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apis/{id}/alarms",
            expect: Expect::WorkgroupViewer,
            prepare: |c| {
                let rule = alarms_fresh(c);
                (rule.rsplit_once('/').map(|(list, _)| list.to_owned()).unwrap_or(rule), None)
            },
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apis/{id}/alarms",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| {
                let body = json!({"metric": "p99Ms", "env": "test", "windowSecs": 600, "threshold": 800, "receivers": ["viewer"]});
                (format!("{}/alarms", apis_fresh(c, 0, None)), Some(body))
            },
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apis/{id}/alarms/{rule}",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (alarms_fresh(c), None),
        },
        Row {
            method: "PATCH",
            path: "/workgroups/{workgroup}/apis/{id}/alarms/{rule}",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| (alarms_fresh(c), Some(json!({"threshold": 0.2, "enabled": false}))),
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}/apis/{id}/alarms/{rule}",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| (alarms_fresh(c), None),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/alarm-template",
            expect: Expect::WorkgroupViewer,
            prepare: |_| (format!("/workgroups/{TEAM}/alarm-template"), None),
        },
        Row {
            method: "PUT",
            path: "/workgroups/{workgroup}/alarm-template",
            expect: Expect::WorkgroupAdmin,
            prepare: |_| {
                // Disabled, so the APIs other rows create get no rules from it.
                let body = json!({"enabled": false, "rules": [
                    {"metric": "errorRate", "env": "prod", "windowSecs": 300, "threshold": 0.05, "forSecs": 120},
                    {"metric": "noCalls", "windowSecs": 3600, "threshold": 0}
                ]});
                (format!("/workgroups/{TEAM}/alarm-template"), Some(body))
            },
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/alarm-events",
            expect: Expect::WorkgroupViewer,
            prepare: |_| (format!("/workgroups/{TEAM}/alarm-events?limit=10&offset=0"), None),
        },
    ]
}
