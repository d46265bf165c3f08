import { Option, type Command } from 'commander';
import { loadConfig, SETTINGS, type Config, type SettingName } from '../lib/config.ts';
import { NATS_SIGN_IN_SETTINGS, useNatsSignIn } from '../lib/nats/sign-in.ts';

/** What every command that opens the store reads: the data folder and the ClickHouse settings. */
export const STORE_SETTINGS = [
  'dataDir',
  'clickhouseUrl',
  'clickhouseUser',
  'clickhousePassword',
  'clickhouseDatabase',
  'clickhouseCa',
] as const satisfies readonly SettingName[];

/**
 * A command that connects to NATS also takes the nkey seed file it signs in with and the TLS
 * files it checks the server with (and presents, for mutual TLS).
 */
export function withNatsSignIn(names: readonly SettingName[]): readonly SettingName[] {
  return names.includes('natsUrl')
    ? [...names, ...NATS_SIGN_IN_SETTINGS.filter((name) => !names.includes(name))]
    : names;
}

/**
 * Adds the named settings as options, each documenting its environment variable and default
 * (with natsUrl come the NATS sign-in settings).
 */
export function withSettings(command: Command, names: readonly SettingName[]): Command {
  for (const name of withNatsSignIn(names)) {
    const setting = SETTINGS[name];
    const shown =
      'defaultLabel' in setting
        ? setting.defaultLabel
        : setting.defaultValue === undefined
          ? undefined
          : String(setting.defaultValue);
    const option = new Option(
      setting.flag,
      `${setting.description} [env ${setting.env}${shown === undefined ? '' : `; default ${shown}`}]`,
    );
    command.addOption(option);
  }
  return command;
}

/**
 * The settings of a command, from its options, the environment and the defaults. A command
 * that connects to NATS signs every connection in with the nkey seed and TLS files it was given.
 */
export function settingsOf<K extends SettingName>(
  command: Command,
  names: readonly K[],
): Config<K> {
  const config = loadConfig(withNatsSignIn(names), command.opts());
  // withNatsSignIn read the sign-in settings along with natsUrl.
  if ('natsUrl' in config) useNatsSignIn(config);
  return config;
}
