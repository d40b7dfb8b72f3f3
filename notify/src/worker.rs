//! The delivery worker: one task per process that sends the outbox.
//!
//! Every `poll_interval` it reads the deliveries that are due, claims each one (the store's
//! conditional update with a lease: a delivery another process claimed is skipped), and
//! sends it on a task of its own, at most `concurrency` at once. The outcome is recorded:
//! `sent` for a 2xx, else the reason and the next attempt after [`backoff`], or `failed` once
//! [`MAX_ATTEMPTS`](crate::MAX_ATTEMPTS) are spent. The network policy is the one in force
//! when the poll finds work (configuration + platform settings, [`OutboundBase::load`]).
//!
//! Every `scan_interval`, and at start, it announces grants that expire within
//! `expiring_within` ([`Store::notify_expiring_grants`]; once per grant and expiry, whichever
//! process gets there first).
//!
//! Nothing here can fail an action: actions only enqueue. A store error is logged and the
//! next poll tries again; a delivery whose worker died is claimed again when its lease ends.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use catalog::now_ms;
use catalog::store::{ClaimedDelivery, DeliveryOutcome, Store};
use config::outbound::OutboundBase;
use net::SsrfPolicy;
use tokio::sync::Semaphore;

use crate::WebhookTarget;
use crate::backoff;
use crate::send::{self, Attempt, TOTAL_TIMEOUT};

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The first retry's delay; later ones are multiples of it ([`backoff`]).
    pub retry_base: Duration,
    /// How often the outbox is read.
    pub poll_interval: Duration,
    /// Deliveries sent at once.
    pub concurrency: usize,
    /// How often expiring grants are looked for.
    pub scan_interval: Duration,
    /// How far ahead a grant's expiry is announced.
    pub expiring_within: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            retry_base: Duration::from_secs(5),
            poll_interval: Duration::from_secs(1),
            concurrency: 8,
            scan_interval: Duration::from_secs(3600),
            expiring_within: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The worker; [`Worker::run`] until the process stops.
pub struct Worker {
    store: Store,
    outbound: OutboundBase,
    settings: WorkerSettings,
    permits: Arc<Semaphore>,
}

impl Worker {
    pub fn new(store: Store, outbound: OutboundBase, settings: WorkerSettings) -> Worker {
        let permits = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        Worker { store, outbound, settings, permits }
    }

    /// Polls and scans until `stop` completes. Deliveries in flight then are left to their
    /// leases.
    pub async fn run(self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut next_scan = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_scan {
                self.scan().await;
                next_scan = tokio::time::Instant::now() + self.settings.scan_interval;
            }
            self.poll().await;
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// Announces grants expiring soon; how many.
    pub async fn scan(&self) -> usize {
        let within = i64::try_from(self.settings.expiring_within.as_millis()).unwrap_or(i64::MAX);
        match self.store.notify_expiring_grants(now_ms(), within).await {
            Ok(n) => {
                if n > 0 {
                    tracing::info!("announced {n} grant(s) expiring soon");
                }
                n
            }
            Err(e) => {
                tracing::warn!("notifications: looking for expiring grants failed: {e}");
                0
            }
        }
    }

    /// Claims what is due and starts sending it; how many deliveries were claimed. Waits only
    /// for free permits, not for the sends.
    pub async fn poll(&self) -> usize {
        let batch = u32::try_from(self.settings.concurrency.saturating_mul(4)).unwrap_or(u32::MAX);
        let due = match self.store.due_deliveries(now_ms(), batch).await {
            Ok(due) if due.is_empty() => return 0,
            Ok(due) => due,
            Err(e) => {
                tracing::warn!("notifications: reading the outbox failed: {e}");
                return 0;
            }
        };
        let policy = match self.outbound.load(&self.store).await {
            Ok(outbound) => Arc::new(outbound.net),
            Err(e) => {
                tracing::warn!("notifications: reading the network policy failed: {e}");
                return 0;
            }
        };
        // A claim outlives the longest attempt, so a live worker's delivery is never taken.
        let lease = i64::try_from((TOTAL_TIMEOUT * 6).as_millis()).unwrap_or(i64::MAX);
        let mut claimed = 0;
        for id in due {
            let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else { break };
            let delivery = match self.store.claim_delivery(id, now_ms(), lease).await {
                Ok(Some(delivery)) => delivery,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!("notifications: claiming delivery {id} failed: {e}");
                    continue;
                }
            };
            claimed += 1;
            let (store, policy, base) = (self.store.clone(), Arc::clone(&policy), self.settings.retry_base);
            tokio::spawn(async move {
                deliver(&store, &policy, delivery, base).await;
                drop(permit);
            });
        }
        claimed
    }
}

/// Sends one claimed delivery and records how it went.
async fn deliver(store: &Store, policy: &SsrfPolicy, delivery: ClaimedDelivery, retry_base: Duration) {
    let result = match WebhookTarget::parse(&delivery.url) {
        Ok(target) => {
            let attempt = Attempt {
                target: &target,
                body: &delivery.body,
                event: delivery.event.as_str(),
                delivery_id: delivery.id,
                secret: delivery.secret.as_deref(),
            };
            send::send(policy, attempt).await.map_err(|why| (why, true))
        }
        // Stored before the check, or changed behind the API's back: trying again cannot help.
        Err(why) => Err((format!("the channel's URL is not usable: {why}"), false)),
    };
    let outcome = match result {
        Ok(_) => DeliveryOutcome::Sent,
        Err((error, retry)) => {
            tracing::info!(
                delivery = delivery.id,
                webhook = delivery.webhook_id,
                attempt = delivery.attempt,
                "webhook delivery failed: {error}"
            );
            match backoff(delivery.attempt, retry_base).filter(|_| retry) {
                Some(wait) => DeliveryOutcome::Retry {
                    error,
                    at: now_ms().saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)),
                },
                None => DeliveryOutcome::Failed { error },
            }
        }
    };
    match store.record_delivery(delivery.id, delivery.attempt, &outcome, now_ms()).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(delivery = delivery.id, "a delivery's lease ran out before its outcome was recorded")
        }
        Err(e) => tracing::warn!(delivery = delivery.id, "recording a delivery failed: {e}"),
    }
}
