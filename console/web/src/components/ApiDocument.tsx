// An OpenAPI 3.1 document rendered for people: servers, then each operation with its
// parameters, body and answers. The management API's page adds "try it".
import { useState, type ReactNode } from "react";
import { Accordion, Badge, Button, Code, Group, Stack, Table, Text, Textarea, TextInput, Title, Anchor } from "@mantine/core";
import { api, document, ApiError } from "../api";
import { asApiError, useLoad } from "../hooks";
import { useT } from "../i18n";
import { ErrorAlert } from "./ErrorAlert";

type Schema = Record<string, unknown>;
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
}
interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
  security?: unknown[];
  tags?: string[];
}
export interface OpenApi {
  openapi: string;
  info: { title: string; version: string; description?: string };
  servers?: { url: string }[];
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

const METHODS = ["get", "post", "put", "patch", "delete"];

/** Loads the document at `path` (under /admin/v1) and renders it. */
export function ApiDocument({ path, tryIt }: { path: string; tryIt?: boolean }) {
  const doc = useLoad(() => document<OpenApi>(path), [path]);
  const t = useT();
  return (
    <>
      <ErrorAlert error={doc.error} />
      {doc.data ? <OpenApiView doc={doc.data} tryIt={tryIt} /> : null}
      <Anchor href={`/admin/v1${path}`} size="sm" target="_blank" rel="noopener">
        {t("doc.raw")}
      </Anchor>
    </>
  );
}

export function OpenApiView({ doc, tryIt }: { doc: OpenApi; tryIt?: boolean }) {
  const t = useT();
  const [filter, setFilter] = useState("");
  const operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ path, method: m, op: item[m] })),
  );
  const shown = operations.filter(({ path, op }) => !filter || `${path} ${op.summary ?? ""} ${op.operationId ?? ""}`.toLowerCase().includes(filter.toLowerCase()));
  return (
    <Stack data-testid="openapi-view">
      <div>
        <Title order={3}>
          {doc.info.title} <Badge>{doc.info.version}</Badge>
        </Title>
        {doc.info.description ? <Text size="sm">{doc.info.description}</Text> : null}
        {doc.servers?.map((s) => (
          <Text key={s.url} size="sm">
            {t("doc.server")}: <Code>{s.url}</Code>
          </Text>
        ))}
      </div>
      {operations.length > 8 ? <TextInput label={t("doc.filter")} value={filter} onChange={(e) => setFilter(e.currentTarget.value)} /> : null}
      <Accordion multiple variant="separated">
        {shown.map(({ path, method, op }) => (
          <Accordion.Item key={`${method} ${path}`} value={`${method} ${path}`}>
            <Accordion.Control>
              <Group gap="xs" wrap="nowrap">
                <Badge color={method === "get" ? "blue" : method === "delete" ? "red" : "green"} w={70}>
                  {method.toUpperCase()}
                </Badge>
                <Text className="sluice-mono">{path}</Text>
                <Text size="sm" c="dimmed" truncate>
                  {op.summary}
                </Text>
              </Group>
            </Accordion.Control>
            <Accordion.Panel>
              <Operation doc={doc} op={op} />
              {tryIt ? <TryIt path={path} method={method} op={op} /> : null}
            </Accordion.Panel>
          </Accordion.Item>
        ))}
      </Accordion>
    </Stack>
  );
}

function resolve(doc: OpenApi, schema: Schema | undefined): Schema | undefined {
  const ref = schema?.$ref;
  if (typeof ref === "string" && ref.startsWith("#/components/schemas/")) return doc.components?.schemas?.[ref.slice(21)] ?? schema;
  return schema;
}

function typeOf(doc: OpenApi, schema: Schema | undefined): string {
  const s = resolve(doc, schema);
  if (!s) return "";
  if (typeof schema?.$ref === "string") return String(schema.$ref).split("/").pop() ?? "";
  if (s.type === "array") return `array<${typeOf(doc, s.items as Schema)}>`;
  if (Array.isArray(s.type)) return s.type.join(" | ");
  return String(s.type ?? (s.oneOf || s.anyOf ? "one of" : "object"));
}

function SchemaTable({ doc, schema }: { doc: OpenApi; schema: Schema | undefined }) {
  const t = useT();
  const s = resolve(doc, schema);
  const inner = s?.type === "array" ? resolve(doc, s.items as Schema) : s;
  const props = (inner?.properties ?? {}) as Record<string, Schema>;
  const required = new Set((inner?.required as string[]) ?? []);
  if (Object.keys(props).length === 0) return <Code>{typeOf(doc, schema)}</Code>;
  return (
    <Table withTableBorder fz="sm">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t("doc.field")}</Table.Th>
          <Table.Th>{t("doc.type")}</Table.Th>
          <Table.Th>{t("doc.description")}</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {Object.entries(props).map(([name, p]) => (
          <Table.Tr key={name}>
            <Table.Td className="sluice-mono">
              {name}
              {required.has(name) ? " *" : ""}
            </Table.Td>
            <Table.Td className="sluice-mono">{typeOf(doc, p)}</Table.Td>
            <Table.Td>{String(resolve(doc, p)?.description ?? "")}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function Operation({ doc, op }: { doc: OpenApi; op: Operation }) {
  const t = useT();
  const body = op.requestBody?.content ? Object.values(op.requestBody.content)[0]?.schema : undefined;
  const section = (title: string, children: ReactNode) => (
    <>
      <Text fw={600} size="sm" mt="sm">
        {title}
      </Text>
      {children}
    </>
  );
  return (
    <Stack gap={4}>
      {op.description ? <Text size="sm">{op.description}</Text> : null}
      {op.parameters?.length
        ? section(
            t("doc.parameters"),
            <Table withTableBorder fz="sm">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("doc.field")}</Table.Th>
                  <Table.Th>{t("doc.in")}</Table.Th>
                  <Table.Th>{t("doc.type")}</Table.Th>
                  <Table.Th>{t("doc.description")}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {op.parameters.map((p) => (
                  <Table.Tr key={`${p.in}-${p.name}`}>
                    <Table.Td className="sluice-mono">
                      {p.name}
                      {p.required ? " *" : ""}
                    </Table.Td>
                    <Table.Td>{p.in}</Table.Td>
                    <Table.Td className="sluice-mono">{typeOf(doc, p.schema)}</Table.Td>
                    <Table.Td>{p.description}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>,
          )
        : null}
      {body ? section(t("doc.body"), <SchemaTable doc={doc} schema={body} />) : null}
      {section(
        t("doc.responses"),
        <Stack gap={4}>
          {Object.entries(op.responses ?? {}).map(([status, r]) => (
            <div key={status}>
              <Badge color={status.startsWith("2") ? "green" : "gray"} mr="xs">
                {status}
              </Badge>
              <Text span size="sm">
                {r.description}
              </Text>
              {status.startsWith("2") && r.content ? <SchemaTable doc={doc} schema={Object.values(r.content)[0]?.schema} /> : null}
            </div>
          ))}
        </Stack>,
      )}
    </Stack>
  );
}

/** Sends the operation to the management API with the signed-in token. */
function TryIt({ path, method, op }: { path: string; method: string; op: Operation }) {
  const t = useT();
  const params = op.parameters ?? [];
  const [values, setValues] = useState<Record<string, string>>({});
  const [body, setBody] = useState(op.requestBody ? "{}" : "");
  const [answer, setAnswer] = useState<unknown>();
  const [error, setError] = useState<ApiError>();
  const [pending, setPending] = useState(false);
  const send = async () => {
    setPending(true);
    setError(undefined);
    setAnswer(undefined);
    try {
      let url = path.replace(/^\/admin\/v1/, "");
      const q = new URLSearchParams();
      for (const p of params) {
        const v = values[p.name];
        if (!v) continue;
        if (p.in === "path") url = url.replace(`{${p.name}}`, encodeURIComponent(v));
        else if (p.in === "query") q.set(p.name, v);
      }
      const qs = q.toString();
      const parsed = body.trim() ? JSON.parse(body) : undefined;
      setAnswer(await api(method.toUpperCase(), url + (qs ? `?${qs}` : ""), parsed));
    } catch (e) {
      setError(e instanceof SyntaxError ? new ApiError(0, "Console.Json", e.message) : asApiError(e));
    } finally {
      setPending(false);
    }
  };
  return (
    <Stack gap="xs" mt="md" p="sm" bg="gray.0">
      <Text fw={600} size="sm">
        {t("doc.tryIt")}
      </Text>
      <Group>
        {params
          .filter((p) => p.in === "path" || p.in === "query")
          .map((p) => (
            <TextInput key={p.name} size="xs" label={p.name} required={p.required} value={values[p.name] ?? ""} onChange={(e) => setValues({ ...values, [p.name]: e.currentTarget.value })} />
          ))}
      </Group>
      {op.requestBody ? <Textarea size="xs" label={t("doc.body")} className="sluice-mono" autosize minRows={3} value={body} onChange={(e) => setBody(e.currentTarget.value)} /> : null}
      <Group>
        <Button size="xs" onClick={send} loading={pending}>
          {t("doc.send")}
        </Button>
      </Group>
      <ErrorAlert error={error} />
      {answer !== undefined ? <pre className="sluice-pre">{JSON.stringify(answer, null, 2)}</pre> : null}
    </Stack>
  );
}
