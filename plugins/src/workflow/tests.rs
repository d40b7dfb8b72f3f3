//! The workflow plugin against a fake dispatcher: compile errors naming the field, parameters
//! typed into the request, API answers as `{"data": …}`, and run errors as callers see them.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use catalog::model::Environment;
use serde_json::json;

use super::*;
use crate::Dispatcher;
use crate::sql::StageTimings;

/// Answers `users` with one row whose id is the `id` it was given, `orders` with the params it
/// got as JSON, `broken` with an invalid parameter; records each call's clearance and depth.
#[derive(Default)]
struct Fake {
    seen: Mutex<Vec<Seen>>,
}

/// An inner call: API name, workgroup, clearance, depth.
type Seen = (String, i64, Option<catalog::model::SecurityLevel>, u32);

#[async_trait]
impl Dispatcher for Fake {
    async fn dispatch(&self, _api_id: i64, _call: &Call) -> Result<CallOutput, ApiError> {
        Err(ApiError::new(ErrorCode::NotFoundApi, "by id"))
    }

    async fn dispatch_by_name(&self, workgroup_id: i64, name: &str, call: &Call) -> Result<CallOutput, ApiError> {
        self.seen.lock().unwrap().push((name.to_owned(), workgroup_id, call.clearance, call.depth));
        // Nodes read JSON, whatever format the workflow's own caller asked for.
        assert_eq!(call.format, crate::format::Requested::Json);
        match name {
            "users" => {
                let id = match call.params.get("id") {
                    Some(RawParam::Json(v)) => v.clone(),
                    other => panic!("{other:?}"),
                };
                let data = serde_json::to_vec(&json!([{"id": id, "name": "x"}])).unwrap();
                Ok(CallOutput::Data {
                    data,
                    row_count: 1,
                    timings: StageTimings::default(),
                    format: catalog::model::ResultFormat::Json,
                    page: None,
                })
            }
            "orders" => Ok(CallOutput::Json(json!({"n": call.params.len()}))),
            "broken" => Err(ApiError::invalid_parameter("status", "one of new, paid", "nope")),
            _ => Err(ApiError::new(ErrorCode::NotFoundApi, format!("no API `{name}`"))),
        }
    }

    fn param_names(&self, _env: Environment, _workgroup_id: i64, name: &str) -> Option<Vec<String>> {
        match name {
            "users" => Some(vec!["id".to_owned()]),
            _ => None,
        }
    }
}

fn definition(workflow: serde_json::Value) -> ApiDefinition {
    let mut value = workflow;
    value["mode"] = json!("workflow");
    value["requestParams"] = json!([{"name": "id", "type": "int", "required": true}]);
    serde_json::from_value(value).unwrap()
}

fn seed() -> ApiDefinition {
    definition(json!({"start": "A", "nodes": [
        {"id": "A", "kind": "api", "api": "users", "output": {"user_id": "$.data[0].id"}, "next": ["S"]},
        {"id": "S", "kind": "switch", "branches": [{"condition": "$.user_id == 1", "next": "ONE"}], "default": "OTHER"},
        {"id": "ONE", "kind": "end", "output": {"one": "yes", "id": "${A.user_id}"}},
        {"id": "OTHER", "kind": "api", "api": "orders", "next": ["E"]},
        {"id": "E", "kind": "end", "output": {"one": "no", "orders": "$.data"}}
    ]}))
}

fn context() -> (Arc<Fake>, PluginContext) {
    let fake = Arc::new(Fake::default());
    let ctx = PluginContext::default();
    let weak: std::sync::Weak<dyn Dispatcher> = Arc::downgrade(&fake) as std::sync::Weak<dyn Dispatcher>;
    ctx.set_dispatcher(weak);
    (fake, ctx)
}

fn call(id: &str) -> Call {
    let params = HashMap::from([("id".to_owned(), RawParam::Text(id.to_owned()))]);
    Call { params, workgroup_id: Some(7), clearance: Some(catalog::model::SecurityLevel::L2), ..Call::default() }
}

#[tokio::test]
async fn a_workflow_runs_both_switch_branches_over_in_process_calls() {
    let (fake, ctx) = context();
    let api = WorkflowApi::compile(&seed()).unwrap();
    assert_eq!(api.mode(), "workflow");
    let CallOutput::Json(one) = api.invoke(&ctx, &call("1")).await.unwrap() else { panic!() };
    assert_eq!(one, json!({"one": "yes", "id": 1}));
    let CallOutput::Json(other) = api.invoke(&ctx, &call("2")).await.unwrap() else { panic!() };
    assert_eq!(other, json!({"one": "no", "orders": {"n": 1}}));
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen[0], ("users".to_owned(), 7, Some(catalog::model::SecurityLevel::L2), 1));
    assert_eq!(seen.len(), 3);
}

#[tokio::test]
async fn parameters_are_typed_and_checked_before_the_run() {
    let (_fake, ctx) = context();
    let api = WorkflowApi::compile(&seed()).unwrap();
    let err = api.invoke(&ctx, &call("one")).await.unwrap_err();
    assert_eq!(err.code(), "InvalidParameter.id");
    let err = api.invoke(&ctx, &Call { workgroup_id: Some(7), ..Call::default() }).await.unwrap_err();
    assert_eq!(err.code(), "MissingParameter.id");
    let CallOutput::Json(plan) = api.invoke(&ctx, &Call { dry_run: true, ..call("1") }).await.unwrap() else {
        panic!()
    };
    assert_eq!(plan["plan"][0]["node"], "A");
}

#[tokio::test]
async fn a_failed_node_answers_node_failed_with_the_inner_code() {
    let (_fake, ctx) = context();
    let def = definition(json!({"start": "orders", "nodes": [
        {"id": "orders", "kind": "api", "api": "broken", "next": ["E"]},
        {"id": "E", "kind": "end"}
    ]}));
    let err = WorkflowApi::compile(&def).unwrap().invoke(&ctx, &call("1")).await.unwrap_err();
    assert_eq!((err.code().as_str(), err.status()), ("Workflow.NodeFailed.orders", 502));
    assert!(err.message.starts_with("orders → InvalidParameter.status: "), "{}", err.message);
}

#[tokio::test]
async fn function_nodes_fail_typed_without_a_runner() {
    let (_fake, ctx) = context();
    let mut def =
        definition(json!({"start": "F", "functions": {"handler": "def handler(event, context):\n  return event\n"},
            "nodes": [
            {"id": "F", "kind": "function", "function": "handler", "next": ["E"]},
            {"id": "E", "kind": "end"}
        ]}));
    let err = WorkflowApi::compile(&def).unwrap().invoke(&ctx, &call("1")).await.unwrap_err();
    assert_eq!(err.code(), "Workflow.FunctionError");
    assert!(err.message.contains("functions are not enabled in this build"), "{}", err.message);
    let ApiMode::Workflow(spec) = &mut def.mode else { panic!() };
    spec.functions.clear();
    let refused = WorkflowApi::compile(&def).unwrap_err();
    assert_eq!(refused.field, DefinitionField::Node("nodes[0].function".into()));
}

#[test]
fn check_errors_name_the_node_field() {
    let def = definition(json!({"start": "A", "nodes": [
        {"id": "A", "kind": "api", "api": "users", "params": {"id": "${NOPE.x}"}, "next": ["E"]},
        {"id": "E", "kind": "end", "output": {"x": "${START.missing}"}}
    ]}));
    let refused = WorkflowApi::compile(&def).unwrap_err();
    assert_eq!(refused.field.path(), "nodes[0].params.id");
    assert!(refused.message.contains("nodes[0].params.id"), "{}", refused.message);
    let mut with_source = def.clone();
    with_source.datasource_id = Some(1);
    assert_eq!(WorkflowApi::compile(&with_source).unwrap_err().field, DefinitionField::Key("datasourceId"));
}

#[test]
fn depth_is_answered_as_itself_through_node_failures() {
    let nested = WorkflowError::NodeFailed {
        node: "self".into(),
        inner_code: "Workflow.DepthExceeded".into(),
        message: "too deep".into(),
    };
    let err = run_error(&nested);
    assert_eq!((err.code().as_str(), err.status()), ("Workflow.DepthExceeded", 508));
    assert_eq!(run_error(&WorkflowError::Deadline).code(), "Workflow.Deadline");
}

/// Answers with what it was given, so the test sees the source, event and context.
struct EchoRunner;

#[async_trait]
impl crate::FunctionRunner for EchoRunner {
    async fn call(
        &self,
        workgroup_id: i64,
        function: &str,
        source: &str,
        event: Value,
        context: Value,
        _timeout: Option<Duration>,
    ) -> Result<Value, NodeError> {
        Ok(json!({"wg": workgroup_id, "function": function, "source": source, "event": event, "env": context["env"]}))
    }

    fn check(&self, _function: &str, _source: &str) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test]
async fn function_nodes_run_their_source_through_the_runner() {
    let (_fake, ctx) = context();
    ctx.set_function_runner(Arc::new(EchoRunner));
    let def = definition(json!({"start": "F", "functions": {"handler": "def handler(event, context): ..."},
        "nodes": [
        {"id": "F", "kind": "function", "function": "handler", "next": ["E"]},
        {"id": "E", "kind": "end"}
    ]}));
    let CallOutput::Json(out) = WorkflowApi::compile(&def).unwrap().invoke(&ctx, &call("3")).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        out,
        json!({"wg": 7, "function": "handler", "source": "def handler(event, context): ...", "event": {"id": 3}, "env": "prod"})
    );
}

#[test]
fn without_a_sandbox_a_source_must_define_a_top_level_handler() {
    use crate::workflow::defines_handler;
    assert!(defines_handler("import json\ndef handler(event, context):\n    return 1\n").is_ok());
    assert!(defines_handler("def  handler (event,context):\n    return 1").is_ok());
    for bad in [
        "",
        "   \n",
        "def other(event, context):\n    pass",
        "    def handler(e, c):\n        pass",
        "defhandler(e, c)",
    ] {
        assert!(defines_handler(bad).is_err(), "{bad:?}");
    }
    let huge = format!("def handler(event, context):\n    return 1\n{}", "#".repeat(70_000));
    assert!(defines_handler(&huge).unwrap_err().contains("64 KiB"));
}
