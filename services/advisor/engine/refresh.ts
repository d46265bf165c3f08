import type { AdviceQuestion } from '../../../contracts/advice.ts';
import {
  INSTANCE_WORKLOAD,
  METRICS,
  SENSITIVITY_WORKLOADS,
  isStale,
  type Facts,
} from './evidence.ts';
import { optionName } from './format.ts';
import { BASELINE_PLATFORM, compareText } from './placements.ts';
import type { OptionKey } from './types.ts';

/**
 * Which hosts should measure again: for each option that matters and for the bare process
 * (every ratio's baseline), a host that offers it or has measured it, and lacks a fresh figure
 * of a metric the answer reads.
 */

interface Needed {
  readonly workload: string;
  readonly metric: string;
}

function neededFor(facts: Facts, question: AdviceQuestion, baseline: boolean): Needed[] {
  const throughput = facts.sensitivities.flatMap((sensitivity) =>
    SENSITIVITY_WORKLOADS[sensitivity].map((workload) => ({
      workload,
      metric: METRICS.throughput.metric,
    })),
  );
  const instance = baseline
    ? question.memoryMiB === undefined
      ? [METRICS.memoryPeak.metric]
      : []
    : [METRICS.startup.metric, METRICS.memoryOverhead.metric];
  return [...instance.map((metric) => ({ workload: INSTANCE_WORKLOAD, metric })), ...throughput];
}

/** Keys of the fresh figures: host, platform, workload, metric, with and without runtime. */
function freshKeys(facts: Facts): Set<string> {
  const keys = new Set<string>();
  for (const row of facts.rows) {
    if (isStale(row.latestAt, facts.now, facts.staleAfterMs)) continue;
    const figure = `${row.workload}\0${row.metric}`;
    keys.add(`${row.hostId}\0${row.platform}\0\0${figure}`);
    keys.add(`${row.hostId}\0${row.platform}\0${row.runtime}\0${figure}`);
  }
  return keys;
}

function hostsToRefresh(
  facts: Facts,
  fresh: ReadonlySet<string>,
  platform: string,
  runtime: string | undefined,
  needed: readonly Needed[],
): string[] {
  const matches = (row: { platform: string; runtime: string }): boolean =>
    row.platform === platform && (runtime === undefined || row.runtime === runtime);
  const offering = facts.hosts
    .filter((host) => host.platforms.some((offered) => offered.available && matches(offered)))
    .map((host) => host.hostId);
  const measuring = facts.rows.filter(matches).map((row) => row.hostId);
  const hosts = [...new Set([...offering, ...measuring])].sort(compareText);
  return hosts.filter((hostId) =>
    needed.some(
      (need) =>
        !fresh.has(`${hostId}\0${platform}\0${runtime ?? ''}\0${need.workload}\0${need.metric}`),
    ),
  );
}

export interface RefreshNeeds {
  /** By option name (placement/runtime), and `process` for the baseline. */
  readonly byOption: ReadonlyMap<string, readonly string[]>;
  /** Every host to ask, sorted. */
  readonly hosts: readonly string[];
}

export function refreshNeeds(
  facts: Facts,
  question: AdviceQuestion,
  options: readonly OptionKey[],
): RefreshNeeds {
  const fresh = freshKeys(facts);
  const byOption = new Map<string, readonly string[]>([
    [
      BASELINE_PLATFORM,
      hostsToRefresh(facts, fresh, BASELINE_PLATFORM, undefined, neededFor(facts, question, true)),
    ],
  ]);
  const optionNeeds = neededFor(facts, question, false);
  for (const option of options) {
    byOption.set(
      optionName(option),
      hostsToRefresh(facts, fresh, option.placement, option.runtime, optionNeeds),
    );
  }
  const hosts = [...new Set([...byOption.values()].flat())].sort(compareText);
  return { byOption, hosts };
}
