import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../lib/worker-thread.ts';
import { encodeBatch, packBatch, type EncodedBatch, type RawMessage } from './encode-batch.ts';

export interface BatchEncoder {
  /** Validates and encodes the messages of one batch. Batches are encoded in order. */
  encode(messages: readonly RawMessage[], maxMessageBytes: number): Promise<EncodedBatch>;
  close(): Promise<void>;
}

/**
 * Decoding, validating and encoding rows costs more CPU than pulling the messages, so with
 * `threads: 1` it runs on a worker thread while this thread keeps pulling and writing.
 * With `threads: 0` it runs here (one core, or a caller that wants no threads).
 */
export function createBatchEncoder(options: { threads: 0 | 1 }): BatchEncoder {
  if (options.threads === 0) {
    return {
      encode: (messages, maxMessageBytes) =>
        Promise.resolve(encodeBatch(packBatch(messages, maxMessageBytes, Date.now()))),
      close: () => Promise.resolve(),
    };
  }
  let worker: Worker | undefined;
  const waiting: { resolve: (batch: EncodedBatch) => void; reject: (error: Error) => void }[] = [];
  const failAll = (error: Error): void => {
    for (const pending of waiting.splice(0)) pending.reject(error);
  };
  /** The encoder thread, started again if the last one died. */
  const thread = (): Worker => {
    if (worker !== undefined) return worker;
    const started = startWorker('encoder-worker', new URL('./encoder-worker.ts', import.meta.url));
    started.unref();
    started.on('message', (batch: EncodedBatch) => waiting.shift()?.resolve(batch));
    started.on('error', failAll);
    started.on('exit', (code) => {
      worker = undefined;
      failAll(new Error(`the batch encoder thread exited (code ${code})`));
    });
    worker = started;
    return started;
  };
  return {
    encode: (messages, maxMessageBytes) =>
      new Promise((resolve, reject) => {
        const input = packBatch(messages, maxMessageBytes, Date.now());
        waiting.push({ resolve, reject });
        thread().postMessage(input, [input.data.buffer, input.offsets.buffer]);
      }),
    close: async () => {
      await worker?.terminate();
    },
  };
}
