import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFakeApp, goodQuestion, type FakeApp } from '../../support/advisor.ts';

const TOKEN = 'unit-token-5150';

/** Every route that wants the token, as [method, url]. */
const GUARDED: readonly (readonly ['GET' | 'POST', string])[] = [
  ['POST', '/v1/advice'],
  ['GET', '/v1/advice'],
  ['GET', '/v1/advice/adv-known'],
  ['GET', '/v1/hosts'],
  ['POST', '/v1/hosts/host-a/runs'],
  ['GET', '/v1/results'],
  ['GET', '/v1/results/values?workload=cpu-sha256'],
  ['GET', '/v1/published'],
  ['GET', '/v1/dead-letters'],
  ['GET', '/metrics'],
  ['GET', '/openapi.json'],
  ['GET', '/v1/nowhere'],
];

/** The routes anyone may load: health and the dashboard's code. */
const PUBLIC = ['/healthz', '/', '/dashboard/app.js', '/dashboard/app.css'];

function closeSocket(socket: Awaited<ReturnType<FastifyInstance['injectWS']>>): Promise<void> {
  return new Promise((resolve) => {
    socket.once('close', () => {
      resolve();
    });
    socket.close();
  });
}

describe('with a token', () => {
  let fake: FakeApp;

  beforeAll(async () => {
    fake = await buildFakeApp({ token: TOKEN });
  });

  afterAll(async () => {
    await fake.app.close();
  });

  const inject = (method: 'GET' | 'POST', url: string, headers: Record<string, string> = {}) =>
    fake.app.inject({
      method,
      url,
      headers,
      ...(method === 'POST' && url === '/v1/advice' ? { body: goodQuestion() } : {}),
    });

  it.each(GUARDED)(
    '%s %s wants it: 401 without it, with a wrong one or in the query',
    async (method, url) => {
      for (const response of [
        await inject(method, url),
        await inject(method, url, { authorization: 'Bearer nope' }),
        await inject(method, `${url}${url.includes('?') ? '&' : '?'}token=${TOKEN}`),
      ]) {
        expect(response.statusCode).toBe(401);
        expect(JSON.parse(response.body)).toEqual({
          error: { code: 'BERTH_ERR_UNAUTHORIZED', message: 'send Authorization: Bearer <token>' },
        });
      }
      const right = await inject(method, url, { authorization: `Bearer ${TOKEN}` });
      expect(right.statusCode).toBe(url === '/v1/nowhere' ? 404 : 200);
    },
  );

  it('the dependencies are not reached without it', async () => {
    const asked = fake.calls.asked.length;
    const deadLetters = fake.calls.deadLetters.length;
    await inject('POST', '/v1/advice');
    await inject('GET', '/v1/dead-letters');
    expect(fake.calls.asked).toHaveLength(asked);
    expect(fake.calls.deadLetters).toHaveLength(deadLetters);
  });

  it.each(PUBLIC)('%s is open to anyone', async (url) => {
    expect((await fake.app.inject(url)).statusCode).toBe(200);
  });

  it('takes it on the WebSocket in the Authorization header or the query, and nowhere else', async () => {
    await expect(fake.app.injectWS('/v1/ws')).rejects.toThrow(/401/);
    await expect(
      fake.app.injectWS('/v1/ws', { headers: { authorization: 'Bearer nope' } }),
    ).rejects.toThrow(/401/);
    await expect(fake.app.injectWS('/v1/ws?token=nope')).rejects.toThrow(/401/);
    await closeSocket(
      await fake.app.injectWS('/v1/ws', { headers: { authorization: `Bearer ${TOKEN}` } }),
    );
    await closeSocket(await fake.app.injectWS(`/v1/ws?token=${TOKEN}`));
  });
});

describe('without a token (on loopback)', () => {
  it('wants none', async () => {
    const fake = await buildFakeApp();
    try {
      for (const [method, url] of GUARDED) {
        const response = await fake.app.inject({
          method,
          url,
          ...(url === '/v1/advice' && method === 'POST' ? { body: goodQuestion() } : {}),
        });
        expect(response.statusCode, `${method} ${url}`).toBe(url === '/v1/nowhere' ? 404 : 200);
      }
      await closeSocket(await fake.app.injectWS('/v1/ws'));
    } finally {
      await fake.app.close();
    }
  });
});
