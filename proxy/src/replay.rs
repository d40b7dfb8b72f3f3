//! Replay protection for signed requests: remembers each app's nonces for as long as a request
//! carrying them could still be accepted, so a captured request cannot be sent again.
//! [`NonceCache::first_use`] is the one call.
//!
//! # Window
//!
//! A signed request is accepted while its timestamp is within ±300 s of the edge's clock
//! (`signature::TIMESTAMP_WINDOW_SECS`), so a nonce can be usable for at most 600 s:
//! [`DEFAULT_WINDOW_SECS`]. The cache keeps two generations of nonces, each covering one window
//! of time (`now_secs / window`): a nonce lives in the generation of its first use and is
//! still found through the next one, then dropped wholesale with its generation. Every nonce is
//! therefore remembered for at least one window and at most two, with no per-entry expiry work.
//!
//! # Memory
//!
//! Nonces are stored as 128-bit keyed hashes of (app id, nonce) — 16 bytes whatever the
//! nonce's length; the hash keys are random per process, so no caller can aim for a collision
//! (which would only refuse that same caller's request anyway). The two generations together
//! hold at most `max_entries` ([`DEFAULT_MAX_ENTRIES`]; 16 bytes a nonce plus the hash
//! tables' overhead, a few tens of MB when full). At the cap a nonce
//! not seen before is neither accepted nor remembered: [`NonceCheck::Full`], which the edge
//! answers with 503 and a `Retry-After` — accepting it unremembered would reopen replay. Room
//! returns with the next generation swap (within one window).
//!
//! # Order at the edge
//!
//! Record a nonce only after the signature verified (or anyone could burn an app's nonces by
//! sending its app key) and after the rate limits admitted the call (so a throttled client can
//! retry the same signed request).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

use dashmap::DashSet;

/// Ten minutes: twice the ±300 s a timestamp may be off.
pub const DEFAULT_WINDOW_SECS: i64 = 600;

/// Nonces held in both generations together.
pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

/// What [`NonceCache::first_use`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Not seen within the window; now remembered. Accept the request.
    First,
    /// This app already used this nonce within the window. Refuse the request.
    Replayed,
    /// Not seen, but the cache is full, so it cannot be remembered. Refuse with 503.
    Full,
}

/// The nonces used per app in the last one or two windows. Share it behind an `Arc`; every
/// method takes `&self`.
pub struct NonceCache {
    window_secs: i64,
    max_entries: usize,
    hashers: (RandomState, RandomState),
    generations: RwLock<Generations>,
    /// Entries in both generations (kept here so a check need not count the sets).
    entries: AtomicUsize,
}

struct Generations {
    /// `now_secs / window_secs` of `current`.
    number: i64,
    current: DashSet<u128>,
    previous: DashSet<u128>,
}

impl Default for NonceCache {
    fn default() -> Self {
        Self::new()
    }
}

impl NonceCache {
    /// A cache with [`DEFAULT_WINDOW_SECS`] and [`DEFAULT_MAX_ENTRIES`].
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_WINDOW_SECS, DEFAULT_MAX_ENTRIES)
    }

    /// A cache remembering nonces for at least `window_secs` (at least 1) and holding at most
    /// `max_entries`.
    pub fn with_limits(window_secs: i64, max_entries: usize) -> Self {
        NonceCache {
            window_secs: window_secs.max(1),
            max_entries,
            hashers: (RandomState::new(), RandomState::new()),
            generations: RwLock::new(Generations {
                number: i64::MIN,
                current: DashSet::new(),
                previous: DashSet::new(),
            }),
            entries: AtomicUsize::new(0),
        }
    }

    /// Records that `app_id` used `nonce` at `now_secs` (Unix seconds), unless it already did
    /// within the window or the cache is full.
    pub fn first_use(&self, app_id: i64, nonce: &str, now_secs: i64) -> NonceCheck {
        let key = self.key(app_id, nonce);
        let number = now_secs.div_euclid(self.window_secs);
        self.rotate_to(number);
        let generations = self.generations.read().unwrap_or_else(PoisonError::into_inner);
        if generations.previous.contains(&key) || generations.current.contains(&key) {
            return NonceCheck::Replayed;
        }
        // Claim a slot first so concurrent first uses cannot overshoot the cap.
        if self.entries.fetch_add(1, Ordering::AcqRel) >= self.max_entries {
            self.entries.fetch_sub(1, Ordering::AcqRel);
            return NonceCheck::Full;
        }
        if generations.current.insert(key) {
            NonceCheck::First
        } else {
            // The same nonce, sent twice at once: the other request won.
            self.entries.fetch_sub(1, Ordering::AcqRel);
            NonceCheck::Replayed
        }
    }

    /// The number of nonces held.
    pub fn len(&self) -> usize {
        self.entries.load(Ordering::Acquire)
    }

    /// Whether no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves to generation `number` if it is newer: one step keeps the current generation as
    /// the previous one, more drop both. A clock that goes back never rotates back.
    fn rotate_to(&self, number: i64) {
        let behind = |g: &Generations| g.number < number;
        if !behind(&self.generations.read().unwrap_or_else(PoisonError::into_inner)) {
            return;
        }
        let mut g = self.generations.write().unwrap_or_else(PoisonError::into_inner);
        if !behind(&g) {
            return; // another thread rotated meanwhile
        }
        if g.number.checked_add(1) == Some(number) {
            g.previous = std::mem::take(&mut g.current);
        } else {
            g.previous = DashSet::new();
            g.current = DashSet::new();
        }
        g.number = number;
        self.entries.store(g.previous.len(), Ordering::Release);
    }

    fn key(&self, app_id: i64, nonce: &str) -> u128 {
        let half = |state: &RandomState| {
            let mut hasher = state.build_hasher();
            app_id.hash(&mut hasher);
            nonce.hash(&mut hasher);
            hasher.finish()
        };
        u128::from(half(&self.hashers.0)) << 64 | u128::from(half(&self.hashers.1))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const T0: i64 = 1_700_000_000;

    #[test]
    fn a_nonce_is_accepted_once() {
        let cache = NonceCache::new();
        assert_eq!(cache.first_use(1, "n0nce-0001", T0), NonceCheck::First);
        assert_eq!(cache.first_use(1, "n0nce-0001", T0), NonceCheck::Replayed);
        assert_eq!(cache.first_use(1, "n0nce-0001", T0 + 299), NonceCheck::Replayed);
        assert_eq!(cache.first_use(1, "n0nce-0002", T0), NonceCheck::First);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn another_app_may_use_the_same_nonce() {
        let cache = NonceCache::new();
        assert_eq!(cache.first_use(1, "shared-nonce", T0), NonceCheck::First);
        assert_eq!(cache.first_use(2, "shared-nonce", T0), NonceCheck::First);
        assert_eq!(cache.first_use(2, "shared-nonce", T0), NonceCheck::Replayed);
        assert_eq!(cache.first_use(1, "shared-nonce", T0), NonceCheck::Replayed);
    }

    #[test]
    fn every_nonce_is_remembered_for_a_whole_window_and_forgotten_after_two() {
        let window = DEFAULT_WINDOW_SECS;
        let start = T0.div_euclid(window) * window;
        // First uses at the start, the middle and the last second of a generation.
        for offset in [0, window / 2, window - 1] {
            let cache = NonceCache::new();
            let used = start + offset;
            assert_eq!(cache.first_use(7, "abcdefgh", used), NonceCheck::First);
            for later in [1, window / 2, window - 1, window] {
                assert_eq!(cache.first_use(7, "abcdefgh", used + later), NonceCheck::Replayed, "{offset} +{later}");
            }
            assert_eq!(cache.first_use(7, "abcdefgh", start + 2 * window), NonceCheck::First, "{offset}");
        }
    }

    #[test]
    fn old_generations_are_dropped_wholesale() {
        let cache = NonceCache::with_limits(10, 1000);
        for i in 0..100 {
            assert_eq!(cache.first_use(1, &format!("nonce-{i:04}"), 5), NonceCheck::First);
        }
        assert_eq!(cache.len(), 100);
        cache.first_use(1, "next-gen-1", 15);
        assert_eq!(cache.len(), 101, "the previous generation is kept");
        cache.first_use(1, "next-gen-2", 25);
        assert_eq!(cache.len(), 2, "two generations on, the first is gone");
        cache.first_use(1, "far-later", 1000);
        assert_eq!(cache.len(), 1, "a jump of many windows drops both");
    }

    #[test]
    fn a_clock_going_back_does_not_forget() {
        let cache = NonceCache::new();
        assert_eq!(cache.first_use(1, "abcdefgh", T0), NonceCheck::First);
        assert_eq!(cache.first_use(1, "abcdefgh", T0 - 5000), NonceCheck::Replayed);
        assert_eq!(cache.first_use(1, "other-nonce", T0 - 5000), NonceCheck::First);
        assert_eq!(cache.first_use(1, "other-nonce", T0), NonceCheck::Replayed);
        // Extreme times do not overflow.
        let cache = NonceCache::new();
        assert_eq!(cache.first_use(1, "abcdefgh", i64::MIN), NonceCheck::First);
        assert_eq!(cache.first_use(1, "abcdefgh", i64::MAX), NonceCheck::First);
        assert_eq!(cache.first_use(1, "abcdefgh", i64::MAX), NonceCheck::Replayed);
    }

    #[test]
    fn at_the_cap_new_nonces_are_refused_and_replays_still_detected() {
        let cache = NonceCache::with_limits(600, 10);
        for i in 0..10 {
            assert_eq!(cache.first_use(1, &format!("nonce-{i:04}"), T0), NonceCheck::First);
        }
        assert_eq!(cache.first_use(1, "one-too-many", T0), NonceCheck::Full);
        assert_eq!(cache.first_use(2, "one-too-many", T0), NonceCheck::Full);
        assert_eq!(cache.first_use(1, "nonce-0003", T0), NonceCheck::Replayed);
        assert_eq!(cache.len(), 10);
        // Not remembered while full: accepted once there is room again.
        let later = T0 + 2 * 600;
        assert_eq!(cache.first_use(1, "one-too-many", later), NonceCheck::First);
        assert_eq!(cache.first_use(1, "one-too-many", later), NonceCheck::Replayed);
    }

    #[test]
    fn concurrent_uses_of_one_nonce_admit_exactly_one() {
        let cache = Arc::new(NonceCache::with_limits(600, 100_000));
        for round in 0..200 {
            let nonce = format!("race-{round:05}");
            let firsts: usize = (0..4)
                .map(|_| {
                    let (cache, nonce) = (cache.clone(), nonce.clone());
                    std::thread::spawn(move || cache.first_use(3, &nonce, T0) == NonceCheck::First)
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| usize::from(t.join().unwrap()))
                .sum();
            assert_eq!(firsts, 1, "round {round}");
        }
        assert_eq!(cache.len(), 200);
    }

    #[test]
    fn concurrent_callers_never_pass_the_cap() {
        let cache = Arc::new(NonceCache::with_limits(600, 1000));
        let threads: Vec<_> = (0..4i64)
            .map(|app| {
                let cache = cache.clone();
                std::thread::spawn(move || {
                    (0..1000)
                        .filter(|i| cache.first_use(app, &format!("nonce-{i:05}"), T0) == NonceCheck::First)
                        .count()
                })
            })
            .collect();
        let firsts: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(firsts, 1000);
        assert_eq!(cache.len(), 1000);
    }
}
