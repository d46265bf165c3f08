import { join } from 'node:path';
import type { Config } from '../../lib/config.ts';
import type { Logger } from '../../lib/logger.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import { startNatsServer } from '../../lib/servers/nats-server.ts';
import { shutDown, untilSignal, type ShutdownStep } from '../../lib/shutdown.ts';
import { openStore } from '../../lib/storage/open-store.ts';
import { startAdvisorService, type AdvisorConfig } from '../advisor/main.ts';
import { startIngestService, type IngestConfig } from '../ingest/main.ts';

export type UpConfig = IngestConfig & AdvisorConfig & Config<'natsUrl'>;

/**
 * `berth up`: everything on one machine in one process tree. nats-server runs as a child
 * (unless a NATS URL is given), the store is embedded chDB (unless a ClickHouse URL is
 * given), and ingest and the advisor run in this process beside it (the embedded store
 * admits one process).
 */
export async function runUp(
  config: UpConfig,
  externalNats: boolean,
  logger: Logger,
): Promise<void> {
  const steps: ShutdownStep[] = [];
  const stopAll = (): Promise<boolean> => shutDown([...steps].reverse(), logger);
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  try {
    let natsUrl = config.natsUrl;
    if (!externalNats) {
      say('starting nats-server …');
      const server = await startNatsServer({ dataDir: join(config.dataDir, 'nats') });
      steps.push({ name: 'nats-server', run: () => server.stop() });
      natsUrl = server.url;
    }
    say(
      `NATS: ${natsUrl}${externalNats ? '' : ' (started by berth, data in ' + join(config.dataDir, 'nats') + ')'}`,
    );
    say('opening the store …');
    const store = await openStore(config);
    steps.push({ name: 'store', run: () => store.close() });
    say(`store: ${store.backend} at ${store.location} (database ${store.database})`);
    const nc = await connectNats({ url: natsUrl, name: 'berth-up' });
    steps.push({ name: 'nats connection', run: () => nc.drain() });
    const ingest = await startIngestService(nc, store, config, logger);
    steps.push({ name: 'ingest', run: () => ingest.stop() });
    say(`ingest: consuming berth.results.*; metrics at ${ingest.metricsUrl}`);
    const advisor = await startAdvisorService(nc, store, { ...config, natsUrl }, logger);
    steps.push({ name: 'advisor', run: () => advisor.stop() });
    say(`advisor: ${advisor.url} (API /v1, WebSocket /v1/ws)`);
    say('Berth is up. Press Ctrl-C to stop.');
  } catch (error) {
    await stopAll();
    throw error;
  }
  await untilSignal(logger);
  say('stopping …');
  const clean = await stopAll();
  say(clean ? 'stopped cleanly' : 'stopped, with errors (see the log)');
  if (!clean) process.exitCode = 1;
}
