//! Workflow definitions (issue 17, seed 001): a directed acyclic graph of nodes that call APIs and
//! functions in one process, with switch and parallel composition. Plain data: `sluice-workflow`
//! checks a [`WorkflowSpec`] (`compile`) and runs it.
//!
//! The graph starts at the built-in node [`START_NODE`], whose output is the workflow's request
//! and whose only successor is [`WorkflowSpec::start`]. Api and function nodes name one successor
//! in `next`; a switch's successors are its branches, a parallel's its branch heads; end nodes
//! have none. A parallel's branches join at the first node they all lead to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The id of the built-in start node: `${START.x}` is the request's field `x`.
pub const START_NODE: &str = "START";

/// The most nodes one workflow may have (the built-in start node not counted).
pub const MAX_WORKFLOW_NODES: usize = 64;

/// A workflow: its nodes, the first of them and an optional deadline for a whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSpec {
    /// The id of the node that runs first (the built-in start node's successor). To begin with
    /// several branches at once, make it a parallel node.
    pub start: String,
    pub nodes: Vec<WorkflowNode>,
    /// The whole run's deadline; 10 s when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// The Python source of each function the workflow's function nodes name, by name. Kept in
    /// the definition so that a saved version is immutable with the functions it runs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub functions: BTreeMap<String, String>,
}

/// One node of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowNode {
    /// Letters, digits, `_` and `-`; what expressions call the node (`${orders.total}`).
    pub id: String,
    #[serde(flatten)]
    pub kind: NodeKind,
    /// The node's input parameters. A value starting with `$` is a reference (`$.x`, `${N.x}`,
    /// `${START.x}`); `$$` starts a literal `$`; anything else is a literal string. Parameters
    /// left out take the same-named top-level field of the previous node's output.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// Maps the node's own result to its output: `{"user_id": "$.data[0].id"}`. Without it the
    /// output is the result itself. On an end node it builds the workflow's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<BTreeMap<String, String>>,
    /// The successor of an api or function node (exactly one); empty for the other kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<String>,
    /// How long the node's call may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// A failure becomes the output `{"error": {"code", "message"}}` and the run goes on.
    #[serde(default)]
    pub continue_on_error: bool,
}

/// What a node does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum NodeKind {
    /// Calls an API of the same workgroup, by name.
    Api { api: String },
    /// Calls a function of the workgroup, by name.
    Function { function: String },
    /// Takes the first branch whose condition holds, else `default`.
    Switch {
        branches: Vec<SwitchBranch>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// Runs every branch (given by its first node) at once; they join where they all lead.
    Parallel { branches: Vec<String> },
    /// Ends the run; its `output` mapping builds the answer.
    End {},
}

/// One branch of a switch: a condition over earlier outputs and the node it leads to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SwitchBranch {
    /// `$.user_id != 1`, `${orders.total} > 100 && ${START.vip} == true`.
    pub condition: String,
    pub next: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workflow_reads_from_camel_case_json_with_kind_tags() {
        let spec: WorkflowSpec = serde_json::from_value(serde_json::json!({
            "start": "api1",
            "deadlineMs": 500,
            "nodes": [
                {"id": "api1", "kind": "api", "api": "users", "output": {"user_id": "$.data[0].id"},
                 "next": ["sw"], "continueOnError": true},
                {"id": "sw", "kind": "switch", "branches": [{"condition": "$.user_id == 1", "next": "end"}]},
                {"id": "end", "kind": "end"}
            ]
        }))
        .expect("reads");
        assert_eq!(spec.deadline_ms, Some(500));
        assert_eq!(spec.nodes[0].kind, NodeKind::Api { api: "users".into() });
        assert!(spec.nodes[0].continue_on_error);
        assert_eq!(spec.nodes[2].kind, NodeKind::End {});
        let back: WorkflowSpec = serde_json::from_value(serde_json::to_value(&spec).expect("writes")).expect("reads");
        assert_eq!(back, spec);
    }
}
