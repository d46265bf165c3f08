import { SUITES, type Suite } from '../../agents/host-agent/suite-catalogue.ts';

/** What `npm run bench -- fidelity` is asked to do (bench/main.ts parses it from the flags). */
export interface FidelityBenchOptions {
  /** A smoke run: a shortened suite and the smallest counts, seconds instead of half an hour. */
  readonly quick: boolean;
  /** A/A comparisons each workload gets at least. */
  readonly aaComparisons: number;
  /** Copies of the process platform in each A/A run, each compared with the pair. */
  readonly aaCopies: number;
  /** Canary runs at each quota. */
  readonly canaryRuns: number;
  /** Rounds of each canary run. */
  readonly canaryRounds: number;
  /** Suites on the process platform whose cpu-sha256 throughputs are spread. */
  readonly spreadSuites: number;
  /** Most pairs of wall-time runs (a single pass, then the suite in rounds). */
  readonly wallPairs: number;
  /** Platforms of the wall-time runs. */
  readonly wallPlatforms: readonly string[];
  /** Once this many minutes have passed, no further wall-time pair starts (the first always does). */
  readonly minutes: number;
  /** Caches (runner bundle, guest image) and instance folders; a temporary folder when undefined. */
  readonly dataDir: string | undefined;
}

/** The counts a run takes when its flags do not give them: the full run's, and --quick's. */
export const COUNTS = {
  full: {
    aaComparisons: 20,
    aaCopies: 4,
    canaryRuns: 10,
    canaryRounds: 3,
    spreadSuites: 5,
    wallPairs: 2,
    wallPlatforms: ['process', 'container:runc', 'vm', 'container-in-vm'],
    minutes: 30,
  },
  quick: {
    aaComparisons: 2,
    aaCopies: 2,
    canaryRuns: 2,
    canaryRounds: 2,
    spreadSuites: 2,
    wallPairs: 1,
    wallPlatforms: ['process', 'container:runc'],
    minutes: 5,
  },
} as const satisfies Record<string, Omit<FidelityBenchOptions, 'quick' | 'dataDir'>>;

/** The shortened quick suite of a smoke run: short samples, two rounds, one launch, one dense instance. */
const SMOKE_SUITE: Suite = {
  ...SUITES.quick,
  timeCapMs: 250,
  rounds: 2,
  maxRounds: 3,
  launchesPerRound: 1,
  densityBudgetMiB: 64,
  densityCap: 1,
};

/** The suite the run measures with: the quick suite, or its shortened form for --quick. */
export function suiteOf(options: FidelityBenchOptions): Suite {
  return options.quick ? SMOKE_SUITE : SUITES.quick;
}

/**
 * The suite without what no throughput comparison reads (the start-up launches and the
 * density step): its workloads, time cap and rounds as they are.
 */
export function throughputOnly(suite: Suite): Suite {
  return { ...suite, launchesPerRound: 0, densityCap: 0 };
}
