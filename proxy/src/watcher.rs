//! The catalog watcher: a pingora background service that polls the store's revision and,
//! when it moved (a change by this process or another, such as `sluice apply`), rebuilds the
//! edge's [`Snapshot`] and swaps it in; it also sweeps idle limiter state.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use catalog::secret::SecretBox;
use catalog::store::Store;
use config::outbound::OutboundBase;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use plugins::PluginContext;

use crate::limiter::Limiters;
use crate::routes::Snapshot;

/// Rebuilds the snapshot whenever the store's revision moves (changes made by this process
/// or by another, such as `sluice apply`).
pub struct CatalogWatcher {
    pub store_url: String,
    pub secrets: SecretBox,
    pub interval: Duration,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub outbound: OutboundBase,
    /// The edge's pools, opened under each new snapshot's datasource policy.
    pub plugins: Arc<PluginContext>,
    /// Swept of idle state now and then, so memory follows the callers that are active.
    pub limiters: Arc<Limiters>,
}

/// How often the watcher sweeps idle limiter state.
const IDLE_SWEEP: Duration = Duration::from_secs(10);

#[async_trait]
impl BackgroundService for CatalogWatcher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let store = loop {
            match Store::open(&self.store_url, self.secrets.clone()).await {
                Ok(store) => break store,
                Err(e) => {
                    tracing::error!("catalog watcher cannot open the store: {e}");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        };
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut swept = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => break,
            }
            if swept.elapsed() >= IDLE_SWEEP {
                self.limiters.sweep();
                swept = tokio::time::Instant::now();
            }
            let current = self.snapshot.load().revision;
            match store.revision().await {
                Ok(revision) if revision != current => match Snapshot::load(&store, &self.outbound).await {
                    Ok(next) => {
                        self.plugins.pools.set_access(next.outbound.datasources.clone());
                        tracing::info!(
                            revision = next.revision,
                            prod = next.prod.len(),
                            test = next.test.len(),
                            "catalog reloaded"
                        );
                        self.snapshot.store(Arc::new(next));
                    }
                    Err(e) => tracing::error!("catalog reload failed, still serving revision {current}: {e}"),
                },
                Ok(_) => {}
                Err(e) => tracing::warn!("catalog watcher cannot read the store revision: {e}"),
            }
        }
        store.close().await;
    }
}
