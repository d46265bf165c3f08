import { describe, expect, it } from 'vitest';
import { antagonistOf, besideMetric, loadMetric, loadStepOf } from '../../contracts/workloads.ts';
import { loadPlansOf, type LoadConfig } from '../../agents/host-agent/agent-config.ts';
import {
  densityAtSloOf,
  overlapOf,
  stepCounts,
  stepOf,
  type LoadStep,
} from '../../agents/host-agent/density-at-load.ts';
import { interferenceOf, type InterferenceRound } from '../../agents/host-agent/interference.ts';
import type { LoadTrial } from '../../agents/host-agent/load-trial.ts';
import { SUITES } from '../../agents/host-agent/suite-catalogue.ts';
import { loadConfig } from '../../lib/config.ts';

/** A trial whose runners all ran from `beganAt` to `resultAt` with these throughputs. */
function trialOf(throughput: readonly number[], beganAt = [0], resultAt = [1000]): LoadTrial {
  return {
    runners: throughput.map((value, index) => ({
      beganAt: beganAt[index] ?? beganAt[0] ?? 0,
      resultAt: resultAt[index] ?? resultAt[0] ?? 1000,
      throughput: value,
      unit: 'hash/s',
    })),
    memoryMiB: throughput.map(() => 10),
    settings: {},
    startedTogether: true,
  };
}

const step = (runners: number, sloShare: number): LoadStep => ({
  instances: runners,
  runners,
  throughput: [],
  unit: 'hash/s',
  memoryMiB: [],
  coreShare: 1,
  sloShare,
  overlap: 1,
  ms: 1000,
  startedTogether: true,
});

describe('density at load', () => {
  it('steps 1, 2, 4, … doubling, with the cap last', () => {
    expect(stepCounts(1)).toEqual([1]);
    expect(stepCounts(8)).toEqual([1, 2, 4, 8]);
    expect(stepCounts(6)).toEqual([1, 2, 4, 6]);
  });

  it('counts throughput per core given: 4 runners on 2 cores each have half a core', () => {
    const alone = stepOf(1, trialOf([1000]), 2, undefined, 1000);
    expect(alone.sloShare).toBe(1);
    // Half a core each, 480 to 500 of 1000 alone: the worst keeps 0.96 of it per core.
    const four = stepOf(4, trialOf([500, 490, 480, 500]), 2, 1000, 1000);
    expect(four.coreShare).toBe(0.5);
    expect(four.sloShare).toBeCloseTo(0.96);
    // Two runners on two cores have a core each: a slow one misses the SLO.
    const two = stepOf(2, trialOf([1000, 700]), 2, 1000, 1000);
    expect(two.coreShare).toBe(1);
    expect(two.sloShare).toBeCloseTo(0.7);
  });

  it('says how much of the runners’ work overlapped', () => {
    expect(overlapOf(trialOf([1, 1], [0, 0], [1000, 1000]))).toBe(1);
    // The second began half-way through the first's work.
    expect(overlapOf(trialOf([1, 1], [0, 500], [1000, 1500]))).toBe(0.5);
    expect(overlapOf(trialOf([1, 1], [0, 2000], [1000, 3000]))).toBe(0);
  });

  it('density at the SLO is the last step before the first that misses it (the knee)', () => {
    expect(densityAtSloOf([step(1, 1), step(2, 0.95), step(4, 0.8), step(8, 0.95)], 0.9)).toEqual({
      densityAtSlo: 2,
      kneeAt: 4,
    });
    expect(densityAtSloOf([step(1, 1), step(2, 0.95)], 0.9)).toEqual({
      densityAtSlo: 2,
      kneeAt: undefined,
    });
    expect(densityAtSloOf([], 0.9)).toEqual({ densityAtSlo: 0, kneeAt: undefined });
  });

  it('names its metrics by step, and reads them back', () => {
    expect(loadMetric('memory', 4)).toBe('memory-per-instance-at-4');
    expect(loadStepOf('throughput-per-instance-at-16')).toEqual({
      measure: 'throughput',
      instances: 16,
    });
    expect(loadStepOf('slo-share-at-2')).toEqual({ measure: 'sloShare', instances: 2 });
    expect(loadStepOf('memory-per-instance-at-0')).toBeUndefined();
    expect(loadStepOf('startup')).toBeUndefined();
    expect(antagonistOf(besideMetric('fork-storm'))).toBe('fork-storm');
    expect(antagonistOf('beside-nothing')).toBeUndefined();
  });
});

describe('noisy neighbours', () => {
  const round = (number: number, alone: number, hog: number): InterferenceRound => ({
    round: number,
    alone,
    beside: new Map([['cpu-hog', hog]]),
    unit: 'hash/s',
    described: new Map([['cpu-hog', '2 busy loops']]),
    order: ['alone', 'cpu-hog'],
  });

  it('pairs the victim beside each antagonist with it alone, round by round', () => {
    const [effect] = interferenceOf(
      [round(1, 1000, 600), round(2, 900, 560), round(3, 1100, 650)],
      0.03,
      'seed',
    );
    expect(effect?.antagonist).toBe('cpu-hog');
    expect(effect?.besideByRound).toEqual([600, 560, 650]);
    expect(effect?.comparison.ratio).toBeCloseTo(Math.cbrt(0.6 * (560 / 900) * (650 / 1100)));
    expect(effect?.comparison.verdict).toBe('slower');
  });

  it('leaves out an antagonist measured in fewer than two rounds', () => {
    expect(interferenceOf([round(1, 1000, 600)], 0.03, 'seed')).toEqual([]);
  });
});

describe('the load settings', () => {
  const env = (vars: Record<string, string>): LoadConfig =>
    loadConfig(
      ['loadWorkload', 'sloShare', 'loadMemoryBudget', 'loadTimeBudget', 'loadCap', 'antagonists'],
      {},
      vars,
    );

  it('plan the quick suite with its own budgets unless the settings say otherwise', () => {
    const plans = loadPlansOf(env({}), SUITES.quick, '/data/agent');
    expect(plans.densityAtLoad).toEqual({
      workload: 'cpu-sha256',
      trialMs: 1000,
      memoryBudgetMiB: 1024,
      timeBudgetMs: 60_000,
      cap: 8,
      sloShare: 0.9,
    });
    expect(plans.interference?.antagonists).toEqual([
      'cpu-hog',
      'memory-bandwidth',
      'fsync-storm',
      'fork-storm',
    ]);
    expect(plans.interference?.scratchDir).toBe('/data/agent/scratch');
    const given = loadPlansOf(
      env({
        BERTH_LOAD_CAP: '4',
        BERTH_LOAD_MEMORY_BUDGET: '256',
        BERTH_LOAD_TIME_BUDGET: '30',
        BERTH_SLO_SHARE: '0.8',
        BERTH_ANTAGONISTS: 'none',
      }),
      SUITES.full,
      '/data/agent',
    );
    expect(given.densityAtLoad).toMatchObject({
      cap: 4,
      memoryBudgetMiB: 256,
      timeBudgetMs: 30_000,
      sloShare: 0.8,
      trialMs: 3000,
    });
    expect(given.interference).toBeUndefined();
    expect(loadPlansOf(env({ BERTH_LOAD_WORKLOAD: 'off' }), SUITES.quick, '/d')).toEqual({});
  });

  it('refuses budgets, caps and SLO shares out of range, naming the setting', () => {
    const refused = (vars: Record<string, string>): string => {
      try {
        env(vars);
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(refused({ BERTH_SLO_SHARE: '1.5' })).toContain('--slo-share / BERTH_SLO_SHARE');
    expect(refused({ BERTH_LOAD_CAP: '0' })).toContain('--load-cap / BERTH_LOAD_CAP');
    expect(refused({ BERTH_LOAD_MEMORY_BUDGET: '8' })).toContain(
      '--load-memory-budget / BERTH_LOAD_MEMORY_BUDGET',
    );
    expect(refused({ BERTH_LOAD_TIME_BUDGET: '-1' })).toContain('--load-time-budget');
    expect(refused({ BERTH_LOAD_WORKLOAD: 'spin' })).toContain('--load-workload');
    expect(refused({ BERTH_ANTAGONISTS: 'cpu-hog,noise' })).toContain('"noise"');
  });
});
