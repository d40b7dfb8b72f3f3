// Routes of `proxy/src/admin/apis.rs` with who may call them (included by admin_matrix.rs).
// Each row's `prepare` creates, as the platform admin, what an allowed call needs.

pub fn apis() -> Vec<Row> {
    vec![]
}
