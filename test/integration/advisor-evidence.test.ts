import { beforeAll, describe, expect, it } from 'vitest';
import type { ResultBatch } from '../../contracts/index.ts';
import { loadSeriesSummaries, resultTsv, RESULT_COLUMNS } from '../../lib/storage/results.ts';
import { storeForBlock } from '../../support/hooks.ts';
import { BACKENDS } from '../../support/servers.ts';

const T0 = 1_764_000_000_000;

function startupResult(index: number, hostId: string, platform: string, ms: number): ResultBatch {
  return {
    schemaVersion: 1,
    id: `ev-${hostId}-${platform}-${index}`,
    hostId,
    runId: `run-${index}`,
    takenAt: T0 + index * 60_000,
    platform: {
      name: platform,
      runtime: platform === 'container' ? 'runc' : 'node',
      runtimeVersion: '1',
      accel: 'none',
      settings: {},
    },
    workload: { name: 'instance', version: '1' },
    metrics: [
      {
        name: 'startup',
        unit: 'ms',
        value: ms,
        samples: 5,
        rme: 3,
        max: ms * 1.5,
        percentiles: { p50: ms, p99: ms * 1.4 },
        stoppedBy: 'sample-count',
      },
    ],
  };
}

describe.each(BACKENDS)('advisor evidence on %s', (backend) => {
  const store = storeForBlock(backend);

  beforeAll(async () => {
    const batches = [
      ...[100, 120, 140, 160].map((ms, index) => startupResult(index, 'host-a', 'process', ms)),
      ...[200, 220].map((ms, index) => startupResult(index, 'host-a', 'container', ms)),
      startupResult(0, "host-b'; DROP TABLE results; --", 'process', 90),
    ];
    // The first two results arrive twice, as a redelivery would bring them.
    const rows = [...batches, ...batches.slice(0, 2)].map((batch) => resultTsv(batch, T0));
    await store().insertTsv('results', RESULT_COLUMNS, rows.join(''));
  });

  it('aggregates per host, platform and metric over the deduplicated results', async () => {
    const rows = await loadSeriesSummaries(store(), { hostIds: ['host-a'] });
    expect(rows.map((row) => `${row.hostId}/${row.platform}/${row.metric}`)).toEqual([
      'host-a/container/startup',
      'host-a/process/startup',
    ]);
    const processRow = rows.find((row) => row.platform === 'process');
    expect(processRow).toMatchObject({
      runtime: 'node',
      accel: 'none',
      workload: 'instance',
      unit: 'ms',
      results: 4,
      samples: 20,
      mean: 130,
      latestAt: T0 + 3 * 60_000,
    });
    expect(processRow?.p50).toBeGreaterThanOrEqual(120);
    expect(processRow?.p50).toBeLessThanOrEqual(140);
    // The upper tail comes from each result's p99 (1.4 × its value), not its mean.
    expect(processRow?.p95).toBeGreaterThan(160);
    expect(processRow?.p95).toBeLessThanOrEqual(160 * 1.4);
    expect([...(processRow?.resultIds ?? [])].sort()).toEqual(
      [0, 1, 2, 3].map((index) => `ev-host-a-process-${index}`),
    );
  });

  it('takes host ids from outside as values, never as SQL', async () => {
    const hostile = "host-b'; DROP TABLE results; --";
    const rows = await loadSeriesSummaries(store(), { hostIds: [hostile] });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ hostId: hostile, results: 1, mean: 90 });
    expect(await loadSeriesSummaries(store())).toHaveLength(3);
  });

  it('narrows to a platform and a workload, as berth results asks', async () => {
    const rows = await loadSeriesSummaries(store(), {
      hostIds: ['host-a'],
      platform: 'container',
      workload: 'instance',
    });
    expect(rows).toMatchObject([
      { hostId: 'host-a', platform: 'container', results: 2, mean: 210 },
    ]);
    expect(
      await loadSeriesSummaries(store(), { platform: 'container', workload: 'cpu-sha256' }),
    ).toEqual([]);
  });

  it('gives nothing for hosts it has no results of', async () => {
    expect(await loadSeriesSummaries(store(), { hostIds: ['nobody'] })).toEqual([]);
  });
});
