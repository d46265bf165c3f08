import { METRICS, type WorkloadName } from '../../contracts/workloads.ts';
import { roundsText } from '../../agents/host-agent/summary.ts';
import { say, verdict } from '../drivers/output.ts';
import { type FidelityBenchOptions, suiteOf } from './options.ts';
import { percent, progress, seconds, type Spread, spreadOf, spreadText } from './output.ts';
import { type BenchContext, benchDrivers, runBenchSuite } from './suite-runs.ts';

/** Most spread of cpu-sha256's throughput over suites: (max - min) / median. */
export const SPREAD_GOAL = 0.02;

const WORKLOAD: WorkloadName = 'cpu-sha256';

/** The spread figure: cpu-sha256's throughput on the process platform, suite after suite. */
export interface SpreadFigure {
  readonly unit: string;
  /** Each suite's throughput: the mean of its rounds, as it publishes it. */
  readonly values: readonly number[];
  readonly throughput: Spread;
  /** (max - min) / median. */
  readonly spread: number;
  readonly goal: number;
  readonly met: boolean;
}

/**
 * (c) cpu-sha256 spread: `spreadSuites` suites on the process platform alone (with its
 * canary), one after another; each gives cpu-sha256's throughput as it publishes it, and the
 * spread is (max - min) / median of those.
 */
export async function spreadStep(
  context: BenchContext,
  options: FidelityBenchOptions,
): Promise<SpreadFigure> {
  const drivers = await benchDrivers(context, ['process']);
  const suite = suiteOf(options);
  say(
    `(c) ${WORKLOAD} spread on process: ${options.spreadSuites} ${suite.name} suites on the process platform alone (rounds ${suite.rounds} to ${suite.maxRounds}, time cap ${suite.timeCapMs} ms)`,
  );
  const values: number[] = [];
  let unit = '';
  for (let index = 1; index <= options.spreadSuites; index += 1) {
    const label = `spread suite ${index}/${options.spreadSuites}`;
    const { outcome, batches, wallMs } = await runBenchSuite(context, suite, drivers, label);
    const throughput = batches
      .find((batch) => batch.platform.name === 'process' && batch.workload.name === WORKLOAD)
      ?.metrics.find((metric) => metric.name === METRICS.throughput.metric);
    if (throughput === undefined) throw new Error(`${label}: no ${WORKLOAD} throughput`);
    values.push(throughput.value);
    unit = throughput.unit;
    const perRound = throughput.roundValues?.map((value) => value.toFixed(0)).join(', ') ?? '';
    const line = `suite ${index}: ${throughput.value.toFixed(1)} ${unit} (rounds: ${perRound}); ${roundsText(outcome.rounds)}, ${seconds(wallMs)}`;
    progress(`${label}: ${line}`);
    say(`    ${line}`);
  }
  const throughput = spreadOf(values);
  const spread = (throughput.max - throughput.min) / throughput.median;
  const met = spread <= SPREAD_GOAL;
  say(
    `    median [range]: ${spreadText(throughput, (value) => value.toFixed(1))} ${unit}; spread (max - min) / median: ${percent(spread)}; goal <= ${percent(SPREAD_GOAL)}: ${verdict(met)}`,
  );
  say();
  return { unit, values, throughput, spread, goal: SPREAD_GOAL, met };
}
