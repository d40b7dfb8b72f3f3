// The marketplace: APIs every workgroup lists, searched and paged on the server.
import { useState } from "react";
import { Badge, Card, Group, Select, Stack, Text, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { Link } from "react-router";
import { api, query, type Page } from "../api";
import { useLoad } from "../hooks";
import { useT } from "../i18n";
import { Pager, useAddressState } from "../components/Pager";
import { ErrorAlert } from "../components/ErrorAlert";
import { SECURITY_LEVELS, type SecurityLevel } from "../types";

export interface MarketEntry {
  apiId: number;
  name: string;
  method: string;
  path: string;
  description: string;
  workgroup: string;
  owner: string;
  securityLevel: SecurityLevel;
  maxQps: number | null;
  listing: { category: string; tags: string[]; summary: string; documentation: string; successSample?: unknown; failureSample?: unknown };
  listedAt: number;
}

const PAGE_SIZE = 12;

export default function Marketplace() {
  const t = useT();
  const { params, set, page } = useAddressState();
  const q = params.get("q") ?? "";
  const level = params.get("level") ?? "";
  const sort = params.get("sort") ?? "name";
  const [typed, setTyped] = useState(q);
  const [debounced] = useDebouncedValue(typed, 300);
  if (debounced !== q) queueMicrotask(() => set({ q: debounced }));
  const list = useLoad((signal) => api<Page<MarketEntry>>("GET", `/marketplace/apis${query({ q, level, sort, pageNum: page, pageSize: PAGE_SIZE })}`, undefined, { signal }), [q, level, sort, page]);
  return (
    <>
      <Title order={2} mb="md">
        {t("market.title")}
      </Title>
      <Group mb="md" align="end">
        <TextInput label={t("market.search")} value={typed} onChange={(e) => setTyped(e.currentTarget.value)} />
        <Select label={t("apis.securityLevel")} value={level} onChange={(v) => set({ level: v ?? "" })} data={[{ value: "", label: t("common.all") }, ...SECURITY_LEVELS]} />
        <Select label={t("market.sort")} value={sort} allowDeselect={false} onChange={(v) => set({ sort: v ?? "name" })} data={[{ value: "name", label: t("market.byName") }, { value: "newest", label: t("market.newest") }]} />
      </Group>
      <ErrorAlert error={list.error} />
      <Stack data-testid="market-list">
        {list.data?.items.map((e) => (
          <Card key={e.apiId} withBorder>
            <Group justify="space-between">
              <Link to={`/marketplace/${e.apiId}`}>
                <Text fw={600}>{e.name}</Text>
              </Link>
              <Group gap={4}>
                <Badge>{e.securityLevel}</Badge>
                {e.listing.category ? <Badge color="gray">{e.listing.category}</Badge> : null}
              </Group>
            </Group>
            <Text size="sm">{e.listing.summary || e.description}</Text>
            <Text size="xs" c="dimmed">
              {t("market.by", { workgroup: e.workgroup, owner: e.owner || "—" })} · <span className="sluice-mono">{e.method} {e.path}</span>
            </Text>
          </Card>
        ))}
      </Stack>
      {list.data && list.data.total === 0 ? <Text c="dimmed">{t("market.none")}</Text> : null}
      <Group justify="end" mt="md">
        <Pager total={list.data?.total} page={page} onChange={(p) => set({ page: String(p) })} pageSize={PAGE_SIZE} />
      </Group>
    </>
  );
}
