import { readFile } from 'node:fs/promises';
import type { Instance, PlatformDriver } from './drivers/driver.ts';
import { errorText } from './error-text.ts';
import { parseCpuTimes } from './host-state.ts';
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
  /**
   * CPU one idle instance costs the host, thousandths of a core: the host's busy CPU with
   * the instances held, less before the first started, over the instances.
   */
  readonly idleCpuMillicores?: number;
}

/** How long the host's busy CPU is read before and after the instances start, ms. */
const CPU_SAMPLE_MS = 1_000;

/** Cores the host kept busy over the next `ms` (user, nice and system time of every CPU). */
async function busyCores(ms: number): Promise<number> {
  const read = async (): Promise<ReturnType<typeof parseCpuTimes>> =>
    parseCpuTimes(await readFile('/proc/stat', 'utf8'));
  const start = await read();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const end = await read();
  const total = end.total - start.total;
  return total > 0 ? ((end.busy - start.busy) / total) * end.cpus : 0;
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
  const before = await busyCores(CPU_SAMPLE_MS);
  /** The density found, with the idle CPU of the instances held that count. */
  const found = async (density: Omit<Density, 'idleCpuMillicores'>): Promise<Density> => {
    if (density.count === 0 || aborted()) return density;
    // The last instance started did not fit: it is stopped before the CPU is read.
    while (held.reduce((sum, each) => sum + each.runners, 0) > density.count) {
      await held.pop()?.stop();
    }
    const idle = Math.max(0, (await busyCores(CPU_SAMPLE_MS)) - before);
    return { ...density, idleCpuMillicores: (idle * 1000) / density.count };
  };
  try {
    for (;;) {
      if (aborted()) return undefined;
      if (count >= suite.densityCap) return await found({ count, stoppedBy: 'cap', usedMiB });
      let instance: Instance;
      try {
        ({ instance } = await launchIdle(driver, `${idPrefix}-d${held.length + 1}`));
      } catch (error) {
        return await found({ count, stoppedBy: 'launch-failed', usedMiB, note: errorText(error) });
      }
      held.push(instance);
      const peaks = await Promise.all(held.map((each) => each.peakMemoryBytes()));
      if (peaks.some((peak) => peak === undefined)) return undefined;
      const totalMiB = peaks.reduce<number>((sum, peak) => sum + (peak ?? 0), 0) / MIB;
      if (totalMiB > suite.densityBudgetMiB) {
        return await found({ count, stoppedBy: 'budget', usedMiB });
      }
      count += instance.runners;
      usedMiB = totalMiB;
    }
  } finally {
    await Promise.all(held.map((each) => each.stop()));
  }
}
