//! Running workflows against a test host: seed 001's example, parameter passing, switch,
//! parallel, timeouts, deadline, `continueOnError` and the errors' codes.

mod common;

use std::time::Duration;

use common::{TestHost, compiled, request};
use serde_json::{Value, json};
use workflow::{NodeStatus, PlanStep, RunOptions, WorkflowError, run, run_traced};

/// Seed 001: API1 (output `{"user_id": "$.data[0].id"}`) → PYTHON1 → SWITCH2 on `$.user_id`
/// → END.
fn seed() -> Value {
    json!({
        "start": "API1",
        "nodes": [
            {"id": "API1", "kind": "api", "api": "users", "output": {"user_id": "$.data[0].id"}, "next": ["PYTHON1"]},
            {"id": "PYTHON1", "kind": "function", "function": "identity", "next": ["SWITCH2"]},
            {"id": "SWITCH2", "kind": "switch", "branches": [
                {"condition": "$.user_id != 1", "next": "other"},
                {"condition": "$.user_id == 1", "next": "END"}
            ]},
            {"id": "other", "kind": "function", "function": "identity", "params": {"note": "not one"}, "next": ["END"]},
            {"id": "END", "kind": "end", "output": {"user_id": "$.user_id", "note": "$.note", "asked": "${START.id}"}}
        ]
    })
}

fn traced() -> RunOptions {
    RunOptions { traced: true, ..RunOptions::default() }
}

#[tokio::test]
async fn the_seeds_example_takes_each_branch() {
    let wf = compiled(seed(), &["id"]);
    let host = TestHost::default();
    let out = run(&wf, &host, request(json!({"id": 1})), traced()).await.expect("runs");
    assert_eq!(out.output, json!({"user_id": 1, "note": null, "asked": 1}));
    let trace = out.trace.expect("traced");
    let nodes: Vec<&str> = trace.iter().map(|t| t.node.as_str()).collect();
    assert_eq!(nodes, ["API1", "PYTHON1", "SWITCH2", "END"]);
    // Same-name mapping from the request into the API, the output mapping on its result.
    assert_eq!(trace[0].input, json!({"id": 1}));
    assert_eq!(trace[0].output, json!({"user_id": 1}));
    assert_eq!(trace[1].input, json!({"user_id": 1}));
    assert_eq!(trace[2].output, json!({"branch": 1}));
    assert!(trace.iter().all(|t| t.status == NodeStatus::Ok));

    let out = run(&wf, &host, request(json!({"id": 2})), RunOptions::default()).await.expect("runs");
    assert_eq!(out.output, json!({"user_id": 2, "note": "not one", "asked": 2}));
    assert_eq!(out.trace, None);
}

#[tokio::test]
async fn unset_api_params_take_same_named_fields_of_the_previous_output() {
    let wf = compiled(
        json!({"start": "first", "nodes": [
            {"id": "first", "kind": "api", "api": "open", "params": {"a": "${START.x}", "b": "lit", "c": "$$3"}, "next": ["second"]},
            {"id": "second", "kind": "api", "api": "echo", "params": {"b": "$.c"}, "next": ["third"]},
            {"id": "third", "kind": "api", "api": "echo", "next": ["END"]},
            {"id": "END", "kind": "end", "output": {"all": "${first}", "b": "${second.b}", "whole": "$", "req": "${START}"}}
        ]}),
        &["x"],
    );
    let host = TestHost::default();
    let out = run(&wf, &host, request(json!({"x": 5, "a": "not passed"})), RunOptions::default()).await.expect("runs");
    let calls = host.calls();
    // `open` declares nothing it knows of (unknown API): it gets the request and its params.
    assert_eq!(calls[0].input, json!({"x": 5, "a": 5, "b": "lit", "c": "$3"}));
    // `echo` takes a and b: a by name from the previous output, b as set; c is not its param.
    assert_eq!(calls[1].input, json!({"a": 5, "b": "$3"}));
    assert_eq!(calls[2].input, json!({"a": 5, "b": "$3"}));
    assert_eq!(
        out.output,
        json!({"all": {"x": 5, "a": 5, "b": "lit", "c": "$3"}, "b": "$3", "whole": {"a": 5, "b": "$3"}, "req": {"x": 5, "a": "not passed"}})
    );
}

#[tokio::test]
async fn functions_get_the_previous_output_with_their_params_over_it() {
    let wf = compiled(
        json!({"start": "f", "nodes": [
            {"id": "f", "kind": "function", "function": "identity", "params": {"extra": "${START.id}"}, "next": ["END"]},
            {"id": "END", "kind": "end"}
        ]}),
        &["id"],
    );
    let out =
        run(&wf, &TestHost::default(), request(json!({"id": 3, "k": "v"})), RunOptions::default()).await.expect("runs");
    assert_eq!(out.output, json!({"id": 3, "k": "v", "extra": 3}));
}

fn parallel(first: &str, second: &str) -> Value {
    json!({"start": "P", "nodes": [
        {"id": "P", "kind": "parallel", "branches": ["A", "B"]},
        {"id": "A", "kind": "api", "api": first, "next": ["J"]},
        {"id": "B", "kind": "api", "api": second, "next": ["J"]},
        {"id": "J", "kind": "function", "function": "identity", "params": {"a": "${A.from}", "b": "${B.from}"}, "next": ["END"]},
        {"id": "END", "kind": "end"}
    ]})
}

#[tokio::test]
async fn parallel_branches_run_at_once_and_join() {
    let wf = compiled(parallel("slow_a", "slow_b"), &[]);
    let host = TestHost::default();
    let out = run(&wf, &host, request(json!({})), traced()).await.expect("runs");
    assert_eq!(out.output, json!({"A": {"from": "slow_a"}, "B": {"from": "slow_b"}, "a": "slow_a", "b": "slow_b"}));
    let calls = host.calls();
    let (a, b) = (&calls[0], &calls[1]);
    let (a_end, b_end) = (a.ended.expect("a ended"), b.ended.expect("b ended"));
    // Each call started before the other ended: the intervals overlap.
    assert!(a.started < b_end && b.started < a_end, "{calls:?}");
    let nodes: Vec<String> = out.trace.expect("traced").into_iter().map(|t| t.node).collect();
    assert_eq!(nodes, ["A", "B", "P", "J", "END"]);
}

#[tokio::test]
async fn the_first_failed_branch_cancels_the_others() {
    let wf = compiled(parallel("hang", "fails"), &[]);
    let host = TestHost::default();
    let err = run(&wf, &host, request(json!({})), RunOptions::default()).await.expect_err("fails");
    assert_eq!(err.code(), "Workflow.NodeFailed.B");
    assert_eq!(err.message(), "B → InvalidParameter.status: not one of new, paid");
    let calls = host.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].name.as_str(), calls[0].ended), ("hang", None), "dropped, not finished");
}

fn single(kind: Value, extra: Value) -> Value {
    let mut node = json!({"id": "N", "next": ["END"]});
    for source in [kind, extra] {
        if let (Some(node), Value::Object(more)) = (node.as_object_mut(), source) {
            node.extend(more);
        }
    }
    json!({"start": "N", "nodes": [node, {"id": "END", "kind": "end"}]})
}

async fn fails(kind: Value, extra: Value) -> WorkflowError {
    let wf = compiled(single(kind, extra), &[]);
    run(&wf, &TestHost::default(), request(json!({})), RunOptions::default()).await.expect_err("fails")
}

#[tokio::test]
async fn node_timeouts_and_the_deadline() {
    let api = json!({"kind": "api", "api": "hang"});
    let function = json!({"kind": "function", "function": "hang"});
    let e = fails(api.clone(), json!({"timeoutMs": 20})).await;
    assert_eq!(
        (e.code(), e.message()),
        ("Workflow.NodeFailed.N".into(), "N → Timeout: the call took longer than the node's timeout".into())
    );
    assert_eq!(
        fails(function.clone(), json!({"timeoutMs": 20})).await,
        WorkflowError::FunctionTimeout { node: "N".into() }
    );
    let wf = compiled(single(api, json!({})), &[]);
    let options = RunOptions { deadline: Some(Duration::from_millis(20)), ..RunOptions::default() };
    assert_eq!(run(&wf, &TestHost::default(), request(json!({})), options).await, Err(WorkflowError::Deadline));
    let mut spec = single(function, json!({}));
    spec["deadlineMs"] = json!(20);
    let e = run(&compiled(spec, &[]), &TestHost::default(), request(json!({})), RunOptions::default()).await;
    assert_eq!(e, Err(WorkflowError::Deadline));
}

#[tokio::test]
async fn function_failures_are_typed() {
    let e = fails(json!({"kind": "function", "function": "boom"}), json!({})).await;
    assert_eq!(e.code(), "Workflow.FunctionError");
    assert_eq!(e.message(), "N: ZeroDivisionError: division by zero (line 3)");
    let e = fails(json!({"kind": "function", "function": "too_slow"}), json!({})).await;
    assert_eq!(e, WorkflowError::FunctionTimeout { node: "N".into() });
}

#[tokio::test]
async fn continue_on_error_turns_a_failure_into_an_output() {
    let mut spec = single(json!({"kind": "api", "api": "fails"}), json!({"continueOnError": true}));
    spec["nodes"][1]["output"] = json!({"code": "$.error.code", "seen": "${N.error.message}"});
    let out = run(&compiled(spec, &[]), &TestHost::default(), request(json!({})), traced()).await.expect("runs");
    assert_eq!(out.output, json!({"code": "InvalidParameter.status", "seen": "not one of new, paid"}));
    assert_eq!(out.trace.expect("traced")[0].status, NodeStatus::Failed);
}

fn switch(condition: &str, default: bool) -> Value {
    let mut s = json!({"start": "S", "nodes": [
        {"id": "S", "kind": "switch", "branches": [{"condition": condition, "next": "END"}]},
        {"id": "D", "kind": "function", "function": "identity", "params": {"took": "default"}, "next": ["END"]},
        {"id": "END", "kind": "end"}
    ]});
    if default {
        s["nodes"][0]["default"] = json!("D");
    } else if let Some(nodes) = s["nodes"].as_array_mut() {
        nodes.remove(1);
    }
    s
}

#[tokio::test]
async fn switches_fall_to_the_default_or_fail_typed() {
    let host = TestHost::default();
    let wf = compiled(switch("${START.n} > 1", true), &["n"]);
    let out = run(&wf, &host, request(json!({"n": 1})), RunOptions::default()).await;
    assert_eq!(out.expect("runs").output, json!({"n": 1, "took": "default"}));
    let wf = compiled(switch("${START.n} > 1", false), &["n"]);
    let e = run(&wf, &host, request(json!({"n": 1})), RunOptions::default()).await.expect_err("no branch");
    assert_eq!(
        (e.code(), e.message()),
        ("Workflow.NoBranch".into(), "switch S: no condition holds and there is no default branch".into())
    );
    let e = run(&wf, &host, request(json!({"n": "x"})), RunOptions::default()).await.expect_err("types");
    assert_eq!(e.code(), "Workflow.Expression");
    assert_eq!(e.message(), "S: branch 0 `${START.n} > 1`: `>` cannot take a string and a number");
}

#[tokio::test]
async fn depth_is_limited() {
    let wf = compiled(seed(), &["id"]);
    let options = RunOptions { depth: workflow::MAX_DEPTH + 1, ..RunOptions::default() };
    let e = run(&wf, &TestHost::default(), request(json!({"id": 1})), options).await;
    assert_eq!(e.map(|o| o.output), Err(WorkflowError::DepthExceeded));
    assert_eq!(WorkflowError::DepthExceeded.code(), "Workflow.DepthExceeded");
}

#[test]
fn plan_lists_order_groups_and_references() {
    let wf = compiled(seed(), &["id"]);
    let plan = serde_json::to_value(wf.plan()).expect("serialises");
    assert_eq!(plan[0], json!({"step": "api", "node": "API1", "api": "users"}));
    assert_eq!(plan[2]["branches"][0]["condition"], "$.user_id != 1");
    assert_eq!(plan[2]["branches"][0]["steps"][0]["node"], "other");
    assert_eq!(plan[2]["branches"][1]["steps"], json!([]));
    assert_eq!(plan[3], json!({"step": "end", "node": "END"}));
    assert_eq!(wf.apis(), ["users"]);
    assert_eq!(wf.functions(), ["identity"]);
    let wf = compiled(parallel("slow_a", "slow_b"), &[]);
    let PlanStep::Parallel { branches, .. } = &wf.plan()[0] else { panic!("{:?}", wf.plan()) };
    assert_eq!(branches.len(), 2);
    assert_eq!(wf.apis(), ["slow_a", "slow_b"]);
}

#[tokio::test]
async fn switches_nest_in_parallel_branches_and_end_separately() {
    let wf = compiled(
        json!({"start": "S", "nodes": [
            {"id": "S", "kind": "switch", "branches": [{"condition": "${START.n} > 0", "next": "P"}], "default": "NEG"},
            {"id": "P", "kind": "parallel", "branches": ["A", "Q"]},
            {"id": "A", "kind": "api", "api": "echo", "params": {"a": "${START.n}"}, "next": ["J"]},
            {"id": "Q", "kind": "switch", "branches": [{"condition": "$.n == 2", "next": "T"}], "default": "J"},
            {"id": "T", "kind": "function", "function": "identity", "params": {"two": "true"}, "next": ["J"]},
            {"id": "J", "kind": "function", "function": "identity", "next": ["END"]},
            {"id": "END", "kind": "end", "output": {"a": "$.A.a", "q": "$.Q", "t": "$.T.two"}},
            {"id": "NEG", "kind": "end", "output": {"negative": "${START.n}"}}
        ]}),
        &["n"],
    );
    let host = TestHost::default();
    let out = run(&wf, &host, request(json!({"n": 2})), RunOptions::default()).await.expect("runs");
    assert_eq!(out.output, json!({"a": 2, "q": null, "t": "true"}));
    let out = run(&wf, &host, request(json!({"n": 1})), RunOptions::default()).await.expect("runs");
    // Q took its empty default branch: its last output is the switch's pass-through.
    assert_eq!(out.output, json!({"a": 1, "q": {"n": 1}, "t": null}));
    let out = run(&wf, &host, request(json!({"n": -1})), RunOptions::default()).await.expect("runs");
    assert_eq!(out.output, json!({"negative": -1}));
}

#[tokio::test]
async fn traces_serialise_in_camel_case_and_functions_may_continue_on_error() {
    let wf = compiled(single(json!({"kind": "function", "function": "boom"}), json!({"continueOnError": true})), &[]);
    let out = run(&wf, &TestHost::default(), request(json!({"k": 1})), traced()).await.expect("runs");
    assert_eq!(out.output["error"]["code"], "Workflow.FunctionError");
    let trace = serde_json::to_value(out.trace.expect("traced")).expect("serialises");
    assert_eq!(trace[0]["status"], "failed");
    assert_eq!(trace[0]["input"], json!({"k": 1}));
    assert!(trace[0]["elapsedUs"].is_u64());
}

/// The console's run keeps the trace when the run fails: the nodes that finished, then the
/// failed one with its error as output; `run` answers only the error.
#[tokio::test]
async fn a_traced_run_keeps_the_trace_up_to_the_failed_node() {
    let spec = json!({"start": "A", "nodes": [
        {"id": "A", "kind": "api", "api": "orders", "next": ["B"]},
        {"id": "B", "kind": "api", "api": "fails", "next": ["END"]},
        {"id": "END", "kind": "end"}
    ]});
    let wf = compiled(spec, &[]);
    let (output, trace) = run_traced(&wf, &TestHost::default(), request(json!({})), RunOptions::default()).await;
    match output {
        Err(WorkflowError::NodeFailed { node, inner_code, .. }) => {
            assert_eq!((node.as_str(), inner_code.as_str()), ("B", "InvalidParameter.status"));
        }
        other => panic!("{other:?}"),
    }
    let seen: Vec<(&str, NodeStatus)> = trace.iter().map(|t| (t.node.as_str(), t.status)).collect();
    assert_eq!(seen, [("A", NodeStatus::Ok), ("B", NodeStatus::Failed)]);
    assert_eq!(trace[1].output["error"]["code"], "InvalidParameter.status", "{:?}", trace[1]);
}

/// What a dry run can know of each API node's input: the first call's from the request (a
/// `${START…}` JSONPath tail included), later ones only their literals and `${START…}`; the
/// rest may come from earlier outputs.
#[test]
fn known_inputs_take_only_what_is_known_before_the_run() {
    use workflow::NodeHost;
    let spec = json!({"start": "A", "nodes": [
        {"id": "A", "kind": "api", "api": "echo", "params": {"b": "${START.q.k}"}, "next": ["B"]},
        {"id": "B", "kind": "api", "api": "users", "params": {"id": "${A.a}"}, "next": ["C"]},
        {"id": "C", "kind": "api", "api": "echo", "params": {"a": "lit"}, "next": ["END"]},
        {"id": "END", "kind": "end"}
    ]});
    let wf = compiled(spec, &["a", "q"]);
    let host = TestHost::default();
    let request = request(json!({"a": 1, "q": {"k": 5}}));
    let inputs = wf.known_inputs(&request, |api| host.api_params(api));
    let seen: Vec<(&str, Value, Vec<String>)> =
        inputs.iter().map(|i| (i.node.as_str(), Value::Object(i.params.clone()), i.unknown.clone())).collect();
    assert_eq!(
        seen,
        [
            ("A", json!({"a": 1, "b": 5}), vec![]),
            ("B", json!({}), vec!["id".to_owned()]),
            ("C", json!({"a": "lit"}), vec!["b".to_owned()]),
        ]
    );
}
