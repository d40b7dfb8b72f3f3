// The management API client. The user token lives in this module's memory only: a reload
// signs out, and nothing readable by other pages or scripts keeps it.

export const API_BASE = "/admin/v1";

/** An error the management API answered, with its stable code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
    /** The envelope's `field`, where the code does not name it (`InvalidDefinition`). */
    readonly fieldName?: string,
  ) {
    super(message);
  }
  /** The field at fault: the envelope's, or the one a code such as `InvalidParameter.name` names. */
  get field(): string | undefined {
    if (this.fieldName) return this.fieldName;
    const dot = this.code.indexOf(".");
    return dot > 0 && this.code.startsWith("InvalidParameter") ? this.code.slice(dot + 1) : undefined;
  }
}

export interface Page<T> {
  items: T[];
  pageNum: number;
  pageSize: number;
  total: number;
}

let token: string | null = null;
const listeners = new Set<() => void>();

export function setToken(value: string | null) {
  token = value;
  listeners.forEach((l) => l());
}

export function currentToken() {
  return token;
}

export function onTokenChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** Calls `path` under /admin/v1 and returns the envelope's `data`, or throws [`ApiError`]. */
export async function api<T>(method: string, path: string, body?: unknown, init?: { token?: string; signal?: AbortSignal }): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const bearer = init?.token ?? token;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: init?.signal,
      credentials: "omit",
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "Network", "The server cannot be reached. Check that Sluice is running.");
  }
  const text = await response.text();
  let envelope: { success?: boolean; code?: string; message?: string; data?: unknown; requestId?: string; field?: string } | null = null;
  try {
    envelope = text ? JSON.parse(text) : null;
  } catch {
    envelope = null;
  }
  if (!response.ok || !envelope || envelope.success === false) {
    if (response.status === 401 && !init?.token) setToken(null);
    throw new ApiError(
      response.status,
      envelope?.code ?? `Http${response.status}`,
      envelope?.message || response.statusText || "The request failed.",
      envelope?.requestId,
      envelope?.field,
    );
  }
  return envelope.data as T;
}

/** Fetches a document that is not wrapped in the envelope (OpenAPI JSON). */
export async function document<T>(path: string): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(API_BASE + path, { headers, credentials: "omit" });
  const text = await response.text();
  if (!response.ok) {
    let code = `Http${response.status}`;
    let message = response.statusText;
    try {
      const e = JSON.parse(text);
      code = e.code ?? code;
      message = e.message ?? message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, code, message);
  }
  return JSON.parse(text) as T;
}

/** Path segment, escaped. */
export const seg = (value: string | number) => encodeURIComponent(String(value));

/** A query string from the defined values of `params`. */
export function query(params: Record<string, string | number | boolean | undefined | null>) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
