import { BerthError, describeError } from '../../contracts/index.ts';
import { ident, sql, type SqlFragment } from './sql.ts';
import type { Store } from './store.ts';

/** A column a migration adds to a table that exists already. */
export interface AddedColumn {
  readonly table: string;
  readonly name: string;
  /** Its type and default, as in ALTER TABLE … ADD COLUMN name <type>. */
  readonly type: SqlFragment;
}

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** Each statement must be safe to run again (IF NOT EXISTS), so a half-done run can resume. */
  readonly statements: readonly SqlFragment[];
  /**
   * Columns added after the statements, each only where its table lacks it: ClickHouse 18.16
   * has no ADD COLUMN IF NOT EXISTS, and another process may be adding the same column.
   */
  readonly columns?: readonly AddedColumn[];
}

/** The columns of version 2 result batches, each empty or a default for version 1 rows. */
const ROUND_COLUMNS: readonly (readonly [name: string, type: SqlFragment])[] = [
  ['rounds', sql`UInt16 DEFAULT 1`],
  ['round_seed', sql`String DEFAULT ''`],
  ['disturbed_rounds', sql`UInt16 DEFAULT 0`],
  ['host_fingerprint', sql`String DEFAULT ''`],
  ['uncalibrated', sql`UInt8 DEFAULT 0`],
  ['round_values', sql`Array(Float64)`],
  ['baseline', sql`String DEFAULT ''`],
  ['ratio', sql`Nullable(Float64)`],
  ['ratio_low', sql`Nullable(Float64)`],
  ['ratio_high', sql`Nullable(Float64)`],
  ['ratio_rounds', sql`Nullable(UInt16)`],
  ['round_ratios', sql`Array(Float64)`],
  ['verdict', sql`String DEFAULT ''`],
  ['margin', sql`Nullable(Float64)`],
  ['comparison_method', sql`String DEFAULT ''`],
  ['rounds_to_decide', sql`Nullable(UInt32)`],
];

/**
 * The schema, oldest first. Everything here runs on ClickHouse 18.16 and on current
 * ClickHouse: no TTL, no DateTime64, no LowCardinality, timestamps as DateTime written from
 * epoch seconds. Add a migration at the end; never edit one that has shipped.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'results',
    statements: [
      sql`CREATE TABLE IF NOT EXISTS results (
        result_id String,
        metric String,
        host_id String,
        run_id String,
        taken_at DateTime,
        taken_at_ms UInt64,
        platform String,
        runtime String,
        runtime_version String,
        accel String,
        settings String,
        workload String,
        workload_version String,
        unit String,
        value Float64,
        samples UInt32,
        rme Float64,
        stddev Nullable(Float64),
        min Nullable(Float64),
        max Nullable(Float64),
        p50 Nullable(Float64),
        p75 Nullable(Float64),
        p90 Nullable(Float64),
        p99 Nullable(Float64),
        p999 Nullable(Float64),
        stopped_by String,
        schema_version UInt16,
        ingested_at DateTime
      ) ENGINE = ReplacingMergeTree(ingested_at)
      PARTITION BY toYYYYMM(taken_at)
      ORDER BY (host_id, platform, workload, metric, result_id)`,
    ],
  },
  {
    version: 2,
    name: 'advice audit log',
    statements: [
      sql`CREATE TABLE IF NOT EXISTS advice (
        advice_id String,
        answered_at DateTime,
        answered_at_ms UInt64,
        workload String,
        top_placement String,
        confidence Float64,
        question String,
        answer String,
        evidence_ids Array(String)
      ) ENGINE = ReplacingMergeTree(answered_at)
      PARTITION BY toYYYYMM(answered_at)
      ORDER BY advice_id`,
    ],
  },
  {
    version: 3,
    name: 'results: rounds and comparisons',
    statements: [],
    columns: ROUND_COLUMNS.map(([name, type]) => ({ table: 'results', name, type })),
  },
];

const CREATE_LEDGER = sql`CREATE TABLE IF NOT EXISTS schema_migrations (
  version UInt32,
  name String,
  applied_at DateTime
) ENGINE = ReplacingMergeTree ORDER BY version`;

export async function appliedVersions(store: Store): Promise<number[]> {
  await store.command(CREATE_LEDGER);
  const rows = await store.query<{ version: number | string }>(
    sql`SELECT DISTINCT version FROM schema_migrations ORDER BY version`,
  );
  return rows.map((row) => Number(row.version));
}

async function hasColumn(store: Store, table: string, name: string): Promise<boolean> {
  const rows = await store.query<{ name: string }>(
    sql`SELECT name FROM system.columns
        WHERE database = ${store.database} AND table = ${table} AND name = ${name}`,
  );
  return rows.length > 0;
}

/** Adds a column unless it is there, also when another process adds it at the same time. */
async function addColumn(store: Store, column: AddedColumn): Promise<void> {
  if (await hasColumn(store, column.table, column.name)) return;
  try {
    await store.command(
      sql`ALTER TABLE ${ident(column.table)} ADD COLUMN ${ident(column.name)} ${column.type}`,
    );
  } catch (error) {
    if (!(await hasColumn(store, column.table, column.name))) throw error;
  }
}

/** Brings the store's schema up to date; safe to run from several processes at once. */
export async function migrate(
  store: Store,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const applied = new Set(await appliedVersions(store));
  const ran: number[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    try {
      for (const statement of migration.statements) await store.command(statement);
      for (const column of migration.columns ?? []) await addColumn(store, column);
    } catch (error) {
      throw new BerthError(
        'BERTH_ERR_MIGRATION',
        `migration ${migration.version} (${migration.name}) failed on ${store.backend} at ${store.location}: ${describeError(error)}`,
        { cause: error },
      );
    }
    await store.insert('schema_migrations', [
      {
        version: migration.version,
        name: migration.name,
        applied_at: Math.floor(Date.now() / 1000),
      },
    ]);
    ran.push(migration.version);
  }
  return ran;
}
