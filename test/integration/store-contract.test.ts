import { describe, expect, it } from 'vitest';
import { appliedVersions, migrate } from '../../lib/storage/migrations.ts';
import {
  countStoredResults,
  dedupedResults,
  resultRows,
  type ResultFilter,
  type ResultRow,
} from '../../lib/storage/results.ts';
import { sql } from '../../lib/storage/sql.ts';
import type { Store } from '../../lib/storage/store.ts';
import { hostileString, seededRandom } from '../../support/random.ts';
import { makeResult } from '../../support/results.ts';
import { storeForBlock } from '../../support/hooks.ts';
import { BACKENDS } from '../../support/servers.ts';

const INGESTED_AT = 1_764_000_000_000;
const NOTHING = { results: 0, rows: 0, duplicateRows: 0 };

/** UInt64 (and Int64) values come back as JSON strings from clickhouse-server, numbers from chDB. */
type UInt64 = number | string;

function asNumber(value: unknown): number {
  expect(['number', 'string']).toContain(typeof value);
  const number = Number(value);
  expect(Number.isFinite(number), `${String(value)} is a number`).toBe(true);
  return number;
}

async function rawRowCount(store: Store, hostId: string): Promise<number> {
  const [row] = await store.query<{ n: UInt64 }>(
    sql`SELECT count() AS n FROM results WHERE host_id = ${hostId}`,
  );
  return asNumber(row?.n);
}

/** One contract, two backends: whatever passes here works on chDB and on clickhouse-server 18.16. */
describe.each(BACKENDS)('store contract on %s', (backend) => {
  const store = storeForBlock(backend);

  it('describes itself', () => {
    expect(store().backend).toBe(backend);
    expect(store().database).toMatch(/^\w+$/);
    expect(store().location).not.toBe('');
  });

  it('migrates once: a second run applies nothing and the ledger holds each version once', async () => {
    expect(await appliedVersions(store())).toEqual([1, 2, 3]);
    expect(await migrate(store())).toEqual([]);
    expect(await migrate(store())).toEqual([]);
    expect(await appliedVersions(store())).toEqual([1, 2, 3]);
    const ledger = await store().query<{ version: UInt64; name: string }>(
      sql`SELECT version, name FROM schema_migrations`,
    );
    expect(
      ledger
        .map((row) => [asNumber(row.version), row.name])
        .sort((a, b) => Number(a[0]) - Number(b[0])),
    ).toEqual([
      [1, 'results'],
      [2, 'advice audit log'],
      [3, 'results: rounds and comparisons'],
    ]);
  });

  it('reads back what it stored, UInt64 values as numbers or numeric strings', async () => {
    const batch = makeResult(7, 'host-c', 3);
    const rows = resultRows(batch, INGESTED_AT);
    expect(rows).toHaveLength(3);
    await store().insert('results', rows);
    const stored = await store().query<
      Omit<ResultRow, 'taken_at_ms' | 'samples' | 'schema_version'> & {
        taken_at_ms: UInt64;
        samples: UInt64;
        schema_version: UInt64;
      }
    >(sql`SELECT result_id, metric, host_id, run_id, platform, runtime, accel, settings,
                 workload, unit, value, rme, stddev, p50, p75, p99, stopped_by,
                 samples, taken_at_ms, schema_version
          FROM (${dedupedResults({ hostId: 'host-c' })}) ORDER BY metric`);
    expect(stored.map((row) => row.metric)).toEqual(['metric-0', 'metric-1', 'metric-2']);
    stored.forEach((row, index) => {
      const metric = batch.metrics[index];
      expect(row).toMatchObject({
        result_id: batch.id,
        host_id: 'host-c',
        run_id: batch.runId,
        platform: batch.platform.name,
        runtime: batch.platform.runtime,
        accel: batch.platform.accel,
        workload: batch.workload.name,
        unit: metric?.unit,
        value: metric?.value,
        rme: metric?.rme,
        stddev: metric?.stddev,
        p50: metric?.percentiles?.p50,
        p75: null,
        p99: metric?.percentiles?.p99,
        stopped_by: 'rme-target',
      });
      expect(JSON.parse(row.settings)).toEqual(batch.platform.settings);
      expect(asNumber(row.samples)).toBe(metric?.samples);
      expect(asNumber(row.taken_at_ms)).toBe(batch.takenAt);
      expect(asNumber(row.schema_version)).toBe(1);
    });
    const counts = await countStoredResults(store(), { hostId: 'host-c' });
    expect(counts).toEqual({ results: 1, rows: 3, duplicateRows: 0 });
    for (const value of Object.values(counts)) expect(typeof value).toBe('number');
  });

  it('counts a result written twice once', async () => {
    const batch = makeResult(8, 'host-d', 2);
    // Keep the duplicate parts apart, so only the dedupe query can hide the second copy.
    await store().command(sql`SYSTEM STOP MERGES results`);
    try {
      await store().insert('results', resultRows(batch, INGESTED_AT));
      await store().insert('results', resultRows(batch, INGESTED_AT + 60_000));
      expect(await rawRowCount(store(), 'host-d')).toBe(4);
      expect(await countStoredResults(store(), { hostId: 'host-d' })).toEqual({
        results: 1,
        rows: batch.metrics.length,
        duplicateRows: 0,
      });
      // The later copy wins.
      const [row] = await store().query<{ ingested_at: UInt64 }>(
        sql`SELECT toUInt32(ingested_at) AS ingested_at
            FROM (${dedupedResults({ hostId: 'host-d', metric: 'metric-0' })})`,
      );
      expect(asNumber(row?.ingested_at)).toBe((INGESTED_AT + 60_000) / 1000);
    } finally {
      await store().command(sql`SYSTEM START MERGES results`);
    }
  });

  it('filters by host (one or a list), platform, workload, metric and run', async () => {
    const batch = makeResult(7, 'host-c', 3);
    const cases: [ResultFilter, number][] = [
      [{}, 2],
      [{ hostId: 'host-c' }, 1],
      [{ hostId: 'host-c', platform: batch.platform.name }, 1],
      [{ hostId: 'host-c', platform: 'vm' }, 0],
      [{ workload: 'cpu-sha256', metric: 'metric-2' }, 1],
      [{ workload: 'cpu-sha256', metric: 'metric-1' }, 2],
      [{ runId: batch.runId, hostId: 'host-c' }, 1],
      [{ hostId: 'host-C' }, 0],
      [{ hostIds: ['host-c', 'host-d'] }, 2],
      [{ hostIds: ['host-d', 'nobody'] }, 1],
      [{ hostIds: ['host-C'] }, 0],
    ];
    for (const [filter, results] of cases) {
      expect((await countStoredResults(store(), filter)).results, JSON.stringify(filter)).toBe(
        results,
      );
    }
  });

  it('filters with hostile strings return nothing and break nothing', async () => {
    const before = await countStoredResults(store());
    expect(before.results).toBe(2);
    const random = seededRandom(4242);
    const hostile = [
      "host-c' OR '1'='1",
      "host-c' --",
      "host-c\\' OR 1=1 --",
      "'; DROP TABLE results; --",
      "'; TRUNCATE TABLE results; --",
      'host-c\0',
      'host-c\\',
      '%',
      '*',
      '',
      ...Array.from({ length: 30 }, () => hostileString(random)),
    ];
    const fields = ['hostId', 'platform', 'workload', 'metric', 'runId'] as const;
    for (const value of hostile) {
      for (const field of fields) {
        expect(
          await countStoredResults(store(), { [field]: value }),
          `${field} = ${JSON.stringify(value)}`,
        ).toEqual(NOTHING);
      }
      expect(await countStoredResults(store(), { hostIds: [value, value] })).toEqual(NOTHING);
      const rows = await store().query(
        sql`SELECT * FROM (${dedupedResults({ hostId: value, platform: value, workload: value, metric: value })})`,
      );
      expect(rows).toEqual([]);
    }
    expect(await countStoredResults(store())).toEqual(before);
    const tables = await store().query<{ name: string }>(
      sql`SELECT name FROM system.tables WHERE database = ${store().database} ORDER BY name`,
    );
    expect(tables.map((table) => table.name)).toEqual(['advice', 'results', 'schema_migrations']);
  });

  it('stores hostile strings as they are and finds them by exact value', async () => {
    const random = seededRandom(777);
    const values = [
      ...new Set([
        "it's",
        'back\\slash\\',
        'tab\there\nnewline\r\0nul',
        '\\N',
        "'; DROP TABLE results; --",
        'e\u0301😀',
        ...Array.from({ length: 10 }, () => hostileString(random)),
      ]),
    ];
    const template = resultRows(makeResult(9, 'host-e', 1), INGESTED_AT)[0];
    if (template === undefined) throw new Error('no row');
    await store().insert(
      'results',
      values.map((value, index) => ({
        ...template,
        result_id: `hostile-${index}`,
        host_id: value,
        workload: value,
        unit: value,
      })),
    );
    for (const [index, value] of values.entries()) {
      const rows = await store().query<{ result_id: string; unit: string }>(
        sql`SELECT result_id, unit FROM (${dedupedResults({ hostId: value, workload: value })})`,
      );
      expect(rows, JSON.stringify(value)).toEqual([{ result_id: `hostile-${index}`, unit: value }]);
    }
  });

  it('reports a statement it refuses as BERTH_ERR_STORE_QUERY and keeps working', async () => {
    await expect(store().query(sql`SELECT no_such_column FROM results`)).rejects.toMatchObject({
      code: 'BERTH_ERR_STORE_QUERY',
    });
    await expect(store().command(sql`CREATE TABLE`)).rejects.toMatchObject({
      code: 'BERTH_ERR_STORE_QUERY',
    });
    await expect(store().insert('no_such_table', [{ a: 1 }])).rejects.toMatchObject({
      code: 'BERTH_ERR_STORE_QUERY',
    });
    await store().ping();
    expect(await countStoredResults(store(), { hostId: 'host-c' })).toMatchObject({ results: 1 });
  });
});
