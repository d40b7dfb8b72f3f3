//! Cost of one call of the seed function (issue 17, W3): queueing to an
//! interpreter thread, running `json.loads` on the event and converting back.

use criterion::{Criterion, criterion_group, criterion_main};
use sandbox::{Function, Limits, MeteredAlloc};
use serde_json::json;

#[global_allocator]
static ALLOC: MeteredAlloc<mimalloc::MiMalloc> = MeteredAlloc::new(mimalloc::MiMalloc);

const SEED: &str =
    "# -*- coding: utf-8 -*-\nimport json\ndef handler(event,context):\n    obj = json.loads(event)\n    return obj\n";

fn seed(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_time().build() else {
        return;
    };
    let Ok(function) = Function::compile("seed", SEED) else {
        return;
    };
    let event = json!({"user_id": 1042, "name": "Ada", "orders": [{"id": 1, "total": 9.5}, {"id": 2, "total": 12.0}]});
    let context = json!({"requestId": "b3c1", "workgroup": "demo"});
    c.bench_function("seed_function_call", |b| {
        b.iter(|| runtime.block_on(function.call(&event, &context, Limits::default())))
    });
    // Criterion times the caller (queueing, the thread hop and back); the
    // interpreter thread's own CPU per call is the figure issue 17's W3 asks.
    let calls = 5_000_u32;
    let mut cpu = std::time::Duration::ZERO;
    for _ in 0..calls {
        let (_, stats) = runtime.block_on(function.call_with_stats(&event, &context, Limits::default()));
        cpu += stats.map(|s| s.cpu).unwrap_or_default();
    }
    println!("seed_function_call: {:.1?} CPU per call on the interpreter thread", cpu / calls);
}

criterion_group!(benches, seed);
criterion_main!(benches);
