import { join } from 'node:path';
import {
  BerthError,
  describeError,
  isBerthError,
  jobProgressCodec,
  jobRequestCodec,
  jobsSubject,
} from '../../contracts/index.ts';
import { settingLabel, type Config } from '../../lib/config.ts';
import type { Logger } from '../../lib/logger.ts';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats } from '../../lib/nats/connect.ts';
import { startNatsServer } from '../../lib/servers/nats-server.ts';
import { shutDown, untilSignal, type ShutdownStep } from '../../lib/shutdown.ts';
import { openStore } from '../../lib/storage/open-store.ts';
import { startAdvisorService, type AdvisorConfig } from '../advisor/main.ts';
import { startIngestService, type IngestConfig } from '../ingest/main.ts';
import { startLocalAgent, type LocalAgentConfig } from './agent.ts';
import { showAgentProgress, terminalOn, type Terminal } from './progress.ts';

export type UpConfig = IngestConfig &
  AdvisorConfig &
  Omit<LocalAgentConfig, 'natsUrl'> &
  Config<'agent' | 'agentSuite' | 'agentPlatforms' | 'agentWorkloads'>;

/**
 * `berth up`: everything on one machine in one process tree. nats-server runs as a child
 * (unless a NATS URL is given), the store is embedded chDB (unless a ClickHouse URL is
 * given), ingest and the advisor run in this process beside it (the embedded store admits
 * one process), and the local agent runs as a child that starts its first suite in the
 * background. Stops in the reverse order on SIGINT/SIGTERM.
 */
export async function runUp(
  config: UpConfig,
  externalNats: boolean,
  logger: Logger,
): Promise<void> {
  const terminal = terminalOn(process.stdout);
  const say = terminal.print;
  const steps: ShutdownStep[] = [];
  const stopAll = (): Promise<boolean> => shutDown([...steps].reverse(), logger);
  const stopped = untilSignal(logger);
  try {
    // The store first: the embedded one admits one process, so a second `berth up` on the
    // same data folder stops here, before it starts a nats-server on the same JetStream files.
    say('opening the store …');
    const store = await openStore(config).catch((error: unknown) => {
      throw oneLine(error, 'the store could not be opened');
    });
    steps.push({ name: 'store', run: () => store.close() });
    say(`store: ${store.backend} at ${store.location} (database ${store.database})`);
    let natsUrl = config.natsUrl;
    if (!externalNats) {
      say('starting nats-server …');
      const server = await startNatsServer({ dataDir: join(config.dataDir, 'nats') }).catch(
        (error: unknown) => {
          throw oneLine(error, `nats-server could not start (data in ${config.dataDir}/nats)`);
        },
      );
      // Stopped last, after the store: the connection drained before, nothing needs it.
      steps.unshift({ name: 'nats-server', run: () => server.stop() });
      natsUrl = server.url;
    }
    say(
      `NATS: ${natsUrl}${externalNats ? '' : ' (started by berth, data in ' + join(config.dataDir, 'nats') + ')'}`,
    );
    const nc = await connectNats({ url: natsUrl, name: 'berth-up' });
    steps.push({ name: 'nats connection', run: () => nc.drain() });
    const ingest = await startIngestService(nc, store, config, logger);
    steps.push({ name: 'ingest', run: () => ingest.stop() });
    say(`ingest: consuming berth.results.*; metrics at ${ingest.metricsUrl}`);
    const advisor = await startAdvisorService(nc, store, { ...config, natsUrl }, logger).catch(
      (error: unknown) => {
        throw advisorPortTaken(error) ?? error;
      },
    );
    steps.push({ name: 'advisor', run: () => advisor.stop() });
    say(`advisor: ${advisor.url} (API /v1, WebSocket /v1/ws)`);
    say(`dashboard ready: ${advisor.url}/`);
    if (config.agent) {
      steps.push(startAgent(config, natsUrl, nc, logger, terminal));
    } else {
      say('local agent: off (--no-agent)');
    }
    say('Berth is up. Press Ctrl-C to stop.');
  } catch (error) {
    await stopAll();
    throw error;
  }
  await stopped;
  say('stopping …');
  const clean = await stopAll();
  say(clean ? 'stopped cleanly' : 'stopped, with errors (see the log)');
  if (!clean) process.exitCode = 1;
}

/**
 * Starts the local agent in the background and, once it is ready, shows its progress and
 * asks it for the first suite. An agent that cannot start is reported and `berth up` goes on
 * without it: the stack still serves the fleet's results. The step stops the agent.
 */
function startAgent(
  config: UpConfig,
  natsUrl: string,
  nc: NatsConnection,
  logger: Logger,
  terminal: Terminal,
): ShutdownStep {
  terminal.print('local agent: starting (it checks which platforms this host can run) …');
  const agent = startLocalAgent({ ...config, natsUrl }, logger, terminal.print);
  let stopping = false;
  const firstSuite = async (hostId: string): Promise<void> => {
    // An agent told to stop while it started says it is ready, then stops.
    if (stopping) return;
    showAgentProgress(nc, hostId, terminal);
    terminal.print(`local agent: host ${hostId}, jobs on ${jobsSubject(hostId)}`);
    if (config.agentSuite === 'none') return;
    const reply = await nc.request(
      jobsSubject(hostId),
      jobRequestCodec.encode({
        schemaVersion: 1,
        id: `up-${Date.now().toString(36)}`,
        hostId,
        requestedAt: Date.now(),
        requestedBy: 'berth up',
        suite: config.agentSuite,
        ...(config.agentPlatforms.length === 0 ? {} : { platforms: [...config.agentPlatforms] }),
        ...(config.agentWorkloads.length === 0 ? {} : { workloads: [...config.agentWorkloads] }),
        reason: 'the first suite of berth up',
      }),
      { timeout: 10_000 },
    );
    const answer = jobProgressCodec.decode(reply.data, 1 << 20);
    if (answer.ok && answer.value.state === 'rejected') {
      terminal.print(
        `local agent: the first suite was refused: ${answer.value.error?.message ?? ''} (settings ${settingLabel('agentPlatforms')}, ${settingLabel('agentWorkloads')})`,
      );
    }
  };
  const started = agent.ready.then(
    (hostId) => (hostId === undefined ? undefined : firstSuite(hostId)),
    (error: unknown) => {
      terminal.print(`local agent: could not start: ${describeError(error)}`);
    },
  );
  const noted = started.catch((error: unknown) => {
    terminal.print(`local agent: the first suite was not started: ${describeError(error)}`);
  });
  return {
    name: 'local agent',
    run: async () => {
      stopping = true;
      await agent.stop();
      await noted;
    },
  };
}

/**
 * The error as one line: what failed and why. A server's message carries its last output
 * after it; the last fatal or error line of that output says why. The code is kept.
 */
function oneLine(error: unknown, what: string): BerthError {
  const lines = describeError(error)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const head = (lines[0] ?? '').replace(/;? last output:$/, '');
  const logged = [...lines]
    .reverse()
    .map((line) => /\[(?:FTL|ERR)\] (.*)$/.exec(line)?.[1])
    .find((reason) => reason !== undefined);
  return new BerthError(
    isBerthError(error) ? error.code : 'BERTH_ERR_SERVER_START',
    `${what}: ${logged === undefined ? head : `${logged} (${head})`}`,
  );
}

/** A clear error when the advisor's address is taken, naming the setting to change. */
function advisorPortTaken(error: unknown): BerthError | undefined {
  let cause: unknown = error;
  while (cause instanceof Error && (cause as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
    cause = cause.cause;
  }
  if (!(cause instanceof Error)) return undefined;
  const { address, port } = cause as NodeJS.ErrnoException & { address?: string; port?: number };
  return new BerthError(
    'BERTH_ERR_CONFIG',
    `the advisor cannot listen on ${address ?? '?'}:${port ?? '?'}: another process uses that port (another berth up?); stop it, or choose another port with ${settingLabel('advisorPort')}`,
  );
}
