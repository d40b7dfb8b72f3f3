//! The latency sketch of a rollup: a DDSketch (relative error 1%), mergeable across minutes,
//! APIs and nodes, stored as bytes.
//!
//! Values go in as microseconds and come out as milliseconds. The stored form is the sketch's
//! serde JSON with sparse bins (see [`LatencySketch::to_bytes`]); an empty sketch is stored
//! as no bytes. On reading, the configuration is always
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

    /// The stored form: the sketch's serde JSON without its configuration, each store's
    /// `bins` (mostly zeros, in chunks of 128) as `{"len": n, "at": [i…], "n": [count…]}` of
    /// the bins that are not zero. No bytes for an empty sketch.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.count() == 0 {
            // An empty sketch's minimum and maximum are infinite, which JSON cannot hold.
            return Vec::new();
        }
        let Ok(mut value) = serde_json::to_value(&self.sketch) else { return Vec::new() };
        if let Some(fields) = value.as_object_mut() {
            fields.remove("config");
            for store in STORES {
                if let Some(bins) = fields.get_mut(store).and_then(|s| s.get_mut("bins")) {
                    *bins = sparse(bins);
                }
            }
        }
        serde_json::to_vec(&value).unwrap_or_default()
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
        for store in STORES {
            if let Some(bins) = fields.get_mut(store).and_then(|s| s.get_mut("bins")) {
                *bins = dense(bins)?;
            }
        }
        let sketch: DDSketch = serde_json::from_value(value).map_err(invalid)?;
        Ok(LatencySketch { sketch })
    }
}

/// The sketch's two stores, in its serde form.
const STORES: [&str; 2] = ["store", "negative_store"];

/// At most this many bins in a stored store (the sketch never has more than `MAX_BINS`
/// plus a chunk): a corrupt length cannot make a huge allocation.
const MAX_STORED_BINS: u64 = 4 * MAX_BINS as u64;

/// A dense `bins` array as its length and the bins that are not zero.
fn sparse(bins: &serde_json::Value) -> serde_json::Value {
    let Some(all) = bins.as_array() else { return bins.clone() };
    let (mut at, mut n) = (Vec::new(), Vec::new());
    for (i, count) in all.iter().enumerate() {
        if count.as_u64() != Some(0) {
            at.push(serde_json::Value::from(i));
            n.push(count.clone());
        }
    }
    serde_json::json!({ "len": all.len(), "at": at, "n": n })
}

/// The dense `bins` array back from [`sparse`]'s form (an array is taken as it is).
fn dense(bins: &serde_json::Value) -> Result<serde_json::Value, CallsError> {
    if bins.is_array() {
        return Ok(bins.clone());
    }
    let corrupt = || CallsError::Other("a stored latency sketch's bins are invalid".into());
    let len = bins.get("len").and_then(|v| v.as_u64()).filter(|len| *len <= MAX_STORED_BINS).ok_or_else(corrupt)?;
    let at = bins.get("at").and_then(|v| v.as_array()).ok_or_else(corrupt)?;
    let n = bins.get("n").and_then(|v| v.as_array()).ok_or_else(corrupt)?;
    if at.len() != n.len() {
        return Err(corrupt());
    }
    let mut all = vec![0u64; usize::try_from(len).map_err(|_| corrupt())?];
    for (i, count) in at.iter().zip(n) {
        let i = i.as_u64().and_then(|i| usize::try_from(i).ok()).ok_or_else(corrupt)?;
        *all.get_mut(i).ok_or_else(corrupt)? = count.as_u64().ok_or_else(corrupt)?;
    }
    Ok(serde_json::Value::from(all))
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
        assert!(LatencySketch::from_bytes(b"[1, 2]").is_err());
    }

    #[test]
    fn the_stored_form_is_small_and_checked() {
        let mut one = LatencySketch::new();
        one.add_micros(12_000);
        let bytes = one.to_bytes();
        assert!(bytes.len() < 400, "{} bytes: {}", bytes.len(), String::from_utf8_lossy(&bytes));
        let back = LatencySketch::from_bytes(&bytes).unwrap();
        assert_eq!((back.count(), back.quantile_ms(0.5)), (1, one.quantile_ms(0.5)));
        // The serde form with dense bins (and any configuration) reads too.
        let dense = serde_json::to_vec(&one.sketch).unwrap();
        assert_eq!(LatencySketch::from_bytes(&dense).unwrap().quantile_ms(0.5), one.quantile_ms(0.5));
        // Bins out of range, or a huge length, are refused.
        let text = String::from_utf8(bytes).unwrap();
        let len = serde_json::from_str::<serde_json::Value>(&text).unwrap()["store"]["bins"]["len"].as_u64().unwrap();
        let out_of_range = text.replacen(&format!("\"len\":{len}"), "\"len\":0", 1);
        assert!(LatencySketch::from_bytes(out_of_range.as_bytes()).is_err(), "{out_of_range}");
        let huge = text.replacen(&format!("\"len\":{len}"), "\"len\":99999999999", 1);
        assert!(LatencySketch::from_bytes(huge.as_bytes()).is_err());
    }
}
