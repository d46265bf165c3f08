import { Command } from 'commander';
import type { SettingName } from '../../lib/config.ts';
import { settingsOf, STORE_SETTINGS, withSettings } from '../options.ts';

export const ADVISOR_SETTINGS = [
  ...STORE_SETTINGS,
  'natsUrl',
  'advisorHost',
  'advisorPort',
  'engineThreads',
  'advisorToken',
  'advisorTlsCert',
  'advisorTlsKey',
  'advisorTlsClientCa',
  'logLevel',
] as const satisfies readonly SettingName[];

export function advisorCommand(): Command {
  const command = new Command('advisor').description(
    'serve the advisor: POST /v1/advice, GET /v1/advice/:id, /v1/hosts, /v1/results, WebSocket /v1/ws (docs/advisor-api.md)',
  );
  return withSettings(command, ADVISOR_SETTINGS).action(async () => {
    const { createLogger } = await import('../../lib/logger.ts');
    const config = settingsOf(command, ADVISOR_SETTINGS);
    const { runAdvisor } = await import('../../services/advisor/main.ts');
    await runAdvisor(config, createLogger('advisor', config.logLevel));
  });
}
