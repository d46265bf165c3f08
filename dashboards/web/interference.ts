import type { SeriesSummary } from '../../contracts/advisor-api.ts';
import {
  ANTAGONIST_NAMES,
  antagonistOf,
  INTERFERENCE_WORKLOAD,
  type AntagonistName,
} from '../../contracts/workloads.ts';
import { formatComparison, formatNumber, type ComparisonFigures } from './format.ts';

/**
 * Noisy neighbours as a table: from the series summaries the advisor serves, each option's
 * throughput beside each antagonist compared with the same option alone. No DOM: the
 * Measurements view draws what this gives.
 */

/** What the table reads of a series summary: its key, its median and its comparison. */
export type InterferenceSeries = Pick<
  SeriesSummary,
  | 'hostId'
  | 'platform'
  | 'runtime'
  | 'accel'
  | 'workload'
  | 'metric'
  | 'unit'
  | 'p50'
  | 'results'
  | 'ratio'
  | 'ratioLow'
  | 'ratioHigh'
  | 'verdict'
>;

/** One antagonist beside one option: measured or not, and its comparison with alone. */
export interface InterferenceCell {
  readonly antagonist: AntagonistName;
  /** The series of the victim's throughput beside it; absent when it was not measured. */
  readonly series?: InterferenceSeries;
  /** Beside over alone, with its 95% interval and verdict, where the series carries one. */
  readonly comparison?: ComparisonFigures;
}

/** One option on one host: a cell per antagonist, in the order the agent runs them. */
export interface InterferenceRows {
  readonly hostId: string;
  readonly platform: string;
  readonly runtime: string;
  readonly accel: string;
  readonly antagonists: readonly InterferenceCell[];
}

const optionKey = (series: InterferenceSeries): string =>
  [series.hostId, series.platform, series.runtime, series.accel].join('\n');

function comparisonOf(series: InterferenceSeries): ComparisonFigures | undefined {
  const { ratio, ratioLow, ratioHigh, verdict } = series;
  if (ratio === undefined || ratioLow === undefined || ratioHigh === undefined) return undefined;
  return { ratio, ratioLow, ratioHigh, ...(verdict === undefined ? {} : { verdict }) };
}

/**
 * The interference table's rows: per option and host that has an interference result, a cell
 * for every antagonist (ANTAGONIST_NAMES' order), with its series and comparison where it was
 * measured. Options without an interference result have no rows. Ordered by host, platform,
 * runtime and accel.
 */
export function interferenceRows(series: readonly InterferenceSeries[]): InterferenceRows[] {
  const options = new Map<
    string,
    {
      readonly option: InterferenceSeries;
      readonly beside: Map<AntagonistName, InterferenceSeries>;
    }
  >();
  for (const each of series) {
    const antagonist =
      each.workload === INTERFERENCE_WORKLOAD ? antagonistOf(each.metric) : undefined;
    if (antagonist === undefined) continue;
    const key = optionKey(each);
    const entry = options.get(key) ?? { option: each, beside: new Map() };
    entry.beside.set(antagonist, each);
    options.set(key, entry);
  }
  return [...options.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, { option, beside }]) => ({
      hostId: option.hostId,
      platform: option.platform,
      runtime: option.runtime,
      accel: option.accel,
      antagonists: ANTAGONIST_NAMES.map((antagonist): InterferenceCell => {
        const measured = beside.get(antagonist);
        const comparison = measured === undefined ? undefined : comparisonOf(measured);
        return {
          antagonist,
          ...(measured === undefined ? {} : { series: measured }),
          ...(comparison === undefined ? {} : { comparison }),
        };
      }),
    }));
}

/**
 * A cell's text: "0.71× [0.66–0.77] slower" (beside over alone); the median and its unit when
 * the series carries no comparison; "not measured" when there is no series.
 */
export function interferenceText(cell: InterferenceCell): string {
  if (cell.comparison !== undefined) return formatComparison(cell.comparison);
  if (cell.series === undefined) return 'not measured';
  return `${formatNumber(cell.series.p50)} ${cell.series.unit}, no comparison with alone`;
}
