//! The marketplace and approvals through the real binary: the demo's listed API and pending
//! application, the whole sharing path of seed 000 (list → approve → browse from another
//! workgroup → apply → approve → call at the edge → revoke → refused within a second), and
//! publishing and taking offline under the workgroup's approval settings, at a set time too.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Response, Server, call, code, ok, refused, until};

const ROOT: &str = "slc_marketplace_bootstrap_token_0123456789";

struct Market {
    server: Server,
    /// Tokens: `seller` admins `demo`, `dev` develops in `demo`, `buyer` develops in
    /// `buyers`, `lister` is a second platform admin (nobody decides their own request).
    seller: String,
    dev: String,
    buyer: String,
    lister: String,
}

impl Market {
    fn start(tag: &str) -> Market {
        let server = Server::start(tag, &[("SLUICE_ADMIN_TOKEN", ROOT)]);
        ok(&call(&server, "POST", "/workgroups", Some(ROOT), Some(json!({"name": "buyers"}))));
        let mut tokens = Vec::new();
        for (user, workgroup, role, platform) in [
            ("seller", "demo", "admin", false),
            ("dev", "demo", "developer", false),
            ("buyer", "buyers", "developer", false),
            ("lister", "", "", true),
        ] {
            ok(&call(&server, "POST", "/users", Some(ROOT), Some(json!({"name": user, "platformAdmin": platform}))));
            if !workgroup.is_empty() {
                let path = format!("/workgroups/{workgroup}/members/{user}");
                ok(&call(&server, "PUT", &path, Some(ROOT), Some(json!({"role": role}))));
            }
            let issued =
                ok(&call(&server, "POST", &format!("/users/{user}/tokens"), Some(ROOT), Some(json!({"name": "t"}))));
            tokens.push(issued["token"].as_str().expect("token").to_owned());
        }
        let [seller, dev, buyer, lister] = <[String; 4]>::try_from(tokens).expect("four tokens");
        Market { server, seller, dev, buyer, lister }
    }

    fn as_user(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Response {
        call(&self.server, method, path, Some(token), body)
    }

    /// The demo API `name`'s id.
    fn api_id(&self, name: &str) -> i64 {
        let page = ok(&self.as_user(ROOT, "GET", &format!("/workgroups/demo/apis?name={name}"), None));
        page["items"].as_array().expect("items").iter().find(|a| a["name"] == name).expect("demo API")["id"]
            .as_i64()
            .expect("id")
    }
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().expect("items").iter().map(|i| i["id"].as_i64().expect("id")).collect()
}

#[test]
fn the_demo_lists_one_api_and_holds_one_pending_application() {
    let market = Market::start("market-demo");
    let listed = ok(&market.as_user(&market.buyer, "GET", "/marketplace/apis", None));
    assert_eq!(listed["total"], 1, "{listed}");
    let entry = &listed["items"][0];
    assert_eq!((entry["name"].as_str(), entry["workgroup"].as_str()), (Some("customer_by_id"), Some("demo")));
    assert_eq!(entry["listing"]["category"], "customers");
    // The bootstrap admin finds the partners' application waiting for a decision.
    let todo = ok(&market.as_user(ROOT, "GET", "/approvals?box=todo&kind=application", None));
    assert_eq!(todo["total"], 1, "{todo}");
    let application = &todo["items"][0];
    assert_eq!(
        (application["app"].as_str(), application["applicantWorkgroup"].as_str(), application["canDecide"].as_bool()),
        (Some("partner_portal"), Some("partners"), Some(true))
    );
    assert_eq!(application["request"], json!({"qps": 10, "validityDays": 90}));
    // docs/marketplace.md approves it as request 2 (the demo's listing was request 1).
    assert_eq!(application["id"], 2, "docs/marketplace.md names request 2");
    // The buyer sees neither the application nor the inbox item.
    let id = application["id"].as_i64().expect("id");
    refused(&market.as_user(&market.buyer, "GET", &format!("/approvals/{id}"), None), 404, None);
    assert_eq!(ok(&market.as_user(&market.buyer, "GET", "/approvals", None))["total"], 0);
}

#[test]
fn an_api_is_listed_applied_for_approved_called_and_revoked() {
    let market = Market::start("market-path");
    let server = &market.server;
    let orders = market.api_id("orders_search");
    let api_path = format!("/workgroups/demo/apis/{orders}");
    // Both sides have a webhook channel (its receiver is never reached: loopback is not
    // allowed here); what each was told is in its deliveries.
    let channel = |workgroup: &str| {
        let hook = json!({"name": "team-chat", "url": "http://127.0.0.1:9/hook", "template": "slack"});
        let made = ok(&market.as_user(ROOT, "POST", &format!("/workgroups/{workgroup}/webhooks"), Some(hook)));
        format!("/workgroups/{workgroup}/webhooks/{}/deliveries?pageSize=100", made["id"])
    };
    let (demo_hook, buyers_hook) = (channel("demo"), channel("buyers"));
    let listing = json!({
        "category": "sales", "tags": ["orders", "daily"], "summary": "Orders of the shop by status",
        "documentation": "# Orders\n\nSearch orders by status.", "contact": "#shop-data",
        "successSample": {"code": "OK", "data": []}
    });

    // A developer who is not the owner may not list; the owner or an admin may.
    refused(&market.as_user(&market.dev, "PUT", &format!("{api_path}/listing"), Some(listing.clone())), 403, None);
    ok(&market.as_user(&market.seller, "PUT", &api_path, Some(json!({"owner": "dev"}))));
    let saved = ok(&market.as_user(&market.dev, "PUT", &format!("{api_path}/listing"), Some(listing.clone())));
    assert_eq!(saved["state"], "draft");
    let bad = json!({"category": "sales", "tags": ["a,b"]});
    refused(&market.as_user(&market.dev, "PUT", &format!("{api_path}/listing"), Some(bad)), 400, Some("tags"));
    // A private API is not listed.
    let private = market.as_user(&market.dev, "POST", &format!("{api_path}/listing/submit"), None);
    assert_eq!((private.status, code(&private).as_str()), (409, "Conflict"), "{}", private.json());
    ok(&market.as_user(&market.seller, "PUT", &api_path, Some(json!({"visibleRange": "public"}))));
    let submitted =
        market.as_user(&market.dev, "POST", &format!("{api_path}/listing/submit"), Some(json!({"reason": "share"})));
    assert_eq!(submitted.status, 202, "{}", submitted.json());
    let request = submitted.json()["data"]["id"].as_i64().expect("request id");
    assert_eq!(ok(&market.as_user(&market.dev, "GET", &format!("{api_path}/listing"), None))["state"], "pending");

    // Platform admins decide listings, never their own; a workgroup admin cannot.
    let decide = |token: &str, verb: &str, body: Option<Value>| {
        market.as_user(token, "POST", &format!("/approvals/{request}/{verb}"), body)
    };
    refused(&decide(&market.seller, "approve", None), 403, None);
    let listed = decide(&market.lister, "approve", Some(json!({"comment": "fine"})));
    assert_eq!(listed.status, 200, "{}", listed.json());
    // Deciding again the same way answers the same; another decider is too late.
    assert_eq!(decide(&market.lister, "approve", Some(json!({"comment": "fine"}))).status, 200);
    let late = decide(ROOT, "reject", Some(json!({"comment": "no"})));
    assert_eq!((late.status, code(&late).as_str()), (409, "Conflict"));

    // Another workgroup browses, searches and reads the listing's page and document.
    let found = ok(&market.as_user(&market.buyer, "GET", "/marketplace/apis?q=ORDERS&category=sales", None));
    assert_eq!(ids_of(&found, "apiId"), vec![orders], "{found}");
    assert_eq!(ok(&market.as_user(&market.buyer, "GET", "/marketplace/apis?tag=nothing", None))["total"], 0);
    let newest = ok(&market.as_user(&market.buyer, "GET", "/marketplace/apis?sort=newest", None));
    assert_eq!(newest["items"][0]["apiId"], orders, "the latest listing first: {newest}");
    refused(&market.as_user(&market.buyer, "GET", "/marketplace/apis?sort=calls", None), 400, Some("sort"));
    let page = ok(&market.as_user(&market.buyer, "GET", &format!("/marketplace/apis/{orders}"), None));
    assert_eq!((page["clearance"].as_str(), page["listing"]["contact"].as_str()), (Some("L1"), Some("#shop-data")));
    assert_eq!(page["document"]["openapi"], "3.1.0");
    let customers = market.api_id("customer_by_id");
    let masked = ok(&market.as_user(&market.buyer, "GET", &format!("/marketplace/apis/{customers}"), None));
    let fields: Vec<&str> =
        masked["responseFields"].as_array().expect("fields").iter().filter_map(|f| f["name"].as_str()).collect();
    assert!(!fields.contains(&"email"), "an L3 field is not shown to clearance L1: {fields:?}");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("marketplace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let merged = market.as_user(&market.buyer, "GET", "/marketplace/openapi.json", None);
    assert_eq!(merged.status, 200);
    let document = merged.json();
    assert!(document["paths"].get("/orders/search").is_some() && document["paths"].get("/customers/{id}").is_some());
    // Kept per catalog revision: asked again with its ETag, nothing changed, 304.
    let etag = merged.header("etag").expect("ETag").to_owned();
    let again = support::request(
        server.admin,
        "GET",
        "/admin/v1/marketplace/openapi.json",
        &[("Authorization", &format!("Bearer {}", market.buyer)), ("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(again.status, 304);
    let file = dir.join("marketplace.json");
    std::fs::write(&file, &merged.body).expect("write");
    support::validate_openapi(&[file]);
    // What is not listed is not there, for anyone outside.
    let unlisted = market.api_id("analytics");
    refused(&market.as_user(&market.buyer, "GET", &format!("/marketplace/apis/{unlisted}"), None), 404, None);

    // The buyer's app has no grant; it applies, once.
    let app = ok(&market.as_user(&market.buyer, "POST", "/workgroups/buyers/apps", Some(json!({"name": "reports"}))));
    let (app_id, app_key) = (app["id"].as_i64().expect("id"), app["appKey"].as_str().expect("key").to_owned());
    let issued = ok(&market.as_user(&market.buyer, "POST", &format!("/workgroups/buyers/apps/{app_id}/tokens"), None));
    let bearer = format!("Bearer {}", issued["token"].as_str().expect("token"));
    let headers = [("X-Sluice-App-Key", app_key.as_str()), ("Authorization", bearer.as_str())];
    let edge_path = "/orders/search?status=pending";
    until(server, edge_path, &headers, |r| code(r) == "Forbidden.NoGrant");
    let application =
        json!({"apiId": orders, "appId": app_id, "reason": "weekly report", "qps": 5, "validityDays": 30});
    let applied = market.as_user(&market.buyer, "POST", "/workgroups/buyers/applications", Some(application.clone()));
    assert_eq!(applied.status, 201, "{}", applied.json());
    let asked = applied.json()["data"]["id"].as_i64().expect("id");
    let twice = market.as_user(&market.buyer, "POST", "/workgroups/buyers/applications", Some(application));
    assert_eq!((twice.status, code(&twice).as_str()), (409, "Conflict"));
    let unlisted_application = json!({"apiId": unlisted, "appId": app_id, "reason": "x"});
    refused(
        &market.as_user(&market.buyer, "POST", "/workgroups/buyers/applications", Some(unlisted_application)),
        404,
        None,
    );
    let above = json!({"apiId": customers, "appId": app_id, "reason": "x"});
    ok(&market.as_user(
        &market.seller,
        "PUT",
        &format!("/workgroups/demo/apis/{customers}"),
        Some(json!({"securityLevel": "L2"})),
    ));
    let refused_level = market.as_user(&market.buyer, "POST", "/workgroups/buyers/applications", Some(above));
    assert_eq!((refused_level.status, code(&refused_level).as_str()), (403, "Forbidden.SecurityLevel"));

    // The API's side sees it; the owner (dev) approves with a lower QPS than asked.
    let provider = ok(&market.as_user(&market.seller, "GET", "/workgroups/demo/applications?side=provider", None));
    assert!(ids(&provider).contains(&asked), "{provider}");
    let mine = ok(&market.as_user(&market.buyer, "GET", "/workgroups/buyers/applications", None));
    assert_eq!(ids(&mine), vec![asked]);
    let todo = ok(&market.as_user(&market.dev, "GET", "/approvals", None));
    assert!(ids(&todo).contains(&asked), "the owner decides applications: {todo}");
    let approved = ok(&market.as_user(
        &market.dev,
        "POST",
        &format!("/approvals/{asked}/approve"),
        Some(json!({"qps": 2, "comment": "welcome"})),
    ));
    assert_eq!((approved["state"].as_str(), approved["decidedBy"].as_str()), (Some("approved"), Some("dev")));
    let granted_after = until(server, edge_path, &headers, |r| r.status == 200);
    assert!(granted_after < Duration::from_secs(1), "the grant took {granted_after:?}");
    let grants = ok(&market.as_user(&market.seller, "GET", &format!("{api_path}/grants"), None));
    let grant = grants["items"].as_array().expect("grants").iter().find(|g| g["appId"] == app_id).expect("grant");
    assert_eq!((grant["applicationId"].as_i64(), grant["qps"].as_i64()), (Some(asked), Some(2)), "{grant}");
    assert!(grant["expiresAt"].as_i64().is_some(), "30 days asked: {grant}");

    // Revoked: refused within a second.
    ok(&market.as_user(&market.seller, "DELETE", &format!("{api_path}/grants/{app_id}"), None));
    let revoked_after = until(server, edge_path, &headers, |r| code(r) == "Forbidden.NoGrant");
    assert!(revoked_after < Duration::from_secs(1), "the revocation took {revoked_after:?}");
    eprintln!("approved grant served after {granted_after:?}, revocation after {revoked_after:?}");

    // Every decision is in both workgroups' audit logs.
    for workgroup in ["demo", "buyers"] {
        let token = if workgroup == "demo" { &market.seller } else { ROOT };
        let audit = ok(&market.as_user(token, "GET", &format!("/workgroups/{workgroup}/audit"), None));
        assert!(audit.to_string().contains("approval.approve"), "{workgroup}: {audit}");
    }

    // Each side's channel heard of the requests and decisions that concern it.
    let events = |deliveries: &str| -> Vec<String> {
        let page = ok(&market.as_user(ROOT, "GET", deliveries, None));
        page["items"].as_array().expect("items").iter().filter_map(|d| d["event"].as_str().map(str::to_owned)).collect()
    };
    let expect_events = |deliveries: &str, wanted: &[&str]| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen = events(deliveries);
            if wanted.iter().all(|w| seen.iter().any(|s| s == w)) {
                break;
            }
            assert!(Instant::now() < deadline, "{deliveries}: {seen:?} lacks one of {wanted:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    expect_events(&demo_hook, &["approval.needed", "approval.decided"]);
    expect_events(&buyers_hook, &["approval.decided"]);
    assert!(!events(&buyers_hook).iter().any(|e| e == "approval.needed"), "the applicant does not decide");

    // Taking the API offline delists it and cancels what waits for it.
    let other_app =
        ok(&market.as_user(&market.buyer, "POST", "/workgroups/buyers/apps", Some(json!({"name": "second"}))));
    let waiting = json!({"apiId": orders, "appId": other_app["id"], "reason": "later"});
    let waiting = ok(&market.as_user(&market.buyer, "POST", "/workgroups/buyers/applications", Some(waiting)));
    ok(&market.as_user(&market.dev, "POST", &format!("{api_path}/offline"), Some(json!({"environment": "prod"}))));
    assert_eq!(ok(&market.as_user(&market.buyer, "GET", "/marketplace/apis?q=orders", None))["total"], 0);
    let cancelled = ok(&market.as_user(&market.buyer, "GET", &format!("/approvals/{}", waiting["id"]), None));
    assert_eq!(cancelled["state"], "cancelled");
}

#[test]
fn publishing_and_taking_offline_wait_for_approval_where_the_workgroup_asks() {
    let market = Market::start("market-publish");
    let server = &market.server;
    let customers = market.api_id("customer_by_id");
    let api_path = format!("/workgroups/demo/apis/{customers}");
    let demo = server.demo_app();
    let headers = demo.token_headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let settings = json!({"settings": {"publishApproval": true, "offlineApproval": true}});
    refused(&market.as_user(&market.dev, "PATCH", "/workgroups/demo", Some(settings.clone())), 403, None);
    let updated = ok(&market.as_user(&market.seller, "PATCH", "/workgroups/demo", Some(settings)));
    assert_eq!(updated["settings"]["publishApproval"], true);

    // A new version of the API that answers without the `city` field.
    let mut api = ok(&market.as_user(&market.dev, "GET", &api_path, None));
    let fields = api["draft"]["responseFields"].as_array_mut().expect("fields");
    fields.retain(|f| f["name"] != "city");
    ok(&market.as_user(&market.dev, "PUT", &api_path, Some(json!({"draft": api["draft"]}))));
    let version = ok(&market.as_user(&market.dev, "POST", &format!("{api_path}/versions"), None))["number"].clone();
    // The test environment needs no approval.
    let test = market.as_user(
        &market.dev,
        "POST",
        &format!("{api_path}/publish"),
        Some(json!({"version": version, "environment": "test"})),
    );
    assert_eq!(test.status, 200, "{}", test.json());
    let publish = json!({"version": version, "environment": "prod", "reason": "drop city", "notify": ["seller"]});
    let asked = market.as_user(&market.dev, "POST", &format!("{api_path}/publish"), Some(publish));
    assert_eq!(asked.status, 202, "{}", asked.json());
    let request = asked.json()["data"].clone();
    assert_eq!((request["kind"].as_str(), request["notify"][0].as_str()), (Some("publish"), Some("seller")));
    let unknown = json!({"version": version, "environment": "prod", "notify": ["nobody"]});
    refused(
        &market.as_user(&market.dev, "POST", &format!("{api_path}/publish"), Some(unknown)),
        400,
        Some("notify[0]"),
    );
    // A user outside the API's workgroup and the requester's is refused like an unknown one.
    let outsider = json!({"version": version, "environment": "prod", "notify": ["buyer"]});
    let publish_path = format!("{api_path}/publish");
    let answer = refused(&market.as_user(&market.dev, "POST", &publish_path, Some(outsider)), 400, Some("notify[0]"));
    assert!(answer["message"].as_str().is_some_and(|m| m.contains("no user `buyer`")), "{answer}");
    let path = "/customers/1";
    let before = ok_json(server, path, &headers);
    assert!(before.to_string().contains("\"city\""), "prod still serves the old version: {before}");
    let id = request["id"].as_i64().expect("id");
    refused(&market.as_user(&market.dev, "POST", &format!("/approvals/{id}/approve"), None), 403, None);
    ok(&market.as_user(&market.seller, "POST", &format!("/approvals/{id}/approve"), None));
    until(server, path, &headers, |r| r.status == 200 && !String::from_utf8_lossy(&r.body).contains("\"city\""));

    // Offline with approval: 202, still served until approved.
    let offline =
        market.as_user(&market.dev, "POST", &format!("{api_path}/offline"), Some(json!({"environment": "prod"})));
    assert_eq!(offline.status, 202, "{}", offline.json());
    let offline_id = offline.json()["data"]["id"].as_i64().expect("id");
    assert_eq!(server.call("GET", path, &headers, b"").status, 200);
    ok(&market.as_user(
        &market.seller,
        "POST",
        &format!("/approvals/{offline_id}/reject"),
        Some(json!({"comment": "not yet"})),
    ));
    let mine = ok(&market.as_user(&market.dev, "GET", "/approvals?box=mine&state=rejected", None));
    assert_eq!(ids(&mine), vec![offline_id]);

    // Without approval, at a set time: served until then, then not.
    ok(&market.as_user(
        &market.seller,
        "PATCH",
        "/workgroups/demo",
        Some(json!({"settings": {"publishApproval": true}})),
    ));
    let at = catalog::now_ms() + 1_500;
    let body = json!({"environment": "prod", "offlineAt": at, "reason": "retire"});
    let scheduled = market.as_user(&market.dev, "POST", &format!("{api_path}/offline"), Some(body));
    assert_eq!(scheduled.status, 202, "{}", scheduled.json());
    assert_eq!(scheduled.json()["data"]["state"], "approved");
    assert_eq!(server.call("GET", path, &headers, b"").status, 200, "not before its time");
    until(server, path, &headers, |r| r.status == 404);
    assert!(catalog::now_ms() >= at, "taken offline before its time");
    let past = json!({"environment": "prod", "offlineAt": 1});
    refused(&market.as_user(&market.dev, "POST", &format!("{api_path}/offline"), Some(past)), 400, Some("offlineAt"));
}

fn ok_json(server: &Server, path: &str, headers: &[(&str, &str)]) -> Value {
    let response = server.call("GET", path, headers, b"");
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    response.json()
}

fn ids_of(page: &Value, key: &str) -> Vec<i64> {
    page["items"].as_array().expect("items").iter().map(|i| i[key].as_i64().expect("id")).collect()
}
