//! What `compile` refuses, and that each refusal names the node and the field.

mod common;

use common::spec;
use serde_json::{Value, json};
use workflow::{CheckError, compile};

fn refused(json: Value) -> CheckError {
    compile(&spec(json), &["id".to_owned()]).expect_err("refused")
}

fn at(json: Value) -> (String, String) {
    let e = refused(json);
    assert!(!e.message.is_empty());
    (e.node, e.field)
}

fn pair(node: &str, field: &str) -> (String, String) {
    (node.to_owned(), field.to_owned())
}

fn api(id: &str, next: &str) -> Value {
    json!({"id": id, "kind": "api", "api": "a", "next": [next]})
}

fn end() -> Value {
    json!({"id": "END", "kind": "end"})
}

#[test]
fn a_simple_chain_compiles() {
    let wf = compile(&spec(json!({"start": "a", "nodes": [api("a", "END"), end()]})), &[]).expect("compiles");
    assert_eq!(wf.node_count(), 2);
    assert_eq!(wf.deadline(), workflow::DEFAULT_DEADLINE);
}

#[test]
fn unknown_successors_are_named() {
    assert_eq!(at(json!({"start": "a", "nodes": [api("a", "nope"), end()]})), pair("a", "nodes[0].next[0]"));
    assert_eq!(at(json!({"start": "x", "nodes": [end()]})), pair("", "start"));
    let s = json!({"start": "s", "nodes": [{"id": "s", "kind": "switch", "branches": [{"condition": "true", "next": "END"}], "default": "q"}, end()]});
    assert_eq!(at(s), pair("s", "nodes[0].default"));
    let p = json!({"start": "p", "nodes": [{"id": "p", "kind": "parallel", "branches": ["END", "zz"]}, end()]});
    assert_eq!(at(p), pair("p", "nodes[0].branches[1]"));
    assert_eq!(at(json!({"start": "a", "nodes": [api("a", "START"), end()]})), pair("a", "nodes[0].next[0]"));
}

#[test]
fn ids_must_be_unique_and_plain() {
    assert_eq!(at(json!({"start": "a", "nodes": [api("a", "END"), api("a", "END"), end()]})), pair("a", "nodes[1].id"));
    assert_eq!(at(json!({"start": "a", "nodes": [api("a b", "END"), end()]})), pair("a b", "nodes[0].id"));
    assert_eq!(at(json!({"start": "START", "nodes": [api("START", "END"), end()]})), pair("START", "nodes[0].id"));
}

#[test]
fn cycles_are_refused() {
    let e = refused(json!({"start": "a", "nodes": [api("a", "b"), api("b", "a"), end()]}));
    assert_eq!((e.node.as_str(), e.field.as_str()), ("b", "nodes[1]"));
    assert!(e.message.contains("cycle"), "{e}");
    let e = refused(json!({"start": "a", "nodes": [api("a", "a"), end()]}));
    assert!(e.message.contains("cycle"), "{e}");
}

#[test]
fn there_must_be_an_end_every_node_reached_and_at_most_64_nodes() {
    let e = refused(json!({"start": "a", "nodes": [api("a", "b"), api("b", "a")]}));
    assert_eq!((e.field.as_str(), e.message.as_str()), ("nodes", "no end node"));
    assert_eq!(
        at(json!({"start": "a", "nodes": [api("a", "END"), api("lost", "END"), end()]})),
        pair("lost", "nodes[1]")
    );
    let mut nodes: Vec<Value> = (0..64).map(|i| api(&format!("n{i}"), &format!("n{}", i + 1))).collect();
    nodes.push(end());
    let e = refused(json!({"start": "n0", "nodes": nodes}));
    assert_eq!(e.field, "nodes");
    let mut nodes: Vec<Value> = (0..63).map(|i| api(&format!("n{i}"), if i == 62 { "END" } else { "" })).collect();
    for (i, node) in nodes.iter_mut().enumerate().take(62) {
        node["next"] = json!([format!("n{}", i + 1)]);
    }
    nodes.push(end());
    assert!(compile(&spec(json!({"start": "n0", "nodes": nodes})), &[]).is_ok());
}

#[test]
fn switches_need_branches_and_kinds_their_successors() {
    let s = json!({"start": "s", "nodes": [{"id": "s", "kind": "switch", "branches": []}, end()]});
    assert_eq!(at(s), pair("s", "nodes[0].branches"));
    let a = json!({"start": "a", "nodes": [{"id": "a", "kind": "api", "api": "x", "next": []}, end()]});
    assert_eq!(at(a), pair("a", "nodes[0].next"));
    let e = json!({"start": "END", "nodes": [{"id": "END", "kind": "end", "next": ["END"]}]});
    assert_eq!(at(e), pair("END", "nodes[0].next"));
    let e = json!({"start": "END", "nodes": [{"id": "END", "kind": "end", "params": {"a": "b"}}]});
    assert_eq!(at(e), pair("END", "nodes[0].params"));
    let s = json!({"start": "s", "nodes": [{"id": "s", "kind": "switch", "branches": [{"condition": "true", "next": "END"}], "output": {"a": "$"}}, end()]});
    assert_eq!(at(s), pair("s", "nodes[0].output"));
}

#[test]
fn unparsable_expressions_and_paths_name_their_field() {
    let s = json!({"start": "s", "nodes": [{"id": "s", "kind": "switch", "branches": [{"condition": "$.a = 1", "next": "END"}]}, end()]});
    assert_eq!(at(s), pair("s", "nodes[0].branches[0].condition"));
    let a = json!({"start": "a", "nodes": [{"id": "a", "kind": "api", "api": "x", "params": {"user_id": "$.data["}, "next": ["END"]}, end()]});
    assert_eq!(at(a), pair("a", "nodes[0].params.user_id"));
    let a = json!({"start": "a", "nodes": [{"id": "a", "kind": "api", "api": "x", "output": {"u": "${a"}, "next": ["END"]}, end()]});
    assert_eq!(at(a), pair("a", "nodes[0].output.u"));
}

#[test]
fn references_must_name_nodes_that_always_run_before() {
    // Unknown node.
    let a = json!({"start": "a", "nodes": [{"id": "a", "kind": "api", "api": "x", "params": {"p": "${ghost.x}"}, "next": ["END"]}, end()]});
    let e = refused(a);
    assert_eq!((e.field.as_str(), e.message.as_str()), ("nodes[0].params.p", "no node `ghost`"));
    // A later node.
    let a = json!({"start": "a", "nodes": [{"id": "a", "kind": "api", "api": "x", "params": {"p": "${b}"}, "next": ["b"]}, api("b", "END"), end()]});
    assert_eq!(refused(a).message, "`b` does not always run before `a`");
    // A node of one switch branch, read after the branches meet.
    let s = json!({"start": "s", "nodes": [
        {"id": "s", "kind": "switch", "branches": [{"condition": "true", "next": "x"}], "default": "y"},
        api("x", "m"), api("y", "m"),
        {"id": "m", "kind": "api", "api": "z", "params": {"p": "${x.v}"}, "next": ["END"]}, end()]});
    assert_eq!(at(s), pair("m", "nodes[3].params.p"));
    // A sibling parallel branch; the same node after the join is fine.
    let p = |reader: &str| {
        json!({"start": "p", "nodes": [
            {"id": "p", "kind": "parallel", "branches": ["x", "y"]},
            api("x", "j"),
            {"id": "y", "kind": "api", "api": "a", "params": {"v": if reader == "y" { "${x}" } else { "$" }}, "next": ["j"]},
            {"id": "j", "kind": "api", "api": "a", "params": {"v": "${x.v}", "w": "${p.x}"}, "next": ["END"]}, end()]})
    };
    assert_eq!(at(p("y")), pair("y", "nodes[2].params.v"));
    assert!(compile(&spec(p("j")), &[]).is_ok());
    // The request's fields must be parameters.
    let a = json!({"start": "a", "nodes": [{"id": "a", "kind": "api", "api": "x", "params": {"p": "${START.nope}"}, "next": ["END"]}, end()]});
    assert_eq!(refused(a).message, "the workflow has no request parameter `nope`");
    // A condition may not read the switch's own branch nodes.
    let s = json!({"start": "s", "nodes": [{"id": "s", "kind": "switch", "branches": [{"condition": "${x.v} == 1", "next": "x"}]}, api("x", "END"), end()]});
    assert_eq!(at(s), pair("s", "nodes[0].branches[0].condition"));
}

#[test]
fn parallel_branches_must_meet_and_branches_must_nest() {
    let p = json!({"start": "p", "nodes": [
        {"id": "p", "kind": "parallel", "branches": ["x", "y"]},
        api("x", "END"), api("y", "E2"), end(), {"id": "E2", "kind": "end"}]});
    assert_eq!(at(p), pair("p", "nodes[0].branches"));
    let p = json!({"start": "p", "nodes": [{"id": "p", "kind": "parallel", "branches": ["x", "END"]}, api("x", "END"), end()]});
    assert_eq!(at(p), pair("p", "nodes[0].branches[1]"));
    // A switch branch that jumps into one branch of a later parallel.
    let crossed = json!({"start": "s", "nodes": [
        {"id": "s", "kind": "switch", "branches": [{"condition": "true", "next": "a"}], "default": "b"},
        api("a", "p"), api("b", "c"),
        {"id": "p", "kind": "parallel", "branches": ["c", "d"]},
        api("c", "e"), api("d", "e"), api("e", "END"), end()]});
    let e = refused(crossed);
    assert!(e.message.contains("meet"), "{e}");
}

#[test]
fn switch_branches_may_end_separately_and_nest() {
    let s = json!({"start": "s", "nodes": [
        {"id": "s", "kind": "switch", "branches": [{"condition": "true", "next": "p"}], "default": "E2"},
        {"id": "p", "kind": "parallel", "branches": ["x", "y"]},
        api("x", "j"),
        {"id": "y", "kind": "switch", "branches": [{"condition": "$.a == 1", "next": "z"}], "default": "j"},
        api("z", "j"), api("j", "END"), end(), {"id": "E2", "kind": "end"}]});
    let wf = compile(&spec(s), &[]).expect("compiles");
    let plan = serde_json::to_value(wf.plan()).expect("serialises");
    assert_eq!(plan[0]["branches"][0]["steps"][0]["step"], "parallel");
    assert_eq!(plan[0]["branches"][0]["steps"][1]["node"], "j");
    assert_eq!(plan[0]["default"], json!([{"step": "end", "node": "E2"}]));
}
