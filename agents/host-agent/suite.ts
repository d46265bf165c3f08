import { createHash, randomBytes } from 'node:crypto';
import type { Platform, ResultBatch, ResultMetric } from '../../contracts/index.ts';
import type { Availability, Instance, PlatformDriver } from './drivers/driver.ts';
import { WORKLOADS } from './runner/workloads.ts';
import { metricFromSamples } from './stats.ts';

export type SuiteName = 'quick' | 'full';

export interface Suite {
  readonly name: SuiteName;
  readonly workloads: readonly string[];
  /** Longest a workload is sampled before its result is taken as it is. */
  readonly timeCapMs: number;
  /** Instances started one after another to measure start-up and memory per instance. */
  readonly launches: number;
  /** Memory the density step fills with idle instances held side by side, MiB. */
  readonly densityBudgetMiB: number;
  /** Most instances the density step starts, whatever the budget. */
  readonly densityCap: number;
}

/** Every workload the runner has, in the order a suite runs them. */
export const ALL_WORKLOADS: readonly string[] = WORKLOADS.map((workload) => workload.name);

export const SUITES: Readonly<Record<SuiteName, Suite>> = {
  quick: {
    name: 'quick',
    workloads: ALL_WORKLOADS,
    timeCapMs: 1_500,
    launches: 5,
    densityBudgetMiB: 1_024,
    densityCap: 32,
  },
  full: {
    name: 'full',
    workloads: ALL_WORKLOADS,
    timeCapMs: 10_000,
    launches: 20,
    densityBudgetMiB: 4_096,
    densityCap: 256,
  },
};

/** The pseudo-workload whose metrics are measured from outside: start-up, memory, density. */
export const INSTANCE_WORKLOAD = 'instance';
const RUNNER_VERSION = '1';
/** A launch that fails (a guest that never prints) is tried once more before the platform fails. */
const LAUNCH_ATTEMPTS = 2;

export type SuiteEvent =
  | {
      readonly kind: 'platform-skipped';
      readonly platform: string;
      readonly runtime: string;
      readonly reason: string;
    }
  | { readonly kind: 'step'; readonly platform: string; readonly what: string }
  | { readonly kind: 'result'; readonly batch: ResultBatch }
  | {
      readonly kind: 'workload-failed';
      readonly platform: string;
      readonly workload: string;
      readonly message: string;
    };

export interface SuiteRun {
  readonly hostId: string;
  readonly runId: string;
  readonly suite: Suite;
  readonly drivers: readonly PlatformDriver[];
  /** Called for each result batch (the agent journals it in its outbox). */
  readonly deliver: (batch: ResultBatch) => Promise<void>;
  readonly onEvent?: (event: SuiteEvent) => void;
  /** Stops the suite between steps (SIGINT). */
  readonly signal?: AbortSignal;
  /**
   * The bare process driver: when the run does not include it, it still measures an idle
   * runner's own memory, so other platforms' memory overhead can be taken net of it.
   */
  readonly baseline?: PlatformDriver;
}

/** A run id: time-ordered and unique, safe as a subject token. */
export function newRunId(now = Date.now()): string {
  return `run-${now.toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** How many progress steps one platform takes: its launches, the density step, its workloads. */
export function platformSteps(suite: Suite): number {
  return suite.launches + 1 + suite.workloads.length;
}

/** How many steps a suite takes on the given number of platforms, for progress bars. */
export function suiteSteps(suite: Suite, platforms: number): number {
  return platforms * platformSteps(suite);
}

/**
 * A result's id: the run's id and a digest of what the result is of (platform, runtime,
 * workload, container). Stable for the run, so a resend is recognised as the same result,
 * and always a safe token of at most 64 characters whatever the names.
 */
export function resultId(runId: string, ...of: readonly string[]): string {
  const digest = createHash('sha256').update(of.join('/')).digest('hex').slice(0, 16);
  return `${runId}-${digest}`;
}

function platformRecord(
  driver: PlatformDriver,
  availability: Availability,
  settings: Instance['settings'],
): Platform {
  return {
    name: driver.platform,
    runtime: driver.runtime,
    runtimeVersion: availability.version ?? 'unknown',
    accel: availability.accel ?? 'none',
    settings: { ...settings },
  };
}

const MIB = 1024 * 1024;
const mean = (values: readonly number[]): number =>
  values.reduce((sum, value) => sum + value, 0) / values.length;

const errorText = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/**
 * Starts an idle instance (the runner with no workload, held open) and waits until every
 * runner in it is ready. Start-up is launch → the last runner's "ready" line. The instance
 * keeps running until stopped.
 */
async function launchIdle(
  driver: PlatformDriver,
  id: string,
): Promise<{ instance: Instance; startupMs: number }> {
  const instance = await driver.start({ id, runnerArgs: ['--workloads', '', '--hold'] });
  try {
    const readyAt: number[] = [];
    for await (const { line, at } of instance.lines) {
      if (line.type === 'ready') readyAt.push(at);
      else if (line.type === 'error') throw new Error(`the runner failed: ${line.message}`);
    }
    if (readyAt.length < instance.runners) {
      throw new Error(`${readyAt.length} of ${instance.runners} runners became ready`);
    }
    return { instance, startupMs: Math.max(...readyAt) - instance.launchedAt };
  } catch (error) {
    await instance.stop();
    throw error;
  }
}

/** launchIdle, tried once more when a launch fails (a guest that hangs in its boot). */
async function launchIdleWithRetry(
  driver: PlatformDriver,
  id: string,
  onFailedAttempt: (message: string) => void,
): Promise<{ instance: Instance; startupMs: number }> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await launchIdle(driver, id);
    } catch (error) {
      if (attempt >= LAUNCH_ATTEMPTS) throw error;
      onFailedAttempt(errorText(error));
    }
  }
}

interface Density {
  /** Workload instances (runners) that fit in the budget. */
  readonly count: number;
  readonly stoppedBy: 'budget' | 'cap' | 'launch-failed';
  /** Memory the instances that fit used together, MiB. */
  readonly usedMiB: number;
  readonly note?: string;
}

/**
 * Density by measurement: idle instances are started one after another and held side by
 * side; after each start the memory of all of them is read again. The count is how many fit
 * before the sum passes the budget (or the cap is reached, or a start fails).
 */
async function measureDensity(
  driver: PlatformDriver,
  idPrefix: string,
  suite: Suite,
  aborted: () => boolean,
): Promise<Density | undefined> {
  const held: Instance[] = [];
  let count = 0;
  let usedMiB = 0;
  try {
    for (;;) {
      if (aborted()) return undefined;
      if (count >= suite.densityCap) return { count, stoppedBy: 'cap', usedMiB };
      let instance: Instance;
      try {
        ({ instance } = await launchIdle(driver, `${idPrefix}-d${held.length + 1}`));
      } catch (error) {
        return { count, stoppedBy: 'launch-failed', usedMiB, note: errorText(error) };
      }
      held.push(instance);
      const peaks = await Promise.all(held.map((each) => each.peakMemoryBytes()));
      if (peaks.some((peak) => peak === undefined)) return undefined;
      const totalMiB = peaks.reduce<number>((sum, peak) => sum + (peak ?? 0), 0) / MIB;
      if (totalMiB > suite.densityBudgetMiB) return { count, stoppedBy: 'budget', usedMiB };
      count += instance.runners;
      usedMiB = totalMiB;
    }
  } finally {
    await Promise.all(held.map((each) => each.stop()));
  }
}

interface PlatformContext {
  readonly run: SuiteRun;
  readonly driver: PlatformDriver;
  readonly availability: Availability;
  readonly emit: (event: SuiteEvent) => void;
  readonly aborted: () => boolean;
  /** Memory of one idle runner on the bare process, MiB, when measured earlier in this run. */
  readonly baselineMemoryMiB: number | undefined;
}

function batchFor(
  context: PlatformContext,
  settings: Instance['settings'],
  workload: string,
  metrics: ResultMetric[],
  container?: string,
): ResultBatch {
  const { run, driver } = context;
  return {
    schemaVersion: 1,
    id: resultId(run.runId, driver.platform, driver.runtime, workload, container ?? ''),
    hostId: run.hostId,
    runId: run.runId,
    takenAt: Date.now(),
    platform: platformRecord(
      driver,
      context.availability,
      container === undefined ? settings : { ...settings, container },
    ),
    workload: { name: workload, version: RUNNER_VERSION },
    metrics,
  };
}

async function deliver(context: PlatformContext, batch: ResultBatch): Promise<void> {
  await context.run.deliver(batch);
  context.emit({ kind: 'result', batch });
}

/**
 * What is measured from outside the instances: start-up and memory over `launches` idle
 * instances, memory overhead net of the bare process's own, and density. Returns the memory
 * of one idle runner, MiB, when it was measured.
 */
async function measureInstances(context: PlatformContext): Promise<number | undefined> {
  const { run, driver, emit, aborted } = context;
  const suite = run.suite;
  const startups: number[] = [];
  const memory: number[] = [];
  let failedLaunches = 0;
  let settings: Instance['settings'] = {};
  for (let launch = 1; launch <= suite.launches; launch += 1) {
    if (aborted()) return undefined;
    emit({ kind: 'step', platform: driver.platform, what: `start-up ${launch}/${suite.launches}` });
    const { instance, startupMs } = await launchIdleWithRetry(
      driver,
      `${run.runId}-${driver.platform}-s${launch}`,
      (message) => {
        failedLaunches += 1;
        emit({
          kind: 'workload-failed',
          platform: driver.platform,
          workload: INSTANCE_WORKLOAD,
          message: `launch ${launch} failed, trying again: ${message}`,
        });
      },
    );
    try {
      startups.push(startupMs);
      settings = instance.settings;
      const peak = await instance.peakMemoryBytes();
      if (peak !== undefined) memory.push(peak / MIB / instance.runners);
    } finally {
      await instance.stop();
    }
  }
  if (aborted()) return undefined;
  emit({ kind: 'step', platform: driver.platform, what: 'density' });
  const density = await measureDensity(driver, `${run.runId}-${driver.platform}`, suite, aborted);
  if (aborted()) return undefined;

  const metrics = [metricFromSamples('startup', 'ms', startups)];
  const baseline = context.baselineMemoryMiB;
  const overhead = memory.length > 0 && baseline !== undefined && driver.platform !== 'process';
  if (memory.length > 0) metrics.push(metricFromSamples('memory-peak', 'MiB', memory));
  if (overhead) {
    const overheads = memory.map((value) => value - baseline);
    metrics.push(metricFromSamples('memory-overhead', 'MiB', overheads));
  }
  if (density !== undefined) {
    metrics.push(metricFromSamples('density', 'instances', [density.count]));
  }
  const extra = {
    launches: suite.launches,
    failedLaunches,
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
          ...(density.note === undefined ? {} : { densityNote: density.note.slice(0, 500) }),
        }),
  };
  await deliver(context, batchFor(context, { ...settings, ...extra }, INSTANCE_WORKLOAD, metrics));
  return memory.length === 0 ? undefined : mean(memory);
}

/** Every workload in one instance; with several runners in it, one result per runner. */
async function measureWorkloads(context: PlatformContext): Promise<void> {
  const { run, driver, emit, aborted } = context;
  const args = [
    '--workloads',
    run.suite.workloads.join(','),
    '--time-cap-ms',
    String(run.suite.timeCapMs),
  ];
  const instance = await driver.start({
    id: `${run.runId}-${driver.platform}-w`,
    runnerArgs: args,
  });
  try {
    for await (const { line } of instance.lines) {
      if (aborted()) return;
      const container = instance.runners > 1 ? line.instance : undefined;
      // With several runners, the first one's lines move the progress on.
      const step = container === undefined || container === 'c1';
      if (line.type === 'result') {
        await deliver(
          context,
          batchFor(context, instance.settings, line.workload, line.metrics, container),
        );
        if (step) emit({ kind: 'step', platform: driver.platform, what: line.workload });
      } else if (line.type === 'error') {
        emit({
          kind: 'workload-failed',
          platform: driver.platform,
          workload: line.workload ?? '(runner)',
          message: container === undefined ? line.message : `${container}: ${line.message}`,
        });
        if (step)
          emit({ kind: 'step', platform: driver.platform, what: line.workload ?? 'runner' });
      }
    }
  } finally {
    await instance.stop();
  }
}

const BASELINE_LAUNCHES = 3;

/** An idle runner's own memory on the bare process, MiB (the mean of a few launches). */
async function measureBaselineMemory(driver: PlatformDriver, runId: string): Promise<number> {
  const memory: number[] = [];
  for (let launch = 1; launch <= BASELINE_LAUNCHES; launch += 1) {
    const { instance } = await launchIdle(driver, `${runId}-baseline-${launch}`);
    try {
      const peak = await instance.peakMemoryBytes();
      if (peak === undefined) throw new Error('the bare process has no memory accounting here');
      memory.push(peak / MIB);
    } finally {
      await instance.stop();
    }
  }
  return mean(memory);
}

/**
 * Runs a suite: for each available platform, start-up, memory and density measured from
 * outside, then every workload in one instance. A platform that fails is reported and the
 * suite goes on with the next one.
 */
export async function runSuite(run: SuiteRun): Promise<void> {
  const emit = (event: SuiteEvent): void => run.onEvent?.(event);
  const aborted = (): boolean => run.signal?.aborted === true;
  let baselineMemoryMiB: number | undefined;
  if (run.baseline !== undefined && !run.drivers.some((driver) => driver.platform === 'process')) {
    baselineMemoryMiB = await measureBaselineMemory(run.baseline, run.runId).catch(
      (error: unknown) => {
        emit({
          kind: 'workload-failed',
          platform: 'process',
          workload: INSTANCE_WORKLOAD,
          message: `no baseline memory, so no memory overhead: ${errorText(error)}`,
        });
        return undefined;
      },
    );
  }
  for (const driver of run.drivers) {
    if (aborted()) return;
    const availability = await driver.availability();
    if (!availability.available) {
      emit({
        kind: 'platform-skipped',
        platform: driver.platform,
        runtime: driver.runtime,
        reason: availability.reason ?? 'unavailable',
      });
      continue;
    }
    const context = { run, driver, availability, emit, aborted, baselineMemoryMiB };
    try {
      const idleMemoryMiB = await measureInstances(context);
      if (driver.platform === 'process') baselineMemoryMiB = idleMemoryMiB;
      if (aborted()) return;
      await measureWorkloads(context);
    } catch (error) {
      if (aborted()) return;
      emit({
        kind: 'workload-failed',
        platform: driver.platform,
        workload: INSTANCE_WORKLOAD,
        message: `the platform failed: ${errorText(error)}`,
      });
    }
  }
}
