import { randomBytes } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { RequestedRun } from '../../contracts/advisor-api.ts';
import {
  describeError,
  hostIdOfProgressSubject,
  JOB_PROGRESS_SUBJECTS,
  jobProgressCodec,
  jobRequestCodec,
  jobsSubject,
  type JobProgress,
} from '../../contracts/index.ts';
import type { Logger } from '../../lib/logger.ts';

const MAX_PROGRESS_BYTES = 1 << 20;

/** How long an agent has to answer a job request. */
const ANSWER_TIMEOUT_MS = 10_000;

/** Runs asked of hosts that are remembered. */
const REMEMBERED_RUNS = 100;

export interface Jobs {
  /** Sends the quick suite to the host's agent and resolves with what the agent answered. */
  request(hostId: string, reason: string, requestedBy: string): Promise<RequestedRun>;
  /** Runs asked of hosts, newest last. */
  requested(): readonly RequestedRun[];
  /**
   * Called with each progress message an agent publishes on berth.progress.<hostId> that
   * fits the contract and names the host of its subject; returns an unsubscribe.
   */
  onProgress(listener: (progress: JobProgress) => void): () => void;
}

/**
 * The advisor's side of the agents' jobs: it asks a host's agent for a run on
 * berth.jobs.<hostId> (a request the agent answers with `accepted` or `rejected`), and
 * follows berth.progress.* while anyone listens.
 */
export function createJobs(nc: NatsConnection, logger: Logger): Jobs {
  const runs: RequestedRun[] = [];
  const listeners = new Set<(progress: JobProgress) => void>();
  let subscription: Subscription | undefined;

  const remember = (run: RequestedRun): RequestedRun => {
    runs.push(run);
    if (runs.length > REMEMBERED_RUNS) runs.shift();
    return run;
  };

  const request = async (
    hostId: string,
    reason: string,
    requestedBy: string,
  ): Promise<RequestedRun> => {
    const requestedAt = Date.now();
    const jobId = `job-adv-${requestedAt.toString(36)}-${randomBytes(3).toString('hex')}`;
    const asked = { hostId, jobId, requestedAt, requestedBy };
    const bytes = jobRequestCodec.encode({
      schemaVersion: 1,
      id: jobId,
      hostId,
      requestedAt,
      requestedBy,
      suite: 'quick',
      reason: reason.slice(0, 512),
    });
    try {
      const reply = await nc.request(jobsSubject(hostId), bytes, { timeout: ANSWER_TIMEOUT_MS });
      const decoded = jobProgressCodec.decode(reply.data, MAX_PROGRESS_BYTES);
      const state = decoded.ok && decoded.value.state === 'accepted' ? 'accepted' : 'rejected';
      const detail = decoded.ok ? decoded.value.error?.message : decoded.reason;
      logger.info({ hostId, jobId, requestedBy, state, detail }, 'run requested');
      return remember({ ...asked, state, ...(detail === undefined ? {} : { detail }) });
    } catch (error) {
      const detail = describeError(error);
      logger.warn({ hostId, jobId, requestedBy, err: detail }, 'run not answered');
      return remember({ ...asked, state: 'unanswered', detail });
    }
  };

  const relay = (subject: string, data: Uint8Array): void => {
    const decoded = jobProgressCodec.decode(data, MAX_PROGRESS_BYTES);
    if (!decoded.ok || decoded.value.hostId !== hostIdOfProgressSubject(subject)) {
      logger.debug(
        { subject, reason: decoded.ok ? 'host mismatch' : decoded.reason },
        'progress skipped',
      );
      return;
    }
    for (const listener of listeners) listener(decoded.value);
  };

  return {
    request,
    requested: () => runs,
    onProgress: (listener) => {
      listeners.add(listener);
      subscription ??= nc.subscribe(JOB_PROGRESS_SUBJECTS, {
        callback: (error, message) => {
          if (error === null) relay(message.subject, message.data);
        },
      });
      return () => {
        listeners.delete(listener);
        if (listeners.size > 0) return;
        subscription?.unsubscribe();
        subscription = undefined;
      };
    },
  };
}
