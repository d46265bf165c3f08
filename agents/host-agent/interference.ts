import type { AntagonistName } from '../../contracts/workloads.ts';
import { compareRounds, seededShuffle, type PairedComparison } from '../../lib/statistics.ts';
import { startAntagonist } from './antagonists.ts';
import type { PlatformDriver } from './drivers/driver.ts';
import { runLoadTrial } from './load-trial.ts';
import { mean } from './stats.ts';

/** What noisy neighbours measure: a victim workload alone and beside each antagonist. */
export interface InterferencePlan {
  /** The victim's workload. */
  readonly workload: string;
  /** How long the victim samples it in each trial, ms (the runner's time cap). */
  readonly trialMs: number;
  readonly antagonists: readonly AntagonistName[];
  /** Where antagonists get a scratch folder of their own. */
  readonly scratchDir: string;
}

/** One round of a platform's noisy neighbours: the victim alone and beside each antagonist. */
export interface InterferenceRound {
  readonly round: number;
  /** The victim's throughput alone. */
  readonly alone: number;
  /** Its throughput beside each antagonist. */
  readonly beside: ReadonlyMap<AntagonistName, number>;
  readonly unit: string;
  /** Each antagonist in words. */
  readonly described: ReadonlyMap<AntagonistName, string>;
  /** The conditions in the order they ran: `alone`, `cpu-hog`, … */
  readonly order: readonly string[];
}

/** A trial's own time bound, start-up included: the victim, with room for a slow boot. */
const TRIAL_TIMEOUT_MS = 120_000;

/** How long an antagonist runs before the victim starts, so the victim meets it at full tilt. */
const RAMP_MS = 200;

/**
 * One round of noisy neighbours on a platform: the victim alone and beside each antagonist,
 * in an order shuffled from the seed and round. Each antagonist starts before the victim and
 * is stopped, with its cgroup, as soon as the victim's trial ends (or fails).
 */
export async function measureInterferenceRound(
  driver: PlatformDriver,
  idPrefix: string,
  plan: InterferencePlan,
  round: number,
  seed: string,
  progress: (what: string) => void,
  signal?: AbortSignal,
): Promise<InterferenceRound> {
  const order = seededShuffle(['alone', ...plan.antagonists], `${seed}-interference-${round}`);
  const beside = new Map<AntagonistName, number>();
  const described = new Map<AntagonistName, string>();
  let alone: number | undefined;
  let unit = '';
  for (const condition of order) {
    progress(condition === 'alone' ? 'victim alone' : `victim beside ${condition}`);
    const antagonist =
      condition === 'alone'
        ? undefined
        : await startAntagonist(
            condition as AntagonistName,
            `${idPrefix}-a${round}-${condition}`,
            plan.scratchDir,
            TRIAL_TIMEOUT_MS + plan.trialMs,
          );
    try {
      if (antagonist !== undefined) {
        described.set(antagonist.name, antagonist.described);
        await new Promise((resolve) => setTimeout(resolve, RAMP_MS));
      }
      const trial = await runLoadTrial(driver, {
        ids: [`${idPrefix}-v${round}-${condition}`],
        workload: plan.workload,
        timeCapMs: plan.trialMs,
        timeoutMs: TRIAL_TIMEOUT_MS,
        ...(signal === undefined ? {} : { signal }),
      });
      const throughput = mean(trial.runners.map((runner) => runner.throughput));
      unit = trial.runners[0]?.unit ?? unit;
      if (antagonist === undefined) alone = throughput;
      else beside.set(antagonist.name, throughput);
    } finally {
      await antagonist?.stop();
    }
  }
  if (alone === undefined) throw new Error('the victim was not measured alone');
  return { round, alone, beside, unit, described, order };
}

/** An antagonist's effect over the rounds: the victim beside it against alone, paired by round. */
export interface Interference {
  readonly antagonist: AntagonistName;
  readonly described: string;
  readonly unit: string;
  /** The victim's throughput beside the antagonist in each round. */
  readonly besideByRound: readonly number[];
  readonly comparison: PairedComparison;
}

/**
 * Each antagonist's effect over the rounds kept, paired by round (beside ÷ alone, higher is
 * better); an antagonist measured in fewer than two rounds has no interval and is left out.
 */
export function interferenceOf(
  rounds: readonly InterferenceRound[],
  margin: number,
  seed: string,
): Interference[] {
  const antagonists = [...new Set(rounds.flatMap((round) => [...round.beside.keys()]))];
  const effects: Interference[] = [];
  for (const antagonist of antagonists) {
    const paired = rounds.filter((round) => round.beside.has(antagonist));
    if (paired.length < 2) continue;
    const besideByRound = paired.map((round) => round.beside.get(antagonist) ?? Number.NaN);
    effects.push({
      antagonist,
      described: paired[0]?.described.get(antagonist) ?? antagonist,
      unit: paired[0]?.unit ?? '',
      besideByRound,
      comparison: compareRounds(
        besideByRound,
        paired.map((round) => round.alone),
        { margin, higherIsBetter: true, seed: `${seed}-${antagonist}` },
      ),
    });
  }
  return effects;
}
