import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Config } from '../../lib/config.ts';
import type { Logger } from '../../lib/logger.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { readDeadLetters } from '../../lib/nats/dead-letters.ts';
import { ensureStreams } from '../../lib/nats/streams.ts';
import { shutDown, untilSignal, type ShutdownStep } from '../../lib/shutdown.ts';
import { openStore, type StoreConfig } from '../../lib/storage/open-store.ts';
import type { Store } from '../../lib/storage/store.ts';
import { createAdvisor } from './advisor.ts';
import { createEnginePool, createThreadEngine } from './engine-pool.ts';
import { createPressure } from './load-shedding.ts';
import type { AdvisorAppDeps } from './app.ts';
import { openAuditLog } from './audit-log.ts';
import { openEvidenceCache } from './evidence-cache.ts';
import { watchFleet } from './fleet.ts';
import { loadResultValues } from './result-values.ts';
import { createAdvisorServer } from './server.ts';
import { loadAdvisorTls, type TlsConfig } from './tls.ts';

export type AdvisorConfig = StoreConfig &
  TlsConfig &
  Config<'natsUrl' | 'advisorHost' | 'advisorPort' | 'advisorToken' | 'engineThreads'>;

export interface AdvisorService {
  /** http(s)://host:port of the API, the WebSocket and the dashboard. */
  readonly url: string;
  /** Stops the server, the subscriptions and writes the audit log's last answers. */
  stop(): Promise<void>;
}

/**
 * What the advisor's API reads afresh on each request: the values behind the evidence from
 * the store, and the dead letters from NATS.
 */
export function advisorReads(
  store: Store,
  nc: NatsConnection,
): Pick<AdvisorAppDeps, 'resultValues' | 'deadLetters'> {
  return {
    resultValues: (filter) => loadResultValues(store, filter),
    deadLetters: (limit) => readDeadLetters(nc, limit),
  };
}

/**
 * Starts the advisor on an open NATS connection and store: the evidence held in memory, the
 * fleet from the inventory stream, the audit log, and the HTTP/WebSocket server. Each part
 * started is stopped again if a later one fails.
 */
export async function startAdvisorService(
  nc: NatsConnection,
  store: Store,
  config: AdvisorConfig,
  logger: Logger,
): Promise<AdvisorService> {
  const steps: ShutdownStep[] = [];
  const stop = async (): Promise<void> => {
    await shutDown([...steps].reverse(), logger);
  };
  try {
    // Read first: a missing certificate stops the service before it opens anything.
    const tls = await loadAdvisorTls(config);
    await ensureStreams(await jetstreamManager(nc));
    const evidence = await openEvidenceCache(store, nc, logger);
    steps.push({ name: 'evidence', run: () => evidence.stop() });
    const fleet = await watchFleet(nc, logger);
    steps.push({ name: 'fleet', run: () => fleet.stop() });
    const audit = openAuditLog(store, logger);
    steps.push({ name: 'audit log', run: () => audit.stop() });
    const engine =
      config.engineThreads === 0
        ? createThreadEngine()
        : createEnginePool(config.engineThreads, logger);
    steps.push({ name: 'engine threads', run: () => engine.close() });
    const pressure = createPressure(undefined, () => engine.backlogMs());
    steps.push({
      name: 'load shedding',
      run: () => {
        pressure.close();
        return Promise.resolve();
      },
    });
    const advisor = createAdvisor({ nc, evidence, fleet, audit, engine, logger });
    const server = await createAdvisorServer({
      advisor,
      pressure,
      evidence,
      fleet,
      ...advisorReads(store, nc),
      logger,
      host: config.advisorHost,
      port: config.advisorPort,
      ...(config.advisorToken === undefined ? {} : { token: config.advisorToken }),
      ...(tls === undefined ? {} : { tls }),
      health: () => {
        const problems: string[] = [];
        if (nc.isClosed()) problems.push('the NATS connection is closed');
        const evidenceProblem = evidence.problem();
        if (evidenceProblem !== undefined) problems.push(evidenceProblem);
        if (audit.pending() > 10_000) problems.push(`${audit.pending()} answers not yet logged`);
        return { healthy: problems.length === 0, problems };
      },
    });
    steps.push({ name: 'advisor server', run: () => server.close() });
    return { url: server.address(), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `berth advisor`: the advisor as a process of its own, until SIGINT/SIGTERM. */
export async function runAdvisor(config: AdvisorConfig, logger: Logger): Promise<void> {
  const steps: ShutdownStep[] = [];
  try {
    const store = await openStore(config);
    steps.push({ name: 'store', run: () => store.close() });
    const nc = await connectNats({ url: config.natsUrl, name: 'berth-advisor' });
    steps.push({ name: 'nats connection', run: () => nc.drain() });
    const service = await startAdvisorService(nc, store, config, logger);
    steps.push({ name: 'advisor', run: () => service.stop() });
    process.stdout.write(
      `advisor ready at ${service.url} (dashboard /, API /v1, WebSocket /v1/ws)\n`,
    );
  } catch (error) {
    await shutDown([...steps].reverse(), logger);
    throw error;
  }
  await untilSignal(logger);
  const clean = await shutDown([...steps].reverse(), logger);
  if (!clean) process.exitCode = 1;
}
