import type { Verdict } from '../../contracts/index.ts';
import type { PlatformDriver } from '../../agents/host-agent/drivers/driver.ts';
import { roundsText } from '../../agents/host-agent/summary.ts';
import { printTable } from '../../cli/output.ts';
import { say, verdict } from '../drivers/output.ts';
import { type FidelityBenchOptions, suiteOf, throughputOnly } from './options.ts';
import { progress, seconds, shareText, wilsonInterval } from './output.ts';
import { type BenchContext, processDriver, runBenchSuite } from './suite-runs.ts';

/** Most share of A/A comparisons that may come out `faster` or `slower`. */
export const AA_GOAL = 0.05;

/** How many of a workload's A/A comparisons came out with each verdict. */
export type VerdictCounts = Record<Verdict, number>;

/** The A/A figure: the process platform compared with itself. */
export interface AaFigure {
  readonly runs: number;
  readonly copies: number;
  readonly byWorkload: Readonly<Record<string, VerdictCounts>>;
  readonly comparisons: number;
  /** Comparisons that came out `faster` or `slower`. */
  readonly falseDecisions: number;
  readonly share: number;
  /** Wilson 95% interval of the share. */
  readonly ci95: readonly [number, number];
  readonly goal: number;
  readonly met: boolean;
}

const noVerdicts = (): VerdictCounts => ({ same: 0, faster: 0, slower: 0, unclear: 0 });

const countOf = (counts: VerdictCounts): number =>
  counts.same + counts.faster + counts.slower + counts.unclear;

const decisionsOf = (counts: VerdictCounts): number => counts.faster + counts.slower;

/** The process driver as it is, under another runtime name: a second arm of the same platform. */
function copyOf(driver: PlatformDriver, index: number): PlatformDriver {
  return { ...driver, runtime: `${driver.runtime}-aa${index}` };
}

/**
 * (a) A/A: the process platform against itself. Each run is a suite whose pair is the real
 * process driver and whose other arms are copies of it under other runtime names, so every
 * copy is compared with the pair in the same rounds, as any platform is. Runs repeat until
 * every workload has `aaComparisons` comparisons (at most twice the runs planned). The
 * canary's comparison is not counted. Every `faster` or `slower` is a false decision.
 */
export async function aaStep(
  context: BenchContext,
  options: FidelityBenchOptions,
): Promise<AaFigure> {
  const pair = await processDriver(context);
  const copies = Array.from({ length: options.aaCopies }, (_, index) => copyOf(pair, index + 1));
  const copyRuntimes = new Set(copies.map((copy) => copy.runtime));
  const suite = throughputOnly(suiteOf(options));
  const planned = Math.ceil(options.aaComparisons / options.aaCopies);
  const byWorkload: Record<string, VerdictCounts> = Object.fromEntries(
    suite.workloads.map((workload) => [workload, noVerdicts()]),
  );
  const fewest = (): number => Math.min(...Object.values(byWorkload).map(countOf));
  say(
    `(a) A/A: process:${pair.runtime} against ${options.aaCopies} copies of itself in each run, ${planned} runs planned (>= ${options.aaComparisons} comparisons of each workload)`,
  );
  say(
    `    suite: ${suite.name}'s ${suite.workloads.length} workloads, time cap ${suite.timeCapMs} ms, rounds ${suite.rounds} to ${suite.maxRounds}, margin ${context.margin}; its start-up launches and density step left out (no throughput reads them)`,
  );
  let runs = 0;
  while (fewest() < options.aaComparisons && runs < planned * 2) {
    runs += 1;
    const label = `A/A run ${runs}/${planned}`;
    const { outcome, wallMs } = await runBenchSuite(context, suite, [pair, ...copies], label);
    const found = noVerdicts();
    for (const comparison of outcome.comparisons) {
      if (comparison.platform !== pair.platform || !copyRuntimes.has(comparison.runtime)) continue;
      const counts = byWorkload[comparison.workload];
      if (counts === undefined) continue;
      counts[comparison.verdict] += 1;
      found[comparison.verdict] += 1;
    }
    const line = `run ${runs}: ${roundsText(outcome.rounds)}, ${seconds(wallMs)}; same ${found.same}, unclear ${found.unclear}, faster ${found.faster}, slower ${found.slower}`;
    progress(`${label}: ${line}`);
    say(`    ${line}`);
  }
  const all = Object.values(byWorkload).reduce<VerdictCounts>(
    (sum, counts) => ({
      same: sum.same + counts.same,
      faster: sum.faster + counts.faster,
      slower: sum.slower + counts.slower,
      unclear: sum.unclear + counts.unclear,
    }),
    noVerdicts(),
  );
  const rows = [...Object.entries(byWorkload), ['all', all] as const].map(([workload, counts]) => ({
    workload,
    comparisons: countOf(counts),
    same: counts.same,
    unclear: counts.unclear,
    faster: counts.faster,
    slower: counts.slower,
    'faster or slower': shareText(decisionsOf(counts), countOf(counts)),
  }));
  printTable(rows, false);
  const comparisons = countOf(all);
  const falseDecisions = decisionsOf(all);
  const share = comparisons === 0 ? Number.NaN : falseDecisions / comparisons;
  const met = share <= AA_GOAL;
  if (fewest() < options.aaComparisons) {
    say(
      `    short: a workload has ${fewest()} comparisons after ${runs} runs (wanted ${options.aaComparisons})`,
    );
  }
  say(
    `    false decisions: ${shareText(falseDecisions, comparisons)}; goal <= ${AA_GOAL * 100}%: ${verdict(met)}`,
  );
  say(
    `    the ${options.aaCopies} copies of a run share its pair, so their verdicts are not independent: the Wilson interval assumes they are`,
  );
  say();
  return {
    runs,
    copies: options.aaCopies,
    byWorkload,
    comparisons,
    falseDecisions,
    share,
    ci95: wilsonInterval(falseDecisions, comparisons),
    goal: AA_GOAL,
    met,
  };
}
