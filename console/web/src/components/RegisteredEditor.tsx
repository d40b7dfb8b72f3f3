// A registered API's definition as a form: the backend service (address, path, method,
// timeout, response data type), the request parameters and their mapping to backend names
// and positions, the constant parameters (the backend's secrets), schema validation, and the
// definition as JSON for the keys the form does not cover.
//
// Constants: reads leave their values out (`{name, position}`), and the server keeps the
// stored value of a constant written without one under the same name and position. So a
// constant is sent with `value` only when a new one is typed; an empty value is never sent
// (the server would store it as the secret). Which constants have a stored value is taken
// from the definition the editor was given from outside (the saved draft), never from its
// own edits.
import { useRef, useState } from "react";
import { ActionIcon, Badge, Button, Checkbox, Group, NumberInput, PasswordInput, Select, Stack, Switch, Table, Text, Textarea, TextInput, Title } from "@mantine/core";
import { useT, type MessageKey } from "../i18n";
import { PARAM_TYPES, type Definition } from "../types";

type Position = "query" | "path" | "header" | "body";
type ConstantPosition = "query" | "header" | "body";

/** One caller parameter (`RegisteredParam`). */
interface RegParam {
  name: string;
  upstreamName?: string;
  position?: Position;
  upstreamPosition?: Position;
  type?: string;
  required?: boolean;
  default?: string;
  description?: string;
  example?: string;
}

/** One constant (`RegisteredConstant`): no `value` when it is stored and kept. */
interface RegConstant {
  name: string;
  position: ConstantPosition;
  value?: string;
}

/** `SchemaValidation`. */
interface Validation {
  enabled?: boolean;
  params?: Record<string, unknown>;
  body?: unknown;
  response?: unknown;
}

const POSITIONS: Position[] = ["query", "path", "header", "body"];
const CONSTANT_POSITIONS: ConstantPosition[] = ["query", "header", "body"];
const METHODS = ["GET", "POST", "PUT", "DELETE"];
const FORMATS = ["JSON", "XML"];
/** Registered APIs take every type but `identifier` (SQL only). */
const TYPES = PARAM_TYPES.filter((x) => x !== "identifier");
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_TIMEOUT_MS = 600_000;
/** Error text dark enough for WCAG AA on white (Mantine's default red is not). */
const ERROR_TEXT = { c: "red.9" } as const;

/** A copy of `object` with `key` set, or removed when `value` is undefined or empty text. */
function withKey<T extends object>(object: T, key: string, value: unknown): T {
  const copy = { ...object } as Record<string, unknown>;
  if (value === undefined || value === "") delete copy[key];
  else copy[key] = value;
  return copy as T;
}

const constantKey = (c: { name: string; position: string }) => `${c.position}\u0000${c.name}`;

/** The constants whose values the server holds: those read back without a value. */
function storedConstants(definition: Definition): Set<string> {
  const list = (definition.constants as RegConstant[] | undefined) ?? [];
  return new Set(list.filter((c) => c.value === undefined).map(constantKey));
}

export function RegisteredEditor({ definition, onChange }: { definition: Definition; onChange: (d: Definition) => void }) {
  const t = useT();
  // A definition that is not the one this editor last handed out comes from outside (the
  // saved draft, a reload after saving, a new API): its value-less constants are stored.
  const emitted = useRef<Definition | null>(null);
  const seen = useRef<Definition | null>(null);
  const stored = useRef<Set<string>>(new Set());
  if (definition !== seen.current) {
    if (definition !== emitted.current) stored.current = storedConstants(definition);
    seen.current = definition;
  }
  const emit = (d: Definition) => {
    emitted.current = d;
    onChange(d);
  };
  const set = (key: string, value: unknown) => emit(withKey(definition, key, value));

  const params = (definition.params as RegParam[] | undefined) ?? [];
  const constants = (definition.constants as RegConstant[] | undefined) ?? [];
  const validation = definition.validation as Validation | undefined;
  const method = String(definition.method ?? "GET").toUpperCase();
  const takesBody = method === "POST" || method === "PUT";
  const posLabel = (p: string) => t(`reg.pos.${p}` as MessageKey);

  const setParams = (next: RegParam[], nextValidation: Validation | undefined = validation) => {
    let d = { ...definition, params: next } as Definition;
    d = withKey(d, "validation", nextValidation);
    emit(d);
  };
  const setParam = (i: number, change: Partial<RegParam>) => {
    const current = params[i];
    let next: RegParam = { ...current };
    for (const [k, v] of Object.entries(change)) next = withKey(next, k, v);
    // A renamed parameter keeps its schema.
    let nextValidation = validation;
    if (change.name !== undefined && change.name !== current.name && validation?.params && current.name in validation.params) {
      const schemas = { ...validation.params };
      schemas[change.name] = schemas[current.name];
      delete schemas[current.name];
      nextValidation = { ...validation, params: schemas };
    }
    setParams(
      params.map((p, j) => (j === i ? next : p)),
      nextValidation,
    );
  };
  const removeParam = (i: number) => {
    const name = params[i].name;
    let nextValidation = validation;
    if (validation?.params && name in validation.params) {
      const schemas = { ...validation.params };
      delete schemas[name];
      nextValidation = withKey(validation, "params", Object.keys(schemas).length ? schemas : undefined);
    }
    setParams(
      params.filter((_, j) => j !== i),
      nextValidation,
    );
  };
  const setConstants = (next: RegConstant[]) => emit({ ...definition, constants: next });
  const setConstant = (i: number, change: Partial<RegConstant>) => {
    let next: RegConstant = { ...constants[i] };
    for (const [k, v] of Object.entries(change)) next = withKey(next, k, v);
    setConstants(constants.map((c, j) => (j === i ? next : c)));
  };
  const names = params.map((p) => p.name);

  return (
    <Stack data-testid="registered-editor">
      <Title order={3} size="h4">
        {t("reg.backend")}
      </Title>
      <Text size="sm" c="dimmed">
        {t("reg.backendHelp")}
      </Text>
      <Group grow align="start">
        <TextInput
          label={t("reg.baseUrl")}
          description={t("reg.baseUrlHelp")}
          required
          placeholder="https://api.example.com/v1"
          classNames={{ input: "sluice-mono" }}
          value={String(definition.baseUrl ?? "")}
          onChange={(e) => emit({ ...definition, baseUrl: e.currentTarget.value })}
          error={definition.baseUrl && !/^https?:\/\/[^/?#]+/i.test(String(definition.baseUrl)) ? t("reg.baseUrlHelp") : undefined}
          errorProps={ERROR_TEXT}
        />
        <TextInput
          label={t("reg.path")}
          description={t("reg.pathHelp")}
          placeholder="/items/{id}"
          classNames={{ input: "sluice-mono" }}
          value={String(definition.path ?? "")}
          onChange={(e) => emit({ ...definition, path: e.currentTarget.value })}
        />
      </Group>
      <Group grow align="end">
        <Select label={t("reg.method")} data={METHODS} value={method} allowDeselect={false} onChange={(v) => set("method", v ?? "GET")} />
        <NumberInput
          label={t("reg.timeout")}
          description={t("reg.timeoutHelp")}
          min={1}
          max={MAX_TIMEOUT_MS}
          allowDecimal={false}
          allowNegative={false}
          value={typeof definition.timeoutMs === "number" ? definition.timeoutMs : ""}
          onChange={(v) => set("timeoutMs", v === "" ? undefined : Number(v))}
        />
        <Select label={t("reg.responseFormat")} data={FORMATS} value={String(definition.responseFormat ?? "JSON").toUpperCase()} allowDeselect={false} onChange={(v) => set("responseFormat", v ?? "JSON")} />
      </Group>

      <Title order={3} size="h4">
        {t("reg.params")}
      </Title>
      <Text size="sm" c="dimmed">
        {t("reg.paramsHelp")}
      </Text>
      <Table.ScrollContainer minWidth={900}>
        <Table data-testid="reg-params" withTableBorder>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("reg.param.name")}</Table.Th>
              <Table.Th>{t("reg.param.position")}</Table.Th>
              <Table.Th>{t("reg.param.type")}</Table.Th>
              <Table.Th>{t("reg.param.required")}</Table.Th>
              <Table.Th>{t("reg.param.default")}</Table.Th>
              <Table.Th>{t("reg.param.example")}</Table.Th>
              <Table.Th>{t("reg.param.description")}</Table.Th>
              <Table.Th>
                <span className="sluice-skip">{t("reg.param.remove")}</span>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {params.map((p, i) => {
              const position = p.position ?? "query";
              const nameError = !NAME.test(p.name) ? t("reg.param.nameRule") : names.indexOf(p.name) !== i ? t("reg.param.twice") : undefined;
              const pathError = (p.upstreamPosition ?? position) === "path" && !p.required && p.default === undefined ? t("reg.param.pathNeeds") : undefined;
              return (
                <Table.Tr key={i}>
                  <Table.Td>
                    <TextInput size="xs" aria-label={`${t("reg.param.name")} ${i + 1}`} classNames={{ input: "sluice-mono" }} value={p.name} onChange={(e) => setParam(i, { name: e.currentTarget.value })} error={nameError} errorProps={ERROR_TEXT} />
                  </Table.Td>
                  <Table.Td>
                    <Select
                      size="xs"
                      aria-label={`${t("reg.param.position")} ${i + 1}`}
                      data={POSITIONS.map((x) => ({ value: x, label: posLabel(x) }))}
                      value={position}
                      allowDeselect={false}
                      onChange={(v) => setParam(i, { position: (v ?? "query") as Position })}
                    />
                  </Table.Td>
                  <Table.Td>
                    <Select size="xs" aria-label={`${t("reg.param.type")} ${i + 1}`} data={TYPES} value={p.type ?? "string"} allowDeselect={false} onChange={(v) => setParam(i, { type: v ?? "string" })} />
                  </Table.Td>
                  <Table.Td>
                    <Checkbox aria-label={`${t("reg.param.required")} ${i + 1}`} checked={!!p.required} onChange={(e) => setParam(i, { required: e.currentTarget.checked })} />
                  </Table.Td>
                  <Table.Td>
                    <TextInput size="xs" aria-label={`${t("reg.param.default")} ${i + 1}`} value={p.default ?? ""} onChange={(e) => setParam(i, { default: e.currentTarget.value || undefined })} error={pathError} errorProps={ERROR_TEXT} />
                  </Table.Td>
                  <Table.Td>
                    <TextInput size="xs" aria-label={`${t("reg.param.example")} ${i + 1}`} value={p.example ?? ""} onChange={(e) => setParam(i, { example: e.currentTarget.value || undefined })} />
                  </Table.Td>
                  <Table.Td>
                    <TextInput size="xs" aria-label={`${t("reg.param.description")} ${i + 1}`} value={p.description ?? ""} onChange={(e) => setParams(params.map((q, j) => (j === i ? { ...q, description: e.currentTarget.value } : q)))} />
                  </Table.Td>
                  <Table.Td>
                    <ActionIcon variant="subtle" color="red" aria-label={`${t("reg.param.remove")} ${i + 1}`} onClick={() => removeParam(i)}>
                      ✕
                    </ActionIcon>
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {params.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t("reg.param.none")}
        </Text>
      ) : null}
      <Group>
        <Button size="xs" variant="light" onClick={() => setParams([...params, { name: "", position: "query", type: "string", required: false, description: "" }])}>
          {t("reg.param.add")}
        </Button>
      </Group>

      {params.length > 0 ? (
        <>
          <Title order={3} size="h4">
            {t("reg.mapping")}
          </Title>
          <Text size="sm" c="dimmed">
            {t("reg.mappingHelp")}
          </Text>
          <Table data-testid="reg-mapping" withTableBorder>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("reg.mapping.from")}</Table.Th>
                <Table.Th>{t("reg.mapping.name")}</Table.Th>
                <Table.Th>{t("reg.mapping.position")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {params.map((p, i) => {
                const position = p.position ?? "query";
                const target = p.upstreamPosition ?? position;
                return (
                  <Table.Tr key={i}>
                    <Table.Td className="sluice-mono">
                      {p.name || "—"} <Text span size="xs" c="dimmed">({posLabel(position)})</Text>
                    </Table.Td>
                    <Table.Td>
                      <TextInput
                        size="xs"
                        aria-label={`${t("reg.mapping.name")} ${i + 1}`}
                        classNames={{ input: "sluice-mono" }}
                        placeholder={p.name}
                        value={p.upstreamName ?? ""}
                        onChange={(e) => setParam(i, { upstreamName: e.currentTarget.value || undefined })}
                      />
                    </Table.Td>
                    <Table.Td>
                      <Select
                        size="xs"
                        aria-label={`${t("reg.mapping.position")} ${i + 1}`}
                        data={[
                          { value: "", label: t("reg.mapping.same", { position: posLabel(position) }), disabled: position === "body" && !takesBody },
                          ...POSITIONS.map((x) => ({ value: x, label: posLabel(x), disabled: x === "body" && !takesBody })),
                        ]}
                        value={p.upstreamPosition ?? ""}
                        allowDeselect={false}
                        onChange={(v) => setParam(i, { upstreamPosition: (v || undefined) as Position | undefined })}
                        error={target === "body" && !takesBody ? t("reg.mapping.bodyNeedsPost") : undefined}
                        errorProps={ERROR_TEXT}
                      />
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </>
      ) : null}

      <Title order={3} size="h4">
        {t("reg.constants")}
      </Title>
      <Text size="sm" c="dimmed">
        {t("reg.constantsHelp")}
      </Text>
      <Table data-testid="reg-constants" withTableBorder>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("reg.const.name")}</Table.Th>
            <Table.Th>{t("reg.const.position")}</Table.Th>
            <Table.Th>{t("reg.const.value")}</Table.Th>
            <Table.Th>{t("reg.const.state")}</Table.Th>
            <Table.Th>
              <span className="sluice-skip">{t("reg.const.remove")}</span>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {constants.map((c, i) => {
            const kept = c.value === undefined && stored.current.has(constantKey(c));
            const missing = c.value === undefined && !kept;
            return (
              <Table.Tr key={i} data-state={kept ? "kept" : missing ? "missing" : "new"}>
                <Table.Td w="28%">
                  <TextInput size="xs" aria-label={`${t("reg.const.name")} ${i + 1}`} classNames={{ input: "sluice-mono" }} value={c.name} onChange={(e) => setConstant(i, { name: e.currentTarget.value })} error={!c.name.trim()} />
                </Table.Td>
                <Table.Td w="16%">
                  <Select
                    size="xs"
                    aria-label={`${t("reg.const.position")} ${i + 1}`}
                    data={CONSTANT_POSITIONS.map((x) => ({ value: x, label: posLabel(x), disabled: x === "body" && !takesBody }))}
                    value={c.position}
                    allowDeselect={false}
                    onChange={(v) => setConstant(i, { position: (v ?? "header") as ConstantPosition })}
                    error={c.position === "body" && !takesBody ? t("reg.mapping.bodyNeedsPost") : undefined}
                    errorProps={ERROR_TEXT}
                  />
                </Table.Td>
                <Table.Td w="36%">
                  <PasswordInput
                    size="xs"
                    aria-label={`${t("reg.const.value")} ${i + 1}`}
                    autoComplete="new-password"
                    placeholder={kept ? t("reg.const.keptPlaceholder") : undefined}
                    value={c.value ?? ""}
                    // Empty means "no new value": the stored one is kept (never an empty secret).
                    onChange={(e) => setConstant(i, { value: e.currentTarget.value || undefined })}
                    error={missing ? t("reg.const.missingHelp") : undefined}
                    errorProps={ERROR_TEXT}
                    visibilityToggleButtonProps={{ "aria-label": t("reg.const.showValue") }}
                  />
                </Table.Td>
                <Table.Td>
                  <Badge color={kept ? "gray" : missing ? "red" : "blue"} variant="light" data-testid={`constant-state-${i + 1}`}>
                    {kept ? t("reg.const.kept") : missing ? t("reg.const.missing") : t("reg.const.newValue")}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  <ActionIcon variant="subtle" color="red" aria-label={`${t("reg.const.remove")} ${i + 1}`} onClick={() => setConstants(constants.filter((_, j) => j !== i))}>
                    ✕
                  </ActionIcon>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
      {constants.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t("reg.const.none")}
        </Text>
      ) : null}
      <Group>
        <Button size="xs" variant="light" onClick={() => setConstants([...constants, { name: "", position: "header" }])}>
          {t("reg.const.add")}
        </Button>
      </Group>

      <ValidationSection definition={definition} params={params} takesBody={takesBody} onChange={(v) => set("validation", v)} />

      <JsonView definition={definition} onChange={emit} />
    </Stack>
  );
}

/** Schema validation: the switch, a schema per parameter, the body's and the answer's. */
function ValidationSection({ definition, params, takesBody, onChange }: { definition: Definition; params: RegParam[]; takesBody: boolean; onChange: (v: Validation | undefined) => void }) {
  const t = useT();
  const validation = definition.validation as Validation | undefined;
  const enabled = validation ? validation.enabled !== false : false;
  const hasSchemas = (v: Validation) => Object.keys(v.params ?? {}).length > 0 || v.body !== undefined || v.response !== undefined;
  // A schema given while there is no `validation` turns it on, as the server reads it.
  const change = (key: "params" | "body" | "response", value: unknown) => onChange(withKey(validation ?? { enabled: true }, key, value));
  const setParamSchema = (name: string, schema: unknown) => {
    const schemas = { ...(validation?.params ?? {}) };
    if (schema === undefined) delete schemas[name];
    else schemas[name] = schema;
    change("params", Object.keys(schemas).length ? schemas : undefined);
  };
  const bodyParams = params.some((p) => (p.upstreamPosition ?? p.position ?? "query") === "body");
  return (
    <>
      <Title order={3} size="h4">
        {t("reg.validation")}
      </Title>
      <Text size="sm" c="dimmed">
        {t("reg.validationHelp")}
      </Text>
      <Switch
        label={t("reg.validation.enabled")}
        description={t("reg.validation.enabledHelp")}
        checked={enabled}
        onChange={(e) => {
          const on = e.currentTarget.checked;
          if (on) onChange({ ...(validation ?? {}), enabled: true });
          else if (validation && hasSchemas(validation)) onChange({ ...validation, enabled: false });
          else onChange(undefined);
        }}
      />
      {params.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t("reg.validation.noParams")}
        </Text>
      ) : null}
      {params
        .filter((p) => p.name)
        .map((p, i) => (
          <SchemaSwitch key={i} label={t("reg.validation.param", { name: p.name })} schema={validation?.params?.[p.name]} onChange={(s) => setParamSchema(p.name, s)} />
        ))}
      <SchemaSwitch
        label={t("reg.validation.body")}
        description={takesBody && bodyParams ? t("reg.validation.bodyHelp") : t("reg.validation.bodyNeedsParam")}
        schema={validation?.body}
        onChange={(s) => change("body", s)}
      />
      <SchemaSwitch label={t("reg.validation.response")} description={t("reg.validation.responseHelp")} schema={validation?.response} onChange={(s) => change("response", s)} />
    </>
  );
}

/** A switch that gives (or takes away) a JSON Schema, edited as JSON text when on. */
function SchemaSwitch({ label, description, schema, onChange }: { label: string; description?: string; schema: unknown; onChange: (schema: unknown) => void }) {
  const t = useT();
  const shown = schema === undefined ? "" : JSON.stringify(schema, null, 2);
  const [local, setLocal] = useState<{ text: string; for: unknown; error?: string }>();
  const text = local && local.for === schema ? local.text : shown;
  return (
    <Stack gap={4}>
      <Switch
        label={label}
        description={description}
        checked={schema !== undefined}
        onChange={(e) => {
          setLocal(undefined);
          onChange(e.currentTarget.checked ? { type: "object" } : undefined);
        }}
      />
      {schema !== undefined ? (
        <Textarea
          aria-label={label}
          autosize
          minRows={2}
          maxRows={12}
          classNames={{ input: "sluice-mono" }}
          value={text}
          error={local && local.for === schema ? local.error : undefined}
          errorProps={ERROR_TEXT}
          onChange={(e) => {
            const value = e.currentTarget.value;
            try {
              const parsed: unknown = JSON.parse(value);
              if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("{ … }");
              setLocal({ text: value, for: parsed });
              onChange(parsed);
            } catch (err) {
              setLocal({ text: value, for: schema, error: t("reg.schema.invalid", { error: (err as Error).message }) });
            }
          }}
        />
      ) : null}
    </Stack>
  );
}

/** The definition as JSON, constants left out (their values are secrets): keys the form does not cover. */
function JsonView({ definition, onChange }: { definition: Definition; onChange: (d: Definition) => void }) {
  const t = useT();
  const [open, setOpen] = useState(false);
  const { constants, ...rest } = definition;
  const shown = JSON.stringify(rest, null, 2);
  const [local, setLocal] = useState<{ text: string; for: Definition; error?: string }>();
  const text = local && local.for === definition ? local.text : shown;
  return (
    <Stack gap="xs">
      <Group>
        <Button size="xs" variant="default" aria-expanded={open} aria-controls={open ? "registered-json" : undefined} onClick={() => setOpen((o) => !o)}>
          {open ? t("reg.json.hide") : t("reg.json.show")}
        </Button>
      </Group>
      {open ? (
        <Stack gap="xs" id="registered-json">
          <Text size="sm" c="dimmed">
            {t("reg.json.help")}
          </Text>
          <Textarea
            label={t("reg.json.label")}
            autosize
            minRows={8}
            maxRows={30}
            classNames={{ input: "sluice-mono" }}
            value={text}
            error={local && local.for === definition ? local.error : undefined}
            errorProps={ERROR_TEXT}
            onChange={(e) => {
              const value = e.currentTarget.value;
              try {
                const parsed = JSON.parse(value) as Definition;
                if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("{ … }");
                // Constants stay as the form has them, whatever the text says.
                const { constants: _ignored, ...keys } = parsed;
                const next = (constants === undefined ? keys : { ...keys, constants }) as Definition;
                setLocal({ text: value, for: next });
                onChange(next);
              } catch (err) {
                setLocal({ text: value, for: definition, error: t("reg.json.invalid", { error: (err as Error).message }) });
              }
            }}
          />
        </Stack>
      ) : null}
    </Stack>
  );
}
