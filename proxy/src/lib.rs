//! Sluice's edge on pingora: reads each call ([`edge_app`], [`http1`], [`session_lane`]),
//! answers it from an immutable route table ([`routes`]) kept fresh by the catalog watcher
//! ([`watcher`]), authenticates and limits callers ([`callers`], [`signature`], [`limiter`]),
//! runs data APIs in place ([`edge`]) and forwards registered ones ([`forward`]).
//!
//! This and the `sluice` binary are the only crates that depend on pingora.

pub mod callers;
pub mod client_addr;
pub mod drain;
pub mod edge;
pub mod edge_app;
mod forward;
mod forward_json;
pub mod header_policy;
pub mod http1;
pub mod in_process;
pub mod limiter;
pub mod replay;
pub mod request_headers;
pub mod routes;
pub mod session_lane;
pub mod shared_state;
pub mod signature;
pub mod tls;
pub mod watcher;
