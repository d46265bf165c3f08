import { WORKLOAD_NAMES } from '../../contracts/workloads.ts';

/** The suites by name, as `--suite` and a job name them. */
export type SuiteName = 'quick' | 'full';

/** What a suite measures on each platform, and how long and how far it goes. */
export interface Suite {
  readonly name: SuiteName;
  readonly workloads: readonly string[];
  /** Longest a workload is sampled before its result is taken as it is. */
  readonly timeCapMs: number;
  /**
   * Shortest sample whose margin of error may end a workload's sampling, ms (where the time
   * cap leaves room for it). A steady workload meets the margin in a quarter second, but such
   * short samples differ from round to round by a few percent on a shared host, which widens
   * every interval; longer samples decide comparisons in fewer rounds.
   */
  readonly minSampleMs: number;
  /** Rounds every platform runs, each platform and workload once per round. */
  readonly rounds: number;
  /**
   * Most rounds in all: rounds past `rounds` run only while a comparison is unsettled (see
   * `unsettledPlatforms`).
   */
  readonly maxRounds: number;
  /** Idle instances each platform starts per round, to measure start-up and memory. */
  readonly launchesPerRound: number;
  /** Memory the density step fills with idle instances held side by side, MiB. */
  readonly densityBudgetMiB: number;
  /** Most instances the density step starts, whatever the budget. */
  readonly densityCap: number;
  /** Density at load and noisy neighbours, unless the settings say otherwise. */
  readonly load: {
    /** How long each instance samples the workload in a trial, ms. */
    readonly trialMs: number;
    /** Memory a step's instances may take together, MiB; `host`: three quarters of its memory. */
    readonly memoryBudgetMiB: number | 'host';
    readonly timeBudgetMs: number;
    readonly cap: number;
  };
}

/** The suites a run or a job names: `quick` (the default) and `full`. */
export const SUITES: Readonly<Record<SuiteName, Suite>> = {
  quick: {
    name: 'quick',
    workloads: WORKLOAD_NAMES,
    timeCapMs: 1_500,
    minSampleMs: 0,
    rounds: 3,
    maxRounds: 6,
    launchesPerRound: 2,
    densityBudgetMiB: 1_024,
    densityCap: 32,
    load: { trialMs: 1_000, memoryBudgetMiB: 1_024, timeBudgetMs: 60_000, cap: 8 },
  },
  full: {
    name: 'full',
    workloads: WORKLOAD_NAMES,
    timeCapMs: 10_000,
    minSampleMs: 2_000,
    rounds: 8,
    maxRounds: 16,
    launchesPerRound: 3,
    densityBudgetMiB: 4_096,
    densityCap: 256,
    load: { trialMs: 3_000, memoryBudgetMiB: 'host', timeBudgetMs: 600_000, cap: 256 },
  },
};

/**
 * The suite with its rounds set (`--rounds`): the cap on rounds rises to them when they pass
 * it, so asking for more rounds than the cap still runs them.
 */
export function withRounds(suite: Suite, rounds: number | undefined): Suite {
  if (rounds === undefined) return suite;
  return { ...suite, rounds, maxRounds: Math.max(rounds, suite.maxRounds) };
}
