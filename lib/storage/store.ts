import type { SqlFragment } from './sql.ts';
import type { TsvValue } from './tsv.ts';

/**
 * One ClickHouse, embedded (chDB) or a server over HTTP. Statements are SqlFragments, so
 * every outside value in them went through the escaping module.
 */
export interface Store {
  readonly backend: 'chdb' | 'clickhouse';
  /** Where the data lives, safe to print: a folder, or a URL without credentials. */
  readonly location: string;
  readonly database: string;
  /** Runs a statement that returns no rows (DDL, INSERT … SELECT). */
  command(statement: SqlFragment): Promise<void>;
  /** Runs a SELECT and returns its rows as objects (UInt64 values come back as strings). */
  query<Row>(statement: SqlFragment): Promise<Row[]>;
  /** Inserts rows (the columns are the first row's keys); values never pass through SQL text. */
  insert(table: string, rows: readonly Readonly<Record<string, TsvValue>>[]): Promise<void>;
  /** Inserts rows already encoded as TabSeparated lines of the given columns. */
  insertTsv(table: string, columns: readonly string[], body: string): Promise<void>;
  /** Resolves when the store answers; throws BERTH_ERR_STORE_UNREACHABLE otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
