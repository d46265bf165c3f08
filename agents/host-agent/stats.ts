import type { ResultMetric } from '../../contracts/index.ts';
import { interpolatedQuantile, studentTQuantile } from '../../lib/statistics.ts';

/** Bytes in a mebibyte: memory is read in bytes and reported in MiB. */
export const MIB = 1024 * 1024;

/** The arithmetic mean of values (NaN for none). */
export const mean = (values: readonly number[]): number =>
  values.reduce((sum, value) => sum + value, 0) / values.length;

/** The median of values (NaN for none). */
export const median = (values: readonly number[]): number =>
  interpolatedQuantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

/** A metric from samples measured outside the runner (start-up times, memory per instance). */
export function metricFromSamples(
  name: string,
  unit: string,
  samples: readonly number[],
): ResultMetric {
  if (samples.length === 0) throw new Error(`no samples for ${name}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const average = mean(samples);
  const variance =
    samples.length > 1
      ? samples.reduce((sum, value) => sum + (value - average) ** 2, 0) / (samples.length - 1)
      : 0;
  const stddev = Math.sqrt(variance);
  const critical = samples.length > 1 ? studentTQuantile(0.975, samples.length - 1) : 0;
  const rme = average === 0 ? 0 : ((critical * stddev) / Math.sqrt(samples.length) / average) * 100;
  return {
    name,
    unit,
    value: average,
    samples: samples.length,
    rme: Number.isFinite(rme) ? Math.abs(rme) : 0,
    stddev,
    min: sorted[0] ?? average,
    max: sorted[sorted.length - 1] ?? average,
    percentiles: {
      p50: interpolatedQuantile(sorted, 0.5),
      p75: interpolatedQuantile(sorted, 0.75),
      p99: interpolatedQuantile(sorted, 0.99),
    },
    stoppedBy: samples.length === 1 ? 'single' : 'sample-count',
  };
}
