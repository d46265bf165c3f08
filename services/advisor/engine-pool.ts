import type { Worker } from 'node:worker_threads';
import type { AdviceQuestion } from '../../contracts/advice.ts';
import type { Logger } from '../../lib/logger.ts';
import { startWorker } from '../../lib/worker-thread.ts';
import { createAnswerMemo, questionKey } from './answer-memo.ts';
import { sensitivitiesOf } from './engine/catalogue.ts';
import { answerFrom } from './engine/engine.ts';
import { factsFor } from './engine/facts.ts';
import { createFactsMemo } from './engine/facts-memo.ts';
import type { EngineAnswer, EvidenceSource } from './engine/types.ts';

/**
 * Where the decision engine runs: on this thread, or on a pool of worker threads
 * (`--engine-threads`), so answers are computed side by side while this thread reads and
 * writes the sockets. Either way the answer is the engine's answer to the question over the
 * source as of `now`, and a question asked again over the same source is computed once.
 */
export interface Engine {
  /** The engine's answer to a checked question over `source` (its rows, inventory, stale age). */
  answer(
    question: AdviceQuestion,
    source: Omit<EvidenceSource, 'now'>,
    now: number,
  ): Promise<EngineAnswer>;
  /** Questions taken and not yet answered. */
  pending(): number;
  /** Milliseconds the questions taken would keep the engine busy, at its recent pace. */
  backlogMs(): number;
  /** Answers computed so far (a question shared while in flight counts once). */
  computed(): number;
  /** Stops the threads; questions still in flight are refused. */
  close(): Promise<void>;
}

/** What a worker thread is sent: the source to answer over, or a question. */
export type EngineRequest =
  | { readonly type: 'source'; readonly source: Omit<EvidenceSource, 'now'> }
  | {
      readonly type: 'ask';
      readonly id: number;
      readonly question: AdviceQuestion;
      readonly now: number;
    };

/** What a worker thread sends back for a question. */
export type EngineReply =
  | { readonly id: number; readonly answer: EngineAnswer; readonly ms: number }
  | { readonly id: number; readonly error: string };

/**
 * The engine with its memos, as one thread holds it: facts gathered once per source and host
 * list, and answers once per question and facts.
 */
export function engineOnThisThread(): (
  question: AdviceQuestion,
  source: EvidenceSource,
) => EngineAnswer {
  const facts = createFactsMemo();
  const answers = createAnswerMemo();
  return (question, source) => {
    const gathered = facts.factsOf(source, question.hosts, sensitivitiesOf(question));
    return answers.answerOf(question, gathered, () =>
      answerFrom(question, factsFor(gathered, question)),
    );
  };
}

/** Weight of the newest answer in the pace kept for `backlogMs`. */
const PACE_WEIGHT = 0.1;

/** A source as sent: the same arrays are the same source. */
const sameSource = (
  a: Omit<EvidenceSource, 'now'> | undefined,
  b: Omit<EvidenceSource, 'now'>,
): boolean =>
  a !== undefined &&
  a.evidence === b.evidence &&
  a.hosts === b.hosts &&
  a.staleAfterMs === b.staleAfterMs;

/** Identical questions in flight, by key: the first one's answer is every one's. */
function inFlight(): {
  share(key: string, compute: () => Promise<EngineAnswer>): Promise<EngineAnswer>;
} {
  const running = new Map<string, Promise<EngineAnswer>>();
  return {
    share: (key, compute) => {
      const found = running.get(key);
      if (found !== undefined) return found;
      const started = compute().finally(() => running.delete(key));
      running.set(key, started);
      return started;
    },
  };
}

/**
 * The engine on this thread: each answer is computed before `answer` returns its promise, so
 * the time it takes shows in the event loop's delay (what sheds load here), not in a backlog.
 */
export function createThreadEngine(): Engine {
  const answerHere = engineOnThisThread();
  let computed = 0;
  return {
    answer: (question, source, now) => {
      try {
        const answer = answerHere(question, { ...source, now });
        computed += 1;
        return Promise.resolve(answer);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
    pending: () => 0,
    backlogMs: () => 0,
    computed: () => computed,
    close: () => Promise.resolve(),
  };
}

interface Thread {
  readonly worker: Worker;
  readonly waiting: Map<
    number,
    { resolve: (answer: EngineAnswer) => void; reject: (error: Error) => void }
  >;
  source: Omit<EvidenceSource, 'now'> | undefined;
}

/**
 * The engine on `threads` worker threads. Each question goes to the thread with the fewest in
 * flight; a thread is sent the source again only when it changed. A thread that fails or
 * exits refuses what it had in flight, and a new one takes its place at the next question.
 */
export function createEnginePool(threads: number, logger: Logger): Engine {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`an engine pool needs a whole number of threads from 1, got ${threads}`);
  }
  const slots: (Thread | undefined)[] = Array.from({ length: threads }, () => undefined);
  const shared = inFlight();
  let nextId = 0;
  let pace = 0;
  let computed = 0;
  let sourceVersion = 0;
  let lastSource: Omit<EvidenceSource, 'now'> | undefined;
  let closed = false;

  const start = (slot: number): Thread => {
    const worker = startWorker('engine-worker', new URL('./engine-worker.ts', import.meta.url));
    const thread: Thread = { worker, waiting: new Map(), source: undefined };
    const failAll = (error: Error): void => {
      for (const pending of thread.waiting.values()) pending.reject(error);
      thread.waiting.clear();
      if (slots[slot] === thread) slots[slot] = undefined;
    };
    worker.on('message', (reply: EngineReply) => {
      const pending = thread.waiting.get(reply.id);
      if (pending === undefined) return;
      thread.waiting.delete(reply.id);
      if ('error' in reply) {
        pending.reject(new Error(`the engine failed on the question: ${reply.error}`));
        return;
      }
      computed += 1;
      pace += PACE_WEIGHT * (reply.ms - pace);
      pending.resolve(reply.answer);
    });
    worker.on('error', (error) => {
      logger.error({ err: error.message }, 'an engine thread failed');
      failAll(new Error(`an engine thread failed: ${error.message}`));
    });
    worker.on('exit', (code) => {
      if (!closed) logger.warn({ code }, 'an engine thread exited; another takes its place');
      failAll(new Error(`an engine thread exited (code ${code}) before answering`));
    });
    slots[slot] = thread;
    return thread;
  };

  /** The thread with the fewest questions in flight, started if its slot is empty. */
  const leastBusy = (): Thread => {
    let best: Thread | undefined;
    for (let slot = 0; slot < slots.length; slot += 1) {
      const thread = slots[slot] ?? start(slot);
      if (best === undefined || thread.waiting.size < best.waiting.size) best = thread;
    }
    return best as Thread;
  };

  const pending = (): number => slots.reduce((sum, thread) => sum + (thread?.waiting.size ?? 0), 0);

  return {
    answer: (question, source, now) => {
      if (closed) return Promise.reject(new Error('the engine pool is closed'));
      if (!sameSource(lastSource, source)) {
        lastSource = source;
        sourceVersion += 1;
      }
      return shared.share(`${sourceVersion}\0${questionKey(question)}`, () => {
        const thread = leastBusy();
        if (!sameSource(thread.source, source)) {
          thread.worker.postMessage({ type: 'source', source } satisfies EngineRequest);
          thread.source = source;
        }
        nextId += 1;
        const id = nextId;
        return new Promise<EngineAnswer>((resolve, reject) => {
          thread.waiting.set(id, { resolve, reject });
          thread.worker.postMessage({ type: 'ask', id, question, now } satisfies EngineRequest);
        });
      });
    },
    pending,
    backlogMs: () => (pending() * pace) / threads,
    computed: () => computed,
    close: async () => {
      closed = true;
      await Promise.all(
        slots.flatMap((thread) => (thread === undefined ? [] : [thread.worker.terminate()])),
      );
    },
  };
}
