import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appliedVersions, migrate, MIGRATIONS } from '../../lib/storage/migrations.ts';
import { countStoredResults, dedupedResults, resultRows } from '../../lib/storage/results.ts';
import { sql } from '../../lib/storage/sql.ts';
import { makeResult } from '../helpers/results.ts';
import {
  BACKENDS,
  openTestStore,
  startTestClickHouse,
  type TestStore,
  cleanUp,
} from '../helpers/servers.ts';

/** One contract, two backends: whatever passes here works on chDB and on clickhouse-server 18.16. */
describe.each(BACKENDS)('store contract on %s', (backend) => {
  let clickhouse: Awaited<ReturnType<typeof startTestClickHouse>> | undefined;
  let testStore: TestStore;

  beforeAll(async () => {
    if (backend === 'clickhouse') clickhouse = await startTestClickHouse();
    testStore = await openTestStore(backend, clickhouse?.url);
  });

  afterAll(async () => {
    await cleanUp(
      () => testStore.dispose(),
      () => clickhouse?.stop(),
    );
  });

  it('migrates once: a second run applies nothing', async () => {
    expect(await appliedVersions(testStore.store)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await migrate(testStore.store)).toEqual([]);
    expect(await appliedVersions(testStore.store)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('reads back what it stored, numbers as numbers or numeric strings', async () => {
    const batch = makeResult(7, 'host-c', 3);
    await testStore.store.insert('results', resultRows(batch, 1_764_000_000_000));
    const rows = await testStore.store.query<{
      result_id: string;
      metric: string;
      value: number;
      samples: number | string;
      taken_at_ms: number | string;
      p75: number | null;
    }>(sql`SELECT result_id, metric, value, samples, taken_at_ms, p75
           FROM (${dedupedResults({ hostId: 'host-c' })}) ORDER BY metric`);
    expect(rows.map((row) => row.metric)).toEqual(['metric-0', 'metric-1', 'metric-2']);
    expect(rows[0]).toMatchObject({
      result_id: batch.id,
      value: batch.metrics[0]?.value,
      p75: null,
    });
    expect(Number(rows[0]?.samples)).toBe(20);
    expect(Number(rows[0]?.taken_at_ms)).toBe(batch.takenAt);
  });

  it('counts a result written twice once', async () => {
    const batch = makeResult(8, 'host-d', 2);
    await testStore.store.command(sql`SYSTEM STOP MERGES results`);
    await testStore.store.insert('results', resultRows(batch, 1_764_000_000_000));
    await testStore.store.insert('results', resultRows(batch, 1_764_000_060_000));
    const [raw] = await testStore.store.query<{ n: number | string }>(
      sql`SELECT count() AS n FROM results WHERE host_id = ${'host-d'}`,
    );
    expect(Number(raw?.n)).toBe(4);
    expect(await countStoredResults(testStore.store, { hostId: 'host-d' })).toEqual({
      results: 1,
      rows: 2,
      duplicateRows: 0,
    });
    await testStore.store.command(sql`SYSTEM START MERGES results`);
  });

  it('filters by host, platform, workload, metric and run', async () => {
    const filters = [
      { hostId: 'host-c' },
      { hostId: 'host-c', platform: makeResult(7).platform.name },
      { workload: 'cpu-sha256', metric: 'metric-2' },
      { runId: makeResult(7).runId, hostId: 'host-c' },
    ];
    const counts = await Promise.all(
      filters.map((filter) => countStoredResults(testStore.store, filter)),
    );
    expect(counts.map((count) => count.results)).toEqual([1, 1, 1, 1]);
    expect(await countStoredResults(testStore.store, { hostId: "host-c' OR '1'='1" })).toEqual({
      results: 0,
      rows: 0,
      duplicateRows: 0,
    });
  });

  it('reports a statement it refuses as BERTH_ERR_STORE_QUERY', async () => {
    await expect(
      testStore.store.query(sql`SELECT no_such_column FROM results`),
    ).rejects.toMatchObject({
      code: 'BERTH_ERR_STORE_QUERY',
    });
    await testStore.store.ping();
  });
});
