import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSafeToken, type ResultBatch } from '../../contracts/index.ts';
import { loadHostId } from '../../agents/host-agent/host-id.ts';
import { metricFromSamples } from '../../agents/host-agent/stats.ts';
import { summarise } from '../../agents/host-agent/summary.ts';
import { guestClockArgs } from '../../agents/host-agent/drivers/vm-qemu.ts';
import { makeResult } from '../../support/results.ts';

describe('metricFromSamples', () => {
  it('gives mean, spread, percentiles and a 95% relative margin of error', () => {
    const metric = metricFromSamples('startup', 'ms', [10, 12, 11, 13, 9]);
    expect(metric).toMatchObject({
      name: 'startup',
      unit: 'ms',
      value: 11,
      samples: 5,
      min: 9,
      max: 13,
      stoppedBy: 'sample-count',
    });
    expect(metric.stddev).toBeCloseTo(Math.sqrt(2.5), 10);
    // t(4) = 2.776: 2.776 * 1.5811 / sqrt(5) / 11 = 17.84 %
    expect(metric.rme).toBeCloseTo(17.84, 1);
    expect(metric.percentiles).toEqual({
      p50: 11,
      p75: 12,
      p99: expect.closeTo(12.96, 2) as number,
    });
  });

  it('marks a single sample as such and refuses none', () => {
    expect(metricFromSamples('x', 'ms', [5])).toMatchObject({
      value: 5,
      rme: 0,
      stoppedBy: 'single',
    });
    expect(() => metricFromSamples('x', 'ms', [])).toThrow(/no samples/);
  });
});

describe('loadHostId', () => {
  it('makes a safe id once and returns the same one on every later start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-hostid-'));
    try {
      const path = join(dir, 'agent', 'host-id');
      const first = await loadHostId(path);
      expect(isSafeToken(first)).toBe(true);
      expect(await loadHostId(path)).toBe(first);
      expect((await readFile(path, 'utf8')).trim()).toBe(first);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes a given id over the kept one, and keeps it for the starts without one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-hostid-'));
    try {
      const path = join(dir, 'agent', 'host-id');
      const made = await loadHostId(path);
      expect(await loadHostId(path, 'rack-3-node-12')).toBe('rack-3-node-12');
      expect(await loadHostId(path)).toBe('rack-3-node-12');
      expect(made).not.toBe('rack-3-node-12');
      await expect(loadHostId(path, 'rack 3')).rejects.toThrow(/host id "rack 3" is not a safe/);
      expect(await loadHostId(path)).toBe('rack-3-node-12');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('summarise', () => {
  it('puts each platform beside the process baseline, as a ratio', () => {
    const withValue = (index: number, value: number): ResultBatch => {
      const batch = makeResult(index, 'h', 1);
      return { ...batch, metrics: batch.metrics.map((metric) => ({ ...metric, value })) };
    };
    const rows = summarise([withValue(0, 100), withValue(2, 25)]);
    expect(rows).toEqual([
      {
        workload: 'cpu-sha256',
        metric: 'metric-0',
        unit: 'ops/s',
        process: '100 (1.00x)',
        vm: '25 (0.25x)',
      },
    ]);
  });
});

describe('guestClockArgs', () => {
  it('gives the guest the host clock rate so it skips calibration', () => {
    expect(guestClockArgs('processor : 0\ncpu MHz\t\t: 2999.998\n')).toBe(
      'tsc_early_khz=2999998 lpj=11999992',
    );
    expect(guestClockArgs('no rate here')).toBe('tsc_early_khz=2000000 lpj=8000000');
  });
});
