// Routes of `proxy/src/admin/datasources.rs` with who may call them (included by admin_matrix.rs).
pub const DATASOURCES: &[(&str, &str, Expect)] = &[];
