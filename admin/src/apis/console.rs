//! The test console: runs the draft or a saved version through the SQL pipeline inside the
//! admin runtime, with the caller's parameters, and answers the data with the SQL, the binds
//! and the time each stage took. A registered API's request goes to its upstream, and the
//! answer is checked against its declared schema; a workflow answers each node's trace.
//! Nothing here touches the edge: test runs are not calls.
//! `saveAsSample` keeps the answer as the tested draft's or version's success or failure
//! sample, by its outcome: the body a caller would get, without its `requestId`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::body::JsonBody;
use axum::Extension;
use axum::extract::{Path, State};
use catalog::model::{Environment, SecurityLevel};
use errors::ErrorCode;
use plugins::ApiError;
use plugins::sql::StageTimings;
use plugins::sql::value::RawParam;
use plugins::{Call, CallOutput};
use serde::Deserialize;
use utoipa::ToSchema;

use super::versions::VersionRef;
use super::{api_in, datasource_in, rules};
use crate::AdminState;
use crate::access::Caller;
use crate::reply::{AdminError, AdminResult, Reply};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestBody {
    /// A version number (`0`, `"V0"`) or `"draft"` (the default).
    #[serde(default)]
    #[schema(value_type = Option<VersionRef>)]
    version: Option<serde_json::Value>,
    /// Parameters by name, as a JSON body would send them (strings are read like query text).
    #[serde(default)]
    #[schema(value_type = Object)]
    params: serde_json::Map<String, serde_json::Value>,
    /// Answer the SQL and binds without running them.
    #[serde(default)]
    dry_run: bool,
    /// Run as a caller of this clearance (`L1`–`L4`): fields above it are masked as the API
    /// masks them, and a workflow's API nodes above it are refused. Absent: everything shows.
    #[serde(default)]
    clearance: Option<SecurityLevel>,
    /// Whose published versions a workflow's API nodes call: `test` (the default) or `prod`.
    #[serde(default)]
    environment: Option<Environment>,
    /// Keep what the API answers as the tested draft's or version's result sample: its success
    /// sample when the call succeeds, its failure sample when the API refuses or fails it
    /// (`{"code", "message"}`). Not with `dryRun`; at most 64 KiB.
    #[serde(default)]
    save_as_sample: bool,
}

pub async fn test(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<TestBody>,
) -> AdminResult<serde_json::Value> {
    let workgroup = caller.workgroup()?;
    let api = api_in(&state, workgroup, &id).await?;
    let tested = if body.version.is_some() { "version" } else { "draft" };
    let which = match &body.version {
        None => VersionRef::Draft,
        Some(value) => VersionRef::from_json("version", value)?,
    };
    if body.save_as_sample && body.dry_run {
        return Err(AdminError::invalid("saveAsSample", "a dry run answers no result to keep: leave dryRun out"));
    }
    let sample = body.save_as_sample.then_some(SampleTarget { api: &api, which });
    let definition = match which {
        // A workflow draft runs the library's functions as they are now.
        VersionRef::Draft => crate::functions::resolve(&state, workgroup, &api.draft).await?,
        VersionRef::Number(n) => state.store.version(api.id, n).await?.definition,
    };
    // The console's own pools (never the edge's), under the policy in force now; a workflow's
    // API nodes read through them too.
    state.plugins.pools.set_access(state.outbound().await?.datasources);
    if matches!(definition.mode, catalog::model::ApiMode::Workflow(_)) {
        return workflow_test(&state, &caller, workgroup.id, &definition, body, tested, sample).await;
    }
    if matches!(definition.mode, catalog::model::ApiMode::Registered(_)) {
        // Reads leave constants (credentials) out; the run needs them, the answer never shows them.
        let opened = match which {
            VersionRef::Draft => state.store.api_with_secrets(api.id).await?.draft,
            VersionRef::Number(n) => state.store.version_with_secrets(api.id, n).await?.definition,
        };
        if let catalog::model::ApiMode::Registered(spec) = &opened.mode {
            return registered_test(&state, &caller, &api.name, &opened, spec, body, tested, sample).await;
        }
    }
    let Some(datasource_id) = definition.datasource_id else {
        return Err(AdminError::invalid("draft.datasourceId", "a data API needs a datasourceId"));
    };
    let datasource = datasource_in(&state, workgroup, datasource_id).await?;
    let plugin = plugins::compile(&definition, Some(&datasource)).map_err(rules::definition_error)?;
    let params: HashMap<String, RawParam> =
        body.params.into_iter().map(|(name, value)| (name, RawParam::Json(value))).collect();
    // Rendering is cheap and deterministic: a dry run first gives the SQL a real run executes.
    // The console shows (and keeps as samples) the API's JSON shape, whatever its callers get
    // by default.
    let input = Call {
        params,
        dry_run: true,
        clearance: body.clearance,
        format: plugins::format::Requested::Json,
        ..Call::default()
    };
    let dry = match plugin.invoke(&state.plugins, &input).await {
        Ok(CallOutput::DryRun { dry_run, .. }) => dry_run,
        Ok(_) => return Err(console_error(&ApiError::database(), tested)),
        // A refused parameter is refused here already, as the call would be.
        Err(e) => return Err(refused(&state, &caller, sample.as_ref(), &e, tested).await),
    };
    let mut answer = dry.to_json();
    if body.dry_run {
        answer["dryRun"] = serde_json::Value::Bool(true);
        return Ok(Reply::ok(answer));
    }
    let input = Call { dry_run: false, ..input };
    let output = match plugin.invoke(&state.plugins, &input).await {
        Ok(output) => output,
        Err(e) => return Err(refused(&state, &caller, sample.as_ref(), &e, tested).await),
    };
    match output {
        CallOutput::Data { data, row_count, timings, .. } => {
            answer["dryRun"] = serde_json::Value::Bool(false);
            answer["sizeBytes"] = data.len().into();
            answer["rowCount"] = row_count.into();
            answer["timings"] = timings_json(&timings);
            answer["result"] = serde_json::from_slice(&data)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&data).into_owned()));
            if let Some(sample) = &sample {
                sample.keep(&state, &caller, true, success_body(&answer["result"])).await?;
                answer["savedAsSample"] = "success".into();
            }
            Ok(Reply::ok(answer))
        }
        _ => Err(console_error(&ApiError::database(), tested)),
    }
}

/// What a console run's answer is kept as, with `saveAsSample`.
struct SampleTarget<'a> {
    api: &'a catalog::model::Api,
    which: VersionRef,
}

impl SampleTarget<'_> {
    async fn keep(
        &self,
        state: &AdminState,
        caller: &Caller,
        success: bool,
        body: serde_json::Value,
    ) -> Result<(), AdminError> {
        super::versions::save_console_sample(state, caller, self.api, self.which, success, body).await
    }
}

/// The most answer mismatches `responseCheck` lists.
const MISMATCHES_LISTED: usize = 20;

/// A registered API in the console: its mapped request goes to the upstream as an `api` node's
/// call does (one bounded JSON exchange, the network policy's checked address); `dryRun`
/// answers the request without sending it. With a declared answer schema
/// (`validation.response`), `responseCheck` lists where the answer differs from it.
#[allow(clippy::too_many_arguments)]
async fn registered_test(
    state: &AdminState,
    caller: &Caller,
    api_name: &str,
    definition: &catalog::model::ApiDefinition,
    spec: &catalog::model::RegisteredSpec,
    body: TestBody,
    tested: &str,
    sample: Option<SampleTarget<'_>>,
) -> AdminResult<serde_json::Value> {
    let plugin = plugins::compile(definition, None).map_err(rules::definition_error)?;
    let params: HashMap<String, RawParam> =
        body.params.into_iter().map(|(name, value)| (name, RawParam::Json(value))).collect();
    let input = Call { params, clearance: body.clearance, format: plugins::format::Requested::Json, ..Call::default() };
    let forward = match plugin.invoke(&state.plugins, &input).await {
        Ok(CallOutput::Forward(forward)) => forward,
        Ok(_) => return Err(console_error(&ApiError::internal("a registered API made no upstream request"), tested)),
        Err(e) => return Err(refused(state, caller, sample.as_ref(), &e, tested).await),
    };
    let mut answer = serde_json::json!({"request": upstream_request(&forward)});
    if body.dry_run {
        answer["dryRun"] = serde_json::Value::Bool(true);
        return Ok(Reply::ok(answer));
    }
    let started = std::time::Instant::now();
    let result = match state.plugins.forward(api_name, &forward).await {
        Ok(CallOutput::Json(value)) => value,
        Ok(_) => return Err(console_error(&ApiError::internal("the upstream exchange answered no JSON"), tested)),
        Err(e) => return Err(refused(state, caller, sample.as_ref(), &e, tested).await),
    };
    answer["dryRun"] = serde_json::Value::Bool(false);
    answer["timings"] = serde_json::json!({"upstreamMs": millis(started.elapsed())});
    if let Some(schema) = spec.validation.as_ref().and_then(|v| v.response.as_ref()) {
        answer["responseCheck"] = match plugins::registered::answer_mismatches(schema, &result, MISMATCHES_LISTED) {
            Ok(mismatches) => serde_json::json!({"matches": mismatches.is_empty(), "mismatches": mismatches}),
            Err(why) => {
                serde_json::json!({"matches": null, "error": format!("the answer schema cannot be applied: {why}")})
            }
        };
    }
    if let Some(sample) = &sample {
        sample.keep(state, caller, true, success_body(&result)).await?;
        answer["savedAsSample"] = "success".into();
    }
    answer["result"] = result;
    Ok(Reply::ok(answer))
}

/// What the console shows of an upstream request: method, path, and the names (never the
/// values: constants may be credentials) of its query parameters and headers.
fn upstream_request(forward: &plugins::Forward) -> serde_json::Value {
    let request = &forward.request;
    let (path, query) = request.path_and_query.split_once('?').unwrap_or((&request.path_and_query, ""));
    let query_names: Vec<&str> =
        query.split('&').filter(|pair| !pair.is_empty()).map(|pair| pair.split('=').next().unwrap_or(pair)).collect();
    let header_names: Vec<&str> = request.headers.iter().map(|(name, _)| name.as_str()).collect();
    serde_json::json!({
        "method": request.method.as_str(),
        "path": path,
        "query": query_names,
        "headers": header_names,
        "bodyBytes": request.body.as_ref().map_or(0, |b| b.len()),
    })
}

/// What the console answers for a call the API refused or failed, keeping it as the failure
/// sample first when asked to. A definition the datasource refuses is the author's to fix,
/// not an answer callers get: it is never kept.
async fn refused(
    state: &AdminState,
    caller: &Caller,
    sample: Option<&SampleTarget<'_>>,
    e: &ApiError,
    tested: &str,
) -> AdminError {
    if let Some(sample) = sample
        && e.owner_detail().is_none()
        && let Err(not_kept) = sample.keep(state, caller, false, failure_body(e)).await
    {
        return not_kept;
    }
    console_error(e, tested)
}

/// A successful call's body as a sample: the OK envelope without its `requestId`.
fn success_body(data: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({"code": "OK", "data": data})
}

/// A refused or failed call's body as a sample: its code and message.
fn failure_body(e: &ApiError) -> serde_json::Value {
    serde_json::json!({"code": e.code(), "message": e.message})
}

/// A workflow in the console: `dryRun` answers its plan (nothing runs); a run answers the
/// output and each node's trace. API nodes call the versions published in the chosen
/// environment (test by default) as the edge serves them, under the chosen clearance (the
/// binary attaches in-process calls to the console's context; without them API nodes fail,
/// typed).
async fn workflow_test(
    state: &AdminState,
    caller: &Caller,
    workgroup_id: i64,
    definition: &catalog::model::ApiDefinition,
    body: TestBody,
    tested: &str,
    sample: Option<SampleTarget<'_>>,
) -> AdminResult<serde_json::Value> {
    let api = plugins::workflow::WorkflowApi::compile(definition).map_err(rules::definition_error)?;
    let input = Call {
        clearance: body.clearance,
        env: body.environment.unwrap_or(Environment::Test),
        workgroup_id: Some(workgroup_id),
        ..Call::default()
    };
    if body.dry_run {
        let statements = node_statements(state, &api, &body.params, &input).await;
        let plan = api.compiled().plan();
        return Ok(Reply::ok(serde_json::json!({"dryRun": true, "plan": plan, "statements": statements})));
    }
    let params = body.params.into_iter().map(|(name, value)| (name, RawParam::Json(value))).collect();
    let input = Call { params, ..input };
    let run = match api.run_traced(&state.plugins, &input).await {
        Ok(run) => run,
        Err(e) => return Err(refused(state, caller, sample.as_ref(), &e, tested).await),
    };
    if let Some(sample) = &sample {
        let (success, body) = match &run.output {
            Ok(result) => (true, success_body(result)),
            Err(e) => (false, failure_body(e)),
        };
        sample.keep(state, caller, success, body).await?;
    }
    let saved = sample.map(|_| if run.output.is_ok() { "success" } else { "failure" });
    let mut answer = match run.output {
        Ok(result) => serde_json::json!({"dryRun": false, "result": result, "trace": run.trace}),
        // The run failed past its parameters: what a caller would hear, beside the trace up to
        // the node that failed, so the author sees where and why (the console's call worked).
        Err(e) => serde_json::json!({
            "dryRun": false,
            "result": null,
            "error": {"code": e.code(), "status": e.status(), "message": e.message},
            "trace": run.trace,
        }),
    };
    if let Some(saved) = saved {
        answer["savedAsSample"] = saved.into();
    }
    Ok(Reply::ok(answer))
}

/// Each data API node's statement for a workflow's dry run, from its API's own dry run
/// (nothing reaches a database or upstream), in node order, with the inputs known before the
/// run (`CompiledWorkflow::known_inputs`). A node with any parameter that may come from an
/// earlier node's output is not rendered — the statement could differ — and its entry names
/// those parameters instead of `sql`. Nodes calling registered APIs or workflows have no
/// statement and no entry.
async fn node_statements(
    state: &AdminState,
    workflow: &plugins::workflow::WorkflowApi,
    request: &serde_json::Map<String, serde_json::Value>,
    call: &Call,
) -> Vec<serde_json::Value> {
    let workgroup_id = call.workgroup_id.unwrap_or_default();
    let api_params = |api: &str| state.plugins.api_param_names(call.env, workgroup_id, api);
    let mut statements = Vec::new();
    for input in workflow.compiled().known_inputs(request, api_params) {
        let (node, api) = (input.node, input.api);
        if !input.unknown.is_empty() {
            let why = format!(
                "its parameters {} may come from earlier nodes' outputs; run the workflow to see its statement",
                input.unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            );
            statements.push(serde_json::json!({"node": node, "api": api, "sql": null, "why": why}));
            continue;
        }
        let params = input.params.into_iter().map(|(name, value)| (name, RawParam::Json(value))).collect();
        let dry = Call { params, dry_run: true, ..call.clone() };
        match state.plugins.dispatch_by_name(workgroup_id, &api, &dry).await {
            Ok(CallOutput::DryRun { dry_run, .. }) => {
                let mut entry = dry_run.to_json();
                entry["node"] = node.into();
                entry["api"] = api.into();
                statements.push(entry);
            }
            Ok(_) => {}
            Err(e) => statements.push(serde_json::json!({"node": node, "api": api, "sql": null, "why": e.message})),
        }
    }
    statements
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn timings_json(t: &StageTimings) -> serde_json::Value {
    serde_json::json!({
        "parseMs": millis(t.parse),
        "planMs": millis(t.plan),
        "executeMs": millis(t.execute),
        "encodeMs": millis(t.encode),
    })
}

/// What the API would have answered, with its code and status; parameter errors name the
/// parameter as `params.<name>`.
///
/// A statement the database refused because the definition does not fit its datasource (a
/// missing table or column) is the tester's to fix: 400 `InvalidDefinition` on `tested`
/// (`draft` or `version`) with the fixed reason, where the edge answers 500.
fn console_error(e: &ApiError, tested: &str) -> AdminError {
    if let Some(reason) = e.owner_detail() {
        return AdminError::new(
            ErrorCode::InvalidDefinition,
            format!(
                "the datasource refused the statement this definition makes: {reason}; \
                 check its table, columns and SQL against the datasource"
            ),
        )
        .in_field(tested);
    }
    let relayed = AdminError::relayed(e);
    match (e.kind(), e.name()) {
        (ErrorCode::MissingParameter | ErrorCode::InvalidParameter, Some(name)) => {
            relayed.in_field(&format!("params.{name}"))
        }
        _ => relayed,
    }
}
