//! Workflow APIs (issue 17): [`WorkflowApi`] compiles a `WorkflowSpec` with `sluice-workflow`
//! once per version and runs it per call. Its [`NodeHost`] calls other APIs of the same
//! workgroup in process through the [`PluginContext`]'s dispatcher, by name, carrying the
//! outer caller's clearance, app, environment and deadline (so masking applies inside), one
//! level deeper; function nodes go to the context's [`crate::FunctionRunner`], if the binary
//! set one, with their source from the definition (`functions`), so a saved version keeps the
//! functions it runs. Its answer is JSON; the edge writes it as XML or CSV when asked
//! (`format::json_to_xml`, `format::json_to_csv`).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use ::workflow::{CheckError, CompiledWorkflow, NodeError, NodeHost, NodeTrace, RunOptions, WorkflowError};
use async_trait::async_trait;
use catalog::model::{ApiDefinition, ApiMode, NodeKind, RequestParam, ResultFormat};
use serde_json::{Map, Value, json};

use crate::format::Requested;
use crate::sql::value::{ParamValues, RawParam};
use crate::{ApiError, ApiPlugin, Call, CallOutput, DefinitionError, DefinitionField, ErrorCode, PluginContext};

/// A run with its trace, whether it succeeded or failed.
#[derive(Debug)]
pub struct TracedRun {
    pub output: Result<Value, ApiError>,
    pub trace: Vec<NodeTrace>,
}

/// One compiled version of a workflow API.
#[derive(Debug)]
pub struct WorkflowApi {
    request_params: Vec<RequestParam>,
    compiled: CompiledWorkflow,
    /// Function sources by name, from the definition.
    functions: BTreeMap<String, String>,
    /// What callers without a preference get: JSON or XML.
    format: ResultFormat,
}

impl WorkflowApi {
    /// Checks the workflow against its request parameters (`${START.x}` must name one) and
    /// that every function node's source is in `functions`. Errors name the field as the
    /// definition spells it: `nodes[2].params.user_id`.
    pub fn compile(definition: &ApiDefinition) -> Result<WorkflowApi, DefinitionError> {
        let ApiMode::Workflow(spec) = &definition.mode else {
            return Err(DefinitionError::at("mode", format!("a {} API is not a workflow", definition.mode.name())));
        };
        if definition.datasource_id.is_some() {
            return Err(DefinitionError::at("datasourceId", "a workflow API reads no datasource"));
        }
        let format = match definition.options.result_format {
            ResultFormat::Csv => {
                return Err(DefinitionError::at(
                    "options.resultFormat",
                    "a workflow answers JSON or XML by default (CSV only when a caller asks for it and the answer \
                     is an array of flat objects): set options.resultFormat to JSON or XML",
                ));
            }
            ResultFormat::Xml => ResultFormat::Xml,
            ResultFormat::Json | ResultFormat::JsonCompact => ResultFormat::Json,
        };
        let mut names: Vec<String> = Vec::with_capacity(definition.request_params.len());
        for (index, param) in definition.request_params.iter().enumerate() {
            if names.contains(&param.name) {
                return Err(DefinitionError::item("requestParams", &param.name, "the parameter is declared twice"));
            }
            // As in SQL modes: a default that does not read as its type is refused here, not
            // at every call that leaves the parameter out.
            crate::sql::value::check_default("requestParams", index, param)?;
            names.push(param.name.clone());
        }
        let compiled = ::workflow::compile(spec, &names).map_err(check_error)?;
        for (index, node) in spec.nodes.iter().enumerate() {
            if let NodeKind::Function { function } = &node.kind
                && !spec.functions.contains_key(function)
            {
                return Err(DefinitionError {
                    field: DefinitionField::Node(format!("nodes[{index}].function")),
                    message: format!(
                        "nodes[{index}].function: function `{function}` has no source in the workflow's `functions`"
                    ),
                });
            }
        }
        Ok(WorkflowApi {
            request_params: definition.request_params.clone(),
            compiled,
            functions: spec.functions.clone(),
            format,
        })
    }

    /// The checked workflow: its plan, the APIs and functions it calls.
    pub fn compiled(&self) -> &CompiledWorkflow {
        &self.compiled
    }

    /// Runs the workflow for `call`: parameters parsed and checked as a data API's, then the
    /// graph.
    pub async fn run(&self, ctx: &PluginContext, call: &Call) -> Result<Value, ApiError> {
        let request = self.request(call)?;
        let (host, options) = self.host(ctx, call);
        let outcome = ::workflow::run(&self.compiled, &host, request, options).await.map_err(|e| run_error(&e))?;
        Ok(outcome.output)
    }

    /// Runs like [`WorkflowApi::run`], with each node's input, output, status and time, up to
    /// and including a node that failed (the test console). The outer error is the request's
    /// (a parameter refused: nothing ran); the inner result is the run's.
    pub async fn run_traced(&self, ctx: &PluginContext, call: &Call) -> Result<TracedRun, ApiError> {
        let request = self.request(call)?;
        let (host, options) = self.host(ctx, call);
        let (output, trace) = ::workflow::run_traced(&self.compiled, &host, request, options).await;
        Ok(TracedRun { output: output.map_err(|e| run_error(&e)), trace })
    }

    /// The engine's host for one call, and the run's deadline: the workflow's own, or less if
    /// the outer call ends sooner.
    fn host<'a>(&'a self, ctx: &'a PluginContext, call: &'a Call) -> (Host<'a>, RunOptions) {
        let now = Instant::now();
        let own = self.compiled.deadline();
        let limit = match call.deadline {
            Some(outer) => own.min(outer.saturating_duration_since(now)),
            None => own,
        };
        let host = Host { ctx, call, functions: &self.functions, deadline: now + limit };
        (host, RunOptions { deadline: Some(limit), traced: false, depth: call.depth })
    }

    /// The start node's output: each declared parameter the call has (or defaults), typed,
    /// as JSON. Parameters above the caller's clearance are refused as a data API refuses them.
    fn request(&self, call: &Call) -> Result<Map<String, Value>, ApiError> {
        if let Some(clearance) = call.clearance {
            for param in self.request_params.iter().filter(|p| p.security_level > clearance) {
                if param.required || call.params.contains_key(&param.name) {
                    return Err(ApiError::forbidden_parameter(&param.name, param.security_level));
                }
            }
        }
        let values = ParamValues::parse(&self.request_params, &call.params)?;
        Ok(self
            .request_params
            .iter()
            .enumerate()
            .filter_map(|(i, param)| values.get(i).map(|v| (param.name.clone(), v.to_json())))
            .collect())
    }
}

#[async_trait]
impl ApiPlugin for WorkflowApi {
    fn mode(&self) -> &'static str {
        "workflow"
    }

    fn request_params(&self) -> &[RequestParam] {
        &self.request_params
    }

    fn answer_format(&self) -> Option<ResultFormat> {
        Some(self.format)
    }

    async fn invoke(&self, ctx: &PluginContext, call: &Call) -> Result<CallOutput, ApiError> {
        if call.dry_run {
            return Ok(CallOutput::Json(json!({"plan": self.compiled.plan()})));
        }
        Ok(CallOutput::Json(self.run(ctx, call).await?))
    }
}

/// What can be checked of a function's source without the sandbox (a build or a process
/// without a [`crate::FunctionRunner`]): not blank, at most 64 KiB, and a top-level
/// `def handler(` line. Where a runner is set, [`crate::FunctionRunner::check`] decides (syntax,
/// imports, the two parameters).
pub fn defines_handler(source: &str) -> Result<(), String> {
    if source.trim().is_empty() {
        return Err("the source is empty: write a `def handler(event, context):` function".to_owned());
    }
    if source.len() > catalog::store::MAX_FUNCTION_SOURCE {
        return Err(format!(
            "the source is {} bytes; a function's source is at most {} KiB",
            source.len(),
            catalog::store::MAX_FUNCTION_SOURCE / 1024
        ));
    }
    let defines = source.lines().any(|line| {
        line.strip_prefix("def")
            .is_some_and(|rest| rest.trim_start().starts_with("handler") && rest.starts_with([' ', '\t']))
    });
    if !defines {
        return Err("the source defines no top-level `def handler(event, context):`".to_owned());
    }
    Ok(())
}

/// A refused definition, at the field the workflow check names (`nodes[2].params.user_id`).
fn check_error(e: CheckError) -> DefinitionError {
    let message = e.to_string();
    DefinitionError { field: DefinitionField::Node(e.field), message }
}

/// A failed run as the caller sees it: the catalogue code of the failure
/// (`Workflow.NodeFailed.<node>` with the inner code in the message). Depth is a property of
/// the whole chain, so a node that failed because a workflow below it went too deep answers
/// `Workflow.DepthExceeded` itself rather than a `NodeFailed` per level.
pub fn run_error(e: &WorkflowError) -> ApiError {
    match e {
        WorkflowError::NodeFailed { inner_code, .. } if inner_code == ErrorCode::WorkflowDepthExceeded.as_str() => {
            run_error(&WorkflowError::DepthExceeded)
        }
        WorkflowError::NodeFailed { node, .. } => ApiError::named(e.error_code(), node, e.message()),
        _ => ApiError::new(e.error_code(), e.message()),
    }
}

/// What the engine calls while one call of a workflow runs.
struct Host<'a> {
    ctx: &'a PluginContext,
    /// The workflow's own call: its caller's clearance, app, environment and workgroup.
    call: &'a Call,
    functions: &'a BTreeMap<String, String>,
    /// When the whole run must be over: inner calls get it as theirs.
    deadline: Instant,
}

#[async_trait]
impl NodeHost for Host<'_> {
    fn api_params(&self, api: &str) -> Option<Vec<String>> {
        self.ctx.api_param_names(self.call.env, self.call.workgroup_id?, api)
    }

    async fn call_api(&self, api: &str, params: Map<String, Value>, depth: u32) -> Result<Value, NodeError> {
        let Some(workgroup_id) = self.call.workgroup_id else {
            return Err(NodeError::new(ErrorCode::NotFoundApi.as_str(), "this call has no workgroup to find APIs in"));
        };
        if depth > ::workflow::MAX_DEPTH {
            return Err(NodeError::new(
                ErrorCode::WorkflowDepthExceeded.as_str(),
                WorkflowError::DepthExceeded.message(),
            ));
        }
        let params: HashMap<String, RawParam> = params.into_iter().map(|(k, v)| (k, RawParam::Json(v))).collect();
        let inner = Call {
            params,
            dry_run: false,
            clearance: self.call.clearance,
            app_id: self.call.app_id,
            env: self.call.env,
            deadline: Some(self.deadline),
            workgroup_id: Some(workgroup_id),
            depth,
            // The node reads the answer as JSON, whatever the API's callers get by default.
            format: Requested::Json,
        };
        let output = self
            .ctx
            .dispatch_by_name(workgroup_id, api, &inner)
            .await
            .map_err(|e| NodeError::new(e.code(), e.message))?;
        node_output(api, output)
    }

    async fn call_function(&self, function: &str, event: Value, timeout: Option<Duration>) -> Result<Value, NodeError> {
        let failed = |why: String| NodeError::new(ErrorCode::WorkflowFunctionError.as_str(), why);
        let Some(runner) = self.ctx.function_runner() else {
            return Err(failed("functions are not enabled in this build".to_owned()));
        };
        let (Some(source), Some(workgroup_id)) = (self.functions.get(function), self.call.workgroup_id) else {
            return Err(failed(format!("function `{function}` is not defined in this workflow")));
        };
        let context = json!({"function": function, "env": self.call.env.as_str(), "appId": self.call.app_id});
        runner.call(workgroup_id, function, source, event, context, timeout).await
    }
}

/// An API node's result: the callee's answer as `{"data": …}`, as its caller would read the
/// envelope's `data` (`$.data[0].id`).
fn node_output(api: &str, output: CallOutput) -> Result<Value, NodeError> {
    let data = match output {
        CallOutput::Data { data, .. } => serde_json::from_slice::<Value>(&data).map_err(|_| {
            NodeError::new(ErrorCode::InternalError.as_str(), format!("the answer of `{api}` is not JSON"))
        })?,
        CallOutput::Json(value) => value,
        CallOutput::DryRun { .. } | CallOutput::Forward(_) => {
            return Err(NodeError::new(
                ErrorCode::InternalError.as_str(),
                format!("`{api}` answered something a workflow cannot read"),
            ));
        }
    };
    Ok(json!({ "data": data }))
}

#[cfg(test)]
mod tests;
