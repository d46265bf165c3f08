import type { NatsConnection } from '@nats-io/nats-core';
import type { Config } from '../../lib/config.ts';
import { startOpsServer } from '../../lib/http/ops-server.ts';
import type { Logger } from '../../lib/logger.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { shutDown, untilSignal, type ShutdownStep } from '../../lib/shutdown.ts';
import { openStore } from '../../lib/storage/open-store.ts';
import type { Store } from '../../lib/storage/store.ts';
import { createIngest } from './ingest.ts';
import { createBatchEncoder } from './encoder-pool.ts';
import { createIngestMetrics } from './metrics.ts';

export type IngestConfig = Config<
  | 'dataDir'
  | 'natsUrl'
  | 'streamReplicas'
  | 'clickhouseUrl'
  | 'clickhouseUser'
  | 'clickhousePassword'
  | 'clickhouseDatabase'
  | 'batchSize'
  | 'batchWaitMs'
  | 'maxMessageBytes'
  | 'ackWaitMs'
  | 'encoderThreads'
  | 'metricsHost'
  | 'metricsPort'
>;

export interface IngestService {
  readonly metricsUrl: string;
  /** Stops consuming, writes what it holds, closes the metrics server. */
  stop(): Promise<void>;
}

/** Starts ingest on an open NATS connection and store, with its /metrics server. */
export async function startIngestService(
  nc: NatsConnection,
  store: Store,
  config: IngestConfig,
  logger: Logger,
): Promise<IngestService> {
  const metrics = createIngestMetrics();
  const encoder = createBatchEncoder({ threads: config.encoderThreads === 0 ? 0 : 1 });
  const ingest = createIngest({
    nc,
    store,
    logger,
    metrics,
    encoder,
    options: {
      batchSize: config.batchSize,
      batchWaitMs: config.batchWaitMs,
      maxMessageBytes: config.maxMessageBytes,
      ackWaitMs: config.ackWaitMs,
      ...(config.streamReplicas === undefined ? {} : { streamReplicas: config.streamReplicas }),
    },
  });
  await ingest.start();
  const ops = await startOpsServer({
    host: config.metricsHost,
    port: config.metricsPort,
    registry: metrics.registry,
    health: () => ingest.health(),
  }).catch(async (error: unknown) => {
    await ingest.stop();
    await encoder.close();
    throw error;
  });
  return {
    metricsUrl: `${ops.url}/metrics`,
    stop: async () => {
      await ingest.stop();
      await encoder.close();
      await ops.close();
    },
  };
}

/** `berth ingest`: wires config, connections and shutdown around the ingest service. */
export async function runIngest(config: IngestConfig, logger: Logger): Promise<void> {
  const steps: ShutdownStep[] = [];
  const stopAll = async (): Promise<boolean> => shutDown([...steps].reverse(), logger);
  try {
    const store = await openStore(config);
    steps.push({ name: 'store', run: () => store.close() });
    const nc = await connectNats({ url: config.natsUrl, name: 'berth-ingest' });
    steps.push({ name: 'nats', run: () => nc.drain() });
    const service = await startIngestService(nc, store, config, logger);
    steps.push({ name: 'ingest', run: () => service.stop() });
    process.stdout.write(
      `berth ingest ready: ${store.backend} store at ${store.location}, metrics at ${service.metricsUrl}\n`,
    );
  } catch (error) {
    await stopAll();
    throw error;
  }
  const signal = await untilSignal(logger);
  logger.info({ signal }, 'stopping: finishing the batches in hand');
  const clean = await stopAll();
  if (!clean) throw new Error('ingest did not stop cleanly; see the log');
}
