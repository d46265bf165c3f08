import { describe, expect, it } from 'vitest';
import {
  DENSITY_LOAD_WORKLOAD,
  INSTANCE_WORKLOAD,
  loadMetric,
  METRICS,
  type LoadMeasure,
} from '../../contracts/workloads.ts';
import { densityCurves, kneeLabel, type CurveSeries } from '../../dashboards/web/density-curves.ts';

const NOW = 1_764_000_000_000;

/** A series summary of one option on one host: its workload, metric, unit, median and time. */
function series(
  workload: string,
  metric: string,
  unit: string,
  p50: number,
  option: Partial<Pick<CurveSeries, 'hostId' | 'platform' | 'runtime' | 'accel'>> = {},
  latestAt = NOW,
): CurveSeries {
  return {
    hostId: 'host-a',
    platform: 'container',
    runtime: 'runc',
    accel: 'none',
    ...option,
    workload,
    metric,
    unit,
    p50,
    latestAt,
  };
}

const UNITS: Readonly<Record<LoadMeasure, string>> = {
  throughput: 'hash/s',
  sloShare: 'share',
  memory: 'MiB',
};

/** A step's three series, in the order given. */
const step = (
  instances: number,
  figures: Readonly<Record<LoadMeasure, number>>,
  option: Parameters<typeof series>[4] = {},
): CurveSeries[] =>
  (Object.keys(figures) as LoadMeasure[]).map((measure) =>
    series(
      DENSITY_LOAD_WORKLOAD,
      loadMetric(measure, instances),
      UNITS[measure],
      figures[measure],
      option,
    ),
  );

describe('densityCurves', () => {
  it('gives each step in order of N with its three figures, and the knee and SLO of the same option', () => {
    const curves = densityCurves([
      ...step(4, { throughput: 5800, sloShare: 0.93, memory: 12.5 }),
      ...step(1, { throughput: 6200, sloShare: 1, memory: 12 }),
      ...step(8, { throughput: 3100, sloShare: 0.48, memory: 13 }),
      ...step(2, { throughput: 6100, sloShare: 0.97, memory: 12.2 }),
      series(INSTANCE_WORKLOAD, METRICS.densityAtSlo.metric, 'instances', 4),
      series(INSTANCE_WORKLOAD, METRICS.densitySlo.metric, 'share', 0.9),
      series(INSTANCE_WORKLOAD, METRICS.startup.metric, 'ms', 150),
      series('cpu-sha256', 'throughput', 'hash/s', 6100),
    ]);
    expect(curves).toEqual([
      {
        hostId: 'host-a',
        platform: 'container',
        runtime: 'runc',
        accel: 'none',
        steps: [
          { instances: 1, throughput: 6200, sloShare: 1, memory: 12 },
          { instances: 2, throughput: 6100, sloShare: 0.97, memory: 12.2 },
          { instances: 4, throughput: 5800, sloShare: 0.93, memory: 12.5 },
          { instances: 8, throughput: 3100, sloShare: 0.48, memory: 13 },
        ],
        throughputUnit: 'hash/s',
        memoryUnit: 'MiB',
        knee: 4,
        slo: 0.9,
      },
    ]);
  });

  it('gives a curve per option and host, ordered, each with its own knee', () => {
    const vm = { platform: 'vm', runtime: 'qemu-microvm', accel: 'kvm' };
    const otherHost = { hostId: 'host-b' };
    const curves = densityCurves([
      ...step(1, { throughput: 6000, sloShare: 1, memory: 300 }, vm),
      ...step(2, { throughput: 5000, sloShare: 0.8, memory: 300 }, vm),
      series(INSTANCE_WORKLOAD, METRICS.densityAtSlo.metric, 'instances', 1, vm),
      ...step(1, { throughput: 6100, sloShare: 1, memory: 12 }, otherHost),
      ...step(1, { throughput: 6200, sloShare: 1, memory: 12 }),
      series(INSTANCE_WORKLOAD, METRICS.densityAtSlo.metric, 'instances', 2),
    ]);
    expect(
      curves.map((curve) => [curve.hostId, curve.platform, curve.steps.length, curve.knee]),
    ).toEqual([
      ['host-a', 'container', 1, 2],
      ['host-a', 'vm', 2, 1],
      ['host-b', 'container', 1, undefined],
    ]);
    expect(curves[2]).not.toHaveProperty('slo');
  });

  it('keeps only the newest unit of a measure whose load changed workload', () => {
    const curves = densityCurves([
      series(DENSITY_LOAD_WORKLOAD, loadMetric('throughput', 1), 'copy/s', 600, {}, NOW - 1000),
      series(DENSITY_LOAD_WORKLOAD, loadMetric('throughput', 16), 'copy/s', 100, {}, NOW - 1000),
      series(DENSITY_LOAD_WORKLOAD, loadMetric('throughput', 1), 'hash/s', 6200, {}, NOW),
      series(DENSITY_LOAD_WORKLOAD, loadMetric('throughput', 2), 'hash/s', 6000, {}, NOW),
      series(DENSITY_LOAD_WORKLOAD, loadMetric('memory', 16), 'MiB', 14, {}, NOW - 1000),
    ]);
    expect(curves).toHaveLength(1);
    expect(curves[0]?.throughputUnit).toBe('hash/s');
    expect(curves[0]?.steps).toEqual([
      { instances: 1, throughput: 6200 },
      { instances: 2, throughput: 6000 },
      { instances: 16, memory: 14 },
    ]);
  });

  it('has no curve for an option without density at load, and ignores metrics it does not name', () => {
    expect(
      densityCurves([
        series(INSTANCE_WORKLOAD, METRICS.densityAtSlo.metric, 'instances', 4),
        series(INSTANCE_WORKLOAD, METRICS.density.metric, 'instances', 32),
        series(DENSITY_LOAD_WORKLOAD, 'latency-at-4', 'ms', 3),
        series('cpu-sha256', loadMetric('throughput', 4), 'hash/s', 5000),
      ]),
    ).toEqual([]);
  });
});

describe('kneeLabel', () => {
  it('names the knee in instances', () => {
    expect(kneeLabel(4)).toBe('knee: 4 instances');
    expect(kneeLabel(1)).toBe('knee: 1 instance');
  });
});
