import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Advice } from '../../contracts/advice.ts';
import { silentLogger } from '../../lib/logger.ts';
import { CLOSE_GOING_AWAY } from '../../services/advisor/ws.ts';
import { CONTAINER, CONTAINER_IN_VM_TCG, PROCESS, VM_TCG } from '../../support/advice-fixtures.ts';
import {
  acceptJobs,
  goodQuestion,
  measuredPlatforms,
  openTestSocket,
  platformResults,
  seedInventory,
  seedMeasuredHost,
  seedResults,
  seedStaleHost,
  type AdvisorStackOptions,
  type Frame,
  serverOver,
  waitForAcceptedRun,
} from '../../support/advisor.ts';
import { advisorStacks } from '../../support/hooks.ts';
import { BACKENDS } from '../../support/servers.ts';

/** `running()` is the stack of the describe block running now. */
const { running, forBlock } = advisorStacks();

setFlagsFromString('--expose-gc');
/** A full collection, so heap figures show what is still held, not what is not yet freed. */
const collectGarbage = runInNewContext('gc') as () => void;

const isType =
  (type: string, id?: string) =>
  (frame: Frame): boolean =>
    frame.type === type && (id === undefined || frame['id'] === id);

const platformsOf = (advice: Advice): string[] =>
  [
    ...advice.options.map((option) => option.placement),
    ...advice.ruledOut.map((ruled) => ruled.placement),
  ].sort();

/**
 * Gives the enclosing describe block a stack of its own, with host-a measured as a bare
 * process and in containers, and stops it after the block (chDB takes one store at a time in
 * a process).
 */
function onAdvisorStack(options: AdvisorStackOptions = {}): void {
  forBlock(options, async (stack) => {
    expect(stack.ingest.testStore.store.backend).toBe(options.backend ?? 'chdb');
    await seedMeasuredHost(stack, 'host-a', [PROCESS, CONTAINER]);
  });
}

describe.each(BACKENDS)(
  'the advisor over WebSocket on %s, its engine on two threads',
  (backend) => {
    // No cooldown, so every stale answer asks its host again.
    onAdvisorStack({ backend, advisor: { jobCooldownMs: 0 }, engineThreads: 2 });

    it('an answer changes when new measurements arrive', async () => {
      const watcher = await openTestSocket(`${running().wsUrl}/v1/ws`);
      const subscriber = await openTestSocket(`${running().wsUrl}/v1/ws`);
      try {
        subscriber.send({ type: 'subscribe', topics: ['results', 'fleet'] });
        watcher.send({ type: 'watch', id: 'ci', question: goodQuestion({ hosts: ['host-a'] }) });
        const first = await watcher.next(isType('answer', 'ci'));
        expect(first['why']).toBe('asked');
        const before = first['advice'] as Advice;
        expect(measuredPlatforms(before)).not.toContain('vm');

        await seedResults(
          running(),
          [VM_TCG, CONTAINER_IN_VM_TCG].flatMap((figures) => platformResults('host-a', figures)),
        );

        const second = await watcher.next(isType('answer', 'ci'));
        expect(second['why']).toBe('evidence');
        const after = second['advice'] as Advice;
        expect(after.id).not.toBe(before.id);
        expect(measuredPlatforms(after)).toContain('vm');
        expect(platformsOf(after)).toEqual(expect.arrayContaining(['vm']));

        const results = await subscriber.next(isType('results'));
        expect(results['hosts']).toContain('host-a');
        expect(results['results']).toBeGreaterThan(0);

        await seedInventory(running(), 'host-b');
        const host = await subscriber.next(
          (frame) =>
            frame.type === 'host' && (frame['host'] as { hostId: string }).hostId === 'host-b',
        );
        expect(host['host']).toMatchObject({ hostId: 'host-b', busy: false });

        watcher.send({ type: 'unwatch', id: 'ci' });
        watcher.send({ type: 'unwatch', id: 'ci' });
        const notWatched = await watcher.next(isType('error', 'ci'));
        expect(notWatched).toMatchObject({ code: 'BERTH_ERR_NOT_FOUND', field: 'id' });
      } finally {
        await watcher.close();
        await subscriber.close();
      }
    });

    it('a stale answer triggers a job on the agent subject', async () => {
      const hostId = 'host-old';
      const agent = acceptJobs(running().ingest.nc, hostId);
      const client = await openTestSocket(`${running().wsUrl}/v1/ws`);
      try {
        await seedStaleHost(running(), hostId);

        client.send({ type: 'ask', id: 'old', question: goodQuestion({ hosts: [hostId] }) });
        const answer = await client.next(isType('answer', 'old'));
        const advice = answer['advice'] as Advice;
        expect(advice.options.flatMap((option) => option.evidence).some((e) => e.stale)).toBe(true);

        await agent.waitForRequest();
        expect(agent.requests[0]).toMatchObject({ hostId, requestedBy: 'advisor', suite: 'quick' });
        await waitForAcceptedRun(running(), hostId);
      } finally {
        agent.stop();
        await client.close();
      }
    });
  },
);

describe('the advisor over WebSocket, its engine on one thread of its own', () => {
  onAdvisorStack({ engineThreads: 1 });

  it('answers an ask once, with the id the client gave', async () => {
    const client = await openTestSocket(`${running().wsUrl}/v1/ws`);
    try {
      client.send({ type: 'ask', id: 'q1', question: goodQuestion() });
      const answer = await client.next(isType('answer', 'q1'));
      expect(answer['why']).toBe('asked');
      const advice = answer['advice'] as Advice;
      expect(advice.options.length).toBeGreaterThan(0);
      const stored = await fetch(`${running().url}/v1/advice/${advice.id}`);
      expect(stored.status).toBe(200);
    } finally {
      await client.close();
    }
  });

  it('holds 200 clients asking at once: each question gets its answer or a busy refusal, and memory stays bounded', async () => {
    const heapUsed = (): number => {
      collectGarbage();
      return process.memoryUsage().heapUsed;
    };
    /** 200 clients ask 5 questions each at once; what each got, answers and busy refusals. */
    const crowd = async (round: number): Promise<{ answered: number; busy: number }> => {
      const clients = await Promise.all(
        Array.from({ length: 200 }, () => openTestSocket(`${running().wsUrl}/v1/ws`)),
      );
      try {
        for (const [index, client] of clients.entries()) {
          for (let asked = 0; asked < 5; asked += 1) {
            // Every question its own (no answer memo shares them): lifetimes of whole minutes.
            const lifetimeSeconds = 60 * (1 + round * 1000 + index * 5 + asked);
            client.send({
              type: 'ask',
              id: `q${asked}`,
              question: goodQuestion({ lifetimeSeconds }),
            });
          }
        }
        const replies = await Promise.all(
          clients.flatMap((client) =>
            Array.from({ length: 5 }, (_, asked) =>
              client.next(
                (frame) =>
                  frame['id'] === `q${asked}` &&
                  (frame.type === 'answer' || frame.type === 'error'),
                120_000,
              ),
            ),
          ),
        );
        const refused = replies.filter((frame) => frame.type === 'error');
        expect(refused.map((frame) => frame['code'])).toEqual(refused.map(() => 'BERTH_ERR_BUSY'));
        return { answered: replies.length - refused.length, busy: refused.length };
      } finally {
        await Promise.all(clients.map((client) => client.close()));
      }
    };
    const first = await crowd(1);
    expect(first.answered + first.busy).toBe(1000);
    expect(first.answered).toBeGreaterThan(0);
    const before = heapUsed();
    const second = await crowd(2);
    expect(second.answered + second.busy).toBe(1000);
    // Another 1,000 questions hold no more than the memos' bounds (256 answers of a few tens of KB).
    expect((heapUsed() - before) / 2 ** 20).toBeLessThan(16);

    // Once the crowd is gone, a client asking again after the Retry-After is answered.
    const after = await openTestSocket(`${running().wsUrl}/v1/ws`);
    try {
      let reply: Frame | undefined;
      for (let tries = 0; tries < 10 && reply?.type !== 'answer'; tries += 1) {
        if (reply !== undefined) await new Promise((resolve) => setTimeout(resolve, 1_000));
        after.send({ type: 'ask', id: 'after', question: goodQuestion() });
        reply = await after.next(
          (frame) => frame['id'] === 'after' && (frame.type === 'answer' || frame.type === 'error'),
          30_000,
        );
        expect(reply['code'] ?? 'BERTH_ERR_BUSY').toBe('BERTH_ERR_BUSY');
      }
      expect(reply?.type).toBe('answer');
      expect((reply?.['advice'] as Advice).options.length).toBeGreaterThan(0);
    } finally {
      await after.close();
    }
  }, 600_000);

  it('rejects 1,000 malformed frames naming the field, stays open, and keeps memory flat', async () => {
    const good = goodQuestion();
    const kinds: readonly [unknown, string, string][] = [
      ['{"type": "ask", ', 'BERTH_ERR_NOT_JSON', '(the frame)'],
      ['[1, 2, 3]', 'BERTH_ERR_FRAME', '(the frame)'],
      ['"a string"', 'BERTH_ERR_FRAME', '(the frame)'],
      [{ type: 'shout' }, 'BERTH_ERR_FRAME', 'type'],
      [{ question: good }, 'BERTH_ERR_FRAME', 'type'],
      [{ type: 'ask' }, 'BERTH_ERR_FRAME', 'question'],
      [{ type: 'ask', id: 7, question: good }, 'BERTH_ERR_FRAME', 'id'],
      [{ type: 'ask', question: good, extra: true }, 'BERTH_ERR_FRAME', 'extra'],
      [{ type: 'unwatch' }, 'BERTH_ERR_FRAME', 'id'],
      [{ type: 'subscribe', topics: ['weather'] }, 'BERTH_ERR_FRAME', 'topics[0]'],
      [{ type: 'ask', question: 'why' }, 'BERTH_ERR_QUESTION', 'question'],
      [
        { type: 'ask', question: { ...good, os: { family: 'plan9' } } },
        'BERTH_ERR_QUESTION',
        'question.os.family',
      ],
      [
        { type: 'watch', question: { ...good, instances: 0 } },
        'BERTH_ERR_QUESTION',
        'question.instances',
      ],
      [
        { type: 'ask', question: { ...good, os: { family: 'linux', kernel: 'new' } } },
        'BERTH_ERR_QUESTION',
        'question.os.kernel',
      ],
      [
        { type: 'ask', question: { ...good, hosts: ['host-a', 'host-nowhere'] } },
        'BERTH_ERR_QUESTION',
        'question.hosts[1]',
      ],
      [
        { type: 'ask', question: { ...good, workload: 'x'.repeat(70_000) } },
        'BERTH_ERR_TOO_LARGE',
        '(the frame)',
      ],
    ];
    const badPosts: readonly [string, number, string, string | undefined][] = [
      ['{"workload": ', 400, 'BERTH_ERR_NOT_JSON', undefined],
      ['[1, 2, 3]', 400, 'BERTH_ERR_QUESTION', '(the question)'],
      ['"a string"', 400, 'BERTH_ERR_QUESTION', '(the question)'],
      ['{}', 400, 'BERTH_ERR_QUESTION', 'workload'],
      [
        JSON.stringify({ ...good, os: { family: 'plan9' } }),
        400,
        'BERTH_ERR_QUESTION',
        'os.family',
      ],
      [JSON.stringify({ ...good, instances: 0 }), 400, 'BERTH_ERR_QUESTION', 'instances'],
      [JSON.stringify({ ...good, trust: 'maybe' }), 400, 'BERTH_ERR_QUESTION', 'trust'],
      [
        JSON.stringify({ ...good, os: { family: 'linux', kernel: 'new' } }),
        400,
        'BERTH_ERR_QUESTION',
        'os.kernel',
      ],
      [JSON.stringify({ ...good, hosts: ['host-nowhere'] }), 400, 'BERTH_ERR_QUESTION', 'hosts[0]'],
      [JSON.stringify({ ...good, extra: true }), 400, 'BERTH_ERR_QUESTION', 'extra'],
      [
        JSON.stringify({ ...good, sensitivity: ['gpu'] }),
        400,
        'BERTH_ERR_QUESTION',
        'sensitivity[0]',
      ],
      [
        JSON.stringify({ ...good, workload: 'x'.repeat(70_000) }),
        413,
        'BERTH_ERR_TOO_LARGE',
        undefined,
      ],
    ];
    const client = await openTestSocket(`${running().wsUrl}/v1/ws`);
    const bodies = kinds.map(([frame]) =>
      typeof frame === 'string' ? frame : JSON.stringify(frame),
    );
    const round = async (count: number): Promise<void> => {
      for (let index = 0; index < count; index += 1) client.send(bodies[index % bodies.length]);
      for (let index = 0; index < count; index += 1) {
        const [, code, field] = kinds[index % kinds.length] ?? [];
        const frame = await client.next();
        expect(frame).toMatchObject({ type: 'error', code, field });
        expect(typeof frame['message']).toBe('string');
      }
      for (let start = 0; start < count; start += 20) {
        await Promise.all(
          Array.from({ length: Math.min(20, count - start) }, async (_, offset) => {
            const [body, status, code, field] = badPosts[(start + offset) % badPosts.length] ?? [];
            const response = await fetch(`${running().url}/v1/advice`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: body ?? '',
            });
            expect(response.status).toBe(status);
            const reply = (await response.json()) as { error: { code: string; field?: string } };
            expect(reply.error.code).toBe(code);
            expect(reply.error.field).toBe(field);
          }),
        );
      }
    };
    const heapUsed = (): number => {
      collectGarbage();
      return process.memoryUsage().heapUsed;
    };
    try {
      await round(200);
      const before = heapUsed();
      await round(1000);
      const grownMiB = (heapUsed() - before) / 2 ** 20;
      expect(grownMiB).toBeLessThan(8);

      client.send({ type: 'ask', id: 'still-here', question: good });
      const answer = await client.next(isType('answer', 'still-here'));
      expect((answer['advice'] as Advice).options.length).toBeGreaterThan(0);

      const metrics = await (await fetch(`${running().url}/metrics`)).text();
      expect(metrics).toMatch(/berth_advisor_bad_questions_total\{field="os\.family"\} \d+/);
      expect(metrics).toMatch(/berth_advisor_ws_frames_in_total \d{4}/);
      expect(metrics).toMatch(/berth_advisor_ws_clients 1/);
    } finally {
      await client.close();
    }
  });

  it('drops frames for a client that does not read, closes it, and keeps serving the others', async () => {
    const limited = await serverOver(running(), {
      logger: silentLogger,
      host: '127.0.0.1',
      port: 0,
      health: () => ({ healthy: true, problems: [] }),
      socketLimits: { bufferLimitBytes: 64 * 1024, slowCloseMs: 300 },
    });
    const base = `${limited.address().replace(/^http/, 'ws')}/v1/ws`;
    const slow = await openTestSocket(base);
    const fast = await openTestSocket(base);
    try {
      slow.socket.pause();
      const count = async (counter: Counter): Promise<number> =>
        (await counter.get()).values[0]?.value ?? 0;
      let slowClosed = false;
      for (let sent = 0; sent < 5000 && !slowClosed; sent += 1) {
        slow.send({ type: 'ask', question: goodQuestion() });
        if (sent % 50 === 0) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          slowClosed = (await count(limited.metrics.slowClientsClosed)) > 0;
        }
      }
      expect(slowClosed).toBe(true);
      expect(await count(limited.metrics.framesDropped)).toBeGreaterThan(0);

      // The flood may leave the advisor overloaded for a moment: a refused question is asked
      // again after Retry-After, as a client should, and is answered.
      let frame: Record<string, unknown> = {};
      for (let tries = 0; tries < 5; tries += 1) {
        fast.send({ type: 'ask', id: 'fast', question: goodQuestion() });
        frame = await fast.next(
          (each) =>
            each['id'] === 'fast' &&
            (each['type'] === 'answer' || each['code'] === 'BERTH_ERR_BUSY'),
          5_000,
        );
        if (frame['type'] === 'answer') break;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      expect(frame['why']).toBe('asked');
    } finally {
      slow.socket.terminate();
      await fast.close();
      await limited.close();
    }
  });

  it('wants the token on the socket when it has one, in the header or the query', async () => {
    const token = 'ws-token-8125';
    const guarded = await serverOver(running(), {
      logger: silentLogger,
      host: '0.0.0.0',
      port: 0,
      token,
      health: () => ({ healthy: true, problems: [] }),
    });
    const base = `ws://127.0.0.1:${new URL(guarded.address()).port}/v1/ws`;
    try {
      await expect(openTestSocket(base)).rejects.toThrow(/401/);
      const byHeader = await openTestSocket(base, { authorization: `Bearer ${token}` });
      const byQuery = await openTestSocket(`${base}?token=${token}`);
      byQuery.send({ type: 'ask', question: goodQuestion() });
      expect((await byQuery.next()).type).toBe('answer');

      const closed = new Promise<number>((resolve) => {
        byHeader.socket.once('close', (code: number) => {
          resolve(code);
        });
      });
      await guarded.close();
      expect(await closed).toBe(CLOSE_GOING_AWAY);
    } finally {
      await guarded.close().catch(() => undefined);
    }
  });
});
