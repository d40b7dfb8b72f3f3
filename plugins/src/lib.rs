//! How Sluice APIs run. Each kind of API is a plugin; today that is the SQL plugin ([`sql`])
//! with its wizard, script and native modes.
//!
//! Plugins never depend on the edge (pingora): they take typed requests and return bytes.

pub mod error;
pub mod sql;

pub use error::ApiError;
