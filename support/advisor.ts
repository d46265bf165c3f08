import { jetstream } from '@nats-io/jetstream';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import type { Advice, AdviceQuestion } from '../contracts/advice.ts';
import type { AdviceSummary, RequestedRun, ResultValues } from '../contracts/advisor-api.ts';
import {
  hostInventoryCodec,
  inventorySubject,
  jobProgressCodec,
  jobRequestCodec,
  jobsSubject,
  type DeadLetter,
  type HostInventory,
  type JobRequest,
  type ResultBatch,
  type ResultMetric,
  type ResultMetricV2,
} from '../contracts/index.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { createEnginePool, createThreadEngine } from '../services/advisor/engine-pool.ts';
import { createAdvisor, type Advisor, type AdvisorOptions } from '../services/advisor/advisor.ts';
import { buildAdvisorApp, type AdvisorAppDeps } from '../services/advisor/app.ts';
import {
  openAuditLog,
  type AuditLog,
  type AuditLogOptions,
  type AuditPage,
} from '../services/advisor/audit-log.ts';
import { openEvidenceCache, type EvidenceCache } from '../services/advisor/evidence-cache.ts';
import { watchFleet, type Fleet, type FleetHost } from '../services/advisor/fleet.ts';
import { advisorReads } from '../services/advisor/main.ts';
import { createAdvisorMetrics } from '../services/advisor/metrics.ts';
import type { ValuesFilter } from '../services/advisor/result-values.ts';
import {
  createAdvisorServer,
  type AdvisorServer,
  type AdvisorServerDeps,
} from '../services/advisor/server.ts';
import {
  CONTAINER,
  DAY_MS,
  hostInfo,
  PROCESS,
  FIXTURE_ROUNDS,
  measuredRatio,
  PROCESS_THROUGHPUT,
  thisHostEvidence,
  type PlatformFigures,
} from './advice-fixtures.ts';
import { question } from './advice-fixtures.ts';
import { startIngestStack, type IngestStack } from './ingest.ts';
import { fixtureComparison, publishResults } from './results.ts';
import { cleanUp, type Backend } from './servers.ts';
import { waitFor } from './wait.ts';

export interface AdvisorStack {
  readonly ingest: IngestStack;
  readonly evidence: EvidenceCache;
  readonly fleet: Fleet;
  readonly audit: AuditLog;
  readonly advisor: Advisor;
  readonly server: AdvisorServer;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** ws://127.0.0.1:<port> */
  readonly wsUrl: string;
  stop(): Promise<void>;
}

export interface AdvisorStackOptions {
  /** Where the results are stored: embedded chDB (the default) or a clickhouse-server. */
  readonly backend?: Backend;
  readonly advisor?: Partial<AdvisorOptions>;
  readonly audit?: AuditLogOptions;
  readonly server?: Partial<Pick<AdvisorServerDeps, 'token' | 'socketLimits' | 'health'>>;
  /** Engine threads, as `--engine-threads` sets them; 0 (the default): on the test's thread. */
  readonly engineThreads?: number;
  readonly logger?: Logger;
}

/**
 * An advisor server over an advisor, its evidence, fleet and store: on 127.0.0.1, a free port,
 * healthy and quiet unless `deps` says otherwise. Tests start extra ones over a running
 * stack to try other server settings.
 */
export function serverOver(
  parts: Pick<AdvisorStack, 'ingest' | 'advisor' | 'evidence' | 'fleet'>,
  deps: Partial<AdvisorServerDeps> = {},
): Promise<AdvisorServer> {
  return createAdvisorServer({
    advisor: parts.advisor,
    evidence: parts.evidence,
    fleet: parts.fleet,
    ...advisorReads(parts.ingest.testStore.store, parts.ingest.nc),
    logger: silentLogger,
    host: '127.0.0.1',
    port: 0,
    health: () => ({ healthy: true, problems: [] }),
    ...deps,
  });
}

/**
 * The advisor as it runs: nats-server, a store (chDB, or a clickhouse-server of its own) and
 * ingest, the evidence cache, the fleet watch, the audit log, the advisor and its
 * HTTP/WebSocket server on 127.0.0.1. What started is stopped again if a later part fails.
 */
export async function startAdvisorStack(options: AdvisorStackOptions = {}): Promise<AdvisorStack> {
  const logger = options.logger ?? silentLogger;
  const ingest = await startIngestStack(options.backend);
  const stops: (() => Promise<unknown>)[] = [() => ingest.stop()];
  const stop = (): Promise<void> => cleanUp(...[...stops].reverse());
  try {
    const store = ingest.testStore.store;
    const evidence = await openEvidenceCache(store, ingest.nc, logger, { debounceMs: 50 });
    stops.push(() => evidence.stop());
    const fleet = await watchFleet(ingest.nc, logger);
    stops.push(() => fleet.stop());
    const audit = openAuditLog(store, logger, options.audit);
    stops.push(() => audit.stop());
    const threads = options.engineThreads ?? 0;
    const engine = threads === 0 ? createThreadEngine() : createEnginePool(threads, logger);
    stops.push(() => engine.close());
    const advisor = createAdvisor({
      nc: ingest.nc,
      evidence,
      fleet,
      audit,
      engine,
      logger,
      ...(options.advisor === undefined ? {} : { options: options.advisor }),
    });
    const server = await serverOver(
      { ingest, advisor, evidence, fleet },
      { logger, ...options.server },
    );
    stops.push(() => server.close());
    const url = server.address();
    return {
      ingest,
      evidence,
      fleet,
      audit,
      advisor,
      server,
      url,
      wsUrl: url.replace(/^http/, 'ws'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** "A CI job that lives 3 minutes, 400 at a time", sensitive to CPU, as the API takes it. */
export function goodQuestion(overrides: Partial<AdviceQuestion> = {}): AdviceQuestion {
  return question({ sensitivity: ['cpu'], ...overrides });
}

let resultCounter = 0;

function metric(name: string, unit: string, value: number, p99 = value): ResultMetric {
  return {
    name,
    unit,
    value,
    samples: 20,
    rme: 2,
    max: p99 * 1.05,
    percentiles: { p50: value, p99 },
    stoppedBy: 'sample-count',
  };
}

/**
 * The throughput metric of a workload, with its comparison with the process platform when the
 * platform was measured in rounds (`ratioHalfWidth`).
 */
function throughputMetric(
  figures: PlatformFigures,
  workload: keyof typeof PROCESS_THROUGHPUT,
): ResultMetricV2 {
  const value = PROCESS_THROUGHPUT[workload] * figures.ratios[workload];
  const measured = measuredRatio(figures, figures.ratios[workload]);
  return {
    ...metric('throughput', 'op/s', value),
    ...(measured === undefined
      ? {}
      : {
          comparison: fixtureComparison('process:node', measured, FIXTURE_ROUNDS),
        }),
  };
}

/**
 * What an agent's quick suite sends for one platform: the `instance` workload (start-up,
 * memory peak and overhead, density) and the throughput of each workload given, taken at
 * `takenAt`; in version 2, with each throughput's comparison, when the platform was measured
 * in rounds (`ratioHalfWidth`).
 */
export function platformResults(
  hostId: string,
  figures: PlatformFigures,
  takenAt = Date.now(),
  workloads: readonly (keyof typeof PROCESS_THROUGHPUT)[] = ['cpu-sha256', 'memory-copy'],
): ResultBatch[] {
  const batch = (workload: string, metrics: ResultMetricV2[]): ResultBatch => {
    resultCounter += 1;
    const inRounds = figures.ratioHalfWidth !== undefined;
    return {
      ...(inRounds
        ? {
            schemaVersion: 2,
            rounds: { count: FIXTURE_ROUNDS, seed: `seed-${hostId}-${takenAt}`, disturbed: 0 },
            hostFingerprint: `fingerprint-${hostId}`,
            uncalibrated: (figures.uncalibratedResults ?? 0) > 0,
          }
        : { schemaVersion: 1 }),
      id: `adv-test-${process.pid}-${resultCounter}`,
      hostId,
      runId: `run-${hostId}-${takenAt}`,
      takenAt,
      platform: {
        name: figures.platform,
        runtime: figures.runtime,
        runtimeVersion: '1.0.0',
        accel: figures.accel as ResultBatch['platform']['accel'],
        settings: { memoryMiB: 512, cpus: 1 },
      },
      workload: { name: workload, version: '1' },
      metrics,
    };
  };
  return [
    batch('instance', [
      metric('startup', 'ms', figures.startupMs, figures.startupP95Ms),
      metric('memory-peak', 'MiB', figures.memoryPeakMiB),
      ...(figures.memoryOverheadMiB === undefined
        ? []
        : [metric('memory-overhead', 'MiB', figures.memoryOverheadMiB)]),
      metric('density', 'instances', figures.density),
    ]),
    ...workloads.map((workload) => batch(workload, [throughputMetric(figures, workload)])),
  ];
}

/** Publishes results as an agent does and waits until the advisor's evidence holds them. */
export async function seedResults(
  stack: AdvisorStack,
  batches: readonly ResultBatch[],
): Promise<void> {
  const before = stack.evidence.rows().reduce((sum, row) => sum + row.results, 0);
  await publishResults(stack.ingest.nc, batches);
  await waitFor(
    'the advisor to read the new results',
    () =>
      stack.evidence.rows().reduce((sum, row) => sum + row.results, 0) >= before + batches.length,
  );
}

/** An inventory like this development host's, sent now. */
export function inventoryOf(hostId: string): HostInventory {
  return {
    schemaVersion: 1,
    type: 'inventory',
    hostId,
    sentAt: Date.now(),
    agentVersion: '0.1.0',
    cpu: { model: 'Test CPU @ 3.0GHz', cores: 4, threads: 8, flags: ['sse4_2', 'avx2'] },
    memoryBytes: 24 * 2 ** 30,
    os: { family: 'Linux', distro: 'debian', release: '12', kernel: '6.1.0-56-amd64', arch: 'x64' },
    virtualised: { is: true, hypervisor: 'kvm' },
    cgroup: 'v2',
    platforms: hostInfo(hostId).platforms.map((platform) => ({
      ...platform,
    })) as HostInventory['platforms'],
  };
}

/** Sends a host's inventory on berth.inventory.<hostId> and waits until the fleet has it. */
export async function seedInventory(stack: AdvisorStack, hostId: string): Promise<void> {
  await jetstream(stack.ingest.nc).publish(
    inventorySubject(hostId),
    hostInventoryCodec.encode(inventoryOf(hostId)),
  );
  await waitFor('the fleet to know the host', () =>
    stack.fleet.hosts().some((host) => host.hostId === hostId && host.inventory !== undefined),
  );
}

/**
 * Sends a host's inventory, then its results on each platform `measured` holds, taken at
 * `takenAt` (when each is made, by default), and waits until the advisor has both.
 */
export async function seedMeasuredHost(
  stack: AdvisorStack,
  hostId: string,
  measured: readonly PlatformFigures[],
  takenAt?: number,
): Promise<void> {
  await seedInventory(stack, hostId);
  await seedResults(
    stack,
    measured.flatMap((figures) => platformResults(hostId, figures, takenAt)),
  );
}

/**
 * A host known to the fleet whose only results (the bare process and containers) are a month
 * old, past the advisor's staleness limit.
 */
export async function seedStaleHost(stack: AdvisorStack, hostId: string): Promise<void> {
  const monthAgo = Date.now() - 30 * DAY_MS;
  await seedResults(
    stack,
    [PROCESS, CONTAINER].flatMap((figures) => platformResults(hostId, figures, monthAgo)),
  );
  await seedInventory(stack, hostId);
}

/** The platforms an answer's options give measured evidence for. */
export function measuredPlatforms(advice: Advice): string[] {
  return advice.options.flatMap((option) =>
    option.evidence.filter((e) => e.source === 'measured').map((e) => e.platform),
  );
}

export interface JobListener {
  /** The job requests received, oldest first. */
  readonly requests: readonly JobRequest[];
  /** Waits (10 s at most) until a job request has come. */
  waitForRequest(): Promise<void>;
  stop(): void;
}

/** Plays a host's agent on berth.jobs.<hostId>: keeps each job request and accepts it. */
export function acceptJobs(nc: NatsConnection, hostId: string): JobListener {
  const requests: JobRequest[] = [];
  const subscription = nc.subscribe(jobsSubject(hostId), {
    callback: (error, message: Msg) => {
      if (error !== null) return;
      const decoded = jobRequestCodec.decode(message.data, 1 << 20);
      if (!decoded.ok) return;
      requests.push(decoded.value);
      message.respond(
        jobProgressCodec.encode({
          schemaVersion: 1,
          jobId: decoded.value.id,
          hostId,
          at: Date.now(),
          state: 'accepted',
          done: 0,
          total: 1,
        }),
      );
    },
  });
  return {
    requests,
    waitForRequest: () =>
      waitFor(`a job request on ${jobsSubject(hostId)}`, () => requests.length > 0, 10_000),
    stop: () => {
      subscription.unsubscribe();
    },
  };
}

/** Waits until the advisor has seen the job it sent to `hostId` accepted. */
export async function waitForAcceptedRun(stack: AdvisorStack, hostId: string): Promise<void> {
  await waitFor('the advisor to see the job accepted', () =>
    stack.advisor.requestedRuns().some((run) => run.hostId === hostId && run.state === 'accepted'),
  );
}

/** A frame the server sent, loosely typed for assertions. */
export type Frame = Record<string, unknown> & { type: string };

export interface TestSocket {
  readonly socket: WebSocket;
  send(frame: unknown): void;
  /** The first frame not yet taken that matches (the next one when no match is given). */
  next(match?: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Frames received and not yet taken. */
  pending(): readonly Frame[];
  close(): Promise<void>;
}

/** A WebSocket client that keeps every frame until a test takes it. */
export async function openTestSocket(
  url: string,
  headers: Record<string, string> = {},
): Promise<TestSocket> {
  const socket = new WebSocket(url, { headers });
  const frames: Frame[] = [];
  let wake: (() => void) | undefined;
  socket.on('message', (data: Buffer) => {
    frames.push(JSON.parse(data.toString('utf8')) as Frame);
    wake?.();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      resolve();
    });
    socket.once('error', reject);
  });
  const take = (match: (frame: Frame) => boolean): Frame | undefined => {
    const index = frames.findIndex(match);
    return index < 0 ? undefined : frames.splice(index, 1)[0];
  };
  return {
    socket,
    send: (frame) => {
      socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    },
    next: async (match = () => true, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = take(match);
        if (found !== undefined) return found;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `no matching frame within ${timeoutMs} ms; pending: ${JSON.stringify(frames).slice(0, 500)}`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 250));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    pending: () => frames,
    close: async () => {
      if (socket.readyState === WebSocket.CLOSED) return;
      await new Promise<void>((resolve) => {
        socket.once('close', () => {
          resolve();
        });
        socket.close();
      });
    },
  };
}

/** What the in-memory stand-ins of `buildFakeApp` were asked, oldest first. */
export interface FakeAppCalls {
  readonly asked: AdviceQuestion[];
  readonly history: AuditPage[];
  readonly runs: string[];
  readonly values: ValuesFilter[];
  readonly deadLetters: number[];
}

export interface FakeApp {
  readonly app: FastifyInstance;
  readonly deps: AdvisorAppDeps;
  readonly calls: FakeAppCalls;
}

/** The answer the fake advisor gives: no option, its id and time fixed. */
export function fakeAdvice(question: AdviceQuestion, id = 'adv-fake'): Advice {
  return {
    schemaVersion: 1,
    id,
    answeredAt: 1_764_000_000_000,
    question,
    options: [],
    ruledOut: [],
    confidence: { value: 0.5, restsOn: ['nothing measured'] },
    whatWouldChange: [],
    hosts: [],
  };
}

/** A dead letter as ingest writes it, the `n`th on the stream. */
export function fakeDeadLetter(n: number): DeadLetter {
  return {
    schemaVersion: 1,
    receivedAt: 1_764_000_000_000 + n,
    subject: 'berth.results.host-a',
    streamSequence: n,
    code: 'BERTH_ERR_SCHEMA',
    reason: `result ${n} does not match its schema`,
    payloadBytes: 2,
    payloadBase64: 'e30=',
    truncated: false,
  };
}

/**
 * The advisor's app over small in-memory stand-ins, not listening: an advisor that answers
 * every question with `fakeAdvice` and has answered `adv-known` before, a fleet of host-a,
 * this host's evidence for host-a, one series of values, 120 dead letters and good health.
 * `overrides` replaces any of them. The app is ready, not listening.
 */
export async function buildFakeApp(overrides: Partial<AdvisorAppDeps> = {}): Promise<FakeApp> {
  const calls: FakeAppCalls = { asked: [], history: [], runs: [], values: [], deadLetters: [] };
  const known = fakeAdvice(goodQuestion(), 'adv-known');
  const summary: AdviceSummary = {
    id: known.id,
    answeredAt: known.answeredAt,
    workload: known.question.workload,
    topPlacement: '',
    confidence: known.confidence.value,
  };
  const hostA: FleetHost = {
    hostId: 'host-a',
    inventory: inventoryOf('host-a'),
    lastSeenAt: Date.now(),
    busy: false,
  };
  const values: ResultValues = {
    series: [
      {
        hostId: 'host-a',
        platform: 'process',
        runtime: 'node',
        accel: 'none',
        workload: 'cpu-sha256',
        metric: 'throughput',
        unit: 'op/s',
        values: [{ value: 6170.4, takenAt: 1_764_000_000_000, resultId: 'r-1' }],
      },
    ],
    truncated: false,
  };
  const deadLetters = Array.from({ length: 120 }, (_, index) => fakeDeadLetter(index + 1));
  const evidenceRows = thisHostEvidence('host-a');
  const deps: AdvisorAppDeps = {
    advisor: {
      ask: (question) => {
        calls.asked.push(question);
        return Promise.resolve(fakeAdvice(question));
      },
      get: (id) => Promise.resolve(id === known.id ? known : undefined),
      history: (page) => {
        calls.history.push(page);
        return Promise.resolve([summary]);
      },
      runNow: (hostId) => {
        calls.runs.push(hostId);
        const run: RequestedRun = {
          hostId,
          jobId: 'job-fake',
          requestedAt: 1_764_000_000_000,
          requestedBy: 'advisor-api',
          state: 'accepted',
        };
        return Promise.resolve(run);
      },
      watch: (question, listener) => {
        listener(fakeAdvice(question), 'asked');
        return () => undefined;
      },
      onResults: () => () => undefined,
      onJobProgress: () => () => undefined,
    },
    evidence: {
      rows: () => evidenceRows,
      readAt: () => 1_764_000_000_000,
      problem: () => undefined,
    },
    fleet: { hosts: () => [hostA], onChange: () => () => undefined },
    resultValues: (filter) => {
      calls.values.push(filter);
      return Promise.resolve(values);
    },
    deadLetters: (limit) => {
      calls.deadLetters.push(limit);
      return Promise.resolve(deadLetters.slice(-limit));
    },
    health: () => ({ healthy: true, problems: [] }),
    metrics: createAdvisorMetrics(),
    logger: silentLogger,
    ...overrides,
  };
  const app = await buildAdvisorApp(deps);
  // Ready for injectWS, which (unlike inject) does not wait for it.
  await app.ready();
  return { app, deps, calls };
}
