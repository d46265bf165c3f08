import type { ResultBatch } from '../../contracts/index.ts';
import { driverName } from './drivers/select.ts';

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
 * compared with).
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
        row = { workload: batch.workload.name, metric: metric.name, unit: metric.unit };
        for (const column of columns) row[column] = null;
        rows.set(key, row);
      }
      const base = baseline.get(key);
      const ratio =
        base === undefined || base === 0 ? '' : ` (${(metric.value / base).toFixed(2)}x)`;
      row[columnOf(batch)] = `${Number(metric.value.toPrecision(4))}${ratio}`;
    }
  }
  return [...rows.values()];
}
