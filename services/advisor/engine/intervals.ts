import { mean } from './lists.ts';

/**
 * The uncertainty the engine carries: 95% intervals of figures and scores, when two overlap,
 * and the equivalence margin inside which a difference counts as none.
 */

/** [low, high]: a 95% interval, or a figure without one as its point at both ends. */
export type Interval = readonly [number, number];

/**
 * How far (relative) two figures may differ and still count as the same: the agents' default
 * equivalence margin (BERTH_EQUIVALENCE_MARGIN, 3%).
 */
export const EQUIVALENCE_MARGIN = 0.03;

/** A figure's interval, or its point at both ends when it has none. */
export const endsOf = (figure: {
  readonly value: number;
  readonly interval: Interval | undefined;
}): Interval => figure.interval ?? [figure.value, figure.value];

/** The mean of the figures' low ends and of their high ends (a figure without one: its point). */
export function meanInterval(
  figures: readonly { readonly value: number; readonly interval: Interval | undefined }[],
): Interval {
  const ends = figures.map(endsOf);
  return [mean(ends.map((end) => end[0])), mean(ends.map((end) => end[1]))];
}

/** Whether two intervals share at least one point. */
export const overlaps = (a: Interval, b: Interval): boolean => a[0] <= b[1] && b[0] <= a[1];

/** Whether `changed` differs from `from` by less than the margin, relative to `from`. */
export const withinMargin = (from: number, changed: number): boolean =>
  Math.abs(changed / from - 1) < EQUIVALENCE_MARGIN;
