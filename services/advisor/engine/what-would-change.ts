import type { AdviceQuestion } from '../../../contracts/advice.ts';
import type { Facts } from './facts.ts';
import { publishedStartup } from './figures.ts';
import {
  formatDuration,
  formatList,
  formatMs,
  formatNumber,
  formatPercent,
  optionName,
} from './format.ts';
import { EQUIVALENCE_MARGIN, withinMargin } from './intervals.ts';
import { sameOption } from './placements.ts';
import { publishedStandIn, publishedShortName } from './published.ts';
import type { FleetCapacity } from './capacity.ts';
import { firstAcross, order, type Ordering } from './rank.ts';
import { applyRules } from './rules.ts';
import type { Varied } from './scores.ts';
import type { OptionKey } from './types.ts';

/**
 * What would change the answer, found by running the ranking again over varied inputs: the
 * lifetime and the instance count (searched up and down until the first option changes, then
 * narrowed down to the threshold), the trust level, the start-up budget, and a KVM host in
 * place of TCG emulation. Every sentence states what the re-run found; a lifetime or count
 * within the equivalence margin of the question's is no change worth reporting.
 */

export const LIFETIME_RANGE_S = { lowest: 1, highest: 10 * 365 * 86_400 } as const;
export const INSTANCES_RANGE = { lowest: 1, highest: 1_000_000 } as const;

/** Halving steps of the narrowing search on a continuous input. */
const NARROWING_STEPS = 16;

type Top = OptionKey | undefined;

export const topOf = (ranking: Ordering): Top => ranking.options[0]?.figures.option;

const sameTop = (a: Top, b: Top): boolean =>
  a === undefined || b === undefined ? a === b : sameOption(a, b);

const nameOf = (top: Top): string => (top === undefined ? 'no option' : optionName(top));

/** "first instead of X", or where every option is ruled out now, says so. */
const firstInsteadOf = (from: Top): string =>
  from === undefined
    ? 'first, where now no option is left'
    : `first instead of ${optionName(from)}`;

export interface Threshold {
  /** The first value, going from the question's, where another option ranks first. */
  readonly at: number;
  readonly from: Top;
  readonly to: Top;
}

/**
 * Steps from `start` towards `limit` (doubling or halving) until the first option differs,
 * then narrows the step down to where it changes. Integers narrow to adjacent values.
 */
export function findThreshold(
  start: number,
  limit: number,
  integer: boolean,
  topAt: (value: number) => Top,
): Threshold | undefined {
  const from = topAt(start);
  const upward = limit > start;
  let same = start;
  while (upward ? same < limit : same > limit) {
    const next = upward ? Math.min(limit, same * 2) : Math.max(limit, same / 2);
    const step = integer ? (upward ? Math.ceil(next) : Math.floor(next)) : next;
    if (!sameTop(topAt(step), from)) return narrow(same, step, integer, from, topAt);
    same = step;
  }
  return undefined;
}

function narrow(
  same: number,
  differs: number,
  integer: boolean,
  from: Top,
  topAt: (value: number) => Top,
): Threshold {
  let kept = same;
  let changed = differs;
  for (let step = 0; step < NARROWING_STEPS; step += 1) {
    if (integer && Math.abs(changed - kept) <= 1) break;
    const middle = integer ? Math.round((kept + changed) / 2) : Math.sqrt(kept * changed);
    if (sameTop(topAt(middle), from)) kept = middle;
    else changed = middle;
  }
  return { at: changed, from, to: topAt(changed) };
}

export interface Thresholds {
  readonly above?: Threshold;
  readonly below?: Threshold;
}

/** `topAt`, ranking each value once however often the searches ask for it. */
function remembered(topAt: (value: number) => Top): (value: number) => Top {
  const tops = new Map<number, Top>();
  return (value) => {
    if (tops.has(value)) return tops.get(value);
    const top = topAt(value);
    tops.set(value, top);
    return top;
  };
}

/** The nearest change of the first option above and below `start`, within the range. */
function thresholdsAround(
  start: number,
  range: { readonly lowest: number; readonly highest: number },
  integer: boolean,
  rankedAt: (value: number) => Top,
): Thresholds {
  const topAt = remembered(rankedAt);
  const above = findThreshold(start, range.highest, integer, topAt);
  const below = findThreshold(start, range.lowest, integer, topAt);
  return { ...(above === undefined ? {} : { above }), ...(below === undefined ? {} : { below }) };
}

/** The first option as the lifetime or instance count of a question varies. */
type FirstWith = (varied: Partial<Varied>) => Top;

/**
 * The first option of the question with another lifetime or instance count (`fleet`: the
 * capacities of the question's ranking, which the rules' options share).
 */
function firstWith(question: AdviceQuestion, facts: Facts, fleet?: FleetCapacity): FirstWith {
  const { kept } = applyRules(question, facts.options, facts.hosts);
  const first = firstAcross(question, facts, kept, fleet);
  return (varied) =>
    first({ lifetimeSeconds: question.lifetimeSeconds, instances: question.instances, ...varied });
}

/** Where the lifetime changes the first option (`first`: firstWith the question, made once). */
export function lifetimeThresholds(
  question: AdviceQuestion,
  facts: Facts,
  first: FirstWith = firstWith(question, facts),
): Thresholds {
  return thresholdsAround(question.lifetimeSeconds, LIFETIME_RANGE_S, false, (lifetimeSeconds) =>
    first({ lifetimeSeconds }),
  );
}

/** Where the instance count changes the first option (`first` as for lifetimeThresholds). */
export function instanceThresholds(
  question: AdviceQuestion,
  facts: Facts,
  first: FirstWith = firstWith(question, facts),
): Thresholds {
  return thresholdsAround(question.instances, INSTANCES_RANGE, true, (instances) =>
    first({ instances }),
  );
}

const instead = (threshold: Threshold): string =>
  `${nameOf(threshold.to)} ranks ${firstInsteadOf(threshold.from)}`;

/** The thresholds further from `start` than the equivalence margin; closer ones are dropped. */
function beyondMargin(
  start: number,
  { above, below }: Thresholds,
): Thresholds & { dropped: boolean } {
  const kept = (threshold: Threshold | undefined): threshold is Threshold =>
    threshold !== undefined && !withinMargin(start, threshold.at);
  return {
    ...(kept(above) ? { above } : {}),
    ...(kept(below) ? { below } : {}),
    dropped: (above !== undefined && !kept(above)) || (below !== undefined && !kept(below)),
  };
}

function lifetimeSentences({ above, below }: Thresholds): string[] {
  return [
    ...(above === undefined
      ? []
      : [`Above a ${formatDuration(above.at)} lifetime, ${instead(above)}.`]),
    ...(below === undefined
      ? []
      : [`Below a ${formatDuration(below.at)} lifetime, ${instead(below)}.`]),
  ];
}

function instanceSentences({ above, below }: Thresholds): string[] {
  return [
    ...(above === undefined
      ? []
      : [`From ${formatNumber(above.at)} instances at once, ${instead(above)}.`]),
    ...(below === undefined
      ? []
      : [`At ${formatNumber(below.at)} instances or fewer, ${instead(below)}.`]),
  ];
}

function trustSentences(question: AdviceQuestion, facts: Facts, current: Ordering): string[] {
  const trust = question.trust === 'trusted' ? 'untrusted' : 'trusted';
  const flipped = order({ ...question, trust }, facts);
  const from = topOf(current);
  const to = topOf(flipped);
  if (sameTop(from, to)) return [];
  const ruledOut = flipped.ruledOut.some(
    (entry) => entry.rule === 'untrusted' && from !== undefined && sameOption(entry, from),
  );
  const why = ruledOut ? ` (${nameOf(from)} is ruled out for untrusted code)` : '';
  return [
    to === undefined
      ? `If the code were ${trust}, no option would be left${why}.`
      : `If the code were ${trust}, ${nameOf(to)} would rank ${firstInsteadOf(from)}${why}.`,
  ];
}

function budgetSentences(question: AdviceQuestion, facts: Facts, current: Ordering): string[] {
  const budget = question.startupBudgetMs;
  if (budget === undefined || !current.ruledOut.some((entry) => entry.rule === 'startup-budget')) {
    return [];
  }
  const unbounded = order({ ...question, startupBudgetMs: Number.POSITIVE_INFINITY }, facts);
  const to = unbounded.options[0];
  if (to === undefined || sameTop(topOf(current), to.figures.option)) return [];
  const compared = to.figures.startup?.bound.value;
  const needed =
    compared === undefined
      ? ''
      : `; a budget of ${formatMs(Math.ceil(compared))} or more lets it in`;
  return [
    `Without the ${formatMs(budget)} start-up budget, ${optionName(to.figures.option)} would rank ${firstInsteadOf(topOf(current))}${needed}.`,
  ];
}

/** The ranking again with the published hardware-virtualization start-up in place of TCG's. */
function kvmSentences(question: AdviceQuestion, facts: Facts, current: Ordering): string[] {
  const emulated = facts.options.flatMap((option) => {
    const standIn =
      option.startup?.tcg === true
        ? publishedStandIn(option.profile.publishedKind, 'startup')
        : undefined;
    return standIn === undefined ? [] : [{ option, standIn }];
  });
  if (emulated.length === 0) return [];
  const onKvm: Facts = {
    ...facts,
    options: facts.options.map((option) => {
      const standIn = emulated.find((each) => each.option === option)?.standIn;
      return standIn === undefined ? option : { ...option, startup: publishedStartup(standIn) };
    }),
  };
  const ranking = order(question, onKvm);
  const wasRuledOut = (option: OptionKey): boolean =>
    current.ruledOut.some((entry) => entry.rule === 'startup-budget' && sameOption(entry, option));
  const admitted = ranking.options
    .map((ranked, index) => ({ option: ranked.figures.option, place: index + 1 }))
    .filter((each) => wasRuledOut(each.option));
  const topChanged = !sameTop(topOf(current), topOf(ranking));
  if (!topChanged && admitted.length === 0) return [];
  const firstInstead = firstInsteadOf(topOf(current));
  const figures = emulated.map(
    ({ option, standIn }) =>
      `${optionName(option.option)} about ${formatMs(standIn.value)}: ${standIn.claim}, ${publishedShortName(standIn)}`,
  );
  const consequences = [
    ...admitted.map(
      (each) =>
        `${optionName(each.option)} would meet the start-up budget and rank ${each.place === 1 && topChanged ? firstInstead : ordinal(each.place)}`,
    ),
    ...(topChanged && !admitted.some((each) => each.place === 1)
      ? [`${nameOf(topOf(ranking))} would rank ${firstInstead}`]
      : []),
  ];
  return [
    `On a KVM host instead of TCG emulation, with published start-up figures (${figures.join('; ')}), ${formatList(consequences)}.`,
  ];
}

const ordinal = (place: number): string =>
  place === 1 ? 'first' : place === 2 ? 'second' : place === 3 ? 'third' : `${place}th`;

export function whatWouldChange(
  question: AdviceQuestion,
  facts: Facts,
  current: Ordering,
): string[] {
  // The rules, the capacities on the hosts and the scorers, made once for both searches.
  const first = firstWith(question, facts, current.fleet);
  const lifetimes = beyondMargin(
    question.lifetimeSeconds,
    lifetimeThresholds(question, facts, first),
  );
  const counts = beyondMargin(question.instances, instanceThresholds(question, facts, first));
  const searched = [
    ...lifetimeSentences(lifetimes),
    ...instanceSentences(counts),
    ...trustSentences(question, facts, current),
  ];
  const tried = `every lifetime tried (doubling steps) from ${formatDuration(LIFETIME_RANGE_S.lowest)} to ${formatDuration(LIFETIME_RANGE_S.highest)}, every count tried from ${formatNumber(INSTANCES_RANGE.lowest)} to ${formatNumber(INSTANCES_RANGE.highest)} instances, and either trust level`;
  const top = topOf(current);
  const droppedWithinMargin = lifetimes.dropped || counts.dropped;
  const holds =
    searched.length > 0 || droppedWithinMargin
      ? []
      : [
          top === undefined
            ? `Every option stays ruled out at ${tried}.`
            : `${optionName(top)} stays first at ${tried}.`,
        ];
  const margin = droppedWithinMargin
    ? [
        `A lifetime or instance count within ${formatPercent(EQUIVALENCE_MARGIN)} of the question's (the equivalence margin) would change the first option; such changes are inside measurement error and not reported.`,
      ]
    : [];
  return [
    ...searched,
    ...holds,
    ...margin,
    ...budgetSentences(question, facts, current),
    ...kvmSentences(question, facts, current),
  ];
}
