import { BerthError } from './errors.ts';

/**
 * Ids that end up inside NATS subjects or message ids: letters, digits, '_' and '-',
 * starting with a letter or digit. No '.', '*', '>' or white space can ever reach a subject.
 */
export const SAFE_TOKEN_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
const safeToken = new RegExp(SAFE_TOKEN_PATTERN);

export function isSafeToken(value: unknown): value is string {
  return typeof value === 'string' && safeToken.test(value);
}

export function assertSafeToken(value: unknown, what: string): string {
  if (!isSafeToken(value)) {
    throw new BerthError(
      'BERTH_ERR_UNSAFE_ID',
      `${what} ${JSON.stringify(value)} is not a safe subject token (1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit)`,
    );
  }
  return value;
}
