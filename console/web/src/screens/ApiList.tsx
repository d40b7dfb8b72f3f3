// The workgroup's APIs: filtered and paged by the server (`GET …/apis?name=&status=&folderId=`).
import { useState } from "react";
import { Badge, Button, Group, Select, Table, TextInput, Title, Text, Skeleton } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { Link } from "react-router";
import { api, query, seg, type Page } from "../api";
import { useLoad } from "../hooks";
import { useT } from "../i18n";
import { Pager, useAddressState } from "../components/Pager";
import { useWorkgroup } from "../Shell";
import { ErrorAlert } from "../components/ErrorAlert";
import { when, type ApiSummary, type Folder } from "../types";

const PAGE_SIZE = 20;

export function ApiList() {
  const t = useT();
  const wg = useWorkgroup();
  const { params, set, page } = useAddressState();
  const name = params.get("name") ?? "";
  const status = params.get("status") ?? "";
  const folderId = params.get("folderId") ?? "";
  const [typed, setTyped] = useState(name);
  const [debounced] = useDebouncedValue(typed, 300);
  if (debounced !== name) queueMicrotask(() => set({ name: debounced }));
  const apis = useLoad(
    (signal) => api<Page<ApiSummary>>("GET", `/workgroups/${seg(wg)}/apis${query({ name, status, folderId, pageNum: page, pageSize: PAGE_SIZE })}`, undefined, { signal }),
    [wg, name, status, folderId, page],
  );
  const folders = useLoad((signal) => api<Page<Folder>>("GET", `/workgroups/${seg(wg)}/folders?pageSize=500`, undefined, { signal }), [wg]);
  const folderName = new Map(folders.data?.items.map((f) => [f.id, f.name]) ?? []);
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>{t("apis.title")}</Title>
        <Button component={Link} to={`/w/${seg(wg)}/apis/new`}>
          {t("apis.new")}
        </Button>
      </Group>
      <Group mb="md" align="end">
        <TextInput label={t("apis.filterName")} value={typed} onChange={(e) => setTyped(e.currentTarget.value)} />
        <Select
          label={t("apis.filterStatus")}
          value={status}
          onChange={(v) => set({ status: v ?? "" })}
          data={[
            { value: "", label: t("common.all") },
            { value: "draft", label: t("apis.status.draft") },
            { value: "published", label: t("apis.status.published") },
            { value: "prod", label: t("apis.status.prod") },
            { value: "test", label: t("apis.status.test") },
          ]}
        />
        <Select
          label={t("apis.filterFolder")}
          value={folderId}
          onChange={(v) => set({ folderId: v ?? "" })}
          data={[{ value: "", label: t("common.all") }, ...(folders.data?.items.map((f) => ({ value: String(f.id), label: f.name })) ?? [])]}
        />
      </Group>
      <ErrorAlert error={apis.error} />
      {apis.loading && !apis.data ? (
        <Skeleton h={200} />
      ) : (
        <Table striped highlightOnHover data-testid="api-list" aria-busy={apis.loading}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("apis.name")}</Table.Th>
              <Table.Th>{t("apis.mode")}</Table.Th>
              <Table.Th>{t("apis.path")}</Table.Th>
              <Table.Th>{t("apis.folder")}</Table.Th>
              <Table.Th>{t("apis.published")}</Table.Th>
              <Table.Th>{t("apis.updated")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {apis.data?.items.map((a) => (
              <Table.Tr key={a.id}>
                <Table.Td>
                  <Link to={`/w/${seg(wg)}/apis/${a.id}`}>{a.name}</Link>
                </Table.Td>
                <Table.Td>{t(`mode.${a.mode}` as "mode.wizard")}</Table.Td>
                <Table.Td className="sluice-mono">
                  {a.method} {a.path}
                </Table.Td>
                <Table.Td>{a.folderId ? folderName.get(a.folderId) ?? a.folderId : ""}</Table.Td>
                <Table.Td>
                  {a.publications.map((p) => (
                    <Badge key={p.environment} color={p.environment === "prod" ? "green" : "yellow"} mr={4}>
                      {p.environment} V{p.version}
                    </Badge>
                  ))}
                </Table.Td>
                <Table.Td>{when(a.updatedAt)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {apis.data && apis.data.total === 0 ? <Text c="dimmed">{t("apis.none")}</Text> : null}
      <Group justify="space-between" mt="md">
        <Text size="sm" c="dimmed">
          {t("common.total")}: {apis.data?.total ?? 0}
        </Text>
        <Pager total={apis.data?.total} page={page} onChange={(p) => set({ page: String(p) })} pageSize={PAGE_SIZE} />
      </Group>
    </>
  );
}
