import type { SeriesSummary } from '../../contracts/advisor-api.ts';
import {
  DENSITY_LOAD_WORKLOAD,
  INSTANCE_WORKLOAD,
  loadStepOf,
  METRICS,
  type LoadMeasure,
} from '../../contracts/workloads.ts';

/**
 * Density at load as curves: from the series summaries the advisor serves, each option's
 * steps of N instances at once (throughput and memory per instance, the worst instance's
 * share of one alone), the SLO share they were judged against and the knee, the largest N
 * that kept it. No DOM: the Measurements view draws what this gives.
 */

/** What the curves read of a series summary: its key, its median and when it was last measured. */
export type CurveSeries = Pick<
  SeriesSummary,
  'hostId' | 'platform' | 'runtime' | 'accel' | 'workload' | 'metric' | 'unit' | 'p50' | 'latestAt'
>;

/** One step of density at load: N instances at once, and the median of its results. */
export interface DensityStep {
  readonly instances: number;
  /** The median instance's throughput, in the curve's throughputUnit. */
  readonly throughput?: number;
  /** The worst instance's throughput per core given, as a share of one instance's alone. */
  readonly sloShare?: number;
  /** Memory per instance, in the curve's memoryUnit. */
  readonly memory?: number;
}

/** One option's density at load on one host. */
export interface DensityCurve {
  readonly hostId: string;
  readonly platform: string;
  readonly runtime: string;
  readonly accel: string;
  /** The steps, fewest instances first. */
  readonly steps: readonly DensityStep[];
  readonly throughputUnit?: string;
  readonly memoryUnit?: string;
  /** The largest N whose worst instance kept the SLO share (`density-at-slo`). */
  readonly knee?: number;
  /** The share of one instance alone the knee was judged against (`density-slo`). */
  readonly slo?: number;
}

/** The step field each measure of density at load fills. */
const STEP_FIELD = {
  throughput: 'throughput',
  sloShare: 'sloShare',
  memory: 'memory',
} as const satisfies Record<LoadMeasure, keyof DensityStep>;

type StepFigures = { -readonly [K in keyof DensityStep]: DensityStep[K] };

/** A density-at-load series with the measure and the step its metric names. */
interface LoadSeries {
  readonly series: CurveSeries;
  readonly measure: LoadMeasure;
  readonly instances: number;
}

const optionKey = (series: CurveSeries): string =>
  [series.hostId, series.platform, series.runtime, series.accel].join('\n');

/** The unit of a measure's newest series: the one its steps are drawn in. */
function newestUnit(load: readonly LoadSeries[], measure: LoadMeasure): string | undefined {
  let newest: CurveSeries | undefined;
  for (const entry of load) {
    if (entry.measure !== measure) continue;
    if (newest === undefined || entry.series.latestAt > newest.latestAt) newest = entry.series;
  }
  return newest?.unit;
}

/** One option's curve from its density-at-load series and its knee and SLO. */
function curveOf(
  option: CurveSeries,
  load: readonly LoadSeries[],
  knee: number | undefined,
  slo: number | undefined,
): DensityCurve {
  const units: Record<LoadMeasure, string | undefined> = {
    throughput: newestUnit(load, 'throughput'),
    sloShare: newestUnit(load, 'sloShare'),
    memory: newestUnit(load, 'memory'),
  };
  const steps = new Map<number, StepFigures>();
  for (const entry of load) {
    if (entry.series.unit !== units[entry.measure]) continue;
    const step = steps.get(entry.instances) ?? { instances: entry.instances };
    step[STEP_FIELD[entry.measure]] = entry.series.p50;
    steps.set(entry.instances, step);
  }
  return {
    hostId: option.hostId,
    platform: option.platform,
    runtime: option.runtime,
    accel: option.accel,
    steps: [...steps.values()].sort((a, b) => a.instances - b.instances),
    ...(units.throughput === undefined ? {} : { throughputUnit: units.throughput }),
    ...(units.memory === undefined ? {} : { memoryUnit: units.memory }),
    ...(knee === undefined ? {} : { knee }),
    ...(slo === undefined ? {} : { slo }),
  };
}

/**
 * Each option's density curve, per host, from the series summaries: one step per N that has a
 * density-at-load result, each measure the median (p50) of that step's results, with the knee
 * and the SLO of the `instance` series of the same option and host. Where one measure was
 * recorded in more than one unit (the load's workload changed), the newest unit's steps are
 * kept. Options without a density-at-load result have no curve. Ordered by host, platform,
 * runtime and accel.
 */
export function densityCurves(series: readonly CurveSeries[]): DensityCurve[] {
  const loads = new Map<string, LoadSeries[]>();
  for (const each of series) {
    const step = each.workload === DENSITY_LOAD_WORKLOAD ? loadStepOf(each.metric) : undefined;
    if (step === undefined) continue;
    const key = optionKey(each);
    const load = loads.get(key) ?? [];
    load.push({ series: each, measure: step.measure, instances: step.instances });
    loads.set(key, load);
  }
  const instanceFigure = (key: string, metric: string): number | undefined =>
    series.find(
      (each) =>
        each.workload === INSTANCE_WORKLOAD && each.metric === metric && optionKey(each) === key,
    )?.p50;
  return [...loads.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([key, load]) => {
      const option = load[0]?.series;
      return option === undefined
        ? []
        : [
            curveOf(
              option,
              load,
              instanceFigure(key, METRICS.densityAtSlo.metric),
              instanceFigure(key, METRICS.densitySlo.metric),
            ),
          ];
    });
}

/** "knee: 4 instances": the label of the knee's marker. */
export const kneeLabel = (knee: number): string =>
  `knee: ${knee} ${knee === 1 ? 'instance' : 'instances'}`;
