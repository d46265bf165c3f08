import {
  CANARY_TIME_CAP_MS,
  calibrate,
  type Calibration,
} from '../../agents/host-agent/calibration.ts';
import { newRunId } from '../../agents/host-agent/ids.ts';
import { printTable } from '../../cli/output.ts';
import { seededShuffle } from '../../lib/statistics.ts';
import { say, verdict } from '../drivers/output.ts';
import { type FidelityBenchOptions, suiteOf } from './options.ts';
import {
  percent,
  progress,
  shareText,
  type Spread,
  spreadOf,
  spreadText,
  wilsonInterval,
} from './output.ts';
import { type BenchContext, processDriver } from './suite-runs.ts';

/** Least share of canary intervals that must cover the quota they were measured under. */
export const COVERAGE_GOAL = 0.9;

/** The CPU quotas the canary runs under: each the throughput ratio to bare it should show. */
export const CANARY_QUOTAS = [0.25, 0.5, 0.75] as const;

/** The canary's runs at one quota. */
export interface QuotaCoverage {
  readonly quota: number;
  readonly runs: number;
  /** Runs whose 95% interval holds the quota. */
  readonly covered: number;
  /** Runs the canary calls calibrated (the interval within the margin of the quota). */
  readonly calibrated: number;
  readonly ratio: Spread;
}

/** The known-effects figure: how often the canary's interval covers the true ratio. */
export interface KnownEffectsFigure {
  readonly rounds: number;
  readonly byQuota: readonly QuotaCoverage[];
  readonly runs: number;
  readonly covered: number;
  readonly share: number;
  /** Wilson 95% interval of the share. */
  readonly ci95: readonly [number, number];
  readonly goal: number;
  readonly met: boolean;
}

const ratioText = (value: number): string => value.toFixed(3);

/**
 * (b) Known effects: the calibration canary (cpu-sha256 bare against under a CPU quota, in
 * rounds) at each quota, `canaryRuns` times; the quotas run in turn, their order shuffled per
 * pass. A run covers its quota when its 95% interval holds it.
 */
export async function knownEffectsStep(
  context: BenchContext,
  options: FidelityBenchOptions,
): Promise<KnownEffectsFigure> {
  const driver = await processDriver(context);
  const { timeCapMs } = suiteOf(options);
  const seed = newRunId();
  say(
    `(b) known effects: the canary at ${CANARY_QUOTAS.map(percent).join(', ')} quota, ${options.canaryRuns} runs each of ${options.canaryRounds} rounds, time cap ${Math.max(timeCapMs, CANARY_TIME_CAP_MS)} ms (the canary's least); quotas in an order shuffled per pass (seed ${seed})`,
  );
  const found = new Map<number, Calibration[]>(CANARY_QUOTAS.map((quota) => [quota, []]));
  for (let run = 1; run <= options.canaryRuns; run += 1) {
    for (const quota of seededShuffle(CANARY_QUOTAS, `${seed}/${run}`)) {
      const calibration = await calibrate({
        driver,
        rounds: options.canaryRounds,
        quota,
        margin: context.margin,
        timeCapMs,
        signal: context.signal,
      });
      found.get(quota)?.push(calibration);
      const [low, high] = calibration.ci95;
      progress(
        `canary run ${run}/${options.canaryRuns} at ${percent(quota)}: ${ratioText(calibration.ratio)}× [${ratioText(low)}–${ratioText(high)}]${low <= quota && quota <= high ? '' : ', misses the quota'}`,
      );
    }
  }
  const byQuota = CANARY_QUOTAS.map((quota): QuotaCoverage => {
    const calibrations = found.get(quota) ?? [];
    return {
      quota,
      runs: calibrations.length,
      covered: calibrations.filter(({ ci95: [low, high] }) => low <= quota && quota <= high).length,
      calibrated: calibrations.filter((calibration) => calibration.ok).length,
      ratio: spreadOf(calibrations.map((calibration) => calibration.ratio)),
    };
  });
  const runs = byQuota.reduce((sum, each) => sum + each.runs, 0);
  const covered = byQuota.reduce((sum, each) => sum + each.covered, 0);
  printTable(
    [
      ...byQuota.map((each) => ({
        quota: percent(each.quota),
        runs: each.runs,
        'interval covers the quota': shareText(each.covered, each.runs),
        calibrated: `${each.calibrated} of ${each.runs}`,
        'ratio: median [range]': spreadText(each.ratio, ratioText),
      })),
      {
        quota: 'all',
        runs,
        'interval covers the quota': shareText(covered, runs),
        calibrated: `${byQuota.reduce((sum, each) => sum + each.calibrated, 0)} of ${runs}`,
        'ratio: median [range]': '',
      },
    ],
    false,
  );
  const share = runs === 0 ? Number.NaN : covered / runs;
  const met = share >= COVERAGE_GOAL;
  say(
    `    coverage: ${shareText(covered, runs)}; goal >= ${COVERAGE_GOAL * 100}%: ${verdict(met)}`,
  );
  say(
    `    calibrated: the interval reaches within the ${percent(context.margin)} margin of the quota, as a suite judges its canary`,
  );
  say();
  return {
    rounds: options.canaryRounds,
    byQuota,
    runs,
    covered,
    share,
    ci95: wilsonInterval(covered, runs),
    goal: COVERAGE_GOAL,
    met,
  };
}
