import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DISTURBANCE,
  descendantsOf,
  fingerprintOf,
  governorsFact,
  isDisturbed,
  mitigationsFact,
  parseCgroupProcs,
  parseCpuTimes,
  parseProcessStat,
  readHostFingerprint,
  sampleBetween,
  selectedChoice,
  startHostSample,
  type HostSample,
  type HostSnapshot,
  type ProcessTimes,
} from '../../agents/host-agent/host-state.ts';

/** /proc/stat of a 2-CPU host: user nice system idle iowait irq softirq steal guest guest_nice. */
const procStat = (user: number, idle: number, iowait: number, steal: number): string =>
  [
    `cpu  ${user} 0 0 ${idle} ${iowait} 0 0 ${steal} 0 0`,
    `cpu0 ${user / 2} 0 0 ${idle / 2} ${iowait / 2} 0 0 ${steal / 2} 0 0`,
    `cpu1 ${user / 2} 0 0 ${idle / 2} ${iowait / 2} 0 0 ${steal / 2} 0 0`,
    'intr 1 0',
    'procs_running 3',
    'procs_blocked 0',
    '',
  ].join('\n');

const proc = (pid: number, ppid: number, cpu: number, started = 1): ProcessTimes => ({
  pid,
  ppid,
  started,
  cpu,
});

const snapshot = (
  atMs: number,
  stat: string,
  processes: readonly ProcessTimes[],
  berth: readonly number[],
): HostSnapshot => ({ atMs, cpu: parseCpuTimes(stat), processes, berth: new Set(berth) });

const sample = (steal: number, foreignLoadCores: number): HostSample => ({
  seconds: 10,
  steal,
  iowait: 0,
  ownCores: 1,
  foreignLoadCores,
});

describe('host state: parsing', () => {
  it('reads the aggregate cpu line and counts the CPUs', () => {
    expect(parseCpuTimes(procStat(300, 1000, 40, 60))).toEqual({
      busy: 300,
      iowait: 40,
      steal: 60,
      total: 1400,
      cpus: 2,
    });
    expect(() => parseCpuTimes('intr 1 0\n')).toThrow(/no aggregate cpu line/);
  });

  it('reads a process line whose name holds spaces and parentheses', () => {
    const line =
      '4242 (node (hog) x) R 17 4242 13 0 -1 4194304 98 0 0 0 150 25 7 3 20 0 1 0 267897 3133440 412 0';
    expect(parseProcessStat(line)).toEqual({ pid: 4242, ppid: 17, started: 267897, cpu: 185 });
    expect(parseProcessStat('4242 (cut short) R 17 4242')).toBeUndefined();
    expect(parseProcessStat('')).toBeUndefined();
  });

  it('reads the pids of cgroup.procs', () => {
    expect(parseCgroupProcs('12\n345\n\n')).toEqual([12, 345]);
    expect(parseCgroupProcs('')).toEqual([]);
  });

  it("finds Berth's processes: the roots and every descendant, nothing else", () => {
    const processes = [proc(1, 0, 0), proc(10, 1, 0), proc(11, 10, 0), proc(12, 11, 0)];
    const more = [proc(20, 1, 0), proc(30, 1, 0), proc(31, 30, 0)];
    expect([...descendantsOf([...processes, ...more], [10, 30])].sort()).toEqual([
      10, 11, 12, 30, 31,
    ]);
  });
});

describe('host state: a sample between two snapshots', () => {
  it('gives steal and iowait as shares of all CPU time, and the interval in seconds', () => {
    const start = snapshot(1_000, procStat(0, 0, 0, 0), [], []);
    const end = snapshot(3_000, procStat(100, 200, 40, 60), [], []);
    expect(sampleBetween(start, end)).toMatchObject({ seconds: 2, steal: 0.15, iowait: 0.1 });
  });

  it("counts as foreign the busy CPU that is not Berth's", () => {
    // 400 ticks over 2 CPUs: 300 busy, of which the agent (1) and its runner (2) used 150.
    const start = snapshot(
      0,
      procStat(0, 0, 0, 0),
      [proc(1, 0, 50), proc(2, 1, 10), proc(9, 0, 5)],
      [1, 2],
    );
    const end = snapshot(
      2_000,
      procStat(300, 100, 0, 0),
      [proc(1, 0, 100), proc(2, 1, 110), proc(9, 0, 155)],
      [1, 2],
    );
    const result = sampleBetween(start, end);
    expect(result.ownCores).toBeCloseTo(0.75);
    expect(result.foreignLoadCores).toBeCloseTo(0.75);
  });

  it("does not count twice a child of Berth's that exited and was waited for", () => {
    // The runner (2) had used 500 ticks before the start and 100 after; the agent (1) waited
    // for it, so its cutime took in all 600. Berth used 100 + 20 of the agent's own.
    const start = snapshot(0, procStat(0, 0, 0, 0), [proc(1, 0, 50), proc(2, 1, 500)], [1, 2]);
    const end = snapshot(2_000, procStat(200, 200, 0, 0), [proc(1, 0, 670)], [1]);
    const result = sampleBetween(start, end);
    expect(result.ownCores).toBeCloseTo(0.6);
    expect(result.foreignLoadCores).toBeCloseTo(0.4);
  });

  it('counts a process that started and exited inside the interval in the parent that waited', () => {
    const start = snapshot(0, procStat(0, 0, 0, 0), [proc(1, 0, 0)], [1]);
    const end = snapshot(2_000, procStat(200, 200, 0, 0), [proc(1, 0, 200)], [1]);
    expect(sampleBetween(start, end)).toMatchObject({ ownCores: 1, foreignLoadCores: 0 });
  });

  it('counts none of the history of a Berth process that someone else waited for', () => {
    // Instance 5 (in a berth cgroup, its parent an engine's shim 4) used 900 ticks before
    // the start and exited inside it: only the interval's ticks can be lost, never the 900.
    const start = snapshot(
      0,
      procStat(0, 0, 0, 0),
      [proc(1, 0, 0), proc(4, 0, 0), proc(5, 4, 900)],
      [1, 5],
    );
    const end = snapshot(2_000, procStat(100, 300, 0, 0), [proc(1, 0, 0), proc(4, 0, 0)], [1]);
    expect(sampleBetween(start, end)).toMatchObject({ ownCores: 0, foreignLoadCores: 0.5 });
  });

  it('tells a reused pid from the process that had it', () => {
    // Pid 2 exited (it had 1000 ticks) and a new process took the pid in the interval.
    const start = snapshot(0, procStat(0, 0, 0, 0), [proc(1, 0, 0), proc(2, 1, 1000, 5)], [1, 2]);
    const end = snapshot(
      2_000,
      procStat(200, 200, 0, 0),
      [proc(1, 0, 1100), proc(2, 1, 40, 99)],
      [1, 2],
    );
    expect(sampleBetween(start, end).ownCores).toBeCloseTo(1.4 / 2);
  });

  it('gives zeros, not NaN, for an interval of no ticks', () => {
    const start = snapshot(5, procStat(10, 10, 0, 0), [], []);
    expect(sampleBetween(start, start)).toEqual({
      seconds: 0,
      steal: 0,
      iowait: 0,
      ownCores: 0,
      foreignLoadCores: 0,
    });
  });
});

describe('host state: disturbed rounds', () => {
  it('passes a quiet round', () => {
    expect(isDisturbed(sample(0.01, 0.2))).toEqual({ disturbed: false });
    expect(isDisturbed(sample(0.05, 0.5))).toEqual({ disturbed: false });
  });

  it('names the figure and the threshold it passed', () => {
    expect(isDisturbed(sample(0.12, 0))).toEqual({ disturbed: true, why: 'steal 12% over 5%' });
    expect(isDisturbed(sample(0, 1.234))).toEqual({
      disturbed: true,
      why: 'foreign load 1.23 cores over 0.5 cores',
    });
    expect(isDisturbed(sample(0.054, 0.75)).why).toBe(
      'steal 5.4% over 5%; foreign load 0.75 cores over 0.5 cores',
    );
  });

  it('takes other thresholds', () => {
    expect(DEFAULT_DISTURBANCE).toEqual({ maxSteal: 0.05, maxForeignLoadCores: 0.5 });
    expect(isDisturbed(sample(0.12, 0.9), { maxSteal: 0.2, maxForeignLoadCores: 1 })).toEqual({
      disturbed: false,
    });
  });
});

describe('host state: fingerprint', () => {
  it('reads the selected choice of a sysfs file', () => {
    expect(selectedChoice('always [madvise] never\n')).toBe('madvise');
    expect(selectedChoice('never\n')).toBe('never');
    expect(selectedChoice('')).toBe('unknown');
  });

  it('gives one governor when the CPUs agree, the set when they do not, unknown for none', () => {
    expect(governorsFact(['performance', 'performance'])).toBe('performance');
    expect(governorsFact(['powersave', 'performance', 'powersave'])).toBe('performance,powersave');
    expect(governorsFact([])).toBe('unknown');
  });

  it('joins the mitigations name=value, sorted by name', () => {
    expect(
      mitigationsFact([
        ['spectre_v2', 'Mitigation: Retpolines; STIBP: disabled\n'],
        ['meltdown', 'Mitigation: PTI\n'],
      ]),
    ).toBe('meltdown=Mitigation: PTI | spectre_v2=Mitigation: Retpolines; STIBP: disabled');
    expect(mitigationsFact([])).toBe('unknown');
  });

  it('hashes the facts whatever their order, and changes with any of them', () => {
    const facts = { kernel: '6.1.0', ksm: '0', 'runtime:container:runc': '1.1.12' };
    const hash = fingerprintOf(facts);
    expect(hash).toMatch(/^[0-9a-f]{12}$/);
    expect(fingerprintOf({ 'runtime:container:runc': '1.1.12', ksm: '0', kernel: '6.1.0' })).toBe(
      hash,
    );
    expect(fingerprintOf({ ...facts, ksm: '1' })).not.toBe(hash);
  });
});

describe('host state: this machine', () => {
  it('samples an interval with shares in [0, 1] and cores within the CPUs', async () => {
    const handle = await startHostSample();
    await sleep(200);
    const result = await handle.finish();
    expect(result.seconds).toBeGreaterThan(0.15);
    expect(result.seconds).toBeLessThan(5);
    for (const share of [result.steal, result.iowait]) {
      expect(share).toBeGreaterThanOrEqual(0);
      expect(share).toBeLessThanOrEqual(1);
    }
    const { cpus } = parseCpuTimes(await readFile('/proc/stat', 'utf8'));
    expect(result.ownCores).toBeGreaterThanOrEqual(0);
    expect(result.foreignLoadCores).toBeGreaterThanOrEqual(0);
    expect(result.ownCores + result.foreignLoadCores).toBeLessThanOrEqual(cpus);
  });

  it('reads every fact, and the same fingerprint twice', async () => {
    const versions = { 'process:node': process.versions.node };
    const first = await readHostFingerprint(versions);
    const second = await readHostFingerprint(versions);
    expect(second).toEqual(first);
    expect(Object.keys(first.facts).sort()).toEqual([
      'clocksource',
      'cpu-governor',
      'kernel',
      'ksm',
      'mitigations',
      'runtime:process:node',
      'transparent-hugepages',
    ]);
    for (const value of Object.values(first.facts)) expect(value).not.toBe('');
    expect(first.facts['runtime:process:node']).toBe(process.versions.node);
    expect(first.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect((await readHostFingerprint({})).fingerprint).not.toBe(first.fingerprint);
  });
});
