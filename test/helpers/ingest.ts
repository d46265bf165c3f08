import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { silentLogger } from '../../lib/logger.ts';
import { INGEST_CONSUMER, RESULTS_STREAM } from '../../lib/nats/streams.ts';
import type { Store } from '../../lib/storage/store.ts';
import { createIngest, type Ingest, type IngestOptions } from '../../services/ingest/ingest.ts';
import { createBatchEncoder } from '../../services/ingest/encoder-pool.ts';
import { createIngestMetrics, type IngestMetrics } from '../../services/ingest/metrics.ts';
import { TEST_MAX_MESSAGE_BYTES } from './malformed.ts';
import { cleanUp, openTestStore, startTestNats, type TestStore } from './servers.ts';

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
  /** Stops ingest, closes the connection and the store, stops nats-server. */
  stop(): Promise<void>;
}

/** A real nats-server, an embedded store and ingest between them: where agents' results land. */
export async function startIngestStack(): Promise<IngestStack> {
  const nats = await startTestNats();
  const nc = await connect({ servers: nats.url });
  const testStore = await openTestStore('chdb');
  const { ingest } = await startTestIngest(nc, testStore.store);
  return {
    nats,
    nc,
    testStore,
    ingest,
    stop: () =>
      cleanUp(
        () => ingest.stop(),
        () => nc.drain(),
        () => testStore.dispose(),
        () => nats.stop(),
      ),
  };
}
