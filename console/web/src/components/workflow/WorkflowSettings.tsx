// The workflow itself (the built-in START node, whose output is the request): the first node,
// the whole run's deadline and what the editor sees left to finish. The request parameters are
// edited below the graph.
import { Alert, NumberInput, Select, Stack, Text, Title } from "@mantine/core";
import { useT, type MessageKey } from "../../i18n";
import type { Hint, Spec } from "./model";
import { HINT_COLOR, type NodeProblem } from "./NodePanel";

export function WorkflowSettings({
  spec,
  hints,
  problem,
  onSpec,
}: {
  spec: Spec;
  hints: Hint[];
  problem?: NodeProblem;
  onSpec: (s: Spec) => void;
}) {
  const t = useT();
  return (
    <Stack gap="sm" data-testid="wf-settings">
      <Title order={3} size="h5">
        {t("wf.settings")}
      </Title>
      {problem ? (
        <Alert color="red" title={problem.code} role="alert" data-testid="wf-node-problem" p="xs">
          <Text size="sm">{problem.message}</Text>
        </Alert>
      ) : null}
      {hints.length > 0 ? (
        <Stack gap={2} data-testid="wf-hints">
          {hints.map((h, i) => (
            <Text key={i} size="xs" style={{ color: HINT_COLOR }}>
              • {h.node && h.node !== "START" ? `${h.node}: ` : ""}
              {t(`wf.hint.${h.key}` as MessageKey, h.vars)}
            </Text>
          ))}
        </Stack>
      ) : null}
      <Select
        label={t("wf.start")}
        description={t("wf.startHelp")}
        data={spec.nodes.map((n) => ({ value: n.id, label: `${n.id} · ${t(`wf.kind.${n.kind}` as MessageKey)}` }))}
        value={spec.start || null}
        searchable
        clearable
        placeholder={t("wf.none")}
        error={problem?.field === "start" ? problem.message : undefined}
        onChange={(v) => onSpec({ ...spec, start: v ?? "" })}
      />
      <NumberInput
        w={200}
        label={t("wf.deadlineMs")}
        description={t("wf.deadlineHelp")}
        min={1}
        placeholder="10000"
        value={spec.deadlineMs ?? ""}
        onChange={(v) => onSpec({ ...spec, deadlineMs: v === "" ? undefined : Number(v) })}
      />
    </Stack>
  );
}
