//! The latency sketch of a rollup: a DDSketch (relative error 1%), mergeable across minutes,
//! APIs and nodes, stored as bytes.
//!
//! Values go in as microseconds and come out as milliseconds. The stored form is the sketch's
//! serde JSON; an empty sketch is stored as no bytes. On reading, the configuration is always
//! the one of [`LatencySketch::new`] (what was stored is ignored), so a sketch read back
//! merges with any other whatever the float parser made of the stored parameters.

use sketches_ddsketch::{Config, DDSketch};

use crate::CallsError;

/// The sketch's relative error bound.
pub const RELATIVE_ERROR: f64 = 0.01;
/// At most this many bins per sign: at 1% error they cover 1 µs to well past a day.
const MAX_BINS: u32 = 2048;
/// Values at or below this (µs) count as zero.
const MIN_VALUE: f64 = 1.0e-9;

fn config() -> Config {
    Config::new(RELATIVE_ERROR, MAX_BINS, MIN_VALUE)
}

/// Latencies of a set of calls, mergeable, with quantiles within 1% of the true value.
#[derive(Clone)]
pub struct LatencySketch {
    sketch: DDSketch,
}

impl std::fmt::Debug for LatencySketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencySketch").field("count", &self.count()).finish()
    }
}

impl Default for LatencySketch {
    fn default() -> Self {
        LatencySketch::new()
    }
}

impl LatencySketch {
    pub fn new() -> LatencySketch {
        LatencySketch { sketch: DDSketch::new(config()) }
    }

    /// Adds one latency, in microseconds.
    pub fn add_micros(&mut self, micros: u64) {
        // Exact up to 2^53 µs (285 years).
        self.sketch.add(micros as f64);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &LatencySketch) {
        // Both sketches always have the configuration of `config()`: merging cannot fail.
        if let Err(error) = self.sketch.merge(&other.sketch) {
            tracing::error!(%error, "latency sketches with different configurations");
        }
    }

    /// The `q` quantile (0 ≤ q ≤ 1) in milliseconds; `None` when empty (or `q` is outside
    /// 0..=1).
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.sketch.quantile(q).ok().flatten().map(|micros| micros / 1000.0)
    }

    /// How many values were added.
    pub fn count(&self) -> u64 {
        self.sketch.count() as u64
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        if self.count() == 0 {
            // An empty sketch's minimum and maximum are infinite, which JSON cannot hold.
            return Vec::new();
        }
        serde_json::to_vec(&self.sketch).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<LatencySketch, CallsError> {
        if bytes.is_empty() {
            return Ok(LatencySketch::new());
        }
        let invalid =
            |error: serde_json::Error| CallsError::Other(format!("a stored latency sketch is invalid: {error}"));
        let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(invalid)?;
        let Some(fields) = value.as_object_mut() else {
            return Err(CallsError::Other("a stored latency sketch is not an object".into()));
        };
        // Our own configuration, bit for bit (a `Value` keeps an f64 as it is).
        fields.insert("config".into(), serde_json::to_value(config()).map_err(invalid)?);
        let sketch: DDSketch = serde_json::from_value(value).map_err(invalid)?;
        Ok(LatencySketch { sketch })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact `q` quantile of sorted `values` in the sketch's rank convention.
    fn exact(sorted: &[u64], q: f64) -> f64 {
        let rank = (q * (sorted.len() as f64 - 1.0)) as usize;
        sorted[rank] as f64 / 1000.0
    }

    fn within_one_percent(got: Option<f64>, want: f64) {
        let got = got.unwrap();
        assert!((got - want).abs() <= want * RELATIVE_ERROR + 1e-9, "got {got}, want {want} ± 1%");
    }

    /// A deterministic spread of latencies from 50 µs to about 4 s.
    fn samples(n: u64, seed: u64) -> Vec<u64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                50 + (x >> 33) % 4_000_000
            })
            .collect()
    }

    #[test]
    fn percentiles_are_within_one_percent() {
        let values = samples(5000, 7);
        let mut sketch = LatencySketch::new();
        for &v in &values {
            sketch.add_micros(v);
        }
        let mut sorted = values.clone();
        sorted.sort_unstable();
        assert_eq!(sketch.count(), 5000);
        for q in [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999] {
            within_one_percent(sketch.quantile_ms(q), exact(&sorted, q));
        }
    }

    #[test]
    fn known_samples_give_known_percentiles() {
        // 1 ms .. 100 ms: p50 is 50 ms, p99 is 99 ms (rank ⌊q·(n−1)⌋).
        let mut sketch = LatencySketch::new();
        for ms in 1..=100u64 {
            sketch.add_micros(ms * 1000);
        }
        within_one_percent(sketch.quantile_ms(0.5), 50.0);
        within_one_percent(sketch.quantile_ms(0.95), 95.0);
        within_one_percent(sketch.quantile_ms(0.99), 99.0);
    }

    #[test]
    fn an_empty_sketch_has_no_percentiles() {
        let sketch = LatencySketch::new();
        assert_eq!(sketch.count(), 0);
        assert_eq!(sketch.quantile_ms(0.5), None);
        assert!(sketch.to_bytes().is_empty());
        assert_eq!(LatencySketch::from_bytes(&[]).unwrap().count(), 0);
    }

    #[test]
    fn merging_equals_adding_everything() {
        let (a_values, b_values) = (samples(3000, 1), samples(2000, 2));
        let (mut a, mut b, mut all) = (LatencySketch::new(), LatencySketch::new(), LatencySketch::new());
        for &v in &a_values {
            a.add_micros(v);
            all.add_micros(v);
        }
        for &v in &b_values {
            b.add_micros(v);
            all.add_micros(v);
        }
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        for q in [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 1.0] {
            assert_eq!(a.quantile_ms(q), all.quantile_ms(q), "q = {q}");
        }
    }

    #[test]
    fn bytes_round_trip_and_merge() {
        let mut a = LatencySketch::new();
        for &v in &samples(1000, 3) {
            a.add_micros(v);
        }
        let back = LatencySketch::from_bytes(&a.to_bytes()).unwrap();
        assert_eq!(back.count(), a.count());
        for q in [0.5, 0.95, 0.99] {
            assert_eq!(back.quantile_ms(q), a.quantile_ms(q));
        }
        let mut merged = LatencySketch::new();
        merged.merge(&back);
        merged.merge(&back);
        assert_eq!(merged.count(), 2000);
        assert!(LatencySketch::from_bytes(b"not json").is_err());
    }
}
