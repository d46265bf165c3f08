import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findProcess, pssBytes } from '../../agents/host-agent/process-memory.ts';

describe('process memory', () => {
  let proc: string;

  beforeAll(async () => {
    proc = await mkdtemp(join(tmpdir(), 'berth-proc-'));
    const fake = async (pid: string, argv: readonly string[], pssKb?: number): Promise<void> => {
      await mkdir(join(proc, pid));
      await writeFile(join(proc, pid, 'cmdline'), `${argv.join('\0')}\0`);
      if (pssKb !== undefined) {
        await writeFile(join(proc, pid, 'smaps_rollup'), `Rss: 9 kB\nPss:  ${pssKb} kB\n`);
      }
    };
    await fake('17', [
      '/usr/bin/qemu-system-x86_64',
      '-name',
      'guest=run-1-vm-s10,debug-threads=on',
    ]);
    await fake(
      '42',
      ['/usr/bin/qemu-system-x86_64', '-name', 'guest=run-1-vm-s1,debug-threads=on'],
      2048,
    );
    await mkdir(join(proc, 'self'));
  });

  afterAll(async () => {
    await rm(proc, { recursive: true, force: true });
  });

  it('finds a process by one of its arguments, not by a prefix of it', async () => {
    const guest = (name: string) => (arg: string) => arg.startsWith(`guest=${name},`);
    expect(await findProcess(guest('run-1-vm-s1'), proc)).toBe(42);
    expect(await findProcess(guest('run-1-vm-s10'), proc)).toBe(17);
    expect(await findProcess(guest('run-1-vm-s2'), proc)).toBeUndefined();
  });

  it('reads the PSS in bytes, and undefined where there is none', async () => {
    expect(await pssBytes(42, proc)).toBe(2048 * 1024);
    expect(await pssBytes(17, proc)).toBeUndefined();
    expect(await pssBytes(undefined, proc)).toBeUndefined();
  });

  it('reads this very process from the real /proc', async () => {
    expect(await pssBytes(process.pid)).toBeGreaterThan(1024 * 1024);
  });
});
