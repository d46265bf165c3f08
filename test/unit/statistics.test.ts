import { describe, expect, it } from 'vitest';
import {
  BIMODAL_MIN_SAMPLES,
  BOOTSTRAP_FROM_ROUNDS,
  compareRounds,
  isBimodal,
  MAX_ROUNDS_TO_DECIDE,
  normalQuantile,
  quantileWithInterval,
  seededRandom,
  seededShuffle,
  studentTQuantile,
  type CompareOptions,
  type PairedComparison,
} from '../../lib/statistics.ts';

const THROUGHPUT: CompareOptions = { margin: 0.03, higherIsBetter: true };
const START_UP: CompareOptions = { margin: 0.03, higherIsBetter: false };

/** A standard normal draw (Box–Muller) from a stream of uniform numbers. */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Compares ratios exp(logRatio) against a baseline of 1 in every round. */
function compareLogs(logRatios: readonly number[], options = THROUGHPUT): PairedComparison {
  return compareRounds(
    logRatios.map(Math.exp),
    logRatios.map(() => 1),
    options,
  );
}

/**
 * Runs simulations of paired rounds: the baseline of each round is lognormal around 100 with
 * spread sigma, the value is trueRatio times an independent draw of the same distribution.
 */
function simulate(
  simulations: number,
  rounds: number,
  trueRatio: number,
  sigma: number,
  seed: string,
): PairedComparison[] {
  const random = seededRandom(seed);
  const draw = (): number => 100 * Math.exp(sigma * gaussian(random));
  return Array.from({ length: simulations }, (_, simulation) => {
    const baselines = Array.from({ length: rounds }, draw);
    const values = baselines.map(() => trueRatio * draw());
    return compareRounds(values, baselines, { ...THROUGHPUT, seed: `${seed}-${simulation}` });
  });
}

const share = (comparisons: readonly PairedComparison[], test: (c: PairedComparison) => boolean) =>
  comparisons.filter(test).length / comparisons.length;

describe('normalQuantile and studentTQuantile', () => {
  it.each([
    [0.975, 1.959964],
    [0.8, 0.841621],
    [0.5, 0],
    [0.001, -3.090232],
  ])('the normal quantile at %f is %f', (p, expected) => {
    expect(normalQuantile(p)).toBeCloseTo(expected, 6);
  });

  it.each([
    [0.975, 1, 12.706],
    [0.975, 2, 4.303],
    [0.975, 4, 2.776],
    [0.975, 9, 2.262],
    [0.975, 29, 2.045],
    [0.975, 1000, 1.962],
    [0.975, 100_000, 1.96],
    [0.975, Infinity, 1.96],
    [0.995, 4, 4.604],
    [0.95, 9, 1.833],
    [0.8, 4, 0.941],
    [0.025, 9, -2.262],
  ])('the t quantile at %f with %d degrees of freedom is %f (published tables)', (p, df, t) => {
    expect(studentTQuantile(p, df)).toBeCloseTo(t, 3);
  });

  it('joins the exact inversion and the expansion without a step at 1000 degrees of freedom', () => {
    expect(studentTQuantile(0.975, 1001)).toBeCloseTo(studentTQuantile(0.975, 1000), 5);
    expect(studentTQuantile(0.975, 1001)).toBeLessThan(studentTQuantile(0.975, 1000));
  });

  it('refuses degrees of freedom that are not whole numbers from 1 and p outside [0, 1]', () => {
    expect(() => studentTQuantile(0.975, 0)).toThrow(/df must be a whole number/);
    expect(() => studentTQuantile(0.975, 2.5)).toThrow(/df must be a whole number/);
    expect(() => normalQuantile(1.2)).toThrow(/p must be from 0 to 1/);
    expect(() => normalQuantile(Number.NaN)).toThrow(/p must be from 0 to 1/);
  });
});

describe('compareRounds', () => {
  it('takes the geometric mean of the per-round ratios, in round order', () => {
    const comparison = compareRounds([2, 8, 3], [1, 2, 3], THROUGHPUT);
    expect(comparison.perRound).toEqual([2, 4, 1]);
    expect(comparison.ratio).toBeCloseTo(2, 12);
    expect(comparison.rounds).toBe(3);
    expect(compareRounds([1, 4], [2, 2], THROUGHPUT).ratio).toBeCloseTo(1, 12);
  });

  it('gives the t interval on the mean log-ratio below 8 rounds', () => {
    const comparison = compareLogs([0.01, 0.03, 0.02]);
    const halfWidth = (4.302653 * 0.01) / Math.sqrt(3);
    expect(comparison.method).toBe('t');
    expect(comparison.ci95[0]).toBeCloseTo(Math.exp(0.02 - halfWidth), 6);
    expect(comparison.ci95[1]).toBeCloseTo(Math.exp(0.02 + halfWidth), 6);
  });

  it('bootstraps from 8 rounds, the same interval for the same seed', () => {
    const logs = [0.01, -0.02, 0.03, 0, 0.02, -0.01, 0.015, 0.005];
    const first = compareLogs(logs, { ...THROUGHPUT, seed: 'run-1' });
    expect(first.method).toBe('bootstrap');
    expect(compareLogs(logs, { ...THROUGHPUT, seed: 'run-1' }).ci95).toEqual(first.ci95);
    expect(compareLogs(logs, { ...THROUGHPUT, seed: 'run-2' }).ci95).not.toEqual(first.ci95);
    expect(compareLogs(logs).ci95).toEqual(compareLogs(logs).ci95);
    expect(first.ci95[0]).toBeLessThan(first.ratio);
    expect(first.ci95[1]).toBeGreaterThan(first.ratio);
  });

  it('leaves a single round unbounded and unclear', () => {
    expect(compareRounds([2], [1], THROUGHPUT)).toEqual({
      ratio: 2,
      ci95: [0, Infinity],
      rounds: 1,
      perRound: [2],
      verdict: 'unclear',
      method: 't',
      roundsToDecide: 2,
    });
  });

  it.each([
    ['a tight tie', 'same', [0.004, -0.003, 0.001, 0], THROUGHPUT],
    [
      'a tie just above 1, still inside the margin',
      'same',
      [0.011, 0.012, 0.01, 0.011],
      THROUGHPUT,
    ],
    ['clearly higher throughput', 'faster', [0.2, 0.18, 0.22], THROUGHPUT],
    ['clearly lower throughput', 'slower', [-0.2, -0.18, -0.22], THROUGHPUT],
    ['clearly longer start-up', 'slower', [0.2, 0.18, 0.22], START_UP],
    ['clearly shorter start-up', 'faster', [-0.2, -0.18, -0.22], START_UP],
    ['a noisy difference', 'unclear', [-0.1, 0.1, 0.05], THROUGHPUT],
    ['a small sure difference beyond the margin', 'faster', [0.03, 0.028, 0.032], THROUGHPUT],
  ] as const)('judges %s as %s', (_, verdict, logs, options) => {
    const comparison = compareLogs(logs, options);
    expect(comparison.verdict).toBe(verdict);
    expect('roundsToDecide' in comparison).toBe(verdict === 'unclear');
  });

  it.each([
    ['a tie centred on 1 needs the interval inside the margin', [0, 0.1, -0.1], 90],
    ['a difference of 10% needs the interval off 1', [0.1, 0.4, -0.2], 71],
    ['a hopeless spread is capped', [0, 1, -1], MAX_ROUNDS_TO_DECIDE],
    ['a nearly decided comparison needs one more round', [0, 0.02, -0.01], 4],
  ])('estimates the rounds to decide: %s', (_, logs, rounds) => {
    const comparison = compareLogs(logs);
    expect(comparison.verdict).toBe('unclear');
    expect(comparison.roundsToDecide).toBe(rounds);
  });

  it.each([
    ['t', 5, 2000, 1.1],
    ['bootstrap', BOOTSTRAP_FROM_ROUNDS, 400, 0.8],
  ] as const)(
    'the %s interval over %d rounds covers the true ratio about 95% of the time',
    (method, rounds, runs, ratio) => {
      const comparisons = simulate(runs, rounds, ratio, 0.05, `${method}-coverage`);
      expect(comparisons.every((comparison) => comparison.method === method)).toBe(true);
      const covered = share(comparisons, ({ ci95 }) => ci95[0] <= ratio && ci95[1] >= ratio);
      expect(covered).toBeGreaterThan(0.92);
      expect(covered).toBeLessThan(0.98);
    },
  );

  it.each([
    [3, 2000],
    [BOOTSTRAP_FROM_ROUNDS, 400],
  ])(
    'calls an A/A comparison over %d rounds faster or slower at most 5% of the time',
    (rounds, runs) => {
      const comparisons = simulate(runs, rounds, 1, 0.03, `a-a-${rounds}`);
      const decided = share(
        comparisons,
        ({ verdict }) => verdict === 'faster' || verdict === 'slower',
      );
      const simulationError = 3 * Math.sqrt((0.05 * 0.95) / runs);
      expect(decided).toBeLessThanOrEqual(0.05 + simulationError);
    },
  );

  it.each([
    ['different lengths', [1, 2], [1], THROUGHPUT, /one entry per round, got 2 and 1/],
    ['no rounds', [], [], THROUGHPUT, /at least one round/],
    [
      'a zero value',
      [1, 0],
      [1, 1],
      THROUGHPUT,
      /values\[1\] must be a positive finite number, got 0/,
    ],
    ['a negative baseline', [1, 1], [-1, 1], THROUGHPUT, /baselines\[0\] must be a positive/],
    ['a NaN value', [Number.NaN], [1], THROUGHPUT, /values\[0\] must be a positive finite number/],
    ['an infinite value', [Infinity], [1], THROUGHPUT, /values\[0\] must be a positive finite/],
    ['a margin of 0', [1], [1], { margin: 0, higherIsBetter: true }, /margin must be above 0/],
    ['a margin of 1', [1], [1], { margin: 1, higherIsBetter: true }, /margin must be above 0/],
  ] as const)('refuses %s', (_, values, baselines, options, message) => {
    expect(() => compareRounds(values, baselines, options)).toThrow(message);
  });
});

describe('seededRandom and seededShuffle', () => {
  const draws = (seed: string, count: number): number[] => {
    const random = seededRandom(seed);
    return Array.from({ length: count }, () => random());
  };

  it('gives the same stream for the same seed and another for another seed', () => {
    expect(draws('run-7', 20)).toEqual(draws('run-7', 20));
    expect(draws('run-7', 20)).not.toEqual(draws('run-8', 20));
    expect(draws('', 5)).not.toEqual(draws(' ', 5));
  });

  it('draws evenly from [0, 1)', () => {
    const values = draws('uniform', 10_000);
    expect(values.every((value) => value >= 0 && value < 1)).toBe(true);
    const tenths = Array.from({ length: 10 }, (_, tenth) =>
      values.filter((value) => Math.floor(value * 10) === tenth),
    );
    for (const bucket of tenths) expect(Math.abs(bucket.length - 1000)).toBeLessThan(120);
  });

  it('shuffles into a new array holding the same items, the same way for the same seed', () => {
    const items = ['process', 'container', 'vm', 'container-in-vm', 'a', 'b', 'c', 'd'] as const;
    const shuffled = seededShuffle(items, 'run-1/round-1');
    expect(shuffled).not.toBe(items);
    expect([...shuffled].sort()).toEqual([...items].sort());
    expect(items[0]).toBe('process');
    expect(seededShuffle(items, 'run-1/round-1')).toEqual(shuffled);
    expect(seededShuffle(items, 'run-1/round-2')).not.toEqual(shuffled);
    expect(seededShuffle([], 'x')).toEqual([]);
  });

  it('reaches every order about equally often', () => {
    const counts = new Map<string, number>();
    for (let seed = 0; seed < 6000; seed += 1) {
      const order = seededShuffle([1, 2, 3], `seed-${seed}`).join('');
      counts.set(order, (counts.get(order) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const count of counts.values()) expect(Math.abs(count - 1000)).toBeLessThan(150);
  });
});

describe('quantileWithInterval', () => {
  const oneToTen = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];

  it('brackets the median of 10 samples by the 2nd and 9th order statistics', () => {
    expect(quantileWithInterval(oneToTen, 0.5)).toEqual({
      value: 5.5,
      low: 2,
      high: 9,
      exact: true,
    });
  });

  it('falls back to the maximum when the samples are too few for a p95', () => {
    const twenty = Array.from({ length: 20 }, (_, index) => index + 1);
    expect(quantileWithInterval(twenty, 0.95)).toEqual({
      value: 19.05,
      low: 17,
      high: 20,
      exact: false,
    });
    expect(quantileWithInterval([3], 0.5)).toEqual({ value: 3, low: 3, high: 3, exact: false });
  });

  it.each([
    [0.5, 50],
    [0.9, 100],
  ])('covers the true %f quantile as often as promised with %d samples', (q, n) => {
    const random = seededRandom(`quantile-${q}`);
    const truth = -Math.log(1 - q);
    const runs = 500;
    let covered = 0;
    for (let run = 0; run < runs; run += 1) {
      const samples = Array.from({ length: n }, () => -Math.log(1 - random()));
      const estimate = quantileWithInterval(samples, q);
      expect(estimate.exact).toBe(true);
      if (estimate.low <= truth && truth <= estimate.high) covered += 1;
    }
    expect(covered / runs).toBeGreaterThan(0.93);
    expect(covered / runs).toBeLessThan(0.99);
  });

  it('refuses no samples, a sample that is not finite, q or confidence outside (0, 1)', () => {
    expect(() => quantileWithInterval([], 0.5)).toThrow(/needs samples/);
    expect(() => quantileWithInterval([1, Number.NaN], 0.5)).toThrow(/finite/);
    expect(() => quantileWithInterval(oneToTen, 1)).toThrow(/q must be in \(0, 1\)/);
    expect(() => quantileWithInterval(oneToTen, 0.5, 0)).toThrow(/confidence must be in/);
  });
});

describe('isBimodal', () => {
  const normalSample = (n: number, centre: number, spread: number, seed: string): number[] => {
    const random = seededRandom(seed);
    return Array.from({ length: n }, () => centre + spread * gaussian(random));
  };

  it('finds two well separated start-up modes, even or uneven', () => {
    expect(
      isBimodal([...normalSample(15, 99, 2, 'fast'), ...normalSample(15, 117, 2, 'slow')]),
    ).toBe(true);
    expect(
      isBimodal([...normalSample(24, 99, 2, 'fast'), ...normalSample(6, 117, 2, 'slow')]),
    ).toBe(true);
  });

  it('does not flag a normal, a skewed or an outlier-laden single mode', () => {
    expect(isBimodal(normalSample(50, 100, 5, 'normal'))).toBe(false);
    const standard = normalSample(50, 0, 1, 'skewed');
    expect(isBimodal(standard.map((x) => 100 * Math.exp(0.5 * x)))).toBe(false);
    const random = seededRandom('exponential');
    expect(isBimodal(Array.from({ length: 50 }, () => 90 - 10 * Math.log(1 - random())))).toBe(
      false,
    );
    expect(isBimodal([...normalSample(29, 100, 2, 'one-slow-start'), 150])).toBe(false);
    const flagged = Array.from({ length: 200 }, (_, run) =>
      isBimodal(normalSample(30, 100, 5, `normal-${run}`)),
    );
    expect(flagged.filter(Boolean).length).toBeLessThanOrEqual(4);
  });

  it('judges nothing below the minimum sample count or without spread', () => {
    const modes = (n: number): number[] => Array.from({ length: n }, (_, index) => index % 2);
    expect(isBimodal(modes(BIMODAL_MIN_SAMPLES - 1))).toBe(false);
    expect(isBimodal(modes(BIMODAL_MIN_SAMPLES))).toBe(true);
    expect(isBimodal(Array.from({ length: 30 }, () => 5))).toBe(false);
  });

  it('refuses a sample that is not finite', () => {
    expect(() => isBimodal([1, Infinity])).toThrow(/finite/);
  });
});
