import type { AdviceQuestion } from '../contracts/advice.ts';
import {
  ANTAGONIST_NAMES,
  besideMetric,
  DENSITY_LOAD_WORKLOAD,
  INTERFERENCE_WORKLOAD,
  LOAD_MEASURES,
  loadMetric,
  WORKLOAD_NAMES,
  type AntagonistName,
  type WorkloadName,
} from '../contracts/workloads.ts';
import type { EngineInput, EvidenceRow, HostInfo } from '../services/advisor/engine/types.ts';

/**
 * Evidence and inventory shaped like this development host's: a bare process, runc
 * containers, and QEMU microvm VMs (and containers in them) under TCG emulation only, with
 * start-up, memory and throughput figures of the size its agent measures. Also a KVM host for
 * comparison, and rows of noisy neighbours and of memory at load. Builders take overrides so
 * each test says only what it changes.
 */

export const NOW = 1_764_000_000_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const STALE_AFTER_MS = 7 * DAY_MS;
export const MIB = 2 ** 20;

const THROUGHPUT_UNITS: Readonly<Record<WorkloadName, string>> = {
  'cpu-sha256': 'hash/s',
  'cpu-gzip': 'compress/s',
  'memory-copy': 'copy/s',
  'syscall-fstat': '100 calls/s',
  'file-fsync': 'write+fsync/s',
  'net-loopback': 'round trip/s',
  'process-spawn': 'spawn/s',
};

/** The bare process's throughput on this host, per workload. */
export const PROCESS_THROUGHPUT: Readonly<Record<WorkloadName, number>> = {
  'cpu-sha256': 6_200,
  'cpu-gzip': 900,
  'memory-copy': 610,
  'syscall-fstat': 9_800,
  'file-fsync': 480,
  'net-loopback': 24_000,
  'process-spawn': 640,
};

/** What one platform measured on one host, as the agent's summary would show it. */
export interface PlatformFigures {
  readonly platform: string;
  readonly runtime: string;
  readonly accel: string;
  readonly startupMs: number;
  readonly startupP95Ms: number;
  readonly memoryPeakMiB: number;
  /** Omitted for the bare process, which is its own baseline. */
  readonly memoryOverheadMiB?: number;
  readonly density: number;
  /** Throughput relative to the bare process, per workload. */
  readonly ratios: Readonly<Record<WorkloadName, number>>;
  /**
   * Measured in interleaved rounds (version 2 results): each throughput ratio has a 95%
   * interval of ± this share of it. Absent: version 1 results, no interval.
   */
  readonly ratioHalfWidth?: number;
  /** How many of each series' results came from runs whose calibration canary missed. */
  readonly uncalibratedResults?: number;
}

/**
 * The platform measured in interleaved rounds: its ratios with ± `halfWidth` intervals, and
 * `uncalibratedResults` of each series' results from runs whose calibration canary missed.
 */
export const withIntervals = (
  figures: PlatformFigures,
  halfWidth: number,
  uncalibratedResults = 0,
): PlatformFigures => ({ ...figures, ratioHalfWidth: halfWidth, uncalibratedResults });

/** The fixtures' equivalence margin, the agents' default. */
const MARGIN = 0.03;

/** The verdict a ratio's interval gives against the margin (throughput: higher is better). */
function verdictOf(low: number, high: number): NonNullable<EvidenceRow['verdict']> {
  if (low >= 1 - MARGIN && high <= 1 + MARGIN) return 'same';
  if (low > 1) return 'faster';
  if (high < 1) return 'slower';
  return 'unclear';
}

/** A throughput ratio as measured in rounds: its 95% interval and verdict. */
export interface MeasuredRatio {
  readonly ratio: number;
  readonly low: number;
  readonly high: number;
  readonly verdict: NonNullable<EvidenceRow['verdict']>;
}

/** The platform's ratio with its interval, when it was measured in rounds (not on process). */
export function measuredRatio(figures: PlatformFigures, ratio: number): MeasuredRatio | undefined {
  const halfWidth = figures.ratioHalfWidth;
  if (halfWidth === undefined || figures.platform === 'process') return undefined;
  const low = ratio * (1 - halfWidth);
  const high = ratio * (1 + halfWidth);
  return { ratio, low, high, verdict: verdictOf(low, high) };
}

/** Rounds behind each fixture comparison. */
export const FIXTURE_ROUNDS = 8;

/** A throughput row's comparison with the bare process, when the platform has intervals. */
function comparisonFields(figures: PlatformFigures, ratio: number): Partial<EvidenceRow> {
  const measured = measuredRatio(figures, ratio);
  if (measured === undefined) return {};
  return {
    ratio,
    ratioLow: measured.low,
    ratioHigh: measured.high,
    ratioRounds: FIXTURE_ROUNDS,
    verdict: measured.verdict,
    uncalibratedResults: figures.uncalibratedResults ?? 0,
  };
}

const allRatios = (ratio: number): Record<WorkloadName, number> =>
  Object.fromEntries(WORKLOAD_NAMES.map((workload) => [workload, ratio])) as Record<
    WorkloadName,
    number
  >;

export const PROCESS: PlatformFigures = {
  platform: 'process',
  runtime: 'node',
  accel: 'none',
  startupMs: 120,
  startupP95Ms: 140,
  memoryPeakMiB: 10,
  density: 32,
  ratios: allRatios(1),
};

export const CONTAINER: PlatformFigures = {
  platform: 'container',
  runtime: 'runc',
  accel: 'none',
  startupMs: 150,
  startupP95Ms: 180,
  memoryPeakMiB: 11.5,
  memoryOverheadMiB: 1.5,
  density: 32,
  ratios: {
    'cpu-sha256': 0.99,
    'cpu-gzip': 0.98,
    'memory-copy': 0.99,
    'syscall-fstat': 0.97,
    'file-fsync': 0.95,
    'net-loopback': 0.96,
    'process-spawn': 0.9,
  },
};

/** QEMU microvm under TCG: CPU work 20-60× slower than on the host. */
export const VM_TCG: PlatformFigures = {
  platform: 'vm',
  runtime: 'qemu-microvm',
  accel: 'tcg',
  startupMs: 4_500,
  startupP95Ms: 5_200,
  memoryPeakMiB: 330,
  memoryOverheadMiB: 320,
  density: 3,
  ratios: {
    'cpu-sha256': 1 / 45,
    'cpu-gzip': 1 / 40,
    'memory-copy': 1 / 20,
    'syscall-fstat': 1 / 30,
    'file-fsync': 1 / 50,
    'net-loopback': 1 / 35,
    'process-spawn': 1 / 60,
  },
};

export const CONTAINER_IN_VM_TCG: PlatformFigures = {
  ...VM_TCG,
  platform: 'container-in-vm',
  startupMs: 5_200,
  startupP95Ms: 6_000,
  memoryPeakMiB: 345,
  memoryOverheadMiB: 335,
  density: 2,
};

/** The same QEMU microvm on a host where KVM works. */
export const VM_KVM: PlatformFigures = {
  ...VM_TCG,
  accel: 'kvm',
  startupMs: 280,
  startupP95Ms: 330,
  memoryPeakMiB: 300,
  memoryOverheadMiB: 290,
  density: 3,
  ratios: {
    'cpu-sha256': 0.97,
    'cpu-gzip': 0.96,
    'memory-copy': 0.95,
    'syscall-fstat': 0.9,
    'file-fsync': 0.6,
    'net-loopback': 0.85,
    'process-spawn': 0.7,
  },
};

export const GVISOR: PlatformFigures = {
  ...CONTAINER,
  runtime: 'runsc',
  startupMs: 400,
  startupP95Ms: 480,
  memoryPeakMiB: 40,
  memoryOverheadMiB: 30,
  ratios: { ...allRatios(0.7), 'cpu-sha256': 0.98, 'cpu-gzip': 0.97 },
};

const INSTANCE_UNITS: Readonly<Record<string, string>> = {
  startup: 'ms',
  'memory-peak': 'MiB',
  'memory-overhead': 'MiB',
  density: 'instances',
};

/** One evidence row; what is not given takes a plausible default. */
export function evidenceRow(
  fields: Pick<EvidenceRow, 'hostId' | 'platform' | 'runtime' | 'workload' | 'metric' | 'mean'> &
    Partial<EvidenceRow>,
): EvidenceRow {
  const instance = fields.workload === 'instance';
  return {
    accel: 'none',
    unit: INSTANCE_UNITS[fields.metric] ?? 'op/s',
    results: 1,
    samples: instance ? 20 : 2_000,
    p50: fields.mean,
    p95: fields.mean * 1.15,
    latestAt: NOW - HOUR_MS,
    resultIds: [
      `r-${fields.hostId}-${fields.platform}-${fields.runtime}-${fields.workload}-${fields.metric}`,
    ],
    ...fields,
  };
}

/** Every row an agent's full suite gives for one platform on one host. */
export function platformRows(
  hostId: string,
  figures: PlatformFigures,
  overrides: Partial<EvidenceRow> = {},
): EvidenceRow[] {
  const base = {
    hostId,
    platform: figures.platform,
    runtime: figures.runtime,
    accel: figures.accel,
  };
  const instance = (metric: string, mean: number, p95 = mean): EvidenceRow =>
    evidenceRow({ ...base, workload: 'instance', metric, mean, p95, ...overrides });
  return [
    instance('startup', figures.startupMs, figures.startupP95Ms),
    instance('memory-peak', figures.memoryPeakMiB),
    ...(figures.memoryOverheadMiB === undefined
      ? []
      : [instance('memory-overhead', figures.memoryOverheadMiB)]),
    instance('density', figures.density),
    ...WORKLOAD_NAMES.flatMap((workload) => {
      const throughput = PROCESS_THROUGHPUT[workload] * figures.ratios[workload];
      return [
        evidenceRow({
          ...base,
          workload,
          metric: 'throughput',
          unit: THROUGHPUT_UNITS[workload],
          mean: throughput,
          ...comparisonFields(figures, figures.ratios[workload]),
          ...overrides,
        }),
        evidenceRow({
          ...base,
          workload,
          metric: 'latency',
          unit: 'ms',
          mean: 1000 / throughput,
          ...overrides,
        }),
      ];
    }),
  ];
}

/** This host: process, runc container, and VM and container-in-VM under TCG. */
export function thisHostEvidence(
  hostId = 'host-a',
  overrides: Partial<EvidenceRow> = {},
): EvidenceRow[] {
  return [PROCESS, CONTAINER, VM_TCG, CONTAINER_IN_VM_TCG].flatMap((figures) =>
    platformRows(hostId, figures, overrides),
  );
}

/** A host where KVM works: process, runc container and a VM under KVM. */
export function kvmHostEvidence(
  hostId = 'host-kvm',
  overrides: Partial<EvidenceRow> = {},
): EvidenceRow[] {
  return [PROCESS, CONTAINER, VM_KVM].flatMap((figures) =>
    platformRows(hostId, figures, overrides),
  );
}

/** An inventory like this host's: Debian's kernel, 24 GiB, VMs under TCG, libvirt not usable. */
export function hostInfo(hostId = 'host-a', overrides: Partial<HostInfo> = {}): HostInfo {
  return {
    hostId,
    kernel: '6.1.0-56-amd64',
    osFamily: 'linux',
    memoryBytes: 24_105 * MIB,
    platforms: [
      { platform: 'process', runtime: 'node', available: true, accel: 'none' },
      { platform: 'container', runtime: 'runc', available: true, accel: 'none' },
      {
        platform: 'vm',
        runtime: 'qemu-microvm',
        available: true,
        accel: 'tcg',
        reason: 'no /dev/kvm: QEMU runs under TCG emulation',
      },
      { platform: 'container-in-vm', runtime: 'qemu-microvm', available: true, accel: 'tcg' },
      {
        platform: 'vm',
        runtime: 'libvirt',
        available: false,
        reason: "libvirt's test driver runs no guest",
      },
    ],
    ...overrides,
  };
}

/** "A CI job that lives 3 minutes, 400 at a time": trusted Linux code. */
export function question(overrides: Partial<AdviceQuestion> = {}): AdviceQuestion {
  return {
    workload: 'ci-job',
    os: { family: 'linux' },
    lifetimeSeconds: 180,
    instances: 400,
    trust: 'trusted',
    ...overrides,
  };
}

/** This host's evidence and inventory, asked the CI-job question at NOW. */
export function engineInput(overrides: Partial<EngineInput> = {}): EngineInput {
  return {
    question: question(),
    evidence: thisHostEvidence(),
    hosts: [hostInfo()],
    now: NOW,
    staleAfterMs: STALE_AFTER_MS,
    ...overrides,
  };
}

/** A platform's place in evidence: which host-side series names it. */
type PlatformKey = Pick<PlatformFigures, 'platform' | 'runtime' | 'accel'>;

/**
 * The interference rows of one platform on one host: per antagonist, the victim's throughput
 * beside it as a share of alone, with a 95% interval of ± `halfWidth` of it and the verdict
 * that interval gives against the margin.
 */
export function interferenceRows(
  hostId: string,
  figures: PlatformKey,
  ratios: Partial<Record<AntagonistName, number>>,
  halfWidth = 0.05,
): EvidenceRow[] {
  return ANTAGONIST_NAMES.flatMap((antagonist) => {
    const ratio = ratios[antagonist];
    if (ratio === undefined) return [];
    const low = ratio * (1 - halfWidth);
    const high = ratio * (1 + halfWidth);
    return [
      evidenceRow({
        hostId,
        platform: figures.platform,
        runtime: figures.runtime,
        accel: figures.accel,
        workload: INTERFERENCE_WORKLOAD,
        metric: besideMetric(antagonist),
        unit: THROUGHPUT_UNITS['cpu-sha256'],
        mean: PROCESS_THROUGHPUT['cpu-sha256'] * ratio,
        ratio,
        ratioLow: low,
        ratioHigh: high,
        ratioRounds: FIXTURE_ROUNDS,
        verdict: verdictOf(low, high),
        uncalibratedResults: 0,
      }),
    ];
  });
}

/**
 * The density-at-load memory rows of one platform on one host: per step (instances running at
 * once), the mean memory per instance in MiB.
 */
export function loadMemoryRows(
  hostId: string,
  figures: PlatformKey,
  byStep: Readonly<Record<number, number>>,
): EvidenceRow[] {
  return Object.entries(byStep).map(([instances, mean]) =>
    evidenceRow({
      hostId,
      platform: figures.platform,
      runtime: figures.runtime,
      accel: figures.accel,
      workload: DENSITY_LOAD_WORKLOAD,
      metric: loadMetric('memory', Number(instances)),
      unit: LOAD_MEASURES.memory.unit,
      mean,
    }),
  );
}
