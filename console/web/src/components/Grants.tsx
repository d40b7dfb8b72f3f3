// Grants of an API: which apps may call it, until when, at what QPS; workgroup admins grant
// and revoke.
import { useState } from "react";
import { Badge, Button, Group, NumberInput, Paper, Select, Table, TextInput, Title } from "@mantine/core";
import { api, seg, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { ErrorAlert } from "./ErrorAlert";
import { when, type ApiView } from "../types";

interface ApiGrant {
  appId: number;
  expiresAt: number | null;
  qps: number | null;
  expired: boolean;
  app: { id: number; name: string; workgroup: string };
  createdAt?: number;
}

interface App {
  id: number;
  name: string;
  clearance: string;
}

export function Grants({ wg, view }: { wg: string; view: ApiView }) {
  const t = useT();
  const base = `/workgroups/${seg(wg)}/apis/${view.id}/grants`;
  const grants = useLoad((signal) => api<Page<ApiGrant>>("GET", `${base}?pageSize=200`, undefined, { signal }), [base]);
  const apps = useLoad((signal) => api<Page<App>>("GET", `/workgroups/${seg(wg)}/apps?pageSize=200`, undefined, { signal }), [wg]);
  const [appId, setAppId] = useState<string | null>(null);
  const [qps, setQps] = useState<number | string>("");
  const [expires, setExpires] = useState("");
  const grant = useAction(
    () => api<ApiGrant>("POST", base, { appId: Number(appId), ...(qps !== "" ? { qps: Number(qps) } : {}), ...(expires ? { expiresAt: new Date(expires).getTime() } : {}) }),
    t("grants.granted"),
  );
  const revoke = useAction((id: number) => api("DELETE", `${base}/${id}`), t("grants.revoked"));
  return (
    <>
      <Paper withBorder p="md" mb="md">
        <Title order={3} size="h4" mb="sm">
          {t("grants.new")}
        </Title>
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            if (!appId) return;
            if (await grant.act()) grants.reload();
          }}
        >
          <Group align="end">
            <Select label={t("grants.app")} required data={(apps.data?.items ?? []).map((a) => ({ value: String(a.id), label: `${a.name} (${a.clearance})` }))} value={appId} onChange={setAppId} error={grant.error?.field === "appId" ? grant.error.message : undefined} />
            <NumberInput label={t("grants.qps")} min={1} value={qps} onChange={setQps} />
            <TextInput label={t("grants.expires")} type="datetime-local" value={expires} onChange={(e) => setExpires(e.currentTarget.value)} />
            <Button type="submit" loading={grant.pending} disabled={!appId}>
              {t("grants.grant")}
            </Button>
          </Group>
        </form>
      </Paper>
      <ErrorAlert error={grants.error} />
      <Table striped withTableBorder data-testid="grant-list">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("grants.app")}</Table.Th>
            <Table.Th>{t("nav.workgroup")}</Table.Th>
            <Table.Th>{t("grants.qps")}</Table.Th>
            <Table.Th>{t("grants.expires")}</Table.Th>
            <Table.Th>{t("common.actions")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {grants.data?.items.map((g) => (
            <Table.Tr key={g.app.id}>
              <Table.Td>{g.app.name}</Table.Td>
              <Table.Td>{g.app.workgroup}</Table.Td>
              <Table.Td>{g.qps ?? "—"}</Table.Td>
              <Table.Td>
                {g.expiresAt ? when(g.expiresAt) : t("grants.never")}
                {g.expired ? <Badge color="red" ml={4}>{t("grants.expired")}</Badge> : null}
              </Table.Td>
              <Table.Td>
                <Button size="xs" variant="subtle" color="red" onClick={async () => { if ((await revoke.act(g.app.id)) !== undefined) grants.reload(); }}>
                  {t("grants.revoke")}
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </>
  );
}
