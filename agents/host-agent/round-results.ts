import type {
  Comparison,
  ResultBatch,
  ResultBatchV2,
  ResultMetric,
  ResultMetricV2,
} from '../../contracts/index.ts';
import { METRICS } from '../../contracts/workloads.ts';
import { compareRounds, type PairedComparison } from '../../lib/statistics.ts';
import { pairRounds } from './rounds.ts';
import { mean, metricFromSamples } from './stats.ts';
import type { RunComparison } from './suite-run.ts';

/** One platform's workload results in one complete round. */
export interface WorkloadTrial {
  readonly round: number;
  /** One batch per workload (per runner, where the instance holds several). */
  readonly batches: readonly ResultBatch[];
}

/** What every version 2 batch of a run carries about the run. */
export interface RunFacts {
  readonly seed: string;
  /** Rounds run again because the host was disturbed. */
  readonly disturbed: number;
  readonly hostFingerprint: string;
  readonly uncalibrated: boolean;
  /** Settings every batch gains (`fingerprintChanged`, why the run is uncalibrated). */
  readonly settings: Readonly<Record<string, string | number | boolean>>;
}

/** The series of a platform's trials: each result id, with its batch in each round. */
export function seriesOf(trials: readonly WorkloadTrial[]): Map<string, Map<number, ResultBatch>> {
  const series = new Map<string, Map<number, ResultBatch>>();
  for (const { round, batches } of trials) {
    for (const batch of batches) {
      const byRound = series.get(batch.id) ?? new Map<number, ResultBatch>();
      byRound.set(round, batch);
      series.set(batch.id, byRound);
    }
  }
  return series;
}

/** A metric's value in each round of a series that has it. */
function metricByRound(
  byRound: ReadonlyMap<number, ResultBatch>,
  name: string,
): Map<number, number> {
  const values = new Map<number, number>();
  for (const [round, batch] of byRound) {
    const metric = batch.metrics.find((each) => each.name === name);
    if (metric !== undefined) values.set(round, metric.value);
  }
  return values;
}

/** The process platform's value of a workload's metric in each round. */
function baselineByRound(
  baseline: ReadonlyMap<string, ReadonlyMap<number, ResultBatch>>,
  workload: string,
  name: string,
): Map<number, number> {
  for (const byRound of baseline.values()) {
    const [first] = byRound.values();
    if (first?.workload.name === workload) return metricByRound(byRound, name);
  }
  return new Map();
}

/** A paired comparison as a result's comparison records it, but for its baseline. */
export function comparisonFields(
  comparison: PairedComparison,
  margin: number,
): Omit<Comparison, 'baseline'> {
  return {
    ratio: comparison.ratio,
    ci95: [comparison.ci95[0], comparison.ci95[1]],
    rounds: comparison.rounds,
    perRound: [...comparison.perRound],
    verdict: comparison.verdict,
    margin,
    method: comparison.method,
    ...(comparison.roundsToDecide === undefined
      ? {}
      : { roundsToDecide: comparison.roundsToDecide }),
  };
}

/**
 * Every throughput comparison of a platform's trials with the process platform's, paired by
 * round: one per workload (per runner) measured in at least two rounds both ran.
 */
export function compareTrials(
  trials: readonly WorkloadTrial[],
  processTrials: readonly WorkloadTrial[],
  margin: number,
  seed: string,
): RunComparison[] {
  const baseline = seriesOf(processTrials);
  const comparisons: RunComparison[] = [];
  for (const byRound of seriesOf(trials).values()) {
    const [first] = byRound.values();
    if (first === undefined) continue;
    const name = METRICS.throughput.metric;
    const paired = pairRounds(
      metricByRound(byRound, name),
      baselineByRound(baseline, first.workload.name, name),
    );
    if (paired.values.length < 2) continue;
    const comparison = compareRounds(paired.values, paired.baselines, {
      margin,
      higherIsBetter: true,
      seed,
    });
    const container = first.platform.settings['container'];
    comparisons.push({
      platform: first.platform.name,
      runtime: first.platform.runtime,
      workload: first.workload.name,
      ...(typeof container === 'string' ? { container } : {}),
      metric: name,
      ...comparisonFields(comparison, margin),
    });
  }
  return comparisons;
}

/** The mean of the percentiles every round has. */
function meanPercentiles(metrics: readonly ResultMetric[]): ResultMetric['percentiles'] {
  const keys = ['p50', 'p75', 'p90', 'p99', 'p999'] as const;
  const percentiles: NonNullable<ResultMetric['percentiles']> = {};
  for (const key of keys) {
    const values = metrics.map((metric) => metric.percentiles?.[key]);
    if (values.every((value) => value !== undefined)) percentiles[key] = mean(values);
  }
  return Object.keys(percentiles).length === 0 ? undefined : percentiles;
}

/**
 * A metric over rounds: the value is the mean of the round values, the samples their sum,
 * the margin of error and spread those of the round values (one round keeps its own), and
 * the round values themselves.
 */
export function metricOverRounds(perRound: readonly ResultMetric[]): ResultMetricV2 {
  const [first] = perRound;
  if (first === undefined) throw new Error('a metric over rounds needs at least one round');
  const roundValues = perRound.map((metric) => metric.value);
  const spread =
    perRound.length === 1 ? first : metricFromSamples(first.name, first.unit, roundValues);
  const percentiles = meanPercentiles(perRound);
  const stoppedBy = perRound.every((metric) => metric.stoppedBy === first.stoppedBy)
    ? first.stoppedBy
    : undefined;
  return {
    name: first.name,
    unit: first.unit,
    value: mean(roundValues),
    samples: perRound.reduce((sum, metric) => sum + metric.samples, 0),
    rme: spread.rme,
    ...(spread.stddev === undefined ? {} : { stddev: spread.stddev }),
    min: Math.min(...perRound.map((metric) => metric.min ?? metric.value)),
    max: Math.max(...perRound.map((metric) => metric.max ?? metric.value)),
    ...(percentiles === undefined ? {} : { percentiles }),
    ...(stoppedBy === undefined ? {} : { stoppedBy }),
    roundValues,
  };
}

/** A batch of the run as version 2: the run's rounds, host fingerprint and calibration. */
export function asVersion2(
  batch: ResultBatch,
  metrics: ResultMetricV2[],
  rounds: number,
  facts: RunFacts,
): ResultBatchV2 {
  return {
    schemaVersion: 2,
    id: batch.id,
    hostId: batch.hostId,
    runId: batch.runId,
    takenAt: Date.now(),
    platform: { ...batch.platform, settings: { ...batch.platform.settings, ...facts.settings } },
    workload: batch.workload,
    metrics,
    rounds: { count: rounds, seed: facts.seed, disturbed: facts.disturbed },
    hostFingerprint: facts.hostFingerprint,
    uncalibrated: facts.uncalibrated,
  };
}

/**
 * A platform's workload results over its rounds, one batch per workload (per runner): each
 * metric over the rounds, and its throughput's comparison with the process platform's.
 */
export function workloadBatches(
  trials: readonly WorkloadTrial[],
  comparisons: readonly RunComparison[],
  baseline: string,
  facts: RunFacts,
): ResultBatchV2[] {
  const batches: ResultBatchV2[] = [];
  for (const byRound of seriesOf(trials).values()) {
    const rounds = [...byRound.values()];
    const last = rounds[rounds.length - 1];
    if (last === undefined) continue;
    const container = last.platform.settings['container'];
    const comparison = comparisons.find(
      (each) =>
        each.platform === last.platform.name &&
        each.runtime === last.platform.runtime &&
        each.workload === last.workload.name &&
        each.container === (typeof container === 'string' ? container : undefined),
    );
    const metrics = last.metrics.map((metric) => {
      const perRound = rounds.flatMap((batch) =>
        batch.metrics.filter((each) => each.name === metric.name),
      );
      const overRounds = metricOverRounds(perRound);
      if (metric.name !== METRICS.throughput.metric || comparison === undefined) return overRounds;
      const { ratio, ci95, rounds: used, perRound: ratios, verdict, margin, method } = comparison;
      return {
        ...overRounds,
        comparison: {
          baseline,
          ratio,
          ci95,
          rounds: used,
          perRound: ratios,
          verdict,
          margin,
          method,
          ...(comparison.roundsToDecide === undefined
            ? {}
            : { roundsToDecide: comparison.roundsToDecide }),
        },
      };
    });
    batches.push(asVersion2(last, metrics, rounds.length, facts));
  }
  return batches;
}
