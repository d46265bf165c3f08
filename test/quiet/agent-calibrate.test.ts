import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBerth } from '../../support/cli.ts';
import { entriesOf, processesMatching } from '../../support/leftovers.ts';
import { removeDir, tempDir } from '../../support/servers.ts';

/** The canary's instance cgroups: `<calibration id>-r<round>-<arm>-process-w`. */
const CANARY_CGROUP = /-r\d+-(bare|quota)-process-w$/;

/** Canary cgroups left in the v1 memory and cpu hierarchies (as on this host). */
function canaryCgroups(): string[] {
  return ['memory', 'cpu']
    .flatMap((hierarchy) => entriesOf(join('/sys/fs/cgroup', hierarchy, 'berth')))
    .filter((name) => CANARY_CGROUP.test(name));
}

describe('berth agent calibrate', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await tempDir('calibrate');
  });

  afterAll(async () => {
    await removeDir(dataDir);
  });

  it('measures the process platform under a 50% CPU quota at 0.5 of bare, and leaves nothing', async () => {
    const run = await runBerth(['agent', 'calibrate', '--json', '--rounds', '3'], {
      BERTH_DATA_DIR: dataDir,
    });
    expect(run.code, run.stderr).toBe(0);
    const calibration = JSON.parse(run.stdout) as {
      expected: number;
      ratio: number;
      ci95: [number, number];
      rounds: number;
      ok: boolean;
    };
    expect(canaryCgroups()).toEqual([]);
    expect(entriesOf(join(dataDir, 'agent', 'scratch'))).toEqual([]);
    expect(processesMatching(dataDir)).toEqual([]);
    expect(calibration).toMatchObject({ expected: 0.5, rounds: 3 });
    const margin = 0.03;
    const [low, high] = calibration.ci95;
    expect(low).toBeLessThanOrEqual(calibration.ratio);
    expect(high).toBeGreaterThanOrEqual(calibration.ratio);
    // The interval covers 0.5, or misses it by no more than the margin.
    expect(high, run.stdout).toBeGreaterThanOrEqual(0.5 * (1 - margin));
    expect(low, run.stdout).toBeLessThanOrEqual(0.5 * (1 + margin));
    expect(calibration.ok).toBe(true);
    expect(run.stderr).toMatch(/calibration round 3\/3: quota \d+ hash\/s/);
  }, 120_000);

  it('prints its finding in one line', async () => {
    const run = await runBerth(['agent', 'calibrate', '--rounds', '2', '--quota', '0.25'], {
      BERTH_DATA_DIR: dataDir,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^(calibration|uncalibrated): \d+\.\d\d× \[\d+\.\d\d–\d+\.\d\d\] of bare at a 25% CPU quota — expected 0\.25(: ok|, and the interval lies (above|below) it by more than the 3% margin: .+)\n$/,
    );
    expect(canaryCgroups()).toEqual([]);
  }, 120_000);

  it.each([
    [
      ['--rounds', '1'],
      /--rounds \/ BERTH_ROUNDS must be from 2 to 100 for berth agent calibrate .*, got 1/,
    ],
    [['--margin', '0.9'], /--margin \/ BERTH_EQUIVALENCE_MARGIN must be from 0.005 to 0.5/],
    [['--quota', '0'], /--quota must be a share of one CPU from 0.01 to 1, got "0"/],
  ])('refuses %j with exit code 2, naming the setting', async (args, message) => {
    const run = await runBerth(['agent', 'calibrate', ...args], { BERTH_DATA_DIR: dataDir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });
});
