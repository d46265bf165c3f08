import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The lifetime of the daemons Berth starts for a platform (a Docker engine, a libvirtd):
 * whether one runs, and stopping it.
 */

/** The state letter of a process (R, S, Z, …), from /proc/<pid>/stat; undefined when it is gone. */
function processState(pid: number): string | undefined {
  try {
    // "pid (name) state …": the name may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Whether pid runs: a zombie, exited but not reaped by a parent that may never do so, does not. */
export function alive(pid: number): boolean {
  if (!(pid > 0)) return false;
  const state = processState(pid);
  return state !== undefined && state !== 'Z';
}

/** Asks pid to stop (SIGTERM) and waits for it to exit, killing it after timeoutMs. */
export async function stopProcess(pid: number, timeoutMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone in between.
    }
    while (alive(pid)) await sleep(50);
  }
}
