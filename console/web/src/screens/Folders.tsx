// The workgroup's folder tree (three levels under the root): create, rename, move, delete.
// Deleting a folder lifts what it holds one level up, as the store does.
import { useState } from "react";
import { Button, Group, Modal, Paper, Select, Stack, Text, TextInput, Title } from "@mantine/core";
import { Link } from "react-router";
import { api, seg, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { useWorkgroup } from "../Shell";
import { ErrorAlert } from "../components/ErrorAlert";
import type { Folder } from "../types";

type Edit = { kind: "new"; parentId: number | null } | { kind: "rename"; folder: Folder } | { kind: "move"; folder: Folder };

/** Folders in tree order with their depth (1 to 3). */
export function folderTree(folders: Folder[]): { folder: Folder; depth: number }[] {
  const children = new Map<number | null, Folder[]>();
  for (const f of folders) children.set(f.parentId ?? null, [...(children.get(f.parentId ?? null) ?? []), f]);
  const out: { folder: Folder; depth: number }[] = [];
  const walk = (parent: number | null, depth: number) => {
    for (const f of (children.get(parent) ?? []).sort((a, b) => a.name.localeCompare(b.name))) {
      out.push({ folder: f, depth });
      walk(f.id, depth + 1);
    }
  };
  walk(null, 1);
  return out;
}

export default function Folders() {
  const t = useT();
  const wg = useWorkgroup();
  const list = useLoad((signal) => api<Page<Folder>>("GET", `/workgroups/${seg(wg)}/folders?pageSize=500`, undefined, { signal }), [wg]);
  const [edit, setEdit] = useState<Edit>();
  const [name, setName] = useState("");
  const [parent, setParent] = useState<string>("");
  const base = `/workgroups/${seg(wg)}/folders`;
  const save = useAction(async (e: Edit) => {
    if (e.kind === "new") return api("POST", base, { name: name.trim(), parentId: e.parentId });
    if (e.kind === "rename") return api("PATCH", `${base}/${e.folder.id}`, { name: name.trim() });
    return api("PATCH", `${base}/${e.folder.id}`, { parentId: parent ? Number(parent) : null });
  }, t("common.saved"));
  const remove = useAction((f: Folder) => api("DELETE", `${base}/${f.id}`), t("common.deleted"));
  const tree = folderTree(list.data?.items ?? []);
  const open = (e: Edit) => {
    save.clearError();
    setEdit(e);
    setName(e.kind === "rename" ? e.folder.name : "");
    setParent(e.kind === "move" && e.folder.parentId ? String(e.folder.parentId) : "");
  };
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>{t("folders.title")}</Title>
        <Button onClick={() => open({ kind: "new", parentId: null })}>{t("folders.new")}</Button>
      </Group>
      <ErrorAlert error={list.error} />
      <Paper withBorder p="sm">
        {tree.length === 0 ? <Text c="dimmed">{t("folders.none")}</Text> : null}
        <ul aria-label={t("folders.title")} style={{ listStyle: "none", margin: 0, padding: 0 }}>
          {tree.map(({ folder, depth }) => (
            <li key={folder.id} style={{ paddingLeft: (depth - 1) * 24 }}>
              <Group gap="xs" py={4}>
                <Link to={`/w/${seg(wg)}/apis?folderId=${folder.id}`}>{folder.name}</Link>
                {depth < 3 ? (
                  <Button size="compact-xs" variant="subtle" onClick={() => open({ kind: "new", parentId: folder.id })}>
                    {t("folders.newChild")}
                  </Button>
                ) : null}
                <Button size="compact-xs" variant="subtle" onClick={() => open({ kind: "rename", folder })}>
                  {t("folders.rename")}
                </Button>
                <Button size="compact-xs" variant="subtle" onClick={() => open({ kind: "move", folder })}>
                  {t("folders.move")}
                </Button>
                <Button size="compact-xs" variant="subtle" color="red" onClick={async () => { if ((await remove.act(folder)) !== undefined) list.reload(); }}>
                  {t("common.delete")}
                </Button>
              </Group>
            </li>
          ))}
        </ul>
      </Paper>
      <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={!!edit} onClose={() => setEdit(undefined)} title={edit ? t(`folders.${edit.kind}Title` as "folders.newTitle") : ""}>
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            if (!edit || (edit.kind !== "move" && !name.trim())) return;
            if ((await save.act(edit)) !== undefined) {
              setEdit(undefined);
              list.reload();
            }
          }}
        >
          <Stack>
            <ErrorAlert error={save.error} />
            {edit?.kind === "move" ? (
              <Select
                label={t("folders.parent")}
                value={parent}
                onChange={(v) => setParent(v ?? "")}
                data={[
                  { value: "", label: t("folders.root") },
                  ...tree.filter(({ folder, depth }) => depth < 3 && folder.id !== edit.folder.id).map(({ folder, depth }) => ({ value: String(folder.id), label: `${"— ".repeat(depth - 1)}${folder.name}` })),
                ]}
              />
            ) : (
              <TextInput label={t("common.name")} required value={name} onChange={(e) => setName(e.currentTarget.value)} data-autofocus />
            )}
            <Group justify="end">
              <Button type="submit" loading={save.pending}>
                {t("common.save")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </>
  );
}
