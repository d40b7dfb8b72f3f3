// Workgroups: the ones the user is in (every one for a platform admin); admins create them.
import { useState } from "react";
import { Button, Group, Modal, Stack, Table, TextInput, Textarea, Title } from "@mantine/core";
import { Link } from "react-router";
import { api, seg, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { PAGE_SIZE, Pager, useAddressState } from "../components/Pager";
import { useSession } from "../session";
import { ErrorAlert } from "../components/ErrorAlert";
import { when } from "../types";

interface Workgroup {
  id: number;
  name: string;
  description: string;
  createdAt: number;
}

export default function Workgroups() {
  const t = useT();
  const { page, set } = useAddressState();
  const { me, refresh } = useSession();
  const list = useLoad((signal) => api<Page<Workgroup>>("GET", `/workgroups?pageNum=${page}&pageSize=${PAGE_SIZE}`, undefined, { signal }), [page]);
  const [adding, setAdding] = useState(false);
  const [form, setForm] = useState({ name: "", description: "" });
  const [checked, setChecked] = useState(false);
  const create = useAction(() => api<Workgroup>("POST", "/workgroups", { name: form.name.trim(), description: form.description }), t("wg.created"));
  const role = (name: string) => me?.workgroups.find((m) => m.workgroup === name)?.role ?? (me?.user.platformAdmin ? "platform admin" : "");
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>{t("wg.title")}</Title>
        {me?.user.platformAdmin ? <Button onClick={() => setAdding(true)}>{t("wg.new")}</Button> : null}
      </Group>
      <ErrorAlert error={list.error} />
      <Table striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("common.name")}</Table.Th>
            <Table.Th>{t("common.description")}</Table.Th>
            <Table.Th>{t("wg.role")}</Table.Th>
            <Table.Th>{t("common.created")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.data?.items.map((w) => (
            <Table.Tr key={w.id}>
              <Table.Td>
                <Link to={`/w/${seg(w.name)}/apis`}>{w.name}</Link>
              </Table.Td>
              <Table.Td>{w.description}</Table.Td>
              <Table.Td>{role(w.name)}</Table.Td>
              <Table.Td>{when(w.createdAt)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Group justify="end" mt="md">
        <Pager total={list.data?.total} page={page} onChange={(p) => set({ page: String(p) })} />
      </Group>
      <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={adding} onClose={() => setAdding(false)} title={t("wg.new")}>
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            setChecked(true);
            if (!/^[A-Za-z0-9_-]{1,64}$/.test(form.name.trim())) return;
            if (await create.act()) {
              setAdding(false);
              setForm({ name: "", description: "" });
              list.reload();
              // The new workgroup shows in the header once the session is read again.
              await refresh();
            }
          }}
        >
          <Stack>
            <ErrorAlert error={create.error} />
            <TextInput
              label={t("common.name")}
              description={t("wg.nameRule")}
              required
              value={form.name}
              onChange={(e) => setForm({ ...form, name: e.currentTarget.value })}
              error={checked && !/^[A-Za-z0-9_-]{1,64}$/.test(form.name.trim()) ? t("wg.nameRule") : undefined}
            />
            <Textarea label={t("common.description")} value={form.description} onChange={(e) => setForm({ ...form, description: e.currentTarget.value })} />
            <Group justify="end">
              <Button type="submit" loading={create.pending}>
                {t("common.create")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </>
  );
}
