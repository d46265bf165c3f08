import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createCgroup } from '../../agents/host-agent/cgroups.ts';
import { loadConfig } from '../../lib/config.ts';
import { usableCpus } from '../../lib/cpu-limit.ts';

const execProgram = promisify(execFile);

describe('a process under a cgroup CPU quota', () => {
  it('sees the quota as the CPUs it may use, and its thread settings default to none', async () => {
    const cgroup = await createCgroup(`cpu-limit-test-${process.pid}`, undefined, {
      cpuQuota: 0.5,
    });
    try {
      const script = [
        `const { usableCpus } = await import(${JSON.stringify(new URL('../../lib/cpu-limit.ts', import.meta.url).href)});`,
        `const { loadConfig } = await import(${JSON.stringify(new URL('../../lib/config.ts', import.meta.url).href)});`,
        "const config = loadConfig(['engineThreads', 'encoderThreads'], {}, {});",
        'console.log(JSON.stringify({ cpus: usableCpus(), ...config }));',
      ].join('\n');
      const joins = cgroup.selfJoinFiles.map((file) => `echo 0 > ${file}`).join(' && ');
      const { stdout } = await execProgram('sh', [
        '-c',
        `${joins} && exec "$0" --import tsx --input-type=module -e "$1"`,
        process.execPath,
        script,
      ]);
      expect(JSON.parse(stdout)).toEqual({ cpus: 0.5, engineThreads: 0, encoderThreads: 0 });
    } finally {
      await cgroup.remove();
    }
    // Outside it, the cores (this machine has more than one, as the suite needs).
    expect(usableCpus()).toBeGreaterThanOrEqual(2);
    expect(loadConfig(['engineThreads'], {}, {}).engineThreads).toBe(Math.floor(usableCpus()) - 1);
  });
});
