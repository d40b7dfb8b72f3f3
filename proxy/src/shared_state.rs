//! The pingora background service that keeps a node's Redis connection and its event
//! subscription (`shared::Shared::run`) for as long as the server runs.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

/// Runs [`shared::Shared::run`] until shutdown.
pub struct SharedStateService {
    pub shared: Arc<shared::Shared>,
}

#[async_trait]
impl BackgroundService for SharedStateService {
    async fn start(&self, shutdown: ShutdownWatch) {
        Arc::clone(&self.shared).run(shutdown).await;
    }
}
