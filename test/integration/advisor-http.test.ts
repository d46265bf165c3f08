import { describe, expect, it } from 'vitest';
import type { Advice } from '../../contracts/advice.ts';
import { pino } from 'pino';
import { isBerthError } from '../../contracts/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import { CONTAINER, CONTAINER_IN_VM_TCG, PROCESS, VM_TCG } from '../../support/advice-fixtures.ts';
import {
  acceptJobs,
  goodQuestion,
  measuredPlatforms,
  platformResults,
  seedInventory,
  seedMeasuredHost,
  seedResults,
  seedStaleHost,
  type AdvisorStackOptions,
  serverOver,
  waitForAcceptedRun,
} from '../../support/advisor.ts';
import { advisorStacks } from '../../support/hooks.ts';
import { BACKENDS } from '../../support/servers.ts';

/** `running()` is the stack of the describe block running now. */
const { running, forBlock } = advisorStacks();

async function post(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${running().url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

interface ErrorReply {
  error: { code: string; field?: string; message: string };
}

/**
 * Gives the enclosing describe block a stack of its own, with host-a measured on every
 * platform, and stops it after the block (chDB takes one store at a time in a process).
 */
function onAdvisorStack(options: AdvisorStackOptions = {}): void {
  forBlock(options, async (stack) => {
    expect(stack.ingest.testStore.store.backend).toBe(options.backend ?? 'chdb');
    await seedMeasuredHost(stack, 'host-a', [PROCESS, CONTAINER, VM_TCG, CONTAINER_IN_VM_TCG]);
  });
}

async function ask(question: unknown): Promise<Advice> {
  const response = await post('/v1/advice', question);
  expect(response.status).toBe(200);
  return (await response.json()) as Advice;
}

describe.each(BACKENDS)('the advisor over HTTP on %s', (backend) => {
  // No cooldown, so every stale answer asks its host again; no answers kept in memory, so
  // each one read by id comes back from the audit log in the store.
  onAdvisorStack({ backend, advisor: { jobCooldownMs: 0 }, audit: { recent: 0 } });

  it('gives an answer back by id from the audit log in the store', async () => {
    const advice = await ask(goodQuestion());
    await running().audit.flush();
    const again = await fetch(`${running().url}/v1/advice/${advice.id}`);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(advice);

    const missing = await fetch(`${running().url}/v1/advice/adv-nothing-here`);
    expect(missing.status).toBe(404);
  });

  it('shows the evidence filtered, with each figure against the bare process', async () => {
    const response = await fetch(`${running().url}/v1/results?host=host-a&workload=cpu-sha256`);
    expect(response.status).toBe(200);
    const { results } = (await response.json()) as {
      results: { platform: string; workload: string; ratioToProcess: number | null }[];
    };
    expect(results.map((row) => row.platform).sort()).toEqual([
      'container',
      'container-in-vm',
      'process',
      'vm',
    ]);
    expect(results.every((row) => row.workload === 'cpu-sha256')).toBe(true);
    const ratio = (platform: string): number | null | undefined =>
      results.find((row) => row.platform === platform)?.ratioToProcess;
    expect(ratio('process')).toBe(1);
    expect(ratio('container')).toBeCloseTo(0.99, 5);
    expect(ratio('vm')).toBeCloseTo(1 / 45, 5);

    const startup = await fetch(`${running().url}/v1/results?platform=vm&workload=instance`);
    const rows = ((await startup.json()) as { results: { metric: string }[] }).results;
    expect(rows.map((row) => row.metric).sort()).toEqual([
      'density',
      'memory-overhead',
      'memory-peak',
      'startup',
    ]);
  });

  it('an answer changes when new measurements arrive', async () => {
    const hostId = 'host-new';
    await seedInventory(running(), hostId);
    await seedResults(
      running(),
      [PROCESS, CONTAINER].flatMap((figures) => platformResults(hostId, figures)),
    );
    const question = goodQuestion({ hosts: [hostId] });
    const before = await ask(question);
    expect(measuredPlatforms(before)).not.toContain('vm');

    await seedResults(
      running(),
      [VM_TCG, CONTAINER_IN_VM_TCG].flatMap((figures) => platformResults(hostId, figures)),
    );

    const after = await ask(question);
    expect(after.id).not.toBe(before.id);
    expect(measuredPlatforms(after)).toContain('vm');
  });

  it('a stale answer triggers a job on the agent subject', async () => {
    const hostId = 'host-old';
    const agent = acceptJobs(running().ingest.nc, hostId);
    try {
      await seedStaleHost(running(), hostId);
      const advice = await ask(goodQuestion({ hosts: [hostId] }));
      expect(advice.options.flatMap((option) => option.evidence).some((e) => e.stale)).toBe(true);

      await agent.waitForRequest();
      expect(agent.requests[0]).toMatchObject({ hostId, requestedBy: 'advisor', suite: 'quick' });
      await waitForAcceptedRun(running(), hostId);
    } finally {
      agent.stop();
    }
  });
});

describe('the advisor over HTTP', () => {
  onAdvisorStack();

  it('answers a good question with ranked options, and gives the answer again by id', async () => {
    const response = await post('/v1/advice', goodQuestion());
    expect(response.status).toBe(200);
    const advice = (await response.json()) as Advice;
    expect(advice.schemaVersion).toBe(1);
    expect(advice.options.length).toBeGreaterThan(1);
    const scores = advice.options.map((option) => option.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(
      advice.options.flatMap((option) => option.evidence).some((e) => e.source === 'measured'),
    ).toBe(true);
    expect(advice.hosts.some((fit) => fit.hostId === 'host-a')).toBe(true);

    const again = await fetch(`${running().url}/v1/advice/${advice.id}`);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(advice);

    const missing = await fetch(`${running().url}/v1/advice/adv-nothing-here`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorReply).error.code).toBe('BERTH_ERR_NOT_FOUND');
  });

  const good = goodQuestion();
  const badQuestions: readonly [string, unknown, string][] = [
    ['an array', [good], '(the question)'],
    ['a number', 42, '(the question)'],
    ['no workload', { ...good, workload: undefined }, 'workload'],
    ['an empty workload', { ...good, workload: '' }, 'workload'],
    ['an unknown OS family', { ...good, os: { family: 'plan9' } }, 'os.family'],
    [
      'a kernel that is not a range',
      { ...good, os: { family: 'linux', kernel: 'six' } },
      'os.kernel',
    ],
    ['an unknown os field', { ...good, os: { family: 'linux', colour: 'red' } }, 'os.colour'],
    ['a negative lifetime', { ...good, lifetimeSeconds: -1 }, 'lifetimeSeconds'],
    ['a lifetime as text', { ...good, lifetimeSeconds: '180' }, 'lifetimeSeconds'],
    ['zero instances', { ...good, instances: 0 }, 'instances'],
    ['fractional instances', { ...good, instances: 1.5 }, 'instances'],
    ['an unknown trust', { ...good, trust: 'maybe' }, 'trust'],
    ['a zero start-up budget', { ...good, startupBudgetMs: 0 }, 'startupBudgetMs'],
    ['an unknown sensitivity', { ...good, sensitivity: ['gpu'] }, 'sensitivity[0]'],
    ['a repeated sensitivity', { ...good, sensitivity: ['cpu', 'cpu'] }, 'sensitivity'],
    ['an unsafe host id', { ...good, hosts: ['host a'] }, 'hosts[0]'],
    ['an unknown host', { ...good, hosts: ['host-a', 'host-nowhere'] }, 'hosts[1]'],
    ['a field the question lacks', { ...good, colour: 'blue' }, 'colour'],
  ];

  it.each(badQuestions)('refuses %s with 400 naming the field', async (_kind, body, field) => {
    const response = await post('/v1/advice', body);
    expect(response.status).toBe(400);
    const reply = (await response.json()) as ErrorReply;
    expect(reply.error.code).toBe('BERTH_ERR_QUESTION');
    expect(reply.error.field).toBe(field);
    expect(reply.error.message).toContain(field);
  });

  it('refuses a body that is not JSON, empty, too large or of another type, and keeps serving', async () => {
    const notJson = await post('/v1/advice', '{"workload": ');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as ErrorReply).error).toMatchObject({
      code: 'BERTH_ERR_NOT_JSON',
    });

    const empty = await post('/v1/advice', '');
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as ErrorReply).error.code).toBe('BERTH_ERR_NOT_JSON');

    const large = await post('/v1/advice', { ...good, workload: 'x'.repeat(70_000) });
    expect(large.status).toBe(413);
    expect(((await large.json()) as ErrorReply).error.code).toBe('BERTH_ERR_TOO_LARGE');

    const text = await post('/v1/advice', 'hello', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(((await text.json()) as ErrorReply).error.code).toBe('BERTH_ERR_NOT_JSON');

    expect((await post('/v1/advice', good)).status).toBe(200);
  });

  it('lists the fleet with inventory, heartbeat age and platforms', async () => {
    const response = await fetch(`${running().url}/v1/hosts`);
    expect(response.status).toBe(200);
    const { hosts } = (await response.json()) as { hosts: Record<string, unknown>[] };
    const host = hosts.find((each) => each['hostId'] === 'host-a');
    expect(host).toMatchObject({
      hostId: 'host-a',
      busy: false,
      inventory: { memoryBytes: 24 * 2 ** 30, os: { kernel: '6.1.0-56-amd64' }, cgroup: 'v2' },
    });
    expect(host?.['heartbeatAgeMs']).toBeGreaterThanOrEqual(0);
    expect(host?.['platforms']).toContainEqual({
      platform: 'vm',
      runtime: 'libvirt',
      available: false,
      reason: "libvirt's test driver runs no guest",
    });
  });

  it('refuses /v1/results parameters it does not take, naming each', async () => {
    for (const [query, field] of [
      ['host=host%20a', 'host'],
      ['platform=vm.*', 'platform'],
      ['workload=a&workload=b', 'workload'],
      ['colour=red', 'colour'],
    ] as const) {
      const bad = await fetch(`${running().url}/v1/results?${query}`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as ErrorReply).error).toMatchObject({
        code: 'BERTH_ERR_PARAMETER',
        field,
      });
    }
  });

  it('reports health, metrics and its OpenAPI document', async () => {
    const health = await fetch(`${running().url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', problems: [] });

    const metrics = await (await fetch(`${running().url}/metrics`)).text();
    expect(metrics).toMatch(/berth_advisor_answers_total\{via="http",why="asked"\} [1-9]/);
    expect(metrics).toMatch(/berth_advisor_bad_questions_total\{field="os.family"\} [1-9]/);
    expect(metrics).toMatch(/berth_advisor_bad_questions_total\{field="hosts\[\]"\} [1-9]/);
    expect(metrics).toContain('berth_advisor_answer_seconds_bucket');
    expect(metrics).toContain('berth_advisor_ws_clients 0');
    expect(metrics).toContain('berth_advisor_ws_frames_dropped_total');

    const openApi = (await (await fetch(`${running().url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(openApi.openapi).toBe('3.1.0');
    expect(Object.keys(openApi.paths)).toEqual(
      expect.arrayContaining([
        '/v1/advice',
        '/v1/advice/{id}',
        '/v1/hosts',
        '/v1/results',
        '/v1/ws',
      ]),
    );
    expect(Object.keys(openApi.components.schemas['AdviceQuestion']?.properties ?? {})).toContain(
      'lifetimeSeconds',
    );
  });

  it('says 503 with the problems when unhealthy', async () => {
    const sick = await serverOver(running(), {
      logger: silentLogger,
      host: '127.0.0.1',
      port: 0,
      health: () => ({ healthy: false, problems: ['NATS is not connected'] }),
    });
    try {
      const response = await fetch(`${sick.address()}/healthz`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        status: 'unhealthy',
        problems: ['NATS is not connected'],
      });
    } finally {
      await sick.close();
    }
  });

  describe('off loopback', () => {
    it('refuses to start without a token', async () => {
      const attempt = serverOver(running(), {
        logger: silentLogger,
        host: '0.0.0.0',
        port: 0,
        health: () => ({ healthy: true, problems: [] }),
      });
      await expect(attempt).rejects.toSatisfy(
        (error: unknown) =>
          isBerthError(error, 'BERTH_ERR_CONFIG') && /not a loopback address/.test(error.message),
      );
    });

    it('wants the token on every request but /healthz, and never logs it', async () => {
      const token = 'sekrit-token-4711';
      const lines: string[] = [];
      const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
      const guarded = await serverOver(running(), {
        logger,
        host: '0.0.0.0',
        port: 0,
        token,
        health: () => ({ healthy: true, problems: [] }),
      });
      const port = new URL(guarded.address()).port;
      const base = `http://127.0.0.1:${port}`;
      try {
        const bare = await fetch(`${base}/v1/advice`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(goodQuestion()),
        });
        expect(bare.status).toBe(401);
        expect(((await bare.json()) as ErrorReply).error.code).toBe('BERTH_ERR_UNAUTHORIZED');
        const wrong = await fetch(`${base}/v1/hosts`, {
          headers: { authorization: 'Bearer nope' },
        });
        expect(wrong.status).toBe(401);
        const inQuery = await fetch(`${base}/v1/hosts?token=${token}`);
        expect(inQuery.status).toBe(401);
        const right = await fetch(`${base}/v1/advice`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(goodQuestion()),
        });
        expect(right.status).toBe(200);
        expect((await fetch(`${base}/healthz`)).status).toBe(200);
        expect(lines.length).toBeGreaterThan(0);
        expect(lines.join('')).not.toContain(token);
      } finally {
        await guarded.close();
      }
    });
  });
});
