import { createHash, randomBytes } from 'node:crypto';

/** A run id: time-ordered and unique, safe as a subject token. */
export function newRunId(now = Date.now()): string {
  return `run-${now.toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * A result's id: the run's id and a digest of what the result is of (platform, runtime,
 * workload, container). Stable for the run, so a resend is recognised as the same result,
 * and always a safe token of at most 64 characters whatever the names.
 */
export function resultId(runId: string, ...of: readonly string[]): string {
  const digest = createHash('sha256').update(of.join('/')).digest('hex').slice(0, 16);
  return `${runId}-${digest}`;
}
