// The approvals inbox: requests waiting on the reader (listings, applications, publishing to
// production) and the reader's own; approve with a comment (and QPS and expiry for an
// application), reject with a reason, withdraw one's own.
import { useState } from "react";
import { Badge, Button, Group, Modal, NumberInput, SegmentedControl, Select, Stack, Table, Text, Textarea, TextInput, Title } from "@mantine/core";
import { api, query, type Page } from "../api";
import { useAction, useLoad } from "../hooks";
import { useT } from "../i18n";
import { Pager, useAddressState } from "../components/Pager";
import { ErrorAlert } from "../components/ErrorAlert";
import { when } from "../types";

interface Approval {
  id: number;
  kind: string;
  state: string;
  apiName: string;
  workgroup: string;
  app: string | null;
  applicantWorkgroup: string | null;
  requestedBy: string;
  reason: string;
  comment: string;
  createdAt: number;
  canDecide: boolean;
}

type Decision = { approval: Approval; action: "approve" | "reject" };

const PAGE_SIZE = 20;

export default function Approvals() {
  const t = useT();
  const { params, set, page } = useAddressState();
  const box = params.get("box") ?? "todo";
  const state = params.get("state") ?? (box === "todo" ? "pending" : "");
  const list = useLoad((signal) => api<Page<Approval>>("GET", `/approvals${query({ box, state, pageNum: page, pageSize: PAGE_SIZE })}`, undefined, { signal }), [box, state, page]);
  const [deciding, setDeciding] = useState<Decision>();
  const withdraw = useAction((a: Approval) => api("POST", `/approvals/${a.id}/withdraw`), t("approvals.withdrawn"));
  return (
    <>
      <Title order={2} mb="md">
        {t("approvals.title")}
      </Title>
      <Group mb="md" align="end">
        <SegmentedControl aria-label={t("approvals.box")} value={box} onChange={(v) => set({ box: v, state: "" })} data={[{ value: "todo", label: t("approvals.todo") }, { value: "mine", label: t("approvals.mine") }]} />
        <Select aria-label={t("approvals.state")} value={state} onChange={(v) => set({ state: v ?? "" })} data={[{ value: "", label: t("common.all") }, ...["pending", "approved", "rejected", "withdrawn", "cancelled"].map((s) => ({ value: s, label: t(`approvals.state.${s}` as "approvals.state.pending") }))]} />
      </Group>
      <ErrorAlert error={list.error} />
      <Table striped data-testid="approval-list">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>#</Table.Th>
            <Table.Th>{t("approvals.kind")}</Table.Th>
            <Table.Th>{t("apis.name")}</Table.Th>
            <Table.Th>{t("approvals.from")}</Table.Th>
            <Table.Th>{t("market.reason")}</Table.Th>
            <Table.Th>{t("approvals.state")}</Table.Th>
            <Table.Th>{t("common.actions")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.data?.items.map((a) => (
            <Table.Tr key={a.id}>
              <Table.Td>{a.id}</Table.Td>
              <Table.Td>{t(`approvals.kind.${a.kind}` as "approvals.kind.listing")}</Table.Td>
              <Table.Td>
                {a.apiName} <Text span size="xs" c="dimmed">({a.workgroup})</Text>
              </Table.Td>
              <Table.Td>
                {a.requestedBy}
                {a.app ? ` · ${a.app}` : ""}
                {a.applicantWorkgroup ? ` (${a.applicantWorkgroup})` : ""}
                <Text size="xs" c="dimmed">
                  {when(a.createdAt)}
                </Text>
              </Table.Td>
              <Table.Td>{a.reason}</Table.Td>
              <Table.Td>
                <Badge color={a.state === "approved" ? "green" : a.state === "pending" ? "yellow" : "gray"}>{t(`approvals.state.${a.state}` as "approvals.state.pending")}</Badge>
              </Table.Td>
              <Table.Td>
                <Group gap="xs">
                  {a.canDecide && a.state === "pending" ? (
                    <>
                      <Button size="xs" onClick={() => setDeciding({ approval: a, action: "approve" })}>
                        {t("approvals.approve")}
                      </Button>
                      <Button size="xs" color="red" variant="light" onClick={() => setDeciding({ approval: a, action: "reject" })}>
                        {t("approvals.reject")}
                      </Button>
                    </>
                  ) : null}
                  {box === "mine" && a.state === "pending" ? (
                    <Button size="xs" variant="subtle" onClick={async () => { if ((await withdraw.act(a)) !== undefined) list.reload(); }}>
                      {t("approvals.withdraw")}
                    </Button>
                  ) : null}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {list.data && list.data.total === 0 ? <Text c="dimmed">{t("approvals.none")}</Text> : null}
      <Group justify="end" mt="md">
        <Pager total={list.data?.total} page={page} onChange={(p) => set({ page: String(p) })} pageSize={PAGE_SIZE} />
      </Group>
      {deciding ? (
        <DecideDialog
          decision={deciding}
          onClose={() => setDeciding(undefined)}
          onDone={() => {
            setDeciding(undefined);
            list.reload();
          }}
        />
      ) : null}
    </>
  );
}

function DecideDialog({ decision, onClose, onDone }: { decision: Decision; onClose: () => void; onDone: () => void }) {
  const t = useT();
  const { approval, action } = decision;
  const [comment, setComment] = useState("");
  const [qps, setQps] = useState<number | string>("");
  const [expires, setExpires] = useState("");
  const [checked, setChecked] = useState(false);
  const decide = useAction(
    () =>
      action === "approve"
        ? api("POST", `/approvals/${approval.id}/approve`, {
            ...(comment ? { comment } : {}),
            ...(approval.kind === "application" && qps !== "" ? { qps: Number(qps) } : {}),
            ...(approval.kind === "application" && expires ? { expiresAt: new Date(expires).getTime() } : {}),
          })
        : api("POST", `/approvals/${approval.id}/reject`, { comment }),
    action === "approve" ? t("approvals.approved") : t("approvals.rejected"),
  );
  return (
    <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened onClose={onClose} title={`${action === "approve" ? t("approvals.approve") : t("approvals.reject")} #${approval.id}: ${approval.apiName}`}>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          setChecked(true);
          if (action === "reject" && !comment.trim()) return;
          if ((await decide.act()) !== undefined) onDone();
        }}
      >
        <Stack>
          <ErrorAlert error={decide.error} />
          <Textarea label={action === "reject" ? t("approvals.rejectReason") : t("approvals.comment")} required={action === "reject"} value={comment} onChange={(e) => setComment(e.currentTarget.value)} error={checked && action === "reject" && !comment.trim() ? t("form.required") : undefined} />
          {action === "approve" && approval.kind === "application" ? (
            <Group grow>
              <NumberInput label={t("grants.qps")} min={1} value={qps} onChange={setQps} />
              <TextInput label={t("grants.expires")} type="datetime-local" value={expires} onChange={(e) => setExpires(e.currentTarget.value)} />
            </Group>
          ) : null}
          <Group justify="end">
            <Button variant="default" onClick={onClose}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" color={action === "reject" ? "red" : undefined} loading={decide.pending}>
              {action === "approve" ? t("approvals.approve") : t("approvals.reject")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
