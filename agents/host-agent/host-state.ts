import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { SETTINGS } from '../../lib/config.ts';
import { berthCgroupParents } from './cgroups.ts';

/** The aggregate `cpu` line of /proc/stat, clock ticks summed over every CPU. */
export interface CpuTimes {
  /** Time running processes: user, nice and system (guest time is inside user). */
  readonly busy: number;
  readonly iowait: number;
  readonly steal: number;
  /** All of it: user, nice, system, idle, iowait, irq, softirq and steal. */
  readonly total: number;
  /** How many CPUs have a line of their own. */
  readonly cpus: number;
}

/** The aggregate cpu line of /proc/stat's text. */
export function parseCpuTimes(procStat: string): CpuTimes {
  const lines = procStat.split('\n');
  const fields = lines
    .find((line) => line.startsWith('cpu '))
    ?.trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  if (fields?.length !== 8 || !fields.every(Number.isFinite)) {
    throw new Error('/proc/stat has no aggregate cpu line');
  }
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] =
    fields;
  return {
    busy: user + nice + system,
    iowait,
    steal,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
    cpus: lines.filter((line) => /^cpu\d+ /.test(line)).length,
  };
}

/** What a sample needs of one process's /proc/<pid>/stat. */
export interface ProcessTimes {
  readonly pid: number;
  readonly ppid: number;
  /** When it started, ticks after boot: tells a reused pid from the process that had it. */
  readonly started: number;
  /** CPU used by it and by the children it waited for (utime+stime+cutime+cstime), ticks. */
  readonly cpu: number;
}

/** One /proc/<pid>/stat line; undefined when it is not one (the name may hold spaces and ")"). */
export function parseProcessStat(text: string): ProcessTimes | undefined {
  const nameEnd = text.lastIndexOf(')');
  if (nameEnd < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf('(')).trim());
  // The fields after the name start at the third (state): ppid is the 4th, utime, stime,
  // cutime and cstime the 14th to 17th, starttime the 22nd.
  const fields = text.slice(nameEnd + 2).split(' ');
  const values = [1, 11, 12, 13, 14, 19].map((index) => Number(fields[index]));
  if (!Number.isInteger(pid) || pid <= 0 || !values.every(Number.isInteger)) return undefined;
  const [ppid = 0, utime = 0, stime = 0, cutime = 0, cstime = 0, started = 0] = values;
  return { pid, ppid, started, cpu: utime + stime + cutime + cstime };
}

/** The pids of cgroup.procs text. */
export function parseCgroupProcs(text: string): number[] {
  return text
    .split('\n')
    .filter((line) => /^\d+$/.test(line.trim()))
    .map(Number);
}

/** The processes given as roots and all their descendants, by parent pid. */
export function descendantsOf(
  processes: readonly ProcessTimes[],
  roots: Iterable<number>,
): Set<number> {
  const children = new Map<number, number[]>();
  for (const { pid, ppid } of processes) {
    const siblings = children.get(ppid);
    if (siblings === undefined) children.set(ppid, [pid]);
    else siblings.push(pid);
  }
  const found = new Set<number>();
  const pending = [...roots];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    if (found.has(pid)) continue;
    found.add(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return found;
}

/** One end of an interval: the time, the CPU line, every process, and which are Berth's. */
export interface HostSnapshot {
  /** A monotonic clock, ms. */
  readonly atMs: number;
  readonly cpu: CpuTimes;
  readonly processes: readonly ProcessTimes[];
  /** The pids of Berth's own processes. */
  readonly berth: ReadonlySet<number>;
}

const processKey = (times: ProcessTimes): string => `${times.pid}@${times.started}`;

/**
 * CPU ticks Berth's processes used between two snapshots. Each process of Berth's at the end
 * counts what it added (all of it when it started in between). One that was Berth's at the
 * start and is gone has been waited for: when its parent is Berth's and still there, that
 * parent's cutime took in its whole life, so what it had used before the start is taken off;
 * otherwise nothing of it is counted.
 */
export function berthTicksBetween(start: HostSnapshot, end: HostSnapshot): number {
  const atStart = new Map(start.processes.map((times) => [processKey(times), times]));
  const atEnd = new Map(end.processes.map((times) => [processKey(times), times]));
  const startByPid = new Map(start.processes.map((times) => [times.pid, times]));
  let ticks = 0;
  for (const times of end.processes) {
    if (!end.berth.has(times.pid)) continue;
    ticks += times.cpu - (atStart.get(processKey(times))?.cpu ?? 0);
  }
  for (const times of start.processes) {
    if (!start.berth.has(times.pid) || atEnd.has(processKey(times))) continue;
    const parent = startByPid.get(times.ppid);
    if (parent !== undefined && atEnd.has(processKey(parent)) && end.berth.has(parent.pid)) {
      ticks -= times.cpu;
    }
  }
  return ticks;
}

/** The host's state over one interval. */
export interface HostSample {
  /** Length of the interval, seconds. */
  readonly seconds: number;
  /** Share of all CPU time taken by the hypervisor for others (steal), 0–1. */
  readonly steal: number;
  /** Share of all CPU time idle while I/O was outstanding (iowait), 0–1. */
  readonly iowait: number;
  /** CPU Berth's own processes used, average cores over the interval. */
  readonly ownCores: number;
  /** CPU every other process used, average cores over the interval. */
  readonly foreignLoadCores: number;
}

/** The sample of the interval between two snapshots (zeros for an interval of no ticks). */
export function sampleBetween(start: HostSnapshot, end: HostSnapshot): HostSample {
  const total = end.cpu.total - start.cpu.total;
  const busy = Math.max(0, end.cpu.busy - start.cpu.busy);
  const own = Math.min(busy, Math.max(0, berthTicksBetween(start, end)));
  const share = (ticks: number): number =>
    total > 0 ? Math.min(1, Math.max(0, ticks / total)) : 0;
  return {
    seconds: Math.max(0, end.atMs - start.atMs) / 1000,
    steal: share(end.cpu.steal - start.cpu.steal),
    iowait: share(end.cpu.iowait - start.cpu.iowait),
    ownCores: share(own) * end.cpu.cpus,
    foreignLoadCores: share(busy - own) * end.cpu.cpus,
  };
}

async function readProcesses(): Promise<ProcessTimes[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const stats = await Promise.all(
    pids.map((pid) =>
      readFile(join('/proc', pid, 'stat'), 'utf8').then(parseProcessStat, () => undefined),
    ),
  );
  return stats.filter((stat) => stat !== undefined);
}

/** The pids in Berth's cgroups: `berth/` and the instance cgroups under it, every hierarchy. */
async function readBerthCgroupMembers(): Promise<number[]> {
  const members: number[] = [];
  for (const parent of await berthCgroupParents()) {
    const instances = await readdir(parent, { withFileTypes: true }).catch(() => []);
    const dirs = [
      parent,
      ...instances.filter((entry) => entry.isDirectory()).map((entry) => join(parent, entry.name)),
    ];
    for (const dir of dirs) {
      const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      members.push(...parseCgroupProcs(procs));
    }
  }
  return members;
}

async function readHostSnapshot(): Promise<HostSnapshot> {
  const [procStat, processes, cgroupMembers] = await Promise.all([
    readFile('/proc/stat', 'utf8'),
    readProcesses(),
    readBerthCgroupMembers(),
  ]);
  return {
    atMs: performance.now(),
    cpu: parseCpuTimes(procStat),
    processes,
    berth: descendantsOf(processes, [process.pid, ...cgroupMembers]),
  };
}

/** A sample under way: finish() ends its interval. */
export interface HostSampleHandle {
  finish(): Promise<HostSample>;
}

/**
 * Starts sampling the host's state, for one round: the interval runs until finish().
 *
 * Foreign load is CPU time, not a run queue: the CPU the host spent running processes over
 * the interval (user, nice and system of /proc/stat's cpu line) less the CPU Berth's own
 * processes used, in average cores. Berth's own are this process's tree (the agent's) and
 * every process in a `berth/` cgroup of any hierarchy (v1, v2, or the unified one of a hybrid
 * host), with their descendants. A process's CPU is utime+stime+cutime+cstime of
 * /proc/<pid>/stat, so a child that ran and exited inside the interval is counted in the
 * parent that waited for it. procs_running and /proc/loadavg are not used: the first is one
 * instant, the second a minute-long average that also counts tasks waiting on disk.
 * What this cannot tell apart, and so counts as foreign: the CPU of Berth's instances that an
 * engine rather than the agent started and waited for (Docker containers, libvirt guests)
 * once they have exited, and kernel threads working for Berth (writeback for an fsync workload).
 */
export async function startHostSample(): Promise<HostSampleHandle> {
  const start = await readHostSnapshot();
  return { finish: async () => sampleBetween(start, await readHostSnapshot()) };
}

/** Thresholds past which a round is disturbed. */
export interface DisturbanceThresholds {
  /** Largest share of CPU time steal may take, 0–1. */
  readonly maxSteal: number;
  /** Most CPU other processes may use, average cores. */
  readonly maxForeignLoadCores: number;
}

/**
 * A round is disturbed, by default, when the hypervisor took over 5% of the CPU time or other
 * processes used over half a core (the settings BERTH_MAX_STEAL and BERTH_MAX_FOREIGN_LOAD).
 * iowait is recorded but not judged: Berth's own I/O workloads cause it.
 */
export const DEFAULT_DISTURBANCE: DisturbanceThresholds = {
  maxSteal: SETTINGS.maxSteal.defaultValue,
  maxForeignLoadCores: SETTINGS.maxForeignLoad.defaultValue,
};

/** Whether a round was disturbed, and if so which figure passed which threshold. */
export interface Disturbance {
  readonly disturbed: boolean;
  /** E.g. "steal 12% over 5%; foreign load 1.2 cores over 0.5 cores". */
  readonly why?: string;
}

const percent = (share: number): string => `${Number((share * 100).toFixed(1))}%`;
const cores = (count: number): string => `${Number(count.toFixed(2))} cores`;

/** Judges a sample against thresholds. */
export function isDisturbed(
  sample: HostSample,
  thresholds: DisturbanceThresholds = DEFAULT_DISTURBANCE,
): Disturbance {
  const reasons: string[] = [];
  if (sample.steal > thresholds.maxSteal) {
    reasons.push(`steal ${percent(sample.steal)} over ${percent(thresholds.maxSteal)}`);
  }
  if (sample.foreignLoadCores > thresholds.maxForeignLoadCores) {
    reasons.push(
      `foreign load ${cores(sample.foreignLoadCores)} over ${cores(thresholds.maxForeignLoadCores)}`,
    );
  }
  return reasons.length === 0 ? { disturbed: false } : { disturbed: true, why: reasons.join('; ') };
}

/** What a fact is when its file is absent or empty. */
const UNKNOWN = 'unknown';

/** The value a sysfs choice file selects, in brackets ("always [madvise] never" → "madvise"). */
export function selectedChoice(text: string): string {
  const selected = /\[([^\]]+)\]/.exec(text)?.[1];
  return selected ?? (text.trim() === '' ? UNKNOWN : text.trim());
}

/** The CPUs' frequency governors: one name when all agree, else the names sorted, comma-joined. */
export function governorsFact(governors: readonly string[]): string {
  const names = [...new Set(governors.map((name) => name.trim()).filter((name) => name !== ''))];
  return names.length === 0 ? UNKNOWN : names.sort().join(',');
}

/** The CPU vulnerabilities and their mitigations, name=value sorted by name, " | "-joined. */
export function mitigationsFact(entries: readonly (readonly [string, string])[]): string {
  if (entries.length === 0) return UNKNOWN;
  return [...entries]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}=${value.trim()}`)
    .join(' | ');
}

/** A short hash of facts that does not depend on their order. */
export function fingerprintOf(facts: Readonly<Record<string, string>>): string {
  const lines = Object.entries(facts)
    .map(([name, value]) => `${name}=${value}`)
    .sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 12);
}

/** The host's settings that change what a measurement means, and their hash. */
export interface HostFingerprint {
  readonly fingerprint: string;
  readonly facts: Readonly<Record<string, string>>;
}

/** A file's text, trimmed; "unknown" when it is absent or empty. */
async function readFact(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').then(
    (content) => content.trim(),
    () => '',
  );
  return text === '' ? UNKNOWN : text;
}

const CPU_DIR = '/sys/devices/system/cpu';

async function readGovernors(): Promise<string> {
  const cpus = (await readdir(CPU_DIR).catch(() => [])).filter((name) => /^cpu\d+$/.test(name));
  const governors = await Promise.all(
    cpus.map((cpu) => readFact(join(CPU_DIR, cpu, 'cpufreq', 'scaling_governor'))),
  );
  return governorsFact(governors.filter((governor) => governor !== UNKNOWN));
}

async function readMitigations(): Promise<string> {
  const dir = join(CPU_DIR, 'vulnerabilities');
  const names = await readdir(dir).catch(() => []);
  const entries = await Promise.all(
    names.map(async (name) => [name, await readFact(join(dir, name))] as const),
  );
  return mitigationsFact(entries);
}

/**
 * Reads the host's fingerprint: CPU governor, transparent huge pages, KSM (/sys/kernel/mm/ksm/run:
 * 0 stopped, 1 merging, 2 unmerging), kernel, mitigations, clock source, and the versions given
 * (`platform:runtime` → version) as `runtime:<platform:runtime>`. A file that is absent (a VM
 * often has no cpufreq) gives "unknown".
 */
export async function readHostFingerprint(
  runtimeVersions: Readonly<Record<string, string>>,
): Promise<HostFingerprint> {
  const [governor, thp, ksm, mitigations, clocksource] = await Promise.all([
    readGovernors(),
    readFact('/sys/kernel/mm/transparent_hugepage/enabled'),
    readFact('/sys/kernel/mm/ksm/run'),
    readMitigations(),
    readFact('/sys/devices/system/clocksource/clocksource0/current_clocksource'),
  ]);
  const facts: Record<string, string> = {
    'cpu-governor': governor,
    'transparent-hugepages': selectedChoice(thp),
    ksm,
    kernel: release(),
    mitigations,
    clocksource,
  };
  for (const [runtime, version] of Object.entries(runtimeVersions)) {
    facts[`runtime:${runtime}`] = version;
  }
  return { fingerprint: fingerprintOf(facts), facts };
}
