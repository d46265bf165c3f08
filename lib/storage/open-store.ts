import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, describeError, isBerthError } from '../../contracts/index.ts';
import { settingLabel, type Config } from '../config.ts';
import { serverFaultText, tlsFailureOf } from '../tls-error.ts';
import { openClickHouseStore, redactUrl } from './clickhouse-store.ts';
import { migrate } from './migrations.ts';
import type { Store } from './store.ts';

export type StoreConfig = Config<
  'dataDir' | 'clickhouseUrl' | 'clickhouseUser' | 'clickhousePassword' | 'clickhouseDatabase'
> &
  Partial<Config<'clickhouseCa'>>;

/**
 * The CA file's certificates for an https:// server; a CA for a plain http:// server is a
 * mistake, since nothing would be checked with it.
 */
async function caCertOf(config: StoreConfig): Promise<Buffer | undefined> {
  if (config.clickhouseCa === undefined) return undefined;
  if (!config.clickhouseUrl?.startsWith('https:')) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `${settingLabel('clickhouseCa')} checks an https:// server, and ${settingLabel('clickhouseUrl')} is ${config.clickhouseUrl === undefined ? 'not set' : 'not https://'}`,
    );
  }
  try {
    return await readFile(config.clickhouseCa);
  } catch (error) {
    throw new BerthError(
      'BERTH_ERR_CONFIG',
      `cannot read ${config.clickhouseCa} (setting ${settingLabel('clickhouseCa')}): ${describeError(error)}`,
      { cause: error },
    );
  }
}

/** A TLS failure of the server, in a line naming the setting to look at; else undefined. */
function tlsProblemOf(error: unknown, config: StoreConfig): BerthError | undefined {
  const failure = tlsFailureOf(error);
  if (failure === undefined || failure.fault === 'refused') return undefined;
  return new BerthError(
    'BERTH_ERR_CONFIG',
    `ClickHouse at ${redactUrl(config.clickhouseUrl ?? '')} ${serverFaultText(failure.fault)} (setting ${settingLabel('clickhouseCa')}${config.clickhouseCa === undefined ? ', not set' : `, ${config.clickhouseCa}`}): ${failure.reason}`,
  );
}

/** The folder of the embedded store under the data folder. */
function embeddedStoreDir(dataDir: string): string {
  return join(dataDir, 'chdb');
}

/**
 * Opens the configured store and brings its schema up to date: the ClickHouse server when
 * a URL is set, the embedded chDB store otherwise. chDB's library (over 100 MB mapped) is
 * loaded only here, so commands that never open a store (the agent) do not carry it.
 */
export async function openStore(config: StoreConfig): Promise<Store> {
  const caCert = await caCertOf(config);
  let store: Store;
  try {
    store =
      config.clickhouseUrl === undefined
        ? await (
            await import('./chdb-store.ts')
          ).openChdbStore({
            dataDir: embeddedStoreDir(config.dataDir),
            database: config.clickhouseDatabase,
          })
        : await openClickHouseStore({
            url: config.clickhouseUrl,
            database: config.clickhouseDatabase,
            ...(config.clickhouseUser === undefined ? {} : { username: config.clickhouseUser }),
            ...(config.clickhousePassword === undefined
              ? {}
              : { password: config.clickhousePassword }),
            ...(caCert === undefined ? {} : { caCert }),
          });
  } catch (error) {
    const tls = tlsProblemOf(error, config);
    if (tls !== undefined) throw tls;
    if (isBerthError(error, 'BERTH_ERR_STORE_UNREACHABLE')) {
      throw new BerthError(
        'BERTH_ERR_STORE_UNREACHABLE',
        `${describeError(error)} (setting ${settingLabel('clickhouseUrl')})`,
        { cause: error },
      );
    }
    throw error;
  }
  try {
    await migrate(store);
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
