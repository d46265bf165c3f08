import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Session } from 'chdb';
import { BerthError, describeError } from '../../contracts/index.ts';
import { ident, sql, type SqlFragment } from './sql.ts';
import type { Store } from './store.ts';
import { rowsToTsv } from './tsv.ts';

export interface ChdbStoreOptions {
  readonly dataDir: string;
  readonly database: string;
}

/**
 * chDB, ClickHouse inside this process. It binds one data folder per process, and the
 * folder to one process at a time, so ingest and advisor share one store in one process.
 * Statements run one after another on the session.
 */
export async function openChdbStore(options: ChdbStoreOptions): Promise<Store> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  let session: Session;
  try {
    session = new Session(dataDir);
  } catch (error) {
    throw new BerthError(
      'BERTH_ERR_STORE_LOCKED',
      `the embedded store at ${dataDir} cannot be opened (is another Berth process using it?): ${describeError(error)}`,
      { cause: error },
    );
  }
  const database = ident(options.database);
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = tail.then(work, work);
    tail = next.catch(() => undefined);
    return next;
  };
  const run = <T>(work: () => Promise<T>): Promise<T> =>
    serial(async () => {
      try {
        return await work();
      } catch (error) {
        throw new BerthError('BERTH_ERR_STORE_QUERY', `chDB: ${describeError(error)}`, {
          cause: error,
        });
      }
    });

  await run(() => session.queryAsync(sql`CREATE DATABASE IF NOT EXISTS ${database}`.text));
  await run(() => session.queryAsync(sql`USE ${database}`.text));

  const insertTsv = async (
    table: string,
    columns: readonly string[],
    body: string,
  ): Promise<void> => {
    if (body === '') return;
    const payload = Buffer.from(body);
    const names = columns.map((column) => ident(column).name);
    await run(() =>
      session.insert({
        table: `${options.database}.${ident(table).name}`,
        columns: names,
        values: payload,
        format: 'TabSeparated',
      }),
    );
  };

  return {
    backend: 'chdb',
    location: dataDir,
    database: options.database,
    command: async (statement) => {
      await run(() => session.queryAsync(statement.text));
    },
    query: <Row>(statement: SqlFragment) =>
      run(async () => {
        const result = await session.queryAsync(statement.text, { format: 'JSONEachRow' });
        const text = result.text();
        return text === ''
          ? []
          : text
              .split('\n')
              .filter((line) => line !== '')
              .map((line) => JSON.parse(line) as Row);
      }),
    insert: (table, rows) => {
      const { columns, body } = rowsToTsv(rows);
      return insertTsv(table, columns, body);
    },
    insertTsv,
    ping: async () => {
      await run(() => session.queryAsync('SELECT 1'));
    },
    close: () =>
      serial(() => {
        session.close();
        return Promise.resolve();
      }),
  };
}
