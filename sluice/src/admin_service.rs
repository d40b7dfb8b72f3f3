//! The management API as a pingora background service: its own runtime and store connection,
//! the axum router from `admin`, and a view of the edge's snapshot for `/health`,
//! `/platform/unserved` and the test console's workflow runs. The notification worker
//! (`notify::Worker`: webhook deliveries, expiring grants) and the alarm evaluator (over the
//! call store the reports read) run beside it on the same runtime and store connection, and
//! stop with it; so does the listener of `[metrics] addr` (`GET /metrics` without a token),
//! when configured.

use std::net::SocketAddr;
use std::sync::Arc;

use admin::{AdminState, EdgeView};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use catalog::route_space::Unserved;
use catalog::secret::SecretBox;
use catalog::store::Store;
use config::outbound::OutboundBase;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use plugins::FunctionRunner;
use plugins::cache::ResultCache;
use proxy::in_process::InProcessCalls;
use proxy::routes::Snapshot;

/// The edge's current snapshot as the management API sees it.
pub struct SnapshotView(pub Arc<ArcSwap<Snapshot>>, pub Arc<ResultCache>);

impl EdgeView for SnapshotView {
    fn revision(&self) -> i64 {
        self.0.load().revision
    }
    fn route_counts(&self) -> (usize, usize) {
        let snapshot = self.0.load();
        (snapshot.prod.len(), snapshot.test.len())
    }
    fn unserved(&self) -> Vec<Unserved> {
        self.0.load().unserved.clone()
    }
    fn purge_cache(&self, api_id: i64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(self.1.purge_everywhere(api_id))
    }
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
    /// The edge's result cache, purged through the management API.
    pub cache: Arc<ResultCache>,
    /// Runs the test console's workflow functions (the edge's runner, shared).
    pub functions: Arc<dyn FunctionRunner>,
    /// The call store the reports read (`<data_dir>/calls.db`), and its retention.
    pub calls: (std::path::PathBuf, calls::store::Retention),
    /// How often alarm rules are evaluated over the call store.
    pub alarm_interval: std::time::Duration,
    /// How the notification worker paces its deliveries.
    pub notify: notify::WorkerSettings,
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
        let mut state = AdminState::new(
            store.clone(),
            format!("http://{}", self.edge_addr),
            Arc::new(SnapshotView(Arc::clone(&self.snapshot), Arc::clone(&self.cache))),
            self.outbound.clone(),
        )
        .with_metrics_token(calls::metrics::metrics().exposure().token.as_deref());
        state.plugins.set_function_runner(Arc::clone(&self.functions));
        match calls::store::CallStore::open(&self.calls.0, self.calls.1).await {
            Ok(calls) => state.calls = Some(calls),
            Err(e) => tracing::error!("reports are unavailable: cannot open {}: {e}", self.calls.0.display()),
        }
        // The console's workflow runs call the APIs the edge serves, with the console's pools.
        let _calls = InProcessCalls::attach(Arc::clone(&self.snapshot), Arc::clone(&state.plugins));
        // Offline requests take effect at their time, whichever admin node is up.
        let scheduled = tokio::spawn(admin::approvals::apply_scheduled(store.clone()));
        // Alarm rules read the call rollups; each fires and resolves once, whichever node sees it.
        let alarms = state.calls.clone().map(|calls| {
            let totals: Arc<dyn admin::alarms::CallTotals> = Arc::new(calls);
            tokio::spawn(admin::alarms::evaluate_alarms(store.clone(), totals, self.alarm_interval))
        });
        let (app, _) = admin::routes(state);
        // The web console's page and files, beside the API it calls.
        let app = app.merge(console::router());
        // `[metrics] addr`: `GET /metrics` without a token on a listener of its own.
        let open_metrics = match calls::metrics::metrics().exposure().addr {
            Some(addr) => match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => {
                    let mut stop = shutdown.clone();
                    Some(tokio::spawn(async move {
                        let stop = async move {
                            let _ = stop.changed().await;
                        };
                        let served = axum::serve(listener, admin::metrics::open_router()).with_graceful_shutdown(stop);
                        if let Err(e) = served.await {
                            tracing::error!("the metrics listener stopped: {e}");
                        }
                    }))
                }
                Err(e) => fail(format!("the metrics listener cannot listen on {addr}: {e}")),
            },
            None => None,
        };
        // Deliveries go out beside the API; an action only enqueues, so neither waits on the other.
        let worker = notify::Worker::new(store.clone(), self.outbound.clone(), self.notify.clone());
        let mut worker_shutdown = shutdown.clone();
        let worker = tokio::spawn(worker.run(async move {
            let _ = worker_shutdown.changed().await;
        }));
        let stop = async move {
            let _ = shutdown.changed().await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
            tracing::error!("admin API stopped: {e}");
        }
        scheduled.abort();
        if let Some(alarms) = alarms {
            alarms.abort();
        }
        if let Some(open_metrics) = open_metrics {
            open_metrics.abort();
        }
        // A delivery cut short is sent again when its lease ends.
        worker.abort();
        store.close().await;
    }
}
