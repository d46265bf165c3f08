import { METRICS } from '../../contracts/workloads.ts';
import type { Instance, PlatformDriver } from './drivers/driver.ts';
import { errorText } from './error-text.ts';
import { MIB } from './stats.ts';

/** One runner's work in a trial: when it began and ended (host clock) and its throughput. */
export interface RunnerWork {
  /** performance.now() when it began: when "go" was written, else when its "ready" arrived. */
  readonly beganAt: number;
  /** performance.now() when its result arrived. */
  readonly resultAt: number;
  readonly throughput: number;
  /** The throughput's unit: `hash/s`, `copy/s`, … */
  readonly unit: string;
}

/** What a trial of instances running one workload at the same time measured. */
export interface LoadTrial {
  /** Every runner of every instance (an instance may hold several). */
  readonly runners: readonly RunnerWork[];
  /** Memory per runner, MiB, one entry per instance, where the platform accounts it. */
  readonly memoryMiB: readonly number[];
  /** The settings of the first instance: what the platform recorded of itself. */
  readonly settings: Instance['settings'];
  /**
   * Whether the runners waited, once all were ready, for one "go" to begin together (else
   * each began as soon as it was ready: the platform passes no input on).
   */
  readonly startedTogether: boolean;
}

/** How a trial is run. */
export interface LoadTrialOptions {
  /** Ids of the instances, one per instance started. */
  readonly ids: readonly string[];
  readonly workload: string;
  /** The runner's time cap for the workload, ms; it samples to the cap, not to a margin. */
  readonly timeCapMs: number;
  /** Longest the whole trial may take, start-up included, before it counts as failed. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** A trial that did not complete: an instance failed, it timed out, or it was stopped. */
export class LoadTrialError extends Error {
  constructor(
    message: string,
    readonly stopped: boolean,
  ) {
    super(message);
    this.name = 'LoadTrialError';
  }
}

/**
 * The runner arguments of a trial: one workload sampled for its whole time cap, held open;
 * with `together`, begun only on "go".
 */
function trialArgs(workload: string, timeCapMs: number, together: boolean): string[] {
  return [
    '--workloads',
    workload,
    '--time-cap-ms',
    String(timeCapMs),
    '--rme-target',
    '0',
    '--hold',
    ...(together ? ['--go'] : []),
  ];
}

/**
 * Reads one instance's lines to their end: each runner's start, result and throughput.
 * `onReady` is called once every runner of the instance is ready; `began` says when the
 * runners were told to go (undefined: each began when it was ready).
 */
async function workOf(
  instance: Instance,
  workload: string,
  onReady: () => void,
  began: () => number | undefined,
): Promise<RunnerWork[]> {
  const readyAt = new Map<string, number>();
  const work: RunnerWork[] = [];
  for await (const { line, at } of instance.lines) {
    const runner = line.instance ?? '';
    if (line.type === 'ready') {
      readyAt.set(runner, at);
      if (readyAt.size === instance.runners) onReady();
    } else if (line.type === 'error') throw new Error(`the runner failed: ${line.message}`);
    else if (line.type === 'result' && line.workload === workload) {
      const throughput = line.metrics.find((metric) => metric.name === METRICS.throughput.metric);
      if (throughput === undefined) throw new Error(`${workload} gave no throughput`);
      work.push({
        beganAt: began() ?? readyAt.get(runner) ?? instance.launchedAt,
        resultAt: at,
        throughput: throughput.value,
        unit: throughput.unit,
      });
    }
  }
  if (work.length < instance.runners) {
    throw new Error(`${work.length} of ${instance.runners} runners gave a result`);
  }
  return work;
}

/**
 * Starts `ids.length` instances at once, each running `workload` for its time cap, and reads
 * every runner's throughput and each instance's memory while all are still held; then stops
 * them all, whatever happened. Where the platform passes input on, the runners wait until
 * every one is ready and are then told to go together, so that start-ups (a VM's boot) do
 * not stagger the work. Fails (LoadTrialError) when an instance cannot start, a runner
 * fails, the trial passes its timeout or the signal stops it: nothing is left running.
 */
export async function runLoadTrial(
  driver: PlatformDriver,
  options: LoadTrialOptions,
): Promise<LoadTrial> {
  const { signal } = options;
  const together = driver.passesInput === true;
  const runnerArgs = trialArgs(options.workload, options.timeCapMs, together);
  const started = await Promise.allSettled(
    options.ids.map((id) => driver.start({ id, runnerArgs })),
  );
  const instances = started.flatMap((each) => (each.status === 'fulfilled' ? [each.value] : []));
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const failedStart = started.find((each) => each.status === 'rejected');
    if (failedStart !== undefined) {
      throw new LoadTrialError(
        `an instance did not start: ${errorText(failedStart.reason)}`,
        false,
      );
    }
    const ended = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new LoadTrialError(`the trial took longer than ${options.timeoutMs} ms`, false));
      }, options.timeoutMs);
      onAbort = () => {
        reject(new LoadTrialError('stopped', true));
      };
      if (signal?.aborted === true) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    let ready = 0;
    let goAt: number | undefined;
    const onReady = (): void => {
      ready += 1;
      if (!together || ready < instances.length) return;
      goAt = performance.now();
      for (const instance of instances) instance.go?.();
    };
    const reading = Promise.all(
      instances.map((instance) => workOf(instance, options.workload, onReady, () => goAt)),
    );
    // A reader left behind by a timeout ends when its instance is stopped below.
    reading.catch(() => undefined);
    const work = await Promise.race([reading, ended]).catch((error: unknown) => {
      throw error instanceof LoadTrialError
        ? error
        : new LoadTrialError(`an instance failed: ${errorText(error)}`, false);
    });
    const peaks = await Promise.all(instances.map((instance) => instance.peakMemoryBytes()));
    return {
      runners: work.flat(),
      memoryMiB: instances.flatMap((instance, index) => {
        const peak = peaks[index];
        return peak === undefined ? [] : [peak / MIB / instance.runners];
      }),
      settings: instances[0]?.settings ?? {},
      startedTogether: together,
    };
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    await Promise.all(instances.map((instance) => instance.stop().catch(() => undefined)));
  }
}
