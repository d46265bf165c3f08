import type { AdviceOption, AdviceQuestion } from '../../../contracts/advice.ts';
import { atLoadFigures, hostsFor } from './capacity.ts';
import { confidenceOf } from './confidence.ts';
import { inputFacts, type Facts } from './facts.ts';
import type { Figure } from './figures.ts';
import { optionName } from './format.ts';
import { hostFits } from './hosts.ts';
import { sortedUnique } from './lists.ts';
import { sameOption } from './placements.ts';
import { rank, type RankedOption, type Ranking } from './rank.ts';
import { evidenceOf, figuresOf, reasonsFor } from './reasons.ts';
import { refreshNeeds } from './refresh.ts';
import { tieBreakOf, tieReasons } from './ties.ts';
import type { EngineAnswer, EngineInput, OptionKey } from './types.ts';
import { verdictOf } from './verdict.ts';
import { whatWouldChange } from './what-would-change.ts';

/**
 * The advisor's decision engine: from a question, the evidence rows and the host inventory,
 * the ranked options with their score parts and intervals, reasons and evidence, and which rule
 * ordered the options tied within measurement error; the ruled-out options with
 * their rule; a confidence and what it rests on; what would change the answer; which hosts
 * can take it; which hosts should measure again; and the result ids behind it all. A pure
 * function of its input: the same input gives the same answer.
 */
export const advise = (input: EngineInput): EngineAnswer =>
  answerFrom(input.question, inputFacts(input));

/** An option's hosts needed, whether the question's hosts hold the instances, and fits per host. */
function capacityFields(
  ranking: Ranking,
  option: OptionKey,
  instances: number,
): Pick<AdviceOption, 'hostsNeeded' | 'fleetHolds' | 'fits'> {
  const capacity = ranking.fleet?.of(option);
  if (capacity === undefined) return {};
  const needed = hostsFor(capacity, instances);
  return {
    ...(needed === undefined ? {} : { hostsNeeded: needed.hosts, fleetHolds: needed.held }),
    fits: capacity.hosts.map(({ hostId, fits }) => ({ hostId, fits })),
  };
}

/**
 * The figures an option shows: those behind its score, and the memory at load its capacity
 * was counted with.
 */
function shownFigures(
  question: AdviceQuestion,
  facts: Facts,
  ranking: Ranking,
  ranked: RankedOption,
): Figure[] {
  const capacity = ranking.fleet?.of(ranked.figures.option);
  return [
    ...figuresOf(question, facts, ranked),
    ...(capacity === undefined ? [] : atLoadFigures(capacity, facts.bareLoadMemory.option)),
  ];
}

/**
 * The answer to a question from facts already gathered (`factsFor` the question): what
 * `advise` gives for an input whose facts these are.
 */
export function answerFrom(question: AdviceQuestion, facts: Facts): EngineAnswer {
  const ranking = rank(question, facts);
  const refresh = refreshNeeds(
    facts,
    question,
    ranking.options.map((ranked) => ranked.figures.option),
  );
  const shown = ranking.options.map((ranked) => shownFigures(question, facts, ranking, ranked));
  const options: AdviceOption[] = ranking.options.map((ranked, index) => ({
    placement: ranked.figures.option.placement,
    runtime: ranked.figures.option.runtime,
    score: ranked.score,
    scoreInterval: [...ranked.interval],
    tiedWithTop: ranking.tied > 1 && index < ranking.tied,
    parts: [...ranked.parts],
    reasons: [
      ...reasonsFor(
        question,
        facts,
        ranked,
        refresh.byOption.get(optionName(ranked.figures.option)) ?? [],
      ),
      ...tieReasons(ranking, ranked),
    ],
    evidence: evidenceOf(shown[index] ?? []),
    ...capacityFields(ranking, ranked.figures.option, question.instances),
  }));
  const rankedIds = shown.flat().flatMap((figure) => figure.resultIds);
  const budgetIds = facts.options
    .filter((option) =>
      ranking.ruledOut.some(
        (entry) => entry.rule === 'startup-budget' && sameOption(entry, option.option),
      ),
    )
    .flatMap((option) => option.startup?.resultIds ?? []);
  const tieBreak = tieBreakOf(ranking);
  return {
    verdict: verdictOf(question, ranking),
    options,
    ruledOut: [...ranking.ruledOut],
    ...(tieBreak === undefined ? {} : { tieBreak }),
    confidence: confidenceOf(question, facts, ranking),
    whatWouldChange: whatWouldChange(question, facts, ranking),
    hosts: hostFits(question, ranking),
    refresh: refresh.hosts,
    evidenceIds: sortedUnique([...rankedIds, ...budgetIds]),
  };
}
