import { parentPort } from 'node:worker_threads';
import { encodeBatch, type BatchInput } from './encode-batch.ts';

/** Runs encodeBatch off the thread that talks to NATS and the store. */
parentPort?.on('message', (input: BatchInput) => {
  const encoded = encodeBatch(input);
  parentPort?.postMessage(encoded, [encoded.lineStart.buffer, encoded.lineEnd.buffer]);
});
