import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Counter } from 'prom-client';
import { describeError } from '../../contracts/index.ts';
import { backoffDelay, sleep } from '../../lib/backoff.ts';
import type { Logger } from '../../lib/logger.ts';
import { INGEST_CONSUMER, RESULTS_STREAM } from '../../lib/nats/streams.ts';
import type { Batcher } from './batcher.ts';

export interface PullerDeps {
  readonly js: JetStreamClient;
  /** Where every message goes; while it has no room, no message is taken. */
  readonly batcher: Batcher<JsMsg>;
  /** Counts every message taken (a redelivery counts again). */
  readonly received: Counter;
  readonly logger: Logger;
  /** How many messages the consumer fetches at once. */
  readonly batchSize: number;
}

/** Takes messages from the durable consumer until stopped. */
export interface Puller {
  start(): void;
  /** Stops fetching and waiting for the batcher; resolves once no more messages are taken. */
  stop(): Promise<void>;
}

/**
 * The taking half of ingest: consumes the results stream's durable pull consumer into the
 * batcher, and starts consuming again with backoff when that fails.
 */
export function createPuller(deps: PullerDeps): Puller {
  const { js, batcher, received, logger, batchSize } = deps;
  const stopSignal = new AbortController();
  const stopped = (): boolean => stopSignal.signal.aborted;
  let messages: ConsumerMessages | undefined;
  let pulling: Promise<void> | undefined;

  async function pull(): Promise<void> {
    for (let attempt = 1; !stopped(); attempt += 1) {
      try {
        const consumer = await js.consumers.get(RESULTS_STREAM, INGEST_CONSUMER);
        messages = await consumer.consume({ max_messages: batchSize });
        // stop() may have run while the consumer was being set up.
        if (stopped()) messages.stop();
        for await (const message of messages) {
          received.inc();
          batcher.take(message);
          attempt = 0;
          await batcher.whenRoom();
        }
      } catch (error) {
        if (stopped()) return;
        const delay = backoffDelay(attempt);
        logger.warn({ err: describeError(error), retryInMs: Math.round(delay) }, 'consume failed');
        await sleep(delay, stopSignal.signal);
      }
    }
  }

  return {
    start() {
      pulling = pull();
    },
    async stop() {
      stopSignal.abort();
      messages?.stop();
      batcher.release();
      await pulling;
    },
  };
}
