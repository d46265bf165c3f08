import { scoreText, type AdviceQuestion } from '../../../contracts/advice.ts';
import { hostsFor } from './capacity.ts';
import { formatList, formatNumber, optionName, plural } from './format.ts';
import type { Ordering, Scored } from './rank.ts';

/** Options the verdict names the hosts of: the first and the next ones, in the answer's order. */
const OPTIONS_NAMED = 4;

/** "1 host as container/runc", "3 hosts as vm/qemu-microvm, more than the question's hold". */
function hostsOf(ranking: Ordering, option: Scored, instances: number): string {
  const name = optionName(option.figures.option);
  const capacity = ranking.fleet?.of(option.figures.option);
  if (capacity === undefined || !capacity.known)
    return `${name}: hosts not counted (no memory figure)`;
  const needed = hostsFor(capacity, instances);
  if (needed === undefined) return `${name}: no host of the question's holds one`;
  const beyond = needed.held ? '' : ', more than the question names';
  return `${plural(needed.hosts, 'host')} as ${name}${beyond}`;
}

/**
 * The answer in one line, the first a person reads: the first option, its score, whether a
 * tie was broken, and how many hosts the instances need on each option (where the question
 * has hosts to count them in).
 */
export function verdictOf(question: AdviceQuestion, ranking: Ordering): string {
  const [first] = ranking.options;
  if (first === undefined) {
    return `No option fits: the rules ruled out ${formatList(ranking.ruledOut.map((entry) => optionName({ placement: entry.placement, runtime: entry.runtime ?? 'any' })))}.`;
  }
  const tied =
    ranking.tied > 1
      ? `, tied with ${plural(ranking.tied - 1, 'other')} within measurement error`
      : '';
  const head = `Run it as ${optionName(first.figures.option)} (score ${scoreText({ score: first.score, scoreInterval: [...first.interval] })}${tied})`;
  if (ranking.fleet === undefined) return `${head}; no host inventory to count hosts in.`;
  const named = ranking.options
    .slice(0, OPTIONS_NAMED)
    .map((option) => hostsOf(ranking, option, question.instances));
  return `${head}: ${formatNumber(question.instances)} instances need ${formatList(named, named.length)}.`;
}
