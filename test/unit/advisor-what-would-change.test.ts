import { describe, expect, it } from 'vitest';
import type { AdviceQuestion } from '../../contracts/advice.ts';
import { advise } from '../../services/advisor/engine/engine.ts';
import { gatherFacts } from '../../services/advisor/engine/facts.ts';
import { formatDuration, formatNumber, optionName } from '../../services/advisor/engine/format.ts';
import { rank } from '../../services/advisor/engine/rank.ts';
import type { OptionKey } from '../../services/advisor/engine/types.ts';
import {
  findThreshold,
  instanceThresholds,
  lifetimeThresholds,
  topOf,
} from '../../services/advisor/engine/what-would-change.ts';
import { engineInput, question } from '../../support/advice-fixtures.ts';

const DAY_S = 86_400;
const facts = gatherFacts(engineInput());
const nameOf = (option: OptionKey | undefined): string =>
  option === undefined ? 'no option' : optionName(option);
const firstAt = (changes: Partial<AdviceQuestion>): string =>
  nameOf(topOf(rank(question(changes), facts)));

describe('the threshold search', () => {
  const switchesAt = (threshold: number, low: OptionKey, high: OptionKey) => (value: number) =>
    value >= threshold ? high : low;
  const container = { placement: 'container', runtime: 'runc' };
  const vm = { placement: 'vm', runtime: 'qemu-microvm' };

  it.each([
    [180, 1e6, false, 2_400],
    [180, 1e6, false, 181],
    [10, 1_000_000, true, 250],
    [10, 1_000_000, true, 11],
  ])('from %d towards %d (integers: %s) finds %d', (start, limit, integer, threshold) => {
    const found = findThreshold(start, limit, integer, switchesAt(threshold, container, vm));
    expect(found?.from).toEqual(container);
    expect(found?.to).toEqual(vm);
    const at = found?.at ?? Number.NaN;
    if (integer) expect(at).toBe(threshold);
    else expect(Math.abs(at / threshold - 1)).toBeLessThan(1e-3);
  });

  it('searches downwards to the first value where the option changes', () => {
    const found = findThreshold(1_000, 1, true, switchesAt(40, container, vm));
    expect(found).toEqual({ at: 39, from: vm, to: container });
  });

  it('finds nothing where nothing changes', () => {
    expect(findThreshold(10, 1e6, false, () => vm)).toBeUndefined();
  });
});

describe('what would change the answer', () => {
  it('finds the lifetime where the ranking flips, and says it', () => {
    const long = question({ lifetimeSeconds: 30 * DAY_S, instances: 1 });
    const { below } = lifetimeThresholds(long, facts);
    expect(below).toBeDefined();
    if (below === undefined) return;
    expect(below.from).toEqual({ placement: 'vm', runtime: 'qemu-microvm' });
    expect(firstAt({ lifetimeSeconds: below.at * 1.05, instances: 1 })).toBe('vm/qemu-microvm');
    expect(firstAt({ lifetimeSeconds: below.at * 0.95, instances: 1 })).toBe(nameOf(below.to));
    const answer = advise(engineInput({ question: long }));
    expect(answer.whatWouldChange).toContain(
      `Below a ${formatDuration(below.at)} lifetime, ${nameOf(below.to)} ranks first instead of vm/qemu-microvm.`,
    );
  });

  it('finds the lifetime above which a VM ranks first for short-lived single instances', () => {
    const short = question({ lifetimeSeconds: 60, instances: 1 });
    const { above } = lifetimeThresholds(short, facts);
    expect(firstAt({ lifetimeSeconds: 60, instances: 1 })).toBe('container/runc');
    expect(above?.to?.placement).not.toBe('container');
    const at = above?.at ?? Number.NaN;
    expect(firstAt({ lifetimeSeconds: at * 0.95, instances: 1 })).toBe('container/runc');
    expect(firstAt({ lifetimeSeconds: at * 1.05, instances: 1 })).not.toBe('container/runc');
    expect(advise(engineInput({ question: short })).whatWouldChange[0]).toBe(
      `Above a ${formatDuration(at)} lifetime, ${nameOf(above?.to)} ranks first instead of container/runc.`,
    );
  });

  it('finds the instance count where the ranking flips', () => {
    const service = question({ lifetimeSeconds: 30 * DAY_S, instances: 1 });
    const { above } = instanceThresholds(service, facts);
    const at = above?.at ?? Number.NaN;
    expect(Number.isInteger(at)).toBe(true);
    expect(firstAt({ lifetimeSeconds: 30 * DAY_S, instances: at - 1 })).toBe('vm/qemu-microvm');
    expect(firstAt({ lifetimeSeconds: 30 * DAY_S, instances: at })).not.toBe('vm/qemu-microvm');
    expect(advise(engineInput({ question: service })).whatWouldChange).toContain(
      `From ${formatNumber(at)} instances at once, ${nameOf(above?.to)} ranks first instead of vm/qemu-microvm.`,
    );
  });

  it('says what other trust would do', () => {
    const answer = advise(engineInput());
    expect(answer.whatWouldChange).toContain(
      'If the code were untrusted, container-in-vm/qemu-microvm would rank first instead of container/runc (container/runc is ruled out for untrusted code).',
    );
  });

  it('says when nothing it tried changes the first option', () => {
    const only = advise(
      engineInput({ question: question({ os: { family: 'windows', fullOs: true } }) }),
    );
    expect(only.options.map((option) => option.placement)).toEqual(['vm']);
    expect(only.whatWouldChange).toEqual([
      'vm/qemu-microvm stays first at every lifetime tried (doubling steps) from 1 s to 10 years, every count tried from 1 to 1,000,000 instances, and either trust level.',
    ]);
  });

  it('with every option ruled out, says what would let one in', () => {
    const none = advise(
      engineInput({
        question: question({ os: { family: 'linux', fullOs: true }, startupBudgetMs: 1_000 }),
      }),
    );
    expect(none.options).toEqual([]);
    expect(none.whatWouldChange).toContain(
      'Without the 1,000 ms start-up budget, vm/qemu-microvm would rank first, where now no option is left; a budget of 5,200 ms or more lets it in.',
    );
  });

  it('says so when every option stays ruled out whatever the lifetime, count and trust', () => {
    const nothing = advise(
      engineInput({
        question: question({ os: { family: 'windows', fullOs: true }, startupBudgetMs: 10 }),
      }),
    );
    expect(nothing.options).toEqual([]);
    expect(nothing.whatWouldChange[0]).toMatch(
      /^Every option stays ruled out at every lifetime tried .* and either trust level\.$/,
    );
  });

  it('under TCG, says what the published KVM start-up would change', () => {
    const budget = question({ startupBudgetMs: 1_000, lifetimeSeconds: 30 * DAY_S, instances: 2 });
    const answer = advise(engineInput({ question: budget }));
    expect(answer.options.map((option) => option.placement)).toEqual(['container']);
    const kvm = answer.whatWouldChange.find((sentence) => sentence.startsWith('On a KVM host'));
    expect(kvm).toContain('vm/qemu-microvm about 125 ms: at most 125 ms to guest init');
    expect(kvm).toContain(
      'vm/qemu-microvm would meet the start-up budget and rank first instead of container/runc',
    );
    expect(answer.whatWouldChange).toContain(
      'Without the 1,000 ms start-up budget, vm/qemu-microvm would rank first instead of container/runc; a budget of 5,200 ms or more lets it in.',
    );
  });

  it('under TCG, says nothing about KVM where it would change nothing', () => {
    const answer = advise(engineInput());
    expect(answer.whatWouldChange.some((sentence) => sentence.includes('KVM'))).toBe(false);
  });
});
