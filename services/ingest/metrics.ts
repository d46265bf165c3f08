import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface IngestMetrics {
  readonly registry: Registry;
  readonly received: Counter;
  readonly storedResults: Counter;
  readonly storedRows: Counter;
  readonly deadLettered: Counter<'code'>;
  readonly storeRetries: Counter;
  readonly batchSeconds: Histogram;
  readonly consumerLag: Gauge;
  readonly healthy: Gauge;
}

export function createIngestMetrics(): IngestMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'berth_ingest_' });
  return {
    registry,
    received: new Counter({
      name: 'berth_ingest_received_total',
      help: 'result messages taken from the stream (a redelivery counts again)',
      registers: [registry],
    }),
    storedResults: new Counter({
      name: 'berth_ingest_stored_results_total',
      help: 'result batches written to the store and acknowledged',
      registers: [registry],
    }),
    storedRows: new Counter({
      name: 'berth_ingest_stored_rows_total',
      help: 'metric rows written to the store',
      registers: [registry],
    }),
    deadLettered: new Counter({
      name: 'berth_ingest_dead_lettered_total',
      help: 'messages sent to berth.dlq, by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    storeRetries: new Counter({
      name: 'berth_ingest_store_retries_total',
      help: 'failed attempts to write a batch that were retried',
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'berth_ingest_batch_seconds',
      help: 'time from the first message of a batch to its acknowledgement',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'berth_ingest_consumer_lag',
      help: 'messages the durable consumer has not delivered or not yet had acknowledged',
      registers: [registry],
    }),
    healthy: new Gauge({
      name: 'berth_ingest_healthy',
      help: '1 while NATS is connected and the store accepts writes',
      registers: [registry],
    }),
  };
}
