//! The test console: runs the draft or a saved version through the SQL pipeline inside the
//! admin runtime, with the caller's parameters, and answers the data with the SQL, the binds
//! and the time each stage took. Nothing here touches the edge: test runs are not calls.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::body::JsonBody;
use axum::Extension;
use axum::extract::{Path, State};
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
}

pub async fn test(
    Extension(caller): Extension<Arc<Caller>>,
    State(state): State<AdminState>,
    Path((_, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<TestBody>,
) -> AdminResult<serde_json::Value> {
    let workgroup = caller.workgroup()?;
    let api = api_in(&state, workgroup, &id).await?;
    let which = match &body.version {
        None => VersionRef::Draft,
        Some(value) => VersionRef::from_json("version", value)?,
    };
    let definition = match which {
        // A workflow draft runs the library's functions as they are now.
        VersionRef::Draft => crate::functions::resolve(&state, workgroup, &api.draft).await?,
        VersionRef::Number(n) => state.store.version(api.id, n).await?.definition,
    };
    if matches!(definition.mode, catalog::model::ApiMode::Workflow(_)) {
        return workflow_test(&state, workgroup.id, &definition, body).await;
    }
    if !definition.mode.is_sql() {
        return Err(AdminError::invalid(
            "version",
            "the test console runs data APIs; a registered API forwards to its upstream, call it through the edge",
        ));
    }
    let Some(datasource_id) = definition.datasource_id else {
        return Err(AdminError::invalid("draft.datasourceId", "a data API needs a datasourceId"));
    };
    let datasource = datasource_in(&state, workgroup, datasource_id).await?;
    let plugin = plugins::compile(&definition, Some(&datasource)).map_err(rules::definition_error)?;
    let params: HashMap<String, RawParam> =
        body.params.into_iter().map(|(name, value)| (name, RawParam::Json(value))).collect();
    // Rendering is cheap and deterministic: a dry run first gives the SQL a real run executes.
    let input = Call { params, dry_run: true, ..Call::default() };
    // The console's own pools (never the edge's), under the policy in force now.
    state.plugins.pools.set_access(state.outbound().await?.datasources);
    let dry = match plugin.invoke(&state.plugins, &input).await.map_err(|e| console_error(&e))? {
        CallOutput::DryRun { dry_run, .. } => dry_run,
        _ => return Err(console_error(&ApiError::database())),
    };
    let mut answer = dry.to_json();
    if body.dry_run {
        answer["dryRun"] = serde_json::Value::Bool(true);
        return Ok(Reply::ok(answer));
    }
    let input = Call { dry_run: false, ..input };
    match plugin.invoke(&state.plugins, &input).await.map_err(|e| console_error(&e))? {
        CallOutput::Data { data, row_count, timings } => {
            answer["dryRun"] = serde_json::Value::Bool(false);
            answer["sizeBytes"] = data.len().into();
            answer["rowCount"] = row_count.into();
            answer["timings"] = timings_json(&timings);
            answer["result"] = serde_json::from_slice(&data)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&data).into_owned()));
            Ok(Reply::ok(answer))
        }
        _ => Err(console_error(&ApiError::database())),
    }
}

/// A workflow in the console: `dryRun` answers its plan (nothing runs); a run answers the
/// output and each node's trace. API nodes call the APIs the edge serves in the test
/// environment when the console's context has a dispatcher; without one they fail, typed.
async fn workflow_test(
    state: &AdminState,
    workgroup_id: i64,
    definition: &catalog::model::ApiDefinition,
    body: TestBody,
) -> AdminResult<serde_json::Value> {
    let api = plugins::workflow::WorkflowApi::compile(definition).map_err(rules::definition_error)?;
    if body.dry_run {
        return Ok(Reply::ok(serde_json::json!({"dryRun": true, "plan": api.compiled().plan()})));
    }
    let params: HashMap<String, RawParam> =
        body.params.into_iter().map(|(name, value)| (name, RawParam::Json(value))).collect();
    let input =
        Call { params, env: catalog::model::Environment::Test, workgroup_id: Some(workgroup_id), ..Call::default() };
    let outcome = api.run(&state.plugins, &input, true).await.map_err(|e| console_error(&e))?;
    Ok(Reply::ok(serde_json::json!({
        "dryRun": false,
        "result": outcome.output,
        "trace": outcome.trace.unwrap_or_default(),
    })))
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
fn console_error(e: &ApiError) -> AdminError {
    let relayed = AdminError::relayed(e);
    match (e.kind(), e.name()) {
        (ErrorCode::MissingParameter | ErrorCode::InvalidParameter, Some(name)) => {
            relayed.in_field(&format!("params.{name}"))
        }
        _ => relayed,
    }
}
