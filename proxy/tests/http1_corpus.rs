//! Replays the HTTP/1 head fuzzer's corpus (`proxy/fuzz/corpus/http1_head/`, grown by
//! `cargo fuzz run http1_head`) through the same differential check, so every input it ever
//! found stays checked on every test run without the fuzzer.

#[path = "../fuzz/differential.rs"]
mod differential;

#[test]
fn every_fuzz_corpus_input_is_read_alike_by_the_edge_httparse_and_pingora() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/http1_head");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut inputs: Vec<_> =
        std::fs::read_dir(&dir).expect("the corpus").map(|e| e.expect("an entry").path()).collect();
    inputs.sort();
    assert!(inputs.len() >= 100, "the corpus holds {} inputs", inputs.len());
    for input in inputs {
        let data = std::fs::read(&input).expect("an input");
        let checked = std::panic::catch_unwind(|| differential::check(&data, &runtime));
        assert!(checked.is_ok(), "{} ({:?})", input.display(), String::from_utf8_lossy(&data));
    }
}
