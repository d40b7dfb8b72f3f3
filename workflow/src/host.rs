//! What the engine needs from the gateway: calling an API of the workgroup in process, calling a
//! function in the sandbox, and knowing an API's parameter names for same-name mapping. The
//! engine itself does no I/O.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

/// A failed call, as the inner API or function reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeError {
    /// The inner error's code: `InvalidParameter.status`, `Workflow.FunctionTimeout`.
    pub code: String,
    pub message: String,
}

impl NodeError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> NodeError {
        NodeError { code: code.into(), message: message.into() }
    }
}

/// Runs the nodes' calls. Implemented by the gateway (and by test hosts).
#[async_trait]
pub trait NodeHost: Send + Sync {
    /// The request parameter names of `api`, or `None` if there is no such API (then every
    /// top-level field of the previous output is passed).
    fn api_params(&self, api: &str) -> Option<Vec<String>>;

    /// Calls `api` with `params`; `depth` is the workflow depth of the call (1 for a call made
    /// by a top-level workflow), for the host to pass on if `api` is itself a workflow.
    async fn call_api(&self, api: &str, params: Map<String, Value>, depth: u32) -> Result<Value, NodeError>;

    /// Calls `function` with `event` (the node's input); `timeout` is the node's limit, if set.
    async fn call_function(&self, function: &str, event: Value, timeout: Option<Duration>) -> Result<Value, NodeError>;
}
