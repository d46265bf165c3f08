import { afterEach, describe, expect, it } from 'vitest';
import type { ApiErrorBody } from '../../contracts/advisor-api.ts';
import type { AdvisorAppDeps } from '../../services/advisor/app.ts';
import { BerthError } from '../../contracts/index.ts';
import { hostView, publishedFigures, resultViews } from '../../services/advisor/views.ts';
import {
  buildFakeApp,
  fakeAdvice,
  fakeDeadLetter,
  goodQuestion,
  type FakeApp,
} from '../../support/advisor.ts';

let fake: FakeApp | undefined;

/** Expects a response to be `status` with the error body of `error`. */
function expectRefusal(
  response: { readonly statusCode: number; readonly body: string },
  status: number,
  error: ApiErrorBody['error'],
): void {
  expect({ status: response.statusCode, body: JSON.parse(response.body) as unknown }).toEqual({
    status,
    body: { error },
  });
}

/** The app over the fakes, with `overrides`; closed after each test. */
async function open(overrides: Partial<AdvisorAppDeps> = {}): Promise<FakeApp> {
  fake = await buildFakeApp(overrides);
  return fake;
}

afterEach(async () => {
  await fake?.app.close();
  fake = undefined;
});

describe('each route', () => {
  it('POST /v1/advice answers a good question, as the advisor gave it, and counts it', async () => {
    const { app, calls, deps } = await open();
    const question = goodQuestion({ hosts: ['host-a'] });
    const response = await app.inject({ method: 'POST', url: '/v1/advice', body: question });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.body).toBe(JSON.stringify(fakeAdvice(question)));
    expect(calls.asked).toEqual([question]);
    expect(await deps.metrics.registry.metrics()).toMatch(
      /berth_advisor_answers_total\{via="http",why="asked"\} 1/,
    );
  });

  it('GET /v1/advice lists answers by limit and before, 50 when no limit is given', async () => {
    const { app, calls } = await open();
    const listed = await app.inject('/v1/advice?limit=2&before=1764000000000');
    expect(listed.statusCode).toBe(200);
    const known = fakeAdvice(goodQuestion(), 'adv-known');
    expect(JSON.parse(listed.body)).toEqual({
      answers: [
        {
          id: 'adv-known',
          answeredAt: known.answeredAt,
          workload: known.question.workload,
          topPlacement: '',
          confidence: known.confidence.value,
        },
      ],
    });
    await app.inject('/v1/advice');
    expect(calls.history).toEqual([{ limit: 2, before: 1_764_000_000_000 }, { limit: 50 }]);
  });

  it('GET /v1/advice/:id gives an answer again, or 404 naming the id', async () => {
    const { app } = await open();
    const again = await app.inject('/v1/advice/adv-known');
    expect(again.statusCode).toBe(200);
    expect(again.body).toBe(JSON.stringify(fakeAdvice(goodQuestion(), 'adv-known')));
    const missing = await app.inject('/v1/advice/adv-nothing-here');
    expectRefusal(missing, 404, {
      code: 'BERTH_ERR_NOT_FOUND',
      field: 'id',
      message: 'no answer with that id',
    });
  });

  it('GET /v1/hosts lists the fleet', async () => {
    const { app, deps } = await open();
    const response = await app.inject('/v1/hosts');
    expect(response.statusCode).toBe(200);
    const [host] = deps.fleet.hosts();
    if (host === undefined) throw new Error('the fake fleet has no host');
    const { hosts } = JSON.parse(response.body) as { hosts: { heartbeatAgeMs: number }[] };
    const age = hosts[0]?.heartbeatAgeMs ?? -1;
    expect(age).toBeGreaterThanOrEqual(0);
    expect(hosts).toEqual([hostView(host, host.lastSeenAt + age)]);
  });

  it('POST /v1/hosts/:hostId/runs asks a known host for a run, and refuses another', async () => {
    const { app, calls } = await open();
    const run = await app.inject({ method: 'POST', url: '/v1/hosts/host-a/runs' });
    expect(run.statusCode).toBe(200);
    expect(JSON.parse(run.body)).toMatchObject({ hostId: 'host-a', state: 'accepted' });
    const unknown = await app.inject({ method: 'POST', url: '/v1/hosts/host-nowhere/runs' });
    expectRefusal(unknown, 404, {
      code: 'BERTH_ERR_NOT_FOUND',
      field: 'hostId',
      message: 'no host "host-nowhere" is known (see GET /v1/hosts)',
    });
    expect(calls.runs).toEqual(['host-a']);
  });

  it('GET /v1/results gives the evidence filtered, and says when it may be out of date', async () => {
    const { app, deps } = await open();
    const response = await app.inject('/v1/results?host=host-a&workload=cpu-sha256');
    expect(response.statusCode).toBe(200);
    const results = resultViews(deps.evidence.rows(), { host: 'host-a', workload: 'cpu-sha256' });
    expect(results.length).toBeGreaterThan(1);
    expect(response.body).toBe(JSON.stringify({ readAt: 1_764_000_000_000, results }));

    await app.close();
    const stale = await open({
      evidence: { ...deps.evidence, problem: () => 'the store did not answer' },
    });
    const withProblem = JSON.parse((await stale.app.inject('/v1/results')).body) as object;
    expect(withProblem).toMatchObject({ problem: 'the store did not answer' });
  });

  it('GET /v1/results/values reads the values by workload, narrowed, 200 per series by default', async () => {
    const { app, calls } = await open();
    const narrowed = await app.inject(
      '/v1/results/values?workload=cpu-sha256&metric=throughput&host=host-a&platform=process&limit=3',
    );
    expect(narrowed.statusCode).toBe(200);
    expect(JSON.parse(narrowed.body)).toMatchObject({
      truncated: false,
      series: [{ values: [{}] }],
    });
    await app.inject('/v1/results/values?workload=instance');
    expect(calls.values).toEqual([
      {
        workload: 'cpu-sha256',
        metric: 'throughput',
        hostId: 'host-a',
        platform: 'process',
        limit: 3,
      },
      { workload: 'instance', limit: 200 },
    ]);
  });

  it('GET /v1/published gives the published figures', async () => {
    const { app } = await open();
    const response = await app.inject('/v1/published');
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe(JSON.stringify(publishedFigures()));
  });

  it('GET /healthz says ok, or 503 with the problems', async () => {
    const { app } = await open();
    const healthy = await app.inject('/healthz');
    expect(healthy.statusCode).toBe(200);
    expect(JSON.parse(healthy.body)).toEqual({ status: 'ok', problems: [] });

    await app.close();
    const sick = await open({
      health: () => ({ healthy: false, problems: ['NATS is not connected'] }),
    });
    const unhealthy = await sick.app.inject('/healthz');
    expect(unhealthy.statusCode).toBe(503);
    expect(JSON.parse(unhealthy.body)).toEqual({
      status: 'unhealthy',
      problems: ['NATS is not connected'],
    });
  });

  it('GET /metrics gives the Prometheus text', async () => {
    const { app } = await open();
    const response = await app.inject('/metrics');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.body).toContain('berth_advisor_ws_clients 0');
  });

  it('GET /v1/ws answers a question asked on the socket', async () => {
    const { app } = await open();
    const socket = await app.injectWS('/v1/ws');
    try {
      const answer = new Promise<unknown>((resolve) => {
        socket.once('message', (data: Buffer) => {
          resolve(JSON.parse(data.toString('utf8')));
        });
      });
      socket.send(JSON.stringify({ type: 'ask', id: 'q1', question: goodQuestion() }));
      expect(await answer).toEqual({
        type: 'answer',
        id: 'q1',
        advice: fakeAdvice(goodQuestion()),
        why: 'asked',
      });
    } finally {
      socket.terminate();
    }
    const plain = await app.inject('/v1/ws');
    expect(plain.statusCode).toBe(404);
  });
});

describe('GET /v1/dead-letters', () => {
  it('gives the newest 50, oldest first, or as many as the limit says', async () => {
    const { app, calls } = await open();
    const newest = await app.inject('/v1/dead-letters');
    expect(newest.statusCode).toBe(200);
    const expected = Array.from({ length: 50 }, (_, index) => fakeDeadLetter(71 + index));
    expect(newest.body).toBe(JSON.stringify({ deadLetters: expected }));

    const three = await app.inject('/v1/dead-letters?limit=3');
    expect(JSON.parse(three.body)).toEqual({
      deadLetters: [fakeDeadLetter(118), fakeDeadLetter(119), fakeDeadLetter(120)],
    });
    await app.inject('/v1/dead-letters?limit=100000');
    expect(calls.deadLetters).toEqual([50, 3, 100_000]);
  });

  it('says 503 when NATS does not give them', async () => {
    const { app } = await open({
      deadLetters: () => Promise.reject(new Error('TIMEOUT')),
    });
    const response = await app.inject('/v1/dead-letters');
    expectRefusal(response, 503, {
      code: 'BERTH_ERR_NATS_UNREACHABLE',
      message: 'the dead letters could not be read from NATS (stream BERTH_DLQ): TIMEOUT',
    });
  });
});

describe('errors', () => {
  it('a dependency that throws is a 500 BERTH_ERR_INTERNAL that leaks nothing of it', async () => {
    const failure = new Error('secret detail from /srv/berth/store.ts');
    const { app } = await open({
      resultValues: () => {
        throw failure;
      },
    });
    const response = await app.inject('/v1/results/values?workload=cpu-sha256');
    expectRefusal(response, 500, {
      code: 'BERTH_ERR_INTERNAL',
      message: 'the advisor failed on this request; its log says why',
    });
    expect(response.body).not.toContain('secret');
    expect(response.body).not.toMatch(/\bat \S+:\d+/);
  });

  it('a Berth error keeps its code', async () => {
    const { app } = await open({
      resultValues: () =>
        Promise.reject(new BerthError('BERTH_ERR_STORE_QUERY', 'the store refused the query')),
    });
    const response = await app.inject('/v1/results/values?workload=cpu-sha256');
    expectRefusal(response, 500, {
      code: 'BERTH_ERR_STORE_QUERY',
      message: 'the advisor failed on this request; its log says why',
    });
  });

  it('an unknown route is a 404 naming it, without its query', async () => {
    const { app } = await open();
    const response = await app.inject({ method: 'DELETE', url: '/v1/nowhere?token=x' });
    expectRefusal(response, 404, {
      code: 'BERTH_ERR_NOT_FOUND',
      message: 'no route DELETE /v1/nowhere',
    });
  });

  it('bodies go out as the routes build them, not reshaped to their schema', async () => {
    const advice = { ...fakeAdvice(goodQuestion(), 'adv-known'), note: 'not in the contract' };
    const { app, deps } = await open();
    const { advisor } = deps;
    await app.close();
    const extra = await open({
      advisor: { ...advisor, get: () => Promise.resolve(advice) },
      evidence: { ...deps.evidence, readAt: () => 1.5 },
    });
    expect((await extra.app.inject('/v1/advice/adv-known')).body).toBe(JSON.stringify(advice));
    const results = JSON.parse((await extra.app.inject('/v1/results')).body) as object;
    expect(results).toMatchObject({ readAt: 1.5 });
  });
});
