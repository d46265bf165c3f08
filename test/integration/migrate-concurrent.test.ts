import { describe, expect, it } from 'vitest';
import { openClickHouseStore } from '../../lib/storage/clickhouse-store.ts';
import { appliedVersions, migrate, MIGRATIONS } from '../../lib/storage/migrations.ts';
import { sql } from '../../lib/storage/sql.ts';
import type { Store } from '../../lib/storage/store.ts';
import { clickHouseForBlock } from '../../support/hooks.ts';
import { uniqueDatabase } from '../../support/servers.ts';

/**
 * docker-compose.yml starts two ingest workers and two advisors at once against one empty
 * ClickHouse, and each migrates the store when it opens it (docs/deploy.md).
 */
describe('migrations run by several processes at once', () => {
  const clickhouseUrl = clickHouseForBlock();

  it('four stores migrating one new database together all succeed, and the schema is whole', async () => {
    const database = uniqueDatabase('migrate');
    const stores: Store[] = await Promise.all(
      Array.from({ length: 4 }, () => openClickHouseStore({ url: clickhouseUrl(), database })),
    );
    try {
      const ran = await Promise.all(stores.map((store) => migrate(store)));
      // Every migration ran somewhere; none failed.
      expect(new Set(ran.flat())).toEqual(new Set(MIGRATIONS.map(({ version }) => version)));
      const [first] = stores;
      if (first === undefined) throw new Error('no store');
      expect(await appliedVersions(first)).toEqual(MIGRATIONS.map(({ version }) => version));
      const tables = await first.query<{ name: string }>(
        sql`SELECT name FROM system.tables WHERE database = ${database} ORDER BY name`,
      );
      expect(tables.map(({ name }) => name)).toEqual(['advice', 'results', 'schema_migrations']);
      expect(await migrate(first)).toEqual([]);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});
