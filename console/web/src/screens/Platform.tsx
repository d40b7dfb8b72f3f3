// Platform settings (platform admins): hosts the network policy lets datasources and
// upstreams reach although their range is refused (loopback, private…), directories of
// SQLite files, and APIs the edge leaves out and why.
import { useEffect, useState } from "react";
import { Button, Group, Paper, Stack, Table, TagsInput, Text, TextInput, Title, ActionIcon } from "@mantine/core";
import { api } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { ErrorAlert } from "../components/ErrorAlert";

interface DatasetRoot {
  path: string;
  workgroup?: string | null;
}

interface PlatformSettings {
  networkAllow: string[];
  datasetRoots: DatasetRoot[];
}

export default function Platform() {
  const t = useT();
  const loaded = useLoad((signal) => api<PlatformSettings>("GET", "/platform/settings", undefined, { signal }), []);
  const unserved = useLoad((signal) => api<Record<string, unknown>[]>("GET", "/platform/unserved", undefined, { signal }), []);
  const [form, setForm] = useState<PlatformSettings>({ networkAllow: [], datasetRoots: [] });
  useEffect(() => {
    if (loaded.data) setForm(loaded.data);
  }, [loaded.data]);
  const save = useAction(
    () => api<PlatformSettings>("PUT", "/platform/settings", { networkAllow: form.networkAllow, datasetRoots: form.datasetRoots.map((r) => ({ path: r.path.trim(), ...(r.workgroup?.trim() ? { workgroup: r.workgroup.trim() } : {}) })) }),
    t("common.saved"),
  );
  const field = save.error?.field;
  const setRoot = (i: number, change: Partial<DatasetRoot>) => setForm({ ...form, datasetRoots: form.datasetRoots.map((r, j) => (j === i ? { ...r, ...change } : r)) });
  return (
    <Stack>
      <Title order={2}>{t("platform.title")}</Title>
      <ErrorAlert error={loaded.error} />
      <Paper withBorder p="md">
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            if (form.datasetRoots.some((r) => !r.path.trim().startsWith("/"))) return;
            if (await save.act()) loaded.reload();
          }}
        >
          <Stack>
            <ErrorAlert error={save.error} />
            <TagsInput
              label={t("platform.networkAllow")}
              description={t("platform.networkAllowHelp")}
              value={form.networkAllow}
              onChange={(networkAllow) => setForm({ ...form, networkAllow })}
              error={field?.startsWith("networkAllow") ? save.error?.message : undefined}
            />
            <Title order={3} size="h4">
              {t("platform.datasetRoots")}
            </Title>
            <Text size="sm" c="dimmed">
              {t("platform.datasetRootsHelp")}
            </Text>
            {form.datasetRoots.map((r, i) => (
              <Group key={i} align="start">
                <TextInput
                  label={t("platform.rootPath")}
                  w={420}
                  classNames={{ input: "sluice-mono" }}
                  value={r.path}
                  onChange={(e) => setRoot(i, { path: e.currentTarget.value })}
                  error={!r.path.trim().startsWith("/") ? t("platform.absolute") : field === `datasetRoots[${i}].path` || field === `datasetRoots[${i}]` ? save.error?.message : undefined}
                />
                <TextInput label={t("platform.rootWorkgroup")} value={r.workgroup ?? ""} onChange={(e) => setRoot(i, { workgroup: e.currentTarget.value })} />
                <ActionIcon mt={28} variant="subtle" color="red" aria-label={`${t("common.remove")} ${i + 1}`} onClick={() => setForm({ ...form, datasetRoots: form.datasetRoots.filter((_, j) => j !== i) })}>
                  ✕
                </ActionIcon>
              </Group>
            ))}
            <Group justify="space-between">
              <Button variant="light" onClick={() => setForm({ ...form, datasetRoots: [...form.datasetRoots, { path: "/" }] })}>
                {t("platform.addRoot")}
              </Button>
              <Button type="submit" loading={save.pending}>
                {t("common.save")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {t("platform.unserved")}
        </Title>
        <ErrorAlert error={unserved.error} />
        {unserved.data && unserved.data.length === 0 ? <Text c="dimmed">{t("platform.allServed")}</Text> : null}
        {unserved.data && unserved.data.length > 0 ? (
          <Table withTableBorder data-testid="unserved">
            <Table.Tbody>
              {unserved.data.map((u, i) => (
                <Table.Tr key={i}>
                  <Table.Td className="sluice-mono">{JSON.stringify(u)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : null}
      </Paper>
    </Stack>
  );
}
