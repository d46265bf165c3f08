import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_SETTINGS } from '../../cli/options.ts';
import { loadConfig } from '../../lib/config.ts';
import { ensureCa, issueCertificate } from '../../lib/nats/fleet-tls.ts';
import { openStore, type StoreConfig } from '../../lib/storage/open-store.ts';
import { sql } from '../../lib/storage/sql.ts';
import { spawnBerth } from '../../support/cli.ts';
import { startClickHouseServer, type ClickHouseServer } from '../../support/clickhouse-server.ts';
import {
  cleanUp,
  removeDir,
  startTestNats,
  tempDir,
  uniqueDatabase,
} from '../../support/servers.ts';

describe('ClickHouse over HTTPS', () => {
  let dir: string;
  let server: ClickHouseServer;
  let httpsUrl: string;
  const caFile = (): string => join(dir, 'ca', 'ca.crt');
  const stops: (() => Promise<unknown>)[] = [];

  /** The store settings of a Berth command given these variables. */
  const configOf = (env: Readonly<Record<string, string>>): StoreConfig =>
    loadConfig(
      STORE_SETTINGS,
      {},
      { BERTH_DATA_DIR: join(dir, 'data'), CLICKHOUSE_DATABASE: uniqueDatabase('tls'), ...env },
    );

  /** The message openStore rejects with, which must be one line. */
  const refusal = async (env: Readonly<Record<string, string>>): Promise<string> => {
    const error = await openStore(configOf(env)).then(
      async (store) => {
        await store.close();
        throw new Error('the store opened');
      },
      (rejected: unknown) => rejected as Error,
    );
    expect(error.message).not.toContain('\n');
    return error.message;
  };

  beforeAll(async () => {
    dir = await tempDir('clickhouse-tls');
    stops.push(() => removeDir(dir));
    await mkdir(join(dir, 'ca'));
    await mkdir(join(dir, 'other'));
    const ca = await ensureCa(join(dir, 'ca'));
    const certificate = await issueCertificate({
      ca,
      dir: join(dir, 'ca'),
      base: 'clickhouse',
      commonName: '127.0.0.1',
      usage: 'node',
      names: ['127.0.0.1'],
    });
    await ensureCa(join(dir, 'other'));
    server = await startClickHouseServer({ dataDir: join(dir, 'server'), https: certificate });
    stops.push(() => server.stop());
    httpsUrl = server.httpsUrl ?? '';
  }, 120_000);

  afterAll(async () => {
    await cleanUp(...[...stops].reverse());
  }, 60_000);

  it('opens, migrates and queries the store at an https:// URL checked against --clickhouse-ca', async () => {
    expect(httpsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const store = await openStore(configOf({ CLICKHOUSE_URL: httpsUrl, CLICKHOUSE_CA: caFile() }));
    try {
      expect(store.location).toBe(httpsUrl);
      const rows = await store.query<{ n: number | string }>(sql`SELECT count() AS n FROM results`);
      expect(Number(rows[0]?.n)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('berth ingest opens and migrates its ClickHouse store over HTTPS', async () => {
    const nats = await startTestNats();
    const ingest = spawnBerth(['ingest'], {
      NATS_URL: nats.url,
      CLICKHOUSE_URL: httpsUrl,
      CLICKHOUSE_CA: caFile(),
      CLICKHOUSE_DATABASE: uniqueDatabase('tls_ingest'),
      BERTH_DATA_DIR: join(dir, 'ingest'),
      BERTH_METRICS_PORT: '0',
    });
    try {
      const ready = await ingest.waitForLine(/berth ingest ready/, 60_000);
      expect(ready).toContain(`clickhouse store at ${httpsUrl}`);
    } finally {
      ingest.child.kill('SIGTERM');
      await ingest.exited();
      await nats.stop();
    }
  }, 90_000);

  it('refuses a server whose CA is not the one given, or a name its certificate lacks, naming the setting', async () => {
    expect(await refusal({ CLICKHOUSE_URL: httpsUrl })).toMatch(
      /^ClickHouse at https:\/\/127\.0\.0\.1:\d+ presented a certificate this client does not trust \(setting --clickhouse-ca \/ CLICKHOUSE_CA, not set\): /,
    );
    const other = join(dir, 'other', 'ca.crt');
    expect(await refusal({ CLICKHOUSE_URL: httpsUrl, CLICKHOUSE_CA: other })).toContain(
      `presented a certificate this client does not trust (setting --clickhouse-ca / CLICKHOUSE_CA, ${other})`,
    );
    expect(
      await refusal({
        CLICKHOUSE_URL: httpsUrl.replace('127.0.0.1', 'localhost'),
        CLICKHOUSE_CA: caFile(),
      }),
    ).toContain('presented a certificate that does not name the address it was reached at');
    expect(await refusal({ CLICKHOUSE_URL: server.url, CLICKHOUSE_CA: caFile() })).toBe(
      '--clickhouse-ca / CLICKHOUSE_CA checks an https:// server, and --clickhouse-url / CLICKHOUSE_URL is not https://',
    );
  });
});
