import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBerth, spawnBerth } from '../../support/cli.ts';
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

describe('the next berth agent run removes what a killed agent left, on every runtime', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('agent-killed');
  });

  afterAll(async () => {
    await removeDir(dir);
  });

  it.each([
    'container:docker',
    'container:podman',
    'container:lxc',
    'vm-in-container',
    'vm:libvirt',
  ])(
    'killed with SIGKILL while %s runs an instance',
    async (platform) => {
      const dataDir = join(dir, platform.replace(':', '-'));
      const libvirt = platform === 'vm:libvirt';
      const env = {
        // Nothing listens here: both runs keep their results for a later one.
        NATS_URL: 'nats://127.0.0.1:1',
        BERTH_DATA_DIR: dataDir,
        // vm:libvirt through a libvirtd of Berth's own; the next run only sweeps (it uses
        // the host's daemon, and there is none, so the platform skips itself).
        BERTH_LIBVIRT_URI: libvirt ? 'qemu:///system' : 'test:///default',
        BERTH_LIBVIRT_DAEMON: 'auto',
      };
      const agent = spawnBerth(['agent', 'run', '--platforms', platform], env);
      const bundles = join(dataDir, 'agent', 'bundles');
      const runtime = platform.split(':')[0] ?? platform;
      // An instance of the platform itself, not the process platform every round measures.
      await waitFor(
        `an instance of ${platform} to be running`,
        () => entriesOf(bundles).some((id) => id.includes(`-${runtime}-`)),
        180_000,
        50,
      );
      const runId = /^(run-[a-z0-9]+-[a-z0-9]+)-/.exec(entriesOf(bundles)[0] ?? '')?.[1] ?? '';
      expect(runId).not.toBe('');
      agent.child.kill('SIGKILL');
      await agent.exited();
      expect(processesMatching(dataDir)).not.toEqual([]);

      // The next run starts by removing all of it; then vm:libvirt skips itself.
      const next = await runBerth(['agent', 'run', '--platforms', 'vm:libvirt'], {
        ...env,
        ...(libvirt ? { BERTH_LIBVIRT_DAEMON: 'system' } : {}),
      });
      expect(next.code, next.stderr).toBe(0);
      await waitFor(
        'what the killed run started to be gone',
        () => processesMatching(dataDir).length === 0,
      );
      expect(entriesOf(bundles)).toEqual([]);
      expect(ociContainers('runc', runId)).toEqual([]);
      expect(cgroupsOfRun(runId)).toEqual([]);
    },
    240_000,
  );
});
