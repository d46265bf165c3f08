/**
 * The advisor's HTTP API from the page. Off loopback the advisor wants a token: it comes from
 * `?token=` once (then leaves the address bar) or from the token form, is kept in
 * sessionStorage for this tab, and goes out as `Authorization: Bearer` (and as `?token=` on
 * the WebSocket, which cannot carry headers).
 */

const TOKEN_KEY = 'berth.token';

/** Told when the advisor refuses the token (or the lack of one). */
export const UNAUTHORIZED_EVENT = 'berth:unauthorized';

export function storedToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

/** Moves `?token=` from the address into sessionStorage, so it is not kept in history. */
export function takeTokenFromAddress(): void {
  const url = new URL(location.href);
  const token = url.searchParams.get('token');
  if (token === null) return;
  if (token !== '') storeToken(token);
  url.searchParams.delete('token');
  history.replaceState(history.state, '', url);
}

/** An error answer of the API: its code, the field at fault (dotted) and the message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;

  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

interface ErrorBody {
  error?: { code?: string; field?: string; message?: string };
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const token = storedToken();
  const headers: Record<string, string> = {};
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const parsed = (await response.json().catch(() => ({}))) as unknown;
  if (response.ok) return parsed as T;
  if (response.status === 401) window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
  const error = (parsed as ErrorBody).error;
  throw new ApiError(
    response.status,
    error?.code ?? 'BERTH_ERR_INTERNAL',
    error?.message ?? `${method} ${path}: ${response.status} ${response.statusText}`,
    error?.field,
  );
}

export const getJson = <T>(path: string): Promise<T> => call<T>('GET', path);

export const postJson = <T>(path: string, body?: unknown): Promise<T> =>
  call<T>('POST', path, body);

/** A path with its query parameters, leaving out those not given. */
export function withQuery(
  path: string,
  query: Readonly<Record<string, string | number | undefined>>,
): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}
