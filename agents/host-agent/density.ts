import type { Instance, PlatformDriver } from './drivers/driver.ts';
import { errorText } from './error-text.ts';
import { launchIdle } from './launch.ts';
import { MIB } from './stats.ts';
import type { Suite } from './suite-catalogue.ts';

/** How many idle instances fit side by side in a suite's memory budget, and why it stopped. */
export interface Density {
  /** Workload instances (runners) that fit in the budget. */
  readonly count: number;
  readonly stoppedBy: 'budget' | 'cap' | 'launch-failed';
  /** Memory the instances that fit used together, MiB. */
  readonly usedMiB: number;
  readonly note?: string;
}

/**
 * Density by measurement: idle instances are started one after another and held side by
 * side; after each start the memory of all of them is read again. The count is how many fit
 * before the sum passes the budget (or the cap is reached, or a start fails). Undefined when
 * the run was stopped or the platform does not account memory.
 */
export async function measureDensity(
  driver: PlatformDriver,
  idPrefix: string,
  suite: Suite,
  aborted: () => boolean,
): Promise<Density | undefined> {
  const held: Instance[] = [];
  let count = 0;
  let usedMiB = 0;
  try {
    for (;;) {
      if (aborted()) return undefined;
      if (count >= suite.densityCap) return { count, stoppedBy: 'cap', usedMiB };
      let instance: Instance;
      try {
        ({ instance } = await launchIdle(driver, `${idPrefix}-d${held.length + 1}`));
      } catch (error) {
        return { count, stoppedBy: 'launch-failed', usedMiB, note: errorText(error) };
      }
      held.push(instance);
      const peaks = await Promise.all(held.map((each) => each.peakMemoryBytes()));
      if (peaks.some((peak) => peak === undefined)) return undefined;
      const totalMiB = peaks.reduce<number>((sum, peak) => sum + (peak ?? 0), 0) / MIB;
      if (totalMiB > suite.densityBudgetMiB) return { count, stoppedBy: 'budget', usedMiB };
      count += instance.runners;
      usedMiB = totalMiB;
    }
  } finally {
    await Promise.all(held.map((each) => each.stop()));
  }
}
