//! The domain model: what a datasource and a data API are, as users define them, and who calls
//! and manages them.
//!
//! These types are plain data (serde in and out). They hold no connections and run nothing;
//! `plugins` compiles them into executable plans, `store` persists them. One submodule per
//! aggregate, each re-exported here: `datasource` (datasources), `definition` (what a version
//! of an API does), `api` (APIs, versions, publications), `callers` (apps, grants, gray
//! release, security levels), `access` (workgroups, users, tokens, members, folders, audit),
//! `market` (marketplace listings and approvals), `alarm` (alarm rules, templates, history), `workflow` (workflow graphs, checked and run
//! by `sluice-workflow`) and `notify` (notifications, webhook channels and their deliveries).

mod access;
mod alarm;
mod api;
mod callers;
mod datasource;
mod definition;
mod market;
mod notify;
mod workflow;

pub use access::*;
pub use alarm::*;
pub use api::*;
pub use callers::*;
pub use datasource::*;
pub use definition::*;
pub use market::*;
pub use notify::*;
pub use workflow::*;
