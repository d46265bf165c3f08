import type { RunnerLine } from '../../contracts/index.ts';
import type { Instance, PlatformDriver } from './drivers/driver.ts';
import { errorText } from './error-text.ts';

/** What an idle instance's runner is started with: no workload, held until its input closes. */
export const IDLE_RUNNER_ARGS: readonly string[] = ['--workloads', '', '--hold'];

/** A launch that fails (a guest that never prints) is tried once more before the platform fails. */
export const LAUNCH_ATTEMPTS = 2;

/** An idle instance, running until stopped, and how long it took to become ready. */
export interface IdleInstance {
  readonly instance: Instance;
  /** Launch → the last runner's "ready" line, ms. */
  readonly startupMs: number;
}

/**
 * When the last of `runners` runners printed "ready", reading on to the end of the lines
 * (a held runner's end when its input closes). A runner's error line, or fewer ready lines
 * than runners, is an error.
 */
export async function lastReadyAt(
  lines: AsyncIterable<{ line: RunnerLine; at: number }>,
  runners: number,
): Promise<number> {
  const readyAt: number[] = [];
  for await (const { line, at } of lines) {
    if (line.type === 'ready') readyAt.push(at);
    else if (line.type === 'error') throw new Error(`the runner failed: ${line.message}`);
  }
  if (readyAt.length < runners) {
    throw new Error(`${readyAt.length} of ${runners} runners became ready`);
  }
  return Math.max(...readyAt);
}

/**
 * Starts an idle instance (the runner with no workload, held open) and waits until every
 * runner in it is ready. Start-up is launch → the last runner's "ready" line. The instance
 * keeps running until stopped.
 */
export async function launchIdle(driver: PlatformDriver, id: string): Promise<IdleInstance> {
  const instance = await driver.start({ id, runnerArgs: IDLE_RUNNER_ARGS });
  try {
    const readyAt = await lastReadyAt(instance.lines, instance.runners);
    return { instance, startupMs: readyAt - instance.launchedAt };
  } catch (error) {
    await instance.stop();
    throw error;
  }
}

/**
 * A launch, tried again when it fails (a guest that hangs in its boot) up to LAUNCH_ATTEMPTS
 * times in all; each failed attempt but the last is reported with its message. Once
 * `stopped` says so, a failure is not tried again.
 */
export async function withLaunchRetry<T>(
  launch: () => Promise<T>,
  onFailedAttempt: (message: string) => void,
  stopped: () => boolean = () => false,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await launch();
    } catch (error) {
      if (stopped() || attempt >= LAUNCH_ATTEMPTS) throw error;
      onFailedAttempt(errorText(error));
    }
  }
}
