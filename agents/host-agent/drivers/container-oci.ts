import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  CGROUP_MEMORY_MEASURE,
  cgroupVersion,
  readPeakMemory,
  removeEmptyBerthCgroups,
} from '../cgroups.ts';
import { endRunner, spawnRunner } from './child-instance.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';

const run = promisify(execFile);

/** The host's top-level links (Debian's merged /usr), recreated inside the rootfs. */
const USR_LINKS = ['bin', 'lib', 'lib64', 'sbin'];

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

let runcDefaultSpec: Promise<Spec> | undefined;

/** runc's default spec, asked for once (`runc spec` writes it into a bundle folder). */
function defaultSpec(bundleDir: string): Promise<Spec> {
  runcDefaultSpec ??= (async () => {
    await run('runc', ['spec', '--bundle', bundleDir]);
    return JSON.parse(await readFile(join(bundleDir, 'config.json'), 'utf8')) as Spec;
  })();
  runcDefaultSpec.catch(() => (runcDefaultSpec = undefined));
  return runcDefaultSpec;
}

/**
 * An OCI bundle whose rootfs holds only mount points: the host's /usr and /etc (read-only)
 * give the container the same node the host runs, and the runner's folder is bound at the
 * same path; /scratch is a folder on the host's disk, so file I/O is measured on the same
 * file system as on the process platform. Its own network namespace (loopback only), pid, ipc, uts and mount namespaces,
 * and a cgroup at berth/<id>.
 */
export async function writeBundle(
  bundleDir: string,
  id: string,
  args: readonly string[],
  runnerDir: string,
  scratchDir: string,
): Promise<void> {
  const rootfs = join(bundleDir, 'rootfs');
  for (const dir of ['usr', 'etc', 'proc', 'dev', 'sys', 'tmp', 'scratch', runnerDir.slice(1)]) {
    await mkdir(join(rootfs, dir), { recursive: true });
  }
  for (const link of USR_LINKS) await symlink(`usr/${link}`, join(rootfs, link));
  const spec = structuredClone(await defaultSpec(bundleDir));
  spec.process.terminal = false;
  spec.process.args = [...args];
  spec.process.env = ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/tmp'];
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

export function createRuncDriver(runnerPath: string, bundlesDir: string): PlatformDriver {
  let version: string | undefined;
  return {
    platform: 'container',
    runtime: 'runc',
    availability: async (): Promise<Availability> => {
      try {
        const { stdout } = await run('runc', ['--version']);
        version = /runc version (\S+)/.exec(stdout)?.[1] ?? 'unknown';
      } catch {
        return { available: false, reason: 'runc is not installed (apt-get install runc)' };
      }
      if (process.getuid?.() !== 0) {
        return {
          available: false,
          reason: 'runc needs root here (rootless containers are not set up)',
        };
      }
      return { available: true, version, accel: 'none' };
    },
    start: async (options: InstanceOptions): Promise<Instance> => {
      const bundleDir = join(bundlesDir, options.id);
      await rm(bundleDir, { recursive: true, force: true });
      const scratchDir = join(bundleDir, 'scratch');
      await mkdir(scratchDir, { recursive: true });
      await writeBundle(
        bundleDir,
        options.id,
        [process.execPath, runnerPath, '--scratch', '/scratch', ...options.runnerArgs],
        dirname(runnerPath),
        scratchDir,
      );
      const runner = spawnRunner('runc', ['run', '--bundle', bundleDir, options.id]);
      return {
        launchedAt: runner.launchedAt,
        runners: 1,
        lines: runner.lines,
        settings: {
          cgroup: cgroupVersion(),
          rootfs: 'host /usr and /etc, read-only bind mounts',
          network: 'own namespace, loopback only',
          memoryMeasure: CGROUP_MEMORY_MEASURE,
        },
        peakMemoryBytes: () => readPeakMemory(options.id),
        stop: async () => {
          await endRunner(runner);
          await run('runc', ['delete', '--force', options.id]).catch(() => undefined);
          await removeEmptyBerthCgroups();
          await rm(bundleDir, { recursive: true, force: true });
        },
      };
    },
  };
}
