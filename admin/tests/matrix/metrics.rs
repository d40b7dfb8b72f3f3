// The route of `admin/src/metrics.rs` with who may call it (included by matrix.rs).

pub fn metrics() -> Vec<Row> {
    vec![Row { method: "GET", path: "/metrics", expect: Expect::Scraper, prepare: |_| ("/metrics".to_owned(), None) }]
}
