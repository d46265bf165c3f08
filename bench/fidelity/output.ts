import { normalQuantile, quantileWithInterval } from '../../lib/statistics.ts';

/** A line of progress, on standard error, with the minutes since the bench began. */
export function progress(line: string): void {
  const minutes = (performance.now() / 60_000).toFixed(1);
  process.stderr.write(`fidelity [${minutes} min]: ${line}\n`);
}

/** The median of values, and their least and greatest. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** The median and range of values (at least one). */
export function spreadOf(values: readonly number[]): Spread {
  return {
    median: quantileWithInterval(values, 0.5).value,
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/** A median with its range: `0.49 [0.47–0.51]`, each value written by `format`. */
export function spreadText(spread: Spread, format: (value: number) => string): string {
  return `${format(spread.median)} [${format(spread.min)}–${format(spread.max)}]`;
}

/**
 * The Wilson score interval at 95% of a share: `hits` of `trials` independent trials. Unlike
 * the normal approximation it stays within [0, 1] and is not empty at 0 or all hits.
 */
export function wilsonInterval(hits: number, trials: number): [number, number] {
  if (trials === 0) return [0, 1];
  const z = normalQuantile(0.975);
  const share = hits / trials;
  const centre = (share + (z * z) / (2 * trials)) / (1 + (z * z) / trials);
  const halfWidth =
    (z / (1 + (z * z) / trials)) *
    Math.sqrt((share * (1 - share)) / trials + (z * z) / (4 * trials * trials));
  return [Math.max(0, centre - halfWidth), Math.min(1, centre + halfWidth)];
}

/** A share as a percentage with one decimal. */
export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** A share with its interval and counts: `2.1% [0.7–6.0%] (3 of 140)`. */
export function shareText(hits: number, trials: number): string {
  const [low, high] = wilsonInterval(hits, trials);
  const share = trials === 0 ? Number.NaN : hits / trials;
  return `${percent(share)} [${(low * 100).toFixed(1)}–${percent(high)}] (${hits} of ${trials})`;
}

/** Milliseconds as seconds with one decimal. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
