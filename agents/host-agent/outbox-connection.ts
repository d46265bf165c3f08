import type { NatsConnection } from '@nats-io/nats-core';
import { BerthError, describeError } from '../../contracts/index.ts';
import { backoffDelay, sleep } from '../../lib/backoff.ts';
import type { Logger } from '../../lib/logger.ts';
import { connectNats, type NatsConnectOptions } from '../../lib/nats/connect.ts';

/** Longest pause between two attempts to reach a NATS that did not answer. */
const RETRY_MAX_MS = 15_000;

/** NATS for an outbox that can wait for it: connected, or still being tried. */
export interface OutboxConnection {
  /**
   * Why NATS did not answer the first attempt (a message naming the setting); undefined when
   * it did.
   */
  readonly unreachable: string | undefined;
  /**
   * Stops trying and resolves with the connection, or with undefined when NATS never
   * answered; an attempt under way is waited for. The same answer on every call.
   */
  settle(): Promise<NatsConnection | undefined>;
}

/**
 * Connects to NATS and hands the connection to onConnected. When NATS does not answer, the
 * caller carries on without it while attempts go on in the background, with backoff, until
 * one succeeds (onConnected then runs) or settle is called. Anything else the first attempt
 * meets (a refused sign-in, an unreadable seed or certificate) is thrown: it is a setting to
 * fix, not an outage.
 */
export async function connectOutbox(
  options: NatsConnectOptions,
  onConnected: (nc: NatsConnection) => Promise<void>,
  logger: Logger,
): Promise<OutboxConnection> {
  const attempt = async (): Promise<NatsConnection | BerthError> => {
    try {
      return await connectNats(options);
    } catch (error) {
      if (error instanceof BerthError && error.code === 'BERTH_ERR_NATS_UNREACHABLE') return error;
      throw error;
    }
  };
  const first = await attempt();
  if (!(first instanceof BerthError)) {
    await onConnected(first);
    const connected = Promise.resolve(first);
    return { unreachable: undefined, settle: () => connected };
  }
  const stopping = new AbortController();
  const retrying = (async (): Promise<NatsConnection | undefined> => {
    for (let attempts = 1; ; attempts += 1) {
      await sleep(backoffDelay(attempts, 1_000, RETRY_MAX_MS), stopping.signal);
      if (stopping.signal.aborted) return undefined;
      let outcome: NatsConnection | BerthError;
      try {
        outcome = await attempt();
      } catch (error) {
        logger.warn({ err: describeError(error) }, 'NATS answered but refused this agent');
        return undefined;
      }
      if (!(outcome instanceof BerthError)) {
        logger.info('NATS answers now: sending the outbox');
        await onConnected(outcome);
        return outcome;
      }
      logger.debug({ err: outcome.message }, 'NATS still does not answer');
    }
  })();
  return {
    unreachable: first.message,
    settle: () => {
      stopping.abort();
      return retrying;
    },
  };
}
