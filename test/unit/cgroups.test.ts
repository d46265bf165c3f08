import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cgroupVersion,
  createCgroup,
  peakMemoryFileOf,
  selfJoinCommands,
  staleCgroups,
} from '../../agents/host-agent/cgroups.ts';

describe('cgroups', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-cgroups-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('tells v1, hybrid, v2 and none apart', async () => {
    expect(cgroupVersion(root)).toBe('none');
    await mkdir(join(root, 'memory'));
    expect(cgroupVersion(root)).toBe('v1');
    await mkdir(join(root, 'unified'));
    expect(cgroupVersion(root)).toBe('hybrid');
    await writeFile(join(root, 'cgroup.controllers'), 'cpu memory\n');
    expect(cgroupVersion(root)).toBe('v2');
  });

  it('finds only old instance cgroups that no process is in', async () => {
    const make = async (name: string, procs: string, ageMs: number): Promise<string> => {
      const dir = join(root, 'memory', 'berth', name);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'cgroup.procs'), procs);
      const when = new Date(Date.now() - ageMs);
      await utimes(dir, when, when);
      return dir;
    };
    const stale = await make('run-a-process-s1', '', 120_000);
    const busy = await make('run-b-process-s1', '4242\n', 120_000);
    const young = await make('run-c-process-s1', '', 1_000);
    await mkdir(join(root, 'unified'));

    expect(await staleCgroups(root, 60_000)).toEqual([stale]);
    expect(existsSync(busy)).toBe(true);
    expect(existsSync(young)).toBe(true);
  });

  it('sets a CPU quota on v1 as cfs_quota_us over a 100 ms cfs_period_us', async () => {
    await mkdir(join(root, 'memory'));
    await mkdir(join(root, 'cpu'));
    const cgroup = await createCgroup('run-a-process-w', root, { cpuQuota: 0.5 });
    const cpuDir = join(root, 'cpu', 'berth', 'run-a-process-w');
    expect(await readFile(join(cpuDir, 'cpu.cfs_period_us'), 'utf8')).toBe('100000');
    expect(await readFile(join(cpuDir, 'cpu.cfs_quota_us'), 'utf8')).toBe('50000');
    expect(cgroup.procsFiles).toEqual([
      join(root, 'memory', 'berth', 'run-a-process-w', 'cgroup.procs'),
      join(cpuDir, 'cgroup.procs'),
    ]);
    await createCgroup('run-b-process-w', root);
    expect(existsSync(join(root, 'cpu', 'berth', 'run-b-process-w', 'cpu.cfs_quota_us'))).toBe(
      false,
    );
  });

  it('on v1 a shell moves itself in through tasks in every hierarchy, and a pid is joined to each', async () => {
    await mkdir(join(root, 'memory'));
    await mkdir(join(root, 'cpu'));
    const cgroup = await createCgroup('run-a-process-j', root);
    const memoryDir = join(root, 'memory', 'berth', 'run-a-process-j');
    const cpuDir = join(root, 'cpu', 'berth', 'run-a-process-j');
    expect(selfJoinCommands(cgroup)).toBe(
      `echo 0 > ${join(memoryDir, 'tasks')} && echo 0 > ${join(cpuDir, 'tasks')}`,
    );
    cgroup.join(4242);
    for (const file of cgroup.procsFiles) expect(await readFile(file, 'utf8')).toBe('4242');
  });

  it('on v2 a shell moves itself in through cgroup.procs', async () => {
    await writeFile(join(root, 'cgroup.controllers'), 'cpu memory\n');
    const cgroup = await createCgroup('run-a-process-j', root);
    const procs = join(root, 'berth', 'run-a-process-j', 'cgroup.procs');
    expect(selfJoinCommands(cgroup)).toBe(`echo 0 > ${procs}`);
    cgroup.join(4242);
    expect(await readFile(procs, 'utf8')).toBe('4242');
  });

  it('refuses a CPU quota on v1 without the cpu controller, and makes nothing', async () => {
    await mkdir(join(root, 'memory'));
    await expect(createCgroup('run-a-process-w', root, { cpuQuota: 0.5 })).rejects.toThrow(
      /CPU quota needs the cgroup v1 cpu controller.*none mounted at .*\/cpu/,
    );
    expect(existsSync(join(root, 'memory', 'berth', 'run-a-process-w'))).toBe(false);
  });

  it('sets a CPU quota on v2 as cpu.max, with the cpu controller enabled below berth/', async () => {
    await writeFile(join(root, 'cgroup.controllers'), 'cpu memory\n');
    await mkdir(join(root, 'berth'));
    await writeFile(join(root, 'berth', 'cgroup.controllers'), 'cpu memory\n');
    const cgroup = await createCgroup('run-a-process-w', root, { cpuQuota: 0.25 });
    expect(cgroup.version).toBe('v2');
    expect(await readFile(join(root, 'berth', 'cgroup.subtree_control'), 'utf8')).toBe('+cpu');
    expect(await readFile(join(root, 'berth', 'run-a-process-w', 'cpu.max'), 'utf8')).toBe(
      '25000 100000',
    );
  });

  it('refuses a CPU quota on v2 when berth/ lacks the cpu controller, and makes nothing', async () => {
    await writeFile(join(root, 'cgroup.controllers'), 'memory\n');
    await mkdir(join(root, 'berth'));
    await writeFile(join(root, 'berth', 'cgroup.controllers'), 'memory\n');
    await expect(createCgroup('run-a-process-w', root, { cpuQuota: 0.5 })).rejects.toThrow(
      /CPU quota needs the cgroup v2 cpu controller.*"memory"/,
    );
    expect(existsSync(join(root, 'berth', 'run-a-process-w'))).toBe(false);
  });

  it('refuses a CPU quota that is not a share of one CPU the kernel takes', async () => {
    await mkdir(join(root, 'memory'));
    await mkdir(join(root, 'cpu'));
    for (const cpuQuota of [0, 0.005, 1.5, Number.NaN]) {
      await expect(createCgroup('run-a-process-w', root, { cpuQuota })).rejects.toThrow(
        /share of one CPU from 0.01 to 1/,
      );
    }
    expect(existsSync(join(root, 'cpu', 'berth'))).toBe(false);
  });

  it("finds the peak memory file of a process's cgroup, v1 memory controller first", () => {
    const hybrid = '9:name=systemd:/docker/abc\n4:memory:/docker/abc\n1:cpu,cpuacct:/x\n0::/\n';
    expect(peakMemoryFileOf(hybrid, '/cg')).toBe('/cg/memory/docker/abc/memory.max_usage_in_bytes');
    const unified = '0::/system.slice/docker-abc.scope\n';
    expect(peakMemoryFileOf(unified, '/cg')).toBe('/cg/system.slice/docker-abc.scope/memory.peak');
    expect(peakMemoryFileOf('', '/cg')).toBeUndefined();
  });
});
