//! Sandboxed Python functions for workflow `function` nodes (issue 17).
//!
//! A user writes `def handler(event, context)`; [`Function::compile`] checks
//! and parses it once, [`Function::call`] runs it in monty, an interpreter
//! written in Rust that has no file, network, environment or process access
//! of its own. Each call gets a CPU time and a memory budget ([`Limits`]),
//! runs on a dedicated interpreter thread (never a tokio worker) and ends in a
//! JSON value or a typed [`FunctionError`]. Memory is metered per thread by
//! [`MeteredAlloc`], which the binary installs as its global allocator.

mod alloc;
mod convert;
mod error;
mod pool;
mod run;
mod source;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cpu_time::ThreadTime;

use monty::MontyRun;
use monty_types::CompileOptions;
use serde_json::Value;
use tokio::sync::oneshot;

pub use alloc::{MeteredAlloc, metering_installed};
pub use convert::MAX_OUTPUT_BYTES;
pub use error::FunctionError;
pub use source::MAX_SOURCE_BYTES;

use pool::Pool;
use run::Compiled;

/// Longest a call waits in the queue for an interpreter thread.
const QUEUE_WAIT: Duration = Duration::from_secs(10);

/// How far past its limit a call that does not stop by itself is abandoned.
const WATCHDOG_GRACE: Duration = Duration::from_secs(1);

/// Per-call budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time budget in milliseconds (default 200, at most [`Limits::MAX_CPU_MS`]).
    /// Measured as the call thread's CPU time plus the time it slept (`time.sleep`).
    pub cpu_ms: u64,
    /// Memory the call may hold, in bytes (default 16 MiB, at most
    /// [`Limits::MAX_MEMORY_BYTES`]).
    pub memory_bytes: usize,
}

impl Limits {
    /// Largest time budget a function may ask for.
    pub const MAX_CPU_MS: u64 = 5_000;
    /// Largest memory budget a function may ask for. Kept modest because
    /// memory also bounds the one uninterruptible operation, a big-integer
    /// multiplication, whose cost grows faster than its size.
    pub const MAX_MEMORY_BYTES: usize = 64 * 1024 * 1024;

    /// The limits brought into range: at least 1 ms and 1 MiB, at most the maxima.
    pub fn clamped(self) -> Self {
        Self {
            cpu_ms: self.cpu_ms.clamp(1, Self::MAX_CPU_MS),
            memory_bytes: self.memory_bytes.clamp(1024 * 1024, Self::MAX_MEMORY_BYTES),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self { cpu_ms: 200, memory_bytes: 16 * 1024 * 1024 }
    }
}

/// What a call cost, measured on the interpreter thread that ran it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallStats {
    /// CPU time of the thread during the call (zero where the platform has
    /// no per-thread CPU clock).
    pub cpu: Duration,
    /// Wall time from the call's start on its thread to its answer.
    pub wall: Duration,
}

/// A checked, parsed function, cheap to clone and share between calls.
#[derive(Debug, Clone)]
pub struct Function {
    name: Arc<str>,
    compiled: Arc<Compiled>,
}

impl Function {
    /// Checks and parses `source`, which must define a top-level
    /// `def handler(event, context)` and import only `json`, `re`, `math`,
    /// `time` and `random`. `name` names the function in Python tracebacks.
    pub fn compile(name: &str, source: &str) -> Result<Function, FunctionError> {
        let mut program = source::prepare(source)?;
        let script = format!("{}.py", script_name(name));
        let inputs = source::INPUTS.iter().map(|s| (*s).to_owned()).collect();
        let code = std::mem::take(&mut program.code);
        let runner = MontyRun::new(code, &script, inputs, CompileOptions::default()).map_err(|e| {
            // Checked by our own parse already, so this is a construct monty
            // does not support; say so on the user's line.
            let line = e.traceback().iter().rev().find_map(|f| program.user_line(f.start.line));
            FunctionError::Compile { message: e.summary(), line }
        })?;
        Ok(Function { name: name.into(), compiled: Arc::new(Compiled { runner: Mutex::new(runner), program }) })
    }

    /// The name given at compile time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls `handler(event, context)` with `event` as JSON text and `context`
    /// as Python values, within `limits` (clamped into range). Needs a tokio
    /// runtime with timers; the interpreter runs on a pool thread.
    pub async fn call(&self, event: &Value, context: &Value, limits: Limits) -> Result<Value, FunctionError> {
        self.call_with_stats(event, context, limits).await.0
    }

    /// [`Function::call`], also telling what the call cost; no stats when
    /// it never ran (`Busy`) or was abandoned by the watchdog.
    pub async fn call_with_stats(
        &self,
        event: &Value,
        context: &Value,
        limits: Limits,
    ) -> (Result<Value, FunctionError>, Option<CallStats>) {
        let limits = limits.clamped();
        let pool = match Pool::global() {
            Ok(pool) => pool,
            Err(e) => return (Err(e), None),
        };
        let event_text = event.to_string();
        let context = context.clone();
        let compiled = Arc::clone(&self.compiled);
        let seed = next_seed();
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = oneshot::channel();
        let submitted = pool.submit(Box::new(move || {
            // The caller stopped waiting while this sat in the queue.
            if started_tx.send(()).is_err() {
                return;
            }
            let wall = Instant::now();
            let cpu = ThreadTime::try_now().ok();
            let answer = run::execute(&compiled, event_text, &context, limits, seed);
            let stats =
                CallStats { cpu: cpu.and_then(|c| c.try_elapsed().ok()).unwrap_or_default(), wall: wall.elapsed() };
            let _ = done_tx.send((answer, stats));
        }));
        let ticket = match submitted {
            Ok(ticket) => ticket,
            Err(e) => return (Err(e), None),
        };
        match tokio::time::timeout(QUEUE_WAIT, started_rx).await {
            Ok(Ok(())) => {}
            Err(_) => return (Err(FunctionError::Busy), None),
            Ok(Err(_)) => return (Err(lost()), None),
        }
        let watchdog = Duration::from_millis(limits.cpu_ms) + WATCHDOG_GRACE;
        match tokio::time::timeout(watchdog, done_rx).await {
            Ok(Ok((answer, stats))) => (answer, Some(stats)),
            Ok(Err(_)) => (Err(lost()), None),
            Err(_) => {
                pool.abandon(&ticket);
                let timeout = FunctionError::Timeout { limit_ms: limits.cpu_ms };
                (Err(timeout), None)
            }
        }
    }
}

fn lost() -> FunctionError {
    FunctionError::Internal("the interpreter stopped without an answer".to_owned())
}

/// A traceback file name from the user's function name: no path separators
/// or odd characters, so it can never look like a host path.
fn script_name(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).take(64).collect();
    if cleaned.is_empty() { "function".to_owned() } else { cleaned }
}

/// A fresh seed for `random` in each call.
fn next_seed() -> i64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut z = nanos ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    // splitmix64 finaliser: neighbouring calls get unrelated seeds.
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as i64 & i64::MAX
}
