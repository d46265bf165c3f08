import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { agentDir } from '../../agents/host-agent/agent-dir.ts';
import { berthCgroupParents } from '../../agents/host-agent/cgroups.ts';
import { dockerEngineDir } from '../../agents/host-agent/drivers/registry.ts';
import { ociContainers, processesMatching } from '../../support/leftovers.ts';

/** Berth's cgroups of this run (berth/<id> in any hierarchy) that still exist. */
async function cgroupsOf(runId: string): Promise<string[]> {
  const found: string[] = [];
  for (const parent of await berthCgroupParents()) {
    const names = await readdir(parent).catch(() => [] as string[]);
    found.push(...names.filter((name) => name.startsWith(runId)).map((name) => join(parent, name)));
  }
  return found;
}

/**
 * What this run left: runc containers, processes, cgroups, instance folders, and a Docker
 * engine of Berth's own still running.
 */
export async function leftoversOf(runId: string, dataDir: string): Promise<string[]> {
  let containers: string[];
  try {
    containers = ociContainers('runc', runId);
  } catch {
    containers = [];
  }
  const folders: string[] = [];
  for (const parent of ['bundles', 'scratch'].map((name) => join(agentDir(dataDir), name))) {
    const names = await readdir(parent).catch(() => [] as string[]);
    folders.push(
      ...names.filter((name) => name.startsWith(runId)).map((name) => join(parent, name)),
    );
  }
  return [
    ...containers.map((id) => `runc container ${id}`),
    ...processesMatching(runId).map((pid) => `process ${pid}`),
    ...processesMatching(dockerEngineDir(agentDir(dataDir))).map(
      (pid) => `Docker engine process ${pid}`,
    ),
    ...(await cgroupsOf(runId)).map((dir) => `cgroup ${dir}`),
    ...folders.map((dir) => `folder ${dir}`),
  ];
}
