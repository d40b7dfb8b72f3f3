#![allow(dead_code)] // Each test file uses a part.
//! A `NodeHost` for the tests: a few APIs and functions with fixed behaviour, recording when
//! each call started and ended.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use catalog::model::WorkflowSpec;
use serde_json::{Map, Value, json};
use workflow::{CompiledWorkflow, NodeError, NodeHost};

#[derive(Debug, Clone)]
pub struct Call {
    pub name: String,
    pub input: Value,
    pub started: Instant,
    pub ended: Option<Instant>,
}

#[derive(Default)]
pub struct TestHost {
    pub calls: Mutex<Vec<Call>>,
}

impl TestHost {
    fn begin(&self, name: &str, input: Value) -> usize {
        let mut calls = self.calls.lock().expect("lock");
        calls.push(Call { name: name.to_owned(), input, started: Instant::now(), ended: None });
        calls.len() - 1
    }

    fn end(&self, index: usize) {
        self.calls.lock().expect("lock")[index].ended = Some(Instant::now());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }
}

#[async_trait]
impl NodeHost for TestHost {
    fn api_params(&self, api: &str) -> Option<Vec<String>> {
        let names: &[&str] = match api {
            "users" => &["id"],
            "echo" => &["a", "b"],
            "slow_a" | "slow_b" | "fails" | "hang" | "nothing" => &[],
            _ => return None,
        };
        Some(names.iter().map(|n| n.to_string()).collect())
    }

    async fn call_api(&self, api: &str, params: Map<String, Value>, _depth: u32) -> Result<Value, NodeError> {
        let index = self.begin(api, Value::Object(params.clone()));
        let result = match api {
            "users" => Ok(json!({"data": [{"id": params.get("id").cloned().unwrap_or(Value::Null), "name": "ann"}]})),
            "echo" | "open" => Ok(Value::Object(params)),
            "slow_a" | "slow_b" => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(json!({"from": api}))
            }
            "fails" => Err(NodeError::new("InvalidParameter.status", "not one of new, paid")),
            "hang" => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(Value::Null)
            }
            _ => Ok(Value::Null),
        };
        self.end(index);
        result
    }

    async fn call_function(
        &self,
        function: &str,
        event: Value,
        _timeout: Option<Duration>,
    ) -> Result<Value, NodeError> {
        let index = self.begin(function, event.clone());
        let result = match function {
            // The seed's function: `return json.loads(event)`.
            "identity" => Ok(event),
            "boom" => Err(NodeError::new("Workflow.FunctionError", "ZeroDivisionError: division by zero (line 3)")),
            "too_slow" => Err(NodeError::new("Workflow.FunctionTimeout", "over 200 ms")),
            "hang" => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(Value::Null)
            }
            _ => Ok(Value::Null),
        };
        self.end(index);
        result
    }
}

pub fn spec(json: Value) -> WorkflowSpec {
    serde_json::from_value(json).expect("a workflow spec")
}

pub fn compiled(json: Value, params: &[&str]) -> CompiledWorkflow {
    let params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
    workflow::compile(&spec(json), &params).expect("compiles")
}

pub fn request(json: Value) -> Map<String, Value> {
    match json {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
