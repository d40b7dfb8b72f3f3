// Routes of `proxy/src/admin/apis.rs` with who may call them (included by admin_matrix.rs).
pub const APIS: &[(&str, &str, Expect)] = &[];
