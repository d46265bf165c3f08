import type { AdviceQuestion, Evidence } from '../../../contracts/advice.ts';
import type { Facts } from './facts.ts';
import { scoredFigures, startupBoundText, type Figure, type ScoredFigures } from './figures.ts';
import { formatDuration, formatList, formatMs, formatPercent } from './format.ts';
import { mean } from './lists.ts';
import { weighsNeighbours } from './neighbours.ts';
import type { RankedOption } from './rank.ts';

/** An option's reasons (sentences with the numbers that decided it) and the evidence it shows. */

const labelsWhere = (
  items: readonly ScoredFigures[],
  test: (figures: readonly Figure[]) => boolean,
): string[] => items.filter((item) => test(item.figures)).map((item) => item.label);

function partsSentence(ranked: RankedOption): string {
  const byValue = [...ranked.parts].sort((a, b) => b.value - a.value);
  const words = (part: (typeof byValue)[number]): string =>
    `${part.name} (${part.points} of ${Math.round(part.weight * 100)} points)`;
  const weakest = byValue[byValue.length - 1];
  return `Scores ${ranked.score}: strongest on ${formatList(byValue.slice(0, 2).map(words))}${weakest === undefined ? '' : `; weakest on ${words(weakest)}`}.`;
}

function trustSentences(question: AdviceQuestion, ranked: RankedOption): string[] {
  if (question.trust !== 'untrusted') return [];
  return ranked.figures.profile.isolation === 'user-space-kernel'
    ? [
        'Untrusted code: this sandboxing runtime was measured here, but its user-space kernel is a weaker boundary than a VM.',
      ]
    : ["Untrusted code: a kernel hole stays inside the guest's own kernel."];
}

function budgetSentences(question: AdviceQuestion, ranked: RankedOption): string[] {
  const budget = question.startupBudgetMs;
  if (budget === undefined) return [];
  const startup = ranked.figures.startup;
  if (startup === undefined) {
    return [`The ${formatMs(budget)} start-up budget could not be checked: no start-up figure.`];
  }
  return startup.source === 'measured'
    ? [`Start-up p95 ${startupBoundText(startup)} is within the ${formatMs(budget)} budget.`]
    : [
        `The ${formatMs(budget)} start-up budget is checked only against measurements, and there is none here; the start-up used is ${formatMs(startup.value)} (${startup.origin}).`,
      ];
}

function tcgSentences(ranked: RankedOption): string[] {
  const { startup, overhead, emulatedThroughput } = ranked.figures;
  if (startup?.tcg !== true && overhead?.tcg !== true && emulatedThroughput.length === 0) return [];
  const hosts = [
    ...new Set(
      [startup, overhead, ...emulatedThroughput].flatMap((figure) =>
        figure?.tcg === true ? figure.hosts : [],
      ),
    ),
  ];
  const emulated =
    emulatedThroughput.length === 0
      ? ''
      : `; throughput is scored from published hardware-virtualization figures, not from the emulated runs (${formatPercent(mean(emulatedThroughput.map((figure) => figure.value)))} of the bare process)`;
  return [
    `Measured under TCG emulation on ${formatList(hosts)}: its start-up and memory are emulation's, not a hypervisor's${emulated}.`,
  ];
}

function evidenceSentences(
  ranked: RankedOption,
  facts: Facts,
  refresh: readonly string[],
): string[] {
  const items = scoredFigures(ranked.figures);
  const published = items.flatMap((item) =>
    item.figures
      .filter((figure) => figure.source === 'published')
      .map((figure) => `${item.label} (${figure.origin})`),
  );
  const missing = labelsWhere(items, (figures) => figures.length === 0);
  const stale = labelsWhere(items, (figures) => figures.some((figure) => figure.stale));
  return [
    ...(published.length === 0
      ? []
      : [
          `Published figures stand in where no usable measurement exists: ${formatList(published)}.`,
        ]),
    ...(missing.length === 0
      ? []
      : [`No figure, measured or published, for ${formatList(missing)}.`]),
    ...(stale.length === 0
      ? []
      : [
          `Stale evidence (newest result older than ${formatDuration(facts.staleAfterMs / 1000)}): ${formatList(stale)}.`,
        ]),
    ...(refresh.length === 0 ? [] : [`Fresh runs wanted from ${formatList(refresh)}.`]),
  ];
}

export function reasonsFor(
  question: AdviceQuestion,
  facts: Facts,
  ranked: RankedOption,
  refresh: readonly string[],
): string[] {
  return [
    partsSentence(ranked),
    ...trustSentences(question, ranked),
    ...budgetSentences(question, ranked),
    ...tcgSentences(ranked),
    ...evidenceSentences(ranked, facts, refresh),
  ];
}

/** The bare process's memory, when the density part read it (the question gave none). */
export const ownMemoryFigure = (question: AdviceQuestion, facts: Facts): Figure | undefined =>
  question.memoryMiB === undefined ? facts.ownMemory : undefined;

/**
 * The figures behind an option's score, and the TCG throughput shown but not used; where the
 * question weighs noisy neighbours, the interference results too (those under TCG shown, not
 * used).
 */
export function figuresOf(question: AdviceQuestion, facts: Facts, ranked: RankedOption): Figure[] {
  const { startup, overhead, throughput, emulatedThroughput, neighbours } = ranked.figures;
  const beside = weighsNeighbours(question)
    ? [...neighbours.measured.map((each) => each.figure), ...neighbours.emulated]
    : [];
  return [
    startup,
    overhead,
    ownMemoryFigure(question, facts),
    ...throughput.flatMap((each) => each.figures),
    ...emulatedThroughput,
    ...beside,
  ].flatMap((figure) => (figure === undefined ? [] : [figure]));
}

export const evidenceOf = (figures: readonly Figure[]): Evidence[] =>
  figures.flatMap((figure) => figure.evidence);
