//! How Sluice APIs run. Every mode is a plugin behind [`ApiPlugin`], compiled once per
//! published version by [`compile`] (the one place a mode is chosen) and called with a
//! mode-neutral [`Call`]: the SQL plugin ([`sql`]: wizard, script, native), registered
//! APIs ([`registered::RegisteredApi`]) and workflows ([`workflow::WorkflowApi`], which call
//! other APIs through the [`Dispatcher`] and functions through a [`FunctionRunner`]). The edge
//! and the management API's test console call nothing else.
//!
//! Plugins never depend on the edge (pingora): they take a call and answer a [`CallOutput`].
//! A registered API answers [`CallOutput::Forward`], which the edge exchanges upstream.
//!
//! Adding a mode: its definition type in `catalog::model` (a variant of `ApiMode`), a type
//! implementing [`ApiPlugin`] here, and one arm in [`compile`].

pub mod api_rules;
pub mod cache;
mod call;
pub mod error;
pub mod format;
pub mod registered;
pub mod sql;
pub mod workflow;

pub use call::{BodyUse, Call, CallOutput, Forward};
pub use error::{ApiError, DefinitionError, DefinitionField, ErrorCode};

use std::fmt;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use ::workflow::NodeError;
use async_trait::async_trait;
use catalog::model::{ApiDefinition, ApiMode, Datasource, Environment, RequestParam, ResultFormat};
use serde_json::Value;
use sql::access::DatasourceAccess;

/// What a plugin may use while answering: shared, long-lived resources of the process.
/// `Default` reaches no database: pools open only what a [`DatasourceAccess`] admits.
#[derive(Debug, Default)]
pub struct PluginContext {
    pub pools: sql::execute::PoolRegistry,
    /// Calls other APIs in process; set once by whoever serves them (the edge).
    dispatcher: OnceLock<Weak<dyn Dispatcher>>,
    /// Runs workflow functions; set once by the binary when it has a sandbox.
    functions: OnceLock<Arc<dyn FunctionRunner>>,
}

impl PluginContext {
    pub fn new(access: DatasourceAccess) -> PluginContext {
        PluginContext {
            pools: sql::execute::PoolRegistry::new(access),
            dispatcher: OnceLock::new(),
            functions: OnceLock::new(),
        }
    }

    /// Each open datasource pool's connections, idle and in all: what `/metrics` reads at
    /// scrape time (`calls::metrics::Metrics::watch_pools`).
    pub fn pool_use(&self) -> Vec<calls::metrics::PoolUse> {
        self.pools.pool_use()
    }

    /// Sets who answers [`PluginContext::dispatch`]; the first one set stays. Held weakly:
    /// the dispatcher usually holds this context.
    pub fn set_dispatcher(&self, dispatcher: Weak<dyn Dispatcher>) {
        let _ = self.dispatcher.set(dispatcher);
    }

    /// Calls API `api_id` as published in `call.env`, in process (no HTTP, no second
    /// authentication: the call carries its caller's clearance).
    pub async fn dispatch(&self, api_id: i64, call: &Call) -> Result<CallOutput, ApiError> {
        match self.dispatcher.get().and_then(Weak::upgrade) {
            Some(dispatcher) => dispatcher.dispatch(api_id, call).await,
            None => Err(no_dispatcher()),
        }
    }

    /// Calls the API named `name` in workgroup `workgroup_id` as published in `call.env`, in
    /// process, as [`PluginContext::dispatch`] does: what a workflow's API node does.
    pub async fn dispatch_by_name(&self, workgroup_id: i64, name: &str, call: &Call) -> Result<CallOutput, ApiError> {
        match self.dispatcher.get().and_then(Weak::upgrade) {
            Some(dispatcher) => dispatcher.dispatch_by_name(workgroup_id, name, call).await,
            None => Err(no_dispatcher()),
        }
    }

    /// Sends a registered API's mapped request to its upstream, as an `api` node's call does
    /// (one bounded JSON exchange under the network policy): how the test console runs a
    /// registered API's draft. `api` names it in logs.
    pub async fn forward(&self, api: &str, forward: &Forward) -> Result<CallOutput, ApiError> {
        match self.dispatcher.get().and_then(Weak::upgrade) {
            Some(dispatcher) => dispatcher.forward(api, forward).await,
            None => Err(no_dispatcher()),
        }
    }

    /// The request parameter names of the API `name` of the workgroup as served in `env`;
    /// `None` when there is none (or no dispatcher).
    pub fn api_param_names(&self, env: Environment, workgroup_id: i64, name: &str) -> Option<Vec<String>> {
        self.dispatcher.get().and_then(Weak::upgrade)?.param_names(env, workgroup_id, name)
    }

    /// Sets who runs workflow functions; the first one set stays. Without one, function
    /// nodes fail with `Workflow.FunctionError`.
    pub fn set_function_runner(&self, runner: Arc<dyn FunctionRunner>) {
        let _ = self.functions.set(runner);
    }

    pub fn function_runner(&self) -> Option<&Arc<dyn FunctionRunner>> {
        self.functions.get()
    }
}

fn no_dispatcher() -> ApiError {
    ApiError::new(ErrorCode::InternalError, "no dispatcher in this process: APIs cannot call other APIs here")
}

impl fmt::Debug for dyn FunctionRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FunctionRunner")
    }
}

/// Runs a workflow's function node: `def handler(event, context)` in `source`, in a sandbox
/// (crate `sluice-sandbox`, set by the binary). `event` is the node's input, `context` facts
/// about the call; `timeout` the node's limit when it set one. Errors carry
/// `Workflow.FunctionTimeout` or `Workflow.FunctionError` with the Python message and line.
#[async_trait]
pub trait FunctionRunner: Send + Sync {
    async fn call(
        &self,
        workgroup_id: i64,
        function: &str,
        source: &str,
        event: Value,
        context: Value,
        timeout: Option<Duration>,
    ) -> Result<Value, NodeError>;

    /// Whether `source` would run as function `function`: it compiles and defines
    /// `handler(event, context)`. `Err` says what to fix, with the line when there is one.
    /// What saving a library function or a workflow draft checks.
    fn check(&self, function: &str, source: &str) -> Result<(), String>;
}

impl fmt::Debug for dyn Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dispatcher")
    }
}

/// Runs a published API by id, or by name within a workgroup, in process: what lets one API
/// call another. APIs are found only in the call's environment and, by name, only in the
/// given workgroup: workgroups are walls.
#[async_trait]
pub trait Dispatcher: Send + Sync {
    async fn dispatch(&self, api_id: i64, call: &Call) -> Result<CallOutput, ApiError>;

    async fn dispatch_by_name(&self, workgroup_id: i64, name: &str, call: &Call) -> Result<CallOutput, ApiError>;

    /// The request parameter names of the served version of API `name` of the workgroup.
    fn param_names(&self, env: Environment, workgroup_id: i64, name: &str) -> Option<Vec<String>>;

    /// Exchanges a registered API's mapped request with its upstream ([`PluginContext::forward`]).
    async fn forward(&self, api: &str, forward: &Forward) -> Result<CallOutput, ApiError> {
        let _ = (api, forward);
        Err(no_dispatcher())
    }
}

/// One compiled version of an API. Validation and planning happen when the plugin is built
/// ([`compile`], once per published version); `invoke` runs per call and must not redo that
/// work. A decorator is a plugin that holds another (`Arc<dyn ApiPlugin>`) and forwards to
/// it: caching and call records wrap plugins this way without them knowing.
#[async_trait]
pub trait ApiPlugin: Send + Sync + fmt::Debug {
    /// `wizard`, `script`, `native`, `registered`, …
    fn mode(&self) -> &'static str;

    /// The parameters callers send, with where each is read from.
    fn request_params(&self) -> &[RequestParam];

    /// Names read besides the declared parameters, from the query or the body (SQL's
    /// `pageNum`, `pageSize`, `withTotal`, `sql`).
    fn reserved_params(&self) -> &'static [&'static str] {
        &[]
    }

    /// What the edge must read of the body before [`ApiPlugin::invoke`].
    fn body_use(&self) -> BodyUse {
        BodyUse::Params
    }

    /// The configured answer format of a plugin whose answers the edge negotiates by
    /// `Accept` (data and workflow APIs; `docs/formats.md`); `None` when it answers as it
    /// must (a registered API: the upstream's answer).
    fn answer_format(&self) -> Option<ResultFormat> {
        None
    }

    async fn invoke(&self, ctx: &PluginContext, call: &Call) -> Result<CallOutput, ApiError>;

    /// [`ApiPlugin::invoke`], saying whether the answer came from the result cache; `None` for
    /// a plugin the cache does not hold (the edge then sends no `X-Sluice-Cache`).
    async fn invoke_cached(
        &self,
        ctx: &PluginContext,
        call: &Call,
    ) -> Result<(CallOutput, Option<cache::CacheStatus>), ApiError> {
        Ok((self.invoke(ctx, call).await?, None))
    }
}

/// Builds the plugin that runs `definition`: the one place a mode is chosen. `datasource` is
/// the definition's (data APIs need one, registered and workflow APIs none). The error says
/// what to change.
pub fn compile(
    definition: &ApiDefinition,
    datasource: Option<&Datasource>,
) -> Result<Arc<dyn ApiPlugin>, DefinitionError> {
    cache::check_policy(definition)?;
    match &definition.mode {
        ApiMode::Registered(_) => {
            return registered::RegisteredApi::compile(definition).map(|api| Arc::new(api) as Arc<dyn ApiPlugin>);
        }
        ApiMode::Workflow(_) => {
            return workflow::WorkflowApi::compile(definition).map(|api| Arc::new(api) as Arc<dyn ApiPlugin>);
        }
        ApiMode::Wizard(_) | ApiMode::Script(_) | ApiMode::Native(_) => {}
    }
    let Some(datasource) = datasource else {
        return Err(DefinitionError::at(
            "datasourceId",
            format!("a {} API needs a datasourceId", definition.mode.name()),
        ));
    };
    sql::SqlApi::compile(definition, datasource).map(|api| Arc::new(api) as Arc<dyn ApiPlugin>)
}

#[async_trait]
impl ApiPlugin for sql::SqlApi {
    fn mode(&self) -> &'static str {
        self.definition().mode.name()
    }

    fn request_params(&self) -> &[RequestParam] {
        &self.definition().request_params
    }

    fn reserved_params(&self) -> &'static [&'static str] {
        &[sql::PAGE_NUM, sql::PAGE_SIZE, sql::WITH_TOTAL, sql::NATIVE_SQL]
    }

    fn answer_format(&self) -> Option<ResultFormat> {
        Some(self.definition().options.result_format)
    }

    async fn invoke(&self, ctx: &PluginContext, call: &Call) -> Result<CallOutput, ApiError> {
        sql::SqlApi::invoke(self, &ctx.pools, call).await
    }
}
