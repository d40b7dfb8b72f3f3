// Platform administrators' screen: the users and their tokens. A new token is shown once;
// it is what its owner signs in to the console and calls the management API with.
import { useState } from "react";
import { Badge, Button, Checkbox, Group, Modal, Paper, Stack, Table, TextInput, Title } from "@mantine/core";
import { api, seg, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { PAGE_SIZE, Pager, useAddressState } from "../components/Pager";
import { ErrorAlert } from "../components/ErrorAlert";
import { TokenShownOnce, TokenTable } from "../components/Tokens";
import { when } from "../types";

interface User {
  id: number;
  name: string;
  displayName: string;
  platformAdmin: boolean;
  disabled: boolean;
}

interface UserToken {
  id: number;
  name: string;
  prefix: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revoked: boolean;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export default function Users() {
  const t = useT();
  const { page, set } = useAddressState();
  const users = useLoad((signal) => api<Page<User>>("GET", `/users?pageNum=${page}&pageSize=${PAGE_SIZE}`, undefined, { signal }), [page]);
  const [form, setForm] = useState({ name: "", displayName: "", platformAdmin: false });
  const [checked, setChecked] = useState(false);
  const [open, setOpen] = useState<User>();
  const create = useAction(() => api<User>("POST", "/users", { ...form, name: form.name.trim() }), t("users.created"));
  return (
    <Stack>
      <Title order={2}>{t("users.title")}</Title>
      <Paper withBorder p="md">
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            setChecked(true);
            if (!NAME.test(form.name.trim())) return;
            if (await create.act()) {
              setForm({ name: "", displayName: "", platformAdmin: false });
              setChecked(false);
              users.reload();
            }
          }}
        >
          <ErrorAlert error={create.error} />
          <Group align="end">
            <TextInput label={t("members.user")} required value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} error={(checked && !NAME.test(form.name.trim()) && t("users.nameRule")) || (create.error?.field === "name" ? create.error.message : undefined)} />
            <TextInput label={t("users.displayName")} value={form.displayName} onChange={(e) => setForm({ ...form, displayName: e.currentTarget.value })} />
            <Checkbox label={t("users.platformAdmin")} checked={form.platformAdmin} onChange={(e) => setForm({ ...form, platformAdmin: e.currentTarget.checked })} mb={8} />
            <Button type="submit" loading={create.pending}>
              {t("users.new")}
            </Button>
          </Group>
        </form>
      </Paper>
      <ErrorAlert error={users.error} />
      <Table striped data-testid="user-list">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("members.user")}</Table.Th>
            <Table.Th>{t("users.displayName")}</Table.Th>
            <Table.Th>{t("users.role")}</Table.Th>
            <Table.Th>{t("common.actions")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {users.data?.items.map((u) => (
            <Table.Tr key={u.id}>
              <Table.Td>{u.name}</Table.Td>
              <Table.Td>{u.displayName}</Table.Td>
              <Table.Td>
                {u.platformAdmin ? <Badge>{t("users.platformAdmin")}</Badge> : null}
                {u.disabled ? <Badge color="gray">{t("apps.disabled")}</Badge> : null}
              </Table.Td>
              <Table.Td>
                <Button size="xs" variant="light" onClick={() => setOpen(u)}>
                  {t("users.tokens")}
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Group justify="end" mt="md">
        <Pager total={users.data?.total} page={page} onChange={(p) => set({ page: String(p) })} />
      </Group>
      {open ? <Tokens user={open} onClose={() => setOpen(undefined)} /> : null}
    </Stack>
  );
}

function Tokens({ user, onClose }: { user: User; onClose: () => void }) {
  const t = useT();
  const base = `/users/${seg(user.name)}/tokens`;
  const tokens = useLoad((signal) => api<UserToken[]>("GET", base, undefined, { signal }), [base]);
  const [name, setName] = useState("console");
  const [issued, setIssued] = useState<string>();
  const issue = useAction(() => api<{ token: string }>("POST", base, { name: name.trim() }), t("apps.tokenIssued"));
  const revoke = useAction((id: number) => api("DELETE", `/tokens/${id}`), t("apps.tokenRevoked"));
  return (
    <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened onClose={onClose} size="lg" title={t("users.tokensOf", { name: user.name })}>
      <Stack>
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            if (!name.trim()) return;
            const r = await issue.act();
            if (r) {
              setIssued(r.token);
              tokens.reload();
            }
          }}
        >
          <ErrorAlert error={issue.error} />
          <Group align="end">
            <TextInput label={t("users.tokenName")} required value={name} onChange={(e) => setName(e.currentTarget.value)} />
            <Button type="submit" loading={issue.pending}>
              {t("apps.issueToken")}
            </Button>
          </Group>
        </form>
        <TokenShownOnce text={issued} testId="user-token" />
        <ErrorAlert error={tokens.error} />
        <TokenTable
          tokens={Array.isArray(tokens.data) ? tokens.data : []}
          columns={[
            [t("users.tokenName"), (tk) => tk.name],
            [t("users.lastUsed"), (tk) => (tk.lastUsedAt ? when(tk.lastUsedAt) : "—")],
          ]}
          onRevoke={async (id) => {
            if ((await revoke.act(id)) !== undefined) tokens.reload();
          }}
        />
      </Stack>
    </Modal>
  );
}
