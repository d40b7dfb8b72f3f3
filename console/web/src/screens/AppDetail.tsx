// One app: settings (clearance, IP allow list, enabled), secret rotation, tokens, and the
// APIs it may call.
import { useEffect, useState } from "react";
import { Button, Code, Group, Modal, NumberInput, Paper, Select, Stack, Switch, Table, TagsInput, Text, Title, Loader } from "@mantine/core";
import { Link, useParams } from "react-router";
import { api, seg, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { useWorkgroup } from "../Shell";
import { ErrorAlert } from "../components/ErrorAlert";
import { SecretShown, type App } from "./Apps";
import { TokenShownOnce, TokenTable } from "../components/Tokens";
import { SECURITY_LEVELS, when } from "../types";

interface AppToken {
  id: number;
  prefix: string;
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
}

interface AppGrant {
  expiresAt: number | null;
  qps: number | null;
  expired: boolean;
  api: { id: number; name: string; method: string; path: string; workgroup: string };
}

export default function AppDetail() {
  const t = useT();
  const wg = useWorkgroup();
  const { id = "" } = useParams();
  const base = `/workgroups/${seg(wg)}/apps/${seg(id)}`;
  const app = useLoad((signal) => api<App>("GET", base, undefined, { signal }), [base]);
  const tokens = useLoad((signal) => api<Page<AppToken>>("GET", `${base}/tokens?pageSize=100`, undefined, { signal }), [base]);
  const grants = useLoad((signal) => api<Page<AppGrant>>("GET", `${base}/grants?pageSize=200`, undefined, { signal }), [base]);
  const [settings, setSettings] = useState({ clearance: "L1", ipAllow: [] as string[], disabled: false });
  useEffect(() => {
    if (app.data) setSettings({ clearance: app.data.clearance, ipAllow: app.data.ipAllow, disabled: app.data.disabled });
  }, [app.data]);
  const save = useAction(() => api<App>("PUT", base, settings), t("common.saved"));
  const [overlap, setOverlap] = useState<number | string>(3600);
  const [rotated, setRotated] = useState<{ appKey: string; secret: string }>();
  const rotate = useAction(() => api<App & { secret: string }>("POST", `${base}/secret`, { overlapSecs: Number(overlap) }), t("apps.rotated"));
  const [ttl, setTtl] = useState<number | string>(7200);
  const [issued, setIssued] = useState<string>();
  const issue = useAction(() => api<AppToken & { token: string }>("POST", `${base}/tokens`, { ttlSecs: Number(ttl) }), t("apps.tokenIssued"));
  const revoke = useAction((tokenId: number) => api("DELETE", `${base}/tokens/${tokenId}`), t("apps.tokenRevoked"));
  if (app.error) return <ErrorAlert error={app.error} />;
  if (!app.data) return <Loader role="status" aria-label="loading" />;
  const field = save.error?.field;
  return (
    <Stack>
      <Group justify="space-between">
        <div>
          <Title order={2}>{app.data.name}</Title>
          <Text size="sm">
            {t("apps.key")}: <Code data-testid="app-key">{app.data.appKey}</Code>
          </Text>
        </div>
        <Button component="a" variant="light" href={`/admin/v1${base}/openapi.json`} target="_blank" rel="noopener">
          {t("apps.document")}
        </Button>
      </Group>
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {t("apps.settings")}
        </Title>
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            if (await save.act()) app.reload();
          }}
        >
          <Stack>
            <ErrorAlert error={save.error} />
            <Group align="end">
              <Select label={t("apps.clearance")} data={SECURITY_LEVELS} value={settings.clearance} allowDeselect={false} onChange={(v) => setSettings({ ...settings, clearance: v ?? "L1" })} />
              <Switch label={t("apps.disabled")} checked={settings.disabled} onChange={(e) => setSettings({ ...settings, disabled: e.currentTarget.checked })} mb={8} />
            </Group>
            <TagsInput label={t("apps.ipAllow")} description={t("apps.ipAllowHelp")} value={settings.ipAllow} onChange={(ipAllow) => setSettings({ ...settings, ipAllow })} error={field?.startsWith("ipAllow") ? save.error?.message : undefined} />
            <Group justify="end">
              <Button type="submit" loading={save.pending}>
                {t("common.save")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {t("apps.secret")}
        </Title>
        {app.data.previousSecretExpiresAt ? <Text size="sm">{t("apps.previousSecret", { when: when(app.data.previousSecretExpiresAt) })}</Text> : null}
        <Group align="end">
          <NumberInput label={t("apps.overlap")} min={0} max={2592000} value={overlap} onChange={setOverlap} />
          <Button
            color="orange"
            loading={rotate.pending}
            onClick={async () => {
              const r = await rotate.act();
              if (r) {
                setRotated({ appKey: r.appKey, secret: r.secret });
                app.reload();
              }
            }}
          >
            {t("apps.rotate")}
          </Button>
        </Group>
      </Paper>
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {t("apps.tokens")}
        </Title>
        <Group align="end" mb="sm">
          <NumberInput label={t("apps.ttl")} min={1} max={2592000} value={ttl} onChange={setTtl} />
          <Button
            loading={issue.pending}
            onClick={async () => {
              const r = await issue.act();
              if (r) {
                setIssued(r.token);
                tokens.reload();
              }
            }}
          >
            {t("apps.issueToken")}
          </Button>
        </Group>
        <TokenShownOnce text={issued} testId="app-token" />
        <ErrorAlert error={tokens.error} />
        <TokenTable
          tokens={tokens.data?.items ?? []}
          columns={[
            [t("common.created"), (tk) => when(tk.createdAt)],
            [t("apps.expires"), (tk) => when(tk.expiresAt)],
          ]}
          onRevoke={async (id) => {
            if ((await revoke.act(id)) !== undefined) tokens.reload();
          }}
        />
      </Paper>
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {t("apps.grants")}
        </Title>
        <ErrorAlert error={grants.error} />
        <Table withTableBorder data-testid="app-grants">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("apis.name")}</Table.Th>
              <Table.Th>{t("apis.path")}</Table.Th>
              <Table.Th>{t("nav.workgroup")}</Table.Th>
              <Table.Th>{t("grants.qps")}</Table.Th>
              <Table.Th>{t("grants.expires")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {grants.data?.items.map((g) => (
              <Table.Tr key={g.api.id}>
                <Table.Td>{g.api.workgroup === wg ? <Link to={`/w/${seg(wg)}/apis/${g.api.id}`}>{g.api.name}</Link> : g.api.name}</Table.Td>
                <Table.Td className="sluice-mono">
                  {g.api.method} {g.api.path}
                </Table.Td>
                <Table.Td>{g.api.workgroup}</Table.Td>
                <Table.Td>{g.qps ?? "—"}</Table.Td>
                <Table.Td>{g.expiresAt ? when(g.expiresAt) : t("grants.never")}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Paper>
      <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={!!rotated} onClose={() => setRotated(undefined)} title={t("apps.rotated")}>
        {rotated ? <SecretShown appKey={rotated.appKey} secret={rotated.secret} /> : null}
      </Modal>
    </Stack>
  );
}
