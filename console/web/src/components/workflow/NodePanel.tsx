// The side panel of one node: its id, what it calls (an API of the workgroup, a Python function,
// a switch's conditions, a parallel's branches), the JSONPath mappings of its input and output,
// its successor, limits, and the server's refusal when it names this node.
import { lazy, Suspense, useEffect, useState } from "react";
import { ActionIcon, Alert, Autocomplete, Badge, Button, Group, Loader, NumberInput, SegmentedControl, Select, Stack, Switch, Text, TextInput, Title } from "@mantine/core";
import { api, seg } from "../../api";
import { useLoad } from "../../hooks";
import { useT, type MessageKey } from "../../i18n";
import type { ApiSummary, ApiView, RequestParam } from "../../types";
import { MappingTable } from "./MappingTable";
import { FUNCTION_TEMPLATE, ID_RULE, idProblem, parallelBranches, switchBranches, type Hint, type Spec, type WfNode } from "./model";

const CodeEditor = lazy(() => import("../CodeEditor"));

export interface LibraryFunctionSummary {
  name: string;
  description: string;
  digest: string;
}

/** Orange dark enough for small text on white (WCAG AA); Mantine's orange.9 is not. */
export const HINT_COLOR = "#a5400b";

export interface NodeProblem {
  code: string;
  message: string;
  field?: string;
}

export function NodePanel({
  wg,
  spec,
  node,
  apis,
  library,
  problem,
  hints,
  onSpec,
  onRename,
  onDelete,
}: {
  wg: string;
  spec: Spec;
  node: WfNode;
  apis: ApiSummary[];
  library: LibraryFunctionSummary[];
  problem?: NodeProblem;
  hints: Hint[];
  onSpec: (s: Spec) => void;
  onRename: (from: string, to: string) => void;
  onDelete: () => void;
}) {
  const t = useT();
  const update = (change: Partial<WfNode>) => {
    const next: WfNode = { ...node, ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete next[k];
    onSpec({ ...spec, nodes: spec.nodes.map((n) => (n.id === node.id ? next : n)) });
  };
  const others = spec.nodes.filter((n) => n.id !== node.id).map((n) => ({ value: n.id, label: `${n.id} · ${t(`wf.kind.${n.kind}` as MessageKey)}` }));
  const fieldError = (name: string) => (problem && problem.field && (problem.field === name || problem.field.startsWith(`${name}.`) || problem.field.startsWith(`${name}[`)) ? problem.message : undefined);
  const takesParams = node.kind === "api" || node.kind === "function";
  const takesOutput = takesParams || node.kind === "end";
  return (
    <Stack gap="sm" data-testid="wf-node-panel">
      <Group justify="space-between" wrap="nowrap">
        <Title order={3} size="h5">
          {t(`wf.kind.${node.kind}` as MessageKey)} · <span className="sluice-mono">{node.id}</span>
        </Title>
        <Button size="compact-xs" color="red" variant="light" onClick={onDelete}>
          {t("wf.deleteNode")}
        </Button>
      </Group>
      {problem ? (
        <Alert color="red" title={problem.code} role="alert" data-testid="wf-node-problem" p="xs">
          <Text size="sm">{problem.message}</Text>
        </Alert>
      ) : null}
      {hints.length > 0 ? (
        <Stack gap={2} data-testid="wf-node-hints">
          {hints.map((h, i) => (
            <Text key={i} size="xs" style={{ color: HINT_COLOR }}>
              • {t(`wf.hint.${h.key}` as MessageKey, h.vars)}
            </Text>
          ))}
        </Stack>
      ) : null}
      <IdInput key={node.id} spec={spec} id={node.id} onRename={onRename} />
      {node.kind === "api" ? <ApiFields wg={wg} node={node} apis={apis} update={update} error={fieldError("api")} /> : null}
      {node.kind === "function" ? <FunctionFields wg={wg} spec={spec} node={node} library={library} onSpec={onSpec} error={fieldError("function") ?? fieldError("source")} /> : null}
      {node.kind === "switch" ? <SwitchFields node={node} targets={others} update={update} problemField={problem?.field} problemMessage={problem?.message} /> : null}
      {node.kind === "parallel" ? <ParallelFields node={node} targets={others} update={update} /> : null}
      {takesParams ? (
        <Select
          label={t("wf.next")}
          description={t("wf.nextHelp")}
          data={others}
          value={node.next?.[0] || null}
          clearable
          searchable
          placeholder={t("wf.none")}
          error={fieldError("next")}
          onChange={(v) => update({ next: v ? [v] : [] })}
        />
      ) : null}
      {takesParams ? (
        <MappingTable
          key={`${node.id}-params`}
          testId="wf-params"
          title={node.kind === "api" ? t("wf.params") : t("wf.functionParams")}
          help={t("wf.paramsHelp")}
          value={node.params}
          onChange={(params) => update({ params })}
          nameLabel={t("wf.paramName")}
          valueLabel={t("wf.paramValue")}
          valuePlaceholder="${START.id}"
          addLabel={t("wf.addParam")}
          error={fieldError("params") ? { name: problem?.field?.split(".")[1], message: problem!.message } : undefined}
        />
      ) : null}
      {takesOutput ? (
        <MappingTable
          key={`${node.id}-output`}
          testId="wf-output"
          title={node.kind === "end" ? t("wf.answer") : t("wf.output")}
          help={node.kind === "end" ? t("wf.answerHelp") : t("wf.outputHelp")}
          value={node.output}
          onChange={(output) => update({ output })}
          nameLabel={t("wf.outputName")}
          valueLabel={t("wf.outputPath")}
          valuePlaceholder="$.data.rows[0].id"
          addLabel={t("wf.addOutput")}
          error={fieldError("output") ? { name: problem?.field?.split(".")[1], message: problem!.message } : undefined}
        />
      ) : null}
      {takesParams ? (
        <Group align="end">
          <NumberInput w={160} label={t("wf.timeoutMs")} min={1} value={node.timeoutMs ?? ""} onChange={(v) => update({ timeoutMs: v === "" ? undefined : Number(v) })} />
          <Switch mb={6} label={t("wf.continueOnError")} checked={!!node.continueOnError} onChange={(e) => update({ continueOnError: e.currentTarget.checked })} />
        </Group>
      ) : null}
    </Stack>
  );
}

/** The node's id, renamed when the input is left or Enter pressed (references follow). */
function IdInput({ spec, id, onRename }: { spec: Spec; id: string; onRename: (from: string, to: string) => void }) {
  const t = useT();
  const [text, setText] = useState(id);
  const why = text === id ? undefined : idProblem(spec, text, id);
  const commit = () => {
    if (text !== id && !why) onRename(id, text);
  };
  return (
    <TextInput
      label={t("wf.nodeId")}
      description={t("wf.nodeIdHelp")}
      classNames={{ input: "sluice-mono" }}
      value={text}
      error={why ? t(`wf.hint.${why}` as MessageKey) : undefined}
      onChange={(e) => setText(e.currentTarget.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          commit();
        }
        if (e.key === "Escape") setText(id);
      }}
    />
  );
}

function ApiFields({ wg, node, apis, update, error }: { wg: string; node: WfNode; apis: ApiSummary[]; update: (c: Partial<WfNode>) => void; error?: string }) {
  const t = useT();
  const name = node.api ?? "";
  const chosen = apis.find((a) => a.name === name);
  const data = apis.map((a) => ({ value: a.name, label: `${a.name} (${a.method} ${a.path})` }));
  if (name && !chosen) data.unshift({ value: name, label: name });
  const detail = useLoad((signal) => (chosen ? api<ApiView>("GET", `/workgroups/${seg(wg)}/apis/${chosen.id}`, undefined, { signal }) : Promise.resolve(undefined)), [wg, chosen?.id]);
  const params: RequestParam[] = ((detail.data?.draft.requestParams ?? (detail.data?.draft as { params?: RequestParam[] } | undefined)?.params) ?? []) as RequestParam[];
  return (
    <Stack gap={6}>
      <Select
        label={t("wf.api")}
        description={t("wf.apiHelp")}
        required
        searchable
        data={data}
        value={name || null}
        nothingFoundMessage={t("wf.noApis")}
        error={error ?? (name && !chosen && apis.length > 0 ? t("wf.apiMissing") : undefined)}
        onChange={(v) => update({ api: v ?? "" })}
      />
      {chosen ? (
        <Group gap={4}>
          {chosen.publications.length === 0 ? <Badge color="gray">{t("wf.unpublished")}</Badge> : null}
          {chosen.publications.map((p) => (
            <Badge key={p.environment} color={p.environment === "prod" ? "green" : "yellow"}>
              {p.environment} V{p.version}
            </Badge>
          ))}
        </Group>
      ) : null}
      {params.length > 0 ? (
        <Group gap={4} data-testid="wf-api-params">
          <Text size="xs" c="dimmed">
            {t("wf.apiParams")}
          </Text>
          {params.map((p) => {
            const mapped = node.params && p.name in node.params;
            return (
              <Button
                key={p.name}
                size="compact-xs"
                variant={mapped ? "filled" : "default"}
                disabled={mapped}
                aria-label={t("wf.mapParam", { name: p.name })}
                title={`${p.type}${p.required ? ` · ${t("param.required")}` : ""}`}
                onClick={() => update({ params: { ...(node.params ?? {}), [p.name]: `\${START.${p.name}}` } })}
              >
                {p.name}
                {p.required ? " *" : ""}
              </Button>
            );
          })}
        </Group>
      ) : null}
    </Stack>
  );
}

function FunctionFields({ wg, spec, node, library, onSpec, error }: { wg: string; spec: Spec; node: WfNode; library: LibraryFunctionSummary[]; onSpec: (s: Spec) => void; error?: string }) {
  const t = useT();
  const name = node.function ?? "";
  const inline = name !== "" && name in spec.functions;
  const inLibrary = library.find((f) => f.name === name);
  const source = useLoad(
    (signal) => (!inline && inLibrary ? api<{ source: string }>("GET", `/workgroups/${seg(wg)}/functions/${seg(name)}`, undefined, { signal }) : Promise.resolve(undefined)),
    [wg, name, inline, inLibrary?.digest],
  );
  const [typed, setTyped] = useState(name);
  useEffect(() => setTyped(name), [name]);
  const badName = typed !== "" && !ID_RULE.test(typed);
  /** Calls function `to`; an inline source follows the name unless another node still calls it. */
  const rename = (to: string) => {
    if (to === name || !ID_RULE.test(to)) return;
    const functions = { ...spec.functions };
    if (inline && !(to in functions)) {
      functions[to] = functions[name];
      if (!spec.nodes.some((n) => n.id !== node.id && n.kind === "function" && n.function === name)) delete functions[name];
    }
    onSpec({ ...spec, functions, nodes: spec.nodes.map((n) => (n.id === node.id ? { ...n, function: to } : n)) });
  };
  const setInline = (on: boolean) => {
    if (!name) return;
    const functions = { ...spec.functions };
    if (on) functions[name] = source.data?.source ?? FUNCTION_TEMPLATE;
    else delete functions[name];
    onSpec({ ...spec, functions });
  };
  return (
    <Stack gap={6}>
      <Autocomplete
        label={t("wf.function")}
        description={t("wf.functionHelp")}
        required
        classNames={{ input: "sluice-mono" }}
        data={library.map((f) => f.name)}
        value={typed}
        error={badName ? t("wf.hint.badId") : error}
        onChange={setTyped}
        onOptionSubmit={(v) => rename(v)}
        onBlur={() => rename(typed)}
        onKeyDown={(e) => {
          if (e.key === "Enter") rename(typed);
        }}
      />
      <SegmentedControl
        aria-label={t("wf.functionSource")}
        size="xs"
        disabled={!name}
        value={inline ? "inline" : "library"}
        onChange={(v) => setInline(v === "inline")}
        data={[
          { value: "library", label: t("wf.fromLibrary") },
          { value: "inline", label: t("wf.inlineSource") },
        ]}
      />
      {inline ? (
        <Suspense fallback={<Loader size="sm" role="status" aria-label="loading" />}>
          <Text size="xs" c="dimmed">
            {t("wf.inlineHelp")}
          </Text>
          <CodeEditor
            key={name}
            language="python"
            label={t("wf.sourceOf", { name })}
            value={spec.functions[name] ?? ""}
            minHeight={200}
            onChange={(v) => onSpec({ ...spec, functions: { ...spec.functions, [name]: v } })}
          />
        </Suspense>
      ) : inLibrary ? (
        <Stack gap={4}>
          <Text size="xs" c="dimmed">
            {inLibrary.description || t("wf.libraryHelp")}
          </Text>
          {source.data ? <pre className="sluice-pre" aria-label={t("wf.sourceOf", { name })}>{source.data.source}</pre> : <Loader size="xs" aria-label="loading" />}
        </Stack>
      ) : name ? (
        <Text size="xs" style={{ color: HINT_COLOR }}>
          {t("wf.notInLibrary", { name })}
        </Text>
      ) : null}
    </Stack>
  );
}

function SwitchFields({ node, targets, update, problemField, problemMessage }: { node: WfNode; targets: { value: string; label: string }[]; update: (c: Partial<WfNode>) => void; problemField?: string; problemMessage?: string }) {
  const t = useT();
  const branches = switchBranches(node);
  const set = (next: typeof branches) => update({ branches: next });
  const move = (i: number, d: number) => {
    const next = [...branches];
    [next[i], next[i + d]] = [next[i + d], next[i]];
    set(next);
  };
  return (
    <Stack gap={6} data-testid="wf-branches">
      <Text size="sm" fw={600}>
        {t("wf.branches")}
      </Text>
      <Text size="xs" c="dimmed">
        {t("wf.conditionHelp")}
      </Text>
      {branches.map((b, i) => {
        const bad = problemField?.startsWith(`branches[${i}]`) ? problemMessage : undefined;
        return (
          <Stack key={i} gap={4} p={6} style={{ border: "1px solid var(--mantine-color-gray-3)", borderRadius: 4 }}>
            <Group gap={4} wrap="nowrap">
              <Text size="xs" fw={600} w={18}>
                {i + 1}
              </Text>
              <TextInput
                size="xs"
                classNames={{ input: "sluice-mono" }}
                style={{ flex: 1 }}
                aria-label={t("wf.conditionN", { n: i + 1 })}
                placeholder="$.user_id == 1"
                value={b.condition}
                error={bad ?? (!b.condition.trim() ? true : undefined)}
                onChange={(e) => set(branches.map((x, j) => (j === i ? { ...x, condition: e.currentTarget.value } : x)))}
              />
              <ActionIcon variant="subtle" aria-label={t("wf.moveUp", { n: i + 1 })} disabled={i === 0} onClick={() => move(i, -1)}>
                ↑
              </ActionIcon>
              <ActionIcon variant="subtle" aria-label={t("wf.moveDown", { n: i + 1 })} disabled={i === branches.length - 1} onClick={() => move(i, 1)}>
                ↓
              </ActionIcon>
              <ActionIcon variant="subtle" color="red" aria-label={t("wf.removeBranch", { n: i + 1 })} onClick={() => set(branches.filter((_, j) => j !== i))}>
                ✕
              </ActionIcon>
            </Group>
            <Select
              size="xs"
              aria-label={t("wf.branchTarget", { n: i + 1 })}
              placeholder={t("wf.chooseTarget")}
              data={targets}
              searchable
              value={b.next || null}
              onChange={(v) => set(branches.map((x, j) => (j === i ? { ...x, next: v ?? "" } : x)))}
            />
          </Stack>
        );
      })}
      <Group>
        <Button size="compact-xs" variant="light" onClick={() => set([...branches, { condition: "", next: "" }])}>
          {t("wf.addBranch")}
        </Button>
      </Group>
      <Select
        label={t("wf.default")}
        description={t("wf.defaultHelp")}
        data={targets}
        clearable
        searchable
        placeholder={t("wf.none")}
        value={node.default || null}
        onChange={(v) => update({ default: v ?? undefined })}
      />
    </Stack>
  );
}

function ParallelFields({ node, targets, update }: { node: WfNode; targets: { value: string; label: string }[]; update: (c: Partial<WfNode>) => void }) {
  const t = useT();
  const branches = parallelBranches(node);
  return (
    <Stack gap={6} data-testid="wf-branches">
      <Text size="sm" fw={600}>
        {t("wf.parallelBranches")}
      </Text>
      <Text size="xs" c="dimmed">
        {t("wf.parallelHelp")}
      </Text>
      {branches.map((b, i) => (
        <Group key={i} gap={4} wrap="nowrap">
          <Select size="xs" style={{ flex: 1 }} aria-label={t("wf.branchTarget", { n: i + 1 })} placeholder={t("wf.chooseTarget")} data={targets} searchable value={b || null} onChange={(v) => update({ branches: branches.map((x, j) => (j === i ? v ?? "" : x)) })} />
          <ActionIcon variant="subtle" color="red" aria-label={t("wf.removeBranch", { n: i + 1 })} onClick={() => update({ branches: branches.filter((_, j) => j !== i) })}>
            ✕
          </ActionIcon>
        </Group>
      ))}
      <Group>
        <Button size="compact-xs" variant="light" onClick={() => update({ branches: [...branches, ""] })}>
          {t("wf.addBranch")}
        </Button>
      </Group>
    </Stack>
  );
}
