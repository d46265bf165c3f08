import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CGROUP_MEMORY_MEASURE, cgroupVersion, createCgroup, type Cgroup } from '../cgroups.ts';
import { endRunner, RUNNER_ENV, spawnRunner } from './child-instance.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';

/**
 * The baseline: the runner as a plain child process, in a cgroup of its own for memory
 * accounting, with its scratch files on the host's disk. Every other platform's figures are read as ratios to this one.
 */
export function createProcessDriver(runnerPath: string, scratchRoot: string): PlatformDriver {
  return {
    platform: 'process',
    runtime: 'node',
    availability: (): Promise<Availability> => {
      const version = cgroupVersion();
      return Promise.resolve({
        available: true,
        version: process.version,
        accel: 'none',
        ...(version === 'none' ? { reason: 'no cgroups: memory is not accounted' } : {}),
      });
    },
    start: async (options: InstanceOptions): Promise<Instance> => {
      let cgroup: Cgroup | undefined;
      try {
        cgroup = await createCgroup(options.id);
      } catch {
        cgroup = undefined;
      }
      const scratchDir = join(scratchRoot, options.id);
      await mkdir(scratchDir, { recursive: true });
      const joinCgroup = (cgroup?.procsFiles ?? []).map((file) => `echo $$ > ${file}`).join(' && ');
      const runner = spawnRunner(
        '/bin/sh',
        [
          '-c',
          `${joinCgroup === '' ? '' : `${joinCgroup} && `}exec "$@"`,
          'berth-process',
          process.execPath,
          runnerPath,
          '--scratch',
          scratchDir,
          ...options.runnerArgs,
        ],
        1,
        RUNNER_ENV,
      );
      return {
        launchedAt: runner.launchedAt,
        runners: 1,
        lines: runner.lines,
        settings: {
          cgroup: cgroup === undefined ? 'none' : cgroup.version,
          node: process.version,
          ...(cgroup === undefined ? {} : { memoryMeasure: CGROUP_MEMORY_MEASURE }),
        },
        peakMemoryBytes: async () => cgroup?.peakMemoryBytes(),
        stop: async () => {
          await endRunner(runner);
          await cgroup?.remove();
          await rm(scratchDir, { recursive: true, force: true });
        },
      };
    },
  };
}
