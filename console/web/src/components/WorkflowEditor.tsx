// The workflow editor (seed 001, docs/workflows.md): the graph of a workflow API's draft — START,
// API nodes, Python function nodes, switches, parallels and end nodes — drawn with React Flow.
// Nodes are added from the toolbar (after the selected node when it has a free exit), dragged,
// connected by dragging from a node's lower handle to another's upper one, deleted with the
// Delete key or from their panel, and edited in the side panel. The spec keeps no positions:
// the graph is laid out from its edges, and where a node was dragged is kept for this visit.
// A refusal of the server that names a node (`…nodes[2]…`, "node `X`") turns it red and shows
// the message in its panel; any other shows above the graph.
import "@xyflow/react/dist/style.css";
import { useCallback, useEffect, useMemo, useRef, useState, type CSSProperties } from "react";
import { Alert, Button, Group, Select, Stack, Text, Title } from "@mantine/core";
import { Background, Controls, MarkerType, ReactFlow, ReactFlowProvider, useReactFlow, type Connection, type Edge, type EdgeChange, type NodeChange, type OnDelete } from "@xyflow/react";
import { api, seg, type ApiError, type Page } from "../api";
import { useLoad } from "../hooks";
import { useLanguage, useT, type MessageKey } from "../i18n";
import type { ApiSummary, Definition, RequestParam } from "../types";
import { RequestParamsTable } from "./ParamTables";
import { nodeTypes, type FlowNodeType } from "./workflow/FlowNode";
import { FUNCTION_TEMPLATE, KINDS, START, connect, disconnect, freshId, hasFreeExit, hintsOf, layout, linksOf, newNode, problemTarget, removeNodes, renameNode, specOf, withSpec, type Kind, type Link, type Spec } from "./workflow/model";
import { HINT_COLOR, NodePanel, type LibraryFunctionSummary, type NodeProblem } from "./workflow/NodePanel";
import { WorkflowSettings } from "./workflow/WorkflowSettings";

type Props = { wg: string; definition: Definition; onChange: (d: Definition) => void; problem?: ApiError };

export default function WorkflowEditor(props: Props) {
  return (
    <ReactFlowProvider>
      <Editor {...props} />
    </ReactFlowProvider>
  );
}

const short = (text: string, max = 26) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function Editor({ wg, definition, onChange, problem }: Props) {
  const t = useT();
  const { language } = useLanguage();
  const flow = useReactFlow();
  const spec = useMemo(() => specOf(definition), [definition]);
  const [selected, setSelected] = useState<string | null>(null);
  const [selectedEdge, setSelectedEdge] = useState<string | null>(null);
  const [moved, setMoved] = useState<Record<string, { x: number; y: number }>>({});
  const [measured, setMeasured] = useState<Record<string, { width: number; height: number }>>({});
  const [past, setPast] = useState<Definition[]>([]);
  const lastPush = useRef(0);
  const apis = useLoad((signal) => api<Page<ApiSummary>>("GET", `/workgroups/${seg(wg)}/apis?pageSize=200`, undefined, { signal }), [wg]);
  const library = useLoad((signal) => api<LibraryFunctionSummary[]>("GET", `/workgroups/${seg(wg)}/functions`, undefined, { signal }), [wg]);

  /** Every change goes out as a whole definition. Edits of one field in quick succession
   *  (typing) undo together; structural changes (`discrete`) undo one by one. */
  const emit = useCallback(
    (next: Definition, discrete = false) => {
      const now = Date.now();
      if (discrete || now - lastPush.current > 600) setPast((p) => [...p.slice(-99), definition]);
      lastPush.current = discrete ? 0 : now;
      const { edges: _edges, ...clean } = next;
      onChange(clean as Definition);
    },
    [definition, onChange],
  );
  const setSpec = useCallback((s: Spec, discrete = false) => emit(withSpec(definition, s), discrete), [definition, emit]);
  const change = useCallback((s: Spec) => setSpec(s, true), [setSpec]);
  const undo = () => {
    const previous = past[past.length - 1];
    if (!previous) return;
    setPast(past.slice(0, -1));
    lastPush.current = 0;
    onChange(previous);
  };

  // The node a refusal names is read against the definition that was saved, when it arrives.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const target = useMemo(() => problemTarget(problem, spec), [problem]);
  useEffect(() => {
    if (target.node) setSelected(target.node);
  }, [target.node, problem]);
  const nodeProblem = (id: string): NodeProblem | undefined => (problem && target.node === id ? { code: problem.code, message: problem.message, field: target.field } : undefined);

  const hints = useMemo(
    () => hintsOf(spec, { apis: apis.data?.items.map((a) => a.name), functions: library.data?.map((f) => f.name) }),
    [spec, apis.data, library.data],
  );
  const hinted = useMemo(() => new Set(hints.map((h) => h.node).filter(Boolean) as string[]), [hints]);
  const laid = useMemo(() => layout(spec), [spec]);
  const ids = useMemo(() => new Set(spec.nodes.map((n) => n.id)), [spec]);
  const requestParams = (definition.requestParams ?? []) as RequestParam[];

  const nodes: FlowNodeType[] = useMemo(() => {
    const seen = new Set<string>();
    const list: FlowNodeType[] = [];
    const add = (id: string, kind: FlowNodeType["data"]["kind"], detail: string) => {
      if (seen.has(id)) return;
      seen.add(id);
      list.push({
        id,
        type: "wf",
        position: moved[id] ?? laid.get(id) ?? { x: 0, y: 0 },
        data: { id, kind, kindLabel: t(`wf.kind.${kind}` as MessageKey), detail, error: !!problem && target.node === id, hint: hinted.has(id) },
        selected: selected === id,
        deletable: id !== START,
        measured: measured[id],
        ariaLabel: t("wf.nodeAria", { kind: t(`wf.kind.${kind}` as MessageKey), id }),
      });
    };
    add(START, "start", requestParams.length > 0 ? short(requestParams.map((p) => p.name).join(", ")) : t("wf.noRequestParams"));
    for (const n of spec.nodes) {
      const detail =
        n.kind === "api"
          ? n.api || t("wf.chooseApi")
          : n.kind === "function"
            ? n.function
              ? `${n.function}${n.function in spec.functions ? ` (${t("wf.inline")})` : ""}`
              : t("wf.chooseFunction")
            : n.kind === "switch" || n.kind === "parallel"
              ? t("wf.nBranches", { n: (n.branches ?? []).length })
              : Object.keys(n.output ?? {}).join(", ");
      add(n.id, n.kind, short(detail));
    }
    return list;
  }, [spec, laid, moved, measured, selected, hinted, problem, target.node, requestParams, t]);

  const edges: Edge[] = useMemo(() => {
    const kindOf = new Map(spec.nodes.map((n) => [n.id, n.kind]));
    return linksOf(spec)
      .filter((l) => ids.has(l.target))
      .map((l) => {
        const id = `${l.source}:${l.via}:${l.index}`;
        const from = kindOf.get(l.source);
        const label = l.via === "default" ? t("wf.defaultEdge") : l.via === "branch" && from === "switch" ? `${l.index + 1}: ${short(l.condition || "?", 22)}` : l.via === "branch" ? `∥ ${l.index + 1}` : undefined;
        return {
          id,
          source: l.source,
          target: l.target,
          label,
          data: { link: l },
          selected: selectedEdge === id,
          markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18 },
          style: l.via === "default" ? { strokeDasharray: "5 4" } : undefined,
          ariaLabel: t("wf.edgeAria", { source: l.source, target: l.target }),
        };
      });
  }, [spec, ids, selectedEdge, t]);

  const onNodesChange = useCallback((changes: NodeChange<FlowNodeType>[]) => {
    for (const c of changes) {
      if (c.type === "position" && c.position) {
        const at = c.position;
        setMoved((m) => ({ ...m, [c.id]: at }));
      } else if (c.type === "dimensions" && c.dimensions) {
        const size = c.dimensions;
        setMeasured((m) => (m[c.id]?.width === size.width && m[c.id]?.height === size.height ? m : { ...m, [c.id]: size }));
      } else if (c.type === "select") {
        setSelected((cur) => (c.selected ? c.id : cur === c.id ? null : cur));
      }
    }
  }, []);
  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    for (const c of changes) if (c.type === "select") setSelectedEdge((cur) => (c.selected ? c.id : cur === c.id ? null : cur));
  }, []);
  const onDelete: OnDelete<FlowNodeType, Edge> = ({ nodes: gone, edges: cut }) => {
    if (gone.length > 0) {
      change(removeNodes(spec, gone.map((n) => n.id)));
      setSelected(null);
    } else if (cut.length > 0) {
      change(disconnect(spec, cut.map((e) => (e.data as { link: Link }).link)));
    }
    setSelectedEdge(null);
  };
  const onConnect = (c: Connection) => {
    if (c.source && c.target) change(connect(spec, c.source, c.target));
  };

  const count = spec.nodes.length;
  useEffect(() => {
    const timer = window.setTimeout(() => flow.fitView({ padding: 0.2, maxZoom: 1, duration: 150 }), 60);
    return () => window.clearTimeout(timer);
  }, [count, flow]);

  /** Adds a node of `kind`, after the selected node when that has a free exit (or as the first
   *  node of an empty workflow), and selects it. */
  const add = (kind: Kind) => {
    const id = freshId(spec, kind);
    // A function node calls the library's function of its id when there is one, else carries
    // seed 001's function inline, so the draft is one the server takes at once.
    const fn = kind === "function" ? id : "";
    let next: Spec = { ...spec, nodes: [...spec.nodes, newNode(id, kind, fn)] };
    if (kind === "function" && !(library.data ?? []).some((f) => f.name === fn)) next.functions = { ...spec.functions, [fn]: FUNCTION_TEMPLATE };
    const after = selected ?? (spec.start ? null : START);
    if (after && hasFreeExit(spec, after)) next = connect(next, after, id);
    change(next);
    setSelected(id);
    setSelectedEdge(null);
  };

  const remove = (id: string) => {
    change(removeNodes(spec, [id]));
    setSelected(null);
  };
  const rename = (from: string, to: string) => {
    change(renameNode(spec, from, to));
    setMoved((m) => {
      if (!m[from]) return m;
      const { [from]: at, ...rest } = m;
      return { ...rest, [to]: at };
    });
    setSelected(to);
  };

  const node = selected && selected !== START ? spec.nodes.find((n) => n.id === selected) : undefined;
  const startProblem = problem && target.node === START ? { code: problem.code, message: problem.message, field: target.field } : undefined;
  const ariaLabels = useMemo(
    () => ({
      "node.a11yDescription.default": t("wf.a11y.node"),
      "node.a11yDescription.keyboardDisabled": t("wf.a11y.node"),
      "edge.a11yDescription.default": t("wf.a11y.edge"),
      "controls.ariaLabel": t("wf.a11y.controls"),
      "controls.zoomIn.ariaLabel": t("wf.a11y.zoomIn"),
      "controls.zoomOut.ariaLabel": t("wf.a11y.zoomOut"),
      "controls.fitView.ariaLabel": t("wf.a11y.fitView"),
      "controls.interactive.ariaLabel": t("wf.a11y.interactive"),
      "handle.ariaLabel": t("wf.a11y.handle"),
    }),
    // The messages change with the language only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [language],
  );

  return (
    // Help texts in a darker grey than Mantine's "dimmed", which is below WCAG AA contrast.
    <Stack gap="sm" data-testid="workflow-editor" style={{ "--mantine-color-dimmed": "var(--mantine-color-gray-7)" } as CSSProperties}>
      <Group justify="space-between" align="center" gap="xs">
        <Group gap={6} role="group" aria-label={t("wf.addNode")}>
          <Text size="sm" fw={600}>
            {t("wf.addNode")}
          </Text>
          {KINDS.map((k) => (
            <Button key={k} size="compact-sm" variant="light" aria-label={t("wf.addKind", { kind: t(`wf.kind.${k}` as MessageKey) })} onClick={() => add(k)} disabled={count >= 64}>
              + {t(`wf.kind.${k}` as MessageKey)}
            </Button>
          ))}
        </Group>
        <Group gap={6}>
          <Select
            size="xs"
            w={200}
            aria-label={t("wf.editNode")}
            placeholder={t("wf.editNode")}
            data={[{ value: START, label: `START · ${t("wf.settings")}` }, ...spec.nodes.map((n) => ({ value: n.id, label: `${n.id} · ${t(`wf.kind.${n.kind}` as MessageKey)}` }))]}
            value={selected}
            searchable
            onChange={(v) => {
              setSelected(v);
              setSelectedEdge(null);
            }}
          />
          <Button size="compact-sm" variant="default" onClick={() => setMoved({})} disabled={Object.keys(moved).length === 0}>
            {t("wf.autoLayout")}
          </Button>
          <Button size="compact-sm" variant="default" onClick={undo} disabled={past.length === 0}>
            {t("wf.undo")}
          </Button>
          {hints.length > 0 ? (
            <Text size="sm" fw={600} style={{ color: HINT_COLOR }} title={t("wf.hintsHelp")} data-testid="wf-hint-count">
              {t("wf.hints", { n: hints.length })}
            </Text>
          ) : (
            <Text size="sm" fw={600} c="teal.9" data-testid="wf-hint-count">
              ✓ {t("wf.noHints")}
            </Text>
          )}
        </Group>
      </Group>
      {problem ? (
        <Alert color="red" title={problem.code} role="alert" data-testid="wf-problem" p="xs">
          {target.node ? (
            <Group justify="space-between" wrap="nowrap">
              <Text size="sm">{t("wf.problemOnNode", { node: target.node, message: problem.message })}</Text>
              <Button size="compact-xs" variant="light" color="red" style={{ flexShrink: 0 }} onClick={() => setSelected(target.node!)}>
                {t("wf.showNode")}
              </Button>
            </Group>
          ) : (
            <Text size="sm">{problem.message}</Text>
          )}
        </Alert>
      ) : null}
      <Text size="xs" c="dimmed">
        {t("wf.help")}
      </Text>
      <div style={{ display: "flex", gap: 12, alignItems: "flex-start", flexWrap: "wrap" }}>
        <div className="sluice-flow" style={{ flex: "1 1 420px", minWidth: 320 }} data-testid="wf-graph">
          <ReactFlow<FlowNodeType, Edge>
            nodes={nodes}
            edges={edges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onDelete={onDelete}
            isValidConnection={(c) => c.source !== c.target && c.target !== START}
            onPaneClick={() => {
              setSelected(null);
              setSelectedEdge(null);
            }}
            deleteKeyCode={["Backspace", "Delete"]}
            selectionKeyCode={null}
            multiSelectionKeyCode={null}
            fitView
            fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
            minZoom={0.3}
            ariaLabelConfig={ariaLabels}
            aria-label={t("wf.graph")}
            // React Flow's attribution stays; on a dark ground its grey link reads (WCAG contrast).
            style={{ "--xy-attribution-background-color": "#1f1f1f" } as CSSProperties}
          >
            <Background gap={16} />
            <Controls showInteractive={false} />
          </ReactFlow>
        </div>
        <div style={{ flex: "0 1 420px", minWidth: 320, maxWidth: "100%" }} data-testid="wf-panel">
          {node ? (
            <NodePanel
              key={node.id}
              wg={wg}
              spec={spec}
              node={node}
              apis={apis.data?.items ?? []}
              library={library.data ?? []}
              problem={nodeProblem(node.id)}
              hints={hints.filter((h) => h.node === node.id)}
              onSpec={setSpec}
              onRename={rename}
              onDelete={() => remove(node.id)}
            />
          ) : (
            <WorkflowSettings spec={spec} hints={hints} problem={startProblem} onSpec={setSpec} />
          )}
        </div>
      </div>
      <Title order={4}>{t("wf.requestParams")}</Title>
      <Text size="xs" c="dimmed">
        {t("wf.requestParamsHelp")}
      </Text>
      <div style={{ overflowX: "auto" }}>
        <RequestParamsTable params={requestParams} onChange={(p) => emit({ ...withSpec(definition, spec), requestParams: p })} withColumn={false} />
      </div>
    </Stack>
  );
}
