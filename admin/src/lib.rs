//! The management API on `SLUICE_ADMIN_ADDR`, under `/admin/v1`: an axum router ([`routes`])
//! over the store, which the `sluice` binary serves in its own runtime with its own store
//! connection. No pingora here: `cargo test -p sluice-admin` builds without cmake.
//!
//! Every route is registered in [`routes`] with the access it needs ([`access::Access`]); one
//! guard checks the bearer token, the role and the workgroup before any handler runs. Answers
//! use one envelope ([`reply`]).

pub mod access;
pub mod alarms;
pub mod announce;
pub mod apis;
pub mod approvals;
pub mod apps;
pub mod body;
pub mod datasources;
pub mod docs;
pub mod functions;
pub mod imports;
pub mod market;
pub mod metrics;
pub mod people;
pub mod platform;
pub mod reply;
pub mod reports;
pub mod schema;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::routing::{delete, get, post, put};
use catalog::model::{ApiToken, Member, User, Workgroup, WorkgroupRole};
use catalog::route_space::Unserved;
use catalog::store::Store;
use plugins::PluginContext;

use access::{Access, RouteSpec, Routes};
use config::outbound::{Outbound, OutboundBase};
use docs::cache::DocCache;
use reply::{AdminResult, Reply};

/// What the management API reads of the edge serving beside it: the catalog revision its
/// routes come from and what it leaves out. The binary implements it over the edge's
/// snapshot; [`NoEdge`] stands for none.
pub trait EdgeView: Send + Sync {
    fn revision(&self) -> i64;
    /// Routes served in prod and in test.
    fn route_counts(&self) -> (usize, usize);
    fn unserved(&self) -> Vec<Unserved>;
    /// Makes the edge's cached answers of API `api_id` unreachable (`docs/cache.md`), on
    /// every node when they share Redis.
    fn purge_cache(&self, _api_id: i64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

/// No edge: revision 0, no routes (the management API alone, as in tests).
pub struct NoEdge;

impl EdgeView for NoEdge {
    fn revision(&self) -> i64 {
        0
    }
    fn route_counts(&self) -> (usize, usize) {
        (0, 0)
    }
    fn unserved(&self) -> Vec<Unserved> {
        Vec::new()
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AdminState {
    pub store: Store,
    /// `http://<edge address>`: the server that caller documents name.
    pub edge_url: String,
    /// What the edge of this process serves.
    pub edge: Arc<dyn EdgeView>,
    /// The configuration's part of the network and datasource policies.
    pub outbound: OutboundBase,
    /// The test console's pools: its own, never the edge's.
    pub plugins: Arc<PluginContext>,
    /// Workgroup and app documents, kept per catalog revision.
    pub docs: Arc<DocCache>,
    /// The edge's call records, for reports; `None` where none are kept (the management API
    /// alone).
    pub calls: Option<calls::store::CallStore>,
    /// The operator's token for `/metrics` (`[metrics] token`), besides platform
    /// administrators' tokens; none by default.
    pub metrics_token: Option<Arc<str>>,
}

impl AdminState {
    /// The state of one admin service: empty documents cache, console pools of its own.
    pub fn new(store: Store, edge_url: String, edge: Arc<dyn EdgeView>, outbound: OutboundBase) -> AdminState {
        AdminState {
            store,
            edge_url,
            edge,
            outbound,
            plugins: Arc::new(PluginContext::default()),
            docs: Arc::new(DocCache::default()),
            calls: None,
            metrics_token: None,
        }
    }

    /// Lets `token` (when some and not empty) read `/metrics` too.
    pub fn with_metrics_token(self, token: Option<&str>) -> AdminState {
        let metrics_token = token.map(str::trim).filter(|t| !t.is_empty()).map(Arc::from);
        AdminState { metrics_token, ..self }
    }

    /// The policies in force now, with the store's latest platform settings and workgroups
    /// (the snapshot's may be a moment old).
    pub async fn outbound(&self) -> Result<Outbound, reply::AdminError> {
        Ok(self.outbound.load(&self.store).await?)
    }
}

/// Every management route with the access it needs.
pub fn routes(state: AdminState) -> (Router, Vec<RouteSpec>) {
    use WorkgroupRole::{Admin, Viewer};
    Routes::new(state)
        .add(Method::GET, "/health", Access::Public, get(health))
        .add(Method::GET, "/me", Access::Authenticated, get(people::me))
        .add(Method::GET, "/users", Access::PlatformAdmin, get(people::list_users))
        .answers_page::<User>()
        .add(Method::POST, "/users", Access::PlatformAdmin, post(people::create_user))
        .body::<people::NewUser>()
        .answers::<User>()
        .add(Method::GET, "/users/{user}/tokens", Access::PlatformAdmin, get(people::list_tokens))
        .answers_list::<ApiToken>()
        .add(Method::POST, "/users/{user}/tokens", Access::PlatformAdmin, post(people::create_token))
        .body::<people::NewToken>()
        .answers::<people::IssuedToken>()
        .add(Method::DELETE, "/tokens/{id}", Access::PlatformAdmin, delete(people::revoke_token))
        .answers::<ApiToken>()
        .add(Method::GET, "/workgroups", Access::Authenticated, get(people::list_workgroups))
        .answers_page::<Workgroup>()
        .add(Method::POST, "/workgroups", Access::PlatformAdmin, post(people::create_workgroup))
        .body::<people::NewWorkgroup>()
        .answers::<Workgroup>()
        .add(Method::GET, "/workgroups/{workgroup}", Access::Workgroup(Viewer), get(people::get_workgroup))
        .answers::<Workgroup>()
        .add(Method::GET, "/workgroups/{workgroup}/members", Access::Workgroup(Viewer), get(people::list_members))
        .answers_list::<people::MemberView>()
        .add(Method::PUT, "/workgroups/{workgroup}/members/{user}", Access::Workgroup(Admin), put(people::put_member))
        .body::<people::MemberRole>()
        .answers::<Member>()
        .add(
            Method::DELETE,
            "/workgroups/{workgroup}/members/{user}",
            Access::Workgroup(Admin),
            delete(people::delete_member),
        )
        .answers_nothing()
        .extend(platform::register)
        .extend(datasources::register)
        .extend(schema::register)
        .extend(apis::register)
        .extend(imports::register)
        .extend(functions::register)
        .extend(apps::register)
        .extend(market::register)
        .extend(approvals::register)
        .extend(webhooks::register)
        .extend(reports::register)
        .extend(alarms::register)
        .extend(docs::register)
        .extend(metrics::register)
        .finish()
}

/// Ready: the server answers only after the first snapshot is loaded and listeners are up.
async fn health(State(state): State<AdminState>) -> AdminResult<serde_json::Value> {
    let (prod, test) = state.edge.route_counts();
    Ok(Reply::ok(serde_json::json!({
        "status": "ok",
        "revision": state.edge.revision(),
        "routes": {"prod": prod, "test": test},
        // Published APIs the edge leaves out; platform admins read why at /platform/unserved.
        "unserved": state.edge.unserved().len(),
    })))
}
