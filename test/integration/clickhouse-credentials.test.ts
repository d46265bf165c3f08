import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BerthError } from '../../contracts/index.ts';
import { openClickHouseStore } from '../../lib/storage/clickhouse-store.ts';
import { spawnBerth } from '../../support/cli.ts';
import { clickHouseForBlock } from '../../support/hooks.ts';

const SECRET = 'wrong-Swordfish-4711';

describe('a wrong ClickHouse password', () => {
  const clickhouseUrl = clickHouseForBlock();

  it('is refused with an error that names the user and not the password', async () => {
    const withUrl = clickhouseUrl().replace('://', `://default:${SECRET}@`);
    for (const options of [
      { url: clickhouseUrl(), username: 'default', password: SECRET },
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
    const berth = spawnBerth(['results', '--clickhouse-url', clickhouseUrl()], {
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
