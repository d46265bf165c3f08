import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  CGROUP_MEMORY_MEASURE,
  cgroupVersion,
  readPeakMemory,
  removeInstanceCgroups,
} from '../cgroups.ts';
import { endRunner, RUNNER_ENV, spawnRunner } from './child-instance.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';

const execProgram = promisify(execFile);

/** The OCI runtimes the container platform drives with a bundle the agent writes. */
export const OCI_RUNTIMES = ['runc', 'crun'] as const;
export type OciRuntime = (typeof OCI_RUNTIMES)[number];

/**
 * Whether availability starts a trial container: crun checks the host's cgroup layout only
 * when it starts one (it refuses a hybrid layout with a controller on the v2 hierarchy).
 */
const TRIAL_RUN: Record<OciRuntime, boolean> = { runc: false, crun: true };

/** The host's top-level links (Debian's merged /usr), recreated inside the rootfs. */
const USR_LINKS = ['bin', 'lib', 'lib64', 'sbin'];

/** A rootfs of mount points only: its empty folders and the links to /usr. */
export interface RootfsEntries {
  readonly dirs: readonly string[];
  readonly links: readonly { readonly path: string; readonly target: string }[];
}

/** What a rootfs of mount points holds for a runner in runnerDir. */
export function rootfsEntries(runnerDir: string): RootfsEntries {
  return {
    dirs: ['usr', 'etc', 'proc', 'dev', 'sys', 'tmp', 'scratch', runnerDir.slice(1)],
    links: USR_LINKS.map((link) => ({ path: link, target: `usr/${link}` })),
  };
}

/**
 * Hands importTar a tar of the rootfs of mount points for a runner in runnerDir (an engine's
 * `import` makes an image of it), written in workDir and removed after.
 */
export async function importRootfsTar(
  runnerDir: string,
  workDir: string,
  importTar: (tar: string) => Promise<unknown>,
): Promise<void> {
  const rootfs = join(workDir, 'rootfs');
  const tar = join(workDir, 'rootfs.tar');
  try {
    await writeRootfs(rootfs, runnerDir);
    await execProgram('tar', ['-C', rootfs, '-cf', tar, '.']);
    await importTar(tar);
  } finally {
    await rm(rootfs, { recursive: true, force: true });
    await rm(tar, { force: true });
  }
}

/** Writes the rootfs of mount points for a runner in runnerDir into the folder rootfs. */
export async function writeRootfs(rootfs: string, runnerDir: string): Promise<void> {
  const { dirs, links } = rootfsEntries(runnerDir);
  for (const dir of dirs) await mkdir(join(rootfs, dir), { recursive: true });
  for (const link of links) await symlink(link.target, join(rootfs, link.path));
}

interface Mount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

interface Spec {
  process: { terminal: boolean; args: string[]; env: string[] };
  hostname: string;
  mounts: Mount[];
  linux: { cgroupsPath?: string };
}

const defaultSpecs = new Map<OciRuntime, Promise<Spec>>();

/** The runtime's default spec, asked for once (`<runtime> spec` writes it into a bundle folder). */
function defaultSpec(runtime: OciRuntime, bundleDir: string): Promise<Spec> {
  let spec = defaultSpecs.get(runtime);
  if (spec === undefined) {
    spec = (async () => {
      await execProgram(runtime, ['spec', '--bundle', bundleDir]);
      return JSON.parse(await readFile(join(bundleDir, 'config.json'), 'utf8')) as Spec;
    })();
    spec.catch(() => defaultSpecs.delete(runtime));
    defaultSpecs.set(runtime, spec);
  }
  return spec;
}

/**
 * An OCI bundle whose rootfs holds only mount points: the host's /usr and /etc (read-only)
 * give the container the same node the host runs, and the runner's folder is bound at the
 * same path; /scratch is a folder on the host's disk, so file I/O is measured on the same
 * file system as on the process platform. Its own network namespace (loopback only), pid, ipc, uts and mount namespaces,
 * and a cgroup at berth/<id>. The rest is the runtime's default spec.
 */
async function writeBundle(
  runtime: OciRuntime,
  bundleDir: string,
  id: string,
  args: readonly string[],
  runnerDir: string,
  scratchDir: string,
): Promise<void> {
  await writeRootfs(join(bundleDir, 'rootfs'), runnerDir);
  const spec = structuredClone(await defaultSpec(runtime, bundleDir));
  spec.process.terminal = false;
  spec.process.args = [...args];
  spec.process.env = Object.entries(RUNNER_ENV).map(([name, value]) => `${name}=${value}`);
  spec.hostname = 'berth';
  spec.mounts.push(
    {
      destination: '/tmp',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'size=262144k'],
    },
    { destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro'] },
    { destination: '/etc', type: 'bind', source: '/etc', options: ['rbind', 'ro'] },
    { destination: runnerDir, type: 'bind', source: runnerDir, options: ['rbind', 'ro'] },
    { destination: '/scratch', type: 'bind', source: scratchDir, options: ['rbind', 'rw'] },
  );
  spec.linux.cgroupsPath = `/berth/${id}`;
  await writeFile(join(bundleDir, 'config.json'), JSON.stringify(spec, null, 2));
}

/** A fresh bundle folder for container id running args, with its scratch folder. */
async function prepareBundle(
  runtime: OciRuntime,
  bundleDir: string,
  id: string,
  args: readonly string[],
  runnerPath: string,
): Promise<void> {
  await rm(bundleDir, { recursive: true, force: true });
  const scratchDir = join(bundleDir, 'scratch');
  await mkdir(scratchDir, { recursive: true });
  await writeBundle(runtime, bundleDir, id, args, dirname(runnerPath), scratchDir);
}

/**
 * A fresh bundle folder for the instance `id`: the runner (runnerPath, with runnerArgs) run
 * by the host's node, with its scratch folder at /scratch.
 */
export async function prepareInstanceBundle(
  runtime: OciRuntime,
  bundleDir: string,
  id: string,
  runnerPath: string,
  runnerArgs: readonly string[],
): Promise<void> {
  await prepareBundle(
    runtime,
    bundleDir,
    id,
    [process.execPath, runnerPath, '--scratch', '/scratch', ...runnerArgs],
    runnerPath,
  );
}

/** Removes container id, its cgroups and its bundle folder. */
export async function removeContainer(
  runtime: OciRuntime,
  id: string,
  bundleDir: string,
): Promise<void> {
  await execProgram(runtime, ['delete', '--force', id]).catch(() => undefined);
  await removeInstanceCgroups(id);
  await rm(bundleDir, { recursive: true, force: true });
}

/**
 * Runs `true` in a bundle like an instance's, in a temporary folder (the bundles folder holds
 * instances only): the runtime's error, or undefined when it ran.
 */
async function trialRunError(runtime: OciRuntime, runnerPath: string): Promise<string | undefined> {
  const bundleDir = await mkdtemp(join(tmpdir(), `berth-trial-${runtime}-`));
  const id = basename(bundleDir);
  try {
    await prepareBundle(runtime, bundleDir, id, ['/usr/bin/true'], runnerPath);
    await execProgram(runtime, ['run', '--bundle', bundleDir, id], { timeout: 10_000 });
    return undefined;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? '';
    return stderr === '' ? (error as Error).message : stderr;
  } finally {
    await removeContainer(runtime, id, bundleDir);
  }
}

export function createOciDriver(
  runtime: OciRuntime,
  runnerPath: string,
  bundlesDir: string,
): PlatformDriver {
  let version: string | undefined;
  return {
    platform: 'container',
    passesInput: true,
    runtime,
    availability: async (): Promise<Availability> => {
      try {
        const { stdout } = await execProgram(runtime, ['--version']);
        version = new RegExp(`${runtime} version (\\S+)`).exec(stdout)?.[1] ?? 'unknown';
      } catch {
        return {
          available: false,
          reason: `${runtime} is not installed (apt-get install ${runtime})`,
        };
      }
      if (process.getuid?.() !== 0) {
        return {
          available: false,
          reason: `${runtime} needs root here (rootless containers are not set up)`,
        };
      }
      const trialError = TRIAL_RUN[runtime] ? await trialRunError(runtime, runnerPath) : undefined;
      if (trialError !== undefined) {
        return {
          available: false,
          version,
          reason: `${runtime} cannot start a container here: ${trialError}`,
        };
      }
      return { available: true, version, accel: 'none' };
    },
    start: async (options: InstanceOptions): Promise<Instance> => {
      const bundleDir = join(bundlesDir, options.id);
      await prepareInstanceBundle(runtime, bundleDir, options.id, runnerPath, options.runnerArgs);
      const runner = spawnRunner(runtime, ['run', '--bundle', bundleDir, options.id]);
      return {
        launchedAt: runner.launchedAt,
        runners: 1,
        lines: runner.lines,
        go: () => {
          runner.go(1);
        },
        settings: {
          cgroup: cgroupVersion(),
          rootfs: 'host /usr and /etc, read-only bind mounts',
          network: 'own namespace, loopback only',
          memoryMeasure: CGROUP_MEMORY_MEASURE,
        },
        peakMemoryBytes: () => readPeakMemory(options.id),
        stop: async () => {
          await endRunner(runner);
          await removeContainer(runtime, options.id, bundleDir);
        },
      };
    },
  };
}

/**
 * Removes the containers an earlier agent left with any OCI runtime: those whose id is one
 * of `ids` (the names of its bundle folders). Each id is asked of each runtime by itself
 * (`state`), not through `list`, which fails whole when another container is deleted while it
 * reads. Returns them as `runtime:id`.
 */
export async function removeLeftoverContainers(ids: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const runtime of OCI_RUNTIMES) {
    for (const id of ids) {
      const known = await execProgram(runtime, ['state', id]).then(
        () => true,
        () => false,
      );
      if (!known) continue;
      await execProgram(runtime, ['delete', '--force', id]).then(
        () => removed.push(`${runtime}:${id}`),
        () => undefined,
      );
    }
  }
  return removed;
}
