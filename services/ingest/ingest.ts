import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { describeError } from '../../contracts/index.ts';
import type { Logger } from '../../lib/logger.ts';
import {
  ensureIngestConsumer,
  ensureStreams,
  INGEST_CONSUMER,
  RESULTS_STREAM,
} from '../../lib/nats/streams.ts';
import type { Store } from '../../lib/storage/store.ts';
import { createBatchWriter, type PendingBatch } from './batch-writer.ts';
import { createBatcher } from './batcher.ts';
import type { BatchEncoder } from './encoder-pool.ts';
import { createHealthTracker, type IngestHealth } from './health.ts';
import type { IngestMetrics } from './metrics.ts';
import { createPuller } from './puller.ts';

export type { IngestHealth } from './health.ts';

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

export interface Ingest {
  /** Creates or updates the streams and the durable consumer, then starts consuming. */
  start(): Promise<void>;
  health(): IngestHealth;
  /** Stops fetching, writes and acknowledges what it holds; the connection stays open. */
  stop(): Promise<void>;
}

/** How long stop() keeps retrying a store that does not answer before leaving the rest unacked. */
const STOP_RETRY_MS = 10_000;

/**
 * One ingest worker: the puller takes messages into the batcher, which hands each sealed
 * batch to the writer; this wires them, watches the connection and the consumer's lag, and
 * starts and stops them in order.
 */
export function createIngest(deps: IngestDeps): Ingest {
  const { nc, store, logger, metrics, encoder, options } = deps;
  const js = jetstream(nc);
  const health = createHealthTracker(metrics.healthy);
  const writer = createBatchWriter({
    nc,
    js,
    store,
    logger,
    metrics,
    encoder,
    health,
    maxMessageBytes: options.maxMessageBytes,
    ackWaitMs: options.ackWaitMs,
  });
  const batcher = createBatcher<JsMsg, PendingBatch>({
    batchSize: options.batchSize,
    batchWaitMs: options.batchWaitMs,
    seal: (messages, startedAt) => writer.prepare(messages, startedAt),
    write: (batch) => writer.write(batch),
  });
  const puller = createPuller({
    js,
    batcher,
    received: metrics.received,
    logger,
    batchSize: options.batchSize,
  });
  let jsm: JetStreamManager | undefined;
  let lagTimer: NodeJS.Timeout | undefined;
  let stopping = false;

  async function watchConnection(): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        health.setNatsConnected(false);
        logger.warn('disconnected from NATS; reconnecting');
      } else if (status.type === 'reconnect') {
        health.setNatsConnected(true);
        logger.info('reconnected to NATS');
      }
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
      health.publish();
      void watchConnection();
      lagTimer = setInterval(() => void readLag(), options.lagIntervalMs ?? 5_000);
      await readLag();
      puller.start();
      logger.info(
        { stream: RESULTS_STREAM, consumer: INGEST_CONSUMER, store: store.backend },
        'ingest consuming',
      );
    },
    health: () => health.report(),
    async stop() {
      if (stopping) return;
      stopping = true;
      writer.giveUpAfter(Date.now() + STOP_RETRY_MS);
      health.stopping();
      clearInterval(lagTimer);
      await puller.stop();
      await batcher.flush();
      health.publish();
    },
  };
}
