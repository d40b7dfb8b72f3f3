// An API's basic information after it was created (the seeds' API 详情): name, path,
// method, folder, max QPS, security level, visibility, tags, owner and description; and
// "copy" to start a new API from this one.
import { useEffect, useState } from "react";
import { Button, Group, Modal, NumberInput, Paper, Select, Stack, TagsInput, Textarea, TextInput, Title } from "@mantine/core";
import { useNavigate } from "react-router";
import { api, seg, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { ErrorAlert } from "./ErrorAlert";
import { folderTree } from "../screens/Folders";
import { SECURITY_LEVELS, type ApiView, type Folder } from "../types";

export function ApiSettings({ wg, view, onSaved }: { wg: string; view: ApiView; onSaved: () => void }) {
  const t = useT();
  const navigate = useNavigate();
  const base = `/workgroups/${seg(wg)}/apis/${view.id}`;
  const folders = useLoad((signal) => api<Page<Folder>>("GET", `/workgroups/${seg(wg)}/folders?pageSize=500`, undefined, { signal }), [wg]);
  const initial = () => ({
    name: view.name,
    path: view.path,
    method: view.method,
    description: view.description,
    tags: view.tags,
    owner: view.owner,
    maxQps: (view.maxQps ?? "") as number | string,
    securityLevel: view.securityLevel as string,
    visibleRange: view.visibleRange,
    folderId: view.folderId ? String(view.folderId) : "",
  });
  const [form, setForm] = useState(initial);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => setForm(initial()), [view]);
  const save = useAction(async () => {
    const { folderId, maxQps, ...rest } = form;
    await api("PUT", base, { ...rest, maxQps: maxQps === "" ? null : Number(maxQps) });
    if (folderId !== (view.folderId ? String(view.folderId) : "")) await api("PUT", `${base}/folder`, { folderId: folderId ? Number(folderId) : null });
    return true;
  }, t("common.saved"));
  const [copying, setCopying] = useState(false);
  const [copy, setCopy] = useState({ name: `${view.name}_copy`.slice(0, 30), path: `${view.path}-copy` });
  // Cached answers of every version become unreachable, on every node (docs/cache.md).
  const purge = useAction(() => api("POST", `${base}/cache/purge`), t("api.purged"));
  const doCopy = useAction(() => api<ApiView>("POST", `${base}/copy`, copy), t("apis.created"));
  const fieldError = (key: string) => (save.error?.field === key ? save.error.message : undefined);
  return (
    <Paper withBorder p="md">
      <Group justify="space-between" mb="sm">
        <Title order={3} size="h4">
          {t("api.settings")}
        </Title>
        <Group gap="xs">
          <Button variant="light" loading={purge.pending} onClick={() => purge.act()}>
            {t("api.purge")}
          </Button>
          <Button variant="light" onClick={() => setCopying(true)}>
            {t("api.copy")}
          </Button>
        </Group>
      </Group>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          if (!form.name.trim() || !form.path.trim().startsWith("/")) return;
          if (await save.act()) onSaved();
        }}
      >
        <Stack>
          <ErrorAlert error={save.error} />
          <Group grow align="start">
            <TextInput label={t("apis.name")} required value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} error={fieldError("name") ?? (!form.name.trim() ? t("form.required") : undefined)} />
            <TextInput label={t("apis.path")} required classNames={{ input: "sluice-mono" }} value={form.path} onChange={(e) => setForm({ ...form, path: e.currentTarget.value })} error={fieldError("path") ?? (!form.path.trim().startsWith("/") ? t("apis.pathRule") : undefined)} />
            <Select label={t("apis.method")} data={["GET", "POST"]} value={form.method} allowDeselect={false} onChange={(v) => setForm({ ...form, method: v ?? "GET" })} />
          </Group>
          <Group grow align="start">
            <Select
              label={t("apis.folder")}
              value={form.folderId}
              onChange={(v) => setForm({ ...form, folderId: v ?? "" })}
              data={[{ value: "", label: t("folders.root") }, ...folderTree(folders.data?.items ?? []).map(({ folder, depth }) => ({ value: String(folder.id), label: `${"— ".repeat(depth - 1)}${folder.name}` }))]}
            />
            <NumberInput label={t("apis.maxQps")} min={1} value={form.maxQps} onChange={(v) => setForm({ ...form, maxQps: v })} error={fieldError("maxQps")} />
            <Select label={t("apis.securityLevel")} data={SECURITY_LEVELS.map((l) => ({ value: l, label: t(`level.${l}` as "level.L1") }))} value={form.securityLevel} allowDeselect={false} onChange={(v) => setForm({ ...form, securityLevel: v ?? "L1" })} />
            <Select label={t("apis.visibleRange")} data={[{ value: "private", label: t("apis.visible.workgroup") }, { value: "public", label: t("apis.visible.public") }]} value={form.visibleRange} allowDeselect={false} onChange={(v) => setForm({ ...form, visibleRange: v ?? "private" })} />
          </Group>
          <Group grow align="start">
            <TagsInput label={t("apis.tags")} value={form.tags} onChange={(tags) => setForm({ ...form, tags })} error={fieldError("tags")} />
            <TextInput label={t("api.owner")} value={form.owner} onChange={(e) => setForm({ ...form, owner: e.currentTarget.value })} error={fieldError("owner")} />
          </Group>
          <Textarea label={t("common.description")} value={form.description} onChange={(e) => setForm({ ...form, description: e.currentTarget.value })} />
          <Group justify="end">
            <Button type="submit" loading={save.pending}>
              {t("common.save")}
            </Button>
          </Group>
        </Stack>
      </form>
      <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={copying} onClose={() => setCopying(false)} title={t("api.copy")}>
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            const created = await doCopy.act();
            if (created) {
              setCopying(false);
              navigate(`/w/${seg(wg)}/apis/${created.id}`);
            }
          }}
        >
          <Stack>
            <ErrorAlert error={doCopy.error} />
            <TextInput label={t("apis.name")} required value={copy.name} onChange={(e) => setCopy({ ...copy, name: e.currentTarget.value })} />
            <TextInput label={t("apis.path")} required value={copy.path} onChange={(e) => setCopy({ ...copy, path: e.currentTarget.value })} />
            <Group justify="end">
              <Button type="submit" loading={doCopy.pending}>
                {t("api.copy")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </Paper>
  );
}
