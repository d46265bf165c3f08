import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drainPending } from 'chdb';
import { startClickHouseServer, type ClickHouseServer } from './clickhouse-server.ts';
import { startNatsServer, type NatsServer } from '../lib/servers/nats-server.ts';
import { openChdbStore } from '../lib/storage/chdb-store.ts';
import { openClickHouseStore } from '../lib/storage/clickhouse-store.ts';
import { migrate, MIGRATIONS, type Migration } from '../lib/storage/migrations.ts';
import type { Store } from '../lib/storage/store.ts';

export type Backend = 'chdb' | 'clickhouse';
export const BACKENDS: readonly Backend[] = ['chdb', 'clickhouse'];

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `berth-test-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A server started in a temporary folder of its own, which goes when it stops. */
async function inTempDir<Server extends { stop(): Promise<void> }>(
  prefix: string,
  start: (dataDir: string) => Promise<Server>,
): Promise<Server & { dataDir: string }> {
  const dataDir = await tempDir(prefix);
  const server = await start(dataDir);
  return {
    ...server,
    dataDir,
    stop: async () => {
      await server.stop();
      await removeDir(dataDir);
    },
  };
}

/** A real nats-server with JetStream on, in a temporary folder. */
export function startTestNats(): Promise<NatsServer & { dataDir: string }> {
  return inTempDir('nats', (dataDir) => startNatsServer({ dataDir }));
}

/** A real clickhouse-server 18.16 in a temporary folder. */
export function startTestClickHouse(): Promise<ClickHouseServer & { dataDir: string }> {
  return inTempDir('clickhouse', (dataDir) => startClickHouseServer({ dataDir }));
}

let databaseCounter = 0;

/** A unique database name, so tests sharing a server do not see each other's rows. */
export function uniqueDatabase(prefix = 'test'): string {
  databaseCounter += 1;
  return `${prefix}_${process.pid}_${databaseCounter}_${Date.now() % 1_000_000}`;
}

export interface TestStore {
  readonly store: Store;
  /** On ClickHouse, where a `berth` process finds the same rows (CLICKHOUSE_URL, _DATABASE). */
  readonly clickhouse?: { readonly url: string; readonly database: string };
  /** Closes the store and removes what the test made. */
  dispose(): Promise<void>;
}

/**
 * A migrated store on the given backend (every migration unless others are given, as a store
 * an earlier Berth left). The ClickHouse backend needs a running server's URL; chDB gets its
 * own temporary folder (one chDB folder per process at a time).
 */
export async function openTestStore(
  backend: Backend,
  clickhouseUrl?: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<TestStore> {
  if (backend === 'clickhouse') {
    if (clickhouseUrl === undefined) throw new Error('the clickhouse backend needs a server URL');
    const database = uniqueDatabase();
    const store = await openClickHouseStore({ url: clickhouseUrl, database });
    await migrate(store, migrations);
    return { store, clickhouse: { url: clickhouseUrl, database }, dispose: () => store.close() };
  }
  const dataDir = await tempDir('chdb');
  const store = await openChdbStore({ dataDir, database: 'berth' });
  await migrate(store, migrations);
  return {
    store,
    dispose: async () => {
      await store.close();
      await drainPending();
      await removeDir(dataDir);
    },
  };
}

/**
 * A migrated store on the given backend that needs nothing started beside it: on ClickHouse,
 * in a clickhouse-server of its own, stopped after the store closes (the store closes its
 * keep-alive connections first, so the server does not wait for them to time out).
 */
export async function openOwnTestStore(backend: Backend): Promise<TestStore> {
  if (backend === 'chdb') return openTestStore(backend);
  const clickhouse = await startTestClickHouse();
  try {
    const opened = await openTestStore(backend, clickhouse.url);
    return {
      ...opened,
      dispose: () =>
        cleanUp(
          () => opened.dispose(),
          () => clickhouse.stop(),
        ),
    };
  } catch (error) {
    await clickhouse.stop();
    throw error;
  }
}

/** Runs every clean-up step even when one fails, then throws the first failure. */
export async function cleanUp(...steps: (() => Promise<unknown> | undefined)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
}
