import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Whether the advisor is too busy answering to take another question. When questions come
 * faster than they are answered they wait (in sockets and buffers for an engine on the event
 * loop, in the engine threads' queues for a pool) without bound; then a question gets a quick
 * refusal (HTTP 503 with Retry-After, a `BERTH_ERR_BUSY` error frame) instead of a place in
 * that queue.
 *
 * Overloaded means, over the last window, both: the event loop's delay passed the one allowed,
 * and answering on it took at least half of the window (so a loop delayed by other work, such
 * as reading the evidence again or the embedded store, does not refuse questions that come
 * one at a time). Or, with engine threads, that the questions already queued would keep them
 * busy past the same delay.
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

/**
 * The event loop's delay and the time spent answering, read every window; and `backlogMs`, the
 * time the engine threads' queued questions would take, read at every question.
 */
export function createPressure(
  options: PressureOptions = DEFAULT_PRESSURE,
  backlogMs: () => number = () => 0,
): Pressure {
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
    overloaded: () => overloaded || backlogMs() > options.maxEventLoopDelayMs,
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
