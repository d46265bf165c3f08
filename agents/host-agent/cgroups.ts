import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type CgroupVersion = 'v1' | 'v2' | 'hybrid' | 'none';

const ROOT = '/sys/fs/cgroup';

/** Which cgroup layout the host has: v2 (unified), v1, hybrid (v1 controllers plus v2), none. */
export function cgroupVersion(root = ROOT): CgroupVersion {
  if (existsSync(join(root, 'cgroup.controllers'))) return 'v2';
  if (existsSync(join(root, 'memory'))) return existsSync(join(root, 'unified')) ? 'hybrid' : 'v1';
  return 'none';
}

/** A cgroup Berth made for one instance, for memory and CPU accounting. */
export interface Cgroup {
  /** 'v1' or 'v2': the hierarchy whose memory controller this cgroup uses. */
  readonly version: 'v1' | 'v2';
  /** The cgroup.procs files a process is written to, to join this cgroup. */
  readonly procsFiles: readonly string[];
  /**
   * The files a single-threaded process writes `0` to, to move itself in before it execs what
   * it runs: v1's `tasks`, v2's cgroup.procs. A v1 thread moving itself skips the kernel's
   * global lock that a move by pid takes (taking it waits for an RCU grace period, milliseconds
   * on a busy host); v2 takes it either way.
   */
  readonly selfJoinFiles: readonly string[];
  /** Moves a running process into this cgroup, in every hierarchy it spans. */
  join(pid: number): void;
  /** Highest memory use so far, bytes (undefined where the kernel does not keep it). */
  peakMemoryBytes(): Promise<number | undefined>;
  /** Removes the cgroup (its processes must have exited). */
  remove(): Promise<void>;
}

async function readNumber(path: string): Promise<number | undefined> {
  try {
    const value = Number((await readFile(path, 'utf8')).trim());
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the instance folders, then their `berth` parent when nothing else is left in it. */
async function removeDirs(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) await removeCgroupTree(dir);
  await removeEmptyBerthCgroups();
}

/**
 * Where Berth's parent cgroup `berth/` can be: in the unified root and in every v1
 * hierarchy (an OCI runtime makes `berth/` in each controller it uses).
 */
export async function berthCgroupParents(root = ROOT): Promise<string[]> {
  const hierarchies = await readdir(root, { withFileTypes: true }).catch(() => []);
  return [
    join(root, 'berth'),
    ...hierarchies
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(root, entry.name, 'berth')),
  ];
}

/**
 * Removes a cgroup and those below it, killing what is still in them, and retrying while
 * the kernel reaps them.
 */
export async function removeCgroupTree(dir: string): Promise<void> {
  const children = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const child of children) {
    if (child.isDirectory()) await removeCgroupTree(join(dir, child.name));
  }
  for (let attempt = 0; ; attempt += 1) {
    const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const pid of procs.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      // EBUSY while the last process is still being reaped.
      if (attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * Removes cgroup `berth/<name>` from every hierarchy it is in (one an OCI runtime made and may
 * have failed to remove under load), killing what is still in it; then Berth's parents go
 * where nothing else is left.
 */
export async function removeInstanceCgroups(name: string, root = ROOT): Promise<void> {
  for (const parent of await berthCgroupParents(root)) {
    await removeCgroupTree(join(parent, name));
  }
  await removeEmptyBerthCgroups(root);
}

/** Removes Berth's parent cgroups where no instance is left in them, in every hierarchy. */
export async function removeEmptyBerthCgroups(root = ROOT): Promise<void> {
  for (const dir of await berthCgroupParents(root)) {
    await rmdir(dir).catch(() => undefined);
  }
}

/** The CFS period a CPU quota is set over, µs (the kernel's default, 100 ms). */
export const CPU_PERIOD_US = 100_000;

/** What a cgroup Berth makes may be given besides accounting. */
export interface CgroupLimits {
  /**
   * The share of one CPU the cgroup's processes may use per period, in (0, 1]: v1
   * `cpu.cfs_quota_us` over `cpu.cfs_period_us`, v2 `cpu.max`. Needs the cpu controller.
   */
  readonly cpuQuota?: number;
}

/** The smallest CPU quota, as a share of one CPU: the kernel refuses a quota under 1 ms. */
export const MIN_CPU_QUOTA = 1_000 / CPU_PERIOD_US;

/** The quota in µs per CPU_PERIOD_US of a share of one CPU; refuses a share out of range. */
function cpuQuotaUs(share: number): number {
  if (!(share >= MIN_CPU_QUOTA && share <= 1)) {
    throw new RangeError(
      `a CPU quota must be a share of one CPU from ${MIN_CPU_QUOTA} to 1, got ${share}`,
    );
  }
  return Math.round(share * CPU_PERIOD_US);
}

/**
 * Lets the instance cgroups under v2's `berth/` have the cpu controller, or says what is
 * missing: the controller must be enabled for `berth/` by its parent.
 */
async function enableV2CpuController(parent: string): Promise<void> {
  const controllers = await readFile(join(parent, 'cgroup.controllers'), 'utf8').catch(() => '');
  if (!controllers.split(/\s+/).includes('cpu')) {
    throw new Error(
      `a CPU quota needs the cgroup v2 cpu controller, and ${parent} does not have it (its cgroup.controllers lists "${controllers.trim()}"; enable cpu in the parent's cgroup.subtree_control)`,
    );
  }
  await writeFile(join(parent, 'cgroup.subtree_control'), '+cpu');
}

/** Writes the pid to each cgroup.procs file. */
function joinProcess(procsFiles: readonly string[], pid: number): void {
  for (const file of procsFiles) writeFileSync(file, String(pid));
}

/**
 * The shell commands that move the shell running them into the cgroup, to run before it execs
 * the command the cgroup is for: everything that command allocates or runs is then counted.
 */
export const selfJoinCommands = (cgroup: Pick<Cgroup, 'selfJoinFiles'>): string =>
  cgroup.selfJoinFiles.map((file) => `echo 0 > ${file}`).join(' && ');

/** Makes the cgroup folders, then applies the limits; removes the folders if a limit fails. */
async function makeCgroupDirs(
  dirs: readonly string[],
  applyLimits: () => Promise<void>,
): Promise<void> {
  for (const dir of dirs) await mkdir(dir, { recursive: true });
  try {
    await applyLimits();
  } catch (error) {
    await removeDirs(dirs);
    throw error;
  }
}

/**
 * Creates cgroup `berth/<name>` in the memory (and cpu) hierarchy: v2 where the host has a
 * unified hierarchy with the memory controller, else the v1 memory and cpu controllers.
 * With `limits.cpuQuota` its processes get that share of one CPU; a host without the cpu
 * controller is then refused with what is missing.
 */
export async function createCgroup(
  name: string,
  root = ROOT,
  limits: CgroupLimits = {},
): Promise<Cgroup> {
  const version = cgroupVersion(root);
  const quotaUs = limits.cpuQuota === undefined ? undefined : cpuQuotaUs(limits.cpuQuota);
  if (version === 'none') {
    throw new Error(
      quotaUs === undefined
        ? 'this host has no cgroup hierarchy'
        : `a CPU quota needs cgroups, and this host has no cgroup hierarchy under ${root}`,
    );
  }
  if (version === 'v2') {
    const parent = join(root, 'berth');
    const dir = join(parent, name);
    await mkdir(parent, { recursive: true });
    if (quotaUs !== undefined) await enableV2CpuController(parent);
    await makeCgroupDirs([dir], async () => {
      if (quotaUs !== undefined) {
        await writeFile(join(dir, 'cpu.max'), `${quotaUs} ${CPU_PERIOD_US}`);
      }
    });
    const procsFiles = [join(dir, 'cgroup.procs')];
    return {
      version: 'v2',
      procsFiles,
      selfJoinFiles: procsFiles,
      join: (pid) => {
        joinProcess(procsFiles, pid);
      },
      peakMemoryBytes: () => readNumber(join(dir, 'memory.peak')),
      remove: () => removeDirs([dir]),
    };
  }
  const memoryDir = join(root, 'memory', 'berth', name);
  const cpuDir = join(root, 'cpu', 'berth', name);
  const hasCpu = existsSync(join(root, 'cpu'));
  if (quotaUs !== undefined && !hasCpu) {
    throw new Error(
      `a CPU quota needs the cgroup v1 cpu controller, and this host has none mounted at ${join(root, 'cpu')}`,
    );
  }
  const dirs = hasCpu ? [memoryDir, cpuDir] : [memoryDir];
  await makeCgroupDirs(dirs, async () => {
    if (quotaUs !== undefined) {
      await writeFile(join(cpuDir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      await writeFile(join(cpuDir, 'cpu.cfs_quota_us'), String(quotaUs));
    }
  });
  const procsFiles = dirs.map((dir) => join(dir, 'cgroup.procs'));
  return {
    version: 'v1',
    procsFiles,
    selfJoinFiles: dirs.map((dir) => join(dir, 'tasks')),
    join: (pid) => {
      joinProcess(procsFiles, pid);
    },
    peakMemoryBytes: () => readNumber(join(memoryDir, 'memory.max_usage_in_bytes')),
    remove: () => removeDirs(dirs),
  };
}

/** What a cgroup's peak memory counts, as results record it. */
export const CGROUP_MEMORY_MEASURE =
  'peak cgroup memory: pages charged to the instance (its anonymous memory and the page cache it brought in; files already cached by the host are not counted)';

/**
 * Peak memory of a cgroup someone else made (an OCI runtime) at `berth/<name>`, in whichever
 * hierarchy the host accounts memory.
 */
export function readPeakMemory(name: string, root = ROOT): Promise<number | undefined> {
  const version = cgroupVersion(root);
  if (version === 'none') return Promise.resolve(undefined);
  return version === 'v2'
    ? readNumber(join(root, 'berth', name, 'memory.peak'))
    : readNumber(join(root, 'memory', 'berth', name, 'memory.max_usage_in_bytes'));
}

/**
 * The file that holds the peak memory of the cgroup a process is in, from its
 * /proc/<pid>/cgroup: the v1 memory controller's cgroup where the host has one, else the v2
 * cgroup. Undefined when neither is listed.
 */
export function peakMemoryFileOf(procCgroup: string, root = ROOT): string | undefined {
  const entries = procCgroup
    .split('\n')
    .map((line) => /^\d+:([^:]*):(.+)$/.exec(line))
    .filter((match) => match !== null);
  const v1 = entries.find((match) => match[1]?.split(',').includes('memory'));
  if (v1?.[2] !== undefined) return join(root, 'memory', v1[2], 'memory.max_usage_in_bytes');
  const v2 = entries.find((match) => match[1] === '');
  return v2?.[2] === undefined ? undefined : join(root, v2[2], 'memory.peak');
}

/** Peak memory of the cgroup process pid is in (a container some engine made), bytes. */
export async function readPeakMemoryOfProcess(
  pid: number,
  root = ROOT,
): Promise<number | undefined> {
  const procCgroup = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
  const file = peakMemoryFileOf(procCgroup, root);
  return file === undefined ? undefined : readNumber(file);
}

/**
 * Berth's instance cgroups, in every hierarchy, that no process is in any more (left by a
 * killed agent, or by a runtime that failed to remove them). Only those older than
 * olderThanMs: a cgroup another agent just made may not have its process yet.
 */
export async function staleCgroups(root = ROOT, olderThanMs = 60_000): Promise<string[]> {
  const stale: string[] = [];
  for (const parent of await berthCgroupParents(root)) {
    let names: string[];
    try {
      names = (await readdir(parent, { withFileTypes: true }))
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name);
    } catch {
      continue;
    }
    for (const name of names) {
      const dir = join(parent, name);
      const modified = await stat(dir).then(
        (info) => info.mtimeMs,
        () => Date.now(),
      );
      if (Date.now() - modified < olderThanMs) continue;
      const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => 'unknown');
      if (procs.trim() === '') stale.push(dir);
    }
  }
  return stale;
}

/** Removes the stale cgroups (cgroupfs lets an empty cgroup go with its files in it). */
export async function removeStaleCgroups(root = ROOT, olderThanMs = 60_000): Promise<string[]> {
  const removed: string[] = [];
  for (const dir of await staleCgroups(root, olderThanMs)) {
    await rmdir(dir).then(
      () => removed.push(dir),
      () => undefined,
    );
  }
  await removeEmptyBerthCgroups(root);
  return removed;
}
