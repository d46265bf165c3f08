import type { Comparison, ResultBatch } from '../../contracts/index.ts';
import type { Calibration } from './calibration.ts';
import type { LoadPlan } from './density-at-load.ts';
import type { InterferencePlan } from './interference.ts';
import type { Availability, PlatformDriver } from './drivers/driver.ts';
import type { DisturbanceThresholds } from './host-state.ts';
import type { Suite } from './suite-catalogue.ts';

/** What a suite reports while it runs: progress, results, and what it skipped or failed. */
export type SuiteEvent =
  | {
      readonly kind: 'platform-skipped';
      readonly platform: string;
      readonly runtime: string;
      readonly reason: string;
    }
  /** The progress steps the suite plans (its minimum rounds), or adds (a round more). */
  | { readonly kind: 'steps'; readonly added: number }
  /** A round begins: 'round 2/3', 'extra round 4 for vm: memory-copy unclear'. */
  | { readonly kind: 'round'; readonly round: number; readonly what: string }
  | { readonly kind: 'step'; readonly platform: string; readonly what: string }
  | { readonly kind: 'result'; readonly batch: ResultBatch }
  | {
      readonly kind: 'workload-failed';
      readonly platform: string;
      readonly workload: string;
      readonly message: string;
    };

/** One run of a suite on this host: what it measures, on which drivers, and where results go. */
export interface SuiteRun {
  readonly hostId: string;
  readonly runId: string;
  readonly suite: Suite;
  readonly drivers: readonly PlatformDriver[];
  /** Called for each result batch (the agent journals it in its outbox). */
  readonly deliver: (batch: ResultBatch) => Promise<void>;
  readonly onEvent?: (event: SuiteEvent) => void;
  /** Stops the suite between steps (SIGINT); only complete rounds are published. */
  readonly signal?: AbortSignal;
  /**
   * The bare process driver: when the run does not include it, it is measured in every
   * round all the same, as the pair of every comparison, and its results are published too.
   */
  readonly baseline?: PlatformDriver;
  /** Equivalence margin of the comparisons, e.g. 0.03; 3% when not given. */
  readonly margin?: number;
  /** Thresholds past which the host disturbed a round; the settings' defaults when not given. */
  readonly disturbance?: DisturbanceThresholds;
  /**
   * Called after each round kept with every batch the run would publish if it ended there,
   * so that a run killed part-way loses only the round under way (the agent keeps the newest
   * on disk until the run's own batches are in its outbox).
   */
  readonly checkpoint?: (batches: readonly ResultBatch[]) => Promise<void>;
  /** Density at load, measured once per platform in the first round; not measured when absent. */
  readonly densityAtLoad?: LoadPlan;
  /** Noisy neighbours, measured per platform in every round; not measured when absent. */
  readonly interference?: InterferencePlan;
}

/** One available platform within a run: what its measurements and result batches need. */
export interface PlatformContext {
  readonly run: SuiteRun;
  readonly driver: PlatformDriver;
  readonly availability: Availability;
  readonly emit: (event: SuiteEvent) => void;
  readonly aborted: () => boolean;
  /** Memory of one idle runner on the bare process, MiB, when measured earlier in this run. */
  readonly baselineMemoryMiB: number | undefined;
}

/** One round as it ran: its platforms' and workloads' order, and whether it was run again. */
export interface RoundRecord {
  readonly round: number;
  /** The platforms (`platform:runtime`, and `canary`) in the order they ran. */
  readonly order: readonly string[];
  readonly workloads: readonly string[];
  /** Why the host was disturbed in it, when it was. */
  readonly disturbed?: string;
  /** Whether its results were thrown away and the round run again. */
  readonly repeated: boolean;
}

/** One comparison of a run: a platform's throughput on a workload against the process's. */
export interface RunComparison extends Omit<Comparison, 'baseline'> {
  readonly platform: string;
  readonly runtime: string;
  readonly workload: string;
  /** The runner within the instance, where it holds several. */
  readonly container?: string;
  readonly metric: string;
}

/** The calibration of a run, or why there is none. */
export type RunCalibration = Calibration | { readonly ok: false; readonly why: string };

/** What a suite found besides its result batches: its rounds, comparisons and calibration. */
export interface SuiteOutcome {
  readonly seed: string;
  readonly rounds: readonly RoundRecord[];
  readonly comparisons: readonly RunComparison[];
  readonly calibration: RunCalibration;
  readonly hostFingerprint: string;
  /** Whether the host's fingerprint differed at the end of the run from its start. */
  readonly fingerprintChanged: boolean;
}
