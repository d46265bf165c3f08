import { Worker } from 'node:worker_threads';
import type { JsMsg } from '@nats-io/jetstream';
import { encodeBatch, packBatch, type BatchInput, type EncodedBatch } from './encode-batch.ts';

export interface BatchEncoder {
  /** Validates and encodes the messages of one batch. Batches are encoded in order. */
  encode(messages: readonly JsMsg[], maxMessageBytes: number): Promise<EncodedBatch>;
  close(): Promise<void>;
}

function pack(messages: readonly JsMsg[], maxMessageBytes: number): BatchInput {
  const raw = messages.map((message) => ({
    subject: message.subject,
    data: message.data,
    msgId: message.headers?.get('Nats-Msg-Id') ?? '',
  }));
  return packBatch(raw, maxMessageBytes, Date.now());
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
        Promise.resolve(encodeBatch(pack(messages, maxMessageBytes))),
      close: () => Promise.resolve(),
    };
  }
  const worker = new Worker(new URL('./encoder-thread.js', import.meta.url));
  worker.unref();
  const waiting: { resolve: (batch: EncodedBatch) => void; reject: (error: Error) => void }[] = [];
  worker.on('message', (batch: EncodedBatch) => waiting.shift()?.resolve(batch));
  const failAll = (error: Error): void => {
    for (const pending of waiting.splice(0)) pending.reject(error);
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => {
    failAll(new Error(`the batch encoder thread exited (code ${code})`));
  });
  return {
    encode: (messages, maxMessageBytes) =>
      new Promise((resolve, reject) => {
        const input = pack(messages, maxMessageBytes);
        waiting.push({ resolve, reject });
        worker.postMessage(input, [input.data.buffer, input.offsets.buffer]);
      }),
    close: async () => {
      await worker.terminate();
    },
  };
}
