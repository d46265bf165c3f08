import { availableParallelism } from 'node:os';
import type { PlatformDriver } from './drivers/driver.ts';
import { readKsmState } from './ksm.ts';
import { median } from './stats.ts';
import { LoadTrialError, runLoadTrial, type LoadTrial } from './load-trial.ts';

/** What density at load runs and where it stops. */
export interface LoadPlan {
  /** The workload every instance runs at once. */
  readonly workload: string;
  /** How long each instance samples it, ms (the runner's time cap). */
  readonly trialMs: number;
  /** Memory the instances of a step may take together, MiB. */
  readonly memoryBudgetMiB: number;
  /** Time the whole curve may take, ms. */
  readonly timeBudgetMs: number;
  /** Most instances in a step. */
  readonly cap: number;
  /** The share of one instance's throughput per core the worst instance must keep (0.9). */
  readonly sloShare: number;
}

/** One step of the curve: N instances running the workload at the same time. */
export interface LoadStep {
  /** Instances started (each may hold several runners). */
  readonly instances: number;
  /** Runners in all: what the step counts as N. */
  readonly runners: number;
  /** Each runner's throughput, in the runners' order. */
  readonly throughput: readonly number[];
  readonly unit: string;
  /** Memory per runner, MiB, one entry per instance where the platform accounts it. */
  readonly memoryMiB: readonly number[];
  /** The share of a core each runner was given: min(1, cores / runners). */
  readonly coreShare: number;
  /** The worst runner's throughput per core given, as a share of one runner's alone. */
  readonly sloShare: number;
  /**
   * How much of a runner's work all runners did at once: the span from the last runner's
   * start (the "go", else its "ready") to the first result, over the median runner's span
   * from its start to its result.
   */
  readonly overlap: number;
  /** How long the step took, start-up to stop, ms. */
  readonly ms: number;
  /** Whether the runners began their work together, on one "go" once all were ready. */
  readonly startedTogether: boolean;
}

/** Why the curve ended. */
export type LoadEnd = 'memory' | 'time' | 'failure' | 'cap' | 'stopped';

/** Density at load on one platform: its steps and what ended them. */
export interface LoadCurve {
  readonly plan: LoadPlan;
  readonly steps: readonly LoadStep[];
  readonly endedBy: LoadEnd;
  /** What ended it, in a sentence: the budget passed, the failure, … */
  readonly why: string;
  /**
   * The largest N (runners) before the first step whose worst runner fell below the SLO
   * share; 0 when the curve has no step.
   */
  readonly densityAtSlo: number;
  /** The first step that missed the SLO (the knee), when one did. */
  readonly kneeAt: number | undefined;
  /** CPUs of the host, which the core given per runner is counted from. */
  readonly cores: number;
  /** The host's kernel same-page merging as the curve began: `off`, or `on, N pages shared`. */
  readonly ksm: string;
}

/** The instance counts of the steps: 1, 2, 4, … doubling, and the cap last when it is not one. */
export function stepCounts(cap: number): number[] {
  const counts: number[] = [];
  for (let count = 1; count < cap; count *= 2) counts.push(count);
  counts.push(cap);
  return counts;
}

/** How much of the runners' work overlapped: see LoadStep.overlap. */
export function overlapOf(trial: LoadTrial): number {
  const lastBegan = Math.max(...trial.runners.map((runner) => runner.beganAt));
  const firstResult = Math.min(...trial.runners.map((runner) => runner.resultAt));
  const span = median(trial.runners.map((runner) => runner.resultAt - runner.beganAt));
  if (!(span > 0)) return 0;
  return Math.min(1, Math.max(0, (firstResult - lastBegan) / span));
}

/**
 * A step from its trial: throughput per runner, the core each was given, and the worst
 * runner's throughput per core given against `solo` (one runner's alone; the step's own
 * median when it is the first step).
 */
export function stepOf(
  instances: number,
  trial: LoadTrial,
  cores: number,
  solo: number | undefined,
  ms: number,
): LoadStep {
  const throughput = trial.runners.map((runner) => runner.throughput);
  const runners = throughput.length;
  const coreShare = Math.min(1, cores / runners);
  const perCore = throughput.map((value) => value / coreShare);
  return {
    instances,
    runners,
    throughput,
    unit: trial.runners[0]?.unit ?? '',
    memoryMiB: trial.memoryMiB,
    coreShare,
    sloShare: Math.min(...perCore) / (solo ?? median(perCore)),
    overlap: overlapOf(trial),
    ms,
    startedTogether: trial.startedTogether,
  };
}

/** The largest N before the first step that misses the SLO, and that step's N. */
export function densityAtSloOf(
  steps: readonly LoadStep[],
  sloShare: number,
): { readonly densityAtSlo: number; readonly kneeAt: number | undefined } {
  let densityAtSlo = 0;
  for (const step of steps) {
    if (step.sloShare < sloShare) return { densityAtSlo, kneeAt: step.runners };
    densityAtSlo = step.runners;
  }
  return { densityAtSlo, kneeAt: undefined };
}

/** What a curve measurement reports as it goes. */
export interface LoadProgress {
  (what: string): void;
}

/**
 * Density at load: N instances of the platform run the plan's workload at the same time, N
 * stepping 1, 2, 4, … up to the cap. Before each step the memory of the last step predicts
 * whether N fit in the memory budget and its time whether the curve stays in its time budget;
 * a step whose instance fails ends the curve with the reason. Every step stops its instances
 * before the next one starts; a stop (the signal) ends the curve with the steps completed.
 */
export async function measureDensityAtLoad(
  driver: PlatformDriver,
  idPrefix: string,
  plan: LoadPlan,
  progress: LoadProgress,
  signal?: AbortSignal,
): Promise<LoadCurve> {
  const cores = availableParallelism();
  const ksm = await readKsmState();
  const began = performance.now();
  const steps: LoadStep[] = [];
  const ended = (endedBy: LoadEnd, why: string): LoadCurve => ({
    plan,
    steps,
    endedBy,
    why,
    ...densityAtSloOf(steps, plan.sloShare),
    cores,
    ksm,
  });
  for (const instances of stepCounts(plan.cap)) {
    if (signal?.aborted === true) return ended('stopped', 'the run was stopped');
    const last = steps[steps.length - 1];
    if (last !== undefined) {
      const perInstance = last.memoryMiB.length === 0 ? 0 : Math.max(...last.memoryMiB);
      const expectedMiB = perInstance * (last.runners / last.instances) * instances;
      if (expectedMiB > plan.memoryBudgetMiB) {
        return ended(
          'memory',
          `${instances} instances would take about ${Math.round(expectedMiB)} MiB, past the budget of ${plan.memoryBudgetMiB} MiB`,
        );
      }
      const elapsed = performance.now() - began;
      const expectedMs = last.ms * (instances / last.instances);
      if (elapsed + expectedMs > plan.timeBudgetMs) {
        return ended(
          'time',
          `${instances} instances would take about ${Math.round(expectedMs / 1000)} s more, past the time budget of ${Math.round(plan.timeBudgetMs / 1000)} s`,
        );
      }
    }
    progress(`density at load: ${instances} at once`);
    const stepBegan = performance.now();
    let trial: LoadTrial;
    try {
      trial = await runLoadTrial(driver, {
        ids: Array.from(
          { length: instances },
          (_, index) => `${idPrefix}-n${instances}i${index + 1}`,
        ),
        workload: plan.workload,
        timeCapMs: plan.trialMs,
        timeoutMs: Math.max(
          60_000,
          (last?.ms ?? 30_000) * (instances / (last?.instances ?? 1)) * 4,
        ),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      if (error instanceof LoadTrialError && error.stopped) {
        return ended('stopped', 'the run was stopped during a step');
      }
      return ended(
        'failure',
        `${instances} at once failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const solo = steps[0] === undefined ? undefined : median(soloPerCore(steps[0]));
    steps.push(stepOf(instances, trial, cores, solo, performance.now() - stepBegan));
  }
  return ended('cap', `the cap of ${plan.cap} instances was reached`);
}

/** The first step's throughput per core given, per runner: what "alone" means for the SLO. */
function soloPerCore(first: LoadStep): number[] {
  return first.throughput.map((value) => value / first.coreShare);
}
