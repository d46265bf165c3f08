import { join } from 'node:path';
import { BerthError, describeError, isBerthError } from '../../contracts/index.ts';
import { settingLabel, type Config } from '../config.ts';
import { openClickHouseStore } from './clickhouse-store.ts';
import { migrate } from './migrations.ts';
import type { Store } from './store.ts';

export type StoreConfig = Config<
  'dataDir' | 'clickhouseUrl' | 'clickhouseUser' | 'clickhousePassword' | 'clickhouseDatabase'
>;

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
          });
  } catch (error) {
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
