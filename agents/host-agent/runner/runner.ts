import { mkdtempSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Bench, type Statistics } from 'tinybench';
import type { ResultMetric, RunnerLine } from '../../../contracts/index.ts';
import { WORKLOADS, type Workload } from './workloads.ts';
import { METRICS } from '../../../contracts/workloads.ts';

/**
 * The workload runner: the one program every platform runs. It prints a "ready" line as
 * soon as it can measure, then one "result" line per workload, then "done". Each workload is
 * timed in samples of doubling length, each a fresh measurement that the next replaces, until
 * one lasting at least the minimum time has its relative margin of error under the target, or
 * the time cap is reached; the result says which.
 */
function printer(instance: string | undefined): (line: RunnerLine) => void {
  return (line) => {
    const labelled = instance === undefined ? line : { ...line, instance };
    process.stdout.write(`${JSON.stringify(labelled)}\n`);
  };
}

function metric(
  name: string,
  unit: string,
  stats: Statistics,
  stoppedBy: 'rme-target' | 'time-cap',
): ResultMetric {
  return {
    name,
    unit,
    value: stats.mean,
    samples: stats.samplesCount,
    rme: stats.rme,
    stddev: stats.sd,
    min: stats.min,
    max: stats.max,
    percentiles: { p50: stats.p50, p75: stats.p75, p99: stats.p99, p999: stats.p999 },
    stoppedBy,
  };
}

/**
 * Throughput as operations per second of the time measured: 1000 over the mean latency (ms),
 * with the latency's margin of error. The mean of each iteration's own rate would hide the
 * time an iteration spent stalled (a CPU quota's throttled period, another process on the
 * core), so a platform that stalls would look as fast as one that does not. The spread and
 * percentiles are those of the per-iteration rate.
 */
function throughputMetric(
  unit: string,
  latency: Statistics,
  rate: Statistics,
  stoppedBy: 'rme-target' | 'time-cap',
): ResultMetric {
  return {
    ...metric(METRICS.throughput.metric, unit, rate, stoppedBy),
    value: 1000 / latency.mean,
    rme: latency.rme,
  };
}

async function measure(
  workload: Workload,
  scratchDir: string,
  rmeTarget: number,
  timeCapMs: number,
  minTimeMs: number,
): Promise<ResultMetric[]> {
  const prepared = await workload.prepare(scratchDir);
  const deadline = performance.now() + timeCapMs;
  try {
    for (let roundMs = Math.min(250, timeCapMs); ; roundMs *= 2) {
      const bench = new Bench({ time: roundMs, iterations: 5 });
      bench.add(workload.name, prepared.run);
      await bench.run();
      const result = bench.tasks[0]?.result;
      if (result?.state !== 'completed') {
        throw new Error(`${workload.name} did not complete (${result?.state ?? 'no task'})`);
      }
      const converged = result.latency.rme <= rmeTarget && roundMs >= minTimeMs;
      if (converged || performance.now() + roundMs * 2 > deadline) {
        const stoppedBy = converged ? 'rme-target' : 'time-cap';
        return [
          metric(METRICS.latency.metric, METRICS.latency.unit, result.latency, stoppedBy),
          throughputMetric(`${workload.operation}/s`, result.latency, result.throughput, stoppedBy),
        ];
      }
    }
  } finally {
    await prepared.close();
  }
}

/** Resolves at the first line on standard input, or at its end. */
function inputLine(): Promise<void> {
  return new Promise((resolve) => {
    let text = '';
    const finish = (): void => {
      process.stdin.off('data', onData);
      process.stdin.off('end', finish);
      process.stdin.pause();
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      if (text.includes('\n')) finish();
    };
    process.stdin.on('data', onData);
    process.stdin.once('end', finish);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workloads: { type: 'string', default: WORKLOADS.map((w) => w.name).join(',') },
      'rme-target': { type: 'string', default: '2' },
      'time-cap-ms': { type: 'string', default: '3000' },
      // The margin of error ends sampling only in a sample at least this long: a sample of a
      // quarter second varies more from one instance to the next than a longer one.
      'min-time-ms': { type: 'string', default: '0' },
      scratch: { type: 'string', default: tmpdir() },
      // Stay alive after "done" until standard input closes, so the platform's memory can
      // be read while the instance still exists.
      hold: { type: 'boolean', default: false },
      // After "ready", wait for a line on standard input before the first workload, so
      // instances started one after another begin their work together.
      go: { type: 'boolean', default: false },
      // Names this runner in every line, where one instance holds several runners.
      instance: { type: 'string' },
    },
  });
  const print = printer(values.instance);
  const wanted = values.workloads.split(',').filter((name) => name !== '');
  const unknown = wanted.filter((name) => !WORKLOADS.some((w) => w.name === name));
  if (unknown.length > 0) {
    print({ schemaVersion: 1, type: 'error', message: `unknown workloads: ${unknown.join(', ')}` });
    process.exitCode = 2;
    return;
  }
  const scratchDir = mkdtempSync(join(values.scratch, 'berth-runner-'));
  print({
    schemaVersion: 1,
    type: 'ready',
    at: Date.now(),
    node: process.version,
    kernel: release(),
  });
  if (values.go) await inputLine();
  try {
    for (const workload of WORKLOADS.filter((w) => wanted.includes(w.name))) {
      try {
        const metrics = await measure(
          workload,
          scratchDir,
          Number(values['rme-target']),
          Number(values['time-cap-ms']),
          Number(values['min-time-ms']),
        );
        print({ schemaVersion: 1, type: 'result', workload: workload.name, metrics });
      } catch (error) {
        print({
          schemaVersion: 1,
          type: 'error',
          workload: workload.name,
          message: error instanceof Error ? error.message : String(error),
        });
      }
    }
  } finally {
    rmSync(scratchDir, { recursive: true, force: true });
  }
  print({ schemaVersion: 1, type: 'done' });
  if (values.hold && !process.stdin.destroyed) {
    process.stdin.resume();
    await new Promise((resolve) => process.stdin.once('close', resolve));
  }
}

await main();
