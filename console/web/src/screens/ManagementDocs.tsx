// The management API's own documentation, inside the console (where `/admin/v1/docs` now
// leads). Anyone may read it; "try it" calls the API with the signed-in user's token.
import { Anchor, Group, Title } from "@mantine/core";
import { Link } from "react-router";
import { ApiDocument } from "../components/ApiDocument";
import { useT } from "../i18n";
import { useSession } from "../session";

export default function ManagementDocs() {
  const t = useT();
  const { token } = useSession();
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>{t("nav.docs")}</Title>
        {token ? null : (
          <Anchor component={Link} to="/signin" state={{ from: "/docs" }}>
            {t("doc.signInToTry")}
          </Anchor>
        )}
      </Group>
      <ApiDocument path="/openapi.json" tryIt={!!token} />
    </>
  );
}
