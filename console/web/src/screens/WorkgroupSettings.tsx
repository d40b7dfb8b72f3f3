// A workgroup's settings (description; whether publishing to and taking offline from prod
// waits for a workgroup admin's approval) and its audit log, read newest first by cursor.
import { useEffect, useState } from "react";
import { Button, Code, Group, Paper, Stack, Switch, Table, Text, Textarea, Title } from "@mantine/core";
import { api, query, seg } from "../api";
import { asApiError, useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { useWorkgroup } from "../Shell";
import { useSession } from "../session";
import { ErrorAlert } from "../components/ErrorAlert";
import { when } from "../types";
import type { ApiError } from "../api";

interface Workgroup {
  name: string;
  description: string;
  settings: { publishApproval: boolean; offlineApproval: boolean };
}

interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  detail: unknown;
}

const AUDIT_PAGE = 50;

export default function WorkgroupSettings() {
  const t = useT();
  const wg = useWorkgroup();
  const { me } = useSession();
  // The audit log and the settings are the workgroup admins' (and platform admins').
  const admin = !!me?.user.platformAdmin || me?.workgroups.some((m) => m.workgroup === wg && m.role === "admin");
  const base = `/workgroups/${seg(wg)}`;
  const loaded = useLoad((signal) => api<Workgroup>("GET", base, undefined, { signal }), [base]);
  const [form, setForm] = useState({ description: "", publishApproval: false, offlineApproval: false });
  // Each save is a new audit entry: the log is read again after it.
  const [saved, setSaved] = useState(0);
  useEffect(() => {
    if (loaded.data) setForm({ description: loaded.data.description, ...loaded.data.settings });
  }, [loaded.data]);
  const save = useAction(
    () => api<Workgroup>("PATCH", base, { description: form.description, settings: { publishApproval: form.publishApproval, offlineApproval: form.offlineApproval } }),
    t("common.saved"),
  );
  return (
    <Stack>
      <Title order={2}>{t("wgs.title", { name: wg })}</Title>
      <ErrorAlert error={loaded.error} />
      <Paper withBorder p="md">
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            if (await save.act()) {
              loaded.reload();
              setSaved((n) => n + 1);
            }
          }}
        >
          <Stack>
            <ErrorAlert error={save.error} />
            <Textarea label={t("common.description")} value={form.description} onChange={(e) => setForm({ ...form, description: e.currentTarget.value })} error={save.error?.field === "description" ? save.error.message : undefined} />
            <Switch label={t("wgs.publishApproval")} checked={form.publishApproval} onChange={(e) => setForm({ ...form, publishApproval: e.currentTarget.checked })} />
            <Switch label={t("wgs.offlineApproval")} checked={form.offlineApproval} onChange={(e) => setForm({ ...form, offlineApproval: e.currentTarget.checked })} />
            <Group justify="end">
              <Button type="submit" loading={save.pending}>
                {t("common.save")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
      {admin ? <AuditLog base={base} refresh={saved} /> : null}
    </Stack>
  );
}

function AuditLog({ base, refresh }: { base: string; refresh: number }) {
  const t = useT();
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<number | null | undefined>(undefined);
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(false);
  const more = async (before?: number) => {
    setLoading(true);
    try {
      const page = await api<{ items: AuditEntry[]; nextBeforeId: number | null }>("GET", `${base}/audit${query({ limit: AUDIT_PAGE, beforeId: before })}`);
      setEntries((e) => (before ? [...e, ...page.items] : page.items));
      setNext(page.nextBeforeId);
      setError(undefined);
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void more();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [base, refresh]);
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t("wgs.audit")}
      </Title>
      <ErrorAlert error={error} />
      <Table striped withTableBorder data-testid="audit-log">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("reports.at")}</Table.Th>
            <Table.Th>{t("wgs.actor")}</Table.Th>
            <Table.Th>{t("wgs.action")}</Table.Th>
            <Table.Th>{t("wgs.target")}</Table.Th>
            <Table.Th>{t("test.detail")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {entries.map((e) => (
            <Table.Tr key={e.id}>
              <Table.Td>{when(e.at)}</Table.Td>
              <Table.Td>{e.actor}</Table.Td>
              <Table.Td className="sluice-mono">{e.action}</Table.Td>
              <Table.Td className="sluice-mono">{e.target}</Table.Td>
              <Table.Td>
                <Code>{JSON.stringify(e.detail)}</Code>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {entries.length === 0 && !loading ? <Text c="dimmed">{t("wgs.noAudit")}</Text> : null}
      {next ? (
        <Group justify="center" mt="sm">
          <Button variant="light" loading={loading} onClick={() => more(next)}>
            {t("wgs.older")}
          </Button>
        </Group>
      ) : null}
    </Paper>
  );
}
