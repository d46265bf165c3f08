import type { ResultBatch } from '../../contracts/index.ts';
import { joinSql, sql, type SqlFragment } from './sql.ts';
import type { Store } from './store.ts';
import { tsvRow } from './tsv.ts';

/** One row of the `results` table: one measured metric of one result batch. */
export type ResultRow = {
  readonly result_id: string;
  readonly metric: string;
  readonly host_id: string;
  readonly run_id: string;
  readonly taken_at: number;
  readonly taken_at_ms: number;
  readonly platform: string;
  readonly runtime: string;
  readonly runtime_version: string;
  readonly accel: string;
  readonly settings: string;
  readonly workload: string;
  readonly workload_version: string;
  readonly unit: string;
  readonly value: number;
  readonly samples: number;
  readonly rme: number;
  readonly stddev: number | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly p50: number | null;
  readonly p75: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly p999: number | null;
  readonly stopped_by: string;
  readonly schema_version: number;
  readonly ingested_at: number;
};

/** The columns of `results` that ingest writes, in the order of its TabSeparated lines. */
export const RESULT_COLUMNS = [
  'result_id',
  'metric',
  'host_id',
  'run_id',
  'taken_at',
  'taken_at_ms',
  'platform',
  'runtime',
  'runtime_version',
  'accel',
  'settings',
  'workload',
  'workload_version',
  'unit',
  'value',
  'samples',
  'rme',
  'stddev',
  'min',
  'max',
  'p50',
  'p75',
  'p90',
  'p99',
  'p999',
  'stopped_by',
  'schema_version',
  'ingested_at',
] as const satisfies readonly (keyof ResultRow)[];

export function resultRows(batch: ResultBatch, ingestedAtMs: number): ResultRow[] {
  const ingestedAt = Math.floor(ingestedAtMs / 1000);
  return batch.metrics.map((metric) => ({
    result_id: batch.id,
    metric: metric.name,
    host_id: batch.hostId,
    run_id: batch.runId,
    taken_at: Math.floor(batch.takenAt / 1000),
    taken_at_ms: batch.takenAt,
    platform: batch.platform.name,
    runtime: batch.platform.runtime,
    runtime_version: batch.platform.runtimeVersion,
    accel: batch.platform.accel,
    settings: JSON.stringify(batch.platform.settings),
    workload: batch.workload.name,
    workload_version: batch.workload.version,
    unit: metric.unit,
    value: metric.value,
    samples: metric.samples,
    rme: metric.rme,
    stddev: metric.stddev ?? null,
    min: metric.min ?? null,
    max: metric.max ?? null,
    p50: metric.percentiles?.p50 ?? null,
    p75: metric.percentiles?.p75 ?? null,
    p90: metric.percentiles?.p90 ?? null,
    p99: metric.percentiles?.p99 ?? null,
    p999: metric.percentiles?.p999 ?? null,
    stopped_by: metric.stoppedBy ?? '',
    schema_version: batch.schemaVersion,
    ingested_at: ingestedAt,
  }));
}

/** The rows of a result batch as TabSeparated lines of RESULT_COLUMNS. */
export function resultTsv(batch: ResultBatch, ingestedAtMs: number): string {
  return resultRows(batch, ingestedAtMs)
    .map((row) => tsvRow(row, RESULT_COLUMNS))
    .join('');
}

export interface ResultFilter {
  readonly hostId?: string;
  readonly platform?: string;
  readonly workload?: string;
  readonly metric?: string;
  readonly runId?: string;
}

function whereClause(filter: ResultFilter): SqlFragment {
  const conditions: SqlFragment[] = [];
  if (filter.hostId !== undefined) conditions.push(sql`host_id = ${filter.hostId}`);
  if (filter.platform !== undefined) conditions.push(sql`platform = ${filter.platform}`);
  if (filter.workload !== undefined) conditions.push(sql`workload = ${filter.workload}`);
  if (filter.metric !== undefined) conditions.push(sql`metric = ${filter.metric}`);
  if (filter.runId !== undefined) conditions.push(sql`run_id = ${filter.runId}`);
  return conditions.length === 0 ? sql`` : sql`WHERE ${joinSql(conditions, ' AND ')}`;
}

/**
 * The dedupe query every reader goes through: FINAL collapses rows that share
 * (result, metric), so a re-delivered or re-published result counts once.
 */
export function dedupedResults(filter: ResultFilter = {}): SqlFragment {
  return sql`SELECT * FROM results FINAL ${whereClause(filter)}`;
}

export interface StoredCounts {
  /** Distinct result batches. */
  readonly results: number;
  /** Metric rows after dedupe. */
  readonly rows: number;
  /** Rows whose (result, metric) pair appears more than once after dedupe: always 0. */
  readonly duplicateRows: number;
}

export async function countStoredResults(
  store: Store,
  filter: ResultFilter = {},
): Promise<StoredCounts> {
  const [row] = await store.query<{
    results: string | number;
    rows: string | number;
    keys: string | number;
  }>(
    sql`SELECT uniqExact(result_id) AS results, count() AS rows,
        uniqExact(result_id, metric) AS keys FROM (${dedupedResults(filter)})`,
  );
  const rows = Number(row?.rows ?? 0);
  return {
    results: Number(row?.results ?? 0),
    rows,
    duplicateRows: rows - Number(row?.keys ?? 0),
  };
}
