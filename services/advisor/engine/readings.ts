import type { Accel, Verdict } from '../../../contracts/result.ts';
import { meanInterval, type Interval } from './intervals.ts';
import { compareText, mean, sortedUnique, sum } from './lists.ts';
import type { EvidenceRow } from './types.ts';

/**
 * Evidence rows as labelled readings: fresh or stale, on hardware or under TCG emulation; the
 * readings of the best kind there is, one per host; and one platform's readings as ratios to
 * the bare process's on the same host.
 */

/** The accel of QEMU emulating the CPU in software, as evidence rows and inventories name it. */
export const TCG: Accel = 'tcg';

/** One host's reading of one metric, or a ratio of two. */
export interface Reading {
  readonly hostId: string;
  readonly accels: readonly string[];
  readonly unit: string;
  readonly value: number;
  readonly p95: number;
  readonly samples: number;
  readonly latestAt: number;
  readonly resultIds: readonly string[];
  readonly stale: boolean;
  readonly tcg: boolean;
  /** Results behind it, and how many of them came from runs whose calibration canary missed. */
  readonly results: number;
  readonly uncalibratedResults: number;
  /**
   * The series' paired ratio and its 95% interval, where it has one: to the bare process, or
   * (noisy neighbours) to the same platform alone.
   */
  readonly comparison: Comparison | undefined;
  /** That comparison's verdict (`unclear` for a host whose readings disagree). */
  readonly verdict: Verdict | undefined;
  /** A ratio's 95% interval (only ratio readings built from a comparison have one). */
  readonly interval: Interval | undefined;
  /**
   * How many host states (distinct host fingerprints) the results behind it were measured in:
   * more than 1 when the host changed between them; 0 for version 1 results, which carry none.
   */
  readonly hostStates: number;
  /** A start-up's p95 over interleaved launches with its 95% interval, where it gives one. */
  readonly startupP95: StartupP95 | undefined;
  /** Whether its start-up launches fell into two separate groups. */
  readonly bimodal: boolean;
}

/** A start-up's p95 over interleaved launches with its distribution-free 95% interval. */
export interface StartupP95 {
  readonly value: number;
  readonly interval: Interval;
  /** False when too few launches bound the interval: its upper end is the slowest launch. */
  readonly exact: boolean;
}

/** A paired ratio to the bare process with its 95% interval, as a version 2 result gives it. */
export interface Comparison {
  readonly ratio: number;
  readonly interval: Interval;
}

/** Evidence rows as read at a moment: `now`, and how old a row may be before it is stale. */
export interface RowsAsOf {
  readonly rows: readonly EvidenceRow[];
  readonly now: number;
  readonly staleAfterMs: number;
}

/**
 * One series: a platform (one runtime of it, when given), a workload and a metric (in one unit,
 * when given).
 */
export interface SeriesQuery {
  readonly platform: string;
  readonly runtime?: string | undefined;
  readonly workload: string;
  readonly metric: string;
  readonly unit?: string | undefined;
}

const isStale = (latestAt: number, now: number, staleAfterMs: number): boolean =>
  now - latestAt > staleAfterMs;

/**
 * Each row's readings, fresh and stale (a moment changes a reading only in that), for one stale
 * age: the rows of a host subset are the whole fleet's rows, so the subsets' facts share these.
 */
const rowReadings = new WeakMap<
  EvidenceRow,
  { readonly staleAfterMs: number; fresh?: Reading; stale?: Reading }
>();

function readingOf(row: EvidenceRow, now: number, staleAfterMs: number): Reading {
  let held = rowReadings.get(row);
  if (held?.staleAfterMs !== staleAfterMs) {
    held = { staleAfterMs };
    rowReadings.set(row, held);
  }
  const stale = isStale(row.latestAt, now, staleAfterMs);
  const kept = stale ? held.stale : held.fresh;
  if (kept !== undefined) return kept;
  const reading = newReading(row, stale);
  if (stale) held.stale = reading;
  else held.fresh = reading;
  return reading;
}

function newReading(row: EvidenceRow, stale: boolean): Reading {
  return {
    hostId: row.hostId,
    accels: [row.accel],
    unit: row.unit,
    value: row.mean,
    p95: row.p95,
    samples: row.samples,
    latestAt: row.latestAt,
    resultIds: row.resultIds,
    stale,
    tcg: row.accel === TCG,
    results: row.results,
    uncalibratedResults: row.uncalibratedResults ?? 0,
    comparison:
      row.ratio === undefined || row.ratioLow === undefined || row.ratioHigh === undefined
        ? undefined
        : { ratio: row.ratio, interval: [row.ratioLow, row.ratioHigh] },
    verdict: row.verdict,
    interval: undefined,
    hostStates: row.hostStates ?? 0,
    startupP95: startupP95Of(row),
    bimodal: row.startupBimodal === true,
  };
}

/** The row's start-up p95 with its interval; none for a row without one (version 1). */
function startupP95Of(row: EvidenceRow): StartupP95 | undefined {
  const { startupP95: value, startupP95Low: low, startupP95High: high } = row;
  if (value === undefined || low === undefined || high === undefined) return undefined;
  return { value, interval: [low, high], exact: row.startupP95Exact !== false };
}

const rowIndexes = new WeakMap<readonly EvidenceRow[], Map<string, EvidenceRow[]>>();

/** The rows of one platform, workload and metric; the index is built once per list of rows. */
function rowsFor(
  rows: readonly EvidenceRow[],
  platform: string,
  workload: string,
  metric: string,
): readonly EvidenceRow[] {
  let index = rowIndexes.get(rows);
  if (index === undefined) {
    index = new Map();
    for (const row of rows) {
      const key = `${row.platform}\0${row.workload}\0${row.metric}`;
      const bucket = index.get(key);
      if (bucket === undefined) index.set(key, [row]);
      else bucket.push(row);
    }
    rowIndexes.set(rows, index);
  }
  return index.get(`${platform}\0${workload}\0${metric}`) ?? [];
}

/**
 * The readings of each series asked for, per list of rows, as of one moment: facts gathered
 * once keep their moment, so every question ranked over them reads each series once. Only the
 * newest moment of a list is kept.
 */
const seriesReadings = new WeakMap<
  readonly EvidenceRow[],
  {
    readonly now: number;
    readonly staleAfterMs: number;
    readonly bySeries: Map<string, readonly Reading[]>;
  }
>();

/** The readings of one series, each row as it is. */
export function readingsOf(asOf: RowsAsOf, series: SeriesQuery): readonly Reading[] {
  const { rows, now, staleAfterMs } = asOf;
  let held = seriesReadings.get(rows);
  if (held?.now !== now || held.staleAfterMs !== staleAfterMs) {
    held = { now, staleAfterMs, bySeries: new Map() };
    seriesReadings.set(rows, held);
  }
  const key = `${series.platform}\0${series.runtime ?? ''}\0${series.workload}\0${series.metric}\0${series.unit ?? ''}`;
  const found = held.bySeries.get(key);
  if (found !== undefined) return found;
  const readings = rowsFor(rows, series.platform, series.workload, series.metric)
    .filter(
      (row) =>
        (series.runtime === undefined || row.runtime === series.runtime) &&
        (series.unit === undefined || row.unit === series.unit),
    )
    .map((row) => readingOf(row, now, staleAfterMs));
  held.bySeries.set(key, readings);
  return readings;
}

/** Hardware before emulation, then fresh before stale: the readings of the best kind there is. */
export function bestTier(readings: readonly Reading[]): Reading[] {
  const tier = (reading: Reading): number => (reading.tcg ? 2 : 0) + (reading.stale ? 1 : 0);
  const best = Math.min(...readings.map(tier));
  return readings.filter((reading) => tier(reading) === best);
}

/** One reading per host (the mean of its readings; a host's only reading as it is), by host. */
function perHost(readings: readonly Reading[]): Reading[] {
  const byHost = new Map<string, Reading[]>();
  for (const reading of readings) {
    const own = byHost.get(reading.hostId);
    if (own === undefined) byHost.set(reading.hostId, [reading]);
    else own.push(reading);
  }
  return [...byHost.entries()]
    .sort(([a], [b]) => compareText(a, b))
    .map(([hostId, own]) =>
      own.length === 1 && own[0] !== undefined ? own[0] : meanReading(hostId, own),
    );
}

function meanReading(hostId: string, own: readonly Reading[]): Reading {
  return {
    hostId,
    accels: sortedUnique(own.flatMap((reading) => reading.accels)),
    unit: own[0]?.unit ?? '',
    value: mean(own.map((reading) => reading.value)),
    p95: mean(own.map((reading) => reading.p95)),
    samples: sum(own.map((reading) => reading.samples)),
    latestAt: Math.max(...own.map((reading) => reading.latestAt)),
    resultIds: own.flatMap((reading) => reading.resultIds),
    stale: own.some((reading) => reading.stale),
    tcg: own.some((reading) => reading.tcg),
    results: sum(own.map((reading) => reading.results)),
    uncalibratedResults: sum(own.map((reading) => reading.uncalibratedResults)),
    comparison: ofEvery(own, (reading) => reading.comparison, meanComparison),
    verdict: ofEvery(own, (reading) => reading.verdict, sharedVerdict),
    interval: undefined,
    hostStates: Math.max(...own.map((reading) => reading.hostStates)),
    startupP95: ofEvery(own, (reading) => reading.startupP95, meanStartupP95),
    bimodal: own.some((reading) => reading.bimodal),
  };
}

/** What every reading has, from `pick`, combined by `combine`; none unless every one has it. */
function ofEvery<Item>(
  own: readonly Reading[],
  pick: (reading: Reading) => Item | undefined,
  combine: (items: readonly Item[]) => Item,
): Item | undefined {
  const items = own.flatMap((reading) => {
    const item = pick(reading);
    return item === undefined ? [] : [item];
  });
  return items.length === 0 || items.length < own.length ? undefined : combine(items);
}

/** The mean of start-up p95s, ends and all; exact when every one is. */
const meanStartupP95 = (p95s: readonly StartupP95[]): StartupP95 => ({
  value: mean(p95s.map((p95) => p95.value)),
  interval: meanInterval(p95s),
  exact: p95s.every((p95) => p95.exact),
});

/** The verdict every reading gives, or `unclear` where they disagree. */
const sharedVerdict = (verdicts: readonly Verdict[]): Verdict =>
  verdicts.every((verdict) => verdict === verdicts[0]) ? (verdicts[0] ?? 'unclear') : 'unclear';

/** The mean of comparisons, ends and all. */
const meanComparison = (comparisons: readonly Comparison[]): Comparison => ({
  ratio: mean(comparisons.map((comparison) => comparison.ratio)),
  interval: meanInterval(comparisons.map(({ ratio, interval }) => ({ value: ratio, interval }))),
});

/** One reading per host, of the best kind there is (none when there is no reading). */
export const bestPerHost = (readings: readonly Reading[]): Reading[] => perHost(bestTier(readings));

/**
 * Per host: a platform's throughput relative to the bare process's (`baseline`, by host), where
 * the two share a unit. A reading with a paired comparison (version 2 results) gives that
 * ratio and its interval; one without, its mean over the bare process's mean and no interval.
 * Its host states are the more of its own and the bare process's.
 */
export function ratioReadings(
  readings: readonly Reading[],
  baseline: ReadonlyMap<string, Reading>,
): Reading[] {
  return perHost(readings).flatMap((reading) => {
    const bare = baseline.get(reading.hostId);
    if (bare === undefined || bare.unit !== reading.unit || bare.value <= 0) return [];
    const ratio = reading.comparison?.ratio ?? reading.value / bare.value;
    return [
      {
        ...reading,
        unit: 'ratio',
        value: ratio,
        p95: ratio,
        interval: reading.comparison?.interval,
        latestAt: Math.max(reading.latestAt, bare.latestAt),
        resultIds: [...reading.resultIds, ...bare.resultIds],
        stale: reading.stale || bare.stale,
        hostStates: Math.max(reading.hostStates, bare.hostStates),
      },
    ];
  });
}
