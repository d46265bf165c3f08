import { Command } from 'commander';
import {
  DISABLE_COMMANDS,
  ENABLE_COMMANDS,
  installAgentService,
  installedUnit,
  runCommands,
  systemdRunning,
  uninstallAgentService,
} from '../../agents/host-agent/service-install.ts';
import {
  AGENT_UNIT_NAME,
  DEFAULT_ENV_FILE,
  DEFAULT_UNIT_DIR,
  SERVICE_DATA_DIR,
} from '../../agents/host-agent/systemd-unit.ts';
import { checkoutPath } from '../../lib/checkout.ts';
import { loadConfig, SETTINGS, type SettingName } from '../../lib/config.ts';
import { withNatsSignIn, withSettings } from '../options.ts';

const CHECKOUT = checkoutPath();
const BERTH_BIN = checkoutPath('bin', 'berth.js');

interface WhereOptions {
  root: string;
  unitDir: string;
  systemctl: boolean;
}

function withWhere(command: Command): Command {
  return command
    .option(
      '--root <dir>',
      'the files are under this folder instead of / (systemctl is then not run)',
      '/',
    )
    .option('--unit-dir <dir>', 'folder of the unit file', DEFAULT_UNIT_DIR)
    .option('--no-systemctl', 'do not run systemctl; print what to run instead');
}

const shown = (commands: readonly (readonly string[])[]): string =>
  commands.map((words) => `  ${words.join(' ')}\n`).join('');

/**
 * Runs the systemctl commands where systemd manages this machine and they were not turned
 * off; otherwise prints them, with the reason.
 */
async function systemctl(
  options: WhereOptions,
  commands: readonly (readonly string[])[],
): Promise<void> {
  const why =
    options.root !== '/'
      ? `the files were written under ${options.root}, not /`
      : !options.systemctl
        ? '--no-systemctl was given'
        : !systemdRunning()
          ? 'systemd is not running on this machine (no /run/systemd/system)'
          : undefined;
  if (why === undefined) {
    await runCommands(commands);
    process.stdout.write(`ran:\n${shown(commands)}`);
    return;
  }
  process.stdout.write(`systemctl not run: ${why}. Where systemd runs, run:\n${shown(commands)}`);
}

/** `berth agent install`: the agent as a systemd service with the settings given. */
export function installCommand(settings: readonly SettingName[]): Command {
  const command = withWhere(
    new Command('install').description(
      `write a systemd unit for \`berth agent start\` and its environment file (mode 0600) with the settings given; the data folder defaults to ${SERVICE_DATA_DIR}`,
    ),
  ).option('--env-file <path>', 'the environment file', DEFAULT_ENV_FILE);
  return withSettings(command, settings).action(async () => {
    const options = command.opts<WhereOptions & { envFile: string }>();
    const dataDir = process.env[SETTINGS.dataDir.env];
    // The seed file the agent signs in to NATS with goes in the file too.
    const names = withNatsSignIn(settings);
    const config = loadConfig(names, command.opts(), {
      ...process.env,
      [SETTINGS.dataDir.env]: dataDir === undefined || dataDir === '' ? SERVICE_DATA_DIR : dataDir,
    });
    const variables = names.flatMap((name) => {
      const value = config[name];
      const defaultValue: unknown = SETTINGS[name].defaultValue;
      const emptyByDefault = Array.isArray(defaultValue) && defaultValue.length === 0;
      // Unset, or an empty list where that is the default: the agent's own default applies.
      if (value === undefined || (Array.isArray(value) && value.length === 0 && emptyByDefault)) {
        return [];
      }
      // An empty list where the default is not (no antagonists) is written as `none`.
      const text = Array.isArray(value) ? value.join(',') || 'none' : String(value);
      return [[SETTINGS[name].env, text] as const];
    });
    const written = await installAgentService({
      root: options.root,
      unitDir: options.unitDir,
      envFile: options.envFile,
      node: process.execPath,
      berth: BERTH_BIN,
      workingDirectory: CHECKOUT,
      variables,
    });
    process.stdout.write(`wrote:\n${shown(written.map((path) => [path]))}`);
    await systemctl(options, ENABLE_COMMANDS);
  });
}

/** `berth agent uninstall`: stops the service and removes exactly what install wrote. */
export function uninstallCommand(): Command {
  const command = withWhere(
    new Command('uninstall').description(
      'stop and disable the agent service, then remove the unit and the environment file install wrote',
    ),
  );
  return command.action(async () => {
    const options = command.opts<WhereOptions>();
    if ((await installedUnit(options)) === undefined) {
      process.stdout.write(`no ${AGENT_UNIT_NAME} installed there: nothing removed\n`);
      return;
    }
    await systemctl(options, DISABLE_COMMANDS.before);
    const removed = await uninstallAgentService(options);
    process.stdout.write(`removed:\n${shown(removed.map((path) => [path]))}`);
    await systemctl(options, DISABLE_COMMANDS.after);
  });
}
