import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStreams } from '../../lib/nats/streams.ts';
import { startNatsServer, type NatsServer } from '../../lib/servers/nats-server.ts';
import { countStoredResults } from '../../lib/storage/results.ts';
import type { Ingest } from '../../services/ingest/ingest.ts';
import { consumerIsIdle, startTestIngest } from '../../support/ingest.ts';
import { makeResult, publishResults } from '../../support/results.ts';
import {
  openTestStore,
  removeDir,
  startTestClickHouse,
  tempDir,
  type TestStore,
  cleanUp,
} from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

const RESULTS = 20_000;

describe('nats-server restarted while ingest works through the stream', () => {
  let dataDir: string;
  let nats: NatsServer;
  let clickhouse: Awaited<ReturnType<typeof startTestClickHouse>>;
  let testStore: TestStore;
  let nc: NatsConnection | undefined;
  let ingest: Ingest | undefined;

  beforeAll(async () => {
    dataDir = await tempDir('nats-outage');
    nats = await startNatsServer({ dataDir });
    clickhouse = await startTestClickHouse();
    testStore = await openTestStore('clickhouse', clickhouse.url);
  });

  afterAll(async () => {
    await cleanUp(
      () => ingest?.stop(),
      () => nc?.close(),
      () => testStore.dispose(),
      () => clickhouse.stop(),
      () => nats.stop(),
      () => removeDir(dataDir),
    );
  });

  it('reports the outage, then stores every result once', async () => {
    const publisher = await connect({ servers: nats.url });
    await ensureStreams(await jetstreamManager(publisher));
    const results = Array.from({ length: RESULTS }, (_, index) => makeResult(index, 'host-n'));
    await publishResults(publisher, results);
    await publisher.close();

    const connection = await connect({
      servers: nats.url,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 200,
    });
    nc = connection;
    const started = await startTestIngest(connection, testStore.store, { batchSize: 500 });
    ingest = started.ingest;
    await waitFor('some results stored', async () => {
      const stored = (await countStoredResults(testStore.store)).results;
      return stored > 1000 && stored < RESULTS;
    });

    await nats.process.kill();
    await waitFor('ingest to notice', () => !started.ingest.health().healthy, 10_000);
    expect(started.ingest.health().problems).toContain('disconnected from NATS');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    nats = await startNatsServer({ dataDir, port: nats.port });

    await waitFor('every result to be stored', () => consumerIsIdle(connection), 90_000);
    expect(started.ingest.health()).toEqual({ healthy: true, problems: [] });
    expect(await countStoredResults(testStore.store)).toEqual({
      results: RESULTS,
      rows: RESULTS * 2,
      duplicateRows: 0,
    });
  });
});
