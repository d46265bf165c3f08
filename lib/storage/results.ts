import type { SERIES_KEY, SeriesSummary } from '../../contracts/advisor-api.ts';
import type { ResultBatch, ResultMetricV2, Verdict } from '../../contracts/index.ts';
import { INSTANCE_WORKLOAD, METRICS } from '../../contracts/workloads.ts';
import { ident, joinSql, sql, type SqlFragment } from './sql.ts';
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
  /** Rounds the suite ran (1 for a version 1 batch). */
  readonly rounds: number;
  /** The seed the order of each round was shuffled from ('' for version 1). */
  readonly round_seed: string;
  /** Rounds run again because the host was disturbed. */
  readonly disturbed_rounds: number;
  readonly host_fingerprint: string;
  /** 1 when the run's calibration canary missed, else 0. */
  readonly uncalibrated: 0 | 1;
  /** The metric's value in each round (empty for version 1). */
  readonly round_values: readonly number[];
  /** What the comparison is with, platform:runtime ('' where there is none). */
  readonly baseline: string;
  /** The paired ratio to the baseline and its 95% interval (null where there is none). */
  readonly ratio: number | null;
  readonly ratio_low: number | null;
  readonly ratio_high: number | null;
  /** Rounds the ratio used. */
  readonly ratio_rounds: number | null;
  readonly round_ratios: readonly number[];
  /** same, faster, slower or unclear ('' where there is no comparison). */
  readonly verdict: string;
  readonly margin: number | null;
  readonly comparison_method: string;
  readonly rounds_to_decide: number | null;
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
  'rounds',
  'round_seed',
  'disturbed_rounds',
  'host_fingerprint',
  'uncalibrated',
  'round_values',
  'baseline',
  'ratio',
  'ratio_low',
  'ratio_high',
  'ratio_rounds',
  'round_ratios',
  'verdict',
  'margin',
  'comparison_method',
  'rounds_to_decide',
] as const satisfies readonly (keyof ResultRow)[];

type RoundColumns = Pick<
  ResultRow,
  'rounds' | 'round_seed' | 'disturbed_rounds' | 'host_fingerprint' | 'uncalibrated'
>;

/** The batch's rounds, host state and calibration; a version 1 batch ran one round. */
function roundColumns(batch: ResultBatch): RoundColumns {
  if (batch.schemaVersion === 1) {
    return {
      rounds: 1,
      round_seed: '',
      disturbed_rounds: 0,
      host_fingerprint: '',
      uncalibrated: 0,
    };
  }
  return {
    rounds: batch.rounds.count,
    round_seed: batch.rounds.seed,
    disturbed_rounds: batch.rounds.disturbed,
    host_fingerprint: batch.hostFingerprint,
    uncalibrated: batch.uncalibrated ? 1 : 0,
  };
}

type ComparisonColumns = Pick<
  ResultRow,
  | 'round_values'
  | 'baseline'
  | 'ratio'
  | 'ratio_low'
  | 'ratio_high'
  | 'ratio_rounds'
  | 'round_ratios'
  | 'verdict'
  | 'margin'
  | 'comparison_method'
  | 'rounds_to_decide'
>;

/** A metric's rounds and its comparison with the baseline, empty where it has none. */
function comparisonColumns({ roundValues, comparison }: ResultMetricV2): ComparisonColumns {
  return {
    round_values: roundValues ?? [],
    baseline: comparison?.baseline ?? '',
    ratio: comparison?.ratio ?? null,
    ratio_low: comparison?.ci95[0] ?? null,
    ratio_high: comparison?.ci95[1] ?? null,
    ratio_rounds: comparison?.rounds ?? null,
    round_ratios: comparison?.perRound ?? [],
    verdict: comparison?.verdict ?? '',
    margin: comparison?.margin ?? null,
    comparison_method: comparison?.method ?? '',
    rounds_to_decide: comparison?.roundsToDecide ?? null,
  };
}

/** The rows of a result batch of any version, one per metric. */
export function resultRows(batch: ResultBatch, ingestedAtMs: number): ResultRow[] {
  const ingestedAt = Math.floor(ingestedAtMs / 1000);
  const rounds = roundColumns(batch);
  const metrics: readonly ResultMetricV2[] = batch.metrics;
  return metrics.map((metric) => ({
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
    ...rounds,
    ...comparisonColumns(metric),
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
  /** Only these hosts. */
  readonly hostIds?: readonly string[];
  readonly platform?: string;
  readonly workload?: string;
  readonly metric?: string;
  readonly runId?: string;
}

function whereClause(filter: ResultFilter): SqlFragment {
  const conditions: SqlFragment[] = [];
  if (filter.hostId !== undefined) conditions.push(sql`host_id = ${filter.hostId}`);
  if (filter.hostIds !== undefined) conditions.push(sql`has(${filter.hostIds}, host_id)`);
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

/** What names one series: the host, the option, the workload, the metric and its unit. */
export type SeriesKey = Pick<SeriesSummary, keyof typeof SERIES_KEY>;

/** The columns a series is grouped by (its unit comes with its metric). */
export const SERIES_COLUMNS = sql`host_id, platform, runtime, accel, workload, metric`;

/** The columns naming a series, as a query over SERIES_COLUMNS and `unit` returns them. */
export interface SeriesKeyRecord {
  readonly host_id: string;
  readonly platform: string;
  readonly runtime: string;
  readonly accel: string;
  readonly workload: string;
  readonly metric: string;
  readonly unit: string;
}

/** The name of the series a record belongs to. */
export function seriesKeyOf(record: SeriesKeyRecord): SeriesKey {
  return {
    hostId: record.host_id,
    platform: record.platform,
    runtime: record.runtime,
    accel: record.accel,
    workload: record.workload,
    metric: record.metric,
    unit: record.unit,
  };
}

/** Which series to summarise; all when empty. */
export type SeriesFilter = Pick<ResultFilter, 'hostIds' | 'platform' | 'workload'>;

/** How many result ids each summary keeps, for the audit log. */
const IDS_PER_SERIES = 20;

/** A column of the newest result (by time, then id) that has a comparison, over a series. */
const newestCompared = (column: string): SqlFragment =>
  sql`argMaxIf(${ident(column)}, (taken_at_ms, result_id), isNotNull(ratio))`;

/**
 * The settings a version 2 start-up result gives its p95 over the interleaved launches in:
 * the p95, its distribution-free 95% interval, whether the interval is exact (enough launches
 * to bound it) and whether the launches looked bimodal.
 */
const STARTUP_P95_SETTINGS = {
  p95: 'startupP95',
  low: 'startupP95Low',
  high: 'startupP95High',
  exact: 'startupP95Exact',
  bimodal: 'startupBimodal',
} as const;

/**
 * A start-up result whose settings give its p95 with an interval. Settings are flat JSON
 * objects, which the simple JSON functions (the only ones 18.16 has) read.
 */
const STARTUP_WITH_INTERVAL = sql`workload = ${INSTANCE_WORKLOAD}
      AND metric = ${METRICS.startup.metric}
      AND visitParamHas(settings, ${STARTUP_P95_SETTINGS.p95})
      AND visitParamHas(settings, ${STARTUP_P95_SETTINGS.low})
      AND visitParamHas(settings, ${STARTUP_P95_SETTINGS.high})`;

/** A value of the newest start-up result that gives its p95 with an interval, over a series. */
const newestStartup = (value: SqlFragment): SqlFragment =>
  sql`argMaxIf(${value}, (taken_at_ms, result_id), ${STARTUP_WITH_INTERVAL})`;

/** A number setting of the newest start-up result with an interval. */
const newestStartupNumber = (name: string): SqlFragment =>
  newestStartup(sql`visitParamExtractFloat(settings, ${name})`);

/** A true/false setting of that result: 1 true, 0 false, 2 where it does not give it. */
const newestStartupFlag = (name: string): SqlFragment =>
  newestStartup(
    sql`if(visitParamHas(settings, ${name}), visitParamExtractBool(settings, ${name}), 2)`,
  );

/**
 * One summary per host, platform, runtime, accel, workload and metric over the deduplicated
 * results: how many results and samples, mean and median of their values, the 0.95 quantile
 * of each result's upper tail (its p99, else its max, else its value), the newest time and a
 * few result ids; the comparison of the newest result that has one (NULL and '' where none
 * has), how many results are of version 2, how many came from uncalibrated runs and how many
 * distinct host fingerprints they carry; the start-up p95 with its interval of the newest
 * start-up result that gives one (0 and 2 where none does). Runs on ClickHouse 18.16 and on
 * chDB alike.
 */
function seriesSummaryQuery(filter: SeriesFilter = {}): SqlFragment {
  return sql`SELECT ${SERIES_COLUMNS},
      any(unit) AS unit,
      count() AS results,
      sum(samples) AS samples,
      avg(value) AS mean,
      quantile(0.5)(value) AS p50,
      quantile(0.95)(ifNull(p99, ifNull(max, value))) AS p95,
      max(taken_at_ms) AS latest_at,
      groupArray(${IDS_PER_SERIES})(result_id) AS result_ids,
      ${newestCompared('ratio')} AS newest_ratio,
      ${newestCompared('ratio_low')} AS newest_ratio_low,
      ${newestCompared('ratio_high')} AS newest_ratio_high,
      ${newestCompared('ratio_rounds')} AS newest_ratio_rounds,
      ${newestCompared('verdict')} AS newest_verdict,
      countIf(schema_version >= 2) AS version_2_results,
      sum(uncalibrated) AS uncalibrated_results,
      uniqExactIf(host_fingerprint, host_fingerprint != '') AS host_states,
      countIf(${STARTUP_WITH_INTERVAL}) AS startup_interval_results,
      ${newestStartupNumber(STARTUP_P95_SETTINGS.p95)} AS startup_p95,
      ${newestStartupNumber(STARTUP_P95_SETTINGS.low)} AS startup_p95_low,
      ${newestStartupNumber(STARTUP_P95_SETTINGS.high)} AS startup_p95_high,
      ${newestStartupFlag(STARTUP_P95_SETTINGS.exact)} AS startup_p95_exact,
      ${newestStartupFlag(STARTUP_P95_SETTINGS.bimodal)} AS startup_bimodal
    FROM (${dedupedResults(filter)})
    GROUP BY ${SERIES_COLUMNS}
    ORDER BY ${SERIES_COLUMNS}`;
}

type SeriesSummaryRecord = SeriesKeyRecord & {
  readonly results: number | string;
  readonly samples: number | string;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly latest_at: number | string;
  readonly result_ids: string[];
  readonly newest_ratio: number | null;
  readonly newest_ratio_low: number | null;
  readonly newest_ratio_high: number | null;
  readonly newest_ratio_rounds: number | string | null;
  readonly newest_verdict: string;
  readonly version_2_results: number | string;
  readonly uncalibrated_results: number | string;
  readonly host_states: number | string;
  readonly startup_interval_results: number | string;
  readonly startup_p95: number;
  readonly startup_p95_low: number;
  readonly startup_p95_high: number;
  readonly startup_p95_exact: number | string;
  readonly startup_bimodal: number | string;
};

/** The summary's comparison fields: the newest comparison; for v2, uncalibrated and host states. */
function comparisonOf(record: SeriesSummaryRecord): Partial<SeriesSummary> {
  const uncalibrated =
    Number(record.version_2_results) > 0
      ? {
          uncalibratedResults: Number(record.uncalibrated_results),
          hostStates: Number(record.host_states),
        }
      : {};
  const {
    newest_ratio: ratio,
    newest_ratio_low: low,
    newest_ratio_high: high,
    newest_ratio_rounds: rounds,
    newest_verdict: verdict,
  } = record;
  if (ratio === null || low === null || high === null || rounds === null) return uncalibrated;
  return {
    ratio,
    ratioLow: low,
    ratioHigh: high,
    ratioRounds: Number(rounds),
    ...(isVerdict(verdict) ? { verdict } : {}),
    ...uncalibrated,
  };
}

/** A flag as newestStartupFlag reads it: true, false, or undefined where it was not given. */
function flagOf(value: number | string): boolean | undefined {
  const flag = Number(value);
  return flag === 1 ? true : flag === 0 ? false : undefined;
}

/** The start-up p95 with its interval of the newest start-up result that gives one. */
function startupP95Of(record: SeriesSummaryRecord): Partial<SeriesSummary> {
  if (Number(record.startup_interval_results) === 0) return {};
  const exact = flagOf(record.startup_p95_exact);
  const bimodal = flagOf(record.startup_bimodal);
  return {
    startupP95: record.startup_p95,
    startupP95Low: record.startup_p95_low,
    startupP95High: record.startup_p95_high,
    ...(exact === undefined ? {} : { startupP95Exact: exact }),
    ...(bimodal === undefined ? {} : { startupBimodal: bimodal }),
  };
}

const VERDICTS: readonly string[] = ['same', 'faster', 'slower', 'unclear'] satisfies Verdict[];

const isVerdict = (text: string): text is Verdict => VERDICTS.includes(text);

/**
 * The series summaries: what the advisor weighs as evidence and `berth results` prints
 * (UInt64 comes back as text on 18.16).
 */
export async function loadSeriesSummaries(
  store: Store,
  filter: SeriesFilter = {},
): Promise<SeriesSummary[]> {
  const records = await store.query<SeriesSummaryRecord>(seriesSummaryQuery(filter));
  return records.map((record) => ({
    ...seriesKeyOf(record),
    results: Number(record.results),
    samples: Number(record.samples),
    mean: record.mean,
    p50: record.p50,
    p95: record.p95,
    latestAt: Number(record.latest_at),
    resultIds: record.result_ids,
    ...comparisonOf(record),
    ...startupP95Of(record),
  }));
}
