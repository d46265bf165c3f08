import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import type { AdviceQuestion } from '../contracts/advice.ts';

/**
 * The advisor benchmark's clients, run in a worker thread: each asks its questions one after
 * another over its own WebSocket, all clients at once; posts every answer's latency back.
 */

export interface AskRequest {
  readonly url: string;
  /** One list of questions per client. */
  readonly questions: readonly (readonly AdviceQuestion[])[];
}

export interface AskedResult {
  /** Milliseconds from sending a question to its answer, every answer counted. */
  readonly latencies: number[];
  /** Wall time of the counted round, seconds. */
  readonly seconds: number;
}

/** One client: asks its questions one after another over one WebSocket; gives each latency. */
async function client(url: string, questions: readonly AdviceQuestion[]): Promise<number[]> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      resolve();
    });
    socket.once('error', reject);
  });
  const latencies: number[] = [];
  try {
    for (const [index, asked] of questions.entries()) {
      const id = `q${index}`;
      const started = performance.now();
      const answered = new Promise<void>((resolve, reject) => {
        const onMessage = (data: Buffer): void => {
          const frame = JSON.parse(data.toString('utf8')) as {
            type: string;
            id?: string;
            message?: string;
          };
          if (frame.id !== id) return;
          socket.off('message', onMessage);
          if (frame.type === 'answer') resolve();
          else reject(new Error(`question ${id} refused: ${frame.message ?? frame.type}`));
        };
        socket.on('message', onMessage);
      });
      socket.send(JSON.stringify({ type: 'ask', id, question: asked }));
      await answered;
      latencies.push(performance.now() - started);
    }
  } finally {
    socket.close();
  }
  return latencies;
}

async function askAll(request: AskRequest): Promise<AskedResult> {
  // One warm-up question per client, not counted.
  await Promise.all(request.questions.map((mine) => client(request.url, mine.slice(0, 1))));
  const started = performance.now();
  const latencies = (
    await Promise.all(request.questions.map((mine) => client(request.url, mine)))
  ).flat();
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

if (parentPort !== null) {
  const port = parentPort;
  void askAll(workerData as AskRequest).then((result) => {
    port.postMessage(result);
  });
}
