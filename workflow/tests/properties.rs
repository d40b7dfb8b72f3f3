//! Property tests: conditions agree with a small reference evaluator written here, random text
//! never panics the parser, and random graphs either compile or give a `CheckError` (and then
//! run) without panicking.

mod common;

use std::time::Duration;

use async_trait::async_trait;
use catalog::model::{NodeKind, SwitchBranch, WorkflowNode, WorkflowSpec};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use workflow::{Condition, NodeError, NodeHost, Ref, RunOptions, Scope, compile, run};

/// The references trees may use, and what they read.
const REFS: [&str; 8] = ["$.n", "$.s", "$.b", "$.z", "${START.n}", "$.arr", "$.missing", "${A.x[1]}"];

struct Outputs {
    prev: Value,
    nodes: Value,
}

impl Scope for Outputs {
    fn previous(&self) -> &Value {
        &self.prev
    }
    fn output(&self, r: &Ref) -> Option<&Value> {
        self.nodes.get(r.node.as_deref()?)
    }
}

fn outputs() -> Outputs {
    Outputs {
        prev: json!({"n": 2, "s": "a", "b": true, "z": null, "arr": [1, 2]}),
        nodes: json!({"START": {"n": 3}, "A": {"x": [0, -1.5]}}),
    }
}

#[derive(Debug, Clone)]
enum T {
    Num(f64),
    Str(&'static str),
    Bool(bool),
    Null,
    Ref(usize),
    Not(Box<T>),
    Neg(Box<T>),
    Bin(usize, Box<T>, Box<T>),
}

/// Operators by level, loosest first, as documented.
const OPS: [(&str, u8); 13] = [
    ("||", 0),
    ("&&", 1),
    ("==", 2),
    ("!=", 2),
    (">", 3),
    (">=", 3),
    ("<", 3),
    ("<=", 3),
    ("+", 4),
    ("-", 4),
    ("*", 5),
    ("/", 5),
    ("%", 5),
];

fn tree() -> impl Strategy<Value = T> {
    let leaf = prop_oneof![
        (-6i32..12).prop_map(|n| T::Num(f64::from(n) / 2.0)),
        prop::sample::select(vec!["", "a", "b", "ab"]).prop_map(T::Str),
        any::<bool>().prop_map(T::Bool),
        Just(T::Null),
        (0..REFS.len()).prop_map(T::Ref),
    ];
    leaf.prop_recursive(6, 48, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| T::Not(Box::new(t))),
            inner.clone().prop_map(|t| T::Neg(Box::new(t))),
            (0..OPS.len(), inner.clone(), inner).prop_map(|(op, l, r)| T::Bin(op, Box::new(l), Box::new(r))),
        ]
    })
}

fn leaf_text(t: &T) -> Option<String> {
    Some(match t {
        T::Num(n) => n.to_string(),
        T::Str(s) => format!("'{s}'"),
        T::Bool(b) => b.to_string(),
        T::Null => "null".to_owned(),
        T::Ref(i) => REFS[*i].to_owned(),
        _ => return None,
    })
}

/// Every operation in parentheses.
fn full(t: &T) -> String {
    match t {
        T::Not(x) => format!("(!{})", full(x)),
        T::Neg(x) => format!("(-{})", full(x)),
        T::Bin(op, l, r) => format!("({} {} {})", full(l), OPS[*op].0, full(r)),
        leaf => leaf_text(leaf).unwrap_or_default(),
    }
}

/// Parentheses only where precedence needs them.
fn minimal(t: &T) -> String {
    fn level(t: &T) -> u8 {
        match t {
            T::Bin(op, ..) => OPS[*op].1,
            _ => 9,
        }
    }
    match t {
        T::Not(x) | T::Neg(x) => {
            let sign = if matches!(t, T::Not(_)) { "!" } else { "-" };
            if level(x) < 9 { format!("{sign}({})", minimal(x)) } else { format!("{sign}{}", minimal(x)) }
        }
        T::Bin(op, l, r) => {
            let p = OPS[*op].1;
            let left = if level(l) < p { format!("({})", minimal(l)) } else { minimal(l) };
            let right = if level(r) <= p { format!("({})", minimal(r)) } else { minimal(r) };
            format!("{left} {} {right}", OPS[*op].0)
        }
        leaf => leaf_text(leaf).unwrap_or_default(),
    }
}

/// The reference evaluator: Err(()) for every error, the value as JSON otherwise.
fn reference(t: &T, scope: &Outputs) -> Result<Value, ()> {
    let num = |v: &Value| v.as_f64();
    let finite =
        |n: f64| if n.is_finite() { serde_json::Number::from_f64(n).map(Value::Number).ok_or(()) } else { Err(()) };
    Ok(match t {
        T::Num(n) => json!(n),
        T::Str(s) => json!(s),
        T::Bool(b) => json!(b),
        T::Null => Value::Null,
        T::Ref(i) => {
            let r = Ref::parse(REFS[*i]).map_err(|_| ())?;
            r.resolve(scope).into_owned()
        }
        T::Not(x) => json!(!reference(x, scope)?.as_bool().ok_or(())?),
        T::Neg(x) => finite(-num(&reference(x, scope)?).ok_or(())?)?,
        T::Bin(op, l, r) => {
            let op = OPS[*op].0;
            let left = reference(l, scope)?;
            if op == "&&" || op == "||" {
                let left = left.as_bool().ok_or(())?;
                if left == (op == "||") {
                    return Ok(json!(left));
                }
                return Ok(json!(reference(r, scope)?.as_bool().ok_or(())?));
            }
            let right = reference(r, scope)?;
            let same = match (num(&left), num(&right)) {
                (Some(a), Some(b)) => a == b,
                _ => left == right,
            };
            match op {
                "==" => json!(same),
                "!=" => json!(!same),
                ">" | ">=" | "<" | "<=" => {
                    let ord = match (&left, &right) {
                        (Value::Number(_), Value::Number(_)) => {
                            num(&left).ok_or(())?.partial_cmp(&num(&right).ok_or(())?).ok_or(())?
                        }
                        (Value::String(a), Value::String(b)) => a.cmp(b),
                        _ => return Err(()),
                    };
                    json!(match op {
                        ">" => ord.is_gt(),
                        ">=" => ord.is_ge(),
                        "<" => ord.is_lt(),
                        _ => ord.is_le(),
                    })
                }
                "+" if left.is_string() && right.is_string() => {
                    json!(format!("{}{}", left.as_str().unwrap_or(""), right.as_str().unwrap_or("")))
                }
                _ => {
                    let (a, b) = (num(&left).ok_or(())?, num(&right).ok_or(())?);
                    match op {
                        "+" => finite(a + b)?,
                        "-" => finite(a - b)?,
                        "*" => finite(a * b)?,
                        _ if b == 0.0 => return Err(()),
                        "/" => finite(a / b)?,
                        _ => finite(a % b)?,
                    }
                }
            }
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn conditions_agree_with_the_reference_evaluator(t in tree()) {
        let scope = outputs();
        // The engine computes in f64: `3` reads back as `3.0`.
        let as_f64 = |v: Value| match v.as_f64().and_then(serde_json::Number::from_f64) {
            Some(n) if v.is_number() => Value::Number(n),
            _ => v,
        };
        let expected = reference(&t, &scope).map(as_f64);
        for text in [full(&t), minimal(&t)] {
            let condition = Condition::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            let got = condition.value(&scope).map(as_f64).map_err(|_| ());
            prop_assert_eq!(&got, &expected, "{}", text);
            let holds = condition.evaluate(&scope).ok();
            prop_assert_eq!(holds, expected.as_ref().ok().and_then(Value::as_bool), "{}", text);
        }
    }

    #[test]
    fn random_text_never_panics_the_parser(text in "[-+*/%()!=<>&|$.{}\\[\\]'\"@?:a-zA-Z0-9_ ]{0,80}", other in ".{0,40}") {
        let scope = outputs();
        for text in [text, other] {
            if let Ok(condition) = Condition::parse(&text) {
                let _ = condition.evaluate(&scope);
            }
            if let Ok(r) = Ref::parse(&text) {
                let _ = r.resolve(&scope);
            }
        }
    }
}

struct Quiet;

#[async_trait]
impl NodeHost for Quiet {
    fn api_params(&self, _api: &str) -> Option<Vec<String>> {
        Some(vec!["a".into()])
    }
    async fn call_api(&self, _api: &str, _params: Map<String, Value>, _depth: u32) -> Result<Value, NodeError> {
        Ok(json!({"a": 1}))
    }
    async fn call_function(&self, _f: &str, event: Value, _t: Option<Duration>) -> Result<Value, NodeError> {
        Ok(event)
    }
}

fn graph() -> impl Strategy<Value = WorkflowSpec> {
    // Mostly good values, now and then a bad one (a later node, a broken path, an expression).
    let mut values = ["$.a", "lit", "${START.p}", "$", "${n0.a}"].repeat(8);
    values.extend(["${n3}", "$.[", "$.a == 1", "${nope}"]);
    let mut conditions = ["$.a == 1", "${START.p} > 0 && !($.a < 2)", "$.a + 1 == '1'"].repeat(10);
    conditions.extend(["${n1.a} > 0", "$.[", "lit", "$.a ="]);
    let value = prop::sample::select(values);
    let node =
        (0u8..16, prop::collection::vec(any::<u8>(), 1..4), value, any::<bool>(), prop::sample::select(conditions));
    (prop::collection::vec(node, 1..14), any::<u8>()).prop_map(|(nodes, start)| {
        let n = nodes.len();
        // Mostly forward edges (most to the next node, else to any later node or the final end
        // node `n{n}`), so that many graphs compile; one in forty is wild: backwards, unknown
        // or START. A few nodes (`odd`) get a wrong number of successors.
        let target = |i: usize, raw: u8| match raw % 40 {
            0 => ["ghost", "START", "n0", "n1"][usize::from(raw / 40) % 4].to_owned(),
            1..=37 => format!("n{}", i + 1),
            _ => format!("n{}", i + 1 + usize::from(raw / 40) % (n - i)),
        };
        let mut spec_nodes: Vec<WorkflowNode> = nodes
            .into_iter()
            .enumerate()
            .map(|(i, (kind, raw, value, flag, condition))| {
                let targets: Vec<String> = raw.iter().map(|r| target(i, *r)).collect();
                let odd = raw[0] % 64 == 0;
                let first = targets.first().cloned();
                let kind = match kind {
                    1 | 10 | 11 => NodeKind::Function { function: "f".into() },
                    2 | 8 => NodeKind::Switch {
                        branches: targets
                            .iter()
                            .map(|t| SwitchBranch { condition: condition.to_owned(), next: t.clone() })
                            .collect(),
                        default: first.filter(|_| flag),
                    },
                    3 | 9 => {
                        let mut heads = targets.clone();
                        heads.dedup();
                        NodeKind::Parallel { branches: heads }
                    }
                    4 if odd => NodeKind::End {},
                    _ => NodeKind::Api { api: "a".into() },
                };
                let calls = matches!(kind, NodeKind::Api { .. } | NodeKind::Function { .. });
                let next = match (calls, odd) {
                    (true, false) => targets.into_iter().take(1).collect(),
                    (true, true) if raw[0] % 128 == 0 => Vec::new(),
                    (_, true) => targets,
                    (false, false) => Vec::new(),
                };
                WorkflowNode {
                    id: format!("n{i}"),
                    params: if calls { [("a".to_owned(), value.to_owned())].into() } else { Default::default() },
                    output: None,
                    next,
                    timeout_ms: None,
                    continue_on_error: flag,
                    kind,
                }
            })
            .collect();
        spec_nodes.push(WorkflowNode {
            id: format!("n{n}"),
            kind: NodeKind::End {},
            params: Default::default(),
            output: None,
            next: Vec::new(),
            timeout_ms: None,
            continue_on_error: false,
        });
        WorkflowSpec {
            start: if start % 10 == 0 { target(0, start) } else { "n0".to_owned() },
            deadline_ms: None,
            nodes: spec_nodes,
            functions: Default::default(),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_graphs_compile_or_are_refused_without_panicking(spec in graph()) {
        match compile(&spec, &["p".to_owned()]) {
            Ok(wf) => {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().map_err(|e| TestCaseError::fail(e.to_string()))?;
                let request: Map<String, Value> = [("p".to_owned(), json!(1))].into_iter().collect();
                let _ = runtime.block_on(run(&wf, &Quiet, request, RunOptions::default()));
                let _ = wf.plan();
            }
            Err(e) => prop_assert!(!e.field.is_empty() && !e.message.is_empty(), "{e:?}"),
        }
    }
}
