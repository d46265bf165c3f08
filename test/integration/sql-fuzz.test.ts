import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ident, joinSql, sql, type SqlFragment } from '../../lib/storage/sql.ts';
import { countStoredResults } from '../../lib/storage/results.ts';
import { hostileString, seededRandom } from '../helpers/random.ts';
import {
  BACKENDS,
  openTestStore,
  startTestClickHouse,
  type TestStore,
  cleanUp,
} from '../helpers/servers.ts';

const SEED = 20_261_124;
const CASES = 600;
const PER_QUERY = 50;

function cases(): string[] {
  const random = seededRandom(SEED);
  const fixed = [
    '',
    'trailing backslash\\',
    '\\',
    "'",
    "''",
    "\\'",
    "'; DROP TABLE results; --",
    Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)).join('') + '\u007f',
    'x'.repeat(100_000) + "'\\\n",
  ];
  return [...fixed, ...Array.from({ length: CASES }, () => hostileString(random))];
}

describe.each(BACKENDS)('every string round-trips through a SQL literal on %s', (backend) => {
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

  it(`${CASES} generated and a few chosen hostile strings (seed ${SEED})`, async () => {
    const values = cases();
    for (let start = 0; start < values.length; start += PER_QUERY) {
      const chunk = values.slice(start, start + PER_QUERY);
      const columns: SqlFragment[] = chunk.map(
        (value, index) => sql`${value} AS ${ident(`v${index}`)}`,
      );
      const [row] = await testStore.store.query<Record<string, string>>(
        sql`SELECT ${joinSql(columns, ', ')}`,
      );
      chunk.forEach((value, index) => {
        expect(
          row?.[`v${index}`],
          `case ${start + index}: ${JSON.stringify(value.slice(0, 80))}`,
        ).toBe(value);
      });
    }
  });

  it('a lone surrogate becomes U+FFFD, and filters with hostile values break nothing', async () => {
    const [row] = await testStore.store.query<{ v: string }>(sql`SELECT ${'a\ud800b'} AS v`);
    expect(row?.v).toBe('a\ufffdb');
    const random = seededRandom(SEED + 1);
    for (let index = 0; index < 50; index += 1) {
      const hostile = hostileString(random);
      expect(
        await countStoredResults(testStore.store, { hostId: hostile, workload: hostile }),
      ).toEqual({
        results: 0,
        rows: 0,
        duplicateRows: 0,
      });
    }
    const tables = await testStore.store.query<{ name: string }>(
      sql`SELECT name FROM system.tables WHERE database = ${testStore.store.database} ORDER BY name`,
    );
    expect(tables.map((table) => table.name)).toEqual(['results', 'schema_migrations']);
  });
});
