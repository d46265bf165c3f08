import type { AdviceQuestion } from '../../contracts/advice.ts';
import type { Facts } from './engine/facts.ts';
import type { EngineAnswer } from './engine/types.ts';

/**
 * Answers computed once per question and facts: the same question asked again over the same
 * facts (by another client, or a dashboard asking what it asked a moment ago) gets the answer
 * already computed, without the engine running again. Facts are compared by identity: the
 * facts memo hands out one object for as long as the evidence, inventory and host list hold,
 * and an answer from them is the engine's answer to that question. Answers are never changed
 * once made, so they are shared as they are.
 */
export interface AnswerMemo {
  /** The answer to `question` over `facts`: kept, or `compute()`d once and kept. */
  answerOf(question: AdviceQuestion, facts: Facts, compute: () => EngineAnswer): EngineAnswer;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A question's key: its JSON with object keys in order, so the order fields came in does not count. */
export function questionKey(question: AdviceQuestion): string {
  return JSON.stringify(question, (_key, value: unknown) =>
    isPlainObject(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

/** Keeps up to `most` answers per facts, the least recently asked going first. */
export function createAnswerMemo(most = 256): AnswerMemo {
  const byFacts = new WeakMap<Facts, Map<string, EngineAnswer>>();
  return {
    answerOf: (question, facts, compute) => {
      let held = byFacts.get(facts);
      if (held === undefined) {
        held = new Map();
        byFacts.set(facts, held);
      }
      const key = questionKey(question);
      const found = held.get(key);
      if (found !== undefined) {
        held.delete(key);
        held.set(key, found);
        return found;
      }
      const answer = compute();
      held.set(key, answer);
      for (const oldest of held.keys()) {
        if (held.size <= most) break;
        held.delete(oldest);
      }
      return answer;
    },
  };
}
