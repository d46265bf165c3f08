import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunnerLine } from '../../contracts/index.ts';
import { RUNNER_ENV } from '../../agents/host-agent/drivers/child-instance.ts';
import {
  createLxcDriver,
  removeLeftoverLxcContainers,
} from '../../agents/host-agent/drivers/container-lxc.ts';
import type { Instance, PlatformDriver } from '../../agents/host-agent/drivers/driver.ts';
import { runnerBundle } from '../../agents/host-agent/runner-bundle.ts';
import { processesMatching } from '../../support/leftovers.ts';
import { removeDir, tempDir } from '../../support/servers.ts';

const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * A runner that prints what it sees inside the container as the message of an error line,
 * then holds until its input closes, as a runner started with --hold does.
 */
const PROBE = `
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
const print = (line) => console.log(JSON.stringify({ schemaVersion: 1, ...line }));
const writable = (path) => {
  try {
    writeFileSync(path, 'x');
    rmSync(path);
    return true;
  } catch {
    return false;
  }
};
print({ type: 'ready', at: Date.now(), node: process.version, kernel: 'probe' });
const seen = {
  env: process.env,
  args: process.argv.slice(2),
  hostname: hostname(),
  addresses: Object.values(networkInterfaces()).flat().map((each) => each.address),
  root: writable('/probe'),
  usr: writable('/usr/probe'),
  etc: writable('/etc/probe'),
  scratch: writable('/scratch/probe'),
  tmp: writable('/tmp/probe'),
  init: readFileSync('/proc/1/cmdline', 'utf8').split('\\0')[0],
};
print({ type: 'error', message: JSON.stringify(seen) });
print({ type: 'done' });
process.stdin.resume();
process.stdin.once('close', () => process.exit(0));
`;

let counter = 0;

/** An id no other test run uses: processes and cgroups are looked for by it. */
function newId(): string {
  counter += 1;
  return `berth-lxc-${process.pid}-${counter}-test`;
}

/** Folders under every cgroup hierarchy, two levels deep, whose name holds id. */
function cgroupsOf(id: string): string[] {
  const found: string[] = [];
  const visit = (dir: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (entry.name.includes(id)) found.push(path);
      if (depth < 2) visit(path, depth + 1);
    }
  };
  visit(CGROUP_ROOT, 0);
  return found;
}

/** What of instance id is left: processes naming it, its cgroups, its bundle folder. */
function leftoversOf(id: string, bundlesDir: string): string[] {
  return [
    ...processesMatching(id).map((pid) => `process ${pid}`),
    ...cgroupsOf(id),
    ...(existsSync(join(bundlesDir, id)) ? [join(bundlesDir, id)] : []),
  ];
}

/** The lines until "done" (the instance may hold on after it). */
async function linesOf(instance: Instance): Promise<RunnerLine[]> {
  const lines: RunnerLine[] = [];
  for await (const { line } of instance.lines) lines.push(line);
  return lines;
}

/** Resolves when check() holds, or rejects after timeoutMs. */
async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the LXC driver', () => {
  let dataDir: string;
  let bundlesDir: string;
  let driver: PlatformDriver;

  beforeAll(async () => {
    dataDir = await tempDir('lxc');
    bundlesDir = join(dataDir, 'bundles');
    driver = createLxcDriver(await runnerBundle(dataDir), bundlesDir);
  });

  afterAll(async () => {
    await removeDir(dataDir);
  });

  it('is available here, with its version', async () => {
    const availability = await driver.availability();
    expect(availability).toMatchObject({ available: true, accel: 'none' });
    expect(availability.version).toMatch(/^\d+\.\d+/);
    // The trial container ran in a folder of its own, and went with all it made.
    expect(readdirSync(dataDir)).not.toContain('bundles');
    expect(cgroupsOf('berth-trial-lxc-')).toEqual([]);
    expect(processesMatching('berth-trial-lxc-')).toEqual([]);
  });

  it('runs the runner, then leaves nothing behind', async () => {
    const id = newId();
    const instance = await driver.start({
      id,
      runnerArgs: ['--workloads', 'syscall-fstat', '--time-cap-ms', '200'],
    });
    try {
      const lines = await linesOf(instance);
      expect(lines.map((line) => line.type)).toEqual(['ready', 'result', 'done']);
      expect(lines[1]).toMatchObject({ type: 'result', workload: 'syscall-fstat' });
      expect(instance.settings).toMatchObject({
        network: 'none, loopback only',
        lxc: expect.stringMatching(/^\d+\.\d+/) as unknown,
      });
    } finally {
      await instance.stop();
    }
    expect(leftoversOf(id, bundlesDir)).toEqual([]);
  });

  it('holds with --hold: its memory is read while it runs, and closing its input ends it', async () => {
    const id = newId();
    const instance = await driver.start({
      id,
      runnerArgs: ['--workloads', 'syscall-fstat', '--time-cap-ms', '200', '--hold'],
    });
    let stopMs: number;
    try {
      expect((await linesOf(instance)).at(-1)?.type).toBe('done');
      expect(await instance.peakMemoryBytes()).toBeGreaterThan(1024 * 1024);
      expect(processesMatching(id)).not.toEqual([]);
    } finally {
      const stopping = performance.now();
      await instance.stop();
      stopMs = performance.now() - stopping;
    }
    // Well inside endRunner's 2 s grace: the runner ended because its input closed.
    expect(stopMs).toBeLessThan(1_500);
    expect(leftoversOf(id, bundlesDir)).toEqual([]);
  });

  it('gives the runner RUNNER_ENV only, a read-only root, /scratch and loopback', async () => {
    const probeDir = join(dataDir, 'probe runner');
    await mkdir(probeDir, { recursive: true });
    const probePath = join(probeDir, 'probe.mjs');
    await writeFile(probePath, PROBE);
    const probeBundles = join(dataDir, 'probe-bundles');
    const id = newId();
    process.env['BERTH_LXC_LEAK'] = 'from the agent';
    let instance: Instance | undefined;
    try {
      instance = await createLxcDriver(probePath, probeBundles).start({ id, runnerArgs: ['--x'] });
      const lines = await linesOf(instance);
      const report = lines.find((line) => line.type === 'error');
      if (report?.type !== 'error') throw new Error(`no probe report in ${JSON.stringify(lines)}`);
      expect(JSON.parse(report.message)).toEqual({
        env: RUNNER_ENV,
        args: ['--scratch', '/scratch', '--x'],
        hostname: 'berth',
        addresses: ['127.0.0.1', '::1'],
        root: false,
        usr: false,
        etc: false,
        scratch: true,
        tmp: true,
        init: 'init',
      });
    } finally {
      delete process.env['BERTH_LXC_LEAK'];
      await instance?.stop();
    }
    expect(leftoversOf(id, probeBundles)).toEqual([]);
  });

  it('removes a container whose agent and lxc-execute were killed with SIGKILL', async () => {
    const id = newId();
    await driver.start({
      id,
      runnerArgs: ['--workloads', 'syscall-fstat', '--time-cap-ms', '200', '--hold'],
    });
    await eventually(() => cgroupsOf(`lxc.payload.${id}`).length > 0);
    const [monitor] = processesMatching(`lxc-execute -n ${id} `);
    if (monitor === undefined) throw new Error('lxc-execute is not running');
    // spawnRunner starts lxc-execute in a process group of its own.
    process.kill(-Number(monitor), 'SIGKILL');
    await eventually(() => processesMatching(id).length === 0);
    expect(cgroupsOf(id)).not.toEqual([]);
    expect(await removeLeftoverLxcContainers([id, newId()], bundlesDir)).toEqual([id]);
    expect(cgroupsOf(id)).toEqual([]);
    expect(processesMatching(id)).toEqual([]);
    // The agent removes the bundle folders itself (leftovers.ts), after the containers.
    await removeDir(join(bundlesDir, id));
    expect(leftoversOf(id, bundlesDir)).toEqual([]);
  });

  it('stops a container its killed agent left running', async () => {
    const id = newId();
    const instance = await driver.start({
      id,
      runnerArgs: ['--workloads', 'syscall-fstat', '--time-cap-ms', '200', '--hold'],
    });
    expect((await linesOf(instance)).at(-1)?.type).toBe('done');
    expect(processesMatching(id)).not.toEqual([]);
    expect(await removeLeftoverLxcContainers([id], bundlesDir)).toEqual([id]);
    await eventually(() => processesMatching(id).length === 0);
    expect(cgroupsOf(id)).toEqual([]);
    await removeDir(join(bundlesDir, id));
    expect(leftoversOf(id, bundlesDir)).toEqual([]);
  });
});
