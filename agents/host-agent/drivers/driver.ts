import type { Accel, RunnerLine } from '../../../contracts/index.ts';

/** Whether a platform can run here, and if not, why (or what limits it when it can). */
export interface Availability {
  readonly available: boolean;
  readonly reason?: string;
  readonly version?: string;
  readonly accel?: Accel;
}

export interface InstanceOptions {
  /** A unique, subject-safe id for the instance (names cgroups, containers, VMs). */
  readonly id: string;
  /** Arguments for the workload runner. */
  readonly runnerArgs: readonly string[];
  /**
   * The share of one CPU the instance may use, in (0, 1] (a CFS quota): the calibration
   * canary's known difference. Only the process platform applies it.
   */
  readonly cpuQuota?: number;
}

/** One running instance of a platform with the workload runner inside. */
export interface Instance {
  /** performance.now() just before the platform was asked to start. */
  readonly launchedAt: number;
  /** How many runners the instance holds: 1, or K containers inside one VM. */
  readonly runners: number;
  /** The runner's lines, checked against the contract, with when each arrived; they end after every runner's "done". */
  readonly lines: AsyncIterable<{ line: RunnerLine; at: number }>;
  /** Everything about this instance that changes the numbers. */
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  /** Peak memory the instance used, bytes, as the platform accounts it. */
  peakMemoryBytes(): Promise<number | undefined>;
  /** Tears the instance down and leaves nothing behind: processes, cgroups, folders. */
  stop(): Promise<void>;
  /**
   * Writes a line to each runner's input, where the platform passes input on: runners started
   * with --go then begin their work (a trial of several instances starts them together).
   */
  go?(): void;
}

/** A platform: one file per platform, registered in registry.ts. */
export interface PlatformDriver {
  readonly platform: string;
  readonly runtime: string;
  /** Whether its instances pass a line on to their runners' input (Instance.go). */
  readonly passesInput?: boolean;
  availability(): Promise<Availability>;
  start(options: InstanceOptions): Promise<Instance>;
  /** Lets go of what the driver started for its instances (a Docker engine of Berth's own). */
  close?(): Promise<void>;
}
