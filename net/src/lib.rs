//! The one outbound network policy. Every connection Sluice opens to a host someone typed — a
//! registered API's upstream, a PostgreSQL or MySQL datasource — is decided by [`SsrfPolicy`]:
//! the host is resolved once, every address is checked against the refused ranges (loopback,
//! private, link-local, cloud metadata, …) unless a platform admin allowed it, and the caller
//! connects to exactly the checked address. [`client`] is the HTTP client built on it for URLs
//! that are not upstreams (webhook receivers, OpenAPI documents by URL).

pub mod cidr;
pub mod client;
pub mod ssrf;

pub use ssrf::{CheckedTarget, SsrfError, SsrfPolicy, UpstreamUrl, classify};
