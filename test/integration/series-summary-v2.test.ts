import { beforeAll, describe, expect, it } from 'vitest';
import type { ResultBatch, ResultBatchV1, ResultBatchV2 } from '../../contracts/index.ts';
import { loadSeriesSummaries, resultTsv, RESULT_COLUMNS } from '../../lib/storage/results.ts';
import { storeForBlock } from '../../support/hooks.ts';
import { makeResult, makeResultV2 } from '../../support/results.ts';
import { BACKENDS } from '../../support/servers.ts';

const INGESTED_AT = 1_764_000_000_000;

/** makeResultV2's batch with every metric's comparison moved to a ratio of 1.1 [1.05–1.15]. */
function fasterBatch(index: number, hostId: string): ResultBatchV2 {
  const batch = makeResultV2(index, hostId);
  return {
    ...batch,
    metrics: batch.metrics.map((metric) =>
      metric.comparison === undefined
        ? metric
        : {
            ...metric,
            comparison: { ...metric.comparison, ratio: 1.1, ci95: [1.05, 1.15], verdict: 'faster' },
          },
    ),
  };
}

/** makeResultV2's batch measured in another host state: `fingerprint`. */
function inHostState(index: number, hostId: string, fingerprint: string): ResultBatchV2 {
  return { ...makeResultV2(index, hostId), hostFingerprint: fingerprint };
}

/**
 * A container's `instance` batch (start-up and peak memory) at `index`, with `settings` beside
 * the platform's own: in version 2 (as makeResultV2 runs it) when they give the p95's interval,
 * else in version 1.
 */
function startupBatch(
  index: number,
  hostId: string,
  settings: Record<string, number | boolean>,
): ResultBatch {
  const v1 = makeResult(index, hostId);
  const batch: ResultBatchV1 = {
    ...v1,
    id: `startup-${hostId}-${index}`,
    platform: { ...v1.platform, settings: { ...v1.platform.settings, ...settings } },
    workload: { name: 'instance', version: '1' },
    metrics: [
      { name: 'startup', unit: 'ms', value: 600 + index, samples: 6, rme: 3 },
      { name: 'memory-peak', unit: 'MiB', value: 40, samples: 6, rme: 1 },
    ],
  };
  if (!('startupP95High' in settings)) return batch;
  const { rounds, hostFingerprint, uncalibrated } = makeResultV2(index, hostId);
  return { ...batch, schemaVersion: 2, rounds, hostFingerprint, uncalibrated };
}

/** The start-up p95 and its interval as the agent gives them in an instance batch's settings. */
const P95_OF = (high: number): Record<string, number | boolean> => ({
  startupP95: high - 200,
  startupP95Low: high - 300,
  startupP95High: high,
});

describe.each(BACKENDS)('series summaries of version 2 results on %s', (backend) => {
  const store = storeForBlock(backend);

  beforeAll(async () => {
    const batches: ResultBatch[] = [
      // Containers on host-s (index % 4 === 1), oldest first: v1, v2, v2 (uncalibrated), v1.
      makeResult(1, 'host-s'),
      makeResultV2(5, 'host-s'),
      fasterBatch(9, 'host-s'),
      makeResult(13, 'host-s'),
      // The process platform on host-s, in version 2: no comparison of its own.
      makeResultV2(4, 'host-s'),
      // Only version 1 on host-old.
      makeResult(1, 'host-old'),
      makeResult(5, 'host-old'),
      // VMs on host-moved: two host states in version 2, and a version 1 result without one.
      inHostState(2, 'host-moved', 'state-before'),
      inHostState(6, 'host-moved', 'state-after'),
      inHostState(10, 'host-moved', 'state-after'),
      makeResult(14, 'host-moved'),
      // Start-up of containers on host-up, oldest first: two with intervals, then a
      // version 1 result with a p95 only, which gives none.
      startupBatch(1, 'host-up', { ...P95_OF(900), startupP95Exact: true, startupBimodal: false }),
      startupBatch(5, 'host-up', { ...P95_OF(840), startupP95Exact: false, startupBimodal: true }),
      startupBatch(9, 'host-up', { startupP95: 500 }),
      // Start-up on host-bare: an interval, without the exactness and bimodality flags.
      startupBatch(1, 'host-bare', P95_OF(700)),
    ];
    const rows = batches.map((batch) => resultTsv(batch, INGESTED_AT));
    await store().insertTsv('results', RESULT_COLUMNS, rows.join(''));
  });

  it("carries the newest result's comparison and the uncalibrated count", async () => {
    const rows = await loadSeriesSummaries(store(), { hostIds: ['host-s'] });
    const container = rows.find((row) => row.platform === 'container' && row.metric === 'metric-1');
    expect(container).toMatchObject({
      results: 4,
      ratio: 1.1,
      ratioLow: 1.05,
      ratioHigh: 1.15,
      ratioRounds: 3,
      verdict: 'faster',
      uncalibratedResults: 1,
    });
  });

  it('gives the process platform of version 2 its uncalibrated count and no comparison', async () => {
    const rows = await loadSeriesSummaries(store(), { hostIds: ['host-s'], platform: 'process' });
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.uncalibratedResults).toBe(0);
      expect(row).not.toHaveProperty('ratio');
      expect(row).not.toHaveProperty('verdict');
    }
  });

  it('leaves the comparison fields absent for a series of version 1 results only', async () => {
    const rows = await loadSeriesSummaries(store(), { hostIds: ['host-old'] });
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      for (const field of [
        'ratio',
        'ratioLow',
        'ratioHigh',
        'ratioRounds',
        'verdict',
        'uncalibratedResults',
        'hostStates',
        'startupP95',
        'startupP95High',
      ]) {
        expect(row).not.toHaveProperty(field);
      }
    }
  });

  it('counts the distinct host fingerprints of a series: two host states, not merged silently', async () => {
    const rows = await loadSeriesSummaries(store(), { hostIds: ['host-moved'] });
    expect(rows.map((row) => [row.metric, row.results, row.hostStates])).toEqual([
      ['metric-0', 4, 2],
      ['metric-1', 4, 2],
    ]);
  });

  it('counts one host state for a series measured in one', async () => {
    const rows = await loadSeriesSummaries(store(), { hostIds: ['host-s'] });
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.hostStates).toBe(1);
  });

  it('carries the newest start-up p95 interval to the start-up series, and only to it', async () => {
    const rows = await loadSeriesSummaries(store(), { hostIds: ['host-up'] });
    const startup = rows.find((row) => row.metric === 'startup');
    expect(startup).toMatchObject({
      results: 3,
      startupP95: 640,
      startupP95Low: 540,
      startupP95High: 840,
      startupP95Exact: false,
      startupBimodal: true,
    });
    const memory = rows.find((row) => row.metric === 'memory-peak');
    expect(memory?.results).toBe(3);
    expect(memory).not.toHaveProperty('startupP95High');
  });

  it('leaves out the flags a start-up result does not give', async () => {
    const [startup] = await loadSeriesSummaries(store(), { hostIds: ['host-bare'] }).then((rows) =>
      rows.filter((row) => row.metric === 'startup'),
    );
    expect(startup).toMatchObject({ startupP95: 500, startupP95Low: 400, startupP95High: 700 });
    expect(startup).not.toHaveProperty('startupP95Exact');
    expect(startup).not.toHaveProperty('startupBimodal');
  });
});
