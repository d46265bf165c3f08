import type { SettingName } from '../../lib/config.ts';

/**
 * What a command that asks the running advisor reads: where it listens, its token, the
 * certificate it serves HTTPS with, and the client certificate to present to it.
 */
export const ADVISOR_CLIENT_SETTINGS = [
  'advisorHost',
  'advisorPort',
  'advisorToken',
  'advisorTlsCert',
  'advisorClientCert',
  'advisorClientKey',
] as const satisfies readonly SettingName[];
