import { DENSITY_LOAD_WORKLOAD, loadStepOf } from '../../../contracts/workloads.ts';
import { sortedUnique } from './lists.ts';
import { bestPerHost, readingsOf, type Reading, type RowsAsOf } from './readings.ts';
import type { EvidenceRow, OptionKey } from './types.ts';

/**
 * Memory per instance at load: per host, each step of density at load it measured (N
 * instances running one workload at once) with the mean memory per instance at that step,
 * and which step counts for what a host holds.
 */

/** One step of density at load on one host: how many ran at once, and the memory reading. */
export interface LoadStep {
  readonly instances: number;
  /** Mean memory per instance at this step (MiB), of the best kind of reading the host has. */
  readonly reading: Reading;
}

/** A platform's memory per instance at load, per host, steps in ascending order. */
export interface LoadMemory {
  /** The platform and runtime(s) as their evidence names them. */
  readonly option: OptionKey;
  readonly byHost: ReadonlyMap<string, readonly LoadStep[]>;
}

const metricsMemo = new WeakMap<readonly EvidenceRow[], ReadonlyMap<string, readonly string[]>>();

/** Per platform, the memory metrics of density at load its rows name (found once per rows). */
function memoryMetrics(rows: readonly EvidenceRow[], platform: string): readonly string[] {
  let byPlatform = metricsMemo.get(rows);
  if (byPlatform === undefined) {
    const found = new Map<string, Set<string>>();
    for (const row of rows) {
      if (row.workload !== DENSITY_LOAD_WORKLOAD) continue;
      if (loadStepOf(row.metric)?.measure !== 'memory') continue;
      const metrics = found.get(row.platform);
      if (metrics === undefined) found.set(row.platform, new Set([row.metric]));
      else metrics.add(row.metric);
    }
    byPlatform = new Map([...found].map(([name, metrics]) => [name, [...metrics]]));
    metricsMemo.set(rows, byPlatform);
  }
  return byPlatform.get(platform) ?? [];
}

/**
 * The memory per instance at load of a platform (of one runtime, when given; of every
 * runtime it was measured with, merged per host, when not), per host.
 */
export function loadMemoryOf(asOf: RowsAsOf, platform: string, runtime?: string): LoadMemory {
  const byHost = new Map<string, LoadStep[]>();
  for (const metric of memoryMetrics(asOf.rows, platform)) {
    const instances = loadStepOf(metric)?.instances ?? 0;
    const readings = readingsOf(asOf, {
      platform,
      runtime,
      workload: DENSITY_LOAD_WORKLOAD,
      metric,
    });
    for (const reading of bestPerHost(readings)) {
      const steps = byHost.get(reading.hostId);
      if (steps === undefined) byHost.set(reading.hostId, [{ instances, reading }]);
      else steps.push({ instances, reading });
    }
  }
  for (const steps of byHost.values()) steps.sort((a, b) => a.instances - b.instances);
  const runtimes =
    runtime ??
    sortedUnique(
      asOf.rows
        .filter((row) => row.platform === platform && row.workload === DENSITY_LOAD_WORKLOAD)
        .map((row) => row.runtime),
    ).join(',');
  return { option: { placement: platform, runtime: runtimes }, byHost };
}

/**
 * The step that counts for what a host of `memoryMiB` holds (`steps` in ascending order, each
 * with the memory per instance it gives): the smallest step at or above the instances the host
 * holds at that step's memory per instance; else, when the host holds more than any step ran,
 * the largest. `covers` says which. Undefined when there is no step.
 */
export function countedStep<
  Step extends { readonly instances: number; readonly perInstance: number },
>(
  steps: readonly Step[],
  memoryMiB: number,
): { readonly step: Step; readonly covers: boolean } | undefined {
  const covering = steps.find((step) => Math.floor(memoryMiB / step.perInstance) <= step.instances);
  if (covering !== undefined) return { step: covering, covers: true };
  const largest = steps[steps.length - 1];
  return largest === undefined ? undefined : { step: largest, covers: false };
}
