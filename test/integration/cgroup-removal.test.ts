import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  berthCgroupParents,
  createCgroup,
  removeInstanceCgroups,
} from '../../agents/host-agent/cgroups.ts';

describe('removing an instance cgroup on the host', () => {
  it('kills what is still in it and removes it from every hierarchy', async () => {
    const name = `test-removal-${process.pid}`;
    const cgroup = await createCgroup(name);
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    const exited = once(sleeper, 'exit');
    for (const file of cgroup.procsFiles) await writeFile(file, String(sleeper.pid));

    await removeInstanceCgroups(name);

    const [, signal] = (await exited) as [number | null, string | null];
    expect(signal).toBe('SIGKILL');
    const left = (await berthCgroupParents()).map((parent) => `${parent}/${name}`);
    expect(left.filter((dir) => existsSync(dir))).toEqual([]);
  });
});
