import type { WebSocket } from '@fastify/websocket';
import type { RawData } from 'ws';
import type { Advice, AdviceQuestion } from '../../contracts/advice.ts';
import {
  checkClientFrame,
  MAX_FRAME_BYTES,
  type ServerFrame,
  type Topic,
} from '../../contracts/advisor-frames.ts';
import type { ErrorCode } from '../../contracts/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { answerFrameText } from './advice-json.ts';
import { busyMessage, type Pressure } from './load-shedding.ts';
import type { Advisor } from './advisor.ts';
import type { Fleet } from './fleet.ts';
import { fieldLabel, type AdvisorMetrics } from './metrics.ts';
import { unknownHostProblem } from './questions.ts';
import { hostView } from './views.ts';

type AnswerReason = 'asked' | 'evidence';

/** Close codes the server uses. */
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TOO_SLOW = 1013;

export interface SocketLimits {
  /** Unread bytes a client may have queued; frames beyond it are dropped. */
  readonly bufferLimitBytes: number;
  /** A client over the bound for this long is closed. */
  readonly slowCloseMs: number;
  /** Questions one client may watch at once. */
  readonly maxWatches: number;
}

export const DEFAULT_SOCKET_LIMITS: SocketLimits = {
  bufferLimitBytes: 1 << 20,
  slowCloseMs: 5_000,
  maxWatches: 64,
};

export interface SocketHubDeps {
  readonly advisor: Pick<Advisor, 'ask' | 'watch' | 'onResults' | 'onJobProgress'>;
  readonly fleet: Pick<Fleet, 'hosts' | 'onChange'>;
  readonly metrics: AdvisorMetrics;
  readonly logger: Logger;
  readonly limits: SocketLimits;
  /** While it says overloaded, `ask` and `watch` frames get a `BERTH_ERR_BUSY` error frame. */
  readonly pressure: Pick<Pressure, 'overloaded' | 'timed' | 'retryAfterSeconds'>;
}

export interface SocketHub {
  /** Serves one accepted WebSocket until it closes. */
  serve(socket: WebSocket): void;
  /** Closes every client with "going away" and drops every watch and subscription. */
  close(): Promise<void>;
}

/** How long a closing client gets to answer the close before it is cut off. */
const CLOSE_GRACE_MS = 1_000;

function byteLength(data: RawData): number {
  return Array.isArray(data)
    ? data.reduce((sum, part) => sum + part.length, 0)
    : data instanceof ArrayBuffer
      ? data.byteLength
      : data.length;
}

function textOf(data: RawData): string {
  return Array.isArray(data)
    ? Buffer.concat(data).toString('utf8')
    : Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString('utf8');
}

/** The id a frame gave, when it gave a usable one, so its error can carry it back. */
function frameIdOf(value: unknown): string | undefined {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
}

/**
 * The advisor's WebSocket clients. Each frame is checked and answered on its own: a bad one
 * gets an error frame naming the field and the connection stays open. A client that reads
 * too slowly does not hold up the others: past `bufferLimitBytes` of unread data its frames
 * are dropped (and counted), and if it stays over for `slowCloseMs` it is closed.
 */
export function createSocketHub(deps: SocketHubDeps): SocketHub {
  const { advisor, fleet, metrics, logger, limits, pressure } = deps;
  const cleanups = new Map<WebSocket, () => void>();

  const serve = (socket: WebSocket): void => {
    const watches = new Map<string, () => void>();
    const subscriptions = new Map<Topic, () => void>();
    let overSince: number | undefined;
    let watchCount = 0;
    metrics.wsClients.inc();

    const dropEverything = (): void => {
      for (const stop of [...watches.values(), ...subscriptions.values()]) stop();
      watches.clear();
      subscriptions.clear();
    };

    const closeSlow = (): void => {
      metrics.slowClientsClosed.inc();
      logger.warn({ buffered: socket.bufferedAmount }, 'WebSocket client too slow; closing it');
      dropEverything();
      socket.close(CLOSE_TOO_SLOW, 'too slow: unread frames over the bound');
      setTimeout(() => {
        socket.terminate();
      }, CLOSE_GRACE_MS).unref();
    };

    /** Sends a frame's text, unless the client is too far behind (then the frame is dropped). */
    const sendText = (text: string): void => {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > limits.bufferLimitBytes) {
        metrics.framesDropped.inc();
        const now = Date.now();
        overSince ??= now;
        if (now - overSince >= limits.slowCloseMs) closeSlow();
        return;
      }
      overSince = undefined;
      socket.send(text);
      metrics.framesOut.inc();
    };

    const send = (frame: ServerFrame): void => {
      sendText(JSON.stringify(frame));
    };

    const refuse = (
      code: ErrorCode,
      field: string,
      message: string,
      id: string | undefined,
    ): void => {
      if (code === 'BERTH_ERR_QUESTION') metrics.badQuestions.inc({ field: fieldLabel(field) });
      send({ type: 'error', ...(id === undefined ? {} : { id }), code, field, message });
    };

    /** A question the engine failed on: logged, and an internal error frame with its id. */
    const failed = (error: unknown, id: string | undefined): void => {
      logger.error({ err: error }, 'answering a WebSocket question failed');
      refuse('BERTH_ERR_INTERNAL', '(the frame)', 'the advisor failed on it', id);
    };

    const sendAnswer = (id: string | undefined, advice: Advice, why: AnswerReason): void => {
      metrics.answers.inc({ via: 'ws', why });
      sendText(
        answerFrameText({ type: 'answer', ...(id === undefined ? {} : { id }), advice, why }),
      );
    };

    const watch = (question: AdviceQuestion, given: string | undefined): void => {
      const id = given ?? `watch-${(watchCount += 1)}`;
      watches.get(id)?.();
      watches.delete(id);
      if (watches.size >= limits.maxWatches) {
        refuse('BERTH_ERR_FRAME', 'id', `over ${limits.maxWatches} watches; unwatch one`, id);
        return;
      }
      const timer = metrics.answerSeconds.startTimer();
      let first = true;
      const stop = pressure.timed(() =>
        advisor.watch(
          question,
          (advice, why) => {
            if (first) timer();
            first = false;
            sendAnswer(id, advice, why);
          },
          (error) => {
            failed(error, id);
          },
        ),
      );
      watches.set(id, stop);
    };

    const subscribe = (topics: readonly Topic[]): void => {
      for (const topic of topics) {
        if (subscriptions.has(topic)) continue;
        subscriptions.set(
          topic,
          topic === 'results'
            ? advisor.onResults((change) => {
                send({
                  type: 'results',
                  hosts: [...change.hosts],
                  results: change.results,
                  at: change.at,
                });
              })
            : topic === 'fleet'
              ? fleet.onChange((host) => {
                  send({ type: 'host', host: hostView(host, Date.now()) });
                })
              : advisor.onJobProgress((progress) => {
                  send({ type: 'job', progress });
                }),
        );
      }
    };

    const receive = (data: RawData): void => {
      metrics.framesIn.inc();
      if (byteLength(data) > MAX_FRAME_BYTES) {
        refuse('BERTH_ERR_TOO_LARGE', '(the frame)', `is over ${MAX_FRAME_BYTES} bytes`, undefined);
        return;
      }
      let value: unknown;
      try {
        value = JSON.parse(textOf(data));
      } catch {
        refuse('BERTH_ERR_NOT_JSON', '(the frame)', 'is not JSON', undefined);
        return;
      }
      const checked = checkClientFrame(value);
      if (!checked.ok) {
        const { code, field, message } = checked.problem;
        refuse(code, field, message, frameIdOf(value));
        return;
      }
      const frame = checked.frame;
      if (frame.type === 'unwatch') {
        const stop = watches.get(frame.id);
        if (stop === undefined) {
          refuse('BERTH_ERR_NOT_FOUND', 'id', 'is not a question this client watches', frame.id);
          return;
        }
        stop();
        watches.delete(frame.id);
        return;
      }
      if (frame.type === 'subscribe') {
        subscribe(frame.topics);
        return;
      }
      if (pressure.overloaded()) {
        metrics.busyRefusals.inc({ via: 'ws' });
        refuse('BERTH_ERR_BUSY', '(the frame)', busyMessage(pressure), frame.id);
        return;
      }
      const unknownHost = unknownHostProblem(frame.question, fleet);
      if (unknownHost !== undefined) {
        refuse(
          'BERTH_ERR_QUESTION',
          `question.${unknownHost.field}`,
          unknownHost.message,
          frame.id,
        );
        return;
      }
      if (frame.type === 'watch') {
        watch(frame.question, frame.id);
        return;
      }
      const timer = metrics.answerSeconds.startTimer();
      pressure
        .timed(() => advisor.ask(frame.question))
        .then(
          (advice) => {
            timer();
            sendAnswer(frame.id, advice, 'asked');
          },
          (error: unknown) => {
            failed(error, frame.id);
          },
        );
    };

    socket.on('message', (data) => {
      try {
        receive(data);
      } catch (error) {
        logger.error({ err: error }, 'WebSocket frame failed');
        refuse('BERTH_ERR_INTERNAL', '(the frame)', 'the advisor failed on it', undefined);
      }
    });
    socket.on('error', (error) => {
      logger.debug({ err: error.message }, 'WebSocket client error');
    });
    socket.once('close', () => {
      dropEverything();
      cleanups.delete(socket);
      metrics.wsClients.dec();
    });
    cleanups.set(socket, dropEverything);
  };

  return {
    serve,
    close: async () => {
      const closing = [...cleanups.entries()].map(
        ([socket, dropEverything]) =>
          new Promise<void>((resolve) => {
            dropEverything();
            if (socket.readyState === socket.CLOSED) {
              resolve();
              return;
            }
            const cutOff = setTimeout(() => {
              socket.terminate();
            }, CLOSE_GRACE_MS);
            socket.once('close', () => {
              clearTimeout(cutOff);
              resolve();
            });
            socket.close(CLOSE_GOING_AWAY, 'the advisor is shutting down');
          }),
      );
      await Promise.all(closing);
    },
  };
}
