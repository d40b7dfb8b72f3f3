// Routes of `admin/src/webhooks.rs` (each workgroup's webhook channels) with who may call them
// (included by matrix.rs). Reading channels and their deliveries is for viewers; adding,
// changing, deleting and testing channels for workgroup admins. Each row's `prepare` adds,
// as the platform admin, a fresh channel of `team` when the call needs one.

/// The path of a fresh channel of `team`, with a secret.
fn webhooks_fresh(c: &Ctx) -> String {
    let created = c.setup(
        "POST",
        &format!("/workgroups/{TEAM}/webhooks"),
        Some(json!({"name": format!("hook_{}", c.seq), "url": "https://hooks.example.com/x?access_token=t", "secret": "s"})),
    );
    format!("/workgroups/{TEAM}/webhooks/{}", created["id"])
}

pub fn webhooks() -> Vec<Row> {
    vec![
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/webhooks",
            expect: Expect::WorkgroupViewer,
            prepare: |c| {
                webhooks_fresh(c);
                (format!("/workgroups/{TEAM}/webhooks"), None)
            },
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/webhooks",
            expect: Expect::WorkgroupAdmin,
            prepare: |c| {
                let body = json!({
                    "name": format!("new_{}", c.seq),
                    "url": "https://open.feishu.cn/open-apis/bot/v2/hook/abc",
                    "template": "lark",
                    "events": ["approval.needed", "grant.expiring"],
                    "enabled": true,
                });
                (format!("/workgroups/{TEAM}/webhooks"), Some(body))
            },
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/webhooks/{id}",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (webhooks_fresh(c), None),
        },
        Row {
            method: "PUT",
            path: "/workgroups/{workgroup}/webhooks/{id}",
            expect: Expect::WorkgroupAdmin,
            prepare: |c| {
                let body = json!({"template": "slack", "events": [], "enabled": false});
                (webhooks_fresh(c), Some(body))
            },
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}/webhooks/{id}",
            expect: Expect::WorkgroupAdmin,
            prepare: |c| (webhooks_fresh(c), None),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/webhooks/{id}/deliveries",
            expect: Expect::WorkgroupViewer,
            prepare: |c| {
                let path = webhooks_fresh(c);
                c.setup("POST", &format!("{path}/test"), None);
                (format!("{path}/deliveries"), None)
            },
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/webhooks/{id}/test",
            expect: Expect::WorkgroupAdmin,
            prepare: |c| (format!("{}/test", webhooks_fresh(c)), None),
        },
    ]
}
