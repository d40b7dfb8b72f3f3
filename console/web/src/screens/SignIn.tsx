// Sign in with a user token (`POST /admin/v1/users/{user}/tokens`, or the bootstrap token
// in data/admin.token). The token is kept in memory only.
import { useState } from "react";
import { Button, Center, Paper, PasswordInput, Stack, Text, Title, SegmentedControl } from "@mantine/core";
import { useLocation, useNavigate } from "react-router";
import { useSession } from "../session";
import { useT, useLanguage, type Language } from "../i18n";
import { asApiError } from "../hooks";
import { ErrorAlert } from "../components/ErrorAlert";
import type { ApiError } from "../api";

export function SignIn() {
  const t = useT();
  const { language, setLanguage } = useLanguage();
  const { signIn } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [token, setToken] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [missing, setMissing] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? "/";
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!token.trim()) {
      setMissing(true);
      return;
    }
    setPending(true);
    setError(undefined);
    try {
      await signIn(token.trim());
      navigate(from === "/signin" ? "/" : from, { replace: true });
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setPending(false);
    }
  };
  return (
    <main>
      <Center mih="100vh" p="md">
        <Paper withBorder p="xl" w={420} component="form" onSubmit={submit} noValidate>
          <Stack>
            <Title order={1} size="h3">
              {t("signin.title")}
            </Title>
            <Text size="sm" c="dimmed">
              {t("signin.help")}
            </Text>
            <ErrorAlert error={error} />
            <PasswordInput
              label={t("signin.token")}
              name="token"
              autoComplete="off"
              value={token}
              onChange={(e) => {
                setToken(e.currentTarget.value);
                setMissing(false);
              }}
              error={missing ? t("signin.tokenMissing") : undefined}
              autoFocus
            />
            <Button type="submit" loading={pending}>
              {t("signin.submit")}
            </Button>
            <SegmentedControl
              size="xs"
              aria-label={t("nav.language")}
              value={language}
              onChange={(v) => setLanguage(v as Language)}
              data={[
                { value: "en", label: "EN" },
                { value: "zh-CN", label: "中文" },
              ]}
            />
          </Stack>
        </Paper>
      </Center>
    </main>
  );
}
