import { Command } from 'commander';
import type { SettingName } from '../../lib/config.ts';
import { settingsOf, STORE_SETTINGS, withSettings } from '../options.ts';

export const INGEST_SETTINGS = [
  ...STORE_SETTINGS,
  'natsUrl',
  'streamReplicas',
  'batchSize',
  'batchWaitMs',
  'maxMessageBytes',
  'ackWaitMs',
  'encoderThreads',
  'metricsHost',
  'metricsPort',
  'logLevel',
] as const satisfies readonly SettingName[];

export function ingestCommand(): Command {
  const command = new Command('ingest').description(
    'consume results from JetStream (durable consumer shared by all workers) and store them in ClickHouse',
  );
  return withSettings(command, INGEST_SETTINGS).action(async () => {
    const { createLogger } = await import('../../lib/logger.ts');
    const config = settingsOf(command, INGEST_SETTINGS);
    const { runIngest } = await import('../../services/ingest/main.ts');
    await runIngest(config, createLogger('ingest', config.logLevel));
  });
}
