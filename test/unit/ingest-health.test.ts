import { Gauge, Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHealthTracker } from '../../services/ingest/health.ts';

/** A tracker with a gauge of its own, and a way to read that gauge. */
function tracker() {
  const gauge = new Gauge({ name: 'healthy', help: 'test', registers: [new Registry()] });
  const health = createHealthTracker(gauge);
  const gaugeValue = async (): Promise<number | undefined> => (await gauge.get()).values[0]?.value;
  return { health, gaugeValue };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('ingest health', () => {
  it('is healthy with no problems, and publish sets the gauge to 1', async () => {
    const { health, gaugeValue } = tracker();
    expect(health.report()).toEqual({ healthy: true, problems: [] });
    health.publish();
    expect(await gaugeValue()).toBe(1);
  });

  it('reports why the store failed until a write succeeds, and mirrors it in the gauge', async () => {
    const { health, gaugeValue } = tracker();
    health.setStoreProblem('batch not written: connection refused');
    expect(health.storeProblem).toBe('batch not written: connection refused');
    expect(health.report()).toEqual({
      healthy: false,
      problems: ['batch not written: connection refused'],
    });
    expect(await gaugeValue()).toBe(0);
    health.setStoreProblem(undefined);
    expect(health.report()).toEqual({ healthy: true, problems: [] });
    expect(await gaugeValue()).toBe(1);
  });

  it('reports a lost NATS connection until it is back, NATS first', async () => {
    const { health, gaugeValue } = tracker();
    health.setStoreProblem('batch not written: timeout');
    health.setNatsConnected(false);
    expect(health.report().problems).toEqual([
      'disconnected from NATS',
      'batch not written: timeout',
    ]);
    health.setStoreProblem(undefined);
    expect(await gaugeValue()).toBe(0);
    health.setNatsConnected(true);
    expect(health.report()).toEqual({ healthy: true, problems: [] });
    expect(await gaugeValue()).toBe(1);
  });

  it('reports a batch write that has run for more than 5 s, until it finishes', () => {
    const { health } = tracker();
    health.writeStarted();
    vi.advanceTimersByTime(5_000);
    expect(health.report().healthy).toBe(true);
    vi.advanceTimersByTime(2_000);
    expect(health.report()).toEqual({
      healthy: false,
      problems: ['a batch write has not finished after 7 s'],
    });
    health.writeFinished();
    expect(health.report().healthy).toBe(true);
  });

  it('names only the store problem while a failing write is retried', () => {
    const { health } = tracker();
    health.writeStarted();
    health.setStoreProblem('batch not written: timeout');
    vi.advanceTimersByTime(60_000);
    expect(health.report().problems).toEqual(['batch not written: timeout']);
  });

  it('says it is stopping, which the gauge does not count', async () => {
    const { health, gaugeValue } = tracker();
    health.publish();
    health.stopping();
    expect(health.report()).toEqual({ healthy: false, problems: ['stopping'] });
    health.publish();
    expect(await gaugeValue()).toBe(1);
  });
});
