/**
 * The systemd unit of `berth agent start` and its environment file, as text: what
 * `berth agent install` writes and `berth agent uninstall` reads back. Pure: no file is
 * touched here.
 */

export const AGENT_UNIT_NAME = 'berth-agent.service';
export const DEFAULT_UNIT_DIR = '/etc/systemd/system';
export const DEFAULT_ENV_FILE = '/etc/berth/agent.env';
/** The agent's data folder as a service, unless BERTH_DATA_DIR or --data-dir says otherwise. */
export const SERVICE_DATA_DIR = '/var/lib/berth';
/**
 * How long systemd waits after SIGTERM before it kills what is left: the agent ends its suite,
 * tears down every instance it holds (up to 256 side by side in a full density step, VMs among
 * them) and sends what is journaled (10 s at most) before it exits.
 */
export const STOP_TIMEOUT_S = 120;

/** First line of every file install writes; uninstall removes no file without it. */
export const INSTALL_MARK =
  '# Written by `berth agent install`; `berth agent uninstall` removes it.';
const FILE_LINE = '# berth-install-file: ';
const DIR_LINE = '# berth-install-dir: ';

export interface AgentUnit {
  /** The node binary that runs Berth. */
  readonly node: string;
  /** This checkout's bin/berth.js. */
  readonly berth: string;
  /** The checkout: the folder whose node_modules Berth loads. */
  readonly workingDirectory: string;
  /** The environment file, as the running system sees it. */
  readonly envFile: string;
  /** Folders install made for the environment file, removed again by uninstall. */
  readonly madeDirs: readonly string[];
}

function refuseNewline(what: string, value: string): string {
  if (/[\n\r\0]/.test(value))
    throw new Error(`${what} must be one line, got ${JSON.stringify(value)}`);
  return value;
}

/** A path in a unit setting that takes no quotes: `%` starts a specifier, so it is doubled. */
function unitPath(path: string): string {
  return refuseNewline('a path in the unit', path).replaceAll('%', '%%');
}

/** One word of ExecStart=: double-quoted, with `\`, `"`, `%` and `$` escaped. */
function execWord(word: string): string {
  const escaped = refuseNewline('a word of ExecStart', word)
    .replace(/["\\]/g, '\\$&')
    .replaceAll('%', '%%')
    .replaceAll('$', '$$$$');
  return `"${escaped}"`;
}

/** The unit file of the agent. */
export function agentUnitFile(unit: AgentUnit): string {
  return [
    INSTALL_MARK,
    `${FILE_LINE}${unitPath(unit.envFile)}`,
    ...unit.madeDirs.map((dir) => `${DIR_LINE}${unitPath(dir)}`),
    '[Unit]',
    "Description=Berth host agent: measures this host's platforms and publishes the results over NATS",
    `Documentation=${unitPath(`file://${encodeURI(unit.workingDirectory)}/docs/deploy.md`)}`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=exec',
    `EnvironmentFile=${unitPath(unit.envFile)}`,
    `WorkingDirectory=${unitPath(unit.workingDirectory)}`,
    `ExecStart=${[unit.node, unit.berth].map(execWord).join(' ')} agent start`,
    'Restart=on-failure',
    'RestartSec=5',
    '# SIGTERM goes to the agent alone, which stops its instances in order; whatever is left',
    '# after TimeoutStopSec is killed, and the next start removes what that leaves behind.',
    'KillMode=mixed',
    `TimeoutStopSec=${STOP_TIMEOUT_S}`,
    '# A density step holds up to 256 instances, each with its pipes open.',
    'LimitNOFILE=65536',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** One value of an environment file, double-quoted: `\`, `"`, `$` and `` ` `` escaped. */
function envValue(value: string): string {
  return `"${refuseNewline('a setting', value).replace(/[\\"$`]/g, '\\$&')}"`;
}

/** The environment file: one `NAME="value"` line per setting, in the order given. */
export function agentEnvFile(variables: readonly (readonly [string, string])[]): string {
  return [
    INSTALL_MARK,
    '# Settings of berth-agent.service (docs/configuration.md). Mode 0600: NATS_URL may hold',
    '# credentials.',
    ...variables.map(([name, value]) => {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`not a variable name: ${name}`);
      return `${name}=${envValue(value)}`;
    }),
    '',
  ].join('\n');
}

/** What a unit install wrote says it also wrote: its environment file and the folders made. */
export function installedBy(unitText: string): { envFile: string; madeDirs: string[] } | undefined {
  const lines = unitText.split('\n');
  if (lines[0] !== INSTALL_MARK) return undefined;
  const listed = (prefix: string): string[] =>
    lines
      .filter((line) => line.startsWith(prefix))
      .map((line) => line.slice(prefix.length).replaceAll('%%', '%'));
  const [envFile] = listed(FILE_LINE);
  if (envFile === undefined) return undefined;
  return { envFile, madeDirs: listed(DIR_LINE) };
}
