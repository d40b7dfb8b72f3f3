//! Checking a definition and deriving its structure. Refused, naming the node and the field:
//! more than 64 nodes, bad or duplicate ids, unknown successors, cycles, no end node, nodes the
//! start cannot reach, unparsable references, paths and conditions, references to nodes that do
//! not always run before the referring node, switches without branches, parallels whose
//! branches never meet, graphs whose branches cross instead of nesting, and fields a kind does
//! not have (`next`, `params`, `output`).
//!
//! Structure comes from post-dominators (at most 66 slots, so one `u128` bitset per node): a
//! switch's branches meet, and a parallel's join, at the switch's or parallel's immediate
//! post-dominator. Walking the graph from the start with those meeting points gives the nested
//! `Step` tree and, alongside, the set of nodes certain to have run before each node.

use std::collections::HashMap;
use std::time::Duration;

use catalog::model::{MAX_WORKFLOW_NODES, NodeKind, START_NODE, WorkflowSpec};

use crate::compiled::{CompiledWorkflow, Kind, Node, Step};
use crate::error::CheckError;
use crate::expr::Condition;
use crate::reference::{ParamValue, Ref};

/// The deadline of a run when the definition sets none.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);
const MAX_ID_LEN: usize = 64;

type Bits = u128;

fn bit(slot: usize) -> Bits {
    1 << slot
}

/// Checks `spec` and prepares it to run. `param_names` are the workflow's request parameters:
/// `${START.x}` must name one of them.
pub fn compile(spec: &WorkflowSpec, param_names: &[String]) -> Result<CompiledWorkflow, CheckError> {
    if spec.nodes.len() > MAX_WORKFLOW_NODES {
        return Err(CheckError::new("", "nodes", format!("at most {MAX_WORKFLOW_NODES} nodes")));
    }
    if spec.deadline_ms == Some(0) {
        return Err(CheckError::new("", "deadlineMs", "must be more than 0"));
    }
    let slots = slots(spec)?;
    let succ = successors(spec, &slots)?;
    if !spec.nodes.iter().any(|n| matches!(n.kind, NodeKind::End {})) {
        return Err(CheckError::new("", "nodes", "no end node"));
    }
    let order = post_order(spec, &succ)?;
    let exit = spec.nodes.len() + 1;
    let mut postdom: Vec<Bits> = vec![0; exit + 1];
    postdom[exit] = bit(exit);
    for &slot in &order {
        let meet =
            if succ[slot].is_empty() { bit(exit) } else { succ[slot].iter().fold(!0, |acc, s| acc & postdom[*s]) };
        postdom[slot] = meet | bit(slot);
    }
    let nodes = (0..exit).map(|_| None).collect();
    let mut builder =
        Builder { spec, slots: &slots, succ: &succ, postdom: &postdom, exit, params: param_names, visited: 0, nodes };
    let first = succ[0].first().copied().unwrap_or(exit);
    let (body, _) = builder.walk(first, exit, bit(0))?;
    let mut nodes = Vec::with_capacity(exit);
    nodes.push(Node {
        id: START_NODE.to_owned(),
        kind: Kind::Start,
        params: Vec::new(),
        output: None,
        timeout: None,
        continue_on_error: false,
    });
    for (i, node) in builder.nodes.into_iter().enumerate().skip(1) {
        let Some(node) = node else {
            // Unreachable nodes were refused; a node left out means branches crossed.
            return Err(CheckError::new(&spec.nodes[i - 1].id, format!("nodes[{}]", i - 1), "not placed in the run"));
        };
        nodes.push(node);
    }
    let mut apis: Vec<String> = Vec::new();
    let mut functions: Vec<String> = Vec::new();
    for node in &spec.nodes {
        match &node.kind {
            NodeKind::Api { api } if !apis.contains(api) => apis.push(api.clone()),
            NodeKind::Function { function } if !functions.contains(function) => functions.push(function.clone()),
            _ => {}
        }
    }
    let deadline = spec.deadline_ms.map_or(DEFAULT_DEADLINE, Duration::from_millis);
    Ok(CompiledWorkflow { nodes, body, deadline, apis, functions })
}

/// Node id → slot (START is 0, `nodes[i]` is `i + 1`), checking ids.
fn slots(spec: &WorkflowSpec) -> Result<HashMap<&str, usize>, CheckError> {
    let mut slots = HashMap::with_capacity(spec.nodes.len() + 1);
    slots.insert(START_NODE, 0);
    for (i, node) in spec.nodes.iter().enumerate() {
        let field = format!("nodes[{i}].id");
        let id = node.id.as_str();
        if id.is_empty()
            || id.len() > MAX_ID_LEN
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(CheckError::new(id, field, format!("1 to {MAX_ID_LEN} letters, digits, `_` or `-`")));
        }
        if id == START_NODE {
            return Err(CheckError::new(id, field, "`START` is the built-in start node"));
        }
        if slots.insert(id, i + 1).is_some() {
            return Err(CheckError::new(id, field, format!("`{id}` is the id of another node too")));
        }
    }
    Ok(slots)
}

/// Each slot's successors, checking that every reference names a node and each kind has the
/// successors it needs.
fn successors(spec: &WorkflowSpec, slots: &HashMap<&str, usize>) -> Result<Vec<Vec<usize>>, CheckError> {
    let find = |node: &str, field: String, target: &str| match slots.get(target) {
        Some(0) => Err(CheckError::new(node, field, "the start node cannot be a successor")),
        Some(slot) => Ok(*slot),
        None => Err(CheckError::new(node, field, format!("no node `{target}`"))),
    };
    let mut succ = vec![vec![find("", "start".to_owned(), &spec.start)?]];
    for (i, node) in spec.nodes.iter().enumerate() {
        let id = node.id.as_str();
        let next_field = format!("nodes[{i}].next");
        let mut targets = Vec::new();
        let no_next = || -> Result<(), CheckError> {
            if node.next.is_empty() {
                Ok(())
            } else {
                Err(CheckError::new(id, next_field.clone(), "only api and function nodes have `next`"))
            }
        };
        match &node.kind {
            NodeKind::Api { .. } | NodeKind::Function { .. } => {
                let [next] = node.next.as_slice() else {
                    return Err(CheckError::new(id, next_field, "name exactly one next node"));
                };
                targets.push(find(id, format!("{next_field}[0]"), next)?);
            }
            NodeKind::Switch { branches, default } => {
                no_next()?;
                if branches.is_empty() {
                    return Err(CheckError::new(
                        id,
                        format!("nodes[{i}].branches"),
                        "a switch needs at least one branch",
                    ));
                }
                for (j, branch) in branches.iter().enumerate() {
                    targets.push(find(id, format!("nodes[{i}].branches[{j}].next"), &branch.next)?);
                }
                if let Some(default) = default {
                    targets.push(find(id, format!("nodes[{i}].default"), default)?);
                }
            }
            NodeKind::Parallel { branches } => {
                no_next()?;
                if branches.is_empty() {
                    return Err(CheckError::new(
                        id,
                        format!("nodes[{i}].branches"),
                        "a parallel needs at least one branch",
                    ));
                }
                for (j, head) in branches.iter().enumerate() {
                    let field = format!("nodes[{i}].branches[{j}]");
                    let slot = find(id, field.clone(), head)?;
                    if targets.contains(&slot) {
                        return Err(CheckError::new(id, field, format!("`{head}` heads another branch too")));
                    }
                    targets.push(slot);
                }
            }
            NodeKind::End {} => no_next()?,
        }
        succ.push(targets);
    }
    Ok(succ)
}

/// Slots in post-order from the start (successors before their predecessors), refusing cycles
/// and unreachable nodes.
fn post_order(spec: &WorkflowSpec, succ: &[Vec<usize>]) -> Result<Vec<usize>, CheckError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        slot: usize,
        succ: &[Vec<usize>],
        marks: &mut [Mark],
        order: &mut Vec<usize>,
        spec: &WorkflowSpec,
    ) -> Result<(), CheckError> {
        marks[slot] = Mark::Open;
        for &next in &succ[slot] {
            match marks[next] {
                Mark::Open => {
                    let from = slot.checked_sub(1).map_or(START_NODE, |i| spec.nodes[i].id.as_str());
                    let to = &spec.nodes[next - 1].id;
                    return Err(CheckError::new(
                        from,
                        format!("nodes[{}]", slot.saturating_sub(1)),
                        format!("leads back to `{to}`: a cycle"),
                    ));
                }
                Mark::New => visit(next, succ, marks, order, spec)?,
                Mark::Done => {}
            }
        }
        marks[slot] = Mark::Done;
        order.push(slot);
        Ok(())
    }
    let mut marks = vec![Mark::New; succ.len()];
    let mut order = Vec::with_capacity(succ.len());
    visit(0, succ, &mut marks, &mut order, spec)?;
    if let Some(i) = marks.iter().skip(1).position(|m| *m == Mark::New) {
        return Err(CheckError::new(&spec.nodes[i].id, format!("nodes[{i}]"), "not reachable from the start"));
    }
    Ok(order)
}

struct Builder<'a> {
    spec: &'a WorkflowSpec,
    slots: &'a HashMap<&'a str, usize>,
    succ: &'a [Vec<usize>],
    postdom: &'a [Bits],
    exit: usize,
    params: &'a [String],
    visited: Bits,
    nodes: Vec<Option<Node>>,
}

impl Builder<'_> {
    /// The immediate post-dominator: of the strict post-dominators, the one nearest (whose own
    /// set is largest, as they form a chain).
    fn meeting_point(&self, slot: usize) -> usize {
        let strict = self.postdom[slot] & !bit(slot);
        (0..=self.exit)
            .filter(|d| strict & bit(*d) != 0)
            .max_by_key(|d| self.postdom[*d].count_ones())
            .unwrap_or(self.exit)
    }

    /// The steps from `from` up to (not including) `stop`, given the nodes `done` before;
    /// returns them and the nodes done after.
    fn walk(&mut self, from: usize, stop: usize, mut done: Bits) -> Result<(Vec<Step>, Bits), CheckError> {
        let mut steps = Vec::new();
        let mut at = from;
        while at != stop && at != self.exit {
            let i = at - 1;
            let wf = self.spec;
            let spec = &wf.nodes[i];
            if self.visited & bit(at) != 0 {
                return Err(CheckError::new(
                    &spec.id,
                    format!("nodes[{i}]"),
                    "reached from branches that do not meet before it; make them meet first",
                ));
            }
            self.visited |= bit(at);
            let node = self.node(i, done)?;
            match &spec.kind {
                NodeKind::Api { .. } | NodeKind::Function { .. } => {
                    steps.push(Step::Call(at));
                    done |= bit(at);
                    at = self.succ[at].first().copied().unwrap_or(self.exit);
                }
                NodeKind::End {} => {
                    steps.push(Step::End(at));
                    self.nodes[at] = Some(node);
                    return Ok((steps, done | bit(at)));
                }
                NodeKind::Switch { branches, default } => {
                    let meet = self.meeting_point(at);
                    let inside = done | bit(at);
                    let mut compiled = Vec::with_capacity(branches.len());
                    for (j, branch) in branches.iter().enumerate() {
                        let field = format!("nodes[{i}].branches[{j}].condition");
                        let mut condition = Condition::parse(&branch.condition)
                            .map_err(|e| CheckError::new(&spec.id, field.clone(), e.to_string()))?;
                        for r in condition.refs_mut() {
                            self.resolve(r, &spec.id, &field, done)?;
                        }
                        let (seq, _) = self.walk(self.succ[at][j], meet, inside)?;
                        compiled.push((condition, seq));
                    }
                    let default = match default {
                        Some(_) => Some(self.walk(self.succ[at][branches.len()], meet, inside)?.0),
                        None => None,
                    };
                    steps.push(Step::Switch { node: at, branches: compiled, default });
                    done = inside;
                    at = meet;
                }
                NodeKind::Parallel { branches } => {
                    let join = self.meeting_point(at);
                    if join == self.exit {
                        return Err(CheckError::new(
                            &spec.id,
                            format!("nodes[{i}].branches"),
                            "the branches never meet; lead them all to one node",
                        ));
                    }
                    let mut seqs = Vec::with_capacity(branches.len());
                    let mut after = done | bit(at);
                    for (j, head) in self.succ[at].clone().into_iter().enumerate() {
                        if head == join {
                            return Err(CheckError::new(
                                &spec.id,
                                format!("nodes[{i}].branches[{j}]"),
                                "an empty branch: it starts where the branches join",
                            ));
                        }
                        let (seq, branch_done) = self.walk(head, join, done)?;
                        after |= branch_done;
                        seqs.push(seq);
                    }
                    steps.push(Step::Parallel { node: at, branches: seqs });
                    done = after;
                    at = join;
                }
            }
            self.nodes[i + 1] = Some(node);
        }
        Ok((steps, done))
    }

    /// The node's compiled params and output mapping; its references must name nodes in `done`.
    fn node(&self, i: usize, done: Bits) -> Result<Node, CheckError> {
        let spec = &self.spec.nodes[i];
        let calls = matches!(spec.kind, NodeKind::Api { .. } | NodeKind::Function { .. });
        if !calls && !spec.params.is_empty() {
            return Err(CheckError::new(
                &spec.id,
                format!("nodes[{i}].params"),
                "only api and function nodes take params",
            ));
        }
        if matches!(spec.kind, NodeKind::Switch { .. } | NodeKind::Parallel { .. }) && spec.output.is_some() {
            return Err(CheckError::new(
                &spec.id,
                format!("nodes[{i}].output"),
                "only api, function and end nodes map an output",
            ));
        }
        let compile_map = |what: &str, map: &std::collections::BTreeMap<String, String>| {
            map.iter()
                .map(|(name, text)| {
                    let field = format!("nodes[{i}].{what}.{name}");
                    let mut value = ParamValue::parse(text).map_err(|m| CheckError::new(&spec.id, field.clone(), m))?;
                    if let ParamValue::Ref(r) = &mut value {
                        self.resolve(r, &spec.id, &field, done)?;
                    }
                    Ok((name.clone(), value))
                })
                .collect::<Result<Vec<_>, CheckError>>()
        };
        let params = compile_map("params", &spec.params)?;
        let output = match &spec.output {
            Some(map) => Some(compile_map("output", map)?),
            None => None,
        };
        let kind = match &spec.kind {
            NodeKind::Api { api } => Kind::Api(api.clone()),
            NodeKind::Function { function } => Kind::Function(function.clone()),
            NodeKind::Switch { .. } => Kind::Switch,
            NodeKind::Parallel { .. } => Kind::Parallel,
            NodeKind::End {} => Kind::End,
        };
        Ok(Node {
            id: spec.id.clone(),
            kind,
            params,
            output,
            timeout: spec.timeout_ms.map(Duration::from_millis),
            continue_on_error: spec.continue_on_error,
        })
    }

    /// Points `r` at its node's slot, refusing unknown nodes, nodes not certain to have run, and
    /// request fields that are not parameters.
    fn resolve(&self, r: &mut Ref, node: &str, field: &str, done: Bits) -> Result<(), CheckError> {
        let Some(target) = r.node.as_deref() else { return Ok(()) };
        let Some(&slot) = self.slots.get(target) else {
            return Err(CheckError::new(node, field, format!("no node `{target}`")));
        };
        if done & bit(slot) == 0 {
            return Err(CheckError::new(node, field, format!("`{target}` does not always run before `{node}`")));
        }
        if slot == 0
            && let Some(name) = r.path.first_name()
            && !self.params.iter().any(|p| p == name)
        {
            return Err(CheckError::new(node, field, format!("the workflow has no request parameter `{name}`")));
        }
        r.slot = slot;
        Ok(())
    }
}
