import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  AGENT_UNIT_NAME,
  agentEnvFile,
  agentUnitFile,
  INSTALL_MARK,
  installedBy,
} from './systemd-unit.ts';

const execProgram = promisify(execFile);

export interface ServicePaths {
  /** Everything is written under this folder ('/' on a real host; a temporary one in tests). */
  readonly root: string;
  /** Folder of the unit file, as the running system sees it. */
  readonly unitDir: string;
  /** The environment file, as the running system sees it. */
  readonly envFile: string;
}

export interface ServiceInstall extends ServicePaths {
  readonly node: string;
  readonly berth: string;
  readonly workingDirectory: string;
  /** The agent's settings, as environment variables. */
  readonly variables: readonly (readonly [string, string])[];
}

/** A path of the running system, under the root being written. */
function onDisk(root: string, path: string): string {
  return join(root, resolve('/', path));
}

function unitPathOf(paths: Pick<ServicePaths, 'unitDir'>): string {
  return join(resolve('/', paths.unitDir), AGENT_UNIT_NAME);
}

async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Refuses to replace a file that `berth agent install` did not write. */
async function assertOurs(path: string): Promise<void> {
  const text = await readIfThere(path);
  if (text !== undefined && text.split('\n')[0] !== INSTALL_MARK) {
    throw new Error(`${path} exists and was not written by berth agent install; leaving it alone`);
  }
}

/**
 * Folders mkdir would make for path, outermost first (it makes none that exist).
 * Returned as the running system sees them.
 */
function missingDirs(root: string, path: string): string[] {
  const missing: string[] = [];
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(onDisk(root, dir))) break;
    missing.unshift(dir);
  }
  return missing;
}

/** Whether systemd manages this machine (what sd_booted() checks). */
export function systemdRunning(): boolean {
  return existsSync('/run/systemd/system');
}

/**
 * Removes an environment file install wrote and the folders it made for it, where nothing else
 * is left in them. Returns what was removed, as it is on disk.
 */
async function removeEnvFile(
  root: string,
  installed: { envFile: string; madeDirs: readonly string[] },
): Promise<string[]> {
  const removed: string[] = [];
  const envOnDisk = onDisk(root, installed.envFile);
  await assertOurs(envOnDisk);
  if ((await readIfThere(envOnDisk)) !== undefined) {
    await rm(envOnDisk);
    removed.push(envOnDisk);
  }
  for (const dir of [...installed.madeDirs].reverse()) {
    const dirOnDisk = onDisk(root, dir);
    try {
      await rmdir(dirOnDisk);
      removed.push(dirOnDisk);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    }
  }
  return removed;
}

/**
 * Writes the unit and its environment file (mode 0600). A reinstall replaces both and keeps
 * the folders the first install made on the list that uninstall removes; one with another
 * environment file removes the old one first.
 * Returns the files written, as they are on disk.
 */
export async function installAgentService(install: ServiceInstall): Promise<string[]> {
  const unitPath = unitPathOf(install);
  const envFile = resolve('/', install.envFile);
  const unitOnDisk = onDisk(install.root, unitPath);
  const envOnDisk = onDisk(install.root, envFile);
  await assertOurs(unitOnDisk);
  await assertOurs(envOnDisk);
  const before = installedBy((await readIfThere(unitOnDisk)) ?? '');
  if (before !== undefined && before.envFile !== envFile) {
    await removeEnvFile(install.root, before);
  }
  const madeDirs = [
    ...(before?.envFile === envFile ? before.madeDirs : []),
    ...missingDirs(install.root, envFile),
  ];
  await mkdir(dirname(envOnDisk), { recursive: true, mode: 0o755 });
  await writeFile(envOnDisk, agentEnvFile(install.variables), { mode: 0o600 });
  await chmod(envOnDisk, 0o600);
  await mkdir(dirname(unitOnDisk), { recursive: true, mode: 0o755 });
  await writeFile(
    unitOnDisk,
    agentUnitFile({
      node: install.node,
      berth: install.berth,
      workingDirectory: install.workingDirectory,
      envFile,
      madeDirs,
    }),
    { mode: 0o644 },
  );
  await chmod(unitOnDisk, 0o644);
  return [unitOnDisk, envOnDisk];
}

/**
 * The unit install wrote, on disk, with what it lists; undefined when there is none. Throws
 * when a unit of that name was written by someone else.
 */
export async function installedUnit(
  paths: Pick<ServicePaths, 'root' | 'unitDir'>,
): Promise<{ path: string; envFile: string; madeDirs: string[] } | undefined> {
  const path = onDisk(paths.root, unitPathOf(paths));
  const text = await readIfThere(path);
  if (text === undefined) return undefined;
  const installed = installedBy(text);
  if (installed === undefined) {
    throw new Error(`${path} was not written by berth agent install; leaving it alone`);
  }
  return { path, ...installed };
}

/**
 * Removes what install wrote, as its unit lists it: the environment file, the folders it made
 * (where nothing else is left in them) and the unit. Returns what was removed; empty when no
 * unit is installed.
 */
export async function uninstallAgentService(
  paths: Pick<ServicePaths, 'root' | 'unitDir'>,
): Promise<string[]> {
  const installed = await installedUnit(paths);
  if (installed === undefined) return [];
  const removed = await removeEnvFile(paths.root, installed);
  await rm(installed.path);
  removed.push(installed.path);
  return removed;
}

/** The systemctl commands that put the installed unit to work. */
export const ENABLE_COMMANDS: readonly (readonly string[])[] = [
  ['systemctl', 'daemon-reload'],
  ['systemctl', 'enable', '--now', AGENT_UNIT_NAME],
];

/** The systemctl commands to run before the unit is removed, and after. */
export const DISABLE_COMMANDS = {
  before: [['systemctl', 'disable', '--now', AGENT_UNIT_NAME]],
  after: [['systemctl', 'daemon-reload']],
} as const satisfies Record<string, readonly (readonly string[])[]>;

/** Runs commands one after another; a failing one stops the rest with its own message. */
export async function runCommands(commands: readonly (readonly string[])[]): Promise<void> {
  for (const [program, ...args] of commands) {
    if (program === undefined) continue;
    try {
      await execProgram(program, args, { timeout: 120_000 });
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim();
      throw new Error(
        `${[program, ...args].join(' ')} failed: ${stderr === undefined || stderr === '' ? String(error) : stderr}`,
        { cause: error },
      );
    }
  }
}
