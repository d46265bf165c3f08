import type { ResultMetric } from '../../contracts/index.ts';
import { METRICS, type WorkloadName } from '../../contracts/workloads.ts';
import type { Instance } from '../../agents/host-agent/drivers/driver.ts';
import { bounded, READY_TIMEOUT_MS } from './bounded-wait.ts';
import { defaultDrivers, type DriversBenchOptions } from './options.ts';
import { percent, progress, say, verdict } from './output.ts';
import { summarise } from './timing.ts';

const SPREAD_TARGET = 0.02;

/** The runner's metrics for one workload, from its lines. */
async function workloadMetrics(
  lines: Instance['lines'],
  workload: string,
): Promise<ResultMetric[]> {
  let metrics: ResultMetric[] | undefined;
  for await (const { line } of lines) {
    if (line.type === 'result' && line.workload === workload) metrics = line.metrics;
    if (line.type === 'error') throw new Error(`${workload}: ${line.message}`);
  }
  if (metrics === undefined) throw new Error(`${workload}: the runner printed no result`);
  return metrics;
}

/**
 * The run-to-run spread of cpu-sha256 on the process platform: `spreadRuns` runs, each a new
 * instance, and the spread of their means.
 */
export async function spreadStep(
  options: DriversBenchOptions,
  dataDir: string,
  runId: string,
  signal: AbortSignal,
): Promise<void> {
  const [driver] = await defaultDrivers(dataDir, ['process']);
  if (driver === undefined) throw new Error('no process driver');
  const workload: WorkloadName = 'cpu-sha256';
  say(
    `${workload} on process: ${options.spreadRuns} runs, each a new instance, rme target 2% or a ${options.timeCapMs} ms time cap`,
  );
  const means: number[] = [];
  let unit = '';
  for (let index = 1; index <= options.spreadRuns; index += 1) {
    progress(`spread: ${workload} run ${index}/${options.spreadRuns}`);
    const instance = await driver.start({
      id: `${runId}-spread-${index}`,
      runnerArgs: ['--workloads', workload, '--time-cap-ms', String(options.timeCapMs)],
    });
    let metrics: ResultMetric[];
    try {
      metrics = await bounded(
        workloadMetrics(instance.lines, workload),
        signal,
        options.timeCapMs + READY_TIMEOUT_MS,
        `${workload} run ${index}`,
      );
    } finally {
      await instance.stop();
    }
    const throughput = metrics.find((metric) => metric.name === METRICS.throughput.metric);
    if (throughput === undefined) throw new Error(`${workload}: no throughput metric`);
    unit = throughput.unit;
    means.push(throughput.value);
    say(
      `  run ${index}: ${throughput.value.toFixed(1)} ${unit} (mean of ${throughput.samples} samples, rme ${throughput.rme.toFixed(2)}%, stopped by ${throughput.stoppedBy ?? 'unknown'})`,
    );
  }
  const summary = summarise(METRICS.throughput.metric, unit, means);
  const spread = (Math.max(...means) - Math.min(...means)) / summary.mean;
  say(
    `  spread (max - min) / mean: ${percent(spread)}; target <= ${percent(SPREAD_TARGET)}: ${verdict(spread <= SPREAD_TARGET)}`,
  );
  say(`  coefficient of variation (stddev / mean): ${percent(summary.stddev / summary.mean)}`);
  say();
}
