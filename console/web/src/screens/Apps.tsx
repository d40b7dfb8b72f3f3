// Apps of the workgroup: the callers' identities. Creating one shows its secret once.
import { useState } from "react";
import { Badge, Button, Code, Group, Modal, Select, Stack, Table, TagsInput, Text, Textarea, TextInput, Title, Alert } from "@mantine/core";
import { Link } from "react-router";
import { api, seg, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { PAGE_SIZE, Pager, useAddressState } from "../components/Pager";
import { useWorkgroup } from "../Shell";
import { ErrorAlert } from "../components/ErrorAlert";
import { SECURITY_LEVELS } from "../types";

export interface App {
  id: number;
  name: string;
  description: string;
  appKey: string;
  ipAllow: string[];
  clearance: string;
  disabled: boolean;
  previousSecretExpiresAt: number | null;
  createdAt?: number;
}

export default function Apps() {
  const t = useT();
  const wg = useWorkgroup();
  const { page, set } = useAddressState();
  const list = useLoad((signal) => api<Page<App>>("GET", `/workgroups/${seg(wg)}/apps?pageNum=${page}&pageSize=${PAGE_SIZE}`, undefined, { signal }), [wg, page]);
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<App & { secret: string }>();
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>{t("apps.title")}</Title>
        <Button onClick={() => setAdding(true)}>{t("apps.new")}</Button>
      </Group>
      <ErrorAlert error={list.error} />
      <Table striped data-testid="app-list">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("common.name")}</Table.Th>
            <Table.Th>{t("apps.key")}</Table.Th>
            <Table.Th>{t("apps.clearance")}</Table.Th>
            <Table.Th>{t("apps.ipAllow")}</Table.Th>
            <Table.Th>{t("apps.state")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.data?.items.map((a) => (
            <Table.Tr key={a.id}>
              <Table.Td>
                <Link to={`/w/${seg(wg)}/apps/${a.id}`}>{a.name}</Link>
              </Table.Td>
              <Table.Td className="sluice-mono">{a.appKey}</Table.Td>
              <Table.Td>{a.clearance}</Table.Td>
              <Table.Td className="sluice-mono">{a.ipAllow.join(", ") || t("apps.anyIp")}</Table.Td>
              <Table.Td>{a.disabled ? <Badge color="gray">{t("apps.disabled")}</Badge> : <Badge color="green">{t("apps.enabled")}</Badge>}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Group justify="end" mt="md">
        <Pager total={list.data?.total} page={page} onChange={(p) => set({ page: String(p) })} />
      </Group>
      <NewApp
        opened={adding}
        onClose={() => setAdding(false)}
        onCreated={(app) => {
          setAdding(false);
          setCreated(app);
          list.reload();
        }}
      />
      <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={!!created} onClose={() => setCreated(undefined)} title={t("apps.createdTitle")}>
        {created ? <SecretShown appKey={created.appKey} secret={created.secret} /> : null}
        <Group justify="end" mt="md">
          <Button component={Link} to={`/w/${seg(wg)}/apps/${created?.id ?? ""}`} onClick={() => setCreated(undefined)}>
            {t("apps.open")}
          </Button>
        </Group>
      </Modal>
    </>
  );
}

export function SecretShown({ appKey, secret }: { appKey: string; secret: string }) {
  const t = useT();
  return (
    <Stack gap="xs">
      <Alert color="yellow">{t("apps.secretOnce")}</Alert>
      <Text size="sm">{t("apps.key")}</Text>
      <Code block data-testid="app-key">
        {appKey}
      </Code>
      <Text size="sm">{t("apps.secret")}</Text>
      <Code block data-testid="app-secret">
        {secret}
      </Code>
    </Stack>
  );
}

function NewApp({ opened, onClose, onCreated }: { opened: boolean; onClose: () => void; onCreated: (a: App & { secret: string }) => void }) {
  const t = useT();
  const wg = useWorkgroup();
  const [form, setForm] = useState({ name: "", description: "", clearance: "L1", ipAllow: [] as string[] });
  const [checked, setChecked] = useState(false);
  const create = useAction(() => api<App & { secret: string }>("POST", `/workgroups/${seg(wg)}/apps`, { ...form, name: form.name.trim() }), t("apps.created"));
  const field = create.error?.field;
  return (
    <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={opened} onClose={onClose} title={t("apps.new")}>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          setChecked(true);
          if (!form.name.trim()) return;
          const app = await create.act();
          if (app) {
            setForm({ name: "", description: "", clearance: "L1", ipAllow: [] });
            setChecked(false);
            onCreated(app);
          }
        }}
      >
        <Stack>
          <ErrorAlert error={create.error} />
          <TextInput label={t("common.name")} required value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} error={(checked && !form.name.trim() && t("form.required")) || (field === "name" ? create.error?.message : undefined)} />
          <Select label={t("apps.clearance")} data={SECURITY_LEVELS} value={form.clearance} allowDeselect={false} onChange={(v) => setForm({ ...form, clearance: v ?? "L1" })} />
          <TagsInput label={t("apps.ipAllow")} description={t("apps.ipAllowHelp")} value={form.ipAllow} onChange={(ipAllow) => setForm({ ...form, ipAllow })} error={field?.startsWith("ipAllow") ? create.error?.message : undefined} />
          <Textarea label={t("common.description")} value={form.description} onChange={(e) => setForm({ ...form, description: e.currentTarget.value })} />
          <Group justify="end">
            <Button type="submit" loading={create.pending}>
              {t("common.create")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
