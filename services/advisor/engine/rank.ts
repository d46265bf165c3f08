import type { AdviceQuestion, RuledOut, ScorePart } from '../../../contracts/advice.ts';
import type { Facts, OptionFigures } from './evidence.ts';
import { ISOLATION_LEVELS, compareKeys } from './placements.ts';
import { applyRules } from './rules.ts';
import { scoreAcross, scoreOf, scoreOption, type ScoreContext, type Varied } from './scores.ts';
import type { OptionKey } from './types.ts';

/** Rules, then scores, then order: for the answer, and again for the what-if search. */

export interface RankedOption {
  readonly figures: OptionFigures;
  readonly parts: readonly ScorePart[];
  readonly score: number;
}

/** The options in order, by score alone, and what the rules ruled out. */
export interface Ordering {
  /** Best first. */
  readonly options: readonly Scored[];
  readonly ruledOut: readonly RuledOut[];
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
}

/** Higher score first; on equal scores the stronger isolation, then placement and runtime by name. */
export function compareRanked(a: Scored, b: Scored): number {
  return (
    b.score - a.score ||
    isolationOf(b.figures) - isolationOf(a.figures) ||
    compareKeys(a.figures.option, b.figures.option)
  );
}

/** Rules, then `scored` for each option the rules keep, then order. */
function rulesThenOrder<T extends Scored>(
  question: AdviceQuestion,
  facts: Facts,
  scored: (context: ScoreContext, figures: OptionFigures) => T,
): { options: T[]; ruledOut: RuledOut[] } {
  const { kept, ruledOut } = applyRules(question, facts.options, facts.hosts);
  const context = { question, ownMemory: facts.ownMemory };
  return { options: kept.map((figures) => scored(context, figures)).sort(compareRanked), ruledOut };
}

/** The order by score alone, with no sentence for the scores: what the what-if re-runs. */
export const order = (question: AdviceQuestion, facts: Facts): Ordering =>
  rulesThenOrder(question, facts, (context, figures) => ({
    figures,
    score: scoreOf(context, figures),
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
 * the rules keep (the rules read neither).
 */
export function firstAcross(
  question: AdviceQuestion,
  facts: Facts,
  kept: readonly OptionFigures[],
): (varied: Varied) => OptionKey | undefined {
  const context = { question, ownMemory: facts.ownMemory };
  const scorers = kept.map((figures) => ({ figures, scoreAt: scoreAcross(context, figures) }));
  return (varied) => {
    let best: Scored | undefined;
    for (const { figures, scoreAt } of scorers) {
      const scored = { figures, score: scoreAt(varied) };
      if (best === undefined || compareRanked(scored, best) < 0) best = scored;
    }
    return best?.figures.option;
  };
}
