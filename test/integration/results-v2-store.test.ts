import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appliedVersions, migrate, MIGRATIONS } from '../../lib/storage/migrations.ts';
import {
  dedupedResults,
  resultRows,
  resultTsv,
  RESULT_COLUMNS,
} from '../../lib/storage/results.ts';
import { ident, joinSql, sql } from '../../lib/storage/sql.ts';
import type { Store } from '../../lib/storage/store.ts';
import { tsvRow } from '../../lib/storage/tsv.ts';
import { clickHouseForBlock } from '../../support/hooks.ts';
import { seededRandom } from '../../support/random.ts';
import { makeResult, makeResultV2 } from '../../support/results.ts';
import { BACKENDS, cleanUp, openTestStore, type TestStore } from '../../support/servers.ts';

const INGESTED_AT = 1_764_000_000_000;

/** The columns migration 3 adds to `results`, with the type each must have. */
const ROUND_COLUMN_TYPES = {
  rounds: 'UInt16',
  round_seed: 'String',
  disturbed_rounds: 'UInt16',
  host_fingerprint: 'String',
  uncalibrated: 'UInt8',
  round_values: 'Array(Float64)',
  baseline: 'String',
  ratio: 'Nullable(Float64)',
  ratio_low: 'Nullable(Float64)',
  ratio_high: 'Nullable(Float64)',
  ratio_rounds: 'Nullable(UInt16)',
  round_ratios: 'Array(Float64)',
  verdict: 'String',
  margin: 'Nullable(Float64)',
  comparison_method: 'String',
  rounds_to_decide: 'Nullable(UInt32)',
};

/** The columns `results` had before migration 3. */
const VERSION_1_COLUMNS = RESULT_COLUMNS.filter((column) => !(column in ROUND_COLUMN_TYPES));

/** What a version 1 row reads in the columns of migration 3. */
const VERSION_1_DEFAULTS = {
  rounds: 1,
  round_seed: '',
  disturbed_rounds: 0,
  host_fingerprint: '',
  uncalibrated: 0,
  round_values: [],
  baseline: '',
  ratio: null,
  ratio_low: null,
  ratio_high: null,
  ratio_rounds: null,
  round_ratios: [],
  verdict: '',
  margin: null,
  comparison_method: '',
  rounds_to_decide: null,
};

const ROUND_COLUMN_LIST = joinSql(
  Object.keys(ROUND_COLUMN_TYPES).map((column) => sql`${ident(column)}`),
  ', ',
);

async function roundColumnsOf(store: Store, resultId: string): Promise<Record<string, unknown>[]> {
  return store.query(
    sql`SELECT ${ROUND_COLUMN_LIST} FROM (${dedupedResults()})
        WHERE result_id = ${resultId} ORDER BY metric`,
  );
}

const clickhouseUrl = clickHouseForBlock();

describe.each(BACKENDS)('results of version 2 in %s', (backend) => {
  let testStore: TestStore | undefined;

  const store = (): Store => {
    if (testStore === undefined) throw new Error('the store did not open');
    return testStore.store;
  };

  beforeAll(async () => {
    // A store as an earlier Berth left it: migrations 1 and 2 only.
    testStore = await openTestStore(
      backend,
      backend === 'clickhouse' ? clickhouseUrl() : undefined,
      MIGRATIONS.slice(0, 2),
    );
  });

  afterAll(async () => {
    await cleanUp(() => testStore?.dispose());
  });

  it('migration 3 adds the round columns beside version 1 rows, which read their defaults', async () => {
    const old = makeResult(1, 'host-old', 2);
    await store().insertTsv(
      'results',
      VERSION_1_COLUMNS,
      resultRows(old, INGESTED_AT)
        .map((row) => tsvRow(row, VERSION_1_COLUMNS))
        .join(''),
    );
    // As if another process had got as far as one column before this one.
    await store().command(sql`ALTER TABLE results ADD COLUMN ratio Nullable(Float64)`);

    expect(await Promise.all([migrate(store()), migrate(store())])).toContainEqual([3]);
    expect(await migrate(store())).toEqual([]);
    expect(await appliedVersions(store())).toEqual([1, 2, 3]);

    const columns = await store().query<{ name: string; type: string }>(
      sql`SELECT name, type FROM system.columns
          WHERE database = ${store().database} AND table = 'results'`,
    );
    const types = new Map(columns.map(({ name, type }) => [name, type]));
    for (const [name, type] of Object.entries(ROUND_COLUMN_TYPES)) {
      expect(types.get(name), name).toBe(type);
    }
    expect(new Set(RESULT_COLUMNS)).toEqual(new Set(types.keys()));

    expect(await roundColumnsOf(store(), old.id)).toEqual([VERSION_1_DEFAULTS, VERSION_1_DEFAULTS]);
  });

  it('a version 1 batch written now reads the same defaults', async () => {
    const batch = makeResult(2, 'host-v1', 1);
    await store().insert('results', resultRows(batch, INGESTED_AT));
    expect(await roundColumnsOf(store(), batch.id)).toEqual([VERSION_1_DEFAULTS]);
  });

  it('a version 2 batch reads back its rounds, host state and comparisons', async () => {
    // Index 3 is on container-in-vm, compared with process; index 4 is process itself.
    const compared = makeResultV2(3, 'host-v2', 2);
    const baseline = makeResultV2(4, 'host-v2', 1);
    await store().insert('results', [
      ...resultRows(compared, INGESTED_AT),
      ...resultRows(baseline, INGESTED_AT),
    ]);
    const rounds = { rounds: 3, round_seed: 'seed-run-0', host_fingerprint: 'fingerprint-host-v2' };
    expect(await roundColumnsOf(store(), compared.id)).toEqual([
      {
        ...rounds,
        disturbed_rounds: 1,
        uncalibrated: 1,
        round_values: [1001.75, 1003, 1004.25],
        baseline: 'process:node',
        ratio: 0.97,
        ratio_low: 0.94,
        ratio_high: 1.01,
        ratio_rounds: 3,
        round_ratios: [0.95, 0.97, 0.99],
        verdict: 'unclear',
        margin: 0.03,
        comparison_method: 't',
        rounds_to_decide: 12,
      },
      {
        ...rounds,
        disturbed_rounds: 1,
        uncalibrated: 1,
        round_values: [1002.75, 1004, 1005.25],
        baseline: 'process:node',
        ratio: 0.98,
        ratio_low: 0.95,
        ratio_high: 1.02,
        ratio_rounds: 3,
        round_ratios: [0.95, 0.98, 0.99],
        verdict: 'same',
        margin: 0.03,
        comparison_method: 't',
        rounds_to_decide: null,
      },
    ]);
    expect(await roundColumnsOf(store(), baseline.id)).toEqual([
      { ...VERSION_1_DEFAULTS, ...rounds, round_values: [1002.75, 1004, 1005.25] },
    ]);
  });

  it('per-round values keep every finite number, however large, small or long', async () => {
    const random = seededRandom(11);
    const special = [0, -0, 1, -1, 0.1 + 0.2, Math.PI, 2 ** 53 + 2, 1e21, 1e-7, -2.5e-300, 1e300];
    const drawn = Array.from(
      { length: 1000 - special.length },
      () => (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20),
    );
    const values = [...special, ...drawn];
    const template = makeResultV2(5, 'host-fuzz', 1);
    const [metric] = template.metrics;
    if (metric === undefined) throw new Error('no metric');
    const batch = { ...template, metrics: [{ ...metric, roundValues: values }] };
    await store().insertTsv('results', RESULT_COLUMNS, resultTsv(batch, INGESTED_AT));
    const [stored] = await store().query<{ round_values: number[] }>(
      sql`SELECT round_values FROM (${dedupedResults({ hostId: 'host-fuzz' })})`,
    );
    expect(stored?.round_values).toHaveLength(values.length);
    // clickhouse-server 18.16 reads a Float64 to within one unit in the last place (as it
    // does a single value); chDB reads it exactly.
    const tolerance = backend === 'clickhouse' ? Number.EPSILON : 0;
    stored?.round_values.forEach((value, index) => {
      const sent = values[index] ?? Number.NaN;
      expect(Math.abs(value - sent), `${sent} read as ${value}`).toBeLessThanOrEqual(
        Math.abs(sent) * tolerance,
      );
    });
  });
});
