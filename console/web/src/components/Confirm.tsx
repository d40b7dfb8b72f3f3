import { Button, Group, Modal, Text } from "@mantine/core";
import { useT } from "../i18n";

/** Asks before a destructive action. */
export function Confirm({ opened, message, onCancel, onConfirm, pending }: { opened: boolean; message: string; onCancel: () => void; onConfirm: () => void; pending?: boolean }) {
  const t = useT();
  return (
    <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={opened} onClose={onCancel} title={t("common.confirm")}>
      <Text mb="md">{message}</Text>
      <Group justify="end">
        <Button variant="default" onClick={onCancel}>
          {t("common.cancel")}
        </Button>
        <Button color="red" onClick={onConfirm} loading={pending}>
          {t("common.delete")}
        </Button>
      </Group>
    </Modal>
  );
}
