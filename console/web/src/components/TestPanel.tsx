// The test panel: parameters as a form or JSON, a version, a clearance, dry run; then the
// result as a table or JSON, the request log (SQL and binds), status, time, size, the
// workflow's per-node trace, and "save as sample".
import { useMemo, useState } from "react";
import { Badge, Button, Checkbox, Group, Paper, SegmentedControl, Select, Stack, Table, Tabs, Text, TextInput, Textarea, Title } from "@mantine/core";
import { api, ApiError, seg } from "../api";
import { asApiError, useLoad } from "../hooks";
import { useT } from "../i18n";
import { ErrorAlert } from "./ErrorAlert";
import { SECURITY_LEVELS, type ApiView, type RequestParam } from "../types";

type Answer = Record<string, unknown> & { result?: unknown; sql?: string; binds?: unknown; trace?: unknown; statements?: unknown; timings?: Record<string, number>; sizeBytes?: number; rowCount?: number; dryRun?: boolean };

/** The rows of an answer, when it holds a list of records. */
export function rowsOf(result: unknown): Record<string, unknown>[] | null {
  const r = result as { rows?: unknown; data?: { rows?: unknown; list?: unknown } } | null;
  const candidates = [result, r?.rows, r?.data, r?.data?.rows, r?.data?.list];
  for (const c of candidates) if (Array.isArray(c) && c.every((r) => r && typeof r === "object" && !Array.isArray(r))) return c as Record<string, unknown>[];
  const single = (result as { data?: unknown })?.data;
  if (single && typeof single === "object" && !Array.isArray(single)) return [single as Record<string, unknown>];
  return null;
}

export function TestPanel({ wg, view }: { wg: string; view: ApiView }) {
  const t = useT();
  // A registered API's parameters are its `params` (its `requestParams` are always empty).
  const params: RequestParam[] = useMemo(() => ((view.draft.mode === "registered" ? (view.draft as { params?: RequestParam[] }).params : view.draft.requestParams) ?? []) as RequestParam[], [view.draft]);
  const versions = useLoad((signal) => api<{ number: number; label: string }[]>("GET", `/workgroups/${seg(wg)}/apis/${view.id}/versions`, undefined, { signal }), [wg, view.id]);
  const [inputMode, setInputMode] = useState("form");
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(params.map((p) => [p.name, p.example ?? ""])));
  const [json, setJson] = useState(() => JSON.stringify(Object.fromEntries(params.filter((p) => p.example).map((p) => [p.name, p.example])), null, 2));
  const [jsonError, setJsonError] = useState<string>();
  const [version, setVersion] = useState("draft");
  const [clearance, setClearance] = useState("");
  const [environment, setEnvironment] = useState("test");
  const [dryRun, setDryRun] = useState(false);
  const [saveAsSample, setSaveAsSample] = useState(false);
  const [running, setRunning] = useState(false);
  const [answer, setAnswer] = useState<Answer>();
  const [error, setError] = useState<ApiError>();
  const [elapsed, setElapsed] = useState<number>();
  const run = async () => {
    let input: Record<string, unknown>;
    if (inputMode === "json") {
      try {
        input = JSON.parse(json || "{}");
        setJsonError(undefined);
      } catch (e) {
        setJsonError((e as Error).message);
        return;
      }
    } else {
      input = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ""));
    }
    setRunning(true);
    setError(undefined);
    setAnswer(undefined);
    const started = performance.now();
    try {
      const body: Record<string, unknown> = { params: input, dryRun };
      if (version !== "draft") body.version = Number(version);
      if (clearance) body.clearance = clearance;
      if (view.draft.mode === "workflow") body.environment = environment;
      if (saveAsSample && !dryRun) body.saveAsSample = true;
      setAnswer(await api<Answer>("POST", `/workgroups/${seg(wg)}/apis/${view.id}/test`, body));
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setElapsed(Math.round(performance.now() - started));
      setRunning(false);
    }
  };
  const rows = answer && !answer.dryRun ? rowsOf(answer.result) : null;
  const size = answer?.sizeBytes ?? (answer ? JSON.stringify(answer.result ?? "").length : undefined);
  const { result, trace, ...log } = answer ?? {};
  return (
    <Stack gap="md">
      <Paper withBorder p="md">
        <Stack>
          <Group align="end">
            <Select label={t("test.version")} value={version} allowDeselect={false} onChange={(v) => setVersion(v ?? "draft")} data={[{ value: "draft", label: t("test.draft") }, ...(versions.data ?? []).map((v) => ({ value: String(v.number), label: `V${v.number}` }))]} />
            <Select label={t("test.clearance")} value={clearance} onChange={(v) => setClearance(v ?? "")} data={[{ value: "", label: t("test.clearanceAll") }, ...SECURITY_LEVELS]} />
            {view.draft.mode === "workflow" ? <Select label={t("test.environment")} value={environment} allowDeselect={false} onChange={(v) => setEnvironment(v ?? "test")} data={["test", "prod"]} /> : null}
            <SegmentedControl aria-label={t("test.input")} value={inputMode} onChange={setInputMode} data={[{ value: "form", label: t("test.form") }, { value: "json", label: "JSON" }]} />
          </Group>
          {inputMode === "form" ? (
            params.length === 0 ? (
              <Text size="sm" c="dimmed">
                {t("test.noParams")}
              </Text>
            ) : (
              <Group align="start">
                {params.map((p) => (
                  <TextInput
                    key={p.name}
                    w={220}
                    label={p.name}
                    description={`${p.type}${p.required ? ` · ${t("param.required")}` : ""}`}
                    placeholder={p.example ?? ""}
                    value={values[p.name] ?? ""}
                    onChange={(e) => {
                      const value = e.currentTarget.value;
                      setValues((v) => ({ ...v, [p.name]: value }));
                    }}
                  />
                ))}
              </Group>
            )
          ) : (
            <Textarea label={t("test.json")} autosize minRows={4} className="sluice-mono" value={json} onChange={(e) => setJson(e.currentTarget.value)} error={jsonError} />
          )}
          <Group>
            <Checkbox label={t("test.dryRun")} checked={dryRun} onChange={(e) => setDryRun(e.currentTarget.checked)} />
            <Checkbox label={t("test.saveAsSample")} checked={saveAsSample} disabled={dryRun} onChange={(e) => setSaveAsSample(e.currentTarget.checked)} />
            <Button onClick={run} loading={running}>
              {t("test.run")}
            </Button>
          </Group>
        </Stack>
      </Paper>
      {error || answer ? (
        <Paper withBorder p="md" data-testid="test-result">
          <Group mb="sm">
            <Title order={3} size="h4">
              {t("test.result")}
            </Title>
            <Badge color={error ? "red" : "green"} data-testid="test-status">
              {error ? `${error.status} ${error.code}` : answer?.dryRun ? t("test.dryRunDone") : "200 OK"}
            </Badge>
            {elapsed !== undefined ? <Badge color="gray">{t("test.time", { ms: elapsed })}</Badge> : null}
            {size !== undefined && !error ? <Badge color="gray">{t("test.size", { bytes: size })}</Badge> : null}
            {answer?.rowCount !== undefined ? <Badge color="gray">{t("test.rows", { n: answer.rowCount })}</Badge> : null}
            {answer?.savedAsSample ? <Badge color="indigo">{t("test.savedAsSample")}</Badge> : null}
          </Group>
          <ErrorAlert error={error} />
          {answer ? (
            <Tabs defaultValue={rows ? "table" : "json"}>
              <Tabs.List>
                {rows ? <Tabs.Tab value="table">{t("test.table")}</Tabs.Tab> : null}
                <Tabs.Tab value="json">JSON</Tabs.Tab>
                <Tabs.Tab value="log">{t("test.log")}</Tabs.Tab>
                {trace ? <Tabs.Tab value="trace">{t("test.trace")}</Tabs.Tab> : null}
              </Tabs.List>
              {rows ? (
                <Tabs.Panel value="table" pt="sm">
                  <ResultTable rows={rows} />
                </Tabs.Panel>
              ) : null}
              <Tabs.Panel value="json" pt="sm">
                <pre className="sluice-pre" data-testid="test-json">{JSON.stringify(answer.dryRun ? answer : result, null, 2)}</pre>
              </Tabs.Panel>
              <Tabs.Panel value="log" pt="sm">
                {typeof answer.sql === "string" ? <pre className="sluice-pre" data-testid="test-sql">{answer.sql}</pre> : null}
                <pre className="sluice-pre">{JSON.stringify(log, null, 2)}</pre>
              </Tabs.Panel>
              {trace ? (
                <Tabs.Panel value="trace" pt="sm">
                  <TraceTable trace={trace} />
                </Tabs.Panel>
              ) : null}
            </Tabs>
          ) : null}
        </Paper>
      ) : null}
    </Stack>
  );
}

function ResultTable({ rows }: { rows: Record<string, unknown>[] }) {
  const columns = Array.from(new Set(rows.flatMap((r) => Object.keys(r))));
  return (
    <Table.ScrollContainer minWidth={400}>
      <Table striped withTableBorder data-testid="test-table">
        <Table.Thead>
          <Table.Tr>
            {columns.map((c) => (
              <Table.Th key={c}>{c}</Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.slice(0, 200).map((r, i) => (
            <Table.Tr key={i}>
              {columns.map((c) => (
                <Table.Td key={c}>{typeof r[c] === "object" ? JSON.stringify(r[c]) : String(r[c] ?? "")}</Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function TraceTable({ trace }: { trace: unknown }) {
  const t = useT();
  const nodes = Array.isArray(trace) ? (trace as Record<string, unknown>[]) : Array.isArray((trace as { nodes?: unknown })?.nodes) ? ((trace as { nodes: Record<string, unknown>[] }).nodes) : null;
  if (!nodes) return <pre className="sluice-pre">{JSON.stringify(trace, null, 2)}</pre>;
  return (
    <Table withTableBorder data-testid="test-trace">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t("wf.node")}</Table.Th>
          <Table.Th>{t("test.status")}</Table.Th>
          <Table.Th>{t("test.ms")}</Table.Th>
          <Table.Th>{t("test.detail")}</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {nodes.map((n, i) => {
          const { node, id, status, outcome, elapsedUs, ...rest } = n as Record<string, unknown>;
          return (
            <Table.Tr key={i}>
              <Table.Td className="sluice-mono">{String(node ?? id ?? i)}</Table.Td>
              <Table.Td>{String(status ?? outcome ?? "")}</Table.Td>
              <Table.Td>{typeof elapsedUs === "number" ? (elapsedUs / 1000).toFixed(2) : ""}</Table.Td>
              <Table.Td className="sluice-mono">{JSON.stringify(rest)}</Table.Td>
            </Table.Tr>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}
