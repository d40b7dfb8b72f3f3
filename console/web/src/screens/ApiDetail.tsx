// One API: its definition (the draft), the test panel, versions (compare, publish, offline,
// gray), grants, alarm rules and its OpenAPI document. Each tab has its own address.
import { useEffect, useState } from "react";
import { Badge, Button, Group, Paper, Tabs, Text, Title, Loader, Center } from "@mantine/core";
import { Route, Routes, useLocation, useNavigate, useParams } from "react-router";
import { api, seg } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { useWorkgroup } from "../Shell";
import { ErrorAlert } from "../components/ErrorAlert";
import { DefinitionEditor } from "../components/DefinitionEditor";
import { TestPanel } from "../components/TestPanel";
import { Versions } from "../components/Versions";
import { Grants } from "../components/Grants";
import { AlarmRules } from "../components/AlarmRules";
import { ApiDocument } from "../components/ApiDocument";
import { Listing } from "../components/Listing";
import { ApiSettings } from "../components/ApiSettings";
import { WorkflowEditorLazy } from "../components/WorkflowEditorLazy";
import type { ApiView, Definition } from "../types";

const TABS = ["definition", "test", "versions", "grants", "alarms", "listing", "document", "settings"] as const;

export default function ApiDetail() {
  const t = useT();
  const wg = useWorkgroup();
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const location = useLocation();
  const base = `/w/${seg(wg)}/apis/${seg(id)}`;
  const tab = TABS.find((x) => location.pathname.startsWith(`${base}/${x}`)) ?? "definition";
  const loaded = useLoad((signal) => api<ApiView>("GET", `/workgroups/${seg(wg)}/apis/${seg(id)}`, undefined, { signal }), [wg, id]);
  if (loaded.error) return <ErrorAlert error={loaded.error} />;
  if (!loaded.data)
    return (
      <Center h={200}>
        <Loader role="status" aria-label="loading" />
      </Center>
    );
  const view = loaded.data;
  return (
    <>
      <Group justify="space-between" mb="xs">
        <div>
          <Title order={2}>{view.name}</Title>
          <Text className="sluice-mono" c="dimmed">
            {view.method} {view.path} · {t(`mode.${view.draft.mode}` as "mode.wizard")} · {view.securityLevel}
          </Text>
        </div>
        <Group gap={4}>
          {view.publications.map((p) => (
            <Badge key={p.environment} color={p.environment === "prod" ? "green" : "yellow"}>
              {p.environment} V{p.version}
            </Badge>
          ))}
        </Group>
      </Group>
      <Tabs value={tab} onChange={(v) => {
          // Choosing the tab one is on again adds no history entry (read from the window:
          // a second key press can come before this render sees the first one's move).
          const to = v === "definition" ? base : `${base}/${v}`;
          if (v && window.location.pathname !== `/console${to}`) navigate(to);
        }} keepMounted={false} mb="md">
        <Tabs.List>
          {TABS.map((x) => (
            <Tabs.Tab key={x} value={x}>
              {t(`api.tab.${x}` as "api.tab.test")}
            </Tabs.Tab>
          ))}
        </Tabs.List>
      </Tabs>
      <Routes>
        <Route index element={<DraftEditor wg={wg} view={view} onSaved={loaded.reload} />} />
        <Route path="definition" element={<DraftEditor wg={wg} view={view} onSaved={loaded.reload} />} />
        <Route path="test" element={<TestPanel wg={wg} view={view} />} />
        <Route path="versions" element={<Versions wg={wg} view={view} onChanged={loaded.reload} />} />
        <Route path="grants" element={<Grants wg={wg} view={view} />} />
        <Route path="alarms" element={<AlarmRules wg={wg} view={view} />} />
        <Route path="listing" element={<Listing wg={wg} view={view} />} />
        <Route path="settings" element={<ApiSettings wg={wg} view={view} onSaved={loaded.reload} />} />
        <Route path="document" element={<ApiDocument path={`/workgroups/${seg(wg)}/apis/${seg(id)}/openapi.json`} />} />
      </Routes>
    </>
  );
}

function DraftEditor({ wg, view, onSaved }: { wg: string; view: ApiView; onSaved: () => void }) {
  const t = useT();
  const [draft, setDraft] = useState<Definition>(view.draft);
  useEffect(() => setDraft(view.draft), [view.draft]);
  const save = useAction(() => api<ApiView>("PUT", `/workgroups/${seg(wg)}/apis/${view.id}`, { draft }), t("api.draftSaved"));
  const dirty = JSON.stringify(draft) !== JSON.stringify(view.draft);
  return (
    <form
      noValidate
      onSubmit={async (e) => {
        e.preventDefault();
        if (await save.act()) onSaved();
      }}
    >
      {/* The workflow editor shows the error on the node it concerns. */}
      {draft.mode === "workflow" ? null : <ErrorAlert error={save.error} />}
      <Paper withBorder p="md" mb="md">
        {draft.mode === "workflow" ? (
          <WorkflowEditorLazy wg={wg} definition={draft} onChange={setDraft} problem={save.error} />
        ) : (
          <DefinitionEditor wg={wg} definition={draft} onChange={setDraft} />
        )}
      </Paper>
      <Group justify="end">
        <Button type="submit" loading={save.pending} disabled={!dirty}>
          {t("api.saveDraft")}
        </Button>
      </Group>
    </form>
  );
}
