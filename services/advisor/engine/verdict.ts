import { scoreText, type AdviceQuestion } from '../../../contracts/advice.ts';
import { hostsFor, type HostsNeeded } from './capacity.ts';
import { formatList, formatNumber, optionName, plural } from './format.ts';
import { sortedUnique } from './lists.ts';
import type { Ordering, Scored } from './rank.ts';

/** Options the verdict names the hosts of: the first and the next ones, in the answer's order. */
const OPTIONS_NAMED = 4;

/** The hosts the instances need on an option; undefined when they cannot be counted. */
function neededOn(ranking: Ordering, option: Scored, instances: number): HostsNeeded | undefined {
  const capacity = ranking.fleet?.of(option.figures.option);
  return capacity === undefined ? undefined : hostsFor(capacity, instances);
}

/**
 * The answer in one line, the first a person reads: the first option, its score, whether a
 * tie was broken, and how many hosts the instances need on each option (where the question
 * has hosts to count them in).
 */
export function verdictOf(question: AdviceQuestion, ranking: Ordering): string {
  const [first] = ranking.options;
  if (first === undefined) {
    const names = ranking.ruledOut.map((entry) =>
      entry.runtime === undefined
        ? entry.placement
        : optionName({ placement: entry.placement, runtime: entry.runtime }),
    );
    return `No option fits: the rules ruled out ${formatList(sortedUnique(names))}.`;
  }
  const tied =
    ranking.tied > 1
      ? `, tied with ${plural(ranking.tied - 1, 'other')} within measurement error`
      : '';
  const head = `Run it as ${optionName(first.figures.option)} (score ${scoreText({ score: first.score, scoreInterval: [...first.interval] })}${tied})`;
  if (ranking.fleet === undefined) return `${head}; no host inventory to count hosts in.`;
  const shown = ranking.options.slice(0, OPTIONS_NAMED).map((option) => ({
    name: optionName(option.figures.option),
    needed: neededOn(ranking, option, question.instances),
  }));
  const counted = shown.flatMap(({ name, needed }) =>
    needed === undefined ? [] : [{ name, needed }],
  );
  // "2 hosts as container/runc, 69 as vm/qemu-microvm": the word once, as one reads it.
  const listed = counted.map(({ name, needed }, index) =>
    index === 0
      ? `${plural(needed.hosts, 'host')} as ${name}`
      : `${formatNumber(needed.hosts)} as ${name}`,
  );
  const beyond = counted.filter(({ needed }) => !needed.held).map(({ name }) => name);
  const uncounted = shown.filter(({ needed }) => needed === undefined).map(({ name }) => name);
  const need =
    counted.length === 0
      ? ''
      : `: ${formatNumber(question.instances)} instances need ${formatList(listed, listed.length)}`;
  const past =
    beyond.length === 0
      ? ''
      : ` (beyond the question's hosts for ${formatList(beyond, beyond.length)}: the rest counted on more hosts like their largest)`;
  const notCounted =
    uncounted.length === 0
      ? ''
      : `; hosts not counted for ${formatList(uncounted, uncounted.length)} (a memory figure is missing, or no host of the question's holds one)`;
  return `${head}${need}${past}${notCounted}.`;
}
