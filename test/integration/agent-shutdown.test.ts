import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnBerth } from '../../support/cli.ts';
import { cleanUp, removeDir, startTestNats, tempDir } from '../../support/servers.ts';
import {
  cgroupsOfRun,
  entriesOf,
  processesMatching,
  ociContainers,
} from '../../support/leftovers.ts';
import { waitFor } from '../../support/wait.ts';

describe('berth agent run stops cleanly on SIGTERM', () => {
  let dir: string;
  let nats: Awaited<ReturnType<typeof startTestNats>>;

  beforeAll(async () => {
    dir = await tempDir('agent-stop');
    nats = await startTestNats();
  });

  afterAll(async () => {
    await cleanUp(
      () => nats.stop(),
      () => removeDir(dir),
    );
  });

  it.each(['container', 'vm'])(
    'in the middle of the %s platform, leaving no instance, cgroup or folder behind',
    async (platform) => {
      const dataDir = join(dir, platform);
      const agent = spawnBerth(['agent', 'run', '--platforms', platform, '--json'], {
        NATS_URL: nats.url,
        BERTH_DATA_DIR: dataDir,
      });
      const bundles = join(dataDir, 'agent', 'bundles');
      await waitFor('an instance to be running', () => entriesOf(bundles).length > 0, 90_000, 50);
      agent.child.kill('SIGTERM');
      expect(await agent.exited(), agent.stderr()).toBe(0);

      const { runId } = JSON.parse(agent.stdout()) as { runId: string };
      expect(entriesOf(bundles)).toEqual([]);
      expect(ociContainers('runc', runId)).toEqual([]);
      // The QEMU command line names the instance's files under the data folder.
      expect(processesMatching(dataDir)).toEqual([]);
      expect(cgroupsOfRun(runId)).toEqual([]);
    },
    150_000,
  );
});
