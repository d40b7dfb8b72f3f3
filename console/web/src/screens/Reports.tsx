// Service reports of the workgroup: summary per API, the trend, call details (paged on the
// server, exported as CSV), alarm events and the workgroup's alarm template.
import { lazy, Suspense, useMemo, useState } from "react";
import { Badge, Button, Group, Loader, Paper, Select, Stack, Table, Tabs, Text, Title } from "@mantine/core";
import { api, download, query, seg, type Page } from "../api";
import { asApiError, notify, useLoad } from "../hooks";
import { useT } from "../i18n";
import { Pager, useAddressState } from "../components/Pager";
import { useWorkgroup } from "../Shell";
import { ErrorAlert } from "../components/ErrorAlert";
import { AlarmTemplate } from "../components/AlarmTemplate";
import { when } from "../types";
import type { TrendPoint } from "../components/TrendChart";

const TrendChart = lazy(() => import("../components/TrendChart"));

interface Totals {
  calls: number;
  succeeded: number;
  throttled: number;
  errors: number;
  successRate: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

interface Call {
  atMs: number;
  requestId: string;
  apiId: number | null;
  env: string;
  appId: number | null;
  client: string;
  status: number;
  code: string;
  latencyUs: number;
  rows: number | null;
  bytesOut: number;
}

interface AlarmEvent {
  id: number;
  apiName: string;
  kind: string;
  metric: string;
  env: string;
  value: number;
  threshold: number;
  at?: number;
  createdAt?: number;
  [k: string]: unknown;
}

const WINDOWS: Record<string, number> = { "1h": 3600_000, "6h": 6 * 3600_000, "24h": 86400_000, "7d": 7 * 86400_000 };
const PAGE_SIZE = 20;
const ms = (v: number | null | undefined) => (v === null || v === undefined ? "—" : `${v.toFixed(1)} ms`);

export default function Reports() {
  const t = useT();
  const wg = useWorkgroup();
  const { params, set, page } = useAddressState();
  const span = params.get("window") ?? "1h";
  const tab = params.get("tab") ?? "summary";
  // The window ends now when the screen opens or its span changes.
  const [to, from] = useMemo(() => {
    const now = Date.now();
    return [now, now - (WINDOWS[span] ?? WINDOWS["1h"])];
  }, [span]);
  const base = `/workgroups/${seg(wg)}/reports`;
  const summary = useLoad((signal) => api<(Totals & { key: string })[]>("GET", `${base}/summary${query({ from, to, groupBy: "api" })}`, undefined, { signal }), [base, from, to]);
  const trend = useLoad((signal) => api<(Totals & { atMs: number })[]>("GET", `${base}/trend${query({ from, to })}`, undefined, { signal }), [base, from, to]);
  const calls = useLoad((signal) => (tab === "calls" ? api<Page<Call>>("GET", `${base}/calls${query({ from, to, pageNum: page, pageSize: PAGE_SIZE })}`, undefined, { signal }) : Promise.resolve(undefined)), [base, from, to, page, tab]);
  const alarms = useLoad((signal) => (tab === "alarms" ? api<{ items: AlarmEvent[]; total: number }>("GET", `/workgroups/${seg(wg)}/alarm-events`, undefined, { signal }) : Promise.resolve(undefined)), [wg, tab]);
  const apis = useLoad((signal) => api<Page<{ id: number; name: string }>>("GET", `/workgroups/${seg(wg)}/apis?pageSize=200`, undefined, { signal }), [wg]);
  const apiName = new Map((apis.data?.items ?? []).map((a) => [String(a.id), a.name]));
  const [exporting, setExporting] = useState(false);
  const exportCsv = async () => {
    setExporting(true);
    try {
      const blob = await download(`${base}/calls${query({ from, to, format: "csv", pageSize: 1000 })}`);
      const url = URL.createObjectURL(blob);
      const link = document.createElement("a");
      link.href = url;
      link.download = `${wg}-calls.csv`;
      link.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      notify("red", asApiError(e).message);
    } finally {
      setExporting(false);
    }
  };
  const points: TrendPoint[] = (trend.data ?? []).map((p) => ({ atMs: p.atMs, calls: p.calls, errors: p.errors, throttled: p.throttled, p95Ms: p.p95Ms }));
  const labels = useMemo(() => ({ calls: t("reports.calls"), errors: t("reports.errors"), p95: "p95" }), [t]);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("reports.title")}</Title>
        <Select aria-label={t("reports.window")} value={span} allowDeselect={false} onChange={(v) => set({ window: v ?? "1h" })} data={Object.keys(WINDOWS).map((w) => ({ value: w, label: t(`reports.last.${w}` as "reports.last.1h") }))} />
      </Group>
      <Paper withBorder p="md">
        <Title order={3} size="h4">
          {t("reports.trend")}
        </Title>
        <ErrorAlert error={trend.error} />
        <Suspense fallback={<Loader role="status" aria-label="loading" />}>{trend.data ? <TrendChart points={points} labels={labels} /> : null}</Suspense>
      </Paper>
      <Tabs value={tab} onChange={(v) => set({ tab: v ?? "summary" })}>
        <Tabs.List>
          <Tabs.Tab value="summary">{t("reports.summary")}</Tabs.Tab>
          <Tabs.Tab value="calls">{t("reports.details")}</Tabs.Tab>
          <Tabs.Tab value="alarms">{t("reports.alarms")}</Tabs.Tab>
          <Tabs.Tab value="template">{t("reports.alarmTemplate")}</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="summary" pt="sm">
          <ErrorAlert error={summary.error} />
          <Table striped withTableBorder data-testid="report-summary">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("apis.name")}</Table.Th>
                <Table.Th>{t("reports.calls")}</Table.Th>
                <Table.Th>{t("reports.successRate")}</Table.Th>
                <Table.Th>{t("reports.errors")}</Table.Th>
                <Table.Th>{t("reports.throttled")}</Table.Th>
                <Table.Th>p50</Table.Th>
                <Table.Th>p95</Table.Th>
                <Table.Th>p99</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {summary.data?.map((r) => (
                <Table.Tr key={r.key}>
                  <Table.Td>{apiName.get(r.key) ?? r.key}</Table.Td>
                  <Table.Td>{r.calls}</Table.Td>
                  <Table.Td>{(r.successRate * 100).toFixed(1)}%</Table.Td>
                  <Table.Td>{r.errors}</Table.Td>
                  <Table.Td>{r.throttled}</Table.Td>
                  <Table.Td>{ms(r.p50Ms)}</Table.Td>
                  <Table.Td>{ms(r.p95Ms)}</Table.Td>
                  <Table.Td>{ms(r.p99Ms)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {summary.data?.length === 0 ? <Text c="dimmed">{t("reports.noCalls")}</Text> : null}
        </Tabs.Panel>
        <Tabs.Panel value="calls" pt="sm">
          <Group justify="end" mb="xs">
            <Button size="xs" variant="light" onClick={exportCsv} loading={exporting}>
              {t("reports.csv")}
            </Button>
          </Group>
          <ErrorAlert error={calls.error} />
          <Table striped withTableBorder data-testid="report-calls">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("reports.at")}</Table.Th>
                <Table.Th>{t("apis.name")}</Table.Th>
                <Table.Th>{t("test.environment")}</Table.Th>
                <Table.Th>{t("reports.client")}</Table.Th>
                <Table.Th>{t("test.status")}</Table.Th>
                <Table.Th>{t("reports.latency")}</Table.Th>
                <Table.Th>{t("reports.requestId")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {calls.data?.items.map((c) => (
                <Table.Tr key={c.requestId}>
                  <Table.Td>{when(c.atMs)}</Table.Td>
                  <Table.Td>{c.apiId ? apiName.get(String(c.apiId)) ?? c.apiId : "—"}</Table.Td>
                  <Table.Td>{c.env}</Table.Td>
                  <Table.Td className="sluice-mono">{c.client}</Table.Td>
                  <Table.Td>
                    <Badge color={c.status < 400 ? "green" : c.status < 500 ? "yellow" : "red"}>
                      {c.status} {c.code}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{(c.latencyUs / 1000).toFixed(1)} ms</Table.Td>
                  <Table.Td className="sluice-mono">{c.requestId}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <Group justify="end" mt="sm">
            <Pager total={calls.data?.total} page={page} onChange={(p) => set({ page: String(p) })} pageSize={PAGE_SIZE} />
          </Group>
        </Tabs.Panel>
        <Tabs.Panel value="alarms" pt="sm">
          <ErrorAlert error={alarms.error} />
          <Table striped withTableBorder data-testid="alarm-events">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("apis.name")}</Table.Th>
                <Table.Th>{t("reports.event")}</Table.Th>
                <Table.Th>{t("reports.metric")}</Table.Th>
                <Table.Th>{t("reports.value")}</Table.Th>
                <Table.Th>{t("reports.at")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {alarms.data?.items.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td>{a.apiName}</Table.Td>
                  <Table.Td>
                    <Badge color={a.kind === "fired" ? "red" : "green"}>{a.kind}</Badge>
                  </Table.Td>
                  <Table.Td>
                    {a.metric} ({a.env})
                  </Table.Td>
                  <Table.Td>
                    {a.value} / {a.threshold}
                  </Table.Td>
                  <Table.Td>{when((a.at as number) ?? (a.createdAt as number) ?? (a.atMs as number))}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {alarms.data?.items.length === 0 ? <Text c="dimmed">{t("reports.noAlarms")}</Text> : null}
        </Tabs.Panel>
        <Tabs.Panel value="template" pt="sm">
          {tab === "template" ? <AlarmTemplate wg={wg} /> : null}
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
