//! A workflow API's responses: its answer is the `end` node's output mapping (each key JSON
//! of a type only the run decides), and its failures the `Workflow.*` codes of the catalogue.

use catalog::model::{NodeKind, ResultFormat, WorkflowSpec};
use errors::ErrorCode;
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::{Object, RefOr, Response, Responses, Type};

use crate::operation::{CallerParam, add_call_refusals, bad_request, in_envelope, invalid_body};
use crate::responses::{self, Code, JSON, Shared};

/// The 200 (the envelope whose `data` has the keys of every `end` node's mapping) and the
/// errors a workflow answers.
pub(crate) fn workflow_responses(
    spec: &WorkflowSpec,
    format: ResultFormat,
    params: &[CallerParam<'_>],
    shared: &mut Shared,
) -> Responses {
    let mut data = Object::with_type(Type::Object);
    data.description =
        Some("What the workflow's end node maps: each key is JSON of whatever type the run produces.".to_owned());
    for node in spec.nodes.iter().filter(|n| matches!(n.kind, NodeKind::End {})) {
        for key in node.output.iter().flat_map(|o| o.keys()) {
            data.properties.insert(key.clone(), RefOr::T(Object::with_type(SchemaType::AnyValue).into()));
        }
    }
    let ok = responses::ok_response(
        "The workflow's answer, in the OK envelope.".to_owned(),
        JSON,
        in_envelope(RefOr::T(data.into())),
    )
    .build();
    let ok = responses::with_formats(
        ok,
        crate::operation::default_format(format),
        "CSV (RFC 4180), only when the answer is an array of flat objects (else 406 `NotAcceptable`): a header \
         row of the keys, then one record per object; null or a missing key is an empty field.",
    );
    let extra = vec![invalid_body()];
    let failed: Vec<Code> = spec
        .nodes
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::Api { .. }))
        .map(|n| {
            Code::named(
                ErrorCode::WorkflowNodeFailed,
                &n.id,
                format!("node `{}`'s API call failed; the message carries the inner code", n.id),
                format!("{} → InvalidParameter.status: …", n.id),
            )
        })
        .collect();
    let mut responses = Responses::new();
    let mut add = |status: &str, response: RefOr<Response>| {
        responses.responses.insert(status.to_owned(), response);
    };
    add("200", RefOr::T(ok));
    add("400", RefOr::T(bad_request(params, extra)));
    add_call_refusals(&mut add, shared);
    add(
        "500",
        shared.response("WorkflowError", || {
            responses::error_response(
                "The workflow could not go on: a gap in its definition, or a function failed.",
                &[
                    Code::of(ErrorCode::WorkflowNoBranch, "a switch found no branch", "switch S: no condition holds"),
                    Code::of(ErrorCode::WorkflowExpression, "a condition could not be evaluated", "S: …"),
                    Code::of(ErrorCode::WorkflowFunctionError, "a function raised or is not enabled", "F: …"),
                    Code::of(
                        ErrorCode::InternalError,
                        "an unexpected failure in the gateway",
                        "an internal error occurred",
                    ),
                ],
            )
        }),
    );
    if !failed.is_empty() {
        add("502", RefOr::T(responses::error_response("A node's API call failed.", &failed)));
    }
    add(
        "504",
        shared.response("WorkflowTimeout", || {
            responses::error_response(
                "The workflow or one of its functions took too long.",
                &[
                    Code::of(
                        ErrorCode::WorkflowDeadline,
                        "the run exceeded its deadline",
                        "the workflow did not finish within its deadline",
                    ),
                    Code::of(
                        ErrorCode::WorkflowFunctionTimeout,
                        "a function exceeded its time limit",
                        "F: the function did not finish within its time limit",
                    ),
                ],
            )
        }),
    );
    add(
        "508",
        shared.response("WorkflowDepthExceeded", || {
            responses::error_response(
                "Workflows called each other too deep.",
                &[Code::of(
                    ErrorCode::WorkflowDepthExceeded,
                    "workflows call each other more than 8 deep",
                    "workflows call each other more than 8 deep",
                )],
            )
        }),
    );
    responses
}
