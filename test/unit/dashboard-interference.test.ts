import { describe, expect, it } from 'vitest';
import {
  ANTAGONIST_NAMES,
  besideMetric,
  INTERFERENCE_WORKLOAD,
  type AntagonistName,
} from '../../contracts/workloads.ts';
import {
  interferenceRows,
  interferenceText,
  type InterferenceSeries,
} from '../../dashboards/web/interference.ts';

/** The victim's throughput beside an antagonist on one option, with its comparison or none. */
function beside(
  antagonist: AntagonistName,
  comparison?: Pick<InterferenceSeries, 'ratio' | 'ratioLow' | 'ratioHigh' | 'verdict'>,
  option: Partial<Pick<InterferenceSeries, 'hostId' | 'platform' | 'runtime' | 'accel'>> = {},
): InterferenceSeries {
  return {
    hostId: 'host-a',
    platform: 'container',
    runtime: 'runc',
    accel: 'none',
    ...option,
    workload: INTERFERENCE_WORKLOAD,
    metric: besideMetric(antagonist),
    unit: 'hash/s',
    p50: 4400,
    results: 2,
    ...comparison,
  };
}

describe('interferenceRows', () => {
  it('gives every antagonist in order per option, measured or not, with its comparison', () => {
    const slower = { ratio: 0.71, ratioLow: 0.66, ratioHigh: 0.77, verdict: 'slower' as const };
    const rows = interferenceRows([
      beside('fork-storm', { ratio: 0.99, ratioLow: 0.97, ratioHigh: 1.01, verdict: 'same' }),
      beside('cpu-hog', slower),
      beside('fsync-storm'),
      { ...beside('cpu-hog', slower), workload: 'cpu-sha256' },
      { ...beside('cpu-hog', slower), metric: 'beside-nothing' },
    ]);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row?.antagonists.map((cell) => cell.antagonist)).toEqual([...ANTAGONIST_NAMES]);
    expect(row?.antagonists.map(interferenceText)).toEqual([
      '0.71× [0.66–0.77] slower',
      'not measured',
      '4,400 hash/s, no comparison with alone',
      '0.99× [0.97–1.01] same',
    ]);
    expect(row?.antagonists[0]?.comparison).toEqual({
      ratio: 0.71,
      ratioLow: 0.66,
      ratioHigh: 0.77,
      verdict: 'slower',
    });
  });

  it('gives a row group per option and host, ordered, and none for options never measured', () => {
    const rows = interferenceRows([
      beside('cpu-hog', undefined, { platform: 'vm', runtime: 'qemu-microvm', accel: 'kvm' }),
      beside('cpu-hog', undefined, { hostId: 'host-b' }),
      beside('memory-bandwidth'),
    ]);
    expect(rows.map((row) => [row.hostId, row.platform])).toEqual([
      ['host-a', 'container'],
      ['host-a', 'vm'],
      ['host-b', 'container'],
    ]);
    expect(interferenceRows([])).toEqual([]);
  });
});
