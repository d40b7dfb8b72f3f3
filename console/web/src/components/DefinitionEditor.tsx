// The mode-specific part of an API: wizard (table → columns → parameters and fields),
// script (SQL editor, parse parameters, table fields, formatting), native (allowed tables),
// registered (its own form, RegisteredEditor). Workflow definitions are edited as JSON here;
// the workflow graph has its own editor.
import { lazy, Suspense, useState } from "react";
import { Button, Group, Loader, Modal, MultiSelect, NumberInput, Select, Stack, Switch, Table, Text, Textarea, Title } from "@mantine/core";
import { api, seg, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { ErrorAlert } from "./ErrorAlert";
import { RequestParamsTable, ResponseFieldsTable } from "./ParamTables";
import { RegisteredEditor } from "./RegisteredEditor";
import type { ColumnInfo, Datasource, Definition, RequestParam, ResponseField, TableInfo } from "../types";

const CodeEditor = lazy(() => import("./CodeEditor"));

export function DefinitionEditor({ wg, definition, onChange }: { wg: string; definition: Definition; onChange: (d: Definition) => void }) {
  const t = useT();
  const set = (change: Partial<Definition>) => onChange({ ...definition, ...change });
  const sqlMode = ["wizard", "script", "native"].includes(definition.mode);
  const datasources = useLoad((signal) => (sqlMode ? api<Page<Datasource>>("GET", `/workgroups/${seg(wg)}/datasources?pageSize=200`, undefined, { signal }) : Promise.resolve(undefined)), [wg, sqlMode]);
  const ds = definition.datasourceId ?? null;
  const tables = useLoad(
    (signal) =>
      ds
        ? api<Page<TableInfo>>("GET", `/workgroups/${seg(wg)}/datasources/${ds}/tables?pageSize=500`, undefined, { signal }).then((page) => page.items)
        : Promise.resolve([] as TableInfo[]),
    [wg, ds],
  );
  const table = definition.mode === "wizard" ? definition.table ?? "" : "";
  const columns = useLoad(
    (signal) => (ds && table ? api<ColumnInfo[]>("GET", `/workgroups/${seg(wg)}/datasources/${ds}/tables/${seg(table)}/columns`, undefined, { signal }) : Promise.resolve([] as ColumnInfo[])),
    [wg, ds, table],
  );
  const tableNames = (tables.data ?? []).map((x) => x.name);
  const columnNames = (columns.data ?? []).map((c) => c.name);
  if (definition.mode === "registered") return <RegisteredEditor definition={definition} onChange={onChange} />;
  if (!sqlMode) return <JsonDefinition definition={definition} onChange={onChange} />;
  return (
    <Stack>
      <Select
        label={t("def.datasource")}
        required
        data={(datasources.data?.items ?? []).map((d) => ({ value: String(d.id), label: `${d.name} (${d.kind})` }))}
        value={ds ? String(ds) : null}
        onChange={(v) => set({ datasourceId: v ? Number(v) : null })}
      />
      <ErrorAlert error={tables.error} />
      {definition.mode === "wizard" ? (
        <>
          <Select label={t("def.table")} required searchable data={tableNames} value={table || null} onChange={(v) => set({ table: v ?? "" })} nothingFoundMessage={t("def.noTables")} />
          {columns.loading && table ? <Loader size="sm" role="status" aria-label="loading" /> : null}
          <ErrorAlert error={columns.error} />
          {columns.data && columns.data.length > 0 ? (
            <Group>
              <Button size="xs" variant="light" onClick={() => set({ responseFields: columns.data!.map(fieldOf) })}>
                {t("def.allColumns")}
              </Button>
              {columns.data.filter((c) => c.primaryKey).map((c) => (
                <Button key={c.name} size="xs" variant="light" onClick={() => set({ requestParams: [...(definition.requestParams ?? []), paramOf(c)] })}>
                  {t("def.paramFrom", { column: c.name })}
                </Button>
              ))}
            </Group>
          ) : null}
          <Title order={3} size="h4">{t("def.requestParams")}</Title>
          <RequestParamsTable params={definition.requestParams ?? []} onChange={(p) => set({ requestParams: p })} columns={columnNames} withColumn />
          <Title order={3} size="h4">{t("def.responseFields")}</Title>
          <ResponseFieldsTable fields={definition.responseFields ?? []} onChange={(f) => set({ responseFields: f })} columns={columnNames} withColumn />
        </>
      ) : null}
      {definition.mode === "script" ? <ScriptEditor wg={wg} ds={ds} tables={tableNames} definition={definition} onChange={onChange} /> : null}
      {definition.mode === "native" ? (
        <MultiSelect label={t("def.allowedTables")} data={tableNames} value={definition.tables ?? []} onChange={(v) => set({ tables: v })} searchable />
      ) : null}
      <Options definition={definition} onChange={onChange} />
    </Stack>
  );
}

function fieldOf(c: ColumnInfo): ResponseField {
  return { name: c.name, column: c.name, type: c.type, securityLevel: "L1" };
}

function paramOf(c: ColumnInfo): RequestParam {
  return { name: c.name, column: c.name, type: c.type, operator: "=", required: true, securityLevel: "L1" };
}

function ScriptEditor({ wg, ds, tables, definition, onChange }: { wg: string; ds: number | null; tables: string[]; definition: Definition; onChange: (d: Definition) => void }) {
  const t = useT();
  const [fieldsOf, setFieldsOf] = useState<string | null>(null);
  const sqlText = definition.sql ?? "";
  const parse = useAction(async () => {
    const found = await api<{ name: string; type?: string }[]>("POST", `/workgroups/${seg(wg)}/sql/parameters`, { mode: "script", sql: sqlText });
    const known = new Map((definition.requestParams ?? []).map((p) => [p.name, p]));
    const params = found.map((p) => known.get(p.name) ?? { name: p.name, type: p.type ?? "string", required: false, securityLevel: "L1" as const });
    onChange({ ...definition, requestParams: params });
    return params;
  });
  const format = async () => {
    const { format: pretty } = await import("sql-formatter");
    try {
      onChange({ ...definition, sql: pretty(sqlText, { paramTypes: { custom: [{ regex: String.raw`[#$]\{[^}]*\}` }] } }) });
    } catch {
      /* a template the formatter cannot read is left as written */
    }
  };
  const columns = useLoad(
    (signal) => (ds && fieldsOf ? api<ColumnInfo[]>("GET", `/workgroups/${seg(wg)}/datasources/${ds}/tables/${seg(fieldsOf)}/columns`, undefined, { signal }) : Promise.resolve([] as ColumnInfo[])),
    [wg, ds, fieldsOf],
  );
  return (
    <>
      <Group justify="space-between">
        <Title order={3} size="h4">{t("def.sql")}</Title>
        <Group gap="xs">
          <Button size="xs" variant="light" onClick={() => parse.act()} loading={parse.pending}>
            {t("def.parseParams")}
          </Button>
          <Select size="xs" aria-label={t("def.tableFields")} placeholder={t("def.tableFields")} data={tables} value={null} onChange={(v) => setFieldsOf(v)} />
          <Button size="xs" variant="light" onClick={format}>
            {t("def.format")}
          </Button>
        </Group>
      </Group>
      <ErrorAlert error={parse.error} />
      <Suspense fallback={<Loader size="sm" role="status" aria-label="loading" />}>
        <CodeEditor language="sql" label={t("def.sql")} value={sqlText} onChange={(v) => onChange({ ...definition, sql: v })} />
      </Suspense>
      <Title order={3} size="h4">{t("def.requestParams")}</Title>
      <RequestParamsTable params={definition.requestParams ?? []} onChange={(p) => onChange({ ...definition, requestParams: p })} withColumn={false} />
      <Title order={3} size="h4">{t("def.responseFields")}</Title>
      <ResponseFieldsTable fields={definition.responseFields ?? []} onChange={(f) => onChange({ ...definition, responseFields: f })} withColumn={false} />
      <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={!!fieldsOf} onClose={() => setFieldsOf(null)} title={`${t("def.tableFields")}: ${fieldsOf ?? ""}`}>
        <ErrorAlert error={columns.error} />
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("common.name")}</Table.Th>
              <Table.Th>{t("def.dbType")}</Table.Th>
              <Table.Th>{t("param.type")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {columns.data?.map((c) => (
              <Table.Tr key={c.name}>
                <Table.Td>
                  {c.name}
                  {c.primaryKey ? " 🔑" : ""}
                </Table.Td>
                <Table.Td className="sluice-mono">{c.dbType}</Table.Td>
                <Table.Td>{c.type}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Modal>
    </>
  );
}

function Options({ definition, onChange }: { definition: Definition; onChange: (d: Definition) => void }) {
  const t = useT();
  const options = (definition.options ?? {}) as { maxLimit?: number; timeoutMs?: number; pagination?: boolean };
  const set = (change: Record<string, unknown>) => onChange({ ...definition, options: { ...options, ...change } });
  return (
    <>
      <Title order={3} size="h4">{t("def.options")}</Title>
      <Group>
        <NumberInput label={t("def.maxLimit")} min={1} value={options.maxLimit ?? ""} onChange={(v) => set({ maxLimit: v === "" ? undefined : Number(v) })} />
        <NumberInput label={t("def.timeoutMs")} min={1} value={options.timeoutMs ?? ""} onChange={(v) => set({ timeoutMs: v === "" ? undefined : Number(v) })} />
        <Switch label={t("def.pagination")} checked={!!options.pagination} onChange={(e) => set({ pagination: e.currentTarget.checked })} mt="lg" />
      </Group>
    </>
  );
}

function JsonDefinition({ definition, onChange }: { definition: Definition; onChange: (d: Definition) => void }) {
  const t = useT();
  const [text, setText] = useState(() => JSON.stringify(definition, null, 2));
  const [bad, setBad] = useState<string>();
  return (
    <Stack>
      <Text size="sm" c="dimmed">
        {t("def.jsonHelp")}
      </Text>
      <Textarea
        label={t("def.json")}
        autosize
        minRows={12}
        className="sluice-mono"
        value={text}
        error={bad}
        onChange={(e) => {
          const value = e.currentTarget.value;
          setText(value);
          try {
            onChange(JSON.parse(value));
            setBad(undefined);
          } catch (err) {
            setBad((err as Error).message);
          }
        }}
      />
    </Stack>
  );
}
