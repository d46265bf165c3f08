import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dockerEngine,
  ownEngineLayout,
  stopLeftoverOwnEngine,
  type DockerEngine,
} from '../../agents/host-agent/docker-engine.ts';
import {
  createDockerDriver,
  removeLeftoverDockerContainers,
  rootfsImageTag,
} from '../../agents/host-agent/drivers/container-docker.ts';
import type { Instance } from '../../agents/host-agent/drivers/driver.ts';
import { runnerBundle } from '../../agents/host-agent/runner-bundle.ts';
import type { RunnerLine } from '../../contracts/index.ts';
import { entriesOf, processesMatching } from '../../support/leftovers.ts';
import { removeDir, tempDir } from '../../support/servers.ts';

const execProgram = promisify(execFile);

/** The type of the first line the instance prints. */
async function firstLine(instance: Instance): Promise<RunnerLine['type'] | undefined> {
  for await (const { line } of instance.lines) return line.type;
  return undefined;
}

async function linesOf(instance: Instance): Promise<RunnerLine['type'][]> {
  const types: RunnerLine['type'][] = [];
  for await (const { line } of instance.lines) types.push(line.type);
  return types;
}

/** Names of the containers the engine at host holds, running or not. */
async function containersAt(host: string): Promise<string[]> {
  const { stdout } = await execProgram('docker', [
    '-H',
    host,
    'ps',
    '-a',
    '--format',
    '{{.Names}}',
  ]);
  return stdout.split('\n').filter(Boolean);
}

describe("the Docker platform in an engine of Berth's own", () => {
  let dir: string;
  let engineDir: string;
  let engine: DockerEngine;

  beforeAll(async () => {
    dir = await tempDir('docker');
    engineDir = join(dir, 'agent', 'docker');
    engine = dockerEngine('own', engineDir);
  });

  afterAll(async () => {
    await engine.close();
    await removeDir(dir);
  });

  it('starts the engine, measures a runner in it and leaves no container behind', async () => {
    const runner = await runnerBundle(dir);
    const bundles = join(dir, 'agent', 'bundles');
    const driver = createDockerDriver(runner, bundles, engine);
    const availability = await driver.availability();
    expect(availability, JSON.stringify(availability)).toMatchObject({ available: true });
    expect(availability.version).toMatch(/^\d+\.\d+/);
    const { host } = await engine.endpoint();
    expect(host).toBe(ownEngineLayout(engineDir).host);

    const measured = await driver.start({
      id: 'docker-test-m1',
      runnerArgs: ['--workloads', 'syscall-fstat', '--time-cap-ms', '200'],
    });
    expect(measured.settings['engine']).toMatch(/an engine Berth started/);
    expect(await linesOf(measured)).toEqual(['ready', 'result', 'done']);
    await measured.stop();

    const held = await driver.start({
      id: 'docker-test-h1',
      runnerArgs: ['--workloads', '', '--hold'],
    });
    expect(await firstLine(held)).toBe('ready');
    expect(await held.peakMemoryBytes()).toBeGreaterThan(1024 * 1024);
    await held.stop();

    expect(await containersAt(host)).toEqual([]);
    expect(entriesOf(bundles)).toEqual([]);
    expect(processesMatching(runner)).toEqual([]);
    // Only Berth's own image, kept for the next instance.
    const { stdout: images } = await execProgram('docker', [
      '-H',
      host,
      'images',
      '--format',
      '{{.Repository}}:{{.Tag}}',
    ]);
    expect(images.split('\n').filter(Boolean)).toEqual([rootfsImageTag(dirname(runner))]);
  }, 120_000);

  it('removes what a killed agent left in the engine, then stops the engine', async () => {
    const runner = await runnerBundle(dir);
    const driver = createDockerDriver(runner, join(dir, 'agent', 'bundles'), engine);
    const { host } = await engine.endpoint();
    const left = await driver.start({
      id: 'docker-test-k1',
      runnerArgs: ['--workloads', '', '--hold'],
    });
    expect(await firstLine(left)).toBe('ready');
    expect(await containersAt(host)).toEqual(['docker-test-k1']);

    // What the next agent does: its containers by name, then the engine with whatever is in it.
    expect(await removeLeftoverDockerContainers(['docker-test-k1', 'other'], host)).toEqual([
      'docker-test-k1',
    ]);
    expect(await containersAt(host)).toEqual([]);
    await left.stop();
    const layout = ownEngineLayout(engineDir);
    expect(await stopLeftoverOwnEngine(engineDir)).toBe(true);
    expect(processesMatching(layout.dataRoot)).toEqual([]);
    expect(existsSync(layout.execRoot)).toBe(false);
    expect(await stopLeftoverOwnEngine(engineDir)).toBe(false);
  }, 120_000);

  it('says why an engine it starts does not come up, with the end of its log', async () => {
    const bin = join(dir, 'fake-bin');
    await mkdir(bin, { recursive: true });
    await writeFile(
      join(bin, 'dockerd'),
      '#!/bin/sh\necho "failed to start daemon: boom" >&2\nexit 3\n',
      {
        mode: 0o755,
      },
    );
    const path = process.env['PATH'];
    process.env['PATH'] = `${bin}:${path ?? ''}`;
    try {
      const broken = dockerEngine('own', join(dir, 'broken', 'docker'));
      await expect(broken.endpoint()).rejects.toThrow(
        /^the Docker engine Berth started exited \(3\) \(.*dockerd\.log: failed to start daemon: boom\)$/,
      );
    } finally {
      process.env['PATH'] = path;
    }
  }, 60_000);

  it('stops the engine when the last driver using it lets go', async () => {
    const layout = ownEngineLayout(engineDir);
    const first = dockerEngine('own', engineDir);
    const second = dockerEngine('own', engineDir);
    expect((await first.endpoint()).host).toBe((await second.endpoint()).host);
    await first.close();
    expect(processesMatching(layout.dataRoot)).not.toEqual([]);
    await second.close();
    expect(processesMatching(layout.dataRoot)).toEqual([]);
    expect(existsSync(layout.execRoot)).toBe(false);
  }, 120_000);
});
