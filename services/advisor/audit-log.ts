import { AdviceV1, type Advice } from '../../contracts/advice.ts';
import type { AdviceSummary } from '../../contracts/advisor-api.ts';
import { describeError } from '../../contracts/index.ts';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from '../../lib/logger.ts';
import { sql } from '../../lib/storage/sql.ts';
import type { Store } from '../../lib/storage/store.ts';
import { adviceJson, forgetAdviceJson } from './advice-json.ts';

/** A page of the audit log: the newest `limit` answers given before `before` (epoch ms). */
export interface AuditPage {
  readonly limit: number;
  readonly before?: number;
}

export interface AuditLog {
  /** Keeps an answer; it is written to the store in the next batch. */
  record(advice: Advice, evidenceIds: readonly string[]): void;
  /** An answer by id: from memory while it is recent or unwritten, else from the store. */
  get(id: string): Promise<Advice | undefined>;
  /** Answers given before, newest first: the written ones and those not yet written. */
  list(page: AuditPage): Promise<AdviceSummary[]>;
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

function summaryOf(advice: Advice): AdviceSummary {
  return {
    id: advice.id,
    answeredAt: advice.answeredAt,
    workload: advice.question.workload,
    topPlacement: advice.options[0]?.placement ?? '',
    confidence: advice.confidence.value,
  };
}

/** Newest first; the id breaks ties, so a page ends in the same place every time. */
function newestFirst(a: AdviceSummary, b: AdviceSummary): number {
  return b.answeredAt - a.answeredAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

interface SummaryRecord {
  advice_id: string;
  answered_at_ms: number | string;
  workload: string;
  top_placement: string;
  confidence: number;
}

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

  /** Writes a batch; the answers' texts are let go of once written. */
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
        answer: adviceJson(advice),
        evidence_ids: [...evidenceIds],
      })),
    );
    for (const { advice } of batch) forgetAdviceJson(advice);
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
      const known = recent.get(id) ?? queue.find((pending) => pending.advice.id === id)?.advice;
      if (known !== undefined) return known;
      const rows = await store.query<{ answer: string }>(
        sql`SELECT answer FROM advice FINAL WHERE advice_id = ${id} LIMIT 1`,
      );
      const text = rows[0]?.answer;
      if (text === undefined) return undefined;
      const parsed: unknown = JSON.parse(text);
      return adviceCheck.Check(parsed) ? parsed : undefined;
    },
    list: async ({ limit, before }) => {
      const until = before === undefined ? sql`` : sql`WHERE answered_at_ms < ${before}`;
      const records = await store.query<SummaryRecord>(
        sql`SELECT advice_id, answered_at_ms, workload, top_placement, confidence
          FROM advice FINAL ${until}
          ORDER BY answered_at_ms DESC, advice_id DESC LIMIT ${limit}`,
      );
      const written = records.map((record) => ({
        id: record.advice_id,
        answeredAt: Number(record.answered_at_ms),
        workload: record.workload,
        topPlacement: record.top_placement,
        confidence: record.confidence,
      }));
      const unwritten = queue
        .map(({ advice }) => summaryOf(advice))
        .filter((summary) => before === undefined || summary.answeredAt < before);
      const seen = new Set(written.map((summary) => summary.id));
      return [...written, ...unwritten.filter((summary) => !seen.has(summary.id))]
        .sort(newestFirst)
        .slice(0, limit);
    },
    pending: () => queue.length,
    flush,
    stop: async () => {
      clearInterval(timer);
      await flush();
    },
  };
}
