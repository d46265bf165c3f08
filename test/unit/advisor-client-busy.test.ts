import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AdviceV1 } from '../../contracts/advice.ts';
import { askAdvisor, type AdvisorClientConfig } from '../../services/advisor/client.ts';
import { fakeAdvice, goodQuestion } from '../../support/advisor.ts';

const BUSY = JSON.stringify({
  error: { code: 'BERTH_ERR_BUSY', message: 'the advisor is overloaded; ask again in 1 s' },
});

let server: Server | undefined;

afterEach(async () => {
  const closing = server;
  if (closing !== undefined) {
    await new Promise((resolve) => {
      closing.close(resolve);
    });
  }
  server = undefined;
});

/** A server that answers 503 busy (Retry-After: 0) `busyTimes` times, then the advice. */
async function advisorBusyFor(
  busyTimes: number,
): Promise<{ config: AdvisorClientConfig; asked: () => number }> {
  let asked = 0;
  server = createServer((request, response) => {
    asked += 1;
    request.resume();
    if (asked <= busyTimes) {
      response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
      response.end(BUSY);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(fakeAdvice(goodQuestion())));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    config: {
      advisorHost: '127.0.0.1',
      advisorPort: port,
      advisorToken: undefined,
      advisorTlsCert: undefined,
      advisorClientCert: undefined,
      advisorClientKey: undefined,
    },
    asked: () => asked,
  };
}

const ask = (config: AdvisorClientConfig): Promise<unknown> =>
  askAdvisor(config, {
    method: 'POST',
    path: '/v1/advice',
    body: goodQuestion(),
    answer: AdviceV1,
  });

describe('the advisor client and an overloaded advisor', () => {
  it('asks again after Retry-After while the advisor is busy, and takes the answer', async () => {
    const { config, asked } = await advisorBusyFor(2);
    await expect(ask(config)).resolves.toMatchObject({ id: 'adv-fake' });
    expect(asked()).toBe(3);
  });

  it('gives up after three more tries, naming the status and the reason', async () => {
    const { config, asked } = await advisorBusyFor(10);
    await expect(ask(config)).rejects.toThrow(/answered 503: the advisor is overloaded/);
    expect(asked()).toBe(4);
  });
});
