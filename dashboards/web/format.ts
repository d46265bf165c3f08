/** How the dashboard writes numbers, sizes, times and ages. */

const numberFormat = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4 });

export const formatNumber = (value: number): string =>
  Number.isFinite(value) ? numberFormat.format(value) : '–';

const ratioFormat = new Intl.NumberFormat(undefined, {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

const smallRatioFormat = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 2 });

/** A ratio to two decimals ("0.99"), or to two significant digits below 0.1 ("0.022"). */
export const formatRatio = (ratio: number): string =>
  (Math.abs(ratio) < 0.1 ? smallRatioFormat : ratioFormat).format(ratio);

/** A paired comparison with the bare process: what a series summary carries of it. */
export interface ComparisonFigures {
  readonly ratio: number;
  readonly ratioLow: number;
  readonly ratioHigh: number;
  readonly verdict?: string;
}

/** "1.02× [0.99–1.05] same": the ratio, its 95% interval and the verdict when there is one. */
export const formatComparison = (comparison: ComparisonFigures): string =>
  `${formatRatio(comparison.ratio)}× [${formatRatio(comparison.ratioLow)}–${formatRatio(comparison.ratioHigh)}]${comparison.verdict === undefined ? '' : ` ${comparison.verdict}`}`;

export function formatBytes(bytes: number): string {
  const gib = bytes / 2 ** 30;
  return gib >= 1 ? `${formatNumber(gib)} GiB` : `${formatNumber(bytes / 2 ** 20)} MiB`;
}

export const formatPercent = (ratio: number): string => `${Math.round(ratio * 100)}%`;

export const formatTime = (epochMs: number): string => new Date(epochMs).toLocaleString();

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} d ago`;
}

/** platform/runtime, and the accel when there is one. */
export function optionName(platform: string, runtime?: string, accel?: string): string {
  const base = runtime === undefined || runtime === '' ? platform : `${platform}/${runtime}`;
  return accel === undefined || accel === '' || accel === 'none' ? base : `${base} (${accel})`;
}
