import { jetstream } from '@nats-io/jetstream';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import WebSocket from 'ws';
import type { Advice, AdviceQuestion } from '../../contracts/advice.ts';
import {
  hostInventoryCodec,
  inventorySubject,
  jobProgressCodec,
  jobRequestCodec,
  jobsSubject,
  type HostInventory,
  type JobRequest,
  type ResultBatch,
  type ResultMetric,
} from '../../contracts/index.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import {
  createAdvisor,
  type Advisor,
  type AdvisorOptions,
} from '../../services/advisor/advisor.ts';
import {
  openAuditLog,
  type AuditLog,
  type AuditLogOptions,
} from '../../services/advisor/audit-log.ts';
import { openEvidenceCache, type EvidenceCache } from '../../services/advisor/evidence-cache.ts';
import { watchFleet, type Fleet } from '../../services/advisor/fleet.ts';
import {
  createAdvisorServer,
  type AdvisorServer,
  type AdvisorServerDeps,
} from '../../services/advisor/server.ts';
import {
  CONTAINER,
  DAY_MS,
  hostInfo,
  PROCESS,
  PROCESS_THROUGHPUT,
  type PlatformFigures,
} from './advice-fixtures.ts';
import { startIngestStack, type IngestStack } from './ingest.ts';
import { publishResults } from './results.ts';
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
    store: parts.ingest.testStore.store,
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
    const advisor = createAdvisor({
      nc: ingest.nc,
      evidence,
      fleet,
      audit,
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

/** "A CI job that lives 3 minutes, 400 at a time", as the API takes it. */
export function goodQuestion(overrides: Partial<AdviceQuestion> = {}): AdviceQuestion {
  return {
    workload: 'ci-job',
    os: { family: 'linux' },
    lifetimeSeconds: 180,
    instances: 400,
    trust: 'trusted',
    sensitivity: ['cpu'],
    ...overrides,
  };
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
 * What an agent's quick suite sends for one platform: the `instance` workload (start-up,
 * memory peak and overhead, density) and the throughput of each workload given, taken at
 * `takenAt`.
 */
export function platformResults(
  hostId: string,
  figures: PlatformFigures,
  takenAt = Date.now(),
  workloads: readonly (keyof typeof PROCESS_THROUGHPUT)[] = ['cpu-sha256', 'memory-copy'],
): ResultBatch[] {
  const batch = (workload: string, metrics: ResultMetric[]): ResultBatch => {
    resultCounter += 1;
    return {
      schemaVersion: 1,
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
    ...workloads.map((workload) =>
      batch(workload, [
        metric('throughput', 'op/s', PROCESS_THROUGHPUT[workload] * figures.ratios[workload]),
      ]),
    ),
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
    stop: () => {
      subscription.unsubscribe();
    },
  };
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
