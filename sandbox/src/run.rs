//! One call of a function, on the interpreter thread that runs it.
//!
//! The program runs until it finishes or suspends. monty suspends at any call
//! of a name it does not know (that is how `eval`, `exec`, `__import__` and
//! friends reach the host: they are not builtins there) and at OS operations
//! such as `open`; the host answers the few stand-in hooks (`time`) and
//! refuses everything else. monty's clock (the thread's CPU time, see
//! `alloc::thread_cpu`) only runs while bytecode does, so the budget is kept
//! here too, as CPU time since the call began plus time slept, and handed
//! back to monty after each suspension: time spent in the host still counts.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use monty::{MontyRun, RunProgress};
use monty_types::{
    ExcType, ExtFunctionResult, MontyException, MontyObject, NameLookupResult, PrintWriter, ResourceLimits,
    ResourceTracker,
};
use serde_json::Value;

use crate::alloc::{self, Metering};
use crate::source::Program;
use crate::{FunctionError, Limits, convert};

/// Deepest Python call stack; each frame costs native stack in some paths.
const MAX_RECURSION_DEPTH: usize = 200;

/// More host answers than this in one call is a loop on a hook.
const MAX_SUSPENSIONS: usize = 100_000;

/// A compiled function as the interpreter threads share it.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// Behind a lock because a parsed program is `Send` but not `Sync`;
    /// each call runs its own clone, so the lock is held only to clone.
    pub(crate) runner: Mutex<MontyRun>,
    pub(crate) program: Program,
}

/// Runs `compiled` once; called on an interpreter thread.
pub(crate) fn execute(
    compiled: &Compiled,
    event_text: String,
    context: &Value,
    limits: Limits,
    seed: i64,
) -> Result<Value, FunctionError> {
    alloc::install_probes();
    let budget = Duration::from_millis(limits.cpu_ms);
    let metering = Metering::arm();
    let mut clock = Clock::start();
    let inputs = vec![MontyObject::String(event_text), convert::to_monty(context), MontyObject::Int(seed)];
    let tracker = ResourceTracker::new(
        ResourceLimits::default()
            .max_duration(budget)
            .max_memory(limits.memory_bytes)
            .max_recursion_depth(MAX_RECURSION_DEPTH)
            .max_suspensions(MAX_SUSPENSIONS),
    );
    let runner = compiled.runner.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let mut progress = runner.start(inputs, tracker, PrintWriter::Disabled);
    let mut suspensions = 0_usize;
    let answer = loop {
        let step = match progress {
            Err(exception) => break Err(exception),
            Ok(RunProgress::Complete(object)) => break Ok(object),
            Ok(step) => step,
        };
        suspensions += 1;
        let used = clock.used();
        if used >= budget || suspensions > MAX_SUSPENSIONS {
            return Err(timeout(limits));
        }
        progress = match step {
            RunProgress::FunctionCall(mut call) => {
                let answer = match host_function(&call.function_name, &call.args, used, budget) {
                    Hook::Answer(answer) => answer,
                    Hook::Slept(nap) => {
                        clock.slept += nap;
                        MontyObject::None.into()
                    }
                    Hook::OutOfTime => return Err(timeout(limits)),
                };
                let left = budget.saturating_sub(clock.used());
                call.tracker_mut().set_max_duration(left);
                call.resume(answer, PrintWriter::Disabled)
            }
            RunProgress::OsCall(call) => call.abort(
                MontyException::new(
                    ExcType::PermissionError,
                    Some("file, network and system access are not available".to_owned()),
                ),
                PrintWriter::Disabled,
            ),
            RunProgress::NameLookup(lookup) => lookup.resume(NameLookupResult::Undefined, PrintWriter::Disabled),
            RunProgress::ResolveFutures(pending) => pending.abort(
                MontyException::new(ExcType::RuntimeError, Some("asynchronous code is not supported".to_owned())),
                PrintWriter::Disabled,
            ),
            RunProgress::Complete(_) => {
                return Err(FunctionError::Internal("unexpected completion".to_owned()));
            }
        };
    };
    drop(metering);
    match answer {
        Ok(object) => convert::to_json(object),
        Err(exception) => Err(classify(&exception, &compiled.program, limits)),
    }
}

enum Hook {
    Answer(ExtFunctionResult),
    Slept(Duration),
    OutOfTime,
}

/// The call's budget spent so far: thread CPU time (wall time where there is
/// no thread clock) plus time slept in `time.sleep`.
struct Clock {
    cpu: Option<Duration>,
    wall: Instant,
    slept: Duration,
}

impl Clock {
    fn start() -> Self {
        Self { cpu: alloc::thread_cpu(), wall: Instant::now(), slept: Duration::ZERO }
    }

    fn used(&self) -> Duration {
        let ran = match (self.cpu, alloc::thread_cpu()) {
            (Some(start), Some(now)) => now.saturating_sub(start),
            _ => self.wall.elapsed(),
        };
        ran + self.slept
    }
}

/// Answers a call of a name monty does not define.
fn host_function(name: &str, args: &[MontyObject], used: Duration, budget: Duration) -> Hook {
    match name {
        "_sluice_host_time" => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
            Hook::Answer(MontyObject::Float(now).into())
        }
        "_sluice_host_monotonic" => Hook::Answer(MontyObject::Float(monotonic().as_secs_f64()).into()),
        "_sluice_host_sleep" => {
            let secs = match args.first() {
                Some(MontyObject::Int(i)) => *i as f64,
                Some(MontyObject::Float(f)) => *f,
                _ => {
                    return Hook::Answer(raise(ExcType::TypeError, "sleep() needs a number"));
                }
            };
            if secs.is_nan() || secs < 0.0 {
                return Hook::Answer(raise(ExcType::ValueError, "sleep length must be non-negative"));
            }
            // A sleep past the budget would only end in a timeout: say so now
            // instead of holding the thread.
            match Duration::try_from_secs_f64(secs) {
                Ok(nap) if used.saturating_add(nap) < budget => {
                    std::thread::sleep(nap);
                    Hook::Slept(nap)
                }
                _ => Hook::OutOfTime,
            }
        }
        other => Hook::Answer(ExtFunctionResult::NotFound(other.to_owned())),
    }
}

fn raise(kind: ExcType, message: &str) -> ExtFunctionResult {
    MontyException::new(kind, Some(message.to_owned())).into()
}

/// Seconds since the first call in this process: a monotonic clock that says
/// nothing about the host's uptime.
fn monotonic() -> Duration {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed()
}

fn timeout(limits: Limits) -> FunctionError {
    FunctionError::Timeout { limit_ms: limits.cpu_ms }
}

/// Maps a Python exception that ended the call to the typed error.
pub(crate) fn classify(exception: &MontyException, program: &Program, limits: Limits) -> FunctionError {
    let message = exception.message().unwrap_or_default();
    match exception.exc_type() {
        // monty's own limit errors are uncatchable and say which limit; a
        // user's `raise TimeoutError(...)` is just an exception.
        ExcType::TimeoutError if message.starts_with("time limit exceeded") => timeout(limits),
        ExcType::MemoryError if message.starts_with("memory limit exceeded") => {
            FunctionError::MemoryLimit { limit_bytes: limits.memory_bytes }
        }
        _ => FunctionError::Raised {
            message: exception.summary(),
            line: exception.traceback().iter().rev().find_map(|frame| program.user_line(frame.start.line)),
        },
    }
}
