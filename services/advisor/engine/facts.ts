import type { AdviceQuestion } from '../../../contracts/advice.ts';
import { SENSITIVITY_NAMES, type SensitivityName } from '../../../contracts/workloads.ts';
import { loadMemoryOf, type LoadMemory } from './at-load.ts';
import { sensitivitiesOf } from './catalogue.ts';
import {
  bareMemoryFigure,
  narrowedTo,
  gatherOptionFigures,
  type Figure,
  type OptionFigures,
} from './figures.ts';
import { compareText } from './lists.ts';
import { BASELINE_PLATFORM, candidateOptions } from './placements.ts';
import { readingsOf, type RowsAsOf, type SeriesQuery } from './readings.ts';
import type { EngineInput, EvidenceRow, EvidenceSource, HostInfo, OptionKey } from './types.ts';

/**
 * The facts a ranking reads: the hosts and rows counted, which hosts measured each platform,
 * the bare process's memory and each candidate option's figures. Nothing here depends on the
 * question but the hosts it names, so the facts are gathered once per evidence, inventory and
 * host list, and ranked for many questions (each keeping to its sensitivities with `factsFor`).
 */

/** The facts every ranking over one evidence, inventory and host list shares. */
export interface Facts extends RowsAsOf {
  /** The hosts the question counts, by id. */
  readonly hosts: readonly HostInfo[];
  /** The sensitivities the options' throughput covers (every one until `factsFor`). */
  readonly sensitivities: readonly SensitivityName[];
  /** The bare process's peak memory: the workload's own when the question gives none. */
  readonly ownMemory: Figure | undefined;
  /** The bare process's memory per instance at load, per host and step. */
  readonly bareLoadMemory: LoadMemory;
  readonly options: readonly OptionFigures[];
  /**
   * The last moment these facts hold: until then no row turns stale, so facts gathered at
   * `now` are the facts of any moment from `now` to `validUntil`.
   */
  readonly validUntil: number;
  /** The hosts with rows of each platform: of any runtime, and of each runtime. */
  readonly measuredBy: ReadonlyMap<string, MeasuredBy>;
}

/** The hosts with rows of one platform: of any runtime, and of each runtime. */
export interface MeasuredBy {
  readonly hosts: ReadonlySet<string>;
  readonly byRuntime: ReadonlyMap<string, ReadonlySet<string>>;
}

const NOBODY: ReadonlySet<string> = new Set();

/** The hosts with rows of a platform, of one runtime when it is given. */
export function measuredOn(
  facts: Pick<Facts, 'measuredBy'>,
  platform: string,
  runtime?: string,
): ReadonlySet<string> {
  const measured = facts.measuredBy.get(platform);
  if (measured === undefined) return NOBODY;
  return runtime === undefined ? measured.hosts : (measured.byRuntime.get(runtime) ?? NOBODY);
}

/** The hosts with a fresh row of one series. */
export function freshOn(asOf: RowsAsOf, series: SeriesQuery): Set<string> {
  return new Set(
    readingsOf(asOf, series).flatMap((reading) => (reading.stale ? [] : [reading.hostId])),
  );
}

/** The moment the first row that is fresh at `now` turns stale (Infinity when none is fresh). */
function firstTurnsStale(rows: readonly EvidenceRow[], now: number, staleAfterMs: number): number {
  let until = Number.POSITIVE_INFINITY;
  for (const row of rows) {
    const turns = row.latestAt + staleAfterMs;
    if (turns >= now && turns < until) until = turns;
  }
  return until;
}

function measuredByOf(rows: readonly EvidenceRow[]): Map<string, MeasuredBy> {
  const measuredBy = new Map<string, { hosts: Set<string>; byRuntime: Map<string, Set<string>> }>();
  for (const row of rows) {
    let platform = measuredBy.get(row.platform);
    if (platform === undefined) {
      platform = { hosts: new Set(), byRuntime: new Map() };
      measuredBy.set(row.platform, platform);
    }
    platform.hosts.add(row.hostId);
    const runtime = platform.byRuntime.get(row.runtime);
    if (runtime === undefined) platform.byRuntime.set(row.runtime, new Set([row.hostId]));
    else runtime.add(row.hostId);
  }
  return measuredBy;
}

/**
 * The facts every ranking over this evidence and inventory shares: the hosts and rows counted
 * (only those of `only` when it names any), the bare process's memory, and each candidate
 * option's figures, its throughput for each of `sensitivities` (every one unless given).
 */
export function gatherFacts(
  source: EvidenceSource,
  only: readonly string[] = [],
  sensitivities: readonly SensitivityName[] = SENSITIVITY_NAMES,
): Facts {
  const wanted = new Set(only);
  const counted = (hostId: string): boolean => wanted.size === 0 || wanted.has(hostId);
  const hosts = source.hosts
    .filter((host) => counted(host.hostId))
    .sort((a, b) => compareText(a.hostId, b.hostId));
  const asOf: RowsAsOf = {
    rows: source.evidence.filter((row) => counted(row.hostId)),
    now: source.now,
    staleAfterMs: source.staleAfterMs,
  };
  const measuredBy = measuredByOf(asOf.rows);
  const measured = (option: OptionKey): boolean =>
    measuredOn({ measuredBy }, option.placement, option.runtime).size > 0;
  return {
    ...asOf,
    sensitivities,
    measuredBy,
    validUntil: firstTurnsStale(asOf.rows, asOf.now, asOf.staleAfterMs),
    hosts,
    ownMemory: bareMemoryFigure(asOf),
    bareLoadMemory: loadMemoryOf(asOf, BASELINE_PLATFORM),
    options: gatherOptionFigures(asOf, candidateOptions(asOf.rows, hosts), sensitivities, measured),
  };
}

/**
 * The facts as one question reads them: each option's throughput for the question's
 * sensitivities only. `facts` are those `gatherFacts` gives, for the question's sensitivities
 * or more.
 */
export function factsFor(facts: Facts, question: AdviceQuestion): Facts {
  const sensitivities = sensitivitiesOf(question);
  const unchanged =
    sensitivities.length === facts.sensitivities.length &&
    sensitivities.every((sensitivity, index) => facts.sensitivities[index] === sensitivity);
  if (unchanged) return facts;
  return {
    ...facts,
    sensitivities,
    options: facts.options.map((option) => narrowedTo(option, sensitivities)),
  };
}

/** The facts of one engine input: its evidence, counting the question's hosts. */
export const inputFacts = (input: EngineInput): Facts =>
  factsFor(gatherFacts(input, input.question.hosts), input.question);
