import type { AdviceQuestion, RuledOut, ScorePart } from '../../../contracts/advice.ts';
import { fleetCapacity, type FleetCapacity } from './capacity.ts';
import type { Facts } from './facts.ts';
import type { OptionFigures } from './figures.ts';
import { overlaps, type Interval } from './intervals.ts';
import { ISOLATION_LEVELS, compareKeys } from './placements.ts';
import { applyRules } from './rules.ts';
import { scoreAcross, scoreOf, scoreOption, type ScoreContext, type Varied } from './scores.ts';
import type { OptionKey } from './types.ts';

/**
 * Rules, then scores, then order: for the answer, and again for the what-if search. The
 * options whose score interval overlaps the best score's are tied with it; the tie rule
 * orders them (stronger isolation first) ahead of the rest.
 */

/** A scored option with its parts: what an answer shows of it. */
export interface RankedOption extends Scored {
  readonly parts: readonly ScorePart[];
}

/** The options in order, by score alone, and what the rules ruled out. */
export interface Ordering {
  /** Best first: the options tied with the best score, by the tie rule, then the rest. */
  readonly options: readonly Scored[];
  /** How many options lead the order tied with each other (1: the first is not tied; 0: none). */
  readonly tied: number;
  readonly ruledOut: readonly RuledOut[];
  /** What the question's hosts hold on each option kept; undefined when it has no host. */
  readonly fleet: FleetCapacity | undefined;
}

/** The ordering with each option's parts and their sentences: what an answer shows. */
export interface Ranking extends Ordering {
  readonly options: readonly RankedOption[];
}

const isolationOf = (figures: OptionFigures): number =>
  ISOLATION_LEVELS.indexOf(figures.profile.isolation);

export interface Scored {
  readonly figures: OptionFigures;
  readonly score: number;
  readonly interval: Interval;
}

/** Higher score first; on equal scores the stronger isolation, then placement and runtime by name. */
export function compareRanked(a: Scored, b: Scored): number {
  return (
    b.score - a.score ||
    isolationOf(b.figures) - isolationOf(a.figures) ||
    compareKeys(a.figures.option, b.figures.option)
  );
}

/** The tie rule: stronger isolation first, then as `compareRanked` (higher score, then name). */
const compareTied = (a: Scored, b: Scored): number =>
  isolationOf(b.figures) - isolationOf(a.figures) || compareRanked(a, b);

/**
 * The options best first: those whose score interval overlaps the best score's, by the tie
 * rule, then the others by score. `tied` counts the first group.
 */
export function orderWithTies<T extends Scored>(
  scored: readonly T[],
): { options: T[]; tied: number } {
  const byScore = [...scored].sort(compareRanked);
  const best = byScore[0];
  if (best === undefined) return { options: [], tied: 0 };
  const isTied = (option: T): boolean => overlaps(option.interval, best.interval);
  const tied = byScore.filter(isTied).sort(compareTied);
  return { options: [...tied, ...byScore.filter((option) => !isTied(option))], tied: tied.length };
}

/**
 * The first of `orderWithTies(scored)` without ordering the rest: of the options whose
 * interval overlaps the best score's, the first by the tie rule. The what-if search asks only
 * for this, many times over.
 */
function firstWithTies<T extends Scored>(scored: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const option of scored)
    if (best === undefined || compareRanked(option, best) < 0) best = option;
  if (best === undefined) return undefined;
  let first = best;
  for (const option of scored) {
    if (overlaps(option.interval, best.interval) && compareTied(option, first) < 0) first = option;
  }
  return first;
}

/**
 * What every option's score reads besides its figures: the same for every option kept (the
 * capacities on the hosts counted here unless the caller has them already).
 */
const contextOf = (
  question: AdviceQuestion,
  facts: Facts,
  kept: readonly OptionFigures[],
  fleet: FleetCapacity | undefined = fleetCapacity(question, facts, kept),
): ScoreContext => ({ question, ownMemory: facts.ownMemory, fleet });

/** Rules, then `scored` for each option the rules keep, then order. */
function rulesThenOrder<T extends Scored>(
  question: AdviceQuestion,
  facts: Facts,
  scored: (context: ScoreContext, figures: OptionFigures) => T,
): { options: T[]; tied: number; ruledOut: RuledOut[]; fleet: FleetCapacity | undefined } {
  const { kept, ruledOut } = applyRules(question, facts.options, facts.hosts);
  const context = contextOf(question, facts, kept);
  return {
    ...orderWithTies(kept.map((figures) => scored(context, figures))),
    ruledOut,
    fleet: context.fleet,
  };
}

/** The order by score alone, with no sentence for the scores: what the what-if re-runs. */
export const order = (question: AdviceQuestion, facts: Facts): Ordering =>
  rulesThenOrder(question, facts, (context, figures) => ({
    figures,
    ...scoreOf(context, figures),
  }));

/** The order with each option's parts and their sentences: what an answer shows. */
export const rank = (question: AdviceQuestion, facts: Facts): Ranking =>
  rulesThenOrder(question, facts, (context, figures) => ({
    figures,
    ...scoreOption(context, figures),
  }));

/**
 * The first of `kept` as the lifetime and instance count vary, by score alone (no sentences):
 * the ranking's first option for the question with them changed, when `kept` are the options
 * the rules keep (the rules read neither). `fleet`: their capacities on the hosts, when the
 * caller has them (the ranking of the same question does).
 */
export function firstAcross(
  question: AdviceQuestion,
  facts: Facts,
  kept: readonly OptionFigures[],
  fleet?: FleetCapacity,
): (varied: Varied) => OptionKey | undefined {
  const context = contextOf(question, facts, kept, fleet);
  const scorers = kept.map((figures) => ({ figures, scoreAt: scoreAcross(context, figures) }));
  return (varied) => {
    const at: ScoreContext = { ...context, question: { ...question, ...varied } };
    return firstWithTies(scorers.map(({ figures, scoreAt }) => ({ figures, ...scoreAt(at) })))
      ?.figures.option;
  };
}
