//! Call-rate limits at the edge: an API's maximum QPS, shared by every caller of that API, a
//! grant's QPS, one budget per API × app, and the platform's QPS per environment.
//! [`Limiters::check`] enforces the first two for one call, [`Limiters::check_system`] the third.
//!
//! These are the node's own limits, in memory, deciding in nanoseconds without a round trip.
//! With Redis configured the edge asks it instead (`shared`'s GCRA script, one round trip with
//! the same burst, [`shared_limits`]), so the limits hold cluster-wide; this module answers
//! while Redis cannot (docs/cluster.md), each node then enforcing the full limit.
//!
//! # How
//!
//! GCRA from [`governor`], one keyed limiter per distinct quota (quotas differ per key, a
//! governor limiter has one): keys are the API id for API limits and (API id, app id) for grant
//! limits. When an API's or a grant's QPS changes, its key simply starts in the limiter for the
//! new quota; the old state goes idle and is swept.
//!
//! The grant (user) limit is checked first, then the API limit: a caller over its own grant is
//! refused without spending the API's shared budget, so one noisy app cannot starve the others.
//! The price is that a call refused by the API limit has already used one cell of its grant.
//!
//! # Burst
//!
//! [`burst`]`(qps) = max(⌈qps/20⌉, min(8, max(2, 1 + ⌊qps/5⌋)))`. Under sustained overload GCRA
//! admits `qps × T + (burst − 1)` calls in a window of `T` seconds, so:
//! - at and above 160 QPS the burst is 1/20 s of quota: at most 5 % over in any 1 s window,
//!   1 % over 5 s (a burst of a whole second would over-admit by 20 % over 5 s);
//! - from 5 to 160 QPS it is `1 + qps/5` capped at 8, so `burst − 1 ≤ qps/5`: at most 4 % over
//!   in any 5 s window — and room enough that clients whose calls arrive at random (Poisson) at
//!   half the limit are almost never refused (burst 8: about 0.007 % of calls refused);
//! - below 5 QPS it is 2: one call over in any window. Never 1: with a burst of 1 a call that
//!   arrives just after its slot loses the difference, so steady overload with arrivals out of
//!   step with the slots is admitted well *under* the limit (a third under at 2× overload in the
//!   worst case), and random arrivals at half the limit are refused a third of the time.
//!
//! # Memory
//!
//! Every check counts; every 1,024th also adds up the number of keys, and when it passes the cap
//! ([`DEFAULT_MAX_KEYS`], or [`Limiters::with_max_keys`]) the idle keys are swept
//! ([`Limiters::sweep`], which a periodic task should call as well). A key is idle once its state
//! is indistinguishable from a new key's — at most three seconds after its last call (the slowest
//! quota, 1 QPS: a burst of two slots plus one), well under a second from 5 QPS up — so what
//! survives a sweep is bounded by the distinct keys called in the last three seconds. Should that still exceed the cap, the next automatic sweep waits until the
//! count has doubled, so sweeping stays amortised O(1) per call. Keys come from the catalog
//! (published API ids, authenticated app ids), never from caller-chosen text.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, TryLockError};
use std::time::Duration;

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// Keys (API limits plus grant limits) above which a check sweeps idle keys.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// Every this many checks, the key count is compared with the cap.
const COUNT_EVERY: u64 = 1024;

/// A call refused by a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{scope:?} rate limit exceeded; retry after {retry_after:?}")]
pub struct Throttled {
    /// Which limit refused the call.
    pub scope: ThrottleScope,
    /// How long until the same call would be admitted (if nothing else uses the budget).
    pub retry_after: Duration,
}

impl Throttled {
    /// `retry_after` rounded up to whole seconds, at least 1: the value of a `Retry-After` header.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        let secs = if self.retry_after.subsec_nanos() > 0 { secs + 1 } else { secs };
        secs.max(1)
    }
}

/// Which limit refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    /// The API's maximum QPS, shared by all its callers.
    Api,
    /// The grant's QPS for this app on this API.
    User,
    /// The platform's QPS for the call's environment, all APIs together.
    System,
}

/// The limits of one call as `shared` GCRA keys, in the order they are checked (grant, API,
/// system), each with its scope. Keys carry the quota, so a changed quota starts afresh as in
/// [`Limiters`].
pub fn shared_limits(
    api_id: i64,
    api_qps: Option<NonZeroU32>,
    app_id: i64,
    grant_qps: Option<NonZeroU32>,
    system: Option<(&str, NonZeroU32)>,
) -> Vec<(ThrottleScope, shared::Limit)> {
    let limit = |key: String, qps: NonZeroU32| {
        let interval_us = 1_000_000u64.div_ceil(u64::from(qps.get())).max(1);
        shared::Limit { key, interval_us, tolerance_us: interval_us * u64::from(burst(qps).get() - 1) }
    };
    let mut limits = Vec::with_capacity(3);
    if let Some(qps) = grant_qps {
        limits.push((ThrottleScope::User, limit(format!("g:{api_id}:{app_id}:{qps}"), qps)));
    }
    if let Some(qps) = api_qps {
        limits.push((ThrottleScope::Api, limit(format!("a:{api_id}:{qps}"), qps)));
    }
    if let Some((env, qps)) = system {
        limits.push((ThrottleScope::System, limit(format!("s:{env}:{qps}"), qps)));
    }
    limits
}

/// The burst (calls admitted at once from an idle state) for a limit of `qps`; see the module
/// documentation for why.
pub fn burst(qps: NonZeroU32) -> NonZeroU32 {
    let qps = qps.get();
    let twentieth = qps.div_ceil(20);
    let small = (1 + qps / 5).clamp(2, 8);
    NonZeroU32::new(twentieth.max(small)).unwrap_or(NonZeroU32::MIN)
}

type Keyed<K, C> = RateLimiter<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// One keyed limiter per distinct quota.
type ByQuota<K, C> = DashMap<NonZeroU32, Keyed<K, C>>;

/// The API and grant limits of one process. Cheap to share behind an `Arc`; every method takes
/// `&self`.
pub struct Limiters<C: Clock + Clone = DefaultClock> {
    clock: C,
    api: ByQuota<i64, C>,
    user: ByQuota<(i64, i64), C>,
    /// By environment (0 production, 1 test).
    system: ByQuota<u8, C>,
    max_keys: usize,
    /// The key count above which the next counting check sweeps.
    sweep_above: AtomicUsize,
    calls: AtomicU64,
    sweeping: Mutex<()>,
}

impl Limiters {
    /// Limiters on the monotonic system clock, with [`DEFAULT_MAX_KEYS`].
    pub fn new() -> Self {
        Self::with_clock(DefaultClock::default())
    }
}

impl Default for Limiters {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock + Clone> Limiters<C> {
    /// Limiters on the given clock (tests use governor's `FakeRelativeClock`).
    pub fn with_clock(clock: C) -> Self {
        Limiters {
            clock,
            api: DashMap::new(),
            user: DashMap::new(),
            system: DashMap::new(),
            max_keys: DEFAULT_MAX_KEYS,
            sweep_above: AtomicUsize::new(DEFAULT_MAX_KEYS),
            calls: AtomicU64::new(0),
            sweeping: Mutex::new(()),
        }
    }

    /// Sets the key count above which checks sweep idle keys.
    pub fn with_max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self.sweep_above = AtomicUsize::new(max_keys);
        self
    }

    /// Admits one call of `app_id` to `api_id`, or says which limit refuses it. `None` means no
    /// limit of that kind. The grant limit is checked first, then the API limit.
    pub fn check(
        &self,
        api_id: i64,
        api_qps: Option<NonZeroU32>,
        app_id: i64,
        grant_qps: Option<NonZeroU32>,
    ) -> Result<(), Throttled> {
        self.sweep_if_over_cap();
        if let Some(qps) = grant_qps {
            check_key(&self.user, qps, &(api_id, app_id), &self.clock)
                .map_err(|retry_after| Throttled { scope: ThrottleScope::User, retry_after })?;
        }
        if let Some(qps) = api_qps {
            check_key(&self.api, qps, &api_id, &self.clock)
                .map_err(|retry_after| Throttled { scope: ThrottleScope::Api, retry_after })?;
        }
        Ok(())
    }

    /// Admits one call to environment `env` (0 production, 1 test) under the platform's
    /// `qps`, or refuses it with [`ThrottleScope::System`].
    pub fn check_system(&self, env: u8, qps: NonZeroU32) -> Result<(), Throttled> {
        check_key(&self.system, qps, &env, &self.clock)
            .map_err(|retry_after| Throttled { scope: ThrottleScope::System, retry_after })
    }

    /// Drops the state of idle keys (indistinguishable from new ones) and of quotas left with no
    /// key. Call it from a periodic task; checks also call it when the key count passes the cap.
    pub fn sweep(&self) {
        sweep_map(&self.api);
        sweep_map(&self.user);
        sweep_map(&self.system);
    }

    /// The number of keys held (API limits plus grant limits).
    pub fn len(&self) -> usize {
        count(&self.api) + count(&self.user) + count(&self.system)
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn sweep_if_over_cap(&self) {
        if !self.calls.fetch_add(1, Ordering::Relaxed).is_multiple_of(COUNT_EVERY) {
            return;
        }
        if self.len() <= self.sweep_above.load(Ordering::Relaxed) {
            return;
        }
        // One sweeper at a time; the others go on checking.
        let _guard = match self.sweeping.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        self.sweep();
        let left = self.len();
        self.sweep_above.store(self.max_keys.max(left.saturating_mul(2)), Ordering::Relaxed);
    }
}

fn quota(qps: NonZeroU32) -> Quota {
    Quota::per_second(qps).allow_burst(burst(qps))
}

/// Checks one key in the limiter for `qps`, creating that limiter on first use. `Err` holds the
/// time until the key conforms again.
fn check_key<K: Hash + Eq + Clone, C: Clock + Clone>(
    map: &ByQuota<K, C>,
    qps: NonZeroU32,
    key: &K,
    clock: &C,
) -> Result<(), Duration> {
    // The map guard is held during the check, so a sweep cannot drop this limiter under it.
    let outcome = if let Some(limiter) = map.get(&qps) {
        limiter.check_key(key)
    } else {
        map.entry(qps)
            .or_insert_with(|| RateLimiter::dashmap_with_clock(quota(qps), clock.clone()))
            .downgrade()
            .check_key(key)
    };
    outcome.map_err(|not_until| not_until.wait_time_from(clock.now()))
}

fn sweep_map<K: Hash + Eq + Clone, C: Clock + Clone>(map: &ByQuota<K, C>) {
    for limiter in map.iter() {
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
    map.retain(|_, limiter| !limiter.is_empty());
    map.shrink_to_fit();
}

fn count<K: Hash + Eq + Clone, C: Clock + Clone>(map: &ByQuota<K, C>) -> usize {
    map.iter().map(|limiter| limiter.len()).sum()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;

    use governor::clock::FakeRelativeClock;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::*;

    fn qps(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    fn fake() -> (FakeRelativeClock, Limiters<FakeRelativeClock>) {
        let clock = FakeRelativeClock::default();
        (clock.clone(), Limiters::with_clock(clock))
    }

    /// Sends calls evenly spaced at `rate` per second for `secs` seconds; returns how many
    /// were admitted. `call` is one check.
    fn paced(clock: &FakeRelativeClock, rate: f64, secs: f64, mut call: impl FnMut() -> Result<(), Throttled>) -> u64 {
        let calls = (rate * secs).round() as u64;
        let step = Duration::from_secs_f64(1.0 / rate);
        let mut admitted = 0;
        for _ in 0..calls {
            if call().is_ok() {
                admitted += 1;
            }
            clock.advance(step);
        }
        admitted
    }

    /// A window long enough to expect at least 200 admissions, and at least 5 s.
    fn window(limit: u32) -> f64 {
        (200.0 / limit as f64).max(5.0)
    }

    const LIMITS: [u32; 9] = [1, 3, 5, 10, 35, 100, 160, 1000, 5000];

    #[test]
    fn burst_is_a_twentieth_of_a_second_above_160_qps_and_small_below() {
        let table = [
            (1, 2),
            (4, 2),
            (9, 2),
            (10, 3),
            (34, 7),
            (35, 8),
            (100, 8),
            (160, 8),
            (161, 9),
            (1000, 50),
            (5000, 250),
            (u32::MAX, u32::MAX.div_ceil(20)),
        ];
        for (limit, expected) in table {
            assert_eq!(burst(qps(limit)).get(), expected, "burst({limit})");
        }
        // Over-admission bounds from the module documentation: one call below 5 QPS, then at
        // most 4 % of 5 s of quota, and 5 % of 1 s from 160 QPS up.
        for limit in 1..=10_000u32 {
            let extra = f64::from(burst(qps(limit)).get() - 1);
            let bound = if limit < 5 { 1.0 } else { 0.04 * 5.0 * f64::from(limit) };
            assert!(extra <= bound, "burst({limit}) too large");
            if limit >= 160 {
                assert!(extra <= 0.05 * f64::from(limit), "burst({limit}) too large for 1 s");
            }
        }
    }

    #[test]
    fn shared_limits_keep_the_order_quota_and_burst() {
        let limits = shared_limits(4, Some(qps(100)), 9, Some(qps(1000)), Some(("prod", qps(5000))));
        let summary: Vec<(ThrottleScope, &str, u64, u64)> =
            limits.iter().map(|(s, l)| (*s, l.key.as_str(), l.interval_us, l.tolerance_us)).collect();
        assert_eq!(
            summary,
            vec![
                (ThrottleScope::User, "g:4:9:1000", 1000, 1000 * 49),
                (ThrottleScope::Api, "a:4:100", 10_000, 10_000 * 7),
                (ThrottleScope::System, "s:prod:5000", 200, 200 * 249),
            ]
        );
        assert!(shared_limits(4, None, 0, None, None).is_empty());
    }

    #[test]
    fn system_limit_is_its_own_budget_per_environment() {
        let (clock, limiters) = fake();
        let admitted = paced(&clock, 40.0, 5.0, || limiters.check_system(0, qps(10)));
        assert!((48..=54).contains(&admitted), "{admitted}");
        let err = (0..4).find_map(|_| limiters.check_system(0, qps(10)).err()).unwrap();
        assert_eq!(err.scope, ThrottleScope::System);
        assert!(limiters.check_system(1, qps(10)).is_ok(), "test has a budget of its own");
    }

    #[test]
    fn grant_limit_is_accurate_at_2x_and_10x_overload() {
        for limit in LIMITS {
            for factor in [2.0, 10.0] {
                let (clock, limiters) = fake();
                let secs = window(limit);
                let admitted =
                    paced(&clock, f64::from(limit) * factor, secs, || limiters.check(1, None, 7, Some(qps(limit))));
                let ratio = admitted as f64 / (f64::from(limit) * secs);
                eprintln!("grant {limit} qps at {factor}x over {secs} s: ratio {ratio:.4}");
                assert!((0.95..=1.05).contains(&ratio), "grant {limit} at {factor}x: {ratio}");
            }
        }
    }

    #[test]
    fn api_limit_is_accurate_at_2x_and_10x_overload_across_apps() {
        for limit in LIMITS {
            for factor in [2.0, 10.0] {
                let (clock, limiters) = fake();
                let secs = window(limit);
                // Four apps take turns; together they send `factor` times the API's limit.
                let mut turn = 0i64;
                let admitted = paced(&clock, f64::from(limit) * factor, secs, || {
                    turn += 1;
                    let refused = limiters.check(9, Some(qps(limit)), turn % 4, None);
                    if let Err(throttled) = refused {
                        assert_eq!(throttled.scope, ThrottleScope::Api);
                    }
                    refused
                });
                let ratio = admitted as f64 / (f64::from(limit) * secs);
                eprintln!("api {limit} qps at {factor}x over {secs} s: ratio {ratio:.4}");
                assert!((0.95..=1.05).contains(&ratio), "api {limit} at {factor}x: {ratio}");
            }
        }
    }

    #[test]
    fn no_refusal_at_half_the_limit() {
        for limit in LIMITS {
            let (clock, limiters) = fake();
            let secs = window(limit);
            let sent = (f64::from(limit) * 0.5 * secs).round() as u64;
            let admitted = paced(&clock, f64::from(limit) * 0.5, secs, || {
                limiters.check(1, Some(qps(limit)), 2, Some(qps(limit)))
            });
            assert_eq!(admitted, sent, "refusals at half of {limit} qps");
        }
    }

    #[test]
    fn random_arrivals_at_half_the_limit_are_almost_never_refused() {
        let mut rng = StdRng::seed_from_u64(20);
        for limit in [35, 100, 1000] {
            let (clock, limiters) = fake();
            let rate = f64::from(limit) * 0.5;
            let (mut sent, mut refused) = (0u32, 0u32);
            while sent < 100_000 {
                let gap = -(1.0 - rng.random::<f64>()).ln() / rate;
                clock.advance(Duration::from_secs_f64(gap));
                sent += 1;
                if limiters.check(1, None, 2, Some(qps(limit))).is_err() {
                    refused += 1;
                }
            }
            let share = f64::from(refused) / f64::from(sent);
            eprintln!("poisson at half of {limit} qps: {refused} of {sent} refused ({share:.5})");
            assert!(share < 0.001, "{limit} qps: {share}");
        }
    }

    #[test]
    fn the_tighter_of_grant_and_api_limit_applies_and_grant_comes_first() {
        // (API limit, grant limit, the scope that must refuse)
        for (api, grant, scope) in [(100, 10, ThrottleScope::User), (10, 100, ThrottleScope::Api)] {
            let (clock, limiters) = fake();
            let mut scopes = Vec::new();
            let admitted = paced(&clock, 100.0, 10.0, || {
                let outcome = limiters.check(1, Some(qps(api)), 1, Some(qps(grant)));
                if let Err(throttled) = outcome {
                    scopes.push(throttled.scope);
                }
                outcome
            });
            assert!((95..=105).contains(&admitted), "api {api}, grant {grant}: {admitted}");
            assert!(!scopes.is_empty() && scopes.iter().all(|s| *s == scope), "api {api}, grant {grant}");
        }
    }

    #[test]
    fn counters_are_isolated_per_api_and_app() {
        let (_clock, limiters) = fake();
        let limit = Some(qps(1)); // burst 2
        limiters.check(1, None, 1, limit).unwrap();
        limiters.check(1, None, 1, limit).unwrap();
        assert!(limiters.check(1, None, 1, limit).is_err(), "app 1 on API 1 is spent");
        limiters.check(1, None, 2, limit).unwrap(); // another app, same API
        limiters.check(2, None, 1, limit).unwrap(); // same app, another API
        // API limits: API 1's budget is not API 2's.
        limiters.check(1, limit, 3, None).unwrap();
        limiters.check(1, limit, 4, None).unwrap();
        assert!(limiters.check(1, limit, 5, None).is_err(), "API 1 is spent for everyone");
        limiters.check(2, limit, 3, None).unwrap();
    }

    #[test]
    fn no_limits_admit_everything_and_hold_nothing() {
        let (_clock, limiters) = fake();
        for _ in 0..10_000 {
            limiters.check(1, None, 1, None).unwrap();
        }
        assert!(limiters.is_empty());
    }

    #[test]
    fn retry_after_says_when_the_call_would_pass() {
        let (clock, limiters) = fake();
        let limit = Some(qps(4)); // burst 2, one call every 250 ms
        limiters.check(1, None, 1, limit).unwrap();
        limiters.check(1, None, 1, limit).unwrap();
        clock.advance(Duration::from_millis(100));
        let refused = limiters.check(1, None, 1, limit).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_millis(150), "slots at 0 and 250 ms used");
        assert_eq!(refused.retry_after_secs(), 1);
        clock.advance(refused.retry_after - Duration::from_millis(1));
        assert!(limiters.check(1, None, 1, limit).is_err());
        clock.advance(Duration::from_millis(1));
        limiters.check(1, None, 1, limit).unwrap();

        let throttled = |ms| Throttled { scope: ThrottleScope::Api, retry_after: Duration::from_millis(ms) };
        assert_eq!(throttled(0).retry_after_secs(), 1);
        assert_eq!(throttled(1000).retry_after_secs(), 1);
        assert_eq!(throttled(1001).retry_after_secs(), 2);
    }

    #[test]
    fn a_changed_quota_takes_effect_and_the_old_state_is_swept() {
        let (clock, limiters) = fake();
        limiters.check(1, Some(qps(1)), 1, None).unwrap();
        limiters.check(1, Some(qps(1)), 1, None).unwrap();
        assert!(limiters.check(1, Some(qps(1)), 1, None).is_err());
        // The API's limit is raised: a fresh budget at once.
        limiters.check(1, Some(qps(1000)), 1, None).unwrap();
        assert_eq!(limiters.len(), 2);
        clock.advance(Duration::from_secs(4));
        limiters.sweep();
        assert_eq!(limiters.len(), 0);
        assert!(limiters.api.is_empty(), "quotas with no key are dropped");
    }

    #[test]
    fn sweep_keeps_keys_whose_state_still_matters() {
        let (clock, limiters) = fake();
        let limit = Some(qps(1));
        limiters.check(1, None, 1, limit).unwrap();
        limiters.check(1, None, 1, limit).unwrap();
        clock.advance(Duration::from_millis(500));
        limiters.sweep();
        assert_eq!(limiters.len(), 1);
        assert!(limiters.check(1, None, 1, limit).is_err(), "the sweep forgot a live count");
        // Idle at most three seconds after the last call (1 QPS: burst 2 plus one slot).
        clock.advance(Duration::from_millis(2500));
        limiters.sweep();
        assert_eq!(limiters.len(), 0);
    }

    #[test]
    fn a_million_distinct_keys_stay_under_the_cap() {
        let (clock, limiters) = fake();
        let mut most = 0;
        for app in 0..1_000_000i64 {
            // 100,000 new callers a second, each with a grant of 50 QPS, plus per-API limits.
            limiters.check(app % 1000, Some(qps(1000)), app, Some(qps(50))).unwrap();
            clock.advance(Duration::from_micros(10));
            if app % 1000 == 0 {
                most = most.max(limiters.len());
            }
        }
        eprintln!("most keys held: {most}, at the end: {}", limiters.len());
        assert!(most <= DEFAULT_MAX_KEYS + COUNT_EVERY as usize, "{most}");
        assert!(limiters.len() <= DEFAULT_MAX_KEYS + COUNT_EVERY as usize);
        clock.advance(Duration::from_secs(4));
        limiters.sweep();
        assert!(limiters.is_empty());
    }

    #[test]
    fn live_keys_over_the_cap_do_not_make_every_check_sweep() {
        let (_clock, limiters) = fake();
        let limiters = limiters.with_max_keys(1000);
        // The clock stands still: no key ever goes idle.
        for app in 0..20_000i64 {
            limiters.check(1, None, app, Some(qps(1))).unwrap();
        }
        assert_eq!(limiters.len(), 20_000, "no live key may be dropped");
        let threshold = limiters.sweep_above.load(Ordering::Relaxed);
        assert!(threshold > 1000, "the threshold backs off ({threshold})");
    }

    /// Real clock, several threads: admitted / (limit × elapsed) near 1.
    #[test]
    fn concurrent_callers_on_the_real_clock() {
        let limiters = Arc::new(Limiters::new());
        let api_limit = 1000u32;
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let threads: Vec<_> = (0..4i64)
            .map(|app| {
                let (limiters, stop) = (limiters.clone(), stop.clone());
                std::thread::spawn(move || {
                    let (mut admitted, mut calls) = (0u64, 0u64);
                    while !stop.load(Ordering::Relaxed) {
                        calls += 1;
                        // Each app's grant is 400 QPS; four together would be 1600 > the API's 1000.
                        if limiters.check(5, Some(qps(api_limit)), app, Some(qps(400))).is_ok() {
                            admitted += 1;
                        }
                    }
                    (admitted, calls)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
        let results: Vec<(u64, u64)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let elapsed = started.elapsed().as_secs_f64();
        let admitted: u64 = results.iter().map(|r| r.0).sum();
        let calls: u64 = results.iter().map(|r| r.1).sum();
        let ratio = admitted as f64 / (f64::from(api_limit) * elapsed);
        eprintln!("real clock: {admitted} of {calls} calls admitted in {elapsed:.3} s, ratio {ratio:.4}");
        assert!(calls as f64 > 2.0 * admitted as f64, "the callers did not overload the limit");
        assert!((0.95..=1.05).contains(&ratio), "ratio {ratio}");
        for (app, (admitted, _)) in results.iter().enumerate() {
            let per_app = *admitted as f64 / (400.0 * elapsed);
            assert!(per_app <= 1.05, "app {app} over its grant: {per_app}");
        }
    }
}
