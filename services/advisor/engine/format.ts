import type { OptionKey } from './types.ts';

/** How the engine writes numbers, sizes and durations into its sentences. */

const SECONDS_PER_DAY = 86_400;
const SECONDS_PER_YEAR = 365 * SECONDS_PER_DAY;

export const optionName = (option: OptionKey): string => `${option.placement}/${option.runtime}`;

export function roundTo(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Per number of decimals: its format, and the text of the numbers formatted lately. */
const numberFormats = new Map<
  number,
  { readonly format: Intl.NumberFormat; readonly texts: Map<number, string> }
>();

/** The most texts kept per number of decimals; the same few figures recur answer after answer. */
const TEXTS_KEPT = 4096;

/** A number with thousands separators and at most `digits` decimals. */
export function formatNumber(value: number, digits = 0): string {
  let formats = numberFormats.get(digits);
  if (formats === undefined) {
    formats = {
      format: new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }),
      texts: new Map(),
    };
    numberFormats.set(digits, formats);
  }
  // The map would take -0 for 0, which Intl writes as "-0".
  if (Object.is(value, -0)) return formats.format.format(value);
  let text = formats.texts.get(value);
  if (text === undefined) {
    text = formats.format.format(value);
    if (formats.texts.size >= TEXTS_KEPT) formats.texts.clear();
    formats.texts.set(value, text);
  }
  return text;
}

/** Two significant digits, for thresholds found by search. */
export const twoSignificant = (value: number): number => Number(value.toPrecision(2));

export const formatMs = (ms: number): string => `${formatNumber(ms, ms < 10 ? 1 : 0)} ms`;

export function formatMiB(mib: number): string {
  return mib >= 1024
    ? `${formatNumber(mib / 1024, 1)} GiB`
    : `${formatNumber(mib, mib < 10 ? 1 : 0)} MiB`;
}

/** A share as a percentage: two significant digits below 1%, whole percents above. */
export function formatPercent(share: number): string {
  const percent = share * 100;
  return `${percent !== 0 && Math.abs(percent) < 1 ? twoSignificant(percent) : Math.round(percent)}%`;
}

/** A duration in the largest unit that keeps it readable: 45 s, 40 min, 6 h, 3 days, 2 years. */
export function formatDuration(seconds: number): string {
  const units: readonly (readonly [string, number])[] = [
    ['years', SECONDS_PER_YEAR],
    ['days', SECONDS_PER_DAY],
    ['h', 3600],
    ['min', 60],
  ];
  for (const [unit, size] of units) {
    if (seconds >= 2 * size) return `${formatNumber(twoSignificant(seconds / size), 1)} ${unit}`;
  }
  return `${formatNumber(twoSignificant(seconds), 1)} s`;
}

/**
 * "a", "a and b", "a, b and c", or the first `most` and how many more, of `total` (more than
 * the items when they are only the first of a longer list).
 */
export function formatList(items: readonly string[], most = 5, total = items.length): string {
  const first = items.slice(0, most);
  const shown = total > first.length ? [...first, `${total - first.length} more`] : first;
  const last = shown.pop();
  if (last === undefined) return 'none';
  return shown.length === 0 ? last : `${shown.join(', ')} and ${last}`;
}

export const plural = (count: number, word: string, words = `${word}s`): string =>
  `${formatNumber(count)} ${count === 1 ? word : words}`;

export const capitalise = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);
