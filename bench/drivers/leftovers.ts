import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { agentDir } from '../../agents/host-agent/agent-dir.ts';
import { berthCgroupParents } from '../../agents/host-agent/cgroups.ts';
import { podmanGlobalArgs } from '../../agents/host-agent/drivers/container-podman.ts';
import {
  dockerEngineDir,
  libvirtDaemonDir,
  podmanStorageDir,
} from '../../agents/host-agent/drivers/registry.ts';
import { QEMU_DOMAIN_LOG_DIR } from '../../agents/host-agent/libvirt-daemon.ts';
import { ociContainers, processesMatching } from '../../support/leftovers.ts';

const execProgram = promisify(execFile);

const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * Where the local QEMU driver of libvirt (the host's daemon or Berth's own) keeps a domain's
 * files, `<name>.xml` or `<name>.log`: the definitions of persistent domains, the state of
 * running ones, and each domain's log.
 */
const LIBVIRT_DOMAIN_DIRS = ['/etc/libvirt/qemu', '/run/libvirt/qemu', QEMU_DOMAIN_LOG_DIR];

/** The entries of the folders whose names start with runId, as paths. */
async function namedByRun(runId: string, parents: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const parent of parents) {
    const names = await readdir(parent).catch(() => [] as string[]);
    found.push(...names.filter((name) => name.startsWith(runId)).map((name) => join(parent, name)));
  }
  return found;
}

/** Berth's cgroups of this run (berth/<id> in any hierarchy) that still exist. */
async function cgroupsOf(runId: string): Promise<string[]> {
  return namedByRun(runId, await berthCgroupParents());
}

/**
 * LXC's cgroups of this run's containers (lxc.payload.<id>, lxc.monitor.<id>, lxc.pivot.<id>)
 * at the top of any hierarchy, where LXC run by root makes them.
 */
async function lxcCgroupsOf(runId: string): Promise<string[]> {
  const hierarchies = await readdir(CGROUP_ROOT).catch(() => [] as string[]);
  const tops = [CGROUP_ROOT, ...hierarchies.map((name) => join(CGROUP_ROOT, name))];
  const found: string[] = [];
  for (const kind of ['payload', 'monitor', 'pivot']) {
    found.push(...(await namedByRun(`lxc.${kind}.${runId}`, tops)));
  }
  return found;
}

/** LXC containers of this run still active in the lxcpath bundlesDir. */
async function lxcContainersOf(runId: string, bundlesDir: string): Promise<string[]> {
  try {
    const { stdout } = await execProgram('lxc-ls', ['-1', '--active', '-P', bundlesDir]);
    return stdout.split('\n').filter((name) => name.startsWith(runId));
  } catch {
    return [];
  }
}

/**
 * Containers of this run that Berth's own podman still knows; its storage is not made by
 * looking.
 */
async function podmanContainersOf(runId: string, storageDir: string): Promise<string[]> {
  if (!existsSync(storageDir)) return [];
  try {
    const { stdout } = await execProgram('podman', [
      ...podmanGlobalArgs(storageDir),
      'ps',
      '--all',
      '--format',
      '{{.Names}}',
    ]);
    return stdout.split('\n').filter((name) => name.startsWith(runId));
  } catch {
    return [];
  }
}

/**
 * What this run left: runc, podman and LXC containers, libvirt domains (their definition,
 * state or log files), processes, cgroups (Berth's and LXC's), instance folders, and a
 * Docker engine or a libvirtd of Berth's own still running.
 */
export async function leftoversOf(runId: string, dataDir: string): Promise<string[]> {
  const dir = agentDir(dataDir);
  const bundlesDir = join(dir, 'bundles');
  let containers: string[];
  try {
    containers = ociContainers('runc', runId);
  } catch {
    containers = [];
  }
  const folders = await namedByRun(runId, [bundlesDir, join(dir, 'scratch')]);
  return [
    ...containers.map((id) => `runc container ${id}`),
    ...(await podmanContainersOf(runId, podmanStorageDir(dir))).map(
      (name) => `podman container ${name}`,
    ),
    ...(await lxcContainersOf(runId, bundlesDir)).map((name) => `LXC container ${name}`),
    ...(await namedByRun(runId, LIBVIRT_DOMAIN_DIRS)).map((file) => `libvirt domain file ${file}`),
    ...processesMatching(runId).map((pid) => `process ${pid}`),
    ...processesMatching(dockerEngineDir(dir)).map((pid) => `Docker engine process ${pid}`),
    ...processesMatching(libvirtDaemonDir(dir)).map((pid) => `libvirt daemon process ${pid}`),
    ...(await cgroupsOf(runId)).map((cgroup) => `cgroup ${cgroup}`),
    ...(await lxcCgroupsOf(runId)).map((cgroup) => `LXC cgroup ${cgroup}`),
    ...folders.map((folder) => `folder ${folder}`),
  ];
}
