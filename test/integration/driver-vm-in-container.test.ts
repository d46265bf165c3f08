import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunnerLine } from '../../contracts/index.ts';
import { berthCgroupParents } from '../../agents/host-agent/cgroups.ts';
import type { Instance, PlatformDriver } from '../../agents/host-agent/drivers/driver.ts';
import { createVmInContainerDriver } from '../../agents/host-agent/drivers/vm-in-container.ts';
import { runnerBundle } from '../../agents/host-agent/runner-bundle.ts';
import { entriesOf, ociContainers, processesMatching } from '../../support/leftovers.ts';
import { removeDir, tempDir } from '../../support/servers.ts';

/** Building the guest image the first time downloads and unpacks a kernel package. */
const IMAGE_TIMEOUT_MS = 300_000;
const BOOT_TEST_TIMEOUT_MS = 180_000;

/** What an instance left on this host: runc containers, processes, cgroups, its bundle folder. */
async function leftoversOf(id: string, bundlesDir: string): Promise<string[]> {
  const cgroups = (await berthCgroupParents()).flatMap((parent) =>
    entriesOf(parent)
      .filter((name) => name.includes(id))
      .map((name) => join(parent, name)),
  );
  return [
    ...ociContainers('runc', id).map((container) => `runc container ${container}`),
    ...processesMatching(id).map((pid) => `process ${pid}`),
    ...cgroups.map((dir) => `cgroup ${dir}`),
    ...(existsSync(join(bundlesDir, id)) ? [`bundle folder ${join(bundlesDir, id)}`] : []),
  ];
}

/** Reads an instance's lines up to and with the first of `type`; the rest stay unread. */
async function readUntil(
  lines: AsyncIterator<{ line: RunnerLine; at: number }>,
  type: RunnerLine['type'],
): Promise<{ line: RunnerLine; at: number }[]> {
  const read: { line: RunnerLine; at: number }[] = [];
  for (;;) {
    const next = await lines.next();
    if (next.done === true) throw new Error(`the lines ended before a "${type}" line`);
    read.push(next.value);
    if (next.value.line.type === type) return read;
  }
}

describe('the vm-in-container driver: QEMU (TCG) as the process of a runc container', () => {
  let dataDir: string;
  let bundlesDir: string;
  let driver: PlatformDriver;
  const started: Instance[] = [];
  const id = (name: string): string => `vic-test-${process.pid}-${name}`;

  beforeAll(async () => {
    dataDir = await tempDir('vm-in-container');
    bundlesDir = join(dataDir, 'bundles');
    driver = createVmInContainerDriver({
      runnerPath: await runnerBundle(dataDir),
      bundlesDir,
      imagesDir: join(dataDir, 'images'),
    });
  });

  afterAll(async () => {
    for (const instance of started) await instance.stop();
    await removeDir(dataDir);
  });

  it(
    'is available here, under TCG, and names runc and QEMU',
    async () => {
      expect(driver.platform).toBe('vm-in-container');
      expect(driver.runtime).toBe('runc-qemu-microvm');
      const availability = await driver.availability();
      expect(availability).toMatchObject({ available: true, accel: 'tcg' });
      expect(availability.version).toMatch(/^runc \S+, QEMU \d+\.\d+/);
      expect(availability.reason).toMatch(/^TCG emulation, not virtualisation/);
    },
    IMAGE_TIMEOUT_MS,
  );

  it(
    'runs a workload in the guest and its lines come on the container stdout; nothing is left',
    async () => {
      const instance = await driver.start({
        id: id('run'),
        runnerArgs: ['--workloads', 'syscall-fstat', '--time-cap-ms', '200'],
      });
      started.push(instance);
      const types: string[] = [];
      for await (const { line, at } of instance.lines) {
        types.push(line.type);
        expect(at).toBeGreaterThan(instance.launchedAt);
      }
      expect(types[0]).toBe('ready');
      expect(types).toContain('result');
      expect(types.at(-1)).toBe('done');
      expect(instance.settings).toMatchObject({
        accel: 'tcg',
        machine: 'microvm',
        memoryMiB: 256,
        cpus: 1,
        containerRuntime: 'runc',
      });
      await instance.stop();
      expect(await leftoversOf(id('run'), bundlesDir)).toEqual([]);
    },
    BOOT_TEST_TIMEOUT_MS,
  );

  it(
    'holds a guest whose QEMU is the container init, accounts its memory, and stops it all',
    async () => {
      const name = id('hold');
      const instance = await driver.start({ id: name, runnerArgs: ['--workloads', '', '--hold'] });
      started.push(instance);
      await readUntil(instance.lines[Symbol.asyncIterator](), 'ready');

      const state = JSON.parse(execFileSync('runc', ['state', name], { encoding: 'utf8' })) as {
        pid: number;
        status: string;
      };
      expect(state.status).toBe('running');
      expect(readFileSync(`/proc/${state.pid}/comm`, 'utf8').trim()).toMatch(/^qemu-system-x86/);
      expect(readFileSync(`/proc/${state.pid}/cgroup`, 'utf8')).toMatch(
        new RegExp(`:memory:/berth/${name}$`, 'm'),
      );
      expect(readFileSync(`/proc/${state.pid}/cmdline`, 'utf8').split('\0')).toContain('tcg');

      // A guest of 256 MiB under TCG: the QEMU process holds far more than a bare runner.
      const peak = await instance.peakMemoryBytes();
      expect(peak).toBeGreaterThan(64 * 1024 * 1024);
      expect(instance.settings['memoryMeasure']).toMatch(/^PSS of the QEMU process/);

      await instance.stop();
      expect(await leftoversOf(name, bundlesDir)).toEqual([]);
      expect(await instance.peakMemoryBytes()).toBeUndefined();
    },
    BOOT_TEST_TIMEOUT_MS,
  );

  it(
    'ends a guest that prints nothing in its boot timeout, container and all',
    async () => {
      const hurried = createVmInContainerDriver({
        runnerPath: await runnerBundle(dataDir),
        bundlesDir,
        imagesDir: join(dataDir, 'images'),
        bootTimeoutMs: 300,
      });
      const name = id('hung');
      const instance = await hurried.start({ id: name, runnerArgs: ['--workloads', '', '--hold'] });
      started.push(instance);
      const types: string[] = [];
      const failure = (async () => {
        for await (const { line } of instance.lines) types.push(line.type);
      })();
      await expect(failure).rejects.toThrow(/the guest printed nothing in 300 ms/);
      expect(types).toEqual([]);
      expect(ociContainers('runc', name)).toEqual([]);
      await instance.stop();
      expect(await leftoversOf(name, bundlesDir)).toEqual([]);
    },
    BOOT_TEST_TIMEOUT_MS,
  );
});
