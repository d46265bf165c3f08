import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, rmdir } from 'node:fs/promises';
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
import { rootfsImageTag } from './container-docker.ts';
import { importRootfsTar } from './container-oci.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';

const execProgram = promisify(execFile);

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The cgroup podman's cgroupfs manager makes its containers' cgroups (and conmon's) in. */
const PODMAN_CGROUP_PARENT = 'libpod_parent';

/** How long a podman command that starts no instance (import, a trial run, rm) may take. */
const PODMAN_TIMEOUT_MS = 30_000;

/** How long conmon and podman's cleanup of a removed container may take to exit. */
const EXIT_WAIT_MS = 5_000;

/** The rlimits given where podman's defaults (nofile 1048576) are above what the host allows. */
export const PODMAN_ULIMITS = ['nofile=1024:1024', 'nproc=4096:4096'] as const;

/**
 * Where Berth's own podman keeps its run-time state (the runroot and its temporary files):
 * in a short folder under /run named by storageDir, since podman refuses a runroot longer
 * than 50 characters and the data folder can be deep; /run is also where run-time state
 * belongs, gone after a reboot as the containers it describes are.
 */
export function podmanRunDir(storageDir: string): string {
  return `/run/berth-podman-${createHash('sha256').update(storageDir).digest('hex').slice(0, 12)}`;
}

/**
 * Podman's global flags for Berth's own podman: its images and containers in storageDir and
 * its run-time state in podmanRunDir (never the user's /var/lib/containers or /run/libpod),
 * the network config (which a `--network none` container never reads) in storageDir too,
 * cgroups made by podman itself (no systemd), and no event log. Every podman command Berth
 * runs starts with them, so the driver, a leftover sweep and tests see the same containers.
 */
export function podmanGlobalArgs(storageDir: string): string[] {
  const runDir = podmanRunDir(storageDir);
  return [
    '--root',
    join(storageDir, 'root'),
    '--runroot',
    join(runDir, 'run'),
    '--tmpdir',
    join(runDir, 'tmp'),
    '--network-config-dir',
    join(storageDir, 'networks'),
    '--cgroup-manager',
    'cgroupfs',
    '--events-backend',
    'none',
  ];
}

/** Runs podman with Berth's global flags for storageDir. */
function podman(storageDir: string, args: readonly string[]): Promise<{ stdout: string }> {
  return execProgram('podman', [...podmanGlobalArgs(storageDir), ...args], {
    timeout: PODMAN_TIMEOUT_MS,
  });
}

/** What a host needs podman to be told to start a container, beyond its defaults. */
export interface PodmanSettings {
  /** The OCI runtime podman is told to use; undefined for podman's default. */
  readonly runtime?: 'runc';
  /** Whether the rlimits are PODMAN_ULIMITS rather than podman's defaults. */
  readonly ulimits: boolean;
}

/** Podman's defaults: the first settings tried. */
export const PODMAN_DEFAULTS: PodmanSettings = { ulimits: false };

/**
 * The settings to try after `tried` failed with `error` (podman's words), or undefined when
 * nothing else would help: an rlimit the runtime may not set (the host's hard limit is below
 * podman's default) gets PODMAN_ULIMITS; any other failure of an OCI runtime other than runc
 * (crun refuses a hybrid cgroup layout) gets runc, keeping the rlimits. Each step only adds,
 * so the trials end.
 */
export function nextPodmanSettings(
  tried: PodmanSettings,
  error: string,
): PodmanSettings | undefined {
  if (!tried.ulimits && /rlimit/i.test(error)) return { ...tried, ulimits: true };
  if (tried.runtime !== 'runc' && /\bOCI\b/.test(error)) return { ...tried, runtime: 'runc' };
  return undefined;
}

/** What trying settings found: the first that started a container, or the last error. */
export type PodmanDetection =
  | { readonly works: true; readonly settings: PodmanSettings }
  | { readonly works: false; readonly error: string };

/**
 * Finds the settings this host needs: `trial` starts a container with them and says how it
 * failed (undefined when it ran). Podman's defaults first, then each next setting the last
 * error calls for (nextPodmanSettings), until one works or nothing else would help.
 */
export async function detectPodmanSettings(
  trial: (settings: PodmanSettings) => Promise<string | undefined>,
): Promise<PodmanDetection> {
  let settings = PODMAN_DEFAULTS;
  for (;;) {
    const error = await trial(settings);
    if (error === undefined) return { works: true, settings };
    const next = nextPodmanSettings(settings, error);
    if (next === undefined) return { works: false, error };
    settings = next;
  }
}

/** The settings as results record them: the rlimits the runner starts with. */
export function rlimitsSetting(settings: PodmanSettings): string {
  return settings.ulimits
    ? `${PODMAN_ULIMITS.join(', ')} (podman's defaults are above this host's hard limits)`
    : "podman's defaults";
}

export interface PodmanRunOptions {
  readonly storageDir: string;
  readonly settings: PodmanSettings;
  /** The container's name: the instance id. */
  readonly id: string;
  readonly image: string;
  /** The runner's folder, bound read-only at the same path. */
  readonly runnerDir: string;
  /** The host folder bound at /scratch. */
  readonly scratchDir: string;
  /** Where podman writes the container's full id, to find what is left of it after it ends. */
  readonly cidFile: string;
  /** What the container runs. */
  readonly command: readonly string[];
}

/**
 * `podman run` of a command, as the Docker driver runs the runner: the host's /usr and /etc
 * and the runner's folder bound read-only over a read-only rootfs of mount points, /scratch
 * on the host's disk, /tmp a tmpfs (and no other: not podman's /run and /var/tmp), no network
 * but loopback, the environment RUNNER_ENV only, a local image that is never pulled. The
 * detected settings add a runtime and rlimits. Standard input stays open: closing it ends a
 * runner started with --hold.
 */
export function podmanRunArgs(options: PodmanRunOptions): string[] {
  const { runnerDir, settings } = options;
  return [
    ...podmanGlobalArgs(options.storageDir),
    ...(settings.runtime === undefined ? [] : ['--runtime', settings.runtime]),
    'run',
    '--rm',
    '-i',
    '--name',
    options.id,
    '--cidfile',
    options.cidFile,
    '--pull',
    'never',
    '--hostname',
    'berth',
    '--network',
    'none',
    '--read-only',
    '--read-only-tmpfs=false',
    '--unsetenv-all',
    ...Object.entries(RUNNER_ENV).flatMap(([name, value]) => ['-e', `${name}=${value}`]),
    '-v',
    '/usr:/usr:ro',
    '-v',
    '/etc:/etc:ro',
    '-v',
    `${runnerDir}:${runnerDir}:ro`,
    '-v',
    `${options.scratchDir}:/scratch`,
    '--tmpfs',
    '/tmp:nosuid,nodev,size=262144k',
    ...(settings.ulimits ? PODMAN_ULIMITS.flatMap((limit) => ['--ulimit', limit]) : []),
    options.image,
    ...options.command,
  ];
}

/** What a failed podman command said: its stderr, else the error's message. */
function failureText(error: unknown): string {
  const stderr = (error as { stderr?: string }).stderr?.trim() ?? '';
  return stderr === '' ? (error as Error).message : stderr;
}

/** Makes the rootfs image from a tar of the mount points, unless podman has it already. */
async function ensureImage(
  storageDir: string,
  image: string,
  runnerDir: string,
  workDir: string,
): Promise<void> {
  const present = await podman(storageDir, ['image', 'exists', image]).then(
    () => true,
    () => false,
  );
  if (present) return;
  await importRootfsTar(runnerDir, workDir, (tar) =>
    podman(storageDir, ['import', '--quiet', tar, image]),
  );
}

/** Pids of the processes whose command line holds text (other than this one). */
async function processesMentioning(text: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const found: number[] = [];
  for (const pid of pids) {
    if (pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(pid);
  }
  return found;
}

/**
 * Waits for the processes that still name a removed container (its conmon, podman's cleanup
 * of it) to exit, and kills those that outlive EXIT_WAIT_MS.
 */
async function awaitExitOf(fullId: string): Promise<void> {
  const deadline = Date.now() + EXIT_WAIT_MS;
  for (;;) {
    const left = await processesMentioning(fullId);
    if (left.length === 0) return;
    if (Date.now() >= deadline) {
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Where podman's cgroupfs manager makes cgroups: libpod_parent in the v2 root and in
 * every v1 hierarchy.
 */
async function podmanCgroupParents(root: string): Promise<string[]> {
  const hierarchies = await readdir(root, { withFileTypes: true }).catch(() => []);
  return [
    join(root, PODMAN_CGROUP_PARENT),
    ...hierarchies
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(root, entry.name, PODMAN_CGROUP_PARENT)),
  ].filter((dir) => existsSync(dir));
}

/**
 * Removes the cgroups of a container that podman or conmon left (libpod_parent/libpod-<full
 * id>, in every hierarchy), killing a process still in one first; then podman's parents
 * (libpod_parent/conmon and libpod_parent) where nothing is left in them.
 */
export async function removePodmanCgroups(fullId: string, root = CGROUP_ROOT): Promise<void> {
  const parents = await podmanCgroupParents(root);
  for (const parent of parents) {
    const entries = await readdir(parent, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory() || !entry.name.includes(fullId)) continue;
      await removeCgroupTree(join(parent, entry.name));
    }
    await rmdir(join(parent, 'conmon')).catch(() => undefined);
    await rmdir(parent).catch(() => undefined);
  }
}

/**
 * Removes a container and all that is left of it: the container (stopped at once), its
 * conmon and podman's cleanup of it, and its cgroups. fullId is undefined when podman never
 * made the container. Exported for the drivers bench, whose `podman run` by hand is removed
 * the same way.
 */
export async function removeContainer(
  storageDir: string,
  name: string,
  fullId: string | undefined,
): Promise<void> {
  await podman(storageDir, ['rm', '--force', '--ignore', '--time', '0', name]).catch(
    () => undefined,
  );
  if (fullId === undefined) return;
  await awaitExitOf(fullId);
  await removePodmanCgroups(fullId);
}

/** The full id podman wrote to cidFile, undefined when it made no container. */
export async function containerId(cidFile: string): Promise<string | undefined> {
  const id = (await readFile(cidFile, 'utf8').catch(() => '')).trim();
  return /^[0-9a-f]{64}$/.test(id) ? id : undefined;
}

/**
 * Runs `true` in a container like an instance's, in a temporary folder (the bundles folder
 * holds instances only): podman's error, or undefined when it ran.
 */
async function trialRunError(
  storageDir: string,
  settings: PodmanSettings,
  image: string,
  runnerDir: string,
): Promise<string | undefined> {
  const trialDir = await mkdtemp(join(tmpdir(), 'berth-podman-trial-'));
  const id = basename(trialDir);
  const cidFile = join(trialDir, 'cid');
  try {
    const scratchDir = join(trialDir, 'scratch');
    await mkdir(scratchDir);
    const args = podmanRunArgs({
      storageDir,
      settings,
      id,
      image,
      runnerDir,
      scratchDir,
      cidFile,
      command: ['/usr/bin/true'],
    });
    await execProgram('podman', args, { timeout: PODMAN_TIMEOUT_MS });
    return undefined;
  } catch (error) {
    return failureText(error);
  } finally {
    await removeContainer(storageDir, id, await containerId(cidFile));
    await rm(trialDir, { recursive: true, force: true });
  }
}

/** What the driver found it needs on this host, once. */
type Detected =
  | { readonly works: true; readonly settings: PodmanSettings; readonly ociRuntime: string }
  | { readonly works: false; readonly error: string };

/** The OCI runtime podman runs containers with under settings, with its version. */
async function ociRuntimeSetting(storageDir: string, settings: PodmanSettings): Promise<string> {
  const runtimeArgs = settings.runtime === undefined ? [] : ['--runtime', settings.runtime];
  const named = settings.runtime ?? "podman's default runtime";
  try {
    const { stdout } = await podman(storageDir, [
      ...runtimeArgs,
      'info',
      '--format',
      '{{json .Host.OCIRuntime}}',
    ]);
    const runtime = JSON.parse(stdout) as { name?: string; version?: string };
    const version = runtime.version?.split('\n')[0]?.trim();
    return version === undefined || version === '' ? (runtime.name ?? named) : version;
  } catch {
    return named;
  }
}

/**
 * Makes the rootfs image, then finds by trial containers the settings this host needs, and
 * the OCI runtime they start containers with. Exported for the drivers bench, whose `podman
 * run` by hand finds them again (and checks them against those the driver reported).
 */
export async function findSettings(
  storageDir: string,
  image: string,
  runnerDir: string,
): Promise<Detected> {
  const workDir = await mkdtemp(join(tmpdir(), 'berth-podman-image-'));
  try {
    await ensureImage(storageDir, image, runnerDir, workDir);
  } catch (error) {
    return { works: false, error: `the rootfs image was not made: ${failureText(error)}` };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  const detection = await detectPodmanSettings((settings) =>
    trialRunError(storageDir, settings, image, runnerDir),
  );
  if (!detection.works) return detection;
  return { ...detection, ociRuntime: await ociRuntimeSetting(storageDir, detection.settings) };
}

/**
 * The container platform through podman, spoken to only with the `podman` CLI, with storage
 * of Berth's own in storageDir. The runtime and rlimits this host needs are found by trial
 * containers when first asked and kept. Memory is the peak of the cgroup podman made for the
 * container, found from its pid.
 */
export function createPodmanDriver(
  runnerPath: string,
  bundlesDir: string,
  storageDir: string,
): PlatformDriver {
  const runnerDir = dirname(runnerPath);
  const image = `localhost/${rootfsImageTag(runnerDir)}`;
  let detected: Promise<Detected> | undefined;

  /** The settings that work here, found once; a failure is tried again when next asked. */
  function detect(): Promise<Detected> {
    if (detected === undefined) {
      const current = findSettings(storageDir, image, runnerDir);
      current.then(
        (found) => {
          if (!found.works) detected = undefined;
        },
        () => (detected = undefined),
      );
      detected = current;
    }
    return detected;
  }

  return {
    platform: 'container',
    passesInput: true,
    runtime: 'podman',
    // Podman has no daemon to stop: its run-time folder goes once no container is left in it.
    close: async () => {
      if (!existsSync(storageDir)) return;
      const left = await podman(storageDir, ['ps', '--all', '--quiet']).then(
        ({ stdout }) => stdout.trim(),
        () => 'unknown',
      );
      // Podman's cleanup of the last container may still be writing there: then the folder
      // stays for the next close, rather than failing the command that closes.
      if (left === '') {
        await rm(podmanRunDir(storageDir), { recursive: true, force: true }).catch(() => undefined);
      }
    },
    availability: async (): Promise<Availability> => {
      let version: string;
      try {
        const { stdout } = await execProgram('podman', ['--version']);
        version = /podman version (\S+)/.exec(stdout)?.[1] ?? 'unknown';
      } catch {
        return { available: false, reason: 'podman is not installed (apt-get install podman)' };
      }
      if (process.getuid?.() !== 0) {
        return {
          available: false,
          version,
          reason: 'podman needs root here (rootless podman is not set up)',
        };
      }
      const found = await detect();
      if (!found.works) {
        return {
          available: false,
          version,
          reason: `podman cannot start a container here: ${found.error}`,
        };
      }
      return { available: true, version, accel: 'none' };
    },
    start: async (options: InstanceOptions): Promise<Instance> => {
      const found = await detect();
      if (!found.works) throw new Error(`podman cannot start a container here: ${found.error}`);
      const bundleDir = join(bundlesDir, options.id);
      await rm(bundleDir, { recursive: true, force: true });
      const scratchDir = join(bundleDir, 'scratch');
      await mkdir(scratchDir, { recursive: true });
      const cidFile = join(bundleDir, 'cid');
      const runner = spawnRunner(
        'podman',
        podmanRunArgs({
          storageDir,
          settings: found.settings,
          id: options.id,
          image,
          runnerDir,
          scratchDir,
          cidFile,
          command: [process.execPath, runnerPath, '--scratch', '/scratch', ...options.runnerArgs],
        }),
      );
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
          cgroupManager: "cgroupfs (podman's own, no systemd)",
          ociRuntime: found.ociRuntime,
          rlimits: rlimitsSetting(found.settings),
          rootfs: `image ${image} of mount points; host /usr and /etc, read-only bind mounts`,
          network: 'none, loopback only',
          memoryMeasure: `${CGROUP_MEMORY_MEASURE}; the container's cgroup, found from its pid (podman inspect)`,
        },
        peakMemoryBytes: async () => {
          pid ??= await podman(storageDir, [
            'inspect',
            '--format',
            '{{.State.Pid}}',
            options.id,
          ]).then(
            ({ stdout }) => Number(stdout.trim()) || undefined,
            () => undefined,
          );
          return pid === undefined ? undefined : readPeakMemoryOfProcess(pid);
        },
        stop: async () => {
          await endRunner(runner);
          await removeContainer(storageDir, options.id, await containerId(cidFile));
          await rm(bundleDir, { recursive: true, force: true });
        },
      };
    },
  };
}

/**
 * Removes the podman containers an earlier agent left in storageDir: those named by one of
 * `ids` (the names of its bundle folders), with their conmon and cgroups. Returns their
 * names. Storage that was never made is not made by looking.
 */
export async function removeLeftoverPodmanContainers(
  ids: readonly string[],
  storageDir: string,
): Promise<string[]> {
  if (ids.length === 0 || !existsSync(storageDir)) return [];
  let listed: { name: string; fullId: string }[];
  try {
    const { stdout } = await podman(storageDir, [
      'ps',
      '--all',
      '--no-trunc',
      '--format',
      '{{.Names}} {{.ID}}',
    ]);
    listed = stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .flatMap(([name, fullId]) =>
        name !== undefined && fullId !== undefined && ids.includes(name) ? [{ name, fullId }] : [],
      );
  } catch {
    return [];
  }
  for (const { name, fullId } of listed) await removeContainer(storageDir, name, fullId);
  return listed.map(({ name }) => name);
}
