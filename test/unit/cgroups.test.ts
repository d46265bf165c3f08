import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cgroupVersion, peakMemoryFileOf, staleCgroups } from '../../agents/host-agent/cgroups.ts';

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

  it("finds the peak memory file of a process's cgroup, v1 memory controller first", () => {
    const hybrid = '9:name=systemd:/docker/abc\n4:memory:/docker/abc\n1:cpu,cpuacct:/x\n0::/\n';
    expect(peakMemoryFileOf(hybrid, '/cg')).toBe('/cg/memory/docker/abc/memory.max_usage_in_bytes');
    const unified = '0::/system.slice/docker-abc.scope\n';
    expect(peakMemoryFileOf(unified, '/cg')).toBe('/cg/system.slice/docker-abc.scope/memory.peak');
    expect(peakMemoryFileOf('', '/cg')).toBeUndefined();
  });
});
