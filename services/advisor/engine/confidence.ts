import type { AdviceQuestion } from '../../../contracts/advice.ts';
import type { Facts } from './facts.ts';
import { scoredFigures, type Figure, type OptionFigures, type ScoredFigures } from './figures.ts';
import {
  formatDuration,
  formatList,
  formatNumber,
  formatPercent,
  optionName,
  plural,
  roundTo,
} from './format.ts';
import { EQUIVALENCE_MARGIN } from './intervals.ts';
import { mean, sortedUnique, sum } from './lists.ts';
import type { Ranking } from './rank.ts';

/**
 * How far the answer can be trusted: the quality of the figures behind the options (measured
 * and fresh best, then stale, TCG-emulated, published, none; a wide interval, results from
 * uncalibrated runs and results merged over host states count less), times a factor for how
 * many hosts measured them. `restsOn` says which facts that rests on.
 */

/** What one figure is worth to the confidence. A measured figure's factors multiply. */
export const QUALITY = {
  measured: 1,
  staleFactor: 0.6,
  tcgFactor: 0.7,
  fewSamplesFactor: 0.8,
  /** For a figure all of whose results came from uncalibrated runs; in proportion for some. */
  uncalibratedFactor: 0.7,
  /** For a figure whose results on one host were measured in more than one host state. */
  mixedHostStatesFactor: 0.9,
  /** The least an interval's width leaves of a figure's quality. */
  widestIntervalFactor: 0.5,
  published: 0.5,
  publishedUnverified: 0.35,
  missing: 0,
} as const;

/** Fewer samples than this behind a measured figure lowers its quality. */
export const MIN_SAMPLES = 5;

/** Measurements from two hosts or more count fully; from one host, or none, less. */
export function hostFactor(hosts: number): number {
  return hosts >= 2 ? 1 : hosts === 1 ? 0.9 : 0.8;
}

/**
 * 1 for an interval no wider than the equivalence band (± the margin), less as it widens:
 * 2 × margin ÷ its relative width, down to `widestIntervalFactor`; 1 without an interval.
 */
export function intervalFactor(figure: Figure): number {
  if (figure.interval === undefined || figure.value <= 0) return 1;
  const width = (figure.interval[1] - figure.interval[0]) / figure.value;
  if (width <= 0) return 1;
  return Math.min(1, Math.max(QUALITY.widestIntervalFactor, (2 * EQUIVALENCE_MARGIN) / width));
}

/** 1 − (1 − uncalibratedFactor) × the share of the figure's results from uncalibrated runs. */
export function calibrationFactor(figure: Figure): number {
  if (figure.results <= 0) return 1;
  return 1 - (1 - QUALITY.uncalibratedFactor) * (figure.uncalibratedResults / figure.results);
}

export function figureQuality(figure: Figure | undefined): number {
  if (figure === undefined) return QUALITY.missing;
  if (figure.source === 'published') {
    return figure.unverified ? QUALITY.publishedUnverified : QUALITY.published;
  }
  return (
    QUALITY.measured *
    (figure.stale ? QUALITY.staleFactor : 1) *
    (figure.tcg ? QUALITY.tcgFactor : 1) *
    (figure.samples < MIN_SAMPLES ? QUALITY.fewSamplesFactor : 1) *
    intervalFactor(figure) *
    calibrationFactor(figure) *
    (figure.mixedStateHosts.length > 0 ? QUALITY.mixedHostStatesFactor : 1)
  );
}

/** The figures an option's score reads, named with the option. */
const itemsOf = (option: OptionFigures): ScoredFigures[] =>
  scoredFigures(option).map((item) => ({
    ...item,
    label: `${optionName(option.option)} ${item.label}`,
  }));

type ItemKind = 'fresh' | 'stale' | 'published' | 'missing';

/** No figure; published only; measured with a stale figure among them; measured and fresh. */
function kindOf(item: ScoredFigures): ItemKind {
  if (item.figures.length === 0) return 'missing';
  if (item.figures.every((figure) => figure.source === 'published')) return 'published';
  return item.figures.some((figure) => figure.stale) ? 'stale' : 'fresh';
}

const itemQuality = (item: ScoredFigures): number =>
  item.figures.length === 0 ? QUALITY.missing : mean(item.figures.map(figureQuality));

export interface Confidence {
  readonly value: number;
  readonly restsOn: string[];
}

export function confidenceOf(question: AdviceQuestion, facts: Facts, ranking: Ranking): Confidence {
  const ranked = ranking.options.map((option) => option.figures);
  const weighed = ranked.length > 0 ? ranked : facts.options;
  const items = weighed.flatMap(itemsOf);
  const figures = items.flatMap((item) => item.figures);
  const measured = figures.filter((figure) => figure.source === 'measured');
  const hosts = sortedUnique(measured.flatMap((figure) => figure.hosts));
  const quality = items.length === 0 ? 0 : mean(items.map(itemQuality));
  const factor = hostFactor(hosts.length);
  const value = roundTo(quality * factor, 2);

  const count = (kind: ItemKind): string =>
    formatNumber(items.filter((item) => kindOf(item) === kind).length);
  const emulated = items.filter((item) => item.figures.some((figure) => figure.tcg)).length;
  const restsOn = [
    `${plural(items.length, 'figure')} behind ${plural(weighed.length, ranked.length > 0 ? 'ranked option' : 'ruled-out option')}: ${count('fresh')} measured and fresh, ${count('stale')} measured but stale, ${count('published')} published, ${count('missing')} with no figure at all; ${formatNumber(emulated)} measured under TCG emulation.`,
    hosts.length === 0
      ? 'No host measured these options: the scores rest on published figures and neutral values.'
      : `Measured on ${plural(hosts.length, 'host')}: ${formatList(hosts)}.`,
    ...tcgSentences(weighed),
    ...staleSentences(items, facts),
    ...sampleSentences(items),
    ...intervalSentences(items),
    ...calibrationSentences(items),
    ...hostStateSentences(weighed),
    ...inventorySentences(question, facts),
    `Confidence ${value}: mean figure quality ${roundTo(quality, 2)} × ${factor} for the number of hosts.`,
  ];
  return { value, restsOn };
}

function tcgSentences(options: readonly OptionFigures[]): string[] {
  return options
    .filter(
      (option) =>
        option.emulatedThroughput.length > 0 ||
        option.startup?.tcg === true ||
        option.overhead?.tcg === true,
    )
    .map(
      (option) =>
        `${optionName(option.option)} was measured under TCG emulation only: its start-up and memory are emulation's, and its throughput is scored from published hardware-virtualization figures, never from the emulated runs.`,
    );
}

function staleSentences(items: readonly ScoredFigures[], facts: Facts): string[] {
  const stale = items.filter((item) => item.figures.some((figure) => figure.stale));
  return stale.length === 0
    ? []
    : [
        `Stale (newest result older than ${formatDuration(facts.staleAfterMs / 1000)}): ${formatList(stale.map((item) => item.label))}.`,
      ];
}

function sampleSentences(items: readonly ScoredFigures[]): string[] {
  const measured = items.flatMap((item) =>
    item.figures
      .filter((figure) => figure.source === 'measured')
      .map((figure) => ({ label: item.label, samples: figure.samples })),
  );
  const fewest = measured.sort((a, b) => a.samples - b.samples)[0];
  if (fewest === undefined) return [];
  const few = fewest.samples < MIN_SAMPLES ? `, fewer than ${MIN_SAMPLES}, which lowers it` : '';
  return [
    `Fewest samples behind a measured figure: ${formatNumber(fewest.samples)} (${fewest.label})${few}.`,
  ];
}

/** The figures of the items, each with its item's label. */
const labelled = (items: readonly ScoredFigures[]): { label: string; figure: Figure }[] =>
  items.flatMap((item) => item.figures.map((figure) => ({ label: item.label, figure })));

function intervalSentences(items: readonly ScoredFigures[]): string[] {
  const withInterval = labelled(items).filter(({ figure }) => figure.interval !== undefined);
  const widest = [...withInterval].sort(
    (a, b) => intervalFactor(a.figure) - intervalFactor(b.figure),
  )[0];
  if (widest === undefined) return [];
  const [low, high] = widest.figure.interval ?? [0, 0];
  const lowers =
    intervalFactor(widest.figure) < 1
      ? `, wider than ± the ${formatPercent(EQUIVALENCE_MARGIN)} equivalence margin, which lowers it to × ${roundTo(intervalFactor(widest.figure), 2)}`
      : `, within ± the ${formatPercent(EQUIVALENCE_MARGIN)} equivalence margin`;
  return [
    `${plural(withInterval.length, 'figure')} with a 95% interval from interleaved rounds; the widest is ${widest.label}, ${formatPercent(widest.figure.value)} [${formatPercent(low)}–${formatPercent(high)}]${lowers}.`,
  ];
}

function calibrationSentences(items: readonly ScoredFigures[]): string[] {
  const uncalibrated = labelled(items).filter(({ figure }) => figure.uncalibratedResults > 0);
  if (uncalibrated.length === 0) return [];
  const count = sum(uncalibrated.map(({ figure }) => figure.uncalibratedResults));
  const results = sum(uncalibrated.map(({ figure }) => figure.results));
  return [
    `${formatNumber(count)} of ${plural(results, 'result')} behind ${formatList(sortedUnique(uncalibrated.map(({ label }) => label)))} came from runs whose calibration canary missed (a 50% CPU quota did not measure 0.5): the harness could not show it sees a known difference, so those figures count less (× ${QUALITY.uncalibratedFactor} when all of a figure's results did).`,
  ];
}

/** The options with figures merged over host states, each named with the hosts that changed. */
function hostStateSentences(options: readonly OptionFigures[]): string[] {
  const named = options.flatMap((option) => {
    const hosts = sortedUnique(
      scoredFigures(option).flatMap((item) =>
        item.figures.flatMap((figure) => figure.mixedStateHosts),
      ),
    );
    return hosts.length === 0 ? [] : [`${optionName(option.option)} on ${formatList(hosts)}`];
  });
  if (named.length === 0) return [];
  return [
    `Figures of ${formatList(named)} merge results from more than one host state of the same host (its kernel, CPU settings or runtime versions changed between runs), so they count less (× ${QUALITY.mixedHostStatesFactor}).`,
  ];
}

function inventorySentences(question: AdviceQuestion, facts: Facts): string[] {
  const known = (hostId: string): boolean =>
    facts.hosts.some((host) => host.hostId === hostId) ||
    [...facts.measuredBy.values()].some((measured) => measured.hosts.has(hostId));
  const unknown = (question.hosts ?? []).filter((hostId) => !known(hostId));
  return [
    ...(facts.hosts.length === 0
      ? [
          'No host inventory: the OS rule assumes a Linux host, the kernel range cannot be checked, and no host capacity can be given.',
        ]
      : []),
    ...(unknown.length > 0 ? [`No inventory or evidence for ${formatList(unknown)}.`] : []),
  ];
}
