// Tokens as the console shows them, for apps and for users alike: the text once, right
// after issuing, then a list of prefixes with revoke.
import type { ReactNode } from "react";
import { Badge, Button, Code, Stack, Table, Text } from "@mantine/core";
import { useT } from "../i18n";

/** A token just issued: its text, which the server never shows again. */
export function TokenShownOnce({ text, testId }: { text: string | undefined; testId: string }) {
  const t = useT();
  if (!text) return null;
  return (
    <Stack gap={4} mb="sm">
      <Text size="sm">{t("apps.tokenOnce")}</Text>
      <Code block data-testid={testId}>
        {text}
      </Code>
    </Stack>
  );
}

export interface TokenRow {
  id: number;
  prefix: string;
  revoked: boolean;
}

/** The tokens by prefix, then `columns` (header, cell), then revoke or "revoked". */
export function TokenTable<T extends TokenRow>({ tokens, columns, onRevoke }: { tokens: T[]; columns: [string, (token: T) => ReactNode][]; onRevoke: (id: number) => void }) {
  const t = useT();
  return (
    <Table withTableBorder>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t("apps.prefix")}</Table.Th>
          {columns.map(([header]) => (
            <Table.Th key={header}>{header}</Table.Th>
          ))}
          <Table.Th>{t("common.actions")}</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {tokens.map((token) => (
          <Table.Tr key={token.id}>
            <Table.Td className="sluice-mono">{token.prefix}…</Table.Td>
            {columns.map(([header, cell]) => (
              <Table.Td key={header}>{cell(token)}</Table.Td>
            ))}
            <Table.Td>
              {token.revoked ? (
                <Badge color="gray">{t("apps.revoked")}</Badge>
              ) : (
                <Button size="xs" variant="subtle" color="red" onClick={() => onRevoke(token.id)}>
                  {t("grants.revoke")}
                </Button>
              )}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
