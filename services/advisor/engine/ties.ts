import { scoreText, type TieBreak } from '../../../contracts/advice.ts';
import { formatList, optionName } from './format.ts';
import { ISOLATION_LEVELS } from './placements.ts';
import { compareRanked, type Ordering, type Scored } from './rank.ts';

/**
 * What the answer says of a tie: which options are tied within measurement error with the
 * best score, which rule put the first of them first, and the sentences that say so.
 */

/** The rules that can order tied options, strongest first, with what each says. */
const TIE_RULES = {
  'stronger-isolation': `stronger isolation breaks a tie (${[...ISOLATION_LEVELS].reverse().join(', then ')})`,
  'higher-score': 'they isolate alike, so the higher score decides',
  name: 'they isolate alike and score the same, so placement and runtime by name decide',
} as const;

type TieRule = keyof typeof TIE_RULES;

/** Which rule put `first` before `second` of the tied options. */
function ruleBetween(first: Scored, second: Scored): TieRule {
  if (first.figures.profile.isolation !== second.figures.profile.isolation) {
    return 'stronger-isolation';
  }
  return first.score !== second.score ? 'higher-score' : 'name';
}

/** "77.0 [75.2–78.1]", or "77.0" for a score without an interval. */
const formatScore = (scored: Scored): string =>
  scoreText({ score: scored.score, scoreInterval: [...scored.interval] });

/** The options tied at the top, in the answer's order; none when the first is not tied. */
const tiedOf = (ranking: Ordering): readonly Scored[] =>
  ranking.tied > 1 ? ranking.options.slice(0, ranking.tied) : [];

/** The rule that ordered the tied options and the sentence that says so; none without a tie. */
export function tieBreakOf(ranking: Ordering): TieBreak | undefined {
  const tied = tiedOf(ranking);
  const [first, second] = tied;
  const best = [...tied].sort(compareRanked)[0];
  if (first === undefined || second === undefined || best === undefined) return undefined;
  const rule = ruleBetween(first, second);
  const names = tied.map((option) => `${optionName(option.figures.option)} ${formatScore(option)}`);
  return {
    rule,
    sentence: `${formatList(names, tied.length)} are tied within measurement error (each score's interval overlaps the best score's, ${optionName(best.figures.option)}'s); ${optionName(first.figures.option)} first because ${TIE_RULES[rule]}.`,
  };
}

/** The reason an option tied with the top one gives: with which, and why the first is first. */
export function tieReasons(ranking: Ordering, option: Scored): string[] {
  const tied = tiedOf(ranking);
  const [first, second] = tied;
  if (first === undefined || second === undefined || !tied.includes(option)) return [];
  const others = tied.filter((each) => each !== option);
  const names = others.map((each) => `${optionName(each.figures.option)} (${formatScore(each)})`);
  return [
    `Tied within measurement error with ${formatList(names, names.length)}, scoring ${formatScore(option)}; ${optionName(first.figures.option)} first because ${TIE_RULES[ruleBetween(first, second)]}.`,
  ];
}
