import { describe, expect, it } from 'vitest';
import type { ResultBatch } from '../../contracts/index.ts';
import { compareTrials, metricOverRounds } from '../../agents/host-agent/round-results.ts';
import {
  extraRoundLabel,
  pairRounds,
  platformOrder,
  unsettledPlatforms,
  workloadOrder,
} from '../../agents/host-agent/rounds.ts';
import { comparisonText, roundsText } from '../../agents/host-agent/summary.ts';

const PLATFORMS = ['process:node', 'container:runc', 'vm:qemu-microvm', 'canary'];

/** A round's batch of one workload's throughput on a platform. */
function trialBatch(platform: string, workload: string, throughput: number): ResultBatch {
  return {
    schemaVersion: 1,
    id: `run-1-${platform}-${workload}`,
    hostId: 'host-1',
    runId: 'run-1',
    takenAt: 0,
    platform: { name: platform, runtime: 'r', runtimeVersion: '1', accel: 'none', settings: {} },
    workload: { name: workload, version: '1' },
    metrics: [{ name: 'throughput', unit: 'ops/s', value: throughput, samples: 10, rme: 1 }],
  };
}

describe('round order', () => {
  it('shuffles the platforms per round from the run id, the same way every time', () => {
    const orders = [1, 2, 3, 4, 5, 6].map((round) => platformOrder(PLATFORMS, 'run-a', round));
    for (const order of orders) expect([...order].sort()).toEqual([...PLATFORMS].sort());
    expect(new Set(orders.map((order) => order.join())).size).toBeGreaterThan(1);
    expect(platformOrder(PLATFORMS, 'run-a', 2)).toEqual(orders[1]);
    expect(workloadOrder(['a', 'b', 'c'], 'run-a', 2)).toEqual(
      workloadOrder(['a', 'b', 'c'], 'run-a', 2),
    );
  });
});

describe('pairing rounds', () => {
  it('pairs each value with the process value of the same round, in round order', () => {
    const values = new Map([
      [3, 30],
      [1, 10],
      [2, 20],
    ]);
    const baselines = new Map([
      [1, 100],
      [3, 300],
    ]);
    expect(pairRounds(values, baselines)).toEqual({ values: [10, 30], baselines: [100, 300] });
  });

  it('compares a platform with the process round by round', () => {
    const trials = [1, 2, 3].map((round) => ({
      round,
      batches: [trialBatch('vm', 'cpu', [50, 100, 25][round - 1] ?? 0)],
    }));
    const processTrials = [1, 2, 3].map((round) => ({
      round,
      batches: [trialBatch('process', 'cpu', [100, 200, 50][round - 1] ?? 0)],
    }));
    const [comparison] = compareTrials(trials, processTrials, 0.03, 'seed');
    expect(comparison?.perRound).toEqual([0.5, 0.5, 0.5]);
    expect(comparison?.ratio).toBeCloseTo(0.5, 10);
    expect(comparison?.verdict).toBe('slower');
  });
});

describe('extra rounds', () => {
  it('runs them for the platforms with an unsettled comparison only, and says why', () => {
    const unsettled = unsettledPlatforms(
      [
        {
          platform: 'vm:qemu-microvm',
          workload: 'memory-copy',
          verdict: 'unclear',
          ci95: [0.9, 1.1],
        },
        {
          platform: 'vm:qemu-microvm',
          workload: 'cpu-sha256',
          verdict: 'slower',
          ci95: [0.4, 0.6],
        },
        {
          platform: 'container:runc',
          workload: 'memory-copy',
          verdict: 'same',
          ci95: [0.98, 1.02],
        },
        { platform: 'container:runc', workload: 'cpu-gzip', verdict: 'faster', ci95: [1.03, 1.2] },
      ],
      0.03,
    );
    expect([...unsettled]).toEqual([['vm:qemu-microvm', ['memory-copy unclear']]]);
    expect(extraRoundLabel(4, unsettled)).toBe(
      'extra round 4 for vm:qemu-microvm: memory-copy unclear',
    );
    expect(
      unsettledPlatforms([{ platform: 'vm', workload: 'x', verdict: 'same', ci95: [1, 1] }], 0.03)
        .size,
    ).toBe(0);
  });

  it('runs them for a difference whose interval still reaches into the margin', () => {
    const unsettled = unsettledPlatforms(
      [
        {
          platform: 'container:runc',
          workload: 'cpu-sha256',
          verdict: 'faster',
          ci95: [1.003, 1.047],
        },
        {
          platform: 'vm:qemu-microvm',
          workload: 'memory-copy',
          verdict: 'slower',
          ci95: [0.9, 0.975],
        },
      ],
      0.03,
    );
    expect([...unsettled]).toEqual([
      ['container:runc', ['cpu-sha256 faster, maybe by less than 3%']],
      ['vm:qemu-microvm', ['memory-copy slower, maybe by less than 3%']],
    ]);
  });
});

describe('a metric over rounds', () => {
  it('takes the mean of the round values, the sum of the samples and the round values', () => {
    const metric = metricOverRounds([
      { name: 'throughput', unit: 'ops/s', value: 10, samples: 5, rme: 1 },
      { name: 'throughput', unit: 'ops/s', value: 14, samples: 7, rme: 1 },
    ]);
    expect(metric).toMatchObject({
      value: 12,
      samples: 12,
      roundValues: [10, 14],
      min: 10,
      max: 14,
    });
    expect(metric.rme).toBeGreaterThan(1);
  });
});

describe('the run summary', () => {
  it('prints a comparison as ratio, interval and verdict', () => {
    expect(comparisonText({ ratio: 1.0213, ci95: [0.9871, 1.0496], verdict: 'same' })).toBe(
      '1.02× [0.99–1.05] same',
    );
  });

  it('counts the rounds kept and says why any were run again', () => {
    expect(
      roundsText([
        { round: 1, order: [], workloads: [], disturbed: 'steal 12% over 5%', repeated: true },
        { round: 1, order: [], workloads: [], repeated: false },
        { round: 2, order: [], workloads: [], repeated: false },
        { round: 3, order: [], workloads: [], repeated: false },
      ]),
    ).toBe('3 rounds (1 repeated: steal 12% over 5%)');
  });
});
