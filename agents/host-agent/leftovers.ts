import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../../lib/logger.ts';
import { removeStaleCgroups } from './cgroups.ts';

const run = promisify(execFile);

/**
 * What an agent killed with SIGKILL could not tear down: containers still registered with
 * runc for one of its bundles, bundle and scratch folders, and cgroups with no process left.
 * Removed when the next agent starts, before it starts instances of its own.
 */
export async function removeLeftovers(agentDir: string, logger: Logger): Promise<void> {
  const bundlesDir = join(agentDir, 'bundles');
  const bundles = await readdir(bundlesDir).catch(() => [] as string[]);
  for (const id of bundles) {
    await run('runc', ['delete', '--force', id]).catch(() => undefined);
  }
  const scratch = await readdir(join(agentDir, 'scratch')).catch(() => [] as string[]);
  await Promise.all([
    ...bundles.map((id) => rm(join(bundlesDir, id), { recursive: true, force: true })),
    ...scratch.map((id) => rm(join(agentDir, 'scratch', id), { recursive: true, force: true })),
  ]);
  const cgroups = await removeStaleCgroups();
  if (bundles.length + scratch.length + cgroups.length > 0) {
    logger.info(
      { bundles: bundles.length, scratch: scratch.length, cgroups: cgroups.length },
      'removed what an earlier agent left behind',
    );
  }
}
