// Routes of `proxy/src/admin/datasources.rs` with who may call them (included by admin_matrix.rs).
// Each row's `prepare` creates, as the platform admin, what an allowed call needs.

pub fn datasources() -> Vec<Row> {
    vec![]
}
