//! Runs the hostile corpus several functions at a time to show the
//! interpreter threads stay healthy under a mixed hostile load.

mod common;

use std::sync::Arc;

use common::{assert_healthy, class_of, corpus, run};
use sandbox::MeteredAlloc;
use tokio::sync::Semaphore;

#[global_allocator]
static ALLOC: MeteredAlloc<mimalloc::MiMalloc> = MeteredAlloc::new(mimalloc::MiMalloc);

/// Calls in flight at once: more than the interpreter threads, so some wait
/// in the queue, fewer than the queue holds, so none is refused as busy.
const IN_FLIGHT: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_runs_concurrently() {
    let cases = corpus();
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = Vec::new();
    for case in cases {
        let permit = Arc::clone(&gate).acquire_owned().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let result = run(&case).await.result;
            drop(permit);
            let class = class_of(&result);
            (!case.expect.split('|').any(|e| e == class))
                .then(|| format!("{}: expected {}, got {class}: {result:?}", case.name, case.expect))
        }));
    }
    let mut failures = Vec::new();
    for task in tasks {
        failures.extend(task.await.unwrap());
    }
    assert!(failures.is_empty(), "{} failed:\n{}", failures.len(), failures.join("\n"));
    for _ in 0..4 {
        assert_healthy().await;
    }
}
