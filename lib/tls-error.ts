/** What went wrong in a TLS handshake, as far as the client can tell. */
export type TlsFault =
  /** The peer's certificate does not name the address it was reached at. */
  | 'misnamed'
  /** The peer's certificate is expired or not yet valid. */
  | 'out-of-date'
  /** The peer's certificate is not signed by a CA the client trusts. */
  | 'untrusted'
  /** The peer refused the client's certificate (or the lack of one). */
  | 'refused';

export interface TlsFailure {
  readonly fault: TlsFault;
  /** The reason in a line (OpenSSL's own message spans lines and names its source files). */
  readonly reason: string;
}

/**
 * The TLS failure under an error (Node's TLS codes, such as CERT_HAS_EXPIRED or
 * ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED, on it or a cause of it); undefined when the
 * error is not about TLS.
 */
export function tlsFailureOf(error: unknown): TlsFailure | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth += 1) {
    const { code, reason } = current as NodeJS.ErrnoException & { reason?: unknown };
    // EPROTO is TLS's when an alert came; without one, the peer did not speak TLS at all.
    const tls =
      typeof code === 'string' &&
      (/CERT|SSL|TLS|SIGNATURE|ISSUER/.test(code) ||
        (code === 'EPROTO' && /alert/i.test(current.message)));
    if (tls) {
      return {
        fault:
          code === 'ERR_TLS_CERT_ALTNAME_INVALID'
            ? 'misnamed'
            : code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
              ? 'out-of-date'
              : /ALERT|EPROTO/.test(code)
                ? 'refused'
                : 'untrusted',
        reason: typeof reason === 'string' ? reason : (current.message.trim().split('\n')[0] ?? ''),
      };
    }
    current = current.cause;
  }
  return undefined;
}

/** What a TLS failure of a server means, in words that go before the setting to look at. */
export function serverFaultText(fault: Exclude<TlsFault, 'refused'>): string {
  return {
    misnamed: 'presented a certificate that does not name the address it was reached at',
    'out-of-date': 'presented a certificate outside its validity',
    untrusted: 'presented a certificate this client does not trust',
  }[fault];
}
