//! A checked workflow, ready to run: nodes by slot (slot 0 is the built-in start node) and the
//! structured body `compile` derived from the graph — sequences of calls, switches whose
//! branches meet again (or end), and parallels whose branches join.

use std::time::Duration;

use catalog::model::START_NODE;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::expr::Condition;
use crate::reference::ParamValue;

/// A workflow that passed every check of `compile`.
#[derive(Debug, Clone)]
pub struct CompiledWorkflow {
    pub(crate) nodes: Vec<Node>,
    pub(crate) body: Vec<Step>,
    pub(crate) deadline: Duration,
    pub(crate) apis: Vec<String>,
    pub(crate) functions: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub id: String,
    pub kind: Kind,
    pub params: Vec<(String, ParamValue)>,
    pub output: Option<Vec<(String, ParamValue)>>,
    pub timeout: Option<Duration>,
    pub continue_on_error: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Start,
    Api(String),
    Function(String),
    Switch,
    Parallel,
    End,
}

#[derive(Debug, Clone)]
pub(crate) enum Step {
    Call(usize),
    Switch { node: usize, branches: Vec<(Condition, Vec<Step>)>, default: Option<Vec<Step>> },
    Parallel { node: usize, branches: Vec<Vec<Step>> },
    End(usize),
}

/// One step of a run's plan, for a dry run: what runs, in order, and what runs at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "camelCase")]
pub enum PlanStep {
    /// Calls an API.
    Api { node: String, api: String },
    /// Calls a function.
    Function { node: String, function: String },
    /// Runs the first branch whose condition holds (conditions in order), else `default`.
    Switch { node: String, branches: Vec<PlanBranch>, default: Option<Vec<PlanStep>> },
    /// Runs every branch at once and waits for all.
    Parallel { node: String, branches: Vec<Vec<PlanStep>> },
    /// Builds the answer.
    End { node: String },
}

/// One branch of a switch in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanBranch {
    pub condition: String,
    pub steps: Vec<PlanStep>,
}

impl CompiledWorkflow {
    /// The execution order with parallel groups and switch branches, running nothing.
    pub fn plan(&self) -> Vec<PlanStep> {
        self.plan_of(&self.body)
    }

    fn plan_of(&self, steps: &[Step]) -> Vec<PlanStep> {
        let id = |slot: &usize| self.nodes.get(*slot).map(|n| n.id.clone()).unwrap_or_default();
        steps
            .iter()
            .map(|step| match step {
                Step::Call(slot) => match self.nodes.get(*slot).map(|n| &n.kind) {
                    Some(Kind::Function(function)) => PlanStep::Function { node: id(slot), function: function.clone() },
                    Some(Kind::Api(api)) => PlanStep::Api { node: id(slot), api: api.clone() },
                    _ => PlanStep::End { node: id(slot) },
                },
                Step::Switch { node, branches, default } => PlanStep::Switch {
                    node: id(node),
                    branches: branches
                        .iter()
                        .map(|(c, s)| PlanBranch { condition: c.as_str().to_owned(), steps: self.plan_of(s) })
                        .collect(),
                    default: default.as_ref().map(|s| self.plan_of(s)),
                },
                Step::Parallel { node, branches } => {
                    PlanStep::Parallel { node: id(node), branches: branches.iter().map(|b| self.plan_of(b)).collect() }
                }
                Step::End(slot) => PlanStep::End { node: id(slot) },
            })
            .collect()
    }

    /// The APIs the workflow calls, each once, in definition order.
    pub fn apis(&self) -> &[String] {
        &self.apis
    }

    /// The functions the workflow calls, each once, in definition order.
    pub fn functions(&self) -> &[String] {
        &self.functions
    }

    /// The whole run's deadline.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// How many nodes the definition has (the start node not counted).
    pub fn node_count(&self) -> usize {
        self.nodes.len().saturating_sub(1)
    }

    /// Each API node's input as far as it is known before anything runs, in node order (a dry
    /// run's preview), read as a run reads it: literals and `${START…}` always; for the run's
    /// first call, whose previous output is the request, `$…` and the request's same-named
    /// fields of the API's parameters (`api_params`) it does not set. Past the first call, a
    /// parameter it does not set may come from the previous output, and a reference to any
    /// node's output is not known yet: both are `unknown`.
    pub fn known_inputs(
        &self,
        request: &Map<String, Value>,
        api_params: impl Fn(&str) -> Option<Vec<String>>,
    ) -> Vec<KnownInput> {
        let whole = Value::Object(request.clone());
        let first = match self.body.first() {
            Some(Step::Call(slot)) => Some(*slot),
            _ => None,
        };
        let mut inputs = Vec::new();
        for (slot, node) in self.nodes.iter().enumerate() {
            let Kind::Api(api) = &node.kind else { continue };
            let is_first = first == Some(slot);
            let given = |name: &str| node.params.iter().any(|(n, _)| n == name);
            let mut params = Map::new();
            let mut unknown = Vec::new();
            match (is_first, api_params(api)) {
                (true, Some(names)) => {
                    for name in names.into_iter().filter(|n| !given(n)) {
                        if let Some(value) = request.get(&name) {
                            params.insert(name, value.clone());
                        }
                    }
                }
                (true, None) => params = request.clone(),
                (false, Some(names)) => unknown.extend(names.into_iter().filter(|n| !given(n))),
                (false, None) => {}
            }
            for (name, value) in &node.params {
                let known = match value {
                    ParamValue::Literal(literal) => Some(literal.clone()),
                    ParamValue::Ref(r) => match r.node.as_deref() {
                        Some(START_NODE) => Some(r.path.select(&whole).into_owned()),
                        None if is_first => Some(r.path.select(&whole).into_owned()),
                        _ => None,
                    },
                };
                match known {
                    Some(value) => {
                        params.insert(name.clone(), value);
                    }
                    None => unknown.push(name.clone()),
                }
            }
            inputs.push(KnownInput { node: node.id.clone(), api: api.clone(), params, unknown });
        }
        inputs
    }
}

/// An API node's input as far as it is known before a run ([`CompiledWorkflow::known_inputs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KnownInput {
    pub node: String,
    pub api: String,
    /// The parameters known, by name.
    pub params: Map<String, Value>,
    /// Parameters that may come from earlier nodes' outputs: while any is, the input is not
    /// known.
    pub unknown: Vec<String>,
}
