import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultBatch, ResultBatchV2 } from '../../contracts/index.ts';
import { selectDrivers } from '../../agents/host-agent/agent-drivers.ts';
import { isCalibrated } from '../../agents/host-agent/calibration.ts';
import type { PlatformDriver } from '../../agents/host-agent/drivers/driver.ts';
import { newRunId } from '../../agents/host-agent/ids.ts';
import { SUITES, type Suite } from '../../agents/host-agent/suite-catalogue.ts';
import type { SuiteEvent, SuiteOutcome } from '../../agents/host-agent/suite-run.ts';
import { runSuite } from '../../agents/host-agent/suite.ts';
import { cgroupsOfRun } from '../../support/leftovers.ts';
import { removeDir, tempDir } from '../../support/servers.ts';

const execProgram = promisify(execFile);

/** Equivalence margin of these runs. */
const MARGIN = 0.03;

/** Three rounds of two workloads, one launch per platform per round, no extra rounds. */
const SMALL_SUITE: Suite = {
  ...SUITES.quick,
  workloads: ['cpu-sha256', 'syscall-fstat'],
  timeCapMs: 600,
  rounds: 3,
  maxRounds: 3,
  launchesPerRound: 1,
  densityBudgetMiB: 64,
  densityCap: 1,
};

/**
 * The hog's suite: the CPU workload in samples of a second (after shorter ones), rounds added
 * while the comparison is unclear, up to the full suite's cap. Quarter-second samples differ by
 * 2-4% from round to round here, so three of them seldom bound an interval inside the margin.
 */
const HOG_SUITE: Suite = {
  ...SMALL_SUITE,
  workloads: ['cpu-sha256'],
  timeCapMs: 3_000,
  minSampleMs: 1_000,
  maxRounds: SUITES.full.maxRounds,
};

interface Outcome extends SuiteOutcome {
  readonly runId: string;
  readonly batches: ResultBatchV2[];
}

async function run(
  drivers: readonly PlatformDriver[],
  suite: Suite,
  onEvent?: (event: SuiteEvent) => void,
): Promise<Outcome> {
  const runId = newRunId();
  const batches: ResultBatch[] = [];
  const outcome = await runSuite({
    hostId: 'rounds-test',
    runId,
    suite,
    drivers,
    margin: MARGIN,
    deliver: (batch) => {
      batches.push(batch);
      return Promise.resolve();
    },
    ...(onEvent === undefined ? {} : { onEvent }),
  });
  return {
    ...outcome,
    runId,
    batches: batches.filter((batch): batch is ResultBatchV2 => batch.schemaVersion === 2),
  };
}

function throughput(outcome: Outcome, platform: string, workload: string): number[] {
  const batch = outcome.batches.find(
    (each) => each.platform.name === platform && each.workload.name === workload,
  );
  return batch?.metrics.find((metric) => metric.name === 'throughput')?.roundValues ?? [];
}

/** A CPU hog outside this process's tree (init adopts it), so it counts as foreign load. */
async function foreignHog(): Promise<() => void> {
  const source = 'const end = Date.now() + 60_000; while (Date.now() < end);';
  const { stdout } = await execProgram('sh', [
    '-c',
    `"${process.execPath}" -e '${source}' </dev/null >/dev/null 2>&1 & echo $!`,
  ]);
  const pid = Number(stdout.trim());
  return () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
}

describe('a suite in randomised interleaved rounds', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await tempDir('rounds');
  });

  afterAll(async () => {
    await removeDir(dataDir);
  });

  it('interleaves process, runc and a TCG VM round by round, pairs each ratio with its round and calibrates', async () => {
    const drivers = await selectDrivers(
      {
        dataDir,
        libvirtUri: 'test:///default',
        containersPerVm: 1,
        dockerEngine: 'auto',
        libvirtDaemon: 'auto',
      },
      ['process', 'container:runc', 'vm:qemu-microvm'],
    );
    const outcome = await run(drivers, SMALL_SUITE);
    const kept = outcome.rounds.filter((round) => !round.repeated);
    expect(kept.map((round) => round.round)).toEqual([1, 2, 3]);
    const names = ['canary', 'container:runc', 'process:node', 'vm:qemu-microvm'];
    for (const round of kept) expect([...round.order].sort()).toEqual(names);
    // Deterministic from the run id; all three alike would happen once in 576 run ids.
    expect(new Set(kept.map((round) => round.order.join())).size).toBeGreaterThan(1);

    for (const platform of ['container', 'vm']) {
      const values = throughput(outcome, platform, 'cpu-sha256');
      const baselines = throughput(outcome, 'process', 'cpu-sha256');
      const comparison = outcome.comparisons.find(
        (each) => each.platform === platform && each.workload === 'cpu-sha256',
      );
      expect(values).toHaveLength(3);
      expect(comparison?.perRound).toEqual(
        values.map((value, round) => value / (baselines[round] ?? Number.NaN)),
      );
    }
    expect(outcome.comparisons).toHaveLength(4);
    for (const batch of outcome.batches) {
      expect(batch.rounds).toMatchObject({ seed: outcome.runId });
      expect(batch.rounds.count).toBeGreaterThanOrEqual(3);
      expect(batch.hostFingerprint).toBe(outcome.hostFingerprint);
    }
    expect(outcome.batches).toHaveLength(3 * 3);

    // The canary: the process under a 50% CPU quota measures about half of bare.
    expect(outcome.calibration.ok, JSON.stringify(outcome.calibration)).toBe(true);
    expect(outcome.calibration).toMatchObject({ expected: 0.5 });
    if ('ci95' in outcome.calibration) {
      expect(isCalibrated(outcome.calibration.ci95, 0.5, MARGIN)).toBe(true);
    }
    expect(outcome.batches.every((batch) => !batch.uncalibrated)).toBe(true);
    expect(cgroupsOfRun(outcome.runId)).toEqual([]);
  }, 300_000);

  it('runs a round again when a CPU hog disturbs one platform, and runc stays level with the process', async () => {
    const drivers = await selectDrivers(
      {
        dataDir,
        libvirtUri: 'test:///default',
        containersPerVm: 1,
        dockerEngine: 'auto',
        libvirtDaemon: 'auto',
      },
      ['process', 'container:runc'],
    );
    // The hog starts asynchronously: it is stopped when the round ends even if it came up
    // only then, so it never runs into the next round.
    let hog: Promise<() => void> | undefined;
    let hogged = false;
    let round = 0;
    const outcome = await run(drivers, HOG_SUITE, (event) => {
      if (event.kind === 'round') {
        round = event.round;
        void hog?.then((stop) => {
          stop();
        });
        hog = undefined;
      }
      if (event.kind === 'step' && event.platform === 'container' && round === 1 && !hogged) {
        hogged = true;
        hog = foreignHog();
      }
    });
    (await hog)?.();
    const [first] = outcome.rounds;
    expect(first).toMatchObject({ round: 1, repeated: true });
    expect(first?.disturbed).toMatch(/foreign load/);
    expect(outcome.batches[0]?.rounds.disturbed).toBeGreaterThanOrEqual(1);
    // The hog's round is measured again, so no kept round carries its slowdown, and runc
    // measures level with the bare process.
    const cpu = outcome.comparisons.find(
      (each) => each.platform === 'container' && each.workload === 'cpu-sha256',
    );
    expect(cpu?.verdict, JSON.stringify(cpu)).toBe('same');
    expect(cpu?.perRound.length).toBeGreaterThanOrEqual(3);
  }, 300_000);
});
