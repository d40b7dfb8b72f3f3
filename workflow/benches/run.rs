//! What the composition costs: a 3-node serial workflow (api → function → api → end) with a
//! host whose calls do nothing, so the time is the engine's own (parameter passing, output
//! mappings, the deadline timer). `baseline` is an empty `block_on`, to subtract. Also the two
//! ways of evaluating a JSONPath: parsed once (as compile does) and parsed on every call.

use std::hint::black_box;
use std::time::Duration;

use async_trait::async_trait;
use catalog::model::WorkflowSpec;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonpath_rust::JsonPath;
use serde_json::{Map, Value, json};
use workflow::{NodeError, NodeHost, Path, RunOptions, compile, run};

struct NoOp {
    answer: Value,
}

#[async_trait]
impl NodeHost for NoOp {
    fn api_params(&self, _api: &str) -> Option<Vec<String>> {
        Some(vec!["id".to_owned()])
    }
    async fn call_api(&self, _api: &str, _params: Map<String, Value>, _depth: u32) -> Result<Value, NodeError> {
        Ok(self.answer.clone())
    }
    async fn call_function(&self, _f: &str, event: Value, _t: Option<Duration>) -> Result<Value, NodeError> {
        Ok(event)
    }
}

fn serial() -> WorkflowSpec {
    let spec = json!({"start": "users", "nodes": [
        {"id": "users", "kind": "api", "api": "users", "params": {"id": "${START.id}"}, "output": {"user_id": "$.data[0].id"}, "next": ["shape"]},
        {"id": "shape", "kind": "function", "function": "identity", "next": ["orders"]},
        {"id": "orders", "kind": "api", "api": "orders", "params": {"id": "$.user_id"}, "next": ["END"]},
        {"id": "END", "kind": "end", "output": {"user": "${users.user_id}", "first": "$.data[0]"}}
    ]});
    serde_json::from_value(spec).unwrap_or_else(|e| panic!("{e}"))
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap_or_else(|e| panic!("{e}"));
    let wf = compile(&serial(), &["id".to_owned()]).unwrap_or_else(|e| panic!("{e}"));
    let host = NoOp { answer: json!({"data": [{"id": 7, "name": "ann", "total": 12.5}]}) };
    let request: Map<String, Value> = [("id".to_owned(), json!(7))].into_iter().collect();
    c.bench_function("baseline_block_on", |b| b.iter(|| runtime.block_on(async { black_box(1) })));
    c.bench_function("serial_3_nodes", |b| {
        b.iter(|| runtime.block_on(run(&wf, &host, black_box(request.clone()), RunOptions::default())))
    });
    c.bench_function("serial_3_nodes_traced", |b| {
        let options = RunOptions { traced: true, ..RunOptions::default() };
        b.iter(|| runtime.block_on(run(&wf, &host, black_box(request.clone()), options.clone())))
    });
    let value = &host.answer;
    let path = Path::parse("$.data[0].id").unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("jsonpath_parsed_once", |b| b.iter(|| path.select(black_box(value)).into_owned()));
    c.bench_function("jsonpath_parsed_each_time", |b| {
        b.iter(|| black_box(value).query("$.data[0].id").map(|found| found.first().map(|v| (*v).clone())))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
