import type { ResultBatchV2, ResultMetricV2 } from '../../contracts/index.ts';
import { INSTANCE_WORKLOAD, METRICS } from '../../contracts/workloads.ts';
import { isBimodal, quantileWithInterval } from '../../lib/statistics.ts';
import { measureDensity, type Density } from './density.ts';
import type { LoadCurve } from './density-at-load.ts';
import type { Instance } from './drivers/driver.ts';
import { launchIdle, withLaunchRetry } from './launch.ts';
import { batchFor } from './result-batches.ts';
import { asVersion2, type RunFacts } from './round-results.ts';
import { mean, metricFromSamples, MIB } from './stats.ts';
import type { PlatformContext } from './suite-run.ts';

/** One idle instance's launch: its start-up, its memory, and the launch attempts that failed. */
export interface Launch {
  readonly round: number;
  readonly startupMs: number;
  /** Peak memory per runner, MiB, where the platform accounts it. */
  readonly memoryMiB: number | undefined;
  readonly failedAttempts: number;
  readonly settings: Instance['settings'];
}

/**
 * Launches one idle instance, the `launch`th of its platform in `round` (tried once more if
 * it fails), reads its start-up and peak memory, and stops it.
 */
export async function measureLaunch(
  context: PlatformContext,
  round: number,
  launch: number,
): Promise<Launch> {
  const { run, driver, emit, aborted } = context;
  let failedAttempts = 0;
  emit({
    kind: 'step',
    platform: driver.platform,
    what: `start-up ${launch}/${run.suite.launchesPerRound} of round ${round}`,
  });
  const { instance, startupMs } = await withLaunchRetry(
    () => launchIdle(driver, `${run.runId}-${driver.platform}-r${round}s${launch}`),
    (message) => {
      failedAttempts += 1;
      emit({
        kind: 'workload-failed',
        platform: driver.platform,
        workload: INSTANCE_WORKLOAD,
        message: `launch ${launch} failed, trying again: ${message}`,
      });
    },
    aborted,
  );
  try {
    const peak = await instance.peakMemoryBytes();
    return {
      round,
      startupMs,
      memoryMiB: peak === undefined ? undefined : peak / MIB / instance.runners,
      failedAttempts,
      settings: instance.settings,
    };
  } finally {
    await instance.stop();
  }
}

/** The density step of a platform: idle instances held side by side in the suite's budget. */
export function measurePlatformDensity(context: PlatformContext): Promise<Density | undefined> {
  const { run, driver, emit, aborted } = context;
  emit({ kind: 'step', platform: driver.platform, what: 'density' });
  return measureDensity(driver, `${run.runId}-${driver.platform}`, run.suite, aborted);
}

/** Memory of an idle runner over launches, MiB; undefined when none was accounted. */
export function meanMemoryMiB(launches: readonly Launch[]): number | undefined {
  const memory = launches.flatMap((launch) => launch.memoryMiB ?? []);
  return memory.length === 0 ? undefined : mean(memory);
}

/** Start-up per round: the mean of each round's launches, in round order. */
function startupByRound(launches: readonly Launch[]): number[] {
  const rounds = [...new Set(launches.map((launch) => launch.round))].sort((a, b) => a - b);
  return rounds.map((round) =>
    mean(launches.filter((launch) => launch.round === round).map((launch) => launch.startupMs)),
  );
}

/**
 * What is measured from outside the instances, as one batch of the pseudo-workload
 * `instance`: start-up over every interleaved launch (with its p95's distribution-free
 * interval and whether it looks bimodal), memory per instance, its overhead net of an idle
 * runner on the bare process, and density.
 */
export function instanceBatch(
  context: PlatformContext,
  measured: {
    readonly launches: readonly Launch[];
    readonly density: Density | undefined;
    /** Launch attempts that failed and were tried again, over every round run. */
    readonly failedLaunches: number;
    /** Density at load, where the run measured it. */
    readonly curve: LoadCurve | undefined;
  },
  facts: RunFacts,
): ResultBatchV2 {
  const { launches, density, failedLaunches, curve } = measured;
  const { run, driver } = context;
  const suite = run.suite;
  const startups = launches.map((launch) => launch.startupMs);
  const memory = launches.flatMap((launch) => launch.memoryMiB ?? []);
  const startupRounds = startupByRound(launches);
  const metrics: ResultMetricV2[] = [
    {
      ...metricFromSamples(METRICS.startup.metric, METRICS.startup.unit, startups),
      roundValues: startupRounds,
    },
  ];
  const baseline = context.baselineMemoryMiB;
  const overhead = memory.length > 0 && baseline !== undefined && driver.platform !== 'process';
  if (memory.length > 0)
    metrics.push(metricFromSamples(METRICS.memoryPeak.metric, METRICS.memoryPeak.unit, memory));
  if (overhead) {
    const overheads = memory.map((value) => value - baseline);
    metrics.push(
      metricFromSamples(METRICS.memoryOverhead.metric, METRICS.memoryOverhead.unit, overheads),
    );
  }
  if (density !== undefined) {
    metrics.push(metricFromSamples(METRICS.density.metric, METRICS.density.unit, [density.count]));
  }
  if (density?.idleCpuMillicores !== undefined) {
    metrics.push(
      metricFromSamples(METRICS.idleCpu.metric, METRICS.idleCpu.unit, [density.idleCpuMillicores]),
    );
  }
  if (curve !== undefined && curve.steps.length > 0) {
    metrics.push(
      metricFromSamples(METRICS.densityAtSlo.metric, METRICS.densityAtSlo.unit, [
        curve.densityAtSlo,
      ]),
      metricFromSamples(METRICS.densitySlo.metric, METRICS.densitySlo.unit, [curve.plan.sloShare]),
    );
  }
  const p95 = quantileWithInterval(startups, 0.95);
  const extra = {
    launches: launches.length,
    launchesPerRound: suite.launchesPerRound,
    failedLaunches,
    startupP95: p95.value,
    startupP95Low: p95.low,
    startupP95High: p95.high,
    startupP95Exact: p95.exact,
    startupBimodal: isBimodal(startups),
    ...(overhead
      ? {
          memoryOverheadBaseline: `an idle runner on the bare process in this run: ${baseline.toFixed(1)} MiB`,
        }
      : {}),
    ...(density === undefined
      ? {}
      : {
          densityBudgetMiB: suite.densityBudgetMiB,
          densityCap: suite.densityCap,
          densityStoppedBy: density.stoppedBy,
          densityUsedMiB: Math.round(density.usedMiB),
          densityMeasure: 'idle instances held side by side, the sum of their peak memory',
          ...(density.idleCpuMillicores === undefined
            ? {}
            : {
                idleCpuMeasure:
                  "the host's busy CPU with the idle instances held, less before they started, over the instances",
              }),
          ...(density.note === undefined ? {} : { densityNote: density.note.slice(0, 500) }),
        }),
    ...(curve === undefined || curve.steps.length === 0
      ? {}
      : {
          densityAtSloWorkload: curve.plan.workload,
          densityAtSloEndedBy: curve.endedBy,
          densityAtSloWhy: curve.why.slice(0, 500),
          ...(curve.kneeAt === undefined ? {} : { densityAtSloKnee: curve.kneeAt }),
        }),
  };
  const settings = launches[launches.length - 1]?.settings ?? {};
  const batch = batchFor(context, { ...settings, ...extra }, INSTANCE_WORKLOAD, metrics);
  return asVersion2(batch, metrics, startupRounds.length, facts);
}
