//! Runs every hostile function in `corpus/` one at a time under small limits
//! and checks that each ends as its header says, stops within its limit +
//! 50 ms, and leaves the runner able to serve a normal call.
//!
//! The bound is checked on the interpreter thread's CPU time, the budget the
//! issue sets; wall time is reported beside it, since on a shared machine it
//! also counts time the thread waited for a core. A call the interpreter
//! cannot stop (`# bound: watchdog`) must be abandoned by the watchdog.
//! One test per binary on purpose: another test sharing the interpreter
//! threads would put queueing time into the figures.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{LIMITS, SLACK, assert_healthy, class_of, corpus, run};
use sandbox::MeteredAlloc;

#[global_allocator]
static ALLOC: MeteredAlloc<mimalloc::MiMalloc> = MeteredAlloc::new(mimalloc::MiMalloc);

#[derive(Default)]
struct Worst {
    cpu: (Duration, String),
    wall: (Duration, String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_function_is_stopped_in_time() {
    let cases = corpus();
    assert!(cases.len() >= 60, "only {} corpus files", cases.len());
    let limit = Duration::from_millis(LIMITS.cpu_ms);
    let mut failures = Vec::new();
    let mut worst: BTreeMap<String, Worst> = BTreeMap::new();
    for case in &cases {
        let outcome = run(case).await;
        let class = class_of(&outcome.result);
        if !case.expect.split('|').any(|e| e == class) {
            failures.push(format!("{}: expected {}, got {class}: {:?}", case.name, case.expect, outcome.result));
        }
        match outcome.cpu {
            Some(cpu) if cpu > limit + SLACK => {
                failures.push(format!("{}: used {cpu:?} of CPU, past {limit:?} + {SLACK:?}", case.name));
            }
            None if outcome.wall > case.bound || case.bound <= limit + SLACK => {
                failures.push(format!("{}: abandoned after {:?} (bound {:?})", case.name, outcome.wall, case.bound));
            }
            _ => {}
        }
        let key = if outcome.cpu.is_none() { format!("{class} (watchdog)") } else { class };
        let w = worst.entry(key).or_default();
        let cpu = outcome.cpu.unwrap_or_default();
        if cpu >= w.cpu.0 {
            w.cpu = (cpu, case.name.clone());
        }
        if outcome.wall >= w.wall.0 {
            w.wall = (outcome.wall, case.name.clone());
        }
        assert_healthy().await;
    }
    println!("slowest stop per class, limit {limit:?} (CPU of the interpreter thread; caller's wall):");
    for (class, w) in &worst {
        println!("{class:>28}: cpu {:>9.1?} ({}), wall {:>9.1?} ({})", w.cpu.0, w.cpu.1, w.wall.0, w.wall.1);
    }
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
