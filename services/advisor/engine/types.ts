import type { SeriesSummary } from '../../../contracts/advisor-api.ts';
import type { Advice, AdviceQuestion } from '../../../contracts/advice.ts';

/** One series summarised over its deduplicated results: what the engine weighs. */
export type EvidenceRow = Readonly<SeriesSummary>;

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
