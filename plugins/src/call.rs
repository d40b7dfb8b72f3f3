//! What a plugin is called with and what it answers, whatever its mode.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use catalog::model::{Environment, ResultFormat, SecurityLevel};

use crate::format::Requested;

use crate::registered::{UpstreamRequest, UpstreamRoute};
use crate::sql::encode::PageInfo;
use crate::sql::value::RawParam;
use crate::sql::{DryRun, StageTimings};

/// One call of an API, with its parameters gathered from path, query, headers and body; the
/// plugin parses them to the types its definition declares.
#[derive(Debug, Clone, Default)]
pub struct Call {
    pub params: HashMap<String, RawParam>,
    /// Plan only: answer what would run (the SQL and binds), touch no database.
    pub dry_run: bool,
    /// The caller's clearance: fields and parameters above it are masked or refused. `None`
    /// sees everything (the management console, in-process tools).
    pub clearance: Option<SecurityLevel>,
    /// The calling app, when the API needs one; `None` for anonymous callers and the console.
    pub app_id: Option<i64>,
    /// The environment the call was routed in (an in-process call stays in it).
    pub env: Environment,
    /// When the whole call must have been answered; `None`: the API's own timeout alone.
    pub deadline: Option<Instant>,
    /// The workgroup of the API called (the edge fills it from the route): where a workflow
    /// finds the APIs its nodes name. `None` outside the edge (the console, tools).
    pub workgroup_id: Option<i64>,
    /// How many workflows are running above this call (0 for a call from outside).
    pub depth: u32,
    /// The answer format the caller asked for (`Accept`); the plugin resolves it against its
    /// configured one. In-process calls ask for JSON, which they read.
    pub format: Requested,
}

/// The answer to one call.
#[derive(Debug, Clone)]
pub enum CallOutput {
    /// The encoded `data` of the response envelope (rows, or a page of them), in `format`:
    /// for XML the content of `<data>`, for CSV the whole body, whose `page` goes in headers.
    Data { data: Vec<u8>, row_count: usize, timings: StageTimings, format: ResultFormat, page: Option<PageInfo> },
    /// A JSON value for the envelope's `data` (composed answers).
    Json(serde_json::Value),
    /// What a dry run would execute.
    DryRun { dry_run: DryRun, timings: StageTimings },
    /// A request for the edge to exchange with an upstream, streaming both bodies: the
    /// upstream's status, headers and body become the caller's.
    Forward(Box<Forward>),
}

/// A registered API's call, mapped: the request and the route it goes out by.
#[derive(Debug, Clone)]
pub struct Forward {
    pub request: UpstreamRequest,
    /// The base URL (checked by the network policy when dialled), timeout and the caller
    /// headers the mapping consumed.
    pub upstream: Arc<UpstreamRoute>,
}

/// What a plugin needs of the caller's body before it is invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyUse {
    /// Parameters may come in a JSON body: the edge reads it whole (≤ the body limit).
    Params,
    /// The body goes on to an upstream as it came; the edge reads it first (≤ 64 KiB) only
    /// when `reads_params` (parameters are read from or built into it).
    Forwarded { reads_params: bool },
}
