//! Workflow APIs (issue 17): several APIs and functions composed into one API and run in one
//! process. [`compile`] checks a [`catalog::model::WorkflowSpec`] and derives its structure; [`run`]
//! runs it against a [`NodeHost`] (the gateway's in-process API calls and function sandbox);
//! [`CompiledWorkflow::plan`] shows what would run, for a dry run. Pure logic: no I/O of its own.
//!
//! Modules: `reference` and `path` (what `$.x` and `${N.x}` select), `expr` and `eval` (switch
//! conditions), `compile` (checks and structure), `compiled` (the result and its plan), `run`
//! (the engine), `host` (what the engine needs from the gateway), `error`.
//! `docs/workflows.md` describes the definition format and the rules.

mod compile;
mod compiled;
mod error;
mod eval;
mod expr;
mod host;
mod path;
mod reference;
mod run;

pub use compile::{DEFAULT_DEADLINE, compile};
pub use compiled::{CompiledWorkflow, KnownInput, PlanBranch, PlanStep};
pub use error::{CheckError, WorkflowError};
pub use eval::EvalError;
pub use expr::{BinOp, Condition, Expr, MAX_CONDITION_LEN, ParseError};
pub use host::{NodeError, NodeHost};
pub use path::Path;
pub use reference::{ParamValue, Ref, Scope};
pub use run::{MAX_DEPTH, NodeStatus, NodeTrace, RunOptions, RunOutcome, run, run_traced};
