//! Shared by the corpus tests: reading `corpus/*.py` and classifying outcomes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sandbox::{Function, FunctionError, Limits};
use serde_json::{Value, json};

/// The small limits every corpus file runs under.
pub const LIMITS: Limits = Limits { cpu_ms: 100, memory_bytes: 16 * 1024 * 1024 };

/// How far past its limit a call may stop (issue 17: "limit + 50 ms").
pub const SLACK: Duration = Duration::from_millis(50);

pub const SEED: &str =
    "# -*- coding: utf-8 -*-\nimport json\ndef handler(event,context):\n    obj = json.loads(event)\n    return obj\n";

pub struct Case {
    pub name: String,
    pub source: String,
    /// The header's `# expect: CLASS [ExceptionType]`.
    pub expect: String,
    /// Latest stop accepted: the limit + 50 ms, unless a `# bound: watchdog`
    /// line admits that the interpreter cannot stop by itself and the
    /// watchdog must.
    #[allow(dead_code)] // only the sequential corpus test times calls
    pub bound: Duration,
}

/// Where the watchdog abandons a call.
pub const WATCHDOG: Duration = Duration::from_millis(1_000);

pub fn corpus() -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut cases: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .map(|path| {
            let source = std::fs::read_to_string(&path).unwrap();
            let expect = source
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{} has no `# expect:` header", path.display()))
                .trim()
                .to_owned();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let watchdog = source.lines().any(|l| l.starts_with("# bound: watchdog"));
            let limit = Duration::from_millis(LIMITS.cpu_ms);
            let bound = if watchdog { limit + WATCHDOG + SLACK } else { limit + SLACK };
            Case { name, source, expect, bound }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// The outcome class of a result, in the header's terms.
pub fn class_of(result: &Result<Value, FunctionError>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(FunctionError::Compile { .. }) => "compile".to_owned(),
        Err(FunctionError::Timeout { .. }) => "timeout".to_owned(),
        Err(FunctionError::MemoryLimit { .. }) => "memory".to_owned(),
        Err(FunctionError::Raised { message, .. }) => {
            let kind = message.split(':').next().unwrap_or_default();
            format!("raised {kind}")
        }
        Err(FunctionError::NotJson(_)) => "notjson".to_owned(),
        Err(FunctionError::OutputTooLarge { .. }) => "toolarge".to_owned(),
        Err(FunctionError::Busy) => "busy".to_owned(),
        Err(FunctionError::Internal(_)) => "internal".to_owned(),
    }
}

/// What one case did.
#[allow(dead_code)] // the concurrent test reads only the result
pub struct Outcome {
    pub result: Result<Value, FunctionError>,
    /// The caller's wall time around the call.
    pub wall: Duration,
    /// The interpreter thread's CPU time; `None` when the call never ran or
    /// was abandoned by the watchdog.
    pub cpu: Option<Duration>,
}

/// Compiles and calls one case.
pub async fn run(case: &Case) -> Outcome {
    let function = match Function::compile(&case.name, &case.source) {
        Ok(f) => f,
        Err(e) => {
            return Outcome { result: Err(e), wall: Duration::ZERO, cpu: Some(Duration::ZERO) };
        }
    };
    let context = json!({"requestId": "corpus", "workgroup": "hostile"});
    let started = Instant::now();
    let (result, stats) = function.call_with_stats(&json!({"x": 1}), &context, LIMITS).await;
    Outcome { result, wall: started.elapsed(), cpu: stats.map(|s| s.cpu) }
}

/// A normal call still works.
pub async fn assert_healthy() {
    let f = Function::compile("seed", SEED).unwrap();
    let event = json!({"ok": [1, 2, 3]});
    let answer = f.call(&event, &json!({}), Limits::default()).await;
    assert_eq!(answer.unwrap(), event);
}
