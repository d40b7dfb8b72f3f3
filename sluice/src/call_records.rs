//! The call records' writer as a pingora background service: its own runtime, the embedded
//! call store `<data_dir>/calls.db` (and ClickHouse when configured), fed by the edge's
//! recorder. A store that cannot be opened is logged and its records dropped and counted: the
//! edge keeps answering.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use calls::CallRecord;
use calls::clickhouse::ClickHouse;
use calls::store::{CallStore, Retention};
use calls::writer::{self, WriterCounts, WriterSettings};
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use tokio::sync::mpsc::Receiver;

/// The writer service; it runs once.
pub struct CallWriter {
    /// The recorder's receiving end, taken when the service starts.
    pub queue: Mutex<Option<Receiver<CallRecord>>>,
    pub path: PathBuf,
    pub retention: Retention,
    pub clickhouse_url: Option<String>,
    pub counts: Arc<WriterCounts>,
}

#[async_trait]
impl BackgroundService for CallWriter {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let Some(queue) = self.queue.lock().ok().and_then(|mut q| q.take()) else { return };
        let store = match CallStore::open(&self.path, self.retention).await {
            Ok(store) => store,
            Err(e) => {
                tracing::error!("call records are not kept: cannot open {}: {e}", self.path.display());
                return;
            }
        };
        let clickhouse = match self.clickhouse_url.as_deref().map(ClickHouse::new).transpose() {
            Ok(clickhouse) => clickhouse,
            Err(e) => {
                tracing::error!("call records do not go to ClickHouse: {e}");
                None
            }
        };
        if let Some(clickhouse) = &clickhouse
            && let Err(e) = clickhouse.ensure_tables().await
        {
            tracing::error!("ClickHouse's call table could not be made (retried with each batch): {e}");
        }
        let stop = async move {
            let _ = shutdown.changed().await;
        };
        writer::run(queue, store, clickhouse, WriterSettings::default(), Arc::clone(&self.counts), stop).await;
    }
}
