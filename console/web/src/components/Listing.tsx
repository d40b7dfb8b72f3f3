// The API's marketplace listing: what the team writes for readers, then a request to list
// (or delist) that a platform admin approves.
import { useEffect, useState } from "react";
import { Alert, Badge, Button, Group, Paper, Stack, TagsInput, Textarea, TextInput, Title } from "@mantine/core";
import { api, ApiError, seg } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { ErrorAlert } from "./ErrorAlert";
import type { ApiView } from "../types";

interface ListingInfo {
  category: string;
  tags: string[];
  summary: string;
  documentation: string;
}

interface ListingView {
  state: string;
  draft: ListingInfo;
  listed: ListingInfo | null;
  pendingRequest: { id: number; kind: string } | null;
}

export function Listing({ wg, view }: { wg: string; view: ApiView }) {
  const t = useT();
  const base = `/workgroups/${seg(wg)}/apis/${view.id}/listing`;
  // An API never listed has no listing yet: that is the empty draft, not an error.
  const listing = useLoad(
    (signal) =>
      api<ListingView>("GET", base, undefined, { signal }).catch((e) => {
        if (e instanceof ApiError && e.status === 404) return { state: "draft", draft: { category: "", tags: [], summary: "", documentation: "" }, listed: null, pendingRequest: null };
        throw e;
      }),
    [base],
  );
  const [info, setInfo] = useState<ListingInfo>({ category: "", tags: [], summary: "", documentation: "" });
  const [reason, setReason] = useState("");
  useEffect(() => {
    if (listing.data) setInfo({ category: listing.data.draft.category, tags: listing.data.draft.tags, summary: listing.data.draft.summary, documentation: listing.data.draft.documentation });
  }, [listing.data]);
  const save = useAction(() => api("PUT", base, info), t("common.saved"));
  const submit = useAction(() => api("POST", `${base}/submit`, reason ? { reason } : {}), t("listing.submitted"));
  const delist = useAction(() => api("POST", `${base}/delist`, reason ? { reason } : {}), t("listing.submitted"));
  const state = listing.data?.state;
  return (
    <Paper withBorder p="md">
      <Group mb="sm">
        <Title order={3} size="h4">
          {t("listing.title")}
        </Title>
        {state ? <Badge data-testid="listing-state">{t(`listing.state.${state}` as "listing.state.draft")}</Badge> : null}
      </Group>
      <ErrorAlert error={listing.error} />
      {listing.data?.pendingRequest ? <Alert mb="sm">{t("listing.pending", { id: listing.data.pendingRequest.id })}</Alert> : null}
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          if ((await save.act()) !== undefined) listing.reload();
        }}
      >
        <Stack>
          <ErrorAlert error={save.error ?? submit.error ?? delist.error} />
          <Group grow>
            <TextInput label={t("listing.category")} value={info.category} onChange={(e) => setInfo({ ...info, category: e.currentTarget.value })} />
            <TagsInput label={t("apis.tags")} value={info.tags} onChange={(tags) => setInfo({ ...info, tags })} />
          </Group>
          <TextInput label={t("listing.summary")} value={info.summary} onChange={(e) => setInfo({ ...info, summary: e.currentTarget.value })} error={save.error?.field === "summary" ? save.error.message : undefined} />
          <Textarea label={t("market.documentation")} autosize minRows={4} value={info.documentation} onChange={(e) => setInfo({ ...info, documentation: e.currentTarget.value })} />
          <Group justify="end">
            <Button type="submit" variant="light" loading={save.pending}>
              {t("listing.save")}
            </Button>
          </Group>
          <TextInput label={t("listing.reason")} value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
          <Group justify="end">
            {state === "listed" ? (
              <Button color="red" variant="light" loading={delist.pending} onClick={async () => { if ((await delist.act()) !== undefined) listing.reload(); }}>
                {t("listing.delist")}
              </Button>
            ) : null}
            <Button loading={submit.pending} disabled={!!listing.data?.pendingRequest} onClick={async () => { if ((await submit.act()) !== undefined) listing.reload(); }}>
              {t("listing.submit")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
