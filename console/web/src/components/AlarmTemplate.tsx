// The workgroup's alarm template (the seeds' 报警模板): while it is on, every API created in
// the workgroup gets its rules, with the API's owner as the receiver. Workgroup admins save
// it; existing rules are not touched (they are edited on the API's Alarms tab).
import { useEffect, useState } from "react";
import { Button, CloseButton, Group, Paper, Stack, Switch, Text, Title } from "@mantine/core";
import { api, seg } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { ErrorAlert } from "./ErrorAlert";
import { apiFieldErrors, checkDraft, hasErrors, newDraft, RuleFields, toDraft, toSpec, type AlarmTemplate as Template, type RuleDraft } from "./AlarmRuleFields";
import { when } from "../types";

/** The most rules a template holds (the server's bound). */
const MAX_RULES = 50;

export function AlarmTemplate({ wg }: { wg: string }) {
  const t = useT();
  const path = `/workgroups/${seg(wg)}/alarm-template`;
  const loaded = useLoad((signal) => api<Template>("GET", path, undefined, { signal }), [path]);
  const [enabled, setEnabled] = useState(false);
  const [rules, setRules] = useState<RuleDraft[]>([]);
  const [tried, setTried] = useState(false);
  const save = useAction((body: object) => api<Template>("PUT", path, body), t("alarm.template.saved"));
  useEffect(() => {
    if (!loaded.data) return;
    setEnabled(loaded.data.enabled);
    setRules(loaded.data.rules.map(toDraft));
    setTried(false);
  }, [loaded.data]);

  const body = () => ({ enabled, rules: rules.map(toSpec) });
  const dirty = !!loaded.data && JSON.stringify(body()) !== JSON.stringify({ enabled: loaded.data.enabled, rules: loaded.data.rules.map((r) => toSpec(toDraft(r))) });
  const checks = rules.map((d) => checkDraft(d, t));
  // A refusal names its rule: `rules[2].threshold`; one that names no rule field goes on top.
  const mapped = rules.some((_, i) => Object.keys(apiFieldErrors(save.error, `rules[${i}].`)).length > 0);
  const edit = (next: RuleDraft[]) => {
    setRules(next);
    if (save.error) save.clearError();
  };

  return (
    <Paper withBorder p="md" data-testid="alarm-template">
      <Title order={3} size="h4" mb={4}>
        {t("alarm.template.title")}
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        {t("alarm.template.help")}
      </Text>
      <ErrorAlert error={loaded.error} />
      {loaded.data ? (
        <form
          noValidate
          aria-label={t("alarm.template.title")}
          onSubmit={async (e) => {
            e.preventDefault();
            setTried(true);
            if (checks.some(hasErrors)) return;
            const saved = await save.act(body());
            if (saved) loaded.reload();
          }}
        >
          <Stack gap="sm">
            {save.error && !mapped ? <ErrorAlert error={save.error} /> : null}
            <Switch
              label={t("alarm.template.enabled")}
              description={t("alarm.template.enabledHelp")}
              checked={enabled}
              onChange={(e) => {
                setEnabled(e.currentTarget.checked);
                if (save.error) save.clearError();
              }}
            />
            {rules.length === 0 ? <Text c="dimmed">{t("alarm.template.none")}</Text> : null}
            {rules.map((d, i) => (
              <Paper key={i} withBorder p="sm" data-testid={`template-rule-${i}`} role="group" aria-label={t("alarm.template.rule", { n: i + 1 })}>
                <Group justify="space-between" mb={4}>
                  <Text fw={600} size="sm">
                    {t("alarm.template.rule", { n: i + 1 })}
                  </Text>
                  <CloseButton aria-label={t("alarm.template.removeRule", { n: i + 1 })} onClick={() => edit(rules.filter((_, j) => j !== i))} />
                </Group>
                <RuleFields
                  draft={d}
                  onChange={(next) => edit(rules.map((x, j) => (j === i ? next : x)))}
                  errors={{ ...apiFieldErrors(save.error, `rules[${i}].`), ...(tried ? checks[i] : {}) }}
                />
              </Paper>
            ))}
            <Group justify="space-between">
              <Button variant="light" disabled={rules.length >= MAX_RULES} onClick={() => edit([...rules, newDraft()])}>
                {t("alarm.template.addRule")}
              </Button>
              <Group gap="sm">
                <Text size="sm" c="dimmed">
                  {loaded.data.updatedAt ? t("alarm.template.updated", { at: when(loaded.data.updatedAt), by: loaded.data.updatedBy }) : t("alarm.template.never")}
                </Text>
                <Button type="submit" loading={save.pending} disabled={!dirty}>
                  {t("alarm.template.save")}
                </Button>
              </Group>
            </Group>
          </Stack>
        </form>
      ) : null}
    </Paper>
  );
}
