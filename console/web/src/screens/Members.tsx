// Members of the workgroup and their roles; workgroup admins add, change and remove them.
import { useState } from "react";
import { Button, Group, Select, Table, TextInput, Title } from "@mantine/core";
import { api, seg } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { useWorkgroup } from "../Shell";
import { ErrorAlert } from "../components/ErrorAlert";

interface Member {
  userId: number;
  userName: string;
  displayName: string;
  role: string;
  addedAt: number;
}

const ROLES = ["viewer", "developer", "admin"];

export default function Members() {
  const t = useT();
  const wg = useWorkgroup();
  const list = useLoad((signal) => api<Member[]>("GET", `/workgroups/${seg(wg)}/members`, undefined, { signal }), [wg]);
  const [user, setUser] = useState("");
  const [role, setRole] = useState("developer");
  const put = useAction((name: string, r: string) => api("PUT", `/workgroups/${seg(wg)}/members/${seg(name)}`, { role: r }), t("common.saved"));
  const remove = useAction((name: string) => api("DELETE", `/workgroups/${seg(wg)}/members/${seg(name)}`), t("common.deleted"));
  const members = Array.isArray(list.data) ? list.data : [];
  return (
    <>
      <Title order={2} mb="md">
        {t("members.title")}
      </Title>
      <ErrorAlert error={list.error} />
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          if (!user.trim()) return;
          if (await put.act(user.trim(), role)) {
            setUser("");
            list.reload();
          }
        }}
      >
        <Group align="end" mb="md">
          <TextInput label={t("members.user")} value={user} onChange={(e) => setUser(e.currentTarget.value)} error={put.error?.field === "user" ? put.error.message : undefined} />
          <Select label={t("members.role")} data={ROLES} value={role} allowDeselect={false} onChange={(v) => setRole(v ?? "developer")} />
          <Button type="submit" loading={put.pending}>
            {t("members.add")}
          </Button>
        </Group>
      </form>
      <Table striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("members.user")}</Table.Th>
            <Table.Th>{t("members.role")}</Table.Th>
            <Table.Th>{t("common.actions")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {members.map((m) => {
            const name = m.userName;
            return (
              <Table.Tr key={name}>
                <Table.Td>
                  {name}
                  {m.displayName ? ` (${m.displayName})` : ""}
                </Table.Td>
                <Table.Td>
                  <Select
                    aria-label={t("members.role")}
                    data={ROLES}
                    value={m.role}
                    allowDeselect={false}
                    onChange={async (v) => {
                      if (v && (await put.act(name, v))) list.reload();
                    }}
                  />
                </Table.Td>
                <Table.Td>
                  <Button size="xs" variant="subtle" color="red" onClick={async () => { if ((await remove.act(name)) !== undefined) list.reload(); }}>
                    {t("common.remove")}
                  </Button>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </>
  );
}
