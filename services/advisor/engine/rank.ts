import type { AdviceQuestion, RuledOut, ScorePart } from '../../../contracts/advice.ts';
import type { Facts, OptionFigures } from './evidence.ts';
import { compareKeys, isolationRank } from './placements.ts';
import { applyRules } from './rules.ts';
import { scoreOption } from './scores.ts';

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

/** Higher score first; on equal scores the stronger isolation, then placement and runtime by name. */
export function compareRanked(a: RankedOption, b: RankedOption): number {
  return (
    b.score - a.score ||
    isolationRank(b.figures.option) - isolationRank(a.figures.option) ||
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
