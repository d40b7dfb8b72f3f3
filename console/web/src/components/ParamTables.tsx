// Editable tables of request parameters and response fields, as the seeds lay them out.
import { ActionIcon, Button, Checkbox, Group, Select, Table, TextInput, Text } from "@mantine/core";
import { useT } from "../i18n";
import { OPERATORS, PARAM_TYPES, SECURITY_LEVELS, type RequestParam, type ResponseField, type SecurityLevel } from "../types";

export function RequestParamsTable({ params, onChange, columns, withColumn }: { params: RequestParam[]; onChange: (p: RequestParam[]) => void; columns?: string[]; withColumn: boolean }) {
  const t = useT();
  const set = (i: number, change: Partial<RequestParam>) => onChange(params.map((p, j) => (j === i ? { ...p, ...change } : p)));
  return (
    <>
      <Table data-testid="request-params" withTableBorder>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("param.name")}</Table.Th>
            {withColumn ? <Table.Th>{t("param.column")}</Table.Th> : null}
            <Table.Th>{t("param.type")}</Table.Th>
            {withColumn ? <Table.Th>{t("param.operator")}</Table.Th> : null}
            <Table.Th>{t("param.required")}</Table.Th>
            <Table.Th>{t("param.example")}</Table.Th>
            <Table.Th>{t("param.default")}</Table.Th>
            <Table.Th>{t("param.level")}</Table.Th>
            <Table.Th>{t("param.description")}</Table.Th>
            <Table.Th>{t("common.actions")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {params.map((p, i) => (
            <Table.Tr key={i}>
              <Table.Td>
                <TextInput size="xs" aria-label={`${t("param.name")} ${i + 1}`} value={p.name} onChange={(e) => set(i, { name: e.currentTarget.value })} error={!p.name.trim()} />
              </Table.Td>
              {withColumn ? (
                <Table.Td>
                  <Select size="xs" aria-label={`${t("param.column")} ${i + 1}`} data={columns ?? []} value={p.column ?? null} searchable onChange={(v) => set(i, { column: v })} />
                </Table.Td>
              ) : null}
              <Table.Td>
                <Select size="xs" aria-label={`${t("param.type")} ${i + 1}`} data={PARAM_TYPES} value={p.type} allowDeselect={false} onChange={(v) => set(i, { type: v ?? "string" })} />
              </Table.Td>
              {withColumn ? (
                <Table.Td>
                  <Select size="xs" aria-label={`${t("param.operator")} ${i + 1}`} data={OPERATORS} value={p.operator ?? "="} allowDeselect={false} onChange={(v) => set(i, { operator: v ?? "=" })} />
                </Table.Td>
              ) : null}
              <Table.Td>
                <Checkbox aria-label={`${t("param.required")} ${i + 1}`} checked={!!p.required} onChange={(e) => set(i, { required: e.currentTarget.checked })} />
              </Table.Td>
              <Table.Td>
                <TextInput size="xs" aria-label={`${t("param.example")} ${i + 1}`} value={p.example ?? ""} onChange={(e) => set(i, { example: e.currentTarget.value || null })} />
              </Table.Td>
              <Table.Td>
                <TextInput size="xs" aria-label={`${t("param.default")} ${i + 1}`} value={p.default ?? ""} onChange={(e) => set(i, { default: e.currentTarget.value || null })} />
              </Table.Td>
              <Table.Td>
                <Select size="xs" aria-label={`${t("param.level")} ${i + 1}`} data={SECURITY_LEVELS} value={p.securityLevel ?? "L1"} allowDeselect={false} onChange={(v) => set(i, { securityLevel: (v ?? "L1") as SecurityLevel })} />
              </Table.Td>
              <Table.Td>
                <TextInput size="xs" aria-label={`${t("param.description")} ${i + 1}`} value={p.description ?? ""} onChange={(e) => set(i, { description: e.currentTarget.value })} />
              </Table.Td>
              <Table.Td>
                <Group gap={4} wrap="nowrap">
                  <Button size="compact-xs" variant="subtle" aria-label={`${t("common.copy")} ${i + 1}`} onClick={() => onChange([...params.slice(0, i + 1), { ...p, name: `${p.name}_copy` }, ...params.slice(i + 1)])}>
                    {t("common.copy")}
                  </Button>
                  <ActionIcon variant="subtle" color="red" aria-label={`${t("common.remove")} ${i + 1}`} onClick={() => onChange(params.filter((_, j) => j !== i))}>
                    ✕
                  </ActionIcon>
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {params.length === 0 ? <Text size="sm" c="dimmed">{t("param.none")}</Text> : null}
      <Button size="xs" variant="light" mt="xs" onClick={() => onChange([...params, { name: "", type: "string", operator: "=", required: false, securityLevel: "L1" }])}>
        {t("param.add")}
      </Button>
    </>
  );
}

export function ResponseFieldsTable({ fields, onChange, columns, withColumn }: { fields: ResponseField[]; onChange: (f: ResponseField[]) => void; columns?: string[]; withColumn: boolean }) {
  const t = useT();
  const set = (i: number, change: Partial<ResponseField>) => onChange(fields.map((f, j) => (j === i ? { ...f, ...change } : f)));
  return (
    <>
      <Table data-testid="response-fields" withTableBorder>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("param.name")}</Table.Th>
            {withColumn ? <Table.Th>{t("param.column")}</Table.Th> : null}
            <Table.Th>{t("param.type")}</Table.Th>
            <Table.Th>{t("param.sort")}</Table.Th>
            <Table.Th>{t("param.example")}</Table.Th>
            <Table.Th>{t("param.level")}</Table.Th>
            <Table.Th>{t("param.description")}</Table.Th>
            <Table.Th>{t("common.actions")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {fields.map((f, i) => (
            <Table.Tr key={i}>
              <Table.Td>
                <TextInput size="xs" aria-label={`${t("field.name")} ${i + 1}`} value={f.name} onChange={(e) => set(i, { name: e.currentTarget.value })} error={!f.name.trim()} />
              </Table.Td>
              {withColumn ? (
                <Table.Td>
                  <Select size="xs" aria-label={`${t("field.column")} ${i + 1}`} data={columns ?? []} value={f.column ?? null} searchable onChange={(v) => set(i, { column: v })} />
                </Table.Td>
              ) : null}
              <Table.Td>
                <Select size="xs" aria-label={`${t("field.type")} ${i + 1}`} data={PARAM_TYPES.filter((x) => x !== "identifier")} value={f.type} allowDeselect={false} onChange={(v) => set(i, { type: v ?? "string" })} />
              </Table.Td>
              <Table.Td>
                <Select
                  size="xs"
                  aria-label={`${t("param.sort")} ${i + 1}`}
                  data={[{ value: "", label: "—" }, { value: "asc", label: t("sort.asc") }, { value: "desc", label: t("sort.desc") }]}
                  value={f.sort?.direction ?? ""}
                  onChange={(v) => set(i, { sort: v ? { direction: v as "asc" | "desc", priority: i } : null })}
                />
              </Table.Td>
              <Table.Td>
                <TextInput size="xs" aria-label={`${t("field.example")} ${i + 1}`} value={f.example ?? ""} onChange={(e) => set(i, { example: e.currentTarget.value || null })} />
              </Table.Td>
              <Table.Td>
                <Select size="xs" aria-label={`${t("field.level")} ${i + 1}`} data={SECURITY_LEVELS} value={f.securityLevel ?? "L1"} allowDeselect={false} onChange={(v) => set(i, { securityLevel: (v ?? "L1") as SecurityLevel })} />
              </Table.Td>
              <Table.Td>
                <TextInput size="xs" aria-label={`${t("field.description")} ${i + 1}`} value={f.description ?? ""} onChange={(e) => set(i, { description: e.currentTarget.value })} />
              </Table.Td>
              <Table.Td>
                <ActionIcon variant="subtle" color="red" aria-label={`${t("common.remove")} ${t("field.name")} ${i + 1}`} onClick={() => onChange(fields.filter((_, j) => j !== i))}>
                  ✕
                </ActionIcon>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {fields.length === 0 ? <Text size="sm" c="dimmed">{t("field.none")}</Text> : null}
      <Button size="xs" variant="light" mt="xs" onClick={() => onChange([...fields, { name: "", type: "string", securityLevel: "L1" }])}>
        {t("field.add")}
      </Button>
    </>
  );
}
