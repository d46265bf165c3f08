import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import {
  resultBatchCodec,
  resultsSubject,
  type Comparison,
  type ResultBatch,
  type ResultBatchV1,
  type ResultBatchV2,
} from '../contracts/index.ts';

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
