import { Command } from 'commander';
import type { SettingName } from '../../lib/config.ts';
import { settingsOf, withSettings } from '../options.ts';
import { ADVISOR_SETTINGS } from './advisor.ts';
import { INGEST_SETTINGS } from './ingest.ts';

const UP_SETTINGS = [
  ...new Set([
    ...INGEST_SETTINGS,
    ...ADVISOR_SETTINGS,
    'agent',
    'agentSuite',
    'agentPlatforms',
    'agentWorkloads',
    'natsNkeyFile',
    'natsCa',
    'natsCert',
    'natsKey',
    'libvirtUri',
    'containersPerVm',
    'dockerEngine',
    'libvirtDaemon',
  ] as const satisfies readonly SettingName[]),
];

export function upCommand(): Command {
  const command = new Command('up').description(
    'run Berth on this machine: nats-server (unless --nats-url), the embedded store (unless --clickhouse-url), ingest, the advisor and its dashboard, and a local agent that runs the quick suite in the background; prints "dashboard ready: <url>" once the advisor listens, and stops everything in order on Ctrl-C',
  );
  return withSettings(command, UP_SETTINGS).action(async () => {
    const { createLogger } = await import('../../lib/logger.ts');
    const config = settingsOf(command, UP_SETTINGS);
    const externalNats =
      command.opts()['natsUrl'] !== undefined || (process.env['NATS_URL'] ?? '') !== '';
    const { runUp } = await import('../../services/up/up.ts');
    await runUp(config, externalNats, createLogger('berth', config.logLevel));
  });
}
