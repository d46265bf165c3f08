import { describe, expect, it } from 'vitest';
import { cgroupCpuLimit, type ReadText } from '../../lib/cpu-limit.ts';

/** A file system of these files only. */
const filesOf =
  (files: Readonly<Record<string, string>>): ReadText =>
  (path) =>
    files[path];

const V1_MOUNTS = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
].join('\n');

describe('the CPUs a cgroup quota lets a process use', () => {
  it('takes the smallest v1 quota over its cgroup and those above it', () => {
    const read = filesOf({
      '/proc/self/mountinfo': V1_MOUNTS,
      '/proc/self/cgroup': '4:memory:/a/b\n2:cpu,cpuacct:/a/b\n0::/\n',
      '/sys/fs/cgroup/cpu,cpuacct/a/b/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu,cpuacct/a/b/cpu.cfs_period_us': '100000\n',
      '/sys/fs/cgroup/cpu,cpuacct/a/cpu.cfs_quota_us': '150000\n',
      '/sys/fs/cgroup/cpu,cpuacct/a/cpu.cfs_period_us': '100000\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    expect(cgroupCpuLimit(read)).toBe(1.5);
  });

  it('reads v2 cpu.max, where "max" is no limit', () => {
    const read = filesOf({
      '/proc/self/mountinfo': '30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw',
      '/proc/self/cgroup': '0::/svc/worker\n',
      '/sys/fs/cgroup/svc/worker/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/svc/cpu.max': '50000 100000\n',
    });
    expect(cgroupCpuLimit(read)).toBe(0.5);
  });

  it('is undefined with no quota, and where nothing can be read', () => {
    const none = filesOf({
      '/proc/self/mountinfo': V1_MOUNTS,
      '/proc/self/cgroup': '2:cpu,cpuacct:/\n0::/\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
      '/sys/fs/cgroup/cpu.max': 'max 100000\n',
    });
    expect(cgroupCpuLimit(none)).toBeUndefined();
    expect(cgroupCpuLimit(filesOf({}))).toBeUndefined();
  });
});
