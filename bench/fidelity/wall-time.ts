import { driverName } from '../../agents/host-agent/drivers/select.ts';
import type { Suite } from '../../agents/host-agent/suite-catalogue.ts';
import { roundsText } from '../../agents/host-agent/summary.ts';
import { printTable } from '../../cli/output.ts';
import { say } from '../drivers/output.ts';
import { type FidelityBenchOptions, suiteOf } from './options.ts';
import { progress, seconds, type Spread, spreadOf, spreadText } from './output.ts';
import { type BenchContext, benchDrivers, runBenchSuite } from './suite-runs.ts';

/** How a wall-time run measures: in one pass, or in rounds as the suite does now. */
type Pass = 'single' | 'rounds';

/** Wall times of one kind of run. */
export interface PassTimes {
  readonly wallMs: readonly number[];
  readonly wall: Spread;
}

/** The wall-time figure: a suite in rounds against a single pass over the same platforms. */
export interface WallTimeFigure {
  /** The platforms measured (`platform:runtime`); those unavailable here are left out. */
  readonly platforms: readonly string[];
  /** Time the platforms took to be ready (the guest image built on first use), ms. */
  readonly prepareMs: number;
  readonly single: PassTimes;
  readonly rounds: PassTimes;
  /** Median of the runs in rounds over median of the single passes. */
  readonly ratio: number;
}

/**
 * (d) Wall time of the suite on the platforms: a single pass (one round, no extra rounds:
 * what a suite did before rounds) and the suite in rounds, interleaved (single, rounds,
 * single, rounds…). A further pair starts only while the bench has the time for one more as
 * long as the last (`minutes`); the first always runs. The platforms are made ready first
 * (the guest image builds on first use), so no run pays for it.
 */
export async function wallTimeStep(
  context: BenchContext,
  options: FidelityBenchOptions,
): Promise<WallTimeFigure> {
  const drivers = await benchDrivers(context, options.wallPlatforms);
  const suite = suiteOf(options);
  const passes: Record<Pass, Suite> = {
    single: { ...suite, rounds: 1, maxRounds: 1 },
    rounds: suite,
  };
  progress('wall time: making the platforms ready (the guest image builds on first use)');
  const preparing = performance.now();
  const platforms: string[] = [];
  for (const driver of drivers) {
    const availability = await driver.availability();
    if (availability.available) platforms.push(driverName(driver));
    else
      progress(`wall time: ${driverName(driver)} skipped: ${availability.reason ?? 'unavailable'}`);
  }
  const prepareMs = performance.now() - preparing;
  say(
    `(d) wall time of the ${suite.name} suite on ${platforms.join(', ')}: a single pass (rounds 1, at most 1) against rounds (${suite.rounds}, at most ${suite.maxRounds}), interleaved, up to ${options.wallPairs} of each; made ready in ${seconds(prepareMs)}`,
  );
  const times: Record<Pass, number[]> = { single: [], rounds: [] };
  const budgetMs = options.minutes * 60_000;
  let lastPairMs = 0;
  for (let pair = 1; pair <= options.wallPairs; pair += 1) {
    if (pair > 1 && performance.now() - context.startedAt + lastPairMs > budgetMs) {
      say(
        `    no pair ${pair}: another ${seconds(lastPairMs)} would pass the ${options.minutes}-minute budget`,
      );
      break;
    }
    const pairStarted = performance.now();
    for (const pass of ['single', 'rounds'] as const) {
      const label = `wall time ${pass} ${pair}/${options.wallPairs}`;
      const { outcome, wallMs } = await runBenchSuite(context, passes[pass], drivers, label);
      times[pass].push(wallMs);
      const line = `${pass} ${pair}: ${seconds(wallMs)}, ${roundsText(outcome.rounds)}`;
      progress(`${label}: ${line}`);
      say(`    ${line}`);
    }
    lastPairMs = performance.now() - pairStarted;
  }
  const single = { wallMs: times.single, wall: spreadOf(times.single) };
  const rounds = { wallMs: times.rounds, wall: spreadOf(times.rounds) };
  const ratio = rounds.wall.median / single.wall.median;
  printTable(
    (['single', 'rounds'] as const).map((pass) => {
      const { wallMs, wall } = pass === 'single' ? single : rounds;
      return {
        run: pass,
        runs: wallMs.length,
        'wall time: median [range]': spreadText(wall, seconds),
      };
    }),
    false,
  );
  say(`    rounds / single pass: ${ratio.toFixed(2)}× (medians); no goal: the price of the rounds`);
  say();
  return { platforms, prepareMs, single, rounds, ratio };
}
