import { AdviceV1, type Advice } from '../../contracts/advice.ts';
import { describeError } from '../../contracts/index.ts';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from '../../lib/logger.ts';
import { sql } from '../../lib/storage/sql.ts';
import type { Store } from '../../lib/storage/store.ts';

export interface AuditLog {
  /** Keeps an answer; it is written to the store in the next batch. */
  record(advice: Advice, evidenceIds: readonly string[]): void;
  /** An answer by id: from memory while it is recent or unwritten, else from the store. */
  get(id: string): Promise<Advice | undefined>;
  /** Answers not yet written. */
  pending(): number;
  /** Writes what is pending (retrying until it is written or the deadline passes). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export interface AuditLogOptions {
  readonly flushEveryMs?: number;
  readonly batchSize?: number;
  /** Recent answers kept in memory for get() (written ones are read back from the store). */
  readonly recent?: number;
}

const adviceCheck = TypeCompiler.Compile(AdviceV1);

interface Pending {
  readonly advice: Advice;
  readonly evidenceIds: readonly string[];
}

/**
 * The advisor's audit log: every answer with its question and the result ids behind it, in
 * the `advice` table. Answers are written in batches (one insert per batch, not per answer)
 * and kept in memory until written, so a store outage delays the log but loses nothing while
 * the advisor runs; stop() writes what is left.
 */
export function openAuditLog(
  store: Store,
  logger: Logger,
  options: AuditLogOptions = {},
): AuditLog {
  const flushEveryMs = options.flushEveryMs ?? 250;
  const batchSize = options.batchSize ?? 1000;
  const recentLimit = options.recent ?? 256;
  let queue: Pending[] = [];
  const recent = new Map<string, Advice>();
  let writing: Promise<void> | undefined;

  const remember = (advice: Advice): void => {
    recent.delete(advice.id);
    recent.set(advice.id, advice);
    if (recent.size > recentLimit) {
      const oldest = recent.keys().next().value;
      if (oldest !== undefined) recent.delete(oldest);
    }
  };

  const writeBatch = async (batch: readonly Pending[]): Promise<void> => {
    await store.insert(
      'advice',
      batch.map(({ advice, evidenceIds }) => ({
        advice_id: advice.id,
        answered_at: Math.floor(advice.answeredAt / 1000),
        answered_at_ms: advice.answeredAt,
        workload: advice.question.workload,
        top_placement: advice.options[0]?.placement ?? '',
        confidence: advice.confidence.value,
        question: JSON.stringify(advice.question),
        answer: JSON.stringify(advice),
        evidence_ids: [...evidenceIds],
      })),
    );
  };

  const flush = async (): Promise<void> => {
    while (writing !== undefined) await writing;
    if (queue.length === 0) return;
    writing = (async () => {
      while (queue.length > 0) {
        const batch = queue.slice(0, batchSize);
        await writeBatch(batch);
        queue = queue.slice(batch.length);
      }
    })().finally(() => {
      writing = undefined;
    });
    await writing;
  };

  const timer = setInterval(() => {
    flush().catch((error: unknown) => {
      logger.warn(
        { err: describeError(error), pending: queue.length },
        'audit log not written yet',
      );
    });
  }, flushEveryMs);

  return {
    record: (advice, evidenceIds) => {
      queue.push({ advice, evidenceIds });
      remember(advice);
    },
    get: async (id) => {
      const known = recent.get(id);
      if (known !== undefined) return known;
      const rows = await store.query<{ answer: string }>(
        sql`SELECT answer FROM advice FINAL WHERE advice_id = ${id} LIMIT 1`,
      );
      const text = rows[0]?.answer;
      if (text === undefined) return undefined;
      const parsed: unknown = JSON.parse(text);
      return adviceCheck.Check(parsed) ? parsed : undefined;
    },
    pending: () => queue.length,
    flush,
    stop: async () => {
      clearInterval(timer);
      await flush();
    },
  };
}
