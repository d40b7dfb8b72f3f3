//! A flood of calls beyond the queue is refused as `Busy`, not buffered, and
//! the pool serves normally once it drains. Its own binary: a full queue
//! would refuse other tests' calls.

use sandbox::{Function, FunctionError, Limits, MeteredAlloc};
use serde_json::json;

#[global_allocator]
static ALLOC: MeteredAlloc<mimalloc::MiMalloc> = MeteredAlloc::new(mimalloc::MiMalloc);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_refused_as_busy() {
    let spin = Function::compile("spin", "def handler(event, context):\n    while True:\n        pass\n").unwrap();
    let limits = Limits { cpu_ms: 20, ..Limits::default() };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let calls = threads * 32 + threads + 40;
    let tasks: Vec<_> = (0..calls)
        .map(|_| {
            let spin = spin.clone();
            tokio::spawn(async move { spin.call(&json!({}), &json!({}), limits).await })
        })
        .collect();
    let mut busy = 0;
    for task in tasks {
        match task.await.unwrap() {
            Err(FunctionError::Busy) => busy += 1,
            Err(FunctionError::Timeout { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(busy > 0, "none of {calls} calls was refused");
    assert_eq!(FunctionError::Busy.code(), "Workflow.FunctionError");
    let echo = Function::compile("echo", "def handler(event, context):\n    return event\n").unwrap();
    assert_eq!(echo.call(&json!([1]), &json!({}), Limits::default()).await.unwrap(), json!("[1]"));
}
