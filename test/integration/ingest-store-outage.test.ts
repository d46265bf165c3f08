import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickHouseServer, type ClickHouseServer } from '../../support/clickhouse-server.ts';
import { openClickHouseStore } from '../../lib/storage/clickhouse-store.ts';
import { countStoredResults } from '../../lib/storage/results.ts';
import { startIngestWorker, type BerthProcess } from '../../support/cli.ts';
import { consumerIsIdle } from '../../support/ingest.ts';
import { makeResult, publishResults } from '../../support/results.ts';
import {
  removeDir,
  startTestNats,
  tempDir,
  uniqueDatabase,
  cleanUp,
} from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

const RESULTS = 10_000;
const OUTAGE_MS = 15_000;

async function storedCount(url: string, database: string): Promise<number> {
  const store = await openClickHouseStore({ url, database });
  try {
    return (await countStoredResults(store)).results;
  } finally {
    await store.close();
  }
}

async function healthStatus(url: string): Promise<number> {
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

describe('ClickHouse killed and kept down for 15 s during the stream', () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let clickhouse: ClickHouseServer;
  let dataDir: string;
  let nc: NatsConnection;
  let worker: BerthProcess;
  const database = uniqueDatabase('outage');

  beforeAll(async () => {
    nats = await startTestNats();
    dataDir = await tempDir('outage');
    clickhouse = await startClickHouseServer({ dataDir });
    nc = await connect({ servers: nats.url });
  });

  afterAll(async () => {
    worker.child.kill('SIGKILL');
    await cleanUp(
      () => nc.drain(),
      () => clickhouse.stop(),
      () => nats.stop(),
      () => removeDir(dataDir),
    );
  });

  it('retries with backoff, reports unhealthy, and loses and duplicates nothing', async () => {
    const started = await startIngestWorker({
      natsUrl: nats.url,
      clickhouseUrl: clickhouse.url,
      database,
      dataDir,
      ackWaitMs: 3000,
    });
    worker = started.worker;
    const ready = started.ready;
    const metricsUrl = /(http:\/\/\S+)\/metrics/.exec(ready)?.[1] ?? '';
    expect(await healthStatus(`${metricsUrl}/healthz`)).toBe(200);

    const results = Array.from({ length: RESULTS }, (_, index) => makeResult(index, 'host-o'));
    let published = false;
    const publishing = publishResults(nc, results, 100, 100).then(() => {
      published = true;
    });
    await waitFor(
      'some results stored',
      async () => (await storedCount(clickhouse.url, database)) > 1000,
    );

    expect(published, 'the stream is still being published when ClickHouse goes').toBe(false);
    await clickhouse.process.kill();
    const outageEnds = Date.now() + OUTAGE_MS;
    await waitFor(
      '/healthz to report the outage',
      async () => (await healthStatus(`${metricsUrl}/healthz`)) === 503,
      10_000,
    );
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/berth_ingest_healthy 0/);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageEnds - Date.now())));
    expect(await healthStatus(`${metricsUrl}/healthz`)).toBe(503);
    const retries = Number(
      /berth_ingest_store_retries_total (\d+)/.exec(
        await (await fetch(`${metricsUrl}/metrics`)).text(),
      )?.[1],
    );
    expect(retries).toBeGreaterThan(1);

    clickhouse = await startClickHouseServer({ dataDir, httpPort: clickhouse.httpPort });
    await publishing;
    await waitFor('every result to be stored', () => consumerIsIdle(nc), 60_000);
    await waitFor(
      '/healthz to recover',
      async () => (await healthStatus(`${metricsUrl}/healthz`)) === 200,
    );

    const store = await openClickHouseStore({ url: clickhouse.url, database });
    try {
      expect(await countStoredResults(store)).toEqual({
        results: RESULTS,
        rows: RESULTS * 2,
        duplicateRows: 0,
      });
    } finally {
      await store.close();
    }
    worker.child.kill('SIGTERM');
    expect(await worker.exited()).toBe(0);
  });
});
