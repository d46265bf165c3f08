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
  /** Milliseconds from first sending a question to its answer, every answer counted. */
  readonly latencies: number[];
  /** Questions the overloaded advisor refused (BERTH_ERR_BUSY) and that were asked again. */
  readonly busyRefusals: number;
  /** Wall time of the counted round, seconds. */
  readonly seconds: number;
  /** When the counted round started, epoch ms (comparable across threads). */
  readonly startedAt: number;
  /** When each answer of the counted round came, epoch ms. */
  readonly answeredAt: number[];
  /** When each client had the answer to its last question, epoch ms. */
  readonly doneAt: number[];
}

/** Now in epoch ms with a fraction: comparable across threads, unlike performance.now(). */
const epochNow = (): number => performance.timeOrigin + performance.now();

/** How long a client waits before asking again a question refused as busy (Retry-After). */
const BUSY_RETRY_MS = 1_000;
/** Refusals of one question after which the client gives up: the advisor stays overloaded. */
const MAX_BUSY_REFUSALS = 10;

/**
 * One client: asks its questions one after another over one WebSocket; gives each latency,
 * from its first sending, and how many times the advisor refused one as busy (asked again
 * after Retry-After, as a client should).
 */
async function client(
  url: string,
  questions: readonly AdviceQuestion[],
): Promise<{ latencies: number[]; answeredAt: number[]; busyRefusals: number }> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      resolve();
    });
    socket.once('error', reject);
  });
  const latencies: number[] = [];
  const answeredAt: number[] = [];
  let busyRefusals = 0;
  const askOnce = (id: string, asked: AdviceQuestion): Promise<'answered' | 'busy'> => {
    const answered = new Promise<'answered' | 'busy'>((resolve, reject) => {
      const onMessage = (data: Buffer): void => {
        const frame = JSON.parse(data.toString('utf8')) as {
          type: string;
          id?: string;
          code?: string;
          message?: string;
        };
        if (frame.id !== id) return;
        socket.off('message', onMessage);
        if (frame.type === 'answer') resolve('answered');
        else if (frame.code === 'BERTH_ERR_BUSY') resolve('busy');
        else reject(new Error(`question ${id} refused: ${frame.message ?? frame.type}`));
      };
      socket.on('message', onMessage);
    });
    socket.send(JSON.stringify({ type: 'ask', id, question: asked }));
    return answered;
  };
  try {
    for (const [index, asked] of questions.entries()) {
      const id = `q${index}`;
      const started = performance.now();
      for (let refused = 0; (await askOnce(id, asked)) === 'busy'; refused += 1) {
        if (refused === MAX_BUSY_REFUSALS) {
          throw new Error(`question ${id} refused as busy ${MAX_BUSY_REFUSALS} times`);
        }
        busyRefusals += 1;
        await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
      }
      latencies.push(performance.now() - started);
      answeredAt.push(epochNow());
    }
  } finally {
    socket.close();
  }
  return { latencies, answeredAt, busyRefusals };
}

async function askAll(request: AskRequest): Promise<AskedResult> {
  // One warm-up question per client, not counted.
  await Promise.all(request.questions.map((mine) => client(request.url, mine.slice(0, 1))));
  const started = performance.now();
  const startedAt = epochNow();
  const clients = await Promise.all(request.questions.map((mine) => client(request.url, mine)));
  return {
    latencies: clients.flatMap((each) => each.latencies),
    busyRefusals: clients.reduce((sum, each) => sum + each.busyRefusals, 0),
    seconds: (performance.now() - started) / 1000,
    startedAt,
    answeredAt: clients.flatMap((each) => each.answeredAt),
    doneAt: clients.map((each) => each.answeredAt.at(-1) ?? startedAt),
  };
}

if (parentPort !== null) {
  const port = parentPort;
  void askAll(workerData as AskRequest).then((result) => {
    port.postMessage(result);
  });
}
