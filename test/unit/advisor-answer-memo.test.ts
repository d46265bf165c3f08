import { describe, expect, it } from 'vitest';
import type { AdviceQuestion } from '../../contracts/advice.ts';
import { createAnswerMemo, questionKey } from '../../services/advisor/answer-memo.ts';
import type { Facts } from '../../services/advisor/engine/facts.ts';
import type { EngineAnswer } from '../../services/advisor/engine/types.ts';

const QUESTION: AdviceQuestion = {
  workload: 'web',
  os: { family: 'linux', kernel: '>=6.1' },
  lifetimeSeconds: 3600,
  instances: 20,
  trust: 'trusted',
};

/** The same question with its fields (and its os's) in another order. */
const REORDERED = JSON.parse(
  '{"trust":"trusted","instances":20,"os":{"kernel":">=6.1","family":"linux"},"lifetimeSeconds":3600,"workload":"web"}',
) as AdviceQuestion;

/** Facts stand-ins: the memo compares facts by identity only. */
const factsOf = (): Facts => ({}) as Facts;

/** A compute function that counts its calls and makes a distinct answer each time. */
function counted(): { compute: () => EngineAnswer; calls: () => number } {
  let calls = 0;
  return {
    compute: () => {
      calls += 1;
      return { options: [], calls } as unknown as EngineAnswer;
    },
    calls: () => calls,
  };
}

describe('answers shared between identical questions', () => {
  it('keys a question by its content, not the order of its fields', () => {
    expect(questionKey(REORDERED)).toBe(questionKey(QUESTION));
    expect(questionKey({ ...QUESTION, instances: 21 })).not.toBe(questionKey(QUESTION));
  });

  it('computes an answer once for identical questions over the same facts', () => {
    const memo = createAnswerMemo();
    const facts = factsOf();
    const { compute, calls } = counted();
    const first = memo.answerOf(QUESTION, facts, compute);
    const again = memo.answerOf(REORDERED, facts, compute);
    expect(calls()).toBe(1);
    expect(again).toBe(first);
  });

  it('computes again for another question, or over other facts', () => {
    const memo = createAnswerMemo();
    const facts = factsOf();
    const { compute, calls } = counted();
    memo.answerOf(QUESTION, facts, compute);
    memo.answerOf({ ...QUESTION, trust: 'untrusted' }, facts, compute);
    expect(calls()).toBe(2);
    memo.answerOf(QUESTION, factsOf(), compute);
    expect(calls()).toBe(3);
  });

  it('keeps the most recently asked answers up to its bound', () => {
    const memo = createAnswerMemo(2);
    const facts = factsOf();
    const { compute, calls } = counted();
    const question = (instances: number): AdviceQuestion => ({ ...QUESTION, instances });
    memo.answerOf(question(1), facts, compute);
    memo.answerOf(question(2), facts, compute);
    // Asking 1 again makes 2 the oldest, which 3 then pushes out.
    memo.answerOf(question(1), facts, compute);
    memo.answerOf(question(3), facts, compute);
    expect(calls()).toBe(3);
    memo.answerOf(question(1), facts, compute);
    expect(calls()).toBe(3);
    memo.answerOf(question(2), facts, compute);
    expect(calls()).toBe(4);
  });
});
