import { interpolatedQuantile } from '../lib/statistics.ts';

/** What the benchmarks measured in rounds print of a figure: its median and its range. */

/** The median of the values (NaN for none). */
export function median(values: readonly number[]): number {
  return interpolatedQuantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/** `median [min–max]` of the values, with `digits` decimals. */
export function medianRange(values: readonly number[], digits = 0): string {
  const sorted = [...values].sort((a, b) => a - b);
  const low = sorted[0] ?? Number.NaN;
  const high = sorted[sorted.length - 1] ?? Number.NaN;
  return `${interpolatedQuantile(sorted, 0.5).toFixed(digits)} [${low.toFixed(digits)}–${high.toFixed(digits)}]`;
}
