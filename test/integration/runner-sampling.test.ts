import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runnerBundle } from '../../agents/host-agent/runner-bundle.ts';
import { runnerLineCodec, type ResultMetric } from '../../contracts/index.ts';
import { removeDir, tempDir } from '../../support/servers.ts';

const execProgram = promisify(execFile);

/** The runner's metrics for one workload, run with `args`. */
async function metricsOf(runner: string, args: readonly string[]): Promise<ResultMetric[]> {
  const { stdout } = await execProgram(process.execPath, [runner, ...args]);
  for (const text of stdout.split('\n').filter((line) => line !== '')) {
    const checked = runnerLineCodec.check(JSON.parse(text));
    if (checked.ok && checked.value.type === 'result') return checked.value.metrics;
  }
  throw new Error(`no result line in: ${stdout}`);
}

describe('the runner samples a workload for at least its minimum time', () => {
  let dataDir: string;
  let runner: string;

  beforeAll(async () => {
    dataDir = await tempDir('runner-sampling');
    runner = await runnerBundle(dataDir);
  });

  afterAll(async () => {
    await removeDir(dataDir);
  });

  it('lets the margin of error end sampling only in a sample of --min-time-ms or longer', async () => {
    const metrics = await metricsOf(runner, [
      '--workloads',
      'cpu-sha256',
      '--time-cap-ms',
      '3000',
      // A target every sample meets, even on a busy host: only the minimum time holds it back.
      '--rme-target',
      '50',
      '--min-time-ms',
      '900',
    ]);
    const latency = metrics.find((metric) => metric.name === 'latency');
    expect(latency?.stoppedBy).toBe('rme-target');
    // The samples of 250 and 500 ms meet the target too; the one kept is 1 s long.
    const sampledMs = (latency?.value ?? 0) * (latency?.samples ?? 0);
    expect(sampledMs).toBeGreaterThan(0.8 * 1000);
  }, 30_000);
});
