import { describe, expect, it } from 'vitest';
import type { AdviceQuestion } from '../../contracts/advice.ts';
import { SENSITIVITY_NAMES } from '../../contracts/workloads.ts';
import { sensitivitiesOf } from '../../services/advisor/engine/catalogue.ts';
import { advise, answerFrom } from '../../services/advisor/engine/engine.ts';
import { factsFor } from '../../services/advisor/engine/facts.ts';
import { IDS_PER_FIGURE } from '../../services/advisor/engine/figures.ts';
import { createFactsMemo } from '../../services/advisor/engine/facts-memo.ts';
import type { EvidenceSource } from '../../services/advisor/engine/types.ts';
import {
  DAY_MS,
  HOUR_MS,
  hostInfo,
  kvmHostEvidence,
  NOW,
  question,
  STALE_AFTER_MS,
  thisHostEvidence,
} from '../../support/advice-fixtures.ts';

/** Two hosts whose rows turn stale at different moments: a day apart. */
const source: EvidenceSource = {
  evidence: [
    ...thisHostEvidence('host-a', { latestAt: NOW - 6 * DAY_MS }),
    ...kvmHostEvidence('host-kvm', { latestAt: NOW - 5 * DAY_MS }),
  ],
  hosts: [hostInfo('host-a'), hostInfo('host-kvm')],
  now: NOW,
  staleAfterMs: STALE_AFTER_MS,
};

const questions: readonly AdviceQuestion[] = [
  question(),
  question({ lifetimeSeconds: 30 * 86_400, instances: 3, trust: 'untrusted' }),
  question({ startupBudgetMs: 500, memoryMiB: 256, sensitivity: ['cpu', 'io'] }),
  question({ hosts: ['host-kvm'], sensitivity: ['syscall'] }),
  question({ hosts: ['host-a', 'host-gone'], os: { family: 'linux', kernel: '>=6.8' } }),
];

describe('facts memo', () => {
  it('answers as advise does at every moment, across the moments rows turn stale', () => {
    const memo = createFactsMemo();
    for (let now = NOW; now <= NOW + 3 * DAY_MS; now += 6 * HOUR_MS) {
      for (const asked of questions) {
        const at = { ...source, now };
        const facts = factsFor(memo.factsOf(at, asked.hosts, sensitivitiesOf(asked)), asked);
        expect(answerFrom(asked, facts)).toEqual(advise({ ...at, question: asked }));
      }
    }
  });

  it("gathers a host list's throughput for the sensitivities asked, the fleet's for every one", () => {
    const memo = createFactsMemo();
    const listed = memo.factsOf(source, ['host-a'], ['io', 'cpu']);
    expect(listed.sensitivities).toEqual(['cpu', 'io']);
    for (const option of listed.options) {
      expect(option.throughput.map((each) => each.sensitivity)).toEqual(['cpu', 'io']);
    }
    expect(memo.factsOf(source, ['host-a'], ['cpu', 'io'])).toBe(listed);
    expect(memo.factsOf(source, ['host-a'], ['cpu'])).not.toBe(listed);
    expect(memo.factsOf(source, [], ['cpu']).sensitivities).toEqual(SENSITIVITY_NAMES);
  });

  it('answers as advise does on the last moment the facts hold and on the next', () => {
    const memo = createFactsMemo();
    const first = memo.factsOf(source);
    for (const now of [first.validUntil, first.validUntil + 1]) {
      const at = { ...source, now };
      expect(answerFrom(question(), memo.factsOf(at))).toEqual(
        advise({ ...at, question: question() }),
      );
    }
  });

  it('keeps the facts until the first row turns stale, then gathers them again', () => {
    const memo = createFactsMemo();
    const first = memo.factsOf(source);
    expect(first.validUntil).toBe(NOW - 6 * DAY_MS + STALE_AFTER_MS);
    expect(memo.factsOf({ ...source, now: first.validUntil })).toBe(first);
    const later = memo.factsOf({ ...source, now: first.validUntil + 1 });
    expect(later).not.toBe(first);
    expect(later.validUntil).toBe(NOW - 5 * DAY_MS + STALE_AFTER_MS);
  });

  it('gathers again when the clock goes back before the facts were gathered', () => {
    const memo = createFactsMemo();
    const first = memo.factsOf(source);
    expect(memo.factsOf({ ...source, now: NOW - 1 })).not.toBe(first);
  });

  it('gathers again for new rows or a new inventory, not for copies of the source object', () => {
    const memo = createFactsMemo();
    const first = memo.factsOf(source);
    expect(memo.factsOf({ ...source })).toBe(first);
    expect(memo.factsOf({ ...source, evidence: [...source.evidence] })).not.toBe(first);
    const second = memo.factsOf(source);
    expect(memo.factsOf({ ...source, hosts: [...source.hosts] })).not.toBe(second);
  });

  it('holds each host list apart, the same list in any order once, up to its bound', () => {
    const memo = createFactsMemo(2);
    const both = memo.factsOf(source, ['host-a', 'host-kvm']);
    expect(memo.factsOf(source, ['host-kvm', 'host-a', 'host-a'])).toBe(both);
    const whole = memo.factsOf(source);
    expect(whole).not.toBe(both);
    expect(memo.factsOf(source, [])).toBe(whole);
    const one = memo.factsOf(source, ['host-a']);
    expect(one.hosts.map((host) => host.hostId)).toEqual(['host-a']);
    expect(memo.factsOf(source)).toBe(whole);
    expect(memo.factsOf(source, ['host-a', 'host-kvm'])).not.toBe(both);
  });
});

describe('result ids of a figure', () => {
  it(`keep at most ${IDS_PER_FIGURE}, taken from each host in turn`, () => {
    const ids = (hostId: string): string[] =>
      Array.from({ length: 20 }, (_, index) => `${hostId}-${String(index).padStart(2, '0')}`);
    const hosts = ['host-a', 'host-b', 'host-c'];
    const evidence = hosts.flatMap((hostId) =>
      thisHostEvidence(hostId).map((row) => ({ ...row, resultIds: ids(hostId) })),
    );
    const answer = advise({
      ...source,
      evidence,
      hosts: hosts.map((hostId) => hostInfo(hostId)),
      question: question({ sensitivity: ['memory'] }),
    });
    // Every figure takes the first id of each host, then the second, …: 20 = 7 + 7 + 6.
    expect(answer.evidenceIds).toEqual([
      ...ids('host-a').slice(0, 7),
      ...ids('host-b').slice(0, 7),
      ...ids('host-c').slice(0, 6),
    ]);
  });
});
