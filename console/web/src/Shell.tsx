// The frame around every signed-in screen: header (workgroup, language, user) and the
// navigation of the chosen workgroup.
import type { ReactNode } from "react";
import { AppShell, Burger, Group, NavLink, NativeSelect, SegmentedControl, Button, Text, Title, ScrollArea } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { Link, useLocation, useNavigate, useParams, matchPath } from "react-router";
import { useSession } from "./session";
import { useT, useLanguage, type Language } from "./i18n";

/** The workgroup in the address, if any. */
export function useWorkgroup(): string {
  const params = useParams();
  const location = useLocation();
  return params.wg ?? matchPath("/w/:wg/*", location.pathname)?.params.wg ?? "";
}

export function Shell({ children }: { children: ReactNode }) {
  const t = useT();
  const { language, setLanguage } = useLanguage();
  const { me, workgroups, signOut } = useSession();
  const [opened, { toggle }] = useDisclosure();
  const location = useLocation();
  const navigate = useNavigate();
  const wg = matchPath("/w/:wg/*", location.pathname)?.params.wg ?? workgroups[0] ?? "";
  const here = (path: string) => location.pathname === path || location.pathname.startsWith(`${path}/`);
  const workgroupLinks: [string, string][] = [
    ["apis", t("nav.apis")],
    ["datasources", t("nav.datasources")],
    ["folders", t("nav.folders")],
    ["apps", t("nav.apps")],
    ["members", t("nav.members")],
    ["reports", t("nav.reports")],
    ["settings", t("nav.settings")],
  ];
  const platformLinks: [string, string][] = [
    ["/marketplace", t("nav.marketplace")],
    ["/approvals", t("nav.approvals")],
    ["/workgroups", t("nav.workgroups")],
    // Users and their tokens are the platform administrators' to manage.
    ...(me?.user.platformAdmin
      ? [["/users", t("nav.users")] as [string, string], ["/platform", t("nav.platformSettings")] as [string, string]]
      : []),
    ["/docs", t("nav.docs")],
  ];
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <a className="sluice-skip" href="#main">
        {t("nav.skip")}
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={t("nav.menu")} />
            <Title order={1} size="h4">
              <Link to="/" style={{ color: "inherit", textDecoration: "none" }}>
                Sluice
              </Link>
            </Title>
            {workgroups.length > 0 ? (
              <NativeSelect
                aria-label={t("nav.workgroup")}
                data={workgroups.includes(wg) || !wg ? workgroups : [wg, ...workgroups]}
                value={wg}
                onChange={(e) => navigate(`/w/${encodeURIComponent(e.currentTarget.value)}/apis`)}
              />
            ) : null}
          </Group>
          <Group wrap="nowrap">
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
            <Text size="sm" data-testid="user-name">
              {me?.user.displayName || me?.user.name}
            </Text>
            <Button variant="default" size="xs" onClick={signOut}>
              {t("nav.signOut")}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label={t("nav.main")}>
        <ScrollArea>
          {wg ? (
            <>
              <Text size="xs" c="dimmed" px="sm" pt="xs">
                {t("nav.workgroup")}: {wg}
              </Text>
              {workgroupLinks.map(([path, label]) => {
                const to = `/w/${encodeURIComponent(wg)}/${path}`;
                return <NavLink key={path} component={Link} to={to} label={label} active={here(to)} />;
              })}
            </>
          ) : null}
          <Text size="xs" c="dimmed" px="sm" pt="md">
            {t("nav.platform")}
          </Text>
          {platformLinks.map(([to, label]) => (
            <NavLink key={to} component={Link} to={to} label={label} active={here(to)} />
          ))}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        {children}
      </AppShell.Main>
    </AppShell>
  );
}

export type { Language };
