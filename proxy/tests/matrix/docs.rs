// Routes of `proxy/src/admin/docs.rs` with who may call them (included by admin_matrix.rs).
pub const DOCS: &[(&str, &str, Expect)] = &[];
