// Routes of `admin/src/market.rs` and `admin/src/approvals.rs` (listings, the marketplace,
// applications and the approvals inbox) with who may call them (included by matrix.rs).
//
// Listing routes are developers' in the path's workgroup, and the handler lets only the API's
// owner or a workgroup admin through: each fresh API names `teamdev` (the matrix's developer)
// its owner, so that the developer's call is allowed. The marketplace and the inbox are any
// user's. A request (`/approvals/{id}`) is the object that decides: `Decider` rows act on a
// publish request of the `market` workgroup (which asks for approval of publishing) made by
// `requester`; `teamadmin` is an admin of `market`, so it and the platform admin may decide,
// and to everyone else it does not exist. `Requester` rows act on a request `teamadmin` made.

/// Tokens of the users the market rows act as, made once per server.
#[derive(Clone)]
struct MarketUsers {
    requester: String,
    teamadmin: String,
    /// A second platform admin: the first may not approve listings it submitted.
    lister: String,
}

fn market_users(c: &Ctx) -> MarketUsers {
    use std::sync::Mutex;
    static MADE: Mutex<Option<(std::path::PathBuf, MarketUsers)>> = Mutex::new(None);
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((dir, users)) = made.as_ref()
        && *dir == c.server.data_dir
    {
        return users.clone();
    }
    c.setup("POST", "/workgroups", Some(json!({"name": "market"})));
    c.setup("PATCH", "/workgroups/market", Some(json!({"settings": {"publishApproval": true}})));
    let token = |user: &str| {
        let issued = c.setup("POST", &format!("/users/{user}/tokens"), Some(json!({"name": "market"})));
        issued["token"].as_str().expect("token").to_owned()
    };
    c.setup("POST", "/users", Some(json!({"name": "requester"})));
    c.setup("PUT", "/workgroups/market/members/requester", Some(json!({"role": "developer"})));
    c.setup("PUT", "/workgroups/market/members/teamadmin", Some(json!({"role": "admin"})));
    c.setup("POST", "/users", Some(json!({"name": "lister", "platformAdmin": true})));
    let users = MarketUsers { requester: token("requester"), teamadmin: token("teamadmin"), lister: token("lister") };
    *made = Some((c.server.data_dir.clone(), users.clone()));
    users
}

/// A call as `token` that must succeed; returns its `data`.
fn market_as(c: &Ctx, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    super::support::ok(&super::support::call(c.server, method, path, Some(token), body))
}

/// A pending publish request of a fresh `market` API, made by the user of `token`.
fn market_request(c: &Ctx, token: &str) -> String {
    market_users(c);
    let api = c.setup(
        "POST",
        "/workgroups/market/apis",
        Some(json!({
            "name": format!("r{}", c.seq), "path": format!("/market/r{}", c.seq),
            "draft": {"mode": "registered", "baseUrl": "https://api.example.com/v1", "path": "/x"}
        })),
    );
    let base = format!("/workgroups/market/apis/{}", api["id"]);
    c.setup("POST", &format!("{base}/versions"), None);
    let request =
        market_as(c, token, "POST", &format!("{base}/publish"), Some(json!({"version": 0, "environment": "prod"})));
    format!("/approvals/{}", request["id"])
}

/// A fresh public API of `team` owned by `teamdev`, published to prod, with a listing draft;
/// listed (submitted and approved by another platform admin) when `list`.
fn market_api(c: &Ctx, list: bool) -> (String, i64) {
    let users = market_users(c);
    let path = apis_fresh(c, 1, Some("prod"));
    c.setup("PUT", &path, Some(json!({"owner": "teamdev", "visibleRange": "public"})));
    c.setup("PUT", &format!("{path}/listing"), Some(json!({"category": "matrix", "summary": "for the matrix"})));
    if list {
        let request = c.setup("POST", &format!("{path}/listing/submit"), Some(json!({"reason": "share"})));
        market_as(c, &users.lister, "POST", &format!("/approvals/{}/approve", request["id"]), None);
    }
    let id = path.rsplit('/').next().and_then(|id| id.parse().ok()).expect("API id");
    (path, id)
}

pub fn market() -> Vec<Row> {
    vec![
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/apis/{id}/listing",
            expect: Expect::WorkgroupViewer,
            prepare: |c| (format!("{}/listing", market_api(c, false).0), None),
        },
        Row {
            method: "PUT",
            path: "/workgroups/{workgroup}/apis/{id}/listing",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| {
                let body = json!({"category": "matrix", "tags": ["a"], "summary": "edited", "contact": "#data"});
                (format!("{}/listing", market_api(c, false).0), Some(body))
            },
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apis/{id}/listing/submit",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| (format!("{}/listing/submit", market_api(c, false).0), Some(json!({"reason": "share it"}))),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/apis/{id}/listing/delist",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| (format!("{}/listing/delist", market_api(c, true).0), Some(json!({"reason": "retired"}))),
        },
        Row {
            method: "GET",
            path: "/marketplace/apis",
            expect: Expect::AnyUser,
            prepare: |_| ("/marketplace/apis?q=m&sort=newest&pageSize=5".to_owned(), None),
        },
        Row {
            method: "GET",
            path: "/marketplace/apis/{id}",
            expect: Expect::AnyUser,
            prepare: |c| (format!("/marketplace/apis/{}", market_api(c, true).1), None),
        },
        Row {
            method: "GET",
            path: "/marketplace/openapi.json",
            expect: Expect::AnyUser,
            prepare: |_| ("/marketplace/openapi.json".to_owned(), None),
        },
        Row {
            method: "POST",
            path: "/workgroups/{workgroup}/applications",
            expect: Expect::WorkgroupDeveloper,
            prepare: |c| {
                let (_, api) = market_api(c, true);
                let app = c.setup("POST", &format!("/workgroups/{TEAM}/apps"), Some(json!({"name": format!("a{}", c.seq)})));
                let body = json!({"apiId": api, "appId": app["id"], "reason": "reports", "qps": 5, "validityDays": 90});
                (format!("/workgroups/{TEAM}/applications"), Some(body))
            },
        },
        Row {
            method: "GET",
            path: "/workgroups/{workgroup}/applications",
            expect: Expect::WorkgroupViewer,
            prepare: |_| (format!("/workgroups/{TEAM}/applications?side=provider&state=pending"), None),
        },
        Row {
            method: "GET",
            path: "/approvals",
            expect: Expect::AnyUser,
            prepare: |_| ("/approvals?box=mine&kind=publish".to_owned(), None),
        },
        Row {
            method: "GET",
            path: "/approvals/{id}",
            expect: Expect::Decider,
            prepare: |c| (market_request(c, &market_users(c).requester), None),
        },
        Row {
            method: "POST",
            path: "/approvals/{id}/approve",
            expect: Expect::Decider,
            prepare: |c| {
                (format!("{}/approve", market_request(c, &market_users(c).requester)), Some(json!({"comment": "ok"})))
            },
        },
        Row {
            method: "POST",
            path: "/approvals/{id}/reject",
            expect: Expect::Decider,
            prepare: |c| {
                (format!("{}/reject", market_request(c, &market_users(c).requester)), Some(json!({"comment": "not now"})))
            },
        },
        Row {
            method: "POST",
            path: "/approvals/{id}/withdraw",
            expect: Expect::Requester,
            prepare: |c| (format!("{}/withdraw", market_request(c, &market_users(c).teamadmin)), None),
        },
    ]
}
