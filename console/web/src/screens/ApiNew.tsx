// New API: the seeds' basic information (name, path, folder, max QPS, security level,
// description, alarm template) and the mode's definition; saved as the draft.
import { useState } from "react";
import { Button, Group, NumberInput, Paper, SegmentedControl, Select, Stack, Switch, TagsInput, Textarea, TextInput, Title } from "@mantine/core";
import { useNavigate } from "react-router";
import { api, seg, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { useWorkgroup } from "../Shell";
import { ErrorAlert } from "../components/ErrorAlert";
import { DefinitionEditor } from "../components/DefinitionEditor";
import { folderTree } from "./Folders";
import { SECURITY_LEVELS, type ApiView, type Definition, type Folder } from "../types";

const NAME = /^[A-Za-z0-9_]{1,30}$/;

const EMPTY: Record<string, Definition> = {
  wizard: { mode: "wizard", table: "", requestParams: [], responseFields: [] },
  script: { mode: "script", sql: "", requestParams: [], responseFields: [] },
  native: { mode: "native", tables: [] },
  workflow: { mode: "workflow", start: "", nodes: [], requestParams: [] },
  // What the server answers for a registered draft, without its options: a new API's draft
  // is stored unchecked, the base URL is checked when it is tested or saved as a version.
  registered: { mode: "registered", baseUrl: "", path: "", method: "GET", params: [], constants: [], timeoutMs: 10000, responseFormat: "JSON" },
};

export default function ApiNew() {
  const t = useT();
  const wg = useWorkgroup();
  const navigate = useNavigate();
  const folders = useLoad((signal) => api<Page<Folder>>("GET", `/workgroups/${seg(wg)}/folders?pageSize=500`, undefined, { signal }), [wg]);
  const [info, setInfo] = useState({ name: "", path: "/", method: "GET", folderId: "", maxQps: "" as number | string, securityLevel: "L1", visibleRange: "private", description: "", tags: [] as string[], alarmTemplate: true });
  const [definition, setDefinition] = useState<Definition>(EMPTY.wizard);
  const [checked, setChecked] = useState(false);
  const create = useAction(
    () =>
      api<ApiView>("POST", `/workgroups/${seg(wg)}/apis`, {
        name: info.name.trim(),
        path: info.path.trim(),
        method: info.method,
        description: info.description,
        folderId: info.folderId ? Number(info.folderId) : null,
        maxQps: info.maxQps === "" ? null : Number(info.maxQps),
        securityLevel: info.securityLevel,
        visibleRange: info.visibleRange,
        tags: info.tags,
        alarmTemplate: info.alarmTemplate,
        draft: definition,
      }),
    t("apis.created"),
  );
  const problems = {
    name: !NAME.test(info.name.trim()) ? t("apis.nameRule") : undefined,
    path: !info.path.trim().startsWith("/") || info.path.trim().length < 2 ? t("apis.pathRule") : undefined,
  };
  const field = create.error?.field;
  const fieldError = (key: string) => (field === key ? create.error?.message : undefined);
  return (
    <form
      noValidate
      onSubmit={async (e) => {
        e.preventDefault();
        setChecked(true);
        if (problems.name || problems.path) return;
        const created = await create.act();
        if (created) navigate(`/w/${seg(wg)}/apis/${created.id}`);
      }}
    >
      <Title order={2} mb="md">
        {t("apis.new")}
      </Title>
      <ErrorAlert error={create.error} />
      <Paper withBorder p="md" mb="md">
        <Stack>
          <SegmentedControl
            aria-label={t("apis.mode")}
            value={definition.mode}
            onChange={(mode) => setDefinition(EMPTY[mode])}
            data={["wizard", "script", "native", "workflow", "registered"].map((m) => ({ value: m, label: t(`mode.${m}` as "mode.wizard") }))}
          />
          <Group grow align="start">
            <TextInput label={t("apis.name")} required description={t("apis.nameRule")} value={info.name} onChange={(e) => setInfo({ ...info, name: e.currentTarget.value })} error={(checked && problems.name) || fieldError("name")} />
            <TextInput label={t("apis.path")} required classNames={{ input: "sluice-mono" }} value={info.path} onChange={(e) => setInfo({ ...info, path: e.currentTarget.value })} error={(checked && problems.path) || fieldError("path")} />
            <Select label={t("apis.method")} data={["GET", "POST"]} value={info.method} allowDeselect={false} onChange={(v) => setInfo({ ...info, method: v ?? "GET" })} />
          </Group>
          <Group grow align="start">
            <Select
              label={t("apis.folder")}
              value={info.folderId}
              onChange={(v) => setInfo({ ...info, folderId: v ?? "" })}
              data={[{ value: "", label: t("folders.root") }, ...folderTree(folders.data?.items ?? []).map(({ folder, depth }) => ({ value: String(folder.id), label: `${"— ".repeat(depth - 1)}${folder.name}` }))]}
            />
            <NumberInput label={t("apis.maxQps")} min={1} value={info.maxQps} onChange={(v) => setInfo({ ...info, maxQps: v })} error={fieldError("maxQps")} />
            <Select label={t("apis.securityLevel")} data={SECURITY_LEVELS.map((l) => ({ value: l, label: t(`level.${l}` as "level.L1") }))} value={info.securityLevel} allowDeselect={false} onChange={(v) => setInfo({ ...info, securityLevel: v ?? "L1" })} />
          </Group>
          <Select
            label={t("apis.visibleRange")}
            description={t("apis.visibleRangeHelp")}
            data={[{ value: "private", label: t("apis.visible.workgroup") }, { value: "public", label: t("apis.visible.public") }]}
            value={info.visibleRange}
            allowDeselect={false}
            onChange={(v) => setInfo({ ...info, visibleRange: v ?? "private" })}
          />
          <TagsInput label={t("apis.tags")} value={info.tags} onChange={(tags) => setInfo({ ...info, tags })} error={fieldError("tags")} />
          <Textarea label={t("common.description")} value={info.description} onChange={(e) => setInfo({ ...info, description: e.currentTarget.value })} />
          <Switch label={t("apis.alarmTemplate")} checked={info.alarmTemplate} onChange={(e) => setInfo({ ...info, alarmTemplate: e.currentTarget.checked })} />
        </Stack>
      </Paper>
      <Paper withBorder p="md" mb="md">
        <DefinitionEditor wg={wg} definition={definition} onChange={setDefinition} />
      </Paper>
      <Group justify="end">
        <Button type="submit" loading={create.pending}>
          {t("common.save")}
        </Button>
      </Group>
    </form>
  );
}
