import type { AdviceQuestion } from '../../../contracts/advice.ts';
import {
  scoredFigures,
  type Facts,
  type Figure,
  type OptionFigures,
  type ScoredFigures,
} from './evidence.ts';
import { formatDuration, formatList, formatNumber, optionName, plural, roundTo } from './format.ts';
import { compareText } from './placements.ts';
import type { Ranking } from './rank.ts';

/**
 * How far the answer can be trusted: the quality of the figures behind the options (measured
 * and fresh best, then stale, TCG-emulated, published, none), times a factor for how many hosts
 * measured them. `restsOn` says which facts that rests on.
 */

/** What one figure is worth to the confidence. A measured figure's factors multiply. */
export const QUALITY = {
  measured: 1,
  staleFactor: 0.6,
  tcgFactor: 0.7,
  fewSamplesFactor: 0.8,
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

export function figureQuality(figure: Figure | undefined): number {
  if (figure === undefined) return QUALITY.missing;
  if (figure.source === 'published') {
    return figure.unverified ? QUALITY.publishedUnverified : QUALITY.published;
  }
  return (
    QUALITY.measured *
    (figure.stale ? QUALITY.staleFactor : 1) *
    (figure.tcg ? QUALITY.tcgFactor : 1) *
    (figure.samples < MIN_SAMPLES ? QUALITY.fewSamplesFactor : 1)
  );
}

type Item = ScoredFigures;

/** The figures an option's score reads, named with the option. */
const itemsOf = (option: OptionFigures): Item[] =>
  scoredFigures(option).map((item) => ({
    ...item,
    label: `${optionName(option.option)} ${item.label}`,
  }));

type ItemKind = 'fresh' | 'stale' | 'published' | 'missing';

/** No figure; published only; measured with a stale figure among them; measured and fresh. */
function kindOf(item: Item): ItemKind {
  if (item.figures.length === 0) return 'missing';
  if (item.figures.every((figure) => figure.source === 'published')) return 'published';
  return item.figures.some((figure) => figure.stale) ? 'stale' : 'fresh';
}

const itemQuality = (item: Item): number =>
  item.figures.length === 0
    ? QUALITY.missing
    : item.figures.reduce((sum, figure) => sum + figureQuality(figure), 0) / item.figures.length;

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
  const hosts = [...new Set(measured.flatMap((figure) => figure.hosts))].sort(compareText);
  const quality =
    items.length === 0 ? 0 : items.reduce((sum, item) => sum + itemQuality(item), 0) / items.length;
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

function staleSentences(items: readonly Item[], facts: Facts): string[] {
  const stale = items.filter((item) => item.figures.some((figure) => figure.stale));
  return stale.length === 0
    ? []
    : [
        `Stale (newest result older than ${formatDuration(facts.staleAfterMs / 1000)}): ${formatList(stale.map((item) => item.label))}.`,
      ];
}

function sampleSentences(items: readonly Item[]): string[] {
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
