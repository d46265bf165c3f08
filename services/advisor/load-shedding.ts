import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Whether the advisor is too busy answering to take another question. Questions are
 * answered on the event loop, so when they come faster than it answers them they wait in
 * sockets and buffers without bound; then a question gets a quick refusal (HTTP 503 with
 * Retry-After, a `BERTH_ERR_BUSY` error frame) instead of a place in that queue.
 *
 * Overloaded means both, over the last window: the event loop's delay passed the one allowed,
 * and answering took at least half of the window. The second keeps a loop delayed by other
 * work (reading the evidence again, the embedded store) from refusing questions that come
 * one at a time.
 */
export interface Pressure {
  /** True while the last window was overloaded. */
  overloaded(): boolean;
  /** Runs `answer`, counting its time as time spent answering. */
  timed<T>(answer: () => T): T;
  /** Seconds a refused client should wait before asking again (Retry-After). */
  readonly retryAfterSeconds: number;
  close(): void;
}

export interface PressureOptions {
  /** The longest event-loop delay, ms, under which questions are still taken. */
  readonly maxEventLoopDelayMs: number;
  /** The share of a window spent answering from which the delay counts as overload. */
  readonly minAnsweringShare: number;
  /** How often the delay and the time spent answering are read, ms. */
  readonly windowMs: number;
}

/**
 * A refused client waits the Retry-After (1 s) before asking again, so refusing helps it only
 * where the queue would have held its question longer than that: the delay allowed is the
 * Retry-After. Below it, a crowd of clients asking one question at a time each is answered in
 * turn rather than sent away for a second.
 */
export const DEFAULT_PRESSURE: PressureOptions = {
  maxEventLoopDelayMs: 1_000,
  minAnsweringShare: 0.5,
  windowMs: 500,
};

/** The event loop's delay and the time spent answering, read every window. */
export function createPressure(options: PressureOptions = DEFAULT_PRESSURE): Pressure {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let answeringMs = 0;
  let windowStart = performance.now();
  let overloaded = false;
  const timer = setInterval(() => {
    const now = performance.now();
    const delayMs = histogram.max / 1e6;
    overloaded =
      delayMs > options.maxEventLoopDelayMs &&
      answeringMs >= options.minAnsweringShare * (now - windowStart);
    histogram.reset();
    answeringMs = 0;
    windowStart = now;
  }, options.windowMs);
  timer.unref();
  return {
    overloaded: () => overloaded,
    timed: (answer) => {
      const start = performance.now();
      try {
        return answer();
      } finally {
        answeringMs += performance.now() - start;
      }
    },
    retryAfterSeconds: Math.max(1, Math.ceil(options.windowMs / 1000)),
    close: () => {
      clearInterval(timer);
      histogram.disable();
    },
  };
}

/** What a refused question is told, over HTTP and WebSocket alike. */
export const busyMessage = (pressure: Pick<Pressure, 'retryAfterSeconds'>): string =>
  `the advisor is overloaded; ask again in ${pressure.retryAfterSeconds} s`;

/** Never overloaded: for an app whose caller sheds no load. */
export const NO_PRESSURE: Pressure = {
  overloaded: () => false,
  timed: (answer) => answer(),
  retryAfterSeconds: 1,
  close: () => undefined,
};
