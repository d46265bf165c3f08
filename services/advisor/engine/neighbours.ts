import type { AdviceQuestion } from '../../../contracts/advice.ts';
import {
  ANTAGONIST_NAMES,
  besideMetric,
  INTERFERENCE_WORKLOAD,
  type AntagonistName,
} from '../../../contracts/workloads.ts';
import { placementOf } from './catalogue.ts';
import type { EvidenceLabel, Figure } from './figures.ts';
import { formatList, formatPercent, plural, roundTo } from './format.ts';
import type { Interval } from './intervals.ts';
import { mean } from './lists.ts';
import { bestPerHost, readingsOf, type Reading, type RowsAsOf } from './readings.ts';
import type { OptionKey } from './types.ts';

/**
 * Noisy neighbours: what an option's interference results say (per antagonist, the victim's
 * throughput beside it as a share of the same platform alone), and what that takes off the
 * isolation part when other tenants share the workload's hosts.
 */

/** Whether a question weighs noisy neighbours: other tenants share its hosts, or its code is untrusted. */
export const weighsNeighbours = (question: AdviceQuestion): boolean =>
  question.neighbours === 'shared' || question.trust === 'untrusted';

/** Each antagonist in words, for sentences. */
const ANTAGONIST_WORDS: Readonly<Record<AntagonistName, string>> = {
  'cpu-hog': 'a CPU hog',
  'memory-bandwidth': 'a memory-bandwidth hog',
  'fsync-storm': 'an fsync storm',
  'fork-storm': 'a fork storm',
};

/** The hosts whose verdict beside an antagonist is `slower`, with their mean ratio and interval. */
export interface Slowed {
  readonly hosts: readonly string[];
  readonly ratio: number;
  readonly interval: Interval;
}

/** An option's throughput beside one antagonist, as measured on hardware (or no accel). */
export interface NeighbourFigure {
  readonly antagonist: AntagonistName;
  /** Beside ÷ alone, averaged over the hosts that measured it (the best kind of reading there is). */
  readonly figure: Figure;
  /** Where the verdict was `slower`; undefined when no host found it slower. */
  readonly slowed: Slowed | undefined;
  /**
   * The share of throughput kept, as counted: per host its ratio (capped at 1) where its
   * verdict is `slower`, else 1; averaged over hosts. With its value at the ends of the
   * hosts' 95% intervals.
   */
  readonly kept: number;
  readonly keptEnds: Interval;
}

/** What the interference results say of one option. */
export interface NeighbourFigures {
  readonly measured: readonly NeighbourFigure[];
  /** Interference measured only under TCG emulation: shown, never counted. */
  readonly emulated: readonly Figure[];
}

/** Builds a figure from per-host readings of one tier (the figures module's). */
export type FigureOf = (readings: readonly Reading[], label: EvidenceLabel) => Figure;

const USED = 'throughput beside the antagonist ÷ alone on the same platform';

/** Per host, the reading as its ratio to alone with that ratio's interval. */
const asRatios = (readings: readonly Reading[]): Reading[] =>
  readings.flatMap((reading) =>
    reading.comparison === undefined
      ? []
      : [
          {
            ...reading,
            unit: 'ratio',
            value: reading.comparison.ratio,
            p95: reading.comparison.ratio,
            interval: reading.comparison.interval,
          },
        ],
  );

/** Per host: what it counts as kept (its ratio, capped at 1, where it is slower) and the ends. */
function keptOf(reading: Reading): { kept: number; ends: Interval } {
  if (reading.verdict !== 'slower') return { kept: 1, ends: [1, 1] };
  const [low, high] = reading.interval ?? [reading.value, reading.value];
  return { kept: Math.min(1, reading.value), ends: [Math.min(1, low), Math.min(1, high)] };
}

function slowedOf(readings: readonly Reading[]): Slowed | undefined {
  const slower = readings.filter((reading) => reading.verdict === 'slower');
  if (slower.length === 0) return undefined;
  const ends = slower.map((reading) => reading.interval ?? [reading.value, reading.value]);
  return {
    hosts: slower.map((reading) => reading.hostId),
    ratio: mean(slower.map((reading) => reading.value)),
    interval: [mean(ends.map((end) => end[0])), mean(ends.map((end) => end[1]))],
  };
}

/**
 * The option's interference results, one figure per antagonist measured. Readings under TCG
 * emulation are shown but never counted, like TCG throughput: emulation is not what a VM costs.
 */
export function gatherNeighbours(
  asOf: RowsAsOf,
  option: OptionKey,
  figureOf: FigureOf,
): NeighbourFigures {
  const measured: NeighbourFigure[] = [];
  const emulated: Figure[] = [];
  for (const antagonist of ANTAGONIST_NAMES) {
    const metric = besideMetric(antagonist);
    const readings = readingsOf(asOf, {
      ...placementOf(option),
      workload: INTERFERENCE_WORKLOAD,
      metric,
    }).filter((reading) => reading.comparison !== undefined);
    const label = { option, workload: INTERFERENCE_WORKLOAD, metric, unit: 'ratio' };
    const hardware = asRatios(bestPerHost(readings.filter((reading) => !reading.tcg)));
    if (hardware.length > 0) {
      const kept = hardware.map(keptOf);
      measured.push({
        antagonist,
        figure: figureOf(hardware, {
          ...label,
          used: `${USED}; counted where its verdict is slower, when other tenants share the hosts`,
        }),
        slowed: slowedOf(hardware),
        kept: mean(kept.map((each) => each.kept)),
        keptEnds: [mean(kept.map((each) => each.ends[0])), mean(kept.map((each) => each.ends[1]))],
      });
      continue;
    }
    const underTcg = asRatios(bestPerHost(readings));
    if (underTcg.length > 0) {
      emulated.push(
        figureOf(underTcg, {
          ...label,
          used: `${USED}; measured under TCG emulation, not used: emulation is not what a VM costs`,
        }),
      );
    }
  }
  return { measured, emulated };
}

/**
 * What noisy neighbours cost an option: the throughput lost beside the antagonists measured
 * (1 − kept, averaged over them), at the point and at the ends of the intervals (the low end
 * loses more); undefined when no antagonist was measured on hardware.
 */
export function neighbourLoss(
  neighbours: NeighbourFigures,
): { lost: number; ends: Interval } | undefined {
  const { measured } = neighbours;
  if (measured.length === 0) return undefined;
  return {
    lost: mean(measured.map((each) => 1 - each.kept)),
    ends: [
      mean(measured.map((each) => 1 - each.keptEnds[0])),
      mean(measured.map((each) => 1 - each.keptEnds[1])),
    ],
  };
}

/** A ratio as sentences write it: "0.71×". */
const times = (ratio: number): string => `${ratio.toFixed(2)}×`;

/**
 * "beside a CPU hog 0.71× [0.66–0.77] of alone, measured on host-a", and the hosts that
 * measured it without finding it slower.
 */
function slowedWords(each: NeighbourFigure, slowed: Slowed): string {
  const [low, high] = slowed.interval;
  const stale = each.figure.stale ? ' (stale)' : '';
  const others = each.figure.hosts.filter((host) => !slowed.hosts.includes(host));
  const elsewhere = others.length === 0 ? '' : ` (not slower on ${formatList(others)})`;
  return `beside ${ANTAGONIST_WORDS[each.antagonist]} ${times(slowed.ratio)} [${low.toFixed(2)}–${high.toFixed(2)}] of alone, measured on ${formatList(slowed.hosts)}${stale}${elsewhere}`;
}

/**
 * Why noisy neighbours count, what each antagonist measured did to the option, and what that
 * takes off its isolation value `level`.
 */
export function neighbourSentence(
  question: AdviceQuestion,
  neighbours: NeighbourFigures,
  level: number,
): string {
  const why =
    question.neighbours === 'shared'
      ? 'Other tenants share its hosts, so noisy neighbours count'
      : "Untrusted code means other tenants' code beside it, so noisy neighbours count";
  const loss = neighbourLoss(neighbours);
  if (loss === undefined) {
    const emulated = neighbours.emulated.flatMap((figure) => figure.hosts);
    const only =
      emulated.length === 0
        ? ''
        : ` on hardware (measured only under TCG emulation on ${formatList([...new Set(emulated)])}, not used)`;
    return `${why}: not measured beside noisy neighbours${only}, so the isolation level alone counts.`;
  }
  const measured = new Set(neighbours.measured.map((each) => each.antagonist));
  const slowed = neighbours.measured.flatMap((each) =>
    each.slowed === undefined ? [] : [slowedWords(each, each.slowed)],
  );
  const notSlower = neighbours.measured
    .filter((each) => each.slowed === undefined)
    .map((each) => ANTAGONIST_WORDS[each.antagonist]);
  const notMeasured = ANTAGONIST_NAMES.filter((name) => !measured.has(name)).map(
    (name) => ANTAGONIST_WORDS[name],
  );
  const findings = [
    ...slowed,
    ...(notSlower.length === 0 ? [] : [`not slower beside ${formatList(notSlower)}`]),
    ...(notMeasured.length === 0 ? [] : [`not measured beside ${formatList(notMeasured)}`]),
  ];
  const lost = roundTo(loss.lost, 3);
  const taken =
    slowed.length === 0
      ? 'no throughput lost, so the isolation level counts in full'
      : `${formatPercent(loss.lost)} of its throughput lost, averaged over the ${plural(measured.size, 'antagonist')} measured, comes off the isolation value: ${level} − ${lost} ${level >= loss.lost ? `= ${roundTo(level - loss.lost, 3)}` : 'leaves 0'}`;
  return `${why}: ${findings.join('; ')}; ${taken}.`;
}
