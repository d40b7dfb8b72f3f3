//! Stopping: on SIGTERM the edge takes no new request, lets kept-alive connections go, and the
//! process exits as soon as the requests in flight are answered (and their answers written
//! out: [`FLUSH_LINGER`]) — at once when there are none, after `shutdown_timeout_secs` at most. (pingora alone would wait the whole grace period
//! whatever is in flight.) SIGINT stops at once; SIGQUIT hands the listeners over as pingora
//! does.
//!
//! Every request counts itself in flight for as long as it is served ([`Drain::in_flight`]),
//! in whichever lane and protocol.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, watch};

/// How long connections are given to write out answers already handed to them, once nothing
/// is in flight, before pingora stops.
pub const FLUSH_LINGER: Duration = Duration::from_millis(100);

/// Requests in flight, and whether the server is stopping.
#[derive(Debug)]
pub struct Drain {
    in_flight: AtomicUsize,
    idle: Notify,
    stopping: watch::Sender<bool>,
}

/// A request in flight; counted until dropped.
#[derive(Debug)]
pub struct InFlight {
    drain: Arc<Drain>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.drain.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.drain.idle.notify_waiters();
        }
    }
}

impl Drain {
    pub fn new() -> Arc<Drain> {
        Arc::new(Drain { in_flight: AtomicUsize::new(0), idle: Notify::new(), stopping: watch::channel(false).0 })
    }

    /// Counts a request in flight until the guard is dropped.
    pub fn in_flight(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight { drain: Arc::clone(self) }
    }

    /// Whether the server is stopping: take no new request, keep no connection.
    pub fn stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves when the server starts stopping.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Starts stopping, then waits until nothing is in flight or `grace` is over, and then
    /// [`FLUSH_LINGER`] more.
    async fn stop(&self, grace: Duration) {
        self.stopping.send_replace(true);
        let idle = async {
            loop {
                let notified = self.idle.notified();
                if self.in_flight.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(grace, idle).await.is_err() {
            tracing::warn!(
                in_flight = self.in_flight.load(Ordering::Acquire),
                "requests still in flight after the grace period"
            );
        }
        // A request ends when its answer is handed over; over HTTP/2 (and TLS) the connection's
        // own task writes it out afterwards, and pingora drops that task when it stops. Seen
        // once as an h2 answer cut mid-way on SIGTERM.
        tokio::time::sleep(FLUSH_LINGER).await;
    }
}

/// pingora's shutdown signal, drained: SIGTERM returns once the edge is idle.
pub struct DrainingSignals {
    pub drain: Arc<Drain>,
    pub grace: Duration,
}

#[async_trait]
impl ShutdownSignalWatch for DrainingSignals {
    async fn recv(&self) -> ShutdownSignal {
        let (Ok(mut quit), Ok(mut terminate), Ok(mut interrupt)) =
            (signal(SignalKind::quit()), signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
        else {
            tracing::error!("cannot listen for signals; stopping");
            return ShutdownSignal::FastShutdown;
        };
        tokio::select! {
            _ = quit.recv() => ShutdownSignal::GracefulUpgrade,
            _ = interrupt.recv() => ShutdownSignal::FastShutdown,
            _ = terminate.recv() => {
                tracing::info!("SIGTERM: answering the requests in flight, then stopping");
                self.drain.stop(self.grace).await;
                ShutdownSignal::GracefulTerminate
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stopping_waits_for_requests_in_flight_and_no_longer() {
        let drain = Drain::new();
        // Idle: done at once, whatever the grace.
        tokio::time::timeout(Duration::from_secs(5), drain.stop(Duration::from_secs(3600))).await.unwrap();
        assert!(drain.stopping());

        let drain = Drain::new();
        let request = drain.in_flight();
        let stopping = tokio::spawn({
            let drain = Arc::clone(&drain);
            async move { drain.stop(Duration::from_secs(3600)).await }
        });
        tokio::task::yield_now().await;
        assert!(!stopping.is_finished(), "a request is in flight");
        drop(request);
        tokio::time::timeout(Duration::from_secs(5), stopping).await.unwrap().unwrap();

        // A request that never ends is given up on after the grace period.
        let drain = Drain::new();
        let _stuck = drain.in_flight();
        drain.stop(Duration::from_millis(10)).await;
    }
}
