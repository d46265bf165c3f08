import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSafeToken, type ResultBatch } from '../../contracts/index.ts';
import { createOciDriver } from '../../agents/host-agent/drivers/container-oci.ts';
import type { PlatformDriver } from '../../agents/host-agent/drivers/driver.ts';
import { createProcessDriver } from '../../agents/host-agent/drivers/process.ts';
import { runnerBundle } from '../../agents/host-agent/runner-bundle.ts';
import { newRunId } from '../../agents/host-agent/ids.ts';
import { SUITES, type Suite } from '../../agents/host-agent/suite-catalogue.ts';
import type { SuiteEvent } from '../../agents/host-agent/suite-run.ts';
import { runSuite } from '../../agents/host-agent/suite.ts';
import {
  cgroupsOfRun,
  entriesOf,
  processesMatching,
  ociContainers,
} from '../../support/leftovers.ts';
import { removeDir, tempDir } from '../../support/servers.ts';

/** One cheap workload, one round of two launches: what these tests look at is measured from outside. */
function smallSuite(densityBudgetMiB: number, densityCap: number): Suite {
  return {
    ...SUITES.quick,
    workloads: ['syscall-fstat'],
    timeCapMs: 300,
    rounds: 1,
    maxRounds: 1,
    launchesPerRound: 2,
    densityBudgetMiB,
    densityCap,
  };
}

interface Outcome {
  readonly runId: string;
  readonly batches: ResultBatch[];
  readonly events: SuiteEvent[];
}

async function run(
  drivers: readonly PlatformDriver[],
  suite: Suite,
  baseline?: PlatformDriver,
  checkpoint?: (batches: readonly ResultBatch[]) => Promise<void>,
): Promise<Outcome> {
  const runId = newRunId();
  const batches: ResultBatch[] = [];
  const events: SuiteEvent[] = [];
  await runSuite({
    hostId: 'suite-test',
    runId,
    suite,
    drivers,
    ...(baseline === undefined ? {} : { baseline }),
    // Another test file runs beside this one: its load does not make rounds run again here.
    disturbance: { maxSteal: 1, maxForeignLoadCores: 64 },
    ...(checkpoint === undefined ? {} : { checkpoint }),
    deliver: (batch) => {
      batches.push(batch);
      return Promise.resolve();
    },
    onEvent: (event) => events.push(event),
  });
  return { runId, batches, events };
}

function instanceBatch(outcome: Outcome, platform: string): ResultBatch {
  const batch = outcome.batches.find(
    (each) => each.platform.name === platform && each.workload.name === 'instance',
  );
  if (batch === undefined) throw new Error(`no instance result for ${platform}`);
  return batch;
}

function metric(batch: ResultBatch, name: string): number | undefined {
  return batch.metrics.find((each) => each.name === name)?.value;
}

/** A real driver whose first `failures` starts fail, as a guest that hangs in its boot would. */
function failingFirst(driver: PlatformDriver, failures: number): PlatformDriver {
  let calls = 0;
  return {
    ...driver,
    start: (options) => {
      calls += 1;
      return calls <= failures
        ? Promise.reject(new Error(`start ${calls} refused by the test`))
        : driver.start(options);
    },
  };
}

describe('agent suite, measured from outside the instances', () => {
  let dataDir: string;
  let processDriver: PlatformDriver;
  let containerDriver: PlatformDriver;

  beforeAll(async () => {
    dataDir = await tempDir('suite');
    const runner = await runnerBundle(dataDir);
    processDriver = createProcessDriver(runner, join(dataDir, 'scratch'));
    containerDriver = createOciDriver('runc', runner, join(dataDir, 'bundles'));
  });

  afterAll(async () => {
    await removeDir(dataDir);
  });

  it('counts the instances that fit in a memory budget by starting them side by side', async () => {
    const outcome = await run([processDriver], smallSuite(40, 64));
    const batch = instanceBatch(outcome, 'process');
    const density = metric(batch, 'density');
    const perInstance = metric(batch, 'memory-peak');
    const settings = batch.platform.settings;
    expect(settings['densityStoppedBy']).toBe('budget');
    expect(density).toBeGreaterThanOrEqual(1);
    // What fitted stays within the budget, and one more instance would not have.
    expect(settings['densityUsedMiB']).toBeLessThanOrEqual(40);
    expect(Number(settings['densityUsedMiB']) + (perInstance ?? 0) * 1.5).toBeGreaterThan(40);
    expect(cgroupsOfRun(outcome.runId)).toEqual([]);
  });

  it('stops the density step at its cap and says so', async () => {
    const outcome = await run([processDriver], smallSuite(4096, 3));
    const batch = instanceBatch(outcome, 'process');
    expect(metric(batch, 'density')).toBe(3);
    expect(batch.platform.settings['densityStoppedBy']).toBe('cap');
  });

  it('takes memory overhead net of the bare process measured in the same run', async () => {
    const outcome = await run([containerDriver], smallSuite(64, 2), processDriver);
    const batch = instanceBatch(outcome, 'container');
    const peak = metric(batch, 'memory-peak');
    const overhead = metric(batch, 'memory-overhead');
    const baseline = /: ([\d.]+) MiB$/.exec(
      String(batch.platform.settings['memoryOverheadBaseline']),
    );
    expect(baseline).not.toBeNull();
    expect(peak).toBeDefined();
    expect(overhead).toBeCloseTo((peak ?? 0) - Number(baseline?.[1]), 0);
    // The bare process, measured in every round as the pair of each comparison, is published too.
    expect([...new Set(outcome.batches.map((each) => each.platform.name))].sort()).toEqual([
      'container',
      'process',
    ]);
    expect(ociContainers('runc', outcome.runId)).toEqual([]);
    expect(entriesOf(join(dataDir, 'bundles'))).toEqual([]);
  });

  it('keeps a checkpoint after each round, the last what it publishes', async () => {
    const checkpoints: (readonly ResultBatch[])[] = [];
    const suite = { ...smallSuite(64, 2), rounds: 2, maxRounds: 2 };
    const outcome = await run([processDriver], suite, undefined, (batches) => {
      checkpoints.push(batches);
      return Promise.resolve();
    });
    expect(checkpoints).toHaveLength(2);
    const rounds = (batches: readonly ResultBatch[]): number[] =>
      batches.map((batch) => (batch.schemaVersion === 2 ? batch.rounds.count : 0));
    expect(rounds(checkpoints[0] ?? [])).toEqual([1, 1]);
    expect(rounds(checkpoints[1] ?? [])).toEqual([2, 2]);
    expect(checkpoints[1]?.map((batch) => batch.id)).toEqual(
      outcome.batches.map((batch) => batch.id),
    );
  });

  it('tries a failed launch once more and records it', async () => {
    const outcome = await run([failingFirst(processDriver, 1)], smallSuite(64, 2));
    const batch = instanceBatch(outcome, 'process');
    expect(batch.platform.settings['failedLaunches']).toBe(1);
    expect(batch.metrics.find((each) => each.name === 'startup')?.samples).toBe(2);
    expect(outcome.events).toContainEqual(
      expect.objectContaining({
        kind: 'workload-failed',
        message: expect.stringMatching(/^launch 1 failed, trying again: start 1 refused/) as string,
      }),
    );
  });

  it('reports a platform that keeps failing and goes on with the next one', async () => {
    const broken: PlatformDriver = { ...failingFirst(processDriver, 1_000), platform: 'broken' };
    const outcome = await run([broken, processDriver], smallSuite(64, 2));
    expect(outcome.events).toContainEqual(
      expect.objectContaining({
        kind: 'workload-failed',
        platform: 'broken',
        message: expect.stringMatching(/^the platform failed: start 2 refused/) as string,
      }),
    );
    expect(outcome.batches.map((each) => `${each.platform.name}/${each.workload.name}`)).toEqual([
      'process/instance',
      'process/syscall-fstat',
    ]);
  });

  it('gives the runner on the bare process the same small environment as in a container', async () => {
    const id = `${newRunId()}-env`;
    const instance = await processDriver.start({
      id,
      runnerArgs: ['--workloads', '', '--hold'],
    });
    try {
      for await (const { line } of instance.lines) if (line.type === 'done') break;
      const [pid] = processesMatching(id);
      expect(pid).toBeDefined();
      const environ = await readFile(`/proc/${pid ?? ''}/environ`, 'utf8');
      const names = environ
        .split('\0')
        .filter(Boolean)
        .map((entry) => entry.split('=')[0])
        .sort();
      // The shell that puts the runner in its cgroup adds PWD; nothing comes from the agent.
      expect(names).toEqual(['HOME', 'PATH', 'PWD']);
    } finally {
      await instance.stop();
    }
  });

  it('gives every result of a run a distinct, subject-safe id', async () => {
    const outcome = await run([processDriver, containerDriver], smallSuite(64, 2));
    const ids = outcome.batches.map((each) => each.id);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) {
      expect(isSafeToken(id)).toBe(true);
      expect(id.startsWith(`${outcome.runId}-`)).toBe(true);
    }
  });
});
