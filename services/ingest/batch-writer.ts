import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import {
  DLQ_SUBJECT,
  STORED_SUBJECT,
  deadLetterCodec,
  describeError,
  hostIdOfResultsSubject,
  isBerthError,
  storedNoticeCodec,
} from '../../contracts/index.ts';
import { backoffDelay, sleep } from '../../lib/backoff.ts';
import type { Logger } from '../../lib/logger.ts';
import { RESULT_COLUMNS } from '../../lib/storage/results.ts';
import type { Store } from '../../lib/storage/store.ts';
import { deadLetterEntry, deadLetterMsgId, type Rejected } from './dead-letter.ts';
import type { EncodedBatch, RawMessage } from './encode-batch.ts';
import type { BatchEncoder } from './encoder-pool.ts';
import type { HealthTracker } from './health.ts';
import type { IngestMetrics } from './metrics.ts';

export interface BatchWriterDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly store: Store;
  readonly logger: Logger;
  readonly metrics: IngestMetrics;
  /** Validates and encodes batches, on a worker thread or in this one. */
  readonly encoder: BatchEncoder;
  /** Told whether the store accepts writes and when a write starts and ends. */
  readonly health: HealthTracker;
  readonly maxMessageBytes: number;
  /** How long JetStream waits for an ack before redelivering. */
  readonly ackWaitMs: number;
}

/** A sealed batch of messages from the results stream. */
export interface PendingBatch {
  readonly messages: JsMsg[];
  /** When its first message was taken (`performance.now()`). */
  readonly startedAt: number;
  /** Started when the batch is sealed, so encoding overlaps the previous batch's write. */
  encoded: Promise<EncodedBatch>;
}

/** Stores sealed batches and acknowledges their messages only once they are stored. */
export interface BatchWriter {
  /** A batch of these messages, its encoding started. */
  prepare(messages: JsMsg[], startedAt: number): PendingBatch;
  /**
   * Writes the rows, dead-letters what is refused, acknowledges every message and announces
   * what was stored. A failing store is retried with backoff while JetStream is told the
   * messages are still being worked on; past the deadline the batch is left unacknowledged.
   */
  write(batch: PendingBatch): Promise<void>;
  /** From now on a batch still failing after `deadline` (epoch ms) is given up, for redelivery. */
  giveUpAfter(deadline: number): void;
}

function rawMessage(message: JsMsg): RawMessage {
  return {
    subject: message.subject,
    data: message.data,
    msgId: message.headers?.get('Nats-Msg-Id') ?? '',
  };
}

function rejectionOf(message: JsMsg, code: Rejected['code'], reason: string): Rejected {
  return {
    subject: message.subject,
    streamSequence: message.seq,
    msgId: message.headers?.get('Nats-Msg-Id') || undefined,
    data: message.data,
    code,
    reason,
  };
}

/** The writing half of ingest: from a sealed batch to stored rows, dead letters and acks. */
export function createBatchWriter(deps: BatchWriterDeps): BatchWriter {
  const { nc, js, store, logger, metrics, encoder, health, maxMessageBytes, ackWaitMs } = deps;
  let giveUpAt = Number.POSITIVE_INFINITY;

  /**
   * Starts encoding a batch that may wait behind another before it is written. Its failure (the
   * encoder thread died) is handled at once and raised again where the batch is written, so a
   * waiting batch's failure cannot end the process as an unhandled rejection.
   */
  const encode = (messages: readonly JsMsg[]): Promise<EncodedBatch> => {
    const encoded = encoder.encode(messages.map(rawMessage), maxMessageBytes);
    encoded.catch(() => undefined);
    return encoded;
  };

  async function publishDeadLetters(rejected: readonly Rejected[]): Promise<void> {
    const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    await Promise.all(
      rejected.map((entry) =>
        js.publish(
          DLQ_SUBJECT,
          deadLetterCodec.encode(deadLetterEntry(entry, maxPayload, Date.now())),
          {
            msgID: deadLetterMsgId(entry.streamSequence),
          },
        ),
      ),
    );
    for (const entry of rejected) {
      metrics.deadLettered.inc({ code: entry.code });
      logger.warn(
        { code: entry.code, subject: entry.subject, seq: entry.streamSequence },
        entry.reason,
      );
    }
  }

  /** Writes message by message, so one row the store refuses cannot hold back the rest. */
  async function insertOneByOne(
    batch: PendingBatch,
    encoded: EncodedBatch,
  ): Promise<{ refused: Rejected[]; rows: number }> {
    const refused: Rejected[] = [];
    let rows = 0;
    for (const [index, message] of batch.messages.entries()) {
      const start = encoded.lineStart[index] ?? -1;
      if (start < 0) continue;
      const lines = encoded.payload.slice(start, encoded.lineEnd[index]);
      try {
        await store.insertTsv('results', RESULT_COLUMNS, lines);
        rows += lines.split('\n').length - 1;
      } catch (error) {
        if (!isBerthError(error, 'BERTH_ERR_STORE_QUERY')) throw error;
        refused.push(rejectionOf(message, 'BERTH_ERR_STORE_QUERY', describeError(error)));
      }
    }
    return { refused, rows };
  }

  /** One attempt: the rows into the store, the refused messages into the dead-letter stream. */
  async function storeBatch(batch: PendingBatch): Promise<{ stored: number; rows: number }> {
    let encoded: EncodedBatch;
    try {
      encoded = await batch.encoded;
    } catch (error) {
      batch.encoded = encode(batch.messages);
      throw error;
    }
    const refused = encoded.refused.map(({ index, code, reason }) => {
      const message = batch.messages[index];
      if (message === undefined)
        throw new Error(`encoder named message ${index} of ${batch.messages.length}`);
      return rejectionOf(message, code, reason);
    });
    let rows = encoded.rows;
    try {
      await store.insertTsv('results', RESULT_COLUMNS, encoded.payload);
    } catch (error) {
      if (!isBerthError(error, 'BERTH_ERR_STORE_QUERY')) throw error;
      logger.warn(
        { err: describeError(error) },
        'store refused a batch; writing it message by message',
      );
      const oneByOne = await insertOneByOne(batch, encoded);
      refused.push(...oneByOne.refused);
      rows = oneByOne.rows;
    }
    await publishDeadLetters(refused);
    return { stored: batch.messages.length - refused.length, rows };
  }

  /** Tells readers (the advisor) that results of these hosts are stored; best effort. */
  function announceStored(batch: PendingBatch, stored: number): void {
    if (stored === 0) return;
    const hosts = new Set<string>();
    for (const message of batch.messages) {
      const hostId = hostIdOfResultsSubject(message.subject);
      if (hostId !== undefined) hosts.add(hostId);
    }
    try {
      nc.publish(
        STORED_SUBJECT,
        storedNoticeCodec.encode({
          schemaVersion: 1,
          type: 'stored',
          at: Date.now(),
          results: stored,
          hosts: [...hosts],
        }),
      );
    } catch (error) {
      logger.debug({ err: describeError(error) }, 'stored notice not sent');
    }
  }

  async function write(batch: PendingBatch): Promise<void> {
    const keepAlive = setInterval(
      () => {
        for (const message of batch.messages) message.working();
      },
      Math.max(1000, ackWaitMs / 3),
    );
    health.writeStarted();
    try {
      for (let attempt = 1; ; attempt += 1) {
        try {
          const { stored, rows } = await storeBatch(batch);
          for (const message of batch.messages) message.ack();
          announceStored(batch, stored);
          metrics.storedResults.inc(stored);
          metrics.storedRows.inc(rows);
          metrics.batchSeconds.observe((performance.now() - batch.startedAt) / 1000);
          if (health.storeProblem !== undefined) logger.info('store writes succeed again');
          health.setStoreProblem(undefined);
          return;
        } catch (error) {
          const storeProblem = `batch not written: ${describeError(error)}`;
          health.setStoreProblem(storeProblem);
          metrics.storeRetries.inc();
          if (Date.now() > giveUpAt) {
            logger.error(
              { err: storeProblem, messages: batch.messages.length },
              'stopping with a batch unwritten; JetStream will deliver it again',
            );
            return;
          }
          const delay = backoffDelay(attempt);
          logger.warn(
            { err: storeProblem, attempt, retryInMs: Math.round(delay) },
            'batch not written; retrying',
          );
          await sleep(delay);
        }
      }
    } finally {
      clearInterval(keepAlive);
      health.writeFinished();
    }
  }

  return {
    prepare: (messages, startedAt) => ({ messages, startedAt, encoded: encode(messages) }),
    write,
    giveUpAfter(deadline) {
      giveUpAt = deadline;
    },
  };
}
