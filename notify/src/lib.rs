//! Notifications (issue 18, part 6): this crate owns getting them out. Actions enqueue with
//! [`catalog::store::Store::notify`] and return at once; the [`Worker`] (one background task
//! of the `sluice` process, beside the management API) sends what the outbox holds.
//!
//! - [`WebhookTarget`]: what a webhook URL may be (`net::client::Target`: http or https, no
//!   user info; a query, such as a bot's access token, is kept), checked when a channel is saved.
//! - [`send`]: one attempt — `net::client` has the network policy resolve and check the host
//!   and connects to exactly the checked address (TLS with rustls and the system roots), the
//!   body is POSTed over HTTP/1.1 and signed with the channel's secret, within a connect and a total
//!   timeout; the outcome is a status or a short reason without secrets.
//! - [`worker`]: polls the outbox about once a second, claims each due delivery (a lease, so
//!   two processes never send the same attempt), sends a bounded number at once, records the
//!   outcome with exponential backoff ([`backoff`]), and announces grants that expire within
//!   seven days once an hour.

pub mod send;
pub mod worker;

use std::time::Duration;

pub use net::client::Target as WebhookTarget;
pub use worker::{Worker, WorkerSettings};

/// Attempts a delivery gets in all; after the last failure it is `failed`.
pub const MAX_ATTEMPTS: i64 = 6;

/// Multiples of the base delay before attempts 2 to 6: with the default base of 5 s, 5 s,
/// 30 s, 2 min, 10 min, 1 h.
const BACKOFF_STEPS: [u64; 5] = [1, 6, 24, 120, 720];

/// How long to wait after failed attempt `attempt` (1-based) before the next one, or `None`
/// when it was the last.
pub fn backoff(attempt: i64, base: Duration) -> Option<Duration> {
    if !(1..MAX_ATTEMPTS).contains(&attempt) {
        return None;
    }
    let step = BACKOFF_STEPS.get(usize::try_from(attempt - 1).ok()?)?;
    Some(base.saturating_mul(u32::try_from(*step).unwrap_or(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_gives_up() {
        let base = Duration::from_secs(5);
        let waits: Vec<u64> = (1..=5).map(|a| backoff(a, base).unwrap().as_secs()).collect();
        assert_eq!(waits, vec![5, 30, 120, 600, 3600]);
        assert_eq!(backoff(6, base), None);
        assert_eq!(backoff(0, base), None);
        assert_eq!(backoff(2, Duration::from_millis(10)), Some(Duration::from_millis(60)));
    }
}
