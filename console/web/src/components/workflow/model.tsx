// The workflow definition (`catalog::model::WorkflowSpec`, docs/workflows.md) as the editor reads
// and changes it: plain functions over the spec, no React. The spec has no place for node
// positions, so the graph is laid out from its edges (layered by the longest path from START).
import type { ApiError } from "../../api";
import type { Definition } from "../../types";

export type Kind = "api" | "function" | "switch" | "parallel" | "end";
export const KINDS: Kind[] = ["api", "function", "switch", "parallel", "end"];
/** The built-in start node: its output is the request. No node may take its id. */
export const START = "START";
/** Node ids and function names: 1–64 letters, digits, `_`, `-`. */
export const ID_RULE = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_NODES = 64;

export interface Branch {
  condition: string;
  next: string;
}

/** One node as the server stores it; keys of other kinds are not written. */
export interface WfNode {
  id: string;
  kind: Kind;
  api?: string;
  function?: string;
  /** Switch: `{condition, next}` objects; parallel: node ids. */
  branches?: (Branch | string)[];
  default?: string;
  params?: Record<string, string>;
  output?: Record<string, string>;
  next?: string[];
  timeoutMs?: number;
  continueOnError?: boolean;
  [k: string]: unknown;
}

export interface Spec {
  start: string;
  nodes: WfNode[];
  deadlineMs?: number;
  functions: Record<string, string>;
}

/** Seed 001's function: the node's input arrives as JSON text. */
export const FUNCTION_TEMPLATE = `# -*- coding: utf-8 -*-
# event (str): the node's input as JSON text; context: {"function", "env", "appId"}
import json
def handler(event, context):
    obj = json.loads(event)
    # add your code here
    return obj
`;

export function specOf(definition: Definition): Spec {
  const nodes = Array.isArray(definition.nodes) ? (definition.nodes as WfNode[]) : [];
  const functions = definition.functions && typeof definition.functions === "object" ? (definition.functions as Record<string, string>) : {};
  const deadline = typeof definition.deadlineMs === "number" ? definition.deadlineMs : undefined;
  return { start: typeof definition.start === "string" ? definition.start : "", nodes, deadlineMs: deadline, functions };
}

/** The definition with the spec's fields replaced (and no key the spec does not have). */
export function withSpec(definition: Definition, spec: Spec): Definition {
  const { edges: _edges, deadlineMs: _deadline, functions: _functions, ...rest } = definition;
  const next: Definition = { ...rest, mode: "workflow", start: spec.start, nodes: spec.nodes };
  if (spec.deadlineMs !== undefined) next.deadlineMs = spec.deadlineMs;
  if (Object.keys(spec.functions).length > 0) next.functions = spec.functions;
  return next;
}

export const switchBranches = (n: WfNode): Branch[] =>
  (n.branches ?? []).map((b) => (typeof b === "string" ? { condition: "", next: b } : { condition: String(b?.condition ?? ""), next: String(b?.next ?? "") }));
export const parallelBranches = (n: WfNode): string[] => (n.branches ?? []).map((b) => (typeof b === "string" ? b : String(b?.next ?? "")));

/** An edge of the graph and where the spec keeps it. */
export interface Link {
  source: string;
  target: string;
  /** `start` (START → spec.start), `next`, `branch` (switch or parallel, by index) or `default`. */
  via: "start" | "next" | "branch" | "default";
  index: number;
  condition?: string;
}

export function linksOf(spec: Spec): Link[] {
  const links: Link[] = [];
  if (spec.start) links.push({ source: START, target: spec.start, via: "start", index: 0 });
  for (const n of spec.nodes) {
    if (n.kind === "api" || n.kind === "function") (n.next ?? []).forEach((t, i) => t && links.push({ source: n.id, target: t, via: "next", index: i }));
    if (n.kind === "switch") {
      switchBranches(n).forEach((b, i) => b.next && links.push({ source: n.id, target: b.next, via: "branch", index: i, condition: b.condition }));
      if (n.default) links.push({ source: n.id, target: n.default, via: "default", index: 0 });
    }
    if (n.kind === "parallel") parallelBranches(n).forEach((t, i) => t && links.push({ source: n.id, target: t, via: "branch", index: i }));
  }
  return links;
}

/** Positions laid out top to bottom: each node one layer below its deepest predecessor. */
export function layout(spec: Spec, gapX = 220, gapY = 120): Map<string, { x: number; y: number }> {
  const ids = [START, ...spec.nodes.map((n) => n.id)];
  const known = new Set(ids);
  const out = new Map<string, string[]>();
  for (const id of ids) out.set(id, []);
  for (const l of linksOf(spec)) if (known.has(l.target) && !out.get(l.source)!.includes(l.target)) out.get(l.source)!.push(l.target);
  // Depth-first from START (then from nodes nothing reaches) gives an order without back edges.
  const state = new Map<string, 1 | 2>();
  const order: string[] = [];
  const back = new Set<string>();
  const visit = (id: string) => {
    state.set(id, 1);
    for (const t of out.get(id)!) {
      if (state.get(t) === 1) back.add(`${id}>${t}`);
      else if (!state.has(t)) visit(t);
    }
    state.set(id, 2);
    order.push(id);
  };
  visit(START);
  const reached = new Set(order);
  for (const id of ids) if (!state.has(id)) visit(id);
  order.reverse();
  const layer = new Map<string, number>(ids.map((id) => [id, id === START || reached.has(id) ? 0 : 1]));
  for (const id of order) for (const t of out.get(id)!) if (!back.has(`${id}>${t}`)) layer.set(t, Math.max(layer.get(t)!, layer.get(id)! + 1));
  // Within a layer, nodes keep the order a breadth-first walk meets them (branches in order).
  const seen: string[] = [];
  const queue = [START];
  const met = new Set(queue);
  while (queue.length) {
    const id = queue.shift()!;
    seen.push(id);
    for (const t of out.get(id)!) if (!met.has(t)) (met.add(t), queue.push(t));
  }
  for (const id of ids) if (!met.has(id)) seen.push(id);
  const rows = new Map<number, string[]>();
  for (const id of seen) {
    const l = layer.get(id)!;
    rows.set(l, [...(rows.get(l) ?? []), id]);
  }
  const at = new Map<string, { x: number; y: number }>();
  for (const [l, row] of rows) row.forEach((id, i) => at.set(id, { x: (i - (row.length - 1) / 2) * gapX, y: l * gapY }));
  return at;
}

/** An id for a new node of `kind`, as the seed names them (API1, PYTHON1, SWITCH1…). */
export function freshId(spec: Spec, kind: Kind): string {
  const prefix = { api: "API", function: "PYTHON", switch: "SWITCH", parallel: "PARALLEL", end: "END" }[kind];
  const taken = new Set(spec.nodes.map((n) => n.id));
  for (let i = 1; ; i++) if (!taken.has(`${prefix}${i}`)) return `${prefix}${i}`;
}

export function newNode(id: string, kind: Kind, fn = ""): WfNode {
  switch (kind) {
    case "api":
      return { id, kind, api: "", next: [] };
    case "function":
      return { id, kind, function: fn, next: [] };
    case "switch":
      return { id, kind, branches: [] };
    case "parallel":
      return { id, kind, branches: [] };
    case "end":
      return { id, kind };
  }
}

const replaceNode = (spec: Spec, id: string, change: (n: WfNode) => WfNode): Spec => ({ ...spec, nodes: spec.nodes.map((n) => (n.id === id ? change(n) : n)) });

/** Whether `source` has a free exit that `connect` would fill without replacing anything. */
export function hasFreeExit(spec: Spec, source: string): boolean {
  if (source === START) return !spec.start;
  const n = spec.nodes.find((x) => x.id === source);
  if (!n) return false;
  if (n.kind === "api" || n.kind === "function") return !(n.next ?? []).some(Boolean);
  return n.kind === "switch" || n.kind === "parallel";
}

/** The spec with an edge `source → target`: START's start, an api or function node's (only)
 *  successor, a switch's next branch (the first without a target, else a new one), a parallel's
 *  new branch. */
export function connect(spec: Spec, source: string, target: string): Spec {
  if (source === target || target === START) return spec;
  if (source === START) return { ...spec, start: target };
  return replaceNode(spec, source, (n) => {
    if (n.kind === "api" || n.kind === "function") return { ...n, next: [target] };
    if (n.kind === "switch") {
      const branches = switchBranches(n);
      if (branches.some((b) => b.next === target) || n.default === target) return n;
      const free = branches.findIndex((b) => !b.next);
      return { ...n, branches: free >= 0 ? branches.map((b, i) => (i === free ? { ...b, next: target } : b)) : [...branches, { condition: "", next: target }] };
    }
    if (n.kind === "parallel") {
      const branches = parallelBranches(n);
      return branches.includes(target) ? n : { ...n, branches: [...branches, target] };
    }
    return n;
  });
}

/** The spec without the given edges (a switch's branch keeps its condition, losing its target
 *  only when `keepConditions`). */
export function disconnect(spec: Spec, links: Link[], keepConditions = false): Spec {
  let next = spec;
  const sorted = [...links].sort((a, b) => b.index - a.index);
  for (const l of sorted) {
    if (l.via === "start") next = { ...next, start: "" };
    else
      next = replaceNode(next, l.source, (n) => {
        if (l.via === "next") return { ...n, next: [] };
        if (l.via === "default") {
          const { default: _d, ...rest } = n;
          return rest as WfNode;
        }
        if (n.kind === "switch") {
          const branches = switchBranches(n);
          return { ...n, branches: keepConditions && branches[l.index]?.condition ? branches.map((b, i) => (i === l.index ? { ...b, next: "" } : b)) : branches.filter((_, i) => i !== l.index) };
        }
        return { ...n, branches: parallelBranches(n).filter((_, i) => i !== l.index) };
      });
  }
  return next;
}

/** The spec without the nodes `ids` and every edge to them; functions no node calls any more
 *  are dropped from the inline sources. */
export function removeNodes(spec: Spec, ids: string[]): Spec {
  const gone = new Set(ids.filter((id) => id !== START));
  if (gone.size === 0) return spec;
  const into = linksOf(spec).filter((l) => gone.has(l.target) && !gone.has(l.source));
  let next = disconnect(spec, into, true);
  next = { ...next, nodes: next.nodes.filter((n) => !gone.has(n.id)) };
  const called = new Set(next.nodes.filter((n) => n.kind === "function").map((n) => n.function));
  const removed = spec.nodes.filter((n) => gone.has(n.id) && n.kind === "function").map((n) => n.function ?? "");
  const functions = Object.fromEntries(Object.entries(next.functions).filter(([name]) => called.has(name) || !removed.includes(name)));
  return { ...next, functions };
}

/** Replaces references to node `from` in an expression (`${from}`, `${from.x}`, `${from[0]}`). */
const renameIn = (text: string, from: string, to: string) => text.replace(new RegExp(`\\$\\{${from.replace(/[-]/g, "\\-")}(?=[}.\\[])`, "g"), `\${${to}`);

const renameMap = (map: Record<string, string> | undefined, from: string, to: string) => (map ? Object.fromEntries(Object.entries(map).map(([k, v]) => [k, renameIn(v, from, to)])) : map);

/** The spec with node `from` called `to`: its edges and the expressions naming it follow. */
export function renameNode(spec: Spec, from: string, to: string): Spec {
  const r = (id: string) => (id === from ? to : id);
  return {
    ...spec,
    start: r(spec.start),
    nodes: spec.nodes.map((n) => {
      const m: WfNode = { ...n, id: r(n.id) };
      if (n.next) m.next = n.next.map(r);
      if (n.default) m.default = r(n.default);
      if (n.kind === "switch") m.branches = switchBranches(n).map((b) => ({ condition: renameIn(b.condition, from, to), next: r(b.next) }));
      if (n.kind === "parallel") m.branches = parallelBranches(n).map(r);
      if (n.params) m.params = renameMap(n.params, from, to);
      if (n.output) m.output = renameMap(n.output, from, to);
      return m;
    }),
  };
}

/** Why an id cannot be used for node `self`, or undefined. */
export function idProblem(spec: Spec, id: string, self?: string): "badId" | "reservedId" | "duplicateId" | undefined {
  if (!ID_RULE.test(id)) return "badId";
  if (id === START) return "reservedId";
  if (id !== self && spec.nodes.some((n) => n.id === id)) return "duplicateId";
  return undefined;
}

/** A hint the editor shows before the server is asked: what compiling would refuse. */
export interface Hint {
  node?: string;
  key: "noStart" | "noEnd" | "badId" | "duplicateId" | "noApi" | "unknownApi" | "noFunction" | "unknownFunction" | "noNext" | "missingTarget" | "noBranches" | "noCondition" | "unreachable" | "cycle" | "tooMany";
  vars?: Record<string, string | number>;
}

/** What the editor sees left to finish; `known` (once loaded) are the workgroup's API names and
 *  library functions, against which api and function nodes are checked. */
export function hintsOf(spec: Spec, known?: { apis?: string[]; functions?: string[] }): Hint[] {
  const hints: Hint[] = [];
  const ids = new Set(spec.nodes.map((n) => n.id));
  if (spec.nodes.length > MAX_NODES) hints.push({ key: "tooMany", vars: { max: MAX_NODES } });
  if (!spec.start || !ids.has(spec.start)) hints.push({ node: START, key: "noStart" });
  if (!spec.nodes.some((n) => n.kind === "end")) hints.push({ key: "noEnd" });
  const counted = new Map<string, number>();
  for (const n of spec.nodes) counted.set(n.id, (counted.get(n.id) ?? 0) + 1);
  for (const n of spec.nodes) {
    if (!ID_RULE.test(n.id) || n.id === START) hints.push({ node: n.id, key: "badId" });
    if ((counted.get(n.id) ?? 0) > 1) hints.push({ node: n.id, key: "duplicateId" });
    if (n.kind === "api" && !n.api) hints.push({ node: n.id, key: "noApi" });
    else if (n.kind === "api" && known?.apis && !known.apis.includes(n.api!)) hints.push({ node: n.id, key: "unknownApi", vars: { name: n.api! } });
    if (n.kind === "function" && !n.function) hints.push({ node: n.id, key: "noFunction" });
    else if (n.kind === "function" && known?.functions && !(n.function! in spec.functions) && !known.functions.includes(n.function!))
      hints.push({ node: n.id, key: "unknownFunction", vars: { name: n.function! } });
    if ((n.kind === "api" || n.kind === "function") && !(n.next ?? []).some(Boolean)) hints.push({ node: n.id, key: "noNext" });
    if ((n.kind === "switch" || n.kind === "parallel") && (n.branches ?? []).length === 0) hints.push({ node: n.id, key: "noBranches" });
    if (n.kind === "switch")
      switchBranches(n).forEach((b, i) => {
        if (!b.condition.trim()) hints.push({ node: n.id, key: "noCondition", vars: { n: i + 1 } });
        if (!b.next) hints.push({ node: n.id, key: "missingTarget", vars: { target: "—" } });
      });
  }
  for (const l of linksOf(spec)) if (!ids.has(l.target)) hints.push({ node: l.source, key: "missingTarget", vars: { target: l.target } });
  // Reachability and cycles, from START.
  const out = new Map<string, string[]>();
  for (const l of linksOf(spec)) out.set(l.source, [...(out.get(l.source) ?? []), l.target]);
  const state = new Map<string, 1 | 2>();
  const visit = (id: string) => {
    state.set(id, 1);
    for (const t of out.get(id) ?? []) {
      if (state.get(t) === 1) hints.push({ node: id, key: "cycle", vars: { target: t } });
      else if (!state.has(t) && (ids.has(t) || t === START)) visit(t);
    }
    state.set(id, 2);
  };
  visit(START);
  for (const n of spec.nodes) if (!state.has(n.id)) hints.push({ node: n.id, key: "unreachable" });
  return hints;
}

/** What a refusal of the server is about: a node (by id) and the field of it, when it names one. */
export interface Target {
  node?: string;
  field?: string;
}

/** Reads the node a 400 names: `…nodes[2].params.user_id` (by index, in the code, the field or
 *  the message), `draft.functions.<name>` (the nodes calling it), `draft.start`, `Workflow.*.<node>`
 *  or "node `X`" in the message. */
export function problemTarget(problem: ApiError | undefined, spec: Spec): Target {
  if (!problem) return {};
  const ids = spec.nodes.map((n) => n.id);
  const field = (problem as unknown as { field?: unknown }).field;
  const candidates = [typeof field === "string" ? field : "", problem.code ?? "", problem.message ?? ""];
  for (const text of candidates) {
    const m = /(?:^|[.\s`(])nodes\[(\d+)\](?:\.([A-Za-z0-9_.[\]-]+))?/.exec(text);
    if (m && Number(m[1]) < spec.nodes.length) return { node: spec.nodes[Number(m[1])].id, field: m[2] };
  }
  for (const text of candidates) {
    const f = /(?:^|\.)functions\.([A-Za-z0-9_-]+)/.exec(text);
    if (f) {
      const caller = spec.nodes.find((n) => n.kind === "function" && n.function === f[1]);
      if (caller) return { node: caller.id, field: "source" };
    }
    if (/(?:^|\.)start$/.test(text)) return { node: START, field: "start" };
  }
  const named = /^Workflow\.[A-Za-z]+\.(.+)$/.exec(problem.code ?? "");
  if (named && ids.includes(named[1])) return { node: named[1] };
  const inMessage = /node `([^`]+)`/.exec(problem.message ?? "");
  if (inMessage && ids.includes(inMessage[1])) return { node: inMessage[1] };
  return {};
}
