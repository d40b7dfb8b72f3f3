//! Workflow function nodes, run in the Python sandbox (`sluice-sandbox`): each distinct source
//! is compiled once and kept, and a call gets the node's timeout (default 200 ms, at most
//! 5 s) as its CPU budget and 16 MiB of memory.

use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;
use plugins::FunctionRunner;
use sandbox::{Function, FunctionError, Limits};
use serde_json::Value;
use sha2::{Digest, Sha256};
use workflow::NodeError;

/// Compiled sources kept at most; past it the cache starts again (sources come from published
/// definitions, so it refills with what is called).
const MAX_COMPILED: usize = 1024;

/// The binary's [`FunctionRunner`]: functions compiled by the digest of their source.
#[derive(Default)]
pub struct SandboxRunner {
    compiled: DashMap<[u8; 32], Function>,
}

impl SandboxRunner {
    fn function(&self, name: &str, source: &str) -> Result<Function, FunctionError> {
        let key: [u8; 32] = Sha256::digest(source.as_bytes()).into();
        if let Some(function) = self.compiled.get(&key) {
            return Ok(function.clone());
        }
        let function = Function::compile(name, source)?;
        if self.compiled.len() >= MAX_COMPILED {
            self.compiled.clear();
        }
        self.compiled.insert(key, function.clone());
        Ok(function)
    }
}

#[async_trait]
impl FunctionRunner for SandboxRunner {
    async fn call(
        &self,
        _workgroup_id: i64,
        function: &str,
        source: &str,
        event: Value,
        context: Value,
        timeout: Option<Duration>,
    ) -> Result<Value, NodeError> {
        let failed = |e: FunctionError| NodeError::new(e.code(), e.to_string());
        let compiled = self.function(function, source).map_err(failed)?;
        let cpu_ms = timeout.map_or(Limits::default().cpu_ms, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
        let limits = Limits { cpu_ms: cpu_ms.min(Limits::MAX_CPU_MS), ..Limits::default() };
        compiled.call(&event, &context, limits).await.map_err(failed)
    }

    fn check(&self, function: &str, source: &str) -> Result<(), String> {
        // Not through the cache: sources checked at save (many, some never run) must not push
        // out the ones being called.
        Function::compile(function, source).map(|_| ()).map_err(|e| e.to_string())
    }
}
