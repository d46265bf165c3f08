import type { ResultBatch } from '../../contracts/index.ts';
import { METRICS } from '../../contracts/workloads.ts';
import { compareRounds, seededShuffle } from '../../lib/statistics.ts';
import type { PlatformDriver } from './drivers/driver.ts';
import { newRunId } from './ids.ts';
import { SUITES } from './suite-catalogue.ts';
import type { PlatformContext } from './suite-run.ts';
import { measureWorkloads } from './workload-measures.ts';

/** The two trials of a calibration round: the process platform as it is, and under the quota. */
export type CalibrationArm = 'bare' | 'quota';

/** What the canary measures, how often, and against which margin. */
export interface CalibrationOptions {
  /** The process platform's driver: the one platform that applies a CPU quota. */
  readonly driver: PlatformDriver;
  /** Rounds, each one trial of each arm in an order shuffled per round. */
  readonly rounds: number;
  /** Share of one CPU the quota trials get, in (0, 1]; the expected ratio. */
  readonly quota?: number;
  /** Equivalence margin: how far (relative) the interval may miss the expected ratio. */
  readonly margin: number;
  /** A single-threaded CPU workload, whose throughput scales with the CPU it is given. */
  readonly workload?: string;
  /** Longest a trial samples its workload (raised to CANARY_TIME_CAP_MS when shorter). */
  readonly timeCapMs: number;
  /** Stops the canary after the trial under way. */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: CalibrationEvent) => void;
}

/** One trial done: its round (from 1), its arm and its throughput. */
export interface CalibrationEvent {
  readonly kind: 'trial';
  readonly round: number;
  readonly arm: CalibrationArm;
  readonly throughput: number;
  readonly unit: string;
}

/** The canary's finding: the measured ratio of quota to bare, its interval, and whether it is calibrated. */
export interface Calibration {
  /** The ratio a CPU quota should give: the quota itself. */
  readonly expected: number;
  /** Geometric mean of the per-round ratios quota/bare throughput. */
  readonly ratio: number;
  readonly ci95: readonly [number, number];
  readonly rounds: number;
  /** Whether the interval is within the margin of the expected ratio (see isCalibrated). */
  readonly ok: boolean;
}

/**
 * The shortest time a canary trial samples its workload, ms. V8's compiler and collector
 * threads share the quota with the workload in a process's first seconds, so a shorter trial
 * reads the quota low: at 50% this host measured 0.47 with 1.5 s trials and 0.50 with 3 s.
 */
export const CANARY_TIME_CAP_MS = 3_000;

/** The host id the canary's trials are measured under: their batches are read, never sent. */
const CALIBRATION_HOST = 'calibration';

/**
 * Whether a canary's interval is within the margin of the ratio it should show: it reaches
 * into [expected·(1 − margin), expected·(1 + margin)]. The run is uncalibrated when the
 * interval misses the expected ratio by more than the margin: its upper end is below
 * expected·(1 − margin), or its lower end above expected·(1 + margin).
 */
export function isCalibrated(
  [low, high]: readonly [number, number],
  expected: number,
  margin: number,
): boolean {
  return high >= expected * (1 - margin) && low <= expected * (1 + margin);
}

/** The process driver with every instance it starts held to a share of one CPU. */
function withCpuQuota(driver: PlatformDriver, cpuQuota: number): PlatformDriver {
  return { ...driver, start: (options) => driver.start({ ...options, cpuQuota }) };
}

/**
 * One trial: the workload measured in one instance, as a suite measures it, and its
 * throughput read from the result. Undefined when the canary was stopped during it.
 */
async function runTrial(
  context: Pick<PlatformContext, 'driver' | 'availability' | 'aborted'>,
  runId: string,
  workload: string,
  timeCapMs: number,
): Promise<{ value: number; unit: string } | undefined> {
  const batches: ResultBatch[] = [];
  const failures: string[] = [];
  await measureWorkloads({
    ...context,
    run: {
      hostId: CALIBRATION_HOST,
      runId,
      suite: { ...SUITES.quick, workloads: [workload], timeCapMs },
      drivers: [context.driver],
      deliver: (batch) => {
        batches.push(batch);
        return Promise.resolve();
      },
    },
    emit: (event) => {
      if (event.kind === 'workload-failed') failures.push(event.message);
    },
    baselineMemoryMiB: undefined,
  });
  if (context.aborted()) return undefined;
  const throughput = batches
    .flatMap((batch) => batch.metrics)
    .find((metric) => metric.name === METRICS.throughput.metric);
  if (throughput === undefined) {
    throw new Error(
      `${workload} gave no throughput on the process platform${failures.length === 0 ? '' : `: ${failures.join('; ')}`}`,
    );
  }
  return { value: throughput.value, unit: throughput.unit };
}

/**
 * The calibration canary: proves the measurement can see a difference it knows. Over
 * `rounds` rounds, each running the workload once on the bare process platform and once
 * under a CPU quota (the order shuffled per round from a seed), the per-round ratios
 * quota/bare are paired as any comparison is; a quota of q should give q. Throws when a trial
 * fails, or when stopped before every round is done.
 */
export async function calibrate(options: CalibrationOptions): Promise<Calibration> {
  const { driver, rounds, margin, signal, onEvent } = options;
  const timeCapMs = Math.max(options.timeCapMs, CANARY_TIME_CAP_MS);
  const quota = options.quota ?? 0.5;
  const workload = options.workload ?? 'cpu-sha256';
  const availability = await driver.availability();
  if (!availability.available) {
    throw new Error(
      `the ${driver.platform} platform cannot run here: ${availability.reason ?? 'unavailable'}`,
    );
  }
  const aborted = (): boolean => signal?.aborted === true;
  const drivers: Record<CalibrationArm, PlatformDriver> = {
    bare: driver,
    quota: withCpuQuota(driver, quota),
  };
  const calibrationId = newRunId();
  const values: Record<CalibrationArm, number[]> = { bare: [], quota: [] };
  for (let round = 1; round <= rounds; round += 1) {
    const arms = seededShuffle<CalibrationArm>(['bare', 'quota'], `${calibrationId}/${round}`);
    for (const arm of arms) {
      const measured = aborted()
        ? undefined
        : await runTrial(
            { driver: drivers[arm], availability, aborted },
            `${calibrationId}-r${round}-${arm}`,
            workload,
            timeCapMs,
          );
      if (measured === undefined) {
        throw new Error(`calibration stopped in round ${round} of ${rounds}`);
      }
      values[arm].push(measured.value);
      onEvent?.({ kind: 'trial', round, arm, throughput: measured.value, unit: measured.unit });
    }
  }
  const comparison = compareRounds(values.quota, values.bare, {
    margin,
    higherIsBetter: true,
    seed: calibrationId,
  });
  return {
    expected: quota,
    ratio: comparison.ratio,
    ci95: comparison.ci95,
    rounds: comparison.rounds,
    ok: isCalibrated(comparison.ci95, quota, margin),
  };
}
