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

interface Envelope {
  success?: boolean;
  code?: string;
  message?: string;
  data?: unknown;
  requestId?: string;
  field?: string;
}

/** One exchange with /admin/v1 under the signed-in token (or `init.token`). */
async function send(method: string, path: string, body: unknown, init?: { token?: string; signal?: AbortSignal }): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const bearer = init?.token ?? token;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await fetch(API_BASE + path, {
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
}

function parse(text: string): Envelope | null {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/** The error an answer that is not a success stands for; a 401 for the session's own token signs out. */
function refusal(response: Response, envelope: Envelope | null, ownToken: boolean): ApiError {
  if (response.status === 401 && ownToken) setToken(null);
  return new ApiError(
    response.status,
    envelope?.code ?? `Http${response.status}`,
    envelope?.message || response.statusText || "The request failed.",
    envelope?.requestId,
    envelope?.field,
  );
}

/** Calls `path` under /admin/v1 and returns the envelope's `data`, or throws [`ApiError`]. */
export async function api<T>(method: string, path: string, body?: unknown, init?: { token?: string; signal?: AbortSignal }): Promise<T> {
  const response = await send(method, path, body, init);
  const envelope = parse(await response.text());
  if (!response.ok || !envelope || envelope.success === false) throw refusal(response, envelope, !init?.token);
  return envelope.data as T;
}

/** Fetches a document that is not wrapped in the envelope (OpenAPI JSON). */
export async function document<T>(path: string): Promise<T> {
  const response = await send("GET", path, undefined);
  const text = await response.text();
  if (!response.ok) throw refusal(response, parse(text), true);
  return JSON.parse(text) as T;
}

/** Fetches a file answered as is (a CSV export). */
export async function download(path: string): Promise<Blob> {
  const response = await send("GET", path, undefined);
  if (!response.ok) throw refusal(response, parse(await response.text()), true);
  return response.blob();
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
