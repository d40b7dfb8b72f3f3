//! Catalog → OpenAPI 3.1 documents: one per API version, per app and per workgroup.
//!
//! Empty until the management API milestone; it will depend on `catalog` only, never on the edge.
