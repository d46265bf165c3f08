import type { Gauge } from 'prom-client';

/** A batch write that has not finished after this long makes the worker report itself unhealthy. */
const STALLED_WRITE_MS = 5_000;

/** What /healthz answers: healthy, or the reasons it is not. */
export interface IngestHealth {
  readonly healthy: boolean;
  readonly problems: readonly string[];
}

/** Collects why ingest is unhealthy and mirrors NATS and the store in the healthy gauge. */
export interface HealthTracker {
  /** Why the last batch write failed, or undefined once a write succeeds. */
  readonly storeProblem: string | undefined;
  setStoreProblem(problem: string | undefined): void;
  setNatsConnected(connected: boolean): void;
  /** A batch write began; one that runs longer than STALLED_WRITE_MS is reported. */
  writeStarted(): void;
  writeFinished(): void;
  /** Ingest is stopping: it says so until the process ends. */
  stopping(): void;
  /** Sets the gauge: 1 while NATS is connected and writes succeed, else 0. */
  publish(): void;
  report(): IngestHealth;
}

/** The health of one ingest worker, kept in `healthy` (`berth_ingest_healthy`) as it changes. */
export function createHealthTracker(healthy: Gauge): HealthTracker {
  let storeProblem: string | undefined;
  let natsProblem: string | undefined;
  let writeStartedAt: number | undefined;
  let stopping = false;

  const publish = (): void => {
    healthy.set(storeProblem === undefined && natsProblem === undefined ? 1 : 0);
  };

  return {
    get storeProblem() {
      return storeProblem;
    },
    setStoreProblem(problem) {
      storeProblem = problem;
      publish();
    },
    setNatsConnected(connected) {
      natsProblem = connected ? undefined : 'disconnected from NATS';
      publish();
    },
    writeStarted() {
      writeStartedAt = performance.now();
    },
    writeFinished() {
      writeStartedAt = undefined;
    },
    stopping() {
      stopping = true;
    },
    publish,
    report() {
      const problems = [natsProblem, storeProblem].filter((p): p is string => p !== undefined);
      const writing = writeStartedAt === undefined ? 0 : performance.now() - writeStartedAt;
      if (storeProblem === undefined && writing > STALLED_WRITE_MS) {
        problems.push(`a batch write has not finished after ${Math.round(writing / 1000)} s`);
      }
      if (stopping) problems.push('stopping');
      return { healthy: problems.length === 0, problems };
    },
  };
}
