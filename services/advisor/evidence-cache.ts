import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  describeError,
  STORED_SUBJECT,
  storedNoticeCodec,
  type StoredNotice,
} from '../../contracts/index.ts';
import type { Logger } from '../../lib/logger.ts';
import { loadSeriesSummaries } from '../../lib/storage/results.ts';
import type { Store } from '../../lib/storage/store.ts';
import type { EvidenceRow } from './engine/types.ts';

export interface EvidenceChange {
  /** Hosts whose results were stored since the last refresh (from the stored notices). */
  readonly hosts: readonly string[];
  readonly results: number;
  readonly at: number;
}

export interface EvidenceCache {
  /** Every aggregate, as last read from the store. */
  rows(): readonly EvidenceRow[];
  /** When the rows were last read, epoch ms. */
  readAt(): number;
  /** Reads the store again now (coalesced with one already running). */
  refresh(): Promise<void>;
  /** Called after each refresh that found new results; returns an unsubscribe. */
  onChange(listener: (change: EvidenceChange) => void): () => void;
  /** Why the evidence may be out of date, when it may be. */
  problem(): string | undefined;
  stop(): Promise<void>;
}

export interface EvidenceCacheOptions {
  /** Wait after a stored notice before reading, to take several notices in one read. */
  readonly debounceMs?: number;
  /** Read again at least this often, in case a notice was missed. */
  readonly pollMs?: number;
}

/** A fingerprint of the rows that changes whenever a result is added. */
function fingerprint(rows: readonly EvidenceRow[]): string {
  let results = 0;
  let latest = 0;
  for (const row of rows) {
    results += row.results;
    latest = Math.max(latest, row.latestAt);
  }
  return `${rows.length}/${results}/${latest}`;
}

/**
 * The evidence aggregates held in memory, so answers do not wait for the store: read at
 * start; shortly after `berth.stored` notices from ingest, only the hosts they name are read
 * again (the table's key starts with the host, so that read stays small while results
 * stream in); every `pollMs` the whole of it, in case a notice was lost. A failed read
 * keeps the last rows and says why.
 */
export async function openEvidenceCache(
  store: Store,
  nc: NatsConnection,
  logger: Logger,
  options: EvidenceCacheOptions = {},
): Promise<EvidenceCache> {
  const debounceMs = options.debounceMs ?? 100;
  const pollMs = options.pollMs ?? 60_000;
  let rows = await loadSeriesSummaries(store);
  let readAt = Date.now();
  let printed = fingerprint(rows);
  let problem: string | undefined;
  let running: Promise<void> | undefined;
  /** Refreshes asked for; a read that starts takes every request made before it. */
  let requested = 0;
  /** Whether the next read must be of every host (a poll, or an explicit refresh). */
  let wholeWanted = false;
  let pendingHosts = new Set<string>();
  let pendingResults = 0;
  let timer: NodeJS.Timeout | undefined;
  const listeners = new Set<(change: EvidenceChange) => void>();

  /** The hosts named by stored notices are read again; the rest keep their rows. */
  const readHosts = async (hosts: readonly string[]): Promise<EvidenceRow[]> => {
    const named = new Set(hosts);
    const fresh = await loadSeriesSummaries(store, { hostIds: hosts });
    return [...rows.filter((row) => !named.has(row.hostId)), ...fresh].sort((a, b) =>
      a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0,
    );
  };

  const readOnce = async (): Promise<void> => {
    const hosts = [...pendingHosts];
    const results = pendingResults;
    const whole = wholeWanted || hosts.length === 0;
    pendingHosts = new Set();
    pendingResults = 0;
    wholeWanted = false;
    try {
      const next = whole ? await loadSeriesSummaries(store) : await readHosts(hosts);
      rows = next;
      readAt = Date.now();
      problem = undefined;
      const nextPrint = fingerprint(next);
      if (nextPrint === printed) return;
      printed = nextPrint;
      const change = { hosts, results, at: readAt };
      for (const listener of listeners) listener(change);
    } catch (error) {
      problem = `evidence not read from the store: ${describeError(error)}`;
      logger.warn({ err: problem }, 'evidence refresh failed; answers use the last rows');
      for (const host of hosts) pendingHosts.add(host);
      pendingResults += results;
      wholeWanted ||= whole;
    }
  };

  const refresh = (whole: boolean): Promise<void> => {
    wholeWanted ||= whole;
    requested += 1;
    if (running !== undefined) return running;
    running = (async () => {
      let served = 0;
      while (served < requested) {
        served = requested;
        await readOnce();
      }
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  const schedule = (notice: StoredNotice): void => {
    for (const host of notice.hosts) pendingHosts.add(host);
    pendingResults += notice.results;
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void refresh(false);
    }, debounceMs);
  };

  const subscription: Subscription = nc.subscribe(STORED_SUBJECT, {
    callback: (error, message) => {
      if (error !== null) return;
      const decoded = storedNoticeCodec.decode(message.data, 1 << 20);
      if (decoded.ok) schedule(decoded.value);
    },
  });
  const poll = setInterval(() => void refresh(true), pollMs);

  return {
    rows: () => rows,
    readAt: () => readAt,
    refresh: () => refresh(true),
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    problem: () => problem,
    stop: async () => {
      clearInterval(poll);
      clearTimeout(timer);
      subscription.unsubscribe();
      await running;
    },
  };
}
