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

/** A comparison as extra rounds look at it: whose it is, of what, its verdict and interval. */
export interface VerdictOf {
  /** The platform (`vm:qemu-microvm`, or `canary`) the comparison is of. */
  readonly platform: string;
  readonly workload: string;
  readonly verdict: Verdict;
  /** The comparison's 95% interval of the ratio. */
  readonly ci95: readonly [number, number];
}

/**
 * Why a comparison needs another round, or undefined when it is settled. `same` is settled, and
 * so is a difference whose interval lies clear of the equivalence margin [1 − margin,
 * 1 + margin]. An `unclear` one is not; nor is a difference whose interval still reaches into
 * the margin: it may be smaller than the margin, and more rounds either settle it as `same` or
 * carry it clear (a round the host slowed without showing it can make such a difference).
 */
function unsettled({ verdict, ci95: [low, high] }: VerdictOf, margin: number): string | undefined {
  if (verdict === 'unclear') return 'unclear';
  if (verdict === 'same' || low >= 1 + margin || high <= 1 - margin) return undefined;
  return `${verdict}, maybe by less than ${Number((margin * 100).toFixed(1))}%`;
}

/**
 * The platforms an extra round runs, each with its unsettled comparisons: the workload and
 * why ("memory-copy unclear").
 */
export function unsettledPlatforms(
  comparisons: readonly VerdictOf[],
  margin: number,
): Map<string, string[]> {
  const byPlatform = new Map<string, string[]>();
  for (const comparison of comparisons) {
    const why = unsettled(comparison, margin);
    if (why === undefined) continue;
    const entries = byPlatform.get(comparison.platform) ?? [];
    const entry = `${comparison.workload} ${why}`;
    if (!entries.includes(entry)) entries.push(entry);
    byPlatform.set(comparison.platform, entries);
  }
  return byPlatform;
}

/** How an extra round is announced: 'extra round 4 for vm: memory-copy unclear'. */
export function extraRoundLabel(round: number, unsettled: ReadonlyMap<string, string[]>): string {
  const why = [...unsettled]
    .map(([platform, workloads]) => `${platform}: ${workloads.join(', ')}`)
    .join('; ');
  return `extra round ${round} for ${why}`;
}
