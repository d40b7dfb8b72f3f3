// Loading and acting on the management API with progress and errors shown the same way
// on every screen.
import { useCallback, useEffect, useRef, useState } from "react";
import { notifications } from "@mantine/notifications";
import { ApiError } from "./api";
import { translate } from "./i18n";

/** A short notice in the corner; its close button is named for screen readers. */
export function notify(color: "green" | "red", message: string, title?: string) {
  notifications.show({ color, title, message, closeButtonProps: { "aria-label": translate("common.close") } });
}

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change; keeps the last data while reloading. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    loadRef
      .current(abort.signal)
      .then((d) => {
        if (!abort.signal.aborted) {
          setData(d);
          setError(undefined);
        }
      })
      .catch((e) => {
        if (!abort.signal.aborted) setError(asApiError(e));
      })
      .finally(() => {
        if (!abort.signal.aborted) setLoading(false);
      });
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

export function asApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError(0, "Console", e instanceof Error ? e.message : String(e));
}

/** An action with a pending flag; its error is kept for the form and shown as a notification. */
export function useAction<A extends unknown[], R>(run: (...args: A) => Promise<R>, success?: string) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError>();
  const act = useCallback(
    async (...args: A): Promise<R | undefined> => {
      setPending(true);
      setError(undefined);
      try {
        const result = await run(...args);
        if (success) notify("green", success);
        return result;
      } catch (e) {
        const err = asApiError(e);
        setError(err);
        notify("red", err.message, err.code);
        return undefined;
      } finally {
        setPending(false);
      }
    },
    [run, success],
  );
  return { act, pending, error, clearError: () => setError(undefined) };
}
