//! Catalog → OpenAPI 3.1 documents for the callers of Sluice's APIs.
//!
//! This crate owns how an API looks from the outside: given an [`Api`](catalog::model::Api)
//! and the [`ApiVersion`](catalog::model::ApiVersion) to describe, it writes the operation a
//! caller calls — method, path, parameters by position with their types, required flags,
//! examples, descriptions and `x-sluice-security-level` (L1–L4), the reserved parameters
//! (`pageNum`/`pageSize`/`withTotal`, native `sql`), the OK envelope with the schema of the
//! rows, every error the edge answers with its stable codes, and the security schemes callers
//! present (`X-Sluice-App-Key` or `Authorization: Bearer`).
//!
//! - [`api_document`]: one API version.
//! - [`workgroup_document`]: many APIs in one document (one `{ApiName}Row` schema per data
//!   API).
//! - [`app_document`]: the APIs one app may call, as that app sees them: parameters and
//!   fields above its clearance left out ([`for_clearance`]), APIs it may not call left out.
//! - [`to_json`]: pretty JSON; [`write_json`]: pretty or compact JSON into any writer.
//!
//! Each is a [`Document`]: a plan whose operations are built while it is written, one path
//! item at a time, so that the memory a document takes is about the size of its output.
//! Everything operations have in common is written once under `components` and referred to:
//! the `Envelope` and `Error` schemas, the error responses that read the same for many
//! operations (404, 413, 429, 500, 502, 504, native 403), the `X-Request-Id` and
//! `Server-Timing` headers and the `X-Sluice-Env`, `pageNum`, `pageSize` and `withTotal`
//! parameters.
//!
//! It depends on `catalog` only: the documents follow what `proxy/src/edge.rs` and
//! `plugins::sql` do, and must be kept in step with them by hand (codes, reserved names,
//! encodings). A registered API is described from the caller's side only; its upstream URL,
//! upstream names and constants never appear.

mod document;
mod operation;
mod responses;
mod schema;
mod workflow;

pub use document::{
    APP_KEY_HEADER, APP_KEY_SCHEME, APP_TOKEN_SCHEME, Document, api_document, app_document, for_clearance,
    marketplace_document, to_json, workgroup_document, write_json,
};
pub use responses::ERROR_CODES_EXTENSION;
pub use schema::SECURITY_LEVEL_EXTENSION;
/// The document type, re-exported so that callers need no `utoipa` dependency of their own.
pub use utoipa::openapi::OpenApi;
