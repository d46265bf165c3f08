import { BerthError, describeError } from '../../contracts/index.ts';
import { sql, type SqlFragment } from './sql.ts';
import type { Store } from './store.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** Each statement must be safe to run again (IF NOT EXISTS), so a half-done run can resume. */
  readonly statements: readonly SqlFragment[];
}

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
