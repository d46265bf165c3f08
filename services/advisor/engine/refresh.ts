import type { AdviceQuestion } from '../../../contracts/advice.ts';
import {
  INSTANCE_WORKLOAD,
  METRICS,
  SENSITIVITY_WORKLOADS,
  freshOn,
  measuredOn,
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

/** Per list of rows (one per gathering of facts): the hosts found, by platform and needs. */
const found = new WeakMap<Facts['rows'], Map<string, readonly string[]>>();

/** The hosts that offer or measured the platform and lack a fresh figure it needs (memoized). */
function hostsToRefresh(
  facts: Facts,
  platform: string,
  runtime: string | undefined,
  needed: readonly Needed[],
): readonly string[] {
  let known = found.get(facts.rows);
  if (known === undefined) {
    known = new Map();
    found.set(facts.rows, known);
  }
  const key = JSON.stringify([platform, runtime, needed]);
  let hosts = known.get(key);
  if (hosts === undefined) {
    hosts = lackingHosts(facts, platform, runtime, needed);
    known.set(key, hosts);
  }
  return hosts;
}

function lackingHosts(
  facts: Facts,
  platform: string,
  runtime: string | undefined,
  needed: readonly Needed[],
): string[] {
  const matches = (row: { platform: string; runtime: string }): boolean =>
    row.platform === platform && (runtime === undefined || row.runtime === runtime);
  const offering = facts.hosts
    .filter((host) => host.platforms.some((offered) => offered.available && matches(offered)))
    .map((host) => host.hostId);
  const measuring = measuredOn(facts, platform, runtime);
  const hosts = [...new Set([...offering, ...measuring])].sort(compareText);
  const fresh = needed.map((need) => freshOn(facts, { platform, runtime, ...need }));
  return hosts.filter((hostId) => fresh.some((hostsWithIt) => !hostsWithIt.has(hostId)));
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
  const byOption = new Map<string, readonly string[]>([
    [
      BASELINE_PLATFORM,
      hostsToRefresh(facts, BASELINE_PLATFORM, undefined, neededFor(facts, question, true)),
    ],
  ]);
  const optionNeeds = neededFor(facts, question, false);
  for (const option of options) {
    byOption.set(
      optionName(option),
      hostsToRefresh(facts, option.placement, option.runtime, optionNeeds),
    );
  }
  const hosts = [...new Set([...byOption.values()].flat())].sort(compareText);
  return { byOption, hosts };
}
