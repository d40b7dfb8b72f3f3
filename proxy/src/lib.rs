//! The Sluice process: configuration ([`conf`]), the pingora edge ([`edge`]) answering from
//! an immutable route table ([`routes`]) and proxying registered APIs ([`registered`]), the
//! admin service ([`admin`]), start-up and the server ([`serve`]), the first-start demo
//! ([`demo`]), declarative files ([`declarative`]) and the `sluice` commands ([`cli`]).
//!
//! This is the only crate that depends on pingora.

pub mod admin;
pub mod api_rules;
pub mod callers;
pub mod cli;
pub mod client_addr;
pub mod conf;
pub mod declarative;
pub mod demo;
pub mod drain;
pub mod edge;
pub mod edge_app;
mod forward;
pub mod header_policy;
pub mod http1;
pub mod limiter;
pub mod outbound;
pub mod registered;
pub mod replay;
pub mod request_headers;
pub mod routes;
pub mod serve;
pub mod session_lane;
pub mod signature;
pub mod tls;
