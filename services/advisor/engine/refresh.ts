import type { AdviceQuestion } from '../../../contracts/advice.ts';
import { baselineMeasures, optionMeasures, type Measure } from './catalogue.ts';
import { freshOn, measuredOn, type Facts } from './facts.ts';
import { optionName } from './format.ts';
import { sortedUnique } from './lists.ts';
import { BASELINE_PLATFORM } from './placements.ts';
import type { OptionKey } from './types.ts';

/**
 * Which hosts should measure again: for each option that matters and for the bare process
 * (every ratio's baseline), a host that offers it or has measured it, and lacks a fresh figure
 * of a metric the answer reads.
 */

/** Per list of rows (one per gathering of facts): the hosts to refresh, by platform and needs. */
const refreshMemo = new WeakMap<Facts['rows'], Map<string, readonly string[]>>();

/** The hosts that offer or measured the platform and lack a fresh figure it needs (memoized). */
function hostsToRefresh(
  facts: Facts,
  platform: string,
  runtime: string | undefined,
  needed: readonly Measure[],
): readonly string[] {
  let ofRows = refreshMemo.get(facts.rows);
  if (ofRows === undefined) {
    ofRows = new Map();
    refreshMemo.set(facts.rows, ofRows);
  }
  const key = JSON.stringify([platform, runtime, needed]);
  let hosts = ofRows.get(key);
  if (hosts === undefined) {
    hosts = lackingHosts(facts, platform, runtime, needed);
    ofRows.set(key, hosts);
  }
  return hosts;
}

function lackingHosts(
  facts: Facts,
  platform: string,
  runtime: string | undefined,
  needed: readonly Measure[],
): string[] {
  const matches = (row: { platform: string; runtime: string }): boolean =>
    row.platform === platform && (runtime === undefined || row.runtime === runtime);
  const offering = facts.hosts
    .filter((host) => host.platforms.some((offered) => offered.available && matches(offered)))
    .map((host) => host.hostId);
  const measuring = measuredOn(facts, platform, runtime);
  const hosts = sortedUnique([...offering, ...measuring]);
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
      hostsToRefresh(
        facts,
        BASELINE_PLATFORM,
        undefined,
        baselineMeasures(facts.sensitivities, question.memoryMiB !== undefined),
      ),
    ],
  ]);
  const optionNeeds = optionMeasures(facts.sensitivities);
  for (const option of options) {
    byOption.set(
      optionName(option),
      hostsToRefresh(facts, option.placement, option.runtime, optionNeeds),
    );
  }
  const hosts = sortedUnique([...byOption.values()].flat());
  return { byOption, hosts };
}
