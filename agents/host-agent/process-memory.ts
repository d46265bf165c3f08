import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Proportional set size of a process, bytes: its share of every page it maps. */
export async function pssBytes(
  pid: number | undefined,
  procDir = '/proc',
): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const rollup = await readFile(join(procDir, String(pid), 'smaps_rollup'), 'utf8');
    const kb = /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** The first process whose arguments one matches, by its /proc/<pid>/cmdline; undefined if none. */
export async function findProcess(
  matches: (arg: string) => boolean,
  procDir = '/proc',
): Promise<number | undefined> {
  const entries = await readdir(procDir).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(join(procDir, entry, 'cmdline'), 'utf8').catch(() => '');
    if (cmdline.split('\0').some(matches)) return Number(entry);
  }
  return undefined;
}
