import { randomBytes } from 'node:crypto';
import type { Platform, ResultBatch, ResultMetric } from '../../contracts/index.ts';
import type { Availability, Instance, PlatformDriver } from './drivers/driver.ts';
import { metricFromSamples } from './stats.ts';

export type SuiteName = 'quick' | 'full';

export interface Suite {
  readonly name: SuiteName;
  readonly workloads: readonly string[];
  /** Longest a workload is sampled before its result is taken as it is. */
  readonly timeCapMs: number;
  /** Instances started one after another to measure start-up and memory per instance. */
  readonly launches: number;
}

const ALL_WORKLOADS = [
  'cpu-sha256',
  'cpu-gzip',
  'memory-copy',
  'syscall-fstat',
  'file-fsync',
  'net-loopback',
  'process-spawn',
];

export const SUITES: Readonly<Record<SuiteName, Suite>> = {
  quick: { name: 'quick', workloads: ALL_WORKLOADS, timeCapMs: 1_500, launches: 5 },
  full: { name: 'full', workloads: ALL_WORKLOADS, timeCapMs: 10_000, launches: 20 },
};

/** The pseudo-workload whose metrics are measured from outside: start-up and memory. */
export const INSTANCE_WORKLOAD = 'instance';
const RUNNER_VERSION = '1';

export type SuiteEvent =
  | { readonly kind: 'platform-skipped'; readonly platform: string; readonly reason: string }
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
}

/** A run id: time-ordered and unique, safe as a subject token. */
export function newRunId(now = Date.now()): string {
  return `run-${now.toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** How many steps a suite takes on the given number of platforms, for progress bars. */
export function suiteSteps(suite: Suite, platforms: number): number {
  return platforms * (suite.launches + suite.workloads.length);
}

function platformRecord(
  driver: PlatformDriver,
  availability: Availability,
  instance: Instance,
): Platform {
  return {
    name: driver.platform,
    runtime: driver.runtime,
    runtimeVersion: availability.version ?? 'unknown',
    accel: availability.accel ?? 'none',
    settings: { ...instance.settings },
  };
}

async function withInstance<T>(
  driver: PlatformDriver,
  id: string,
  runnerArgs: readonly string[],
  use: (instance: Instance) => Promise<T>,
): Promise<T> {
  const instance = await driver.start({ id, runnerArgs });
  try {
    return await use(instance);
  } finally {
    await instance.stop();
  }
}

/**
 * Runs a suite: for each available platform, start-up and memory over `launches` instances
 * that run no workload, then every workload in one instance. Each result becomes a batch
 * with an id that is stable for the run, so a resend is recognised as the same result.
 */
export async function runSuite(run: SuiteRun): Promise<void> {
  const emit = (event: SuiteEvent): void => run.onEvent?.(event);
  const aborted = (): boolean => run.signal?.aborted === true;
  for (const driver of run.drivers) {
    if (aborted()) return;
    const availability = await driver.availability();
    if (!availability.available) {
      emit({
        kind: 'platform-skipped',
        platform: driver.platform,
        reason: availability.reason ?? 'unavailable',
      });
      continue;
    }
    const batchFor = (
      instance: Instance,
      workload: string,
      metrics: ResultMetric[],
    ): ResultBatch => ({
      schemaVersion: 1,
      id: `${run.runId}-${driver.platform}-${workload}`,
      hostId: run.hostId,
      runId: run.runId,
      takenAt: Date.now(),
      platform: platformRecord(driver, availability, instance),
      workload: { name: workload, version: RUNNER_VERSION },
      metrics,
    });

    const startups: number[] = [];
    const memory: number[] = [];
    let lastInstance: Instance | undefined;
    for (let launch = 1; launch <= run.suite.launches; launch += 1) {
      if (aborted()) return;
      emit({
        kind: 'step',
        platform: driver.platform,
        what: `start-up ${launch}/${run.suite.launches}`,
      });
      await withInstance(
        driver,
        `${run.runId}-${driver.platform}-s${launch}`,
        ['--workloads', '', '--hold'],
        async (instance) => {
          lastInstance = instance;
          for await (const { line, at } of instance.lines) {
            if (line.type === 'ready') startups.push(at - instance.launchedAt);
          }
          const peak = await instance.peakMemoryBytes();
          if (peak !== undefined) memory.push(peak / (1024 * 1024));
        },
      );
    }
    if (lastInstance !== undefined && startups.length > 0) {
      const metrics = [metricFromSamples('startup', 'ms', startups)];
      if (memory.length > 0) metrics.push(metricFromSamples('memory-peak', 'MiB', memory));
      const batch = batchFor(lastInstance, INSTANCE_WORKLOAD, metrics);
      await run.deliver(batch);
      emit({ kind: 'result', batch });
    }

    if (aborted()) return;
    const args = [
      '--workloads',
      run.suite.workloads.join(','),
      '--time-cap-ms',
      String(run.suite.timeCapMs),
    ];
    await withInstance(driver, `${run.runId}-${driver.platform}-w`, args, async (instance) => {
      for await (const { line } of instance.lines) {
        if (aborted()) return;
        if (line.type === 'result') {
          const batch = batchFor(instance, line.workload, line.metrics);
          await run.deliver(batch);
          emit({ kind: 'result', batch });
          emit({ kind: 'step', platform: driver.platform, what: line.workload });
        } else if (line.type === 'error') {
          emit({
            kind: 'workload-failed',
            platform: driver.platform,
            workload: line.workload ?? '(runner)',
            message: line.message,
          });
          emit({ kind: 'step', platform: driver.platform, what: line.workload ?? 'runner' });
        }
      }
    });
  }
}
