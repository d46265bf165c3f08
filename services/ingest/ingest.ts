import type { NatsConnection } from '@nats-io/nats-core';
import {
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
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
import {
  ensureIngestConsumer,
  ensureStreams,
  INGEST_CONSUMER,
  RESULTS_STREAM,
} from '../../lib/nats/streams.ts';
import { RESULT_COLUMNS } from '../../lib/storage/results.ts';
import type { Store } from '../../lib/storage/store.ts';
import { deadLetterEntry, deadLetterMsgId, type Rejected } from './dead-letter.ts';
import type { EncodedBatch, RawMessage } from './encode-batch.ts';
import type { BatchEncoder } from './encoder-pool.ts';
import type { IngestMetrics } from './metrics.ts';

export interface IngestOptions {
  readonly batchSize: number;
  readonly batchWaitMs: number;
  readonly maxMessageBytes: number;
  /** How long JetStream waits for an ack before redelivering. */
  readonly ackWaitMs: number;
  /** How often consumer lag is read for /metrics. */
  readonly lagIntervalMs?: number;
  /** Copies of each stream; unset keeps each stream's count (see `ensureStreams`). */
  readonly streamReplicas?: number;
}

export interface IngestDeps {
  readonly nc: NatsConnection;
  readonly store: Store;
  readonly logger: Logger;
  readonly metrics: IngestMetrics;
  /** Validates and encodes batches, on a worker thread or in this one. */
  readonly encoder: BatchEncoder;
  readonly options: IngestOptions;
}

export interface IngestHealth {
  readonly healthy: boolean;
  readonly problems: readonly string[];
}

export interface Ingest {
  /** Creates or updates the streams and the durable consumer, then starts consuming. */
  start(): Promise<void>;
  health(): IngestHealth;
  /** Stops fetching, writes and acknowledges what it holds; the connection stays open. */
  stop(): Promise<void>;
}

interface Batch {
  readonly messages: JsMsg[];
  readonly startedAt: number;
  /** Started when the batch is sealed, so encoding overlaps the previous batch's write. */
  encoded: Promise<EncodedBatch>;
}

/** Sealed batches waiting to be written; past this the consumer stops taking messages. */
const MAX_QUEUED_BATCHES = 2;
/** A batch write that has not finished after this long makes the worker report itself unhealthy. */
const STALLED_WRITE_MS = 5_000;
/** How long stop() keeps retrying a store that does not answer before leaving the rest unacked. */
const STOP_RETRY_MS = 10_000;

function rawMessage(message: JsMsg): RawMessage {
  return {
    subject: message.subject,
    data: message.data,
    msgId: message.headers?.get('Nats-Msg-Id') ?? '',
  };
}

export function createIngest(deps: IngestDeps): Ingest {
  const { nc, store, logger, metrics, encoder, options } = deps;
  const js: JetStreamClient = jetstream(nc);
  let jsm: JetStreamManager | undefined;
  let messages: ConsumerMessages | undefined;
  let current: JsMsg[] = [];
  let currentStartedAt = 0;
  let sealTimer: NodeJS.Timeout | undefined;
  let lagTimer: NodeJS.Timeout | undefined;
  const queue: Batch[] = [];
  let flushing: Promise<void> | undefined;
  let spaceWaiters: (() => void)[] = [];
  let pumping: Promise<void> | undefined;
  let stopDeadline = Number.POSITIVE_INFINITY;
  const stopSignal = new AbortController();
  const stopped = (): boolean => stopSignal.signal.aborted;
  let storeProblem: string | undefined;
  let natsProblem: string | undefined;
  let writeStartedAt: number | undefined;

  const setHealth = (): void => {
    metrics.healthy.set(storeProblem === undefined && natsProblem === undefined ? 1 : 0);
  };

  function seal(): void {
    clearTimeout(sealTimer);
    sealTimer = undefined;
    if (current.length === 0) return;
    queue.push({
      messages: current,
      startedAt: currentStartedAt,
      encoded: encoder.encode(current.map(rawMessage), options.maxMessageBytes),
    });
    current = [];
    kickFlusher();
  }

  function kickFlusher(): void {
    if (flushing !== undefined || queue.length === 0) return;
    flushing = flushQueue().finally(() => {
      flushing = undefined;
      kickFlusher();
    });
  }

  async function flushQueue(): Promise<void> {
    for (let batch = queue[0]; batch !== undefined; batch = queue[0]) {
      await flushBatch(batch);
      queue.shift();
      const waiters = spaceWaiters;
      spaceWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  function take(message: JsMsg): void {
    metrics.received.inc();
    if (current.length === 0) {
      currentStartedAt = performance.now();
      sealTimer = setTimeout(seal, options.batchWaitMs);
    }
    current.push(message);
    if (current.length >= options.batchSize) seal();
  }

  async function pump(): Promise<void> {
    for (let attempt = 1; !stopped(); attempt += 1) {
      try {
        const consumer = await js.consumers.get(RESULTS_STREAM, INGEST_CONSUMER);
        messages = await consumer.consume({ max_messages: options.batchSize });
        // stop() may have run while the consumer was being set up.
        if (stopped()) messages.stop();
        for await (const message of messages) {
          take(message);
          attempt = 0;
          while (queue.length >= MAX_QUEUED_BATCHES && !stopped()) {
            await new Promise<void>((wake) => spaceWaiters.push(wake));
          }
        }
      } catch (error) {
        if (stopped()) return;
        const delay = backoffDelay(attempt);
        logger.warn({ err: describeError(error), retryInMs: Math.round(delay) }, 'consume failed');
        await sleep(delay, stopSignal.signal);
      }
    }
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
    batch: Batch,
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

  async function writeBatch(batch: Batch): Promise<{ stored: number; rows: number }> {
    let encoded: EncodedBatch;
    try {
      encoded = await batch.encoded;
    } catch (error) {
      batch.encoded = encoder.encode(batch.messages.map(rawMessage), options.maxMessageBytes);
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
  function announceStored(batch: Batch, stored: number): void {
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

  async function flushBatch(batch: Batch): Promise<void> {
    const keepAlive = setInterval(
      () => {
        for (const message of batch.messages) message.working();
      },
      Math.max(1000, options.ackWaitMs / 3),
    );
    writeStartedAt = performance.now();
    try {
      for (let attempt = 1; ; attempt += 1) {
        try {
          const { stored, rows } = await writeBatch(batch);
          for (const message of batch.messages) message.ack();
          announceStored(batch, stored);
          metrics.storedResults.inc(stored);
          metrics.storedRows.inc(rows);
          metrics.batchSeconds.observe((performance.now() - batch.startedAt) / 1000);
          if (storeProblem !== undefined) logger.info('store writes succeed again');
          storeProblem = undefined;
          setHealth();
          return;
        } catch (error) {
          storeProblem = `batch not written: ${describeError(error)}`;
          setHealth();
          metrics.storeRetries.inc();
          if (Date.now() > stopDeadline) {
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
      writeStartedAt = undefined;
    }
  }

  async function watchConnection(): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        natsProblem = 'disconnected from NATS';
        logger.warn('disconnected from NATS; reconnecting');
      } else if (status.type === 'reconnect') {
        natsProblem = undefined;
        logger.info('reconnected to NATS');
      }
      setHealth();
    }
  }

  async function readLag(): Promise<void> {
    if (jsm === undefined) return;
    try {
      const info = await jsm.consumers.info(RESULTS_STREAM, INGEST_CONSUMER);
      metrics.consumerLag.set(info.num_pending + info.num_ack_pending);
    } catch (error) {
      logger.debug({ err: describeError(error) }, 'consumer lag not read');
    }
  }

  return {
    async start() {
      jsm = await jetstreamManager(nc);
      await ensureStreams(
        jsm,
        options.streamReplicas === undefined ? {} : { replicas: options.streamReplicas },
      );
      await ensureIngestConsumer(jsm, {
        ackWaitMs: options.ackWaitMs,
        maxAckPending: Math.max(1000, options.batchSize * 8),
      });
      setHealth();
      void watchConnection();
      lagTimer = setInterval(() => void readLag(), options.lagIntervalMs ?? 5_000);
      await readLag();
      pumping = pump();
      logger.info(
        { stream: RESULTS_STREAM, consumer: INGEST_CONSUMER, store: store.backend },
        'ingest consuming',
      );
    },
    health() {
      const problems = [natsProblem, storeProblem].filter((p): p is string => p !== undefined);
      const writing = writeStartedAt === undefined ? 0 : performance.now() - writeStartedAt;
      if (storeProblem === undefined && writing > STALLED_WRITE_MS) {
        problems.push(`a batch write has not finished after ${Math.round(writing / 1000)} s`);
      }
      if (stopped()) problems.push('stopping');
      return { healthy: problems.length === 0, problems };
    },
    async stop() {
      if (stopped()) return;
      stopDeadline = Date.now() + STOP_RETRY_MS;
      stopSignal.abort();
      clearInterval(lagTimer);
      messages?.stop();
      for (const wake of spaceWaiters) wake();
      spaceWaiters = [];
      await pumping;
      seal();
      while (flushing !== undefined) await flushing;
      setHealth();
    },
  };
}
