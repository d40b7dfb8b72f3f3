// Routes of `proxy/src/admin/docs.rs` with who may call them (included by admin_matrix.rs).
// Each row's `prepare` creates, as the platform admin, what an allowed call needs.

pub fn docs() -> Vec<Row> {
    vec![]
}
