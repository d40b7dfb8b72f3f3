// How one node looks on the graph: its kind, id and what it calls; red when the server refused
// it, orange when the editor sees something to finish.
import { Handle, Position, type Node, type NodeProps } from "@xyflow/react";

export type FlowKind = "start" | "api" | "function" | "switch" | "parallel" | "end";

export interface FlowData extends Record<string, unknown> {
  id: string;
  kind: FlowKind;
  kindLabel: string;
  detail: string;
  error: boolean;
  hint: boolean;
}

export type FlowNodeType = Node<FlowData, "wf">;

/** The kind's label: shade 9, but a darker orange (Mantine's orange.9 is below AA for small text). */
const TEXT: Record<FlowKind, string> = {
  start: "var(--mantine-color-gray-9)",
  api: "var(--mantine-color-blue-9)",
  function: "var(--mantine-color-grape-9)",
  switch: "#a5400b",
  parallel: "var(--mantine-color-teal-9)",
  end: "var(--mantine-color-dark-9)",
};

const COLORS: Record<FlowKind, string> = {
  start: "gray",
  api: "blue",
  function: "grape",
  switch: "orange",
  parallel: "teal",
  end: "dark",
};

export function FlowNode({ data, selected }: NodeProps<FlowNodeType>) {
  const color = COLORS[data.kind];
  const border = data.error ? "var(--mantine-color-red-6)" : selected ? "var(--mantine-color-indigo-6)" : data.hint ? "var(--mantine-color-orange-5)" : `var(--mantine-color-${color}-4)`;
  return (
    <div
      data-kind={data.kind}
      data-error={data.error ? "true" : undefined}
      style={{
        width: 180,
        padding: "6px 10px",
        borderRadius: data.kind === "start" || data.kind === "end" ? 18 : 6,
        border: `2px ${data.hint && !data.error && !selected ? "dashed" : "solid"} ${border}`,
        background: data.error ? "var(--mantine-color-red-0)" : "var(--mantine-color-white)",
        boxShadow: selected ? "0 0 0 3px var(--mantine-color-indigo-2)" : undefined,
        fontSize: 12,
        lineHeight: 1.35,
      }}
    >
      {data.kind !== "start" ? <Handle type="target" position={Position.Top} /> : null}
      <div style={{ display: data.kind === "start" ? "none" : "flex", justifyContent: "space-between", gap: 6 }}>
        <span style={{ color: TEXT[data.kind], fontWeight: 600, textTransform: "uppercase", fontSize: 10 }}>{data.kindLabel}</span>
        {data.error ? (
          <span aria-hidden style={{ color: "var(--mantine-color-red-9)", fontWeight: 700 }}>
            !
          </span>
        ) : null}
      </div>
      <div className="sluice-mono" style={{ fontWeight: 600, overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>
        {data.id}
      </div>
      {data.detail ? <div style={{ color: "var(--mantine-color-gray-8)", overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>{data.detail}</div> : null}
      {data.kind !== "end" ? <Handle type="source" position={Position.Bottom} /> : null}
    </div>
  );
}

export const nodeTypes = { wf: FlowNode };
