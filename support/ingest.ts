import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { silentLogger } from '../lib/logger.ts';
import { INGEST_CONSUMER, RESULTS_STREAM } from '../lib/nats/streams.ts';
import type { Store } from '../lib/storage/store.ts';
import { createIngest, type Ingest, type IngestOptions } from '../services/ingest/ingest.ts';
import { createBatchEncoder } from '../services/ingest/encoder-pool.ts';
import { createIngestMetrics, type IngestMetrics } from '../services/ingest/metrics.ts';
import { TEST_MAX_MESSAGE_BYTES } from './malformed.ts';
import {
  cleanUp,
  openOwnTestStore,
  startTestNats,
  type Backend,
  type TestStore,
} from './servers.ts';

export const TEST_INGEST_OPTIONS: IngestOptions = {
  batchSize: 1000,
  batchWaitMs: 50,
  maxMessageBytes: TEST_MAX_MESSAGE_BYTES,
  ackWaitMs: 5000,
  lagIntervalMs: 500,
};

/** An in-process ingest worker on real connections, started. */
export async function startTestIngest(
  nc: NatsConnection,
  store: Store,
  options: Partial<IngestOptions> = {},
  threads: 0 | 1 = 1,
): Promise<{ ingest: Ingest; metrics: IngestMetrics }> {
  const metrics = createIngestMetrics();
  const encoder = createBatchEncoder({ threads });
  const worker = createIngest({
    nc,
    store,
    logger: silentLogger,
    metrics,
    encoder,
    options: { ...TEST_INGEST_OPTIONS, ...options },
  });
  await worker.start();
  const ingest: Ingest = {
    start: () => worker.start(),
    health: () => worker.health(),
    stop: async () => {
      await worker.stop();
      await encoder.close();
    },
  };
  return { ingest, metrics };
}

/** True when the durable consumer has delivered and had acknowledged every message. */
export async function consumerIsIdle(nc: NatsConnection): Promise<boolean> {
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(RESULTS_STREAM, INGEST_CONSUMER);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  } catch {
    // JetStream is not answering (yet): not idle.
    return false;
  }
}

export interface IngestStack {
  readonly nats: Awaited<ReturnType<typeof startTestNats>>;
  readonly nc: NatsConnection;
  readonly testStore: TestStore;
  readonly ingest: Ingest;
  /** Stops ingest, closes the connection and the store, stops the servers. */
  stop(): Promise<void>;
}

/**
 * A real nats-server, a store and ingest between them: where agents' results land. The store
 * is embedded (chDB) or in a clickhouse-server of its own. What started is stopped again if a
 * later part fails to start.
 */
export async function startIngestStack(backend: Backend = 'chdb'): Promise<IngestStack> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = (): Promise<void> => cleanUp(...[...stops].reverse());
  try {
    const nats = await startTestNats();
    stops.push(() => nats.stop());
    const testStore = await openOwnTestStore(backend);
    stops.push(() => testStore.dispose());
    const nc = await connect({ servers: nats.url });
    stops.push(() => nc.drain());
    const { ingest } = await startTestIngest(nc, testStore.store);
    stops.push(() => ingest.stop());
    return { nats, nc, testStore, ingest, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
