//! Running a compiled workflow against a [`NodeHost`]. Parameter passing follows seed 001: an
//! unset API parameter takes the same-named top-level field of the previous output (a function
//! gets the whole previous output with its set params over it); `$` is the previous output and
//! `${N…}` an earlier node's. A switch passes its input through; a parallel's output is an object
//! of each branch's last output keyed by that node's id. Branches run concurrently in this task
//! and the first failure drops (cancels) the others; a per-node timeout and the whole-run
//! deadline come from `tokio::time`, so a run needs a runtime with time enabled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, try_join_all};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::compiled::{CompiledWorkflow, Kind, Node, Step};
use crate::error::WorkflowError;
use crate::host::{NodeError, NodeHost};
use crate::reference::{ParamValue, Ref, Scope};

/// How deeply workflows may call workflows.
pub const MAX_DEPTH: u32 = 8;

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides the workflow's deadline.
    pub deadline: Option<Duration>,
    /// Record each node's input, output, status and time.
    pub traced: bool,
    /// How many workflows are already running above this one (0 for a call from outside).
    pub depth: u32,
}

/// A finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// The end node's answer.
    pub output: Value,
    /// Per node, in the order they finished (a parallel after its branches), when traced.
    pub trace: Option<Vec<NodeTrace>>,
}

/// What one node did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeTrace {
    pub node: String,
    pub input: Value,
    pub output: Value,
    pub status: NodeStatus,
    pub elapsed_us: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NodeStatus {
    Ok,
    /// Failed, and the run went on (`continueOnError`).
    Failed,
}

/// Runs `workflow` with `request` as the start node's output.
pub async fn run(
    workflow: &CompiledWorkflow,
    host: &dyn NodeHost,
    request: Map<String, Value>,
    options: RunOptions,
) -> Result<RunOutcome, WorkflowError> {
    let (output, trace) = execute(workflow, host, request, options).await;
    Ok(RunOutcome { output: output?, trace })
}

/// Runs like [`run`] with a trace, kept whether the run succeeds or fails: the nodes that
/// finished, then the one that failed (status `failed`, its error as output). For the test
/// console, where the trace up to a failure is what the author needs.
pub async fn run_traced(
    workflow: &CompiledWorkflow,
    host: &dyn NodeHost,
    request: Map<String, Value>,
    options: RunOptions,
) -> (Result<Value, WorkflowError>, Vec<NodeTrace>) {
    let (output, trace) = execute(workflow, host, request, RunOptions { traced: true, ..options }).await;
    (output, trace.unwrap_or_default())
}

async fn execute(
    workflow: &CompiledWorkflow,
    host: &dyn NodeHost,
    request: Map<String, Value>,
    options: RunOptions,
) -> (Result<Value, WorkflowError>, Option<Vec<NodeTrace>>) {
    if options.depth > MAX_DEPTH {
        return (Err(WorkflowError::DepthExceeded), None);
    }
    let start = Arc::new(Value::Object(request));
    let mut outputs = vec![None; workflow.nodes.len()];
    outputs[0] = Some(start.clone());
    let mut frame = Frame { outputs, prev: start, last: 0, trace: options.traced.then(Vec::new), answer: None };
    let engine = Engine { workflow, host, depth: options.depth };
    let deadline = options.deadline.unwrap_or(workflow.deadline);
    let output = match tokio::time::timeout(deadline, engine.seq(&workflow.body, &mut frame)).await {
        Err(_) => Err(WorkflowError::Deadline),
        Ok(Err(e)) => Err(e),
        Ok(Ok(())) => Ok(frame.answer.take().unwrap_or(Value::Null)),
    };
    (output, frame.trace)
}

/// The state of one line of execution; a parallel branch runs on a copy.
struct Frame {
    outputs: Vec<Option<Arc<Value>>>,
    prev: Arc<Value>,
    last: usize,
    trace: Option<Vec<NodeTrace>>,
    answer: Option<Value>,
}

struct View<'a> {
    prev: &'a Value,
    outputs: &'a [Option<Arc<Value>>],
}

impl Scope for View<'_> {
    fn previous(&self) -> &Value {
        self.prev
    }
    fn output(&self, r: &Ref) -> Option<&Value> {
        self.outputs.get(r.slot)?.as_deref()
    }
}

/// Why a call failed, before `continueOnError` decides.
enum Failure {
    Api(NodeError),
    ApiTimeout,
    Function(NodeError),
    FunctionTimeout,
}

impl Failure {
    fn into_error(self, node: &Node) -> WorkflowError {
        let node = node.id.clone();
        match self {
            Failure::Api(e) => WorkflowError::NodeFailed { node, inner_code: e.code, message: e.message },
            Failure::ApiTimeout => WorkflowError::NodeFailed {
                node,
                inner_code: "Timeout".into(),
                message: "the call took longer than the node's timeout".into(),
            },
            Failure::Function(e) if e.code == "Workflow.FunctionTimeout" => WorkflowError::FunctionTimeout { node },
            Failure::Function(e) => WorkflowError::FunctionError { node, message: e.message },
            Failure::FunctionTimeout => WorkflowError::FunctionTimeout { node },
        }
    }

    fn as_output(&self) -> Value {
        let (code, message) = match self {
            Failure::Api(e) | Failure::Function(e) => (e.code.as_str(), e.message.as_str()),
            Failure::ApiTimeout => ("Timeout", "the call took longer than the node's timeout"),
            Failure::FunctionTimeout => ("Workflow.FunctionTimeout", "the function took longer than its time limit"),
        };
        json!({"error": {"code": code, "message": message}})
    }
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn mapped(map: &[(String, ParamValue)], scope: &dyn Scope) -> Map<String, Value> {
    map.iter().map(|(name, value)| (name.clone(), value.resolve(scope).into_owned())).collect()
}

struct Engine<'a> {
    workflow: &'a CompiledWorkflow,
    host: &'a dyn NodeHost,
    depth: u32,
}

impl<'a> Engine<'a> {
    fn seq(&'a self, steps: &'a [Step], frame: &'a mut Frame) -> BoxFuture<'a, Result<(), WorkflowError>> {
        Box::pin(async move {
            for step in steps {
                match step {
                    Step::Call(slot) => self.call(*slot, frame).await?,
                    Step::Switch { node, branches, default } => {
                        let began = Instant::now();
                        let chosen = {
                            let view = View { prev: &frame.prev, outputs: &frame.outputs };
                            let mut chosen = None;
                            for (i, (condition, seq)) in branches.iter().enumerate() {
                                match condition.evaluate(&view) {
                                    Ok(true) => {
                                        chosen = Some((json!(i), seq));
                                        break;
                                    }
                                    Ok(false) => {}
                                    Err(e) => {
                                        let node = self.workflow.nodes[*node].id.clone();
                                        let message = format!("branch {i} `{}`: {e}", condition.as_str());
                                        return Err(WorkflowError::Expression { node, message });
                                    }
                                }
                            }
                            match (chosen, default) {
                                (Some(chosen), _) => chosen,
                                (None, Some(seq)) => (json!("default"), seq),
                                (None, None) => {
                                    return Err(WorkflowError::NoBranch {
                                        node: self.workflow.nodes[*node].id.clone(),
                                    });
                                }
                            }
                        };
                        frame.outputs[*node] = Some(frame.prev.clone());
                        frame.last = *node;
                        let (branch, seq) = chosen;
                        if let Some(trace) = &mut frame.trace {
                            let input = (*frame.prev).clone();
                            let id = self.workflow.nodes[*node].id.clone();
                            let output = json!({"branch": branch});
                            trace.push(NodeTrace {
                                node: id,
                                input,
                                output,
                                status: NodeStatus::Ok,
                                elapsed_us: micros(began),
                            });
                        }
                        self.seq(seq, frame).await?;
                    }
                    Step::Parallel { node, branches } => self.parallel(*node, branches, frame).await?,
                    Step::End(slot) => {
                        let began = Instant::now();
                        let node = &self.workflow.nodes[*slot];
                        let answer = match &node.output {
                            Some(map) => {
                                Value::Object(mapped(map, &View { prev: &frame.prev, outputs: &frame.outputs }))
                            }
                            None => (*frame.prev).clone(),
                        };
                        if let Some(trace) = &mut frame.trace {
                            let (input, output) = ((*frame.prev).clone(), answer.clone());
                            trace.push(NodeTrace {
                                node: node.id.clone(),
                                input,
                                output,
                                status: NodeStatus::Ok,
                                elapsed_us: micros(began),
                            });
                        }
                        frame.answer = Some(answer);
                    }
                }
                if frame.answer.is_some() {
                    break;
                }
            }
            Ok(())
        })
    }

    async fn parallel(
        &'a self,
        slot: usize,
        branches: &'a [Vec<Step>],
        frame: &mut Frame,
    ) -> Result<(), WorkflowError> {
        let began = Instant::now();
        let runs = branches.iter().map(|seq| {
            let mut copy = Frame {
                outputs: frame.outputs.clone(),
                prev: frame.prev.clone(),
                last: frame.last,
                trace: frame.trace.as_ref().map(|_| Vec::new()),
                answer: None,
            };
            async move {
                self.seq(seq, &mut copy).await?;
                Ok::<Frame, WorkflowError>(copy)
            }
        });
        // The first failure drops the other branches' futures, cancelling their calls.
        let finished = try_join_all(runs).await?;
        let mut joined = Map::new();
        for branch in finished {
            for (mine, theirs) in frame.outputs.iter_mut().zip(branch.outputs) {
                if mine.is_none() {
                    *mine = theirs;
                }
            }
            joined.insert(self.workflow.nodes[branch.last].id.clone(), (*branch.prev).clone());
            if let (Some(trace), Some(theirs)) = (&mut frame.trace, branch.trace) {
                trace.extend(theirs);
            }
        }
        let output = Arc::new(Value::Object(joined));
        if let Some(trace) = &mut frame.trace {
            let node = self.workflow.nodes[slot].id.clone();
            let (input, out) = ((*frame.prev).clone(), (*output).clone());
            trace.push(NodeTrace { node, input, output: out, status: NodeStatus::Ok, elapsed_us: micros(began) });
        }
        frame.outputs[slot] = Some(output.clone());
        frame.prev = output;
        frame.last = slot;
        Ok(())
    }

    async fn call(&self, slot: usize, frame: &mut Frame) -> Result<(), WorkflowError> {
        let began = Instant::now();
        let node = &self.workflow.nodes[slot];
        let view = View { prev: &frame.prev, outputs: &frame.outputs };
        let mut input = Map::new();
        let result = match &node.kind {
            Kind::Api(api) => {
                let given = |name: &str| node.params.iter().any(|(n, _)| n == name);
                match (self.host.api_params(api), frame.prev.as_object()) {
                    (Some(names), Some(prev)) => {
                        for name in names {
                            if !given(&name)
                                && let Some(value) = prev.get(&name)
                            {
                                input.insert(name, value.clone());
                            }
                        }
                    }
                    (None, Some(prev)) => input = prev.clone(),
                    (_, None) => {}
                }
                input.extend(mapped(&node.params, &view));
                // The input is kept only for the trace.
                let sent = if frame.trace.is_some() { input.clone() } else { std::mem::take(&mut input) };
                let call = self.host.call_api(api, sent, self.depth + 1);
                match node.timeout {
                    Some(limit) => match tokio::time::timeout(limit, call).await {
                        Ok(result) => result.map_err(Failure::Api),
                        Err(_) => Err(Failure::ApiTimeout),
                    },
                    None => call.await.map_err(Failure::Api),
                }
            }
            Kind::Function(function) => {
                let event = match (frame.prev.as_object(), node.params.is_empty()) {
                    (Some(prev), _) => {
                        input = prev.clone();
                        input.extend(mapped(&node.params, &view));
                        Value::Object(input.clone())
                    }
                    (None, true) => (*frame.prev).clone(),
                    (None, false) => {
                        input = mapped(&node.params, &view);
                        Value::Object(input.clone())
                    }
                };
                let call = self.host.call_function(function, event, node.timeout);
                match node.timeout {
                    Some(limit) => match tokio::time::timeout(limit, call).await {
                        Ok(result) => result.map_err(Failure::Function),
                        Err(_) => Err(Failure::FunctionTimeout),
                    },
                    None => call.await.map_err(Failure::Function),
                }
            }
            Kind::Start | Kind::Switch | Kind::Parallel | Kind::End => Ok(Value::Null),
        };
        let traced_input = |frame: &Frame, input: Map<String, Value>| {
            if matches!(node.kind, Kind::Function(_)) && input.is_empty() {
                (*frame.prev).clone()
            } else {
                Value::Object(input)
            }
        };
        let (result, status) = match result {
            Ok(value) => (value, NodeStatus::Ok),
            Err(failure) if node.continue_on_error => (failure.as_output(), NodeStatus::Failed),
            Err(failure) => {
                let input = frame.trace.is_some().then(|| traced_input(frame, input));
                if let (Some(trace), Some(input)) = (&mut frame.trace, input) {
                    let (output, elapsed_us) = (failure.as_output(), micros(began));
                    trace.push(NodeTrace {
                        node: node.id.clone(),
                        input,
                        output,
                        status: NodeStatus::Failed,
                        elapsed_us,
                    });
                }
                return Err(failure.into_error(node));
            }
        };
        let output = match &node.output {
            Some(map) => Value::Object(mapped(map, &View { prev: &result, outputs: &frame.outputs })),
            None => result,
        };
        let input = frame.trace.is_some().then(|| traced_input(frame, input));
        if let (Some(trace), Some(input)) = (&mut frame.trace, input) {
            let (output, elapsed_us) = (output.clone(), micros(began));
            trace.push(NodeTrace { node: node.id.clone(), input, output, status, elapsed_us });
        }
        let output = Arc::new(output);
        frame.outputs[slot] = Some(output.clone());
        frame.prev = output;
        frame.last = slot;
        Ok(())
    }
}
