import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import {
  resultBatchCodec,
  resultsSubject,
  type Accel,
  type Comparison,
  type ResultBatch,
  type ResultBatchV1,
  type ResultBatchV2,
  type ResultMetricV2,
  type Verdict,
} from '../contracts/index.ts';
import {
  ANTAGONIST_NAMES,
  besideMetric,
  DENSITY_LOAD_WORKLOAD,
  INSTANCE_WORKLOAD,
  INTERFERENCE_WORKLOAD,
  LOAD_MEASURES,
  loadMetric,
  METRICS,
  type AntagonistName,
} from '../contracts/workloads.ts';

/** A valid result batch with `metrics` metrics; the same index always gives the same batch. */
export function makeResult(index: number, hostId = 'host-a', metrics = 2): ResultBatchV1 {
  const platforms = ['process', 'container', 'vm', 'container-in-vm'] as const;
  const platform = platforms[index % platforms.length] ?? 'process';
  return {
    schemaVersion: 1,
    id: `r-${hostId}-${index}`,
    hostId,
    runId: `run-${Math.floor(index / 100)}`,
    takenAt: 1_764_000_000_000 + index * 1000,
    platform: {
      name: platform,
      runtime: platform === 'process' ? 'cgroup' : platform === 'container' ? 'runc' : 'qemu',
      runtimeVersion: '1.0.0',
      accel: platform.includes('vm') ? 'tcg' : 'none',
      settings: { memoryMiB: 256, cpus: 1 },
    },
    workload: { name: 'cpu-sha256', version: '1' },
    metrics: Array.from({ length: metrics }, (_, m) => ({
      name: `metric-${m}`,
      unit: 'ops/s',
      value: 1000 + index + m,
      samples: 20,
      rme: 1.5,
      stddev: 3,
      percentiles: { p50: 1000, p99: 1100 },
      stoppedBy: 'rme-target' as const,
    })),
  };
}

/** How many rounds makeResultV2's batches ran. */
const V2_ROUNDS = 3;

/** The comparison makeResultV2 gives metric `m`: the first unclear, the others the same. */
function comparisonOf(m: number): Comparison {
  const shift = m / 100;
  return {
    baseline: 'process:node',
    ratio: 0.97 + shift,
    ci95: [0.94 + shift, 1.01 + shift],
    rounds: V2_ROUNDS,
    perRound: [0.95, 0.97 + shift, 0.99],
    verdict: m === 0 ? 'unclear' : 'same',
    margin: 0.03,
    method: 't',
    ...(m === 0 ? { roundsToDecide: 12 } : {}),
  };
}

/**
 * A valid version 2 result batch: makeResult's batch run in V2_ROUNDS rounds, each metric
 * with its value per round and, except on the process platform, its comparison with process.
 */
export function makeResultV2(index: number, hostId = 'host-a', metrics = 2): ResultBatchV2 {
  const batch = makeResult(index, hostId, metrics);
  const isBaseline = batch.platform.name === 'process';
  return {
    ...batch,
    schemaVersion: 2,
    rounds: { count: V2_ROUNDS, seed: `seed-${batch.runId}`, disturbed: index % 2 },
    hostFingerprint: `fingerprint-${hostId}`,
    uncalibrated: index % 3 === 0,
    metrics: batch.metrics.map((metric, m) => ({
      ...metric,
      roundValues: [metric.value - 1.25, metric.value, metric.value + 1.25],
      ...(isBaseline ? {} : { comparison: comparisonOf(m) }),
    })),
  };
}

/** Publishes one raw message on JetStream, with a Nats-Msg-Id when one is given. */
export async function publishRaw(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array | string,
  msgId?: string,
): Promise<void> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  await js.publish(subject, bytes, msgId === undefined ? {} : { msgID: msgId });
}

/** Publishes results the way an agent does: subject per host, result id as Nats-Msg-Id. */
export async function publishResults(
  nc: NatsConnection,
  batches: readonly ResultBatch[],
  window = 256,
  pauseMs = 0,
): Promise<void> {
  const js = jetstream(nc);
  for (let start = 0; start < batches.length; start += window) {
    await Promise.all(
      batches.slice(start, start + window).map((batch) =>
        js.publish(resultsSubject(batch.hostId), resultBatchCodec.encode(batch), {
          msgID: batch.id,
        }),
      ),
    );
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

/** Where measurements were taken: the host, the platform, its runtime and accel, and when. */
export interface MeasuredPlace {
  readonly hostId: string;
  readonly platform: string;
  readonly runtime: string;
  readonly accel: Accel;
  /** Epoch ms; now by default. */
  readonly takenAt?: number;
}

/** How many rounds the batches of densityLoadResults and interferenceResults ran. */
const PLACE_ROUNDS = 3;

let placeCounter = 0;

/** A version 2 batch of one workload's metrics taken at a place, with an id of its own. */
function placeBatch(
  place: MeasuredPlace,
  workload: string,
  metrics: readonly ResultMetricV2[],
): ResultBatchV2 {
  placeCounter += 1;
  const takenAt = place.takenAt ?? Date.now();
  return {
    schemaVersion: 2,
    id: `place-${process.pid}-${placeCounter}`,
    hostId: place.hostId,
    runId: `run-${place.hostId}-${takenAt}`,
    takenAt,
    platform: {
      name: place.platform,
      runtime: place.runtime,
      runtimeVersion: '1.0.0',
      accel: place.accel,
      settings: { memoryMiB: 512, cpus: 1 },
    },
    workload: { name: workload, version: '1' },
    metrics: [...metrics],
    rounds: { count: PLACE_ROUNDS, seed: `seed-${place.hostId}-${takenAt}`, disturbed: 0 },
    hostFingerprint: `fingerprint-${place.hostId}`,
    uncalibrated: false,
  };
}

/** A metric of one sample per round, each round the same value. */
const roundsMetric = (name: string, unit: string, value: number): ResultMetricV2 => ({
  name,
  unit,
  value,
  samples: PLACE_ROUNDS,
  rme: 1,
  roundValues: Array.from({ length: PLACE_ROUNDS }, () => value),
  stoppedBy: 'sample-count',
});

/** One step of density at load: N instances at once and what each recorded. */
export interface DensityLoadStep {
  readonly instances: number;
  /** The median instance's throughput. */
  readonly throughput: number;
  /** The worst instance's throughput per core given, as a share of one instance's alone. */
  readonly sloShare: number;
  readonly memoryMiB: number;
}

/**
 * What an agent sends of density at load on one platform: a `density-load` batch per step
 * (throughput, SLO share and memory per instance at N), and an `instance` batch of the knee
 * (`density-at-slo`) and the SLO share it was judged against (`density-slo`).
 */
export function densityLoadResults(
  place: MeasuredPlace,
  steps: readonly DensityLoadStep[],
  knee: number,
  slo: number,
  throughputUnit = 'hash/s',
): ResultBatchV2[] {
  return [
    ...steps.map((step) =>
      placeBatch(place, DENSITY_LOAD_WORKLOAD, [
        roundsMetric(loadMetric('throughput', step.instances), throughputUnit, step.throughput),
        roundsMetric(
          loadMetric('sloShare', step.instances),
          LOAD_MEASURES.sloShare.unit,
          step.sloShare,
        ),
        roundsMetric(
          loadMetric('memory', step.instances),
          LOAD_MEASURES.memory.unit,
          step.memoryMiB,
        ),
      ]),
    ),
    placeBatch(place, INSTANCE_WORKLOAD, [
      roundsMetric(METRICS.densityAtSlo.metric, METRICS.densityAtSlo.unit, knee),
      roundsMetric(METRICS.densitySlo.metric, METRICS.densitySlo.unit, slo),
    ]),
  ];
}

/** A victim's throughput beside an antagonist over alone: ratio, 95% interval and verdict. */
/**
 * A comparison as a fixture gives it: the ratio with its interval and verdict, the same ratio
 * in each of `rounds` rounds, a t interval against the default 3% margin.
 */
export function fixtureComparison(
  baseline: string,
  figures: BesideFigures,
  rounds: number,
): Comparison {
  return {
    baseline,
    ratio: figures.ratio,
    ci95: [figures.low, figures.high],
    rounds,
    perRound: Array.from({ length: rounds }, () => figures.ratio),
    verdict: figures.verdict,
    margin: 0.03,
    method: 't',
  };
}

export interface BesideFigures {
  readonly ratio: number;
  readonly low: number;
  readonly high: number;
  readonly verdict: Verdict;
}

/**
 * What an agent sends of noisy neighbours on one platform: an `interference` batch per
 * antagonist given (in the order the agent runs them), the victim's throughput beside it
 * (`aloneThroughput` × the ratio) compared with the same platform alone.
 */
export function interferenceResults(
  place: MeasuredPlace,
  beside: Readonly<Partial<Record<AntagonistName, BesideFigures>>>,
  aloneThroughput = 6_200,
  throughputUnit = 'hash/s',
): ResultBatchV2[] {
  return ANTAGONIST_NAMES.flatMap((antagonist) => {
    const figures = beside[antagonist];
    if (figures === undefined) return [];
    const comparison = fixtureComparison(
      `${place.platform}:${place.runtime}`,
      figures,
      PLACE_ROUNDS,
    );
    return placeBatch(place, INTERFERENCE_WORKLOAD, [
      {
        ...roundsMetric(besideMetric(antagonist), throughputUnit, aloneThroughput * figures.ratio),
        comparison,
      },
    ]);
  });
}
