import { scoreText, type Advice } from '../contracts/advice.ts';
import { printTable } from './output.ts';

/** An answer as `berth advise` prints it: the verdict, the ranking, why, and what it rests on. */
export function printAdvice(advice: Advice, via: string, notes: readonly string[]): void {
  const say = (line = ''): void => {
    process.stdout.write(`${line}\n`);
  };
  if (advice.verdict !== undefined) say(advice.verdict);
  say(`advice ${advice.id} for "${advice.question.workload}" (answered by ${via})`);
  say();
  printTable(
    advice.options.map((option, index) => ({
      rank: index + 1,
      placement: option.placement,
      runtime: option.runtime,
      score: scoreText(option),
      ...(advice.tieBreak === undefined ? {} : { tied: option.tiedWithTop ? 'tied' : '' }),
      ...Object.fromEntries(option.parts.map((part) => [part.name, part.points.toFixed(1)])),
    })),
    false,
  );
  if (advice.tieBreak !== undefined) {
    say();
    say(`tie: ${advice.tieBreak.sentence}`);
  }
  for (const option of advice.options.slice(0, 1)) {
    say();
    say(`why ${option.placement} (${option.runtime}):`);
    for (const reason of option.reasons) say(`  - ${reason}`);
  }
  if (advice.ruledOut.length > 0) {
    say();
    say('ruled out:');
    for (const out of advice.ruledOut) {
      say(
        `  - ${out.placement}${out.runtime === undefined ? '' : ` (${out.runtime})`} [${out.rule}]: ${out.sentence}`,
      );
    }
  }
  say();
  say(`confidence ${advice.confidence.value.toFixed(2)}, resting on:`);
  for (const fact of advice.confidence.restsOn) say(`  - ${fact}`);
  if (advice.whatWouldChange.length > 0) {
    say();
    say('what would change the answer:');
    for (const change of advice.whatWouldChange) say(`  - ${change}`);
  }
  if (advice.hosts.length > 0) {
    say();
    printTable(
      advice.hosts.map((host) => ({
        host: host.hostId,
        placement: host.placement,
        fits: host.fits,
        enough: host.enough,
        why: host.why,
      })),
      false,
    );
  }
  for (const note of notes) process.stderr.write(`note: ${note}\n`);
}
