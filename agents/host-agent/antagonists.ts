import { spawn } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { AntagonistName } from '../../contracts/workloads.ts';
import { createCgroup, selfJoinCommands } from './cgroups.ts';

/**
 * The antagonists a victim is measured beside: each a few processes on the host, in a cgroup
 * of their own, bounded in count and in time, and removed with everything they started.
 */

/** What an antagonist runs: how many copies of which command. */
interface AntagonistCommand {
  readonly copies: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly described: string;
}

/** A loop in Node.js, as an antagonist's command. */
const nodeLoop = (source: string): Pick<AntagonistCommand, 'command' | 'args'> => ({
  command: process.execPath,
  args: ['-e', source],
});

/** The command of each antagonist; `scratch` is a folder of its own it may write in. */
function commandOf(name: AntagonistName, scratch: string): AntagonistCommand {
  const cores = availableParallelism();
  switch (name) {
    case 'cpu-hog':
      return {
        copies: cores,
        command: '/bin/sh',
        args: ['-c', 'while :; do :; done'],
        described: `${cores} busy loops, one per CPU`,
      };
    case 'memory-bandwidth':
      return {
        copies: 1,
        ...nodeLoop(
          'const a = Buffer.alloc(64 << 20, 1), b = Buffer.alloc(64 << 20); for (;;) a.copy(b);',
        ),
        described: 'one process copying 64 MiB buffers without pause',
      };
    case 'fsync-storm':
      return {
        copies: 1,
        ...nodeLoop(
          `const fs = require('node:fs'); const fd = fs.openSync(${JSON.stringify(join(scratch, 'storm'))}, 'w'); const block = Buffer.alloc(4096, 7); for (let i = 0; ; i = (i + 1) % 256) { fs.writeSync(fd, block, 0, block.length, i * 4096); fs.fsyncSync(fd); }`,
        ),
        described: 'one process writing 4 KiB and calling fsync without pause, in a 1 MiB file',
      };
    case 'fork-storm':
      return {
        copies: 1,
        command: '/bin/sh',
        args: ['-c', 'while :; do /bin/true; done'],
        described: 'one loop starting /bin/true without pause (one child at a time)',
      };
  }
}

/** Waits until `copies` processes are in the cgroup whose cgroup.procs is `procsFile`. */
async function joined(procsFile: string | undefined, copies: number): Promise<void> {
  if (procsFile === undefined) return;
  for (let attempt = 0; attempt < 500; attempt += 1) {
    const procs = await readFile(procsFile, 'utf8').catch(() => '');
    if (procs.split('\n').filter(Boolean).length >= copies) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the antagonist's ${copies} processes did not start within 5 s`);
}

/** An antagonist running beside a victim. */
export interface RunningAntagonist {
  readonly name: AntagonistName;
  /** What it runs, in words, as results record it. */
  readonly described: string;
  /** The cgroup it runs in (`berth/<id>`). */
  readonly cgroupName: string;
  /** Stops every process it started and removes its cgroup and scratch folder. */
  stop(): Promise<void>;
}

/**
 * Starts antagonist `name` in cgroup `berth/<id>`, with a scratch folder under
 * `scratchRoot`. Each process joins the cgroup before it execs, so everything it starts is
 * in it; after `maxMs` the cgroup is emptied even if nobody stops it.
 */
export async function startAntagonist(
  name: AntagonistName,
  id: string,
  scratchRoot: string,
  maxMs: number,
): Promise<RunningAntagonist> {
  const scratch = join(scratchRoot, id);
  await mkdir(scratch, { recursive: true });
  const cgroup = await createCgroup(id);
  const { copies, command, args, described } = commandOf(name, scratch);
  const joinCgroup = selfJoinCommands(cgroup);
  const children = Array.from({ length: copies }, () => {
    const child = spawn(
      '/bin/sh',
      ['-c', `${joinCgroup} && exec "$@"`, `berth-antagonist-${name}`, command, ...args],
      { stdio: 'ignore', cwd: scratch },
    );
    child.on('error', () => undefined);
    return child;
  });
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      clearTimeout(timer);
      for (const child of children) child.kill('SIGKILL');
      await cgroup.remove();
      await rm(scratch, { recursive: true, force: true });
    })();
    return stopped;
  };
  const timer = setTimeout(() => void stop(), maxMs);
  await joined(cgroup.procsFiles[0], copies).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { name, described, cgroupName: id, stop };
}
