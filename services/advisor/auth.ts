import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { BerthError } from '../../contracts/index.ts';

/** True for an address only this machine can reach: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** Refuses a server that others can reach and that has no token to ask them for. */
export function assertTokenPolicy(
  host: string,
  token: string | undefined,
  clientCertificates = false,
): void {
  if (!isLoopback(host) && (token === undefined || token === '') && !clientCertificates) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `the advisor listens on ${host}, which is not a loopback address, and has no token: set a token, ask clients for certificates (--tls-client-ca), or listen on 127.0.0.1`,
    );
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Whether a request carries the token: `Authorization: Bearer <token>`, or (for a WebSocket,
 * whose browser API cannot set headers) `?token=`. Compared in constant time.
 */
export function carriesToken(
  token: string,
  authorization: string | undefined,
  queryToken: string | undefined,
): boolean {
  const bearer = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
  const given = bearer ?? queryToken;
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

/**
 * The OpenAPI `security` of a route anyone may call (health, the dashboard's code): none. The
 * token check skips exactly the routes whose schema says so, so the document and the check
 * cannot disagree.
 */
export const NO_TOKEN: readonly [] = [];

/** Whether a route, by its schema, wants the token (every route but those of `NO_TOKEN`). */
export function wantsToken(
  schema: { readonly security?: readonly unknown[] } | undefined,
): boolean {
  return schema?.security?.length !== 0;
}
