// A listed API as people read it: summary, documentation, parameters, its OpenAPI document,
// samples, and "apply" for one of the reader's apps.
import { useState } from "react";
import { Badge, Button, Group, NumberInput, Paper, Select, Stack, Table, Text, Textarea, Title, Loader } from "@mantine/core";
import { useParams } from "react-router";
import { api, seg, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { useSession } from "../session";
import { ErrorAlert } from "../components/ErrorAlert";
import { OpenApiView, type OpenApi } from "../components/ApiDocument";
import type { MarketEntry } from "./Marketplace";
import { when, type RequestParam, type ResponseField } from "../types";

/** The listing's entry fields come flattened beside the page's own. */
interface MarketPageView extends MarketEntry {
  clearance: string;
  version: number;
  requestParams: RequestParam[];
  responseFields: ResponseField[];
  document: OpenApi;
  myApplications: { id: number; state: string; createdAt: number; appId: number | null }[];
}

export default function MarketPage() {
  const t = useT();
  const { id = "" } = useParams();
  const { me, workgroups: all } = useSession();
  const page = useLoad((signal) => api<MarketPageView>("GET", `/marketplace/apis/${seg(id)}`, undefined, { signal }), [id]);
  // Apply for an app of a workgroup one develops in (any, for a platform admin).
  const workgroups = me?.user.platformAdmin ? all : (me?.workgroups ?? []).filter((m) => m.role !== "viewer").map((m) => m.workgroup);
  const [wg, setWg] = useState<string | null>(workgroups[0] ?? null);
  const apps = useLoad((signal) => (wg ? api<Page<{ id: number; name: string; clearance: string }>>("GET", `/workgroups/${seg(wg)}/apps?pageSize=200`, undefined, { signal }) : Promise.resolve(undefined)), [wg]);
  const [appId, setAppId] = useState<string | null>(null);
  const [reason, setReason] = useState("");
  const [qps, setQps] = useState<number | string>("");
  const [checked, setChecked] = useState(false);
  const apply = useAction(
    () => api("POST", `/workgroups/${seg(wg ?? "")}/applications`, { apiId: Number(id), appId: Number(appId), reason, ...(qps !== "" ? { qps: Number(qps) } : {}) }),
    t("market.applied"),
  );
  if (page.error) return <ErrorAlert error={page.error} />;
  if (!page.data) return <Loader role="status" aria-label="loading" />;
  const entry = page.data;
  return (
    <Stack>
      <div>
        <Title order={2}>{entry.name}</Title>
        <Group gap={4}>
          <Badge>{entry.securityLevel}</Badge>
          {entry.listing.tags.map((tag) => (
            <Badge key={tag} color="gray">
              {tag}
            </Badge>
          ))}
        </Group>
        <Text>{entry.listing.summary}</Text>
        <Text size="sm" c="dimmed">
          {t("market.by", { workgroup: entry.workgroup, owner: entry.owner || "—" })} · V{page.data.version} · {when(entry.listedAt)}
        </Text>
      </div>
      {entry.listing.documentation ? (
        <Paper withBorder p="md">
          <Title order={3} size="h4">
            {t("market.documentation")}
          </Title>
          <Text size="sm" style={{ whiteSpace: "pre-wrap" }}>
            {entry.listing.documentation}
          </Text>
        </Paper>
      ) : null}
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {t("market.apply")}
        </Title>
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            setChecked(true);
            if (!wg || !appId || !reason.trim()) return;
            if ((await apply.act()) !== undefined) page.reload();
          }}
        >
          <Stack>
            <ErrorAlert error={apply.error} />
            <Group align="start">
              <Select label={t("nav.workgroup")} data={workgroups} value={wg} onChange={(v) => { setWg(v); setAppId(null); }} />
              <Select label={t("grants.app")} required data={(apps.data?.items ?? []).map((a) => ({ value: String(a.id), label: `${a.name} (${a.clearance})` }))} value={appId} onChange={setAppId} error={checked && !appId ? t("form.required") : apply.error?.field === "appId" ? apply.error.message : undefined} />
              <NumberInput label={t("grants.qps")} min={1} value={qps} onChange={setQps} />
            </Group>
            <Textarea label={t("market.reason")} required value={reason} onChange={(e) => setReason(e.currentTarget.value)} error={checked && !reason.trim() ? t("form.required") : undefined} />
            <Group justify="end">
              <Button type="submit" loading={apply.pending}>
                {t("market.apply")}
              </Button>
            </Group>
          </Stack>
        </form>
        {page.data.myApplications.length > 0 ? (
          <Table mt="sm" data-testid="my-applications">
            <Table.Tbody>
              {page.data.myApplications.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td>#{a.id}</Table.Td>
                  <Table.Td>
                    <Badge color={a.state === "approved" ? "green" : a.state === "pending" ? "yellow" : "gray"}>{a.state}</Badge>
                  </Table.Td>
                  <Table.Td>{when(a.createdAt)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : null}
      </Paper>
      <Paper withBorder p="md">
        <OpenApiView doc={page.data.document} />
      </Paper>
      {entry.listing.successSample !== undefined && entry.listing.successSample !== null ? (
        <Paper withBorder p="md">
          <Title order={3} size="h4">
            {t("market.sample")}
          </Title>
          <pre className="sluice-pre">{JSON.stringify(entry.listing.successSample, null, 2)}</pre>
        </Paper>
      ) : null}
    </Stack>
  );
}
