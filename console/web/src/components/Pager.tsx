// Lists paged on the server, with their filters and page kept in the address, so links,
// reloads and Back restore them.
import { useCallback } from "react";
import { Pagination } from "@mantine/core";
import { useSearchParams } from "react-router";

/** Rows per page of the console's lists. */
export const PAGE_SIZE = 20;

/** The address's filters; `set` changes some (an empty value removes one) and goes back to
 * the first page unless it sets `page` itself. */
export function useAddressState() {
  const [params, setParams] = useSearchParams();
  const set = useCallback(
    (changes: Record<string, string>) => {
      const next = new URLSearchParams(params);
      for (const [k, v] of Object.entries(changes)) if (v) next.set(k, v);
      else next.delete(k);
      if (!("page" in changes)) next.delete("page");
      setParams(next);
    },
    [params, setParams],
  );
  const page = Number(params.get("page") ?? "1") || 1;
  return { params, set, page };
}

/** Page links for `total` rows; each link is named by its page number. */
export function Pager({ total, page, onChange, pageSize = PAGE_SIZE }: { total: number | undefined; page: number; onChange: (page: number) => void; pageSize?: number }) {
  const pages = Math.max(1, Math.ceil((total ?? 0) / pageSize));
  return <Pagination total={pages} value={page} onChange={onChange} getControlProps={(c) => ({ "aria-label": String(c) })} />;
}
