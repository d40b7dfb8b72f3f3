//! The management API's route matrix: every route × {no token, expired token, viewer of the
//! workgroup, developer of the workgroup, developer of another workgroup, workgroup admin,
//! platform admin}, against the
//! management API's router in process (`support/`). The expected access of each route is written here, independently of the
//! code: a route the table does not list, or whose declared access differs, fails the test.

mod support;

use std::sync::Arc;
use std::time::Duration;

use admin::access::Access;
use admin::{AdminState, routes};
use catalog::now_ms;
use catalog::secret::SecretBox;
use catalog::store::Store;
use config::Config;
use config::outbound::OutboundBase;
use serde_json::{Value, json};
use support::{BodyCase, Server, answer_schema, body_schema, call, check_with_jsonschema, management_document, ok};

const BOOTSTRAP: &str = "slc_matrix_bootstrap_token_0123456789";

/// Who may call each route, as the product intends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Anyone,
    AnyUser,
    PlatformAdmin,
    WorkgroupViewer,
    WorkgroupDeveloper,
    WorkgroupAdmin,
    /// Any user reaches the handler; the request in the path decides: those who may decide it
    /// (the workgroup admin and the platform admin) are let through, to the others it does
    /// not exist.
    Decider,
    /// Platform administrators, or the operator's metrics token (`/metrics`); the matrix's
    /// servers have no metrics token, so its callers meet it as `PlatformAdmin`
    /// (`tests/metrics.rs` calls it with the token).
    Scraper,
    /// As `Decider`, for what only the requester (the workgroup admin) may do: the platform
    /// admin sees the request and is refused.
    Requester,
}

/// What a row's `prepare` may use: the server and the bootstrap (platform admin) token, to
/// create fresh targets so that an allowed call can succeed.
pub struct Ctx<'a> {
    pub server: &'a Server,
    pub root: &'a str,
    /// A number unique to this call, for names.
    pub seq: usize,
}

impl Ctx<'_> {
    /// A call as the platform admin that must succeed; returns its `data`.
    pub fn setup(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        ok(&call(self.server, method, path, Some(self.root), body))
    }
}

/// One route of the matrix. `prepare` returns the concrete path (below `/admin/v1`, with the
/// workgroup `team` filled in) and body for one call, creating what the call needs.
pub struct Row {
    pub method: &'static str,
    pub path: &'static str,
    pub expect: Expect,
    pub prepare: fn(&Ctx) -> (String, Option<Value>),
}

/// The workgroup every workgroup route is called on, and another team's.
pub const TEAM: &str = "team";
pub const OTHER: &str = "other";

/// Each area of the API lists its routes in its own file under `matrix/`.
mod matrix {
    #[allow(unused_imports)]
    use super::{Ctx, Expect, OTHER, Row, TEAM};
    #[allow(unused_imports)]
    use serde_json::{Value, json};
    include!("matrix/people.rs");
    include!("matrix/datasources.rs");
    include!("matrix/schema.rs");
    include!("matrix/apis.rs");
    include!("matrix/imports.rs");
    include!("matrix/docs.rs");
    include!("matrix/apps.rs");
    include!("matrix/functions.rs");
    include!("matrix/market.rs");
    include!("matrix/webhooks.rs");
    include!("matrix/reports.rs");
    include!("matrix/alarms.rs");
    include!("matrix/metrics.rs");
}

fn table() -> Vec<Row> {
    [
        matrix::people(),
        matrix::datasources(),
        matrix::schema(),
        matrix::apis(),
        matrix::imports(),
        matrix::docs(),
        matrix::apps(),
        matrix::functions(),
        matrix::market(),
        matrix::webhooks(),
        matrix::reports(),
        matrix::alarms(),
        matrix::metrics(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn declared_matches(access: Access, expect: Expect) -> bool {
    use catalog::model::WorkgroupRole::{Admin, Developer, Viewer};
    matches!(
        (access, expect),
        (Access::Public, Expect::Anyone)
            | (Access::Authenticated, Expect::AnyUser | Expect::Decider | Expect::Requester)
            | (Access::PlatformAdmin, Expect::PlatformAdmin)
            | (Access::Metrics, Expect::Scraper)
            | (Access::Workgroup(Viewer), Expect::WorkgroupViewer)
            | (Access::Workgroup(Developer), Expect::WorkgroupDeveloper)
            | (Access::Workgroup(Admin), Expect::WorkgroupAdmin)
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    NoToken,
    Expired,
    Viewer,
    /// A developer of the workgroup in the path (beyond the six kinds the issue names).
    Developer,
    OtherDeveloper,
    WorkgroupAdmin,
    PlatformAdmin,
}

/// The status class each caller must get.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Status(u16),
}

fn expected(expect: Expect, who: Who) -> Outcome {
    use Outcome::{Allowed, Status};
    match (expect, who) {
        (Expect::Anyone, _) => Allowed,
        (_, Who::NoToken | Who::Expired) => Status(401),
        (Expect::Decider, Who::WorkgroupAdmin | Who::PlatformAdmin) => Allowed,
        (Expect::Requester, Who::WorkgroupAdmin) => Allowed,
        (Expect::Requester, Who::PlatformAdmin) => Status(403),
        (Expect::Decider | Expect::Requester, _) => Status(404),
        (Expect::AnyUser, _) | (_, Who::PlatformAdmin) => Allowed,
        (Expect::PlatformAdmin | Expect::Scraper, _) => Status(403),
        // Another team's workgroup answers as if it did not exist.
        (_, Who::OtherDeveloper) => Status(404),
        (Expect::WorkgroupViewer, _) => Allowed,
        (Expect::WorkgroupAdmin | Expect::WorkgroupDeveloper, Who::WorkgroupAdmin) => Allowed,
        (Expect::WorkgroupDeveloper, Who::Developer) => Allowed,
        (Expect::WorkgroupAdmin | Expect::WorkgroupDeveloper, _) => Status(403),
    }
}

#[test]
fn every_route_enforces_its_access_for_every_kind_of_caller() {
    // The routes as the code registers them.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let specs = runtime.block_on(async {
        let secrets = SecretBox::from_key_text(&SecretBox::generate_key_text()).expect("key");
        let store = Store::open("sqlite::memory:", secrets).await.expect("store");
        let (_, specs) = routes(AdminState::new(
            store,
            "http://127.0.0.1:8080".to_owned(),
            Arc::new(admin::NoEdge),
            OutboundBase::from_config(&Config::from_sources(None, "tests", |_| None).expect("configuration"))
                .expect("policies"),
        ));
        specs
    });
    for spec in &specs {
        let row = table().into_iter().find(|r| r.method == spec.method.as_str() && r.path == spec.path);
        let Some(Row { expect, .. }) = row else {
            panic!(
                "route {} {} is not in the access matrix: add it with the access it must have",
                spec.method, spec.path
            )
        };
        assert!(
            declared_matches(spec.access, expect),
            "{} {} declares {:?}, the matrix says {expect:?}",
            spec.method,
            spec.path,
            spec.access
        );
    }
    assert_eq!(specs.len(), table().len(), "the matrix lists routes the code does not register");

    let server = Server::start("matrix", BOOTSTRAP);
    let root = Some(BOOTSTRAP);
    for name in ["team", "other"] {
        ok(&call(&server, "POST", "/workgroups", root, Some(json!({"name": name}))));
    }
    let mut tokens = std::collections::HashMap::new();
    for (user, workgroup, role) in [
        ("viewer", "team", "viewer"),
        ("teamdev", "team", "developer"),
        ("otherdev", "other", "developer"),
        ("teamadmin", "team", "admin"),
        ("target", "team", "viewer"),
    ] {
        ok(&call(&server, "POST", "/users", root, Some(json!({"name": user}))));
        ok(&call(
            &server,
            "PUT",
            &format!("/workgroups/{workgroup}/members/{user}"),
            root,
            Some(json!({"role": role})),
        ));
        let issued =
            ok(&call(&server, "POST", &format!("/users/{user}/tokens"), root, Some(json!({"name": "matrix"}))));
        tokens.insert(user, issued["token"].as_str().expect("token text").to_owned());
    }
    let expiring = ok(&call(
        &server,
        "POST",
        "/users/viewer/tokens",
        root,
        Some(json!({"name": "short", "expiresAt": now_ms() + 1500})),
    ));
    let expired = expiring["token"].as_str().expect("token").to_owned();
    std::thread::sleep(Duration::from_millis(1600));

    let mut checked = 0;
    // Every body a call succeeded with, and every answer, to check against the schemas its
    // route documents.
    let doc = management_document(&server);
    let mut bodies: Vec<BodyCase> = Vec::new();
    for Row { method, path, expect, prepare } in table() {
        for who in [
            Who::NoToken,
            Who::Expired,
            Who::Viewer,
            Who::Developer,
            Who::OtherDeveloper,
            Who::WorkgroupAdmin,
            Who::PlatformAdmin,
        ] {
            let token = match who {
                Who::NoToken => None,
                Who::Expired => Some(expired.clone()),
                Who::Viewer => Some(tokens["viewer"].clone()),
                Who::Developer => Some(tokens["teamdev"].clone()),
                Who::OtherDeveloper => Some(tokens["otherdev"].clone()),
                Who::WorkgroupAdmin => Some(tokens["teamadmin"].clone()),
                Who::PlatformAdmin => Some(BOOTSTRAP.to_owned()),
            };
            let (filled, body) = prepare(&Ctx { server: &server, root: BOOTSTRAP, seq: checked });
            let response = call(&server, method, &filled, token.as_deref(), body.clone());
            let outcome = match response.status {
                401 | 403 => Outcome::Status(response.status),
                404 if ["workgroup `team`", "request `"]
                    .iter()
                    .any(|hidden| String::from_utf8_lossy(&response.body).contains(hidden)) =>
                {
                    Outcome::Status(404)
                }
                _ => Outcome::Allowed,
            };
            assert_eq!(
                outcome,
                expected(expect, who),
                "{method} {path} as {who:?}: {} {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            );
            if outcome == Outcome::Allowed {
                assert!(
                    response.status < 400,
                    "{method} {path} as {who:?} was let through but failed: {} {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                );
                let route = format!("{method} {path}");
                if let Some(schema) = answer_schema(&doc, method, path)
                    && !bodies.iter().any(|c| c.route == route && c.body.get("requestId").is_some())
                {
                    bodies.push(BodyCase { route: route.clone(), schema, body: response.json(), valid: true });
                }
                if let Some(body) = body {
                    let schema = body_schema(&doc, method, path)
                        .unwrap_or_else(|| panic!("{route} read a body but documents no body schema"));
                    if !bodies.iter().any(|c| c.route == route && c.body == body) {
                        bodies.push(BodyCase { route, schema, body, valid: true });
                    }
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, table().len() * 7);
    check_with_jsonschema(&doc, &bodies);
}

#[test]
fn answers_use_the_management_envelope_and_name_the_field_at_fault() {
    let server = Server::start("envelope", BOOTSTRAP);
    let listed = call(&server, "GET", "/workgroups", Some(BOOTSTRAP), None);
    let body = listed.json();
    assert_eq!((body["success"].as_bool(), body["code"].as_str()), (Some(true), Some("OK")), "{body}");
    assert!(body["requestId"].as_str().is_some_and(|id| id.len() == 32), "{body}");
    for key in ["items", "pageNum", "pageSize", "total"] {
        assert!(body["data"].get(key).is_some(), "list lacks {key}: {body}");
    }
    let bad = call(&server, "POST", "/workgroups", Some(BOOTSTRAP), Some(json!({"name": "has space"})));
    let body = bad.json();
    assert_eq!(bad.status, 400, "{body}");
    assert_eq!((body["success"].as_bool(), body["field"].as_str()), (Some(false), Some("name")), "{body}");
    assert_eq!(body["code"], "InvalidParameter.name");
    let page = call(&server, "GET", "/workgroups?pageSize=0", Some(BOOTSTRAP), None);
    assert_eq!((page.status, page.json()["field"].as_str()), (400, Some("pageSize")));
}

/// The management document lists, per error status of every operation, the catalogued codes
/// answered with that status; a refusal the router really answers is among its route's codes.
#[test]
fn every_operation_lists_the_catalogued_codes_it_can_answer() {
    let server = Server::start("codes", BOOTSTRAP);
    let doc = ok_document(&server);
    let codes_of = |path: &str, method: &str| -> Vec<(u16, String)> {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "no {method} {path}");
        let mut found = Vec::new();
        for (status, response) in op["responses"].as_object().unwrap() {
            let Ok(status) = status.parse::<u16>() else { continue };
            if status < 400 {
                continue;
            }
            let listed = response["x-sluice-error-codes"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} {status}: no x-sluice-error-codes"));
            for code in listed {
                let code = code.as_str().unwrap();
                let (kind, _) = errors::ErrorCode::parse(code).unwrap_or_else(|| panic!("`{code}` not catalogued"));
                assert_eq!(kind.status().as_u16(), status, "{method} {path} `{code}`");
                found.push((status, code.to_owned()));
            }
        }
        found
    };
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let codes = codes_of(path, method);
            assert!(codes.contains(&(500, "InternalError".to_owned())), "{method} {path}: {codes:?}");
            operations += 1;
        }
    }
    assert!(operations >= table().len(), "{operations} operations");
    let test = codes_of("/admin/v1/workgroups/{workgroup}/apis/{id}/test", "post");
    for relayed in ["MissingParameter", "Forbidden.Query", "InternalError.Database", "Timeout", "Upstream.Unavailable"]
    {
        assert!(test.iter().any(|(_, c)| c == relayed), "test console lacks {relayed}: {test:?}");
    }
    let create = codes_of("/admin/v1/workgroups/{workgroup}/apis", "post");
    assert!(create.contains(&(409, "Conflict.Path".to_owned())), "{create:?}");
    let save = codes_of("/admin/v1/workgroups/{workgroup}/apis/{id}/versions", "post");
    assert!(!save.iter().any(|(_, c)| c == "Conflict.Path"), "saving a version claims no path: {save:?}");

    // A refusal the router answers is one its operation lists, with the listed status.
    let bad = call(&server, "POST", "/workgroups", Some(BOOTSTRAP), Some(json!({"name": "has space"})));
    let code = bad.json()["code"].as_str().unwrap().to_owned();
    let (kind, name) = errors::ErrorCode::parse(&code).unwrap();
    assert_eq!((kind, name), (errors::ErrorCode::InvalidParameter, Some("name")));
    assert!(codes_of("/admin/v1/workgroups", "post").contains(&(bad.status, kind.as_str().to_owned())));
}

fn ok_document(server: &Server) -> Value {
    let answer = call(server, "GET", "/openapi.json", Some(BOOTSTRAP), None);
    assert_eq!(answer.status, 200);
    answer.json()
}
