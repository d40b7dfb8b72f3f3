import { Alert, Code, Text } from "@mantine/core";
import type { ApiError } from "../api";

/** An API error as the API gave it: code and message (and the request id to quote). */
export function ErrorAlert({ error }: { error: ApiError | undefined }) {
  if (!error) return null;
  return (
    <Alert color="red" title={error.code} role="alert" mb="sm">
      <Text size="sm">{error.message}</Text>
      {error.requestId ? (
        <Text size="xs" c="dimmed">
          request <Code>{error.requestId}</Code>
        </Text>
      ) : null}
    </Alert>
  );
}
