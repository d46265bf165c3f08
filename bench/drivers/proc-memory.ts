import { readFile, readdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A field of /proc/<pid>/status: a size in bytes (the kernel writes kB) or a count. */
export async function statusField(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+)( kB)?$`, 'm').exec(status);
  if (match?.[1] === undefined) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(match[1]) * (match[2] === undefined ? 1 : 1024);
}

/** VmRSS of a process, bytes, `count` times `everyMs` apart. */
export async function rssSamples(
  pid: number,
  count: number,
  everyMs: number,
  signal: AbortSignal,
): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < count; index += 1) {
    if (index > 0) await sleep(everyMs, undefined, { signal });
    samples.push(await statusField(pid, 'VmRSS'));
  }
  return samples;
}

/** The files whose pages count most in a process's RSS, largest first, bytes. */
export async function largestMappedFiles(pid: number, count: number): Promise<[string, number][]> {
  const rss = new Map<string, number>();
  let file: string | undefined;
  for (const line of (await readFile(`/proc/${pid}/smaps`, 'utf8')).split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header !== null) file = header[1]?.startsWith('/') === true ? header[1] : undefined;
    const kib = /^Rss:\s+(\d+) kB/.exec(line)?.[1];
    if (file !== undefined && kib !== undefined) {
      rss.set(file, (rss.get(file) ?? 0) + Number(kib) * 1024);
    }
  }
  return [...rss].sort((a, b) => b[1] - a[1]).slice(0, count);
}

/** The processes whose parent is pid, with their command lines. */
export async function childrenOf(pid: number): Promise<{ pid: number; command: string }[]> {
  const children: { pid: number; command: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent !== pid) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''))
      .split('\0')
      .filter((arg) => arg !== '');
    children.push({
      pid: Number(entry),
      command: [basename(argv[0] ?? '?'), ...argv.slice(1)].join(' '),
    });
  }
  return children;
}
