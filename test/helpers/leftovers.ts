import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

/** Pids of processes whose command line contains pattern (pgrep -f); [] when none. */
export function processesMatching(pattern: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** Containers an OCI runtime (runc, crun) still knows whose id starts with prefix (a run id). */
export function ociContainers(runtime: 'runc' | 'crun', prefix: string): string[] {
  return execFileSync(runtime, ['list', '-q'], { encoding: 'utf8' })
    .split('\n')
    .filter((id) => id !== '' && id.startsWith(prefix));
}

/** What a folder holds; [] when it does not exist. */
export function entriesOf(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Berth's instance cgroups of a run (v1 memory hierarchy, as on these hosts). */
export function cgroupsOfRun(runId: string): string[] {
  return entriesOf('/sys/fs/cgroup/memory/berth').filter((name) => name.startsWith(runId));
}
