// Routes of `admin/src/apps.rs` and `admin/src/apis/grants.rs` with who may call
// them (included by matrix.rs). Each row's `prepare` creates, as the platform admin, what
// an allowed call needs: a fresh app of `team`, a token, a grant, a gray strategy; APIs come
// from `apis_fresh` (matrix/apis.rs).
//
// Reading apps, their tokens (prefixes only), their grants and document, an API's grants and
// its gray strategies is for viewers; creating, changing and deleting apps, rotating secrets,
// issuing and revoking tokens and setting gray strategies for developers; granting an API to
// an app and revoking the grant for the API's workgroup admins (a grant is an approval).

/// A new app of `team` named after the call.
fn apps_new(c: &Ctx) -> Value {
    json!({"name": format!("app{}", c.seq), "ipAllow": ["10.0.0.0/8"], "clearance": "L2"})
}

/// A fresh app of `team`: its id.
fn apps_fresh_id(c: &Ctx) -> i64 {
    let app = c.setup("POST", &format!("/workgroups/{TEAM}/apps"), Some(apps_new(c)));
    app["id"].as_i64().expect("app id")
}

/// The path of a fresh app of `team`.
fn apps_fresh(c: &Ctx) -> String {
    format!("/workgroups/{TEAM}/apps/{}", apps_fresh_id(c))
}

/// A fresh API of `team` with a fresh app granted on it: (API path, app id).
fn apps_granted(c: &Ctx) -> (String, i64) {
    let api = apis_fresh(c, 0, None);
    let app = apps_fresh_id(c);
    c.setup("POST", &format!("{api}/grants"), Some(json!({"appId": app})));
    (api, app)
}

pub fn apps() -> Vec<Row> {
    vec![
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apps",
            expect: Expect::WorkgroupViewer,
            prepare: |_| (format!("/workgroups/{TEAM}/apps?pageSize=5"), None),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apps",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| (format!("/workgroups/{TEAM}/apps"), Some(apps_new(c))),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apps/{id}",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (apps_fresh(c), None),
        },
        Row {
            method: "PUT",
            path: "/workgroups/{workgroup}/apps/{id}",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| (apps_fresh(c), Some(json!({"description": "edited", "disabled": true}))),
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}/apps/{id}",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| (apps_fresh(c), None),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apps/{id}/secret",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| (format!("{}/secret", apps_fresh(c)), Some(json!({"overlapSecs": 60}))),
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apps/{id}/tokens",
            expect: Expect::WorkgroupViewer,
            prepare: |c| {
                let app = apps_fresh(c);
                c.setup("POST", &format!("{app}/tokens"), None);
                (format!("{app}/tokens"), None)
            },
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apps/{id}/tokens",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| (format!("{}/tokens", apps_fresh(c)), Some(json!({"ttlSecs": 600}))),
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}/apps/{id}/tokens/{tokenId}",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| {
                let app = apps_fresh(c);
                let token = c.setup("POST", &format!("{app}/tokens"), None);
                (format!("{app}/tokens/{}", token["id"]), None)
            },
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apps/{id}/grants",
            expect: Expect::WorkgroupViewer,
            prepare: |c| {
                let (_, app) = apps_granted(c);
                (format!("/workgroups/{TEAM}/apps/{app}/grants"), None)
            },
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apps/{id}/openapi.json",
            expect: Expect::WorkgroupViewer,
            prepare: |c| {
                let (_, app) = apps_granted(c);
                (format!("/workgroups/{TEAM}/apps/{app}/openapi.json"), None)
            },
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apis/{id}/grants",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (format!("{}/grants", apps_granted(c).0), None),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apis/{id}/grants",
            expect: Expect::WorkgroupAdmin,
            prepare: |c| {
                let api = apis_fresh(c, 0, None);
                (format!("{api}/grants"), Some(json!({"appId": apps_fresh_id(c), "qps": 5})))
            },
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}/apis/{id}/grants/{appId}",
            expect: Expect::WorkgroupAdmin,
            prepare: |c| {
                let (api, app) = apps_granted(c);
                (format!("{api}/grants/{app}"), None)
            },
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apis/{id}/gray",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (format!("{}/gray", apis_fresh(c, 0, None)), None),
        },
        Row {
            method: "PUT",
            path: "/workgroups/{workgroup}/apis/{id}/gray/{environment}",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| {
                let api = apis_fresh(c, 1, None);
                (format!("{api}/gray/test"), Some(json!({"version": 0, "percent": 10})))
            },
        },
        Row {
            method: "DELETE",
            path: "/workgroups/{workgroup}/apis/{id}/gray/{environment}",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| {
                let api = apis_fresh(c, 1, None);
                c.setup("PUT", &format!("{api}/gray/prod"), Some(json!({"version": "V0", "percent": 50})));
                (format!("{api}/gray/prod"), None)
            },
        },
    ]
}
