import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BerthError } from '../../contracts/index.ts';
import { openClickHouseStore } from '../../lib/storage/clickhouse-store.ts';
import { spawnBerth } from '../helpers/cli.ts';
import { startTestClickHouse } from '../helpers/servers.ts';

const SECRET = 'wrong-Swordfish-4711';

describe('a wrong ClickHouse password', () => {
  let clickhouse: Awaited<ReturnType<typeof startTestClickHouse>>;

  beforeAll(async () => {
    clickhouse = await startTestClickHouse();
  });

  afterAll(async () => {
    await clickhouse.stop();
  });

  it('is refused with an error that names the user and not the password', async () => {
    const withUrl = clickhouse.url.replace('://', `://default:${SECRET}@`);
    for (const options of [
      { url: clickhouse.url, username: 'default', password: SECRET },
      { url: withUrl },
    ]) {
      const error = await openClickHouseStore({ ...options, database: 'berth_creds' }).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(BerthError);
      const message = (error as BerthError).message;
      expect(message).toMatch(/password/i);
      expect(message).toContain('default');
      expect(message).not.toContain(SECRET);
      expect(inspect(error, { depth: 10 })).not.toContain(SECRET);
    }
  });

  it('berth results fails without printing it', async () => {
    const berth = spawnBerth(['results', '--clickhouse-url', clickhouse.url], {
      CLICKHOUSE_USER: 'default',
      CLICKHOUSE_PASSWORD: SECRET,
      BERTH_LOG_LEVEL: 'trace',
    });
    expect(await berth.exited()).toBe(1);
    expect(berth.stderr()).toMatch(/password/i);
    expect(berth.stderr()).not.toContain(SECRET);
    expect(berth.stdout()).not.toContain(SECRET);
  });
});
