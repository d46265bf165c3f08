import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { CGROUP_MEMORY_MEASURE, cgroupVersion, readPeakMemoryOfProcess } from '../cgroups.ts';
import { ENGINE_TIMEOUT_MS, type DockerEndpoint, type DockerEngine } from '../docker-engine.ts';
import { endRunner, spawnRunner } from './child-instance.ts';
import { importRootfsTar, rootfsEntries } from './container-oci.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';

const execProgram = promisify(execFile);

/** Runs the Docker CLI against the engine at host. */
function docker(host: string, args: readonly string[]): Promise<{ stdout: string }> {
  return execProgram('docker', ['-H', host, ...args], { timeout: ENGINE_TIMEOUT_MS * 6 });
}

/** The image of a rootfs of mount points for a runner in runnerDir, named by its contents. */
export function rootfsImageTag(runnerDir: string): string {
  const digest = createHash('sha256').update(JSON.stringify(rootfsEntries(runnerDir)));
  return `berth-rootfs:${digest.digest('hex').slice(0, 16)}`;
}

export interface DockerRunOptions {
  /** The instance id, the container's name. */
  readonly id: string;
  readonly image: string;
  /** The host's node, reached through the read-only /usr. */
  readonly node: string;
  readonly runnerPath: string;
  /** The host folder bound at /scratch. */
  readonly scratchDir: string;
  readonly runnerArgs: readonly string[];
}

/**
 * `docker run` of the runner, as the OCI bundle has it: the host's /usr and /etc and the
 * runner's folder bound read-only over a read-only rootfs of mount points, /scratch on the
 * host's disk, /tmp a tmpfs, no network but loopback. Standard input stays open: closing it
 * ends a runner started with --hold.
 */
export function dockerRunArgs(options: DockerRunOptions): string[] {
  const runnerDir = dirname(options.runnerPath);
  return [
    'run',
    '--rm',
    '-i',
    '--name',
    options.id,
    '--hostname',
    'berth',
    '--network',
    'none',
    '--read-only',
    '-e',
    'HOME=/tmp',
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
    options.image,
    options.node,
    options.runnerPath,
    '--scratch',
    '/scratch',
    ...options.runnerArgs,
  ];
}

/** Makes the rootfs image from a tar of the mount points, unless the engine has it already. */
async function ensureImage(
  host: string,
  tag: string,
  runnerDir: string,
  workDir: string,
): Promise<void> {
  const present = await docker(host, ['image', 'inspect', tag]).then(
    () => true,
    () => false,
  );
  if (present) return;
  await importRootfsTar(runnerDir, workDir, (tar) => docker(host, ['import', tar, tag]));
}

/** What the platform's settings say of the engine an instance ran in. */
function engineSetting(endpoint: DockerEndpoint): string {
  return endpoint.owned
    ? `Docker ${endpoint.version}, an engine Berth started (data root under the data folder, no bridge, no iptables)`
    : `Docker ${endpoint.version}, the host's engine at ${endpoint.host}`;
}

/**
 * The container platform through a Docker engine, spoken to only with the `docker` CLI: the
 * host's engine or one Berth starts (see docker-engine.ts). Memory is the peak of the cgroup
 * the engine made for the container, found from its pid, so it is measured only where the
 * engine runs on this host.
 */
export function createDockerDriver(
  runnerPath: string,
  bundlesDir: string,
  engine: DockerEngine,
): PlatformDriver {
  const runnerDir = dirname(runnerPath);
  const tag = rootfsImageTag(runnerDir);
  let image: Promise<void> | undefined;
  return {
    platform: 'container',
    passesInput: true,
    runtime: 'docker',
    availability: async (): Promise<Availability> => {
      try {
        const { version } = await engine.endpoint();
        return { available: true, version, accel: 'none' };
      } catch (error) {
        return { available: false, reason: (error as Error).message };
      }
    },
    start: async (options: InstanceOptions): Promise<Instance> => {
      const endpoint = await engine.endpoint();
      const { host } = endpoint;
      const bundleDir = join(bundlesDir, options.id);
      await rm(bundleDir, { recursive: true, force: true });
      const scratchDir = join(bundleDir, 'scratch');
      await mkdir(scratchDir, { recursive: true });
      image ??= ensureImage(host, tag, runnerDir, bundleDir);
      image.catch(() => (image = undefined));
      await image;
      const runner = spawnRunner('docker', [
        '-H',
        host,
        ...dockerRunArgs({
          id: options.id,
          image: tag,
          node: process.execPath,
          runnerPath,
          scratchDir,
          runnerArgs: options.runnerArgs,
        }),
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
          engine: engineSetting(endpoint),
          rootfs: `image ${tag} of mount points; host /usr and /etc, read-only bind mounts`,
          network: 'none, loopback only',
          memoryMeasure: `${CGROUP_MEMORY_MEASURE}; the container's cgroup, found from its pid (docker inspect)`,
        },
        peakMemoryBytes: async () => {
          pid ??= await docker(host, ['inspect', '--format', '{{.State.Pid}}', options.id]).then(
            ({ stdout }) => Number(stdout.trim()) || undefined,
            () => undefined,
          );
          return pid === undefined ? undefined : readPeakMemoryOfProcess(pid);
        },
        stop: async () => {
          await endRunner(runner);
          await docker(host, ['rm', '-f', options.id]).catch(() => undefined);
          await rm(bundleDir, { recursive: true, force: true });
        },
      };
    },
    close: () => engine.close(),
  };
}

/**
 * Removes the Docker containers an earlier agent left: those named by one of `ids` (the
 * names of its bundle folders), where an engine answers. Returns their names.
 */
export async function removeLeftoverDockerContainers(
  ids: readonly string[],
  host: string,
): Promise<string[]> {
  if (ids.length === 0) return [];
  let names: string[];
  try {
    const { stdout } = await docker(host, ['ps', '--all', '--format', '{{.Names}}']);
    names = stdout.split('\n').filter((name) => ids.includes(name));
  } catch {
    return [];
  }
  if (names.length > 0) await docker(host, ['rm', '-f', ...names]).catch(() => undefined);
  return names;
}
