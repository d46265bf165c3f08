import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { arch, availableParallelism, release, totalmem } from 'node:os';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** What the kernel says of this host's CPUs, memory, OS and hypervisor. */
export interface HostFacts {
  readonly cpuModel: string;
  readonly physicalCores: number;
  readonly threads: number;
  readonly flags: readonly string[];
  readonly memoryBytes: number;
  readonly os: {
    readonly family: string;
    readonly distro: string;
    readonly release: string;
    readonly kernel: string;
    readonly arch: string;
  };
  /** The hypervisor this host runs under, when it runs under one and it is named. */
  readonly hypervisor: string | undefined;
  readonly virtualised: boolean;
}

export interface CpuInfo {
  readonly model: string;
  readonly flags: readonly string[];
  readonly physicalCores: number;
  readonly threads: number;
}

/**
 * /proc/cpuinfo: the first CPU's model name and flags, the logical CPUs (`processor` entries)
 * and the physical cores (distinct `physical id`/`core id` pairs; the logical CPUs where the
 * kernel gives no core ids).
 */
export function parseCpuInfo(text: string): CpuInfo {
  let model = '';
  let flags: string[] = [];
  let threads = 0;
  let physical = '0';
  const cores = new Set<string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === 'processor') threads += 1;
    else if (key === 'model name' && model === '') model = value;
    else if (key === 'flags' && flags.length === 0) flags = value.split(/\s+/).filter(Boolean);
    else if (key === 'physical id') physical = value;
    else if (key === 'core id') cores.add(`${physical}/${value}`);
  }
  return {
    model,
    flags,
    threads: Math.max(1, threads),
    physicalCores: Math.max(1, cores.size === 0 ? threads : cores.size),
  };
}

/** /etc/os-release: the distribution's name and version (VERSION_ID, else VERSION). */
export function parseOsRelease(text: string): { distro: string; release: string } {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) {
      fields.set(match[1], match[2].replace(/^(["'])(.*)\1$/, '$2'));
    }
  }
  return {
    distro: fields.get('NAME') ?? '',
    release: fields.get('VERSION_ID') ?? fields.get('VERSION') ?? '',
  };
}

const readOr = (path: string, fallback: string): Promise<string> =>
  readFile(path, 'utf8').catch(() => fallback);

/**
 * The hypervisor as `systemd-detect-virt --vm` names it (kvm, xen, microsoft, …); undefined
 * where it says none or is not installed.
 */
async function detectVm(): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('systemd-detect-virt', ['--vm'], { timeout: 5_000 });
    const name = stdout.trim();
    return name === '' || name === 'none' ? undefined : name;
  } catch {
    return undefined;
  }
}

/** This host's facts, read from /proc, /etc/os-release, Node's os module and systemd. */
export async function readHostFacts(): Promise<HostFacts> {
  const [cpuText, osText, vm] = await Promise.all([
    readOr('/proc/cpuinfo', ''),
    readOr('/etc/os-release', ''),
    detectVm(),
  ]);
  const cpu = parseCpuInfo(cpuText);
  const os = parseOsRelease(osText);
  return {
    cpuModel: cpu.model,
    physicalCores: cpu.physicalCores,
    threads: cpuText === '' ? availableParallelism() : cpu.threads,
    flags: cpu.flags,
    memoryBytes: totalmem(),
    os: { family: process.platform, ...os, kernel: release(), arch: arch() },
    hypervisor: vm,
    virtualised: vm !== undefined || cpu.flags.includes('hypervisor'),
  };
}
