// What an alarm rule is made of (`AlarmRuleSpec`: metric, environment, window, threshold,
// hold), as the rules of an API (AlarmRules.tsx) and the workgroup's template
// (AlarmTemplate.tsx) edit it: the fields, the checks the server would make, and how values
// read. An error rate is entered in percent (5 = 5%) and sent as a share (0.05).
import { Group, NumberInput, Select } from "@mantine/core";
import type { ApiError } from "../api";
import { useT } from "../i18n";
import type { Environment } from "../types";

export type AlarmMetric = "errorRate" | "p99Ms" | "throttled" | "noCalls";
export const ALARM_METRICS: AlarmMetric[] = ["errorRate", "p99Ms", "throttled", "noCalls"];
export type AlarmState = "ok" | "pending" | "firing";

/** `AlarmRuleSpec`: a rule without its API, what a template holds. */
export interface AlarmRuleSpec {
  metric: AlarmMetric;
  env: Environment;
  windowSecs: number;
  threshold: number;
  forSecs: number;
}

/** `AlarmRule`: a rule of one API. */
export interface AlarmRule extends AlarmRuleSpec {
  id: number;
  workgroupId: number;
  apiId: number;
  receivers: string[];
  enabled: boolean;
  state: AlarmState;
  stateSince: number;
  clearSince: number | null;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
  updatedBy: string;
}

/** `AlarmTemplate`. */
export interface AlarmTemplate {
  enabled: boolean;
  rules: AlarmRuleSpec[];
  updatedAt: number;
  updatedBy: string;
}

/** A rule as its fields hold it: the window in minutes, an error rate in percent. */
export interface RuleDraft {
  metric: AlarmMetric;
  env: Environment;
  windowMin: number | string;
  threshold: number | string;
  forSecs: number | string;
}

/** Messages per field, named as the API names them (`windowSecs`, `threshold`, …). */
export type FieldErrors = Partial<Record<"metric" | "env" | "windowSecs" | "threshold" | "forSecs" | "receivers", string>>;

/** A threshold that reads well for each metric when one switches to it. */
const DEFAULT_THRESHOLD: Record<AlarmMetric, number | string> = { errorRate: 5, p99Ms: 1000, throttled: 10, noCalls: "" };

export const newDraft = (): RuleDraft => ({ metric: "errorRate", env: "prod", windowMin: 5, threshold: 5, forSecs: 0 });

/** Rounds away binary noise (0.07 × 100 = 7.000000000000001). */
const tidy = (n: number) => Math.round(n * 1e6) / 1e6;

export function toDraft(spec: AlarmRuleSpec): RuleDraft {
  return {
    metric: spec.metric,
    env: spec.env,
    windowMin: spec.windowSecs / 60,
    threshold: spec.metric === "noCalls" ? "" : spec.metric === "errorRate" ? tidy(spec.threshold * 100) : spec.threshold,
    forSecs: spec.forSecs,
  };
}

const number = (v: number | string): number | undefined => (v === "" || v === "-" ? undefined : Number(v));

/** The spec a checked draft stands for. */
export function toSpec(d: RuleDraft): AlarmRuleSpec {
  const threshold = number(d.threshold) ?? 0;
  return {
    metric: d.metric,
    env: d.env,
    windowSecs: Math.round((number(d.windowMin) ?? 0) * 60),
    threshold: d.metric === "noCalls" ? 0 : d.metric === "errorRate" ? tidy(threshold / 100) : threshold,
    forSecs: number(d.forSecs) ?? 0,
  };
}

/** What the server would refuse (admin/src/alarms.rs `check_spec`), before anything is sent. */
export function checkDraft(d: RuleDraft, t: ReturnType<typeof useT>): FieldErrors {
  const errors: FieldErrors = {};
  const minutes = number(d.windowMin);
  if (minutes === undefined) errors.windowSecs = t("form.required");
  else if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) errors.windowSecs = t("alarm.check.window");
  const hold = number(d.forSecs) ?? 0;
  if (!Number.isInteger(hold) || hold < 0 || hold > 86400) errors.forSecs = t("alarm.check.for");
  if (d.metric !== "noCalls") {
    const threshold = number(d.threshold);
    if (threshold === undefined) errors.threshold = t("form.required");
    else if (!Number.isFinite(threshold) || threshold < 0) errors.threshold = t("alarm.check.thresholdMin");
    else if (d.metric === "errorRate" && threshold > 100) errors.threshold = t("alarm.check.errorRate");
  }
  return errors;
}

export const hasErrors = (e: FieldErrors) => Object.values(e).some(Boolean);

const FIELDS: (keyof FieldErrors)[] = ["metric", "env", "windowSecs", "threshold", "forSecs", "receivers"];

/** The API's refusal as field messages, when its `field` is one of the rule's (under
 *  `prefix`: `rules[2].` in a template): the message and the code, next to the field. */
export function apiFieldErrors(error: ApiError | undefined, prefix = ""): FieldErrors {
  const field = error?.field;
  if (!error || !field || !field.startsWith(prefix)) return {};
  const name = field.slice(prefix.length);
  if (!FIELDS.includes(name as keyof FieldErrors)) return {};
  return { [name]: `${error.message} (${error.code})` };
}

/** `5 min`, `90 s`, `2 h`. */
export function duration(secs: number, t: ReturnType<typeof useT>): string {
  if (secs === 0) return t("alarm.atOnce");
  if (secs % 3600 === 0) return t("alarm.dur.h", { n: secs / 3600 });
  if (secs % 60 === 0) return t("alarm.dur.min", { n: secs / 60 });
  return t("alarm.dur.s", { n: secs });
}

/** A threshold as people read it: `5%`, `800 ms`, `10 calls`; `—` for noCalls. */
export function showThreshold(metric: AlarmMetric, value: number, t: ReturnType<typeof useT>): string {
  switch (metric) {
    case "errorRate":
      return `${tidy(value * 100)}%`;
    case "p99Ms":
      return t("alarm.unit.ms", { n: value });
    case "throttled":
      return t("alarm.unit.calls", { n: value });
    default:
      return "—";
  }
}

/** Descriptions under the inputs, so that inputs line up however long their help is. */
export const BELOW = ["label", "input", "description", "error"] as ("label" | "input" | "description" | "error")[];

/** The fields of one rule's spec, each with its check's message or the API's. */
export function RuleFields({ draft, onChange, errors, testId }: { draft: RuleDraft; onChange: (d: RuleDraft) => void; errors: FieldErrors; testId?: string }) {
  const t = useT();
  const m = draft.metric;
  return (
    <Group align="start" wrap="wrap" gap="sm" data-testid={testId}>
      <Select
        label={t("alarm.metric")}
        required
        w={190}
        data={ALARM_METRICS.map((x) => ({ value: x, label: t(`alarm.metric.${x}` as "alarm.metric.errorRate") }))}
        value={m}
        allowDeselect={false}
        onChange={(v) => {
          const metric = (v ?? "errorRate") as AlarmMetric;
          if (metric !== m) onChange({ ...draft, metric, threshold: DEFAULT_THRESHOLD[metric] });
        }}
        description={t(`alarm.metricHelp.${m}` as "alarm.metricHelp.errorRate")}
        inputWrapperOrder={BELOW}
        error={errors.metric}
      />
      <Select
        label={t("alarm.env")}
        w={150}
        data={(["prod", "test"] as const).map((e) => ({ value: e, label: t(`alarm.env.${e}` as "alarm.env.prod") }))}
        value={draft.env}
        allowDeselect={false}
        onChange={(v) => onChange({ ...draft, env: (v ?? "prod") as Environment })}
        description={t("alarm.envHelp")}
        inputWrapperOrder={BELOW}
        error={errors.env}
      />
      <NumberInput
        label={t(`alarm.threshold.${m}` as "alarm.threshold.errorRate")}
        required={m !== "noCalls"}
        disabled={m === "noCalls"}
        w={170}
        value={m === "noCalls" ? "" : draft.threshold}
        onChange={(v) => onChange({ ...draft, threshold: v })}
        clampBehavior="none"
        decimalScale={m === "errorRate" ? 4 : 3}
        description={t(`alarm.thresholdHelp.${m}` as "alarm.thresholdHelp.errorRate")}
        inputWrapperOrder={BELOW}
        error={errors.threshold}
      />
      <NumberInput
        label={t("alarm.window")}
        required
        w={150}
        value={draft.windowMin}
        onChange={(v) => onChange({ ...draft, windowMin: v })}
        clampBehavior="none"
        allowDecimal={false}
        description={t("alarm.windowHelp")}
        inputWrapperOrder={BELOW}
        error={errors.windowSecs}
      />
      <NumberInput
        label={t("alarm.for")}
        w={170}
        value={draft.forSecs}
        onChange={(v) => onChange({ ...draft, forSecs: v })}
        clampBehavior="none"
        allowDecimal={false}
        description={t("alarm.forHelp")}
        inputWrapperOrder={BELOW}
        error={errors.forSecs}
      />
    </Group>
  );
}
