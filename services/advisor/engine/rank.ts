import type { AdviceQuestion, RuledOut, ScorePart } from '../../../contracts/advice.ts';
import type { Facts, OptionFigures } from './evidence.ts';
import { ISOLATION_LEVELS, compareKeys } from './placements.ts';
import { applyRules } from './rules.ts';
import { scoreOf, scoreOption } from './scores.ts';
import type { OptionKey } from './types.ts';

/** Rules, then scores, then order: the part of the engine that the what-if search re-runs. */

export interface RankedOption {
  readonly figures: OptionFigures;
  readonly parts: readonly ScorePart[];
  readonly score: number;
}

export interface Ranking {
  /** Best first. */
  readonly options: readonly RankedOption[];
  readonly ruledOut: readonly RuledOut[];
}

const isolationOf = (figures: OptionFigures): number =>
  ISOLATION_LEVELS.indexOf(figures.profile.isolation);

interface Scored {
  readonly figures: OptionFigures;
  readonly score: number;
}

/** Higher score first; on equal scores the stronger isolation, then placement and runtime by name. */
export function compareRanked(a: Scored, b: Scored): number {
  return (
    b.score - a.score ||
    isolationOf(b.figures) - isolationOf(a.figures) ||
    compareKeys(a.figures.option, b.figures.option)
  );
}

export function rank(question: AdviceQuestion, facts: Facts): Ranking {
  const { kept, ruledOut } = applyRules(question, facts.options, facts.hosts);
  const context = { question, ownMemory: facts.ownMemory };
  const options = kept
    .map((figures) => ({ figures, ...scoreOption(context, figures) }))
    .sort(compareRanked);
  return { options, ruledOut };
}

/**
 * The first of `kept` for this question, by score alone (no sentences): the ranking's first
 * option when `kept` are the options the rules keep for it.
 */
export function firstOf(
  question: AdviceQuestion,
  facts: Facts,
  kept: readonly OptionFigures[],
): OptionKey | undefined {
  const context = { question, ownMemory: facts.ownMemory };
  let best: Scored | undefined;
  for (const figures of kept) {
    const scored = { figures, score: scoreOf(context, figures) };
    if (best === undefined || compareRanked(scored, best) < 0) best = scored;
  }
  return best?.figures.option;
}
