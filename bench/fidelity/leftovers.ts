import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { agentDir } from '../../agents/host-agent/agent-dir.ts';
import { berthCgroupParents } from '../../agents/host-agent/cgroups.ts';
import { processesMatching } from '../../support/leftovers.ts';
import { leftoversOf } from '../drivers/leftovers.ts';

/**
 * The instance cgroups of a calibration canary, which names them by an id of its own:
 * `<calibration id>-r<round>-<bare|quota>-process-w`.
 */
const CANARY_CGROUP = /^run-[0-9a-z]+-[0-9a-f]+-r\d+-(bare|quota)-process-w$/;

/** What instances leave while they run: canary cgroups, and folders in the data folder. */
export interface Traces {
  readonly canaryCgroups: ReadonlySet<string>;
  readonly folders: ReadonlySet<string>;
}

/** Entries of the folders under `parents`, each as its full path. */
async function entriesUnder(parents: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const parent of parents) {
    const names = await readdir(parent).catch(() => [] as string[]);
    found.push(...names.map((name) => join(parent, name)));
  }
  return found;
}

/** The canary cgroups and the instance folders (bundles, scratch) there are now. */
export async function tracesNow(dataDir: string): Promise<Traces> {
  const cgroups = await entriesUnder(await berthCgroupParents());
  const agent = agentDir(dataDir);
  return {
    canaryCgroups: new Set(
      cgroups.filter((path) => CANARY_CGROUP.test(path.slice(path.lastIndexOf('/') + 1))),
    ),
    folders: new Set(await entriesUnder([join(agent, 'bundles'), join(agent, 'scratch')])),
  };
}

/**
 * What the bench left that was not there when it began: each suite run's runc containers,
 * processes, cgroups and folders, the canary's cgroups, any instance folder, and any process
 * working in the data folder's scratch.
 */
export async function leftBehind(
  before: Traces,
  runIds: readonly string[],
  dataDir: string,
): Promise<string[]> {
  const left = new Set<string>();
  for (const runId of runIds) for (const item of await leftoversOf(runId, dataDir)) left.add(item);
  const now = await tracesNow(dataDir);
  for (const path of now.canaryCgroups)
    if (!before.canaryCgroups.has(path)) left.add(`cgroup ${path}`);
  for (const path of now.folders) if (!before.folders.has(path)) left.add(`folder ${path}`);
  for (const pid of processesMatching(join(agentDir(dataDir), 'scratch')))
    left.add(`process ${pid}`);
  return [...left];
}
