//! The management API on `SLUICE_ADMIN_ADDR`, under `/admin/v1`, served with axum from a
//! pingora background service (its own runtime). Today it answers `GET /admin/v1/health`; the
//! token-protected lifecycle routes come with the management API milestone.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::routes::Snapshot;

/// The admin HTTP service.
pub struct AdminService {
    pub addr: SocketAddr,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
}

/// The admin router, separate from the listener so tests can call it without sockets.
pub fn router(snapshot: Arc<ArcSwap<Snapshot>>) -> Router {
    Router::new().route("/admin/v1/health", get(health)).with_state(snapshot)
}

/// Ready: the server answers only after the first snapshot is loaded and listeners are up.
async fn health(State(snapshot): State<Arc<ArcSwap<Snapshot>>>) -> Json<serde_json::Value> {
    let snapshot = snapshot.load();
    Json(serde_json::json!({
        "status": "ok",
        "revision": snapshot.revision,
        "routes": {"prod": snapshot.prod.len(), "test": snapshot.test.len()},
    }))
}

#[async_trait]
impl BackgroundService for AdminService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let listener = match tokio::net::TcpListener::bind(self.addr).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::error!(addr = %self.addr, "admin API cannot listen: {e}");
                eprintln!("sluice: the admin API cannot listen on {}: {e}", self.addr);
                std::process::exit(1);
            }
        };
        let app = router(Arc::clone(&self.snapshot));
        let stop = async move {
            let _ = shutdown.changed().await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
            tracing::error!("admin API stopped: {e}");
        }
    }
}
