import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Advice, AdviceQuestion } from '../../contracts/advice.ts';
import type { AdviceSummary, RequestedRun } from '../../contracts/advisor-api.ts';
import type { JobProgress } from '../../contracts/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AuditLog, AuditPage } from './audit-log.ts';
import type { EngineAnswer } from './engine/types.ts';
import type { Engine } from './engine-pool.ts';
import type { EvidenceCache, EvidenceChange } from './evidence-cache.ts';
import type { Fleet } from './fleet.ts';
import { createJobs } from './jobs.ts';

export interface AdvisorOptions {
  /** Evidence older than this is stale: the answer says so and asks for fresh runs. */
  readonly staleAfterMs: number;
  /** A host is asked for a fresh run at most this often. */
  readonly jobCooldownMs: number;
  /** Hosts silent for longer are not asked for runs. */
  readonly hostAliveMs: number;
}

export const DEFAULT_ADVISOR_OPTIONS: AdvisorOptions = {
  staleAfterMs: 7 * 24 * 60 * 60 * 1000,
  jobCooldownMs: 10 * 60 * 1000,
  hostAliveMs: 2 * 60 * 1000,
};

export interface AdvisorDeps {
  readonly nc: NatsConnection;
  readonly evidence: EvidenceCache;
  readonly fleet: Fleet;
  readonly audit: AuditLog;
  /** Where answers are computed: this thread or a pool of engine threads. */
  readonly engine: Engine;
  readonly logger: Logger;
  readonly options?: Partial<AdvisorOptions>;
}

export interface Advisor {
  /** Answers a checked question, keeps the answer in the audit log, asks for fresh runs. */
  ask(question: AdviceQuestion): Promise<Advice>;
  /** A stored answer by id. */
  get(id: string): Promise<Advice | undefined>;
  /** Answers given before, newest first, from the audit log. */
  history(page: AuditPage): Promise<AdviceSummary[]>;
  /**
   * Answers the question now and again whenever new evidence changes the answer (the newest
   * evidence's answer only, never an older one after it); returns an unsubscribe. An answer
   * the engine fails on is passed to `failed`.
   */
  watch(
    question: AdviceQuestion,
    listener: (advice: Advice, why: 'asked' | 'evidence') => void,
    failed: (error: Error) => void,
  ): () => void;
  /** Called when new results land (after the evidence is read again). */
  onResults(listener: (change: EvidenceChange) => void): () => void;
  /** Asks the host's agent for a run now (whatever the cooldown); resolves with its answer. */
  runNow(hostId: string): Promise<RequestedRun>;
  /** Called with each agent's job progress; returns an unsubscribe. */
  onJobProgress(listener: (progress: JobProgress) => void): () => void;
  /** Runs asked of hosts, newest last. */
  requestedRuns(): readonly RequestedRun[];
}

export function newAdviceId(now: number): string {
  return `adv-${now.toString(36)}-${randomUUID().slice(0, 8)}`;
}

/** The answer document: the engine's answer to a question, with its id and time. */
export function adviceOf(question: AdviceQuestion, engine: EngineAnswer, now: number): Advice {
  return {
    schemaVersion: 1,
    id: newAdviceId(now),
    answeredAt: now,
    question,
    ...(engine.verdict === undefined ? {} : { verdict: engine.verdict }),
    options: engine.options,
    ruledOut: engine.ruledOut,
    ...(engine.tieBreak === undefined ? {} : { tieBreak: engine.tieBreak }),
    confidence: engine.confidence,
    whatWouldChange: engine.whatWouldChange,
    hosts: engine.hosts,
  };
}

/** What makes two answers to one question differ for a reader (not the id or the time). */
function answerFingerprint(answer: EngineAnswer): string {
  return JSON.stringify([
    answer.options,
    answer.ruledOut,
    answer.confidence,
    answer.whatWouldChange,
    answer.hosts,
  ]);
}

/**
 * The advisor: the decision engine over the evidence held in memory and the fleet's
 * inventory. Every answer is kept in the audit log; hosts whose evidence is missing or stale
 * are asked for a fresh run on berth.jobs.<hostId> (at most once per cooldown), and watchers
 * get the new answer when the runs land.
 */
export function createAdvisor(deps: AdvisorDeps): Advisor {
  const options = { ...DEFAULT_ADVISOR_OPTIONS, ...deps.options };
  const { nc, evidence, fleet, audit, engine, logger } = deps;
  const lastAsked = new Map<string, number>();
  const jobs = createJobs(nc, logger);

  /** Every run the advisor asks for goes through here, so the cooldown counts each. */
  const requestRun = (
    hostId: string,
    reason: string,
    requestedBy: string,
  ): Promise<RequestedRun> => {
    lastAsked.set(hostId, Date.now());
    return jobs.request(hostId, reason, requestedBy);
  };

  const askForRuns = (answer: EngineAnswer, workload: string): void => {
    const now = Date.now();
    const alive = new Map(fleet.hosts().map((host) => [host.hostId, host.lastSeenAt]));
    for (const hostId of answer.refresh) {
      const seen = alive.get(hostId);
      if (seen === undefined || now - seen > options.hostAliveMs) continue;
      if (now - (lastAsked.get(hostId) ?? 0) < options.jobCooldownMs) continue;
      void requestRun(hostId, `the advisor lacks fresh evidence for "${workload}"`, 'advisor');
    }
  };

  const answer = (question: AdviceQuestion): Promise<EngineAnswer> =>
    engine.answer(
      question,
      { evidence: evidence.rows(), hosts: fleet.hostInfos(), staleAfterMs: options.staleAfterMs },
      Date.now(),
    );

  /** The answer document, kept in the audit log, with fresh runs asked for where they help. */
  const recordAnswer = (question: AdviceQuestion, engine: EngineAnswer): Advice => {
    const advice = adviceOf(question, engine, Date.now());
    audit.record(advice, engine.evidenceIds);
    askForRuns(engine, question.workload);
    return advice;
  };

  return {
    ask: async (question) => recordAnswer(question, await answer(question)),
    get: (id) => audit.get(id),
    history: (page) => audit.list(page),
    watch: (question, listener, failed) => {
      let sentFingerprint: string | undefined;
      let asked = 0;
      let stopped = false;
      const send = (): void => {
        asked += 1;
        const turn = asked;
        answer(question).then(
          (next) => {
            // An answer to older evidence that comes after a newer one is not sent.
            if (stopped || turn !== asked) return;
            const nextFingerprint = answerFingerprint(next);
            if (nextFingerprint === sentFingerprint) return;
            const why = sentFingerprint === undefined ? 'asked' : 'evidence';
            sentFingerprint = nextFingerprint;
            listener(recordAnswer(question, next), why);
          },
          (error: unknown) => {
            if (!stopped) failed(error instanceof Error ? error : new Error(String(error)));
          },
        );
      };
      send();
      const unsubscribe = evidence.onChange(send);
      return () => {
        stopped = true;
        unsubscribe();
      };
    },
    onResults: (listener) => evidence.onChange(listener),
    runNow: (hostId) =>
      requestRun(hostId, 'asked for through the advisor API (run now)', 'advisor-api'),
    onJobProgress: (listener) => jobs.onProgress(listener),
    requestedRuns: () => jobs.requested(),
  };
}
