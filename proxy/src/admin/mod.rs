//! The management API on `SLUICE_ADMIN_ADDR`, under `/admin/v1`, served with axum from a
//! pingora background service (its own runtime, its own store connection).
//!
//! Every route is registered in [`routes`] with the access it needs ([`access::Access`]); one
//! guard checks the bearer token, the role and the workgroup before any handler runs. Answers
//! use one envelope ([`reply`]).

pub mod access;
pub mod apis;
pub mod apps;
pub mod body;
pub mod datasources;
pub mod docs;
pub mod people;
pub mod platform;
pub mod reply;

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::routing::{delete, get, post, put};
use catalog::model::WorkgroupRole;
use catalog::secret::SecretBox;
use catalog::store::Store;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use plugins::PluginContext;

use crate::outbound::{Outbound, OutboundBase};
use crate::routes::Snapshot;
use access::{Access, RouteSpec, Routes};
use docs::cache::DocCache;
use reply::{AdminResult, Reply};

/// What every handler can reach.
#[derive(Clone)]
pub struct AdminState {
    pub store: Store,
    /// `http://<edge address>`: the server that caller documents name.
    pub edge_url: String,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    /// The configuration's part of the network and datasource policies.
    pub outbound: OutboundBase,
    /// The test console's pools: its own, never the edge's.
    pub plugins: Arc<PluginContext>,
    /// Workgroup and app documents, kept per catalog revision.
    pub docs: Arc<DocCache>,
}

impl AdminState {
    /// The state of one admin service: empty documents cache, console pools of its own.
    pub fn new(store: Store, edge_url: String, snapshot: Arc<ArcSwap<Snapshot>>, outbound: OutboundBase) -> AdminState {
        AdminState {
            store,
            edge_url,
            snapshot,
            outbound,
            plugins: Arc::new(PluginContext::default()),
            docs: Arc::new(DocCache::default()),
        }
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
        .add(Method::POST, "/users", Access::PlatformAdmin, post(people::create_user))
        .add(Method::GET, "/users/{user}/tokens", Access::PlatformAdmin, get(people::list_tokens))
        .add(Method::POST, "/users/{user}/tokens", Access::PlatformAdmin, post(people::create_token))
        .add(Method::DELETE, "/tokens/{id}", Access::PlatformAdmin, delete(people::revoke_token))
        .add(Method::GET, "/workgroups", Access::Authenticated, get(people::list_workgroups))
        .add(Method::POST, "/workgroups", Access::PlatformAdmin, post(people::create_workgroup))
        .add(Method::GET, "/workgroups/{workgroup}", Access::Workgroup(Viewer), get(people::get_workgroup))
        .add(Method::GET, "/workgroups/{workgroup}/members", Access::Workgroup(Viewer), get(people::list_members))
        .add(Method::PUT, "/workgroups/{workgroup}/members/{user}", Access::Workgroup(Admin), put(people::put_member))
        .add(
            Method::DELETE,
            "/workgroups/{workgroup}/members/{user}",
            Access::Workgroup(Admin),
            delete(people::delete_member),
        )
        .extend(platform::register)
        .extend(datasources::register)
        .extend(apis::register)
        .extend(apps::register)
        .extend(docs::register)
        .finish()
}

/// Ready: the server answers only after the first snapshot is loaded and listeners are up.
async fn health(State(state): State<AdminState>) -> AdminResult<serde_json::Value> {
    let snapshot = state.snapshot.load();
    Ok(Reply::ok(serde_json::json!({
        "status": "ok",
        "revision": snapshot.revision,
        "routes": {"prod": snapshot.prod.len(), "test": snapshot.test.len()},
        // Published APIs the edge leaves out; platform admins read why at /platform/unserved.
        "unserved": snapshot.unserved.len(),
    })))
}

/// The admin HTTP service.
pub struct AdminService {
    pub addr: SocketAddr,
    /// Where callers reach the edge, for the documents' `servers`.
    pub edge_addr: SocketAddr,
    pub store_url: String,
    pub secrets: SecretBox,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub outbound: OutboundBase,
}

#[async_trait]
impl BackgroundService for AdminService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let fail = |what: String| -> ! {
            tracing::error!("{what}");
            eprintln!("sluice: {what}");
            std::process::exit(1);
        };
        let store = match Store::open(&self.store_url, self.secrets.clone()).await {
            Ok(store) => store,
            Err(e) => fail(format!("the admin API cannot open the store: {e}")),
        };
        let listener = match tokio::net::TcpListener::bind(self.addr).await {
            Ok(listener) => listener,
            Err(e) => fail(format!("the admin API cannot listen on {}: {e}", self.addr)),
        };
        let state = AdminState::new(
            store.clone(),
            format!("http://{}", self.edge_addr),
            Arc::clone(&self.snapshot),
            self.outbound.clone(),
        );
        let (app, _) = routes(state);
        let stop = async move {
            let _ = shutdown.changed().await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
            tracing::error!("admin API stopped: {e}");
        }
        store.close().await;
    }
}
