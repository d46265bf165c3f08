import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunnerLine } from '../../contracts/index.ts';
import {
  createPodmanDriver,
  podmanGlobalArgs,
  podmanRunDir,
  removeLeftoverPodmanContainers,
} from '../../agents/host-agent/drivers/container-podman.ts';
import { rootfsImageTag } from '../../agents/host-agent/drivers/container-docker.ts';
import type { PlatformDriver } from '../../agents/host-agent/drivers/driver.ts';
import { newRunId } from '../../agents/host-agent/ids.ts';
import { runnerBundle } from '../../agents/host-agent/runner-bundle.ts';
import { processesMatching } from '../../support/leftovers.ts';
import { removeDir, tempDir } from '../../support/servers.ts';

const MEMORY_CGROUPS = '/sys/fs/cgroup/memory';

/** Names and full ids of the containers podman lists in storageDir, stopped ones too. */
function podmanContainers(storageDir: string): string[] {
  return execFileSync(
    'podman',
    [
      ...podmanGlobalArgs(storageDir),
      'ps',
      '--all',
      '--no-trunc',
      '--format',
      '{{.Names}} {{.ID}}',
    ],
    { encoding: 'utf8' },
  )
    .split(/\s+/)
    .filter(Boolean);
}

/** The images in storageDir, as repository:tag. */
function podmanImages(storageDir: string): string[] {
  return execFileSync(
    'podman',
    [...podmanGlobalArgs(storageDir), 'images', '--format', '{{.Repository}}:{{.Tag}}'],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter(Boolean);
}

/** What podman says of a container's state: running, exited, … */
function containerState(storageDir: string, name: string): string {
  return execFileSync(
    'podman',
    [...podmanGlobalArgs(storageDir), 'inspect', '--format', '{{.State.Status}}', name],
    { encoding: 'utf8' },
  ).trim();
}

/** The full id podman wrote for the instance's container. */
function fullIdOf(bundlesDir: string, id: string): string {
  return readFileSync(join(bundlesDir, id, 'cid'), 'utf8').trim();
}

/** Cgroup folders in the v1 memory hierarchy (two levels down) whose path holds one of texts. */
function memoryCgroupsNaming(texts: readonly string[]): string[] {
  const found: string[] = [];
  const visit = (dir: string, depth: number): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (texts.some((text) => path.includes(text))) found.push(path);
      if (depth < 2) visit(path, depth + 1);
    }
  };
  if (existsSync(MEMORY_CGROUPS)) visit(MEMORY_CGROUPS, 0);
  return found;
}

/** Reads lines until one of that type arrives; the lines read, in order. */
async function linesUntil(
  lines: AsyncIterator<{ line: RunnerLine; at: number }>,
  type: RunnerLine['type'],
): Promise<RunnerLine[]> {
  const seen: RunnerLine[] = [];
  for (;;) {
    const next = await lines.next();
    if (next.done === true) return seen;
    seen.push(next.value.line);
    if (next.value.line.type === type) return seen;
  }
}

interface Left {
  readonly containers: string[];
  readonly processes: string[];
  readonly bundle: boolean;
  readonly cgroups: string[];
}

/** Everything the instance's container could leave behind, each listed when left. */
function leftOf(storageDir: string, bundlesDir: string, id: string, fullId: string): Left {
  return {
    containers: podmanContainers(storageDir).filter((each) => each === id || each === fullId),
    processes: [...processesMatching(id), ...processesMatching(fullId)],
    bundle: existsSync(join(bundlesDir, id)),
    cgroups: memoryCgroupsNaming([id, fullId]),
  };
}

const NOTHING_LEFT = { containers: [], processes: [], bundle: false, cgroups: [] };

describe('the podman driver against the real podman', () => {
  let dataDir: string;
  let bundlesDir: string;
  let storageDir: string;
  let driver: PlatformDriver;
  let runner: string;

  beforeAll(async () => {
    dataDir = await tempDir('podman');
    bundlesDir = join(dataDir, 'bundles');
    storageDir = join(dataDir, 'podman');
    runner = await runnerBundle(dataDir);
    driver = createPodmanDriver(runner, bundlesDir, storageDir);
  });

  afterAll(async () => {
    // A failed test's container goes as a leftover does: its conmon and podman's cleanup of it
    // end before the storage they would write to again is removed.
    if (existsSync(storageDir)) {
      await removeLeftoverPodmanContainers(podmanContainers(storageDir), storageDir);
    }
    await driver.close?.();
    await removeDir(dataDir);
  });

  it('is available, with podman’s version', async () => {
    const availability = await driver.availability();
    expect(availability).toMatchObject({ available: true, accel: 'none' });
    expect(availability.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('runs a workload to its result, and leaves nothing behind', async () => {
    const id = `${newRunId()}-podman`;
    const instance = await driver.start({
      id,
      runnerArgs: ['--workloads', 'syscall-fstat', '--time-cap-ms', '200'],
    });
    let fullId = '';
    try {
      const types: string[] = [];
      for await (const { line } of instance.lines) {
        types.push(line.type);
        if (fullId === '') fullId = fullIdOf(bundlesDir, id);
      }
      expect(types).toContain('ready');
      expect(types).toContain('result');
      expect(types.at(-1)).toBe('done');
      expect(fullId).toMatch(/^[0-9a-f]{64}$/);
      expect(instance.settings).toMatchObject({
        cgroupManager: expect.stringMatching(/^cgroupfs/) as string,
        ociRuntime: expect.stringMatching(/\S/) as string,
        rlimits: expect.stringMatching(/\S/) as string,
      });
    } finally {
      await instance.stop();
    }
    expect(leftOf(storageDir, bundlesDir, id, fullId)).toEqual(NOTHING_LEFT);
    // Only Berth's own image, kept for the next instance.
    expect(podmanImages(storageDir)).toEqual([`localhost/${rootfsImageTag(dirname(runner))}`]);
    // With no container left, closing the driver removes podman's run-time folder.
    await driver.close?.();
    expect(existsSync(podmanRunDir(storageDir))).toBe(false);
  });

  it('holds on an open standard input, reads the container’s peak memory, then stops it leaving nothing', async () => {
    const id = `${newRunId()}-podman-hold`;
    const instance = await driver.start({
      id,
      runnerArgs: ['--workloads', 'syscall-fstat', '--time-cap-ms', '200', '--hold'],
    });
    let fullId = '';
    try {
      const types: string[] = [];
      for await (const { line } of instance.lines) types.push(line.type);
      expect(types.at(-1)).toBe('done');
      fullId = fullIdOf(bundlesDir, id);
      // The runner waits while its standard input is open: the container runs on after "done".
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(containerState(storageDir, id)).toBe('running');
      expect(await instance.peakMemoryBytes()).toBeGreaterThan(0);
      expect(memoryCgroupsNaming([fullId])).toHaveLength(1);
    } finally {
      await instance.stop();
    }
    expect(leftOf(storageDir, bundlesDir, id, fullId)).toEqual(NOTHING_LEFT);
  });

  it('removes the container of an agent killed before it stopped it', async () => {
    const id = `${newRunId()}-podman-left`;
    // A runner busy in a workload for a minute: one that holds ends when its client goes.
    const instance = await driver.start({
      id,
      runnerArgs: ['--workloads', 'syscall-fstat', '--rme-target', '0', '--time-cap-ms', '60000'],
    });
    const lines = instance.lines[Symbol.asyncIterator]();
    expect((await linesUntil(lines, 'ready')).at(-1)?.type).toBe('ready');
    const fullId = fullIdOf(bundlesDir, id);
    // The agent dies: its podman client goes, the container (under conmon) stays.
    const clients = processesMatching(`run --rm -i --name ${id} `);
    expect(clients).toHaveLength(1);
    process.kill(-Number(clients[0]), 'SIGKILL');
    await lines.return?.();
    // What the next agent finds: the container still running, its conmon, its cgroup.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(containerState(storageDir, id)).toBe('running');
    const left = leftOf(storageDir, bundlesDir, id, fullId);
    expect(left.containers).toEqual([id, fullId]);
    expect(left.processes.length).toBeGreaterThan(0);
    expect(left.cgroups).toEqual([join(MEMORY_CGROUPS, 'libpod_parent', `libpod-${fullId}`)]);

    expect(await removeLeftoverPodmanContainers(['another-id', id], storageDir)).toEqual([id]);
    await removeDir(join(bundlesDir, id));
    expect(leftOf(storageDir, bundlesDir, id, fullId)).toEqual(NOTHING_LEFT);
    expect(await removeLeftoverPodmanContainers([id], storageDir)).toEqual([]);
  });

  it('looks for no leftovers in storage that was never made', async () => {
    const never = join(dataDir, 'no-podman-here');
    expect(await removeLeftoverPodmanContainers(['an-id'], never)).toEqual([]);
    expect(existsSync(never)).toBe(false);
  });
});
