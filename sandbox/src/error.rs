//! The typed outcome of compiling or calling a function.
//!
//! Messages are written for the function's author: they name the Python
//! exception and the line in *their* source, never a host path or an
//! interpreter internal.

/// Why a function could not be compiled or did not return a JSON value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    /// The source was refused before running: a syntax error, a missing
    /// `handler(event, context)`, a refused import, or too large.
    #[error("function does not compile: {message}{}", at_line(*line))]
    Compile {
        message: String,
        /// 1-based line in the function's source, when known.
        line: Option<u32>,
    },
    /// The call ran out of its CPU time budget.
    #[error("function exceeded its time limit of {limit_ms} ms")]
    Timeout { limit_ms: u64 },
    /// The call held more memory than its limit.
    #[error("function exceeded its memory limit of {limit_bytes} bytes")]
    MemoryLimit { limit_bytes: usize },
    /// The function raised a Python exception (`message` starts with its type).
    #[error("function raised {message}{}", at_line(*line))]
    Raised {
        message: String,
        /// 1-based line in the function's source of the innermost frame.
        line: Option<u32>,
    },
    /// The handler returned a value with no JSON form.
    #[error("function returned a value that is not JSON: {0}")]
    NotJson(String),
    /// The handler's answer is larger than the output limit.
    #[error("function output is larger than {limit_bytes} bytes")]
    OutputTooLarge { limit_bytes: usize },
    /// Every interpreter thread is busy and the queue is full.
    #[error("too many functions running; try again later")]
    Busy,
    /// The sandbox itself failed; a bug rather than the function's fault.
    #[error("function runner failed: {0}")]
    Internal(String),
}

fn at_line(line: Option<u32>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

impl FunctionError {
    /// The error code reported to API callers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Timeout { .. } => "Workflow.FunctionTimeout",
            _ => "Workflow.FunctionError",
        }
    }
}
