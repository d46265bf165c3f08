import { afterEach, describe, expect, it } from 'vitest';
import type { AdviceQuestion } from '../../contracts/advice.ts';
import type { EvidenceRow, EvidenceSource } from '../../services/advisor/engine/types.ts';
import {
  createEnginePool,
  createThreadEngine,
  type Engine,
} from '../../services/advisor/engine-pool.ts';
import { silentLogger } from '../../lib/logger.ts';
import {
  DAY_MS,
  hostInfo,
  kvmHostEvidence,
  NOW,
  question,
  STALE_AFTER_MS,
  thisHostEvidence,
} from '../../support/advice-fixtures.ts';

const HOSTS = ['host-a', 'host-b', 'host-c', 'host-kvm'];

/** Four hosts: two fresh, one stale, one with hardware virtualization. */
const source: Omit<EvidenceSource, 'now'> = {
  evidence: [
    ...thisHostEvidence('host-a'),
    ...thisHostEvidence('host-b', { latestAt: NOW - 2 * DAY_MS }),
    ...thisHostEvidence('host-c', { latestAt: NOW - 9 * DAY_MS }),
    ...kvmHostEvidence('host-kvm'),
  ],
  hosts: HOSTS.map((hostId) => hostInfo(hostId)),
  staleAfterMs: STALE_AFTER_MS,
};

/** Questions across lifetimes, counts, trust, budgets, sensitivities and host lists. */
function sweep(): AdviceQuestion[] {
  const questions: AdviceQuestion[] = [];
  const lifetimes = [30, 3_600, 86_400 * 3, 86_400 * 90];
  const counts = [1, 20, 400, 5_000];
  const extras: Partial<AdviceQuestion>[] = [
    {},
    { trust: 'untrusted' },
    { startupBudgetMs: 200 },
    { sensitivity: ['io', 'syscall'] },
    { hosts: ['host-b', 'host-kvm'] },
    { hosts: ['host-c'], memoryMiB: 256, neighbours: 'shared' },
  ];
  for (const lifetimeSeconds of lifetimes) {
    for (const instances of counts) {
      for (const extra of extras) {
        questions.push(question({ lifetimeSeconds, instances, ...extra }));
      }
    }
  }
  return questions;
}

let pool: Engine | undefined;

/** A pool of `threads`, closed after the test. */
function poolOf(threads: number): Engine {
  pool = createEnginePool(threads, silentLogger);
  return pool;
}

afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

describe('the engine on worker threads', () => {
  it('answers as the engine on this thread does, on a sweep of questions', async () => {
    const engine = poolOf(2);
    const here = createThreadEngine();
    const questions = sweep();
    const fromPool = await Promise.all(questions.map((each) => engine.answer(each, source, NOW)));
    const fromHere = await Promise.all(questions.map((each) => here.answer(each, source, NOW)));
    expect(fromPool).toHaveLength(96);
    expect(fromPool).toEqual(fromHere);
    expect(engine.computed()).toBe(96);
    expect(engine.pending()).toBe(0);
    expect(engine.backlogMs()).toBe(0);

    // At the pace of the answers so far, the questions queued now would take a while.
    const again = questions.slice(0, 20).map((each) => ({ ...each, workload: 'again' }));
    const queued = again.map((each) => engine.answer(each, source, NOW));
    expect(engine.pending()).toBe(20);
    expect(engine.backlogMs()).toBeGreaterThan(0);
    await Promise.all(queued);
    expect(engine.pending()).toBe(0);
  }, 60_000);

  it('computes identical questions in flight once, and another question again', async () => {
    const engine = poolOf(2);
    const asked = question({ lifetimeSeconds: 600, instances: 50 });
    const answers = await Promise.all(
      [1, 2, 3, 4, 5].map(() => engine.answer({ ...asked }, source, NOW)),
    );
    expect(engine.computed()).toBe(1);
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    await engine.answer(question({ lifetimeSeconds: 601, instances: 50 }), source, NOW);
    expect(engine.computed()).toBe(2);
  }, 60_000);

  it('answers over the newest source it is given', async () => {
    const engine = poolOf(1);
    const here = createThreadEngine();
    const asked = question({ lifetimeSeconds: 86_400, instances: 10 });
    const before = await engine.answer(asked, source, NOW);
    const onlyKvm: Omit<EvidenceSource, 'now'> = {
      ...source,
      evidence: kvmHostEvidence('host-kvm'),
      hosts: [hostInfo('host-kvm')],
    };
    const after = await engine.answer(asked, onlyKvm, NOW);
    expect(after).toEqual(await here.answer(asked, onlyKvm, NOW));
    expect(after.evidenceIds).not.toEqual(before.evidenceIds);
  }, 60_000);

  it('refuses a question the engine fails on, naming the failure, and goes on answering', async () => {
    const engine = poolOf(1);
    const broken = { ...source, evidence: [null as unknown as EvidenceRow] };
    await expect(engine.answer(question(), broken, NOW)).rejects.toThrow(
      /^the engine failed on the question: .*null/,
    );
    const answer = await engine.answer(question(), source, NOW);
    expect(answer.options.length).toBeGreaterThan(0);
  }, 60_000);

  it('refuses questions once closed, and refuses a thread count it cannot start', async () => {
    const engine = poolOf(1);
    await engine.answer(question(), source, NOW);
    await engine.close();
    await expect(engine.answer(question(), source, NOW)).rejects.toThrow(
      'the engine pool is closed',
    );
    expect(() => createEnginePool(0, silentLogger)).toThrow(/from 1, got 0/);
  }, 60_000);
});
