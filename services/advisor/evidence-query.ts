import { dedupedResults } from '../../lib/storage/results.ts';
import { sql, type SqlFragment } from '../../lib/storage/sql.ts';
import type { Store } from '../../lib/storage/store.ts';
import type { EvidenceRow } from './engine/types.ts';

export interface EvidenceFilter {
  /** Only these hosts; all when absent. */
  readonly hostIds?: readonly string[];
}

/** How many result ids each aggregate keeps, for the audit log. */
const IDS_PER_ROW = 20;

/**
 * One aggregate per host, platform, runtime, accel, workload and metric over the
 * deduplicated results: how many results and samples, mean and median of their values, the
 * 0.95 quantile of each result's upper tail (its p99, else its max, else its value), the
 * newest time and a few result ids. Runs on ClickHouse 18.16 and on chDB alike.
 */
export function evidenceQuery(filter: EvidenceFilter = {}): SqlFragment {
  const where = filter.hostIds === undefined ? sql`` : sql`WHERE has(${filter.hostIds}, host_id)`;
  return sql`SELECT host_id, platform, runtime, accel, workload, metric,
      any(unit) AS unit,
      count() AS results,
      sum(samples) AS samples,
      avg(value) AS mean,
      quantile(0.5)(value) AS p50,
      quantile(0.95)(ifNull(p99, ifNull(max, value))) AS p95,
      max(taken_at_ms) AS latest_at,
      groupArray(${IDS_PER_ROW})(result_id) AS result_ids
    FROM (${dedupedResults()}) ${where}
    GROUP BY host_id, platform, runtime, accel, workload, metric
    ORDER BY host_id, platform, runtime, accel, workload, metric`;
}

interface EvidenceRecord {
  host_id: string;
  platform: string;
  runtime: string;
  accel: string;
  workload: string;
  metric: string;
  unit: string;
  results: number | string;
  samples: number | string;
  mean: number;
  p50: number;
  p95: number;
  latest_at: number | string;
  result_ids: string[];
}

/** The evidence aggregates, as the engine reads them (UInt64 comes back as text on 18.16). */
export async function loadEvidence(
  store: Store,
  filter: EvidenceFilter = {},
): Promise<EvidenceRow[]> {
  const records = await store.query<EvidenceRecord>(evidenceQuery(filter));
  return records.map((record) => ({
    hostId: record.host_id,
    platform: record.platform,
    runtime: record.runtime,
    accel: record.accel,
    workload: record.workload,
    metric: record.metric,
    unit: record.unit,
    results: Number(record.results),
    samples: Number(record.samples),
    mean: record.mean,
    p50: record.p50,
    p95: record.p95,
    latestAt: Number(record.latest_at),
    resultIds: record.result_ids,
  }));
}
