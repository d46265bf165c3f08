import type { Verdict } from '../../contracts/index.ts';
import { seededShuffle } from '../../lib/statistics.ts';

/** The order round `round` of a run runs its platforms in: shuffled from the run's seed. */
export function platformOrder<T>(platforms: readonly T[], seed: string, round: number): T[] {
  return seededShuffle(platforms, `${seed}/round-${round}`);
}

/** The order round `round` of a run runs the workloads in, within each instance. */
export function workloadOrder(workloads: readonly string[], seed: string, round: number): string[] {
  return seededShuffle(workloads, `${seed}/round-${round}/workloads`);
}

/**
 * The rounds a platform and the process platform were both measured in, as the two lists
 * compareRounds pairs: values[i] and baselines[i] come from the same round, in round order.
 */
export function pairRounds(
  values: ReadonlyMap<number, number>,
  baselines: ReadonlyMap<number, number>,
): { values: number[]; baselines: number[] } {
  const rounds = [...values.keys()].filter((round) => baselines.has(round)).sort((a, b) => a - b);
  return {
    values: rounds.map((round) => values.get(round) ?? Number.NaN),
    baselines: rounds.map((round) => baselines.get(round) ?? Number.NaN),
  };
}

/** A comparison as extra rounds look at it: whose it is, of what, and its verdict. */
export interface VerdictOf {
  /** The platform (`vm:qemu-microvm`, or `canary`) the comparison is of. */
  readonly platform: string;
  readonly workload: string;
  readonly verdict: Verdict;
}

/** The platforms an extra round runs, each with the workloads whose comparison is unclear. */
export function unclearPlatforms(comparisons: readonly VerdictOf[]): Map<string, string[]> {
  const unclear = new Map<string, string[]>();
  for (const { platform, workload, verdict } of comparisons) {
    if (verdict !== 'unclear') continue;
    const workloads = unclear.get(platform) ?? [];
    if (!workloads.includes(workload)) workloads.push(workload);
    unclear.set(platform, workloads);
  }
  return unclear;
}

/** How an extra round is announced: 'extra round 4 for vm: memory-copy unclear'. */
export function extraRoundLabel(round: number, unclear: ReadonlyMap<string, string[]>): string {
  const why = [...unclear]
    .map(([platform, workloads]) => `${platform}: ${workloads.join(', ')} unclear`)
    .join('; ');
  return `extra round ${round} for ${why}`;
}
