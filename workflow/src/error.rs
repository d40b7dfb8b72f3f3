//! The two kinds of failure: a definition refused by `compile` ([`CheckError`], naming the node
//! and the field), and a run that failed ([`WorkflowError`], with its catalogue code).

use errors::ErrorCode;

/// Why a workflow definition is refused: the node, the field (`nodes[2].params.user_id`) and
/// what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CheckError {
    /// The node's id; empty for the workflow as a whole.
    pub node: String,
    pub field: String,
    pub message: String,
}

impl CheckError {
    pub(crate) fn new(node: &str, field: impl Into<String>, message: impl Into<String>) -> CheckError {
        CheckError { node: node.to_owned(), field: field.into(), message: message.into() }
    }
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// A node's API call (or a host call) failed; `inner_code` is that error's code.
    #[error("{node} → {inner_code}: {message}")]
    NodeFailed { node: String, inner_code: String, message: String },
    /// A switch found no branch and has no default.
    #[error("switch {node}: no condition holds and there is no default branch")]
    NoBranch { node: String },
    /// A condition could not be evaluated.
    #[error("{node}: {message}")]
    Expression { node: String, message: String },
    /// The whole run took longer than its deadline.
    #[error("the workflow did not finish within its deadline")]
    Deadline,
    #[error("{node}: the function did not finish within its time limit")]
    FunctionTimeout { node: String },
    #[error("{node}: {message}")]
    FunctionError { node: String, message: String },
    /// Workflows calling workflows went deeper than [`crate::MAX_DEPTH`].
    #[error("workflows call each other more than {} deep", crate::MAX_DEPTH)]
    DepthExceeded,
}

impl WorkflowError {
    /// The catalogue entry.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            WorkflowError::NodeFailed { .. } => ErrorCode::WorkflowNodeFailed,
            WorkflowError::NoBranch { .. } => ErrorCode::WorkflowNoBranch,
            WorkflowError::Expression { .. } => ErrorCode::WorkflowExpression,
            WorkflowError::Deadline => ErrorCode::WorkflowDeadline,
            WorkflowError::FunctionTimeout { .. } => ErrorCode::WorkflowFunctionTimeout,
            WorkflowError::FunctionError { .. } => ErrorCode::WorkflowFunctionError,
            WorkflowError::DepthExceeded => ErrorCode::WorkflowDepthExceeded,
        }
    }

    /// The code callers see: `Workflow.NodeFailed.orders`, `Workflow.Deadline`.
    pub fn code(&self) -> String {
        let node = match self {
            WorkflowError::NodeFailed { node, .. } => Some(node.as_str()),
            _ => None,
        };
        self.error_code().with_name(node)
    }

    /// The message callers see: `orders → InvalidParameter.status: …`.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_name_the_failed_node() {
        let e = WorkflowError::NodeFailed {
            node: "orders".into(),
            inner_code: "InvalidParameter.status".into(),
            message: "not one of new, paid".into(),
        };
        assert_eq!(e.code(), "Workflow.NodeFailed.orders");
        assert_eq!(e.message(), "orders → InvalidParameter.status: not one of new, paid");
        assert_eq!(e.error_code().status().as_u16(), 502);
        assert_eq!(WorkflowError::Deadline.code(), "Workflow.Deadline");
        assert_eq!(WorkflowError::NoBranch { node: "s".into() }.code(), "Workflow.NoBranch");
        assert_eq!(WorkflowError::DepthExceeded.error_code().status().as_u16(), 508);
    }
}
