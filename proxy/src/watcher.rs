//! The catalog watcher: a pingora background service that polls the store's revision and,
//! when it moved (a change by this process or another, such as `sluice apply`), rebuilds the
//! edge's [`Snapshot`] and swaps it in; it also sweeps idle limiter state.
//!
//! Rebuilds are debounced ([`debounce`]): once the revision moved, the watcher polls every
//! [`POLL_WHILE_MOVING`] and rebuilds when it has stood still for [`QUIET`], or [`MAX_DELAY`]
//! after the move was first seen while it keeps moving (a long `apply`). Each rebuild
//! compiles only the versions that changed ([`Snapshot::rebuild`]).

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
use plugins::cache::ResultCache;
use tokio::time::Instant;

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
    /// The result cache new versions are wrapped in.
    pub cache: Option<Arc<ResultCache>>,
}

/// How often the watcher sweeps idle limiter state.
const IDLE_SWEEP: Duration = Duration::from_secs(10);

/// How long the revision must stand still before a rebuild.
pub const QUIET: Duration = Duration::from_millis(50);
/// The longest a rebuild waits after the revision was first seen to move.
pub const MAX_DELAY: Duration = Duration::from_millis(600);
/// How often the revision is read while a rebuild waits.
pub const POLL_WHILE_MOVING: Duration = Duration::from_millis(25);

/// What the watcher does after reading a moved revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Debounce {
    /// Rebuild now.
    Rebuild,
    /// Read the revision again within this long.
    Wait(Duration),
}

/// Whether to rebuild now, given when the revision was first seen to move (since the last
/// rebuild), when it last moved, and the time: once it stood still for [`QUIET`], and at the
/// latest [`MAX_DELAY`] after the first move, however often it moves.
pub fn debounce(first_moved: Instant, last_moved: Instant, now: Instant) -> Debounce {
    let due = (last_moved + QUIET).min(first_moved + MAX_DELAY);
    if now >= due { Debounce::Rebuild } else { Debounce::Wait((due - now).min(POLL_WHILE_MOVING)) }
}

/// A move of the revision not rebuilt yet.
struct Pending {
    first_moved: Instant,
    last_moved: Instant,
    revision: i64,
}

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
        let mut swept = Instant::now();
        let mut pending: Option<Pending> = None;
        let mut wait = None;
        loop {
            match wait {
                None => tokio::select! {
                    _ = ticker.tick() => {}
                    _ = shutdown.changed() => break,
                },
                Some(wait) => tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => break,
                },
            }
            wait = None;
            if swept.elapsed() >= IDLE_SWEEP {
                self.limiters.sweep();
                swept = Instant::now();
            }
            let current = self.snapshot.load().revision;
            let revision = match store.revision().await {
                Ok(revision) => revision,
                Err(e) => {
                    tracing::warn!("catalog watcher cannot read the store revision: {e}");
                    continue;
                }
            };
            if revision == current {
                pending = None;
                continue;
            }
            let now = Instant::now();
            let moved = pending.get_or_insert(Pending { first_moved: now, last_moved: now, revision });
            if moved.revision != revision {
                moved.revision = revision;
                moved.last_moved = now;
            }
            if let Debounce::Wait(time) = debounce(moved.first_moved, moved.last_moved, now) {
                wait = Some(time);
                continue;
            }
            pending = None;
            let started = std::time::Instant::now();
            let previous = self.snapshot.load_full();
            match Snapshot::rebuild(&store, &self.outbound, Some(&previous), self.cache.as_ref()).await {
                Ok(next) => {
                    drop(previous);
                    self.plugins.pools.set_access(next.outbound.datasources.clone());
                    tracing::info!(
                        revision = next.revision,
                        prod = next.prod.len(),
                        test = next.test.len(),
                        compiled = next.compiled_now,
                        reused = next.compiled.len() - next.compiled_now,
                        rebuild_us = started.elapsed().as_micros() as u64,
                        "catalog reloaded"
                    );
                    calls::metrics::metrics().route_rebuild(next.prod.len() + next.test.len());
                    self.snapshot.store(Arc::new(next));
                }
                Err(e) => tracing::error!("catalog reload failed, still serving revision {current}: {e}"),
            }
        }
        store.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_single_move_is_rebuilt_once_quiet() {
        let t0 = Instant::now();
        assert_eq!(debounce(t0, t0, t0), Debounce::Wait(POLL_WHILE_MOVING));
        assert_eq!(debounce(t0, t0, t0 + ms(40)), Debounce::Wait(ms(10)));
        assert_eq!(debounce(t0, t0, t0 + QUIET), Debounce::Rebuild);
        assert_eq!(debounce(t0, t0, t0 + ms(300)), Debounce::Rebuild);
    }

    #[test]
    fn a_revision_that_keeps_moving_waits_for_quiet() {
        let t0 = Instant::now();
        // Moved 30 ms ago: 20 ms of quiet to go.
        assert_eq!(debounce(t0, t0 + ms(100), t0 + ms(130)), Debounce::Wait(ms(20)));
        assert_eq!(debounce(t0, t0 + ms(100), t0 + ms(150)), Debounce::Rebuild);
    }

    #[test]
    fn a_revision_that_never_stands_still_is_rebuilt_after_the_longest_delay() {
        let t0 = Instant::now();
        // Moving every poll: never quiet, so the longest delay decides.
        for poll in (0..600).step_by(25) {
            let now = t0 + ms(poll);
            assert!(matches!(debounce(t0, now, now), Debounce::Wait(_)), "at {poll} ms");
        }
        assert_eq!(debounce(t0, t0 + ms(590), t0 + ms(590)), Debounce::Wait(ms(10)));
        assert_eq!(debounce(t0, t0 + MAX_DELAY, t0 + MAX_DELAY), Debounce::Rebuild);
        assert_eq!(debounce(t0, t0 + ms(900), t0 + ms(900)), Debounce::Rebuild);
    }
}
