import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Reads a file as text; undefined when it cannot be read. */
export type ReadText = (path: string) => string | undefined;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** Where the v1 cpu controller is mounted, from /proc/self/mountinfo; undefined when it is not. */
function v1CpuMount(read: ReadText): string | undefined {
  for (const line of (read('/proc/self/mountinfo') ?? '').split('\n')) {
    const [mount, filesystem] = line.split(' - ');
    const [type, , options] = (filesystem ?? '').split(' ');
    if (type === 'cgroup' && (options ?? '').split(',').includes('cpu')) {
      return mount?.split(' ')[4];
    }
  }
  return undefined;
}

/** `path` and each folder above it, up to the root of the hierarchy. */
function selfAndAncestors(path: string): string[] {
  const parts = path.split('/').filter((part) => part !== '');
  return parts.map((_, index) => `/${parts.slice(0, parts.length - index).join('/')}`).concat('/');
}

/** quota ÷ period of one cgroup: v2 `cpu.max` ("max 100000" or "50000 100000"). */
function v2Limit(text: string | undefined): number | undefined {
  const [quota, period] = (text ?? '').trim().split(/\s+/);
  const share = Number(quota) / Number(period);
  return quota === 'max' || !(share > 0) ? undefined : share;
}

/** quota ÷ period of one cgroup: v1 `cpu.cfs_quota_us` (-1: none) over `cpu.cfs_period_us`. */
function v1Limit(quota: string | undefined, period: string | undefined): number | undefined {
  const share = Number(quota) / Number(period);
  return Number(quota) < 0 || !(share > 0) ? undefined : share;
}

/**
 * The CPUs a cgroup CPU quota lets this process use (the smallest over its cgroup and the
 * ones above it; v1 `cpu.cfs_quota_us`, v2 `cpu.max`), or undefined when none holds it.
 */
export function cgroupCpuLimit(read: ReadText = readText): number | undefined {
  const limits: number[] = [];
  for (const line of (read('/proc/self/cgroup') ?? '').split('\n')) {
    const [id, controllers, path] = line.split(':');
    if (path === undefined) continue;
    if (id === '0' && controllers === '') {
      for (const folder of selfAndAncestors(path)) {
        const share = v2Limit(read(`/sys/fs/cgroup${folder === '/' ? '' : folder}/cpu.max`));
        if (share !== undefined) limits.push(share);
      }
    } else if ((controllers ?? '').split(',').includes('cpu')) {
      const mount = v1CpuMount(read);
      if (mount === undefined) continue;
      for (const folder of selfAndAncestors(path)) {
        const dir = `${mount}${folder === '/' ? '' : folder}`;
        const share = v1Limit(read(`${dir}/cpu.cfs_quota_us`), read(`${dir}/cpu.cfs_period_us`));
        if (share !== undefined) limits.push(share);
      }
    }
  }
  return limits.length === 0 ? undefined : Math.min(...limits);
}

/** The CPUs this process may use: the cores, or fewer where a cgroup CPU quota holds it. */
export function usableCpus(read: ReadText = readText): number {
  return Math.min(availableParallelism(), cgroupCpuLimit(read) ?? Number.POSITIVE_INFINITY);
}
