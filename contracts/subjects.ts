import { assertSafeToken, isSafeToken } from './ids.ts';

/** Every NATS subject Berth uses is built here, never pasted together at a call site. */
const ROOT = 'berth';

export const DLQ_SUBJECT = `${ROOT}.dlq`;
/** Core NATS: the ingest service's notice that results were stored. */
export const STORED_SUBJECT = `${ROOT}.stored`;
export const RESULTS_SUBJECTS = `${ROOT}.results.*`;
export const INVENTORY_SUBJECTS = `${ROOT}.inventory.*`;
/** Core NATS: every agent's job progress. */
export const JOB_PROGRESS_SUBJECTS = `${ROOT}.progress.*`;

export function resultsSubject(hostId: string): string {
  return `${ROOT}.results.${assertSafeToken(hostId, 'host id')}`;
}

export function inventorySubject(hostId: string): string {
  return `${ROOT}.inventory.${assertSafeToken(hostId, 'host id')}`;
}

export function jobsSubject(hostId: string): string {
  return `${ROOT}.jobs.${assertSafeToken(hostId, 'host id')}`;
}

export function jobProgressSubject(hostId: string): string {
  return `${ROOT}.progress.${assertSafeToken(hostId, 'host id')}`;
}

/** The host id of a `berth.<kind>.<hostId>` subject, or undefined when the subject is not one. */
function hostIdOfSubject(subject: string, kind: string): string | undefined {
  const parts = subject.split('.');
  if (parts.length !== 3 || parts[0] !== ROOT || parts[1] !== kind) return undefined;
  return isSafeToken(parts[2]) ? parts[2] : undefined;
}

/** The host id of a `berth.results.<hostId>` subject, or undefined when the subject is not one. */
export function hostIdOfResultsSubject(subject: string): string | undefined {
  return hostIdOfSubject(subject, 'results');
}

/** The host id of a `berth.progress.<hostId>` subject, or undefined when the subject is not one. */
export function hostIdOfProgressSubject(subject: string): string | undefined {
  return hostIdOfSubject(subject, 'progress');
}

/** Request/reply: every agent's jobs (the advisor asks any host). */
export const JOBS_SUBJECTS = `${ROOT}.jobs.*`;

/**
 * The inboxes (reply subjects) of a connection named `name`: each Berth client answers on
 * `_INBOX.<its connection name>.…`, so a NATS user may be allowed to read its own replies and
 * no one else's.
 */
export function inboxPrefix(connectionName: string): string {
  return `_INBOX.${assertSafeToken(connectionName, 'NATS connection name')}`;
}
