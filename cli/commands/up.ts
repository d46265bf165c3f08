import { Command } from 'commander';
import { createLogger } from '../../lib/logger.ts';
import { settingsOf, withSettings } from '../options.ts';
import { ADVISOR_SETTINGS } from './advisor.ts';
import { INGEST_SETTINGS } from './ingest.ts';

const UP_SETTINGS = [...new Set([...INGEST_SETTINGS, ...ADVISOR_SETTINGS])];

export function upCommand(): Command {
  const command = new Command('up').description(
    'run Berth on this machine: nats-server (unless --nats-url), the embedded store (unless --clickhouse-url), ingest and the advisor',
  );
  return withSettings(command, UP_SETTINGS).action(async () => {
    const config = settingsOf(command, UP_SETTINGS);
    const externalNats =
      command.opts()['natsUrl'] !== undefined || (process.env['NATS_URL'] ?? '') !== '';
    const { runUp } = await import('../../services/up/up.ts');
    await runUp(config, externalNats, createLogger('berth', config.logLevel));
  });
}
