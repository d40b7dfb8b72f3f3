// A name → expression mapping (a node's params or output): rows of two inputs. Rows being typed
// (no name yet) stay here until they have one; the definition holds only named rows.
import { useEffect, useState } from "react";
import { ActionIcon, Button, Group, Stack, Text, TextInput } from "@mantine/core";
import { useT } from "../../i18n";

type Rows = [string, string][];

const toMap = (rows: Rows) => Object.fromEntries(rows.filter(([k]) => k.trim() !== "").map(([k, v]) => [k.trim(), v]));
const same = (a: Record<string, string> | undefined, b: Record<string, string>) => JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b).sort());

export function MappingTable({
  title,
  help,
  value,
  onChange,
  nameLabel,
  valueLabel,
  valuePlaceholder,
  addLabel,
  error,
  testId,
}: {
  title: string;
  help: string;
  value: Record<string, string> | undefined;
  onChange: (v: Record<string, string> | undefined) => void;
  nameLabel: string;
  valueLabel: string;
  valuePlaceholder?: string;
  addLabel: string;
  /** A message for the row (by name) the server refused. */
  error?: { name?: string; message: string };
  testId: string;
}) {
  const t = useT();
  const [rows, setRows] = useState<Rows>(() => Object.entries(value ?? {}));
  // Changes from outside (a renamed node, undo) replace the rows.
  useEffect(() => {
    if (!same(value, toMap(rows))) setRows(Object.entries(value ?? {}));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  const set = (next: Rows) => {
    setRows(next);
    const map = toMap(next);
    onChange(Object.keys(map).length > 0 ? map : undefined);
  };
  return (
    <Stack gap={4} data-testid={testId}>
      <Text size="sm" fw={600}>
        {title}
      </Text>
      <Text size="xs" c="dimmed">
        {help}
      </Text>
      {rows.map(([k, v], i) => {
        const bad = error && (error.name === undefined ? false : error.name === k);
        return (
          <Group key={i} gap={4} wrap="nowrap" align="start">
            <TextInput size="xs" w={130} classNames={{ input: "sluice-mono" }} aria-label={`${nameLabel} ${i + 1}`} placeholder={nameLabel} value={k} onChange={(e) => set(rows.map((r, j) => (j === i ? [e.currentTarget.value, r[1]] : r)))} />
            <TextInput
              size="xs"
              classNames={{ input: "sluice-mono" }}
              style={{ flex: 1 }}
              aria-label={`${valueLabel} ${i + 1}`}
              placeholder={valuePlaceholder}
              value={v}
              error={bad ? error.message : undefined}
              onChange={(e) => set(rows.map((r, j) => (j === i ? [r[0], e.currentTarget.value] : r)))}
            />
            <ActionIcon variant="subtle" color="red" mt={2} aria-label={`${t("common.remove")} ${nameLabel} ${i + 1}`} onClick={() => set(rows.filter((_, j) => j !== i))}>
              ✕
            </ActionIcon>
          </Group>
        );
      })}
      <Group>
        <Button size="compact-xs" variant="light" onClick={() => setRows([...rows, ["", ""]])}>
          {addLabel}
        </Button>
      </Group>
    </Stack>
  );
}
