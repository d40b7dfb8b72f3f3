//! What exists in Sluice: the domain model ([`model`]), the metadata store ([`store`]), the
//! rules of the shared path space ([`route_space`]) and the secret box that encrypts stored
//! credentials ([`secret`]).
//!
//! The catalog never runs an API and never depends on the edge; `plugins` and `proxy` read it.

pub mod model;
pub mod route_space;
pub mod secret;
pub mod store;
