import type { ResultBatch } from '../../contracts/index.ts';

export interface SummaryRow extends Record<string, string | number | null> {
  workload: string;
  metric: string;
  unit: string;
}

/**
 * One row per workload and metric, one column per platform with its value and its ratio to
 * the bare process (the baseline every placement is compared with).
 */
export function summarise(batches: readonly ResultBatch[]): SummaryRow[] {
  const platforms = [...new Set(batches.map((batch) => batch.platform.name))];
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
        for (const platform of platforms) row[platform] = null;
        rows.set(key, row);
      }
      const base = baseline.get(key);
      const ratio =
        base === undefined || base === 0 ? '' : ` (${(metric.value / base).toFixed(2)}x)`;
      row[batch.platform.name] = `${Number(metric.value.toPrecision(4))}${ratio}`;
    }
  }
  return [...rows.values()];
}
