import type { ResultBatchV2, ResultMetricV2 } from '../../contracts/index.ts';
import {
  besideMetric,
  DENSITY_LOAD_WORKLOAD,
  INTERFERENCE_WORKLOAD,
  LOAD_MEASURES,
  loadMetric,
} from '../../contracts/workloads.ts';
import type { LoadCurve, LoadStep } from './density-at-load.ts';
import { driverName } from './drivers/select.ts';
import { resultId } from './ids.ts';
import type { Interference } from './interference.ts';
import { batchFor } from './result-batches.ts';
import { asVersion2, comparisonFields, type RunFacts } from './round-results.ts';
import { median, metricFromSamples } from './stats.ts';
import type { PlatformContext } from './suite-run.ts';

/**
 * The results of density at load and of noisy neighbours: one version 2 batch per step of a
 * curve and one per antagonist, each with what it was measured under in its settings.
 */

/** A batch of a pseudo-workload whose id also names `part` (the step, the antagonist). */
function partBatch(
  context: PlatformContext,
  settings: Readonly<Record<string, string | number | boolean>>,
  workload: string,
  part: string,
  metrics: ResultMetricV2[],
  rounds: number,
  facts: RunFacts,
): ResultBatchV2 {
  const { run, driver } = context;
  const batch = batchFor(context, settings, workload, metrics);
  return asVersion2(
    { ...batch, id: resultId(run.runId, driver.platform, driver.runtime, workload, part) },
    metrics,
    rounds,
    facts,
  );
}

/** A step's metrics: throughput per instance (median; min the worst), SLO share, memory. */
function stepMetrics(step: LoadStep): ResultMetricV2[] {
  const metrics: ResultMetricV2[] = [
    {
      ...metricFromSamples(loadMetric('throughput', step.runners), step.unit, step.throughput),
      value: median(step.throughput),
    },
    {
      name: loadMetric('sloShare', step.runners),
      unit: LOAD_MEASURES.sloShare.unit,
      value: step.sloShare,
      samples: 1,
      rme: 0,
      stoppedBy: 'single',
    },
  ];
  if (step.memoryMiB.length > 0) {
    metrics.push(
      metricFromSamples(
        loadMetric('memory', step.runners),
        LOAD_MEASURES.memory.unit,
        step.memoryMiB,
      ),
    );
  }
  return metrics;
}

/** What every result of a curve records of how it was measured. */
function curveSettings(curve: LoadCurve): Record<string, string | number | boolean> {
  return {
    loadWorkload: curve.plan.workload,
    loadTrialMs: curve.plan.trialMs,
    loadMemoryBudgetMiB: curve.plan.memoryBudgetMiB,
    loadTimeBudgetS: Math.round(curve.plan.timeBudgetMs / 1000),
    loadCap: curve.plan.cap,
    sloShare: curve.plan.sloShare,
    cores: curve.cores,
    ksm: curve.ksm,
    loadEndedBy: curve.endedBy,
    loadEndedWhy: curve.why.slice(0, 500),
    densityAtSlo: curve.densityAtSlo,
    ...(curve.kneeAt === undefined ? {} : { kneeAt: curve.kneeAt }),
    coreGiven: 'min(1, CPUs of the host / instances running at once)',
  };
}

/** One batch per step of a curve, of the pseudo-workload `density-load`. */
export function curveBatches(
  context: PlatformContext,
  curve: LoadCurve,
  settings: Readonly<Record<string, string | number | boolean>>,
  facts: RunFacts,
): ResultBatchV2[] {
  return curve.steps.map((step) =>
    partBatch(
      context,
      {
        ...settings,
        ...curveSettings(curve),
        loadInstances: step.instances,
        loadRunners: step.runners,
        coreShare: step.coreShare,
        overlap: Math.round(step.overlap * 1000) / 1000,
        startedTogether: step.startedTogether,
        stepMs: Math.round(step.ms),
      },
      DENSITY_LOAD_WORKLOAD,
      `n${step.runners}`,
      stepMetrics(step),
      1,
      facts,
    ),
  );
}

/**
 * One batch per antagonist, of the pseudo-workload `interference`: the victim's throughput
 * beside it over the rounds, with its comparison with the same platform alone.
 */
export function interferenceBatches(
  context: PlatformContext,
  effects: readonly Interference[],
  victim: string,
  margin: number,
  facts: RunFacts,
): ResultBatchV2[] {
  const baseline = driverName(context.driver);
  return effects.map((effect) => {
    const { comparison } = effect;
    const metric: ResultMetricV2 = {
      ...metricFromSamples(besideMetric(effect.antagonist), effect.unit, effect.besideByRound),
      roundValues: [...effect.besideByRound],
      comparison: { baseline, ...comparisonFields(comparison, margin) },
    };
    return partBatch(
      context,
      {
        victimWorkload: victim,
        antagonist: effect.antagonist,
        antagonistRuns: effect.described.slice(0, 500),
        antagonistCgroup: 'a cgroup of its own on the host, removed after each trial',
      },
      INTERFERENCE_WORKLOAD,
      effect.antagonist,
      [metric],
      comparison.rounds,
      facts,
    );
  });
}
