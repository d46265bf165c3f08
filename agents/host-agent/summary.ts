import type { Comparison, ResultBatch } from '../../contracts/index.ts';
import { INTERFERENCE_WORKLOAD } from '../../contracts/workloads.ts';
import { driverName } from './drivers/select.ts';
import type { RoundRecord } from './suite-run.ts';

/** A comparison as the summary prints it: `1.02× [0.99–1.05] same`. */
export function comparisonText({
  ratio,
  ci95,
  verdict,
}: Pick<Comparison, 'ratio' | 'ci95' | 'verdict'>): string {
  return `${ratio.toFixed(2)}× [${ci95[0].toFixed(2)}–${ci95[1].toFixed(2)}] ${verdict}`;
}

/**
 * The rounds of a run in one line: how many were kept, and which were run again and why
 * ("3 rounds (1 repeated: steal 12% over 5%)").
 */
export function roundsText(rounds: readonly RoundRecord[]): string {
  const kept = rounds.filter((round) => !round.repeated).length;
  const repeated = rounds.filter((round) => round.repeated);
  const why = [...new Set(repeated.map((round) => round.disturbed ?? 'disturbed'))].join('; ');
  return `${kept} round${kept === 1 ? '' : 's'}${repeated.length === 0 ? '' : ` (${repeated.length} repeated: ${why})`}`;
}

export interface SummaryRow extends Record<string, string | number | null> {
  workload: string;
  metric: string;
  unit: string;
}

/**
 * The column of each batch: its platform's name, or `platform:runtime` where batches of two
 * runtimes share the platform (`vm:qemu-microvm`, `vm:libvirt`).
 */
function columnNamer(batches: readonly ResultBatch[]): (batch: ResultBatch) => string {
  const runtimes = new Map<string, Set<string>>();
  for (const { platform } of batches) {
    runtimes.set(platform.name, (runtimes.get(platform.name) ?? new Set()).add(platform.runtime));
  }
  return ({ platform }) =>
    (runtimes.get(platform.name)?.size ?? 0) > 1
      ? driverName({ platform: platform.name, runtime: platform.runtime })
      : platform.name;
}

/**
 * One row per workload and metric, one column per platform (per driver where a platform has
 * several) with its value and its ratio to the bare process (the baseline every placement is
 * compared with): the paired comparison over rounds with its interval and verdict where the
 * result has one, else the plain ratio of the values. Noisy neighbours compare a platform
 * with itself alone, and their metric says so (`beside-cpu-hog, vs alone`).
 */
export function summarise(batches: readonly ResultBatch[]): SummaryRow[] {
  const columnOf = columnNamer(batches);
  const columns = [...new Set(batches.map(columnOf))];
  const rows = new Map<string, SummaryRow>();
  const baseline = new Map<string, number>();
  for (const batch of batches) {
    for (const metric of batch.metrics) {
      const key = `${batch.workload.name}/${metric.name}`;
      if (batch.platform.name === 'process') baseline.set(key, metric.value);
    }
  }
  for (const batch of batches) {
    for (const metric of batch.metrics) {
      const key = `${batch.workload.name}/${metric.name}`;
      let row = rows.get(key);
      if (row === undefined) {
        const vsAlone = batch.workload.name === INTERFERENCE_WORKLOAD ? ', vs alone' : '';
        row = {
          workload: batch.workload.name,
          metric: `${metric.name}${vsAlone}`,
          unit: metric.unit,
        };
        for (const column of columns) row[column] = null;
        rows.set(key, row);
      }
      const base = baseline.get(key);
      const comparison = 'comparison' in metric ? metric.comparison : undefined;
      const ratio =
        comparison !== undefined
          ? ` (${comparisonText(comparison)})`
          : base === undefined || base === 0
            ? ''
            : ` (${(metric.value / base).toFixed(2)}x)`;
      row[columnOf(batch)] = `${Number(metric.value.toPrecision(4))}${ratio}`;
    }
  }
  return [...rows.values()];
}
