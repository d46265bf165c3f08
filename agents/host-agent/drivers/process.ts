import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CGROUP_MEMORY_MEASURE,
  cgroupVersion,
  createCgroup,
  selfJoinCommands,
  type Cgroup,
} from '../cgroups.ts';
import { endRunner, RUNNER_ENV, spawnRunner } from './child-instance.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';

/**
 * The baseline: the runner as a plain child process, in a cgroup of its own for memory
 * accounting, with its scratch files on the host's disk. Every other platform's figures are read as ratios to this one.
 * With `cpuQuota` the cgroup also holds the runner to that share of one CPU (the calibration
 * canary), and an instance whose quota cannot be set is not started.
 */
export function createProcessDriver(runnerPath: string, scratchRoot: string): PlatformDriver {
  return {
    platform: 'process',
    passesInput: true,
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
      const { cpuQuota } = options;
      // Without its quota the instance would measure something else: no cgroup, no instance.
      const cgroup: Cgroup | undefined =
        cpuQuota === undefined
          ? await createCgroup(options.id).catch(() => undefined)
          : await createCgroup(options.id, undefined, { cpuQuota });
      const scratchDir = join(scratchRoot, options.id);
      await mkdir(scratchDir, { recursive: true });
      // The shell moves itself in, then execs the runner: all the runner does is counted.
      const joinCgroup = cgroup === undefined ? '' : selfJoinCommands(cgroup);
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
        go: () => {
          runner.go(1);
        },
        settings: {
          cgroup: cgroup === undefined ? 'none' : cgroup.version,
          node: process.version,
          ...(cgroup === undefined ? {} : { memoryMeasure: CGROUP_MEMORY_MEASURE }),
          ...(cpuQuota === undefined ? {} : { cpuQuota }),
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
