import { appendFile, mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import {
  describeError,
  resultBatchCodec,
  resultsSubject,
  type ResultBatch,
} from '../../contracts/index.ts';
import { backoffDelay, sleep } from '../../lib/backoff.ts';
import type { Logger } from '../../lib/logger.ts';

/**
 * The agent's durable outbox: every result batch is appended to a journal on disk (and
 * fsynced) before it is published, published with its id as Nats-Msg-Id, and marked done
 * only after JetStream acknowledged it. After a crash or restart the journal is read again
 * and whatever was not acknowledged is sent again; JetStream's duplicate window and the
 * store's dedupe make a resend harmless. Opened without a connection, it journals and keeps
 * everything until it is given one.
 */
export interface Outbox {
  /** Journals the batch (durably) and queues it for publishing. */
  add(batch: ResultBatch): Promise<void>;
  /** Starts publishing over nc what is pending, when the outbox was opened without one. */
  connect(nc: NatsConnection): void;
  /** Batches journaled and not yet acknowledged. */
  pending(): number;
  /** Resolves when nothing is pending, or rejects after timeoutMs. */
  flush(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

type JournalEntry = { readonly add: ResultBatch } | { readonly ack: string };

/** Past this many acknowledged entries, the journal is rewritten with only what is pending. */
const COMPACT_AFTER_ACKS = 1000;

async function readJournal(path: string): Promise<Map<string, ResultBatch>> {
  const pending = new Map<string, ResultBatch>();
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let entry: JournalEntry;
    try {
      entry = JSON.parse(line) as JournalEntry;
    } catch {
      // A line cut short by a crash mid-write: its batch was never published.
      continue;
    }
    if ('add' in entry) pending.set(entry.add.id, entry.add);
    else pending.delete(entry.ack);
  }
  return pending;
}

/** Opens the journal at path; with no connection, nothing is published until connect. */
export async function openOutbox(
  path: string,
  nc: NatsConnection | undefined,
  logger: Logger,
): Promise<Outbox> {
  await mkdir(dirname(path), { recursive: true });
  const pending = await readJournal(path);
  const compacted = `${path}.compact`;
  await appendFile(compacted, '', { flag: 'w' });
  const rewrite = async (): Promise<FileHandle> => {
    const lines = [...pending.values()].map((batch) => `${JSON.stringify({ add: batch })}\n`);
    await appendFile(compacted, lines.join(''), { flag: 'w' });
    await rename(compacted, path);
    return open(path, 'a');
  };
  let journal = await rewrite();
  let acksSinceCompaction = 0;
  /** Journal writes and compaction run one at a time, so none lands in a replaced file. */
  let journalTail: Promise<unknown> = Promise.resolve();
  const withJournal = <T>(work: () => Promise<T>): Promise<T> => {
    const next = journalTail.then(work);
    journalTail = next.catch(() => undefined);
    return next;
  };
  let js: JetStreamClient | undefined;
  const queue: ResultBatch[] = [...pending.values()];
  let wake: (() => void) | undefined;
  const closing = new AbortController();
  const idleWaiters: (() => void)[] = [];
  const connect = (connection: NatsConnection): void => {
    if (js !== undefined) throw new Error('outbox: already connected');
    js = jetstream(connection);
    if (queue.length > 0) logger.info({ batches: queue.length }, 'outbox: sending what is pending');
    wake?.();
  };

  const notifyIdle = (): void => {
    if (pending.size > 0) return;
    for (const resolve of idleWaiters.splice(0)) resolve();
  };

  async function publishOne(client: JetStreamClient, batch: ResultBatch): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await client.publish(resultsSubject(batch.hostId), resultBatchCodec.encode(batch), {
          msgID: batch.id,
          timeout: 5_000,
        });
        return;
      } catch (error) {
        if (closing.signal.aborted) throw error;
        const delay = backoffDelay(attempt, 250, 5_000);
        logger.warn(
          { err: describeError(error), retryInMs: Math.round(delay) },
          'outbox: publish failed; retrying',
        );
        await sleep(delay, closing.signal);
      }
    }
  }

  async function sender(): Promise<void> {
    while (!closing.signal.aborted) {
      const batch = js === undefined ? undefined : queue.shift();
      if (js === undefined || batch === undefined) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      try {
        await publishOne(js, batch);
      } catch {
        return;
      }
      pending.delete(batch.id);
      await withJournal(async () => {
        await journal.appendFile(`${JSON.stringify({ ack: batch.id })}\n`);
        acksSinceCompaction += 1;
        if (acksSinceCompaction >= COMPACT_AFTER_ACKS) {
          await journal.close();
          journal = await rewrite();
          acksSinceCompaction = 0;
        }
      });
      notifyIdle();
    }
  }
  if (nc !== undefined) connect(nc);
  const sending = sender();

  return {
    async add(batch) {
      await withJournal(async () => {
        pending.set(batch.id, batch);
        await journal.appendFile(`${JSON.stringify({ add: batch })}\n`);
        await journal.sync();
      });
      queue.push(batch);
      wake?.();
    },
    connect,
    pending: () => pending.size,
    flush: (timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        if (pending.size === 0) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          reject(
            new Error(
              `outbox: ${pending.size} results not yet acknowledged after ${timeoutMs} ms; they stay in the journal and are sent again on the next start`,
            ),
          );
        }, timeoutMs);
        idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
    async close() {
      closing.abort();
      wake?.();
      await sending;
      await withJournal(() => journal.close());
    },
  };
}
