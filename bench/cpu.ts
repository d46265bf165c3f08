import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used so far, in ms; this process includes its threads. */
export function cpuMsOf(pid: number): number {
  if (pid === process.pid) {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / TICKS_PER_SECOND;
}

export interface Measured<T> {
  readonly value: T;
  readonly wallMs: number;
  /** CPU ms used during the measurement, per named process. */
  readonly cpuMs: Readonly<Record<string, number>>;
}

/** Runs work and records its wall time and the CPU time each named process spent meanwhile. */
export async function measure<T>(
  processes: Readonly<Record<string, number>>,
  work: () => Promise<T>,
): Promise<Measured<T>> {
  const before = Object.fromEntries(
    Object.entries(processes).map(([name, pid]) => [name, cpuMsOf(pid)]),
  );
  const started = performance.now();
  const value = await work();
  const wallMs = performance.now() - started;
  const cpuMs = Object.fromEntries(
    Object.entries(processes).map(([name, pid]) => [name, cpuMsOf(pid) - (before[name] ?? 0)]),
  );
  return { value, wallMs, cpuMs };
}
