import type { ResultMetric } from '../../contracts/index.ts';

/** Two-sided 95% Student's t critical values for 1–30 degrees of freedom; 1.96 beyond. */
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
];

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (sorted.length - 1) * p;
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const lowValue = sorted[low] ?? 0;
  return lowValue + ((sorted[high] ?? lowValue) - lowValue) * (rank - low);
}

/** A metric from samples measured outside the runner (start-up times, memory per instance). */
export function metricFromSamples(
  name: string,
  unit: string,
  samples: readonly number[],
): ResultMetric {
  if (samples.length === 0) throw new Error(`no samples for ${name}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((sum, value) => sum + value, 0) / samples.length;
  const variance =
    samples.length > 1
      ? samples.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (samples.length - 1)
      : 0;
  const stddev = Math.sqrt(variance);
  const critical = T95[samples.length - 2] ?? 1.96;
  const rme = mean === 0 ? 0 : ((critical * stddev) / Math.sqrt(samples.length) / mean) * 100;
  return {
    name,
    unit,
    value: mean,
    samples: samples.length,
    rme: Number.isFinite(rme) ? Math.abs(rme) : 0,
    stddev,
    min: sorted[0] ?? mean,
    max: sorted[sorted.length - 1] ?? mean,
    percentiles: {
      p50: percentile(sorted, 0.5),
      p75: percentile(sorted, 0.75),
      p99: percentile(sorted, 0.99),
    },
    stoppedBy: samples.length === 1 ? 'single' : 'sample-count',
  };
}
