import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { BerthError, describeError } from '../../contracts/index.ts';
import { ident, sql, type SqlFragment } from './sql.ts';
import type { Store } from './store.ts';
import { rowsToTsv } from './tsv.ts';

export interface ClickHouseStoreOptions {
  /** http(s)://[user:password@]host:port; credentials may also come separately. */
  readonly url: string;
  readonly database: string;
  readonly username?: string;
  readonly password?: string;
  /** PEM CA certificate(s) an https:// server's certificate must be signed by. */
  readonly caCert?: Buffer;
  readonly requestTimeoutMs?: number;
}

/** The URL with any credentials removed, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(unparseable URL)';
  }
}

function clientFor(options: ClickHouseStoreOptions, database: string): ClickHouseClient {
  return createClient({
    url: options.url,
    database,
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.caCert === undefined ? {} : { tls: { ca_cert: options.caCert } }),
    request_timeout: options.requestTimeoutMs ?? 15_000,
    // Berth logs what failed itself, once, with the setting to look at.
    log: { level: ClickHouseLogLevel.OFF },
    // 18.16 knows none of the newer settings the client could send; send none.
    clickhouse_settings: {},
    compression: { request: false, response: false },
  });
}

/** ClickHouse server over HTTP or HTTPS (works with 18.16 and current releases). */
export async function openClickHouseStore(options: ClickHouseStoreOptions): Promise<Store> {
  const location = redactUrl(options.url);
  const unreachable = (error: unknown): BerthError =>
    new BerthError(
      'BERTH_ERR_STORE_UNREACHABLE',
      `ClickHouse at ${location} did not answer: ${describeError(error)}`,
      { cause: error },
    );
  const bootstrap = clientFor(options, 'default');
  try {
    await bootstrap.command({
      query: sql`CREATE DATABASE IF NOT EXISTS ${ident(options.database)}`.text,
    });
  } catch (error) {
    throw unreachable(error);
  } finally {
    await bootstrap.close();
  }
  const client = clientFor(options, options.database);

  const run = async <T>(what: () => Promise<T>): Promise<T> => {
    try {
      return await what();
    } catch (error) {
      if (isConnectionError(error)) throw unreachable(error);
      throw new BerthError('BERTH_ERR_STORE_QUERY', `ClickHouse: ${describeError(error)}`, {
        cause: error,
      });
    }
  };

  const insertTsv = async (
    table: string,
    columns: readonly string[],
    body: string,
  ): Promise<void> => {
    if (body === '') return;
    const names = columns.map((column) => `\`${ident(column).name}\``).join(', ');
    await run(async () => {
      const result = await client.exec({
        query: `INSERT INTO ${ident(table).name} (${names}) FORMAT TabSeparated`,
        values: Readable.from([body]),
      });
      result.stream.resume();
      await finished(result.stream);
    });
  };

  return {
    backend: 'clickhouse',
    location,
    database: options.database,
    command: async (statement: SqlFragment) => {
      await run(() => client.command({ query: statement.text }));
    },
    query: <Row>(statement: SqlFragment) =>
      run(async () => {
        const result = await client.query({ query: statement.text, format: 'JSONEachRow' });
        return result.json<Row>();
      }),
    insert: (table, rows) => {
      const { columns, body } = rowsToTsv(rows);
      return insertTsv(table, columns, body);
    },
    insertTsv,
    ping: async () => {
      const result = await client.ping();
      if (!result.success) throw unreachable(result.error);
    },
    close: () => client.close(),
  };
}

function isConnectionError(error: unknown): boolean {
  const text = describeError(error);
  return /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|ETIMEDOUT|EPIPE|socket hang up|Timeout error|other side closed/i.test(
    text,
  );
}
