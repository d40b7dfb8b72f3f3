// Datasources of the workgroup: list, add, test the connection, delete.
import { useState } from "react";
import { Badge, Button, Group, Modal, NumberInput, PasswordInput, Select, Stack, Table, TextInput, Textarea, Title } from "@mantine/core";
import { api, seg, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { PAGE_SIZE, Pager, useAddressState } from "../components/Pager";
import { useWorkgroup } from "../Shell";
import { ErrorAlert } from "../components/ErrorAlert";
import { Confirm } from "../components/Confirm";
import type { Datasource } from "../types";

interface ConnectionTest {
  ok: boolean;
  code: string;
  message: string;
}

const KINDS = ["sqlite", "postgres", "mysql"];

export default function Datasources() {
  const t = useT();
  const wg = useWorkgroup();
  const { page, set } = useAddressState();
  const list = useLoad((signal) => api<Page<Datasource>>("GET", `/workgroups/${seg(wg)}/datasources?pageNum=${page}&pageSize=${PAGE_SIZE}`, undefined, { signal }), [wg, page]);
  const [adding, setAdding] = useState(false);
  const [tests, setTests] = useState<Record<number, ConnectionTest | "pending">>({});
  const [deleting, setDeleting] = useState<Datasource>();
  const remove = useAction((ds: Datasource) => api("DELETE", `/workgroups/${seg(wg)}/datasources/${ds.id}`), t("common.deleted"));
  const test = async (ds: Datasource) => {
    setTests((s) => ({ ...s, [ds.id]: "pending" }));
    try {
      const result = await api<ConnectionTest>("POST", `/workgroups/${seg(wg)}/datasources/${ds.id}/test`);
      setTests((s) => ({ ...s, [ds.id]: result }));
    } catch (e) {
      setTests((s) => ({ ...s, [ds.id]: { ok: false, code: "Error", message: (e as Error).message } }));
    }
  };
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>{t("ds.title")}</Title>
        <Button onClick={() => setAdding(true)}>{t("ds.new")}</Button>
      </Group>
      <ErrorAlert error={list.error} />
      <Table striped data-testid="datasource-list">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("common.name")}</Table.Th>
            <Table.Th>{t("ds.kind")}</Table.Th>
            <Table.Th>{t("ds.where")}</Table.Th>
            <Table.Th>{t("ds.connection")}</Table.Th>
            <Table.Th>{t("common.actions")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.data?.items.map((ds) => {
            const result = tests[ds.id];
            const c = ds.connection as { host?: string; port?: number; database?: string };
            return (
              <Table.Tr key={ds.id}>
                <Table.Td>{ds.name}</Table.Td>
                <Table.Td>{ds.kind}</Table.Td>
                <Table.Td className="sluice-mono">{c.host ? `${c.host}:${c.port ?? ""}/${c.database ?? ""}` : c.database}</Table.Td>
                <Table.Td>
                  {result === "pending" ? (
                    <Badge color="gray">{t("ds.testing")}</Badge>
                  ) : result ? (
                    <Badge color={result.ok ? "green" : "red"} title={result.message}>
                      {result.ok ? t("ds.connected") : `${result.code}: ${result.message}`}
                    </Badge>
                  ) : null}
                </Table.Td>
                <Table.Td>
                  <Group gap="xs">
                    <Button size="xs" variant="light" onClick={() => test(ds)} loading={result === "pending"}>
                      {t("ds.test")}
                    </Button>
                    <Button size="xs" variant="subtle" color="red" onClick={() => setDeleting(ds)}>
                      {t("common.delete")}
                    </Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
      <Group justify="end" mt="md">
        <Pager total={list.data?.total} page={page} onChange={(p) => set({ page: String(p) })} />
      </Group>
      <NewDatasource opened={adding} onClose={() => setAdding(false)} onCreated={() => { setAdding(false); list.reload(); }} />
      <Confirm
        opened={!!deleting}
        message={t("ds.confirmDelete", { name: deleting?.name ?? "" })}
        pending={remove.pending}
        onCancel={() => setDeleting(undefined)}
        onConfirm={async () => {
          if (deleting && (await remove.act(deleting)) !== undefined) list.reload();
          setDeleting(undefined);
        }}
      />
    </>
  );
}

function NewDatasource({ opened, onClose, onCreated }: { opened: boolean; onClose: () => void; onCreated: () => void }) {
  const t = useT();
  const wg = useWorkgroup();
  const empty = { name: "", kind: "sqlite", description: "", host: "127.0.0.1", port: 5432 as number | string, database: "", username: "", password: "" };
  const [form, setForm] = useState(empty);
  const [checked, setChecked] = useState(false);
  const create = useAction(async () => {
    const connection =
      form.kind === "sqlite"
        ? { database: form.database }
        : { host: form.host, port: Number(form.port), database: form.database, username: form.username, ...(form.password ? { password: form.password } : {}) };
    return api<Datasource>("POST", `/workgroups/${seg(wg)}/datasources`, { name: form.name.trim(), kind: form.kind, description: form.description, connection });
  }, t("ds.created"));
  const set = (k: keyof typeof form) => (v: string | number) => setForm((f) => ({ ...f, [k]: v }));
  const nameError = checked && !form.name.trim() ? t("form.required") : undefined;
  const dbError = checked && !form.database.trim() ? t("form.required") : undefined;
  const server = form.kind !== "sqlite";
  const field = create.error?.field;
  return (
    <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={opened} onClose={onClose} title={t("ds.new")} size="lg">
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          setChecked(true);
          if (!form.name.trim() || !form.database.trim()) return;
          if (await create.act()) {
            setForm(empty);
            setChecked(false);
            onCreated();
          }
        }}
      >
        <Stack>
          <ErrorAlert error={create.error} />
          <TextInput label={t("common.name")} required value={form.name} onChange={(e) => set("name")(e.currentTarget.value)} error={nameError ?? (field === "name" ? create.error?.message : undefined)} />
          <Select
            label={t("ds.kind")}
            data={KINDS}
            value={form.kind}
            allowDeselect={false}
            onChange={(v) => {
              const kind = v ?? "sqlite";
              setForm((f) => ({ ...f, kind, port: kind === "mysql" ? 3306 : 5432 }));
            }}
          />
          {server ? (
            <Group grow>
              <TextInput label={t("ds.host")} value={form.host} onChange={(e) => set("host")(e.currentTarget.value)} error={field?.startsWith("connection.host") ? create.error?.message : undefined} />
              <NumberInput label={t("ds.port")} value={form.port} min={1} max={65535} onChange={set("port")} />
            </Group>
          ) : null}
          <TextInput
            label={server ? t("ds.database") : t("ds.file")}
            required
            value={form.database}
            onChange={(e) => set("database")(e.currentTarget.value)}
            error={dbError ?? (field?.startsWith("connection") ? create.error?.message : undefined)}
          />
          {server ? (
            <Group grow>
              <TextInput label={t("ds.username")} value={form.username} onChange={(e) => set("username")(e.currentTarget.value)} autoComplete="off" />
              <PasswordInput label={t("ds.password")} value={form.password} onChange={(e) => set("password")(e.currentTarget.value)} autoComplete="new-password" />
            </Group>
          ) : null}
          <Textarea label={t("common.description")} value={form.description} onChange={(e) => set("description")(e.currentTarget.value)} />
          <Group justify="end">
            <Button variant="default" onClick={onClose}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" loading={create.pending}>
              {t("common.create")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
