import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANTAGONIST_NAMES, type AntagonistName } from '../../contracts/workloads.ts';
import type { ResultBatch, ResultBatchV2 } from '../../contracts/index.ts';
import { startAntagonist } from '../../agents/host-agent/antagonists.ts';
import { berthCgroupParents } from '../../agents/host-agent/cgroups.ts';
import { closeDrivers } from '../../agents/host-agent/agent-drivers.ts';
import { measureDensityAtLoad, overlapOf } from '../../agents/host-agent/density-at-load.ts';
import { createDrivers } from '../../agents/host-agent/drivers/registry.ts';
import { driverName } from '../../agents/host-agent/drivers/select.ts';
import { runLoadTrial } from '../../agents/host-agent/load-trial.ts';
import { createOciDriver } from '../../agents/host-agent/drivers/container-oci.ts';
import type { PlatformDriver } from '../../agents/host-agent/drivers/driver.ts';
import { createProcessDriver } from '../../agents/host-agent/drivers/process.ts';
import { createQemuDriver } from '../../agents/host-agent/drivers/vm-qemu.ts';
import { newRunId } from '../../agents/host-agent/ids.ts';
import { runnerBundle } from '../../agents/host-agent/runner-bundle.ts';
import { SUITES } from '../../agents/host-agent/suite-catalogue.ts';
import type { SuiteEvent } from '../../agents/host-agent/suite-run.ts';
import { runSuite } from '../../agents/host-agent/suite.ts';
import { dedupedResults } from '../../lib/storage/results.ts';
import { sql } from '../../lib/storage/sql.ts';
import { runBerth, spawnBerth } from '../../support/cli.ts';
import { consumerIsIdle, startIngestStack, type IngestStack } from '../../support/ingest.ts';
import { alive, cgroupsOfRun, entriesOf, processesMatching } from '../../support/leftovers.ts';
import { cleanUp, removeDir, tempDir } from '../../support/servers.ts';
import { waitFor } from '../../support/wait.ts';

/** The processes in cgroup `berth/<name>` (v1 memory hierarchy, as on these hosts). */
async function cgroupProcesses(name: string): Promise<number[]> {
  const procs = await readFile(`/sys/fs/cgroup/memory/berth/${name}/cgroup.procs`, 'utf8');
  return procs.split('\n').filter(Boolean).map(Number);
}

/** Whether cgroup `berth/<name>` is left in any hierarchy. */
async function cgroupLeft(name: string): Promise<boolean> {
  return (await berthCgroupParents()).some((parent) => existsSync(join(parent, name)));
}

const settingOf = (batch: ResultBatch, name: string): unknown => batch.platform.settings[name];

describe('density at load and noisy neighbours, on real runtimes', () => {
  let dataDir: string;
  let runner: string;
  let processDriver: PlatformDriver;
  let containerDriver: PlatformDriver;

  beforeAll(async () => {
    dataDir = await tempDir('load');
    runner = await runnerBundle(dataDir);
    processDriver = createProcessDriver(runner, join(dataDir, 'scratch'));
    containerDriver = createOciDriver('runc', runner, join(dataDir, 'bundles'));
  });

  afterAll(async () => {
    await removeDir(dataDir);
  });

  it.each(ANTAGONIST_NAMES)(
    'runs the %s antagonist in a cgroup of its own and removes it with everything it started',
    async (name: AntagonistName) => {
      const id = `test-antagonist-${process.pid}-${name}`;
      const antagonist = await startAntagonist(name, id, join(dataDir, 'scratch'), 60_000);
      expect(await cgroupLeft(id)).toBe(true);
      const pids = await cgroupProcesses(id);
      expect(pids.length).toBeGreaterThan(0);
      await antagonist.stop();
      expect(await cgroupLeft(id)).toBe(false);
      expect(alive(pids)).toEqual([]);
      expect(entriesOf(join(dataDir, 'scratch'))).not.toContain(id);
    },
  );

  it('ends an antagonist at its time bound when nobody stops it', async () => {
    const id = `test-antagonist-${process.pid}-bound`;
    await startAntagonist('cpu-hog', id, join(dataDir, 'scratch'), 300);
    const pids = await cgroupProcesses(id);
    expect(pids.length).toBe(availableParallelism());
    await waitFor('the antagonist to end at its bound', async () => !(await cgroupLeft(id)));
    expect(alive(pids)).toEqual([]);
  });

  it('measures a curve of at least three steps on process and runc, and a victim beside a CPU hog', async () => {
    const runId = newRunId();
    const batches: ResultBatch[] = [];
    const events: SuiteEvent[] = [];
    await runSuite({
      hostId: 'load-test',
      runId,
      suite: {
        ...SUITES.quick,
        workloads: ['syscall-fstat'],
        timeCapMs: 300,
        rounds: 2,
        maxRounds: 2,
        launchesPerRound: 1,
        densityCap: 2,
      },
      drivers: [containerDriver],
      baseline: processDriver,
      disturbance: { maxSteal: 1, maxForeignLoadCores: 64 },
      densityAtLoad: {
        workload: 'cpu-sha256',
        trialMs: 400,
        memoryBudgetMiB: 1024,
        timeBudgetMs: 120_000,
        cap: 4,
        sloShare: 0.9,
      },
      interference: {
        workload: 'cpu-sha256',
        trialMs: 400,
        antagonists: ['cpu-hog'],
        scratchDir: join(dataDir, 'scratch'),
      },
      deliver: (batch) => {
        batches.push(batch);
        return Promise.resolve();
      },
      onEvent: (event) => events.push(event),
    });
    // The progress planned is the progress made: the density steps count in the first round only.
    const planned = events.reduce(
      (sum, event) => sum + (event.kind === 'steps' ? event.added : 0),
      0,
    );
    expect(events.filter((event) => event.kind === 'step')).toHaveLength(planned);
    for (const platform of ['process', 'container']) {
      const steps = batches.filter(
        (batch) => batch.platform.name === platform && batch.workload.name === 'density-load',
      );
      expect(steps.map((batch) => settingOf(batch, 'loadRunners'))).toEqual([1, 2, 4]);
      for (const step of steps) {
        expect(settingOf(step, 'loadEndedBy')).toBe('cap');
        // Every runner waited for one "go", so their work overlapped.
        expect(settingOf(step, 'startedTogether')).toBe(true);
        const runners = Number(settingOf(step, 'loadRunners'));
        const names = step.metrics.map((metric) => metric.name);
        expect(names).toEqual([
          `throughput-per-instance-at-${runners}`,
          `slo-share-at-${runners}`,
          `memory-per-instance-at-${runners}`,
        ]);
        expect(step.metrics[0]?.unit).toBe('hash/s');
        expect(step.metrics[0]?.value).toBeGreaterThan(0);
      }
      const instance = batches.find(
        (batch) => batch.platform.name === platform && batch.workload.name === 'instance',
      );
      const atSlo = instance?.metrics.find((metric) => metric.name === 'density-at-slo');
      expect([0, 1, 2, 4]).toContain(atSlo?.value);
      expect(instance?.metrics.find((metric) => metric.name === 'density-slo')?.value).toBe(0.9);
      expect(
        instance?.metrics.find((metric) => metric.name === 'idle-cpu')?.value,
      ).toBeGreaterThanOrEqual(0);
      expect(instance?.platform.settings['densityAtSloEndedBy']).toBe('cap');

      const [neighbour] = batches.filter(
        (batch) => batch.platform.name === platform && batch.workload.name === 'interference',
      );
      expect(settingOf(neighbour as ResultBatch, 'antagonist')).toBe('cpu-hog');
      expect(neighbour?.schemaVersion).toBe(2);
      const beside = (neighbour as ResultBatchV2).metrics[0];
      expect(beside?.name).toBe('beside-cpu-hog');
      const comparison = beside?.comparison;
      expect(comparison?.rounds).toBe(2);
      expect(comparison?.baseline).toBe(platform === 'process' ? 'process:node' : 'container:runc');
      expect(comparison?.ratio).toBeGreaterThan(0);
    }
    expect(cgroupsOfRun(runId)).toEqual([]);
    expect(entriesOf(join(dataDir, 'scratch'))).toEqual([]);
  }, 240_000);

  it('starts two instances together on every runtime that passes input on', async () => {
    const drivers = createDrivers(runner, join(dataDir, 'agent'), {
      libvirtUri: 'test:///default',
      containersPerVm: 2,
      dockerEngine: 'auto',
      libvirtDaemon: 'system',
    }).filter((driver) => driver.passesInput === true);
    const tested: string[] = [];
    try {
      for (const driver of drivers) {
        if (!(await driver.availability()).available) continue;
        const name = driverName(driver);
        const trial = await runLoadTrial(driver, {
          ids: [1, 2].map((index) => `${newRunId()}-go${index}`),
          workload: 'syscall-fstat',
          timeCapMs: 400,
          timeoutMs: 120_000,
        });
        expect(trial.startedTogether, name).toBe(true);
        // Both began at the one "go": their work overlapped for most of it.
        expect(overlapOf(trial), name).toBeGreaterThan(0.5);
        expect(trial.runners.length, name).toBe(driver.platform === 'container-in-vm' ? 4 : 2);
        tested.push(name);
      }
      // crun cannot run here (hybrid cgroups); every other runtime can.
      expect(tested).toEqual([
        'process:node',
        'container:runc',
        'container:docker',
        'container:podman',
        'container:lxc',
        'vm:qemu-microvm',
        'container-in-vm:qemu-microvm',
        'vm-in-container:runc-qemu-microvm',
      ]);
    } finally {
      await closeDrivers(drivers);
    }
  }, 600_000);

  it('ends a TCG VM curve at a tiny memory budget and says so', async () => {
    const vm = createQemuDriver({
      runnerPath: runner,
      bundlesDir: join(dataDir, 'bundles'),
      imagesDir: join(dataDir, 'images'),
      mode: 'vm',
    });
    const availability = await vm.availability();
    expect(availability).toMatchObject({ available: true, accel: 'tcg' });
    const runId = newRunId();
    const curve = await measureDensityAtLoad(
      vm,
      `${runId}-vm`,
      {
        workload: 'cpu-sha256',
        trialMs: 400,
        memoryBudgetMiB: 16,
        timeBudgetMs: 300_000,
        cap: 8,
        sloShare: 0.9,
      },
      () => undefined,
    );
    expect(curve.steps).toHaveLength(1);
    expect(curve.endedBy).toBe('memory');
    expect(curve.why).toMatch(/^2 instances would take about \d+ MiB, past the budget of 16 MiB$/);
    expect(curve.steps[0]?.memoryMiB[0]).toBeGreaterThan(16);
    expect(curve.densityAtSlo).toBe(1);
    expect(curve.steps[0]?.startedTogether).toBe(true);
    expect(processesMatching(`${runId}-vm`)).toEqual([]);
  }, 240_000);
});

describe('density at load through berth agent run', () => {
  let dataDir: string;
  let stack: IngestStack;

  beforeAll(async () => {
    dataDir = await tempDir('load-run');
    // On a ClickHouse server, so that berth advise, a process of its own, reads the same rows.
    stack = await startIngestStack('clickhouse');
  });

  afterAll(async () => {
    await cleanUp(
      () => stack.stop(),
      () => removeDir(dataDir),
    );
  });

  const loadEnv = {
    BERTH_LOAD_WORKLOAD: 'cpu-sha256',
    BERTH_LOAD_CAP: '4',
    BERTH_ANTAGONISTS: 'fork-storm',
  };

  // Two rounds at least, and more while a comparison is unsettled, beside another test file:
  // up to six rounds of runc and the process with their load steps.
  it('stores density-at-slo, each step and the interference result, reads them back, and counts 5,000 instances in hosts', async () => {
    const run = spawnBerth(
      [
        'agent',
        'run',
        '--platforms',
        'container:runc',
        '--rounds',
        '2',
        '--json',
        '--data-dir',
        dataDir,
      ],
      { NATS_URL: stack.nats.url, ...loadEnv },
    );
    expect(await run.exited(), run.stderr()).toBe(0);
    const { runId } = JSON.parse(run.stdout()) as { runId: string };
    await waitFor('the results to be ingested', () => consumerIsIdle(stack.nc));
    const rows = await stack.testStore.store.query<{ workload: string; metric: string }>(
      sql`SELECT workload, metric FROM (${dedupedResults({ runId, platform: 'container' })}) WHERE workload IN ('density-load', 'interference') OR metric = 'density-at-slo' ORDER BY workload, metric`,
    );
    expect(rows.map((row) => `${row.workload}/${row.metric}`)).toEqual([
      'density-load/memory-per-instance-at-1',
      'density-load/memory-per-instance-at-2',
      'density-load/memory-per-instance-at-4',
      'density-load/slo-share-at-1',
      'density-load/slo-share-at-2',
      'density-load/slo-share-at-4',
      'density-load/throughput-per-instance-at-1',
      'density-load/throughput-per-instance-at-2',
      'density-load/throughput-per-instance-at-4',
      'instance/density-at-slo',
      'interference/beside-fork-storm',
    ]);
    expect(cgroupsOfRun(runId)).toEqual([]);

    // 5,000 instances on this host, as measured here: every option says how many hosts.
    const question = join(dataDir, 'question.json');
    await writeFile(
      question,
      JSON.stringify({
        workload: 'web',
        os: { family: 'linux' },
        lifetimeSeconds: 86_400,
        instances: 5000,
        trust: 'trusted',
      }),
    );
    const { clickhouse } = stack.testStore;
    const advise = await runBerth(['advise', question, '--json'], {
      NATS_URL: stack.nats.url,
      CLICKHOUSE_URL: clickhouse?.url ?? '',
      CLICKHOUSE_DATABASE: clickhouse?.database ?? '',
      BERTH_ADVISOR_PORT: '1',
      BERTH_DATA_DIR: dataDir,
    });
    expect(advise.code, advise.stderr).toBe(0);
    const advice = JSON.parse(advise.stdout) as {
      options: { placement: string; runtime?: string; hostsNeeded?: number }[];
    };
    // Runc was measured here: its option counts the hosts the instances need.
    const runc = advice.options.find((option) => option.runtime === 'runc');
    expect(runc?.hostsNeeded).toBeGreaterThanOrEqual(1);
    for (const option of advice.options) {
      if (option.hostsNeeded === undefined) {
        // Only a container runtime measured nowhere lacks the overhead to count hosts with.
        expect(option.placement).toBe('container');
        expect(option.runtime).not.toBe('runc');
      } else {
        expect(Number.isInteger(option.hostsNeeded)).toBe(true);
        expect(option.hostsNeeded).toBeGreaterThanOrEqual(1);
      }
    }
  }, 600_000);

  it('stops cleanly on SIGINT during a step and keeps the steps completed', async () => {
    const own = await tempDir('load-stop');
    const run = spawnBerth(['agent', 'run', '--platforms', 'process', '--data-dir', own], {
      NATS_URL: 'nats://127.0.0.1:1',
      BERTH_LOG_LEVEL: 'info',
      ...loadEnv,
    });
    try {
      // The inventory, start-up launches and idle density come first.
      await waitFor(
        'the second step to begin',
        () => run.stderr().includes('density at load: 2 at once'),
        180_000,
      );
      run.child.kill('SIGINT');
      expect(await run.exited(), run.stderr()).toBe(0);
      const outbox = await readFile(join(own, 'agent', 'outbox.jsonl'), 'utf8');
      const steps = outbox
        .split('\n')
        .filter((line) => line.includes('"density-load"'))
        .map((line) => (JSON.parse(line) as { add: ResultBatch }).add);
      expect(steps.map((batch) => settingOf(batch, 'loadRunners'))).toEqual([1]);
      expect(settingOf(steps[0] as ResultBatch, 'loadEndedBy')).toBe('stopped');
      expect(processesMatching(own)).toEqual([]);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGTERM');
      await run.exited();
      await removeDir(own);
    }
  }, 240_000);
});
