import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  CGROUP_MEMORY_MEASURE,
  cgroupVersion,
  readPeakMemoryOfProcess,
  removeCgroupTree,
} from '../cgroups.ts';
import { endRunner, RUNNER_ENV, spawnRunner } from './child-instance.ts';
import { writeRootfs } from './container-oci.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';

const execProgram = promisify(execFile);

const CGROUP_ROOT = '/sys/fs/cgroup';

/** How long the trial container of availability() may take. */
const TRIAL_TIMEOUT_MS = 10_000;

/**
 * LXC sets `container=lxc` in the container's environment itself, and no setting turns it off:
 * the runner is started through env, which takes it out again, so it gets RUNNER_ENV only.
 */
export const ENV_PROGRAM = '/usr/bin/env';

export interface LxcConfigOptions {
  /** The folder of mount points that is the container's read-only root. */
  readonly rootfs: string;
  /** The runner's folder, bound read-only at the same path. */
  readonly runnerDir: string;
  /** The host folder bound writable at /scratch. */
  readonly scratchDir: string;
}

/** A config value on one line: LXC's config has no way to continue one over lines. */
function configValue(value: string): string {
  if (/[\n\r]/.test(value)) {
    throw new Error(`an LXC config value cannot hold a line break: ${value}`);
  }
  return value;
}

/** A path as a field of an fstab line (lxc.mount.entry): blanks and backslashes escaped. */
export function fstabField(path: string): string {
  return configValue(path).replace(
    /[\\ \t]/g,
    (char) => `\\${char.charCodeAt(0).toString(8).padStart(3, '0')}`,
  );
}

/**
 * The LXC config of container name, like the OCI bundle: a rootfs of mount points mounted
 * read-only; the host's /usr and /etc and the runner's folder bound read-only (plain binds,
 * not recursive: LXC mounts the rootfs under /usr/lib/<arch>/lxc/rootfs first, and a
 * recursive bind of /usr would bring it inside again); /scratch on the host's disk; /tmp a
 * tmpfs, mounted first, since the runner's folder may be under /tmp and is then bound on a
 * mount point made in the tmpfs; LXC's own /dev, /proc and a read-only /sys; no network but
 * loopback (an empty network whose flags bring lo up, for net-loopback); no console or
 * ttys; the environment RUNNER_ENV. Its own pid, mount, uts, ipc and network namespaces.
 * LXC makes cgroups lxc.payload.<name> and lxc.monitor.<name> where the host's init is,
 * and, here, the pivot its monitor leaves its cgroup through at lxc.pivot.<name> (LXC's
 * default, lxc.pivot, is shared by every container and outlives them).
 */
export function lxcConfig(name: string, options: LxcConfigOptions): string {
  const runnerDir = fstabField(options.runnerDir);
  const lines = [
    '# Written by Berth for one instance; lxc-execute -f reads it.',
    'lxc.uts.name = berth',
    `lxc.rootfs.path = dir:${configValue(options.rootfs)}`,
    'lxc.rootfs.options = ro',
    'lxc.autodev = 1',
    'lxc.mount.auto = proc:mixed sys:ro',
    'lxc.mount.entry = tmpfs tmp tmpfs nosuid,nodev,size=262144k 0 0',
    'lxc.mount.entry = /usr usr none bind,ro 0 0',
    'lxc.mount.entry = /etc etc none bind,ro 0 0',
    `lxc.mount.entry = ${runnerDir} ${runnerDir.slice(1)} none bind,ro,create=dir 0 0`,
    `lxc.mount.entry = ${fstabField(options.scratchDir)} scratch none bind,rw 0 0`,
    'lxc.net.0.type = empty',
    'lxc.net.0.flags = up',
    'lxc.console.path = none',
    'lxc.tty.max = 0',
    `lxc.cgroup.dir.monitor.pivot = lxc.pivot.${configValue(name)}`,
    ...Object.entries(RUNNER_ENV).map(
      ([variable, value]) => `lxc.environment = ${configValue(`${variable}=${value}`)}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * A fresh folder `<lxcPath>/<name>` for container name: its config file `config`, its
 * rootfs of mount points and its scratch folder. Returns the config file's path. Exported
 * for the drivers bench, whose `lxc-execute` by hand runs the same bundle.
 */
export async function prepareBundle(
  lxcPath: string,
  name: string,
  runnerDir: string,
): Promise<string> {
  const bundleDir = join(lxcPath, name);
  await rm(bundleDir, { recursive: true, force: true });
  const rootfs = join(bundleDir, 'rootfs');
  const scratchDir = join(bundleDir, 'scratch');
  await mkdir(scratchDir, { recursive: true });
  await writeRootfs(rootfs, runnerDir);
  const config = join(bundleDir, 'config');
  await writeFile(config, lxcConfig(name, { rootfs, runnerDir, scratchDir }));
  return config;
}

/**
 * The folders LXC makes cgroups of a container in: in every hierarchy (each folder under
 * the cgroup root, and the root itself where it is the unified one), the cgroup of the
 * host's init (as LXC run by root puts them, less a systemd /init.scope) and the root.
 */
async function lxcCgroupParents(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const hierarchies = [
    root,
    ...entries.filter((entry) => entry.isDirectory()).map((entry) => join(root, entry.name)),
  ];
  const initCgroups = await readFile('/proc/1/cgroup', 'utf8').catch(() => '');
  const bases = new Set(['/']);
  for (const line of initCgroups.split('\n')) {
    const path = /^\d+:[^:]*:(.+)$/.exec(line)?.[1];
    if (path !== undefined) bases.add(path.replace(/\/init\.scope$/, '') || '/');
  }
  const parents = hierarchies.flatMap((hierarchy) =>
    [...bases].map((base) => join(hierarchy, base)),
  );
  return [...new Set(parents)].filter((parent) => existsSync(parent));
}

/** Whether a cgroup folder's name is one LXC makes for container name. */
function isLxcCgroupOf(folder: string, name: string): boolean {
  return ['payload', 'monitor', 'pivot'].some((kind) => folder === `lxc.${kind}.${name}`);
}

/**
 * Removes every cgroup LXC made for container name and left (its payload's, its monitor's
 * and its monitor's pivot), in every hierarchy. Returns how many there were.
 */
async function removeLxcCgroups(name: string): Promise<number> {
  let removed = 0;
  for (const parent of await lxcCgroupParents(CGROUP_ROOT)) {
    const entries = await readdir(parent, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory() || !isLxcCgroupOf(entry.name, name)) continue;
      await removeCgroupTree(join(parent, entry.name));
      removed += 1;
    }
  }
  return removed;
}

/** SIGKILLs container name's init where it still runs: whether it did. */
function killContainer(name: string, lxcPath: string): Promise<boolean> {
  return execProgram('lxc-stop', ['-k', '-n', name, '-P', lxcPath]).then(
    () => true,
    () => false,
  );
}

/**
 * Stops container name where it still runs, removes its cgroups and its folder. Exported for
 * the drivers bench, whose `lxc-execute` by hand is removed the same way.
 */
export async function removeContainer(name: string, lxcPath: string): Promise<void> {
  await killContainer(name, lxcPath);
  await removeLxcCgroups(name);
  await rm(join(lxcPath, name), { recursive: true, force: true });
}

/**
 * Runs `true` in a container like an instance's, in a temporary lxcpath (the bundles folder
 * holds instances only): LXC's error, or undefined when it ran.
 */
async function trialRunError(runnerDir: string): Promise<string | undefined> {
  const lxcPath = await mkdtemp(join(tmpdir(), 'berth-trial-lxc-'));
  const name = basename(lxcPath);
  try {
    const config = await prepareBundle(lxcPath, name, runnerDir);
    await execProgram(
      'lxc-execute',
      ['-n', name, '-P', lxcPath, '-f', config, '--', '/usr/bin/true'],
      { timeout: TRIAL_TIMEOUT_MS },
    );
    return undefined;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? '';
    return stderr === '' ? (error as Error).message : stderr;
  } finally {
    await removeContainer(name, lxcPath);
    await rm(lxcPath, { recursive: true, force: true });
  }
}

/** The installed LXC's version, from `lxc-execute --version`; rejects where it is missing. */
async function lxcVersion(): Promise<string> {
  const { stdout } = await execProgram('lxc-execute', ['--version']);
  return stdout.trim();
}

/**
 * The container platform through LXC: `lxc-execute` runs the runner under LXC's own init
 * (pid 1 of the container) in a container made from a config Berth writes, with lxcpath
 * the bundles folder, so LXC keeps nothing of it elsewhere. Memory is the peak of the
 * container's cgroup, found from its init's pid.
 */
export function createLxcDriver(runnerPath: string, bundlesDir: string): PlatformDriver {
  const runnerDir = dirname(runnerPath);
  let version: Promise<string> | undefined;
  const knownVersion = (): Promise<string> => {
    version ??= lxcVersion();
    version.catch(() => (version = undefined));
    return version;
  };
  return {
    platform: 'container',
    passesInput: true,
    runtime: 'lxc',
    availability: async (): Promise<Availability> => {
      let installed: string;
      try {
        installed = await knownVersion();
      } catch {
        return { available: false, reason: 'lxc is not installed (apt-get install lxc)' };
      }
      if (process.getuid?.() !== 0) {
        return {
          available: false,
          version: installed,
          reason: 'lxc needs root here (unprivileged containers are not set up)',
        };
      }
      const trialError = await trialRunError(runnerDir);
      if (trialError !== undefined) {
        return {
          available: false,
          version: installed,
          reason: `lxc cannot start a container here: ${trialError}`,
        };
      }
      return { available: true, version: installed, accel: 'none' };
    },
    start: async (options: InstanceOptions): Promise<Instance> => {
      const installed = await knownVersion();
      const config = await prepareBundle(bundlesDir, options.id, runnerDir);
      const runner = spawnRunner('lxc-execute', [
        '-n',
        options.id,
        '-P',
        bundlesDir,
        '-f',
        config,
        '--',
        ENV_PROGRAM,
        '-u',
        'container',
        process.execPath,
        runnerPath,
        '--scratch',
        '/scratch',
        ...options.runnerArgs,
      ]);
      let pid: number | undefined;
      return {
        launchedAt: runner.launchedAt,
        runners: 1,
        lines: runner.lines,
        go: () => {
          runner.go(1);
        },
        settings: {
          cgroup: cgroupVersion(),
          rootfs: 'mount points, read-only; host /usr and /etc, read-only bind mounts',
          network: 'none, loopback only',
          memoryMeasure: `${CGROUP_MEMORY_MEASURE}; the container's cgroup, found from its init's pid (lxc-info)`,
          lxc: installed,
          init: "lxc-execute's built-in init as pid 1",
        },
        peakMemoryBytes: async () => {
          pid ??= await execProgram('lxc-info', [
            '-n',
            options.id,
            '-P',
            bundlesDir,
            '-p',
            '-H',
          ]).then(
            ({ stdout }) => Number(stdout.trim()) || undefined,
            () => undefined,
          );
          return pid === undefined ? undefined : readPeakMemoryOfProcess(pid);
        },
        stop: async () => {
          await endRunner(runner);
          await removeContainer(options.id, bundlesDir);
        },
      };
    },
  };
}

/**
 * Removes the LXC containers an earlier agent left: those named by one of `ids` (the names
 * of its bundle folders) in the lxcpath bundlesDir, stopped where they still run, and the
 * cgroups LXC made for them. The folders are left to the caller. Returns their names.
 */
export async function removeLeftoverLxcContainers(
  ids: readonly string[],
  bundlesDir: string,
): Promise<string[]> {
  const removed: string[] = [];
  for (const id of ids) {
    const stopped = await killContainer(id, bundlesDir);
    const cgroups = await removeLxcCgroups(id);
    if (stopped || cgroups > 0) removed.push(id);
  }
  return removed;
}
