import { cgroupVersion, createCgroup, type Cgroup } from '../cgroups.ts';
import { killGroup, spawnRunner } from './child-instance.ts';
import type { Availability, Instance, InstanceOptions, PlatformDriver } from './driver.ts';

/**
 * The baseline: the runner as a plain child process, in a cgroup of its own for memory
 * accounting. Every other platform's figures are read as ratios to this one.
 */
export function createProcessDriver(runnerPath: string): PlatformDriver {
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
      const joinCgroup = (cgroup?.procsFiles ?? []).map((file) => `echo $$ > ${file}`).join(' && ');
      const runner = spawnRunner('/bin/sh', [
        '-c',
        `${joinCgroup === '' ? '' : `${joinCgroup} && `}exec "$@"`,
        'berth-process',
        process.execPath,
        runnerPath,
        ...options.runnerArgs,
      ]);
      return {
        launchedAt: runner.launchedAt,
        lines: runner.lines,
        settings: {
          cgroup: cgroup === undefined ? 'none' : cgroup.version,
          node: process.version,
        },
        peakMemoryBytes: async () => cgroup?.peakMemoryBytes(),
        stop: async () => {
          await killGroup(runner);
          await cgroup?.remove();
        },
      };
    },
  };
}
