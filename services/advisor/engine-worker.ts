import { parentPort } from 'node:worker_threads';
import type { EvidenceSource } from './engine/types.ts';
import { engineOnThisThread, type EngineReply, type EngineRequest } from './engine-pool.ts';

/** One engine thread of the pool: answers questions over the last source it was sent. */
const answer = engineOnThisThread();
let source: Omit<EvidenceSource, 'now'> | undefined;

parentPort?.on('message', (request: EngineRequest) => {
  if (request.type === 'source') {
    ({ source } = request);
    return;
  }
  const started = performance.now();
  let reply: EngineReply;
  try {
    if (source === undefined) throw new Error('no evidence was sent before the question');
    reply = {
      id: request.id,
      answer: answer(request.question, { ...source, now: request.now }),
      ms: performance.now() - started,
    };
  } catch (error) {
    reply = { id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
  parentPort?.postMessage(reply);
});
