import { Option, type Command } from 'commander';
import { loadConfig, SETTINGS, type Config, type SettingName } from '../lib/config.ts';

/** What every command that opens the store reads: the data folder and the ClickHouse settings. */
export const STORE_SETTINGS = [
  'dataDir',
  'clickhouseUrl',
  'clickhouseUser',
  'clickhousePassword',
  'clickhouseDatabase',
] as const satisfies readonly SettingName[];

/** Adds the named settings as options, each documenting its environment variable and default. */
export function withSettings(command: Command, names: readonly SettingName[]): Command {
  for (const name of names) {
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

/** The settings of a command, from its options, the environment and the defaults. */
export function settingsOf<K extends SettingName>(
  command: Command,
  names: readonly K[],
): Config<K> {
  return loadConfig(names, command.opts());
}
