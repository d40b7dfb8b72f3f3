//! What exists in Sluice: the domain model ([`model`]), the metadata store ([`store`]), the
//! rules of the shared path space ([`route_space`]) and the secret box that encrypts stored
//! credentials ([`secret`]).
//!
//! The catalog never runs an API and never depends on the edge; `plugins` and `proxy` read it.

pub mod model;
pub mod route_space;
pub mod secret;
pub mod store;

/// Milliseconds since the Unix epoch (0 on a clock set before it): the one clock behind the
/// catalog's timestamps and the proxy's expiry checks.
#[inline]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
