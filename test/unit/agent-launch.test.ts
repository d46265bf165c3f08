import { describe, expect, it } from 'vitest';
import type { RunnerLine } from '../../contracts/index.ts';
import { lastReadyAt, LAUNCH_ATTEMPTS, withLaunchRetry } from '../../agents/host-agent/launch.ts';

async function* timed(
  lines: readonly [RunnerLine, number][],
): AsyncGenerator<{ line: RunnerLine; at: number }> {
  for (const [line, at] of lines) {
    await Promise.resolve();
    yield { line, at };
  }
}

const ready = (instance: string): RunnerLine => ({
  schemaVersion: 1,
  type: 'ready',
  instance,
  at: 1,
  node: 'v20',
  kernel: '6.1',
});
const done: RunnerLine = { schemaVersion: 1, type: 'done' };

describe('lastReadyAt', () => {
  it('is when the last runner became ready, read to the end of the lines', async () => {
    const lines = timed([
      [ready('c1'), 120],
      [ready('c2'), 180],
      [done, 400],
    ]);
    expect(await lastReadyAt(lines, 2)).toBe(180);
  });

  it("fails on a runner's error line, and when fewer runners than held became ready", async () => {
    const failing = timed([[{ schemaVersion: 1, type: 'error', message: 'no scratch' }, 5]]);
    await expect(lastReadyAt(failing, 1)).rejects.toThrow('the runner failed: no scratch');
    await expect(lastReadyAt(timed([[ready('c1'), 10]]), 2)).rejects.toThrow(
      '1 of 2 runners became ready',
    );
  });
});

describe('withLaunchRetry', () => {
  it('tries a failed launch again, reporting each failed attempt but the last', async () => {
    const failures: string[] = [];
    let attempts = 0;
    const launched = await withLaunchRetry(
      () => {
        attempts += 1;
        return attempts === 1 ? Promise.reject(new Error('hung in its boot')) : Promise.resolve(7);
      },
      (message) => failures.push(message),
    );
    expect(launched).toBe(7);
    expect(failures).toEqual(['hung in its boot']);
  });

  it('gives up after LAUNCH_ATTEMPTS, or at once when stopped', async () => {
    let attempts = 0;
    const failing = (): Promise<never> => {
      attempts += 1;
      return Promise.reject(new Error(`attempt ${attempts}`));
    };
    await expect(withLaunchRetry(failing, () => undefined)).rejects.toThrow(
      `attempt ${LAUNCH_ATTEMPTS}`,
    );
    expect(attempts).toBe(LAUNCH_ATTEMPTS);
    attempts = 0;
    await expect(
      withLaunchRetry(
        failing,
        () => undefined,
        () => true,
      ),
    ).rejects.toThrow('attempt 1');
    expect(attempts).toBe(1);
  });
});
