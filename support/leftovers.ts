import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** Pids of processes whose command line contains pattern (pgrep -f); [] when none. */
export function processesMatching(pattern: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Containers an OCI runtime (runc, crun) still knows whose id starts with prefix (a run id).
 * `list` fails when another test's container is deleted while it reads the state folder (its
 * entry is gone between readdir and stat); that race is asked again, a few times.
 */
export function ociContainers(runtime: 'runc' | 'crun', prefix: string): string[] {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return execFileSync(runtime, ['list', '-q'], { encoding: 'utf8', stdio: 'pipe' })
        .split('\n')
        .filter((id) => id !== '' && id.startsWith(prefix));
    } catch (error) {
      const raced = /no such file or directory/.test(
        String((error as { stderr?: unknown }).stderr),
      );
      if (!raced || attempt === 5) throw error;
    }
  }
}

/** What a folder holds; [] when it does not exist. */
export function entriesOf(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Berth's instance cgroups of a run (v1 memory hierarchy, as on these hosts). */
export function cgroupsOfRun(runId: string): string[] {
  return entriesOf('/sys/fs/cgroup/memory/berth').filter((name) => name.startsWith(runId));
}

/** Pids of every process below pid (children, their children, …), from ps. */
export function descendantsOf(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const line of execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).split(
    '\n',
  )) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (child !== undefined && parent !== undefined) parentOf.set(child, parent);
  }
  const below = (ancestor: number): number[] =>
    [...parentOf]
      .filter(([, parent]) => parent === ancestor)
      .flatMap(([child]) => [child, ...below(child)]);
  return below(pid);
}

/** Those of pids still running (a zombie, dead but not yet reaped, is not). */
export function alive(pids: readonly number[]): number[] {
  return pids.filter((pid) => {
    try {
      // The state follows the command name in parentheses, which may hold spaces.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  });
}
