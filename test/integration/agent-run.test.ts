import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { hostInventoryCodec, inventorySubject } from '../../contracts/index.ts';
import { TEST_DRIVER_REASON } from '../../agents/host-agent/drivers/vm-libvirt.ts';
import { INVENTORY_STREAM } from '../../lib/nats/streams.ts';
import { countStoredResults, dedupedResults } from '../../lib/storage/results.ts';
import { sql } from '../../lib/storage/sql.ts';
import { runBerth } from '../../support/cli.ts';
import { consumerIsIdle, startIngestStack, type IngestStack } from '../../support/ingest.ts';
import { cleanUp, removeDir, tempDir } from '../../support/servers.ts';
import {
  cgroupsOfRun,
  entriesOf,
  ociContainers,
  processesMatching,
} from '../../support/leftovers.ts';
import { waitFor } from '../../support/wait.ts';

const WORKLOADS = 7;

/** This host's cgroups are hybrid with hugetlb on v2, which crun refuses. */
const CRUN_REASON =
  'crun cannot start a container here: cgroups in hybrid mode not supported, drop all controllers from cgroupv2';
/** The docker client is installed here, but no engine runs. */
const NO_ENGINE_SOCKET = '/run/berth-test-no-docker-engine.sock';
const DOCKER_REASON = new RegExp(
  `^no Docker engine answers: Cannot connect to the Docker daemon at unix://${NO_ENGINE_SOCKET}`,
);

describe('berth agent', () => {
  let dataDir: string;
  let stack: IngestStack;

  beforeAll(async () => {
    dataDir = await tempDir('agent');
    stack = await startIngestStack();
  });

  afterAll(async () => {
    await cleanUp(
      () => stack.stop(),
      () => removeDir(dataDir),
    );
  });

  // It may wait for another test's libvirtd to be let go: one runs per host at a time.
  it('lists the platforms of this host with their availability', async () => {
    // Every setting at its default: libvirt through qemu:///system, a libvirtd of Berth's own.
    const run = await runBerth(['agent', 'platforms', '--json', '--data-dir', dataDir], {
      BERTH_LIBVIRT_DAEMON: 'auto',
    });
    expect(run.code).toBe(0);
    const rows = JSON.parse(run.stdout) as {
      platform: string;
      runtime: string;
      available: boolean;
    }[];
    expect(rows).toContainEqual(expect.objectContaining({ platform: 'process', available: true }));
    expect(rows).toContainEqual(
      expect.objectContaining({ platform: 'container', runtime: 'runc', available: true }),
    );
    expect(rows).toContainEqual(
      expect.objectContaining({
        platform: 'container',
        runtime: 'crun',
        available: false,
        reason: CRUN_REASON,
      }),
    );
    // No engine runs on this host: Berth started its own for the listing, and stopped it.
    expect(rows).toContainEqual(
      expect.objectContaining({ platform: 'container', runtime: 'docker', available: true }),
    );
    expect(processesMatching(join(dataDir, 'agent', 'docker'))).toEqual([]);
    for (const runtime of ['podman', 'lxc']) {
      expect(rows).toContainEqual(
        expect.objectContaining({ platform: 'container', runtime, available: true }),
      );
    }
    expect(rows).toContainEqual(
      expect.objectContaining({
        platform: 'vm-in-container',
        runtime: 'runc-qemu-microvm',
        available: true,
        accel: 'tcg',
      }),
    );
    // No libvirtd runs on this host either: Berth started its own, and stopped it.
    expect(rows).toContainEqual(
      expect.objectContaining({
        platform: 'vm',
        runtime: 'libvirt',
        available: true,
        accel: 'tcg',
      }),
    );
    expect(processesMatching(join(dataDir, 'agent', 'libvirt'))).toEqual([]);
  }, 360_000);

  it.each([
    ['process', 1, 2],
    ['container:runc', 1, 1],
    ['vm', 1, 1],
    ['container-in-vm', 1, 1],
    ['container-in-vm', 2, 1],
    ['container:docker', 1, 1],
    ['container:podman', 1, 1],
    ['container:lxc', 1, 1],
    ['vm-in-container', 1, 1],
    ['vm:libvirt', 1, 1],
  ] as const)(
    'runs the quick suite on the %s platform (%i per VM, %i rounds) and every result lands once',
    async (platform, containersPerVm, rounds) => {
      // libvirt's test driver makes vm:libvirt skip itself, so `vm` runs QEMU alone, and
      // vm:libvirt itself runs through qemu:///system (a libvirtd of Berth's own here). One
      // round keeps the platforms' runs short (no comparison, so no extra round); the process
      // platform runs two, enough for the canary's calibration.
      const run = await runBerth(
        [
          'agent',
          'run',
          '--platforms',
          platform,
          '--rounds',
          String(rounds),
          '--json',
          '--data-dir',
          dataDir,
        ],
        {
          NATS_URL: stack.nats.url,
          BERTH_LIBVIRT_URI: platform === 'vm:libvirt' ? 'qemu:///system' : 'test:///default',
          BERTH_LIBVIRT_DAEMON: 'auto',
          BERTH_CONTAINERS_PER_VM: String(containersPerVm),
        },
      );
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as {
        hostId: string;
        runId: string;
        batches: {
          workload: { name: string };
          platform: { name: string; accel: string; settings: Record<string, unknown> };
          metrics: { name: string; value: number }[];
        }[];
        failed: unknown[];
        rounds: { repeated: boolean }[];
        calibration: Record<string, unknown>;
      };
      expect(report.failed).toEqual([]);
      const platformName = platform.split(':')[0];
      // With K containers in the VM, each workload gives one result per container; the bare
      // process, measured in every round as the pair of each comparison, is published too.
      const expected =
        WORKLOADS * containersPerVm + 1 + (platformName === 'process' ? 0 : WORKLOADS + 1);
      expect(report.batches).toHaveLength(expected);
      const kept = report.rounds.filter((round) => !round.repeated).length;
      // Rounds past these run only while a comparison (here the canary's) is unsettled.
      expect(kept).toBeGreaterThanOrEqual(rounds);
      if (rounds > 1) {
        expect(report.calibration).toMatchObject({
          expected: 0.5,
          ratio: expect.any(Number) as number,
          ci95: [expect.any(Number), expect.any(Number)] as number[],
          ok: expect.any(Boolean) as boolean,
        });
      }
      const instance = report.batches.find(
        (batch) => batch.workload.name === 'instance' && batch.platform.name === platformName,
      );
      const metricNames = instance?.metrics.map((metric) => metric.name);
      expect(metricNames).toEqual(
        platform === 'process'
          ? ['startup', 'memory-peak', 'density', 'idle-cpu']
          : ['startup', 'memory-peak', 'memory-overhead', 'density', 'idle-cpu'],
      );
      expect(instance?.metrics.find((metric) => metric.name === 'density')?.value).toBeGreaterThan(
        0,
      );
      if (containersPerVm > 1) {
        const containers = report.batches
          .filter(
            (batch) => batch.workload.name === 'cpu-sha256' && batch.platform.name !== 'process',
          )
          .map((batch) => batch.platform.settings['container']);
        expect(containers.sort()).toEqual(['c1', 'c2']);
        expect(instance?.platform.settings['containersPerVm']).toBe(2);
      }
      for (const batch of report.batches) {
        const vm = batch.platform.name.includes('vm');
        // A VM here runs under TCG emulation, and every result says so.
        expect(batch.platform.accel).toBe(vm ? 'tcg' : 'none');
        expect(batch.platform.settings).toHaveProperty(vm ? 'accel' : 'cgroup');
      }

      await waitFor('the results to be ingested', () => consumerIsIdle(stack.nc));
      expect(
        await countStoredResults(stack.testStore.store, { runId: report.runId }),
      ).toMatchObject({
        results: expected,
        duplicateRows: 0,
      });
      const startup = await stack.testStore.store.query<{
        value: number;
        samples: number | string;
      }>(
        sql`SELECT value, samples FROM (${dedupedResults({ runId: report.runId, workload: 'instance', metric: 'startup' })})`,
      );
      // Start-up over every interleaved launch: two per round.
      expect(startup.length).toBeGreaterThan(0);
      for (const row of startup) {
        expect(Number(row.samples)).toBe(2 * kept);
        expect(row.value).toBeGreaterThan(0);
      }

      expect(
        report.batches.every((batch) => [platformName, 'process'].includes(batch.platform.name)),
      ).toBe(true);
      expect(cgroupsOfRun(report.runId)).toEqual([]);
      expect(entriesOf(join(dataDir, 'agent', 'bundles'))).toEqual([]);
      expect(entriesOf(join(dataDir, 'agent', 'scratch'))).toEqual([]);
      expect(ociContainers('runc', report.runId)).toEqual([]);
      expect(processesMatching(dataDir)).toEqual([]);
    },
    240_000,
  );

  it.each([
    ['container:crun', CRUN_REASON, {}],
    [
      'container:docker',
      expect.stringMatching(DOCKER_REASON) as string,
      // Only the host's engine, and the host runs none there.
      { BERTH_DOCKER_ENGINE: 'system', DOCKER_HOST: `unix://${NO_ENGINE_SOCKET}` },
    ],
  ])(
    'skips %s, which cannot run here, with its reason, and exits 0',
    async (platform, reason, env) => {
      const run = await runBerth(
        ['agent', 'run', '--platforms', platform, '--json', '--data-dir', dataDir],
        { NATS_URL: stack.nats.url, BERTH_LIBVIRT_URI: 'test:///default', ...env },
      );
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as {
        batches: unknown[];
        skipped: { platform: string; runtime: string; reason: string }[];
        failed: unknown[];
      };
      expect(report.skipped).toEqual([
        { platform: 'container', runtime: platform.split(':')[1], reason },
      ]);
      expect(report.failed).toEqual([]);
      expect(report.batches).toEqual([]);
      expect(entriesOf(join(dataDir, 'agent', 'bundles'))).toEqual([]);
    },
    240_000,
  );

  it('publishes an inventory that matches its contract, with each platform and its reason', async () => {
    const local = await runBerth(['agent', 'inventory', '--json', '--data-dir', dataDir], {
      BERTH_LIBVIRT_URI: 'test:///default',
    });
    expect(local.code, local.stderr).toBe(0);
    const checked = hostInventoryCodec.check(JSON.parse(local.stdout));
    expect(checked.ok, checked.ok ? '' : checked.reason).toBe(true);
    if (!checked.ok) return;
    const inventory = checked.value;
    expect(inventory.cgroup).toBe('hybrid');
    expect(inventory.platforms.map((row) => `${row.platform}:${row.runtime}`)).toEqual([
      'process:node',
      'container:runc',
      'container:crun',
      'container:docker',
      'container:podman',
      'container:lxc',
      'vm:qemu-microvm',
      'container-in-vm:qemu-microvm',
      'vm-in-container:runc-qemu-microvm',
      'vm:libvirt',
    ]);
    expect(inventory.platforms.find((row) => row.platform === 'vm')?.reason).toMatch(
      /^TCG emulation/,
    );
    expect(inventory.platforms.find((row) => row.runtime === 'libvirt')?.reason).toBe(
      TEST_DRIVER_REASON,
    );

    const jsm = await jetstreamManager(stack.nc);
    const stored = await jsm.streams.getMessage(INVENTORY_STREAM, {
      last_by_subj: inventorySubject(inventory.hostId),
    });
    expect(stored).not.toBeNull();
    const published = hostInventoryCodec.decode(stored?.data ?? new Uint8Array(), 1 << 20);
    expect(published.ok && published.value.hostId).toBe(inventory.hostId);
  });

  it('refuses an unknown platform by name', async () => {
    const run = await runBerth(
      ['agent', 'run', '--platforms', 'mainframe', '--data-dir', dataDir],
      {
        NATS_URL: stack.nats.url,
      },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      '--platforms: unknown mainframe (known: process, container, vm, container-in-vm, ' +
        'vm-in-container, process:node, container:runc, container:crun, container:docker, ' +
        'container:podman, container:lxc, vm:qemu-microvm, container-in-vm:qemu-microvm, ' +
        'vm-in-container:runc-qemu-microvm, vm:libvirt)',
    );
  });

  it.each([
    ['--rounds', '0', '--rounds / BERTH_ROUNDS must be from 1 to 100, got 0'],
    ['--margin', '0.9', '--margin / BERTH_EQUIVALENCE_MARGIN must be from 0.005 to 0.5, got 0.9'],
  ])(
    'refuses %s %s out of range, naming the setting, before measuring',
    async (flag, value, message) => {
      const run = await runBerth(['agent', 'run', flag, value, '--data-dir', dataDir], {
        NATS_URL: stack.nats.url,
      });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(message);
    },
  );
});
