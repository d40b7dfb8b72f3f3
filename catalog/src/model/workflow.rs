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

/// The longest name of a library function (the same rule as node ids).
pub const MAX_FUNCTION_NAME: usize = 64;

/// A function of a workgroup's library: Python source defining `handler(event, context)` that
/// workflows of the workgroup call by name. A workflow's draft may name it without carrying its
/// source; saving a version copies the source into the version's
/// [`WorkflowSpec::functions`], so a saved version never changes with the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LibraryFunction {
    pub id: i64,
    pub workgroup_id: i64,
    /// 1–64 letters, digits, `_` and `-`; unique in the workgroup. Never changes.
    pub name: String,
    pub description: String,
    /// Python defining `def handler(event, context)`.
    pub source: String,
    /// SHA-256 (hex) of the source: tells which source a saved version carries.
    pub digest: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// SHA-256 (hex) of a function's source, as [`LibraryFunction::digest`] holds it.
pub fn source_digest(source: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(source.as_bytes()))
}

/// A function name: 1 to [`MAX_FUNCTION_NAME`] letters, digits, `_` or `-` (the rule of node
/// ids), or why not.
pub fn check_function_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > MAX_FUNCTION_NAME
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!("a function name is 1 to {MAX_FUNCTION_NAME} letters, digits, `_` or `-`"));
    }
    Ok(())
}

/// A function node whose function is neither in the workflow nor in the library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingFunction {
    /// The node's index in [`WorkflowSpec::nodes`].
    pub index: usize,
    pub node: String,
    pub function: String,
}

impl MissingFunction {
    /// Where the definition names it: `nodes[2].function`.
    pub fn field(&self) -> String {
        format!("nodes[{}].function", self.index)
    }

    pub fn message(&self) -> String {
        format!(
            "node `{}` calls function `{}`, which is neither in the workflow's `functions` nor in the workgroup's \
             function library: add it to the library or write its source in `functions`",
            self.node, self.function
        )
    }
}

impl WorkflowSpec {
    /// The function names function nodes call without carrying their source in `functions`:
    /// what must come from the workgroup's library. Each once, in node order.
    pub fn library_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for node in &self.nodes {
            if let NodeKind::Function { function } = &node.kind
                && !self.functions.contains_key(function)
                && !names.contains(&function.as_str())
            {
                names.push(function);
            }
        }
        names
    }

    /// The workflow with every function its nodes call carried in `functions`: an inline
    /// source wins, else `library(name)` gives it. The first node whose function is in
    /// neither is refused. Library functions no node calls are not copied.
    pub fn resolved(&self, library: impl Fn(&str) -> Option<String>) -> Result<WorkflowSpec, MissingFunction> {
        let mut spec = self.clone();
        for (index, node) in self.nodes.iter().enumerate() {
            let NodeKind::Function { function } = &node.kind else { continue };
            if spec.functions.contains_key(function) {
                continue;
            }
            match library(function) {
                Some(source) => {
                    spec.functions.insert(function.clone(), source);
                }
                None => {
                    return Err(MissingFunction { index, node: node.id.clone(), function: function.clone() });
                }
            }
        }
        Ok(spec)
    }
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

    #[test]
    fn inline_sources_win_and_the_library_fills_the_rest() {
        let spec: WorkflowSpec = serde_json::from_value(serde_json::json!({
            "start": "a",
            "functions": {"inline": "def handler(event, context): return 1"},
            "nodes": [
                {"id": "a", "kind": "function", "function": "inline", "next": ["b"]},
                {"id": "b", "kind": "function", "function": "lib", "next": ["c"]},
                {"id": "c", "kind": "function", "function": "lib", "next": ["d"]},
                {"id": "d", "kind": "end"}
            ]
        }))
        .expect("reads");
        assert_eq!(spec.library_names(), ["lib"]);
        let library = |name: &str| (name == "lib" || name == "inline").then(|| format!("# {name}"));
        let resolved = spec.resolved(library).expect("resolves");
        assert_eq!(resolved.functions["inline"], "def handler(event, context): return 1");
        assert_eq!(resolved.functions["lib"], "# lib");
        assert_eq!(resolved.functions.len(), 2, "only what nodes call is copied");
        assert!(resolved.library_names().is_empty());
        let missing = spec.resolved(|_| None).unwrap_err();
        assert_eq!((missing.index, missing.node.as_str(), missing.function.as_str()), (1, "b", "lib"));
        assert_eq!(missing.field(), "nodes[1].function");
    }

    #[test]
    fn function_names_follow_the_node_id_rule() {
        for good in ["handler", "fix_case-2", &"x".repeat(64)] {
            assert!(check_function_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a.b", "é", &"x".repeat(65), "a/b"] {
            assert!(check_function_name(bad).is_err(), "{bad}");
        }
    }
}
