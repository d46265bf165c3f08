import { describe, expect, it, vi } from 'vitest';
import {
  adviceJson,
  answerFrameText,
  forgetAdviceJson,
} from '../../services/advisor/advice-json.ts';
import { adviceOf } from '../../services/advisor/advisor.ts';
import { advise } from '../../services/advisor/engine/engine.ts';
import {
  hostInfo,
  NOW,
  question,
  STALE_AFTER_MS,
  thisHostEvidence,
} from '../../support/advice-fixtures.ts';

const asked = question({ workload: 'quotes " and \\ and\ttab, ünïcödé 🚢' });
const advice = adviceOf(
  asked,
  advise({
    question: asked,
    evidence: thisHostEvidence('host-a'),
    hosts: [hostInfo('host-a')],
    now: NOW,
    staleAfterMs: STALE_AFTER_MS,
  }),
  NOW,
);

describe('one serialization per answer', () => {
  it("gives the answer's JSON, serialized once until it is let go of", () => {
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      const text = adviceJson(advice);
      expect(text).toBe(JSON.stringify(advice));
      expect(JSON.parse(text)).toEqual(advice);
      stringify.mockClear();
      expect(adviceJson(advice)).toBe(text);
      expect(stringify).not.toHaveBeenCalled();
      forgetAdviceJson(advice);
      expect(adviceJson(advice)).toBe(text);
      expect(stringify).toHaveBeenCalledTimes(1);
    } finally {
      stringify.mockRestore();
    }
  });

  it.each([
    ['with an id', 'q-"7"'],
    ['without one', undefined],
  ])('writes an answer frame %s as JSON.stringify writes the frame', (_name, id) => {
    const frame = {
      type: 'answer' as const,
      ...(id === undefined ? {} : { id }),
      advice,
      why: 'asked' as const,
    };
    expect(answerFrameText(frame)).toBe(JSON.stringify(frame));
  });
});
