// Versions of an API: save the draft as a version, compare two side by side, publish to or
// take offline from test and prod (with reason and people to notify), gray strategies.
import { useState } from "react";
import { Badge, Button, Group, Modal, NumberInput, Paper, Select, Stack, Table, TagsInput, Text, Textarea, TextInput, Title } from "@mantine/core";
import { api, seg } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { ErrorAlert } from "./ErrorAlert";
import { when, type ApiView, type Definition } from "../types";

interface VersionView {
  apiId: number;
  number: number;
  label: string;
  description: string;
  createdAt: number;
  createdBy: string;
  publishedIn: string[];
  samples?: { success?: unknown; failure?: unknown };
  definition?: Definition;
}

interface Change {
  key: string;
  from: unknown;
  to: unknown;
}

interface DefinitionDiff {
  from: string;
  to: string;
  identical: boolean;
  definition: Change[];
  parameters: { added: unknown[]; removed: unknown[]; changed?: { name: string; changes: Change[] }[] };
  fields: { added: unknown[]; removed: unknown[]; changed?: { name: string; changes: Change[] }[] };
}

interface Gray {
  environment: string;
  version: number;
  percent: number;
  enabled: boolean;
}

type Publishing = { action: "publish" | "offline"; version?: number; environment: string };

export function Versions({ wg, view, onChanged }: { wg: string; view: ApiView; onChanged: () => void }) {
  const t = useT();
  const base = `/workgroups/${seg(wg)}/apis/${view.id}`;
  const list = useLoad((signal) => api<VersionView[]>("GET", `${base}/versions`, undefined, { signal }), [base]);
  const gray = useLoad((signal) => api<Gray[]>("GET", `${base}/gray`, undefined, { signal }), [base]);
  const [description, setDescription] = useState("");
  const save = useAction(() => api<VersionView>("POST", `${base}/versions`, { description }), t("versions.saved"));
  const [compare, setCompare] = useState<[string | null, string | null]>([null, null]);
  const [publishing, setPublishing] = useState<Publishing>();
  const [samplesOf, setSamplesOf] = useState<VersionView>();
  const versions = list.data ?? [];
  const options = versions.map((v) => ({ value: String(v.number), label: `V${v.number}` }));
  return (
    <Stack>
      <Paper withBorder p="md">
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            if (await save.act()) {
              setDescription("");
              list.reload();
            }
          }}
        >
          <Group align="end">
            <TextInput label={t("versions.description")} value={description} onChange={(e) => setDescription(e.currentTarget.value)} w={360} />
            <Button type="submit" loading={save.pending}>
              {t("versions.save")}
            </Button>
          </Group>
          <ErrorAlert error={save.error} />
        </form>
      </Paper>
      <ErrorAlert error={list.error} />
      <Table striped withTableBorder data-testid="version-list">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("versions.version")}</Table.Th>
            <Table.Th>{t("versions.description")}</Table.Th>
            <Table.Th>{t("versions.savedBy")}</Table.Th>
            <Table.Th>{t("versions.published")}</Table.Th>
            <Table.Th>{t("common.actions")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {versions.map((v) => (
            <Table.Tr key={v.number}>
              <Table.Td>V{v.number}</Table.Td>
              <Table.Td>{v.description}</Table.Td>
              <Table.Td>
                {v.createdBy} · {when(v.createdAt)}
              </Table.Td>
              <Table.Td>
                {v.publishedIn.map((env) => (
                  <Badge key={env} color={env === "prod" ? "green" : "yellow"} mr={4}>
                    {env}
                  </Badge>
                ))}
              </Table.Td>
              <Table.Td>
                <Group gap="xs">
                  {v.samples?.success !== undefined || v.samples?.failure !== undefined ? (
                    <Button size="xs" variant="subtle" onClick={() => setSamplesOf(v)}>
                      {t("versions.samples")}
                    </Button>
                  ) : null}
                  {["test", "prod"].map((env) =>
                    v.publishedIn.includes(env) ? null : (
                      <Button key={env} size="xs" variant="light" onClick={() => setPublishing({ action: "publish", version: v.number, environment: env })}>
                        {t(`versions.publishTo.${env}` as "versions.publishTo.test")} V{v.number}
                      </Button>
                    ),
                  )}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {view.publications.length > 0 ? (
        <Group>
          {view.publications.map((p) => (
            <Button key={p.environment} size="xs" color="red" variant="light" onClick={() => setPublishing({ action: "offline", environment: p.environment })}>
              {t(`versions.offlineFrom.${p.environment}` as "versions.offlineFrom.test")}
            </Button>
          ))}
        </Group>
      ) : null}
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {t("versions.compare")}
        </Title>
        <Group align="end" mb="sm">
          <Select label={t("versions.from")} data={options} value={compare[0]} onChange={(v) => setCompare([v, compare[1]])} />
          <Select label={t("versions.to")} data={options} value={compare[1]} onChange={(v) => setCompare([compare[0], v])} />
        </Group>
        {compare[0] && compare[1] ? <Compare base={base} from={compare[0]} to={compare[1]} /> : null}
      </Paper>
      <GrayStrategies base={base} gray={gray.data ?? []} options={options} onChanged={gray.reload} error={gray.error} />
      <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={!!samplesOf} onClose={() => setSamplesOf(undefined)} title={`${t("versions.samples")} V${samplesOf?.number ?? ""}`} size="lg">
        {samplesOf?.samples?.success !== undefined ? (
          <>
            <Text fw={600}>{t("versions.successSample")}</Text>
            <pre className="sluice-pre" data-testid="success-sample">{JSON.stringify(samplesOf.samples.success, null, 2)}</pre>
          </>
        ) : null}
        {samplesOf?.samples?.failure !== undefined ? (
          <>
            <Text fw={600}>{t("versions.failureSample")}</Text>
            <pre className="sluice-pre">{JSON.stringify(samplesOf.samples.failure, null, 2)}</pre>
          </>
        ) : null}
      </Modal>
      {publishing ? (
        <PublishDialog
          base={base}
          publishing={publishing}
          onClose={() => setPublishing(undefined)}
          onDone={() => {
            setPublishing(undefined);
            list.reload();
            onChanged();
          }}
        />
      ) : null}
    </Stack>
  );
}

function Compare({ base, from, to }: { base: string; from: string; to: string }) {
  const t = useT();
  const diff = useLoad((signal) => api<DefinitionDiff>("GET", `${base}/versions/${from}/diff/${to}`, undefined, { signal }), [base, from, to]);
  const left = useLoad((signal) => api<VersionView>("GET", `${base}/versions/${from}`, undefined, { signal }), [base, from]);
  const right = useLoad((signal) => api<VersionView>("GET", `${base}/versions/${to}`, undefined, { signal }), [base, to]);
  const d = diff.data;
  const changes: Change[] = d
    ? [
        ...d.definition,
        ...d.parameters.added.map((p) => ({ key: "requestParams +", from: null, to: p })),
        ...d.parameters.removed.map((p) => ({ key: "requestParams −", from: p, to: null })),
        ...(d.parameters.changed ?? []).flatMap((c) => c.changes.map((x) => ({ ...x, key: `requestParams.${c.name}.${x.key}` }))),
        ...d.fields.added.map((p) => ({ key: "responseFields +", from: null, to: p })),
        ...d.fields.removed.map((p) => ({ key: "responseFields −", from: p, to: null })),
        ...(d.fields.changed ?? []).flatMap((c) => c.changes.map((x) => ({ ...x, key: `responseFields.${c.name}.${x.key}` }))),
      ]
    : [];
  return (
    <>
      <ErrorAlert error={diff.error} />
      {d?.identical ? <Text>{t("versions.identical")}</Text> : null}
      {changes.length > 0 ? (
        <Table withTableBorder mb="sm" data-testid="version-diff">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("versions.key")}</Table.Th>
              <Table.Th>V{from}</Table.Th>
              <Table.Th>V{to}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {changes.map((c, i) => (
              <Table.Tr key={i}>
                <Table.Td className="sluice-mono">{c.key}</Table.Td>
                <Table.Td className="sluice-mono">{JSON.stringify(c.from)}</Table.Td>
                <Table.Td className="sluice-mono">{JSON.stringify(c.to)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : null}
      <Group grow align="start">
        <div>
          <Text fw={600}>V{from}</Text>
          <pre className="sluice-pre">{JSON.stringify(left.data?.definition, null, 2)}</pre>
        </div>
        <div>
          <Text fw={600}>V{to}</Text>
          <pre className="sluice-pre">{JSON.stringify(right.data?.definition, null, 2)}</pre>
        </div>
      </Group>
    </>
  );
}

function PublishDialog({ base, publishing, onClose, onDone }: { base: string; publishing: Publishing; onClose: () => void; onDone: () => void }) {
  const t = useT();
  const [reason, setReason] = useState("");
  const [notify, setNotify] = useState<string[]>([]);
  const act = useAction(async () => {
    const common = { environment: publishing.environment, ...(reason ? { reason } : {}), ...(notify.length ? { notify } : {}) };
    const answer = publishing.action === "publish" ? await api<Record<string, unknown>>("POST", `${base}/publish`, { version: publishing.version, ...common }) : await api<Record<string, unknown>>("POST", `${base}/offline`, common);
    return answer ?? {};
  });
  const [requested, setRequested] = useState(false);
  return (
    <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened onClose={onClose} title={publishing.action === "publish" ? t("versions.publishTitle", { version: publishing.version ?? "", env: publishing.environment }) : t("versions.offlineTitle", { env: publishing.environment })}>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          const answer = await act.act();
          if (!answer) return;
          // A request waiting for approval comes back as an approval (it has a kind and a state).
          if ("state" in answer && "kind" in answer) setRequested(true);
          else onDone();
        }}
      >
        <Stack>
          <ErrorAlert error={act.error} />
          {requested ? (
            <>
              <Text data-testid="publish-requested">{t("versions.requested")}</Text>
              <Button onClick={onDone}>{t("common.close")}</Button>
            </>
          ) : (
            <>
              <Textarea label={t("versions.reason")} value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
              <TagsInput label={t("versions.notify")} description={t("versions.notifyHelp")} value={notify} onChange={setNotify} />
              <Group justify="end">
                <Button variant="default" onClick={onClose}>
                  {t("common.cancel")}
                </Button>
                <Button type="submit" loading={act.pending} color={publishing.action === "offline" ? "red" : undefined}>
                  {publishing.action === "publish" ? t("versions.publish") : t("versions.offline")}
                </Button>
              </Group>
            </>
          )}
        </Stack>
      </form>
    </Modal>
  );
}

function GrayStrategies({ base, gray, options, onChanged, error }: { base: string; gray: Gray[]; options: { value: string; label: string }[]; onChanged: () => void; error: ReturnType<typeof useLoad>["error"] }) {
  const t = useT();
  const [env, setEnv] = useState("prod");
  const [version, setVersion] = useState<string | null>(null);
  const [percent, setPercent] = useState<number | string>(10);
  const put = useAction(() => api("PUT", `${base}/gray/${env}`, { version: Number(version), percent: Number(percent) }), t("common.saved"));
  const remove = useAction((e: string) => api("DELETE", `${base}/gray/${e}`), t("common.deleted"));
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t("gray.title")}
      </Title>
      <ErrorAlert error={error} />
      {gray.map((g) => (
        <Group key={g.environment} mb="xs">
          <Text>{t("gray.line", { env: g.environment, version: g.version, percent: g.percent })}</Text>
          {!g.enabled ? <Badge color="gray">{t("gray.disabled")}</Badge> : null}
          <Button size="xs" variant="subtle" color="red" onClick={async () => { if ((await remove.act(g.environment)) !== undefined) onChanged(); }}>
            {t("common.delete")}
          </Button>
        </Group>
      ))}
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          if (!version) return;
          if ((await put.act()) !== undefined) onChanged();
        }}
      >
        <Group align="end">
          <Select label={t("test.environment")} data={["test", "prod"]} value={env} allowDeselect={false} onChange={(v) => setEnv(v ?? "prod")} />
          <Select label={t("versions.version")} data={options} value={version} onChange={setVersion} />
          <NumberInput label={t("gray.percent")} min={1} max={99} value={percent} onChange={setPercent} />
          <Button type="submit" loading={put.pending} disabled={!version}>
            {t("gray.set")}
          </Button>
        </Group>
        <ErrorAlert error={put.error} />
      </form>
    </Paper>
  );
}
