import type { Advice, AdviceQuestion } from '../../../contracts/advice.ts';

/** One aggregate over the deduplicated results of a host/platform/runtime/accel/workload/metric. */
export interface EvidenceRow {
  readonly hostId: string;
  readonly platform: string;
  readonly runtime: string;
  readonly accel: string;
  readonly workload: string; // 'instance' for startup / memory-peak / memory-overhead / density
  readonly metric: string; // 'startup' | 'memory-peak' | 'memory-overhead' | 'density' | 'throughput' | 'latency' | …
  readonly unit: string;
  readonly results: number; // result rows aggregated
  readonly samples: number; // sum of their samples
  readonly mean: number; // mean of the results' values
  readonly p50: number; // median of the results' values
  readonly p95: number; // 0.95 quantile over each result's upper tail (its p99, else max, else value)
  readonly latestAt: number; // epoch ms of the newest result
  readonly resultIds: readonly string[]; // up to 20 ids of the results behind it (for the audit log)
}

export interface HostInfo {
  readonly hostId: string;
  readonly kernel: string;
  readonly osFamily: string;
  readonly memoryBytes: number;
  readonly platforms: readonly {
    platform: string;
    runtime: string;
    available: boolean;
    reason?: string;
    accel?: string;
  }[];
}

/** What the facts are gathered from: the evidence, the inventory, and when a row is stale. */
export interface EvidenceSource {
  readonly evidence: readonly EvidenceRow[];
  readonly hosts: readonly HostInfo[];
  readonly now: number;
  readonly staleAfterMs: number;
}

export interface EngineInput extends EvidenceSource {
  readonly question: AdviceQuestion;
}

export type EngineAnswer = Omit<Advice, 'schemaVersion' | 'id' | 'answeredAt' | 'question'> & {
  readonly refresh: readonly string[];
  readonly evidenceIds: readonly string[];
};

/** A placement and the runtime that provides it: one option the advisor ranks. */
export interface OptionKey {
  readonly placement: string;
  readonly runtime: string;
}
