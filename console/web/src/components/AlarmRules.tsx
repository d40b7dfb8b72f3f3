// Alarm rules of an API (the seeds' 报警配置 in API 详情): what each rule watches, above what,
// over which window, in which environment and who is told; add one (checked before it is
// sent), switch one on or off, edit it, delete it (asked first). docs/alarms.md.
import { useState } from "react";
import { Badge, Button, Group, Modal, Paper, Stack, Switch, Table, TagsInput, Text, Title } from "@mantine/core";
import { api, seg } from "../api";
import { notify, useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { Confirm } from "./Confirm";
import { ErrorAlert } from "./ErrorAlert";
import {
  apiFieldErrors,
  BELOW,
  checkDraft,
  duration,
  hasErrors,
  newDraft,
  RuleFields,
  showThreshold,
  toDraft,
  toSpec,
  type AlarmRule,
  type FieldErrors,
  type RuleDraft,
} from "./AlarmRuleFields";
import type { ApiView } from "../types";

interface Member {
  userName: string;
  displayName?: string;
}

const STATE_COLOR = { ok: "green", pending: "yellow", firing: "red" } as const;

/** The workgroup's members' names (and the API's owner): what receivers may name. */
function useReceiverNames(wg: string, owner: string) {
  const members = useLoad((signal) => api<Member[]>("GET", `/workgroups/${seg(wg)}/members`, undefined, { signal }).catch(() => [] as Member[]), [wg]);
  const names = new Set((Array.isArray(members.data) ? members.data : []).map((m) => m.userName));
  if (owner) names.add(owner);
  return [...names].sort();
}

export function AlarmRules({ wg, view }: { wg: string; view: ApiView }) {
  const t = useT();
  const base = `/workgroups/${seg(wg)}/apis/${view.id}/alarms`;
  const rules = useLoad((signal) => api<AlarmRule[]>("GET", base, undefined, { signal }), [base]);
  const names = useReceiverNames(wg, view.owner);
  const [draft, setDraft] = useState<RuleDraft>(newDraft);
  const [receivers, setReceivers] = useState<string[]>([]);
  const [enabled, setEnabled] = useState(true);
  // The checks show once the form was sent, then follow every change.
  const [tried, setTried] = useState(false);
  const create = useAction((body: object) => api<AlarmRule>("POST", base, body), t("alarm.created"));
  const toggle = useAction((rule: AlarmRule, on: boolean) => api<AlarmRule>("PATCH", `${base}/${rule.id}`, { enabled: on }));
  const remove = useAction((rule: AlarmRule) => api("DELETE", `${base}/${rule.id}`), t("alarm.deleted"));
  const [editing, setEditing] = useState<AlarmRule | null>(null);
  const [deleting, setDeleting] = useState<AlarmRule | null>(null);

  const fromApi = apiFieldErrors(create.error);
  const errors: FieldErrors = { ...fromApi, ...(tried ? checkDraft(draft, t) : {}) };
  const change = (d: RuleDraft) => {
    setDraft(d);
    if (create.error) create.clearError();
  };
  const list = rules.data ?? [];
  const metricName = (r: AlarmRule) => t(`alarm.metric.${r.metric}` as "alarm.metric.errorRate");
  const envName = (r: AlarmRule) => t(`alarm.env.${r.env}` as "alarm.env.prod");

  return (
    <Stack>
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb={4}>
          {t("alarm.new")}
        </Title>
        <Text size="sm" c="dimmed" mb="sm">
          {t("alarm.rules.help")}
        </Text>
        <form
          noValidate
          aria-label={t("alarm.new")}
          onSubmit={async (e) => {
            e.preventDefault();
            setTried(true);
            if (hasErrors(checkDraft(draft, t))) return;
            // No receivers named: the API's owner (the server's default).
            const body = { ...toSpec(draft), ...(receivers.length ? { receivers } : {}), enabled };
            if (await create.act(body)) {
              setDraft(newDraft());
              setReceivers([]);
              setEnabled(true);
              setTried(false);
              rules.reload();
            }
          }}
        >
          <Stack gap="sm">
            {create.error && !Object.keys(fromApi).length ? <ErrorAlert error={create.error} /> : null}
            <RuleFields draft={draft} onChange={change} errors={errors} testId="alarm-new-fields" />
            <Group align="start" gap="sm">
              <TagsInput
                label={t("alarm.receivers")}
                w={360}
                data={names}
                value={receivers}
                onChange={(v) => {
                  setReceivers(v);
                  if (create.error) create.clearError();
                }}
                maxTags={20}
                description={view.owner ? t("alarm.receiversHelp.owner", { owner: view.owner }) : t("alarm.receiversHelp.noOwner")}
                inputWrapperOrder={BELOW}
                error={errors.receivers}
              />
              <Switch label={t("alarm.enabled")} checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} mt={30} />
              <Button type="submit" loading={create.pending} mt={24}>
                {t("alarm.add")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>

      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {t("alarm.rules.title")}
        </Title>
        <ErrorAlert error={rules.error} />
        <Table.ScrollContainer minWidth={900}>
          <Table striped withTableBorder data-testid="alarm-rules" fz="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("alarm.metric")}</Table.Th>
                <Table.Th>{t("alarm.condition")}</Table.Th>
                <Table.Th>{t("alarm.thresholdCol")}</Table.Th>
                <Table.Th>{t("alarm.windowCol")}</Table.Th>
                <Table.Th>{t("alarm.forCol")}</Table.Th>
                <Table.Th>{t("alarm.env")}</Table.Th>
                <Table.Th>{t("alarm.receivers")}</Table.Th>
                <Table.Th>{t("alarm.state")}</Table.Th>
                <Table.Th>{t("alarm.enabled")}</Table.Th>
                <Table.Th>{t("common.actions")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.map((r) => (
                <Table.Tr key={r.id} data-testid={`alarm-rule-${r.id}`}>
                  <Table.Td>{metricName(r)}</Table.Td>
                  <Table.Td>{r.metric === "noCalls" ? t("alarm.cond.noCalls") : t("alarm.cond.above")}</Table.Td>
                  <Table.Td data-testid="alarm-threshold">{showThreshold(r.metric, r.threshold, t)}</Table.Td>
                  <Table.Td>{duration(r.windowSecs, t)}</Table.Td>
                  <Table.Td>{duration(r.forSecs, t)}</Table.Td>
                  <Table.Td>{envName(r)}</Table.Td>
                  <Table.Td data-testid="alarm-receivers">{r.receivers.length ? r.receivers.join(", ") : t("alarm.noReceivers")}</Table.Td>
                  <Table.Td>
                    <Badge color={STATE_COLOR[r.state] ?? "gray"}>
                      {t(`alarm.state.${r.state}` as "alarm.state.ok")}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Switch
                      aria-label={t("alarm.enabledOf", { id: r.id })}
                      checked={r.enabled}
                      disabled={toggle.pending}
                      onChange={async (e) => {
                        const on = e.currentTarget.checked;
                        if (await toggle.act(r, on)) {
                          notify("green", on ? t("alarm.enabledNow") : t("alarm.disabledNow"));
                          rules.reload();
                        }
                      }}
                    />
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button size="xs" variant="subtle" aria-label={t("alarm.editOf", { id: r.id })} onClick={() => setEditing(r)}>
                        {t("alarm.edit")}
                      </Button>
                      <Button size="xs" variant="subtle" color="red" aria-label={t("alarm.deleteOf", { id: r.id })} onClick={() => setDeleting(r)}>
                        {t("common.delete")}
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        {rules.data && list.length === 0 ? (
          <Text c="dimmed" mt="sm">
            {t("alarm.none")}
          </Text>
        ) : null}
      </Paper>

      {editing ? (
        <EditRule
          key={editing.id}
          rule={editing}
          path={`${base}/${editing.id}`}
          names={names}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            rules.reload();
          }}
        />
      ) : null}
      <Confirm
        opened={deleting !== null}
        message={deleting ? t("alarm.confirmDelete", { id: deleting.id, metric: metricName(deleting), env: envName(deleting) }) : ""}
        pending={remove.pending}
        onCancel={() => setDeleting(null)}
        onConfirm={async () => {
          if (deleting && (await remove.act(deleting)) !== undefined) {
            setDeleting(null);
            rules.reload();
          }
        }}
      />
    </Stack>
  );
}

/** Changes one rule: only what changed is sent (`PATCH` replaces what it is given). */
function EditRule({ rule, path, names, onClose, onSaved }: { rule: AlarmRule; path: string; names: string[]; onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const [draft, setDraft] = useState<RuleDraft>(() => toDraft(rule));
  const [receivers, setReceivers] = useState<string[]>(rule.receivers);
  const [enabled, setEnabled] = useState(rule.enabled);
  const [tried, setTried] = useState(false);
  const save = useAction((body: object) => api<AlarmRule>("PATCH", path, body), t("alarm.updated"));
  const fromApi = apiFieldErrors(save.error);
  const errors: FieldErrors = { ...fromApi, ...(tried ? checkDraft(draft, t) : {}) };
  const changes = () => {
    const spec = toSpec(draft);
    const body: Record<string, unknown> = {};
    for (const key of ["metric", "env", "windowSecs", "threshold", "forSecs"] as const) if (spec[key] !== rule[key]) body[key] = spec[key];
    if (receivers.join("\n") !== rule.receivers.join("\n")) body.receivers = receivers;
    if (enabled !== rule.enabled) body.enabled = enabled;
    return body;
  };
  return (
    <Modal opened onClose={onClose} title={t("alarm.editTitle", { id: rule.id })} size="auto">
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          setTried(true);
          if (hasErrors(checkDraft(draft, t))) return;
          const body = changes();
          if (!Object.keys(body).length) return onClose();
          if (await save.act(body)) onSaved();
        }}
      >
        <Stack gap="sm" maw={900}>
          {save.error && !Object.keys(fromApi).length ? <ErrorAlert error={save.error} /> : null}
          <RuleFields
            draft={draft}
            onChange={(d) => {
              setDraft(d);
              if (save.error) save.clearError();
            }}
            errors={errors}
          />
          <TagsInput
            label={t("alarm.receivers")}
            data={names}
            value={receivers}
            onChange={(v) => {
              setReceivers(v);
              if (save.error) save.clearError();
            }}
            maxTags={20}
            description={t("alarm.receiversHelp.edit")}
            inputWrapperOrder={BELOW}
            error={errors.receivers}
          />
          <Switch label={t("alarm.enabled")} checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
          <Group justify="end">
            <Button variant="default" onClick={onClose}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" loading={save.pending}>
              {t("common.save")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
