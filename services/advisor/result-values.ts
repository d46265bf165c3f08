import type { ResultValues, ValueSeries } from '../../contracts/advisor-api.ts';
import {
  dedupedResults,
  SERIES_COLUMNS,
  seriesKeyOf,
  type SeriesKeyRecord,
} from '../../lib/storage/results.ts';
import { sql, type SqlFragment } from '../../lib/storage/sql.ts';
import type { Store } from '../../lib/storage/store.ts';

export interface ValuesFilter {
  readonly workload: string;
  readonly metric?: string;
  readonly hostId?: string;
  readonly platform?: string;
  /** The newest values kept per host, platform, runtime, accel and metric. */
  readonly limit: number;
}

/** Rows one answer holds at most, whatever the limit per series. */
const MAX_VALUE_ROWS = 20_000;

/**
 * The value of each deduplicated result (the same dedupe the evidence aggregates read), the
 * newest `limit` per host, platform, runtime, accel and metric. `LIMIT n BY` runs on
 * ClickHouse 18.16 and on chDB alike; one row past the overall bound says it was cut short.
 */
function resultValuesQuery(filter: ValuesFilter): SqlFragment {
  const deduped = dedupedResults({
    workload: filter.workload,
    ...(filter.metric === undefined ? {} : { metric: filter.metric }),
    ...(filter.hostId === undefined ? {} : { hostId: filter.hostId }),
    ...(filter.platform === undefined ? {} : { platform: filter.platform }),
  });
  return sql`SELECT ${SERIES_COLUMNS}, unit, value, taken_at_ms, result_id
    FROM (${deduped})
    ORDER BY host_id, platform, runtime, accel, metric, taken_at_ms DESC, result_id
    LIMIT ${filter.limit} BY host_id, platform, runtime, accel, metric
    LIMIT ${MAX_VALUE_ROWS + 1}`;
}

type ValueRecord = SeriesKeyRecord & {
  readonly value: number;
  readonly taken_at_ms: number | string;
  readonly result_id: string;
};

/** The values behind the evidence, one series per host, platform, runtime, accel and metric. */
export async function loadResultValues(store: Store, filter: ValuesFilter): Promise<ResultValues> {
  const records = await store.query<ValueRecord>(resultValuesQuery(filter));
  const series = new Map<string, ValueSeries>();
  for (const record of records.slice(0, MAX_VALUE_ROWS)) {
    const key = [record.host_id, record.platform, record.runtime, record.accel, record.metric].join(
      '\n',
    );
    let each = series.get(key);
    if (each === undefined) {
      each = { ...seriesKeyOf(record), values: [] };
      series.set(key, each);
    }
    each.values.push({
      value: record.value,
      takenAt: Number(record.taken_at_ms),
      resultId: record.result_id,
    });
  }
  return { series: [...series.values()], truncated: records.length > MAX_VALUE_ROWS };
}
