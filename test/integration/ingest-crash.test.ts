import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClickHouseStore } from '../../lib/storage/clickhouse-store.ts';
import { countStoredResults } from '../../lib/storage/results.ts';
import type { Store } from '../../lib/storage/store.ts';
import { startIngestWorker, type BerthProcess } from '../../support/cli.ts';
import { consumerIsIdle } from '../../support/ingest.ts';
import { makeResult, publishResults } from '../../support/results.ts';
import {
  startTestClickHouse,
  startTestNats,
  tempDir,
  removeDir,
  uniqueDatabase,
  cleanUp,
} from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

const RESULTS = 20_000;
const KILLS = 3;

describe('ingest killed with SIGKILL mid-stream', () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let clickhouse: Awaited<ReturnType<typeof startTestClickHouse>>;
  let nc: NatsConnection;
  let store: Store;
  let dataDir: string;
  const database = uniqueDatabase('crash');
  let worker: BerthProcess | undefined;

  const startWorker = async (): Promise<BerthProcess> => {
    const started = await startIngestWorker({
      natsUrl: nats.url,
      clickhouseUrl: clickhouse.url,
      database,
      dataDir,
      ackWaitMs: 2000,
    });
    return started.worker;
  };

  beforeAll(async () => {
    nats = await startTestNats();
    clickhouse = await startTestClickHouse();
    dataDir = await tempDir('crash');
    nc = await connect({ servers: nats.url });
  });

  afterAll(async () => {
    worker?.child.kill('SIGKILL');
    await cleanUp(
      () => nc.drain(),
      () => store.close(),
      () => clickhouse.stop(),
      () => nats.stop(),
      () => removeDir(dataDir),
    );
  });

  it('stores all 20,000 results, none twice, after three kills and restarts', async () => {
    worker = await startWorker();
    store = await openClickHouseStore({ url: clickhouse.url, database });
    const results = Array.from({ length: RESULTS }, (_, index) => makeResult(index, 'host-k'));
    // The stream goes out in KILLS + 1 parts, each only after the kill before it, so every
    // kill lands mid-stream however fast this machine publishes or restarts a worker.
    const part = Math.ceil(RESULTS / (KILLS + 1));
    let storedBefore = 0;
    for (let kill = 1; kill <= KILLS; kill += 1) {
      const publishing = publishResults(nc, results.slice((kill - 1) * part, kill * part), 100, 20);
      await waitFor(`progress stored before kill ${kill}`, async () => {
        return (await countStoredResults(store)).results > storedBefore + 500;
      });
      storedBefore = (await countStoredResults(store)).results;
      const victim = worker;
      victim.child.kill('SIGKILL');
      expect(await victim.exited()).toBe('SIGKILL');
      await publishing;
      worker = await startWorker();
    }
    await publishResults(nc, results.slice(KILLS * part), 100, 20);

    await waitFor('every result to be stored', () => consumerIsIdle(nc), 60_000);
    expect(await countStoredResults(store)).toEqual({
      results: RESULTS,
      rows: RESULTS * 2,
      duplicateRows: 0,
    });
    worker.child.kill('SIGTERM');
    expect(await worker.exited()).toBe(0);
  });
});
