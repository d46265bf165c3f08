import { afterEach, describe, expect, it } from 'vitest';
import { createPressure, type Pressure } from '../../services/advisor/load-shedding.ts';
import { buildFakeApp, goodQuestion, type FakeApp } from '../../support/advisor.ts';

/** A pressure that says what the test sets. */
function settablePressure(): Pressure & { set(overloaded: boolean): void } {
  let overloaded = false;
  return {
    overloaded: () => overloaded,
    timed: (answer) => answer(),
    retryAfterSeconds: 1,
    close: () => undefined,
    set: (value) => {
      overloaded = value;
    },
  };
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

let fake: FakeApp | undefined;

afterEach(async () => {
  await fake?.app.close();
  fake = undefined;
});

describe('the advisor under overload', () => {
  it('POST /v1/advice answers 503 with Retry-After and BERTH_ERR_BUSY, and asks the advisor nothing', async () => {
    const pressure = settablePressure();
    fake = await buildFakeApp({ pressure });
    pressure.set(true);
    const refused = await fake.app.inject({
      method: 'POST',
      url: '/v1/advice',
      payload: goodQuestion(),
    });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toEqual({
      error: { code: 'BERTH_ERR_BUSY', message: 'the advisor is overloaded; ask again in 1 s' },
    });
    expect(fake.calls.asked).toEqual([]);
    const health = await fake.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    const metrics = await fake.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/berth_advisor_busy_refusals_total\{via="http"\} 1/);

    pressure.set(false);
    const answered = await fake.app.inject({
      method: 'POST',
      url: '/v1/advice',
      payload: goodQuestion(),
    });
    expect(answered.statusCode).toBe(200);
    expect(fake.calls.asked).toHaveLength(1);
  });

  it('an ask frame gets a busy error frame with its id, and the socket stays open', async () => {
    const pressure = settablePressure();
    fake = await buildFakeApp({ pressure });
    const socket = await fake.app.injectWS('/v1/ws');
    try {
      const frames: unknown[] = [];
      socket.on('message', (data: Buffer) => frames.push(JSON.parse(data.toString('utf8'))));
      pressure.set(true);
      socket.send(JSON.stringify({ type: 'ask', id: 'q1', question: goodQuestion() }));
      await expect.poll(() => frames.length).toBe(1);
      expect(frames[0]).toEqual({
        type: 'error',
        id: 'q1',
        code: 'BERTH_ERR_BUSY',
        field: '(the frame)',
        message: 'the advisor is overloaded; ask again in 1 s',
      });
      pressure.set(false);
      socket.send(JSON.stringify({ type: 'ask', id: 'q2', question: goodQuestion() }));
      await expect.poll(() => frames.length).toBe(2);
      expect(frames[1]).toMatchObject({ type: 'answer', id: 'q2' });
      expect(fake.calls.asked).toHaveLength(1);
    } finally {
      socket.terminate();
    }
  });

  it('is overloaded for a window when answering held the event loop past its delay, not when other work did', async () => {
    const pressure = createPressure({
      maxEventLoopDelayMs: 500,
      minAnsweringShare: 0.5,
      windowMs: 200,
    });
    const block = (ms: number): void => {
      const until = Date.now() + ms;
      while (Date.now() < until);
    };
    try {
      // monitorEventLoopDelay measures from its second tick on.
      await sleep(50);
      block(1_000);
      await sleep(20);
      expect(pressure.overloaded()).toBe(false);
      await sleep(250);
      pressure.timed(() => {
        block(1_000);
      });
      // The window read just after the block holds it: overloaded until the next read.
      await sleep(20);
      expect(pressure.overloaded()).toBe(true);
      await sleep(700);
      expect(pressure.overloaded()).toBe(false);
    } finally {
      pressure.close();
    }
  });

  it('is overloaded while the engine threads hold more questions than they answer within the delay', () => {
    let backlogMs = 0;
    const pressure = createPressure(
      { maxEventLoopDelayMs: 1_000, minAnsweringShare: 0.5, windowMs: 200 },
      () => backlogMs,
    );
    try {
      expect(pressure.overloaded()).toBe(false);
      backlogMs = 1_001;
      expect(pressure.overloaded()).toBe(true);
      backlogMs = 999;
      expect(pressure.overloaded()).toBe(false);
    } finally {
      pressure.close();
    }
  });
});
